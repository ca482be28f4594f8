//! WebSocket framing (RFC 6455), the server's side, without I/O: frames from the page are
//! parsed out of whatever bytes have arrived, frames to the page are appended to a write
//! buffer. No extension is negotiated, so every RSV bit must be clear.
//!
//! What a server must check is checked: client frames are masked, control frames are final and
//! at most 125 bytes, continuations follow a fragmented message and nothing else interrupts it
//! but control frames, text is UTF-8 once whole, the close frame's code and reason are valid,
//! and no frame or message is larger than the limit. Any failure ends the connection with the
//! close code RFC 6455 gives it.

use std::borrow::Cow;

/// Why a connection's input is refused, each with its close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum WsError {
    #[error("a websocket protocol error ({0})")]
    Protocol(&'static str),
    #[error("a websocket text message that is not UTF-8")]
    Utf8,
    #[error("a websocket message over the size limit")]
    TooBig,
}

impl WsError {
    /// The close code sent to the page.
    pub(super) fn code(self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::Utf8 => 1007,
            WsError::TooBig => 1009,
        }
    }
}

/// A message (or control frame) from the page. Text borrows the read buffer when it came in
/// one frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Message<'a> {
    Text(Cow<'a, str>),
    Binary,
    Ping(&'a [u8]),
    Pong,
    /// The page's close frame: its code, if it sent one.
    Close(Option<u16>),
}

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The reading side's state between frames: a fragmented message under way, if any.
#[derive(Debug)]
pub(super) struct Decoder {
    max_message: usize,
    /// The fragmented message under way, if any (boxed: pages rarely fragment, and this sits
    /// in every connection's task).
    fragments: Option<Box<Fragments>>,
}

/// A fragmented message so far: its first frame's opcode, its bytes, and how many of them are
/// known to be UTF-8 (text is checked as it arrives, so a page cannot send a long message
/// whose first bytes already make it invalid).
#[derive(Debug)]
struct Fragments {
    opcode: u8,
    bytes: Vec<u8>,
    valid: usize,
}

impl Fragments {
    /// Checks the text that arrived since the last check; a character split at the end waits
    /// for the next fragment.
    fn check(&mut self) -> Result<(), WsError> {
        if self.opcode != TEXT {
            return Ok(());
        }
        match std::str::from_utf8(&self.bytes[self.valid..]) {
            Ok(_) => self.valid = self.bytes.len(),
            Err(e) if e.error_len().is_none() => self.valid += e.valid_up_to(),
            Err(_) => return Err(WsError::Utf8),
        }
        Ok(())
    }
}

impl Decoder {
    pub(super) fn new(max_message: usize) -> Decoder {
        Decoder { max_message, fragments: None }
    }

    /// How many bytes the frame at the start of `input` needs in all, once its header is there
    /// (so a reader can size its buffer); `None` while the header is incomplete.
    pub(super) fn frame_len(input: &[u8]) -> Option<usize> {
        header(input)
            .ok()
            .flatten()
            .map(|h| h.header_len.saturating_add(usize::try_from(h.payload_len).unwrap_or(usize::MAX)))
    }

    /// The bytes held for a fragmented message under way (its allocation).
    pub(super) fn buffered(&self) -> usize {
        self.fragments.as_ref().map_or(0, |f| f.bytes.capacity())
    }

    /// Parses the frame at the start of `input` (unmasking it in place): `Ok(None)` while it is
    /// incomplete, else what it carried (`None` for a fragment that completes no message) and
    /// the bytes it took.
    pub(super) fn decode<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<Option<(Option<Message<'a>>, usize)>, WsError> {
        let Some(h) = header(input)? else { return Ok(None) };
        // From the header, before any of the body is held: the frame, and the message it
        // continues with it.
        let so_far = match (h.opcode, &self.fragments) {
            (CONTINUATION, Some(fragments)) => fragments.bytes.len() as u64,
            _ => 0,
        };
        if h.payload_len.saturating_add(so_far) > self.max_message as u64 {
            return Err(WsError::TooBig);
        }
        let end = h.header_len + h.payload_len as usize;
        if input.len() < end {
            return Ok(None);
        }
        let payload = &mut input[h.header_len..end];
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= h.mask[i & 3];
        }
        let payload: &'a [u8] = payload;
        let message = match h.opcode {
            PING => Some(Message::Ping(payload)),
            PONG => Some(Message::Pong),
            CLOSE => Some(Message::Close(close_code(payload)?)),
            TEXT | BINARY if self.fragments.is_some() => {
                return Err(WsError::Protocol("a new message inside a fragmented one"));
            }
            TEXT if h.fin => Some(Message::Text(Cow::Borrowed(text(payload)?))),
            BINARY if h.fin => Some(Message::Binary),
            TEXT | BINARY => {
                let mut fragments = Fragments { opcode: h.opcode, bytes: payload.to_vec(), valid: 0 };
                fragments.check()?;
                self.fragments = Some(Box::new(fragments));
                None
            }
            CONTINUATION => {
                let Some(fragments) = self.fragments.as_mut() else {
                    return Err(WsError::Protocol("a continuation with no message to continue"));
                };
                fragments.bytes.extend_from_slice(payload);
                fragments.check()?;
                if h.fin { self.finish()? } else { None }
            }
            _ => return Err(WsError::Protocol("a reserved opcode")),
        };
        Ok(Some((message, end)))
    }

    /// The fragmented message, now whole.
    fn finish(&mut self) -> Result<Option<Message<'static>>, WsError> {
        match self.fragments.take().map(|fragments| *fragments) {
            Some(Fragments { opcode: TEXT, bytes, .. }) => {
                String::from_utf8(bytes).map(|text| Some(Message::Text(Cow::Owned(text)))).map_err(|_| WsError::Utf8)
            }
            Some(_) => Ok(Some(Message::Binary)),
            None => Ok(None),
        }
    }
}

struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    header_len: usize,
    payload_len: u64,
}

/// The frame header at the start of `input`, checked; `None` while incomplete.
fn header(input: &[u8]) -> Result<Option<Header>, WsError> {
    let (Some(&first), Some(&second)) = (input.first(), input.get(1)) else { return Ok(None) };
    let (fin, opcode) = (first & 0x80 != 0, first & 0x0F);
    if first & 0x70 != 0 {
        return Err(WsError::Protocol("a reserved bit is set"));
    }
    if second & 0x80 == 0 {
        return Err(WsError::Protocol("an unmasked frame from the client"));
    }
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(WsError::Protocol("a reserved opcode"));
    }
    let (len_bytes, short) = match second & 0x7F {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let header_len = 2 + len_bytes + 4;
    if input.len() < header_len {
        return Ok(None);
    }
    let payload_len = short.unwrap_or_else(|| input[2..2 + len_bytes].iter().fold(0, |n, &b| n << 8 | u64::from(b)));
    if payload_len >> 63 != 0 {
        return Err(WsError::Protocol("a payload length with its top bit set"));
    }
    if opcode & 0x8 != 0 && (!fin || payload_len > 125) {
        return Err(WsError::Protocol("a fragmented or oversized control frame"));
    }
    let mut mask = [0; 4];
    mask.copy_from_slice(&input[2 + len_bytes..header_len]);
    Ok(Some(Header { fin, opcode, mask, header_len, payload_len }))
}

fn text(payload: &[u8]) -> Result<&str, WsError> {
    std::str::from_utf8(payload).map_err(|_| WsError::Utf8)
}

/// A close frame's code: none, or a code a peer may send, with a UTF-8 reason.
fn close_code(payload: &[u8]) -> Result<Option<u16>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("a close frame of one byte")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            // RFC 6455's codes and IANA's registered 1012-1014 (restart, try again later, bad
            // gateway), which browsers and proxies send.
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !allowed {
                return Err(WsError::Protocol("a close code a peer may not send"));
            }
            text(reason)?;
            Ok(Some(code))
        }
    }
}

/// Appends a text frame (final, unmasked: the server's) to `out`.
pub(super) fn text_frame(out: &mut Vec<u8>, payload: &[u8]) {
    frame(out, TEXT, payload);
}

/// Appends the answer to a ping.
pub(super) fn pong_frame(out: &mut Vec<u8>, payload: &[u8]) {
    frame(out, PONG, payload);
}

/// Appends a close frame with its code.
pub(super) fn close_frame(out: &mut Vec<u8>, code: u16) {
    frame(out, CLOSE, &code.to_be_bytes());
}

fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let (head, len) = header_of(opcode, payload.len());
    out.reserve(len + payload.len());
    out.extend_from_slice(&head[..len]);
    out.extend_from_slice(payload);
}

/// The header of a text frame of `len` bytes (a server's frames are not masked): its bytes,
/// and how many of them it takes.
pub(super) fn text_header(len: usize) -> ([u8; 10], usize) {
    header_of(TEXT, len)
}

fn header_of(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut head = [0u8; 10];
    head[0] = 0x80 | opcode;
    match len {
        n @ 0..=125 => {
            head[1] = n as u8;
            (head, 2)
        }
        n @ 126..=0xFFFF => {
            head[1] = 126;
            head[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            (head, 4)
        }
        n => {
            head[1] = 127;
            head[2..10].copy_from_slice(&(n as u64).to_be_bytes());
            (head, 10)
        }
    }
}

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 asks: 16 bytes, in base64 (24 characters).
/// Decoded on the stack.
pub(super) fn valid_key(key: &[u8]) -> bool {
    let mut bytes = [0u8; 18];
    key.len() == 24 && data_encoding::BASE64.decode_mut(key, &mut bytes).is_ok_and(|len| len == 16)
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: 28 characters of base64, on the stack.
pub(super) fn accept_key(key: &[u8]) -> [u8; 28] {
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let mut accept = [0u8; 28];
    data_encoding::BASE64.encode_mut(&sha.finalize(), &mut accept);
    accept
}

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client's frame: masked with `mask`.
    fn client(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(&mut out, opcode, payload);
        out[0] = if fin { out[0] } else { out[0] & 0x7F };
        out[1] |= 0x80;
        let start = out.len() - payload.len();
        out.splice(start..start, mask);
        for (i, byte) in out[start + 4..].iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
        out
    }

    /// Every message in `input`, as owned values, decoding as far as it goes.
    fn decode_all(decoder: &mut Decoder, input: &mut [u8]) -> (Vec<String>, Result<usize, WsError>) {
        let mut seen = Vec::new();
        let mut at = 0;
        loop {
            match decoder.decode(&mut input[at..]) {
                Ok(Some((message, used))) => {
                    if let Some(message) = message {
                        seen.push(format!("{message:?}"));
                    }
                    at += used;
                }
                Ok(None) => return (seen, Ok(at)),
                Err(e) => return (seen, Err(e)),
            }
        }
    }

    #[test]
    fn the_handshake_key_is_answered_as_rfc_6455_shows() {
        assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn a_handshake_key_is_16_bytes_in_base64() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for key in
            [&b""[..], b"abc", b"dGhlIHNhbXBsZSBub25jZQ", b"dGhlIHNhbXBsZSBub25jZQ=!", b"dGhlIHNhbXBsZSBub25jZSE="]
        {
            assert!(!valid_key(key), "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn a_masked_text_frame_is_unmasked_and_borrowed() {
        let mut input = client(true, TEXT, b"42[\"hi\"]", [1, 2, 3, 4]);
        let mut decoder = Decoder::new(1024);
        let (message, used) = decoder.decode(&mut input).unwrap().unwrap();
        assert_eq!(message, Some(Message::Text(Cow::Borrowed("42[\"hi\"]"))));
        assert_eq!(used, 14);
    }

    #[test]
    fn lengths_of_16_and_64_bits_are_read() {
        for len in [125, 126, 65_535, 65_536, 70_000] {
            let text = "x".repeat(len);
            let mut input = client(true, TEXT, text.as_bytes(), [9, 8, 7, 6]);
            let mut decoder = Decoder::new(100_000);
            let (message, used) = decoder.decode(&mut input).unwrap().unwrap();
            assert_eq!(message, Some(Message::Text(Cow::Owned(text))));
            assert_eq!(used, input.len());
        }
    }

    #[test]
    fn an_incomplete_frame_waits_for_more() {
        let input = client(true, TEXT, b"hello", [0, 0, 0, 0]);
        let mut decoder = Decoder::new(1024);
        for cut in 0..input.len() {
            let mut head = input[..cut].to_vec();
            assert_eq!(decoder.decode(&mut head), Ok(None), "{cut} bytes of {}", input.len());
        }
    }

    #[test]
    fn fragments_make_one_message_with_control_frames_between() {
        let mut input = client(false, TEXT, "héllo, ".as_bytes(), [1, 1, 1, 1]);
        input.extend(client(true, PING, b"p", [2, 2, 2, 2]));
        // A multi-byte character split across two fragments.
        let world = "wörld".as_bytes();
        input.extend(client(false, CONTINUATION, &world[..2], [3, 3, 3, 3]));
        input.extend(client(true, CONTINUATION, &world[2..], [4, 4, 4, 4]));
        let (seen, rest) = decode_all(&mut Decoder::new(1024), &mut input);
        assert_eq!(seen, ["Ping([112])", "Text(\"héllo, wörld\")"]);
        assert_eq!(rest, Ok(input.len()));
    }

    #[test]
    fn protocol_errors_have_their_close_codes() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            // Unmasked.
            (
                {
                    let mut f = Vec::new();
                    frame(&mut f, TEXT, b"hi");
                    f
                },
                1002,
            ),
            // RSV1 set (no extension was negotiated).
            (
                {
                    let mut f = client(true, TEXT, b"hi", [1, 2, 3, 4]);
                    f[0] |= 0x40;
                    f
                },
                1002,
            ),
            (client(true, 0x3, b"", [0; 4]), 1002),
            (client(false, PING, b"", [0; 4]), 1002),
            (client(true, PING, &[0; 126], [0; 4]), 1002),
            (client(true, CONTINUATION, b"x", [0; 4]), 1002),
            ([client(false, TEXT, b"a", [0; 4]), client(true, TEXT, b"b", [0; 4])].concat(), 1002),
            (client(true, TEXT, &[0xC3, 0x28], [5; 4]), 1007),
            (client(true, CLOSE, &[3], [0; 4]), 1002),
            (client(true, CLOSE, &1005u16.to_be_bytes(), [0; 4]), 1002),
            (client(true, CLOSE, &[0x03, 0xE8, 0xFF], [0; 4]), 1007),
            (client(true, TEXT, &[b'x'; 2000], [0; 4]), 1009),
            (
                [client(false, TEXT, &[b'x'; 800], [0; 4]), client(true, CONTINUATION, &[b'x'; 800], [0; 4])].concat(),
                1009,
            ),
        ];
        for (i, (mut input, code)) in cases.into_iter().enumerate() {
            let (_, rest) = decode_all(&mut Decoder::new(1024), &mut input);
            assert_eq!(rest.map_err(WsError::code), Err(code), "case {i}");
        }
    }

    #[test]
    fn a_too_big_frame_is_refused_from_its_header() {
        let mut header = vec![0x81, 0xFF];
        header.extend(u64::MAX.to_be_bytes());
        header.extend([0; 4]);
        assert!(Decoder::new(1024).decode(&mut header).is_err());
        let mut header = vec![0x81, 0xFE, 0xFF, 0xFF, 0, 0, 0, 0];
        assert_eq!(Decoder::new(1024).decode(&mut header).err(), Some(WsError::TooBig));
    }

    #[test]
    fn a_continuation_too_big_for_its_message_is_refused_from_its_header() {
        // 800 bytes so far, and a continuation declaring 800 more of a 1,024-byte limit: refused
        // with only the header arrived, before its body is held.
        let mut input = client(false, TEXT, &[b'x'; 800], [0; 4]);
        let first = input.len();
        input.extend(client(true, CONTINUATION, &[b'x'; 800], [0; 4]));
        input.truncate(first + 8);
        let (_, rest) = decode_all(&mut Decoder::new(1024), &mut input);
        assert_eq!(rest, Err(WsError::TooBig));
    }

    #[test]
    fn a_fragmented_text_is_refused_at_its_first_invalid_byte() {
        // The first fragment is not UTF-8 (and not a character cut at its end): refused before
        // the message is whole.
        let mut input = client(false, TEXT, &[b'a', 0xFF, b'b'], [3; 4]);
        let (_, rest) = decode_all(&mut Decoder::new(1024), &mut input);
        assert_eq!(rest, Err(WsError::Utf8));
        // A character cut between fragments is not an error.
        let euro = "€".as_bytes();
        let mut input = client(false, TEXT, &euro[..1], [3; 4]);
        input.extend(client(false, CONTINUATION, &euro[1..2], [3; 4]));
        input.extend(client(true, CONTINUATION, &euro[2..], [3; 4]));
        let (seen, rest) = decode_all(&mut Decoder::new(1024), &mut input);
        assert_eq!((seen, rest), (vec!["Text(\"€\")".to_owned()], Ok(input.len())));
    }

    #[test]
    fn close_codes_1012_to_1014_are_accepted() {
        for code in [1012u16, 1013, 1014] {
            let mut input = client(true, CLOSE, &code.to_be_bytes(), [7; 4]);
            let (seen, rest) = decode_all(&mut Decoder::new(1024), &mut input);
            assert_eq!((seen, rest), (vec![format!("Close(Some({code}))")], Ok(input.len())));
        }
        for code in [1004u16, 1005, 1006, 1015, 1016, 2999, 5000] {
            let mut input = client(true, CLOSE, &code.to_be_bytes(), [7; 4]);
            let (_, rest) = decode_all(&mut Decoder::new(1024), &mut input);
            assert!(rest.is_err(), "{code}");
        }
    }

    #[test]
    fn close_frames_carry_their_code() {
        let mut input = client(true, CLOSE, &[0x03, 0xE8, b'o', b'k'], [7; 4]);
        input.extend(client(true, CLOSE, b"", [7; 4]));
        let (seen, _) = decode_all(&mut Decoder::new(1024), &mut input);
        assert_eq!(seen, ["Close(Some(1000))", "Close(None)"]);
    }

    #[test]
    fn server_frames_are_unmasked_with_the_shortest_length() {
        let mut out = Vec::new();
        text_frame(&mut out, b"hi");
        assert_eq!(out, [0x81, 2, b'h', b'i']);
        out.clear();
        text_frame(&mut out, &[b'x'; 300]);
        assert_eq!(out[..4], [0x81, 126, 1, 44]);
        out.clear();
        close_frame(&mut out, 1009);
        assert_eq!(out, [0x88, 2, 0x03, 0xF1]);
    }

    proptest! {
        // The fuzz target: arbitrary bytes, cut anywhere, never panic and never read past a
        // frame; a refusal is final.
        #[test]
        fn arbitrary_input_never_panics(mut input in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut decoder = Decoder::new(256);
            let (_, rest) = decode_all(&mut decoder, &mut input);
            if let Ok(at) = rest {
                prop_assert!(at <= input.len());
            }
        }

        // Valid frames, fragmented and masked at random, fed in arbitrary chunks, give back
        // exactly the messages sent.
        #[test]
        fn messages_survive_any_fragmentation_and_chunking(
            messages in proptest::collection::vec("[a-zé€😀]{0,40}", 1..6),
            splits in proptest::collection::vec(1usize..8, 6),
            chunk in 1usize..50,
            mask in any::<[u8; 4]>(),
        ) {
            let (mut wire, mut expected) = (Vec::new(), Vec::new());
            let text = |m: &str| format!("{:?}", Message::Text(Cow::Borrowed(m)));
            let pong = format!("{:?}", Message::Pong);
            for (message, parts) in messages.iter().zip(&splits) {
                let bytes = message.as_bytes();
                let step = bytes.len().div_ceil(*parts).max(1);
                let pieces: Vec<&[u8]> = if bytes.is_empty() { vec![bytes] } else { bytes.chunks(step).collect() };
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = if i == 0 { TEXT } else { CONTINUATION };
                    wire.extend(client(i + 1 == pieces.len(), opcode, piece, mask));
                    // A control frame after the first fragment: inside the message when it has
                    // more than one.
                    if i == 0 {
                        wire.extend(client(true, PONG, b"", mask));
                    }
                }
                if pieces.len() == 1 {
                    expected.extend([text(message), pong.clone()]);
                } else {
                    expected.extend([pong.clone(), text(message)]);
                }
            }
            // A reader's loop: bytes arrive `chunk` at a time into a pending buffer.
            let mut decoder = Decoder::new(1024);
            let (mut pending, mut seen) = (Vec::new(), Vec::new());
            for piece in wire.chunks(chunk) {
                pending.extend_from_slice(piece);
                let (got, rest) = decode_all(&mut decoder, &mut pending);
                seen.extend(got);
                pending.drain(..rest.expect("valid frames"));
            }
            prop_assert!(pending.is_empty());
            prop_assert_eq!(seen, expected);
        }
    }
}
