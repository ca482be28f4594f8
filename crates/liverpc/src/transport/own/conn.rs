//! One Engine.IO connection over a websocket: its reader (packets in, heartbeats, the connect
//! deadline, namespace connects), its writer (one task draining a bounded queue, writes
//! coalesced), and its sockets, one per connected namespace.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, SplitSink};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::rooms::Rooms;
use super::{engineio, random_id, socketio};
use crate::future::BoxFuture;
use crate::handshake::Handshake;
use crate::protocol::Refusal;
use crate::transport::{Acceptor, Ack, Inbound, Link, LinkId};

/// A served namespace: who decides its connects, and its local rooms.
pub(super) struct Namespace {
    pub(super) name: Box<str>,
    pub(super) acceptor: Arc<dyn Acceptor>,
    pub(super) rooms: Rooms,
}

/// What every connection of a transport applies.
#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) ping_interval: Duration,
    pub(super) ping_timeout: Duration,
    pub(super) connect_timeout: Duration,
    /// Packets queued for one connection before it is dropped as a slow reader.
    pub(super) max_packets: usize,
    /// Bytes queued for one connection before it is dropped as a slow reader.
    pub(super) max_bytes: usize,
    /// The largest frame taken from a page (announced as `maxPayload`).
    pub(super) max_frame: usize,
}

/// Finds the served namespaces (the transport's table).
pub(super) trait Namespaces: Send + Sync + 'static {
    fn get(&self, name: &str) -> Option<Arc<Namespace>>;
}

/// The state a connection's reader, writer and sockets share.
pub(super) struct Conn {
    outbox: Outbox,
    /// Wakes the reader when the connection must end (a slow reader, a failed write).
    stop: Notify,
    /// The sockets by namespace, connected or being decided.
    sockets: Mutex<HashMap<Box<str>, Arc<Socket>>>,
}

impl Conn {
    /// Queues a frame; a connection that cannot keep up is dropped at once.
    pub(super) fn push(&self, frame: Utf8Bytes) -> bool {
        match self.outbox.push(frame) {
            Pushed::Queued => true,
            Pushed::Closed => false,
            Pushed::Overflow => {
                tracing::warn!("send buffer full: disconnecting a slow reader");
                self.stop.notify_one();
                false
            }
        }
    }

    fn sockets(&self) -> MutexGuard<'_, HashMap<Box<str>, Arc<Socket>>> {
        lock(&self.sockets)
    }
}

/// One page's socket on one namespace of a connection.
pub(super) struct Socket {
    /// Unique in the process: the room index's key.
    pub(super) key: u64,
    /// Itself, for the room index (which holds members by `Arc`).
    me: Weak<Socket>,
    id: Box<str>,
    namespace: Arc<Namespace>,
    conn: Arc<Conn>,
    state: Mutex<SocketState>,
}

struct SocketState {
    /// The rooms it is in; `None` once it is closed (then it joins nothing).
    rooms: Option<Vec<Box<str>>>,
    /// Set when its connect is accepted.
    inbound: Option<Arc<dyn Inbound>>,
}

impl Socket {
    /// Queues an already encoded frame for this socket's connection.
    pub(super) fn push(&self, frame: Utf8Bytes) -> bool {
        self.conn.push(frame)
    }

    pub(super) fn is(&self, id: Option<&LinkId>) -> bool {
        id.is_some_and(|id| *id.0 == *self.id)
    }

    /// Leaves every room and forgets its inbound, which the caller tells (outside any lock).
    fn close(&self) -> Option<Arc<dyn Inbound>> {
        let (rooms, inbound) = {
            let mut state = lock(&self.state);
            (state.rooms.take(), state.inbound.take())
        };
        for room in rooms.into_iter().flatten() {
            self.namespace.rooms.remove(&room, self.key);
        }
        inbound
    }

    /// The server disconnects this socket: the page is told, its connection stays.
    pub(super) fn disconnect(self: &Arc<Socket>) {
        {
            let mut sockets = self.conn.sockets();
            if sockets.get(&*self.namespace.name).is_some_and(|s| Arc::ptr_eq(s, self)) {
                sockets.remove(&*self.namespace.name);
            }
        }
        self.conn.push(socketio::disconnect_frame(&self.namespace.name).into());
        if let Some(inbound) = self.close() {
            inbound.closed();
        }
    }
}

