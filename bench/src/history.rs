//! The history scenarios (issue 20), run on the liverpc server only, each beside its
//! history-off figure in the same `cargo xtask bench` run:
//!
//! - `fanout-40k-history`: the `fanout-40k` load against the chat whose room keeps history
//!   ([`liverpc_history`](crate::peers::liverpc_history)); compared with `fanout-40k`.
//! - `history-memory` (and `history-memory-off`, the same fill without history): one client
//!   per room fills each room to its history size; the server's RSS delta per room and per
//!   kept message.
//! - `fanout-40k-history-redis` (and `fanout-40k-redis`, the plain chat on the same Redis):
//!   the fan-out with streams and bus on a `redis-server` the driver starts.
//! - `recover-1k`: 1,000 pages of one room drop their connections at once while messages are
//!   sent, then reconnect at once with their last positions: how long until each page has
//!   recovered (every missed message replayed, then `recovered: true`).
//!
//! The load-generator side ([`memory`], [`recover`]) and the driver's side (which scenarios,
//! their server, parsing and rendering their numbers) are both here, so the shared driver only
//! registers them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::client::{Client, Packet, string_field};
use crate::peers::liverpc_history::HISTORY_SIZE;
use crate::scenario::{self, Check, Latency, NAMESPACE, Target, now_ns};

/// The history scenarios the driver knows (`--scenarios`).
pub const SCENARIOS: [&str; 6] = [
    "fanout-40k-history",
    "history-memory",
    "history-memory-off",
    "recover-1k",
    "fanout-40k-history-redis",
    "fanout-40k-redis",
];

/// Whether scenario `id` is one of these (they run on the liverpc server only).
pub fn is_history_scenario(id: &str) -> bool {
    SCENARIOS.contains(&id)
}

/// Whether scenario `id` runs against `liverpc-history-server` (with [`server_args`]) rather
/// than the plain `liverpc-server`.
pub fn on_history_server(id: &str) -> bool {
    is_history_scenario(id) && id != "history-memory-off"
}

/// Whether a scenario among `ids` needs a `redis-server`.
pub fn needs_redis(ids: &[String]) -> bool {
    ids.iter().any(|id| id.ends_with("-redis"))
}

/// `liverpc-history-server`'s arguments for scenario `id`: `--redis URL` for the Redis ones
/// (`redis`: the URL of the Redis the driver started), `--plain` for the history-off one.
pub fn server_args(id: &str, redis: Option<&str>) -> Vec<String> {
    let mut args = Vec::new();
    if let (true, Some(url)) = (id.ends_with("-redis"), redis) {
        args.extend(["--redis".to_owned(), url.to_owned()]);
    }
    if id == "fanout-40k-redis" {
        args.push("--plain".to_owned());
    }
    args
}

/// A `redis-server` the driver started on a free loopback port, without persistence; killed
/// when dropped.
pub struct RedisServer {
    child: std::process::Child,
    /// Its URL, `redis://127.0.0.1:<port>`.
    pub url: String,
}

