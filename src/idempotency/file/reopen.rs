//! Faults of an open store: an I/O error closes the database and a
//! background thread reopens it; a panic inside redb marks it damaged.
//!
//! After a failed write (a full disk: ENOSPC), redb refuses every later call
//! ("Previous I/O error occurred") until the database is reopened. So the
//! first I/O error closes the database and marks the store unusable (calls
//! fail with [`StoreError::Unavailable`], nothing is sent to a provider, and
//! the health callback reports it), and a background thread reopens it every
//! [`REOPEN_EVERY`] until that works (redb recovers the last commit), then
//! reports it usable again.
//!
//! redb panics on some damaged pages instead of returning an error; the
//! backend catches that (the panic message still reaches the panic hook,
//! i.e. stderr), reports [`StoreError::Damaged`] and refuses every later
//! call, so damage never turns into a second allocation.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use redb::Database;

use super::super::backend::Usage;
use super::super::error::StoreError;
use super::Shared;
use super::open::{OpenFailure, open_existing};

/// How often an unusable store is reopened.
pub const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// How often a failing reopen is logged again.
const REOPEN_LOG_EVERY: Duration = Duration::from_secs(30);

/// The message of a caught panic, for the log and the error.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
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

impl Shared {
    pub(super) fn db_error(&self, op: &'static str, error: impl Into<redb::Error>) -> StoreError {
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
    pub(super) fn with_db<T>(
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
}
