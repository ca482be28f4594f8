//! The route contract (the tutorial's `chat.socket.ts`): one per page route and name.
//!
//! A contract is a type implementing [`Contract`]: `ROUTE` and `NAME` say which page route it
//! belongs to, `type ToClient` lists the events the server may send, and `socket` adds the
//! calls the page may make (`from_client`) and the rooms (`private`, `auto_join`, `expose`:
//! see [`Socket`]). [`App::build`](crate::AppBuilder::build) compiles it to the engine's
//! value-level spec.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::codegen::{HandlerInfo, RoomInfo};
use crate::engine::Session;
use crate::error::Rejection;
use crate::event::Events;
use crate::future::BoxFuture;
use crate::key::RoomKey;

/// A route contract. Implement it on a marker type; the type names the contract everywhere
/// else (`Emitter<Chat>`, `Context<Chat>`, `App::builder().contract::<Chat>()`).
///
/// ```
/// use liverpc::{key, Context, Contract, Event, Rejection, Socket};
///
/// #[derive(serde::Serialize, ts_rs::TS)]
/// struct Message { text: String }
/// impl Event for Message { const NAME: &'static str = "message"; }
///
/// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
/// struct Send { #[garde(length(min = 1, max = 2000))] text: String }
///
/// struct Chat;
///
/// impl Contract for Chat {
///     const ROUTE: &'static str = "/rooms/[roomId]";
///     const NAME: &'static str = "chat";
///     type Locals = ();
///     type State = ();
///     type ToClient = (Message,);
///
///     fn socket(socket: Socket<Self>) -> Socket<Self> {
///         socket
///             .from_client("send", send)
///             .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
///     }
/// }
///
/// async fn send(cx: Context<Chat>, Send { text }: Send) -> Result<(), Rejection> {
///     let room = cx.room("chat")?;
///     cx.within(&room).emit(&Message { text }).await?;
///     Ok(())
/// }
/// ```
pub trait Contract: Sized + Send + Sync + 'static {
    /// The SvelteKit route id of the page, e.g. `/rooms/[roomId]`.
    const ROUTE: &'static str;
    /// The contract's name, which is also the generated client's name
    /// (`import { chat } from './chat.socket'`).
    const NAME: &'static str;
    /// What the connection hook returns for each connection.
    type Locals: Send + Sync + 'static;
    /// The app's state (a database pool, a store) that handlers and rooms reach with
    /// `cx.state()`; given once with [`AppBuilder::state`](crate::AppBuilder::state). `()` for
    /// none.
    type State: Send + Sync + 'static;
    /// The server -> page events: a tuple of [`Event`](crate::Event) types, `()` for none.
    type ToClient: Events;
    /// Adds the contract's handlers and rooms to `socket`.
    fn socket(socket: Socket<Self>) -> Socket<Self>;
}

/// A handler as declared: the socket, the app's state and the raw payload in.
pub(crate) type DeclaredHandler<S> =
    dyn Fn(Session, &Arc<S>, Box<RawValue>) -> BoxFuture<'static, Result<Box<RawValue>, Rejection>> + Send + Sync;
/// A room decision as declared: the socket, the app's state and the raw payload in.
pub(crate) type DeclaredRoom<S> =
    dyn Fn(Session, &Arc<S>, Option<Box<RawValue>>) -> BoxFuture<'static, Result<RoomKey, Rejection>> + Send + Sync;

/// A contract's handlers and rooms, under construction: the argument and result of
/// [`Contract::socket`]. Its methods ([`from_client`](Socket::from_client),
/// [`private`](Socket::private), [`auto_join`](Socket::auto_join),
/// [`expose`](Socket::expose)) are the contract's declarations.
pub struct Socket<C: Contract> {
    pub(crate) handlers: Vec<(Arc<DeclaredHandler<C::State>>, HandlerInfo)>,
    pub(crate) rooms: Vec<(Arc<DeclaredRoom<C::State>>, RoomInfo)>,
    /// Rooms that list their members: the room's name and what a member shows.
    pub(crate) presence: Vec<(String, crate::engine::PresenceFn, crate::codegen::TsType)>,
}