impl RedisServer {
    /// Starts `redis-server` and waits (up to 5 s) until it accepts connections.
    pub fn start() -> Result<RedisServer, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port for redis-server: {e}"))?
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting redis-server (needed by the -redis scenarios): {e}"))?;
        let server = RedisServer { child, url: format!("redis://127.0.0.1:{port}") };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("redis-server did not listen on port {port} within 5 s"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds the history-off scenario each chosen history scenario is compared with, so the
/// ratio always comes from one run.
pub fn add_companions(ids: &mut Vec<String>) {
    let pairs = [
        ("fanout-40k-history", "fanout-40k"),
        ("history-memory", "history-memory-off"),
        ("fanout-40k-history-redis", "fanout-40k-redis"),
    ];
    for (on, off) in pairs {
        if ids.iter().any(|id| id == on) && !ids.iter().any(|id| id == off) {
            ids.push(off.to_owned());
        }
    }
}

/// The load generator's arguments of each history scenario; `fanout_40k` is the
/// `fanout-40k` scenario's (the history variant offers the same load).
pub fn scenarios(quick: bool, fanout_40k: &[String]) -> Vec<(&'static str, Vec<String>)> {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let rooms = if quick { "100" } else { "1000" };
    let memory = strings(&["history-memory", "--rooms", rooms, "--fill", &HISTORY_SIZE.to_string()]);
    let pages = if quick { "200" } else { "1000" };
    vec![
        ("fanout-40k-history", fanout_40k.to_vec()),
        ("history-memory", memory.clone()),
        ("history-memory-off", memory),
        ("recover-1k", strings(&["recover", "--pages", pages, "--missed", "50"])),
        ("fanout-40k-history-redis", fanout_40k.to_vec()),
        ("fanout-40k-redis", fanout_40k.to_vec()),
    ]
}

/// A run's figures by metric name.
pub type Metrics = BTreeMap<&'static str, f64>;

/// The metrics of a history scenario's load-generator output (`kind`: its first argument);
/// `None` when `kind` is not one of them.
pub fn parse(kind: &str, json: &str) -> Option<Result<(Metrics, Check), String>> {
    let parse = |e: serde_json::Error| format!("loadgen output: {e}: {json}");
    let mut metrics = BTreeMap::new();
    match kind {
        "history-memory" => Some(serde_json::from_str::<MemoryResult>(json).map_err(parse).map(|r| {
            metrics.extend(r.rss_per_room_kib.map(|v| ("rss_per_room_kib", v)));
            metrics.extend(r.rss_per_message_bytes.map(|v| ("rss_per_message_bytes", v)));
            metrics.extend(r.rss_before_kib.map(|v| ("rss_before_kib", v as f64)));
            metrics.insert("fill_per_s", r.messages as f64 / r.elapsed_s.max(1e-9));
            metrics.insert("with_positions", r.with_positions as f64);
            (metrics, r.check)
        })),
        "recover" => Some(serde_json::from_str::<RecoverResult>(json).map_err(parse).map(|r| {
            metrics.insert("total_ms", r.total_ms);
            metrics.insert("p50_ms", r.per_page.p50_us as f64 / 1e3);
            metrics.insert("p99_ms", r.per_page.p99_us as f64 / 1e3);
            metrics.insert("max_ms", r.per_page.max_us as f64 / 1e3);
            metrics.insert("recovered", r.recovered as f64);
            metrics.insert("replayed", r.replayed as f64);
            metrics.extend(r.cpu_us_per_page.map(|v| ("cpu_us_per_page", v)));
            (metrics, r.check)
        })),
        _ => None,
    }
}

/// Renders the history section from the medians of the run (`median(scenario, metric)`, the
/// liverpc server's), for the scenarios that ran.
///
/// `values(scenario, metric)` gives each round's figure in round order: the CPU ratio is also
/// shown round by round (the two runs of a round are adjacent, under the same machine load).
pub fn render(
    md: &mut String,
    ran: &[&str],
    median: &dyn Fn(&str, &str) -> Option<f64>,
    values: &dyn Fn(&str, &str) -> Vec<f64>,
) {
    if !ran.iter().any(|id| on_history_server(id)) {
        return;
    }
    let cell = |v: Option<f64>| v.map_or("–".to_owned(), fmt);
    let _ = writeln!(
        md,
        "## Room history (issue 20)\n\nliverpc server only, one node, streams in memory (the embedded default), \
         `History::last({HISTORY_SIZE})` on the auto-joined `chat` room (the `-redis` scenarios: streams and bus \
         on a local `redis-server`, whose own CPU is not counted); each figure beside the same scenario \
         without history, from the same run.\n"
    );
    for (off_id, on_id, title) in [
        ("fanout-40k", "fanout-40k-history", "fan-out at 40k deliveries/s"),
        ("fanout-40k-redis", "fanout-40k-history-redis", "fan-out at 40k deliveries/s, on Redis"),
    ] {
        if ran.contains(&on_id) {
            fanout_table(md, title, off_id, on_id, median, values);
        }
    }
    if ran.contains(&"history-memory") {
        let _ = writeln!(
            md,
            "| rooms each filled with {HISTORY_SIZE} messages | history off | history on | on - off |\n|---|---:|---:|---:|"
        );
        for (metric, label) in [
            ("rss_per_room_kib", "server RSS per room (KiB)"),
            ("rss_per_message_bytes", "server RSS per sent message (bytes)"),
            ("rss_before_kib", "server RSS before the fill (KiB)"),
            ("fill_per_s", "messages sent / s during the fill"),
        ] {
            let (off, on) = (median("history-memory-off", metric), median("history-memory", metric));
            let delta = match (metric, on, off) {
                ("rss_per_room_kib" | "rss_per_message_bytes", Some(a), Some(b)) => fmt(a - b),
                _ => String::new(),
            };
            let _ = writeln!(md, "| {label} | {} | {} | {delta} |", cell(off), cell(on));
        }
        md.push('\n');
    }
    if ran.contains(&"recover-1k") {
        let pages = median("recover-1k", "recovered");
        let _ = writeln!(
            md,
            "| {} pages reconnecting at once after missing 50 messages | median of rounds |\n|---|---:|",
            pages.map_or("–".to_owned(), |p| format!("{p:.0}"))
        );
        for (metric, label) in [
            ("total_ms", "all pages recovered, from the first reconnect (ms)"),
            ("p50_ms", "per page, from its reconnect to `recovered: true`: p50 (ms)"),
            ("p99_ms", "per page: p99 (ms)"),
            ("max_ms", "per page: max (ms)"),
            ("cpu_us_per_page", "server CPU per recovered page (µs)"),
            ("replayed", "messages replayed (all pages)"),
        ] {
            let _ = writeln!(md, "| {label} | {} |", cell(median("recover-1k", metric)));
        }
        md.push('\n');
    }
}

/// One fan-out table: `on_id` (history) against `off_id` (without), medians and the CPU ratio
/// round by round.
fn fanout_table(
    md: &mut String,
    title: &str,
    off_id: &str,
    on_id: &str,
    median: &dyn Fn(&str, &str) -> Option<f64>,
    values: &dyn Fn(&str, &str) -> Vec<f64>,
) {
    let cell = |v: Option<f64>| v.map_or("–".to_owned(), fmt);
    let ratio = |on: Option<f64>, off: Option<f64>| match (on, off) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let _ = writeln!(md, "| {title} | history off | history on | on / off | target |");
    let _ = writeln!(md, "|---|---:|---:|---:|---|");
    for (metric, label, target) in [
        ("cpu_us_per_delivery", "server CPU per delivery (µs)", Some(1.15)),
        ("delivered_per_s", "delivered / s", None),
        ("p50_ms", "p50 latency (ms)", None),
        ("p99_ms", "p99 latency (ms)", None),
    ] {
        let (off, on) = (median(off_id, metric), median(on_id, metric));
        let r = ratio(on, off);
        let verdict = match (target, r) {
            (Some(t), Some(r)) => format!("<= {t:.2}: {}", if r <= t { "pass" } else { "**miss**" }),
            _ => String::new(),
        };
        let r = r.map_or("–".to_owned(), |r| format!("{r:.2}"));
        let _ = writeln!(md, "| {label} | {} | {} | {r} | {verdict} |", cell(off), cell(on));
    }
    let (off, on) = (values(off_id, "cpu_us_per_delivery"), values(on_id, "cpu_us_per_delivery"));
    let rounds: Vec<String> = on.iter().zip(&off).map(|(a, b)| format!("{:.2}", a / b.max(1e-9))).collect();
    let (p50_off, p50_on) = (values(off_id, "p50_ms"), values(on_id, "p50_ms"));
    let p50: Vec<String> = p50_off.iter().zip(&p50_on).map(|(a, b)| format!("{} / {}", fmt(*a), fmt(*b))).collect();
    let _ = writeln!(
        md,
        "\nCPU per delivery on / off, round by round: {} (p50 latency off / on, ms: {}).",
        rounds.join(", "),
        p50.join(", ")
    );
    md.push('\n');
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Emits `send {text}` with ack `id` and reads until its answer (answering pings, counting the
/// messages that arrive meanwhile). Returns (answer ok, messages received, of which with a position).
async fn call(client: &mut Client, text: &str, id: u64) -> std::io::Result<(bool, u64, u64)> {
    let payload = serde_json::to_string(&serde_json::json!({ "text": text })).map_err(std::io::Error::other)?;
    client.emit("send", &payload, id).await?;
    let (mut messages, mut positioned) = (0, 0);
    loop {
        client.fill().await?;
        let mut pongs = 0;
        let mut answer = None;
        while let Some(packet) = client.next_packet()? {
            match packet {
                Packet::Ping => pongs += 1,
                Packet::Event(json) if json.starts_with("[\"message\"") => {
                    messages += 1;
                    positioned += u64::from(offset_of(json).is_some());
                }
                Packet::Ack(ack, json) if ack == id => answer = Some(json.starts_with("[{\"ok\":true")),
                Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                _ => {}
            }
        }
        for _ in 0..pongs {
            client.pong().await?;
        }
        if let Some(ok) = answer {
            return Ok((ok, messages, positioned));
        }
    }
}

/// The offset of a message event's position (its third argument), if it carries one.
fn offset_of(event: &str) -> Option<u64> {
    let at = event.rfind("\"offset\":")? + "\"offset\":".len();
    let digits = event[at..].bytes().take_while(u8::is_ascii_digit).count();
    event[at..at + digits].parse().ok()
}

/// A message event's position as JSON text (`{"stream":..,"epoch":..,"offset":..}`).
fn position_of(event: &str) -> Option<&str> {
    let start = event.rfind("{\"stream\"")?;
    event[start..].strip_suffix(']')
}

/// The history-memory scenario's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemoryResult {
    /// Rooms filled (one client each).
    pub rooms: u64,
    /// Messages sent in all.
    pub messages: u64,
    /// Messages that came back with a position (0 without history).
    pub with_positions: u64,
    /// Seconds the fill took.
    pub elapsed_s: f64,
    /// Server RSS with every client connected, before the fill, KiB.
    pub rss_before_kib: Option<u64>,
    /// Server RSS after the fill and a settle, KiB.
    pub rss_after_kib: Option<u64>,
    /// (after - before) / rooms, KiB.
    pub rss_per_room_kib: Option<f64>,
    /// (after - before) / messages, bytes.
    pub rss_per_message_bytes: Option<f64>,
    /// Correctness: each client got each of its messages back once, every call answered `ok`.
    pub check: Check,
}

/// History memory: `rooms` clients, one per room, each send `fill` messages of `text_bytes`
/// characters to their room (one at a time); the server's RSS before and `settle` after.
pub async fn memory(target: &Target, rooms: usize, fill: usize, text_bytes: usize, settle: Duration) -> MemoryResult {
    let (clients, errors, _) = scenario::connect_all(target, rooms, |i| i).await;
    let mut check = Check::default();
    errors.into_iter().for_each(|e| check.error(e));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss0, t0) = (target.rss_kib(), now_ns());
    let mut tasks = JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let Some(mut client) = client else { continue };
        tasks.spawn(async move {
            let (mut wrong, mut received, mut positioned) = (0, 0, 0);
            for seq in 0..fill {
                let mut text = format!("r{i}|{seq}|");
                while text.len() < text_bytes {
                    text.push('x');
                }
                let (ok, got, with) =
                    call(&mut client, &text, seq as u64).await.map_err(|e| format!("room {i}: {e}"))?;
                wrong += u64::from(!ok);
                received += got;
                positioned += with;
            }
            // Its own last message may still be on its way after the last answer.
            if received < fill as u64 {
                let waited = tokio::time::timeout(Duration::from_secs(5), async {
                    while received < fill as u64 {
                        client.fill().await?;
                        while let Some(packet) = client.next_packet()? {
                            if let Packet::Event(json) = packet
                                && json.starts_with("[\"message\"")
                            {
                                received += 1;
                                positioned += u64::from(offset_of(json).is_some());
                            }
                        }
                    }
                    Ok::<_, std::io::Error>(())
                })
                .await;
                if let Ok(Err(e)) = waited {
                    return Err(format!("room {i}: {e}"));
                }
            }
            Ok((client, wrong, received, positioned))
        });
    }
    let mut result = MemoryResult::default();
    let mut kept = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((client, wrong, received, positioned))) => {
                result.rooms += 1;
                result.messages += fill as u64;
                result.with_positions += positioned;
                check.wrong_answers += wrong;
                check.lost += (fill as u64).saturating_sub(received);
                check.duplicated += received.saturating_sub(fill as u64);
                kept.push(client);
            }
            Ok(Err(e)) => check.error(e),
            Err(e) => check.error(format!("client task: {e}")),
        }
    }
    result.elapsed_s = now_ns().saturating_sub(t0) as f64 / 1e9;
    // The clients stay connected (their memory is in both readings), idle, while the server
    // settles.
    tokio::time::sleep(settle).await;
    let rss1 = target.rss_kib();
    drop(kept);
    result.rss_before_kib = rss0;
    result.rss_after_kib = rss1;
    if let (Some(a), Some(b)) = (rss0, rss1) {
        let delta = b.saturating_sub(a) as f64;
        result.rss_per_room_kib = Some(delta / result.rooms.max(1) as f64);
        result.rss_per_message_bytes = Some(delta * 1024.0 / result.messages.max(1) as f64);
    }
    result.check = check;
    result
}

