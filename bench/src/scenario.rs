//! The scenarios, run by the load generator against one server: fan-out, connect burst with
//! idle memory, many idle connections from several source addresses, and exposed joins. Each checks that nothing is lost and nothing crosses rooms.
//!
//! One tokio task per client. Latency is end to end: the sender writes its clock (nanoseconds
//! since the load generator started) into the message's text, `<room>|<seq>|<ns>`, and each
//! receiver subtracts it from its own clock when the message arrives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::client::{Client, Dial, Packet, string_field};
use crate::procfs;

/// The chat contract's namespace.
pub const NAMESPACE: &str = crate::peers::NAMESPACE;
/// The handshake cookie: the hook's user `bench`.
pub const COOKIE: &str = "session=bench";

/// Nanoseconds since the first call in this process (a monotonic clock shared by all tasks).
pub fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn instant_at(ns: u64) -> tokio::time::Instant {
    tokio::time::Instant::from_std(epoch() + Duration::from_nanos(ns))
}

pub(crate) async fn sleep_until_ns(ns: u64) {
    tokio::time::sleep_until(instant_at(ns)).await;
}

pub(crate) fn room_name(room: usize) -> String {
    format!("r{room}")
}

pub(crate) fn own_cpu_us() -> Option<u64> {
    procfs::cpu_us(std::process::id())
}

/// The share of one core used between two CPU readings `wall_ns` apart.
pub(crate) fn share(before: Option<u64>, after: Option<u64>, wall_ns: u64) -> Option<f64> {
    let (a, b) = (before?, after?);
    Some(b.saturating_sub(a) as f64 / (wall_ns.max(1) as f64 / 1e3))
}

/// The server under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its address.
    pub addr: SocketAddr,
    /// Its process id, for CPU and memory from `/proc` (`None`: not measured).
    pub server_pid: Option<u32>,
    /// How many loopback source addresses (127.0.0.1 ..) to spread clients over; 0 or 1: the
    /// kernel's choice.
    pub sources: u8,
    /// At most this many handshakes in flight (keeps a burst within the listen backlog).
    pub connect_concurrency: usize,
}

impl Target {
    /// A target on `addr` with defaults: no `/proc` measurement, kernel-chosen sources,
    /// 1000 handshakes in flight.
    pub fn new(addr: SocketAddr) -> Target {
        Target { addr, server_pid: None, sources: 0, connect_concurrency: 1000 }
    }

    pub(crate) fn dial(&self, index: usize) -> Dial {
        let local = (self.sources > 1)
            .then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (index % usize::from(self.sources)) as u8)));
        Dial { addr: self.addr, local, cookie: COOKIE.to_owned(), recv_buffer: None }
    }

    pub(crate) fn cpu_us(&self) -> Option<u64> {
        self.server_pid.and_then(procfs::cpu_us)
    }

    pub(crate) fn rss_kib(&self) -> Option<u64> {
        self.server_pid.and_then(procfs::rss_kib)
    }
}

/// Connects `count` clients, client `i` to room `room_of(i)`, at most
/// `target.connect_concurrency` handshakes at once. Returns the clients (by index) and the
/// time the last one was connected.
pub(crate) async fn connect_all(
    target: &Target,
    count: usize,
    room_of: impl Fn(usize) -> usize,
) -> (Vec<Option<Client>>, Vec<String>, u64) {
    let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let dial = target.dial(i);
        let path = format!("/rooms/{}", room_name(room_of(i)));
        tasks.spawn(async move {
            let result = Client::connect(&dial, NAMESPACE, &path).await;
            drop(permit);
            (i, result, now_ns())
        });
    }
    let mut clients: Vec<Option<Client>> = (0..count).map(|_| None).collect();
    let mut errors = Vec::new();
    let mut last = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, Ok(client), at)) => {
                clients[i] = Some(client);
                last = last.max(at);
            }
            Ok((i, Err(e), _)) => errors.push(format!("client {i}: connect: {e}")),
            Err(e) => errors.push(format!("connect task: {e}")),
        }
    }
    (clients, errors, last)
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// How many messages were measured.
    pub samples: u64,
}

