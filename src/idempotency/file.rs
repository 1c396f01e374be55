//! The file backend: a redb database, durable across restarts and crashes.
//!
//! # Tables
//!
//! - `idempotency_records_v1`: key to encoded record (the name predates the
//!   compact record format; old JSON records in it are still read);
//! - `idempotency_completed_v2`: (completion time in ns, key) for every
//!   completed record, the eviction order;
//! - `ipalloc_meta`: `format` (names this program) and `schema` (2). A file
//!   of schema 1 (records only) gets the index built when first opened.
//!
//! Every change is one write transaction committed with redb's default
//! durability (fsync before `commit` returns); only purges commit without
//! fsync (losing one brings back expired records).
//!
//! # Opening
//!
//! A missing file is created with mode 0600 under a temporary name, set up,
//! and linked into place (never replacing a file another process created
//! meanwhile). An existing file is used only if it is a valid store: an
//! empty file, a file that is not a redb database, a damaged one, or another
//! program's database is refused with [`StoreError::Invalid`], which says
//! what to do, unless `start_fresh_if_invalid` is set: then the file is moved
//! aside (`<path>.invalid-<UTC time>`) and a new store is created. An
//! existing file readable or writable by group or others is tightened to
//! owner-only (0600 for a 0644 file) with a warning. The file's checksums are
//! all verified (redb's `check_integrity`); a repair that changed the data is
//! logged as a warning, the rebuild of redb's allocator state (which it also
//! reports as a failed check, e.g. after a clean close whose last commit
//! removed a record) is not. An unclean shutdown (crash, SIGKILL) is
//! recovered by redb itself and logged.
//!
//! # I/O errors
//!
//! After a failed write (a full disk: ENOSPC), redb refuses every later call
//! ("Previous I/O error occurred") until the database is reopened. So the
//! first I/O error closes the database and marks the store unusable (calls
//! fail with [`StoreError::Unavailable`], nothing is sent to a provider, and
//! the health callback reports it), and a background thread reopens it every
//! [`REOPEN_EVERY`] until that works (redb recovers the last commit), then
//! reports it usable again.
//!
//! # Damage
//!
//! redb panics on some damaged pages instead of returning an error; the
//! backend catches that (the panic message still reaches the panic hook,
//! i.e. stderr), reports [`StoreError::Damaged`] and refuses every later
//! call, so damage never turns into a second allocation.
//!
//! # What is counted ([`Usage::bytes`])
//!
//! Each record's key and encoded bytes plus 16 bytes (redb's per-entry
//! overhead), and each index entry's key plus 24 bytes: the data the file
//! holds. The file itself is larger (B-tree pages are partly full, a commit
//! copies the pages it changes, freed pages are reused but not returned);
//! README gives measured figures.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redb::{
    Database, DatabaseStats, Durability, ReadableDatabase, ReadableTable, TableDefinition,
    TableHandle,
};

use super::backend::{Backend, Decide, Limits, Plan, Read, Usage, Write};
use super::error::StoreError;
use super::faults::{FaultyFile, IoFaults};
use super::record;

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency_records_v1");
const COMPLETED: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("idempotency_completed_v2");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("ipalloc_meta");

const FORMAT_KEY: &str = "format";
const FORMAT: &[u8] = b"ipalloc-gateway idempotency store";
const SCHEMA_KEY: &str = "schema";
const SCHEMA: u8 = 2;

/// Page cache of the database; the working set is small.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// How often an unusable store is reopened.
pub const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// How often a failing reopen is logged again.
const REOPEN_LOG_EVERY: Duration = Duration::from_secs(30);

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

fn record_cost(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len() + 16) as u64
}

fn index_cost(key: &str) -> u64 {
    (key.len() + 24) as u64
}

/// The index time of a record: its completion in ns since the epoch, when
/// it is completed.
fn completed_at(bytes: &[u8]) -> Option<u64> {
    let header = record::header(bytes).ok()?;
    header.completed.then(|| {
        header
            .activity
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    })
}

/// What the records of a record cost, with its index entry.
fn full_cost(key: &str, value: &[u8]) -> (u64, bool) {
    match completed_at(value) {
        Some(_) => (record_cost(key, value) + index_cost(key), true),
        None => (record_cost(key, value), false),
    }
}

