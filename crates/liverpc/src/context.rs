//! What a `from_client` handler sees: the URL's params, the connection's locals, its rooms,
//! and emitters scoped to its contract.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::contract::Contract;
use crate::emit::Broadcast;
use crate::error::Rejection;
use crate::event::{Declares, Event};
use crate::room::RoomKey;
use crate::route::Params;
use crate::session::Conn;
use crate::transport::Peer;

/// The context of one call from a page, passed to every `from_client` handler.
///
/// ```
/// use liverpc::{Context, Contract, Rejection};
/// # use liverpc::Socket;
/// # struct Chat;
/// # impl Contract for Chat {
/// #     type Locals = Option<String>;
/// #     type ToClient = ();
/// #     const ROUTE: &'static str = "/rooms/[roomId]";
/// #     const NAME: &'static str = "chat";
/// #     fn socket(socket: Socket<Self>) -> Socket<Self> { socket }
/// # }
///
/// async fn whoami(cx: Context<Chat>, _: ()) -> Result<String, Rejection> {
///     let user = cx.locals().as_deref().ok_or_else(|| Rejection::forbidden("sign in first"))?;
///     let room = cx.param("roomId").unwrap_or("?");
///     Ok(format!("{user} in {room}"))
/// }
/// ```
pub struct Context<C: Contract> {
    conn: Arc<Conn<C>>,
    peer: Peer,
    _contract: PhantomData<fn() -> C>,
}

impl<C: Contract> Context<C> {
    pub(crate) fn new(conn: Arc<Conn<C>>, peer: Peer) -> Context<C> {
        Context { conn, peer, _contract: PhantomData }
    }

    /// The params matched from the page's URL.
    pub fn params(&self) -> &Params {
        self.conn.cx.params()
    }

    /// One param of the page's URL.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.conn.cx.params().get(name)
    }

    /// The locals the connection hook returned.
    pub fn locals(&self) -> &C::Locals {
        self.conn.cx.locals()
    }

    /// This socket's id.
    pub fn id(&self) -> String {
        self.peer.id()
    }

    /// The rooms this socket is in, as `(room name, key)`.
    pub fn rooms(&self) -> Vec<(String, RoomKey)> {
        self.conn.rooms()
    }

    /// The key of the room this socket joined under `name`, e.g. `cx.room("chat")` for the
    /// auto-joined chat room. `forbidden` when the socket is not in it.
    pub fn room(&self, name: &str) -> Result<RoomKey, Rejection> {
        self.conn.room_key(name).ok_or_else(|| Rejection::forbidden(format!("not in room `{name}`")))
    }

    /// Whether this socket is in the room `key`, e.g. before letting it post there.
    pub fn in_room(&self, key: &RoomKey) -> bool {
        self.conn.holds(key)
    }

    /// Joins a room of this contract from server code, as if the page had asked (a private room
    /// is decided from params and locals; an exposed room cannot be joined without a payload).
    pub fn join(&self, name: &str) -> Result<RoomKey, Rejection> {
        self.conn.join_room(&self.peer, name, None)
    }

    /// Leaves a private room of this contract.
    pub fn leave(&self, name: &str) -> Result<(), Rejection> {
        self.conn.leave_room(&self.peer, name, None)
    }

    /// Emits to every socket in `room` except this one.
    pub fn to(&self, room: &RoomKey) -> Broadcast<C> {
        Broadcast::new(self.conn.runtime.hub.clone(), room, Some(self.peer.clone()))
    }

    /// Emits to every socket in `room`, this one included.
    pub fn within(&self, room: &RoomKey) -> Broadcast<C> {
        Broadcast::new(self.conn.runtime.hub.clone(), room, None)
    }

    /// Emits an event to this socket only.
    pub fn emit<E: Event, I>(&self, event: &E) -> Result<(), crate::EmitError>
    where
        C::ToClient: Declares<E, I>,
    {
        let payload = serde_json::value::to_raw_value(event)?;
        self.peer.emit(E::NAME, &payload);
        Ok(())
    }
}
