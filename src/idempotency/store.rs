//! The record store: idempotency key to [`Record`], in memory or in a redb
//! file, bounded in bytes, with its health.
//!
//! Every method is one short atomic change of one key. In memory that is a
//! map operation under a mutex, on the caller's thread. On a file the change
//! is queued to the committer thread (`file::committer`), which commits
//! batches of queued changes in one fsync'd redb transaction each: a record
//! is on disk when `begin`, `complete`, `mark_unknown`, `mark_attempt`,
//! `release` or `refresh_completed` returns and survives a crash or restart;
//! only `purge_expired` commits without fsync. These methods block until
//! then; async code calls their `_async` twins (`run`), which await
//! the commit without blocking a worker thread. Each change, read and purge
//! is timed into the metrics (`ipalloc_store_operation_duration_seconds`,
//! store `local`), and each failure counted by kind.
//!
//! Each key's record moves through these transitions (`machine`), all
//! checked against the caller's [`Fingerprint`] (a live record with another
//! fingerprint is never changed: `begin` answers [`Begin::Mismatch`], the
//! others an error naming the differing parameters):
//!
//! | call | absent or expired | `InFlight` | `Unknown` | `Completed` |
//! | --- | --- | --- | --- | --- |
//! | `begin` | insert `InFlight`, `Started` | `Begin::InFlight` | `Begin::Unknown` | `Begin::Completed` |
//! | `complete` | insert `Completed` | `Completed` | `Completed` | no-op if same response, else error |
//! | `mark_unknown` | insert `Unknown` | `Unknown` (keeps the attempt time) | no-op | error |
//! | `mark_attempt` | insert `InFlight` | `InFlight`, new attempt time | `InFlight`, new attempt time | error |
//! | `release` | no-op (expired completed: error) | removed | removed | error |
//! | `refresh_completed` | error | error | error | new response (times kept) |
//!
//! # The byte bound
//!
//! The records may take at most `max_bytes` (see `backend` for the rule and
//! `memory`/`file` for what is counted). At the bound, `begin` of a new key
//! (and `mark_attempt` of a vanished one) fails with [`StoreError::Full`]
//! before anything is sent, logged at most once per [`FULL_LOG_EVERY`] with
//! the number refused meanwhile and counted in [`StoreStats::refused_full`];
//! with `evict_completed` the oldest completed records are evicted instead
//! ([`StoreStats::evicted`]). Records in flight or with an unknown outcome
//! are never evicted; outcomes of sent calls are always recorded.
//!
//! # Spend limits
//!
//! The store also keeps the spend ledger (`spend`, see `crate::spend`):
//! [`IdempotencyStore::reserve_spend`] checks and reserves in one atomic
//! change, [`IdempotencyStore::release_spend`] gives a reservation back.
//!
//! # Health
//!
//! [`IdempotencyStore::health`] is a watch of whether the store can serve
//! calls: false while a file store is reopened after an I/O error (calls
//! fail with [`StoreError::Unavailable`] meanwhile), once it is found
//! damaged, and after [`IdempotencyStore::close`].

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::backend::{Backend, Limits};
use super::change::Op;
use super::error::StoreError;
use super::faults::IoFaults;
use super::file::{FileBackend, FileOptions};
use super::fingerprint::Fingerprint;
use super::memory::MemoryBackend;
use super::record::{self, Record};
use super::run::begun;
use super::spend;
use crate::admin::metrics::{Metrics, STORE_LOCAL};
use crate::spend::{SpendOutcome, SpendRequest, epoch_nanos, reservation_id};

/// What the store's calls return.
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Default byte bound of the records: 64 MiB (about 150,000 one-address
/// allocations in memory).
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How often "the store is full" is logged at most.
pub const FULL_LOG_EVERY: Duration = Duration::from_secs(10);

/// What [`IdempotencyStore::begin`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// No live record: an `InFlight` record was written and the caller now
    /// owns the attempt. It must end it with `complete`, `mark_unknown` or
    /// `release`.
    Started,
    /// The key already succeeded with these parameters: replay this encoded
    /// `AllocateIpResponse`.
    Completed(Vec<u8>),
    /// An attempt with these parameters started at `attempt_started` and has
    /// not ended. If no owner in this process holds the key (see
    /// [`super::InFlightRegistry`]), that attempt was abandoned (process
    /// crash, cancelled request): treat it like `Unknown`.
    InFlight {
        attempt_started: SystemTime,
        created: SystemTime,
    },
    /// The attempt started at `last_attempt` may or may not have allocated:
    /// reconcile with the provider, then `complete` or `mark_attempt`.
    Unknown {
        last_attempt: SystemTime,
        created: SystemTime,
    },
    /// The key is in use for other parameters; `stored.differences(&mine)`
    /// names them.
    Mismatch { stored: Fingerprint },
    /// Fleet mode only: another gateway holds a live lease on the key (its
    /// call is running); the lease ends in `retry_after` at the latest.
    Busy { retry_after: Duration },
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The file; `None` keeps records in memory.
    pub path: Option<PathBuf>,
    /// How long a record lives after its last activity.
    pub retention: Duration,
    /// The byte bound of the records.
    pub max_bytes: u64,
    /// At the bound, evict the oldest completed records instead of refusing
    /// new keys.
    pub evict_completed: bool,
    /// Move an existing file that is not a valid store aside and start empty
    /// instead of refusing to open it.
    pub start_fresh_if_invalid: bool,
    /// Test hook: makes the file's writes fail on demand.
    pub io_faults: Option<IoFaults>,
}

