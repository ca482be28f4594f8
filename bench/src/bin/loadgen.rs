//! The load generator: runs one scenario against one server and prints its result as one
//! line of JSON. Single-threaded (one core), one task per client.
//!
//! ```text
//! loadgen fanout  --addr A [--server-pid P] [--clients 2000] [--rooms 20] [--rate 40000]
//!                 [--warmup-ms 2000] [--measure-ms 5000] [--drain-ms 20000]
//! loadgen connect --addr A [--server-pid P] [--clients 10000] [--settle-ms 2000]
//! loadgen idle    --addr A [--server-pid P] [--clients 50000] [--settle-ms 3000] (--sources 64 by default)
//! loadgen joins   --addr A [--server-pid P] [--clients 1000] [--joins 33]
//! loadgen history-memory --addr A [--server-pid P] [--rooms 1000] [--fill 100] [--text-bytes 64] [--settle-ms 2000]
//! loadgen recover --addr A [--server-pid P] [--pages 1000] [--before 10] [--missed 50] [--live-rate 20]
//! common: [--sources N] (spread clients over 127.0.0.1..N) [--concurrency 1000] (handshakes in flight)
//! ```

use std::process::ExitCode;
use std::time::Duration;

use liverpc_bench::args::Args;
use liverpc_bench::scenario::{self, FanoutConfig, Target};
use liverpc_bench::{history, procfs};

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let args = Args::from_env();
    let addr = args.value("addr").ok_or("--addr is required")?.parse().map_err(|e| format!("--addr: {e}"))?;
    let mut target = Target::new(addr);
    target.server_pid =
        args.value("server-pid").map(str::parse).transpose().map_err(|e| format!("--server-pid: {e}"))?;
    target.sources = args.get("sources", 0)?;
    target.connect_concurrency = args.get("concurrency", 1000)?;
    let ms = |name: &str, default: u64| args.get(name, default).map(Duration::from_millis);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let scenario = args.positional.first().map(String::as_str).unwrap_or_default();
    let json = match scenario {
        "fanout" => {
            let config = FanoutConfig {
                clients: args.get("clients", 2000)?,
                rooms: args.get("rooms", 20)?,
                rate: args.get("rate", 40_000.0)?,
                warmup: ms("warmup-ms", 2000)?,
                measure: ms("measure-ms", 5000)?,
                drain: ms("drain-ms", 20_000)?,
                slow_readers: args.get("slow-readers", 0)?,
                interval: None,
            };
            let result = runtime.block_on(scenario::fanout(&target, &config));
            eprintln!("loadgen fanout: {}", result.check.summary());
            serde_json::to_string(&result)
        }
        "connect" => {
            let clients = args.get("clients", 10_000)?;
            enough_descriptors(clients)?;
            let result = runtime.block_on(scenario::connect_burst(&target, clients, ms("settle-ms", 2000)?));
            eprintln!("loadgen connect: {}", result.check.summary());
            serde_json::to_string(&result)
        }
        "idle" => {
            let clients = args.get("clients", 50_000)?;
            target.sources = args.get("sources", 64)?;
            enough_descriptors(clients)?;
            let result = runtime.block_on(scenario::idle_connections(&target, clients, ms("settle-ms", 3000)?));
            eprintln!(
                "loadgen idle: {} from {} source addresses; {}",
                result.connected,
                result.sources_used,
                result.check.summary()
            );
            serde_json::to_string(&result)
        }
        "joins" => {
            let result = runtime.block_on(scenario::joins(&target, args.get("clients", 1000)?, args.get("joins", 33)?));
            eprintln!("loadgen joins: {}", result.check.summary());
            serde_json::to_string(&result)
        }
        "history-memory" => {
            let (rooms, fill, text_bytes) =
                (args.get("rooms", 1000)?, args.get("fill", 100)?, args.get("text-bytes", 64)?);
            let result = runtime.block_on(history::memory(&target, rooms, fill, text_bytes, ms("settle-ms", 2000)?));
            eprintln!("loadgen history-memory: {}", result.check.summary());
            serde_json::to_string(&result)
        }
        "recover" => {
            let (pages, before, missed) = (args.get("pages", 1000)?, args.get("before", 10)?, args.get("missed", 50)?);
            let result =
                runtime.block_on(history::recover(&target, pages, before, missed, args.get("live-rate", 20.0)?));
            eprintln!("loadgen recover: {}", result.check.summary());
            serde_json::to_string(&result)
        }
        other => {
            return Err(format!(
                "unknown scenario `{other}`: fanout | connect | idle | joins | history-memory | recover"
            ));
        }
    };
    json.map_err(|e| e.to_string())
}

/// Fails before connecting when `clients` connections (one descriptor each) would not fit in
/// the open-file limit: better than thousands of `EMFILE`s.
fn enough_descriptors(clients: usize) -> Result<(), String> {
    let needed = clients as u64 + 64;
    match procfs::open_files_limit() {
        Some((Some(soft), hard)) if soft < needed => {
            let hard = hard.map_or("unlimited".to_owned(), |h| h.to_string());
            Err(format!(
                "{clients} clients need about {needed} open files; the limit is {soft} (hard {hard}): \
                 raise it (`ulimit -n`), or connect fewer"
            ))
        }
        _ => Ok(()),
    }
}
