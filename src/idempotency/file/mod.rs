//! The file backend: a redb database, durable across restarts and crashes.
//!
//! One concept per file:
//! - `schema`: the tables, the schema marker, what an entry costs;
//! - `open`: creating, checking and recovering the file when it is opened;
//! - `transactions`: the transaction of each backend call, eviction;
//! - `committer`: group commit of every durable change on one thread;
//! - `ledger`: the spend ledger's tables in a write transaction;
//! - [`RedbHandle`]: the open database lent to another concept kept in the
//!   file (the allocation inventory, `crate::inventory`), with this
//!   backend's handling of closing, damage and I/O errors;
//! - `reopen`: an I/O error closes the database until a background thread
//!   reopens it; a panic inside redb marks it damaged for good.
//!
//! Record changes are committed in batches by the committer thread
//! (`committer`), each batch one write transaction with
//! `Durability::Immediate` (fsync before `commit` returns), and each caller
//! is answered once its batch is durable; so are the spend ledger's
//! reservations and releases. Purges commit without fsync (losing one
//! brings back expired records).
//!
//! # What is counted ([`Usage::bytes`])
//!
//! Each record's key and encoded bytes plus 16 bytes (redb's per-entry
//! overhead), and each index entry's key plus 24 bytes: the data the file
//! holds. The file itself is larger (B-tree pages are partly full, a commit
//! copies the pages it changes, freed pages are reused but not returned);
//! README gives measured figures. The spend ledger and the allocation
//! inventory kept in the same file are outside this count (each has its own
//! bound).

mod committer;
mod ledger;
mod open;
mod reopen;
mod schema;
mod transactions;

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use redb::{Database, WriteTransaction};

use super::backend::{Backend, Decide, Limits, Read, Usage};
use super::error::StoreError;
use super::faults::IoFaults;
use super::spend::LedgerChange;

use committer::QueuedWrite;
pub(crate) use committer::{Batch, Committer, Queued, is_fatal};
use open::open_or_create;
pub use reopen::REOPEN_EVERY;
pub(crate) use schema::{INVENTORY_ENTRIES, INVENTORY_IDS, INVENTORY_RELEASED};

/// Reports whether the store is usable (called on every change).
pub(crate) type HealthCallback = Arc<dyn Fn(bool) + Send + Sync>;

/// How to open the file.
#[derive(Clone)]
pub(crate) struct FileOptions {
    pub path: PathBuf,
    pub limits: Limits,
    pub start_fresh_if_invalid: bool,
    pub io_faults: Option<IoFaults>,
    pub health: HealthCallback,
}

pub(crate) struct FileBackend {
    shared: Arc<Shared>,
}

struct Shared {
    options: FileOptions,
    location: String,
    db: RwLock<Option<Database>>,
    /// Held for each write transaction, so the counters match the file.
    usage: Mutex<Usage>,
    bytes: AtomicU64,
    records: AtomicU64,
    completed_bytes: AtomicU64,
    evicted: AtomicU64,
    /// The committer of every durable change to the file (set once open).
    committer: OnceLock<Committer>,
    /// Durable batches committed, and the changes they wrote.
    commits: AtomicU64,
    committed_changes: AtomicU64,
    closed: AtomicBool,
    /// redb panicked: the database is not touched again.
    damaged: AtomicBool,
    /// An I/O error was seen; the database is closed and reopened.
    broken: Mutex<Option<String>>,
    io_error: AtomicBool,
    /// Wakes the reopen thread early (on close).
    wake: Condvar,
    reopening: AtomicBool,
}

impl FileBackend {
    pub(crate) fn open(options: FileOptions) -> Result<Self, StoreError> {
        let path = options.path.clone();
        let location = path.display().to_string();
        let db = open_or_create(&options, &location)?;
        let shared = Arc::new(Shared {
            options,
            location,
            db: RwLock::new(None),
            usage: Mutex::new(Usage::default()),
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            completed_bytes: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            committer: OnceLock::new(),
            commits: AtomicU64::new(0),
            committed_changes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            damaged: AtomicBool::new(false),
            broken: Mutex::new(None),
            io_error: AtomicBool::new(false),
            wake: Condvar::new(),
            reopening: AtomicBool::new(false),
        });
        let usage = shared.count(&db)?;
        shared.set_usage(&mut shared.lock_usage(), usage);
        *shared.db.write().unwrap_or_else(PoisonError::into_inner) = Some(db);
        tracing::info!(
            store = %shared.location,
            records = usage.records,
            bytes = usage.bytes,
            max_bytes = shared.options.limits.max_bytes,
            "idempotency store opened"
        );
        let _ = shared.committer.set(Committer::start(&shared)?);
        Ok(FileBackend { shared })
    }
}

