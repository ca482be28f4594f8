//! What partial frames make a server hold (`cargo xtask bench --scenarios partial-frames`;
//! issue 21): the bench's liverpc server with every limit at its default, on the system
//! allocator (`liverpc-server`) and on jemalloc (`liverpc-server-jemalloc`), and `--pages`
//! websockets (2,000) that each send a frame header declaring 128 KiB and 2 bytes of it, then
//! nothing. The server's RSS is read at the start, with the pages idle, with them holding
//! their partial frames, once they closed, and `--settle` (20 s) later. The checks: holding
//! adds at most the bytes the pages sent, on both; on jemalloc, the RSS comes back to within
//! 10 % of the start once they closed (glibc's allocator keeps most of it: reported, not
//! checked). `--typescript` (run from the repository's root, the package and its release addon
//! built) adds the TypeScript front-end's Node process, on the system's allocator as it ships:
//! its RSS must come back too.
//!
//! ```text
//! partial-frames [--pages 2000] [--settle 20s] [--typescript]
//! ```
//!
//! Prints one line of JSON and then the Markdown table. A measurement, not a test: the
//! pauses below let the server read what was sent (it has no way to say it did) and let the
//! allocator give memory back.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use liverpc_bench::args::Args;
use liverpc_bench::procfs;
use liverpc_bench::server;
use liverpc_bench::soak::{partial_header, source, upgrade_request, websocket};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("partial-frames: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The pages come from 127.0.0.30 on, 500 per address (under the default cap of 1,000).
const FIRST_SOURCE: u8 = 30;
const PER_SOURCE: usize = 500;

/// The server's RSS at each step, in KiB, and what the pages sent.
#[derive(Debug, Serialize)]
struct Hold {
    server: &'static str,
    /// Whether its RSS must come back within 10 % (checked), or is only reported.
    must_give_back: bool,
    pages: usize,
    /// Bytes each page sent: its upgrade request, then the header and 2 bytes.
    sent_per_page: usize,
    start_kib: u64,
    idle_kib: u64,
    holding_kib: u64,
    closed_kib: u64,
    settled_kib: u64,
    settle_s: u64,
    panics: u64,
}

impl Hold {
    /// Bytes per page the partial frames added over the idle pages.
    fn held_per_page(&self) -> u64 {
        self.holding_kib.saturating_sub(self.idle_kib) * 1024 / self.pages.max(1) as u64
    }

    fn idle_per_page(&self) -> u64 {
        self.idle_kib.saturating_sub(self.start_kib) * 1024 / self.pages.max(1) as u64
    }

    /// Holding adds at most what the pages sent.
    fn holds_what_arrived(&self) -> bool {
        self.held_per_page() <= self.sent_per_page as u64
    }

    /// Once they closed, the RSS is within 10 % of the start.
    fn gives_back(&self) -> bool {
        self.settled_kib * 10 <= self.start_kib * 11
    }
}

/// The Rust servers measured: (binary, allocator, whether its memory must come back).
const SERVERS: [(&str, &str, bool); 2] = [
    ("liverpc-server", "glibc (the system's)", false),
    ("liverpc-server-jemalloc", "jemalloc, background thread", true),
];
/// The TypeScript front-end's row (`--typescript`), whose memory must come back too.
const TYPESCRIPT: &str = "TypeScript front-end (Node's process, the system's allocator)";

fn run() -> Result<bool, String> {
    let args = Args::from_env();
    let pages: usize = args.get("pages", 2000)?;
    let settle = args.duration("settle", Duration::from_secs(20))?;
    let beside = server::beside_this_binary()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let fd_limit = pages as u64 * 2 + 500;
    let mut holds = Vec::new();
    for (binary, allocator, must_give_back) in SERVERS {
        let served = server::start(&beside.with_file_name(binary), fd_limit, None)?;
        let hold = runtime.block_on(measure(&served, pages, settle))?;
        holds.push(Hold { server: allocator, must_give_back, ..hold });
    }
    if args.flag("typescript") {
        let root = std::env::current_dir().map_err(|e| e.to_string())?;
        let served = server::start_typescript(&root, fd_limit)?;
        let hold = runtime.block_on(measure(&served, pages, settle))?;
        holds.push(Hold { server: TYPESCRIPT, must_give_back: true, ..hold });
    }
    println!("{}", serde_json::to_string(&holds).map_err(|e| e.to_string())?);
    println!("\n{}", table(&holds));
    let returned = holds.iter().filter(|h| h.must_give_back).all(Hold::gives_back);
    Ok(returned && holds.iter().all(|h| h.holds_what_arrived() && h.panics == 0))
}

async fn measure(served: &server::Server, pages: usize, settle: Duration) -> Result<Hold, String> {
    let (pid, addr) = (served.pid(), served.addr);
    let rss = || procfs::rss_kib(pid).ok_or("the server is gone");
    let from = |i: usize| source(FIRST_SOURCE + (i / PER_SOURCE) as u8);
    let declared = 128 * 1024;
    let mut partial = partial_header(declared);
    partial.extend_from_slice(b"42");
    // A warm-up round: what the first connections allocate once is not growth.
    let resting = server::open_descriptors(pid);
    let mut warm = Vec::new();
    for i in 0..pages / 10 {
        let mut ws = websocket(addr, from(i)).await.map_err(|e| format!("warm-up: {e}"))?;
        ws.write_all(&partial).await.map_err(|e| e.to_string())?;
        warm.push(ws);
    }
    drop(warm);
    closed(pid, resting).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_kib = rss()?;

    let mut open = Vec::with_capacity(pages);
    for i in 0..pages {
        open.push(websocket(addr, from(i)).await.map_err(|e| format!("page {i}: {e}"))?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = rss()?;
    for ws in &mut open {
        ws.write_all(&partial).await.map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let holding_kib = rss()?;
    drop(open);
    closed(pid, resting).await?;
    let closed_kib = rss()?;
    tokio::time::sleep(settle).await;
    let settled_kib = rss()?;
    Ok(Hold {
        server: "",
        must_give_back: false,
        pages,
        sent_per_page: upgrade_request(addr).len() + partial.len(),
        start_kib,
        idle_kib,
        holding_kib,
        closed_kib,
        settled_kib,
        settle_s: settle.as_secs(),
        panics: served.panics(),
    })
}

/// Waits (up to 30 s) until the server holds no more descriptors than `resting`.
async fn closed(pid: u32, resting: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server::open_descriptors(pid) > resting {
        if Instant::now() > deadline {
            return Err("the server kept the closed pages' connections for 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling /proc
    }
    Ok(())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn table(holds: &[Hold]) -> String {
    use std::fmt::Write as _;
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    let Some(first) = holds.first() else { return String::new() };
    let mut md = format!(
        "{} websockets, each sending its upgrade request, then a 14-byte header declaring 128 KiB and 2 bytes of \
         it ({} bytes in all); the server's RSS (every limit at its default):\n\n\
         | server, allocator | start | pages idle | holding the partial frames | once they closed | {} s later | holds at most what was sent | back within 10 % of the start | panics |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        first.pages, first.sent_per_page, first.settle_s
    );
    for h in holds {
        let _ = writeln!(
            md,
            "| {} | {} | {} ({} B per page) | {} ({} B per page over idle) | {} | {} | {} | {} ({:+.1} %) | {} |",
            h.server,
            mib(h.start_kib),
            mib(h.idle_kib),
            h.idle_per_page(),
            mib(h.holding_kib),
            h.held_per_page(),
            mib(h.closed_kib),
            mib(h.settled_kib),
            yes(h.holds_what_arrived()),
            yes(h.gives_back()),
            (h.settled_kib as f64 / h.start_kib.max(1) as f64 - 1.0) * 100.0,
            h.panics,
        );
    }
    md
}
