//! The fault soak's hostile mix: clients that try to make the server hold what it should not,
//! each from its own loopback source addresses, running until told to stop. The well-behaved
//! pages are [`scenario::fanout`](crate::scenario::fanout)'s; the faults (Redis killed and
//! restarted, the descriptor cap) are the `soak` binary's.
//!
//! - **partial frames**: websockets that send a frame header declaring 128 KiB, then one byte
//!   of it a second;
//! - **connect loops**: websockets sending CONNECT/DISCONNECT pairs of the chat namespace in
//!   batches, reading every answer;
//! - **malformed packets**: websockets that connect, send one malformed packet each and wait
//!   to be closed, in turn;
//! - **a call flood**: a page calling `send` far past its rate, in a room no page is in;
//! - **a connection flood**: TCP connections from many source addresses that send nothing
//!   and are held until the server closes them, opened at a steady rate: the server sits at its
//!   connection cap (the descriptor limit less 64) for the whole run.
//!
//! The slow readers are the fan-out's own (`slow_readers`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::client::{Client, Dial, Packet};
use crate::scenario::{COOKIE, NAMESPACE};

/// How hard each hostile client pushes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostileConfig {
    /// Websockets holding a partial frame each.
    pub partial_frames: usize,
    /// Websockets looping CONNECT/DISCONNECT.
    pub connect_loops: usize,
    /// Pairs each connect loop sends per batch (one batch every 50 ms).
    pub pairs_per_batch: usize,
    /// TCP connections the flood opens per second, from [`FLOOD_SOURCES`] addresses.
    pub flood_per_second: u32,
    /// The most connections the flood holds at once.
    pub flood_hold: usize,
    /// Calls per second of the call flood.
    pub calls_per_second: u32,
}

impl Default for HostileConfig {
    fn default() -> HostileConfig {
        HostileConfig {
            partial_frames: 300,
            connect_loops: 4,
            pairs_per_batch: 100,
            flood_per_second: 200,
            flood_hold: 4_000,
            calls_per_second: 500,
        }
    }
}

/// The flood's source addresses: 127.0.0.20 .. 127.0.0.59.
pub const FLOOD_SOURCES: u8 = 40;

/// What the hostile clients did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostileCounts {
    /// Partial frames started (a connection holding one, again after each close).
    pub partial_frames: u64,
    /// Partial-frame connections the server closed.
    pub partial_closed: u64,
    /// CONNECT/DISCONNECT pairs sent.
    pub connect_pairs: u64,
    /// CONNECTs answered accepted (`40`).
    pub connects_accepted: u64,
    /// CONNECTs answered refused (`44`, `unavailable` past the bounds).
    pub connects_refused: u64,
    /// Connect-loop connections the server dropped.
    pub connect_loops_dropped: u64,
    /// Malformed packets sent.
    pub malformed_sent: u64,
    /// Malformed packets whose connection the server closed.
    pub malformed_closed: u64,
    /// Calls of the call flood.
    pub flood_calls: u64,
    /// Flood calls answered `rate_limited`.
    pub flood_rate_limited: u64,
    /// TCP connections the flood opened.
    pub flood_opened: u64,
    /// Flood connections the server closed at once (over a cap).
    pub flood_refused: u64,
}

#[derive(Default)]
struct Counters {
    partial_frames: AtomicU64,
    partial_closed: AtomicU64,
    connect_pairs: AtomicU64,
    connects_accepted: AtomicU64,
    connects_refused: AtomicU64,
    connect_loops_dropped: AtomicU64,
    malformed_sent: AtomicU64,
    malformed_closed: AtomicU64,
    flood_calls: AtomicU64,
    flood_rate_limited: AtomicU64,
    flood_opened: AtomicU64,
    flood_refused: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> HostileCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HostileCounts {
            partial_frames: get(&self.partial_frames),
            partial_closed: get(&self.partial_closed),
            connect_pairs: get(&self.connect_pairs),
            connects_accepted: get(&self.connects_accepted),
            connects_refused: get(&self.connects_refused),
            connect_loops_dropped: get(&self.connect_loops_dropped),
            malformed_sent: get(&self.malformed_sent),
            malformed_closed: get(&self.malformed_closed),
            flood_calls: get(&self.flood_calls),
            flood_rate_limited: get(&self.flood_rate_limited),
            flood_opened: get(&self.flood_opened),
            flood_refused: get(&self.flood_refused),
        }
    }
}

