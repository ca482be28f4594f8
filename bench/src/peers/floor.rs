//! The floor: the same chat written with no library, only what this scenario needs (tokio's
//! sockets, std, and the SHA-1 and base64 of the websocket accept key). It is what one TCP
//! socket per client costs, the practical lower bound the other peers are measured against.
//!
//! - The HTTP upgrade (RFC 6455 §4.2) read by hand, answered `101` together with the Engine.IO
//!   open packet in one write; then the Socket.IO `CONNECT` of the chat namespace, decided as
//!   the other peers decide it (the `session` cookie, the auth's `path`).
//! - Client frames unmasked in place in a stack buffer (no buffer at rest between frames);
//!   masked text, ping and close frames only (RFC 6455 §5).
//! - `send {text}`: the `message` frame (websocket header and Socket.IO packet) encoded once
//!   per broadcast, its bytes appended to each member's queue; `liverpc:join`: a hand-written
//!   check; acks `ok` / `forbidden` / `invalid_payload` as the other peers answer them.
//! - One task per connection. A queue is drained by its connection's task in one write per
//!   batch (whatever queued while the last write was under way), and freed once written; a
//!   queue past 1 MiB drops its connection (a reader that does not read).
//! - Heartbeats from one task for every connection: a ping every 25 s to all, those that did
//!   not answer 20 s later are closed (no timer per connection).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use tokio::net::TcpStream;

use super::{NAMESPACE, User};

const PING_INTERVAL: Duration = Duration::from_secs(25);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// From the TCP accept to the namespace's `CONNECT` answered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame payload a client may send (the other peers' 128 KiB message limit).
const MAX_MESSAGE: usize = 128 * 1024;
/// The largest upgrade request.
const MAX_HEAD: usize = 8 * 1024;
/// Bytes queued for one connection before it is dropped.
const MAX_QUEUED: usize = 1 << 20;
/// The Engine.IO open packet's `maxPayload`.
const MAX_PAYLOAD: usize = 256 * 1024;

const OK: &str = r#"{"ok":true,"data":null}"#;
const FORBIDDEN: &str = r#"{"ok":false,"error":{"code":"forbidden","message":"forbidden"}}"#;
const INVALID: &str = r#"{"ok":false,"error":{"code":"invalid_payload","message":"invalid payload"}}"#;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the other tasks see of a connection: its queue of encoded frames.
#[derive(Debug, Default)]
struct Conn {
    queue: Mutex<Queue>,
    closed: AtomicBool,
    /// Whether the last heartbeat ping was answered.
    ponged: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    /// Frames waiting for the connection's task to write them.
    bytes: Vec<u8>,
    /// The connection's task, woken when the queue goes from empty to not or on close.
    waker: Option<Waker>,
}

impl Conn {
    /// Queues one encoded frame; a queue over [`MAX_QUEUED`] closes the connection instead.
    fn push(&self, frame: &[u8]) {
        let mut queue = lock(&self.queue);
        if self.is_closed() {
            return;
        }
        if queue.bytes.len() + frame.len() > MAX_QUEUED {
            queue.bytes = Vec::new();
            drop(queue);
            return self.close();
        }
        let was_empty = queue.bytes.is_empty();
        queue.bytes.extend_from_slice(frame);
        let waker = if was_empty { queue.waker.take() } else { None };
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let waker = lock(&self.queue).waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The server's state: users, rooms, every connection (for the heartbeat).
struct Server {
    users: Arc<HashMap<String, Arc<User>>>,
    /// Members of the chat rooms, by room id.
    chats: Mutex<HashMap<Box<str>, Vec<Arc<Conn>>>>,
    /// Members of the project rooms, by project id.
    projects: Mutex<HashMap<Box<str>, Vec<Arc<Conn>>>>,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    seed: u64,
}

/// A connected namespace socket: who it is and which rooms it is in.
struct Session {
    /// The room id (of the chat room, auto-joined).
    room: Box<str>,
    user: Option<Arc<User>>,
    /// The project rooms joined.
    projects: Vec<Box<str>>,
}

/// Binds `addr` (listen backlog 1024) and returns the bound address and the server's future
/// (`TCP_NODELAY` on every connection).
pub async fn bind(
    addr: SocketAddr,
) -> io::Result<(SocketAddr, impl std::future::Future<Output = io::Result<()>> + Send)> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    let local = listener.local_addr()?;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let server = Arc::new(Server {
        users: super::users(),
        chats: Mutex::default(),
        projects: Mutex::default(),
        conns: Mutex::default(),
        next_id: AtomicU64::new(1),
        seed,
    });
    Ok((local, async move {
        tokio::spawn(heartbeat(server.clone()));
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of descriptors (or a connection reset before it was accepted): go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let server = server.clone();
            // The handshake's state lives on the heap while it lasts, the task then holds
            // only the connection's.
            let handshake = Box::pin(async move {
                let opened = tokio::time::timeout(CONNECT_TIMEOUT, handshake(&server, &stream)).await;
                let (session, conn, id) = opened.ok()?.ok()?;
                Some(Connection {
                    server,
                    stream,
                    conn,
                    session,
                    id,
                    partial: Vec::new(),
                    batch: Vec::new(),
                    written: 0,
                })
            });
            tokio::spawn(Task::Handshake(handshake));
        }
    }))
}

