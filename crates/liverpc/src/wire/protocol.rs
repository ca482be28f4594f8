//! The wire protocol over Socket.IO v5: namespaces, reserved events, payload shapes.
//!
//! - One namespace per contract: the route id followed by the contract name
//!   (`/rooms/[roomId]` + `chat` -> `/rooms/[roomId]/chat`). Names are identifiers, so the last
//!   segment is always the name and the mapping is injective.
//! - Handshake auth: `{ "path": "/rooms/general" }`, the page's URL path.
//! - Page -> server: handler events, `liverpc:join` and `liverpc:leave`, each with an ack
//!   answered `{ ok: true, data }` or `{ ok: false, error: { code, message, issues? } }`.
//! - Server -> page: the contract's events, and `liverpc:room` reporting auto-join outcomes.
//!   An event to a room with history carries its [`Position`] as a second argument
//!   (`["message", payload, { stream, epoch, offset }]`); the handshake auth and a join carry
//!   the page's last positions (`since: [..]`), and the server replays what was missed first.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::wire::error::Rejection;
use crate::wire::handshake::Refuse;
use crate::wire::stream::Position;

/// The page asks to join a room.
pub(crate) const JOIN: &str = "liverpc:join";
/// The page asks to leave a room.
pub(crate) const LEAVE: &str = "liverpc:leave";
/// The server reports a room's status (auto-join outcomes).
pub(crate) const ROOM_STATUS: &str = "liverpc:room";
/// The server reports who is in a room that declares presence (snapshot, joins, leaves).
pub(crate) const PRESENCE: &str = "liverpc:presence";
/// Prefix of every reserved event name.
pub(crate) const RESERVED_PREFIX: &str = "liverpc:";
/// The reserved events by their short name, as `wire.ts` exports them (`EVENTS.join`).
pub(crate) const EVENTS: [(&str, &str); 4] =
    [("join", JOIN), ("leave", LEAVE), ("room", ROOM_STATUS), ("presence", PRESENCE)];

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
    "presence",
    "missed",
    "since",
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

/// The handshake auth sent by the page: its URL path, and the last position it saw of each
/// room stream it knows (read by [`positions`]: a malformed list is no list, never a refusal).
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectAuth {
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) since: Option<Box<RawValue>>,
}

/// The positions a page sent (`since`, most recent last), the last `max` of them; anything
/// that is not a list of positions is none.
pub(crate) fn positions(since: Option<&RawValue>, max: usize) -> Vec<Position> {
    let Some(raw) = since else { return Vec::new() };
    let mut positions: Vec<Position> = serde_json::from_str(raw.get()).unwrap_or_default();
    let over = positions.len().saturating_sub(max);
    positions.drain(..over);
    positions
}

/// Why a handshake was refused; its `Display` is the code the page's `connect_error` carries
/// (and its TypeScript type the list `wire.ts` exports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ts_rs::TS)]
#[ts(rename_all = "snake_case")]
pub(crate) enum Refusal {
    ForbiddenOrigin,
    Unauthenticated,
    Forbidden,
    NotFound,
    Unavailable,
    Internal,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::ForbiddenOrigin => "forbidden_origin",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Forbidden => "forbidden",
            Refusal::NotFound => "not_found",
            Refusal::Unavailable => "unavailable",
            Refusal::Internal => "internal",
        })
    }
}

impl From<Refuse> for Refusal {
    fn from(refuse: Refuse) -> Refusal {
        match refuse {
            Refuse::Unauthenticated => Refusal::Unauthenticated,
            Refuse::Forbidden => Refusal::Forbidden,
            Refuse::Unavailable => Refusal::Unavailable,
            Refuse::Internal => Refusal::Internal,
        }
    }
}

/// `liverpc:join` / `liverpc:leave` payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoomRequest {
    pub(crate) room: String,
    #[serde(default)]
    pub(crate) data: Option<Box<RawValue>>,
    /// A join's last positions of room streams (see [`positions`]); ignored by a leave.
    #[serde(default)]
    pub(crate) since: Option<Box<RawValue>>,
}

/// Parses a `liverpc:join` / `liverpc:leave` payload.
pub(crate) fn room_request(raw: Option<&str>) -> Result<RoomRequest, Rejection> {
    let raw = raw.ok_or_else(|| Rejection::invalid("", "expected { room, data? }"))?;
    serde_json::from_str(raw).map_err(|_| Rejection::invalid("", "expected { room, data? }"))
}

