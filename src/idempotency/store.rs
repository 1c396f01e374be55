//! The durable record store: one redb table from idempotency key to encoded
//! [`Record`], in a file or in memory.
//!
//! Every method is one short local transaction and blocks its thread for it:
//! reads never wait, writes wait for the single writer and, on a file, for
//! one fsync (redb's default [`Durability::Immediate`]), so a record is on
//! disk when `begin`, `complete`, `mark_unknown`, `mark_attempt` or `release`
//! returns and survives a crash or restart. Only `purge_expired` commits
//! without fsync ([`Durability::None`]): losing a purge in a crash brings back
//! records that are expired anyway, and the next durable commit persists it.
//! Calling these methods directly from async code is acceptable for the
//! gateway's request rates; use `tokio::task::spawn_blocking` (the store is a
//! cheap `Clone`) if the disk is slow.
//!
//! A file is checked when opened: redb verifies every checksum and repairs
//! what it can (as after a crash, by rolling back to the last intact commit,
//! which is logged as a warning).
//! redb panics on some damaged data instead of returning an error; the store
//! catches that (the panic message still reaches the panic hook, i.e.
//! stderr), reports [`StoreError::Damaged`] and refuses every later call, so
//! damage never turns into a second allocation.
//!
//! Each key's record moves through these transitions, all checked against
//! the caller's [`Fingerprint`] (a live record with another fingerprint is
//! never changed):
//!
//! | call | absent or expired | `InFlight` | `Unknown` | `Completed` |
//! | --- | --- | --- | --- | --- |
//! | `begin` | insert `InFlight`, `Started` | `Begin::InFlight` | `Begin::Unknown` | `Begin::Completed` |
//! | `complete` | insert `Completed` | `Completed` | `Completed` | no-op if same response, else error |
//! | `mark_unknown` | insert `Unknown` | `Unknown` (keeps the attempt time) | no-op | error |
//! | `mark_attempt` | insert `InFlight` | `InFlight`, new attempt time | `InFlight`, new attempt time | error |
//! | `release` | no-op | removed | removed | error |
//! | `refresh_completed` | error | error | error | new response (same fingerprint) |

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use redb::backends::InMemoryBackend;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

use super::fingerprint::Fingerprint;
use super::record::Record;

/// The one table: idempotency key to encoded [`Record`].
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency_records_v1");

/// Page cache of the database; the working set is small.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Location shown for the in-memory store.
const IN_MEMORY: &str = "(in memory)";

type Records<'txn> = redb::Table<'txn, &'static str, &'static [u8]>;

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
}

/// Errors of the store. Every message names the store's location.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the idempotency store {location}: {source}{}", open_hint(.source))]
    Open {
        location: String,
        #[source]
        source: Box<redb::DatabaseError>,
    },
    /// A transaction failed.
    #[error("idempotency store {location}: {op} failed: {source}")]
    Database {
        location: String,
        op: &'static str,
        #[source]
        source: Box<redb::Error>,
    },
    /// A stored record could not be decoded. The key stays unusable (rather
    /// than risking a second allocation) until the record is removed.
    #[error("idempotency store {location}: the record of key {key:?} is unreadable: {reason}")]
    CorruptRecord {
        location: String,
        key: String,
        reason: String,
    },
    /// A record could not be encoded (e.g. a time before 1970).
    #[error("idempotency store {location}: cannot store the record of key {key:?}: {reason}")]
    Encode {
        location: String,
        key: String,
        reason: String,
    },
    /// The database file is damaged: redb failed inside an operation (it
    /// panics on some corrupt pages; the panic is caught). The store refuses
    /// every later call rather than risk a second allocation.
    #[error(
        "idempotency store {location} is unusable: {reason} (restore or move away the file and \
         restart; moving it away forgets every recorded key)"
    )]
    Damaged { location: String, reason: String },
    /// The call does not fit the key's current record: another fingerprint,
    /// or a change to a completed record. Nothing was changed.
    #[error("idempotency store {location}: cannot {op} key {key:?}: {reason}")]
    Conflict {
        location: String,
        key: String,
        op: &'static str,
        reason: String,
    },
}