/// Pings every connection each [`PING_INTERVAL`]; closes those without an answer after
/// [`PING_TIMEOUT`].
async fn heartbeat(server: Arc<Server>) {
    let ping = text_frame(b"2");
    loop {
        tokio::time::sleep(PING_INTERVAL).await;
        let pinged: Vec<Arc<Conn>> = lock(&server.conns).values().cloned().collect();
        for conn in &pinged {
            conn.ponged.store(false, Ordering::Relaxed);
            conn.push(&ping);
        }
        tokio::time::sleep(PING_TIMEOUT).await;
        for conn in pinged.iter().filter(|c| !c.ponged.load(Ordering::Relaxed)) {
            conn.close();
        }
    }
}

type Handshaking = Pin<Box<dyn Future<Output = Option<Connection>> + Send>>;

/// A connection's task: the handshake (boxed), then the connection itself.
enum Task {
    Handshake(Handshaking),
    Open(Connection),
}

impl Future for Task {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match this {
                Task::Handshake(handshake) => match handshake.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Ready(Some(connection)) => *this = Task::Open(connection),
                },
                Task::Open(connection) => return connection.poll(cx),
            }
        }
    }
}

/// An open connection: the socket, the batch being written, an incomplete frame.
struct Connection {
    server: Arc<Server>,
    stream: TcpStream,
    conn: Arc<Conn>,
    session: Session,
    id: u64,
    /// An incomplete frame (empty, unallocated, between frames).
    partial: Vec<u8>,
    /// What is being written (taken from the queue at once; freed once written).
    batch: Vec<u8>,
    written: usize,
}

impl Connection {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.step(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => {
                self.leave();
                Poll::Ready(())
            }
        }
    }

    /// Writes what is queued, reads what arrives; `Ready` when the connection ends.
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.conn.is_closed() {
                return Poll::Ready(Ok(()));
            }
            // Write the batch, then the next one, until the socket is full or nothing is queued.
            loop {
                if self.written == self.batch.len() {
                    self.batch = Vec::new();
                    self.written = 0;
                    let mut queue = lock(&self.conn.queue);
                    if queue.bytes.is_empty() {
                        if !queue.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            queue.waker = Some(cx.waker().clone());
                        }
                        break;
                    }
                    self.batch = std::mem::take(&mut queue.bytes);
                }
                match self.stream.poll_write_ready(cx) {
                    Poll::Pending => {
                        // Still woken on close.
                        let mut queue = lock(&self.conn.queue);
                        if !queue.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            queue.waker = Some(cx.waker().clone());
                        }
                        break;
                    }
                    Poll::Ready(ready) => ready?,
                }
                match self.stream.try_write(&self.batch[self.written..]) {
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            match self.stream.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(ready) => ready?,
            }
            let Connection { server, stream, conn, session, partial, .. } = self;
            let open = read_frames(stream, partial, &mut |frame| on_frame(server, conn, session, frame))?;
            if !open {
                // A close frame's answer, if any, then the end.
                let last = std::mem::take(&mut lock(&self.conn.queue).bytes);
                let _ = self.stream.try_write(&last);
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Out of the connection table and the rooms.
    fn leave(&mut self) {
        self.conn.close();
        lock(&self.server.conns).remove(&self.id);
        let leave = |rooms: &mut HashMap<Box<str>, Vec<Arc<Conn>>>, key: &str| {
            if let Some(members) = rooms.get_mut(key) {
                if let Some(at) = members.iter().position(|m| Arc::ptr_eq(m, &self.conn)) {
                    members.swap_remove(at);
                }
                if members.is_empty() {
                    rooms.remove(key);
                }
            }
        };
        leave(&mut lock(&self.server.chats), &self.session.room);
        let mut projects = lock(&self.server.projects);
        for project in &self.session.projects {
            leave(&mut projects, project);
        }
    }
}