/// The loopback address 127.0.0.`last`.
pub fn source(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn tcp(addr: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(from, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A masked client frame (a zero mask: the payload goes as is).
fn frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
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
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
}

/// The websocket upgrade request of an Engine.IO session, with the bench's cookie.
pub fn upgrade_request(addr: SocketAddr) -> String {
    format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Cookie: {COOKIE}\r\n\r\n"
    )
}

/// A masked text frame's header declaring `len` bytes (a 64-bit length, a zero mask).
pub fn partial_header(len: u64) -> Vec<u8> {
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    header
}

/// A raw websocket from `from`, upgraded to Engine.IO, its handshake answer read (not the
/// open packet).
pub async fn websocket(addr: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let mut stream = tcp(addr, from).await?;
    stream.write_all(upgrade_request(addr).as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || head.len() > 4096 {
            return Err(std::io::Error::other("no upgrade"));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other("upgrade refused"));
    }
    Ok(stream)
}

/// Whether `stopped` says stop.
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Starts every hostile client against `addr`; they run until `stop` turns true, then the
/// returned receiver gives what they did.
///
/// The mix runs on a thread of its own with its own runtime: sharing the pages' runtime, its
/// millions of connects would delay the pages' reads, and the pages' latency would measure the
/// load generator instead of the server.
pub fn start(
    addr: SocketAddr,
    config: &HostileConfig,
    stop: watch::Receiver<bool>,
) -> tokio::sync::oneshot::Receiver<HostileCounts> {
    let counters = Arc::new(Counters::default());
    let config = config.clone();
    let (done, counted) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("soak: the hostile mix's runtime: {e}");
                return;
            }
        };
        let _ = done.send(runtime.block_on(mix(addr, config, counters, stop)));
    });
    counted
}

async fn mix(
    addr: SocketAddr,
    config: HostileConfig,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
) -> HostileCounts {
    let mut tasks = JoinSet::new();
    for i in 0..config.partial_frames {
        // 127.0.0.10 .. 127.0.0.12.
        tasks.spawn(partial_frame(addr, source(10 + (i % 3) as u8), counters.clone(), stop.clone()));
    }
    for _ in 0..config.connect_loops {
        tasks.spawn(connect_loop(addr, config.pairs_per_batch, counters.clone(), stop.clone()));
    }
    tasks.spawn(malformed(addr, counters.clone(), stop.clone()));
    tasks.spawn(call_flood(addr, config.calls_per_second, counters.clone(), stop.clone()));
    tasks.spawn(connection_flood(addr, config.flood_per_second, config.flood_hold, counters.clone(), stop.clone()));
    while tasks.join_next().await.is_some() {}
    counters.snapshot()
}

/// Holds a 128 KiB frame's header and trickles a byte a second; again when closed.
async fn partial_frame(addr: SocketAddr, from: IpAddr, counters: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    while !stopping(&stop) {
        let Ok(mut stream) = websocket(addr, from).await else {
            // Refused (a cap): try again shortly.
            if tokio::time::timeout(Duration::from_secs(1), stop.changed()).await.is_ok() {
                return;
            }
            continue;
        };
        if stream.write_all(&partial_header(128 * 1024)).await.is_err() {
            continue;
        }
        counters.partial_frames.fetch_add(1, Ordering::Relaxed);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut sink = [0u8; 512];
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    if stream.write_all(b"x").await.is_err() {
                        break;
                    }
                }
                read = stream.read(&mut sink) => {
                    // Pings and the open packet are read and dropped (never answered: the
                    // ping timeout closes it too); the end is the server closing it.
                    if matches!(read, Ok(0) | Err(_)) {
                        break;
                    }
                }
            }
        }
        counters.partial_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// CONNECT/DISCONNECT pairs in batches every 50 ms, reading every answer.
