//! The liverpc bench server (`liverpc-server`) as a child process, for the measurements that
//! start their own (the soak, the partial-frame hold): started under an open-file limit, its
//! address read from its first line, the panics it prints counted, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A child process, killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running bench server.
pub struct Server {
    /// The process (killed when this is dropped).
    pub process: Guard,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Lines with `panicked` it printed on its stderr so far.
    pub panics: Arc<AtomicU64>,
}

impl Server {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Panics printed so far.
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}

/// `liverpc-server` beside this binary (both are built by `cargo build --release --bins`).
pub fn beside_this_binary() -> Result<PathBuf, String> {
    Ok(std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("liverpc-server"))
}

/// Starts `program` (a `liverpc-server`) with every limit at its default, its open-file limit
/// at `fd_limit`, its rooms on Redis at `redis` when given.
pub fn start(program: &Path, fd_limit: u64, redis: Option<&str>) -> Result<Server, String> {
    let mut command = under_limit(fd_limit);
    command.arg(program).arg("--default-limits");
    if let Some(url) = redis {
        command.args(["--redis", url]);
    }
    spawn(command, program)
}

/// Starts the TypeScript front-end's chat (`node bench/ts/server.js`, below `root`) with every
/// limit at its default and its open-file limit at `fd_limit`. It imports the built package
/// and its release addon (`cargo xtask bench` builds both first).
pub fn start_typescript(root: &Path, fd_limit: u64) -> Result<Server, String> {
    let script = root.join("bench/ts/server.js");
    let mut command = under_limit(fd_limit);
    command.arg("node").arg(&script).arg("--default-limits");
    spawn(command, &script)
}

/// `sh -c 'ulimit -n N && exec ...'`: the program's arguments follow.
fn under_limit(fd_limit: u64) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", "ulimit -n \"$0\" && exec \"$@\"", &fd_limit.to_string()]);
    command
}

/// Spawns `command` and reads the address from its first line.
fn spawn(mut command: Command, program: &Path) -> Result<Server, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    let stderr = child.stderr.take().ok_or("no server stderr")?;
    let process = Guard(child);
    let panics = Arc::new(AtomicU64::new(0));
    let counted = panics.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("panicked") {
                counted.fetch_add(1, Ordering::Relaxed);
                eprintln!("server: {line}");
            }
        }
    });
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let addr = line.trim().strip_prefix("listening ").ok_or_else(|| format!("unexpected server output `{line}`"))?;
    let addr = addr.parse().map_err(|e| format!("server address: {e}"))?;
    Ok(Server { process, addr, panics })
}

/// How many descriptors process `pid` has open.
pub fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
