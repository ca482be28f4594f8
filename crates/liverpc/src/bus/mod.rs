//! The bus seam: room messages between the nodes of one app.
//!
//! A message sent to a room is delivered by its own node first, through the transport, then
//! published on the bus, which hands it to every other node's [`Sink`]. Delivering locally before
//! publishing means a failing bus never stops local delivery (Rule 6 (docs/security.md#rule-6)). A
//! node tells the bus which rooms it has members in ([`Bus::interest`]), so that a bus that routes
//! by room (Redis: one channel per room) only carries a room to the nodes that need it.
//! [`LocalBus`] is the bus of an app on one node; `RedisBus` (feature `redis`) spans processes.
//! [`MemoryStreams`] keeps the streams of rooms with history (positions, the last messages) on
//! this node.
//! Nothing here imports the engine: this is a leaf module.

use std::any::Any;
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::future::BoxFuture;

mod local;
#[cfg(feature = "redis")]
mod redis;
mod stream;

pub(crate) use local::LocalBus;
#[cfg(feature = "redis")]
pub(crate) use redis::RedisBus;
pub(crate) use stream::MemoryStreams;

/// What happens to a room's members.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action<'a> {
    /// Every member receives the event.
    Emit { event: &'a str, payload: &'a RawValue },
    /// Every member is disconnected (a right was revoked).
    Disconnect,
}

/// A message to the members of one room of one namespace, on every node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomMessage<'a> {
    /// The contract's namespace.
    pub(crate) namespace: &'a str,
    /// The room, as the transport names it (the key's injective encoding).
    pub(crate) room: &'a str,
    /// What to do.
    pub(crate) action: Action<'a>,
}

/// Where a node receives the other nodes' messages (the engine: local fan-out).
pub(crate) trait Sink: Send + Sync + 'static {
    /// Delivers a message from another node to this node's members.
    fn deliver(&self, message: &RoomMessage<'_>);
}

/// Carries room messages to the other nodes.
pub(crate) trait Bus: Send + Sync + 'static {
    /// Hands `message` to every other node; this node has delivered it already. Never blocks
    /// and never fails the caller: a bus that cannot publish logs it.
    fn publish(&self, message: &RoomMessage<'_>);
    /// Starts delivering the other nodes' messages to `sink`.
    fn start(&self, sink: Arc<dyn Sink>);
    /// This node has one more member in `room` of `namespace`, until the returned [`Interest`]
    /// is dropped. Its [`ready`](Interest::ready) future resolves once every message other
    /// nodes publish to the room from then on reaches this node's [`Sink`] (or, with the bus
    /// down, at once: delivery is local only until it is back). Never blocks.
    fn interest(&self, namespace: &str, room: &str) -> Interest;
    /// Lists `member` in `room` of `namespace`, showing `data`, for every node until
    /// [`absent`](Bus::absent) or until this node dies. Resolves to the room's members then
    /// (this one included); with the bus down, to what this node knows. Ordered with this
    /// node's [`publish`](Bus::publish) calls, so a member is listed before its join is
    /// announced and unlisted before its leave is.
    /// `name` is the room's name in the contract (what presence events carry).
    fn present(&self, at: Place<'_>, member: &str, data: &RawValue) -> BoxFuture<'static, Vec<Member>>;
    /// Unlists `member` from `room`.
    fn absent(&self, namespace: &str, room: &str, member: &str);
}

/// Where a member is listed: a room of a namespace, and the room's name in the contract.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) room: &'a str,
    /// The room's name in the contract, what presence events carry.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) name: &'a str,
}

/// A member of a room with presence, as listed on the bus.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The member's socket id.
    pub(crate) id: String,
    /// What it shows the others.
    pub(crate) data: Box<RawValue>,
}

/// One member's hold on a room's traffic reaching this node: dropping it gives the hold back.
pub(crate) struct Interest {
    ready: Option<BoxFuture<'static, ()>>,
    /// Whatever gives the hold back when dropped.
    _release: Option<Box<dyn Any + Send>>,
}

impl Interest {
    /// A hold that costs nothing (a bus that carries every room to every node).
    pub(crate) fn none() -> Interest {
        Interest { ready: None, _release: None }
    }

    /// A hold whose `release` is dropped with it, ready once `ready` resolves.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn new(ready: Option<BoxFuture<'static, ()>>, release: Box<dyn Any + Send>) -> Interest {
        Interest { ready, _release: Some(release) }
    }

    /// What to wait for before telling the page it is in the room (once; `None` after).
    pub(crate) fn ready(&mut self) -> Option<BoxFuture<'static, ()>> {
        self.ready.take()
    }
}
