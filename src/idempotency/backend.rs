//! What a storage backend of the idempotency store provides, and the byte
//! bound every backend enforces the same way.
//!
//! A backend maps idempotency keys to encoded records (see `record`) and
//! offers one primitive for changes: [`Backend::update`] reads a key's
//! record, lets the caller decide a [`Write`] from it, and applies that write
//! atomically with the read. The state machine (`machine`) is written once
//! against this primitive; the backends are `memory` (a map behind a mutex)
//! and `file` (a redb database). A database shared by several gateways
//! (PostgreSQL) fits the same shape: `update` becomes a transaction that
//! reads the row `FOR UPDATE`, or a compare-and-swap that retries, which is
//! why `decide` must be free of side effects and may run more than once.
//!
//! # The byte bound
//!
//! Each backend counts the bytes its records take ([`Usage::bytes`], defined
//! per backend) and keeps them under [`Limits::max_bytes`] as
//! [`Limits::plan`] says: a write that would cross the bound evicts the
//! oldest completed records when the operator allowed it
//! ([`Limits::evict_completed`]) and enough of them exist; otherwise a new
//! key is refused ([`Plan::Refuse`]). A change to an existing key's record
//! (an outcome of an allocation that was sent) is never refused: it may
//! overshoot the bound by the records of the allocations in flight. A record
//! whose allocation is in flight or whose outcome is unknown is never
//! evicted.
//!
//! Each backend also keeps the spend ledger ([`Backend::ledger`]), outside
//! the byte bound: it holds at most a day of reservations.

use super::error::StoreError;
use super::spend::LedgerChange;

/// Whether a write may be refused at the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// It creates the record of a key before anything is sent: refused at
    /// the bound (nothing was sent, the caller may retry).
    New,
    /// It records what happened to a key already in the store, or an outcome
    /// of a call that was sent: always written.
    Existing,
}

/// What to do with a key's record, decided from its current bytes.
#[derive(Debug)]
pub(crate) enum Write {
    /// Leave it as it is.
    Keep,
    /// Store these encoded record bytes.
    Put {
        bytes: Vec<u8>,
        admission: Admission,
    },
    /// Remove the record.
    Remove,
}

/// Bytes and records a backend holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Records stored, including expired ones not yet purged.
    pub records: u64,
    /// Bytes counted against the bound (what that means is backend-specific:
    /// heap bytes for the memory backend, record bytes for the file).
    pub bytes: u64,
    /// Of those, the bytes of completed records (what eviction may free).
    pub completed_bytes: u64,
}

/// The byte bound and what happens at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the records may take ([`Usage::bytes`]).
    pub max_bytes: u64,
    /// At the bound, evict the oldest completed records instead of refusing
    /// new keys.
    pub evict_completed: bool,
}

/// The decision of [`Limits::plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Write; the bound is not crossed (or the write is never refused).
    Write,
    /// Evict completed records taking at least `free` bytes, then write.
    EvictThenWrite { free: u64 },
    /// Refuse the write: the store is full.
    Refuse,
}

impl Limits {
    /// What to do about a write that changes `used` bytes by `grow` when
    /// `evictable` bytes of completed records (other than the key's own)
    /// could be evicted.
    pub(crate) fn plan(&self, used: u64, evictable: u64, grow: i64, admission: Admission) -> Plan {
        let after = used.saturating_add_signed(grow);
        if grow <= 0 || after <= self.max_bytes {
            return Plan::Write;
        }
        let need = after - self.max_bytes;
        match (self.evict_completed, admission) {
            (true, _) if evictable >= need => Plan::EvictThenWrite { free: need },
            (_, Admission::New) => Plan::Refuse,
            (true, Admission::Existing) if evictable > 0 => {
                Plan::EvictThenWrite { free: evictable }
            }
            (_, Admission::Existing) => Plan::Write,
        }
    }
}

/// Decides a key's [`Write`] from its current record bytes.
pub(crate) type Decide<'a> = dyn FnMut(Option<&[u8]>) -> Result<Write, StoreError> + 'a;

