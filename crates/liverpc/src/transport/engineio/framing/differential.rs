//! The server's framing against a second, well-kept implementation: tungstenite's server side
//! (a dev-dependency only), over arbitrary bytes and over valid client streams mutated at
//! random. Both must deliver the same messages with the same payloads, then both wait for
//! more or both refuse. The disagreements that remain are choices, each named here and in
//! docs/security.md (case P6):
//!
//! - **Refused from the header.** liverpc refuses a frame as soon as its header shows it is
//!   wrong (unmasked, a reserved bit, a fragmented or oversized control frame, a message that
//!   would be over the limit); tungstenite reads the whole frame first. On a stream cut inside
//!   such a frame liverpc has refused and tungstenite still waits.
//! - **Close code 1014** (IANA's "bad gateway") is accepted; tungstenite answers it as a
//!   protocol violation.
//! - A close frame with a code a peer may not send: tungstenite delivers it (as 1002) and
//!   closes, liverpc refuses it (and closes with 1002). The same end, counted as a refusal.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use proptest::prelude::*;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocket, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message as Theirs};

use super::*;

/// The largest message both take.
const LIMIT: usize = 300;

/// What a decoder made of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    messages: Vec<String>,
    end: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// It took every frame and waits for more.
    Waiting,
    Refused,
    /// A close frame ended it (what follows is not read).
    Closed,
}

fn describe(message: &Message<'_>) -> String {
    match message {
        Message::Text(text) => format!("text {text:?}"),
        Message::Binary => "binary".to_owned(),
        Message::Ping(payload) => format!("ping {payload:?}"),
        Message::Pong => "pong".to_owned(),
        Message::Close(code) => format!("close {code:?}"),
    }
}

/// liverpc's decoder, fed `chunk` bytes at a time as a reader feeds it.
fn ours(input: &[u8], chunk: usize) -> Outcome {
    let mut decoder = Decoder::new(LIMIT);
    let (mut pending, mut messages) = (Vec::new(), Vec::new());
    for piece in input.chunks(chunk.max(1)) {
        pending.extend_from_slice(piece);
        let mut at = 0;
        loop {
            match decoder.decode(&mut pending[at..]) {
                Ok(Some((message, used))) => {
                    at += used;
                    if let Some(message) = message {
                        messages.push(describe(&message));
                        if matches!(message, Message::Close(_)) {
                            return Outcome { messages, end: End::Closed };
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return Outcome { messages, end: End::Refused },
            }
        }
        pending.drain(..at);
    }
    Outcome { messages, end: End::Waiting }
}

/// A stream that yields `input` `chunk` bytes at a time, then would block; writes go nowhere.
struct Wire<'a> {
    input: &'a [u8],
    chunk: usize,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.chunk.max(1).min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// tungstenite's server side on the same stream, with the same limit.
fn theirs(input: &[u8], chunk: usize) -> Outcome {
    let config = WebSocketConfig::default().max_message_size(Some(LIMIT)).max_frame_size(Some(LIMIT));
    let mut socket = WebSocket::from_raw_socket(Wire { input, chunk }, Role::Server, Some(config));
    let mut messages = Vec::new();
    loop {
        let message = match socket.read() {
            Ok(message) => message,
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                return Outcome { messages, end: End::Waiting };
            }
            Err(_) => return Outcome { messages, end: End::Refused },
        };
        let mine = match message {
            Theirs::Text(text) => Message::Text(Cow::Owned(text.as_str().to_owned())),
            Theirs::Binary(_) => Message::Binary,
            Theirs::Ping(payload) => {
                messages.push(describe(&Message::Ping(&payload)));
                continue;
            }
            Theirs::Pong(_) => Message::Pong,
            // A code a peer may not send is delivered as a protocol violation: a refusal.
            Theirs::Close(Some(CloseFrame { code, reason })) => {
                let code = u16::from(code);
                if code == 1002 && reason.as_str() == "Protocol violation" {
                    return Outcome { messages, end: End::Refused };
                }
                Message::Close(Some(code))
            }
            Theirs::Close(None) => Message::Close(None),
            Theirs::Frame(_) => return Outcome { messages, end: End::Refused },
        };
        messages.push(describe(&mine));
        if matches!(mine, Message::Close(_)) {
            return Outcome { messages, end: End::Closed };
        }
    }
}

/// Whether a disagreement is one of the documented choices.
fn documented(ours: &Outcome, theirs: &Outcome) -> bool {
    // Refused from the header while tungstenite waits for the frame's body.
    let from_the_header = ours.end == End::Refused && theirs.end == End::Waiting && ours.messages == theirs.messages;
    // 1014 accepted.
    let bad_gateway = ours.end == End::Closed
        && theirs.end == End::Refused
        && ours.messages.last().is_some_and(|m| m == "close Some(1014)")
        && ours.messages[..ours.messages.len() - 1] == theirs.messages[..];
    from_the_header || bad_gateway
}

fn check(input: &[u8], chunk: usize) -> Result<(), TestCaseError> {
    let (mine, other) = (ours(input, chunk), theirs(input, chunk));
    if mine != other && !documented(&mine, &other) {
        return Err(TestCaseError::fail(format!(
            "liverpc {mine:?}\ntungstenite {other:?}\ninput {input:02x?} in reads of {chunk}"
        )));
    }
    Ok(())
}

/// One client frame as a generator sees it: any opcode, any bits, masked or not, with a
/// 7-, 16- or 64-bit length.
#[derive(Debug, Clone)]
struct Spec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    /// 0: the shortest length; 1: 16 bits; 2: 64 bits.
    width: u8,
    payload: Vec<u8>,
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 0xF));
        let mask_bit = if self.masked { 0x80 } else { 0 };
        let len = self.payload.len();
        match (self.width, len) {
            (0, 0..=125) => out.push(mask_bit | len as u8),
            (0 | 1, 0..=0xFFFF) => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
            out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ self.mask[i & 3]));
        } else {
            out.extend_from_slice(&self.payload);
        }
    }
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z€😀é]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
        // Around the limit and the control-frame bound.
        (120usize..130).prop_map(|n| vec![b'c'; n]),
        (LIMIT - 4..LIMIT + 4).prop_map(|n| vec![b'x'; n]),
        // A close payload: a code (any), maybe a reason.
        (any::<u16>(), "[a-z]{0,5}").prop_map(|(code, reason)| [&code.to_be_bytes()[..], reason.as_bytes()].concat()),
        prop_oneof![Just(1000u16), 1004u16..1016, 2999u16..3001, 4999u16..5001]
            .prop_map(|code| code.to_be_bytes().to_vec()),
    ]
}