/// Why opening failed.
enum OpenFailure {
    /// The file is not a valid store (the reason says why).
    Invalid(String),
    Other(StoreError),
}

impl From<StoreError> for OpenFailure {
    fn from(e: StoreError) -> Self {
        OpenFailure::Other(e)
    }
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
        Ok(FileBackend { shared })
    }
}

/// Opens the store at the options' path, creating it when absent, moving an
/// invalid file aside when allowed.
fn open_or_create(options: &FileOptions, location: &str) -> Result<Database, StoreError> {
    let path = &options.path;
    for _ in 0..2 {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => create_file(options, location)?,
            Err(e) => return Err(open_error(location, e)),
            Ok(_) => {}
        }
        match open_existing(options, location, true) {
            Ok(db) => return Ok(db),
            Err(OpenFailure::Other(e)) => return Err(e),
            Err(OpenFailure::Invalid(reason)) if options.start_fresh_if_invalid => {
                let aside = move_aside(path).map_err(|e| open_error(location, e))?;
                tracing::warn!(
                    store = %location,
                    moved_to = %aside.display(),
                    %reason,
                    "the idempotency store file is not a valid store; moved it aside and \
                     starting an empty store (start_fresh_if_invalid): every key recorded in it \
                     is forgotten"
                );
            }
            Err(OpenFailure::Invalid(reason)) => {
                return Err(StoreError::Invalid {
                    location: location.to_owned(),
                    reason,
                });
            }
        }
    }
    Err(StoreError::Invalid {
        location: location.to_owned(),
        reason: "a newly created store could not be opened".to_owned(),
    })
}

fn open_error(location: &str, e: io::Error) -> StoreError {
    StoreError::Open {
        location: location.to_owned(),
        source: Box::new(redb::DatabaseError::Storage(redb::StorageError::Io(e))),
    }
}

fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

fn backend(
    file: File,
    options: &FileOptions,
) -> Result<Box<dyn redb::StorageBackend>, redb::DatabaseError> {
    let inner = redb::backends::FileBackend::new(file)?;
    Ok(match &options.io_faults {
        Some(faults) => Box::new(FaultyFile::new(inner, faults.clone())),
        None => Box::new(inner),
    })
}

struct Boxed(Box<dyn redb::StorageBackend>);

impl std::fmt::Debug for Boxed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl redb::StorageBackend for Boxed {
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write(offset, data)
    }
    fn close(&self) -> io::Result<()> {
        self.0.close()
    }
}

/// Creates a new, empty store at the path: set up under a temporary name
/// with mode 0600, then linked into place.
fn create_file(options: &FileOptions, location: &str) -> Result<(), StoreError> {
    let path = &options.path;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idempotency".to_owned());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temporary = dir.join(format!(".{name}.new-{}-{nanos}", std::process::id()));
    let mut open = OpenOptions::new();
    open.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let file = open.open(&temporary).map_err(|e| open_error(location, e))?;
    let result = (|| {
        let db = backend(file, options)
            .and_then(|b| builder().create_with_backend(Boxed(b)))
            .map_err(|source| StoreError::Open {
                location: location.to_owned(),
                source: Box::new(source),
            })?;
        initialize(&db, location)?;
        drop(db);
        match fs::hard_link(&temporary, path) {
            // Another process created it meanwhile: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(open_error(location, e)),
            Ok(()) => {
                if let Ok(dir) = File::open(&dir) {
                    let _ = dir.sync_all();
                }
                tracing::info!(store = %location, "created a new idempotency store file (mode 0600)");
                Ok(())
            }
        }
    })();
    let _ = fs::remove_file(&temporary);
    result
}