/// The open database of a file store, for another concept kept in the same
/// file. Each call runs on the database as the store's own transactions do:
/// refused while the store is closed, damaged or being reopened; a panic
/// inside redb marks it damaged; an I/O error starts the reopening.
#[derive(Clone)]
pub(crate) struct RedbHandle {
    shared: Arc<Shared>,
}

impl RedbHandle {
    /// Runs `f` on the open database.
    pub(crate) fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.shared.with_db(f)
    }

    /// Runs `change` in a write transaction that the committer shares with
    /// the store's own changes (`committer`), kept when it answers true and
    /// durable when this returns; blocks until then (call it off the async
    /// worker threads). `change` must write nothing when it answers false
    /// or fails with an error other than the database's.
    pub(crate) fn write_queued<T: Send + 'static>(
        &self,
        op: &'static str,
        change: impl FnOnce(&WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(committer) = self.shared.committer.get() else {
            return Err(StoreError::Closed {
                location: self.shared.location.clone(),
            });
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        committer.send_blocking(Box::new(QueuedWrite {
            op,
            change: Some(change),
            out: None,
            reply,
        }));
        answer.recv().unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                location: self.shared.location.clone(),
                reason: format!("{op} was not applied"),
            })
        })
    }

    /// A redb error of operation `op` as the store reports it (an I/O error
    /// makes the store unavailable until it is reopened).
    pub(crate) fn db_error(&self, op: &'static str, error: impl Into<redb::Error>) -> StoreError {
        self.shared.db_error(op, error)
    }

    /// The file's path, for messages.
    pub(crate) fn location(&self) -> &str {
        &self.shared.location
    }
}

impl Shared {
    pub(super) fn lock_usage(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_usage(&self, slot: &mut Usage, usage: Usage) {
        *slot = usage;
        self.bytes.store(usage.bytes, Ordering::Relaxed);
        self.records.store(usage.records, Ordering::Relaxed);
        self.completed_bytes
            .store(usage.completed_bytes, Ordering::Relaxed);
    }
}

impl Backend for FileBackend {
    fn location(&self) -> &str {
        &self.shared.location
    }

    fn update(
        &self,
        key: &str,
        op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<(), StoreError> {
        self.shared.update(key, op, decide)
    }

    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        self.shared.read(key, read)
    }

    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        self.shared.purge(expired)
    }

    fn ledger(&self, op: &'static str, change: &mut LedgerChange<'_>) -> Result<(), StoreError> {
        self.shared.ledger(op, change)
    }

    fn redb(&self) -> Option<RedbHandle> {
        Some(RedbHandle {
            shared: Arc::clone(&self.shared),
        })
    }

    fn usage(&self) -> Usage {
        Usage {
            records: self.shared.records.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
            completed_bytes: self.shared.completed_bytes.load(Ordering::Relaxed),
        }
    }

    fn evicted(&self) -> u64 {
        self.shared.evicted.load(Ordering::Relaxed)
    }

    fn committer(&self) -> Option<&Committer> {
        self.shared.committer.get()
    }

    fn commits(&self) -> (u64, u64) {
        (
            self.shared.commits.load(Ordering::Relaxed),
            self.shared.committed_changes.load(Ordering::Relaxed),
        )
    }

    fn usable(&self) -> bool {
        let shared = &self.shared;
        !shared.closed.load(Ordering::Acquire)
            && !shared.damaged.load(Ordering::Acquire)
            && shared
                .broken
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
    }

    fn close(&self) {
        // Queued changes are committed and answered first.
        if let Some(committer) = self.shared.committer.get() {
            committer.stop();
        }
        let shared = &self.shared;
        if shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        shared.wake.notify_all();
        let db = shared
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(db) = db {
            // redb's drop writes its allocator state and flushes the file.
            if panic::catch_unwind(AssertUnwindSafe(move || drop(db))).is_err() {
                tracing::error!(store = %shared.location, "closing the idempotency store failed");
            } else {
                tracing::info!(
                    store = %shared.location,
                    records = shared.records.load(Ordering::Relaxed),
                    bytes = shared.bytes.load(Ordering::Relaxed),
                    "idempotency store closed"
                );
            }
        }
        (shared.options.health)(false);
    }
}

impl Drop for FileBackend {
    fn drop(&mut self) {
        self.close();
    }
}
