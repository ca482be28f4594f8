//! One Engine.IO session, whatever carries it (a websocket, or long-polling requests): its send
//! queue, its sockets (one per connected namespace), and its reader: packets in, heartbeats,
//! the connect deadline, namespace connects.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName, header};
use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::heartbeat::{Beat, Clock, Due, Ticks};
use super::keys::{self, ByKey};
use super::outbox::{Flow, Outbox, Pushed};
use super::partials::{Holder, Partials};
use super::rooms::Rooms;
use super::{eio, sio};
use crate::future::BoxFuture;
use crate::transport::{Acceptor, Ack, Inbound, Link, LinkId};
use crate::wire::handshake::{self, Handshake};
use crate::wire::id::Id;
use crate::wire::limits::{Bucket, RateLimiter};
use crate::wire::protocol::Refusal;

/// A served namespace: who decides its connects, and its local rooms.
pub(super) struct Namespace {
    pub(super) name: Box<str>,
    pub(super) acceptor: Arc<dyn Acceptor>,
    pub(super) rooms: Rooms<SocketLink>,
}

/// What every connection of a transport applies.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) ping_interval: Duration,
    pub(super) ping_timeout: Duration,
    pub(super) connect_timeout: Duration,
    /// Packets queued for one connection before it is dropped as a slow reader.
    pub(super) max_packets: usize,
    /// Bytes queued for one connection before it is dropped as a slow reader.
    pub(super) max_bytes: usize,
    /// The largest message taken from a page (announced as `maxPayload`).
    pub(super) max_frame: usize,
    /// The budget of bytes held for unfinished websocket messages, across connections.
    pub(super) partials: Arc<Partials>,
    /// Connects of one connection being decided at once, and started per second (in bursts
    /// of twice that).
    pub(super) max_connecting: usize,
    pub(super) connects_per_second: u32,
    /// Each socket's call rate (`calls_per_second`, `burst`): kept per namespace for the
    /// connection's lifetime, so leaving and connecting again does not refill it.
    pub(super) calls_per_second: u32,
    pub(super) burst: u32,
}

/// Finds the served namespaces (the transport's table), and the open sessions.
pub(super) trait Namespaces: Send + Sync + 'static {
    fn get(&self, name: &str) -> Option<Arc<Namespace>>;
    fn live(&self) -> &Arc<Live>;
}

/// The transport's open sessions, so that a shutdown can drain them and then close the rest.
#[derive(Default)]
pub(super) struct Live {
    draining: AtomicBool,
    open: Mutex<ByKey<Weak<Connection>>>,
    /// Told when the last open session ends.
    emptied: Notify,
    /// The heartbeat's clock, set when its task starts (with the first session).
    clock: OnceLock<Clock>,
}

impl Live {
    /// The heartbeat's clock; the first call starts the heartbeat, for as long as this lives.
    fn clock(self: &Arc<Live>, config: &Arc<Config>) -> Clock {
        *self.clock.get_or_init(|| {
            let clock = Clock::start();
            drop(tokio::spawn(heartbeat(Arc::downgrade(self), config.clone(), clock)));
            clock
        })
    }

    /// Records a new session; one that opens during a drain is drained at once.
    fn enter(self: &Arc<Live>, conn: &Arc<Connection>) -> Entered {
        let id = keys::next();
        lock(&self.open).insert(id, Arc::downgrade(conn));
        if self.draining() {
            conn.drain();
        }
        Entered { live: self.clone(), id }
    }

    pub(super) fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// From now on no namespace connect is decided, and each session is closed once the events
    /// it handed over are answered.
    pub(super) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        for conn in self.sessions() {
            conn.drain();
        }
    }

    /// Closes every open session now (what is queued is still written).
    pub(super) fn close_all(&self) {
        for conn in self.sessions() {
            conn.outbox.close();
        }
    }

    /// Resolves once no session is open.
    pub(super) async fn closed(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if lock(&self.open).is_empty() {
                return;
            }
            emptied.await;
        }
    }

    fn sessions(&self) -> Vec<Arc<Connection>> {
        lock(&self.open).values().filter_map(Weak::upgrade).collect()
    }
}

