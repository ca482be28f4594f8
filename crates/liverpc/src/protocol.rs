//! The wire protocol over Socket.IO v5: namespaces, reserved events, payload shapes.
//!
//! - One namespace per contract: the route id followed by the contract name
//!   (`/rooms/[roomId]` + `chat` -> `/rooms/[roomId]/chat`). Names are identifiers, so the last
//!   segment is always the name and the mapping is injective.
//! - Handshake auth: `{ "path": "/rooms/general" }`, the page's URL path.
//! - Page -> server: handler events, `liverpc:join` and `liverpc:leave`, each with an ack
//!   answered `{ ok: true, data }` or `{ ok: false, error: { code, message, issues? } }`.
//! - Server -> page: the contract's events, and `liverpc:room` reporting auto-join outcomes.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::Rejection;

/// The page asks to join a room.
pub(crate) const JOIN: &str = "liverpc:join";
/// The page asks to leave a room.
pub(crate) const LEAVE: &str = "liverpc:leave";
/// The server reports a room's status (auto-join outcomes).
pub(crate) const ROOM_STATUS: &str = "liverpc:room";
/// Prefix of every reserved event name.
pub(crate) const RESERVED_PREFIX: &str = "liverpc:";

/// Names that Socket.IO's client or the generated client already use.
pub(crate) const RESERVED_NAMES: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    "error",
    "ping",
    "pong",
    "on",
    "off",
    "join",
    "leave",
    "close",
    "navigate",
    "state",
    "subscribe",
    "then",
    "constructor",
    "prototype",
    "__proto__",
];

/// The namespace of a contract.
pub(crate) fn namespace(route: &str, name: &str) -> String {
    format!("{}/{}", route.trim_end_matches('/'), name)
}

/// The handshake auth sent by the page.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectAuth {
    pub(crate) path: String,
}

/// `liverpc:join` / `liverpc:leave` payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoomRequest {
    pub(crate) room: String,
    #[serde(default)]
    pub(crate) data: Option<Box<RawValue>>,
}

/// `liverpc:room` payload.
#[derive(Debug, Serialize)]
pub(crate) struct RoomStatus<'a> {
    pub(crate) room: &'a str,
    pub(crate) status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<&'a Rejection>,
}

/// The ack envelope.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Answer<'a> {
    Ok { ok: True, data: &'a RawValue },
    Err { ok: False, error: &'a Rejection },
}

/// `true`, serialized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct True;
/// `false`, serialized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct False;

impl Serialize for True {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl Serialize for False {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(false)
    }
}

impl<'a> Answer<'a> {
    pub(crate) fn from_result(result: &'a Result<Box<RawValue>, Rejection>) -> Answer<'a> {
        match result {
            Ok(data) => Answer::Ok { ok: True, data },
            Err(error) => Answer::Err { ok: False, error },
        }
    }
}

/// JSON `null`, the data of an answer with nothing to say.
pub(crate) fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_injective() {
        assert_eq!(namespace("/rooms/[roomId]", "chat"), "/rooms/[roomId]/chat");
        assert_eq!(namespace("/", "chat"), "/chat");
        assert_ne!(namespace("/", "chat"), namespace("/chat", "x"));
    }

    #[test]
    fn answers() {
        let ok: Result<Box<RawValue>, Rejection> = Ok(null());
        assert_eq!(serde_json::to_string(&Answer::from_result(&ok)).unwrap(), r#"{"ok":true,"data":null}"#);
        let err: Result<Box<RawValue>, Rejection> = Err(Rejection::join_denied());
        assert_eq!(
            serde_json::to_string(&Answer::from_result(&err)).unwrap(),
            r#"{"ok":false,"error":{"code":"forbidden","message":"forbidden"}}"#
        );
    }
}
