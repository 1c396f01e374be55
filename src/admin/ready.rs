//! `GET /ready`: whether this gateway should get traffic. Ready means the
//! configuration was loaded and the gateway built (a [`Readiness`] exists
//! only then), the idempotency store is usable (the file store is not
//! being reopened after an I/O error; in fleet mode, the database answers
//! and its schema is migrated), and the gateway is not shutting down (from
//! the signal on, through the drain period, as health's NOT_SERVING).

use tokio::sync::watch;

use crate::api::allocate::Allocator;
use crate::server::Drain;

/// Why the gateway is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("shutting down")]
    Draining,
    #[error("the idempotency store is unusable")]
    StoreUnusable,
}

/// What readiness follows. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Readiness {
    store: watch::Receiver<bool>,
    drain: Drain,
}

impl Readiness {
    /// Readiness following `store` (usable or not) and `drain`.
    pub fn new(store: watch::Receiver<bool>, drain: Drain) -> Readiness {
        Readiness { store, drain }
    }

    /// The readiness of a built gateway's allocation flow.
    pub fn of(allocator: &Allocator) -> Readiness {
        Readiness::new(allocator.store.health(), allocator.drain.clone())
    }

    /// Ready, or why not (draining first: it does not end).
    pub fn check(&self) -> Result<(), NotReady> {
        if self.drain.is_draining() {
            return Err(NotReady::Draining);
        }
        if !*self.store.borrow() {
            return Err(NotReady::StoreUnusable);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_the_store_and_the_drain() {
        let (store, usable) = watch::channel(false);
        let drain = Drain::new();
        let readiness = Readiness::new(usable, drain.clone());
        assert_eq!(readiness.check(), Err(NotReady::StoreUnusable));
        store.send_replace(true);
        assert_eq!(readiness.check(), Ok(()));
        drain.begin_draining();
        assert_eq!(readiness.check(), Err(NotReady::Draining));
        store.send_replace(false);
        assert_eq!(readiness.check(), Err(NotReady::Draining));
    }

    #[test]
    fn stopping_counts_as_draining() {
        let (_store, usable) = watch::channel(true);
        let drain = Drain::new();
        let readiness = Readiness::new(usable, drain.clone());
        drain.stop();
        assert_eq!(readiness.check(), Err(NotReady::Draining));
    }
}
