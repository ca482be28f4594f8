//! The route contract (the tutorial's `chat.socket.ts`): one per page route and name.
//!
//! A contract is a type implementing [`Contract`]: `ROUTE` and `NAME` say which page route it
//! belongs to, `type ToClient` lists the events the server may send, and `socket` adds the
//! calls the page may make (`from_client`) and the rooms (`room`).

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::codegen::TsType;
use crate::context::Context;
use crate::error::Rejection;
use crate::event::Events;
use crate::hooks::BoxFuture;
use crate::payload;
use crate::room::{Room, RoomBuilder};

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
///     type ToClient = (Message,);
///
///     fn socket(socket: Socket<Self>) -> Socket<Self> {
///         socket
///             .from_client("send", send)
///             .room("chat", |room| room.private(|cx| Ok(key!["chat", cx.param("roomId")?])).auto_join())
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
    /// The server -> page events: a tuple of [`Event`](crate::Event) types, `()` for none.
    type ToClient: Events;
    /// Adds the contract's handlers and rooms to `socket`.
    fn socket(socket: Socket<Self>) -> Socket<Self>;
}

/// A contract's handlers and rooms, under construction; see [`Contract`].
pub struct Socket<C: Contract> {
    pub(crate) handlers: Vec<(String, Handler<C>)>,
    pub(crate) rooms: Vec<(String, Room<C::Locals>)>,
}

type HandlerFn<C> =
    dyn Fn(Context<C>, &str) -> Result<BoxFuture<'static, Result<Box<RawValue>, Rejection>>, Rejection> + Send + Sync;

/// A page -> server handler, type-erased.
pub(crate) struct Handler<C: Contract> {
    pub(crate) call: Arc<HandlerFn<C>>,
    pub(crate) payload: TsType,
    pub(crate) reply: TsType,
}

impl<C: Contract> Socket<C> {
    /// Adds a page -> server handler (the tutorial's `fromClient`). The page calls
    /// `room.<name>(payload)`; the payload is decoded into `T` and validated (garde) before the
    /// handler runs; the handler's `Ok` is the page's typed reply, its `Err` the page's error.
    ///
    /// ```
    /// use liverpc::{Context, Contract, Rejection, Socket};
    ///
    /// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
    /// struct Add { #[garde(range(max = 1000))] a: u32, #[garde(range(max = 1000))] b: u32 }
    ///
    /// struct Calc;
    /// impl Contract for Calc {
    ///     const ROUTE: &'static str = "/calc";
    ///     const NAME: &'static str = "calc";
    ///     type Locals = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Socket<Self>) -> Socket<Self> {
    ///         socket.from_client("add", |_cx, Add { a, b }| async move { Ok::<u32, Rejection>(a + b) })
    ///     }
    /// }
    /// ```
    pub fn from_client<T, R, F, Fut>(mut self, name: &str, handler: F) -> Socket<C>
    where
        T: DeserializeOwned + garde::Validate + ts_rs::TS + Send + 'static,
        T::Context: Default,
        R: Serialize + ts_rs::TS + 'static,
        F: Fn(Context<C>, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Rejection>> + Send + 'static,
    {
        let call = move |cx: Context<C>, raw: &str| {
            let data: T = payload::decode(raw)?;
            let reply = handler(cx, data);
            let future: BoxFuture<'static, Result<Box<RawValue>, Rejection>> = Box::pin(async move {
                let reply = reply.await?;
                serde_json::value::to_raw_value(&reply).map_err(|e| {
                    tracing::error!(error = %e, "could not serialize a handler's reply");
                    Rejection::internal()
                })
            });
            Ok(future)
        };
        let handler = Handler { call: Arc::new(call), payload: TsType::of::<T>(), reply: TsType::of::<R>() };
        self.handlers.push((name.to_owned(), handler));
        self
    }

    /// Adds a room, defined with [`RoomBuilder::private`] or [`RoomBuilder::expose`]:
    /// `.room("chat", |room| room.private(|cx| ...))`.
    pub fn room<F>(mut self, name: &str, define: F) -> Socket<C>
    where
        F: FnOnce(RoomBuilder<C::Locals>) -> Room<C::Locals>,
    {
        self.rooms.push((name.to_owned(), define(RoomBuilder::new())));
        self
    }

    pub(crate) fn new() -> Socket<C> {
        Socket { handlers: Vec::new(), rooms: Vec::new() }
    }
}
