//! Raw clients for the hardening tests: Engine.IO/Socket.IO spoken by hand over a websocket
//! (tokio-tungstenite) and over HTTP long-polling (a minimal HTTP/1.1 client on a TcpStream),
//! plus the process's RSS and a capture of every tracing event.
//!
//! Nothing here is a protocol implementation to trust: it sends exactly what a test says,
//! hostile bytes included, and reports exactly what came back.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The fixture contract's namespace.
pub const NS: &str = "/rooms/[roomId]/chat";

/// How long any single wait in these tests may take before it is a failure.
pub const WAIT: Duration = Duration::from_secs(5);

/// What came next on a raw connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A text frame (an Engine.IO packet).
    Text(String),
    /// The server closed the connection (close frame, EOF or a reset).
    Closed,
    /// Nothing within the wait.
    Timeout,
}

/// A websocket that speaks Engine.IO v4 / Socket.IO v5 by hand.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Opens an Engine.IO websocket and reads its open packet.
    pub async fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> Ws {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let mut request = url.into_client_request().expect("a valid url");
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::try_from(*name).expect("header name"),
                http::HeaderValue::try_from(*value).expect("header value"),
            );
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await.expect("websocket upgrade");
        let mut ws = Ws { stream };
        match ws.recv(WAIT).await {
            Next::Text(open) if open.starts_with("0{") => {}
            other => panic!("expected the Engine.IO open packet, got {other:?}"),
        }
        ws
    }

    /// Opens a websocket over a TCP socket with a small receive buffer (a reader that can fall
    /// behind quickly).
    pub async fn open_small_window(addr: SocketAddr, recv_buffer: u32) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().expect("tcp socket");
        socket.set_recv_buffer_size(recv_buffer).expect("SO_RCVBUF");
        let tcp = socket.connect(addr).await.expect("tcp connect");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await.expect("upgrade");
        let mut ws = Ws { stream };
        match ws.recv(WAIT).await {
            Next::Text(open) if open.starts_with("0{") => {}
            other => panic!("expected the Engine.IO open packet, got {other:?}"),
        }
        ws
    }

    /// Opens a websocket and connects the fixture's namespace as a page at `path`; consumes the
    /// CONNECT answer and the chat room's `liverpc:room` status.
    pub async fn chat(addr: SocketAddr, session: Option<&str>, path: &str) -> Ws {
        let cookie = session.map(|s| format!("session={s}"));
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        let mut ws = Ws::open(addr, &headers).await;
        ws.send(&format!("40{NS},{{\"path\":\"{path}\"}}")).await;
        let connected = ws.recv_packet(WAIT).await;
        assert!(matches!(&connected, Next::Text(t) if t.starts_with(&format!("40{NS},"))), "{connected:?}");
        let status = ws.recv_packet(WAIT).await;
        assert!(matches!(&status, Next::Text(t) if t.contains("liverpc:room")), "{status:?}");
        ws
    }

    /// Sends a text frame; a failure means the server is gone, which the next `recv` reports.
    pub async fn send(&mut self, text: &str) {
        let _ = self.stream.send(Frame::text(text)).await;
    }

    /// Sends a text frame and reports whether the write succeeded.
    pub async fn try_send(&mut self, text: &str) -> bool {
        self.stream.send(Frame::text(text)).await.is_ok()
    }

    /// Sends a binary frame and reports whether the write succeeded.
    pub async fn try_send_binary(&mut self, data: Vec<u8>) -> bool {
        self.stream.send(Frame::binary(data)).await.is_ok()
    }

    /// The next text frame, pings included.
    pub async fn recv(&mut self, within: Duration) -> Next {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Next::Timeout,
                Ok(None | Some(Err(_)) | Some(Ok(Frame::Close(_)))) => return Next::Closed,
                Ok(Some(Ok(Frame::Text(text)))) => return Next::Text(text.to_string()),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame that is not an Engine.IO ping; pings are answered.
    pub async fn recv_packet(&mut self, within: Duration) -> Next {
        let deadline = Instant::now() + within;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())).await {
                Next::Text(t) if t == "2" => self.send("3").await,
                other => return other,
            }
        }
    }

    /// Reads (answering pings) until the ack with `id` arrives or the connection closes; returns
    /// the ack's JSON (the envelope) or `None` when closed. Other packets are collected.
    pub async fn until_ack(&mut self, id: u64, seen: &mut Vec<String>) -> Option<serde_json::Value> {
        let prefix = format!("43{NS},{id}[");
        loop {
            match self.recv_packet(WAIT).await {
                Next::Text(t) if t.starts_with(&prefix) => {
                    let json: serde_json::Value = serde_json::from_str(&t[prefix.len() - 1..]).expect("ack json");
                    return Some(json[0].clone());
                }
                Next::Text(t) => seen.push(t),
                Next::Closed => return None,
                Next::Timeout => panic!("neither an ack {id} nor a close within {WAIT:?}; saw {seen:?}"),
            }
        }
    }

    /// A call with ack id `id`: the envelope, or `None` if the connection closed first.
    pub async fn call(&mut self, id: u64, event: &str, data: &str) -> Option<serde_json::Value> {
        self.send(&format!("42{NS},{id}[\"{event}\",{data}]")).await;
        self.until_ack(id, &mut Vec::new()).await
    }

    /// Reads without answering anything until the server closes the connection; how long it
    /// took, or `None` if it did not close within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        let deadline = start + within;
        loop {
            match self.recv(deadline.saturating_duration_since(Instant::now())).await {
                Next::Closed => return Some(start.elapsed()),
                Next::Timeout => return None,
                Next::Text(_) => {}
            }
        }
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
/// A write error (the server refused early and closed) is not an error: the response counts.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut tcp = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("content-type: text/plain;charset=UTF-8\r\ncontent-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await?;
    let _ = tcp.write_all(body).await;
    let mut raw = Vec::new();
    let read = timeout(WAIT * 2, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A reset after the response was sent still leaves the response readable.
                Err(_) if !raw.is_empty() => return Ok::<(), std::io::Error>(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match read {
        Ok(result) => result?,
        Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no complete response")),
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("head is not UTF-8"))?;
    let mut body = raw[split + 4..].to_vec();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&rest[..eol]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
            let Some(size) = size else { break };
            if size == 0 || rest.len() < eol + 2 + size {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[(eol + 4 + size).min(rest.len())..];
        }
        body = out;
    }
    Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
}

