//! Typed emitting to a contract's rooms, from handlers and from anywhere else.

use std::marker::PhantomData;

use crate::contract::Contract;
use crate::contract::event::{Declares, Event};
use crate::engine::{Hub, Socket};
use crate::wire::error::{EmitError, HistoryError, Rejection};
use crate::wire::key::RoomKey;
use crate::wire::stream::Recent;

/// Sends a contract's events to its rooms from anywhere: an axum handler, a background task.
/// Cheap to clone. Get one with [`App::emitter`](crate::App::emitter).
///
/// ```
/// use liverpc::{key, App, Contract, Declarations, Emitter, Event};
///
/// #[derive(serde::Serialize, ts_rs::TS)]
/// struct Message { text: String }
/// impl Event for Message { const NAME: &'static str = "message"; }
///
/// struct Chat;
/// impl Contract for Chat {
///     type Locals = ();
///     type State = ();
///     type ToClient = (Message,);
///     const ROUTE: &'static str = "/rooms/[roomId]";
///     const NAME: &'static str = "chat";
///     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder().contract::<Chat>().build()?;
/// let chat: Emitter<Chat> = app.emitter()?;
/// let delivered = chat.to(&key!["chat", "general"]).emit(&Message { text: "hi".into() }).await?;
/// assert_eq!(delivered, 0); // nobody is connected yet
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct Emitter<C: Contract> {
    hub: Hub,
    _contract: PhantomData<fn() -> C>,
}

impl<C: Contract> Clone for Emitter<C> {
    fn clone(&self) -> Self {
        Emitter { hub: self.hub.clone(), _contract: PhantomData }
    }
}

impl<C: Contract> Emitter<C> {
    pub(crate) fn new(hub: Hub) -> Emitter<C> {
        Emitter { hub, _contract: PhantomData }
    }

    /// Targets every socket in `room`.
    pub fn to(&self, room: &RoomKey) -> Broadcast<C> {
        Broadcast::new(self.hub.clone(), room.clone(), None)
    }

    /// The last `limit` messages of `room` (at most its history's size), oldest first, each
    /// with its event name, JSON payload and position, and the position after them. A page
    /// rendered from them hands that position to its client (`chat({ since })`), whose live
    /// messages then start exactly after: no gap, no duplicate. An error when the key has no
    /// stream (its room declares no [`history`](crate::Declarations::history)).
    ///
    /// ```
    /// use liverpc::{key, App, Contract, Declarations, Emitter, Event, History};
    ///
    /// #[derive(serde::Serialize, ts_rs::TS)]
    /// struct Message { text: String }
    /// impl Event for Message { const NAME: &'static str = "message"; }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     type Locals = ();
    ///     type State = ();
    ///     type ToClient = (Message,);
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket
    ///             .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
    ///             .history("chat", History::last(100))
    ///     }
    /// }
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = App::builder().contract::<Chat>().build()?;
    /// let chat: Emitter<Chat> = app.emitter()?;
    /// let general = key!["chat", "general"];
    /// chat.to(&general).emit(&Message { text: "hi".into() }).await?;
    /// let recent = chat.history(&general, 50).await?;
    /// assert_eq!(recent.messages[0].payload.get(), r#"{"text":"hi"}"#);
    /// assert_eq!((recent.messages[0].position.offset, recent.position.offset), (1, 1));
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
    /// ```
    pub async fn history(&self, room: &RoomKey, limit: usize) -> Result<Recent, HistoryError> {
        self.hub.history(room, limit)
    }
}

/// An emit to one room, waiting for its event. Made by [`Emitter::to`], [`Context::to`] and
/// [`Context::within`](crate::Context::within).
///
/// [`Context::to`]: crate::Context::to
#[must_use = "a broadcast does nothing until `.emit(..).await`"]
pub struct Broadcast<C: Contract> {
    hub: Hub,
    room: RoomKey,
    except: Option<Socket>,
    _contract: PhantomData<fn() -> C>,
}

impl<C: Contract> Broadcast<C> {
    pub(crate) fn new(hub: Hub, room: RoomKey, except: Option<Socket>) -> Broadcast<C> {
        Broadcast { hub, room, except, _contract: PhantomData }
    }

    /// Sends `event` to the room; returns how many sockets of this node it was handed to. Only
    /// events declared in the contract's `type ToClient` compile. The payload is serialized
    /// once, and the emits of one call reach every member in the order they were made.
    pub async fn emit<E: Event, I>(self, event: &E) -> Result<usize, EmitError>
    where
        C::ToClient: Declares<E, I>,
    {
        let payload = serde_json::value::to_raw_value(event)?;
        self.hub.emit(&self.room, E::NAME, &payload, self.except.as_ref())
    }

    /// Disconnects every socket in the room (except the excluded one); returns how many. Their
    /// pages reconnect on their own, and every room they ask for again is re-authorized with
    /// fresh locals: the way to make a revoked right take effect on open connections.
    ///
    /// ```
    /// # use liverpc::{key, App, Contract, Declarations};
    /// # struct Chat;
    /// # impl Contract for Chat {
    /// #     const ROUTE: &'static str = "/rooms/[roomId]";
    /// #     const NAME: &'static str = "chat";
    /// #     type Locals = ();
    /// #     type State = ();
    /// #     type ToClient = ();
    /// #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
    /// # }
    /// let app = App::builder().contract::<Chat>().build().unwrap();
    /// let chat = app.emitter::<Chat>().unwrap();
    /// // After taking project "gemini" away from someone:
    /// assert_eq!(chat.to(&key!["project", "gemini"]).disconnect(), 0);
    /// ```
    pub fn disconnect(self) -> usize {
        self.hub.disconnect(&self.room, self.except.as_ref())
    }
}

impl From<EmitError> for Rejection {
    fn from(error: EmitError) -> Rejection {
        tracing::error!(%error, "emit failed in a handler");
        Rejection::internal()
    }
}