/// The recover scenario's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecoverResult {
    /// Pages that reconnected.
    pub pages: u64,
    /// Of which told `recovered: true` after their replay.
    pub recovered: u64,
    /// Messages replayed (before the room's status), all pages together.
    pub replayed: u64,
    /// Milliseconds from the first reconnect to the last page's `recovered: true`.
    pub total_ms: f64,
    /// Per page, from the start of its reconnect to its `recovered: true`.
    pub per_page: Latency,
    /// Server CPU over the reconnect burst, microseconds.
    pub server_cpu_us: Option<u64>,
    /// Server CPU per reconnected page, microseconds.
    pub cpu_us_per_page: Option<f64>,
    /// Correctness: every page got every offset after its position exactly once, in order,
    /// and was told `recovered: true`.
    pub check: Check,
}

/// What a page's reconnect saw.
struct Rejoined {
    /// Nanoseconds from its dial to its room's status.
    took_ns: u64,
    recovered: bool,
    replayed: u64,
    lost: u64,
    duplicated: u64,
}

/// Recovery: `pages` clients and one sender in room `r0`; the sender sends `before` messages,
/// every page's connection is dropped at once, the sender sends `missed` more and keeps
/// sending `live_rate` messages a second while every page reconnects at once with its last
/// position (handshake `since`). A page has recovered when its room's status says
/// `recovered: true` (the replay comes before it); then it must also get every live message,
/// each offset once and in order.
pub async fn recover(target: &Target, pages: usize, before: usize, missed: usize, live_rate: f64) -> RecoverResult {
    let mut check = Check::default();
    let mut result = RecoverResult::default();
    let sender_dial = target.dial(pages);
    let mut sender = match Client::connect(&sender_dial, NAMESPACE, "/rooms/r0").await {
        Ok(sender) => sender,
        Err(e) => {
            check.error(format!("sender: connect: {e}"));
            result.check = check;
            return result;
        }
    };
    // Phase 1: every page joined, then gets `before` messages; it keeps the last position.
    let (clients, errors, _) = scenario::connect_all(target, pages, |_| 0).await;
    errors.into_iter().for_each(|e| check.error(e));
    let joined = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let Some(mut client) = client else { continue };
        let joined = joined.clone();
        tasks.spawn(async move {
            let position = first_messages(&mut client, before, &joined).await.map_err(|e| format!("page {i}: {e}"))?;
            Ok::<_, String>((i, client, position))
        });
    }
    let connected = tasks.len();
    let deadline = now_ns() + 20_000_000_000;
    while joined.load(Ordering::Acquire) < connected && now_ns() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut seq = 0u64;
    for _ in 0..before {
        send_one(&mut sender, &mut seq, &mut check).await;
    }
    let mut held = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(page)) => held.push(page),
            Ok(Err(e)) => check.error(e),
            Err(e) => check.error(format!("page task: {e}")),
        }
    }
    // Phase 2: every connection dropped at once (no Socket.IO disconnect), then messages sent.
    let positions: Vec<(usize, String, u64)> = held
        .into_iter()
        .map(|(i, client, (position, offset))| {
            drop(client);
            (i, position, offset)
        })
        .collect();
    for _ in 0..missed {
        send_one(&mut sender, &mut seq, &mut check).await;
    }
    // Phase 3: live messages continue while every page reconnects at once with its position.
    let last_offset = Arc::new(AtomicU64::new(u64::MAX));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let live = tokio::spawn(async move {
        let mut check = Check::default();
        let period = Duration::from_secs_f64(1.0 / live_rate.max(0.1));
        let mut next = tokio::time::Instant::now();
        loop {
            next += period;
            tokio::select! {
                _ = stop_rx.changed() => break,
                () = tokio::time::sleep_until(next) => send_one(&mut sender, &mut seq, &mut check).await,
            }
        }
        (seq, check)
    });
    let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let recovered = Arc::new(AtomicUsize::new(0));
    let (cpu0, t0) = (target.cpu_us(), now_ns());
    let mut tasks = JoinSet::new();
    for (i, position, offset) in positions {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let dial = target.dial(i);
        let (recovered, last_offset) = (recovered.clone(), last_offset.clone());
        tasks.spawn(async move {
            let start = now_ns();
            let auth = format!("{{\"path\":\"/rooms/r0\",\"since\":[{position}]}}");
            let connected = Client::connect_with_auth(&dial, NAMESPACE, &auth).await;
            drop(permit);
            let mut client = connected.map_err(|e| format!("page {i}: reconnect: {e}"))?;
            rejoin(&mut client, start, offset, &recovered, &last_offset).await.map_err(|e| format!("page {i}: {e}"))
        });
    }
    let reconnecting = tasks.len();
    let deadline = now_ns() + 30_000_000_000;
    while recovered.load(Ordering::Acquire) < reconnecting && now_ns() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (cpu1, t1) = (target.cpu_us(), now_ns());
    let _ = stop_tx.send(true);
    match live.await {
        Ok((sent, live_check)) => {
            last_offset.store(sent, Ordering::Release);
            check.wrong_answers += live_check.wrong_answers;
            live_check.errors.into_iter().for_each(|e| check.error(e));
        }
        Err(e) => check.error(format!("sender task: {e}")),
    }
    let mut took = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(page)) => {
                result.pages += 1;
                result.recovered += u64::from(page.recovered);
                result.replayed += page.replayed;
                check.lost += page.lost;
                check.duplicated += page.duplicated;
                if !page.recovered {
                    check.error("a page was told recovered: false".to_owned());
                }
                took.push(u32::try_from(page.took_ns / 1000).unwrap_or(u32::MAX));
            }
            Ok(Err(e)) => check.error(e),
            Err(e) => check.error(format!("page task: {e}")),
        }
    }
    result.total_ms = t1.saturating_sub(t0) as f64 / 1e6;
    result.per_page = Latency::of(took);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        result.server_cpu_us = Some(b.saturating_sub(a));
        result.cpu_us_per_page = Some(b.saturating_sub(a) as f64 / result.pages.max(1) as f64);
    }
    result.check = check;
    result
}