/// Pings every session of `live` each ping interval, and wakes those that expired (no pong, or
/// no namespace connect in time), which then end themselves. Ends with `live`.
async fn heartbeat(live: Weak<Live>, config: Arc<Config>, clock: Clock) {
    let mut ticks = Ticks::new(clock, config.ping_interval, config.ping_timeout, config.connect_timeout);
    loop {
        let (now, ping) = ticks.next().await;
        let Some(live) = live.upgrade() else { return };
        for conn in live.sessions() {
            match conn.beat.tick(now, ping, config.ping_timeout) {
                Due::Ping => drop(conn.push(Bytes::from_static(eio::PING.as_bytes()))),
                Due::Expire => conn.outbox.wake(),
                Due::Nothing => {}
            }
        }
    }
}

/// A session's place in [`Live`], given back when the session ends (however its task ends).
struct Entered {
    live: Arc<Live>,
    id: u64,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut open = lock(&self.live.open);
        open.remove(&self.id);
        if open.is_empty() {
            drop(open);
            self.live.emptied.notify_waiters();
        }
    }
}

/// The state a session's task and its sockets share.
pub(super) struct Connection {
    pub(super) outbox: Outbox,
    /// The connected sockets and those being decided; a page opens a few namespaces at most.
    sockets: Mutex<Vec<Arc<SocketLink>>>,
    /// Events handed to the engine whose ack is not sent (or dropped) yet.
    unanswered: AtomicUsize,
    /// Set by a drain: the session closes once nothing is unanswered.
    draining: AtomicBool,
    /// Its heartbeat: pings answered, a namespace connected in time.
    beat: Beat,
}

impl Connection {
    /// A session that must connect a namespace by `connect_due` (see [`Clock::after`]).
    pub(super) fn new(config: &Config, connect_due: u64) -> Arc<Connection> {
        Arc::new(Connection {
            outbox: Outbox::new(config.max_packets, config.max_bytes),
            sockets: Mutex::default(),
            unanswered: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            beat: Beat::new(connect_due),
        })
    }

    /// Closes the session once every event it handed over is answered: at once when none is
    /// pending. The close is the transport's (the page's client reconnects with backoff).
    fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        if self.unanswered.load(Ordering::SeqCst) == 0 {
            self.outbox.close();
        }
    }

    /// Queues a frame; a connection that cannot keep up is dropped at once.
    pub(super) fn push(&self, frame: Bytes) -> bool {
        match self.outbox.push(frame) {
            Pushed::Queued => true,
            Pushed::Closed => false,
            Pushed::Overflow => {
                tracing::warn!("send buffer full: disconnecting a slow reader");
                false
            }
        }
    }

    /// Ends the session from outside its task (a misbehaving polling client).
    pub(super) fn stop(&self) {
        self.outbox.abort();
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<Arc<SocketLink>>> {
        lock(&self.sockets)
    }

    fn socket(&self, namespace: &str) -> Option<Arc<SocketLink>> {
        self.sockets().iter().find(|s| &*s.namespace.name == namespace).cloned()
    }

    /// Forgets `socket` (if it is still this connection's socket on its namespace).
    fn forget(&self, socket: &Arc<SocketLink>) {
        self.sockets().retain(|s| !Arc::ptr_eq(s, socket));
    }
}

/// The handshake, kept for the connection's lifetime (each namespace CONNECT is decided with
/// it) in one allocation, shared with each [`Handshake`] made of it.
pub(super) struct Head {
    headers: Arc<str>,
    remote: Option<SocketAddr>,
}

impl Head {
    /// The page's request headers, less the websocket handshake's own (`Connection`,
    /// `Upgrade`, `Sec-WebSocket-Key`, `-Version`, `-Extensions`): they say how this
    /// transport was set up, which a polling connect does not have either, and would be the
    /// larger part of what every connection keeps.
    pub(super) fn new(headers: &HeaderMap, remote: Option<SocketAddr>) -> Head {
        const HANDSHAKES_OWN: [HeaderName; 5] = [
            header::CONNECTION,
            header::UPGRADE,
            header::SEC_WEBSOCKET_KEY,
            header::SEC_WEBSOCKET_VERSION,
            header::SEC_WEBSOCKET_EXTENSIONS,
        ];
        Head { headers: handshake::pack_kept(headers, |name| !HANDSHAKES_OWN.contains(name)), remote }
    }

    /// The peer's address, when known.
    pub(super) fn remote_ip(&self) -> Option<std::net::IpAddr> {
        self.remote.map(|r| r.ip())
    }

    fn handshake(&self) -> Handshake {
        Handshake::packed(self.headers.clone(), self.remote)
    }
}

