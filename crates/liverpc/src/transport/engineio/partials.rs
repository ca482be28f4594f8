//! One budget for the bytes every websocket holds for messages that have not fully arrived
//! (a frame cut by the network, a fragmented message under way), across all connections:
//! Rule 5 (docs/security.md#rule-5). Past it the connection holding the most is closed first,
//! so pages that declare large frames and trickle them in cannot, together, hold more than
//! the budget, whatever each one alone is allowed.
//!
//! A connection takes part only while it holds something: one holding nothing (every idle
//! one) is not in the table, and a read that completes its frames touches no lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// What the budget closes: a connection (conn.rs implements it), seen from here only as what
/// can be stopped, so this module imports nothing above it.
pub(super) trait Holder: Send + Sync {
    /// Closes the connection; its task ends.
    fn stop(&self);
}

/// The shared budget: its limit, and who holds what.
#[derive(Debug)]
pub(super) struct Partials {
    limit: usize,
    state: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_connection: HashMap<u64, (usize, Weak<dyn Holder>)>,
}

/// The connection was closed to keep the budget: it held the most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bytes held for unfinished websocket messages are over their budget, and this connection held the most")]
pub(super) struct OverBudget;

impl Partials {
    pub(super) fn new(limit: usize) -> Partials {
        Partials { limit, state: Mutex::default() }
    }

    /// The bytes held now, across all connections.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

static NEXT_SHARE: AtomicU64 = AtomicU64::new(0);

/// One connection's part of the budget; gives it back when dropped.
#[derive(Debug)]
pub(super) struct Share {
    partials: Arc<Partials>,
    conn: Weak<dyn Holder>,
    key: u64,
    /// What it holds, as last recorded; not zero only while it is in the table.
    bytes: usize,
}

impl Share {
    pub(super) fn new<H: Holder + 'static>(partials: Arc<Partials>, conn: &Arc<H>) -> Share {
        let conn: Weak<dyn Holder> = Arc::downgrade(conn) as Weak<H>;
        Share { partials, conn, key: NEXT_SHARE.fetch_add(1, Ordering::Relaxed), bytes: 0 }
    }

    /// Records that the connection now holds `bytes`. Over the budget the connections holding
    /// the most are closed until it holds again; `Err` when this one is among them (the others
    /// are stopped, and their tasks end).
    pub(super) fn set(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes == self.bytes {
            return Ok(());
        }
        let mut stopped = Vec::new();
        let mut closed_here = false;
        {
            let mut held = self.partials.lock();
            if self.bytes > 0 && !held.by_connection.contains_key(&self.key) {
                // Closed by another connection's read, which took its bytes out of the total.
                self.bytes = 0;
                return Err(OverBudget);
            }
            held.total = held.total - self.bytes + bytes;
            if bytes == 0 {
                held.by_connection.remove(&self.key);
            } else {
                held.by_connection.insert(self.key, (bytes, self.conn.clone()));
            }
            self.bytes = bytes;
            while held.total > self.partials.limit {
                let Some((&key, _)) = held.by_connection.iter().max_by_key(|(_, (bytes, _))| *bytes) else { break };
                let Some((bytes, conn)) = held.by_connection.remove(&key) else { break };
                held.total -= bytes;
                if key == self.key {
                    self.bytes = 0;
                    closed_here = true;
                } else {
                    stopped.push(conn);
                }
            }
        }
        if !stopped.is_empty() || closed_here {
            tracing::warn!(
                closed = stopped.len() + usize::from(closed_here),
                budget = self.partials.limit,
                "unfinished websocket messages over their budget: closing the connections holding the most"
            );
        }
        for conn in stopped.iter().filter_map(Weak::upgrade) {
            conn.stop();
        }
        if closed_here { Err(OverBudget) } else { Ok(()) }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if self.bytes > 0 {
            let mut held = self.partials.lock();
            if let Some((bytes, _)) = held.by_connection.remove(&self.key) {
                held.total -= bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// A connection as the budget sees it: stopped or not.
    #[derive(Default)]
    struct Conn(AtomicBool);

    impl Holder for Conn {
        fn stop(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Conn {
        fn stopped(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn conn() -> Arc<Conn> {
        Arc::default()
    }

    #[test]
    fn the_largest_holder_is_closed_first_and_the_budget_holds() {
        let partials = Arc::new(Partials::new(1000));
        let (a, b, c) = (conn(), conn(), conn());
        let (mut sa, mut sb, mut sc) =
            (Share::new(partials.clone(), &a), Share::new(partials.clone(), &b), Share::new(partials.clone(), &c));
        assert_eq!(sa.set(300), Ok(()));
        assert_eq!(sb.set(600), Ok(()));
        assert_eq!(partials.total(), 900);
        // c's read takes the total to 1,100: b, the largest, is closed; a and c stay.
        assert_eq!(sc.set(200), Ok(()));
        assert!(b.stopped() && !a.stopped() && !c.stopped());
        assert_eq!(partials.total(), 500);
        // b learns at its next read; its bytes were already given back.
        assert_eq!(sb.set(700), Err(OverBudget));
        assert_eq!(partials.total(), 500);
        // The one reading is the largest: it is the one closed.
        assert_eq!(sc.set(900), Err(OverBudget));
        assert_eq!(partials.total(), 300);
        drop(sa);
        assert_eq!(partials.total(), 0);
        drop((sb, sc));
        assert!(partials.lock().by_connection.is_empty());
    }

    #[test]
    fn holding_nothing_leaves_the_table() {
        let partials = Arc::new(Partials::new(100));
        let a = conn();
        let mut share = Share::new(partials.clone(), &a);
        assert_eq!(share.set(50), Ok(()));
        assert_eq!(share.set(0), Ok(()));
        assert!(partials.lock().by_connection.is_empty());
        assert_eq!(share.set(60), Ok(()));
        assert_eq!(partials.total(), 60);
    }
}
