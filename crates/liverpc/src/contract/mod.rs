//! The Rust front-end: typed contracts compiled to the engine's plans.
//!
//! A contract is a type implementing [`Contract`] (the tutorial's `chat.socket.ts`, one per
//! page route and name): `ROUTE` and `NAME` say which page route it belongs to, `type
//! ToClient` lists the events the server may send ([`event`]), and `socket` adds the calls the
//! page may make (`from_client`) and the rooms (`private`, `auto_join`, `expose`: see
//! [`Declarations`]). [`App::build`](crate::AppBuilder::build) compiles it to the engine's
//! value-level plan. Handlers receive a [`Context`](context::Context), room decisions a
//! [`RoomContext`](room::RoomContext); [`Emitter`](emit::Emitter) sends from anywhere.

pub(crate) mod context;
pub(crate) mod declarations;
pub(crate) mod emit;
pub(crate) mod event;
pub(crate) mod hooks;
pub(crate) mod payload;
pub(crate) mod room;

pub use declarations::Declarations;
use event::Events;

/// A route contract. Implement it on a marker type; the type names the contract everywhere
/// else (`Emitter<Chat>`, `Context<Chat>`, `App::builder().contract::<Chat>()`).
///
/// ```
/// use liverpc::{key, Context, Contract, Declarations, Event, Rejection};
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
///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
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
    /// Adds the contract's handlers and rooms to `socket` (named as the tutorial's
    /// `socket({ ... })`: what the page's socket of this contract may do).
    fn socket(socket: Declarations<Self>) -> Declarations<Self>;
}