/// An Engine.IO long-polling session.
#[derive(Clone)]
pub struct Polling {
    pub addr: SocketAddr,
    pub sid: String,
    pub headers: Vec<(String, String)>,
}

impl Polling {
    /// The Engine.IO handshake: `GET /socket.io/?EIO=4&transport=polling` -> `0{"sid":...}`.
    pub async fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> Polling {
        let response = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", headers, b"").await.expect("handshake");
        assert_eq!(response.status, 200, "{response:?}");
        let open = response.body.strip_prefix('0').expect("an open packet");
        let open: serde_json::Value = serde_json::from_str(open).expect("open packet json");
        let sid = open["sid"].as_str().expect("a sid").to_owned();
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Polling { addr, sid, headers }
    }

    fn target(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// POSTs packets (joined with the record separator).
    pub async fn post(&self, packets: &[&str]) -> std::io::Result<Response> {
        self.post_bytes(packets.join("\u{1e}").as_bytes()).await
    }

    /// POSTs a raw body.
    pub async fn post_bytes(&self, body: &[u8]) -> std::io::Result<Response> {
        http(self.addr, "POST", &self.target(), &self.header_refs(), body).await
    }

    /// One long-poll GET: the packets the server had (split on the record separator), or the
    /// error status.
    pub async fn get(&self) -> std::io::Result<Response> {
        http(self.addr, "GET", &self.target(), &self.header_refs(), b"").await
    }

    /// Polls until a packet starting with `prefix` arrives (pings are answered); `None` when
    /// the session ends first (close packet or an error status).
    pub async fn until(&self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let response = self.get().await.ok()?;
            if response.status != 200 {
                return None;
            }
            for packet in response.body.split('\u{1e}') {
                if packet.starts_with(prefix) {
                    return Some(packet.to_owned());
                }
                if packet == "1" {
                    return None;
                }
                if packet == "2" {
                    let _ = self.post(&["3"]).await;
                }
            }
        }
        panic!("no `{prefix}` packet and no end of session within {WAIT:?}");
    }
}

/// The resident set size of this process (the server runs in-process), in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Every tracing event of this test binary, at every level, formatted as text.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs the capture as the global subscriber (once per test binary) and returns it.
    pub fn capture() -> Logs {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_thread_names(true)
                .with_writer(move || LogWriter(writer.0.clone()))
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
            logs
        })
        .clone()
    }

    /// The lines logged on this test's thread: a `#[tokio::test]` runs its runtime, and so the
    /// server it started, on the thread named after the test.
    pub fn this_test(&self) -> String {
        let name = std::thread::current().name().unwrap_or_default().to_owned();
        self.text().lines().filter(|l| l.contains(&format!(" {name} "))).collect::<Vec<_>>().join("\n")
    }

    /// How many of this test's lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.this_test().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until this test has logged `needle` more than `seen` times (an event to wait for,
    /// with a deadline).
    pub async fn until_more(&self, needle: &str, seen: usize) {
        let deadline = Instant::now() + WAIT;
        while self.count(needle) <= seen {
            assert!(Instant::now() < deadline, "no new `{needle}` within {WAIT:?}:\n{}", self.this_test());
            tokio::time::sleep(Duration::from_millis(10)).await; // polling the log
        }
    }

    /// The captured text so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A marker no log line could contain by chance.
pub fn marker(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("MRK{}x{}x{tag}", std::process::id(), n)
}
