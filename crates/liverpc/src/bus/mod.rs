//! The bus seam: room messages between the nodes of one app.
//!
//! A message sent to a room is delivered by its own node first, through the transport, then
//! published on the bus, which hands it to every other node's [`Sink`]. Delivering locally
//! before publishing means a failing bus never stops local delivery (Rule 6). [`LocalBus`] is
//! the bus of an app on one node. Nothing here imports the engine: this is a leaf module.

use std::sync::Arc;

use serde_json::value::RawValue;

mod local;

pub(crate) use local::LocalBus;

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
}