async fn connect_loop(addr: SocketAddr, pairs: usize, counters: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    let mut batch = Vec::new();
    let connect = format!("40{NAMESPACE},{{\"path\":\"/rooms/loop\"}}");
    let disconnect = format!("41{NAMESPACE},");
    for _ in 0..pairs {
        frame(0x1, connect.as_bytes(), &mut batch);
        frame(0x1, disconnect.as_bytes(), &mut batch);
    }
    let (accepted, refused) = (format!("40{NAMESPACE},"), format!("44{NAMESPACE},"));
    while !stopping(&stop) {
        let Ok(stream) = websocket(addr, source(13)).await else {
            if tokio::time::timeout(Duration::from_secs(1), stop.changed()).await.is_ok() {
                return;
            }
            continue;
        };
        let (mut read, mut write) = stream.into_split();
        let reader_counters = counters.clone();
        let (accepted, refused) = (accepted.clone(), refused.clone());
        // Reads every frame; counts the answers (text frames whose payload starts so).
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut have = 0;
            loop {
                let Ok(n) = read.read(&mut buf[have..]).await else { return };
                if n == 0 {
                    return;
                }
                have += n;
                let mut at = 0;
                while have - at >= 2 {
                    let len = usize::from(buf[at + 1] & 0x7F);
                    let (start, len) = match len {
                        126 if have - at >= 4 => (4, usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]]))),
                        126 | 127 => break,
                        n => (2, n),
                    };
                    if have - at < start + len {
                        break;
                    }
                    let payload = &buf[at + start..at + start + len];
                    if payload.starts_with(accepted.as_bytes()) {
                        reader_counters.connects_accepted.fetch_add(1, Ordering::Relaxed);
                    } else if payload.starts_with(refused.as_bytes()) {
                        reader_counters.connects_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    at += start + len;
                }
                buf.copy_within(at..have, 0);
                have -= at;
                if have == buf.len() {
                    return;
                }
            }
        });
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    reader.abort();
                    return;
                }
                _ = tick.tick() => {
                    if write.write_all(&batch).await.is_err() {
                        break;
                    }
                    counters.connect_pairs.fetch_add(pairs as u64, Ordering::Relaxed);
                }
            }
            if reader.is_finished() {
                break;
            }
        }
        reader.abort();
        counters.connect_loops_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Malformed packets, one per connection, each waiting for its close.
async fn malformed(addr: SocketAddr, counters: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    let packets: [&[u8]; 6] = [b"4abc", b"42{}", b"x", b"45-1[\"a\"]", b"5", &[0x34, 0xC3, 0x28]];
    let mut k = 0usize;
    while !stopping(&stop) {
        let Ok(mut stream) = websocket(addr, source(14)).await else {
            if tokio::time::timeout(Duration::from_secs(1), stop.changed()).await.is_ok() {
                return;
            }
            continue;
        };
        let mut bytes = Vec::new();
        frame(0x1, packets[k % packets.len()], &mut bytes);
        k += 1;
        if stream.write_all(&bytes).await.is_ok() {
            counters.malformed_sent.fetch_add(1, Ordering::Relaxed);
        }
        let mut sink = [0u8; 512];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if closed.is_ok() {
            counters.malformed_closed.fetch_add(1, Ordering::Relaxed);
        }
        if tokio::time::timeout(Duration::from_millis(20), stop.changed()).await.is_ok() {
            return;
        }
    }
}

/// A page calling far past its rate, in a room of its own.
async fn call_flood(addr: SocketAddr, rate: u32, counters: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    let dial = Dial { addr, local: Some(source(15)), cookie: COOKIE.to_owned(), recv_buffer: None };
    while !stopping(&stop) {
        let Ok(mut client) = Client::connect(&dial, NAMESPACE, "/rooms/flood").await else {
            if tokio::time::timeout(Duration::from_secs(1), stop.changed()).await.is_ok() {
                return;
            }
            continue;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        let mut id = 0u64;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    id += 1;
                    if client.emit("send", "{\"text\":\"flood\"}", id).await.is_err() {
                        break;
                    }
                    counters.flood_calls.fetch_add(1, Ordering::Relaxed);
                }
                read = client.fill() => {
                    if read.is_err() {
                        break;
                    }
                    let mut pongs = 0;
                    let mut closed = false;
                    while let Ok(Some(packet)) = client.next_packet() {
                        match packet {
                            Packet::Ping => pongs += 1,
                            Packet::Ack(_, json) if json.contains("rate_limited") => {
                                counters.flood_rate_limited.fetch_add(1, Ordering::Relaxed);
                            }
                            Packet::Closed => closed = true,
                            _ => {}
                        }
                    }
                    for _ in 0..pongs {
                        let _ = client.pong().await;
                    }
                    if closed {
                        break;
                    }
                }
            }
        }
    }
}

/// TCP connections that send nothing, from many addresses, held until the server closes them.
async fn connection_flood(
    addr: SocketAddr,
    per_second: u32,
    hold: usize,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let mut held = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    let mut k = 0u32;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        while held.try_join_next().is_some() {}
        if held.len() >= hold {
            continue;
        }
        let from = source(20 + (k % u32::from(FLOOD_SOURCES)) as u8);
        k = k.wrapping_add(1);
        let counters = counters.clone();
        held.spawn(async move {
            let Ok(mut stream) = tcp(addr, from).await else { return };
            counters.flood_opened.fetch_add(1, Ordering::Relaxed);
            let opened = tokio::time::Instant::now();
            let mut sink = [0u8; 64];
            let _ = stream.read(&mut sink).await;
            // Closed within a moment: refused at accept (a cap); else the head timeout.
            if opened.elapsed() < Duration::from_millis(500) {
                counters.flood_refused.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}
