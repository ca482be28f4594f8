//! liverpc's own transport, [`EngineIo`]: Engine.IO v4 and Socket.IO v5 as the official client
//! speaks them, over websockets (on hyper's upgrade) and, as an option, HTTP long-polling.
//!
//! - `framing`: WebSocket framing (RFC 6455), without I/O
//! - `eio`: Engine.IO packets (open, ping/pong, message, close) and its HTTP error answers
//! - `sio`: Socket.IO packets (connect, disconnect, event, ack) and the frames we send
//! - `outbox`: a connection's bounded send queue
//! - `partials`: the budget of bytes held for unfinished websocket messages, across connections
//! - `conn`: one Engine.IO session: its [`Connection`](conn::Connection) (send queue and
//!   sockets), each socket's [`SocketLink`](conn::SocketLink), and its [`Reader`]
//!   (namespaces, events, heartbeats)
//! - `websocket`: a session over a websocket, in one task
//! - `polling`: sessions over long-polling ([`PollSession`](polling::PollSession)), and their
//!   upgrade to a websocket
//! - `rooms`: the local room index of a namespace
//!
//! A broadcast is encoded once per call: every member's queue holds a refcounted clone of the
//! same frame.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::value::RawValue;

use super::{Acceptor, LinkId, Transport};
use crate::wire::limits::Limits;

mod conn;
mod eio;
mod framing;
mod heartbeat;
mod keys;
mod outbox;
mod partials;
mod polling;
mod rooms;
mod sio;
mod upgrade;
mod websocket;

use conn::{Config, Head, Live, Namespace, Namespaces};
use eio::error;

/// The transport: its served namespaces and the configuration of every connection.
#[derive(Clone)]
pub(crate) struct EngineIo {
    table: Arc<Table>,
    /// The path the endpoint is mounted on (`/socket.io/`).
    endpoint: Arc<str>,
    config: Arc<Config>,
    /// HTTP long-polling sessions, when long-polling is on.
    polling: Option<Arc<polling::PollSessions>>,
}

#[derive(Default)]
struct Table(RwLock<HashMap<Box<str>, Arc<Namespace>>>, Arc<Live>);

impl Namespaces for Table {
    fn get(&self, name: &str) -> Option<Arc<Namespace>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    fn live(&self) -> &Arc<Live> {
        &self.1
    }
}

impl EngineIo {
    pub(crate) fn new(limits: &Limits, polling: bool, endpoint: &str) -> EngineIo {
        // Frames above twice the payload limit close the connection; payloads between the limit
        // and that are answered `too_large` by the engine, so the page learns why.
        let max_frame = limits.max_payload.saturating_mul(2).max(4096);
        let config = Config {
            ping_interval: limits.ping_interval,
            ping_timeout: limits.ping_timeout,
            connect_timeout: limits.connect_timeout,
            max_packets: limits.send_buffer,
            // A queue always takes a couple of the largest frames.
            max_bytes: limits.send_buffer_bytes.max(max_frame.saturating_mul(2)),
            max_frame,
            partials: Arc::new(partials::Partials::new(limits.max_partial_bytes)),
            max_connecting: limits.max_handshakes_per_connection.max(1),
            connects_per_second: limits.handshakes_per_second,
            calls_per_second: limits.calls_per_second,
            burst: limits.burst,
        };
        // A polling session counts like a connection: under the same caps, kept apart.
        let sessions =
            || Arc::new(polling::PollSessions::new(limits.max_connections, limits.max_connections_per_address));
        EngineIo {
            table: Arc::default(),
            endpoint: endpoint.into(),
            config: Arc::new(config),
            polling: polling.then(sessions),
        }
    }

    /// Starts a shutdown: no new session or namespace connect is taken, and each session is
    /// closed once the events it handed over are answered.
    pub(crate) fn drain(&self) {
        self.table.1.drain();
    }

    /// Closes every session still open (a shutdown's deadline).
    pub(crate) fn close_all(&self) {
        self.table.1.close_all();
    }

    /// Resolves once no session is open.
    pub(crate) async fn closed(&self) {
        self.table.1.closed().await;
    }

    /// Forgets every namespace (after a shutdown): their acceptors hold the engine, which
    /// holds this transport, and an app shut down must be freed once no one holds it.
    pub(crate) fn unmount_all(&self) {
        self.table.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Mounts the endpoint (`/socket.io/` unless the app chose another path) on a router.
    pub(crate) fn attach<S: Clone + Send + Sync + 'static>(&self, router: axum::Router<S>) -> axum::Router<S> {
        let own = self.clone();
        router.route(
            &self.endpoint,
            axum::routing::any(move |request: Request| {
                let own = own.clone();
                async move { own.handle(request).await }
            }),
        )
    }