/// A client frame, unmasked.
enum Frame<'a> {
    Text(&'a str),
    Ping(&'a [u8]),
    Close,
}

/// What to do after a frame.
enum Next {
    Continue,
    Close,
}

/// Reads what the socket has (until it would block), hands every complete frame to `handle`,
/// and keeps an incomplete one in `partial` (empty, unallocated, between frames). Returns
/// `false` at the end of the stream or when `handle` closes.
fn read_frames(
    stream: &TcpStream,
    partial: &mut Vec<u8>,
    handle: &mut dyn FnMut(Frame<'_>) -> Next,
) -> io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(e),
        };
        let open = if partial.is_empty() {
            let (used, open) = frames(&mut buf[..n], handle)?;
            if open && used < n {
                partial.extend_from_slice(&buf[used..n]);
            }
            open
        } else {
            partial.extend_from_slice(&buf[..n]);
            let (used, open) = frames(partial, handle)?;
            if used == partial.len() {
                *partial = Vec::new()
            } else {
                partial.drain(..used).for_each(drop)
            }
            open
        };
        if !open {
            return Ok(false);
        }
    }
}

/// Handles the complete frames at the start of `bytes`; returns the bytes used and whether
/// the connection stays open.
fn frames(bytes: &mut [u8], handle: &mut dyn FnMut(Frame<'_>) -> Next) -> io::Result<(usize, bool)> {
    let mut at = 0;
    loop {
        let rest = &mut bytes[at..];
        if rest.len() < 2 {
            return Ok((at, true));
        }
        let (b0, b1) = (rest[0], rest[1]);
        let (header, len) = match b1 & 0x7f {
            126 if rest.len() >= 4 => (4, usize::from(u16::from_be_bytes([rest[2], rest[3]]))),
            127 if rest.len() >= 10 => {
                let mut n = [0; 8];
                n.copy_from_slice(&rest[2..10]);
                (10, usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX))
            }
            126 | 127 => return Ok((at, true)),
            n => (2, usize::from(n)),
        };
        // Clients must mask (RFC 6455 §5.1); fragments and binary frames are not this chat's.
        if b1 & 0x80 == 0 || len > MAX_MESSAGE || b0 & 0x80 == 0 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        if rest.len() < header + 4 + len {
            return Ok((at, true));
        }
        let mask = [rest[header], rest[header + 1], rest[header + 2], rest[header + 3]];
        let payload = &mut rest[header + 4..header + 4 + len];
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        at += header + 4 + len;
        let frame = match b0 & 0x0f {
            1 => Frame::Text(std::str::from_utf8(payload).map_err(|_| io::ErrorKind::InvalidData)?),
            8 => Frame::Close,
            9 => Frame::Ping(payload),
            10 => continue,
            _ => return Err(io::ErrorKind::InvalidData.into()),
        };
        if let Next::Close = handle(frame) {
            return Ok((at, false));
        }
    }
}

/// A server frame: FIN, text, unmasked.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    frame_header(&mut out, 0x81, payload.len());
    out.extend_from_slice(payload);
    out
}

