//! The transport seam: connections in, events and packets out, and the local room index.
//!
//! The engine sees a transport only through these traits; [`engineio`], liverpc's own Engine.IO v4 /
//! Socket.IO v5, implements them. A transport calls an [`Acceptor`] for each namespace connect,
//! hands every event of an open socket to its [`Inbound`], and answers through [`Ack`]. The
//! engine reaches a socket through its [`Link`] and a room of this node through [`Transport`].
//! Nothing here imports the engine: this is a leaf module.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::future::BoxFuture;
use crate::wire::handshake::Handshake;
use crate::wire::limits::RateLimiter;
use crate::wire::protocol::Refusal;

pub(crate) mod engineio;

/// Asks the connection under a request to hold its answer back until the next bytes written
/// after it, so both leave in one segment: a websocket upgrade's `101` and the Engine.IO open
/// packet the new session writes at once (one send per connect instead of two). Put in a
/// request's extensions by the server that owns the connection ([`App::serve`](crate::App::serve));
/// a request without it (another server) is answered as usual.
#[derive(Clone, Default)]
pub(crate) struct HoldAnswer(Arc<std::sync::atomic::AtomicBool>);

impl HoldAnswer {
    /// The answer about to be written is held.
    pub(crate) fn arm(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether an answer is to be held (the request asked, and it was not taken yet).
    pub(crate) fn take(&self) -> bool {
        self.0.swap(false, std::sync::atomic::Ordering::AcqRel)
    }
}

/// A socket's id inside its transport: compares sockets, never shown to the app (the engine
/// gives each socket its own id, which is not a credential).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LinkId(pub(crate) crate::wire::id::Id);

/// One page's socket on one namespace, as the engine drives it.
pub(crate) trait Link: Send + Sync + 'static {
    /// The transport's id of this socket.
    fn id(&self) -> LinkId;
    /// Adds the socket to a room of this node's index (a no-op once it is being closed). The
    /// name is shared: the engine's entry, the socket's list and the index hold one string.
    fn join(&self, room: &Arc<str>);
    /// Removes the socket from a room.
    fn leave(&self, room: &str);
    /// Sends an event to this socket alone; a slow reader is disconnected.
    fn send(&self, event: &str, payload: &RawValue);
    /// Sends an event with a second argument after its payload (a room stream's position).
    fn send_with(&self, event: &str, payload: &RawValue, meta: &RawValue);
    /// The socket's call rate, when the transport keeps it beyond the socket (so that a page
    /// leaving and connecting its namespace again on the same connection does not refill it);
    /// `None`: the engine gives the socket a fresh one.
    fn limiter(&self) -> Option<Arc<RateLimiter>> {
        None
    }
}

/// This node's side of every room: fan-out to the local members.
pub(crate) trait Transport: Send + Sync + 'static {
    /// Serves `namespace`: every connect to it is decided by `acceptor`.
    fn mount(&self, namespace: &str, acceptor: Arc<dyn Acceptor>);
    /// Sends `event` to every socket of `namespace` in `room` on this node, except `except`;
    /// returns how many sockets it was handed to. `meta`, if any, is a second argument after
    /// the payload (a room stream's position). Members whose send buffer is full are
    /// disconnected (a slow reader never grows memory or stalls the others).
    fn broadcast(
        &self,
        namespace: &str,
        room: &str,
        event: &str,
        payload: &RawValue,
        meta: Option<&RawValue>,
        except: Option<&LinkId>,
    ) -> usize;
    /// Disconnects every socket of `namespace` in `room` on this node but `except`.
    fn disconnect_room(&self, namespace: &str, room: &str, except: Option<&LinkId>) -> usize;
}

/// What a transport calls when a page connects to a namespace (the engine, per contract).
pub(crate) trait Acceptor: Send + Sync + 'static {
    /// Decides a connect: `auth` is the CONNECT packet's payload. On `Ok` the socket is
    /// connected and every later event goes to the returned [`Inbound`].
    fn open(
        &self,
        link: Arc<dyn Link>,
        handshake: Handshake,
        auth: Option<Box<RawValue>>,
    ) -> BoxFuture<'static, Result<Arc<dyn Inbound>, Refusal>>;
}

/// An open socket's events, as the transport delivers them.
pub(crate) trait Inbound: Send + Sync + 'static {
    /// The page has been told it is connected (events may already have arrived: the
    /// transport delivers them from the moment `open` returned).
    fn connected(self: Arc<Self>);
    /// An event from the page with its first argument. Called in the order the page sent them,
    /// from the transport's task, and must not block: the engine runs the work at once as far as
    /// it goes without waiting, and queues the rest.
    fn event(self: Arc<Self>, event: String, data: Option<Box<RawValue>>, ack: Ack);
    /// The socket is gone (the page left, the transport closed, or the server disconnected it).
    fn closed(self: Arc<Self>);
}

/// Where an event's answer goes: its ack, if the page asked for one.
pub(crate) struct Ack(Box<dyn FnOnce(&RawValue) + Send>);

impl Ack {
    pub(crate) fn new(send: impl FnOnce(&RawValue) + Send + 'static) -> Ack {
        Ack(Box::new(send))
    }

    /// Sends the answer (nothing happens if the page asked for no ack).
    pub(crate) fn send(self, answer: &RawValue) {
        (self.0)(answer)
    }
}
