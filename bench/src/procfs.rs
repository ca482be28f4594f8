//! What a process costs, from `/proc`: CPU time (utime + stime of every thread, from
//! `/proc/<pid>/stat`) and resident memory (`VmRSS` from `/proc/<pid>/status`); and this
//! process's open-file limit (`/proc/self/limits`).

use std::sync::OnceLock;

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when it cannot be asked).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// CPU time (user + system, all threads) of process `pid` in microseconds; `None` when the
/// process is gone. Resolution: one clock tick (10 ms).
pub fn cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After ')': state is field 3, so utime (field 14) is the 12th and stime the 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 1_000_000 / ticks_per_second())
}

/// Resident set size of process `pid` in KiB; `None` when the process is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// This process's open-file limit, (soft, hard); `None` for unlimited or when `/proc` cannot
/// tell.
pub fn open_files_limit() -> Option<(Option<u64>, Option<u64>)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_ascii_whitespace().skip(3);
    let mut next = || fields.next().and_then(|v| v.parse().ok());
    Some((next(), next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_us(pid).is_some());
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
        assert_eq!(cpu_us(u32::MAX), None);
        let (soft, hard) = open_files_limit().expect("/proc/self/limits");
        if let (Some(soft), Some(hard)) = (soft, hard) {
            assert!(soft <= hard);
        }
    }
}
