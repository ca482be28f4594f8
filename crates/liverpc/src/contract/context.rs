//! What a `from_client` handler sees: the URL's params, the connection's locals, the app's
//! state, its rooms, and emitters scoped to its contract.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::contract::Contract;
use crate::contract::emit::Broadcast;
use crate::contract::event::{Declares, Event};
use crate::contract::room::{Deny, locals};
use crate::engine::Socket;
use crate::wire::error::{EmitError, Rejection};
use crate::wire::key::RoomKey;
use crate::wire::route::Params;

/// The context of one call from a page, passed to every `from_client` handler.
///
/// ```
/// use liverpc::{Context, Contract, Rejection};
/// # use liverpc::Declarations;
/// # struct Chat;
/// # impl Contract for Chat {
/// #     type Locals = Option<String>;
/// #     type State = ();
/// #     type ToClient = ();
/// #     const ROUTE: &'static str = "/rooms/[roomId]";
/// #     const NAME: &'static str = "chat";
/// #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
/// # }
///
/// async fn whoami(cx: Context<Chat>, _: ()) -> Result<String, Rejection> {
///     let user = cx.locals().as_deref().ok_or_else(|| Rejection::forbidden("sign in first"))?;
///     let room = cx.param("roomId")?;
///     Ok(format!("{user} in {room}"))
/// }
/// ```
pub struct Context<C: Contract> {
    socket: Socket,
    state: Arc<C::State>,
    _contract: PhantomData<fn() -> C>,
}

/// A room this socket is in, as [`Context::room`] and [`Context::joined`] prove it: what a
/// handler broadcasts to, so it cannot reach a room its socket is not in by accident. To emit
/// to any room, use the app's [`Emitter`](crate::Emitter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    key: RoomKey,
}

impl JoinedRoom {
    /// The room's key.
    pub fn key(&self) -> &RoomKey {
        &self.key
    }
}

impl<C: Contract> Context<C> {
    pub(crate) fn new(socket: Socket, state: Arc<C::State>) -> Context<C> {
        Context { socket, state, _contract: PhantomData }
    }

    /// The params matched from the page's URL.
    pub fn params(&self) -> &Params {
        self.socket.params()
    }

    /// One param of the page's URL, or [`Deny`] (answered `forbidden` by `?`) when the URL has
    /// none of that name.
    pub fn param(&self, name: &str) -> Result<&str, Deny> {
        self.socket.params().get(name).ok_or(Deny)
    }

    /// The locals the connection hook returned.
    pub fn locals(&self) -> &C::Locals {
        locals::<C>(&self.socket)
    }

    /// The app's state.
    pub fn state(&self) -> &C::State {
        &self.state
    }

    /// This socket's id: unique, stable for the connection, and not a credential.
    pub fn id(&self) -> &str {
        self.socket.id()
    }

    /// The rooms this socket is in, as `(room name, key)`.
    pub fn rooms(&self) -> Vec<(String, RoomKey)> {
        self.socket.rooms()
    }

    /// The room this socket joined under `name`, e.g. `cx.room("chat")` for the auto-joined
    /// chat room. `forbidden` when the socket is not in it.
    pub fn room(&self, name: &str) -> Result<JoinedRoom, Rejection> {
        let key = self.socket.room_key(name).ok_or_else(|| Rejection::forbidden(format!("not in room `{name}`")))?;
        Ok(JoinedRoom { key })
    }

    /// The room `key` if this socket is in it (e.g. before letting it post there), else
    /// `forbidden`.
    pub fn joined(&self, key: &RoomKey) -> Result<JoinedRoom, Rejection> {
        if self.socket.holds(key) {
            Ok(JoinedRoom { key: key.clone() })
        } else {
            Err(Rejection::forbidden("join the room first"))
        }
    }

    /// Joins a private room of this contract from server code, as if the page had asked: it is
    /// decided from params, locals and state.
    pub async fn join(&self, name: &str) -> Result<JoinedRoom, Rejection> {
        let key = self.socket.join(name, None).await?;
        Ok(JoinedRoom { key })
    }

    /// Leaves a private room of this contract.
    pub fn leave(&self, name: &str) -> Result<(), Rejection> {
        self.socket.leave(name, None)
    }

    /// Emits to every socket in `room` except this one.
    pub fn to(&self, room: &JoinedRoom) -> Broadcast<C> {
        Broadcast::new(self.socket.hub(), room.key.clone(), Some(self.socket.clone()))
    }

    /// Emits to every socket in `room`, this one included.
    pub fn within(&self, room: &JoinedRoom) -> Broadcast<C> {
        Broadcast::new(self.socket.hub(), room.key.clone(), None)
    }

    /// Emits an event to this socket only.
    pub fn emit<E: Event, I>(&self, event: &E) -> Result<(), EmitError>
    where
        C::ToClient: Declares<E, I>,
    {
        let payload = serde_json::value::to_raw_value(event)?;
        self.socket.emit(E::NAME, &payload);
        Ok(())
    }
}
