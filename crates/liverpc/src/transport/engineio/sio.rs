//! Socket.IO v5 packets, as carried in Engine.IO messages:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`.

use serde_json::value::RawValue;

use crate::wire::id::Id;

/// A Socket.IO packet from the page.
#[derive(Debug)]
pub(super) enum SioPacket<'a> {
    /// `0`: connect to a namespace, with the handshake auth.
    Connect { namespace: &'a str, auth: Option<Box<RawValue>> },
    /// `1`: leave a namespace.
    Disconnect { namespace: &'a str },
    /// `2`: an event, its name and first argument, with an ack id when the page awaits one.
    Event { namespace: &'a str, id: Option<u64>, event: String, data: Option<Box<RawValue>> },
    /// `3`: the page's answer to a server event with an ack (liverpc never asks for one).
    Ack,
}

/// Why a message is not a Socket.IO packet the server takes. Never echoed with the input.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum SioPacketError {
    #[error("an empty Socket.IO packet")]
    Empty,
    #[error("an unknown Socket.IO packet type")]
    UnknownType,
    #[error("a binary Socket.IO packet (liverpc payloads are JSON)")]
    Binary,
    #[error("a packet from the server's side of the protocol")]
    ServerOnly,
    #[error("an ack id out of range")]
    AckId,
    #[error("a malformed payload")]
    Payload,
}

/// The namespace `/` is left out of packets.
const MAIN: &str = "/";

/// Parses one Socket.IO packet.
pub(super) fn decode(message: &str) -> Result<SioPacket<'_>, SioPacketError> {
    let mut kind = *message.as_bytes().first().ok_or(SioPacketError::Empty)?;
    let mut rest = message.get(1..).unwrap_or("");
    match kind {
        b'0'..=b'3' => {}
        b'4' => return Err(SioPacketError::ServerOnly),
        b'5' | b'6' => {
            // A binary event or ack announcing no attachment is a plain one (as socket.io-parser
            // reads it); any attachment is refused before anything is held.
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            match (rest.get(..digits), rest.get(digits..digits + 1)) {
                (Some(count), Some("-")) if !count.is_empty() && count.bytes().all(|b| b == b'0') => {
                    rest = rest.get(digits + 1..).unwrap_or("");
                    kind -= 3;
                }
                _ => return Err(SioPacketError::Binary),
            }
        }
        _ => return Err(SioPacketError::UnknownType),
    }
    let (namespace, rest) = split_namespace(rest)?;
    let (id, payload) = split_id(rest)?;
    match kind {
        b'0' => {
            if id.is_some() {
                return Err(SioPacketError::Payload);
            }
            let auth = match payload {
                "" => None,
                raw => Some(object(raw)?),
            };
            Ok(SioPacket::Connect { namespace, auth })
        }
        b'1' if id.is_none() && payload.is_empty() => Ok(SioPacket::Disconnect { namespace }),
        b'2' => {
            let (event, data) = event(payload)?;
            Ok(SioPacket::Event { namespace, id, event, data })
        }
        b'3' if id.is_some() && payload.starts_with('[') => Ok(SioPacket::Ack),
        _ => Err(SioPacketError::Payload),
    }
}

/// `/ns,rest` -> (`/ns`, `rest`); no leading `/` means the main namespace.
fn split_namespace(rest: &str) -> Result<(&str, &str), SioPacketError> {
    if !rest.starts_with('/') {
        return Ok((MAIN, rest));
    }
    match rest.split_once(',') {
        Some((namespace, rest)) => Ok((namespace, rest)),
        // A namespace with nothing after it, as socket.io-parser accepts (`1/chat`).
        None => Ok((rest, "")),
    }
}

/// Leading digits are the ack id (as socket.io-parser reads them), checked into a `u64`.
fn split_id(rest: &str) -> Result<(Option<u64>, &str), SioPacketError> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, rest));
    }
    let (id, payload) = rest.split_at(digits);
    id.parse::<u64>().map(|id| (Some(id), payload)).map_err(|_| SioPacketError::AckId)
}

/// A JSON object, kept raw.
fn object(raw: &str) -> Result<Box<RawValue>, SioPacketError> {
    if !raw.trim_start().starts_with('{') {
        return Err(SioPacketError::Payload);
    }
    serde_json::from_str::<Box<RawValue>>(raw).map_err(|_| SioPacketError::Payload)
}

