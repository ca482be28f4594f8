//! What travels on a room's channel: one JSON object per message, encoded once by the node
//! that sends it. It names its origin so that a node skips its own echo (it delivered the
//! message locally before publishing), and its namespace and room so that a receiver needs
//! nothing from the channel name.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bus::{Action, RoomMessage};

/// The Redis channel of one room of one namespace. The namespace's length comes first, so
/// no two (namespace, room) pairs share a channel whatever characters they contain.
pub(super) fn channel(prefix: &str, namespace: &str, room: &str) -> String {
    format!("{prefix}:room:{}:{namespace}{room}", namespace.len())
}

#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    /// The sending node's id.
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    ns: Cow<'a, str>,
    #[serde(borrow)]
    room: Cow<'a, str>,
    /// The event's name; absent for a disconnect.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    event: Option<Cow<'a, str>>,
    /// The event's payload, verbatim.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawValue>,
}

/// Encodes `message` as sent by `node`.
pub(super) fn encode(node: &str, message: &RoomMessage<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let (event, payload) = match message.action {
        Action::Emit { event, payload } => (Some(Cow::Borrowed(event)), Some(payload)),
        Action::Disconnect => (None, None),
    };
    serde_json::to_vec(&Envelope {
        node: Cow::Borrowed(node),
        ns: Cow::Borrowed(message.namespace),
        room: Cow::Borrowed(message.room),
        event,
        payload,
    })
}

/// A decoded message and the node that sent it.
pub(super) struct Received<'a> {
    envelope: Envelope<'a>,
}

impl<'a> Received<'a> {
    /// Decodes what a channel carried; `None` for anything that is not an envelope.
    pub(super) fn decode(bytes: &'a [u8]) -> Option<Received<'a>> {
        serde_json::from_slice(bytes).ok().map(|envelope| Received { envelope })
    }

    /// The id of the node that sent it.
    pub(super) fn node(&self) -> &str {
        &self.envelope.node
    }

    /// The message, to hand to this node's sink.
    pub(super) fn message(&self) -> Option<RoomMessage<'_>> {
        let e = &self.envelope;
        let action = match (&e.event, e.payload) {
            (Some(event), Some(payload)) => Action::Emit { event, payload },
            (None, None) => Action::Disconnect,
            _ => return None,
        };
        Some(RoomMessage { namespace: &e.ns, room: &e.room, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emit_and_a_disconnect_come_back_as_sent() {
        let payload = RawValue::from_string(r#"{"text":"a \"quoted\" word"}"#.to_owned()).unwrap();
        let room = r#"["chat","gen\"eral"]"#;
        let emit = RoomMessage {
            namespace: "/rooms/[roomId]/chat",
            room,
            action: Action::Emit { event: "message", payload: &payload },
        };
        let bytes = encode("n1", &emit).unwrap();
        let received = Received::decode(&bytes).unwrap();
        assert_eq!(received.node(), "n1");
        let message = received.message().unwrap();
        assert_eq!((message.namespace, message.room), ("/rooms/[roomId]/chat", room));
        assert!(matches!(message.action, Action::Emit { event: "message", payload: p } if p.get() == payload.get()));

        let bytes = encode("n2", &RoomMessage { namespace: "/chat", room, action: Action::Disconnect }).unwrap();
        let received = Received::decode(&bytes).unwrap();
        assert!(matches!(received.message().unwrap().action, Action::Disconnect));
        assert!(Received::decode(b"not json").is_none());
    }

    #[test]
    fn channels_are_injective() {
        assert_ne!(channel("p", "/a", r#"["b"]"#), channel("p", "/a[", r#""b"]"#));
        assert_eq!(channel("liverpc", "/chat", r#"["x"]"#), r#"liverpc:room:5:/chat["x"]"#);
    }
}
