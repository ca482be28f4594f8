//! The fault soak (`cargo xtask bench --scenarios soak`): 2,000 well-behaved pages chatting
//! (the fan-out scenario: every message to every member of its room, in order, once) against
//! `liverpc-server-jemalloc` (the bench's liverpc server on the allocator that gives memory
//! back) with every limit at its default and its rooms on Redis, twice: alone (the
//! baseline), then with the hostile mix of [`liverpc_bench::soak`] and two faults: Redis killed
//! (SIGKILL) at a third of the run and restarted at half, and the server's descriptor limit set
//! so that the connection flood holds it at its cap (the limit less 64) throughout. Reports,
//! per run: what the well-behaved pages received against what was sent to them, their p99
//! (over the run and per `--interval`, by send time), the server's peak RSS, its panics (lines
//! with `panicked` on its stderr).
//!
//! ```text
//! soak [--duration 10m] [--baseline 10m] [--pages 2000] [--rooms 100] [--rate 20000]
//!      [--server PATH] [--fd-limit N] [--no-redis] [--no-baseline] [--interval 60s]
//! ```
//!
//! Prints one line of JSON (both runs) and then the Markdown table.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use liverpc_bench::args::Args;
use liverpc_bench::procfs;
use liverpc_bench::scenario::{self, FanoutConfig, FanoutResult, Target};
use liverpc_bench::server;
use liverpc_bench::soak::{self, HostileConfig, HostileCounts};
use serde::{Deserialize, Serialize};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    duration_s: u64,
    pages: usize,
    rooms: usize,
    rate: f64,
    fd_limit: u64,
    redis: bool,
    /// The length of the intervals the p99 is also reported for.
    interval: Duration,
}

/// One run's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outcome {
    hostile: bool,
    duration_s: u64,
    fanout: FanoutResult,
    /// Deliveries the well-behaved pages were owed: every message sent in a room, to each of
    /// its members.
    expected: u64,
    rss_start_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
    rss_end_kib: Option<u64>,
    panics: u64,
    counts: Option<HostileCounts>,
    faults: Vec<String>,
}

fn redis_server(port: u16) -> Result<server::Guard, String> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(server::Guard)
        .map_err(|e| format!("redis-server: {e} (install it, or pass --no-redis)"))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

