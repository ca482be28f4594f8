//! Hardening, round 2 (issue 21): what a hostile page can make the server hold. Frames that
//! declare a large length and trickle in hold only the bytes that arrived, under one budget
//! across all connections (past it the largest are closed first), and the memory comes back
//! once they close.
//!
//! The server runs in this process; the tests here take turns (one lock) so that one's traffic
//! does not show up in another's measurement. Memory is measured twice: the bytes allocated
//! and not freed (this binary's allocator counts them: what the server holds) and the RSS
//! (what the issue measured, printed only). The RSS says more about the allocator than about
//! the server (after the connections close glibc keeps the freed pages for reuse), so the
//! assertions are on the bytes held; the RSS of a separate server process, on glibc and on
//! jemalloc, is measured by the bench's partial-frames (BENCHMARKS.md, "Partial frames").

mod common;
mod hardening_raw;

use std::net::SocketAddr;

use hardening_raw::{NS, WAIT, rss_kib};
use liverpc::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOCATOR: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed, in KiB.
fn live_kib() -> u64 {
    let stats = ALLOCATOR.stats();
    let live = stats.bytes_allocated as i128 - stats.bytes_deallocated as i128 + stats.bytes_reallocated as i128;
    u64::try_from(live.max(0) / 1024).unwrap_or(u64::MAX)
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HANDSHAKE: &str = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
     Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: session=alice\r\n\r\n";

/// A masked text frame's header declaring `len` bytes (64-bit length).
fn header(len: u64) -> Vec<u8> {
    let mut out = vec![0x81, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // a zero mask: the payload goes as is
    out
}

/// An upgraded raw websocket, its handshake answer and open packet read.
async fn upgraded(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    tcp.write_all(HANDSHAKE.as_bytes()).await.expect("handshake");
    let mut read = Vec::new();
    // The 101 head, then the open packet (a short text frame): read until both are in.
    loop {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("an answer").expect("read");
        assert!(n > 0, "closed during the handshake");
        read.extend_from_slice(&chunk[..n]);
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(read.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&read));
            let frame = &read[end + 4..];
            if frame.len() >= 2 && frame.len() >= 2 + usize::from(frame[1] & 0x7F) {
                return tcp;
            }
        }
    }
}