    /// An Engine.IO request: a websocket handshake, or a polling handshake, GET or POST.
    async fn handle(&self, request: Request) -> Response {
        let query = Query::parse(request.uri().query().unwrap_or(""));
        if query.eio != Some("4") {
            return error(StatusCode::BAD_REQUEST, 5, "Unsupported protocol version");
        }
        // Shutting down: no new session (a failed handshake, which the page's client retries
        // with backoff; never a refusal code).
        if query.sid.is_none() && self.table.1.draining() {
            return error(StatusCode::SERVICE_UNAVAILABLE, 0, "Server shutting down");
        }
        match (query.transport, query.sid, &self.polling) {
            (Some("websocket"), None, _) => self.upgrade(request, None),
            (Some("websocket"), Some(sid), Some(sessions)) => match sessions.session(sid) {
                Some(session) => self.upgrade(request, Some(session)),
                None => error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
            },
            (Some("polling"), sid, Some(sessions)) => {
                let table: Arc<dyn Namespaces> = self.table.clone();
                match (request.method(), sid) {
                    (&http::Method::GET, None) => {
                        let head = Head::new(request.headers(), remote(&request));
                        sessions.open(table, self.config.clone(), head).await
                    }
                    (&http::Method::GET, Some(sid)) => sessions.get(sid).await,
                    (&http::Method::POST, Some(sid)) => {
                        let sid: Box<str> = sid.into();
                        sessions.post(&sid, request.into_body(), self.config.max_frame).await
                    }
                    _ => error(StatusCode::BAD_REQUEST, 2, "Bad handshake method"),
                }
            }
            // Polling when it is off, or no transport.
            _ => error(StatusCode::BAD_REQUEST, 0, "Transport unknown"),
        }
    }

    /// The websocket handshake: a new connection, or a polling session moving to it.
    fn upgrade(&self, mut request: Request, session: Option<Arc<polling::PollSession>>) -> Response {
        let headers = request.headers();
        let upgrade = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
        let version = headers.get(header::SEC_WEBSOCKET_VERSION).and_then(|v| v.to_str().ok());
        let key = headers.get(header::SEC_WEBSOCKET_KEY).filter(|key| framing::valid_key(key.as_bytes()));
        // RFC 6455 4.2.1: a GET, asking to upgrade to websocket, with a key of 16 bytes; a
        // version other than 13 is told the one we speak.
        if request.method() != http::Method::GET || !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
            return error(StatusCode::BAD_REQUEST, 3, "Bad request");
        }
        if version != Some("13") {
            let mut response = error(StatusCode::UPGRADE_REQUIRED, 3, "Unsupported websocket version");
            response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            return response;
        }
        let Some(key) = key else { return error(StatusCode::BAD_REQUEST, 3, "Bad request") };
        let accept = framing::accept_key(key.as_bytes());
        let new_session = session.is_none();
        let next = match session {
            Some(session) => upgrade::Next::Move { session, max_frame: self.config.max_frame },
            None => {
                let head = Head::new(request.headers(), remote(&request));
                upgrade::Next::Open { namespaces: self.table.clone(), config: self.config.clone(), head }
            }
        };
        let on_upgrade = hyper::upgrade::on(&mut request);
        // A new session writes its open packet at once: the `101` waits for it. (A polling
        // session's upgrade waits for the page's probe, which needs the `101` first.)
        if new_session && let Some(hold) = request.extensions().get::<super::HoldAnswer>() {
            hold.arm();
        }
        drop(tokio::spawn(upgrade::Upgrade::new(on_upgrade, next)));
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_bytes(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

impl Transport for EngineIo {
    fn mount(&self, namespace: &str, acceptor: Arc<dyn Acceptor>) {
        let served = Namespace { name: namespace.into(), acceptor, rooms: rooms::Rooms::default() };
        self.table.0.write().unwrap_or_else(|p| p.into_inner()).insert(namespace.into(), Arc::new(served));
    }

    fn broadcast(
        &self,
        namespace: &str,
        room: &str,
        event: &str,
        payload: &RawValue,
        meta: Option<&RawValue>,
        except: Option<&LinkId>,
    ) -> usize {
        let Some(ns) = self.table.get(namespace) else { return 0 };
        // Encoded once; every member's queue holds the same bytes.
        let frame = Bytes::from(sio::event_frame_with(namespace, event, payload, meta));
        let mut sent = 0;
        ns.rooms.for_each(room, |socket| {
            if !socket.is(except) && socket.push(frame.clone()) {
                sent += 1;
            }
        });
        sent
    }

    fn disconnect_room(&self, namespace: &str, room: &str, except: Option<&LinkId>) -> usize {
        let Some(ns) = self.table.get(namespace) else { return 0 };
        let members: Vec<_> = ns.rooms.members(room).into_iter().filter(|s| !s.is(except)).collect();
        for socket in &members {
            socket.disconnect();
        }
        members.len()
    }
}

/// The peer's address, when the server was started with `App::serve`.
fn remote(request: &Request) -> Option<std::net::SocketAddr> {
    request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0)
}

/// The Engine.IO query parameters.
#[derive(Default)]
struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Query<'a> {
        let mut parsed = Query::default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "EIO" => parsed.eio = Some(value),
                "transport" => parsed.transport = Some(value),
                "sid" => parsed.sid = Some(value),
                _ => {}
            }
        }
        parsed
    }
}

/// The parsers, for the fuzz targets (`liverpc::__fuzz`).
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz {
    use serde_json::value::RawValue;

    /// An Engine.IO message read as a Socket.IO event: its first argument.
    pub(crate) fn event_argument(text: &str) -> Option<Box<RawValue>> {
        let super::eio::EioPacket::Message(message) = super::eio::decode(text).ok()? else { return None };
        match super::sio::decode(message).ok()? {
            super::sio::SioPacket::Event { data, .. } => data,
            _ => None,
        }
    }

    /// Bytes read `cut` at a time, decoded as a reader does until a refusal.
    pub(crate) fn frames(bytes: &[u8], cut: usize) {
        let mut decoder = super::framing::Decoder::new(4096);
        let mut pending = Vec::new();
        for chunk in bytes.chunks(cut.max(1)) {
            pending.extend_from_slice(chunk);
            let mut at = 0;
            loop {
                match decoder.decode(&mut pending[at..]) {
                    Ok(Some((_, used))) => at += used,
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
            pending.drain(..at);
        }
    }
}
