//! Room streams' vocabulary: how much history a room keeps ([`History`]), and where a message
//! sits in its room's stream ([`Position`]: the stream, its epoch, the offset).
//!
//! A key has a stream when its first part names a room declared with history (as Centrifugo's
//! channel namespaces: `["chat", "general"]` takes room `chat`'s history), so emits from
//! anywhere, before any page joined, are kept too.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// How much of a room's stream is kept: the last `size` messages, each for `ttl`. Declared
/// per room ([`Declarations::history`](crate::Declarations::history),
/// [`ContractSpec::history`](crate::spec::ContractSpec::history)).
///
/// ```
/// use std::time::Duration;
/// use liverpc::History;
///
/// let kept = History::last(100);
/// assert_eq!((kept.size, kept.ttl), (100, Duration::from_secs(600)));
/// let short = History { size: 20, ttl: Duration::from_secs(60) };
/// assert_eq!(short.size, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// Messages kept, at most [`History::MAX_SIZE`].
    pub size: usize,
    /// How long a message is kept.
    pub ttl: Duration,
}

impl History {
    /// The largest `size` a room may declare.
    pub const MAX_SIZE: usize = 10_000;
    /// The `ttl` of [`History::last`]: ten minutes.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

    /// The last `size` messages, for [`History::DEFAULT_TTL`].
    pub fn last(size: usize) -> History {
        History { size, ttl: History::DEFAULT_TTL }
    }
}

/// Where a message sits in its room's stream: what the page's client remembers per room, and
/// hands back when it rejoins so the server replays what it missed.
///
/// ```
/// use liverpc::Position;
///
/// let position: Position = serde_json::from_str(r#"{"stream":"9f1c","epoch":"a1","offset":42}"#).unwrap();
/// assert_eq!(position.offset, 42);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The room's stream (a digest of the contract and the key; not the key).
    pub stream: String,
    /// The stream's life: a new epoch when a stream was lost (a restart, an expiry), so a
    /// position of the lost one is never taken for one of the new.
    pub epoch: String,
    /// 1, 2, 3 … per stream; 0 before the first message.
    pub offset: u64,
}

/// One message of a room's history.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// The event's name.
    pub event: String,
    /// Its payload, as emitted.
    pub payload: Box<RawValue>,
    /// Its position.
    pub position: Position,
}

/// A room's recent messages, oldest first, and the position after the last of them (what a
/// server-rendered page hands to its client: `chat({ since })`).
#[derive(Debug, Clone, Serialize)]
pub struct Recent {
    /// The messages, oldest first.
    pub messages: Vec<Recorded>,
    /// The stream's position when they were read: the last message's, or the stream's own
    /// when it is empty.
    pub position: Position,
}

/// The digest of a room's stream, the same on every node and every build: FNV-1a (64 bits)
/// of the namespace's length, the namespace and the room's encoded key.
pub(crate) fn stream_id(namespace: &str, room: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let len = namespace.len().to_string();
    for byte in len.bytes().chain([b':']).chain(namespace.bytes()).chain(room.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_are_stable_and_differ_by_namespace_and_room() {
        let id = stream_id("/rooms/[roomId]/chat", r#"["chat","general"]"#);
        assert_eq!(id, stream_id("/rooms/[roomId]/chat", r#"["chat","general"]"#));
        assert_eq!(id.len(), 16);
        assert_ne!(id, stream_id("/rooms/[roomId]/chat", r#"["chat","random"]"#));
        assert_ne!(stream_id("/a", r#"["b"]"#), stream_id("/a[", r#""b"]"#));
    }
}