fn frame_header(out: &mut Vec<u8>, first: u8, len: usize) {
    out.push(first);
    match len {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
}

/// `43<ns>,<id>[answer]` as a frame.
fn ack(id: u64, answer: &str) -> Vec<u8> {
    let packet = format!("43{NAMESPACE},{id}[{answer}]");
    text_frame(packet.as_bytes())
}

/// The upgrade, the Engine.IO open packet and the namespace's `CONNECT`.
async fn handshake(server: &Server, stream: &TcpStream) -> io::Result<(Session, Arc<Conn>, u64)> {
    let mut head = Vec::with_capacity(1024);
    let end = loop {
        stream.readable().await?;
        let mut buf = [0u8; 2048];
        match stream.try_read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(io::ErrorKind::InvalidData.into());
        }
    };
    let request = std::str::from_utf8(&head[..end]).map_err(|_| io::ErrorKind::InvalidData)?;
    let Some(upgrade) = Upgrade::parse(request) else {
        write_all_plain(stream, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
        return Err(io::ErrorKind::InvalidData.into());
    };
    let id = server.next_id.fetch_add(1, Ordering::Relaxed);
    let sid = format!("{:016x}", (id ^ server.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(upgrade.key)
    )
    .into_bytes();
    let open = format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{MAX_PAYLOAD}}}",
        PING_INTERVAL.as_millis(),
        PING_TIMEOUT.as_millis()
    );
    frame_header(&mut out, 0x81, open.len());
    out.extend_from_slice(open.as_bytes());
    write_all_plain(stream, &out).await?;
    let cookie_user = match upgrade.cookie.and_then(|c| super::cookie(c, "session")) {
        None => Ok(None),
        Some(name) => server.users.get(name).cloned().map(Some).ok_or("unauthenticated"),
    };

    // Frames until a `CONNECT` to the chat namespace is accepted.
    let mut partial = head.split_off(end);
    drop(head);
    let mut session = None;
    let mut replies: Vec<u8> = Vec::new();
    loop {
        let mut handle = |incoming: Frame<'_>| match incoming {
            Frame::Text(text) => match text.strip_prefix("40") {
                Some(rest) => {
                    let (ns, auth) = rest.split_once(',').unwrap_or((rest, ""));
                    let decided = match (ns == NAMESPACE, &cookie_user) {
                        (false, _) => Err("Invalid namespace"),
                        (true, Err(refusal)) => Err(*refusal),
                        (true, Ok(user)) => open_session(auth, user.clone()),
                    };
                    match decided {
                        Ok(opened) => {
                            let sid = format!("{:016x}", (id ^ !server.seed).wrapping_mul(0xbf58_476d_1ce4_e5b9));
                            replies.extend(text_frame(format!("40{NAMESPACE},{{\"sid\":\"{sid}\"}}").as_bytes()));
                            session = Some(opened);
                            Next::Close
                        }
                        Err(why) => {
                            let ns = if ns.starts_with('/') { ns } else { "/" };
                            replies.extend(text_frame(format!("44{ns},{{\"message\":\"{why}\"}}").as_bytes()));
                            Next::Continue
                        }
                    }
                }
                None if text == "1" => Next::Close,
                None => Next::Continue,
            },
            Frame::Ping(payload) => {
                frame_header(&mut replies, 0x8a, payload.len());
                replies.extend_from_slice(payload);
                Next::Continue
            }
            Frame::Close => Next::Close,
        };
        let (used, open) = frames(&mut partial, &mut handle)?;
        partial.drain(..used);
        if !replies.is_empty() {
            write_all_plain(stream, &replies).await?;
            replies.clear();
        }
        if let Some(session) = session.take() {
            let conn = Arc::new(Conn::default());
            conn.ponged.store(true, Ordering::Relaxed);
            if !partial.is_empty() {
                // Frames sent right behind the `CONNECT`: none of this chat's clients do.
                return Err(io::ErrorKind::InvalidData.into());
            }
            lock(&server.conns).insert(id, conn.clone());
            lock(&server.chats).entry(session.room.clone()).or_default().push(conn.clone());
            return Ok((session, conn, id));
        }
        if !open {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        stream.readable().await?;
        let mut buf = [0u8; 2048];
        match stream.try_read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => partial.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if partial.len() > MAX_MESSAGE + 14 {
            return Err(io::ErrorKind::InvalidData.into());
        }
    }
}

