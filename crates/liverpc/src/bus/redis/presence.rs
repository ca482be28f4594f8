//! Presence on Redis: who is in a room, across nodes, with a bounded life for a dead node's
//! entries.
//!
//! - One hash per room (`liverpc:presence:<len>:<namespace><room>`), a field per listed member,
//!   `<node id>|<socket id>` -> what it shows. Listing and unlisting go through the ordered
//!   publish queue, so a member is listed before its join is published and unlisted before its
//!   leave is.
//! - Each node refreshes `liverpc:node:<node id>` (TTL [`NODE_TTL`]) with its heartbeat. A
//!   snapshot leaves out the fields of nodes whose key has expired, so a dead node's members
//!   vanish from every snapshot within `NODE_TTL`; every [`SWEEP_EVERY`] heartbeats a node
//!   deletes such fields in the rooms it lists members in, and the node whose delete wins
//!   announces the leave to the room, so live pages learn it within `NODE_TTL` + the sweep.
//! - This node remembers what it listed: after an outage (when its lists and unlists may have
//!   been dropped) it writes its own fields again and deletes the stale ones.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use super::conn::{Batch, Conn};
use redis::Value;
use serde_json::value::RawValue;

use crate::bus::{Action, Member, RoomMessage, Sink};
use crate::wire::protocol::{self, PresenceEvent};

/// How long a node's entries outlive its last heartbeat.
pub(super) const NODE_TTL: Duration = Duration::from_secs(10);
/// Dead nodes' entries are swept every this many heartbeats.
pub(super) const SWEEP_EVERY: u32 = 10;

/// The Redis hash of one room's presence.
pub(super) fn hash(prefix: &str, namespace: &str, room: &str) -> String {
    format!("{prefix}:presence:{}:{namespace}{room}", namespace.len())
}

/// The key whose life says that `node` is alive.
pub(super) fn node_key(prefix: &str, node: &str) -> String {
    format!("{prefix}:node:{node}")
}

/// A member's field in a room's hash.
pub(super) fn field(node: &str, member: &str) -> String {
    format!("{node}|{member}")
}

/// One room this node lists members in.
struct Room {
    namespace: String,
    room: String,
    /// The room's name in the contract (what leave events carry).
    name: String,
    /// Field -> what the member shows.
    fields: HashMap<String, Vec<u8>>,
}

/// What this node has listed, by hash.
#[derive(Default)]
pub(super) struct Listed(Mutex<HashMap<String, Room>>);

impl Listed {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn list(&self, hash: &str, at: (&str, &str, &str), field: &str, data: &[u8]) {
        let mut rooms = self.rooms();
        let (namespace, room, name) = at;
        let entry = rooms.entry(hash.to_owned()).or_insert_with(|| Room {
            namespace: namespace.to_owned(),
            room: room.to_owned(),
            name: name.to_owned(),
            fields: HashMap::new(),
        });
        entry.fields.insert(field.to_owned(), data.to_owned());
    }

    pub(super) fn unlist(&self, hash: &str, field: &str) {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.get_mut(hash) {
            room.fields.remove(field);
            if room.fields.is_empty() {
                rooms.remove(hash);
            }
        }
    }

    fn hashes(&self) -> Vec<String> {
        self.rooms().keys().cloned().collect()
    }
}

