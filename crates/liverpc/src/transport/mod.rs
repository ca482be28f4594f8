//! The only module that touches socketioxide. Everything above it speaks in liverpc's own
//! terms ([`Peer`], [`Hub`], [`Endpoint`](crate::session::Endpoint)), so the transport can be
//! replaced without users noticing. Keep it small enough to re-implement.

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::value::RawValue;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, TransportType};

use crate::hooks::{Handshake, OriginPolicy};
use crate::limits::Limits;
use crate::protocol::{Answer, ConnectAuth};
use crate::session::{Endpoint, Refusal, Session};

/// The tower layer that serves `/socket.io/`.
pub(crate) type Layer = SocketIoLayer;

/// hyper parses a request's header values and URI as slices of its connection's 8-16 KiB read
/// buffer, and engineioxide keeps the handshake request's parts for the connection's lifetime
/// (`req_parts()`), which pins that buffer to every idle connection. Copying them into their
/// own small allocations before the transport sees the request lets the buffer go (measured:
/// about 7 KiB less per idle websocket, for 1-3 µs per connect).
pub(crate) async fn detach(mut request: axum::extract::Request) -> axum::extract::Request {
    if !request.uri().path().starts_with("/socket.io/") {
        return request;
    }
    let shared = std::mem::take(request.headers_mut());
    let owned = request.headers_mut();
    owned.reserve(shared.len());
    for (name, value) in &shared {
        if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
            owned.append(name.clone(), value);
        }
    }
    if let Ok(uri) = http::Uri::try_from(request.uri().to_string()) {
        *request.uri_mut() = uri;
    }
    request
}

/// The Socket.IO server: its tower layer and its handle.
pub(crate) struct Transport {
    pub(crate) layer: Layer,
    io: SocketIo,
}

impl Transport {
    pub(crate) fn new(limits: &Limits) -> Transport {
        // Frames above twice the payload limit close the connection; payloads between the limit
        // and that are answered `too_large` by the session, so the page learns why.
        let max_message = limits.max_payload.saturating_mul(2).max(4096);
        let parser = ParserConfig::common()
            // liverpc payloads are JSON: a binary attachment is never expected.
            .max_incoming_binaries(0)
            .max_incoming_binary_buf_size(0)
            .packet_completion_timeout(limits.connect_timeout);
        let (layer, io) = SocketIo::builder()
            .with_parser(parser)
            .max_payload(max_message as u64)
            .ws_max_message_size(max_message)
            .ws_max_frame_size(max_message)
            .ws_read_buffer_size(1024)
            .max_buffer_size(limits.send_buffer)
            .ping_interval(limits.ping_interval)
            .ping_timeout(limits.ping_timeout)
            .connect_timeout(limits.connect_timeout)
            .transports([TransportType::Websocket, TransportType::Polling])
            .build_layer();
        Transport { layer, io }
    }

    /// Serves an endpoint (one contract) on its namespace.
    pub(crate) fn mount(&self, endpoint: Arc<dyn Endpoint>, origins: Arc<OriginPolicy>) {
        let namespace = endpoint.namespace().to_owned();
        let ep = endpoint.clone();
        let middleware = move |socket: SocketRef, TryData(auth): TryData<ConnectAuth>| {
            let endpoint = ep.clone();
            let origins = origins.clone();
            async move { open(socket, auth.ok(), endpoint, origins).await }
        };
        let on_connect = move |socket: SocketRef| async move {
            let Some(session) = socket.extensions.get::<Arc<dyn Session>>() else {
                return;
            };
            let on_event = session.clone();
            socket.on_fallback(
                move |socket: SocketRef, Event(event): Event, TryData(data): TryData<Box<RawValue>>, ack: AckSender| {
                    let session = on_event.clone();
                    async move {
                        let data = data.ok().and_then(|args| first_argument(&args));
                        session.on_event(Peer(socket), event, data, Reply(ack)).await;
                    }
                },
            );
            let on_close = session.clone();
            socket.on_disconnect(move |socket: SocketRef| {
                let session = on_close.clone();
                async move { session.on_disconnect(&Peer(socket)) }
            });
            session.on_connected(&Peer(socket));
        };
        // `ns` returns the adapter's init result, which is `()` for the local adapter.
        #[allow(clippy::let_unit_value)]
        let _ = self.io.ns(namespace, on_connect.with(middleware));
    }

    /// A handle to emit to the rooms of one namespace.
    pub(crate) fn hub(&self, namespace: &str) -> Hub {
        Hub { io: self.io.clone(), namespace: Arc::from(namespace) }
    }
}

async fn open(
    socket: SocketRef,
    auth: Option<ConnectAuth>,
    endpoint: Arc<dyn Endpoint>,
    origins: Arc<OriginPolicy>,
) -> Result<(), Refusal> {
    let parts = socket.req_parts();
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if !origins.allows(header(http::header::ORIGIN), header(http::header::HOST)) {
        return Err(Refusal::ForbiddenOrigin);
    }
    let remote = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let handshake = Handshake::new(parts.headers.clone(), remote);
    let path = auth.map(|a| a.path);
    let peer = Peer(socket.clone());
    let opened = std::panic::AssertUnwindSafe(endpoint.open(&peer, handshake, path)).catch_unwind().await;
    let session = match opened {
        Ok(result) => result?,
        Err(_) => {
            tracing::error!(namespace = endpoint.namespace(), "the connection hook panicked; refused `internal`");
            return Err(Refusal::Internal);
        }
    };
    socket.extensions.insert::<Arc<dyn Session>>(session);
    Ok(())
}