/// One page's socket on one namespace of a connection.
pub(super) struct SocketLink {
    /// Unique in the process: the room index's key.
    pub(super) key: u64,
    /// Itself, for the room index (which holds members by `Arc`).
    me: Weak<SocketLink>,
    id: Id,
    namespace: Arc<Namespace>,
    conn: Arc<Connection>,
    /// Its call rate, shared with every socket this connection had on the namespace.
    limiter: Arc<RateLimiter>,
    state: Mutex<LinkState>,
}

struct LinkState {
    /// The rooms it is in; `None` once it is closed (then it joins nothing).
    rooms: Option<Vec<Arc<str>>>,
    /// Set when its connect is accepted.
    inbound: Option<Arc<dyn Inbound>>,
    /// Cancels its connect while it is being decided.
    deciding: Option<AbortHandle>,
}

impl SocketLink {
    /// Queues an already encoded frame for this socket's connection.
    pub(super) fn push(&self, frame: Bytes) -> bool {
        self.conn.push(frame)
    }

    pub(super) fn is(&self, id: Option<&LinkId>) -> bool {
        id.is_some_and(|id| id.0 == self.id)
    }

    /// Leaves every room, cancels its connect if it is still being decided, and forgets its
    /// inbound, which the caller tells (outside any lock).
    fn close(&self) -> Option<Arc<dyn Inbound>> {
        let (rooms, inbound, deciding) = {
            let mut state = lock(&self.state);
            (state.rooms.take(), state.inbound.take(), state.deciding.take())
        };
        if let Some(deciding) = deciding {
            deciding.abort();
        }
        for room in rooms.into_iter().flatten() {
            self.namespace.rooms.remove(&room, self.key);
        }
        inbound
    }

    /// The server disconnects this socket: the page is told, its connection stays.
    pub(super) fn disconnect(self: &Arc<SocketLink>) {
        self.conn.forget(self);
        self.conn.push(sio::disconnect_frame(&self.namespace.name).into());
        if let Some(inbound) = self.close() {
            inbound.closed();
        }
    }
}

impl Link for SocketLink {
    fn id(&self) -> LinkId {
        LinkId(self.id)
    }

    fn join(&self, room: &Arc<str>) {
        // Under the socket's lock: a socket being closed cannot slip back into a room.
        let mut state = lock(&self.state);
        let Some(rooms) = state.rooms.as_mut() else { return };
        if rooms.iter().any(|r| r == room) {
            return;
        }
        // Grown one at a time: most sockets are in one or two rooms for their lifetime.
        rooms.reserve_exact(1);
        rooms.push(room.clone());
        if let Some(me) = self.me.upgrade() {
            self.namespace.rooms.insert(room, self.key, &me);
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
        self.push(sio::event_frame(&self.namespace.name, event, payload).into());
    }

    fn send_with(&self, event: &str, payload: &RawValue, meta: &RawValue) {
        self.push(sio::event_frame_with(&self.namespace.name, event, payload, Some(meta)).into());
    }

    fn limiter(&self) -> Option<Arc<RateLimiter>> {
        Some(self.limiter.clone())
    }
}

/// Why a packet from the page ends its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The page closed it (Engine.IO's close packet).
    Closed,
    /// A packet the server refuses, with the reason (never the input: it is the page's).
    Refused(&'static str),
}

impl Stop {
    pub(super) fn why(self) -> &'static str {
        match self {
            Stop::Closed => "the page closed the Engine.IO session",
            Stop::Refused(why) => why,
        }
    }
}

/// A connect being decided: its socket and the decision, or `None` once the page left.
type Opening = BoxFuture<'static, Option<(Arc<SocketLink>, Result<Arc<dyn Inbound>, Refusal>)>>;

/// The connects being decided. Most connections decide one, polled in place; a page that opens
/// several contracts at once has them decided concurrently, in a set.
enum Openings {
    One(Opening),
    Many(FuturesUnordered<Opening>),
}

impl Openings {
    fn len(&self) -> usize {
        match self {
            Openings::One(_) => 1,
            Openings::Many(set) => set.len(),
        }
    }

    fn with(openings: Option<Openings>, opening: Opening) -> Openings {
        match openings {
            None => Openings::One(opening),
            Some(Openings::One(first)) => Openings::Many([first, opening].into_iter().collect()),
            Some(Openings::Many(set)) => {
                set.push(opening);
                Openings::Many(set)
            }
        }
    }
}