async fn write_all_plain(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The namespace's hook: the auth's `path` must be `/rooms/<roomId>`.
fn open_session(auth: &str, user: Option<Arc<User>>) -> Result<Session, &'static str> {
    let mut json = Json::new(auth);
    let mut path = None;
    json.object(|key, json| match key {
        "path" => json.string().map(|s| path = Some(s)),
        _ => json.skip(),
    })
    .ok_or("not_found")?;
    let path = path.and_then(|p| p.decoded()).ok_or("not_found")?;
    let room = super::room_id(&path).ok_or("not_found")?;
    Ok(Session { room: room.into(), user, projects: Vec::new() })
}

/// A string as JSON, quotes included, appended to `out`.
fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The upgrade request's parts this chat reads.
struct Upgrade<'a> {
    key: &'a str,
    cookie: Option<&'a str>,
}

impl<'a> Upgrade<'a> {
    /// `GET /socket.io/?EIO=4&transport=websocket` with the websocket upgrade headers.
    fn parse(head: &'a str) -> Option<Upgrade<'a>> {
        let mut lines = head.split("\r\n");
        let target = lines.next()?.strip_prefix("GET ")?.strip_suffix(" HTTP/1.1")?;
        let query = target.strip_prefix("/socket.io/")?.strip_prefix('?').unwrap_or("");
        let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='));
        if param("EIO") != Some("4") || param("transport") != Some("websocket") {
            return None;
        }
        let (mut key, mut cookie, mut websocket, mut version) = (None, None, false, false);
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value);
            } else if name.eq_ignore_ascii_case("cookie") {
                cookie = Some(value);
            } else if name.eq_ignore_ascii_case("upgrade") {
                websocket = value.eq_ignore_ascii_case("websocket");
            } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                version = value == "13";
            }
        }
        (websocket && version).then_some(Upgrade { key: key?, cookie })
    }
}

/// `Sec-WebSocket-Accept` (RFC 6455 §4.2.2): base64 of the SHA-1 of the key and the GUID.
fn accept_key(key: &str) -> String {
    use sha1::Digest as _;
    let mut sha = sha1::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// One frame from a connected client.
fn on_frame(server: &Server, conn: &Arc<Conn>, session: &mut Session, frame: Frame<'_>) -> Next {
    let text = match frame {
        Frame::Text(text) => text,
        Frame::Ping(payload) => {
            let mut pong = Vec::with_capacity(payload.len() + 2);
            frame_header(&mut pong, 0x8a, payload.len());
            pong.extend_from_slice(payload);
            conn.push(&pong);
            return Next::Continue;
        }
        Frame::Close => {
            conn.push(&[0x88, 0x00]);
            return Next::Close;
        }
    };
    match text.as_bytes().first() {
        Some(b'3') => {
            conn.ponged.store(true, Ordering::Relaxed);
            Next::Continue
        }
        Some(b'1') => Next::Close,
        Some(b'4') => on_packet(server, conn, session, &text[1..]),
        _ => Next::Continue,
    }
}

/// One Socket.IO packet from a connected client.
fn on_packet(server: &Server, conn: &Arc<Conn>, session: &mut Session, packet: &str) -> Next {
    let Some((kind, rest)) = packet.split_at_checked(1) else { return Next::Continue };
    let Some(rest) = rest.strip_prefix(NAMESPACE).and_then(|r| r.strip_prefix(',')) else {
        return Next::Continue;
    };
    match kind {
        "1" => Next::Close,
        "2" => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let id: Option<u64> = rest[..digits].parse().ok();
            on_event(server, conn, session, id, &rest[digits..]);
            Next::Continue
        }
        _ => Next::Continue,
    }
}

/// `["send", {text}]` or `["liverpc:join", {room, data: {projectId}}]`.
fn on_event(server: &Server, conn: &Arc<Conn>, session: &mut Session, id: Option<u64>, array: &str) {
    let mut json = Json::new(array);
    let name = json.array_start().then(|| json.string()).flatten();
    let name = name.and_then(|n| n.plain());
    let answer = match name {
        Some("send") if json.comma() => match send_text(&mut json) {
            Some(text) => {
                broadcast(server, session, text);
                OK
            }
            None => INVALID,
        },
        Some("liverpc:join") if json.comma() => match join_project(&mut json) {
            Some(project) => join(server, conn, session, &project),
            None => INVALID,
        },
        _ => INVALID,
    };
    if let Some(id) = id {
        conn.push(&ack(id, answer));
    }
}