impl Latency {
    pub(crate) fn of(mut samples: Vec<u32>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let rank = |q: f64| {
            let at = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            u64::from(samples[at])
        };
        Latency { p50_us: rank(0.50), p99_us: rank(0.99), max_us: rank(1.0), samples: samples.len() as u64 }
    }
}

/// The correctness of a run: all zero (and no errors) means nothing was lost or crossed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Check {
    /// Messages a client should have received but did not.
    pub lost: u64,
    /// Messages received by a client of another room (tagged with a room not its own).
    pub crossed: u64,
    /// Messages received twice by the same client.
    pub duplicated: u64,
    /// Calls answered with something other than the expected answer.
    pub wrong_answers: u64,
    /// Client-side errors (connects refused, connections closed), the first few.
    pub errors: Vec<String>,
    /// How many client-side errors there were.
    pub error_count: u64,
}

impl Check {
    /// Whether the run was correct.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.crossed == 0 && self.duplicated == 0 && self.wrong_answers == 0 && self.error_count == 0
    }

    pub(crate) fn error(&mut self, e: String) {
        self.error_count += 1;
        if self.errors.len() < 5 {
            self.errors.push(e);
        }
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "lost {} crossed {} duplicated {} wrong answers {} errors {}{}",
            self.lost,
            self.crossed,
            self.duplicated,
            self.wrong_answers,
            self.error_count,
            self.errors.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
        )
    }
}

/// The fan-out scenario's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutConfig {
    /// Connected clients, spread evenly over the rooms.
    pub clients: usize,
    /// Rooms; the first client of each room is its sender.
    pub rooms: usize,
    /// Offered load in deliveries per second (sends per second times room size).
    pub rate: f64,
    /// Sending before the measurement window.
    pub warmup: Duration,
    /// The measurement window.
    pub measure: Duration,
    /// How long after the window to wait for the last deliveries before calling them lost.
    pub drain: Duration,
    /// Members that connect, then never read (a 4 KiB receive buffer), spread over the rooms:
    /// what a slow reader costs the others. Not counted as receivers.
    #[serde(default)]
    pub slow_readers: usize,
    /// When set, the latency is also reported per interval of this length (by send time),
    /// to show when in a long run the tail came.
    #[serde(default)]
    pub interval: Option<Duration>,
}

/// The fan-out scenario's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Offered deliveries per second.
    pub offered: f64,
    /// Messages sent (all senders, whole run).
    pub sent: u64,
    /// Deliveries received (whole run).
    pub received: u64,
    /// Deliveries received inside the measurement window.
    pub delivered_in_window: u64,
    /// The window's length in seconds.
    pub window_s: f64,
    /// Deliveries per second inside the window.
    pub delivered_per_s: f64,
    /// Latency of messages sent inside the window.
    pub latency: Latency,
    /// The same, per [`FanoutConfig::interval`] of the window (empty without one).
    #[serde(default)]
    pub intervals: Vec<Latency>,
    /// Server CPU (user + system) over the window, microseconds.
    pub server_cpu_us: Option<u64>,
    /// Server CPU per delivered message, microseconds.
    pub cpu_us_per_delivery: Option<f64>,
    /// Share of one core the load generator used during the window.
    pub loadgen_cpu: Option<f64>,
    /// Correctness.
    pub check: Check,
}

#[derive(Default)]
struct ClientStats {
    received: u64,
    in_window: u64,
    crossed: u64,
    duplicated: u64,
    acked: u64,
    wrong_answers: u64,
    sent: u64,
    latencies: Vec<u32>,
    /// With an interval: which interval each of `latencies` was sent in.
    slots: Vec<u16>,
    error: Option<String>,
}

