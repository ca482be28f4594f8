#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Vocabulary every layer shares.
mod error;
mod future;
mod handshake;
mod key;
mod limits;
mod origin;
mod protocol;
mod route;

// The seams (leaves) and the engine above them.
mod bus;
mod engine;
mod transport;

// The Rust front-end: typed contracts compiled to the engine's specs.
mod app;
mod caps;
pub mod codegen;
mod context;
mod contract;
mod emit;
mod event;
mod hooks;
mod payload;
mod room;
mod serve;
mod socket;
pub mod spec;

#[cfg(feature = "testing")]
pub mod testing;

pub use app::{App, AppBuilder};
pub use context::{Context, JoinedRoom};
pub use contract::{Contract, Socket};
pub use emit::{Broadcast, Emitter};
pub use error::{BuildError, EmitError, ErrorCode, Issue, Rejection};
pub use event::{Declares, Event, EventInfo, Events};
pub use future::BoxFuture;
pub use handshake::{Handshake, Refuse};
pub use hooks::{Hook, State};
pub use key::RoomKey;
pub use limits::Limits;
pub use origin::OriginPolicy;
pub use room::{Deny, RoomContext};
pub use route::{Params, Route, RouteError};
pub use serve::listen;

/// The validation crate payload types derive `garde::Validate` from, re-exported so its
/// version always matches liverpc's. (garde's derive names `::garde`, so a crate deriving it
/// still lists `garde` itself; any 0.22 release works with this one.)
pub use garde;
/// The TypeScript-types crate payload and event types derive `ts_rs::TS` from, re-exported:
/// derive with `#[derive(liverpc::ts_rs::TS)] #[ts(crate = "liverpc::ts_rs")]` and no `ts-rs`
/// dependency of your own is needed.
///
/// ```
/// #[derive(serde::Serialize, liverpc::ts_rs::TS)]
/// #[ts(crate = "liverpc::ts_rs")]
/// struct Message { text: String }
/// impl liverpc::Event for Message { const NAME: &'static str = "message"; }
/// ```
pub use ts_rs;

#[doc(hidden)]
pub use event::index;

/// Thin wrappers over the payload decoding path, for the fuzz targets in `fuzz/`
/// (feature `fuzzing`). Not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use serde_json::value::RawValue;

    /// A payload with the shapes handlers use: nested struct, list, option, enum, rules.
    /// Its fields exist to be decoded, never read.
    #[allow(dead_code)]
    #[derive(Debug, serde::Deserialize, garde::Validate)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Sample {
        #[garde(length(min = 1, max = 500))]
        text: String,
        #[garde(range(max = 1000))]
        reply_to: Option<u32>,
        #[garde(length(max = 8), dive)]
        tags: Vec<Tag>,
        #[garde(skip)]
        kind: Option<Kind>,
    }

    #[derive(Debug, serde::Deserialize, garde::Validate)]
    #[serde(deny_unknown_fields)]
    struct Tag {
        #[garde(length(min = 1, max = 16))]
        name: String,
    }

    #[allow(dead_code)]
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    enum Kind {
        Plain,
        Quote { of: String },
    }

    /// What the server does with an event's argument array (`["event", arg0, ...]`): the
    /// transport's Engine.IO and Socket.IO parsers read it as an event packet, then its first
    /// argument is decoded as a handler payload and as a join request, and a join's data is
    /// canonicalised. Never panics, whatever the bytes.
    pub fn event_arguments(bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else { return };
        let Some(first) = crate::transport::own::fuzz::event_argument(&format!("42{text}")) else { return };
        let _ = crate::payload::decode::<Sample>(first.get());
        if let Ok(request) = crate::protocol::room_request(Some(first.get())) {
            let _ = crate::protocol::digest(request.data.as_deref().map(RawValue::get));
        }
    }

    /// Bytes from a page's socket, through the server's WebSocket framing, cut into reads at
    /// every `cut`-th byte. Never panics, whatever the bytes.
    pub fn websocket_frames(bytes: &[u8], cut: usize) {
        crate::transport::own::fuzz::frames(bytes, cut);
    }
}
