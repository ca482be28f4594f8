//! Room streams in memory (one node: the embedded default): per room a bounded ring of its
//! last messages with their offsets, and the stream's epoch.
//!
//! Every operation on a room runs under its shard's lock and hands the caller's closure what
//! it needs while the lock is held: an append gives its position to the fan-out, a join its
//! replay to the joining socket. So positions are delivered in offset order, and a joining
//! socket gets each message once: in its replay (appended before) or live (appended after).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::wire::stream::{History, Position, Recent, Recorded, stream_id};

/// Independent locks: rooms of different shards never wait for each other.
const SHARDS: usize = 16;
/// A stream with nothing kept is dropped once it has been untouched for its `ttl` and this.
const GRACE: Duration = Duration::from_secs(3600);
/// One shard is swept every this many appends.
const SWEEP_EVERY: usize = 4096;

/// The streams of every room with history, on this node.
pub(crate) struct MemoryStreams {
    shards: [Mutex<HashMap<Box<str>, Stream>>; SHARDS],
    /// Which shard the next sweep cleans, and when.
    appends: AtomicUsize,
}

/// One room's stream.
struct Stream {
    id: Box<str>,
    epoch: Box<str>,
    /// The last offset given.
    top: u64,
    kept: VecDeque<Stored>,
    history: History,
    /// The last append or join.
    touched: Instant,
}

/// One kept message.
pub(crate) struct Stored {
    pub(crate) offset: u64,
    pub(crate) event: Box<str>,
    pub(crate) payload: Box<RawValue>,
    at: Instant,
}

/// What a joining socket gets, under the room's lock.
pub(crate) struct Replay<'a> {
    /// The messages it missed, oldest first (empty unless `recovered` is `Some(true)`).
    pub(crate) messages: Vec<&'a Stored>,
    /// Where the stream is now: the page's position once the replay is delivered.
    pub(crate) position: Position,
    /// `None`: the page sent no position of this stream (a fresh join); `Some(false)`: it did,
    /// and what it missed is no longer kept (trimmed, expired, or another epoch).
    pub(crate) recovered: Option<bool>,
}

impl Default for MemoryStreams {
    fn default() -> MemoryStreams {
        MemoryStreams { shards: std::array::from_fn(|_| Mutex::default()), appends: AtomicUsize::new(0) }
    }
}

impl MemoryStreams {
    /// Appends a message to `room`'s stream and runs `deliver` with its position, under the
    /// room's lock (so deliveries are in offset order).
    pub(crate) fn append<R>(
        &self,
        namespace: &str,
        room: &str,
        history: History,
        event: &str,
        payload: &RawValue,
        deliver: impl FnOnce(&Position) -> R,
    ) -> R {
        let appends = self.appends.fetch_add(1, Ordering::Relaxed);
        if appends % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep((appends / SWEEP_EVERY) % SHARDS);
        }
        let now = Instant::now();
        let mut shard = self.shard(namespace, room);
        let stream = entry(&mut shard, namespace, room, history, now);
        stream.top += 1;
        stream.kept.push_back(Stored { offset: stream.top, event: event.into(), payload: payload.to_owned(), at: now });
        stream.trim(now);
        deliver(&stream.position(stream.top))
    }

    /// Runs `join` with what a socket joining `room` missed since the position of `since`
    /// that belongs to this room's stream, under the room's lock: `join` queues the replay
    /// and adds the socket to the room before any later message is delivered.
    pub(crate) fn join<R>(
        &self,
        namespace: &str,
        room: &str,
        history: History,
        since: Option<&Position>,
        join: impl FnOnce(Replay<'_>) -> R,
    ) -> R {
        let now = Instant::now();
        let mut shard = self.shard(namespace, room);
        let stream = entry(&mut shard, namespace, room, history, now);
        stream.trim(now);
        let position = stream.position(stream.top);
        let Some(since) = since.filter(|s| *s.stream == *stream.id) else {
            return join(Replay { messages: Vec::new(), position, recovered: None });
        };
        let first = stream.kept.front().map_or(stream.top + 1, |m| m.offset);
        let recovered = *since.epoch == *stream.epoch && since.offset <= stream.top && first <= since.offset + 1;
        let messages =
            if recovered { stream.kept.iter().filter(|m| m.offset > since.offset).collect() } else { Vec::new() };
        join(Replay { messages, position, recovered: Some(recovered) })
    }

    /// The last `limit` messages of `room` and the stream's position after them.
    pub(crate) fn recent(&self, namespace: &str, room: &str, history: History, limit: usize) -> Recent {
        let now = Instant::now();
        let mut shard = self.shard(namespace, room);
        let stream = entry(&mut shard, namespace, room, history, now);
        stream.trim(now);
        let skip = stream.kept.len().saturating_sub(limit);
        let messages = stream
            .kept
            .iter()
            .skip(skip)
            .map(|m| Recorded {
                event: m.event.to_string(),
                payload: m.payload.clone(),
                position: stream.position(m.offset),
            })
            .collect();
        Recent { messages, position: stream.position(stream.top) }
    }

    fn shard(&self, namespace: &str, room: &str) -> MutexGuard<'_, HashMap<Box<str>, Stream>> {
        let mut hasher = std::hash::DefaultHasher::new();
        (namespace, room).hash(&mut hasher);
        let i = (hasher.finish() % SHARDS as u64) as usize;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the streams of shard `i` that keep nothing and have been quiet for long.
    fn sweep(&self, i: usize) {
        let now = Instant::now();
        let mut shard = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        shard.retain(|_, stream| {
            stream.trim(now);
            !stream.kept.is_empty() || now.duration_since(stream.touched) < stream.history.ttl + GRACE
        });
    }

    /// Forgets every stream (tests: a node restarted).
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

/// `room`'s stream, made with a new epoch if there is none.
fn entry<'a>(
    shard: &'a mut HashMap<Box<str>, Stream>,
    namespace: &str,
    room: &str,
    history: History,
    now: Instant,
) -> &'a mut Stream {
    let key = format!("{}:{namespace}{room}", namespace.len());
    let stream = shard.entry(key.into_boxed_str()).or_insert_with(|| Stream {
        id: stream_id(namespace, room).into_boxed_str(),
        epoch: epoch().into_boxed_str(),
        top: 0,
        kept: VecDeque::new(),
        history,
        touched: now,
    });
    stream.history = history;
    stream.touched = now;
    stream
}