/// The common parser hands a raw value the whole `[event, arg0, ...]` array; the page's
/// payload is `arg0` (the generated client sends exactly one argument).
pub(crate) fn first_argument(args: &RawValue) -> Option<Box<RawValue>> {
    struct FirstArgument;
    impl<'de> serde::de::Visitor<'de> for FirstArgument {
        type Value = Option<Box<RawValue>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an event array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            seq.next_element::<serde::de::IgnoredAny>()?;
            let first = seq.next_element::<Box<RawValue>>()?;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    let mut de = serde_json::Deserializer::from_str(args.get());
    serde::Deserializer::deserialize_seq(&mut de, FirstArgument).ok().flatten()
}

/// One page's socket on one namespace.
#[derive(Clone)]
pub(crate) struct Peer(SocketRef);

impl Peer {
    /// The socket's id (unique per connection and namespace).
    pub(crate) fn id(&self) -> String {
        self.0.id.to_string()
    }

    pub(crate) fn join(&self, room: String) {
        // A socket being disconnected left every room; it must not get one back.
        if self.0.extensions.get::<Dropping>().is_none() {
            self.0.join(room);
        }
    }

    pub(crate) fn leave(&self, room: String) {
        self.0.leave(room);
    }

    /// Sends an event to this socket alone; a slow reader is disconnected.
    pub(crate) fn emit(&self, event: &str, payload: &RawValue) {
        send_or_drop(&self.0, event, payload);
    }
}

/// Where a call's answer goes: the ack of the page's emit.
pub(crate) struct Reply(AckSender);

impl Reply {
    pub(crate) fn send(self, answer: &Answer<'_>) {
        // Without an ack id the page asked for no answer; that is not an error.
        if let Err(e) = self.0.send(answer) {
            tracing::debug!(error = %e, "could not send an ack");
        }
    }
}

/// Emits to the rooms of one namespace, from anywhere.
#[derive(Clone)]
pub(crate) struct Hub {
    io: SocketIo,
    namespace: Arc<str>,
}

impl Hub {
    /// Sends an event to every socket in `room`, except the socket `except`.
    /// Returns how many sockets it was handed to.
    pub(crate) fn emit(&self, room: String, event: &str, payload: &RawValue, except: Option<&Peer>) -> usize {
        let Some(ns) = self.io.of(&*self.namespace) else {
            return 0;
        };
        let mut sent = 0;
        for socket in ns.within(room).sockets() {
            if except.is_some_and(|p| p.0.id == socket.id) {
                continue;
            }
            if send_or_drop(&socket, event, payload) {
                sent += 1;
            }
        }
        sent
    }

    /// Disconnects every socket in `room`; returns how many.
    pub(crate) fn disconnect(&self, room: String) -> usize {
        self.disconnect_where(room, |_| true)
    }

    /// Disconnects every socket in `room` but `keep`; returns how many.
    pub(crate) fn disconnect_except(&self, room: String, keep: &Peer) -> usize {
        self.disconnect_where(room, |socket| socket.id != keep.0.id)
    }

    fn disconnect_where(&self, room: String, only: impl Fn(&SocketRef) -> bool) -> usize {
        let Some(ns) = self.io.of(&*self.namespace) else {
            return 0;
        };
        let sockets: Vec<SocketRef> = ns.within(room).sockets().into_iter().filter(|s| only(s)).collect();
        for socket in &sockets {
            drop_socket(socket, "disconnecting a socket as the app asked");
        }
        sockets.len()
    }
}

/// Emits to one socket. When its send buffer is full the page is not keeping up: it is
/// disconnected (and will reconnect and rejoin), so it can neither grow memory nor silently
/// miss messages.
fn send_or_drop(socket: &SocketRef, event: &str, payload: &RawValue) -> bool {
    use socketioxide::{SendError, SocketError};
    match socket.emit(event, payload) {
        Ok(()) => true,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            drop_socket(socket, "send buffer full: disconnecting a slow reader");
            false
        }
        Err(e) => {
            tracing::debug!(error = %e, "emit to a closed socket");
            false
        }
    }
}

/// Marks a socket that the server is disconnecting.
#[derive(Clone, Copy)]
struct Dropping;

/// Disconnects a socket (a slow reader whose send buffer is full, or one the app kicks). It
/// leaves every room at once, so a slow reader cannot miss some messages and then receive later
/// ones. socketioxide can only disconnect a socket by queueing a disconnect packet, which a full
/// buffer refuses, so this retries until the buffer has room. That ends: either the page reads
/// (a slot frees) or the Engine.IO heartbeat cannot queue its next ping and closes the
/// connection (then the socket reports `Closed`).
fn drop_socket(socket: &SocketRef, why: &'static str) {
    use socketioxide::SocketError;
    if socket.extensions.insert(Dropping).is_some() {
        return; // already being dropped
    }
    tracing::warn!(socket = %socket.id, ns = socket.ns(), "{why}");
    socket.leave_all();
    let socket = socket.clone();
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(std::time::Duration::from_millis(10));
        loop {
            retry.tick().await;
            match socket.clone().disconnect() {
                Err(SocketError::InternalChannelFull) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "slow reader already gone");
                    return;
                }
                Ok(()) => return,
            }
        }
    });
}
