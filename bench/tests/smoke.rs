//! The benchmark harness's smoke run: small numbers against the liverpc, raw socketioxide and
//! floor servers (the Node and TypeScript peers are `#[ignore]`d here: they need npm packages and the
//! addon, and `cargo xtask test` runs them once those are installed and built),
//! checking only that the harness is correct — nothing lost, nothing crossed, every answer as
//! expected. No timing assertions.

use std::net::SocketAddr;
use std::time::Duration;

use liverpc_bench::client::{Client, Dial};
use liverpc_bench::history;
use liverpc_bench::peers::{floor, liverpc_chat, liverpc_history, raw};
use liverpc_bench::scenario::{self, FanoutConfig, Target};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs every scenario small against the server at `addr`, whose process is `pid` (this one
/// for the Rust peers).
async fn harness(name: &str, addr: SocketAddr, pid: u32) {
    let target = Target::new(addr);
    // 20 clients in 2 rooms, 2,000 deliveries/s: 200 sends/s for ~1.2 s, a few hundred messages.
    let config = FanoutConfig {
        clients: 20,
        rooms: 2,
        rate: 2000.0,
        warmup: Duration::from_millis(200),
        measure: Duration::from_millis(1000),
        drain: Duration::from_secs(10),
        slow_readers: 2,
        interval: None,
    };
    let fanout = scenario::fanout(&target, &config).await;
    assert!(fanout.check.ok(), "{name} fan-out: {}", fanout.check.summary());
    assert!(fanout.sent >= 100, "{name}: only {} messages sent", fanout.sent);
    assert_eq!(fanout.received, fanout.sent * 10, "{name}: every member of a room gets every message of its room");
    assert!(fanout.latency.samples > 0, "{name}: latencies were measured");

    let joins = scenario::joins(&target, 20, 12).await;
    assert!(joins.check.ok(), "{name} joins: {}", joins.check.summary());
    assert_eq!((joins.joins, joins.denied), (240, 20), "{name}: 12 joins each, the 11th denied");

    let burst = scenario::connect_burst(&target, 50, Duration::from_millis(100)).await;
    assert!(burst.check.ok(), "{name} connect: {}", burst.check.summary());
    assert_eq!(burst.connected, 50, "{name}");

    // Idle connections spread over three loopback source addresses, the server's RSS read.
    // 120 clients: with the server in this process each is two descriptors, and the other
    // two Rust peers' tests run at the same time, within a default limit of 1,024.
    let spread = Target { server_pid: Some(pid), sources: 3, ..target.clone() };
    let idle = scenario::idle_connections(&spread, 120, Duration::from_millis(100)).await;
    assert!(idle.check.ok(), "{name} idle: {}", idle.check.summary());
    assert_eq!((idle.connected, idle.sources_used), (120, 3), "{name}: every client, from three addresses");
    assert!(idle.rss_before_kib.is_some() && idle.rss_after_kib.is_some(), "{name}: the server's RSS was read");
    assert!(idle.loadgen_rss_kib.is_some(), "{name}: the load generator's RSS was read");

    // Refused handshakes are refused the same way by every peer.
    let dial = |cookie: &str| Dial { addr, local: None, cookie: cookie.to_owned(), recv_buffer: None };
    let refused = |r: std::io::Result<Client>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let ns = scenario::NAMESPACE;
    let not_found = refused(Client::connect(&dial("session=bench"), ns, "/nowhere").await);
    assert!(not_found.contains("not_found"), "{name}: {not_found}");
    let unknown = refused(Client::connect(&dial("session=mallory"), ns, "/rooms/a").await);
    assert!(unknown.contains("unauthenticated"), "{name}: {unknown}");
    assert!(Client::connect(&dial(""), ns, "/rooms/a").await.is_ok(), "{name}: anonymous users may connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liverpc_server() {
    let (addr, serve) = liverpc_chat::bind(loopback()).await.expect("bind");
    let server = tokio::spawn(serve);
    harness("liverpc", addr, std::process::id()).await;
    server.abort();
}

/// The history scenarios small against the chat with history: the fill comes back with
/// positions, and every page recovers every missed message once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liverpc_history_server() {
    let (addr, serve) = liverpc_history::bind(loopback(), true, None).await.expect("bind");
    let server = tokio::spawn(serve);
    let target = Target { server_pid: Some(std::process::id()), ..Target::new(addr) };
    let memory = history::memory(&target, 5, 20, 64, Duration::from_millis(100)).await;
    assert!(memory.check.ok(), "history-memory: {}", memory.check.summary());
    assert_eq!((memory.rooms, memory.messages, memory.with_positions), (5, 100, 100), "every message has a position");
    assert!(memory.rss_per_room_kib.is_some(), "the server's RSS was read");

    let recover = history::recover(&target, 20, 3, 10, 50.0).await;
    assert!(recover.check.ok(), "recover: {}", recover.check.summary());
    assert_eq!(recover.recovered, 20, "every page recovered");
    assert!(recover.replayed >= 200, "10 missed messages replayed to each page: {}", recover.replayed);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_socketioxide_server() {
    let (addr, serve) = raw::bind(loopback()).await.expect("bind");
    let server = tokio::spawn(serve);
    harness("socketioxide", addr, std::process::id()).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_server() {
    let (addr, serve) = floor::bind(loopback()).await.expect("bind");
    let server = tokio::spawn(serve);
    harness("floor", addr, std::process::id()).await;
    server.abort();
}

/// Starts `node server.js` in `dir` and runs the harness against it.
async fn node_peer(name: &str, dir: &std::path::Path) {
    let mut child = tokio::process::Command::new("node")
        .arg("server.js")
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts (the Node peers need Node 20)");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the peer starts in 20 s")
        .expect("read the peer's output")
        .expect("the peer prints its address");
    let addr: SocketAddr = line.trim().strip_prefix("listening ").expect("listening line").parse().expect("address");
    harness(name, addr, child.id().expect("the peer runs")).await;
    let _ = child.kill().await;
}

/// The Node peer. Needs `npm ci` in bench/node: `cargo xtask test` runs it after that
/// (`cargo test -p liverpc-bench --test smoke -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bench/node's packages: cargo xtask test runs it after npm ci"]
async fn node_server() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(dir.join("node_modules/socket.io").exists(), "bench/node/node_modules is missing: npm ci in bench/node");
    node_peer("node", &dir).await;
}

/// The TypeScript front-end's peer. Needs packages/liverpc built with its addon: `cargo xtask
/// test` runs it after those steps (`cargo test -p liverpc-bench --test smoke -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs packages/liverpc and its addon built: cargo xtask test runs it after they are"]
async fn liverpc_ts_server() {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let package = bench.join("../packages/liverpc");
    let addon = std::env::var_os("LIVERPC_NATIVE").map_or_else(|| package.join("native/liverpc.node"), Into::into);
    assert!(
        package.join("dist/server/index.js").exists() && addon.exists(),
        "packages/liverpc is not built: npm run build and node scripts/build-native.mjs there"
    );
    node_peer("liverpc-ts", &bench.join("ts")).await;
}