fn open_hint(error: &redb::DatabaseError) -> &'static str {
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen => {
            " (another gateway process, or another store in this process, has it open)"
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(e))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            " (the file is not a redb database: check the configured path; it was left unchanged)"
        }
        redb::DatabaseError::UpgradeRequired(_)
        | redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)) => {
            " (the file is not a database of this gateway or is damaged; moving it away \
             starts an empty store and forgets every recorded key)"
        }
        _ => "",
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic".to_owned()
    }
}

/// Idempotency records of `AllocateIp`, keyed by idempotency key. Cheap to
/// clone: clones share one database.
#[derive(Clone)]
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    location: String,
    retention: Duration,
    /// Set when redb panicked: the database is not touched again.
    damaged: AtomicBool,
}

impl fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("location", &self.inner.location)
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore {
    /// Opens (creating if absent or empty) the store file at `path`, or an
    /// empty in-memory store when `path` is `None`. Records older than
    /// `retention` (counted from their last activity) count as absent. The
    /// parent directory must exist. A file holds one open store at a time
    /// (redb locks it): a second open fails with a clear error. A file that
    /// is not a redb database is left unchanged and is an error; an existing
    /// file's checksums are all verified, which reads the whole file once.
    pub fn open(path: Option<&Path>, retention: Duration) -> Result<Self, StoreError> {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        let location = match path {
            Some(path) => path.display().to_string(),
            None => IN_MEMORY.to_owned(),
        };
        // redb panics on some damaged files instead of returning an error.
        let opened = panic::catch_unwind(AssertUnwindSafe(|| match path {
            Some(path) => {
                let mut db = builder.create(path)?;
                // Verifies every checksum (redb checks them by itself only
                // after an unclean shutdown), so that damage is found here
                // rather than by a panic inside a later read.
                if !db.check_integrity()? {
                    tracing::warn!(
                        store = %location,
                        "idempotency store failed its integrity check and was repaired; \
                         the latest commits may have been rolled back"
                    );
                }
                Ok(db)
            }
            None => builder.create_with_backend(InMemoryBackend::new()),
        }));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(source)) => {
                return Err(StoreError::Open {
                    location,
                    source: Box::new(source),
                });
            }
            Err(payload) => {
                return Err(StoreError::Damaged {
                    reason: format!(
                        "redb failed opening it: {}",
                        panic_message(payload.as_ref())
                    ),
                    location,
                });
            }
        };
        let store = IdempotencyStore {
            inner: Arc::new(Inner {
                db,
                location,
                retention,
                damaged: AtomicBool::new(false),
            }),
        };
        // Creates the table, so that read transactions find it.
        store.write("initialize", Durability::Immediate, |_| Ok(((), true)))?;
        Ok(store)
    }

    /// Where the records live: the file path, or `(in memory)`.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// How long a record lives after its last activity.
    pub fn retention(&self) -> Duration {
        self.inner.retention
    }

    /// Atomically (one write transaction) looks up `key`: with no live record,
    /// records `InFlight { attempt_started: now, created: now }` and returns
    /// [`Begin::Started`]; otherwise reports the live record (see [`Begin`]).
    /// An expired record counts as absent and is replaced.
    pub fn begin(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        now: SystemTime,
    ) -> Result<Begin, StoreError> {
        self.write("begin", Durability::Immediate, |table| {
            if let Some(record) = self.load(table, key)?
                && !record.is_expired(now, self.inner.retention)
            {
                if record.fingerprint() != fingerprint {
                    return Ok((
                        Begin::Mismatch {
                            stored: record.fingerprint().clone(),
                        },
                        false,
                    ));
                }
                let found = match record {
                    Record::InFlight {
                        attempt_started,
                        created,
                        ..
                    } => Begin::InFlight {
                        attempt_started,
                        created,
                    },
                    Record::Unknown {
                        last_attempt,
                        created,
                        ..
                    } => Begin::Unknown {
                        last_attempt,
                        created,
                    },
                    Record::Completed { response, .. } => Begin::Completed(response),
                };
                return Ok((found, false));
            }
            let record = Record::InFlight {
                fingerprint: fingerprint.clone(),
                attempt_started: now,
                created: now,
            };
            self.store(table, key, &record)?;
            Ok((Begin::Started, true))
        })
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
    ) -> Result<(), StoreError> {
        const OP: &str = "complete";
        self.write(OP, Durability::Immediate, |table| {
            let created = match self.own_record(table, OP, key, fingerprint, now)? {
                Some(Record::Completed {
                    response: stored, ..
                }) => {
                    if stored == response {
                        return Ok(((), false));
                    }
                    return Err(self.conflict(
                        OP,
                        key,
                        "it is already completed with a different response".to_owned(),
                    ));
                }
                Some(record) => record.created(),
                None => now,
            };
            let record = Record::Completed {
                fingerprint: fingerprint.clone(),
                response: response.to_vec(),
                created,
                completed: now,
            };
            self.store(table, key, &record)?;
            Ok(((), true))
        })
    }

    /// Records that the attempt on `key` ended without a definite answer: the
    /// provider may have allocated. The record keeps the attempt's start time
    /// as `last_attempt`; without a record, `now` is used.
    pub fn mark_unknown(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        const OP: &str = "mark unknown";
        self.write(OP, Durability::Immediate, |table| {
            let (last_attempt, created) = match self.own_record(table, OP, key, fingerprint, now)? {
                Some(Record::InFlight {
                    attempt_started,
                    created,
                    ..
                }) => (attempt_started, created),
                Some(Record::Unknown { .. }) => return Ok(((), false)),
                Some(Record::Completed { .. }) => {
                    return Err(self.conflict(OP, key, "it is already completed".to_owned()));
                }
                None => (now, now),
            };
            let record = Record::Unknown {
                fingerprint: fingerprint.clone(),
                last_attempt,
                created,
            };
            self.store(table, key, &record)?;
            Ok(((), true))
        })
    }

    /// Records a new attempt on `key` starting at `now` (a re-send after
    /// reconciliation found nothing): the record becomes `InFlight` again.
    pub fn mark_attempt(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        const OP: &str = "mark attempt";
        self.write(OP, Durability::Immediate, |table| {
            let created = match self.own_record(table, OP, key, fingerprint, now)? {
                Some(Record::Completed { .. }) => {
                    return Err(self.conflict(OP, key, "it is already completed".to_owned()));
                }
                Some(record) => record.created(),
                None => now,
            };
            let record = Record::InFlight {
                fingerprint: fingerprint.clone(),
                attempt_started: now,
                created,
            };
            self.store(table, key, &record)?;
            Ok(((), true))
        })
    }

    /// Replaces the stored response of a completed `key` with `response`
    /// (the same allocations in a later state, for replays that never go
    /// backwards). Refuses a record with another fingerprint and one that is
    /// not completed.
    pub fn refresh_completed(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
    ) -> Result<(), StoreError> {
        const OP: &str = "refresh completed";
        self.write(OP, Durability::Immediate, |table| {
            match self.own_record(table, OP, key, fingerprint, now)? {
                Some(Record::Completed {
                    response: stored,
                    created,
                    ..
                }) => {
                    if stored == response {
                        return Ok(((), false));
                    }
                    let record = Record::Completed {
                        fingerprint: fingerprint.clone(),
                        response: response.to_vec(),
                        created,
                        completed: now,
                    };
                    self.store(table, key, &record)?;
                    Ok(((), true))
                }
                Some(record) => Err(self.conflict(
                    OP,
                    key,
                    format!("it is {}, not completed", record.state_name()),
                )),
                None => Err(self.conflict(OP, key, "it has no record".to_owned())),
            }
        })
    }

    /// Forgets `key` after a definite failure (nothing was allocated), so the
    /// key may be used again. Refuses to forget a completed allocation.
    pub fn release(&self, key: &str) -> Result<(), StoreError> {
        const OP: &str = "release";
        self.write(OP, Durability::Immediate, |table| {
            match self.load(table, key)? {
                None => Ok(((), false)),
                Some(Record::Completed { .. }) => Err(self.conflict(
                    OP,
                    key,
                    "it is completed: an allocation was made".to_owned(),
                )),
                Some(_) => {
                    table.remove(key).map_err(|e| self.db_error(OP, e))?;
                    Ok(((), true))
                }
            }
        })
    }

    /// The live record of `key`, if any (expired records are `None`).
    pub fn get(&self, key: &str, now: SystemTime) -> Result<Option<Record>, StoreError> {
        self.read("get", |table| {
            Ok(self
                .load(table, key)?
                .filter(|record| !record.is_expired(now, self.inner.retention)))
        })
    }

    /// Removes every record expired at `now` and returns how many. Records
    /// that cannot be decoded are kept (and logged).
    pub fn purge_expired(&self, now: SystemTime) -> Result<usize, StoreError> {
        const OP: &str = "purge expired";
        let retention = self.inner.retention;
        let (removed, corrupt) = self.write(OP, Durability::None, |table| {
            let mut removed = 0usize;
            let mut corrupt = 0usize;
            table
                .retain(|_key, value| match Record::decode(value) {
                    Ok(record) if record.is_expired(now, retention) => {
                        removed += 1;
                        false
                    }
                    Ok(_) => true,
                    Err(_) => {
                        corrupt += 1;
                        true
                    }
                })
                .map_err(|e| self.db_error(OP, e))?;
            Ok(((removed, corrupt), removed > 0))
        })?;
        if corrupt > 0 {
            tracing::warn!(
                store = %self.inner.location,
                corrupt,
                "idempotency store holds unreadable records; they were kept"
            );
        }
        Ok(removed)
    }

    /// Number of stored records, including expired ones not yet purged.
    pub fn len(&self) -> Result<usize, StoreError> {
        const OP: &str = "count";
        self.read(OP, |table| {
            let len = table.len().map_err(|e| self.db_error(OP, e))?;
            Ok(usize::try_from(len).unwrap_or(usize::MAX))
        })
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Runs `f` in one write transaction; commits (with `durability`) when `f`
    /// returns `(_, true)`, aborts when `(_, false)` or on error.
    fn write<T>(
        &self,
        op: &'static str,
        durability: Durability,
        f: impl FnOnce(&mut Records<'_>) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        self.guarded(|| {
            let mut txn = self
                .inner
                .db
                .begin_write()
                .map_err(|e| self.db_error(op, e))?;
            txn.set_durability(durability)
                .map_err(|e| self.db_error(op, e))?;
            let (value, changed) = {
                let mut table = txn.open_table(RECORDS).map_err(|e| self.db_error(op, e))?;
                f(&mut table)?
            };
            if changed {
                txn.commit().map_err(|e| self.db_error(op, e))?;
            } else {
                txn.abort().map_err(|e| self.db_error(op, e))?;
            }
            Ok(value)
        })
    }

    /// Runs `f` in one read transaction.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&redb::ReadOnlyTable<&'static str, &'static [u8]>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.guarded(|| {
            let txn = self
                .inner
                .db
                .begin_read()
                .map_err(|e| self.db_error(op, e))?;
            let table = txn.open_table(RECORDS).map_err(|e| self.db_error(op, e))?;
            f(&table)
        })
    }

    /// Runs `f` unless the database is known to be damaged, turning a panic
    /// inside redb (corrupt pages) into [`StoreError::Damaged`] and closing
    /// the store for good.
    fn guarded<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.inner.damaged.load(Ordering::Acquire) {
            return Err(StoreError::Damaged {
                location: self.inner.location.clone(),
                reason: "an earlier operation found the database damaged".to_owned(),
            });
        }
        panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
            self.inner.damaged.store(true, Ordering::Release);
            let reason = format!(
                "redb failed on its data: {}",
                panic_message(payload.as_ref())
            );
            tracing::error!(
                store = %self.inner.location,
                %reason,
                "idempotency store is damaged; refusing every further operation"
            );
            Err(StoreError::Damaged {
                location: self.inner.location.clone(),
                reason,
            })
        })
    }

    fn load(
        &self,
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<Record>, StoreError> {
        let Some(guard) = table.get(key).map_err(|e| self.db_error("read", e))? else {
            return Ok(None);
        };
        Record::decode(guard.value())
            .map(Some)
            .map_err(|reason| StoreError::CorruptRecord {
                location: self.inner.location.clone(),
                key: key.to_owned(),
                reason,
            })
    }

    /// The live record of `key` when it has `fingerprint`; `None` when absent
    /// or expired; a conflict when it has another fingerprint.
    fn own_record(
        &self,
        table: &Records<'_>,
        op: &'static str,
        key: &str,
        fingerprint: &Fingerprint,
        now: SystemTime,
    ) -> Result<Option<Record>, StoreError> {
        match self.load(table, key)? {
            Some(record) if record.is_expired(now, self.inner.retention) => Ok(None),
            Some(record) if record.fingerprint() != fingerprint => {
                let differing = record.fingerprint().differences(fingerprint);
                let reason = if differing.is_empty() {
                    "it is recorded for other parameters".to_owned()
                } else {
                    format!(
                        "it is recorded for other parameters (differing: {})",
                        differing.join(", ")
                    )
                };
                Err(self.conflict(op, key, reason))
            }
            other => Ok(other),
        }
    }

    fn store(&self, table: &mut Records<'_>, key: &str, record: &Record) -> Result<(), StoreError> {
        let bytes = record.encode().map_err(|reason| StoreError::Encode {
            location: self.inner.location.clone(),
            key: key.to_owned(),
            reason,
        })?;
        table
            .insert(key, bytes.as_slice())
            .map_err(|e| self.db_error("write", e))?;
        Ok(())
    }

    fn db_error(&self, op: &'static str, error: impl Into<redb::Error>) -> StoreError {
        StoreError::Database {
            location: self.inner.location.clone(),
            op,
            source: Box::new(error.into()),
        }
    }

    fn conflict(&self, op: &'static str, key: &str, reason: String) -> StoreError {
        StoreError::Conflict {
            location: self.inner.location.clone(),
            key: key.to_owned(),
            op,
            reason,
        }
    }

    /// Stores raw bytes as the record of `key` (to test corrupt records).
    #[cfg(test)]
    pub(super) fn put_raw(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write("put raw", Durability::Immediate, |table| {
            table
                .insert(key, bytes)
                .map_err(|e| self.db_error("write", e))?;
            Ok(((), true))
        })
    }
}