/// Sets up the tables of a new or older store (schema 1: records only).
fn initialize(db: &Database, location: &str) -> Result<(), StoreError> {
    let fail = |op: &'static str| {
        move |e: redb::Error| StoreError::Database {
            location: location.to_owned(),
            op,
            source: Box::new(e),
        }
    };
    let txn = db.begin_write().map_err(|e| fail("initialize")(e.into()))?;
    {
        let records = txn
            .open_table(RECORDS)
            .map_err(|e| fail("initialize")(e.into()))?;
        let mut index = txn
            .open_table(COMPLETED)
            .map_err(|e| fail("initialize")(e.into()))?;
        let mut meta = txn
            .open_table(META)
            .map_err(|e| fail("initialize")(e.into()))?;
        let schema = meta
            .get(SCHEMA_KEY)
            .map_err(|e| fail("initialize")(e.into()))?
            .map(|v| v.value().first().copied().unwrap_or(0));
        if schema != Some(SCHEMA) {
            // Build the eviction index of a schema 1 file.
            for entry in records.iter().map_err(|e| fail("migrate")(e.into()))? {
                let (key, value) = entry.map_err(|e| fail("migrate")(e.into()))?;
                if let Some(at) = completed_at(value.value()) {
                    index
                        .insert((at, key.value()), ())
                        .map_err(|e| fail("migrate")(e.into()))?;
                }
            }
            meta.insert(FORMAT_KEY, FORMAT)
                .map_err(|e| fail("initialize")(e.into()))?;
            meta.insert(SCHEMA_KEY, [SCHEMA].as_slice())
                .map_err(|e| fail("initialize")(e.into()))?;
        }
    }
    txn.commit().map_err(|e| fail("initialize")(e.into()))
}

/// The data tree's shape, to tell a repair that changed data from one that
/// only rebuilt redb's allocator state.
fn data_stats(db: &Database) -> Option<(u32, u64, u64, u64)> {
    let txn = db.begin_write().ok()?;
    let stats: DatabaseStats = txn.stats().ok()?;
    let _ = txn.abort();
    Some((
        stats.tree_height(),
        stats.leaf_pages(),
        stats.branch_pages(),
        stats.stored_bytes(),
    ))
}

/// Opens an existing file; `check` verifies every checksum.
fn open_existing(
    options: &FileOptions,
    location: &str,
    check: bool,
) -> Result<Database, OpenFailure> {
    let path = &options.path;
    let metadata = fs::metadata(path).map_err(|e| open_error(location, e))?;
    if metadata.is_dir() {
        return Err(OpenFailure::Other(open_error(
            location,
            io::Error::other("it is a directory; give the path of a file in it"),
        )));
    }
    if metadata.len() == 0 {
        return Err(OpenFailure::Invalid(
            "it is empty (0 bytes), so whatever it recorded is lost (truncated, or a wrong path)"
                .to_owned(),
        ));
    }
    #[cfg(unix)]
    tighten_permissions(path, &metadata, location);

    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| open_error(location, e))?;
    let unclean = Arc::new(AtomicBool::new(false));
    let rolled_back = Arc::new(AtomicBool::new(false));
    let mut builder = builder();
    {
        let (unclean, rolled_back) = (Arc::clone(&unclean), Arc::clone(&rolled_back));
        builder.set_repair_callback(move |session| {
            unclean.store(true, Ordering::Relaxed);
            // The first callback (progress 0.3) comes only when the last
            // commit was partly written and is rolled back.
            if session.progress() < 0.5 {
                rolled_back.store(true, Ordering::Relaxed);
            }
        });
    }
    let opened = panic::catch_unwind(AssertUnwindSafe(
        || -> Result<(Database, bool), redb::DatabaseError> {
            let mut db = builder.create_with_backend(Boxed(backend(file, options)?))?;
            let mut repaired = false;
            if check {
                let before = data_stats(&db);
                if !db.check_integrity()? && data_stats(&db) != before {
                    repaired = true;
                }
            }
            Ok((db, repaired))
        },
    ));
    let (db, repaired) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(source)) => {
            return Err(match &source {
                redb::DatabaseError::Storage(redb::StorageError::Io(e))
                    if e.kind() == io::ErrorKind::InvalidData =>
                {
                    OpenFailure::Invalid(format!("it is not a redb database ({e})"))
                }
                redb::DatabaseError::UpgradeRequired(_)
                | redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)) => {
                    OpenFailure::Invalid(format!("it is damaged or of another format ({source})"))
                }
                _ => OpenFailure::Other(StoreError::Open {
                    location: location.to_owned(),
                    source: Box::new(source),
                }),
            });
        }
        Err(payload) => {
            return Err(OpenFailure::Invalid(format!(
                "it is damaged (redb failed reading it: {})",
                panic_message(payload.as_ref())
            )));
        }
    };
    if unclean.load(Ordering::Relaxed) {
        tracing::warn!(
            store = %location,
            partial_commit_rolled_back = rolled_back.load(Ordering::Relaxed),
            "the idempotency store was not closed cleanly (the gateway crashed or was killed); \
             redb recovered its last durable commit"
        );
    }
    if repaired {
        tracing::warn!(
            store = %location,
            "idempotency store failed its integrity check and was repaired; \
             the latest commits may have been rolled back"
        );
    }
    // Only this program's stores (or a new, empty database) are used.
    let tables: Vec<String> = {
        let txn = db
            .begin_read()
            .map_err(|e| db_open_error(location, e.into()))?;
        txn.list_tables()
            .map_err(|e| db_open_error(location, e.into()))?
            .map(|t| t.name().to_owned())
            .collect()
    };
    let ours = [RECORDS.name(), COMPLETED.name(), META.name()];
    if tables.iter().any(|t| !ours.contains(&t.as_str())) {
        return Err(OpenFailure::Invalid(format!(
            "it is a redb database of another program (tables: {})",
            tables.join(", ")
        )));
    }
    if tables.iter().any(|t| t == META.name()) {
        let format = (|| -> Result<Option<Vec<u8>>, redb::Error> {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            Ok(meta.get(FORMAT_KEY)?.map(|v| v.value().to_vec()))
        })()
        .map_err(|e| db_open_error(location, e))?;
        if format.as_deref() != Some(FORMAT) {
            return Err(OpenFailure::Invalid(
                "its metadata does not name this program".to_owned(),
            ));
        }
    }
    initialize(&db, location)?;
    Ok(db)
}

