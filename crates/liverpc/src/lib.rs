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