impl StoreOptions {
    /// A store at `path` (in memory when `None`) with the default bound.
    pub fn new(path: Option<&Path>, retention: Duration) -> Self {
        StoreOptions {
            path: path.map(Path::to_path_buf),
            retention,
            max_bytes: DEFAULT_MAX_BYTES,
            evict_completed: false,
            start_fresh_if_invalid: false,
            io_faults: None,
        }
    }
}

/// Counters of a store, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Records stored, including expired ones not yet purged.
    pub records: u64,
    /// Bytes counted against the bound.
    pub bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// Of `bytes`, those of completed records.
    pub completed_bytes: u64,
    /// New keys refused at the bound since the start.
    pub refused_full: u64,
    /// Completed records evicted at the bound since the start.
    pub evicted: u64,
    /// Whether the store can serve calls now.
    pub usable: bool,
    /// Durable commits of record changes (file store: each commit holds a
    /// batch of queued changes; 0 in memory).
    pub commits: u64,
    /// Record changes written by those commits.
    pub committed_changes: u64,
}

/// Idempotency records of `AllocateIp`, keyed by idempotency key. Cheap to
/// clone: clones share one store.
#[derive(Clone)]
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Box<dyn Backend>,
    retention: Duration,
    limits: Limits,
    health: watch::Sender<bool>,
    refused_full: AtomicU64,
    /// When "full" was last logged, and how many were refused since.
    full_log: Mutex<(Option<Instant>, u64)>,
}