/// `{"text": "..."}` (1..=500 characters) followed by the end of the array: the raw JSON
/// string, quotes included.
fn send_text<'a>(json: &mut Json<'a>) -> Option<&'a str> {
    let mut text = None;
    json.object(|key, json| match key {
        "text" => json.string().map(|s| text = Some(s)),
        _ => None,
    })?;
    let text = text?;
    (json.array_end() && (1..=500).contains(&text.chars()?)).then_some(text.raw)
}

/// `{"room": "project", "data": {"projectId": "..."}}` (1..=64 characters).
fn join_project(json: &mut Json<'_>) -> Option<String> {
    let (mut room, mut project) = (None, None);
    json.object(|key, json| match key {
        "room" => json.string().map(|s| room = s.decoded()),
        "data" => json.object(|key, json| match key {
            "projectId" => json.string().map(|s| project = s.decoded()),
            _ => None,
        }),
        _ => None,
    })?;
    let project = project?;
    (json.array_end() && room.as_deref() == Some("project") && (1..=64).contains(&project.chars().count()))
        .then_some(project)
}

/// The message to every member of the session's room, encoded once.
fn broadcast(server: &Server, session: &Session, text_json: &str) {
    let mut packet = String::with_capacity(64 + NAMESPACE.len() + text_json.len());
    packet.push_str("42");
    packet.push_str(NAMESPACE);
    packet.push_str(",[\"message\",{\"room\":");
    push_quoted(&mut packet, &session.room);
    packet.push_str(",\"from\":");
    push_quoted(&mut packet, session.user.as_ref().map_or("anonymous", |u| u.name.as_str()));
    packet.push_str(",\"text\":");
    packet.push_str(text_json);
    packet.push_str("}]");
    let frame = text_frame(packet.as_bytes());
    let rooms = lock(&server.chats);
    for member in rooms.get(&session.room).into_iter().flatten() {
        member.push(&frame);
    }
}

/// The `project` room, if the user holds the project.
fn join(server: &Server, conn: &Arc<Conn>, session: &mut Session, project: &str) -> &'static str {
    if !session.user.as_ref().is_some_and(|u| u.projects.contains(project)) {
        return FORBIDDEN;
    }
    if !session.projects.iter().any(|p| **p == *project) {
        let key: Box<str> = project.into();
        lock(&server.projects).entry(key.clone()).or_default().push(conn.clone());
        session.projects.push(key);
    }
    OK
}

/// A JSON string as it appears in the input, without its quotes.
#[derive(Clone, Copy)]
struct JsonStr<'a> {
    /// Quotes included.
    raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    fn inner(&self) -> &'a str {
        &self.raw[1..self.raw.len() - 1]
    }

    /// The string when it has no escapes.
    fn plain(&self) -> Option<&'a str> {
        (!self.escaped).then(|| self.inner())
    }

    /// The decoded string; `None` for an invalid escape.
    fn decoded(&self) -> Option<String> {
        if !self.escaped {
            return Some(self.inner().to_owned());
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.inner().chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            out.push(match chars.next()? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let high = hex4(&mut chars)?;
                    if (0xd800..0xdc00).contains(&high) {
                        if (chars.next(), chars.next()) != (Some('\\'), Some('u')) {
                            return None;
                        }
                        let low = hex4(&mut chars)?.checked_sub(0xdc00).filter(|l| *l < 0x400)?;
                        char::from_u32(0x10000 + ((high - 0xd800) << 10) + low)?
                    } else {
                        char::from_u32(high)?
                    }
                }
                _ => return None,
            });
        }
        Some(out)
    }

    /// How many characters the decoded string has.
    fn chars(&self) -> Option<usize> {
        if !self.escaped {
            return Some(self.inner().chars().count());
        }
        self.decoded().map(|s| s.chars().count())
    }
}

/// Four hex digits of a `\\u` escape.
fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let digits = chars.as_str().get(..4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let unit = u32::from_str_radix(digits, 16).ok()?;
    chars.nth(3);
    Some(unit)
}