/// Whether the server closed `tcp` (a close frame, EOF or reset) within the wait; the close
/// code if it sent one.
async fn closed(tcp: &mut TcpStream) -> Option<Option<u16>> {
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => {
                let code = read
                    .windows(2)
                    .position(|w| w == [0x88, 2])
                    .map(|i| u16::from_be_bytes([read[i + 2], read[i + 3]]));
                return Some(code);
            }
            Ok(Ok(n)) => read.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn partial_frames_hold_the_bytes_that_arrived_and_give_the_memory_back() {
    let _serial = SERIAL.lock().await;
    const PAGES: usize = 2_000;
    let limits = Limits { max_connections_per_address: 10_000, ..Limits::default() };
    let declared = limits.max_payload as u64 * 2; // the largest frame taken: 128 KiB
    let addr = common::start(limits).await.addr;
    // Warm-up: first-use allocations are not growth.
    for _ in 0..2 {
        let mut pages = Vec::new();
        for _ in 0..100 {
            let mut tcp = upgraded(addr).await;
            tcp.write_all(&header(declared)).await.expect("a header");
            pages.push(tcp);
        }
    }
    let (start, start_live) = (rss_kib(), live_kib());
    let mut pages = Vec::with_capacity(PAGES);
    for _ in 0..PAGES {
        pages.push(upgraded(addr).await);
    }
    let (idle, idle_live) = (rss_kib(), live_kib());
    // Each page sends a 14-byte header declaring 128 KiB and 2 bytes of it.
    for tcp in &mut pages {
        let mut bytes = header(declared);
        bytes.extend_from_slice(b"42");
        tcp.write_all(&bytes).await.expect("a header");
    }
    // Every one is read: a page that connects after them is served after them (one runtime,
    // which runs the tasks woken in the order they were woken).
    let mut probe = hardening_raw::Ws::chat(addr, Some("alice"), "/rooms/general").await;
    assert_eq!(probe.call(1, "whoami", "null").await, Some(serde_json::json!({ "ok": true, "data": "alice" })));
    let (held, held_live) = (rss_kib(), live_kib());
    let per_page = |over: u64| over * 1024 / PAGES as u64;
    eprintln!(
        "{PAGES} pages, each holding a 128 KiB frame's first 16 bytes: RSS {start} KiB at start, {idle} KiB idle, {held} KiB holding ({} bytes per page over idle); allocated {start_live} KiB, {idle_live} KiB, {held_live} KiB ({} bytes per page over idle)",
        per_page(held.saturating_sub(idle)),
        per_page(held_live.saturating_sub(idle_live)),
    );
    // Before: 130 KiB per page (the buffer sized to the declared length, zero-filled). Now
    // what arrived, with the allocator's rounding and the budget's entry: 1 KiB allocated per
    // page is a generous bound. (The RSS is printed, not asserted: it depends on the allocator
    // and the kernel; the bench's partial-frames measures it on a separate server process.)
    assert!(per_page(held_live.saturating_sub(idle_live)) < 1024, "allocated {idle_live} -> {held_live} KiB");
    drop(pages);
    drop(probe);
    // Every server-side connection ends and what they held is given back, watched with a
    // deadline. Not all of it: tokio and hyper keep about 50 to 300 bytes per closed
    // connection in this process (measured: 48 bytes with plain tokio sockets; freed at exit,
    // heaptrack finds no leak), so the bound is a quarter of what the pages held. (Before, the
    // buffers of connections closed mid-frame were never freed: 130 KiB each.)
    let bound = start_live + held_live.saturating_sub(start_live) / 4;
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    let mut after_live = live_kib();
    while after_live > bound && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // polling the count
        after_live = live_kib();
    }
    eprintln!(
        "after they closed: allocated {after_live} KiB (start {start_live} KiB, bound {bound} KiB), RSS {} KiB",
        rss_kib()
    );
    assert!(after_live <= bound, "allocated {after_live} KiB after they closed, {start_live} KiB at start");
}

#[tokio::test]
async fn past_the_budget_the_connection_holding_the_most_is_closed_first() {
    let _serial = SERIAL.lock().await;
    // 256 KiB for the whole server; frames up to 128 KiB each.
    let limits = Limits { max_partial_bytes: 256 * 1024, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let small_len = 40 * 1024;
    let call = |len: usize| {
        let prefix = format!("42{NS},1[\"whoami\",\"");
        let mut text = prefix.clone().into_bytes();
        text.resize(len - 2, b'x');
        text.extend_from_slice(b"\"]");
        text
    };
    // Four pages each send all but the last KiB of a 40 KiB frame: about 160 KiB held.
    let mut small = Vec::new();
    for _ in 0..4 {
        let mut tcp = upgraded(addr).await;
        let mut frame = header(small_len as u64);
        frame.extend_from_slice(&call(small_len)[..small_len - 1024]);
        tcp.write_all(&frame).await.expect("most of a frame");
        small.push(tcp);
    }
    // A fifth sends 120 KiB of a 128 KiB frame: the total passes 256 KiB, and it, the
    // largest, is closed with 1013 (try again later).
    let mut large = upgraded(addr).await;
    let mut frame = header(128 * 1024);
    frame.extend_from_slice(&vec![b'x'; 120 * 1024]);
    large.write_all(&frame).await.expect("most of a large frame");
    assert_eq!(closed(&mut large).await, Some(Some(1013)), "the largest holder is closed");
    // The small ones are still served: their frames complete (a namespace they never
    // connected ignores the call) and a ping is answered.
    for tcp in &mut small {
        tcp.write_all(&call(small_len)[small_len - 1024..]).await.expect("the frame's end");
        let ping = [0x89, 0x80, 0, 0, 0, 0];
        tcp.write_all(&ping).await.expect("a ping");
        let mut read = Vec::new();
        while !read.windows(2).any(|w| w == [0x8A, 0]) {
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("a pong").expect("read");
            assert!(n > 0, "a small holder was closed");
            read.extend_from_slice(&chunk[..n]);
        }
    }
}