impl fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("location", &self.location())
            .field("retention", &self.inner.retention)
            .field("max_bytes", &self.inner.limits.max_bytes)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore {
    /// Opens (creating if absent) the store file at `path`, or an empty
    /// in-memory store when `path` is `None`, with the default byte bound.
    /// Records older than `retention` (counted from their last activity)
    /// count as absent. See [`IdempotencyStore::open_with`].
    pub fn open(path: Option<&Path>, retention: Duration) -> Result<Self> {
        Self::open_with(&StoreOptions::new(path, retention))
    }

    /// Opens a store. The parent directory of a file must exist. A file
    /// holds one open store at a time (redb locks it): a second open fails
    /// with a clear error. An existing file that is not a valid store (empty,
    /// not a redb database, damaged, another program's) is an error that
    /// says what to do, unless `start_fresh_if_invalid`; its checksums are
    /// all verified, which reads the whole file once.
    pub fn open_with(options: &StoreOptions) -> Result<Self> {
        let limits = Limits {
            max_bytes: options.max_bytes,
            evict_completed: options.evict_completed,
        };
        let (health, _) = watch::channel(true);
        let backend: Box<dyn Backend> = match &options.path {
            None => Box::new(MemoryBackend::new(limits)),
            Some(path) => {
                let sender = health.clone();
                Box::new(FileBackend::open(FileOptions {
                    path: path.clone(),
                    limits,
                    start_fresh_if_invalid: options.start_fresh_if_invalid,
                    io_faults: options.io_faults.clone(),
                    health: Arc::new(move |usable| {
                        sender.send_if_modified(|current| {
                            let changed = *current != usable;
                            *current = usable;
                            changed
                        });
                    }),
                })?)
            }
        };
        Ok(IdempotencyStore {
            inner: Arc::new(Inner {
                backend,
                retention: options.retention,
                limits,
                health,
                refused_full: AtomicU64::new(0),
                full_log: Mutex::new((None, 0)),
            }),
        })
    }

    /// Where the records live: the file path, or `(in memory)`.
    pub fn location(&self) -> &str {
        self.inner.backend.location()
    }

    /// The redb database of a file store, for other concepts kept in the
    /// same file (the allocation inventory); `None` in memory.
    pub(crate) fn redb(&self) -> Option<super::file::RedbHandle> {
        self.inner.backend.redb()
    }

    /// The backend, for the ways changes run (`run`).
    pub(super) fn backend(&self) -> &dyn Backend {
        self.inner.backend.as_ref()
    }

    /// How long a record lives after its last activity.
    pub fn retention(&self) -> Duration {
        self.inner.retention
    }

    /// Atomically looks up `key`: with no live record, records
    /// `InFlight { attempt_started: now, created: now }` and returns
    /// [`Begin::Started`] (or [`StoreError::Full`] at the bound); otherwise
    /// reports the live record (see [`Begin`]). An expired record counts as
    /// absent and is replaced.
    pub fn begin(&self, key: &str, fingerprint: &Fingerprint, now: SystemTime) -> Result<Begin> {
        let op = Op::Begin {
            fingerprint: Cow::Borrowed(fingerprint),
            now,
        };
        begun(self.run(key, op), self.location())
    }

    /// Records the success of `key`: `response` is the encoded
    /// `AllocateIpResponse` that duplicates will get. Also records it when the
    /// record is gone (expired meanwhile): the allocation happened.
    pub fn complete(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::Complete {
            fingerprint: Cow::Borrowed(fingerprint),
            response: Cow::Borrowed(response),
            now,
        };
        self.run(key, op).map(drop)
    }

    /// Replaces the stored response of `key`'s completed record with
    /// `response` (a replay refreshed the allocation's state, e.g. an EIP
    /// that became AVAILABLE); its times are kept. An error when the record
    /// has another fingerprint or is not completed.
    pub fn refresh_completed(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::Refresh {
            fingerprint: Cow::Borrowed(fingerprint),
            response: Cow::Borrowed(response),
            now,
        };
        self.run(key, op).map(drop)
    }

    /// Records that the attempt on `key` ended without a definite answer: the
    /// provider may have allocated. The record keeps the attempt's start time
    /// as `last_attempt`; without a record, `now` is used.
    pub fn mark_unknown(&self, key: &str, fp: &Fingerprint, now: SystemTime) -> Result<()> {
        let op = Op::MarkUnknown {
            fingerprint: Cow::Borrowed(fp),
            now,
        };
        self.run(key, op).map(drop)
    }

    /// Records a new attempt on `key` starting at `now` (a re-send after
    /// reconciliation found nothing): the record becomes `InFlight` again.
    pub fn mark_attempt(&self, key: &str, fp: &Fingerprint, now: SystemTime) -> Result<()> {
        let op = Op::MarkAttempt {
            fingerprint: Cow::Borrowed(fp),
            now,
        };
        self.run(key, op).map(drop)
    }

    /// Forgets `key` after a definite failure (nothing was allocated), so the
    /// key may be used again. Refuses to forget a completed allocation.
    pub fn release(&self, key: &str) -> Result<()> {
        // Whatever the record's age (release has no clock): a completed
        // record, even an expired one, is never forgotten this way.
        self.run(key, Op::Release).map(drop)
    }

    /// The live record of `key`, if any (expired records are `None`).
    pub fn get(&self, key: &str, now: SystemTime) -> Result<Option<Record>> {
        timed("get", || {
            let mut found = None;
            self.inner.backend.read(key, &mut |bytes| {
                found = self
                    .decode(key, bytes)?
                    .filter(|record| !record.is_expired(now, self.inner.retention));
                Ok(())
            })?;
            Ok(found)
        })
    }

    /// Checks `request` against its spend limits at `now` and, when it fits,
    /// reserves it, all in one atomic (on a file: durable) change; see
    /// `crate::spend`.
    pub fn reserve_spend(
        &self,
        request: &SpendRequest<'_>,
        now: SystemTime,
    ) -> Result<SpendOutcome> {
        if let Some(committer) = self.inner.backend.committer() {
            return self.reserve_spend_queued(committer, request, now);
        }
        let now_ns = epoch_nanos(now);
        let mut outcome = None;
        timed("reserve spend", || {
            self.inner.backend.ledger("reserve spend", &mut |tables| {
                let (decided, changed) = spend::reserve(tables, request, now_ns)?;
                outcome = Some(decided);
                Ok(changed)
            })
        })?;
        outcome.ok_or_else(|| StoreError::Unavailable {
            location: self.location().to_owned(),
            reason: "the spend reservation was not applied".to_owned(),
        })
    }

    /// Whether `request` would fit its spend limits at `now`, reserving
    /// nothing (the same rule, in a change that is not kept).
    pub fn check_spend(&self, request: &SpendRequest<'_>, now: SystemTime) -> Result<SpendOutcome> {
        let now_ns = epoch_nanos(now);
        let mut outcome = None;
        timed("check spend", || {
            self.inner.backend.ledger("check spend", &mut |tables| {
                outcome = Some(match spend::decide(tables, request, now_ns)? {
                    Some(refusal) => SpendOutcome::Refused(refusal),
                    None => SpendOutcome::Reserved,
                });
                Ok(false)
            })
        })?;
        outcome.ok_or_else(|| StoreError::Unavailable {
            location: self.location().to_owned(),
            reason: "the spend check was not made".to_owned(),
        })
    }

    /// Releases the spend reservation of `key` on `account` (a definite
    /// failure: nothing was allocated). Nothing to release is no error.
    pub fn release_spend(&self, account: &str, key: &str) -> Result<()> {
        if let Some(committer) = self.inner.backend.committer() {
            return self.release_spend_queued(committer, account, key);
        }
        let id = reservation_id(account, key);
        timed("release spend", || {
            self.inner
                .backend
                .ledger("release spend", &mut |tables| tables.remove(&id))
        })
    }

    /// Removes every record expired at `now` and returns how many. Records
    /// that cannot be decoded are kept (and logged).
    pub fn purge_expired(&self, now: SystemTime) -> Result<usize> {
        let retention = self.inner.retention;
        let (removed, corrupt) = timed("purge", || {
            self.inner.backend.purge(&mut |bytes| {
                record::header(bytes)
                    .ok()
                    .map(|h| record::expired(h.last_activity(), now, retention))
            })
        })?;
        if corrupt > 0 {
            tracing::warn!(
                store = %self.location(),
                corrupt,
                "idempotency store holds unreadable records; they were kept"
            );
        }
        Ok(removed)
    }

    /// Number of stored records, including expired ones not yet purged.
    pub fn len(&self) -> Result<usize> {
        Ok(usize::try_from(self.inner.backend.usage().records).unwrap_or(usize::MAX))
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The byte bound of the records (`[idempotency] max_bytes`).
    pub fn max_bytes(&self) -> u64 {
        self.inner.limits.max_bytes
    }

    /// Counters: records, bytes against the bound, refusals, evictions.
    pub fn stats(&self) -> StoreStats {
        let usage = self.inner.backend.usage();
        let (commits, committed_changes) = self.inner.backend.commits();
        StoreStats {
            records: usage.records,
            bytes: usage.bytes,
            max_bytes: self.inner.limits.max_bytes,
            completed_bytes: usage.completed_bytes,
            refused_full: self.inner.refused_full.load(Ordering::Relaxed),
            evicted: self.inner.backend.evicted(),
            usable: self.inner.backend.usable(),
            commits,
            committed_changes,
        }
    }

    /// Whether the store can serve calls, now and on every change.
    pub fn health(&self) -> watch::Receiver<bool> {
        self.inner.health.subscribe()
    }

    /// Closes the store: a file is flushed and unlocked, so the next start
    /// opens it without recovery; every later call fails with
    /// [`StoreError::Closed`]. Also done when the last clone is dropped.
    pub fn close(&self) {
        self.inner.backend.close();
        self.inner.health.send_replace(false);
    }

    fn decode(&self, key: &str, bytes: Option<&[u8]>) -> Result<Option<Record>> {
        bytes
            .map(|bytes| {
                Record::decode(bytes).map_err(|reason| StoreError::CorruptRecord {
                    location: self.location().to_owned(),
                    key: key.to_owned(),
                    reason,
                })
            })
            .transpose()
    }

    /// Counts a refusal at the bound and logs it, at most once per
    /// [`FULL_LOG_EVERY`].
    pub(super) fn note_full(&self, bytes: u64, max_bytes: u64) {
        let total = self.inner.refused_full.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = self
            .inner
            .full_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        log.1 += 1;
        if log.0.is_none_or(|at| at.elapsed() >= FULL_LOG_EVERY) {
            tracing::warn!(
                store = %self.location(),
                bytes,
                max_bytes,
                refused = log.1,
                refused_total = total,
                "idempotency store is full: refusing new keys (UNAVAILABLE, nothing sent) until \
                 records expire; raise [idempotency] max_bytes or set evict_completed = true"
            );
            *log = (Some(Instant::now()), 0);
        }
    }

    /// Stores raw bytes as the record of `key` (to test corrupt records).
    #[cfg(test)]
    pub(super) fn put_raw(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.inner.backend.update(key, "put raw", &mut |_| {
            Ok(super::backend::Write::Put {
                bytes: bytes.to_vec(),
                admission: super::backend::Admission::Existing,
            })
        })
    }
}

/// Runs one store operation `op`, recording how long it took and, when it
/// failed, the kind of failure.
pub(super) fn timed<T>(op: &'static str, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let result = run();
    record_timing(op, started, &result);
    result
}

/// Records how long operation `op`, started at `started`, took and, when it
/// failed, the kind of failure.
pub(super) fn record_timing<T>(op: &'static str, started: Instant, result: &Result<T>) {
    let failure = result.as_ref().err().and_then(StoreError::metric_kind);
    Metrics::global().store_operation(STORE_LOCAL, op, started.elapsed(), failure);
}