/// The reading side of a session, whatever carries its packets: namespace connects, events,
/// pongs (the heartbeat's task pings, and expires it). Driven by its carrier's task (`poll`,
/// `text`).
pub(super) struct Reader {
    conn: Arc<Connection>,
    namespaces: Arc<dyn Namespaces>,
    config: Arc<Config>,
    head: Head,
    /// Its place among the open sessions, for as long as it lives.
    _entered: Entered,
    /// Connects being decided; `None` while there is none.
    opening: Option<Openings>,
    /// Connects started: bounded per second.
    connects: Bucket,
    /// The call rate of each namespace this connection connected, kept for its lifetime.
    limiters: Limiters,
}

/// The call rate of each namespace a connection connected (at most one per served namespace):
/// most connections use one namespace for their lifetime, kept in place.
enum Limiters {
    None,
    One(Arc<Namespace>, Arc<RateLimiter>),
    Many(Vec<(Arc<Namespace>, Arc<RateLimiter>)>),
}

impl Limiters {
    /// The call rate of `namespace` on this connection; `new` makes it the first time.
    fn get(&mut self, namespace: &Arc<Namespace>, new: impl FnOnce() -> RateLimiter) -> Arc<RateLimiter> {
        let found = match &*self {
            Limiters::None => None,
            Limiters::One(ns, limiter) => Arc::ptr_eq(ns, namespace).then_some(limiter),
            Limiters::Many(all) => all.iter().find(|(ns, _)| Arc::ptr_eq(ns, namespace)).map(|(_, limiter)| limiter),
        };
        if let Some(limiter) = found {
            return limiter.clone();
        }
        let limiter = Arc::new(new());
        *self = match std::mem::replace(self, Limiters::None) {
            Limiters::None => Limiters::One(namespace.clone(), limiter.clone()),
            Limiters::One(ns, first) => Limiters::Many(vec![(ns, first), (namespace.clone(), limiter.clone())]),
            Limiters::Many(mut all) => {
                all.push((namespace.clone(), limiter.clone()));
                Limiters::Many(all)
            }
        };
        limiter
    }
}

impl Reader {
    /// A new session, and its id; its open packet (the first thing the page reads) is queued.
    /// `upgrades` are the transports it may move to. (The id is not kept: only a polling
    /// session, whose requests name it, needs it again.)
    pub(super) fn open(
        namespaces: Arc<dyn Namespaces>,
        config: Arc<Config>,
        head: Head,
        upgrades: &[&str],
    ) -> (Reader, Id) {
        let clock = namespaces.live().clock(&config);
        let conn = Connection::new(&config, clock.after(config.connect_timeout));
        let sid = random_id();
        conn.push(eio::open(&sid, upgrades, config.ping_interval, config.ping_timeout, config.max_frame).into());
        let _entered = namespaces.live().enter(&conn);
        let reader = Reader {
            _entered,
            conn,
            namespaces,
            head,
            opening: None,
            connects: Bucket::full(Reader::connect_burst(&config)),
            limiters: Limiters::None,
            config,
        };
        (reader, sid)
    }

    /// Connects a connection may start at once (twice those per second).
    fn connect_burst(config: &Config) -> u32 {
        config.connects_per_second.saturating_mul(2)
    }

