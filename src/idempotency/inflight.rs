//! In-process coordination of duplicates that arrive while the first request
//! with the same idempotency key is still running in this process.
//!
//! [`InFlightRegistry::claim`] makes the first caller the [`Claim::Owner`] of
//! the key; later callers get a [`Claim::Follower`] whose [`Waiter`] waits,
//! bounded by the caller's deadline, until the owner's [`OwnerGuard`] is
//! dropped: on completion, on error, on panic (unwinding) or when the owner's
//! future is cancelled. A follower that sees [`WaitResult::Finished`] claims
//! again (it usually becomes the owner and finds the stored result).
//!
//! Each key has a `tokio::sync::watch` channel whose sender the guard holds;
//! dropping the guard first removes the key from the map, then closes the
//! channel, which wakes every follower. A follower that subscribes just
//! before the removal still sees the channel close, so no wake-up is lost.
//! The map's lock is a `std::sync::Mutex` held only for a map operation,
//! never across an `.await`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;

/// Keys being worked on in this process.
#[derive(Clone, Default)]
pub struct InFlightRegistry {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    map: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    next_id: u64,
    /// Keyed by a seeded foldhash (the keys are the callers').
    by_key: HashMap<String, Slot, foldhash::quality::RandomState>,
}

struct Slot {
    /// Which guard owns the slot, so a stale guard never removes a newer one.
    id: u64,
    done: watch::Receiver<()>,
}

/// The outcome of [`InFlightRegistry::claim`].
#[derive(Debug)]
pub enum Claim {
    /// Nobody in this process works on the key: the caller does, until the
    /// guard is dropped.
    Owner(OwnerGuard),
    /// Another request in this process works on the key.
    Follower(Waiter),
}

/// Ownership of a key; dropping it releases the key and wakes the followers.
pub struct OwnerGuard {
    shared: Arc<Shared>,
    key: String,
    id: u64,
    /// Closed (dropped) after the key left the map.
    _done: watch::Sender<()>,
}

/// A follower's handle to wait for the owner.
#[derive(Debug)]
pub struct Waiter {
    done: watch::Receiver<()>,
}

/// Why [`Waiter::wait_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// The owner finished (or was dropped); claim again.
    Finished,
    /// The deadline passed first; the owner may still be running.
    TimedOut,
}

impl InFlightRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Becomes the owner of `key`, or a follower of its current owner.
    pub fn claim(&self, key: &str) -> Claim {
        let mut slots = lock(&self.shared.map);
        if let Some(slot) = slots.by_key.get(key) {
            return Claim::Follower(Waiter {
                done: slot.done.clone(),
            });
        }
        let id = slots.next_id;
        slots.next_id = slots.next_id.wrapping_add(1);
        let (sender, receiver) = watch::channel(());
        slots
            .by_key
            .insert(key.to_owned(), Slot { id, done: receiver });
        Claim::Owner(OwnerGuard {
            shared: Arc::clone(&self.shared),
            key: key.to_owned(),
            id,
            _done: sender,
        })
    }

    /// Whether some request in this process owns `key`.
    #[cfg(test)]
    pub fn is_in_flight(&self, key: &str) -> bool {
        lock(&self.shared.map).by_key.contains_key(key)
    }

    /// Number of keys owned right now.
    pub fn len(&self) -> usize {
        lock(&self.shared.map).by_key.len()
    }

    /// Whether no key is owned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for InFlightRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlightRegistry")
            .field("in_flight", &self.len())
            .finish()
    }
}

impl OwnerGuard {
    /// The key this guard owns.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        let mut slots = lock(&self.shared.map);
        if slots
            .by_key
            .get(&self.key)
            .is_some_and(|slot| slot.id == self.id)
        {
            slots.by_key.remove(&self.key);
        }
        // `_done` is dropped after this, closing the channel.
    }
}

impl fmt::Debug for OwnerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerGuard")
            .field("key", &self.key)
            .finish()
    }
}

impl Waiter {
    /// Waits until the owner finishes or `deadline` passes. Returns
    /// `Finished` at once if the owner is already gone, even past the
    /// deadline. Cancel-safe.
    pub async fn wait_until(&mut self, deadline: Instant) -> WaitResult {
        // The owner never sends: `changed` returns (with an error) only when
        // the sender is dropped.
        match tokio::time::timeout_at(deadline, self.done.changed()).await {
            Ok(_) => WaitResult::Finished,
            Err(_) => WaitResult::TimedOut,
        }
    }
}

