//! Socket ids: the engine's own, never a transport's socket id (which, on HTTP long-polling,
//! is the bearer credential of the connection).

use std::hash::BuildHasher;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Random keys chosen once per process: ids are unpredictable and unique across nodes.
static KEYS: LazyLock<(std::hash::RandomState, std::hash::RandomState)> =
    LazyLock::new(|| (std::hash::RandomState::new(), std::hash::RandomState::new()));
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new socket id: 32 hex digits.
pub(crate) fn socket_id() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", KEYS.0.hash_one(n), KEYS.1.hash_one(n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::socket_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32));
    }
}
