//! Ids that travel on the wire and must not be guessed: the Engine.IO session id (on
//! long-polling, the bearer credential of its session), the transport's socket ids and the
//! engine's socket ids. Each is 128 bits from the operating system's randomness, drawn in bulk.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A random id kept inline (32 hex digits): a connection keeps several, and each on the heap
/// cost an allocation and its header.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Id([u8; 32]);

impl Id {
    /// A new id from the OS's randomness.
    pub(crate) fn random() -> Id {
        let mut bytes = [0u8; 16];
        draw(&mut bytes);
        let mut hex = [0u8; 32];
        data_encoding::HEXLOWER.encode_mut(&bytes, &mut hex);
        Id(hex)
    }

    /// An id as another node wrote it; `None` if it is not one (then it names no socket).
    pub(crate) fn parse(text: &str) -> Option<Id> {
        let bytes: [u8; 32] = text.as_bytes().try_into().ok()?;
        bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')).then_some(Id(bytes))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Hex digits only (made or checked above).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes of the OS's randomness drawn at once, per thread.
const POOL: usize = 4096;

/// The OS's random bytes not handed out yet: one system call per 256 ids, not one per id (a
/// connect makes three).
struct Pool {
    bytes: [u8; POOL],
    next: usize,
}

thread_local! {
    static BYTES: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL], next: POOL }) };
}

/// 16 bytes from the pool, each handed out once and then zeroed; the pool is refilled from the
/// OS when empty.
fn draw(out: &mut [u8; 16]) {
    BYTES.with_borrow_mut(|pool| {
        if pool.next + out.len() > POOL {
            if getrandom::fill(&mut pool.bytes).is_err() {
                return fallback(out);
            }
            pool.next = 0;
        }
        let taken = &mut pool.bytes[pool.next..pool.next + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        pool.next += out.len();
    });
}

/// Should the OS refuse (it does not on any supported platform once booted): SipHash of a
/// counter under keys the standard library drew from the OS at start, logged once.
fn fallback(bytes: &mut [u8; 16]) {
    static KEYS: LazyLock<(std::hash::RandomState, std::hash::RandomState)> =
        LazyLock::new(|| (std::hash::RandomState::new(), std::hash::RandomState::new()));
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::error!("the operating system's randomness failed; ids come from a keyed hash until it returns");
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    bytes[..8].copy_from_slice(&KEYS.0.hash_one(n).to_be_bytes());
    bytes[8..].copy_from_slice(&KEYS.1.hash_one(n).to_be_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_32_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::Id::random().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn an_id_reads_back_and_nothing_else_parses() {
        let id = super::Id::random();
        assert_eq!(super::Id::parse(id.as_str()), Some(id));
        assert_eq!(id.len(), 32);
        for other in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"0".repeat(33)] {
            assert_eq!(super::Id::parse(other), None, "{other}");
        }
    }

    #[test]
    fn every_bit_varies() {
        // Of 256 ids, each of the 128 bits is set in some and clear in others.
        let ids: Vec<u128> = (0..256).map(|_| u128::from_str_radix(&super::Id::random(), 16).unwrap()).collect();
        let (any, all) = ids.iter().fold((0u128, u128::MAX), |(any, all), id| (any | id, all & id));
        assert_eq!((any, all), (u128::MAX, 0));
    }
}
