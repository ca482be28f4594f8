//! Room streams in Redis: every node of the app agrees on a room's positions.
//!
//! - **Keys**: per room an epoch (a random value), the last offset given, and a Redis stream of
//!   the kept messages (entry id `<offset>-0`, fields `e` event, `p` payload, `t` the time in
//!   ms by Redis's clock). Each key is `liverpc:{<stream id>}:<what>:<len>:<namespace><room>`:
//!   the room's name makes it injective (the digest alone could collide), and the digest in
//!   braces is its hash tag, so a room's keys live on one Redis Cluster shard.
//! - **Append** ([`APPEND`]): one script per message, sent in order on the bus's queue, so a
//!   node's emits keep their order (Rule 7 (docs/security.md#rule-7)). Atomically it takes the
//!   epoch (a new one, and an empty stream, when the keys are gone: a Redis restarted empty or
//!   a room quiet past its ttl), increments the offset, adds the message trimmed to the
//!   room's `size`, sets the keys' expiry, and publishes the envelope with its position on the
//!   room's channel. Redis runs one script at a time: a channel carries its room's messages in
//!   offset order, to every subscribed node, the emitting one included (its members get them
//!   from Redis like every other node's).
//! - **Join** ([`READ`]): the joining socket is registered on this node's room first; the
//!   script then reads the epoch, the last offset and the messages after the page's offset,
//!   on the connection that receives the channel, so every message published before the read
//!   arrived before its answer. Under the room's lock, the socket gets the read messages, then
//!   those that arrived meanwhile past them (deduplicated by offset), then joins the room:
//!   each message once, the replay before anything live.
//! - **Redis down** (Rule 6 (docs/security.md#rule-6)): an append that Redis does not take
//!   is delivered to this node's members at once without a position, and kept nowhere (the
//!   other nodes' members miss it); a join whose read fails answers `recovered: false` (with
//!   the page's own position) when the page sent one, so the page refetches; history reads
//!   fail with `HistoryError::Unavailable`. When Redis answers again, the node ends the epoch
//!   of every room it could not append to ([`Unkept`]): a page that rejoins with a position
//!   from before is told `recovered: false`, never handed a stream with a hole in it.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::Value;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::conn::{Batch, Conn};
use super::{Common, Outgoing, PREFIX, envelope};
use crate::bus::stream::epoch;
use crate::bus::{Appended, Arrival, Joined, Joiner, Local, ReadError, Replay, Stored, StreamAt, Streams};
use crate::future::BoxFuture;
use crate::wire::stream::{Position, Recent, Recorded, stream_id};

/// Independent locks: rooms of different shards never wait for each other.
const SHARDS: usize = 16;
/// The epoch and the offset outlive the room's last message by this (as the memory streams
/// keep an empty stream), so a page that saw everything recovers after a quiet hour.
const GRACE: Duration = Duration::from_secs(3600);
/// Rooms remembered as unkept during one outage, at most (then the oldest are kept, the rest
/// logged once: their pages recover what Redis has, without the outage's messages).
const UNKEPT: usize = 100_000;
/// Rooms whose last position a shard remembers, at most.
const LAST: usize = 4096;

/// Appends one message. KEYS: epoch, offset, stream. ARGV: a new epoch, size, ttl (ms), the
/// epoch's and offset's expiry (ms), the channel, the envelope, the event, the payload, the
/// command that publishes (`PUBLISH`, `SPUBLISH` on a cluster). Returns the offset.
const APPEND: &str = r#"
local epoch = redis.call('GET', KEYS[1])
if not epoch or redis.call('EXISTS', KEYS[2]) == 0 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[2], 0)
  redis.call('DEL', KEYS[3])
end
local offset = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[2], offset .. '-0', 'e', ARGV[7], 'p', ARGV[8], 't', ms)
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[9], ARGV[5], '{"epoch":"' .. epoch .. '","offset":' .. offset .. ',' .. string.sub(ARGV[6], 2))
return offset
"#;