impl Link for Socket {
    fn id(&self) -> LinkId {
        LinkId(self.id.clone())
    }

    fn join(&self, room: &str) {
        // Under the socket's lock: a socket being closed cannot slip back into a room.
        let mut state = lock(&self.state);
        let Some(rooms) = state.rooms.as_mut() else { return };
        if rooms.iter().any(|r| &**r == room) {
            return;
        }
        rooms.push(room.into());
        if let Some(me) = self.me.upgrade() {
            self.namespace.rooms.insert(room, &me);
        }
    }

    fn leave(&self, room: &str) {
        let mut state = lock(&self.state);
        let Some(rooms) = state.rooms.as_mut() else { return };
        if let Some(i) = rooms.iter().position(|r| &**r == room) {
            rooms.swap_remove(i);
            self.namespace.rooms.remove(room, self.key);
        }
    }

    fn send(&self, event: &str, payload: &RawValue) {
        self.push(socketio::event_frame(&self.namespace.name, event, payload).into());
    }
}

/// A packet from the page, whatever carried it (a websocket frame, a polling POST).
pub(super) enum Incoming {
    Text(Utf8Bytes),
    Binary,
    Closed(&'static str),
}

impl Conn {
    pub(super) fn new(config: &Config) -> Arc<Conn> {
        Arc::new(Conn {
            outbox: Outbox::new(config.max_packets, config.max_bytes),
            stop: Notify::new(),
            sockets: Mutex::default(),
        })
    }

    /// Queues the Engine.IO open packet (the first thing the page reads); `upgrades` are the
    /// transports the session may move to.
    pub(super) fn open(&self, sid: &str, upgrades: &[&str], config: &Config) {
        self.push(engineio::open(sid, upgrades, config.ping_interval, config.ping_timeout, config.max_frame).into());
    }

    /// Everything queued; when nothing is, waits until something is or the connection ends
    /// (`None`). One caller at a time: a websocket's writer or a polling session's GET.
    pub(super) async fn next_batch(&self) -> Option<VecDeque<Utf8Bytes>> {
        loop {
            match self.outbox.take() {
                Take::Frames(batch) => return Some(batch),
                Take::Empty => self.outbox.wake.notified().await,
                Take::Closed | Take::Aborted => return None,
            }
        }
    }