/// Mostly what a client sends, sometimes anything.
fn spec() -> impl Strategy<Value = Spec> {
    let opcode = prop_oneof![
        4 => Just(TEXT),
        2 => Just(CONTINUATION),
        1 => Just(BINARY),
        2 => Just(CLOSE),
        2 => Just(PING),
        1 => Just(PONG),
        1 => 0u8..16,
    ];
    (
        prop::bool::weighted(0.7),
        prop_oneof![9 => Just(0u8), 1 => 0u8..8],
        opcode,
        prop::bool::weighted(0.95),
        any::<[u8; 4]>(),
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        payload(),
    )
        .prop_map(|(fin, rsv, opcode, masked, mask, width, payload)| Spec {
            fin,
            rsv,
            opcode,
            masked,
            mask,
            width,
            payload,
        })
}

/// A change to a valid stream.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len().max(1);
        match *mutation {
            Mutation::Flip(at, bit) => {
                if let Some(byte) = bytes.get_mut(at % len) {
                    *byte ^= 1 << (bit & 7);
                }
            }
            Mutation::Cut(at) => bytes.truncate(at % (len + 1)),
            Mutation::Insert(at, byte) => bytes.insert((at % len).min(bytes.len()), byte),
            Mutation::Remove(at) => {
                if !bytes.is_empty() {
                    bytes.remove(at % len);
                }
            }
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        any::<usize>().prop_map(Mutation::Cut),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

/// A valid stream: messages of text fragmented at random with control frames between.
fn valid() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(("[a-zé€😀]{0,60}", 1usize..4, any::<[u8; 4]>(), prop::bool::ANY), 1..5).prop_map(
        |messages| {
            let mut out = Vec::new();
            for (text, parts, mask, ping) in messages {
                let bytes = text.as_bytes();
                let step = bytes.len().div_ceil(parts).max(1);
                let pieces: Vec<&[u8]> = if bytes.is_empty() { vec![bytes] } else { bytes.chunks(step).collect() };
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = if i == 0 { TEXT } else { CONTINUATION };
                    let fin = i + 1 == pieces.len();
                    Spec { fin, rsv: 0, opcode, masked: true, mask, width: 0, payload: piece.to_vec() }
                        .encode(&mut out);
                    if ping && !fin {
                        Spec { fin: true, rsv: 0, opcode: PING, masked: true, mask, width: 0, payload: b"p".to_vec() }
                            .encode(&mut out);
                    }
                }
            }
            out
        },
    )
}

#[test]
fn the_documented_disagreements_are_the_ones_seen() {
    // Cut inside an unmasked frame: liverpc refuses from the header, tungstenite waits.
    let mut unmasked = Vec::new();
    Spec { fin: true, rsv: 0, opcode: TEXT, masked: false, mask: [0; 4], width: 0, payload: b"hello".to_vec() }
        .encode(&mut unmasked);
    unmasked.truncate(4);
    assert_eq!(ours(&unmasked, 64).end, End::Refused);
    assert_eq!(theirs(&unmasked, 64).end, End::Waiting);
    // Whole, both refuse.
    unmasked.extend_from_slice(b"llo");
    assert_eq!((ours(&unmasked, 64).end, theirs(&unmasked, 64).end), (End::Refused, End::Refused));
    // 1014.
    let mut close = Vec::new();
    Spec {
        fin: true,
        rsv: 0,
        opcode: CLOSE,
        masked: true,
        mask: [1; 4],
        width: 0,
        payload: 1014u16.to_be_bytes().to_vec(),
    }
    .encode(&mut close);
    assert_eq!(ours(&close, 64).end, End::Closed);
    assert_eq!(theirs(&close, 64).end, End::Refused);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_read_as_tungstenite_reads_them(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..64,
    ) {
        check(&input, chunk)?;
    }

    #[test]
    fn arbitrary_frames_are_read_as_tungstenite_reads_them(
        frames in proptest::collection::vec(spec(), 1..6),
        chunk in 1usize..400,
    ) {
        let mut input = Vec::new();
        for frame in &frames {
            frame.encode(&mut input);
        }
        check(&input, chunk)?;
    }

    #[test]
    fn mutated_valid_streams_are_read_as_tungstenite_reads_them(
        stream in valid(),
        mutations in proptest::collection::vec(mutation(), 0..4),
        chunk in 1usize..400,
    ) {
        check(&mutate(stream, &mutations), chunk)?;
    }
}