struct FanoutShared {
    start: u64,
    window_start: u64,
    window_end: u64,
    period: u64,
    /// [`FanoutConfig::interval`] in nanoseconds, 0 without one.
    interval: u64,
    rooms: Vec<String>,
    /// Per room: how many messages its sender sent, `u64::MAX` while still sending.
    final_sent: Vec<AtomicU64>,
    received: AtomicU64,
    acked: AtomicU64,
}

/// Fan-out: `clients` in `rooms`, one sender per room at a fixed offered load.
pub async fn fanout(target: &Target, config: &FanoutConfig) -> FanoutResult {
    let rooms = config.rooms.max(1);
    let (clients, errors, _) = connect_all(target, config.clients, |i| i % rooms).await;
    let mut check = Check::default();
    for e in errors {
        check.error(e);
    }
    let members: Vec<u64> = (0..rooms).map(|r| clients.iter().skip(r).step_by(rooms).count() as u64).collect();
    // Connected and never read again: the server either drops them when their buffer is full
    // (liverpc) or keeps queueing for them; they live until the run ends.
    let mut slow = Vec::with_capacity(config.slow_readers);
    for k in 0..config.slow_readers {
        let dial = Dial { recv_buffer: Some(4096), ..target.dial(config.clients + k) };
        match Client::connect(&dial, NAMESPACE, &format!("/rooms/{}", room_name(k % rooms))).await {
            Ok(client) => slow.push(client),
            Err(e) => check.error(format!("slow reader {k}: connect: {e}")),
        }
    }
    // Let the servers finish their post-connect work (joins, room statuses) before sending.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let room_size = (config.clients as f64 / rooms as f64).max(1.0);
    let sends_per_second = config.rate / room_size; // all senders together
    let period = (1e9 * rooms as f64 / sends_per_second.max(1e-3)) as u64; // per sender
    let start = now_ns() + 50_000_000;
    let window_start = start + config.warmup.as_nanos() as u64;
    let window_end = window_start + config.measure.as_nanos() as u64;
    let shared = Arc::new(FanoutShared {
        start,
        window_start,
        window_end,
        period,
        interval: config.interval.map_or(0, |d| d.as_nanos() as u64),
        rooms: (0..rooms).map(room_name).collect(),
        final_sent: (0..rooms).map(|_| AtomicU64::new(u64::MAX)).collect(),
        received: AtomicU64::new(0),
        acked: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let Some(client) = client else { continue };
        let (shared, stop) = (shared.clone(), stop_rx.clone());
        tasks.spawn(async move { fanout_client(client, i % rooms, i < rooms, shared, stop).await });
    }

    sleep_until_ns(window_start).await;
    let (cpu0, own0, t0) = (target.cpu_us(), own_cpu_us(), now_ns());
    sleep_until_ns(window_end).await;
    let (cpu1, own1, t1) = (target.cpu_us(), own_cpu_us(), now_ns());

    // Wait until every sender has stopped and every message and ack has arrived, or the drain
    // deadline; then stop the clients.
    let deadline = window_end + config.drain.as_nanos() as u64;
    loop {
        let finals: Option<Vec<u64>> =
            shared.final_sent.iter().map(|f| Some(f.load(Ordering::Acquire)).filter(|&n| n != u64::MAX)).collect();
        if let Some(finals) = finals {
            let expected: u64 = finals.iter().zip(&members).map(|(sent, m)| sent * m).sum();
            let sent: u64 = finals.iter().sum();
            if shared.received.load(Ordering::Relaxed) >= expected && shared.acked.load(Ordering::Relaxed) >= sent {
                break;
            }
        }
        if now_ns() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true);
    drop(slow);

    let mut result = FanoutResult { offered: config.rate, ..FanoutResult::default() };
    let mut latencies = Vec::new();
    let mut slots = Vec::new();
    let mut per_room_sent = vec![0; rooms];
    let mut per_client = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((room, stats)) => {
                result.sent += stats.sent;
                per_room_sent[room] += stats.sent;
                result.received += stats.received;
                result.delivered_in_window += stats.in_window;
                check.crossed += stats.crossed;
                check.duplicated += stats.duplicated;
                check.wrong_answers += stats.wrong_answers + (stats.sent - stats.acked.min(stats.sent));
                if let Some(e) = &stats.error {
                    check.error(e.clone());
                }
                latencies.extend_from_slice(&stats.latencies);
                slots.extend_from_slice(&stats.slots);
                per_client.push((room, stats.received));
            }
            Err(e) => check.error(format!("client task: {e}")),
        }
    }
    // Every connected client of a room must have received every message sent in it.
    for (room, received) in per_client {
        check.lost += per_room_sent[room].saturating_sub(received);
    }
    result.window_s = (window_end - window_start) as f64 / 1e9;
    result.delivered_per_s = result.delivered_in_window as f64 / result.window_s;
    if shared.interval > 0 {
        let count = (window_end - window_start).div_ceil(shared.interval) as usize;
        let mut per_slot = vec![Vec::new(); count];
        for (&us, &slot) in latencies.iter().zip(&slots) {
            if let Some(bucket) = per_slot.get_mut(usize::from(slot)) {
                bucket.push(us);
            }
        }
        result.intervals = per_slot.into_iter().map(Latency::of).collect();
    }
    result.latency = Latency::of(latencies);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        result.server_cpu_us = Some(b.saturating_sub(a));
        result.cpu_us_per_delivery = Some(b.saturating_sub(a) as f64 / result.delivered_in_window.max(1) as f64);
    }
    result.loadgen_cpu = share(own0, own1, t1 - t0);
    result.check = check;
    result
}

