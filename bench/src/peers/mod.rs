//! The servers doing the same job, with the same wire behaviour:
//!
//! - namespace `/rooms/[roomId]/chat`, handshake auth `{"path":"/rooms/<roomId>"}`;
//! - a hook reading the `session` cookie (an unknown user is refused `unauthenticated`, no
//!   cookie is an anonymous user);
//! - the route match `/rooms/<roomId>` (else `not_found`) and the auto-joined private room
//!   keyed by the room id;
//! - `send {text}` (1..=500 characters) broadcasting `message {room, from, text}` to the room,
//!   the sender included, acked `{"ok":true,"data":null}`;
//! - `liverpc:join {room:"project", data:{projectId}}`, authorized against the user's
//!   projects, acked `ok` or exactly `{"ok":false,"error":{"code":"forbidden","message":"forbidden"}}`.
//!
//! [`liverpc_chat`] is that contract on liverpc, [`raw`] the same written by hand on
//! socketioxide, [`floor`] the same with no library (raw frames: the floor); the Node peer (`bench/node/server.js`) is the same on socket.io 4.8.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub mod floor;
pub mod liverpc_chat;
pub mod liverpc_history;
pub mod raw;

/// The Socket.IO namespace of the chat contract.
pub const NAMESPACE: &str = "/rooms/[roomId]/chat";

/// A signed-in user: a name and the projects they may join.
#[derive(Debug)]
pub struct User {
    /// The user's name, the `from` of their messages.
    pub name: String,
    /// The projects whose rooms the user may join.
    pub projects: HashSet<String>,
}

/// The users, by session cookie: `bench` holds projects `p0`..`p63`.
pub fn users() -> Arc<HashMap<String, Arc<User>>> {
    let projects = (0..64).map(|i| format!("p{i}")).collect();
    let bench = Arc::new(User { name: "bench".to_owned(), projects });
    Arc::new(HashMap::from([("bench".to_owned(), bench)]))
}

/// A cookie's value in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The `roomId` of a `/rooms/<roomId>` path.
pub fn room_id(path: &str) -> Option<&str> {
    path.strip_prefix("/rooms/").filter(|id| !id.is_empty() && !id.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(cookie("a=1; session=bench", "session"), Some("bench"));
        assert_eq!(cookie("a=1", "session"), None);
        assert_eq!(room_id("/rooms/r7"), Some("r7"));
        assert_eq!(room_id("/rooms/"), None);
        assert_eq!(room_id("/rooms/a/b"), None);
        assert_eq!(room_id("/other/a"), None);
    }
}
