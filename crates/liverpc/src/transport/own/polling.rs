//! Engine.IO v4 HTTP long-polling: a session per sid; a GET takes what is queued (waiting for
//! something when nothing is), a POST hands its packets (joined by the record separator) to
//! the session's reader. The same reader as a websocket's serves it (heartbeats, namespaces).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::conn::{self, Config, Conn, Incoming, Namespaces};
use super::{error, random_id};
use crate::handshake::Handshake;

/// Engine.IO's packet separator in a polling payload.
const SEPARATOR: char = '\u{1e}';

/// The open polling sessions. A sid is the bearer credential of its session.
#[derive(Default)]
pub(super) struct Sessions(RwLock<HashMap<Box<str>, Arc<Session>>>);

pub(super) struct Session {
    conn: Arc<Conn>,
    /// The reader's input; bounded, so a POST waits for the reader rather than queueing.
    packets: mpsc::Sender<Incoming>,
    /// A GET or a POST under way: two at once is a protocol error that ends the session.
    getting: AtomicBool,
    posting: AtomicBool,
    /// Moved to a websocket: polling requests are refused from then on.
    upgraded: AtomicBool,
    /// How long an upgrade may take between its websocket and its `5`.
    upgrade_timeout: Duration,
}

impl Sessions {
    /// A session still on polling.
    pub(super) fn find(&self, sid: &str) -> Option<Arc<Session>> {
        let session = self.0.read().unwrap_or_else(|p| p.into_inner()).get(sid).cloned()?;
        (!session.upgraded.load(Ordering::Acquire)).then_some(session)
    }

    /// The handshake: a new session, answered with its open packet.
    pub(super) async fn open(
        self: &Arc<Sessions>,
        namespaces: Arc<dyn Namespaces>,
        config: Config,
        handshake: Handshake,
    ) -> Response {
        let conn = Conn::new(&config);
        let sid = random_id();
        conn.open(&sid, &["websocket"], &config);
        let (packets, mut input) = mpsc::channel(16);
        let session = Arc::new(Session {
            conn: conn.clone(),
            packets,
            getting: AtomicBool::new(false),
            posting: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            upgrade_timeout: config.connect_timeout,
        });
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(sid.clone(), session.clone());
        let sessions = self.clone();
        let id = sid.clone();
        tokio::spawn(async move {
            let incoming = futures_util::stream::poll_fn(move |cx| input.poll_recv(cx));
            conn::serve(conn, incoming, namespaces, config, handshake, &id).await;
            sessions.0.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
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
            if session.packets.send(Incoming::Text(Utf8Bytes::from(packet))).await.is_err() {
                return unknown_session();
            }
        }
        text_response("ok")
    }
}

impl Session {
    /// Moves the session to a websocket (the polling -> websocket upgrade): `2probe` is
    /// answered `3probe`, the pending poll is released with a noop, and after the page's `5`
    /// the websocket carries the session: a writer drains its queue, its frames go to the
    /// session's reader. A failed upgrade leaves the session on polling.
    pub(super) async fn upgrade<S>(self: Arc<Session>, ws: WebSocketStream<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sink, mut stream) = ws.split();
        let text = |frame: Option<Result<Message, _>>| match frame {
            Some(Ok(Message::Text(text))) => Some(text),
            _ => None,
        };
        let probed = tokio::time::timeout(self.upgrade_timeout, stream.next()).await.ok().and_then(text);
        if probed.as_deref() != Some("2probe") || sink.send(Message::text("3probe")).await.is_err() {
            return;
        }
        self.conn.push(Utf8Bytes::from_static("6"));
        let upgraded = tokio::time::timeout(self.upgrade_timeout, stream.next()).await.ok().and_then(text);
        if upgraded.as_deref() != Some("5") || self.upgraded.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(conn::write(sink, self.conn.clone()));
        while let Some(frame) = stream.next().await {
            let incoming = match conn::incoming(frame) {
                Some(incoming) => incoming,
                None => continue,
            };
            let last = matches!(incoming, Incoming::Closed(_) | Incoming::Binary);
            if self.packets.send(incoming).await.is_err() || last {
                return;
            }
        }
        let _ = self.packets.send(Incoming::Closed("the page closed the connection")).await;
    }

    /// What is queued, joined by the separator; the close packet once the session ended.
    async fn poll(&self) -> Response {
        // A poll left over from before the upgrade takes nothing: the websocket's writer does.
        if self.upgraded.load(Ordering::Acquire) {
            return text_response("6");
        }
        match self.conn.next_batch().await {
            Some(batch) => {
                let mut body = String::with_capacity(batch.iter().map(|f| f.len() + 1).sum());
                for (i, frame) in batch.iter().enumerate() {
                    if i > 0 {
                        body.push(SEPARATOR);
                    }
                    body.push_str(frame);
                }
                text_response(body)
            }
            None => text_response("1"),
        }
    }
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
