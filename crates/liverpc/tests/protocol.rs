//! The Engine.IO / Socket.IO protocol at the edges the official client's tests do not reach:
//! namespaces nobody serves, ack ids at the ends of their range, malformed input at the
//! websocket and Engine.IO layers, fragmented messages with control frames between the
//! fragments, and heartbeats.

mod common;
mod hardening_raw;

use std::time::Duration;

use futures_util::SinkExt;
use hardening_raw::{Logs, NS, Next, Polling, WAIT, Ws};
use liverpc::Limits;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

async fn alice(addr: std::net::SocketAddr) -> Ws {
    Ws::chat(addr, Some("alice"), "/rooms/general").await
}

#[tokio::test]
async fn a_connect_to_an_unknown_namespace_is_refused_and_the_connection_stays() {
    let addr = common::start(Limits::default()).await.addr;
    let mut ws = Ws::open(addr, &[("cookie", "session=alice")]).await;
    ws.send(r#"40/nobody/serves/this,{"path":"/x"}"#).await;
    match ws.recv_packet(WAIT).await {
        Next::Text(t) => {
            let body = t.strip_prefix("44/nobody/serves/this,").unwrap_or_else(|| panic!("a CONNECT_ERROR: {t}"));
            let body: serde_json::Value = serde_json::from_str(body).expect("json");
            assert!(body["message"].is_string(), "{body}");
        }
        other => panic!("expected a CONNECT_ERROR, got {other:?}"),
    }
    // The same connection still connects the served namespace.
    ws.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
    let connected = ws.recv_packet(WAIT).await;
    assert!(matches!(&connected, Next::Text(t) if t.starts_with(&format!("40{NS},{{\"sid\":"))), "{connected:?}");
    assert_eq!(ws.call(3, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn acks_carry_ids_up_to_u64_max_back_unchanged() {
    let addr = common::start(Limits::default()).await.addr;
    let mut ws = alice(addr).await;
    // Past JavaScript's largest safe integer: the server answers every u64.
    for id in [0, 1, u64::from(u32::MAX) + 1, (1 << 53) - 1, u64::MAX] {
        assert_eq!(ws.call(id, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })), "id {id}");
    }
}

#[tokio::test]
async fn a_message_in_fragments_with_control_frames_between_is_one_packet() {
    let addr = common::start(Limits::default()).await.addr;
    let mut ws = alice(addr).await;
    // A call split in three fragments, a two-byte character cut between two of them, and a
    // ping and a pong between the fragments (RFC 6455 allows control frames there).
    let call = format!("42{NS},7[\"send\",{{\"text\":\"café\"}}]").into_bytes();
    let cut = call.iter().position(|b| *b == 0xC3).expect("é") + 1;
    let frames = [
        RawFrame::message(call[..10].to_vec(), OpCode::Data(Data::Text), false),
        RawFrame::ping(b"p".to_vec()),
        RawFrame::message(call[10..cut].to_vec(), OpCode::Data(Data::Continue), false),
        RawFrame::pong(Vec::new()),
        RawFrame::message(call[cut..].to_vec(), OpCode::Data(Data::Continue), true),
    ];
    for frame in frames {
        ws.stream.send(Frame::Frame(frame)).await.expect("send a fragment");
    }
    let mut seen = Vec::new();
    let answer = ws.until_ack(7, &mut seen).await.expect("the fragmented call is answered");
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert!(seen.iter().any(|p| p.contains(r#""text":"café""#)), "the message, reassembled: {seen:?}");
    // Calls interleaved with Engine.IO pongs are answered in order.
    for id in 10..14 {
        ws.send("3").await;
        ws.send(&format!("42{NS},{id}[\"whoami\",null]")).await;
    }
    for id in 10..14 {
        assert_eq!(ws.until_ack(id, &mut Vec::new()).await, Some(json!({ "ok": true, "data": "alice" })), "id {id}");
    }
}

#[tokio::test]
async fn malformed_websocket_and_engineio_input_closes_only_that_connection() {
    let addr = common::start(Limits::default()).await.addr;
    let mut bystander = Ws::chat(addr, Some("bob"), "/rooms/general").await;
    type Hostile = Box<dyn Fn() -> RawFrame>;
    let cases: Vec<(&str, Hostile)> = vec![
        (
            "invalid UTF-8 in a text frame",
            Box::new(|| RawFrame::message(vec![0x34, 0xFF, 0xFE], OpCode::Data(Data::Text), true)),
        ),
        ("an empty text frame", Box::new(|| RawFrame::message(Vec::new(), OpCode::Data(Data::Text), true))),
        (
            "a continuation without a start",
            Box::new(|| RawFrame::message(b"42".to_vec(), OpCode::Data(Data::Continue), true)),
        ),
        ("a reserved opcode", Box::new(|| RawFrame::message(b"x".to_vec(), OpCode::Data(Data::Reserved(3)), true))),
    ];
    for (what, frame) in &cases {
        let mut victim = alice(addr).await;
        let _ = victim.stream.send(Frame::Frame(frame())).await;
        assert!(victim.closed_within(WAIT).await.is_some(), "{what}: the connection is closed");
        assert_eq!(
            bystander.call(1, "whoami", "null").await,
            Some(json!({ "ok": true, "data": "bob" })),
            "after {what}"
        );
    }
}

#[tokio::test]
async fn pings_come_every_interval_and_pongs_keep_the_connection() {
    let limits = Limits {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(1000),
        ..Limits::default()
    };
    let addr = common::start(limits).await.addr;
    let mut ws = alice(addr).await;
    let mut pings = 0;
    while pings < 3 {
        match ws.recv(WAIT).await {
            Next::Text(t) if t == "2" => {
                pings += 1;
                ws.send("3").await;
            }
            Next::Text(_) => {}
            other => panic!("dropped while answering pings: {other:?}"),
        }
    }
    assert_eq!(ws.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn a_polling_session_upgrades_to_a_websocket_and_keeps_its_sockets() {
    use futures_util::StreamExt;

    let addr = common::start(Limits::default()).await.addr;
    let polling = Polling::open(addr, &[("cookie", "session=alice")]).await;
    polling.post(&[&format!("40{NS},{{\"path\":\"/rooms/general\"}}")]).await.expect("connect posted");
    assert!(polling.until("40").await.is_some(), "connected over polling");

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&sid={}", polling.sid);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket upgrade");
    ws.send(Frame::text("2probe")).await.expect("probe");
    let probe = tokio::time::timeout(WAIT, ws.next()).await.expect("an answer").expect("open").expect("a frame");
    assert_eq!(probe, Frame::text("3probe"));
    ws.send(Frame::text("5")).await.expect("upgrade");
    ws.send(Frame::text(format!("42{NS},1[\"whoami\",null]"))).await.expect("call");
    let mut ws = Ws { stream: ws };
    assert_eq!(
        ws.until_ack(1, &mut Vec::new()).await,
        Some(json!({ "ok": true, "data": "alice" })),
        "the socket connected over polling answers over the websocket"
    );
}

/// A polling session of alice's with the chat namespace connected.
async fn alice_polling(addr: std::net::SocketAddr) -> Polling {
    let polling = Polling::open(addr, &[("cookie", "session=alice")]).await;
    polling.post(&[&format!("40{NS},{{\"path\":\"/rooms/general\"}}")]).await.expect("connect posted");
    assert!(polling.until("40").await.is_some(), "connected over polling");
    polling
}

/// A websocket for the polling session `sid` (its handshake accepted; it has no open packet).
async fn websocket_for(addr: std::net::SocketAddr, sid: &str) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("the websocket handshake is accepted");
    Ws { stream }
}

/// A websocket for `polling`'s session, probed: `2probe` was answered `3probe`.
async fn probed(polling: &Polling) -> Ws {
    let mut ws = websocket_for(polling.addr, &polling.sid).await;
    ws.send("2probe").await;
    assert_eq!(ws.recv(WAIT).await, Next::Text("3probe".into()));
    ws
}

fn whoami_ack(id: u64) -> String {
    format!("43{NS},{id}[{{\"ok\":true,\"data\":\"alice\"}}]")
}

#[tokio::test]
async fn a_second_websocket_on_an_upgraded_session_is_accepted_then_closed() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;
    ws.send("5").await;
    assert_eq!(ws.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })), "upgraded");

    // One websocket per session: the second is not refused at the handshake (a client would
    // see an HTTP error, not a closed websocket), it is closed.
    let mut second = websocket_for(addr, &polling.sid).await;
    assert_eq!(second.recv(WAIT).await, Next::Closed);
    assert_eq!(ws.call(2, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })), "the first stays");
}