/// Reads a stream. KEYS: epoch, offset, stream. ARGV: a new epoch (taken when there is none,
/// as an append would), the epoch's expiry (ms), ttl (ms), `after` (the messages after this
/// offset, oldest first; `-1`: the last ones, newest first), how many at most.
/// Returns the epoch, the last offset, then offset, event, payload of each unexpired message.
const READ: &str = r#"
local epoch = redis.call('GET', KEYS[1])
local top = redis.call('GET', KEYS[2])
if not epoch or not top then
  epoch = ARGV[1]
  top = '0'
  redis.call('SET', KEYS[1], epoch, 'PX', ARGV[2])
  redis.call('SET', KEYS[2], 0, 'PX', ARGV[2])
  redis.call('DEL', KEYS[3])
end
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
local after = tonumber(ARGV[4])
local entries
if after >= 0 then
  entries = redis.call('XRANGE', KEYS[3], (after + 1) .. '-0', '+', 'COUNT', ARGV[5])
else
  entries = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[5])
end
local out = { epoch, top }
for _, entry in ipairs(entries) do
  local f = entry[2]
  if tonumber(f[6]) >= oldest then
    out[#out + 1] = string.match(entry[1], '^%d+')
    out[#out + 1] = f[2]
    out[#out + 1] = f[4]
  end
end
return out
"#;

/// One of the stream scripts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Script {
    Append,
    Read,
}

impl Script {
    const ALL: [Script; 2] = [Script::Append, Script::Read];

    fn text(self) -> &'static str {
        match self {
            Script::Append => APPEND,
            Script::Read => READ,
        }
    }
}

/// A call of a script: its keys and arguments, sent as `EVALSHA` once Redis has the script.
pub(super) struct Call {
    script: Script,
    args: Vec<Vec<u8>>,
}

impl Call {
    fn new(script: Script, keys: [String; 3]) -> Call {
        let mut args = vec![b"3".to_vec()];
        args.extend(keys.map(String::into_bytes));
        Call { script, args }
    }

    fn args<T: AsRef<[u8]>>(mut self, args: impl IntoIterator<Item = T>) -> Call {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_vec()));
        self
    }

    /// The call's command, with the scripts' digests from [`load`] and the command that
    /// publishes on a room's channel (`PUBLISH`, or `SPUBLISH` on a cluster).
    pub(super) fn cmd(&self, loaded: &Loaded, publish: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&loaded.0[self.script as usize]);
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        if let Script::Append = self.script {
            cmd.arg(publish);
        }
        cmd
    }
}

/// The scripts' SHA1 digests, as Redis answered `SCRIPT LOAD`.
#[derive(Debug, Clone)]
pub(super) struct Loaded([String; 2]);

/// Loads the scripts (once per connection to a Redis: a restarted one has none, and a call
/// then fails with `NOSCRIPT` like any command, which loads them again after the outage).
pub(super) async fn load(conn: &mut Conn) -> Result<Loaded, redis::RedisError> {
    // One command each (on a cluster, SCRIPT LOAD goes to every primary).
    let mut loaded = Vec::with_capacity(Script::ALL.len());
    for script in Script::ALL {
        loaded.push(redis::cmd("SCRIPT").arg("LOAD").arg(script.text()).query_async::<String>(conn).await?);
    }
    let [append, read]: [String; 2] = loaded.try_into().unwrap_or_default();
    Ok(Loaded([append, read]))
}

/// The streams of rooms with history, in Redis; the bus's queue carries their commands.
pub(crate) struct RedisStreams {
    /// This node's id: the origin of what it appends.
    node: String,
    queue: mpsc::Sender<Outgoing>,
    common: Arc<Common>,
    joining: Joining,
}

impl RedisStreams {
    pub(super) fn new(node: String, queue: mpsc::Sender<Outgoing>, common: Arc<Common>) -> RedisStreams {
        RedisStreams { node, queue, common, joining: Joining::default() }
    }