/// Sends the sender's next message; a wrong answer or a failure is counted.
async fn send_one(sender: &mut Client, seq: &mut u64, check: &mut Check) {
    let text = format!("r0|{seq}|{}", now_ns());
    match call(sender, &text, *seq).await {
        Ok((true, _, _)) => {}
        Ok((false, _, _)) => check.wrong_answers += 1,
        Err(e) => check.error(format!("sender: {e}")),
    }
    *seq += 1;
}

/// Reads until the room's status (counted in `joined`), then until `count` messages; returns
/// the last one's position (JSON text) and offset.
async fn first_messages(client: &mut Client, count: usize, joined: &AtomicUsize) -> std::io::Result<(String, u64)> {
    let (mut status, mut got, mut last) = (false, 0, None);
    loop {
        client.fill().await?;
        let mut pongs = 0;
        while let Some(packet) = client.next_packet()? {
            match packet {
                Packet::Ping => pongs += 1,
                Packet::Event(json) if json.starts_with("[\"liverpc:room\"") && !status => {
                    status = true;
                    joined.fetch_add(1, Ordering::Release);
                }
                Packet::Event(json) if json.starts_with("[\"message\"") => {
                    got += 1;
                    let position = position_of(json).zip(offset_of(json));
                    last = Some(position.map(|(p, o)| (p.to_owned(), o)).ok_or_else(|| {
                        std::io::Error::other(format!("a message of a room with history without a position: {json}"))
                    })?);
                }
                Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                _ => {}
            }
        }
        for _ in 0..pongs {
            client.pong().await?;
        }
        if status
            && got >= count
            && let Some(last) = last.take()
        {
            return Ok(last);
        }
    }
}

