//! The connection caps of an app (Rule 5 (docs/security.md#rule-5)): how many connections are open, in total and per
//! remote address, across every way it is served (its accept loops and the connections handed
//! to it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// How many connections are open, in total and per address.
pub(crate) struct Caps {
    total: usize,
    per_address: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Told when the last connection closes (a shutdown waits for it).
    idle: Notify,
}

impl Caps {
    pub(crate) fn new(total: usize, per_address: usize) -> Caps {
        // Keep descriptors for accepting, files and the app's own connections.
        let total = match descriptor_limit() {
            Some(limit) => total.min(limit.saturating_sub(64)),
            None => total,
        };
        Caps { total, per_address, open: Mutex::new((0, HashMap::new())), idle: Notify::new() }
    }

    /// A slot for a connection from `ip` (counted in the total only when it is unknown), or
    /// `None` over a cap.
    pub(crate) fn admit(self: &Arc<Caps>, ip: Option<IpAddr>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, by_address) = &mut *open;
        let here = ip.and_then(|ip| by_address.get(&ip).copied()).unwrap_or(0);
        if *total >= self.total || here >= self.per_address {
            return None;
        }
        *total += 1;
        if let Some(ip) = ip {
            by_address.insert(ip, here + 1);
        }
        Some(Slot { caps: self.clone(), ip, counted: true })
    }

    /// A slot for one more connection from `ip` that is already counted in the total (a
    /// connection from a trusted proxy, once the client it carries is known), or `None` over
    /// the per-address cap.
    pub(crate) fn admit_address(self: &Arc<Caps>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let here = open.1.entry(ip).or_insert(0);
        if *here >= self.per_address {
            if *here == 0 {
                open.1.remove(&ip);
            }
            return None;
        }
        *here += 1;
        Some(Slot { caps: self.clone(), ip: Some(ip), counted: false })
    }

    /// Resolves once no connection is open.
    pub(crate) async fn idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.open.lock().unwrap_or_else(|p| p.into_inner()).0 == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// An admitted connection; dropping it (when the connection, or the websocket it became,
/// closes) gives the slot back.
pub(crate) struct Slot {
    caps: Arc<Caps>,
    ip: Option<IpAddr>,
    /// It counts in the total (every slot but a per-address one of a proxied connection).
    counted: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, by_address) = &mut *open;
        if self.counted {
            *total = total.saturating_sub(1);
            if *total == 0 {
                self.caps.idle.notify_waiters();
            }
        }
        let Some(ip) = self.ip else { return };
        if let Some(here) = by_address.get_mut(&ip) {
            *here -= 1;
            if *here == 0 {
                by_address.remove(&ip);
            }
        }
    }
}

/// The soft limit on open files, where the platform tells (Linux's `/proc`).
fn descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