impl Stream {
    /// Drops what is over the size or older than the ttl.
    fn trim(&mut self, now: Instant) {
        while self.kept.len() > self.history.size {
            self.kept.pop_front();
        }
        while self.kept.front().is_some_and(|m| now.duration_since(m.at) > self.history.ttl) {
            self.kept.pop_front();
        }
    }

    fn position(&self, offset: u64) -> Position {
        Position { stream: self.id.to_string(), epoch: self.epoch.to_string(), offset }
    }
}

/// A new epoch: 64 random bits (random keys hashing the time and a counter).
fn epoch() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let seed = (std::time::SystemTime::now(), COUNTER.fetch_add(1, Ordering::Relaxed), std::process::id());
    format!("{:016x}", std::hash::RandomState::new().hash_one(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u64) -> Box<RawValue> {
        RawValue::from_string(n.to_string()).unwrap()
    }

    fn fill(streams: &MemoryStreams, history: History, n: u64) -> Position {
        let mut last = None;
        for i in 1..=n {
            last = Some(streams.append("/c", "r", history, "m", &payload(i), Position::clone));
        }
        last.unwrap()
    }

    fn replay(streams: &MemoryStreams, history: History, since: &Position) -> (Vec<u64>, Option<bool>, u64) {
        streams.join("/c", "r", history, Some(since), |r| {
            (r.messages.iter().map(|m| m.offset).collect(), r.recovered, r.position.offset)
        })
    }

    #[test]
    fn offsets_grow_by_one_and_a_join_replays_exactly_what_was_missed() {
        let streams = MemoryStreams::default();
        let history = History::last(10);
        let at3 = fill(&streams, history, 3);
        assert_eq!(at3.offset, 3);
        fill(&streams, history, 4);
        assert_eq!(replay(&streams, history, &at3), (vec![4, 5, 6, 7], Some(true), 7));
        let now = Position { offset: 7, ..at3.clone() };
        assert_eq!(replay(&streams, history, &now), (vec![], Some(true), 7));
        // A position of another room is no position of this one: a fresh join.
        let other = Position { stream: "elsewhere".into(), ..at3 };
        assert_eq!(replay(&streams, history, &other), (vec![], None, 7));
    }

    #[test]
    fn past_the_window_the_join_is_told_it_cannot_be_recovered() {
        let streams = MemoryStreams::default();
        let history = History::last(5);
        let at1 = fill(&streams, history, 1);
        fill(&streams, history, 5); // offsets 2..=6: 2..=6 kept, exactly what at1 missed
        assert_eq!(replay(&streams, history, &at1).1, Some(true));
        fill(&streams, history, 1); // 7: offset 2 is trimmed
        assert_eq!(replay(&streams, history, &at1), (vec![], Some(false), 7));
        let ahead = Position { offset: 8, ..at1.clone() };
        assert_eq!(replay(&streams, history, &ahead).1, Some(false));
        let recent = streams.recent("/c", "r", history, 2);
        let offsets: Vec<u64> = recent.messages.iter().map(|m| m.position.offset).collect();
        assert_eq!((offsets, recent.position.offset), (vec![6, 7], 7));
    }

    #[test]
    fn expired_messages_and_a_lost_stream_are_not_recovered() {
        let streams = MemoryStreams::default();
        let history = History { size: 10, ttl: Duration::ZERO };
        let at1 = fill(&streams, history, 1);
        fill(&streams, history, 1);
        std::thread::sleep(Duration::from_millis(2)); // lets the zero ttl pass
        assert_eq!(replay(&streams, history, &at1).1, Some(false));

        let history = History::last(10);
        let at1 = fill(&streams, history, 1);
        streams.clear();
        let (_, recovered, top) = replay(&streams, history, &at1);
        assert_eq!((recovered, top), (Some(false), 0), "a new epoch");
        let fresh = streams.join("/c", "r", history, None, |r| r.position);
        assert_ne!(fresh.epoch, at1.epoch);
        assert_eq!(fresh.stream, at1.stream);
    }
}
