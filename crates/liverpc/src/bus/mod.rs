//! The bus seam: room messages between the nodes of one app.
//!
//! A message sent to a room is delivered by its own node first, through the transport, then
//! published on the bus, which hands it to every other node's [`Sink`]. Delivering locally before
//! publishing means a failing bus never stops local delivery (Rule 6 (docs/security.md#rule-6)). A
//! node tells the bus which rooms it has members in ([`Bus::interest`]), so that a bus that routes
//! by room (Redis: one channel per room) only carries a room to the nodes that need it.
//! [`LocalBus`] is the bus of an app on one node; `RedisBus` (feature `redis`) spans processes.
//! The [`Streams`] seam keeps the streams of rooms with history (positions, the last messages):
//! [`MemoryStreams`] on this node (the default), `RedisStreams` (feature `redis`) in Redis, where
//! every node agrees on a room's positions.
//! Nothing here imports the engine: this is a leaf module.

use std::any::Any;
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::future::BoxFuture;
use crate::wire::stream::{History, Position, Recent};

mod local;
#[cfg(feature = "redis")]
mod redis;
mod stream;

pub(crate) use local::LocalBus;
#[cfg(feature = "redis")]
pub(crate) use redis::RedisBus;
#[cfg(feature = "redis")]
pub(crate) use stream::Stored;
pub(crate) use stream::{MemoryStreams, Replay};

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
    /// Delivers a message of a shared stream ([`Streams::shared`]) with the position it was
    /// given, this node's own messages included (they reach their members this way).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn streamed(&self, message: &Streamed<'_>);
}

/// A message of a room's stream as the shared stream numbered it.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Streamed<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) room: &'a str,
    pub(crate) event: &'a str,
    pub(crate) payload: &'a RawValue,
    pub(crate) position: &'a Position,
    /// A socket of this node the message skips (set only on the node that emitted it).
    pub(crate) except: Option<&'a str>,
}

/// One room's stream: its namespace, its room (encoded) and what it keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamAt<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) room: &'a str,
    pub(crate) history: History,
}

/// A message reaching this node's stream of a room, and what tells the room's members here
/// that they missed some.
#[derive(Clone, Copy)]
pub(crate) struct Arrival<'a> {
    /// Its position, given by the shared stream; `None`: this node numbers it.
    pub(crate) position: Option<&'a Position>,
    pub(crate) event: &'a str,
    pub(crate) payload: &'a RawValue,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) missed: &'a dyn Fn(&Position),
}

/// How a stream hands a message to this node's members.
pub(crate) trait Local {
    /// Delivers it now with `position` (a stream on this node, under its lock).
    fn now(&self, position: &Position) -> usize;
    /// A delivery for later, without a position: the shared stream could not append the
    /// message (Redis down), so it reaches this node's members only (Rule 6
    /// (docs/security.md#rule-6)).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn unpositioned(&self) -> Box<dyn FnOnce() + Send>;
    /// The socket of this node the message skips, by its transport id.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn except(&self) -> Option<&str>;
}

/// What an append did.
pub(crate) enum Appended {
    /// Delivered on this node to this many sockets; the caller publishes it to the others.
    Here(usize),
    /// Handed to the shared stream, which publishes it to every node, this one included.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Shared,
}

/// What a socket joining a room with history runs once its replay is known (under the
/// stream's lock on this node): sends the replay, joins the room, and says whether it is
/// still there (it may have left or closed meanwhile).
pub(crate) type Joiner = Box<dyn for<'a> FnOnce(&Replay<'a>) -> bool + Send>;

/// Where a joined socket is in a room's stream, and whether what it missed was replayed
/// (`None`: the page sent no position of that stream).
pub(crate) type Joined = Option<(Position, Option<bool>)>;

/// Why a stream could not be read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadError {
    /// The shared stream's store (Redis) did not answer.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Unavailable,
}

/// The streams of rooms with history: appends give positions, joins replay what a page missed,
/// server code reads recent messages.
pub(crate) trait Streams: Send + Sync + 'static {
    /// Appends a message to `at`'s stream and delivers it to this node's members, in offset
    /// order ([`Appended::Here`]), or hands it to the shared stream, which delivers it back
    /// through [`Sink::streamed`] ([`Appended::Shared`]).
    fn append(&self, at: StreamAt<'_>, event: &str, payload: &RawValue, local: &dyn Local) -> Appended;
    /// A message that reached this node from another (or from the shared stream, `position`
    /// set): delivers it through `deliver` in offset order, and to the sockets joining now
    /// once their replay is sent. When this node sees that messages before it never reached
    /// it (a skipped offset, a new epoch), `missed` runs first with the position before it:
    /// the room's members here are told they were not recovered.
    fn arrived(&self, at: StreamAt<'_>, message: Arrival<'_>, deliver: &dyn Fn(Option<&Position>) -> usize);
    /// Reads what a socket joining `at` missed since `since` and runs `join` with it under
    /// the stream's lock: every message reaches the socket once, the replay before any live
    /// one. `None` when `join` said the socket is gone.
    fn join(&self, at: StreamAt<'_>, since: Option<&Position>, join: Joiner) -> BoxFuture<'static, Joined>;
    /// The last `limit` messages of `at`'s stream and its position after them.
    fn recent(&self, at: StreamAt<'_>, limit: usize) -> BoxFuture<'static, Result<Recent, ReadError>>;
    /// Whether messages this node handed to the shared stream ([`Appended::Shared`]) have yet
    /// to reach its members. A stream on this node delivers as it appends: never.
    fn appending(&self) -> bool {
        false
    }
    /// Runs `deliver` (a local delivery of a room without history) once this node's earlier
    /// appends have reached its members, so it cannot overtake them (Rule 7
    /// (docs/security.md#rule-7)). Called only when [`appending`](Streams::appending) said so.
    fn after_appends(&self, deliver: Box<dyn FnOnce() + Send>) {
        deliver();
    }
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
