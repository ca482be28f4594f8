//! The connection caps of an app (Rule 5 (docs/security.md#rule-5)): how many connections are open, in total and per
//! remote address, across every way it is served (its accept loops and the connections handed
//! to it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How many connections are open, in total and per address.
pub(crate) struct Caps {
    total: usize,
    per_address: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

impl Caps {
    pub(crate) fn new(total: usize, per_address: usize) -> Caps {
        // Keep descriptors for accepting, files and the app's own connections.
        let total = match descriptor_limit() {
            Some(limit) => total.min(limit.saturating_sub(64)),
            None => total,
        };
        Caps { total, per_address, open: Mutex::new((0, HashMap::new())) }
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
        Some(Slot { caps: self.clone(), ip })
    }
}

/// An admitted connection; dropping it (when the connection, or the websocket it became,
/// closes) gives the slot back.
pub(crate) struct Slot {
    caps: Arc<Caps>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, by_address) = &mut *open;
        *total = total.saturating_sub(1);
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