/// A join payload as a 128-bit digest of its canonical form (sorted keys, no whitespace), so
/// a leave matches its join whatever the key order, and a socket holds 16 bytes per join
/// instead of the payload. Not collision-resistant against a chosen pair, and need not be:
/// a collision could only make a page's own leave match another of its own joins.
pub(crate) fn digest(data: Option<&str>) -> u128 {
    let value =
        data.and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok()).unwrap_or(serde_json::Value::Null);
    let half = |salt: u8| {
        // Fixed keys: a join and its leave, hashed apart, must agree.
        let mut hasher = std::hash::DefaultHasher::new();
        salt.hash(&mut hasher);
        canonical(&value, &mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Feeds `value`'s canonical form to `hasher` (tagged, sorted keys), walking the parsed value
/// rather than printing it: a join is digested twice (its payload, then each half), and the
/// printed form was most of a join's cost.
fn canonical(value: &serde_json::Value, hasher: &mut impl Hasher) {
    use serde_json::Value;
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(b) => hasher.write_u8(if *b { 1 } else { 2 }),
        Value::Number(n) => {
            hasher.write_u8(3);
            // The same number reads back the same way: the kind, then its bits.
            match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => (0u8, u).hash(hasher),
                (None, Some(i), _) => (1u8, i).hash(hasher),
                (None, None, f) => (2u8, f.map_or(0, f64::to_bits)).hash(hasher),
            }
        }
        Value::String(text) => {
            hasher.write_u8(4);
            text.hash(hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(5);
            hasher.write_usize(items.len());
            items.iter().for_each(|item| canonical(item, hasher));
        }
        Value::Object(map) => {
            hasher.write_u8(6);
            hasher.write_usize(map.len());
            let mut sorted: Vec<_> = Vec::new();
            // Sorted already (serde_json's map), unless an app turned on `preserve_order`.
            let entries: &mut dyn Iterator<Item = _> = if map.keys().is_sorted() {
                &mut map.iter()
            } else {
                sorted.extend(map.iter());
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                &mut sorted.into_iter()
            };
            for (key, item) in entries {
                key.hash(hasher);
                canonical(item, hasher);
            }
        }
    }
}

/// A name for a message: at most 64 characters, without control characters (bidi overrides
/// and other format characters included), so an echoed name can neither flood nor mislead.
pub(crate) fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control() && !is_format(*c)).take(64).collect()
}

/// Unicode format characters (category Cf) that can reorder or hide text.
fn is_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// `liverpc:room` payload.
#[derive(Debug, Serialize)]
pub(crate) struct RoomStatus<'a> {
    pub(crate) room: &'a str,
    pub(crate) status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<&'a Rejection>,
    /// A room with history: where the page is in its stream once joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) position: Option<&'a Position>,
    /// A room with history rejoined with a position: whether what was missed was replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) recovered: Option<bool>,
}

/// The answer to a join of a room with history (`data` of its ack).
#[derive(Debug, Serialize)]
pub(crate) struct Joined<'a> {
    pub(crate) position: &'a Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) recovered: Option<bool>,
}

/// One member of a room with presence: its socket id and what it shows others.
#[derive(Debug, Serialize)]
pub(crate) struct PresenceMember<'a> {
    pub(crate) id: &'a str,
    pub(crate) data: &'a RawValue,
}

/// `liverpc:presence` payload: the members when this socket joined (`self` is its own id), or
/// one member joining or leaving.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum PresenceEvent<'a> {
    Snapshot {
        room: &'a str,
        #[serde(rename = "self")]
        me: &'a str,
        members: Vec<PresenceMember<'a>>,
    },
    Join {
        room: &'a str,
        join: PresenceMember<'a>,
    },
    Leave {
        room: &'a str,
        leave: &'a str,
    },
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
    fn digests_ignore_key_order_and_whitespace() {
        assert_eq!(digest(Some(r#"{"a":1,"b":2}"#)), digest(Some(r#"{ "b": 2, "a": 1 }"#)));
        assert_ne!(digest(Some(r#"{"a":1}"#)), digest(Some(r#"{"a":2}"#)));
        assert_eq!(digest(None), digest(Some("null")));
        assert_eq!(digest(Some(r#"{"a":[1,{"y":"x","x":true}]}"#)), digest(Some(r#"{"a":[1,{"x":true,"y":"x"}]}"#)));
        // Neither kinds nor nesting run into one another.
        let distinct = [
            "null",
            "true",
            "false",
            "1",
            "-1",
            "1.0",
            "1.5",
            r#""1""#,
            "[]",
            "{}",
            "[1]",
            "[[1]]",
            r#"["a","b"]"#,
            r#"["ab"]"#,
            r#"{"a":"b"}"#,
            r#"{"ab":""}"#,
            r#"[{}]"#,
            r#"[null]"#,
        ];
        let digests: std::collections::HashSet<u128> = distinct.iter().map(|d| digest(Some(d))).collect();
        assert_eq!(digests.len(), distinct.len());
    }

    #[test]
    fn positions_are_read_leniently_and_bounded() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        let list = raw(r#"[{"stream":"a","epoch":"e","offset":1},{"stream":"b","epoch":"e","offset":2}]"#);
        let read = positions(Some(&list), 1);
        assert_eq!(read.iter().map(|p| p.stream.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(positions(Some(&list), 8).len(), 2);
        assert!(positions(Some(&raw(r#"{"stream":"a"}"#)), 8).is_empty());
        assert!(positions(Some(&raw(r#"[{"stream":"a","epoch":"e","offset":-1}]"#)), 8).is_empty());
        assert!(positions(None, 8).is_empty());
    }

    #[test]
    fn printable_names_are_bounded_and_plain() {
        assert_eq!(printable(&"x".repeat(60_000)).len(), 64);
        assert_eq!(printable("ab\u{202E}cd\n\u{0007}"), "abcd");
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