    pub(super) fn conn(&self) -> &Arc<Connection> {
        &self.conn
    }

    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    /// Decides connects; `Ready` with the reason when the session must end (stopped, closed, or
    /// expired by the heartbeat: the carrier then calls [`Reader::end`]).
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<&'static str> {
        match self.conn.outbox.flow() {
            Flow::Aborted => return Poll::Ready("the connection was stopped (a slow reader, or a protocol error)"),
            Flow::Closing => return Poll::Ready("the server closed the session (shutting down)"),
            Flow::Open => {}
        }
        match self.opening.take() {
            Some(Openings::One(mut opening)) => match opening.as_mut().poll(cx) {
                Poll::Ready(Some((socket, result))) => self.opened(socket, result),
                Poll::Ready(None) => {}
                Poll::Pending => self.opening = Some(Openings::One(opening)),
            },
            Some(Openings::Many(mut opening)) => {
                while let Poll::Ready(Some(decided)) = opening.poll_next_unpin(cx) {
                    if let Some((socket, result)) = decided {
                        self.opened(socket, result);
                    }
                }
                // Connects are rare after the first: their set is not kept at rest.
                if !opening.is_empty() {
                    self.opening = Some(Openings::Many(opening));
                }
            }
            None => {}
        }
        // The heartbeat decides, and wakes this task (through its outbox) when it expired.
        match self.conn.beat.expired() {
            Some(why) => Poll::Ready(why),
            None => Poll::Pending,
        }
    }

    /// Handles one Engine.IO packet; `Err` ends the session.
    pub(super) fn text(&mut self, text: &str) -> Result<(), Stop> {
        match eio::decode(text) {
            Ok(eio::EioPacket::Pong) => {
                self.conn.beat.ponged();
                Ok(())
            }
            Ok(eio::EioPacket::Message(message)) => self.message(message).map_err(Stop::Refused),
            Ok(eio::EioPacket::Ping(_) | eio::EioPacket::Noop) => Ok(()),
            Ok(eio::EioPacket::Close) => Err(Stop::Closed),
            Ok(eio::EioPacket::Upgrade) => Err(Stop::Refused("an upgrade packet outside an upgrade")),
            Err(_) => Err(Stop::Refused("a malformed Engine.IO packet")),
        }
    }

    /// The session is over: pending connects are cancelled, every socket is closed. (The
    /// session id is not logged: on long-polling it is the session's credential.)
    pub(super) fn end(self, why: &str) {
        tracing::debug!("connection closed: {why}");
        let conn = self.conn.clone();
        drop(self);
        conn.outbox.close();
        let sockets = std::mem::take(&mut *conn.sockets());
        for socket in sockets {
            if let Some(inbound) = socket.close() {
                inbound.closed();
            }
        }
    }

    fn message(&mut self, message: &str) -> Result<(), &'static str> {
        match sio::decode(message) {
            Ok(sio::SioPacket::Connect { namespace, auth }) => {
                self.connect(namespace, auth);
                Ok(())
            }
            Ok(sio::SioPacket::Event { namespace, id, event, data }) => {
                let socket = self.conn.socket(namespace);
                let inbound = socket.as_ref().and_then(|s| lock(&s.state).inbound.clone());
                // Events of a namespace not (yet) connected are ignored, as socket.io does.
                if let (Some(socket), Some(inbound)) = (socket, inbound) {
                    inbound.event(event, data, ack(socket, id));
                }
                Ok(())
            }
            Ok(sio::SioPacket::Disconnect { namespace }) => {
                if let Some(socket) = self.conn.socket(namespace) {
                    self.conn.forget(&socket);
                    if let Some(inbound) = socket.close() {
                        inbound.closed();
                    }
                }
                Ok(())
            }
            // liverpc never asks the page for an ack; an id too large for any ack we could
            // have sent is ignored likewise.
            Ok(sio::SioPacket::Ack) | Err(sio::SioPacketError::AckId) => Ok(()),
            Err(_) => Err("a malformed Socket.IO packet"),
        }
    }

    fn connect(&mut self, name: &str, auth: Option<Box<RawValue>>) {
        // Shutting down: left undecided (no refusal reaches the page); the session closes soon
        // and the page's client connects again, elsewhere or to the restarted server.
        if self.namespaces.live().draining() {
            return;
        }
        let Some(namespace) = self.namespaces.get(name) else {
            self.conn.push(sio::connect_error_frame(name, "Invalid namespace").into());
            return;
        };
        let config = &self.config;
        let limiter = self.limiters.get(&namespace, || RateLimiter::new(config.calls_per_second, config.burst));
        let (abort, registration) = AbortHandle::new_pair();
        let socket = {
            let mut sockets = self.conn.sockets();
            // A second CONNECT on a namespace is ignored: the first socket's locals stay.
            if sockets.iter().any(|s| &*s.namespace.name == name) {
                return;
            }
            // Bounded per connection, in flight and per second: a page looping CONNECT and
            // DISCONNECT starts few decisions, and holds few of the app's handshake slots.
            let deciding = self.opening.as_ref().map_or(0, Openings::len);
            let burst = Reader::connect_burst(&self.config);
            if deciding >= self.config.max_connecting || !self.connects.try_take(self.config.connects_per_second, burst)
            {
                drop(sockets);
                self.conn.push(sio::connect_error_frame(name, &Refusal::Unavailable.to_string()).into());
                return;
            }
            let socket = Arc::new_cyclic(|me| SocketLink {
                key: keys::next(),
                me: me.clone(),
                id: random_id(),
                namespace: namespace.clone(),
                conn: self.conn.clone(),
                limiter,
                state: Mutex::new(LinkState { rooms: Some(Vec::new()), inbound: None, deciding: Some(abort) }),
            });
            sockets.reserve_exact(1);
            sockets.push(socket.clone());
            socket
        };
        let link: Arc<dyn Link> = socket.clone();
        let decided = std::panic::AssertUnwindSafe(namespace.acceptor.open(link, self.head.handshake(), auth));
        let decided = decided.catch_unwind().map(move |result| {
            let result = result.unwrap_or_else(|_| {
                tracing::error!("a connect panicked; refused `internal`");
                Err(Refusal::Internal)
            });
            (socket, result)
        });
        // Dropped, not finished, when the page leaves the namespace first (DISCONNECT).
        let opening: Opening = Box::pin(Abortable::new(decided, registration).map(Result::ok));
        self.opening = Some(Openings::with(self.opening.take(), opening));
    }

    /// A connect was decided.
    fn opened(&mut self, socket: Arc<SocketLink>, result: Result<Arc<dyn Inbound>, Refusal>) {
        let name = &*socket.namespace.name;
        match result {
            Ok(inbound) => {
                {
                    let mut state = lock(&socket.state);
                    state.deciding = None;
                    if state.rooms.is_none() {
                        // The page left while its connect was decided.
                        drop(state);
                        inbound.closed();
                        return;
                    }
                    state.inbound = Some(inbound.clone());
                }
                self.conn.beat.connected();
                socket.push(sio::connect_frame(name, &socket.id).into());
                inbound.connected();
            }
            Err(refusal) => {
                // The page still waits for this answer, unless it left the namespace meanwhile.
                let waiting = lock(&socket.state).rooms.is_some();
                self.conn.forget(&socket);
                drop(socket.close());
                if waiting {
                    socket.push(sio::connect_error_frame(name, &refusal.to_string()).into());
                }
            }
        }
    }
}