/// `[name, arg0, ...]` -> (name, arg0): the generated client sends one argument.
fn event(raw: &str) -> Result<(String, Option<Box<RawValue>>), SioPacketError> {
    struct Args;
    impl<'de> serde::de::Visitor<'de> for Args {
        type Value = (String, Option<Box<RawValue>>);
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an event array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let name = seq.next_element::<String>()?.ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
            let first = seq.next_element::<Box<RawValue>>()?;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok((name, first))
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    let args = serde::Deserializer::deserialize_seq(&mut de, Args).map_err(|_| SioPacketError::Payload)?;
    de.end().map_err(|_| SioPacketError::Payload)?;
    Ok(args)
}

/// The length of the `<kind><namespace>,` prefix.
fn prefix_len(kind: &str, namespace: &str) -> usize {
    kind.len() + if namespace == MAIN { 0 } else { namespace.len() + 1 }
}

/// Writes the `<namespace>,` prefix (none for `/`).
fn prefix(out: &mut String, kind: &str, namespace: &str) {
    out.push_str(kind);
    if namespace != MAIN {
        out.push_str(namespace);
        out.push(',');
    }
}

// Each frame is made at its exact length: a frame becomes `Bytes`, which takes a `String`
// whose length is its capacity without allocating again.

/// `42<ns>,["event",payload]`, as an Engine.IO message, ready to send.
pub(super) fn event_frame(namespace: &str, event: &str, payload: &RawValue) -> String {
    event_frame_with(namespace, event, payload, None)
}

/// `42<ns>,["<event>",<payload>,<meta>]`: an event with a second argument (or none).
pub(super) fn event_frame_with(namespace: &str, event: &str, payload: &RawValue, meta: Option<&RawValue>) -> String {
    let extra = meta.map_or(0, |m| m.get().len() + 1);
    let len = prefix_len("42", namespace) + json_string_len(event) + payload.get().len() + extra + 3;
    let mut out = String::with_capacity(len);
    prefix(&mut out, "42", namespace);
    out.push('[');
    push_json_string(&mut out, event);
    out.push(',');
    out.push_str(payload.get());
    if let Some(meta) = meta {
        out.push(',');
        out.push_str(meta.get());
    }
    out.push(']');
    out
}

/// `43<ns>,<id>[answer]`.
pub(super) fn ack_frame(namespace: &str, id: u64, answer: &RawValue) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(prefix_len("43", namespace) + decimal_len(id) + answer.get().len() + 2);
    prefix(&mut out, "43", namespace);
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{id}");
    out.push('[');
    out.push_str(answer.get());
    out.push(']');
    out
}

/// `40<ns>,{"sid":"<sid>"}`.
pub(super) fn connect_frame(namespace: &str, sid: &Id) -> String {
    let mut out = String::with_capacity(prefix_len("40", namespace) + sid.len() + 10);
    prefix(&mut out, "40", namespace);
    out.push_str("{\"sid\":\"");
    // An id is hex digits: nothing to escape.
    out.push_str(sid);
    out.push_str("\"}");
    out
}

/// `44<ns>,{"message":"<code>"}`.
pub(super) fn connect_error_frame(namespace: &str, message: &str) -> String {
    let mut out = String::with_capacity(prefix_len("44", namespace) + json_string_len(message) + 12);
    prefix(&mut out, "44", namespace);
    out.push_str("{\"message\":");
    push_json_string(&mut out, message);
    out.push('}');
    out
}

/// `41<ns>,`.
pub(super) fn disconnect_frame(namespace: &str) -> String {
    let mut out = String::with_capacity(prefix_len("41", namespace));
    prefix(&mut out, "41", namespace);
    out
}

/// How many digits `n` has in decimal.
pub(super) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The length of `text` as a JSON string, quotes included, as [`push_json_string`] writes it.
pub(super) fn json_string_len(text: &str) -> usize {
    text.bytes().fold(2 + text.len(), |len, b| match b {
        b'"' | b'\\' | b'\x08' | b'\x0c' | b'\n' | b'\r' | b'\t' => len + 1,
        // `\u00XX`
        0..0x20 => len + 5,
        _ => len,
    })
}