async fn fanout_client(
    mut client: Client,
    room: usize,
    sender: bool,
    shared: Arc<FanoutShared>,
    mut stop: watch::Receiver<bool>,
) -> (usize, ClientStats) {
    let mut stats = ClientStats::default();
    if let Err(e) = fanout_loop(&mut client, room, sender, &shared, &mut stop, &mut stats).await {
        stats.error = Some(format!("room {room}: {e}"));
    }
    // A sender that failed before finishing still publishes what it sent.
    if sender {
        let _ = shared.final_sent[room].compare_exchange(u64::MAX, stats.sent, Ordering::AcqRel, Ordering::Acquire);
    }
    (room, stats)
}

async fn fanout_loop(
    client: &mut Client,
    room: usize,
    sender: bool,
    shared: &FanoutShared,
    stop: &mut watch::Receiver<bool>,
    stats: &mut ClientStats,
) -> std::io::Result<()> {
    let my_room = shared.rooms[room].as_str();
    let rooms = shared.rooms.len() as u64;
    // Senders are spread evenly over the period.
    let mut next = shared.start + shared.period * room as u64 / rooms;
    let mut sending = sender;
    let mut seen: Vec<u64> = Vec::new();
    let mut payload = String::with_capacity(64);
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        if sending && next >= shared.window_end {
            sending = false;
            shared.final_sent[room].store(stats.sent, Ordering::Release);
        }
        tokio::select! {
            biased;
            _ = &mut stopped => return Ok(()),
            () = sleep_until_ns(next), if sending => {
                use std::fmt::Write as _;
                let seq = stats.sent;
                payload.clear();
                let _ = write!(payload, "{{\"text\":\"{my_room}|{seq}|{}\"}}", now_ns());
                client.emit("send", &payload, seq).await?;
                stats.sent += 1;
                next += shared.period;
                continue;
            }
            read = client.fill() => read?,
        }
        let mut pongs = 0;
        let mut fresh = 0;
        while let Some(packet) = client.next_packet()? {
            match packet {
                Packet::Ping => pongs += 1,
                Packet::Event(json) if json.starts_with("[\"message\"") => {
                    let now = now_ns();
                    let tagged = string_field(json, "room");
                    let text = string_field(json, "text").unwrap_or_default();
                    let mut parts = text.split('|');
                    let (text_room, seq, sent_at) = (parts.next(), parts.next(), parts.next());
                    let seq: Option<usize> = seq.and_then(|s| s.parse().ok());
                    let sent_at: Option<u64> = sent_at.and_then(|s| s.parse().ok());
                    let (Some(seq), Some(sent_at)) = (seq, sent_at) else {
                        stats.wrong_answers += 1;
                        continue;
                    };
                    if tagged != Some(my_room) || text_room != Some(my_room) {
                        stats.crossed += 1;
                        continue;
                    }
                    let (word, bit) = (seq / 64, 1u64 << (seq % 64));
                    if seen.len() <= word {
                        seen.resize(word + 1, 0);
                    }
                    if seen[word] & bit != 0 {
                        stats.duplicated += 1;
                        continue;
                    }
                    seen[word] |= bit;
                    stats.received += 1;
                    fresh += 1;
                    if (shared.window_start..shared.window_end).contains(&now) {
                        stats.in_window += 1;
                    }
                    if (shared.window_start..shared.window_end).contains(&sent_at) {
                        let us = now.saturating_sub(sent_at) / 1000;
                        stats.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                        if let Some(slot) = (sent_at - shared.window_start).checked_div(shared.interval) {
                            stats.slots.push(u16::try_from(slot).unwrap_or(u16::MAX));
                        }
                    }
                }
                Packet::Ack(_, json) => {
                    if json.starts_with("[{\"ok\":true") {
                        stats.acked += 1;
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats.wrong_answers += 1;
                    }
                }
                Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                _ => {}
            }
        }
        if fresh > 0 {
            shared.received.fetch_add(fresh, Ordering::Relaxed);
        }
        for _ in 0..pongs {
            client.pong().await?;
        }
    }
}

