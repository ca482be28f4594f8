//! A test client for your own contract tests (feature `testing`).
//!
//! It speaks the real protocol (Engine.IO v4 and Socket.IO v5 over a websocket) to a server on
//! a real socket, the way the generated browser client does: connect with a URL path and
//! cookies, call handlers, join and leave rooms, and collect the events the server sends.
//!
//! ```no_run
//! use liverpc::testing::TestClient;
//! # use liverpc::{Contract, Declarations};
//! # struct Chat;
//! # impl Contract for Chat { type Locals = (); type State = (); type ToClient = ();
//! #     const ROUTE: &'static str = "/rooms/[roomId]";
//! #     const NAME: &'static str = "chat";
//! #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket } }
//!
//! # async fn run(addr: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
//! let client = TestClient::builder(addr).cookie("session", "alice").connect::<Chat>("/rooms/general").await?;
//! client.call("send", serde_json::json!({ "text": "hello" })).await?;
//! let (event, data) = client.recv().await?;
//! assert_eq!(event, "message");
//! # let _ = data; Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::contract::Contract;
use crate::contract::event::Event;
use crate::wire::error::Rejection;
use crate::wire::stream::Position;

/// What went wrong in a test client operation.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The handshake was refused; the code the server sent (`not_found`, `unauthenticated`, ...).
    #[error("connection refused: {0}")]
    Refused(String),
    /// The server answered the call with an error.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// No answer or event within the client's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The websocket failed.
    #[error("websocket: {0}")]
    Transport(String),
    /// The server sent something that is not the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
}

impl TestError {
    /// The rejection, when the server answered with one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            TestError::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Configures a [`TestClient`]: cookies, headers, timeout.
#[derive(Debug, Clone)]
pub struct TestClientBuilder {
    addr: SocketAddr,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    timeout: Duration,
}

impl TestClientBuilder {
    /// Adds a cookie to the handshake request.
    pub fn cookie(mut self, name: &str, value: &str) -> TestClientBuilder {
        self.cookies.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header to the handshake request (e.g. `Origin`).
    pub fn header(mut self, name: &str, value: &str) -> TestClientBuilder {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// How long calls and `recv` wait (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> TestClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Connects to contract `C` as a page at URL `path`.
    pub async fn connect<C: Contract>(self, path: &str) -> Result<TestClient, TestError> {
        let namespace = crate::wire::protocol::namespace(C::ROUTE, C::NAME);
        self.connect_namespace(&namespace, Some(serde_json::json!({ "path": path }))).await
    }

    /// Connects to a raw namespace with raw auth: for protocol tests.
    pub async fn connect_namespace(self, namespace: &str, auth: Option<Value>) -> Result<TestClient, TestError> {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr);
        let mut request = url.into_client_request().map_err(|e| TestError::Transport(e.to_string()))?;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            let name = http::HeaderName::try_from(name.as_str()).map_err(|e| TestError::Transport(e.to_string()))?;
            let value = http::HeaderValue::try_from(value.as_str()).map_err(|e| TestError::Transport(e.to_string()))?;
            headers.append(name, value);
        }
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            let value = http::HeaderValue::try_from(cookie).map_err(|e| TestError::Transport(e.to_string()))?;
            headers.insert(http::header::COOKIE, value);
        }
        let (ws, _) =
            tokio_tungstenite::connect_async(request).await.map_err(|e| TestError::Transport(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();

        // Engine.IO open packet.
        match next_text(&mut stream, self.timeout).await? {
            text if text.starts_with('0') => {}
            other => {
                return Err(TestError::Protocol(format!("expected an open packet, got {other:?}")));
            }
        }
        let prefix = if namespace == "/" { String::new() } else { format!("{namespace},") };
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        sink.send(Message::text(format!("40{prefix}{auth}"))).await.map_err(|e| TestError::Transport(e.to_string()))?;
        loop {
            let text = next_text(&mut stream, self.timeout).await?;
            if text == "2" {
                sink.send(Message::text("3")).await.map_err(|e| TestError::Transport(e.to_string()))?;
                continue;
            }
            let packet = SioFrame::parse(&text).ok_or_else(|| TestError::Protocol(text.clone()))?;
            match packet.kind {
                '0' => break,
                '4' => {
                    let message = packet.json.get("message").and_then(Value::as_str).unwrap_or_default();
                    return Err(TestError::Refused(message.to_owned()));
                }
                _ => {
                    return Err(TestError::Protocol(format!("unexpected packet before connect: {text}")));
                }
            }
        }

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let acks: Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let writer = tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let pongs = out_tx.clone();
        let pending = acks.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                if text.as_str() == "2" {
                    let _ = pongs.send("3".to_owned());
                    continue;
                }
                let Some(packet) = SioFrame::parse(&text) else {
                    continue;
                };
                match packet.kind {
                    '2' => {
                        if let Value::Array(mut items) = packet.json {
                            if items.is_empty() {
                                continue;
                            }
                            let name = items.remove(0).as_str().unwrap_or_default().to_owned();
                            let mut args = items.into_iter();
                            let data = args.next().unwrap_or(Value::Null);
                            let position = args.next().and_then(|p| serde_json::from_value(p).ok());
                            let _ = event_tx.send((name, data, position));
                        }
                    }
                    '3' => {
                        let answer = match packet.json {
                            Value::Array(items) => items.into_iter().next().unwrap_or(Value::Null),
                            other => other,
                        };
                        let waiter = packet.id.and_then(|id| pending.lock().ok()?.remove(&id));
                        if let Some(waiter) = waiter {
                            let _ = waiter.send(answer);
                        }
                    }
                    '1' => break,
                    _ => {}
                }
            }
            // Closed: every pending call learns it now, not at its timeout.
            if let Ok(mut pending) = pending.lock() {
                pending.clear();
            }
        });
        Ok(TestClient {
            prefix,
            out: out_tx,
            events: Mutex::new(event_rx),
            acks,
            next_id: AtomicU64::new(0),
            timeout: self.timeout,
            tasks: [reader, writer],
        })
    }
}

