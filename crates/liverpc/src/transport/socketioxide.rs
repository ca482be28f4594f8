//! The transport on socketioxide: the only code that names it. Keep it small enough to
//! re-implement.

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::value::RawValue;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, TransportType};

use super::{Acceptor, Ack, Inbound, Link, LinkId, Transport, first_argument};
use crate::handshake::Handshake;
use crate::limits::Limits;
use crate::protocol::Refusal;

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
pub(crate) struct SocketIoxide {
    pub(crate) layer: Layer,
    io: SocketIo,
}

impl SocketIoxide {
    /// A server applying `limits`; HTTP long-polling only when `polling` (the generated client
    /// is websocket-only, and a polling session id is a bearer credential of its transport).
    pub(crate) fn new(limits: &Limits, polling: bool) -> SocketIoxide {
        // Frames above twice the payload limit close the connection; payloads between the limit
        // and that are answered `too_large` by the engine, so the page learns why.
        let max_message = limits.max_payload.saturating_mul(2).max(4096);
        let parser = ParserConfig::common()
            // liverpc payloads are JSON: a binary attachment is never expected.
            .max_incoming_binaries(0)
            .max_incoming_binary_buf_size(0)
            .packet_completion_timeout(limits.connect_timeout);
        let transports: &[TransportType] =
            if polling { &[TransportType::Websocket, TransportType::Polling] } else { &[TransportType::Websocket] };
        let mut builder = SocketIo::builder()
            .with_parser(parser)
            .max_payload(max_message as u64)
            .ws_max_message_size(max_message)
            .ws_max_frame_size(max_message)
            .ws_read_buffer_size(1024)
            .max_buffer_size(limits.send_buffer)
            .ping_interval(limits.ping_interval)
            .ping_timeout(limits.ping_timeout)
            .connect_timeout(limits.connect_timeout);
        builder = match transports {
            [one] => builder.transports([*one]),
            _ => builder.transports([TransportType::Websocket, TransportType::Polling]),
        };
        let (layer, io) = builder.build_layer();
        SocketIoxide { layer, io }
    }
}

fn send_ack(ack: AckSender, answer: &RawValue) {
    // Without an ack id the page asked for no answer; that is not an error.
    if let Err(e) = ack.send(answer) {
        tracing::debug!(error = %e, "could not send an ack");
    }
}

async fn open(socket: SocketRef, auth: Option<Box<RawValue>>, acceptor: Arc<dyn Acceptor>) -> Result<(), Refusal> {
    let parts = socket.req_parts();
    let remote = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let handshake = Handshake::new(parts.headers.clone(), remote);
    let link: Arc<dyn Link> = Arc::new(Peer(socket.clone()));
    let opened = std::panic::AssertUnwindSafe(acceptor.open(link, handshake, auth)).catch_unwind().await;
    let inbound = match opened {
        Ok(result) => result?,
        Err(_) => {
            tracing::error!(ns = socket.ns(), "a connect panicked; refused `internal`");
            return Err(Refusal::Internal);
        }
    };
    // Registered before socketioxide sends the CONNECT answer: its connect handler runs in a
    // spawned task, and a page's first event can arrive before that task does (it was then
    // dropped, unanswered).
    let on_event = inbound.clone();
    socket.on_fallback(move |Event(event): Event, TryData(data): TryData<Box<RawValue>>, ack: AckSender| {
        // Called synchronously, in the order the page's packets arrive; only the (empty)
        // future is spawned. The engine queues the work, so order is kept.
        let data = data.ok().and_then(|args| first_argument(&args));
        on_event.event(event, data, Ack::new(move |answer| send_ack(ack, answer)));
        std::future::ready(())
    });
    let on_close = inbound.clone();
    socket.on_disconnect(move || {
        on_close.closed();
        std::future::ready(())
    });
    socket.extensions.insert::<Arc<dyn Inbound>>(inbound);
    Ok(())
}

/// One page's socket on one namespace.
struct Peer(SocketRef);

impl Link for Peer {
    fn id(&self) -> LinkId {
        LinkId(self.0.id.as_str().into())
    }

    fn join(&self, room: &str) {
        // A socket being disconnected left every room; it must not get one back.
        if self.0.extensions.get::<Dropping>().is_none() {
            self.0.join(room.to_owned());
        }
    }

    fn leave(&self, room: &str) {
        self.0.leave(room.to_owned());
    }

    fn send(&self, event: &str, payload: &RawValue) {
        send_or_drop(&self.0, event, payload);
    }
}

impl Transport for SocketIoxide {
    /// Serves `namespace`: every connect to it is decided by `acceptor`.
    fn mount(&self, namespace: &str, acceptor: Arc<dyn Acceptor>) {
        let middleware = move |socket: SocketRef, TryData(auth): TryData<Box<RawValue>>| {
            let acceptor = acceptor.clone();
            async move { open(socket, auth.ok(), acceptor).await }
        };
        // Called synchronously once the page has its CONNECT answer.
        let on_connect = move |socket: SocketRef| {
            if let Some(inbound) = socket.extensions.get::<Arc<dyn Inbound>>() {
                inbound.connected();
            }
            std::future::ready(())
        };
        // `ns` returns the adapter's init result, which is `()` for the local adapter.
        #[allow(clippy::let_unit_value)]
        let _ = self.io.ns(namespace.to_owned(), on_connect.with(middleware));
    }

    fn broadcast(
        &self,
        namespace: &str,
        room: &str,
        event: &str,
        payload: &RawValue,
        except: Option<&LinkId>,
    ) -> usize {
        let Some(ns) = self.io.of(namespace) else {
            return 0;
        };
        let mut sent = 0;
        for socket in ns.within(room.to_owned()).sockets() {
            if except.is_some_and(|id| *id.0 == *socket.id.as_str()) {
                continue;
            }
            if send_or_drop(&socket, event, payload) {
                sent += 1;
            }
        }
        sent
    }

    fn disconnect_room(&self, namespace: &str, room: &str, except: Option<&LinkId>) -> usize {
        let Some(ns) = self.io.of(namespace) else {
            return 0;
        };
        let sockets: Vec<SocketRef> = ns
            .within(room.to_owned())
            .sockets()
            .into_iter()
            .filter(|s| except.is_none_or(|id| *id.0 != *s.id.as_str()))
            .collect();
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
    tracing::warn!(ns = socket.ns(), "{why}");
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