#[cfg(test)]
mod refresh_tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn fingerprint(amount: u32) -> Fingerprint {
        Fingerprint::new("zl", &[("amount", amount.to_string())])
    }

    /// `refresh_completed` replaces a completed record's response (same
    /// fingerprint), and refuses other fingerprints, records that are not
    /// completed, and absent keys, changing nothing.
    #[test]
    fn refresh_completed_replaces_only_a_completed_response() {
        let store = IdempotencyStore::open(None, Duration::from_secs(86_400)).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = t0 + Duration::from_secs(5);
        let (one, two) = (fingerprint(1), fingerprint(2));

        assert!(matches!(
            store.refresh_completed("absent", &one, b"new", t0),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.begin("k", &one, t0).unwrap(), Begin::Started);
        assert!(matches!(
            store.refresh_completed("k", &one, b"new", t0),
            Err(StoreError::Conflict { .. })
        ));
        store.mark_unknown("k", &one, t0).unwrap();
        assert!(store.refresh_completed("k", &one, b"new", t0).is_err());

        store.complete("k", &one, b"pending", t0).unwrap();
        assert!(matches!(
            store.refresh_completed("k", &two, b"new", later),
            Err(StoreError::Conflict { .. })
        ));
        store.refresh_completed("k", &one, b"ready", later).unwrap();
        assert_eq!(
            store.begin("k", &one, later).unwrap(),
            Begin::Completed(b"ready".to_vec())
        );
        match store.get("k", later).unwrap() {
            Some(Record::Completed {
                created, completed, ..
            }) => assert_eq!((created, completed), (t0, later)),
            other => panic!("{other:?}"),
        }
        // The same response again changes nothing.
        store.refresh_completed("k", &one, b"ready", later).unwrap();
    }
}
