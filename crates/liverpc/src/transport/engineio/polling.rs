//! Engine.IO v4 HTTP long-polling: a session per sid; a GET takes what is queued (waiting for
//! something when nothing is), a POST hands its packets (joined by the record separator) to
//! the session's task. The same session as a websocket's serves it (heartbeats, namespaces),
//! and moves to a websocket with it on an upgrade.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::conn::{Config, Connection, Head, Namespaces, Reader, Stop};
use super::eio::error;
use super::framing::{self, Decoder, Message};
use super::outbox::{Frames, Take};
use super::websocket;

/// A websocket accepted by hyper.
pub(super) type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// What a session's task is handed: packets of a POST, or the websocket it moves to.
enum Incoming {
    Text(String),
    Closed(&'static str),
    Upgraded(Box<Upgraded>, Vec<u8>),
}

/// Engine.IO's packet separator in a polling payload.
const SEPARATOR: char = '\u{1e}';

/// The open polling sessions, under caps in total and per address (a session holds no
/// connection between its requests, so the connection caps do not bound them). A sid is the
/// bearer credential of its session.
pub(super) struct PollSessions {
    table: RwLock<Table>,
    max_total: usize,
    max_per_address: usize,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<Box<str>, Arc<PollSession>>,
    by_address: HashMap<IpAddr, usize>,
}

/// A polling session just made: its reader and id, its requests' queue, its shared state.
struct Opened {
    reader: Reader,
    sid: Box<str>,
    input: mpsc::Receiver<Incoming>,
    session: Arc<PollSession>,
}

pub(super) struct PollSession {
    conn: Arc<Connection>,
    /// The reader's input; bounded, so a POST waits for the reader rather than queueing.
    packets: mpsc::Sender<Incoming>,
    /// A GET or a POST under way: two at once is a protocol error that ends the session.
    getting: AtomicBool,
    posting: AtomicBool,
    /// Where it stands with its move to a websocket; a GET reads it with the send queue.
    state: Mutex<PollState>,
    /// How long an upgrade may take between its websocket and its `5`.
    upgrade_timeout: Duration,
}

/// Where a session stands with its move to a websocket (one websocket at a time may upgrade
/// it, and none once it has moved), and whether the page closed it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PollState {
    Polling,
    /// A websocket is upgrading it (from its handshake to the page's `5`).
    Upgrading,
    /// The websocket was probed (`3probe`): the page pauses polling, and sends `5` once its
    /// GET is back, so a GET that finds nothing queued is answered a noop at once. (The
    /// reference server sends a waiting GET a noop every 100 ms while it upgrades.)
    Probed,
    /// Moved to its websocket: polling requests are refused.
    Upgraded,
    /// The page closed it (`1`): the GET waiting is answered a noop, as the reference server
    /// does. (One waiting when the server ends the session is answered the close packet.)
    Closed,
}