/// Receives a key's record bytes (or `None`).
pub(crate) type Read<'a> = dyn FnMut(Option<&[u8]>) -> Result<(), StoreError> + 'a;

/// One storage backend of [`super::IdempotencyStore`].
pub(crate) trait Backend: Send + Sync + 'static {
    /// Where the records live, for messages.
    fn location(&self) -> &str;

    /// Atomically reads `key`'s record, calls `decide` with it and applies
    /// the returned write; `op` names the operation in errors. Returns
    /// [`StoreError::Full`] when the write is refused at the bound.
    fn update(
        &self,
        key: &str,
        op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<(), StoreError>;

    /// Calls `read` with `key`'s record bytes (or `None`).
    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError>;

    /// Removes every record for which `expired` says `Some(true)`; keeps
    /// `Some(false)` and `None` (unreadable). Returns (removed, unreadable).
    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError>;

    /// Runs one atomic change of the spend ledger (`super::spend`); what
    /// `change` wrote is kept when it answers `Ok(true)`.
    fn ledger(&self, op: &'static str, change: &mut LedgerChange<'_>) -> Result<(), StoreError>;

    /// What the backend holds now (no I/O).
    fn usage(&self) -> Usage;

    /// The redb database of a file backend, for other concepts kept in the
    /// same file (the allocation inventory); `None` for the others.
    fn redb(&self) -> Option<super::file::RedbHandle> {
        None
    }

    /// Completed records evicted at the bound since the start.
    fn evicted(&self) -> u64;

    /// The committer that batches this backend's record changes (the file);
    /// `None`: changes run at once through [`Backend::update`] (memory).
    fn committer(&self) -> Option<&super::file::Committer> {
        None
    }

    /// Durable commits of record changes since the start, and the changes
    /// they wrote (both 0 without a committer).
    fn commits(&self) -> (u64, u64) {
        (0, 0)
    }

    /// Whether the backend can serve calls now (false while a file store is
    /// being reopened after an I/O error, or once it is closed).
    fn usable(&self) -> bool;

    /// Closes the backend: later calls fail with [`StoreError::Closed`]. A
    /// file is flushed and unlocked, so the next open finds it clean.
    fn close(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1000,
        evict_completed: false,
    };
    const EVICTING: Limits = Limits {
        max_bytes: 1000,
        evict_completed: true,
    };

    #[test]
    fn under_the_bound_or_shrinking_always_writes() {
        for limits in [LIMITS, EVICTING] {
            for admission in [Admission::New, Admission::Existing] {
                assert_eq!(limits.plan(0, 0, 1000, admission), Plan::Write);
                assert_eq!(limits.plan(900, 0, 100, admission), Plan::Write);
                assert_eq!(limits.plan(5000, 0, -10, admission), Plan::Write);
                assert_eq!(limits.plan(5000, 0, 0, admission), Plan::Write);
            }
        }
    }

    #[test]
    fn at_the_bound_new_keys_are_refused_unless_completed_records_may_go() {
        assert_eq!(LIMITS.plan(950, 500, 100, Admission::New), Plan::Refuse);
        assert_eq!(
            EVICTING.plan(950, 500, 100, Admission::New),
            Plan::EvictThenWrite { free: 50 }
        );
        // Not enough to evict: refused, and nothing is evicted in vain.
        assert_eq!(EVICTING.plan(950, 20, 100, Admission::New), Plan::Refuse);
        assert_eq!(EVICTING.plan(u64::MAX, 0, 1, Admission::New), Plan::Refuse);
    }

    #[test]
    fn outcomes_of_sent_calls_are_written_over_the_bound() {
        assert_eq!(LIMITS.plan(990, 500, 300, Admission::Existing), Plan::Write);
        assert_eq!(
            EVICTING.plan(990, 500, 300, Admission::Existing),
            Plan::EvictThenWrite { free: 290 }
        );
        assert_eq!(
            EVICTING.plan(990, 100, 300, Admission::Existing),
            Plan::EvictThenWrite { free: 100 }
        );
        assert_eq!(EVICTING.plan(990, 0, 300, Admission::Existing), Plan::Write);
    }
}
