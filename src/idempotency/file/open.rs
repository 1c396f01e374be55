//! Opening the file: creating a missing store, refusing (or moving aside)
//! an invalid one, and the recovery redb does on an existing one.
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

use std::fs::{self, File, OpenOptions};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, DatabaseStats, ReadableDatabase, TableHandle};

use super::super::error::StoreError;
use super::super::faults::FaultyFile;
use super::FileOptions;
use super::reopen::panic_message;
use super::schema::{
    COMPLETED, FORMAT, FORMAT_KEY, INVENTORY_ENTRIES, INVENTORY_IDS, INVENTORY_RELEASED, META,
    RECORDS, SPEND, SPEND_WINDOWS, initialize,
};

/// Page cache of the database; the working set is small.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Why opening failed.
pub(super) enum OpenFailure {
    /// The file is not a valid store (the reason says why).
    Invalid(String),
    Other(StoreError),
}

impl From<StoreError> for OpenFailure {
    fn from(e: StoreError) -> Self {
        OpenFailure::Other(e)
    }
}

/// Opens the store at the options' path, creating it when absent, moving an
/// invalid file aside when allowed.
pub(super) fn open_or_create(
    options: &FileOptions,
    location: &str,
) -> Result<Database, StoreError> {
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
pub(super) fn open_existing(
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
    let ours = [
        RECORDS.name(),
        COMPLETED.name(),
        META.name(),
        SPEND.name(),
        SPEND_WINDOWS.name(),
        INVENTORY_ENTRIES.name(),
        INVENTORY_IDS.name(),
        INVENTORY_RELEASED.name(),
    ];
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