/// Where an event's answer goes. Until it is sent (or dropped) the event counts as
/// unanswered on its connection, which a drain waits for.
fn ack(socket: Arc<SocketLink>, id: Option<u64>) -> Ack {
    let unanswered = Unanswered::new(socket.conn.clone());
    match id {
        None => Ack::new(move |_| drop(unanswered)),
        Some(id) => Ack::new(move |answer| {
            // A socket the page or the server closed answers nothing more.
            if lock(&socket.state).rooms.is_some() {
                socket.push(sio::ack_frame(&socket.namespace.name, id, answer).into());
            }
            // After the push: a drain's close comes after this answer.
            drop(unanswered);
        }),
    }
}

/// One event of a connection not answered yet.
struct Unanswered(Arc<Connection>);

impl Unanswered {
    fn new(conn: Arc<Connection>) -> Unanswered {
        conn.unanswered.fetch_add(1, Ordering::SeqCst);
        Unanswered(conn)
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.0.unanswered.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.draining.load(Ordering::SeqCst) {
            self.0.outbox.close();
        }
    }
}

/// Locks a mutex; a panic elsewhere does not poison a connection's bookkeeping.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A session or socket id: 32 hex digits from the OS's randomness.
fn random_id() -> Id {
    Id::random()
}

/// The budget for unfinished messages closes a connection by stopping it.
impl Holder for Connection {
    fn stop(&self) {
        Connection::stop(self);
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_kept_handshake_gives_back_every_text_header_but_the_websocket_handshakes() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers.append("cookie", HeaderValue::from_static("a=1; session=s:x"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1, 10.0.0.2"));
        headers.append("x-raw", HeaderValue::from_bytes(&[0xFF]).unwrap());
        let head = Head::new(&headers, Some(([127, 0, 0, 1], 9).into()));
        let handshake = head.handshake();
        assert_eq!(handshake.cookie("session"), Some("s:x"));
        assert_eq!(handshake.cookie("b"), Some("2"));
        assert_eq!(handshake.header("X-Forwarded-For"), Some("10.0.0.1, 10.0.0.2"));
        assert_eq!(handshake.header("cookie"), Some("a=1; session=s:x"), "the first of a repeated header");
        let text: Vec<_> = handshake.text_headers().collect();
        assert_eq!(
            text,
            [("cookie", "a=1; session=s:x"), ("cookie", "b=2"), ("x-forwarded-for", "10.0.0.1, 10.0.0.2")]
        );
        assert_eq!(handshake.headers().len(), 3, "a value that is not text is left out");
        assert_eq!(handshake.headers().get_all("cookie").iter().count(), 2);
        assert_eq!(handshake.remote_addr(), Some(([127, 0, 0, 1], 9).into()));
    }
}