    /// Runs the read script for `at` after the bus's earlier commands; `None` when Redis did
    /// not answer.
    fn read(&self, at: StreamAt<'_>, after: Option<u64>, limit: usize) -> BoxFuture<'static, Option<Read>> {
        let [epoch_key, offset_key, stream_key] = keys(at.namespace, at.room);
        let keep = (at.history.ttl + GRACE).as_millis() as u64;
        let after = after.map_or(-1, |a| a as i128);
        let ttl = at.history.ttl.as_millis() as u64;
        let call = Call::new(Script::Read, [epoch_key, offset_key, stream_key]).args([
            epoch(),
            keep.to_string(),
            ttl.to_string(),
            after.to_string(),
            limit.to_string(),
        ]);
        let (reply, answer) = oneshot::channel();
        // A full queue drops the reply: read as Redis not answering.
        let _ = self.queue.try_send(Outgoing::Read { call, reply });
        Box::pin(async move { answer.await.ok().and_then(|value| Read::parse(&value)) })
    }
}

impl Streams for RedisStreams {
    fn append(&self, at: StreamAt<'_>, event: &str, payload: &RawValue, local: &dyn Local) -> Appended {
        let body = match envelope::encode_streamed(&self.node, at.namespace, at.room, event, payload, local.except()) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a room message for Redis; delivered on this node only");
                local.unpositioned()();
                return Appended::Shared;
            }
        };
        let [epoch_key, offset_key, stream_key] = keys(at.namespace, at.room);
        let keep = (at.history.ttl + GRACE).as_millis() as u64;
        let (common, deliver) = (self.common.clone(), local.unpositioned());
        let unkept = epoch_key.clone();
        let unpositioned: Box<dyn FnOnce() + Send> = Box::new(move || {
            common.unkept.add(unkept);
            deliver();
        });
        let ttl = at.history.ttl.as_millis().max(1) as u64;
        let call = Call::new(Script::Append, [epoch_key, offset_key, stream_key])
            .args([epoch(), at.history.size.to_string(), ttl.to_string(), keep.to_string()])
            .args([envelope::channel(PREFIX, at.namespace, at.room).into_bytes(), body])
            .args([event, payload.get()]);
        // Counted before it is queued: the publishing task may be done with it at once.
        self.common.appending.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::TrySendError::Full(Outgoing::Append { unpositioned, .. })) =
            self.queue.try_send(Outgoing::Append { call, unpositioned })
        {
            self.common.appending.fetch_sub(1, Ordering::AcqRel);
            // Redis is slower than this node emits: this node's members still get it.
            unpositioned();
        }
        Appended::Shared
    }

    fn appending(&self) -> bool {
        self.common.appending.load(Ordering::Acquire) > 0
    }

    fn after_appends(&self, deliver: Box<dyn FnOnce() + Send>) {
        if let Err(mpsc::error::TrySendError::Full(Outgoing::Local(deliver))) =
            self.queue.try_send(Outgoing::Local(deliver))
        {
            // The queue is full: delivered now rather than lost (the order may then break).
            deliver();
        }
    }

    fn arrived(&self, at: StreamAt<'_>, message: Arrival<'_>, deliver: &dyn Fn(Option<&Position>) -> usize) {
        let mut shard = self.joining.shard(at.namespace, at.room);
        let Some(position) = message.position else {
            deliver(None);
            return;
        };
        let key = room_key(at.namespace, at.room);
        if let Some(joining) = shard.joining.get_mut(&key) {
            for (_, arrived) in joining.iter_mut() {
                arrived.push((position.clone(), message.event.into(), message.payload.to_owned()));
            }
        }
        match shard.seen(key, position) {
            Seen::Next => {}
            Seen::Again => return,
            Seen::AfterGap => (message.missed)(&Position { offset: position.offset - 1, ..position.clone() }),
        }
        // Under the lock: a socket finishing its join is in the room before or after this.
        deliver(Some(position));
    }

    fn join(&self, at: StreamAt<'_>, since: Option<&Position>, join: Joiner) -> BoxFuture<'static, Joined> {
        let key = room_key(at.namespace, at.room);
        let id = self.joining.register(at.namespace, at.room, &key);
        // Unregisters the socket if the join is dropped before it ends (the socket closed).
        let mut registered = Registered {
            joining: Some(self.joining.clone()),
            namespace: at.namespace.to_owned(),
            room: at.room.to_owned(),
            key,
            id,
        };
        let read = self.read(at, since.map(|s| s.offset), at.history.size);
        let stream = stream_id(at.namespace, at.room);
        let since = since.cloned();
        Box::pin(async move {
            let read = read.await;
            let joining = registered.joining.take()?;
            let (key, id) = (std::mem::take(&mut registered.key), registered.id);
            let mut shard = joining.shard(&registered.namespace, &registered.room);
            let arrived = Joining::unregister(&mut shard.joining, &key, id);
            let (position, recovered, mut messages) = match read {
                Some(read) => {
                    let recovered = since.as_ref().map(|s| {
                        s.epoch == read.epoch
                            && s.offset <= read.top
                            && (s.offset == read.top || read.messages.first().is_some_and(|m| m.offset == s.offset + 1))
                    });
                    let messages = if recovered == Some(true) { read.messages } else { Vec::new() };
                    (Position { stream, epoch: read.epoch, offset: read.top }, recovered, messages)
                }
                // Redis did not answer: the page is told what it missed cannot be known.
                None => {
                    let position = since.clone().unwrap_or(Position { stream, epoch: String::new(), offset: 0 });
                    (position, since.as_ref().map(|_| false), Vec::new())
                }
            };
            // What arrived live during the read, past what it read: deduplicated by offset.
            // (Another epoch's, when Redis restarted during the read, is not sent: the page
            // learns of the new epoch from the next message, and of the gap on its next rejoin.)
            let mut last = position.offset;
            for (at, event, payload) in arrived {
                if at.epoch == position.epoch && at.offset > last {
                    last = at.offset;
                    messages.push(Stored::new(at.offset, event, payload));
                }
            }
            let position = Position { offset: last, ..position };
            if !position.epoch.is_empty() {
                shard.last.insert(key, (position.epoch.clone(), position.offset));
            }
            let replay = Replay { messages: messages.iter().collect(), position, recovered };
            join(&replay).then(|| (replay.position.clone(), replay.recovered))
        })
    }

    fn recent(&self, at: StreamAt<'_>, limit: usize) -> BoxFuture<'static, Result<Recent, ReadError>> {
        let read = self.read(at, None, limit);
        let stream = stream_id(at.namespace, at.room);
        Box::pin(async move {
            let read = read.await.ok_or(ReadError::Unavailable)?;
            let position = |offset| Position { stream: stream.clone(), epoch: read.epoch.clone(), offset };
            let messages = read
                .messages
                .iter()
                .rev()
                .map(|m| Recorded {
                    event: m.event.to_string(),
                    payload: m.payload.clone(),
                    position: position(m.offset),
                })
                .collect();
            Ok(Recent { messages, position: position(read.top) })
        })
    }
}

/// A stream as the read script answered: its epoch, its last offset, the messages read.
struct Read {
    epoch: String,
    top: u64,
    messages: Vec<Stored>,
}

impl Read {
    fn parse(value: &Value) -> Option<Read> {
        let Value::Array(items) = value else { return None };
        let text = |v: &Value| match v {
            Value::BulkString(b) => std::str::from_utf8(b).ok().map(str::to_owned),
            Value::SimpleString(s) => Some(s.clone()),
            Value::Int(n) => Some(n.to_string()),
            _ => None,
        };
        let (epoch, top) = (text(items.first()?)?, text(items.get(1)?)?.parse().ok()?);
        let mut messages = Vec::with_capacity(items.len().saturating_sub(2) / 3);
        for entry in items[2..].chunks_exact(3) {
            let offset = text(&entry[0])?.parse().ok()?;
            let event = text(&entry[1])?.into_boxed_str();
            let payload = RawValue::from_string(text(&entry[2])?).ok()?;
            messages.push(Stored::new(offset, event, payload));
        }
        Some(Read { epoch, top, messages })
    }
}

/// Per room on this node: the sockets joining it now with what arrived for each meanwhile,
/// and the last position this node received.
#[derive(Clone, Default)]
struct Joining(Arc<JoiningInner>);

#[derive(Default)]
struct JoiningInner {
    shards: [Mutex<Shard>; SHARDS],
    next: AtomicU64,
}

#[derive(Default)]
struct Shard {
    joining: Rooms,
    /// The last epoch and offset received per room. Forgotten all at once past [`LAST`]:
    /// a room without an entry detects no gap on its next message, nothing worse.
    last: HashMap<String, (String, u64)>,
}

/// How a message's position follows the room's last one on this node.
enum Seen {
    /// The next offset (or the first this node knows of).
    Next,
    /// Received already: not delivered twice.
    Again,
    /// Messages before it never reached this node (a lost subscription, a new epoch).
    AfterGap,
}

impl Shard {
    fn seen(&mut self, key: String, position: &Position) -> Seen {
        let Some(last) = self.last.get_mut(&key) else {
            if self.last.len() >= LAST {
                self.last.clear();
            }
            self.last.insert(key, (position.epoch.clone(), position.offset));
            return Seen::Next;
        };
        let seen = if last.0 != position.epoch {
            Seen::AfterGap
        } else if position.offset <= last.1 {
            return Seen::Again;
        } else if position.offset > last.1 + 1 {
            Seen::AfterGap
        } else {
            Seen::Next
        };
        *last = (position.epoch.clone(), position.offset);
        seen
    }
}

/// A live message that reached a joining socket's room: its position, event and payload.
type Arrived = (Position, Box<str>, Box<RawValue>);
/// The joining sockets of a shard's rooms, by room: each one's id and what arrived for it.
type Rooms = HashMap<String, Vec<(u64, Vec<Arrived>)>>;

impl Joining {
    fn shard(&self, namespace: &str, room: &str) -> MutexGuard<'_, Shard> {
        let mut hasher = std::hash::DefaultHasher::new();
        (namespace, room).hash(&mut hasher);
        let i = (hasher.finish() % SHARDS as u64) as usize;
        self.0.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more socket joining the room `key`; its id.
    fn register(&self, namespace: &str, room: &str, key: &str) -> u64 {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        self.shard(namespace, room).joining.entry(key.to_owned()).or_default().push((id, Vec::new()));
        id
    }

    /// The socket `id` is done joining; what arrived for it.
    fn unregister(shard: &mut Rooms, key: &str, id: u64) -> Vec<Arrived> {
        let Some(joining) = shard.get_mut(key) else { return Vec::new() };
        let arrived = joining.iter().position(|(i, _)| *i == id).map(|i| joining.swap_remove(i).1);
        if joining.is_empty() {
            shard.remove(key);
        }
        arrived.unwrap_or_default()
    }
}

/// The epoch keys of the rooms whose appends Redis did not take, until it is back.
#[derive(Default)]
pub(super) struct Unkept(Mutex<HashSet<String>>);

impl Unkept {
    fn add(&self, epoch_key: String) {
        let mut unkept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if unkept.len() < UNKEPT {
            unkept.insert(epoch_key);
        } else if unkept.len() == UNKEPT && !unkept.contains(&epoch_key) {
            tracing::warn!(
                max = UNKEPT,
                "too many rooms with history missed Redis in this outage; the others keep their epoch"
            );
            unkept.insert(String::new()); // logged once: the set is past its bound
        }
    }
}

/// Redis answers again: ends the epoch of every room this node could not append to (the
/// next append or join starts a new one). Kept for the next time if Redis fails again.
pub(super) async fn end_unkept(conn: &mut Conn, unkept: &Unkept) {
    let keys = std::mem::take(&mut *unkept.0.lock().unwrap_or_else(|p| p.into_inner()));
    let keys: Vec<String> = keys.into_iter().filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        return;
    }
    // One DEL per key: a room's keys share a slot, two rooms' need not.
    let mut batch = Batch::default();
    for key in &keys {
        batch.ignore(redis::cmd("DEL").arg(key).to_owned());
    }
    let ended = tokio::time::timeout(super::COMMAND_TIMEOUT, conn.run(batch)).await;
    if !matches!(ended, Ok(Ok(_))) {
        let mut unkept = unkept.0.lock().unwrap_or_else(|p| p.into_inner());
        unkept.extend(keys);
    }
}