/// A reconnected page: the replay, its room's status, then live messages until the sender's
/// last offset (`u64::MAX` while it still sends). Every offset after `from` must come once,
/// in order.
async fn rejoin(
    client: &mut Client,
    start: u64,
    from: u64,
    recovered: &AtomicUsize,
    last_offset: &AtomicU64,
) -> std::io::Result<Rejoined> {
    let mut page = Rejoined { took_ns: 0, recovered: false, replayed: 0, lost: 0, duplicated: 0 };
    let (mut status, mut next) = (false, from + 1);
    let drain_deadline = now_ns() + 60_000_000_000;
    loop {
        let last = last_offset.load(Ordering::Acquire);
        if status && (next > last || now_ns() > drain_deadline) {
            page.lost += last.saturating_add(1).saturating_sub(next).min(u64::from(u32::MAX));
            return Ok(page);
        }
        if now_ns() > drain_deadline {
            return Err(std::io::Error::other("no room status within 60 s of reconnecting"));
        }
        // Wake up now and then to see whether the sender has stopped.
        match tokio::time::timeout(Duration::from_millis(50), client.fill()).await {
            Ok(read) => read?,
            Err(_) => continue,
        }
        let mut pongs = 0;
        while let Some(packet) = client.next_packet()? {
            match packet {
                Packet::Ping => pongs += 1,
                Packet::Event(json) if json.starts_with("[\"liverpc:room\"") && !status => {
                    status = true;
                    page.took_ns = now_ns().saturating_sub(start);
                    page.recovered = json.contains("\"recovered\":true") && string_field(json, "room") == Some("chat");
                    recovered.fetch_add(1, Ordering::Release);
                }
                Packet::Event(json) if json.starts_with("[\"message\"") => {
                    let offset =
                        offset_of(json).ok_or_else(|| std::io::Error::other("a message without a position"))?;
                    if !status {
                        page.replayed += 1;
                    }
                    match offset.cmp(&next) {
                        std::cmp::Ordering::Equal => next += 1,
                        std::cmp::Ordering::Less => page.duplicated += 1,
                        std::cmp::Ordering::Greater => {
                            page.lost += offset - next;
                            next = offset + 1;
                        }
                    }
                }
                Packet::Closed => return Err(std::io::Error::other("closed by the server")),
                _ => {}
            }
        }
        for _ in 0..pongs {
            client.pong().await?;
        }
    }
}
