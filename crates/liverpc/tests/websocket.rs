//! The server's WebSocket framing (RFC 6455) on the wire, byte by byte from a raw TCP socket:
//! the handshake's accept key, unmasked server frames, ping and close handshakes, frames a
//! server must refuse (each closed with its code), 16- and 64-bit lengths, and a message
//! trickling in one byte per write.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use liverpc::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const NS: &str = "/rooms/[roomId]/chat";
const WAIT: Duration = Duration::from_secs(5);

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A frame from the server.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    fin: bool,
    opcode: u8,
    masked: bool,
    payload: Vec<u8>,
}

impl Frame {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).expect("server text is UTF-8")
    }

    fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A websocket client written byte by byte.
struct Raw {
    tcp: TcpStream,
    read: Vec<u8>,
}

/// The websocket handshake's request, as alice.
const HANDSHAKE: &str = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
     Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: session=alice\r\n\r\n";

impl Raw {
    /// Connects and upgrades as alice; returns the client and the response head.
    async fn open(addr: SocketAddr) -> (Raw, String) {
        Raw::request(addr, HANDSHAKE).await
    }

    /// Connects and sends `request` as the handshake; returns the client and the response head.
    async fn request(addr: SocketAddr, request: &str) -> (Raw, String) {
        let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
        tcp.set_nodelay(true).expect("nodelay");
        tcp.write_all(request.as_bytes()).await.expect("write the handshake");
        let mut raw = Raw { tcp, read: Vec::new() };
        let head = loop {
            if let Some(end) = raw.read.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(raw.read[..end].to_vec()).expect("head");
                raw.read.drain(..end + 4);
                break head;
            }
            assert!(raw.fill().await, "the server answers the handshake");
        };
        (raw, head)
    }

    /// Upgraded, the open packet read, the fixture's namespace connected as a page at
    /// `/rooms/general`, and the room status read.
    async fn chat(addr: SocketAddr) -> Raw {
        let (mut raw, head) = Raw::open(addr).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(raw.text().await.starts_with("0{"));
        raw.send_text(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
        assert!(raw.text().await.starts_with(&format!("40{NS},")));
        assert!(raw.text().await.contains("liverpc:room"));
        raw
    }

    /// Reads more bytes; `false` at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0; 4096];
        match timeout(WAIT, self.tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.read.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => panic!("nothing from the server within {WAIT:?}"),
        }
    }

    /// The next frame; `None` when the server closed the stream.
    async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse(&self.read) {
                self.read.drain(..used);
                return Some(frame);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next text frame's text (heartbeats included).
    async fn text(&mut self) -> String {
        let frame = self.frame().await.expect("a frame");
        assert_eq!((frame.fin, frame.opcode, frame.masked), (true, TEXT, false), "{frame:?}");
        frame.text().to_owned()
    }

    /// The next frame that is not text, skipping text.
    async fn control(&mut self) -> Option<Frame> {
        loop {
            match self.frame().await {
                Some(frame) if frame.opcode == TEXT => continue,
                other => return other,
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        // The server may already have closed: what it answered is what the test reads.
        let _ = self.tcp.write_all(bytes).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.send(&client_frame(true, TEXT, text.as_bytes())).await;
    }

    /// The ack of call `id`, skipping other packets.
    async fn ack(&mut self, id: u64) -> String {
        let prefix = format!("43{NS},{id}");
        loop {
            let text = self.text().await;
            if let Some(answer) = text.strip_prefix(&prefix) {
                return answer.to_owned();
            }
        }
    }
}

/// A server frame at the start of `bytes`, and its length.
fn parse(bytes: &[u8]) -> Option<(Frame, usize)> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    let (mut at, len) = match second & 0x7F {
        126 => (4, u64::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]))),
        127 => (10, u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)),
        n => (2, u64::from(n)),
    };
    let masked = second & 0x80 != 0;
    if masked {
        at += 4;
    }
    let end = at + usize::try_from(len).ok()?;
    let payload = bytes.get(at..end)?.to_vec();
    Some((Frame { fin: first & 0x80 != 0, opcode: first & 0x0F, masked, payload }, end))
}

/// A masked client frame.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xFA, 0x21, 0x3D];
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