    /// Ends the connection from outside its reader (a misbehaving polling client).
    pub(super) fn stop(&self) {
        self.outbox.abort();
        self.stop.notify_one();
    }
}

/// Serves one upgraded websocket until it closes.
pub(super) async fn run<S>(
    ws: WebSocketStream<S>,
    namespaces: Arc<dyn Namespaces>,
    config: Config,
    handshake: Handshake,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    let conn = Conn::new(&config);
    let sid = random_id();
    conn.open(&sid, &[], &config);
    tokio::spawn(write(sink, conn.clone()));
    let incoming = stream.filter_map(|frame| std::future::ready(incoming(frame)));
    serve(conn, incoming, namespaces, config, handshake, &sid).await;
}

/// A websocket frame as a packet (`None`: nothing to the reader).
pub(super) fn incoming(frame: Result<Message, tokio_tungstenite::tungstenite::Error>) -> Option<Incoming> {
    match frame {
        Ok(Message::Text(text)) => Some(Incoming::Text(text)),
        Ok(Message::Binary(_)) => Some(Incoming::Binary),
        Ok(Message::Close(_)) => Some(Incoming::Closed("the page closed the connection")),
        // Websocket pings are answered by tungstenite; its pongs and raw frames say nothing.
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => None,
        Err(_) => Some(Incoming::Closed("a websocket error (or a frame over the size limit)")),
    }
}

/// Reads a connection's packets until it ends: heartbeats, the connect deadline, namespace
/// connects, events. Then closes every socket of it.
pub(super) async fn serve(
    conn: Arc<Conn>,
    incoming: impl futures_util::Stream<Item = Incoming>,
    namespaces: Arc<dyn Namespaces>,
    config: Config,
    handshake: Handshake,
    sid: &str,
) {
    let mut stream = std::pin::pin!(incoming);
    let mut reader = Reader { conn: conn.clone(), namespaces, handshake, opening: None, connected: false };
    let started = Instant::now();
    let connect_deadline = started + config.connect_timeout;
    let mut next_ping = started + config.ping_interval;
    let mut pong_deadline: Option<Instant> = None;
    let why = loop {
        let mut timer = pong_deadline.map_or(next_ping, |pong| pong.min(next_ping));
        if !reader.connected {
            timer = timer.min(connect_deadline);
        }
        tokio::select! {
            biased;
            () = conn.stop.notified() => break "the connection was stopped",
            Some((socket, opened)) = async { reader.opening.as_mut()?.next().await }, if reader.opening.is_some() => {
                reader.opened(socket, opened);
                // Connects are rare after the first: their queue is not kept at rest.
                if reader.opening.as_ref().is_some_and(FuturesUnordered::is_empty) {
                    reader.opening = None;
                }
            }
            frame = stream.next() => match frame {
                Some(Incoming::Text(text)) => match reader.frame(&text) {
                    Ok(Heard::Pong) => pong_deadline = None,
                    Ok(Heard::Other) => {}
                    Err(why) => break why,
                },
                Some(Incoming::Binary) => break "a binary frame (liverpc payloads are JSON)",
                Some(Incoming::Closed(why)) => break why,
                None => break "the page closed the connection",
            },
            () = sleep_until(timer) => {
                let now = Instant::now();
                if !reader.connected && now >= connect_deadline {
                    break "no namespace connected within the connect timeout";
                }
                if pong_deadline.is_some_and(|pong| now >= pong) {
                    break "no pong within the ping timeout";
                }
                if now >= next_ping {
                    next_ping = now + config.ping_interval;
                    if pong_deadline.is_none() {
                        conn.push(engineio::PING.into());
                        pong_deadline = Some(now + config.ping_timeout);
                    }
                }
            }
        }
    };
    tracing::debug!(sid = %sid, "connection closed: {why}");
    // Pending connects are dropped (cancelled) here; their sockets are closed below.
    drop(reader);
    conn.outbox.close();
    let sockets: Vec<Arc<Socket>> = conn.sockets().drain().map(|(_, s)| s).collect();
    for socket in sockets {
        if let Some(inbound) = socket.close() {
            inbound.closed();
        }
    }
}

/// What a text frame was, for the heartbeat.
enum Heard {
    Pong,
    Other,
}

type Opening = BoxFuture<'static, (Arc<Socket>, Result<Arc<dyn Inbound>, Refusal>)>;

/// The reading side of a connection.
struct Reader {
    conn: Arc<Conn>,
    namespaces: Arc<dyn Namespaces>,
    handshake: Handshake,
    /// Connects being decided, concurrently (one page opens several contracts at once); `None`
    /// while there is none.
    opening: Option<FuturesUnordered<Opening>>,
    /// Whether a namespace was ever connected (the connect deadline is then lifted).
    connected: bool,
}

impl Reader {
    /// Handles one Engine.IO packet; `Err` closes the connection with its reason (never the
    /// input: it is the page's).
    fn frame(&mut self, text: &str) -> Result<Heard, &'static str> {
        match engineio::decode(text) {
            Ok(engineio::Packet::Pong) => Ok(Heard::Pong),
            Ok(engineio::Packet::Message(message)) => self.message(message).map(|()| Heard::Other),
            Ok(engineio::Packet::Ping(_) | engineio::Packet::Noop) => Ok(Heard::Other),
            Ok(engineio::Packet::Close) => Err("the page closed the Engine.IO session"),
            Ok(engineio::Packet::Upgrade) => Err("an upgrade packet on a websocket session"),
            Err(_) => Err("a malformed Engine.IO packet"),
        }
    }

