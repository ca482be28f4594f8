//! Rooms: who joins which Socket.IO group, decided on the server.
//!
//! A contract declares each room on its [`Declarations`](crate::Declarations):
//!
//! - [`private`](crate::Declarations::private) and [`auto_join`](crate::Declarations::auto_join): the
//!   server computes the key from the URL's params, the connection's locals and the app's
//!   state; the page never sends it.
//! - [`expose`](crate::Declarations::expose): the page sends a payload
//!   (`room.join.project({ projectId })`); the server decodes and validates it, then the
//!   authorizer returns the key or [`Deny`].
//!
//! Deciders are `async`: they may await a store. A refused join always answers exactly
//! `forbidden`, whether the room exists or not.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::contract::Contract;
use crate::engine::Socket;
use crate::wire::error::Rejection;
use crate::wire::route::Params;

/// A refused join. The page receives exactly `{ code: "forbidden" }`.
///
/// ```
/// use liverpc::Deny;
///
/// fn must_be_admin(is_admin: bool) -> Result<(), Deny> {
///     if is_admin { Ok(()) } else { Err(Deny) }
/// }
/// assert!(must_be_admin(false).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deny;

impl fmt::Display for Deny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("forbidden")
    }
}

impl std::error::Error for Deny {}

impl From<Deny> for Rejection {
    /// In a handler, `?` on a [`Deny`] (a missing param, say) answers `forbidden`.
    fn from(Deny: Deny) -> Rejection {
        Rejection::join_denied()
    }
}

/// What a room decides from: the URL's params, the connection's locals, the app's state.
///
/// ```
/// # use liverpc::{key, Contract, Declarations, Deny};
/// struct Projects;
/// impl Projects {
///     async fn member(&self, user: &str, project: &str) -> bool { user == "alice" && project == "apollo" }
/// }
///
/// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
/// struct Join { #[garde(length(max = 64))] project: String }
///
/// struct Chat;
/// impl Contract for Chat {
///     const ROUTE: &'static str = "/";
///     const NAME: &'static str = "chat";
///     type Locals = Option<String>;
///     type State = Projects;
///     type ToClient = ();
///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
///         socket.expose("project", |cx, Join { project }| async move {
///             let user = cx.locals().as_deref().ok_or(Deny)?;
///             if !cx.state().member(user, &project).await {
///                 return Err(Deny);
///             }
///             Ok(key!["project", project])
///         })
///     }
/// }
/// ```
pub struct RoomContext<C: Contract> {
    socket: Socket,
    state: Arc<C::State>,
    _contract: PhantomData<fn() -> C>,
}

impl<C: Contract> RoomContext<C> {
    pub(crate) fn new(socket: Socket, state: Arc<C::State>) -> RoomContext<C> {
        RoomContext { socket, state, _contract: PhantomData }
    }

    /// The params matched from the page's URL.
    pub fn params(&self) -> &Params {
        self.socket.params()
    }

    /// One param, or [`Deny`] when the URL has none of that name (an absent optional param).
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
}

/// The typed locals of a socket of contract `C`.
pub(crate) fn locals<C: Contract>(socket: &Socket) -> &C::Locals {
    // The hook's output type is the app's `L`, and `contract::<C>()` requires
    // `C::Locals = L`: the engine only ever holds this type here.
    socket.locals().downcast_ref::<C::Locals>().expect("locals have the hook's type (AppBuilder<L, _>)")
}