fn db_open_error(location: &str, e: redb::Error) -> StoreError {
    StoreError::Database {
        location: location.to_owned(),
        op: "open",
        source: Box::new(e),
    }
}

#[cfg(unix)]
fn tighten_permissions(path: &Path, metadata: &fs::Metadata, location: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return;
    }
    let tightened = mode & 0o700;
    match fs::set_permissions(path, fs::Permissions::from_mode(tightened)) {
        Ok(()) => tracing::warn!(
            store = %location,
            "the idempotency store file was accessible to group or others (mode {mode:04o}); \
             tightened it to {tightened:04o}"
        ),
        Err(e) => tracing::warn!(
            store = %location,
            error = %e,
            "the idempotency store file is accessible to group or others (mode {mode:04o}) \
             and could not be tightened; run chmod 600 on it"
        ),
    }
}

/// Renames an invalid file to `<path>.invalid-<UTC time>`.
fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "unknown-time".to_owned());
    let base = format!("{}.invalid-{stamp}", path.display());
    let mut aside = PathBuf::from(&base);
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = PathBuf::from(format!("{base}-{n}"));
    }
    fs::rename(path, &aside)?;
    Ok(aside)
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

fn is_io(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo)
}

type Records<'txn> = redb::Table<'txn, &'static str, &'static [u8]>;
type Index<'txn> = redb::Table<'txn, (u64, &'static str), ()>;

impl Shared {
    fn lock_usage(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_usage(&self, slot: &mut Usage, usage: Usage) {
        *slot = usage;
        self.bytes.store(usage.bytes, Ordering::Relaxed);
        self.records.store(usage.records, Ordering::Relaxed);
        self.completed_bytes
            .store(usage.completed_bytes, Ordering::Relaxed);
    }

    /// Counts the records of a freshly opened database.
    fn count(&self, db: &Database) -> Result<Usage, StoreError> {
        let op = "count";
        let txn = db.begin_read().map_err(|e| self.db_error(op, e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.db_error(op, e))?;
        let mut usage = Usage::default();
        for entry in table.iter().map_err(|e| self.db_error(op, e))? {
            let (key, value) = entry.map_err(|e| self.db_error(op, e))?;
            let (cost, completed) = full_cost(key.value(), value.value());
            usage.records += 1;
            usage.bytes += cost;
            if completed {
                usage.completed_bytes += cost;
            }
        }
        Ok(usage)
    }

    fn db_error(&self, op: &'static str, error: impl Into<redb::Error>) -> StoreError {
        let error = error.into();
        if is_io(&error) {
            self.io_error.store(true, Ordering::Release);
            return StoreError::Unavailable {
                location: self.location.clone(),
                reason: format!("{op} failed: {error}"),
            };
        }
        StoreError::Database {
            location: self.location.clone(),
            op,
            source: Box::new(error),
        }
    }

    /// Runs `f` on the open database, unless it is closed, damaged or being
    /// reopened; a panic inside redb marks it damaged, an I/O error starts
    /// the reopening.
    fn with_db<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed {
                location: self.location.clone(),
            });
        }
        if self.damaged.load(Ordering::Acquire) {
            return Err(StoreError::Damaged {
                location: self.location.clone(),
                reason: "an earlier operation found the database damaged".to_owned(),
            });
        }
        let result = {
            let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
            let Some(db) = guard.as_ref() else {
                return Err(self.unavailable());
            };
            panic::catch_unwind(AssertUnwindSafe(|| f(db)))
        };
        match result {
            Ok(result) => {
                if self.io_error.swap(false, Ordering::AcqRel)
                    && let Err(StoreError::Unavailable { reason, .. }) = &result
                {
                    self.break_down(reason.clone());
                }
                result
            }
            Err(payload) => {
                self.damaged.store(true, Ordering::Release);
                let reason = format!(
                    "redb failed on its data: {}",
                    panic_message(payload.as_ref())
                );
                tracing::error!(
                    store = %self.location,
                    %reason,
                    "idempotency store is damaged; refusing every further operation"
                );
                (self.options.health)(false);
                Err(StoreError::Damaged {
                    location: self.location.clone(),
                    reason,
                })
            }
        }
    }

    fn unavailable(&self) -> StoreError {
        let broken = self.broken.lock().unwrap_or_else(PoisonError::into_inner);
        StoreError::Unavailable {
            location: self.location.clone(),
            reason: match broken.as_deref() {
                Some(reason) => {
                    format!("{reason}; reopening it every {} s", REOPEN_EVERY.as_secs())
                }
                None => "it is being reopened".to_owned(),
            },
        }
    }

    /// After an I/O error: closes the database, reports the store unusable
    /// and starts reopening it.
    fn break_down(self: &Arc<Self>, reason: String) {
        {
            let mut broken = self.broken.lock().unwrap_or_else(PoisonError::into_inner);
            if broken.is_some() {
                return;
            }
            *broken = Some(reason.clone());
        }
        let old = self
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // redb's drop cannot write after an I/O error; it only unlocks.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(old)));
        (self.options.health)(false);
        tracing::error!(
            store = %self.location,
            %reason,
            "idempotency store write failed: refusing allocations (nothing is sent) and \
             reopening it every {} s until writes work again",
            REOPEN_EVERY.as_secs()
        );
        if self.reopening.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("ipalloc-store-reopen".to_owned())
            .spawn(move || shared.reopen_loop());
        if let Err(e) = spawned {
            self.reopening.store(false, Ordering::Release);
            tracing::error!(error = %e, "cannot start the idempotency store's reopen thread");
        }
    }

    fn reopen_loop(self: Arc<Self>) {
        let started = Instant::now();
        let mut last_log: Option<Instant> = None;
        loop {
            {
                let broken = self.broken.lock().unwrap_or_else(PoisonError::into_inner);
                let (broken, _) = self
                    .wake
                    .wait_timeout(broken, REOPEN_EVERY)
                    .unwrap_or_else(PoisonError::into_inner);
                drop(broken);
            }
            if self.closed.load(Ordering::Acquire) {
                break;
            }
            match self.reopen() {
                Ok(usage) => {
                    tracing::info!(
                        store = %self.location,
                        after_ms = started.elapsed().as_millis() as u64,
                        records = usage.records,
                        "idempotency store reopened; serving again"
                    );
                    (self.options.health)(true);
                    break;
                }
                Err(e) => {
                    if last_log.is_none_or(|at| at.elapsed() >= REOPEN_LOG_EVERY) {
                        tracing::warn!(store = %self.location, error = %e, "idempotency store still cannot be reopened");
                        last_log = Some(Instant::now());
                    }
                }
            }
        }
        self.reopening.store(false, Ordering::Release);
    }

    /// Reopens the database (redb recovers it) and recounts it; a write is
    /// tried, so a disk that is still full keeps it closed.
    fn reopen(&self) -> Result<Usage, StoreError> {
        let db = match open_existing(&self.options, &self.location, false) {
            Ok(db) => db,
            Err(OpenFailure::Other(e)) => return Err(e),
            Err(OpenFailure::Invalid(reason)) => {
                return Err(StoreError::Invalid {
                    location: self.location.clone(),
                    reason,
                });
            }
        };
        let usage = self.count(&db)?;
        let mut slot = self.lock_usage();
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed {
                location: self.location.clone(),
            });
        }
        self.set_usage(&mut slot, usage);
        *guard = Some(db);
        *self.broken.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(usage)
    }

    /// Evicts completed records, oldest first and never `except`, until
    /// `free` bytes are freed or none is left. Returns (freed bytes, records).
    fn evict(
        &self,
        records: &mut Records<'_>,
        index: &mut Index<'_>,
        free: u64,
        except: &str,
    ) -> Result<(u64, u64), StoreError> {
        let op = "evict";
        let (mut freed, mut evicted) = (0u64, 0u64);
        while freed < free {
            // The oldest entries, a batch at a time (`except` has at most one).
            let mut batch: Vec<(u64, String)> = Vec::with_capacity(64);
            for entry in index.iter().map_err(|e| self.db_error(op, e))?.take(65) {
                let (k, _) = entry.map_err(|e| self.db_error(op, e))?;
                let (at, key) = k.value();
                if key != except {
                    batch.push((at, key.to_owned()));
                }
            }
            if batch.is_empty() {
                break;
            }
            for (at, key) in batch {
                if freed >= free {
                    break;
                }
                index
                    .remove((at, key.as_str()))
                    .map_err(|e| self.db_error(op, e))?;
                let value = records
                    .get(key.as_str())
                    .map_err(|e| self.db_error(op, e))?
                    .map(|v| v.value().to_vec());
                // A stale index entry (the record changed) is just dropped.
                if let Some(value) = value
                    && completed_at(&value) == Some(at)
                {
                    records
                        .remove(key.as_str())
                        .map_err(|e| self.db_error(op, e))?;
                    freed += record_cost(&key, &value) + index_cost(&key);
                    evicted += 1;
                }
            }
        }
        Ok((freed, evicted))
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
        let shared = &self.shared;
        shared.with_db(|db| {
            let mut usage = shared.lock_usage();
            let txn = db.begin_write().map_err(|e| shared.db_error(op, e))?;
            let mut next = *usage;
            let changed = {
                let mut records = txn
                    .open_table(RECORDS)
                    .map_err(|e| shared.db_error(op, e))?;
                let mut index = txn
                    .open_table(COMPLETED)
                    .map_err(|e| shared.db_error(op, e))?;
                let current = records
                    .get(key)
                    .map_err(|e| shared.db_error(op, e))?
                    .map(|v| v.value().to_vec());
                let old_at = current.as_deref().and_then(completed_at);
                let (old_cost, old_completed) =
                    current.as_deref().map_or((0, false), |v| full_cost(key, v));
                match decide(current.as_deref())? {
                    Write::Keep => false,
                    Write::Remove => {
                        records.remove(key).map_err(|e| shared.db_error(op, e))?;
                        if let Some(at) = old_at {
                            index
                                .remove((at, key))
                                .map_err(|e| shared.db_error(op, e))?;
                        }
                        if current.is_some() {
                            next.records -= 1;
                            next.bytes -= old_cost;
                            if old_completed {
                                next.completed_bytes -= old_cost;
                            }
                        }
                        true
                    }
                    Write::Put { bytes, admission } => {
                        let new_at = completed_at(&bytes);
                        let (new_cost, new_completed) = full_cost(key, &bytes);
                        let grow = new_cost as i64 - old_cost as i64;
                        let evictable =
                            next.completed_bytes - if old_completed { old_cost } else { 0 };
                        match shared
                            .options
                            .limits
                            .plan(next.bytes, evictable, grow, admission)
                        {
                            Plan::Write => {}
                            Plan::EvictThenWrite { free } => {
                                let (freed, evicted) =
                                    shared.evict(&mut records, &mut index, free, key)?;
                                next.bytes -= freed;
                                next.completed_bytes -= freed;
                                next.records -= evicted;
                                shared.evicted.fetch_add(evicted, Ordering::Relaxed);
                            }
                            Plan::Refuse => {
                                return Err(StoreError::Full {
                                    location: shared.location.clone(),
                                    bytes: next.bytes,
                                    max_bytes: shared.options.limits.max_bytes,
                                });
                            }
                        }
                        records
                            .insert(key, bytes.as_slice())
                            .map_err(|e| shared.db_error(op, e))?;
                        if old_at != new_at {
                            if let Some(at) = old_at {
                                index
                                    .remove((at, key))
                                    .map_err(|e| shared.db_error(op, e))?;
                            }
                            if let Some(at) = new_at {
                                index
                                    .insert((at, key), ())
                                    .map_err(|e| shared.db_error(op, e))?;
                            }
                        }
                        if current.is_none() {
                            next.records += 1;
                        }
                        next.bytes = next.bytes - old_cost + new_cost;
                        if old_completed {
                            next.completed_bytes -= old_cost;
                        }
                        if new_completed {
                            next.completed_bytes += new_cost;
                        }
                        true
                    }
                }
            };
            if changed {
                txn.commit().map_err(|e| shared.db_error(op, e))?;
                shared.set_usage(&mut usage, next);
            } else {
                txn.abort().map_err(|e| shared.db_error(op, e))?;
            }
            Ok(())
        })
    }

    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        let shared = &self.shared;
        shared.with_db(|db| {
            let op = "read";
            let txn = db.begin_read().map_err(|e| shared.db_error(op, e))?;
            let table = txn
                .open_table(RECORDS)
                .map_err(|e| shared.db_error(op, e))?;
            let value = table.get(key).map_err(|e| shared.db_error(op, e))?;
            read(value.as_ref().map(|v| v.value()))
        })
    }

    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let shared = &self.shared;
        shared.with_db(|db| {
            let op = "purge expired";
            let mut usage = shared.lock_usage();
            let mut txn = db.begin_write().map_err(|e| shared.db_error(op, e))?;
            txn.set_durability(Durability::None)
                .map_err(|e| shared.db_error(op, e))?;
            let mut next = *usage;
            let (mut removed, mut unreadable) = (0usize, 0usize);
            {
                let mut records = txn
                    .open_table(RECORDS)
                    .map_err(|e| shared.db_error(op, e))?;
                let mut index = txn
                    .open_table(COMPLETED)
                    .map_err(|e| shared.db_error(op, e))?;
                let mut indexed: Vec<(u64, String)> = Vec::new();
                records
                    .retain(|key, value| match expired(value) {
                        Some(true) => {
                            removed += 1;
                            let (cost, completed) = full_cost(key, value);
                            next.records -= 1;
                            next.bytes -= cost;
                            if completed {
                                next.completed_bytes -= cost;
                            }
                            if let Some(at) = completed_at(value) {
                                indexed.push((at, key.to_owned()));
                            }
                            false
                        }
                        Some(false) => true,
                        None => {
                            unreadable += 1;
                            true
                        }
                    })
                    .map_err(|e| shared.db_error(op, e))?;
                for (at, key) in &indexed {
                    index
                        .remove((*at, key.as_str()))
                        .map_err(|e| shared.db_error(op, e))?;
                }
            }
            if removed > 0 {
                txn.commit().map_err(|e| shared.db_error(op, e))?;
                shared.set_usage(&mut usage, next);
            } else {
                txn.abort().map_err(|e| shared.db_error(op, e))?;
            }
            Ok((removed, unreadable))
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