    fn message(&mut self, message: &str) -> Result<(), &'static str> {
        match socketio::decode(message) {
            Ok(socketio::Packet::Connect { namespace, auth }) => {
                self.connect(namespace, auth);
                Ok(())
            }
            Ok(socketio::Packet::Event { namespace, id, event, data }) => {
                let socket = self.conn.sockets().get(namespace).cloned();
                let inbound = socket.as_ref().and_then(|s| lock(&s.state).inbound.clone());
                // Events of a namespace not (yet) connected are ignored, as socket.io does.
                if let (Some(socket), Some(inbound)) = (socket, inbound) {
                    inbound.event(event, data, ack(socket, id));
                }
                Ok(())
            }
            Ok(socketio::Packet::Disconnect { namespace }) => {
                let socket = self.conn.sockets().remove(namespace);
                if let Some(inbound) = socket.and_then(|s| s.close()) {
                    inbound.closed();
                }
                Ok(())
            }
            // liverpc never asks the page for an ack; an id too large for any ack we could
            // have sent is ignored likewise.
            Ok(socketio::Packet::Ack) | Err(socketio::PacketError::AckId) => Ok(()),
            Err(_) => Err("a malformed Socket.IO packet"),
        }
    }

    fn connect(&mut self, name: &str, auth: Option<Box<RawValue>>) {
        let Some(namespace) = self.namespaces.get(name) else {
            self.conn.push(socketio::connect_error_frame(name, "Invalid namespace").into());
            return;
        };
        let socket = {
            let mut sockets = self.conn.sockets();
            // A second CONNECT on a namespace is ignored: the first socket's locals stay.
            if sockets.contains_key(name) {
                return;
            }
            let socket = Arc::new_cyclic(|me| Socket {
                key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
                me: me.clone(),
                id: random_id(),
                namespace: namespace.clone(),
                conn: self.conn.clone(),
                state: Mutex::new(SocketState { rooms: Some(Vec::new()), inbound: None }),
            });
            sockets.insert(name.into(), socket.clone());
            socket
        };
        let link: Arc<dyn Link> = socket.clone();
        let decided = std::panic::AssertUnwindSafe(namespace.acceptor.open(link, self.handshake.clone(), auth));
        self.opening.get_or_insert_with(FuturesUnordered::new).push(Box::pin(decided.catch_unwind().map(
            move |result| {
                let result = result.unwrap_or_else(|_| {
                    tracing::error!("a connect panicked; refused `internal`");
                    Err(Refusal::Internal)
                });
                (socket, result)
            },
        )));
    }

    /// A connect was decided.
    fn opened(&mut self, socket: Arc<Socket>, result: Result<Arc<dyn Inbound>, Refusal>) {
        let name = &*socket.namespace.name;
        match result {
            Ok(inbound) => {
                {
                    let mut state = lock(&socket.state);
                    if state.rooms.is_none() {
                        // The page left while its connect was decided.
                        drop(state);
                        inbound.closed();
                        return;
                    }
                    state.inbound = Some(inbound.clone());
                }
                self.connected = true;
                socket.push(socketio::connect_frame(name, &socket.id).into());
                inbound.connected();
            }
            Err(refusal) => {
                {
                    let mut sockets = self.conn.sockets();
                    if sockets.get(name).is_some_and(|s| Arc::ptr_eq(s, &socket)) {
                        sockets.remove(name);
                    }
                }
                drop(socket.close());
                socket.push(socketio::connect_error_frame(name, &refusal.to_string()).into());
            }
        }
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

/// Where an event's answer goes.
fn ack(socket: Arc<Socket>, id: Option<u64>) -> Ack {
    match id {
        None => Ack::new(|_| {}),
        Some(id) => Ack::new(move |answer| {
            // A socket the page or the server closed answers nothing more.
            if lock(&socket.state).rooms.is_some() {
                socket.push(socketio::ack_frame(&socket.namespace.name, id, answer).into());
            }
        }),
    }
}

/// The writer: drains the queue, feeding every queued frame before one flush, so frames that
/// queued up while a write was under way leave in one syscall.
pub(super) async fn write<S>(mut sink: SplitSink<WebSocketStream<S>, Message>, conn: Arc<Conn>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    loop {
        let batch = match conn.outbox.take() {
            Take::Frames(batch) => batch,
            Take::Empty => {
                conn.outbox.wake.notified().await;
                continue;
            }
            Take::Closed => {
                // Best effort: a page that does not read gets no close frame.
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                break;
            }
            Take::Aborted => break,
        };
        let written = async {
            for frame in batch {
                sink.feed(Message::Text(frame)).await?;
            }
            sink.flush().await
        };
        tokio::pin!(written);
        // A slow reader is dropped while its write is stuck, not after.
        let result = loop {
            tokio::select! {
                result = &mut written => break Some(result),
                () = conn.outbox.wake.notified() => if conn.outbox.aborted() { break None },
            }
        };
        match result {
            Some(Ok(())) => {}
            Some(Err(_)) | None => break,
        }
    }
    conn.outbox.abort();
    conn.stop.notify_one();
}

/// A connection's send queue, bounded in packets and bytes.
struct Outbox {
    queue: Mutex<Queue>,
    wake: Notify,
    max_packets: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Utf8Bytes>,
    bytes: usize,
    flow: Flow,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Flow {
    #[default]
    Open,
    /// Send what is queued, then close.
    Closing,
    /// Drop everything: the connection is gone or too slow.
    Aborted,
}

enum Pushed {
    Queued,
    Closed,
    Overflow,
}

enum Take {
    Frames(VecDeque<Utf8Bytes>),
    Empty,
    Closed,
    Aborted,
}

impl Outbox {
    fn new(max_packets: usize, max_bytes: usize) -> Outbox {
        Outbox { queue: Mutex::default(), wake: Notify::new(), max_packets: max_packets.max(1), max_bytes }
    }

    fn push(&self, frame: Utf8Bytes) -> Pushed {
        let mut queue = lock(&self.queue);
        if queue.flow != Flow::Open {
            return Pushed::Closed;
        }
        let len = frame.len();
        // One frame always fits an empty queue: a big answer is not a slow reader.
        let full = !queue.frames.is_empty()
            && (queue.frames.len() >= self.max_packets || queue.bytes.saturating_add(len) > self.max_bytes);
        if full {
            queue.flow = Flow::Aborted;
            queue.frames = VecDeque::new();
            queue.bytes = 0;
            drop(queue);
            self.wake.notify_one();
            return Pushed::Overflow;
        }
        let was_empty = queue.frames.is_empty();
        queue.frames.push_back(frame);
        queue.bytes += len;
        drop(queue);
        if was_empty {
            self.wake.notify_one();
        }
        Pushed::Queued
    }

    /// Everything queued, taken at once (the queue's memory goes with it).
    fn take(&self) -> Take {
        let mut queue = lock(&self.queue);
        match queue.flow {
            Flow::Aborted => Take::Aborted,
            _ if !queue.frames.is_empty() => {
                queue.bytes = 0;
                Take::Frames(std::mem::take(&mut queue.frames))
            }
            Flow::Closing => Take::Closed,
            Flow::Open => Take::Empty,
        }
    }

    fn close(&self) {
        let mut queue = lock(&self.queue);
        if queue.flow == Flow::Open {
            queue.flow = Flow::Closing;
        }
        drop(queue);
        self.wake.notify_one();
    }

    fn abort(&self) {
        let mut queue = lock(&self.queue);
        queue.flow = Flow::Aborted;
        queue.frames = VecDeque::new();
        drop(queue);
        self.wake.notify_one();
    }

    fn aborted(&self) -> bool {
        lock(&self.queue).flow == Flow::Aborted
    }
}

/// Locks a mutex; a panic elsewhere does not poison a connection's bookkeeping.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(len))
    }

    #[test]
    fn the_queue_is_bounded_in_packets_and_the_overflow_drops_everything() {
        let outbox = Outbox::new(3, 1 << 20);
        assert!((0..3).all(|_| matches!(outbox.push(frame(10)), Pushed::Queued)));
        assert!(matches!(outbox.push(frame(10)), Pushed::Overflow), "the fourth packet does not fit");
        assert!(matches!(outbox.take(), Take::Aborted), "nothing queued is sent after an overflow");
        assert!(matches!(outbox.push(frame(1)), Pushed::Closed));
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_but_one_frame_always_fits() {
        let outbox = Outbox::new(100, 100);
        assert!(matches!(outbox.push(frame(500)), Pushed::Queued), "a big frame into an empty queue");
        match outbox.take() {
            Take::Frames(batch) => assert_eq!(batch.len(), 1),
            _ => panic!("the frame is taken"),
        }
        assert!(matches!(outbox.push(frame(60)), Pushed::Queued));
        assert!(matches!(outbox.push(frame(60)), Pushed::Overflow), "120 bytes over a 100-byte bound");
    }

    #[test]
    fn a_closed_queue_hands_out_what_it_holds_then_ends() {
        let outbox = Outbox::new(10, 1000);
        assert!(matches!(outbox.push(frame(1)), Pushed::Queued));
        assert!(matches!(outbox.push(frame(2)), Pushed::Queued));
        outbox.close();
        assert!(matches!(outbox.push(frame(3)), Pushed::Closed), "nothing joins a closing queue");
        match outbox.take() {
            Take::Frames(batch) => assert_eq!(batch.iter().map(|f| f.len()).collect::<Vec<_>>(), [1, 2]),
            _ => panic!("the queued frames are taken"),
        }
        assert!(matches!(outbox.take(), Take::Closed));
    }
}