/// The connect-burst scenario's result, with the idle memory of the connections it made (also
/// the idle-connections scenario's).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectResult {
    /// Clients connected.
    pub connected: u64,
    /// Seconds from the first handshake to the last namespace connect.
    pub elapsed_s: f64,
    /// Connects per second.
    pub connects_per_s: f64,
    /// Server CPU over the burst, microseconds.
    pub server_cpu_us: Option<u64>,
    /// Server CPU per connect, microseconds.
    pub cpu_us_per_connect: Option<f64>,
    /// Server RSS before the burst (after a warm-up), KiB.
    pub rss_before_kib: Option<u64>,
    /// Server RSS with every client connected and idle, KiB.
    pub rss_after_kib: Option<u64>,
    /// (after - before) / connected, KiB.
    pub rss_per_connection_kib: Option<f64>,
    /// Share of one core the load generator used during the burst.
    pub loadgen_cpu: Option<f64>,
    /// The load generator's own RSS with every client connected and idle, KiB.
    #[serde(default)]
    pub loadgen_rss_kib: Option<u64>,
    /// How many distinct local (source) addresses the connected clients used.
    #[serde(default)]
    pub sources_used: u64,
    /// Correctness.
    pub check: Check,
}

/// Connect burst and idle memory: `clients` connect at once (at most
/// `target.connect_concurrency` handshakes in flight), each running the hook, the route match
/// and the auto-joined room; then they stay connected and idle for `settle` before the
/// server's RSS is read.
pub async fn connect_burst(target: &Target, clients: usize, settle: Duration) -> ConnectResult {
    burst(target, clients, settle, false).await
}

/// Many idle connections: the connect burst with the clients spread over the loopback source
/// addresses of `target.sources` (one address has ~28k ephemeral ports), each client holding
/// minimal state once connected ([`Client::shrink`]), so that one load generator holds tens
/// of thousands. Every client must have connected from the source address it was given.
pub async fn idle_connections(target: &Target, clients: usize, settle: Duration) -> ConnectResult {
    burst(target, clients, settle, true).await
}

