//! A lean Socket.IO v5 client over Engine.IO v4 over a hand-rolled WebSocket: only what the
//! scenarios need (text frames, one namespace, events, acks, Engine.IO pings), with one read
//! buffer per connection and no per-message allocation on the receive path.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The largest frame the client accepts from a server.
const MAX_FRAME: usize = 1 << 20;

/// The read buffer of a client after [`Client::shrink`]: an Engine.IO ping frame is 3 bytes.
const IDLE_BUFFER: usize = 64;

/// Where and how to connect: the server, an optional local source address, the cookie.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The server's address.
    pub addr: SocketAddr,
    /// The local address to bind before connecting (spreads ephemeral ports over several
    /// loopback addresses); `None` lets the kernel choose.
    pub local: Option<IpAddr>,
    /// The `Cookie` header of the handshake, e.g. `session=bench`.
    pub cookie: String,
    /// A receive buffer this small (bytes), for a client playing a slow reader; `None`: the
    /// kernel's default.
    pub recv_buffer: Option<u32>,
}

/// One connected Socket.IO client on one namespace.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    scratch: String,
    mask: u32,
    ns: String,
}

/// An incoming Socket.IO packet of this client's namespace, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// An Engine.IO ping: answer with [`Client::pong`].
    Ping,
    /// The namespace accepted the connection.
    Connected,
    /// The namespace refused the connection with this `connect_error` data.
    Refused(&'a str),
    /// The server disconnected the namespace or closed the Engine.IO session.
    Closed,
    /// An event: its JSON array `[name, payload]`.
    Event(&'a str),
    /// An ack: its id and JSON array of arguments.
    Ack(u64, &'a str),
    /// Anything else (other namespaces, Engine.IO noop, ...).
    Other(&'a str),
}

static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

fn seed() -> u32 {
    let s = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mixed = (s ^ (s >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (mixed >> 32) as u32 | 1
}

fn other(message: impl Into<String>) -> io::Error {
    io::Error::other(message.into())
}

impl Client {
    /// Opens a WebSocket to `/socket.io/`, reads the Engine.IO open packet, connects to
    /// namespace `ns` with auth `{"path": path}`, and waits for the namespace's answer.
    pub async fn connect(dial: &Dial, ns: &str, path: &str) -> io::Result<Client> {
        let auth = serde_json::to_string(&serde_json::json!({ "path": path })).map_err(other_err)?;
        Client::connect_with_auth(dial, ns, &auth).await
    }

    /// [`connect`](Self::connect) with the namespace CONNECT's auth given as JSON text, e.g.
    /// `{"path":"/rooms/r1","since":[..]}` for a page rejoining rooms with history.
    pub async fn connect_with_auth(dial: &Dial, ns: &str, auth: &str) -> io::Result<Client> {
        let socket = if dial.addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if let Some(local) = dial.local {
            socket.set_reuseaddr(true)?;
            socket.bind(SocketAddr::new(local, 0))?;
        }
        if let Some(size) = dial.recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = socket.connect(dial.addr).await?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            stream,
            buf: vec![0; 4096],
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
            scratch: String::with_capacity(256),
            mask: seed(),
            ns: ns.to_owned(),
        };
        client.upgrade(dial).await?;
        // The Engine.IO open packet comes first.
        let open = loop {
            match client.next_text()? {
                Some(range) => break range,
                None => client.fill().await?,
            }
        };
        if client.buf.get(open.start) != Some(&b'0') {
            return Err(other("expected the Engine.IO open packet"));
        }
        client.scratch.clear();
        client.scratch.push_str("40");
        client.scratch.push_str(ns);
        client.scratch.push(',');
        client.scratch.push_str(auth);
        client.flush_scratch().await?;
        loop {
            match client.next_packet()? {
                Some(Packet::Connected) => return Ok(client),
                Some(Packet::Refused(why)) => return Err(other(format!("refused: {why}"))),
                Some(Packet::Closed) => return Err(other("closed during connect")),
                Some(Packet::Ping) => client.pong().await?,
                Some(_) => {}
                None => client.fill().await?,
            }
        }
    }

    async fn upgrade(&mut self, dial: &Dial) -> io::Result<()> {
        let key_bytes: [u8; 16] = std::array::from_fn(|i| (self.next_mask() >> (i % 4 * 8)) as u8);
        let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
        let mut request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            dial.addr
        );
        if !dial.cookie.is_empty() {
            request.push_str("Cookie: ");
            request.push_str(&dial.cookie);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(at) = find(&self.buf[..self.end], b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| other("non UTF-8 upgrade response"))?;
        if !head.starts_with("HTTP/1.1 101") {
            let line = head.lines().next().unwrap_or_default();
            return Err(other(format!("websocket upgrade refused: {line}")));
        }
        let expected = {
            use sha1::Digest as _;
            let mut sha = sha1::Sha1::new();
            sha.update(key.as_bytes());
            sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            base64::engine::general_purpose::STANDARD.encode(sha.finalize())
        };
        let accepted = head.lines().any(|line| {
            line.split_once(':').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == expected
            })
        });
        if !accepted {
            return Err(other("bad Sec-WebSocket-Accept"));
        }
        self.start = head_end;
        Ok(())
    }

    fn next_mask(&mut self) -> u32 {
        // xorshift32: client frames must be masked; the key need not be strong here.
        let mut x = self.mask;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask = x;
        x
    }

    /// The local address of the connection (its source address and ephemeral port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Frees what an idle connection does not need, for scenarios holding tens of thousands:
    /// the read buffer shrinks to its unread bytes or 64 bytes (it grows again, doubling, if a
    /// larger frame comes), the write buffers to nothing (a pong allocates a few bytes).
    pub fn shrink(&mut self) {
        // A new allocation, not `shrink_to_fit`: shrinking in place would leave a ~4 KiB hole
        // after each client that the next client's 4 KiB buffer cannot reuse.
        let mut small = Vec::with_capacity((self.end - self.start).max(IDLE_BUFFER));
        small.extend_from_slice(&self.buf[self.start..self.end]);
        self.end = small.len();
        self.start = 0;
        small.resize(small.capacity(), 0);
        self.buf = small;
        self.out = Vec::new();
        self.scratch = String::new();
    }

    /// Reads once from the socket into the buffer. Cancel-safe (one `read` call).
    /// End of stream is an error.
    pub async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    /// The next complete text frame in the buffer, if any.
    fn next_text(&mut self) -> io::Result<Option<Range<usize>>> {
        loop {
            let avail = &self.buf[self.start..self.end];
            if avail.len() < 2 {
                return Ok(None);
            }
            let (b0, b1) = (avail[0], avail[1]);
            if b1 & 0x80 != 0 {
                return Err(other("masked frame from the server"));
            }
            let (header, len) = match b1 & 0x7f {
                126 if avail.len() >= 4 => (4, usize::from(u16::from_be_bytes([avail[2], avail[3]]))),
                127 if avail.len() >= 10 => {
                    let mut n = [0; 8];
                    n.copy_from_slice(&avail[2..10]);
                    (10, usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX))
                }
                126 | 127 => return Ok(None),
                n => (2, usize::from(n)),
            };
            if len > MAX_FRAME {
                return Err(other("frame too large"));
            }
            if avail.len() < header + len {
                return Ok(None);
            }
            let range = self.start + header..self.start + header + len;
            self.start += header + len;
            match (b0 & 0x80 != 0, b0 & 0x0f) {
                (true, 1) => return Ok(Some(range)),
                (_, 8) => return Err(io::ErrorKind::ConnectionAborted.into()),
                (true, 9 | 10) => continue, // WebSocket ping / pong: servers here do not send them
                _ => return Err(other("fragmented or binary frame")),
            }
        }
    }

    /// The next complete packet in the buffer, if any; call [`fill`](Self::fill) on `None`.
    pub fn next_packet(&mut self) -> io::Result<Option<Packet<'_>>> {
        let Some(range) = self.next_text()? else { return Ok(None) };
        let text = std::str::from_utf8(&self.buf[range]).map_err(|_| other("non UTF-8 text frame"))?;
        Ok(Some(classify(text, &self.ns)))
    }

    /// Answers an Engine.IO ping.
    pub async fn pong(&mut self) -> io::Result<()> {
        self.scratch.clear();
        self.scratch.push('3');
        self.flush_scratch().await
    }

    /// Emits `event` with one JSON argument (raw text) and an ack id.
    pub async fn emit(&mut self, event: &str, payload_json: &str, ack: u64) -> io::Result<()> {
        use std::fmt::Write as _;
        self.scratch.clear();
        self.scratch.push_str("42");
        self.scratch.push_str(&self.ns);
        // Writing to a String cannot fail.
        let _ = write!(self.scratch, ",{ack}[\"{event}\",{payload_json}]");
        self.flush_scratch().await
    }

    /// Sends `self.scratch` as one masked text frame.
    async fn flush_scratch(&mut self) -> io::Result<()> {
        let mask = self.next_mask().to_be_bytes();
        let payload = self.scratch.as_bytes();
        self.out.clear();
        self.out.push(0x81);
        match payload.len() {
            n if n < 126 => self.out.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&mask);
        self.out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&self.out).await
    }
}