/// The field/value pairs of an HGETALL answer (a map in RESP3, pairs in RESP2).
pub(super) fn pairs(value: Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    let bytes = |v: Value| match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    };
    match value {
        Value::Map(entries) => entries.into_iter().filter_map(|(k, v)| Some((bytes(k)?, bytes(v)?))).collect(),
        Value::Array(items) => {
            let mut items = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                if let (Some(k), Some(v)) = (bytes(k), bytes(v)) {
                    out.push((k, v));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The nodes among `nodes` whose key has expired. Unknown (Redis did not answer): none.
async fn dead(manager: &mut Conn, prefix: &str, nodes: &HashSet<&str>) -> HashSet<String> {
    let mut batch = Batch::default();
    let nodes: Vec<&str> = nodes.iter().copied().collect();
    for node in &nodes {
        batch.answer(redis::cmd("EXISTS").arg(node_key(prefix, node)).to_owned());
    }
    let answer = tokio::time::timeout(super::COMMAND_TIMEOUT, manager.run(batch)).await;
    match answer {
        Ok(Ok(exists)) => {
            nodes.iter().zip(exists).filter(|(_, e)| matches!(e, Value::Int(0))).map(|(n, _)| (*n).to_owned()).collect()
        }
        _ => HashSet::new(),
    }
}

/// Splits a field into (node, member).
fn split(field: &[u8]) -> Option<(&str, &str)> {
    std::str::from_utf8(field).ok()?.split_once('|')
}

/// A room's members from its hash, without the members of dead nodes (`me` is alive).
pub(super) async fn snapshot(
    manager: Option<Conn>,
    prefix: &str,
    me: &str,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
) -> Vec<Member> {
    let others: HashSet<&str> =
        fields.iter().filter_map(|(f, _)| split(f)).map(|(node, _)| node).filter(|n| *n != me).collect();
    let dead = match manager {
        Some(mut manager) if !others.is_empty() => dead(&mut manager, prefix, &others).await,
        _ => HashSet::new(),
    };
    fields
        .iter()
        .filter_map(|(f, data)| {
            let (node, member) = split(f)?;
            if dead.contains(node) {
                return None;
            }
            let data = RawValue::from_string(String::from_utf8(data.clone()).ok()?).ok()?;
            Some(Member { id: member.to_owned(), data })
        })
        .collect()
}

/// Rewrites this node's fields in every room it lists members in (after an outage, when
/// lists and unlists may have been lost): its stale fields go, its current ones are set.
pub(super) async fn resync(manager: &mut Conn, listed: &Listed, me: &str) {
    for hash in listed.hashes() {
        let Ok(Ok(current)) = tokio::time::timeout(
            super::COMMAND_TIMEOUT,
            redis::cmd("HGETALL").arg(&hash).query_async::<Value>(manager),
        )
        .await
        else {
            return;
        };
        let mine: HashMap<String, Vec<u8>> = listed.rooms().get(&hash).map(|r| r.fields.clone()).unwrap_or_default();
        let mut pipe = redis::pipe();
        for (field, _) in pairs(current) {
            let Some((node, _)) = split(&field) else { continue };
            if node == me && !mine.contains_key(std::str::from_utf8(&field).unwrap_or_default()) {
                pipe.cmd("HDEL").arg(&hash).arg(&field).ignore();
            }
        }
        for (field, data) in &mine {
            pipe.cmd("HSET").arg(&hash).arg(field).arg(data).ignore();
        }
        let _ = tokio::time::timeout(super::COMMAND_TIMEOUT, pipe.exec_async(manager)).await;
    }
}

/// Deletes the fields of dead nodes in the rooms this node lists members in, and announces
/// each leave it won (to this node's members and, by `publish`, to the others).
pub(super) async fn sweep(
    manager: &mut Conn,
    listed: &Listed,
    prefix: &str,
    me: &str,
    sink: &dyn Sink,
    publish: &(dyn Fn(&RoomMessage<'_>) + Sync),
) {
    for hash in listed.hashes() {
        let answer = tokio::time::timeout(
            super::COMMAND_TIMEOUT,
            redis::cmd("HGETALL").arg(&hash).query_async::<Value>(manager),
        )
        .await;
        let Ok(Ok(current)) = answer else { return };
        let fields = pairs(current);
        let others: HashSet<&str> =
            fields.iter().filter_map(|(f, _)| split(f)).map(|(node, _)| node).filter(|n| *n != me).collect();
        if others.is_empty() {
            continue;
        }
        let dead = dead(manager, prefix, &others).await;
        for (field, _) in &fields {
            let Some((node, member)) = split(field) else { continue };
            if !dead.contains(node) {
                continue;
            }
            let delete = redis::cmd("HDEL").arg(&hash).arg(field).to_owned();
            let deleted = delete.query_async::<i64>(manager);
            if !matches!(tokio::time::timeout(super::COMMAND_TIMEOUT, deleted).await, Ok(Ok(1))) {
                continue; // another node won, or Redis did not answer: not announced twice
            }
            let Some((namespace, room, name)) =
                listed.rooms().get(&hash).map(|r| (r.namespace.clone(), r.room.clone(), r.name.clone()))
            else {
                continue;
            };
            let leave = PresenceEvent::Leave { room: &name, leave: member };
            let Ok(payload) = serde_json::value::to_raw_value(&leave) else { continue };
            let message = RoomMessage {
                namespace: &namespace,
                room: &room,
                action: Action::Emit { event: protocol::PRESENCE, payload: &payload },
            };
            sink.deliver(&message);
            publish(&message);
        }
    }
}