/// `text` as a JSON string. Most are names and ids with nothing to escape: those are copied
/// as they are, with no serializer and no allocation.
pub(super) fn push_json_string(out: &mut String, text: &str) {
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
        return;
    }
    // A `&str` always serializes; the fallback keeps the frame valid JSON regardless.
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("valid json")
    }

    #[test]
    fn strings_are_written_as_serde_writes_them() {
        for text in [
            "",
            "message",
            "/rooms/[roomId]/chat",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "\u{1}",
            "\u{8}\u{c}\r\t\u{1f}\u{7f}",
            "é \u{2028} ✓",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
            assert_eq!(json_string_len(text), out.len(), "{text:?}");
        }
    }

    #[test]
    fn frames_are_made_at_their_exact_length() {
        let payload = raw(r#"{"a":1}"#);
        for namespace in ["/", "/rooms/[roomId]/chat"] {
            for name in ["message", "a\"b\u{1}\n"] {
                let frames = [
                    event_frame(namespace, name, &payload),
                    event_frame_with(namespace, name, &payload, Some(&raw("[1,2]"))),
                    ack_frame(namespace, 0, &payload),
                    ack_frame(namespace, 9, &payload),
                    ack_frame(namespace, 10, &payload),
                    ack_frame(namespace, u64::MAX, &payload),
                    connect_frame(namespace, &Id::random()),
                    connect_error_frame(namespace, name),
                    disconnect_frame(namespace),
                ];
                for frame in frames {
                    assert_eq!(frame.len(), frame.capacity(), "{frame}");
                }
            }
        }
    }

    #[test]
    fn connects() {
        match decode(r#"0/a/[b]/c,{"path":"/x"}"#) {
            Ok(SioPacket::Connect { namespace, auth }) => {
                assert_eq!(namespace, "/a/[b]/c");
                assert_eq!(auth.map(|a| a.get().to_owned()).as_deref(), Some(r#"{"path":"/x"}"#));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode("0"), Ok(SioPacket::Connect { namespace: "/", auth: None })));
        assert!(matches!(decode("0/a,"), Ok(SioPacket::Connect { namespace: "/a", auth: None })));
        assert_eq!(decode("0/a,[1]").err(), Some(SioPacketError::Payload), "auth is an object");
        assert_eq!(decode("0/a,{").err(), Some(SioPacketError::Payload));
        assert_eq!(decode("0/a,1{}").err(), Some(SioPacketError::Payload));
    }

    #[test]
    fn events_and_ack_ids() {
        match decode(r#"2/a,18446744073709551615["send",{"text":"hi"},2]"#) {
            Ok(SioPacket::Event { namespace, id, event, data }) => {
                assert_eq!((namespace, id, event.as_str()), ("/a", Some(u64::MAX), "send"));
                assert_eq!(data.map(|d| d.get().to_owned()).as_deref(), Some(r#"{"text":"hi"}"#));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode(r#"2["x"]"#), Ok(SioPacket::Event { namespace: "/", id: None, data: None, .. })));
        assert_eq!(decode(r#"2/a,18446744073709551616["x"]"#).err(), Some(SioPacketError::AckId));
        assert_eq!(decode(&format!("2/a,{}[\"x\"]", "9".repeat(5000))).err(), Some(SioPacketError::AckId));
        for bad in [r#"2/a,[]"#, r#"2/a,[1]"#, r#"2/a,{}"#, r#"2/a,["x"] x"#, r#"2/a,["x""#, "2/a,", "2/a,1"] {
            assert_eq!(decode(bad).err(), Some(SioPacketError::Payload), "{bad}");
        }
    }

    #[test]
    fn other_packets() {
        assert!(matches!(decode("1/a,"), Ok(SioPacket::Disconnect { namespace: "/a" })));
        assert!(matches!(decode("3/a,7[null]"), Ok(SioPacket::Ack)));
        assert_eq!(decode("3/a,[null]").err(), Some(SioPacketError::Payload));
        assert_eq!(decode(r#"51-/a,["x",{"_placeholder":true,"num":0}]"#).err(), Some(SioPacketError::Binary));
        assert_eq!(decode("6").err(), Some(SioPacketError::Binary));
        assert_eq!(decode("5-/a,[\"x\"]").err(), Some(SioPacketError::Binary));
        assert!(matches!(decode("50-/a,7[\"x\"]"), Ok(SioPacket::Event { id: Some(7), .. })));
        assert!(matches!(decode("600-/a,7[1]"), Ok(SioPacket::Ack)));
        assert_eq!(decode(r#"4/a,{"message":"x"}"#).err(), Some(SioPacketError::ServerOnly));
        assert_eq!(decode("").err(), Some(SioPacketError::Empty));
        assert_eq!(decode("x").err(), Some(SioPacketError::UnknownType));
    }

    #[test]
    fn frames() {
        assert_eq!(event_frame("/a", "m\"", &raw(r#"{"x":1}"#)), r#"42/a,["m\"",{"x":1}]"#);
        assert_eq!(event_frame("/", "m", &raw("1")), r#"42["m",1]"#);
        let at = raw(r#"{"offset":3}"#);
        assert_eq!(event_frame_with("/a", "m", &raw("1"), Some(&at)), r#"42/a,["m",1,{"offset":3}]"#);
        assert_eq!(ack_frame("/a", u64::MAX, &raw("true")), "43/a,18446744073709551615[true]");
        let sid = Id::parse("0123456789abcdef0123456789abcdef").expect("an id");
        assert_eq!(connect_frame("/a", &sid), r#"40/a,{"sid":"0123456789abcdef0123456789abcdef"}"#);
        assert_eq!(connect_error_frame("/a", "forbidden"), r#"44/a,{"message":"forbidden"}"#);
        assert_eq!(disconnect_frame("/a"), "41/a,");
    }
}