fn other_err(e: impl std::fmt::Display) -> io::Error {
    other(e.to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a Socket.IO packet (after the Engine.IO `4`) into its namespace and the rest.
fn split_ns(rest: &str) -> (&str, &str) {
    if rest.starts_with('/') {
        match rest.split_once(',') {
            Some((ns, tail)) => (ns, tail),
            None => (rest, ""),
        }
    } else {
        ("/", rest)
    }
}

/// Classifies an Engine.IO text packet for namespace `ns`.
pub fn classify<'a>(text: &'a str, ns: &str) -> Packet<'a> {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'2') => return Packet::Ping,
        Some(b'1') => return Packet::Closed,
        Some(b'4') => {}
        _ => return Packet::Other(text),
    }
    let Some(kind) = bytes.get(1) else { return Packet::Other(text) };
    let (packet_ns, rest) = split_ns(&text[2..]);
    if packet_ns != ns {
        return Packet::Other(text);
    }
    match kind {
        b'0' => Packet::Connected,
        b'1' => Packet::Closed,
        b'4' => Packet::Refused(rest),
        b'2' => Packet::Event(rest.trim_start_matches(|c: char| c.is_ascii_digit())),
        b'3' => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            match rest[..digits].parse() {
                Ok(id) => Packet::Ack(id, &rest[digits..]),
                Err(_) => Packet::Other(text),
            }
        }
        _ => Packet::Other(text),
    }
}

