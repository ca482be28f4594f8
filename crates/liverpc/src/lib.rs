#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
pub mod codegen;
mod context;
mod contract;
mod emit;
mod error;
mod event;
mod hooks;
mod limits;
mod payload;
mod protocol;
mod room;
mod route;
mod session;
mod transport;

#[cfg(feature = "testing")]
pub mod testing;

pub use app::{App, AppBuilder, listen, serve};
pub use context::Context;
pub use contract::{Contract, Socket};
pub use emit::{Broadcast, Emitter};
pub use error::{BuildError, EmitError, ErrorCode, Issue, Rejection};
pub use event::{Declares, Event, EventInfo, Events};
pub use hooks::{BoxFuture, Handshake, Hook, OriginPolicy, Refuse};
pub use limits::Limits;
pub use room::{Deny, Room, RoomBuilder, RoomContext, RoomKey};
pub use route::{Params, Route, RouteError};

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

    /// What the server does with an event's argument array as the transport hands it over
    /// (`["event", arg0, ...]`): take the first argument, decode it as a handler payload and
    /// as a join request, canonicalise a join's data. Never panics, whatever the bytes.
    pub fn event_arguments(bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else { return };
        let Ok(args) = serde_json::from_str::<Box<RawValue>>(text) else { return };
        let Some(first) = crate::transport::first_argument(&args) else { return };
        let _ = crate::payload::decode::<Sample>(first.get());
        if let Ok(request) = crate::session::room_request(Some(first.get())) {
            let _ = crate::session::canonical(request.data.as_deref().map(RawValue::get));
        }
    }
}