/// A socket registered as joining a room, until its join ends or is dropped.
struct Registered {
    /// `None` once the join ended (and unregistered it under the room's lock).
    joining: Option<Joining>,
    namespace: String,
    room: String,
    key: String,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(joining) = self.joining.take() {
            let mut shard = joining.shard(&self.namespace, &self.room);
            Joining::unregister(&mut shard.joining, &self.key, self.id);
        }
    }
}

/// A room's name among this node's joining rooms.
fn room_key(namespace: &str, room: &str) -> String {
    format!("{}:{namespace}{room}", namespace.len())
}

/// The epoch, offset and stream keys of a room, hash-tagged by its stream id.
fn keys(namespace: &str, room: &str) -> [String; 3] {
    let id = stream_id(namespace, room);
    let name = format!("{}:{namespace}{room}", namespace.len());
    ["epoch", "offset", "stream"].map(|what| format!("{PREFIX}:{{{id}}}:{what}:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rooms_keys_share_one_hash_tag_and_differ_by_room() {
        let [epoch, offset, stream] = keys("/chat", r#"["feed","a"]"#);
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!((tag(&epoch), tag(&offset)), (tag(&stream), tag(&stream)));
        assert!(stream.ends_with(r#":stream:5:/chat["feed","a"]"#), "{stream}");
        assert_ne!(keys("/a", r#"["b"]"#), keys("/a[", r#""b"]"#));
    }

    #[test]
    fn a_join_dropped_before_its_read_ends_leaves_nothing_behind() {
        let bus = super::super::RedisBus::new("redis://127.0.0.1:1").unwrap();
        let streams = RedisStreams::new("n1".into(), bus.queue.clone(), bus.common.clone());
        let at = StreamAt { namespace: "/c", room: r#"["feed","a"]"#, history: crate::History::last(5) };
        let join = streams.join(at, None, Box::new(|_| true));
        assert_eq!(streams.joining.shard(at.namespace, at.room).joining.len(), 1, "registered while it reads");
        // The socket closed: its join is dropped, and live messages are no longer kept for it.
        drop(join);
        assert!(streams.joining.shard(at.namespace, at.room).joining.is_empty());
    }

    #[test]
    fn a_read_answer_is_parsed_and_anything_else_is_not() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let answer = Value::Array(vec![bulk("e1"), bulk("9"), bulk("8"), bulk("message"), bulk(r#"{"n":8}"#)]);
        let read = Read::parse(&answer).unwrap();
        assert_eq!((read.epoch.as_str(), read.top, read.messages.len()), ("e1", 9, 1));
        assert_eq!((read.messages[0].offset, read.messages[0].payload.get()), (8, r#"{"n":8}"#));
        assert!(Read::parse(&Value::Array(vec![bulk("e1")])).is_none());
        assert!(Read::parse(&Value::Array(vec![bulk("e1"), bulk("1"), bulk("x"), bulk("m"), bulk("{}")])).is_none());
    }
}
