//! Engine.IO v4 packets as websocket text frames: one packet per frame, its type a digit.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::sio;
use crate::wire::id::Id;

/// An Engine.IO packet from the page.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum EioPacket<'a> {
    /// `1`: the page closes the transport.
    Close,
    /// `2` with an optional payload (`2probe` during an upgrade).
    Ping(&'a str),
    /// `3`: the answer to the server's ping.
    Pong,
    /// `4`: a Socket.IO packet.
    Message(&'a str),
    /// `5`: the end of a polling -> websocket upgrade.
    Upgrade,
    /// `6`: nothing (sent by the client while it upgrades).
    Noop,
}

/// Why a frame is not an Engine.IO packet.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum EioPacketError {
    #[error("an empty Engine.IO packet")]
    Empty,
    #[error("an unknown Engine.IO packet type")]
    UnknownType,
}

/// Parses one text frame.
pub(super) fn decode(frame: &str) -> Result<EioPacket<'_>, EioPacketError> {
    let kind = frame.chars().next().ok_or(EioPacketError::Empty)?;
    // The type is one ASCII digit, so the rest starts at byte 1.
    let rest = frame.get(1..).unwrap_or("");
    match kind {
        '1' => Ok(EioPacket::Close),
        '2' => Ok(EioPacket::Ping(rest)),
        '3' => Ok(EioPacket::Pong),
        '4' => Ok(EioPacket::Message(rest)),
        '5' => Ok(EioPacket::Upgrade),
        '6' => Ok(EioPacket::Noop),
        _ => Err(EioPacketError::UnknownType),
    }
}

/// The server's ping.
pub(super) const PING: &str = "2";

/// The open packet: `0{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}`. Written
/// by hand into one string of its exact size (as the Socket.IO frames are): serializing it
/// cost a connect more than every other packet of its handshake (its numbers are `u128`
/// millis for serde).
pub(super) fn open(
    sid: &Id,
    upgrades: &[&str],
    ping_interval: Duration,
    ping_timeout: Duration,
    max_payload: usize,
) -> String {
    use std::fmt::Write;
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (interval, timeout, max) = (millis(ping_interval), millis(ping_timeout), max_payload as u64);
    let upgrades_len =
        upgrades.iter().map(|u| sio::json_string_len(u)).sum::<usize>() + upgrades.len().saturating_sub(1);
    let numbers = sio::decimal_len(interval) + sio::decimal_len(timeout) + sio::decimal_len(max);
    let mut packet = String::with_capacity(OPEN_KEYS_LEN + sid.len() + 2 + upgrades_len + numbers);
    packet.push_str("0{\"sid\":\"");
    // An id is hex digits: nothing to escape.
    packet.push_str(sid);
    packet.push_str("\",\"upgrades\":[");
    for (i, upgrade) in upgrades.iter().enumerate() {
        if i > 0 {
            packet.push(',');
        }
        sio::push_json_string(&mut packet, upgrade);
    }
    // Writing to a `String` cannot fail.
    let _ = write!(packet, "],\"pingInterval\":{interval},\"pingTimeout\":{timeout},\"maxPayload\":{max}}}");
    packet
}

/// The open packet's bytes besides its values: `0{"sid":,"upgrades":[],"pingInterval":,"pingTimeout":,"maxPayload":}`.
const OPEN_KEYS_LEN: usize = r#"0{"sid":,"upgrades":[],"pingInterval":,"pingTimeout":,"maxPayload":}"#.len();

/// An Engine.IO error response: `{"code":n,"message":"..."}`.
pub(super) fn error(status: StatusCode, code: u8, message: &'static str) -> Response {
    let body = format!("{{\"code\":{code},\"message\":\"{message}\"}}");
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        assert_eq!(decode("3"), Ok(EioPacket::Pong));
        assert_eq!(decode("2probe"), Ok(EioPacket::Ping("probe")));
        assert_eq!(decode("40/a,"), Ok(EioPacket::Message("0/a,")));
        assert_eq!(decode("4"), Ok(EioPacket::Message("")));
        assert_eq!(decode(""), Err(EioPacketError::Empty));
        assert_eq!(decode("9"), Err(EioPacketError::UnknownType));
        assert_eq!(decode("0{}"), Err(EioPacketError::UnknownType), "the page never sends an open packet");
        assert_eq!(decode("é"), Err(EioPacketError::UnknownType));
    }

    #[test]
    fn open_packet() {
        let sid = Id::parse("0123456789abcdef0123456789abcdef").expect("an id");
        let open = open(&sid, &[], Duration::from_secs(25), Duration::from_secs(20), 1000);
        assert_eq!(
            open,
            r#"0{"sid":"0123456789abcdef0123456789abcdef","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}"#
        );
        assert_eq!(open.len(), open.capacity(), "made at its exact length");
        let upgrades =
            super::open(&sid, &["websocket", "a\"b"], Duration::from_millis(1), Duration::from_millis(0), 30);
        assert_eq!(upgrades.len(), upgrades.capacity(), "made at its exact length");
        let json: serde_json::Value = serde_json::from_str(&upgrades[1..]).expect("the open packet is JSON");
        assert_eq!(
            json,
            serde_json::json!({"sid": &*sid, "upgrades": ["websocket", "a\"b"], "pingInterval": 1, "pingTimeout": 0, "maxPayload": 30})
        );
    }
}