async fn burst(target: &Target, clients: usize, settle: Duration, lean: bool) -> ConnectResult {
    let mut check = Check::default();
    // Warm-up: the first connections pay one-time costs (lazy statics, thread stacks).
    let (warm, errors, _) = connect_all(target, 10, |i| i).await;
    errors.into_iter().for_each(|e| check.error(e));
    drop(warm);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (rss0, cpu0, own0, t0) = (target.rss_kib(), target.cpu_us(), own_cpu_us(), now_ns());
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let done = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let dial = target.dial(i);
        let path = format!("/rooms/{}", room_name(i % 20));
        let (mut stop, done, last) = (stop_rx.clone(), done.clone(), last.clone());
        tasks.spawn(async move {
            let connected = Client::connect(&dial, NAMESPACE, &path).await;
            drop(permit);
            last.fetch_max(now_ns(), Ordering::Relaxed);
            done.fetch_add(1, Ordering::Release);
            let wanted = dial.local;
            drop((dial, path));
            let mut client = connected.map_err(|e| format!("client {i}: connect: {e}"))?;
            let local = client.local_addr().map_err(|e| format!("client {i}: local address: {e}"))?.ip();
            if wanted.is_some_and(|wanted| wanted != local) {
                return Err(format!("client {i}: connected from {local}, not from {wanted:?}"));
            }
            if lean {
                client.shrink();
            }
            idle(&mut client, &mut stop).await.map_err(|e| format!("client {i}: {e}"))?;
            Ok(local)
        });
    }
    while done.load(Ordering::Acquire) < clients {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (cpu1, own1, t1) = (target.cpu_us(), own_cpu_us(), now_ns());
    let elapsed = last.load(Ordering::Relaxed).saturating_sub(t0);
    tokio::time::sleep(settle).await;
    let (rss1, own_rss) = (target.rss_kib(), procfs::rss_kib(std::process::id()));
    let _ = stop_tx.send(true);
    let mut connected = 0;
    let mut sources = std::collections::BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(local)) => {
                connected += 1;
                sources.insert(local);
            }
            Ok(Err(e)) => check.error(e),
            Err(e) => check.error(format!("client task: {e}")),
        }
    }
    let mut result = ConnectResult { connected, check, ..ConnectResult::default() };
    result.sources_used = sources.len() as u64;
    result.elapsed_s = elapsed as f64 / 1e9;
    result.connects_per_s = connected as f64 / result.elapsed_s.max(1e-9);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        result.server_cpu_us = Some(b.saturating_sub(a));
        result.cpu_us_per_connect = Some(b.saturating_sub(a) as f64 / connected.max(1) as f64);
    }
    result.loadgen_cpu = share(own0, own1, t1 - t0);
    result.loadgen_rss_kib = own_rss;
    result.rss_before_kib = rss0;
    result.rss_after_kib = rss1;
    if let (Some(a), Some(b)) = (rss0, rss1) {
        result.rss_per_connection_kib = Some(b.saturating_sub(a) as f64 / connected.max(1) as f64);
    }
    result
}

/// Keeps a client connected, answering pings, until `stop`.
async fn idle(client: &mut Client, stop: &mut watch::Receiver<bool>) -> std::io::Result<()> {
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => return Ok(()),
            read = client.fill() => read?,
        }
        let mut pongs = 0;
        while let Some(packet) = client.next_packet()? {
            match packet {
                Packet::Ping => pongs += 1,
                Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                _ => {}
            }
        }
        for _ in 0..pongs {
            client.pong().await?;
        }
    }
}

/// The joins scenario's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinsResult {
    /// Join requests answered.
    pub joins: u64,
    /// Of which refused (`forbidden`), as expected.
    pub denied: u64,
    /// Seconds from the first request to the last answer.
    pub elapsed_s: f64,
    /// Answered joins per second.
    pub joins_per_s: f64,
    /// Server CPU over the run, microseconds.
    pub server_cpu_us: Option<u64>,
    /// Server CPU per join, microseconds.
    pub cpu_us_per_join: Option<f64>,
    /// Share of one core the load generator used during the run.
    pub loadgen_cpu: Option<f64>,
    /// Correctness.
    pub check: Check,
}