impl PollSessions {
    pub(super) fn new(max_total: usize, max_per_address: usize) -> PollSessions {
        PollSessions { table: RwLock::default(), max_total, max_per_address }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A session ended: out of the table, and its address counts one less.
    fn remove(&self, sid: &str, ip: Option<IpAddr>) {
        let mut table = self.write();
        table.sessions.remove(sid);
        if let Some(ip) = ip
            && let Some(here) = table.by_address.get_mut(&ip)
        {
            *here -= 1;
            if *here == 0 {
                table.by_address.remove(&ip);
            }
        }
    }

    /// A new session from `ip`, made by `open` and entered in the table under its id, or
    /// `None` over a cap.
    fn admit(&self, ip: Option<IpAddr>, open: impl FnOnce() -> Opened) -> Option<Opened> {
        let mut table = self.write();
        let here = ip.and_then(|ip| table.by_address.get(&ip).copied()).unwrap_or(0);
        if table.sessions.len() >= self.max_total || here >= self.max_per_address {
            return None;
        }
        if let Some(ip) = ip {
            table.by_address.insert(ip, here + 1);
        }
        let opened = open();
        table.sessions.insert(opened.sid.clone(), opened.session.clone());
        Some(opened)
    }

    /// A session still on polling.
    pub(super) fn find(&self, sid: &str) -> Option<Arc<PollSession>> {
        let session = self.session(sid)?;
        (session.state() != PollState::Upgraded).then_some(session)
    }

    /// A session, whatever it stands at: a websocket for it is accepted, then decided.
    pub(super) fn session(&self, sid: &str) -> Option<Arc<PollSession>> {
        self.read().sessions.get(sid).cloned()
    }

    /// The handshake: a new session, answered with its open packet.
    pub(super) async fn open(
        self: &Arc<PollSessions>,
        namespaces: Arc<dyn Namespaces>,
        config: Arc<Config>,
        head: Head,
    ) -> Response {
        let upgrade_timeout = config.connect_timeout;
        let ip = head.remote_ip();
        let opened = self.admit(ip, || {
            let (reader, sid) = Reader::open(namespaces, config, head, &["websocket"]);
            let (packets, input) = mpsc::channel(16);
            let session = Arc::new(PollSession {
                conn: reader.conn().clone(),
                packets,
                getting: AtomicBool::new(false),
                posting: AtomicBool::new(false),
                state: Mutex::new(PollState::Polling),
                upgrade_timeout,
            });
            Opened { reader, sid: (*sid).into(), input, session }
        });
        let Some(Opened { reader, sid, input, session }) = opened else {
            tracing::debug!("a polling handshake over the session caps is refused");
            return error(StatusCode::SERVICE_UNAVAILABLE, 3, "Too many sessions");
        };
        let (sessions, task) = (self.clone(), session.clone());
        tokio::spawn(async move {
            let ended = serve(reader, input).await;
            // Out of the table first: a GET that comes from now on is refused, and then the
            // one waiting is answered.
            sessions.remove(&sid, ip);
            if let Some((reader, why, by_page)) = ended {
                if by_page {
                    task.advance(&[PollState::Polling, PollState::Upgrading, PollState::Probed], PollState::Closed);
                }
                reader.end(why);
            }
        });
        session.poll().await
    }

    /// A long-poll GET.
    pub(super) async fn get(&self, sid: &str) -> Response {
        let Some(session) = self.find(sid) else { return unknown_session() };
        if session.getting.swap(true, Ordering::AcqRel) {
            session.conn.stop();
            return error(StatusCode::BAD_REQUEST, 3, "Bad request");
        }
        let _getting = Flag(&session.getting);
        session.poll().await
    }

    /// A POST of packets.
    pub(super) async fn post(&self, sid: &str, body: Body, limit: usize) -> Response {
        let Some(session) = self.find(sid) else { return unknown_session() };
        if session.posting.swap(true, Ordering::AcqRel) {
            session.conn.stop();
            return error(StatusCode::BAD_REQUEST, 3, "Bad request");
        }
        let _posting = Flag(&session.posting);
        let Ok(body) = axum::body::to_bytes(body, limit).await else {
            // Over the limit, or the client went away: nothing of it is kept, and the session
            // ends (as a websocket frame over the limit ends its connection).
            session.conn.stop();
            return error(StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large");
        };
        let Ok(text) = std::str::from_utf8(&body) else {
            let _ = session.packets.send(Incoming::Closed("a polling payload that is not UTF-8")).await;
            return error(StatusCode::BAD_REQUEST, 3, "Bad request");
        };
        for packet in text.split(SEPARATOR) {
            if session.packets.send(Incoming::Text(packet.to_owned())).await.is_err() {
                return unknown_session();
            }
        }
        text_response("ok")
    }
}

impl PollSession {
    /// Moves the session to a websocket (the polling -> websocket upgrade): `2probe` is
    /// answered `3probe`, polls are released with a noop, and after the page's `5`
    /// the session's task carries on over the websocket. A failed upgrade closes its websocket
    /// and leaves the session on polling. A websocket that comes while another upgrades the session, or after it moved,
    /// is closed (one websocket per session).
    pub(super) async fn upgrade(self: Arc<PollSession>, mut io: Upgraded, max_frame: usize) {
        if !self.advance(&[PollState::Polling], PollState::Upgrading) {
            return refuse(io).await;
        }
        match self.probe(&mut io, max_frame).await {
            Some(pending) if self.advance(&[PollState::Probed], PollState::Upgraded) => {
                let _ = self.packets.send(Incoming::Upgraded(Box::new(io), pending)).await;
            }
            _ => {
                self.advance(&[PollState::Upgrading, PollState::Probed], PollState::Polling);
                refuse(io).await;
            }
        }
    }

    /// The upgrade's exchange: `2probe`, `3probe`, `5`; the bytes read past the `5`, or `None`
    /// when the page did not complete it in time.
    async fn probe(&self, io: &mut Upgraded, max_frame: usize) -> Option<Vec<u8>> {
        let mut decoder = Decoder::new(max_frame);
        let mut pending = Vec::new();
        let probed = tokio::time::timeout(self.upgrade_timeout, next_text(io, &mut decoder, &mut pending)).await;
        if probed.ok().flatten().as_deref() != Some("2probe") {
            return None;
        }
        let mut probe = Vec::new();
        framing::text_frame(&mut probe, b"3probe");
        io.write_all(&probe).await.ok()?;
        // Not a noop in the send queue: the websocket would carry it if no GET took it.
        self.advance(&[PollState::Upgrading], PollState::Probed);
        let upgraded = tokio::time::timeout(self.upgrade_timeout, next_text(io, &mut decoder, &mut pending)).await;
        (upgraded.ok().flatten().as_deref() == Some("5")).then_some(pending)
    }

    fn state(&self) -> PollState {
        *self.lock()
    }

    /// Moves the session from one of `from` to `to`; whether it did. A GET that waits looks
    /// again.
    fn advance(&self, from: &[PollState], to: PollState) -> bool {
        let mut state = self.lock();
        if !from.contains(&state) {
            return false;
        }
        *state = to;
        drop(state);
        self.conn.outbox.poll.wake();
        true
    }

    fn lock(&self) -> MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What is queued, joined by the separator; a noop while the session moves to its
    /// websocket, once it has, or once the page closed it; the close packet once the server
    /// ended it.
    async fn poll(&self) -> Response {
        match self.next_batch().await {
            GetReply::Frames(batch) => {
                let mut body = Vec::with_capacity(batch.iter().map(|f| f.len() + 1).sum());
                for (i, frame) in batch.iter().enumerate() {
                    if i > 0 {
                        body.push(SEPARATOR as u8);
                    }
                    body.extend_from_slice(frame);
                }
                text_response(body)
            }
            GetReply::Noop => text_response("6"),
            GetReply::Close => text_response("1"),
        }
    }

    /// Everything queued; when nothing is, waits until something is, the websocket is probed,
    /// or the session moves to it or ends.
    async fn next_batch(&self) -> GetReply {
        let mut waiting = false;
        poll_fn(|cx| {
            self.conn.outbox.poll.register(cx.waker());
            // Under the state's lock: once the session has moved, what is queued is the
            // websocket's, and a GET left waiting from before takes none of it.
            let state = self.lock();
            if matches!(*state, PollState::Upgraded | PollState::Closed) {
                return Poll::Ready(GetReply::Noop);
            }
            match self.conn.outbox.take() {
                Take::Frames(batch) => Poll::Ready(GetReply::Frames(batch)),
                Take::Empty if *state == PollState::Probed => Poll::Ready(GetReply::Noop),
                Take::Empty => {
                    if !std::mem::replace(&mut waiting, true) {
                        tracing::trace!("a long-poll GET waits for packets");
                    }
                    Poll::Pending
                }
                Take::Closed | Take::Aborted => Poll::Ready(GetReply::Close),
            }
        })
        .await
    }
}

/// What a GET answers.
enum GetReply {
    Frames(Frames),
    Noop,
    Close,
}

/// A polling session's task: the session's packets from POSTs, until it moves to a websocket
/// and ends there (`None`), or ends on polling: its reader, why, and whether the page closed it.
async fn serve(mut reader: Reader, mut input: mpsc::Receiver<Incoming>) -> Option<(Reader, &'static str, bool)> {
    loop {
        let next = poll_fn(|cx| {
            reader.conn().outbox.session.register(cx.waker());
            if let Poll::Ready(why) = reader.poll(cx) {
                return Poll::Ready(Incoming::Closed(why));
            }
            input.poll_recv(cx).map(|next| next.unwrap_or(Incoming::Closed("the session's requests are gone")))
        })
        .await;
        match next {
            Incoming::Text(text) => {
                if let Err(stop) = reader.text(&text) {
                    return Some((reader, stop.why(), stop == Stop::Closed));
                }
            }
            Incoming::Closed(why) => return Some((reader, why, false)),
            Incoming::Upgraded(io, pending) => {
                websocket::serve(*io, reader, pending).await;
                return None;
            }
        }
    }
}

/// The next text message of a websocket being upgraded (`None`: anything else, or the end).
async fn next_text<S: AsyncRead + Unpin>(io: &mut S, decoder: &mut Decoder, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        let decoded = decoder.decode(pending).ok()?;
        if let Some((message, used)) = decoded {
            let text = match message {
                Some(Message::Text(text)) => Some(text.into_owned()),
                None | Some(Message::Ping(_) | Message::Pong) => None,
                Some(_) => return None,
            };
            pending.drain(..used);
            match text {
                Some(text) => return Some(text),
                None => continue,
            }
        }
        let mut chunk = [0; 512];
        let n = Pin::new(&mut *io).read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Closes a websocket the session does not take (best effort): the page sees a close frame,
/// not an HTTP error or a dropped connection.
async fn refuse(mut io: Upgraded) {
    let mut close = Vec::new();
    framing::close_frame(&mut close, 1008);
    let _ = tokio::time::timeout(websocket::CLOSE_TIMEOUT, async {
        io.write_all(&close).await?;
        io.shutdown().await?;
        websocket::drain(&mut io).await
    })
    .await;
}

/// Clears a flag when a request ends, however it ends.
struct Flag<'a>(&'a AtomicBool);

impl Drop for Flag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn unknown_session() -> Response {
    error(StatusCode::BAD_REQUEST, 1, "Session ID unknown")
}

fn text_response(body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=UTF-8"));
    response
}