/// A page's connection to one contract, speaking the real protocol. See the module docs.
pub struct TestClient {
    prefix: String,
    out: mpsc::UnboundedSender<String>,
    events: Mutex<mpsc::UnboundedReceiver<(String, Value, Option<Position>)>>,
    acks: Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    next_id: AtomicU64,
    timeout: Duration,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl TestClient {
    /// Starts configuring a client for the server at `addr`.
    pub fn builder(addr: SocketAddr) -> TestClientBuilder {
        TestClientBuilder { addr, headers: Vec::new(), cookies: Vec::new(), timeout: Duration::from_secs(5) }
    }

    /// Calls a handler and waits for its answer: the reply's data, or the rejection.
    pub async fn call(&self, event: &str, data: impl Serialize) -> Result<Value, TestError> {
        let answer = self.emit_with_ack(&(event, data)).await?;
        Self::unwrap_answer(answer)
    }

    /// Calls a handler and decodes its reply as `R` (the handler's reply type, or a mirror of it).
    ///
    /// ```no_run
    /// # async fn run(client: liverpc::testing::TestClient) -> Result<(), liverpc::testing::TestError> {
    /// let delivered: u32 = client.call_as("send", serde_json::json!({ "text": "hi" })).await?;
    /// # let _ = delivered; Ok(()) }
    /// ```
    pub async fn call_as<R: DeserializeOwned>(&self, event: &str, data: impl Serialize) -> Result<R, TestError> {
        let reply = self.call(event, data).await?;
        serde_json::from_value(reply).map_err(|e| TestError::Protocol(format!("reply of `{event}`: {e}")))
    }

    /// Joins a room: `data` is `None` for a private room, the payload for an exposed one.
    pub async fn join(&self, room: &str, data: Option<Value>) -> Result<(), TestError> {
        self.room_request(crate::wire::protocol::JOIN, room, data).await
    }

    /// Leaves a room joined with the same name and payload.
    pub async fn leave(&self, room: &str, data: Option<Value>) -> Result<(), TestError> {
        self.room_request(crate::wire::protocol::LEAVE, room, data).await
    }

    async fn room_request(&self, event: &str, room: &str, data: Option<Value>) -> Result<(), TestError> {
        let mut request = serde_json::json!({ "room": room });
        if let Some(data) = data {
            request["data"] = data;
        }
        let answer = self.emit_with_ack(&serde_json::json!([event, request])).await?;
        Self::unwrap_answer(answer).map(drop)
    }

    /// Sends an event with an ack and returns the raw answer (for protocol tests). `args` is
    /// the event's argument array, event name first.
    pub async fn emit_with_ack(&self, args: &impl Serialize) -> Result<Value, TestError> {
        let args = serde_json::to_string(args).map_err(|e| TestError::Protocol(e.to_string()))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut acks) = self.acks.lock() {
            acks.insert(id, tx);
        }
        self.send_raw(&format!("42{}{id}{args}", self.prefix))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(TestError::Closed),
            Err(_) => Err(TestError::Timeout(self.timeout)),
        }
    }

    /// Sends a raw Engine.IO text frame, e.g. `42/ns,["x"]` (for protocol tests).
    pub fn send_raw(&self, frame: &str) -> Result<(), TestError> {
        self.out.send(frame.to_owned()).map_err(|_| TestError::Closed)
    }

    /// The namespace prefix of this client's packets (`/ns,`).
    pub fn namespace_prefix(&self) -> &str {
        &self.prefix
    }

    /// The next event the server sent, as `(name, data)`.
    pub async fn recv(&self) -> Result<(String, Value), TestError> {
        self.recv_positioned().await.map(|(name, data, _)| (name, data))
    }

    /// The next event the server sent, with its position when it is a message of a room with
    /// history (what the page's client remembers to recover the room).
    ///
    /// ```no_run
    /// # async fn run(client: liverpc::testing::TestClient) -> Result<(), liverpc::testing::TestError> {
    /// let (event, _data, position) = client.recv_positioned().await?;
    /// if let Some(position) = position {
    ///     println!("{event} at offset {}", position.offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv_positioned(&self) -> Result<(String, Value, Option<Position>), TestError> {
        let mut events = self.events.lock().await;
        match tokio::time::timeout(self.timeout, events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(TestError::Closed),
            Err(_) => Err(TestError::Timeout(self.timeout)),
        }
    }

    /// The next event, which must be an `E`, decoded.
    pub async fn recv_event<E: Event + DeserializeOwned>(&self) -> Result<E, TestError> {
        let (name, data) = self.recv().await?;
        if name != E::NAME {
            return Err(TestError::Protocol(format!("expected event `{}`, got `{name}`: {data}", E::NAME)));
        }
        serde_json::from_value(data).map_err(|e| TestError::Protocol(e.to_string()))
    }

    /// Waits until the server closes the connection.
    pub async fn closed(&self) -> Result<(), TestError> {
        let mut events = self.events.lock().await;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(_) => return Err(TestError::Timeout(self.timeout)),
            }
        }
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send(format!("41{}", self.prefix));
        for task in &self.tasks {
            task.abort();
        }
    }

    fn unwrap_answer(answer: Value) -> Result<Value, TestError> {
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(answer.get("data").cloned().unwrap_or(Value::Null)),
            Some(false) => {
                let error = answer.get("error").cloned().unwrap_or(Value::Null);
                serde_json::from_value(error)
                    .map(TestError::Rejected)
                    .map_err(|e| TestError::Protocol(format!("bad error envelope: {e}")))
                    .and_then(Err)
            }
            None => Err(TestError::Protocol(format!("not an answer envelope: {answer}"))),
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A Socket.IO packet inside an Engine.IO message frame (`4<type>[/ns,][id]<json>`).
struct SioFrame {
    kind: char,
    id: Option<u64>,
    json: Value,
}

impl SioFrame {
    fn parse(text: &str) -> Option<SioFrame> {
        let rest = text.strip_prefix('4')?;
        let mut chars = rest.chars();
        let kind = chars.next()?;
        let mut rest = chars.as_str();
        if rest.starts_with('/') {
            let comma = rest.find(',')?;
            rest = &rest[comma + 1..];
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let id = rest[..digits].parse().ok();
        let json = serde_json::from_str(&rest[digits..]).unwrap_or(Value::Null);
        Some(SioFrame { kind, id, json })
    }
}

async fn next_text<S>(stream: &mut S, timeout: Duration) -> Result<String, TestError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => return Err(TestError::Timeout(timeout)),
            Ok(None) => return Err(TestError::Closed),
            Ok(Some(Err(e))) => return Err(TestError::Transport(e.to_string())),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(Message::Close(_)))) => return Err(TestError::Closed),
            Ok(Some(Ok(_))) => continue,
        }
    }
}