/// Which project the `k`th join of a client asks for, and whether it must be allowed: every
/// 11th asks for a project the user does not hold.
fn project(k: usize) -> (String, bool) {
    if k % 11 == 10 { (format!("x{k}"), false) } else { (format!("p{k}"), true) }
}

/// Exposed joins: `clients` connected clients each ask to join `joins` project rooms in turn
/// (waiting for each answer); the server authorizes each against the user's projects.
pub async fn joins(target: &Target, clients: usize, joins: usize) -> JoinsResult {
    let (connected, errors, _) = connect_all(target, clients, |i| i % 20).await;
    let mut check = Check::default();
    errors.into_iter().for_each(|e| check.error(e));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (cpu0, own0, t0) = (target.cpu_us(), own_cpu_us(), now_ns());
    let mut tasks = JoinSet::new();
    for (i, client) in connected.into_iter().enumerate() {
        let Some(mut client) = client else { continue };
        tasks.spawn(async move {
            let outcome = join_many(&mut client, joins).await;
            (i, outcome, now_ns())
        });
    }
    let mut result = JoinsResult::default();
    let mut last = t0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok((answered, denied, wrong)), at)) => {
                result.joins += answered;
                result.denied += denied;
                check.wrong_answers += wrong;
                last = last.max(at);
            }
            Ok((i, Err(e), _)) => check.error(format!("client {i}: {e}")),
            Err(e) => check.error(format!("client task: {e}")),
        }
    }
    let (cpu1, own1, t1) = (target.cpu_us(), own_cpu_us(), now_ns());
    result.loadgen_cpu = share(own0, own1, t1 - t0);
    result.elapsed_s = (last - t0) as f64 / 1e9;
    result.joins_per_s = result.joins as f64 / result.elapsed_s.max(1e-9);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        result.server_cpu_us = Some(b.saturating_sub(a));
        result.cpu_us_per_join = Some(b.saturating_sub(a) as f64 / result.joins.max(1) as f64);
    }
    let expected_denied = (0..joins).filter(|&k| !project(k).1).count() as u64 * clients as u64;
    if result.denied != expected_denied {
        check.wrong_answers += expected_denied.abs_diff(result.denied);
    }
    result.check = check;
    result
}

/// Returns (answered, denied as expected, wrong answers).
async fn join_many(client: &mut Client, joins: usize) -> std::io::Result<(u64, u64, u64)> {
    let (mut answered, mut denied, mut wrong) = (0, 0, 0);
    for k in 0..joins {
        let (project, allowed) = project(k);
        let payload = format!("{{\"room\":\"project\",\"data\":{{\"projectId\":\"{project}\"}}}}");
        let id = k as u64;
        client.emit("liverpc:join", &payload, id).await?;
        'answer: loop {
            client.fill().await?;
            let mut pongs = 0;
            let mut got = false;
            while let Some(packet) = client.next_packet()? {
                match packet {
                    Packet::Ping => pongs += 1,
                    Packet::Ack(ack, json) if ack == id => {
                        answered += 1;
                        got = true;
                        let ok = json.starts_with("[{\"ok\":true");
                        let forbidden = json == r#"[{"ok":false,"error":{"code":"forbidden","message":"forbidden"}}]"#;
                        match (allowed, ok, forbidden) {
                            (true, true, _) => {}
                            (false, _, true) => denied += 1,
                            _ => wrong += 1,
                        }
                    }
                    Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                    _ => {}
                }
            }
            for _ in 0..pongs {
                client.pong().await?;
            }
            if got {
                break 'answer;
            }
        }
    }
    Ok((answered, denied, wrong))
}
