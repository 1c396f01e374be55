//! The `SignatureNonce` replay cache: a nonce is single-use per AccessKey
//! for 15 minutes (`SignatureNonceUsed` otherwise), as on the real gateway.
//!
//! Bounded: entries older than the window are evicted on every check, and
//! when [`NONCE_CAPACITY`] entries remain the oldest is evicted (replay
//! detection weakens under such a flood; requests are never refused for
//! space). Keys are SHA-256 digests, so a huge nonce costs no memory.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long a nonce stays used.
pub const NONCE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most nonces remembered at once.
pub const NONCE_CAPACITY: usize = 200_000;

type Key = [u8; 32];

/// The nonces seen in the last [`NONCE_WINDOW`].
#[derive(Debug)]
pub struct NonceCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<Key>,
    /// Arrival order, oldest first.
    order: VecDeque<(Instant, Key)>,
}

impl Default for NonceCache {
    fn default() -> Self {
        NonceCache::with_capacity(NONCE_CAPACITY)
    }
}

impl NonceCache {
    pub fn with_capacity(capacity: usize) -> NonceCache {
        NonceCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records `nonce` for `access_key_id` at `now`; false when it was
    /// already used within the window.
    pub fn check_and_insert(&self, access_key_id: &str, nonce: &str, now: Instant) -> bool {
        let key = digest(access_key_id, nonce);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(at, old)) = inner.order.front() {
            if now.saturating_duration_since(at) < NONCE_WINDOW {
                break;
            }
            inner.order.pop_front();
            inner.seen.remove(&old);
        }
        if inner.seen.contains(&key) {
            return false;
        }
        while inner.order.len() >= self.capacity {
            if let Some((_, old)) = inner.order.pop_front() {
                inner.seen.remove(&old);
            }
        }
        inner.seen.insert(key);
        inner.order.push_back((now, key));
        true
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn digest(access_key_id: &str, nonce: &str) -> Key {
    let mut hasher = Sha256::new();
    hasher.update((access_key_id.len() as u64).to_be_bytes());
    hasher.update(access_key_id.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_single_use_per_key_within_the_window() {
        let cache = NonceCache::default();
        let t0 = Instant::now();
        assert!(cache.check_and_insert("ak1", "n1", t0));
        assert!(!cache.check_and_insert("ak1", "n1", t0 + Duration::from_secs(60)));
        assert!(cache.check_and_insert("ak2", "n1", t0), "per key");
        assert!(cache.check_and_insert("ak1", "n2", t0));
        // Just inside the window: still used.
        let inside = t0 + NONCE_WINDOW - Duration::from_secs(1);
        assert!(!cache.check_and_insert("ak1", "n1", inside));
        // Past the window: evicted, usable again.
        let later = t0 + NONCE_WINDOW + Duration::from_secs(1);
        assert!(cache.check_and_insert("ak1", "n1", later));
        assert_eq!(cache.len(), 1, "the three old entries were evicted");
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let cache = NonceCache::with_capacity(3);
        let t0 = Instant::now();
        for nonce in ["a", "b", "c", "d"] {
            assert!(cache.check_and_insert("k", nonce, t0));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.check_and_insert("k", "a", t0), "a was evicted");
        assert!(!cache.check_and_insert("k", "d", t0));
    }

    #[test]
    fn huge_nonces_are_stored_as_digests() {
        let cache = NonceCache::default();
        let huge = "n".repeat(1 << 20);
        assert!(cache.check_and_insert("k", &huge, Instant::now()));
        assert!(!cache.check_and_insert("k", &huge, Instant::now()));
        assert!(!cache.is_empty());
    }
}