/// A cursor over JSON text: only the shapes this chat's packets have.
struct Json<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Json<'a> {
    fn new(text: &'a str) -> Json<'a> {
        Json { text, at: 0 }
    }

    fn space(&mut self) {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.text.as_bytes().get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn array_start(&mut self) -> bool {
        self.eat(b'[')
    }

    fn comma(&mut self) -> bool {
        self.eat(b',')
    }

    /// `]` and nothing after it.
    fn array_end(&mut self) -> bool {
        let end = self.eat(b']');
        self.space();
        end && self.at == self.text.len()
    }

    fn string(&mut self) -> Option<JsonStr<'a>> {
        self.space();
        let bytes = self.text.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at;
        let mut at = start + 1;
        let mut escaped = false;
        loop {
            match *bytes.get(at)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    at += 2;
                }
                b if b < 0x20 => return None,
                _ => at += 1,
            }
        }
        self.at = at + 1;
        Some(JsonStr { raw: &self.text[start..self.at], escaped })
    }

    /// An object whose every member `member(key, self)` reads (`None`: invalid).
    fn object(&mut self, mut member: impl FnMut(&str, &mut Json<'a>) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?.plain()?;
            if !self.eat(b':') {
                return None;
            }
            member(key, self)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.comma() {
                return None;
            }
        }
    }

    /// Skips a string, a number, a literal or an object of those.
    fn skip(&mut self) -> Option<()> {
        self.space();
        match self.text.as_bytes().get(self.at)? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|_, json| json.skip()),
            _ => {
                let bytes = self.text.as_bytes();
                let start = self.at;
                while self.at < bytes.len()
                    && (bytes[self.at].is_ascii_alphanumeric() || b"+-.".contains(&bytes[self.at]))
                {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_chat_payloads() {
        let mut json = Json::new(r#"["send",{"text":"hi \"you\""}]"#);
        assert!(json.array_start());
        assert_eq!(json.string().and_then(|s| s.plain()), Some("send"));
        assert!(json.comma());
        assert_eq!(send_text(&mut json), Some(r#""hi \"you\"""#));

        let mut json = Json::new(r#"{ "room" : "project", "data": {"projectId":"p\u0031"}}]"#);
        assert_eq!(join_project(&mut json), Some("p1".to_owned()));
        let mut json = Json::new(r#"{"room":"project","data":{"projectId":""}}]"#);
        assert_eq!(join_project(&mut json), None);
        let mut json = Json::new(r#"{"text":""}]"#);
        assert_eq!(send_text(&mut json), None);
        let mut json = Json::new(r#"{"text":"a","extra":1}]"#);
        assert_eq!(send_text(&mut json), None, "unknown fields are refused");
    }

    #[test]
    fn decodes_escapes() {
        let s = JsonStr { raw: r#""a\nb\ud83d\ude00\/""#, escaped: true };
        assert_eq!(s.decoded().as_deref(), Some("a\nb😀/"));
        assert_eq!(s.chars(), Some(5));
        let mut quoted = String::new();
        push_quoted(&mut quoted, "a\"b\\\u{1}");
        assert_eq!(quoted, r#""a\"b\\\u0001""#);
    }

    #[test]
    fn parses_the_upgrade() {
        let head = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                    Sec-WebSocket-Version: 13\r\nCookie: session=bench\r\n\r\n";
        let upgrade = Upgrade::parse(head).expect("an upgrade");
        assert_eq!(upgrade.cookie, Some("session=bench"));
        // RFC 6455 §1.3's example.
        assert_eq!(accept_key(upgrade.key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(Upgrade::parse(&head.replace("EIO=4", "EIO=3")).is_none());
    }

    #[test]
    fn unmasks_frames() {
        let mut bytes = vec![0x81, 0x83, 1, 2, 3, 4, b'4' ^ 1, b'2' ^ 2, b'x' ^ 3, 0x81];
        let mut seen = Vec::new();
        let (used, open) = frames(&mut bytes, &mut |f| {
            if let Frame::Text(t) = f {
                seen.push(t.to_owned());
            }
            Next::Continue
        })
        .expect("valid frames");
        assert_eq!((used, open, seen), (9, true, vec!["42x".to_owned()]));
    }
}