/// The map's lock; a panic elsewhere while holding it leaves the map usable.
fn lock(mutex: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn owner(registry: &InFlightRegistry, key: &str) -> OwnerGuard {
        match registry.claim(key) {
            Claim::Owner(guard) => guard,
            Claim::Follower(_) => panic!("expected to own {key}"),
        }
    }

    fn follower(registry: &InFlightRegistry, key: &str) -> Waiter {
        match registry.claim(key) {
            Claim::Follower(waiter) => waiter,
            Claim::Owner(_) => panic!("expected to follow {key}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn follower_is_released_when_the_owner_guard_drops() {
        let registry = InFlightRegistry::new();
        let guard = owner(&registry, "k1");
        assert_eq!(guard.key(), "k1");
        let mut waiter = follower(&registry, "k1");
        // Another key is independent.
        let other = owner(&registry, "k2");
        assert_eq!(registry.len(), 2);

        let deadline = Instant::now() + Duration::from_secs(30);
        let wait = tokio::spawn(async move { waiter.wait_until(deadline).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!wait.is_finished());
        drop(guard);
        assert_eq!(wait.await.unwrap(), WaitResult::Finished);
        assert!(Instant::now() < deadline);

        assert!(!registry.is_in_flight("k1"));
        assert!(registry.is_in_flight("k2"));
        // The key can be owned again.
        let again = owner(&registry, "k1");
        drop(again);
        drop(other);
        assert!(registry.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn follower_times_out_at_its_deadline() {
        let registry = InFlightRegistry::new();
        let guard = owner(&registry, "k");
        let mut waiter = follower(&registry, "k");
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        assert_eq!(waiter.wait_until(deadline).await, WaitResult::TimedOut);
        assert!(Instant::now() >= deadline);
        assert!(registry.is_in_flight("k"));
        // The same waiter can wait again, and sees the owner finish.
        drop(guard);
        let later = Instant::now() + Duration::from_secs(5);
        assert_eq!(waiter.wait_until(later).await, WaitResult::Finished);
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_owner_wins_over_a_passed_deadline() {
        let registry = InFlightRegistry::new();
        let guard = owner(&registry, "k");
        let mut waiter = follower(&registry, "k");
        drop(guard);
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(waiter.wait_until(past).await, WaitResult::Finished);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_the_owner_releases_all_followers() {
        let registry = InFlightRegistry::new();
        let (claimed_tx, claimed_rx) = tokio::sync::oneshot::channel();
        let owner_registry = registry.clone();
        let owner_task = tokio::spawn(async move {
            let _guard = owner(&owner_registry, "k");
            let _ = claimed_tx.send(());
            // The "provider call" that never returns.
            std::future::pending::<()>().await;
        });
        claimed_rx.await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(60);
        let mut followers = Vec::new();
        for _ in 0..5 {
            let mut waiter = follower(&registry, "k");
            followers.push(tokio::spawn(
                async move { waiter.wait_until(deadline).await },
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        owner_task.abort();
        assert!(owner_task.await.unwrap_err().is_cancelled());
        for f in followers {
            assert_eq!(f.await.unwrap(), WaitResult::Finished);
        }
        assert!(Instant::now() < deadline);
        assert!(registry.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_owner_releases_followers() {
        let registry = InFlightRegistry::new();
        let owner_registry = registry.clone();
        let (claimed_tx, claimed_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let owner_task = tokio::spawn(async move {
            let _guard = owner(&owner_registry, "k");
            let _ = claimed_tx.send(());
            let _ = go_rx.await;
            panic!("owner failed");
        });
        claimed_rx.await.unwrap();
        let mut waiter = follower(&registry, "k");
        let deadline = Instant::now() + Duration::from_secs(60);
        let wait = tokio::spawn(async move { waiter.wait_until(deadline).await });
        go_tx.send(()).unwrap();
        assert!(owner_task.await.unwrap_err().is_panic());
        assert_eq!(wait.await.unwrap(), WaitResult::Finished);
        assert!(registry.is_empty());
    }

    #[test]
    fn a_stale_guard_does_not_remove_a_newer_owner() {
        let registry = InFlightRegistry::new();
        let first = owner(&registry, "k");
        // Simulate the slot being taken over (cannot happen through the API,
        // which removes the slot before a new owner can claim).
        let mut stale = first;
        stale.id = u64::MAX;
        drop(stale);
        assert!(registry.is_in_flight("k"));
    }
}
