//! What travels on a room's channel: one JSON object per message, encoded once by the node
//! that sends it. It names its origin so that a node skips its own echo (it delivered the
//! message locally before publishing), and its namespace and room so that a receiver needs
//! nothing from the channel name. A message of a room's stream is encoded the same way and
//! given its position by the script that appends it, which writes `"epoch"` and `"offset"` at
//! the front of the object (see [`super::streams`]).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bus::{Action, RoomMessage, Streamed};
use crate::wire::stream::{Position, stream_id};

/// The Redis channel of one room of one namespace. The namespace's length comes first, so
/// no two (namespace, room) pairs share a channel whatever characters they contain; the room's
/// stream id in braces is its hash tag, the same as its stream's keys, so that on a Redis
/// Cluster a room's channel (sharded pub/sub) and keys live on one shard.
pub(super) fn channel(prefix: &str, namespace: &str, room: &str) -> String {
    format!("{prefix}:{{{}}}:room:{}:{namespace}{room}", stream_id(namespace, room), namespace.len())
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
    /// A socket of the sending node the message skips (a stream's message only).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    except: Option<Cow<'a, str>>,
    /// The stream's epoch and the message's offset, written by the append script.
    #[serde(borrow, default, skip_serializing)]
    epoch: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing)]
    offset: Option<u64>,
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
        except: None,
        epoch: None,
        offset: None,
    })
}

/// Encodes an emit to a room's stream as sent by `node`, before the append script positions it.
pub(super) fn encode_streamed(
    node: &str,
    namespace: &str,
    room: &str,
    event: &str,
    payload: &RawValue,
    except: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Envelope {
        node: Cow::Borrowed(node),
        ns: Cow::Borrowed(namespace),
        room: Cow::Borrowed(room),
        event: Some(Cow::Borrowed(event)),
        payload: Some(payload),
        except: except.map(Cow::Borrowed),
        epoch: None,
        offset: None,
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

    /// The stream's position of a positioned message (its stream is the room's).
    pub(super) fn position(&self) -> Option<Position> {
        let e = &self.envelope;
        let (epoch, offset) = (e.epoch.as_ref()?, e.offset?);
        Some(Position { stream: stream_id(&e.ns, &e.room), epoch: epoch.to_string(), offset })
    }

    /// The positioned message, for the sink; `mine`: this node sent it (its `except` holds).
    pub(super) fn streamed<'b>(&'b self, position: &'b Position, mine: bool) -> Option<Streamed<'b>> {
        let e = &self.envelope;
        Some(Streamed {
            namespace: &e.ns,
            room: &e.room,
            event: e.event.as_deref()?,
            payload: e.payload?,
            position,
            except: if mine { e.except.as_deref() } else { None },
        })
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
    fn a_streamed_emit_is_positioned_by_what_the_script_writes_at_its_front() {
        let payload = RawValue::from_string(r#"{"text":"hi"}"#.to_owned()).unwrap();
        let body = encode_streamed("n1", "/chat", r#"["feed","a"]"#, "message", &payload, Some("s1")).unwrap();
        let mut positioned = br#"{"epoch":"e1","offset":7,"#.to_vec();
        positioned.extend_from_slice(&body[1..]); // what the append script publishes
        let received = Received::decode(&positioned).unwrap();
        let position = received.position().unwrap();
        assert_eq!((position.epoch.as_str(), position.offset), ("e1", 7));
        assert_eq!(position.stream, stream_id("/chat", r#"["feed","a"]"#));
        assert_eq!(received.streamed(&position, true).unwrap().except, Some("s1"));
        assert_eq!(received.streamed(&position, false).unwrap().except, None);
        assert!(Received::decode(&body).unwrap().position().is_none(), "not positioned");
    }

    #[test]
    fn channels_are_injective() {
        assert_ne!(channel("p", "/a", r#"["b"]"#), channel("p", "/a[", r#""b"]"#));
        let id = stream_id("/chat", r#"["x"]"#);
        assert_eq!(channel("liverpc", "/chat", r#"["x"]"#), format!(r#"liverpc:{{{id}}}:room:5:/chat["x"]"#));
    }
}
