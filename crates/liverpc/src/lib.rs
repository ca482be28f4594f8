#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The layers, bottom up; a module imports only from the layers below it.
//
// The vocabulary every layer shares: the wire protocol, room keys, routes, errors, limits,
// the origin policy and the handshake.
mod future;
mod wire;

// The seams (leaves over `wire`): connections in and out, and the other nodes.
mod bus;
mod transport;

// The engine: executes contracts as values over the two seams.
mod engine;

// The front-ends that compile to the engine: typed Rust contracts, and contracts as values
// (the TypeScript front-end's); and the description the TypeScript clients are generated from.
pub mod codegen;
mod contract;
pub mod spec;

// The app: builds the engine from the front-ends and serves it.
mod app;

#[cfg(feature = "testing")]
pub mod testing;

pub use app::serve::listen;
pub use app::{App, AppBuilder};
pub use contract::context::{Context, JoinedRoom};
pub use contract::emit::{Broadcast, Emitter};
pub use contract::event::{Declares, Event, EventInfo, Events};
pub use contract::hooks::{Hook, State};
pub use contract::room::{Deny, RoomContext};
pub use contract::{Contract, Declarations};
pub use future::BoxFuture;
pub use wire::error::{BuildError, EmitError, ErrorCode, HistoryError, Issue, Rejection};
pub use wire::handshake::{Handshake, Refuse};
pub use wire::key::RoomKey;
pub use wire::limits::Limits;
pub use wire::origin::OriginPolicy;
pub use wire::route::{Params, Route, RouteError};
pub use wire::stream::{History, Position, Recent, Recorded};

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
pub use contract::event::index;

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
        let Some(first) = crate::transport::engineio::fuzz::event_argument(&format!("42{text}")) else { return };
        let _ = crate::contract::payload::decode::<Sample>(first.get());
        if let Ok(request) = crate::wire::protocol::room_request(Some(first.get())) {
            let _ = crate::wire::protocol::digest(request.data.as_deref().map(RawValue::get));
        }
    }

    /// Bytes from a page's socket, through the server's WebSocket framing, cut into reads at
    /// every `cut`-th byte. Never panics, whatever the bytes.
    pub fn websocket_frames(bytes: &[u8], cut: usize) {
        crate::transport::engineio::fuzz::frames(bytes, cut);
    }
}
