//! Hardening (issue 6) under load: oversized messages and binary-attachment floods must not
//! grow the server's memory; a slow reader is disconnected without slowing other members.
//!
//! The server runs in this process, so its memory is this process's RSS; the tests here take
//! turns (one lock) so that one's traffic does not show up in another's measurement.

mod common;
mod hardening_raw;

use std::time::Duration;

use common::{Chat, Notice};
use hardening_raw::{NS, Next, Polling, WAIT, Ws, rss_kib};
use liverpc::{Limits, key};
use serde_json::json;

/// One measurement at a time in this binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bound on RSS growth over a run of hostile attempts; the attempts send hundreds of MiB.
const RSS_BOUND_KIB: u64 = 48 * 1024;

const CONNECT_GENERAL: &str = r#"40/rooms/[roomId]/chat,{"path":"/rooms/general"}"#;

fn send_frame(text_len: usize) -> String {
    format!("42{NS},1[\"send\",{{\"text\":\"{}\"}}]", "x".repeat(text_len))
}

// 2. Oversized messages.

#[tokio::test]
async fn oversized_websocket_messages_are_refused_and_memory_stays_flat() {
    let _serial = SERIAL.lock().await;
    let limits = Limits::default(); // 64 KiB payloads; frames over 128 KiB close the connection
    let addr = common::start(limits.clone()).await.addr;

    // Between the limit and twice it: answered `too_large`, the socket stays.
    let mut page = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    page.send(&send_frame(limits.max_payload + 1000)).await;
    let answer = page.until_ack(1, &mut Vec::new()).await.expect("answered");
    assert_eq!(answer["error"]["code"], json!("too_large"));
    assert_eq!(page.call(2, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));

    let huge = send_frame(1024 * 1024);
    let attempt = || async {
        let mut ws = Ws::chat(addr, Some("alice"), "/rooms/general").await;
        ws.send(&huge).await;
        assert!(ws.closed_within(WAIT).await.is_some(), "a 1 MiB message closes the connection");
    };
    for _ in 0..5 {
        attempt().await; // warm-up: first-use allocations are not growth
    }
    let before = rss_kib();
    for _ in 0..150 {
        attempt().await;
    }
    let after = rss_kib();
    eprintln!("websocket: 150 x 1 MiB refused; RSS {before} KiB -> {after} KiB");
    assert!(after.saturating_sub(before) < RSS_BOUND_KIB, "RSS grew {before} -> {after} KiB");
    // Other sockets are unaffected.
    assert_eq!(page.call(3, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn oversized_polling_posts_are_refused_and_memory_stays_flat() {
    let _serial = SERIAL.lock().await;
    let addr = common::start(Limits::default()).await.addr;
    let huge = send_frame(1024 * 1024);
    let attempt = || async {
        let session = Polling::open(addr, &[("cookie", "session=alice")]).await;
        session.post(&[CONNECT_GENERAL]).await.expect("connect posted");
        assert!(session.until("40").await.is_some(), "connected over polling");
        match session.post(&[&huge]).await {
            Ok(response) => assert_eq!(response.status, 413, "{}", response.body),
            Err(e) => assert!(e.kind() != std::io::ErrorKind::TimedOut, "{e}"), // reset mid-body: refused too
        }
        // The session is over.
        let next = session.get().await.expect("a response");
        assert!(next.status == 400 || next.body.split('\u{1e}').any(|p| p == "1"), "{next:?}");
    };
    for _ in 0..5 {
        attempt().await;
    }
    let before = rss_kib();
    for _ in 0..150 {
        attempt().await;
    }
    let after = rss_kib();
    eprintln!("polling: 150 x 1 MiB refused; RSS {before} KiB -> {after} KiB");
    assert!(after.saturating_sub(before) < RSS_BOUND_KIB, "RSS grew {before} -> {after} KiB");
}

// 3. Binary attachment flood.

#[tokio::test]
async fn binary_attachment_floods_are_refused_and_not_held() {
    let _serial = SERIAL.lock().await;
    let addr = common::start(Limits::default()).await.addr;
    let bystander_ws = Ws::chat(addr, Some("bob"), "/rooms/general").await;
    let mut bystander = bystander_ws;
    let chunk = vec![0xA5u8; 64 * 1024];
    let mut accepted_frames = 0usize;

    let before = rss_kib();
    for declared in ["100000000", "1"] {
        for _ in 0..20 {
            let mut ws = Ws::chat(addr, Some("alice"), "/rooms/general").await;
            let declaration = format!("45{declared}-{NS},1[\"send\",{{\"_placeholder\":true,\"num\":0}}]");
            ws.send(&declaration).await;
            // Up to 32 MiB of attachments follow, until the server has hung up.
            for _ in 0..512 {
                if !ws.try_send_binary(chunk.clone()).await {
                    break;
                }
                accepted_frames += 1;
            }
            assert!(ws.closed_within(WAIT).await.is_some(), "{declared} declared attachments close the connection");
        }
    }
    // Over polling, a base64 attachment after the declaration ends the session the same way.
    for _ in 0..20 {
        let session = Polling::open(addr, &[("cookie", "session=alice")]).await;
        session.post(&[CONNECT_GENERAL]).await.expect("connect posted");
        assert!(session.until("40").await.is_some());
        let declaration = format!("451-{NS},1[\"send\",{{\"_placeholder\":true,\"num\":0}}]");
        let _ = session.post(&[&declaration, "bAAAA"]).await;
        let next = session.get().await.expect("a response");
        assert!(next.status == 400 || next.body.split('\u{1e}').any(|p| p == "1"), "{next:?}");
    }
    let after = rss_kib();
    eprintln!(
        "binary floods: 40 websocket + 20 polling attempts, {accepted_frames} x 64 KiB frames written before the \
         server hung up; RSS {before} KiB -> {after} KiB"
    );
    assert!(after.saturating_sub(before) < RSS_BOUND_KIB, "RSS grew {before} -> {after} KiB");
    assert_eq!(bystander.call(5, "whoami", "null").await, Some(json!({ "ok": true, "data": "bob" })));
}

// 7. Slow readers.

/// Connects a member that reads through a 4 KiB receive window, and then stops reading.
async fn slow_member(addr: std::net::SocketAddr) -> Ws {
    let mut slow = Ws::open_small_window(addr, 4096).await;
    slow.send(CONNECT_GENERAL).await;
    assert!(matches!(slow.recv_packet(WAIT).await, Next::Text(t) if t.starts_with("40")));
    assert!(matches!(slow.recv_packet(WAIT).await, Next::Text(t) if t.contains("liverpc:room")));
    slow
}

/// The sequence number of a `notice` frame whose text is `"<seq> ..."`.
fn notice_seq(frame: &str) -> Option<u64> {
    let text = frame.strip_prefix(&format!("42{NS},[\"notice\",{{\"text\":\""))?;
    text.split(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_disconnected_and_misses_nothing_silently() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Limits { send_buffer: 8, ..Limits::default() }).await;
    let chat = server.app.emitter::<Chat>().expect("emitter");
    let room = key!["chat", "general"];
    let mut reader = Ws::chat(server.addr, Some("bob"), "/rooms/general").await;
    let mut slow = slow_member(server.addr).await;

    // Flood the room until the slow member is dropped; the reading member gets everything.
    let padding = "x".repeat(32 * 1024);
    let mut dropped_at = None;
    for seq in 0..4_000u64 {
        let delivered = chat.to(&room).emit(&Notice { text: format!("{seq} {padding}") }).await.expect("emit");
        match reader.recv_packet(WAIT).await {
            Next::Text(t) => assert_eq!(notice_seq(&t), Some(seq)),
            other => panic!("the reading member lost message {seq}: {other:?}"),
        }
        if delivered == 1 {
            dropped_at = Some(seq);
            break;
        }
    }
    let dropped_at = dropped_at.expect("the slow reader is dropped once its buffer is full");
    assert!(dropped_at >= 8, "not before its buffer of 8 filled: {dropped_at}");

    // The slow member now reads while the room keeps talking: it gets an unbroken prefix of
    // the messages and then the end of its connection, never a later message after a gap.
    let late = async {
        for seq in dropped_at + 1..dropped_at + 200 {
            chat.to(&room).emit(&Notice { text: format!("{seq} late") }).await.expect("emit");
            tokio::time::sleep(Duration::from_millis(2)).await; // traffic pacing, not synchronisation
        }
    };
    let drain = async {
        let mut got = Vec::new();
        loop {
            match slow.recv(WAIT).await {
                Next::Text(t) if t == format!("41{NS},") => return (got, "disconnect packet"),
                Next::Text(t) => got.extend(notice_seq(&t)),
                Next::Closed => return (got, "closed"),
                Next::Timeout => return (got, "still connected"),
            }
        }
    };
    let ((got, end), ()) = tokio::join!(drain, late);
    assert_eq!(end, "closed", "the slow reader's connection is closed (nothing more is queued for it)");
    let expected: Vec<u64> = (0..got.len() as u64).collect();
    assert_eq!(got, expected, "an unbroken prefix, nothing after a gap");
    assert!((got.len() as u64) < dropped_at + 1, "nothing after it was dropped");
    // The reading member got every late message too.
    for seq in dropped_at + 1..dropped_at + 200 {
        match reader.recv_packet(WAIT).await {
            Next::Text(t) => assert_eq!(notice_seq(&t), Some(seq)),
            other => panic!("the reading member lost late message {seq}: {other:?}"),
        }
    }
}

/// Broadcasts 16 KiB notices to `MEMBERS` readers and a member that never reads; each
/// broadcast waits until every reader has the one before, so the readers are never behind
/// however busy the machine is. Returns the broadcast at which the slow member stopped
/// getting them.
async fn slow_reader_run() -> Option<u64> {
    const MEMBERS: usize = 4;
    const COUNT: u64 = 600;
    let server = common::start(Limits { send_buffer: 16, ..Limits::default() }).await;
    let chat = server.app.emitter::<Chat>().expect("emitter");
    let room = key!["chat", "general"];
    let (got, mut seen) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut readers = Vec::new();
    for _ in 0..MEMBERS {
        let mut member = Ws::chat(server.addr, Some("bob"), "/rooms/general").await;
        let got = got.clone();
        readers.push(tokio::spawn(async move {
            let mut next = 0;
            while next < COUNT {
                match member.recv_packet(WAIT * 6).await {
                    Next::Text(t) => {
                        let Some(seq) = notice_seq(&t) else { continue };
                        assert_eq!(seq, next, "a member got every broadcast, in order");
                        next += 1;
                        let _ = got.send(seq);
                    }
                    other => panic!("a member lost its connection: {other:?}"),
                }
            }
        }));
    }
    let slow = slow_member(server.addr).await;
    let padding = "x".repeat(16 * 1024);
    let mut dropped_at = None;
    for seq in 0..COUNT {
        let delivered = chat.to(&room).emit(&Notice { text: format!("{seq} {padding}") }).await.expect("emit");
        if delivered < MEMBERS + 1 && dropped_at.is_none() {
            dropped_at = Some(seq);
        }
        for _ in 0..MEMBERS {
            assert_eq!(seen.recv().await, Some(seq), "every reader has broadcast {seq}");
        }
    }
    for reader in readers {
        reader.await.expect("a member's reader");
    }
    drop(slow);
    dropped_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_dropped_and_the_other_members_get_everything() {
    let _serial = SERIAL.lock().await;
    let dropped_at = slow_reader_run().await.expect("the slow reader is disconnected when its buffer is full");
    assert!(dropped_at >= 16, "not before its buffer of 16 filled: {dropped_at}");
}
