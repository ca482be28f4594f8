//! Process-unique keys (of sessions and sockets), and the maps keyed by them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A key no other session or socket of this process has.
pub(super) fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A map keyed by [`next`]'s keys. They are counted, not chosen by a page, so they are hashed
/// with one multiplication (spreading a counter over every bit the table reads), not SipHash:
/// every connect and join inserts into two of these.
pub(super) type ByKey<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// Fibonacci hashing of a `u64`, for [`ByKey`].
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input still hashes, byte by byte.
        for byte in bytes {
            self.write_u64(u64::from(*byte) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_keys_differ_in_the_bits_a_table_reads() {
        let hash = |key: u64| {
            let mut hasher = KeyHasher::default();
            hasher.write_u64(key);
            hasher.finish()
        };
        // hashbrown takes a bucket from the low bits and a tag from the top seven.
        let tags: std::collections::HashSet<u64> = (0..1000).map(|k| hash(k) >> 57).collect();
        assert!(tags.len() > 100, "{} distinct tags of 128", tags.len());
        let buckets: std::collections::HashSet<u64> = (0..1000).map(|k| hash(k) & 1023).collect();
        assert!(buckets.len() > 500, "{} distinct buckets of 1024", buckets.len());
    }
}