/// The string value of `"field":"..."` in a flat JSON object without escapes in that value.
pub fn string_field<'a>(json: &'a str, field: &str) -> Option<&'a str> {
    let mut at = 0;
    while let Some(found) = json[at..].find(field) {
        let key_start = at + found;
        let after = key_start + field.len();
        if json[..key_start].ends_with('"') && json[after..].starts_with("\":\"") {
            let value = &json[after + 3..];
            return value.find('"').map(|end| &value[..end]);
        }
        at = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "/rooms/[roomId]/chat";

    #[test]
    fn classifies_packets() {
        assert_eq!(classify("2", NS), Packet::Ping);
        assert_eq!(classify("40/rooms/[roomId]/chat,{\"sid\":\"x\"}", NS), Packet::Connected);
        assert_eq!(
            classify("44/rooms/[roomId]/chat,{\"message\":\"not_found\"}", NS),
            Packet::Refused("{\"message\":\"not_found\"}")
        );
        assert_eq!(classify("42/rooms/[roomId]/chat,[\"message\",{}]", NS), Packet::Event("[\"message\",{}]"));
        assert_eq!(classify("43/rooms/[roomId]/chat,17[{\"ok\":true}]", NS), Packet::Ack(17, "[{\"ok\":true}]"));
        assert_eq!(classify("42/other,[\"x\"]", NS), Packet::Other("42/other,[\"x\"]"));
        assert_eq!(classify("41/rooms/[roomId]/chat,", NS), Packet::Closed);
    }

    #[test]
    fn reads_string_fields() {
        let m = r#"["message",{"room":"r1","from":"bench","text":"r1|2|3"}]"#;
        assert_eq!(string_field(m, "room"), Some("r1"));
        assert_eq!(string_field(m, "text"), Some("r1|2|3"));
        assert_eq!(string_field(m, "nope"), None);
        assert_eq!(string_field(r#"{"xroom":"a","room":"b"}"#, "room"), Some("b"));
    }
}