#[tokio::test]
async fn only_one_websocket_at_a_time_upgrades_a_polling_session() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut first = probed(&polling).await;

    // A second websocket while the first upgrades the session is closed, unprobed.
    let mut second = websocket_for(addr, &polling.sid).await;
    second.send("2probe").await;
    assert_eq!(second.recv(WAIT).await, Next::Closed, "the second websocket is not probed");

    first.send("5").await;
    assert_eq!(first.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn a_get_left_over_from_the_upgrade_takes_none_of_the_websockets_packets() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;
    assert_eq!(polling.get().await.expect("a GET").body, "6", "the GET of the probe is released");

    // A GET still under way when the page completes the upgrade (a late proxy, or a client
    // that polls on): it is answered, with a noop, and what the session sends from the `5` on
    // is the websocket's. (It may be answered before the `5`; if it is held, the test goes on
    // after the wait.)
    let mut late = tokio::spawn({
        let polling = polling.clone();
        async move { polling.get().await }
    });
    let answered = tokio::time::timeout(WAIT, &mut late).await;
    ws.send("5").await;
    ws.send(&format!("42{NS},1[\"whoami\",null]")).await;
    let late = match answered {
        Ok(late) => late,
        Err(_) => late.await,
    };
    match late.expect("the GET's task") {
        Ok(late) => {
            assert_eq!((late.status, late.body.as_str()), (200, "6"), "the GET takes nothing of the websocket's")
        }
        Err(e) => panic!("the GET left over from the upgrade is never answered: {e}"),
    }
    assert_eq!(ws.until_ack(1, &mut Vec::new()).await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn the_upgrade_sends_no_noop_over_the_websocket() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;

    // No GET waits during the upgrade: there is no one to release, and the answer to a call
    // posted meanwhile is the first thing the websocket carries.
    assert_eq!(polling.post(&[&format!("42{NS},1[\"whoami\",null]")]).await.expect("posted").status, 200);
    ws.send("5").await;
    assert_eq!(ws.recv_packet(WAIT).await, Next::Text(whoami_ack(1)), "not a noop");
}

#[tokio::test]
async fn every_get_during_the_upgrade_is_answered_with_a_noop_at_once() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;

    // The official client polls on when the noop reaches it before `3probe` does, and sends `5`
    // once that GET is back: a GET during the upgrade is not held for the next packet.
    for get in 1..=3 {
        let answer = polling.get().await.expect("a GET answered");
        assert_eq!((answer.status, answer.body.as_str()), (200, "6"), "GET {get}");
    }
    ws.send("5").await;
    assert_eq!(ws.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn a_page_closing_its_polling_session_releases_the_waiting_get_with_a_noop() {
    const WAITS: &str = "a long-poll GET waits for packets";
    let logs = Logs::capture();
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let seen = logs.count(WAITS);
    let waiting = tokio::spawn({
        let polling = polling.clone();
        async move { polling.get().await }
    });
    logs.until_more(WAITS, seen).await;

    // As the reference server: the page's own close answers its waiting GET with a noop (a
    // close the server starts answers it `1`), and the session is gone.
    assert_eq!(polling.post(&["1"]).await.expect("posted").status, 200);
    let released = waiting.await.expect("the GET's task").expect("the GET answered");
    assert_eq!((released.status, released.body.as_str()), (200, "6"));
    assert_eq!(polling.get().await.expect("a GET").status, 400, "the session is gone");
}

#[tokio::test]
async fn a_failed_upgrade_closes_its_websocket_and_leaves_the_session_on_polling() {
    use futures_util::StreamExt;

    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;
    ws.send(&format!("42{NS},1[\"whoami\",null]")).await;
    match tokio::time::timeout(WAIT, ws.stream.next()).await {
        Ok(Some(Ok(Frame::Close(Some(close))))) => assert_eq!(u16::from(close.code), 1008),
        other => panic!("a packet instead of the `5` is answered with a close frame, got {other:?}"),
    }

    // Another websocket may upgrade the session.
    let mut ws = probed(&polling).await;
    ws.send("5").await;
    assert_eq!(ws.call(2, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

// Issue 21.

#[tokio::test]
async fn frames_that_arrive_with_the_upgrades_5_are_handled_at_once() {
    let addr = common::start(Limits::default()).await.addr;
    let polling = alice_polling(addr).await;
    let mut ws = probed(&polling).await;
    // engine.io-client sends what it buffered right after `5`: one write, one read.
    ws.stream.feed(Frame::text("5")).await.expect("upgrade");
    ws.stream.feed(Frame::text(format!("42{NS},1[\"whoami\",null]"))).await.expect("call");
    ws.stream.flush().await.expect("one write");
    let mut seen = Vec::new();
    let answer = ws.until_ack(1, &mut seen).await;
    assert_eq!(answer, Some(json!({ "ok": true, "data": "alice" })), "{seen:?}");
}

/// `n` polling handshakes pipelined on one keep-alive connection; their statuses.
async fn pipelined_handshakes(addr: std::net::SocketAddr, n: usize) -> Vec<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp connect");
    let request = format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    tcp.write_all(request.repeat(n).as_bytes()).await.expect("pipelined handshakes");
    let (mut raw, mut responses) = (Vec::new(), Vec::new());
    while responses.len() < n {
        // Each response: a head with its content-length, then that many bytes.
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            if raw.len() >= end + 4 + len {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
                let body = String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).into_owned();
                raw.drain(..end + 4 + len);
                responses.push((status, body));
                continue;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("a response").expect("read");
        assert!(n > 0, "the server closed after {} responses", responses.len());
        raw.extend_from_slice(&chunk[..n]);
    }
    responses
}

#[tokio::test]
async fn polling_sessions_are_capped_even_when_their_handshakes_share_a_connection() {
    let limits = Limits { max_connections_per_address: 3, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let responses = pipelined_handshakes(addr, 5).await;
    let statuses: Vec<u16> = responses.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [200, 200, 200, 503, 503], "{responses:?}");
    // A session that ends frees its place.
    let sid = |body: &str| -> String {
        let open: serde_json::Value = serde_json::from_str(body.strip_prefix('0').expect("open")).expect("json");
        open["sid"].as_str().expect("sid").to_owned()
    };
    let first = Polling { addr, sid: sid(&responses[0].1), headers: Vec::new() };
    assert_eq!(first.post(&["1"]).await.expect("close posted").status, 200);
    // The session's task removes it once it has read the close: wait for the sid to be unknown.
    let deadline = tokio::time::Instant::now() + WAIT;
    while first.get().await.expect("a response").status != 400 {
        assert!(tokio::time::Instant::now() < deadline, "the closed session is still known");
    }
    let statuses: Vec<u16> = pipelined_handshakes(addr, 2).await.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [200, 503]);
}