fn run() -> Result<bool, String> {
    let args = Args::from_env();
    let duration_s = args.duration("duration", Duration::from_secs(600))?.as_secs();
    let pages: usize = args.get("pages", 2000)?;
    let settings = Settings {
        duration_s,
        pages,
        rooms: args.get("rooms", 100)?,
        rate: args.get("rate", 20_000.0)?,
        // The pages, the slow readers, the hostile websockets and a few hundred for the flood:
        // it holds the server at its cap (this less 64).
        fd_limit: args.get("fd-limit", pages as u64 + 1_200)?,
        redis: !args.flag("no-redis"),
        interval: args.duration("interval", Duration::from_secs(60))?,
    };
    let baseline_s = args.duration("baseline", Duration::from_secs(duration_s))?.as_secs();
    let program = match args.value("server") {
        Some(path) => PathBuf::from(path),
        None => server::beside_this_binary()?.with_file_name("liverpc-server-jemalloc"),
    };
    if let Some((Some(soft), _)) = procfs::open_files_limit() {
        let needed = pages as u64 + 6_000;
        if soft < needed {
            return Err(format!(
                "the soak holds about {needed} sockets; the open-file limit is {soft}: raise it (`ulimit -n`)"
            ));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    if !args.flag("no-baseline") {
        outcomes.push(runtime.block_on(one(
            &program,
            &Settings { duration_s: baseline_s, ..settings.clone() },
            false,
        ))?);
    }
    outcomes.push(runtime.block_on(one(&program, &settings, true))?);
    println!("{}", serde_json::to_string(&outcomes).map_err(|e| e.to_string())?);
    println!("\n{}", table(&settings, &outcomes));
    let delivered = outcomes.iter().all(|o| o.fanout.check.ok() && o.fanout.received == o.expected && o.panics == 0);
    Ok(delivered && p99_ratio(&outcomes).is_none_or(|ratio| ratio <= 2.0))
}

/// The hostile run's p99 over the baseline's, when both ran.
fn p99_ratio(outcomes: &[Outcome]) -> Option<f64> {
    let p99 = |hostile: bool| outcomes.iter().find(|o| o.hostile == hostile).map(|o| o.fanout.latency.p99_us as f64);
    Some(p99(true)? / p99(false)?.max(1.0))
}

/// One run: a fresh Redis and server, the pages, and with `hostile` the mix and the faults.
async fn one(program: &Path, settings: &Settings, hostile: bool) -> Result<Outcome, String> {
    let port = free_port()?;
    let url = format!("redis://127.0.0.1:{port}");
    let mut redis = if settings.redis { Some(redis_server(port)?) } else { None };
    // Redis answers within a moment; the server does not wait for it (its bus connects lazily).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fd_limit = if hostile { settings.fd_limit } else { settings.fd_limit.max(settings.pages as u64 * 2) };
    let served = server::start(program, fd_limit, settings.redis.then_some(url.as_str()))?;
    let (pid, addr) = (served.pid(), served.addr);
    // The pages from four addresses (500 each, under the default cap of 1,000 per address).
    let target = Target { server_pid: Some(pid), sources: 4, ..Target::new(addr) };
    let config = FanoutConfig {
        clients: settings.pages,
        rooms: settings.rooms,
        rate: settings.rate,
        warmup: Duration::from_secs(5),
        measure: Duration::from_secs(settings.duration_s),
        drain: Duration::from_secs(30),
        slow_readers: if hostile { 20 } else { 0 },
        interval: Some(settings.interval),
    };
    let rss_start = procfs::rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(rss_start.unwrap_or(0)));
    let descriptors_peak = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = {
        let (peak, descriptors, mut stop) = (peak.clone(), descriptors_peak.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tick.tick() => {
                        if let Some(kib) = procfs::rss_kib(pid) {
                            peak.fetch_max(kib, Ordering::Relaxed);
                        }
                        descriptors.fetch_max(server::open_descriptors(pid) as u64, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let fanout = scenario::fanout(&target, &config);
    tokio::pin!(fanout);
    let mut faults = Vec::new();
    let mut counts = None;
    let fanout = if hostile {
        // The hostile mix starts once the pages are in (the server holds a descriptor each).
        let started = Instant::now();
        let pages_in = async {
            while server::open_descriptors(pid) < settings.pages {
                tokio::time::sleep(Duration::from_millis(100)).await; // polling /proc
            }
        };
        let result = tokio::select! {
            result = &mut fanout => Some(result),
            () = pages_in => None,
        };
        let hostile = soak::start(addr, &HostileConfig::default(), stop_rx.clone());
        let result = match result {
            Some(result) => result,
            None => 'faults: {
                let total = config.warmup + config.measure;
                let (kill_at, restart_at) = (total / 3, total / 2);
                let mut schedule = std::pin::pin!(async {
                    tokio::time::sleep(kill_at).await;
                    if let Some(mut r) = redis.take() {
                        let _ = r.0.kill();
                        let _ = r.0.wait();
                        faults.push(format!("Redis killed (SIGKILL) at {:.0} s", started.elapsed().as_secs_f64()));
                    }
                    tokio::time::sleep(restart_at - kill_at).await;
                    if settings.redis {
                        match redis_server(port) {
                            Ok(r) => {
                                redis = Some(r);
                                faults.push(format!("Redis restarted at {:.0} s", started.elapsed().as_secs_f64()));
                            }
                            Err(e) => faults.push(e),
                        }
                    }
                    std::future::pending::<()>().await;
                });
                tokio::select! {
                    result = &mut fanout => break 'faults result,
                    () = &mut schedule => unreachable!("the schedule never ends"),
                }
            }
        };
        let _ = stop_tx.send(true);
        counts = hostile.await.ok();
        faults.push(format!(
            "descriptor limit {} (so the connection cap is {}): the server's open descriptors peaked at {}",
            settings.fd_limit,
            settings.fd_limit - 64,
            descriptors_peak.load(Ordering::Relaxed)
        ));
        result
    } else {
        fanout.await
    };
    let _ = stop_tx.send(true);
    let _ = sampler.await;
    let rss_end = procfs::rss_kib(pid);
    // Owed: each member, every message sent in its room (`lost` is what is owed and missing).
    let expected = fanout.received + fanout.check.lost;
    let panics = served.panics();
    drop(served);
    drop(redis);
    Ok(Outcome {
        hostile,
        duration_s: settings.duration_s,
        expected,
        rss_start_kib: rss_start,
        rss_peak_kib: Some(peak.load(Ordering::Relaxed)),
        rss_end_kib: rss_end,
        panics,
        counts,
        faults,
        fanout,
    })
}

/// The p99 per interval of each run, side by side: when in the run the tail came.
fn intervals(md: &mut String, settings: &Settings, outcomes: &[Outcome]) {
    use std::fmt::Write as _;
    let of = |hostile: bool| outcomes.iter().find(|o| o.hostile == hostile).map(|o| o.fanout.intervals.as_slice());
    let (baseline, hostile) = (of(false).unwrap_or_default(), of(true).unwrap_or_default());
    let rows = baseline.len().max(hostile.len());
    if rows == 0 {
        return;
    }
    let step = settings.interval.as_secs();
    let ms = |l: Option<&scenario::Latency>| l.map_or("-".to_owned(), |l| format!("{:.2} ms", l.p99_us as f64 / 1e3));
    let _ = writeln!(md, "\np99 per {step} s of the measured window, by send time:\n");
    md.push_str("| from (s) | baseline | hostile mix and faults | ratio |\n|---:|---:|---:|---:|\n");
    for i in 0..rows {
        let (b, h) = (baseline.get(i), hostile.get(i));
        let ratio = match (b, h) {
            (Some(b), Some(h)) if b.p99_us > 0 => format!("{:.2}", h.p99_us as f64 / b.p99_us as f64),
            _ => "-".to_owned(),
        };
        let _ = writeln!(md, "| {} | {} | {} | {ratio} |", i as u64 * step, ms(b), ms(h));
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// The Markdown table of the runs.
fn table(settings: &Settings, outcomes: &[Outcome]) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{} pages in {} rooms, {} deliveries/s offered, every limit at its default{}.\n",
        settings.pages,
        settings.rooms,
        settings.rate,
        if settings.redis { ", rooms on Redis" } else { "" }
    );
    md.push_str("| run | length | messages sent | delivered to well-behaved pages / owed | lost, duplicated, crossed, wrong | p50 | p99 | server RSS start / peak / end | panics |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for o in outcomes {
        let f = &o.fanout;
        let _ = writeln!(
            md,
            "| {} | {} s | {} | {} / {} | {}, {}, {}, {} | {:.2} ms | {:.2} ms | {} / {} / {} | {} |",
            if o.hostile { "hostile mix and faults" } else { "baseline" },
            o.duration_s,
            f.sent,
            f.received,
            o.expected,
            f.check.lost,
            f.check.duplicated,
            f.check.crossed,
            f.check.wrong_answers,
            f.latency.p50_us as f64 / 1e3,
            f.latency.p99_us as f64 / 1e3,
            mib(o.rss_start_kib),
            mib(o.rss_peak_kib),
            mib(o.rss_end_kib),
            o.panics,
        );
    }
    if let Some(ratio) = p99_ratio(outcomes) {
        let verdict = if ratio <= 2.0 { "within" } else { "over" };
        let _ = writeln!(
            md,
            "\nThe well-behaved pages' p99 with the hostile mix and faults is {ratio:.2}x the baseline's ({verdict} the 2x bound)."
        );
    }
    intervals(&mut md, settings, outcomes);
    for o in outcomes.iter().filter(|o| o.hostile) {
        if let Some(c) = &o.counts {
            let _ = writeln!(
                md,
                "\nThe hostile mix did: {} partial frames held ({} closed by the server); {} CONNECT/DISCONNECT pairs ({} accepted, {} refused, {} connections dropped); {} malformed packets ({} closed); {} flood calls ({} answered `rate_limited`); {} flood connections from {} addresses ({} closed at once, over a cap); 20 slow readers.",
                c.partial_frames,
                c.partial_closed,
                c.connect_pairs,
                c.connects_accepted,
                c.connects_refused,
                c.connect_loops_dropped,
                c.malformed_sent,
                c.malformed_closed,
                c.flood_calls,
                c.flood_rate_limited,
                c.flood_opened,
                soak::FLOOD_SOURCES,
                c.flood_refused,
            );
        }
        if !o.faults.is_empty() {
            let _ = writeln!(md, "Faults: {}.", o.faults.join("; "));
        }
        if !o.fanout.check.errors.is_empty() {
            let _ = writeln!(md, "Errors of well-behaved pages: {}.", o.fanout.check.errors.join("; "));
        }
    }
    md
}