#[tokio::test]
async fn the_handshake_answers_the_key_and_server_frames_are_final_and_unmasked() {
    let addr = common::start(Limits::default()).await.addr;
    let (mut raw, head) = Raw::open(addr).await;
    let lines: Vec<String> = head.lines().map(str::to_ascii_lowercase).collect();
    assert!(lines[0].starts_with("http/1.1 101"), "{head}");
    // RFC 6455's own example key and answer.
    assert!(lines.iter().any(|l| l == "sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    assert!(lines.iter().any(|l| l == "upgrade: websocket"), "{head}");
    let open = raw.frame().await.expect("the open packet");
    assert_eq!((open.fin, open.opcode, open.masked), (true, TEXT, false));
    assert!(open.text().starts_with("0{\"sid\":"), "{}", open.text());
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload_and_a_close_with_a_close() {
    let addr = common::start(Limits::default()).await.addr;
    let mut raw = Raw::chat(addr).await;
    raw.send(&client_frame(true, PING, b"are you there")).await;
    let pong = raw.control().await.expect("a pong");
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &b"are you there"[..]));
    let mut close = client_frame(true, CLOSE, &1000u16.to_be_bytes());
    close.extend_from_slice(&client_frame(true, TEXT, b"40")); // after a close: never read
    raw.send(&close).await;
    let answer = raw.control().await.expect("the close is answered");
    assert_eq!(answer.close_code(), Some(1000), "{answer:?}");
    assert_eq!(raw.frame().await, None, "the server ends the stream after the close handshake");
}

#[tokio::test]
async fn frames_a_server_must_refuse_close_the_connection_with_their_code() {
    let limits = Limits { max_payload: 1000, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let unmasked = {
        let mut frame = client_frame(true, TEXT, b"3");
        frame[1] &= 0x7F;
        frame.drain(2..6);
        frame
    };
    let rsv1 = {
        let mut frame = client_frame(true, TEXT, b"3");
        frame[0] |= 0x40;
        frame
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("an unmasked frame", unmasked, 1002),
        ("RSV1 with no extension", rsv1, 1002),
        ("a reserved opcode", client_frame(true, 0x3, b""), 1002),
        ("a fragmented ping", client_frame(false, PING, b""), 1002),
        ("a 126-byte ping", client_frame(true, PING, &[b'p'; 126]), 1002),
        ("a continuation with nothing to continue", client_frame(true, CONTINUATION, b"x"), 1002),
        ("a text message that is not UTF-8", client_frame(true, TEXT, &[b'4', 0xC3, 0x28]), 1007),
        ("a close frame of one byte", client_frame(true, CLOSE, &[3]), 1002),
        ("a binary frame", client_frame(true, BINARY, b"42"), 1003),
        // Messages over twice the payload limit (and at least 4 KiB) close the connection;
        // below that the page is answered `too_large`.
        ("a frame over the size limit", client_frame(true, TEXT, &[b'x'; 4097]), 1009),
        (
            "fragments over the size limit",
            [client_frame(false, TEXT, &[b'x'; 3000]), client_frame(true, CONTINUATION, &[b'x'; 3000])].concat(),
            1009,
        ),
        ("a malformed Engine.IO packet", client_frame(true, TEXT, b"x"), 1008),
    ];
    for (what, frame, code) in cases {
        let mut raw = Raw::chat(addr).await;
        raw.send(&frame).await;
        let close = raw.control().await.unwrap_or_else(|| panic!("{what}: a close frame before the end"));
        assert_eq!(close.close_code(), Some(code), "{what}: {close:?}");
        assert_eq!(raw.frame().await, None, "{what}: then the stream ends");
    }
}

#[tokio::test]
async fn messages_with_16_and_64_bit_lengths_arrive_whole_and_fragments_trickle_in() {
    let limits = Limits { max_payload: 256 * 1024, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let mut raw = Raw::chat(addr).await;
    // A 16-bit length (the broadcast back has one too), then a 64-bit one: read whole, since
    // it is validated (and refused: the text is over the contract's 500 characters).
    let text = "é".repeat(150);
    raw.send_text(&format!("42{NS},1[\"send\",{{\"text\":\"{text}\"}}]")).await;
    let message = loop {
        let text = raw.text().await;
        if text.starts_with(&format!("42{NS},[\"message\"")) {
            break text;
        }
    };
    assert!(message.contains(&text), "the broadcast carries the whole text");
    assert!(raw.ack(1).await.starts_with(r#"[{"ok":true"#));
    let text = "é".repeat(35_000);
    raw.send_text(&format!("42{NS},2[\"send\",{{\"text\":\"{text}\"}}]")).await;
    let answer = raw.ack(2).await;
    assert!(answer.contains(r#""code":"invalid_payload""#), "{answer}");
    // One call in three fragments, written one byte per write, with a ping between.
    let call = format!("42{NS},3[\"whoami\",null]").into_bytes();
    let mut bytes = client_frame(false, TEXT, &call[..5]);
    bytes.extend(client_frame(true, PING, b"!"));
    bytes.extend(client_frame(false, CONTINUATION, &call[5..12]));
    bytes.extend(client_frame(true, CONTINUATION, &call[12..]));
    for byte in bytes {
        raw.send(&[byte]).await;
    }
    let pong = raw.control().await.expect("the ping between fragments is answered");
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &b"!"[..]));
    assert_eq!(raw.ack(3).await, r#"[{"ok":true,"data":"alice"}]"#);
}

#[tokio::test]
async fn a_page_closing_its_engineio_session_gets_a_normal_close() {
    let addr = common::start(Limits::default()).await.addr;
    let mut raw = Raw::chat(addr).await;
    raw.send_text("1").await;
    let close = raw.control().await.expect("a close frame");
    assert_eq!(close.close_code(), Some(1000), "{close:?}");
    assert_eq!(raw.frame().await, None);
}

#[tokio::test]
async fn a_page_that_pings_and_never_reads_is_dropped_before_its_pongs_grow_memory() {
    let limits = Limits { send_buffer_bytes: 64 * 1024, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let socket = tokio::net::TcpSocket::new_v4().expect("tcp socket");
    // A small receive window: the pongs back up on the server as soon as possible.
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut raw = Raw { tcp: socket.connect(addr).await.expect("tcp connect"), read: Vec::new() };
    let request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: session=alice\r\n\r\n";
    raw.send(request.as_bytes()).await;
    // Pings with the largest payload, never reading, until the server stops taking them: a
    // write fails once it has closed the connection. 200 MiB of pings is far past any bound.
    let pings: Vec<u8> = (0..512).flat_map(|_| client_frame(true, PING, &[b'p'; 125])).collect();
    let mut sent = 0usize;
    let refused = loop {
        match timeout(WAIT, raw.tcp.write_all(&pings)).await {
            Ok(Ok(())) => sent += pings.len(),
            Ok(Err(_)) => break true,
            // The server stopped reading without closing: it is holding the pings, not dropping.
            Err(_) => break false,
        }
        if sent > 200 << 20 {
            break false;
        }
    };
    assert!(refused, "the connection is closed (after {} KiB of pings)", sent / 1024);
}

// Issue 21: the upgrade, close codes, a close that must not become a reset, the head's size.

#[tokio::test]
async fn an_upgrade_is_a_get_with_version_13_and_a_16_byte_key() {
    let addr = common::start(Limits::default()).await.addr;
    let status = |head: &str| head.split(' ').nth(1).unwrap_or_default().to_owned();
    let post = HANDSHAKE.replacen("GET", "POST", 1);
    let (_, head) = Raw::request(addr, &post).await;
    assert_eq!(status(&head), "400", "a POST is not an upgrade: {head}");
    // Another version is told the one spoken (RFC 6455 4.2.2).
    let v8 = HANDSHAKE.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let (_, head) = Raw::request(addr, &v8).await;
    assert_eq!(status(&head), "426", "{head}");
    assert!(head.to_ascii_lowercase().lines().any(|l| l == "sec-websocket-version: 13"), "{head}");
    for key in ["abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSE=", "!!!!!!!!!!!!!!!!!!!!!!=="] {
        let bad = HANDSHAKE.replace("dGhlIHNhbXBsZSBub25jZQ==", key);
        let (_, head) = Raw::request(addr, &bad).await;
        assert_eq!(status(&head), "400", "key {key:?}: {head}");
    }
    let (_, head) = Raw::open(addr).await;
    assert_eq!(status(&head), "101", "{head}");
}

#[tokio::test]
async fn close_codes_1012_to_1014_are_a_normal_close() {
    let addr = common::start(Limits::default()).await.addr;
    for code in [1012u16, 1013, 1014] {
        let mut raw = Raw::chat(addr).await;
        raw.send(&client_frame(true, CLOSE, &code.to_be_bytes())).await;
        let answer = raw.control().await.expect("the close is answered");
        assert_eq!(answer.close_code(), Some(1000), "{code}: {answer:?}");
    }
}

#[tokio::test]
async fn a_server_close_with_input_unread_reaches_the_page_whole_not_as_a_reset() {
    let addr = common::start(Limits::default()).await.addr;
    for _ in 0..5 {
        let mut raw = Raw::chat(addr).await;
        // A frame the server refuses, then far more than one read takes, in one write: the
        // server closes with input unread.
        let mut bytes = client_frame(true, TEXT, b"x");
        for _ in 0..64 {
            bytes.extend(client_frame(true, TEXT, &[b'y'; 4000]));
        }
        raw.send(&bytes).await;
        let close = raw.control().await.expect("the close frame, not a reset");
        assert_eq!(close.close_code(), Some(1008), "{close:?}");
        // Then the end of the stream; the server still reads what comes (it drains until the
        // page closes), so a late frame of the page's meets no reset.
        let mut rest = [0u8; 1024];
        let end = timeout(WAIT, raw.tcp.read(&mut rest)).await.expect("the end of the stream");
        assert!(matches!(end, Ok(0)), "{end:?}");
        raw.tcp.write_all(&client_frame(true, TEXT, b"late")).await.expect("a late frame is taken");
        // On loopback a reset comes back within the write; none came.
        assert!(raw.tcp.take_error().expect("SO_ERROR").is_none(), "the server reset the connection");
    }
}

#[tokio::test]
async fn a_request_head_over_16_kib_is_refused() {
    let addr = common::start(Limits::default()).await.addr;
    let big = HANDSHAKE.replace("Cookie: session=alice", &format!("Cookie: session=alice; pad={}", "p".repeat(20_000)));
    let (_, head) = Raw::request(addr, &big).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    // 12 KiB of headers are still served.
    let fits =
        HANDSHAKE.replace("Cookie: session=alice", &format!("Cookie: session=alice; pad={}", "p".repeat(12_000)));
    let (_, head) = Raw::request(addr, &fits).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}
