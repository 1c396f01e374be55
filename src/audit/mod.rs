//! The audit trail: one JSON line per allocation outcome (every answer of
//! `AllocateIp`: allocated, replayed, refused, failed; releases will add
//! theirs), for whoever must answer "who allocated this address, and
//! when". To stderr (`[audit] path` absent or `"-"`), or to a file rotated
//! by size (`file`). What a line holds is `record`; it never holds a
//! secret: no credentials, tokens, token hashes or database URL, only the
//! caller's configured name, the request's canonical parameters (those the
//! idempotency fingerprint keeps) and what the provider answered.
//!
//! A line that cannot be written is logged (at most once a minute) and
//! counted; the call's answer does not change: the allocation happened.

mod file;
mod json;
mod record;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(crate) use record::field;
pub use record::{AllocationEntry, EipEntry};

use crate::config::AuditConfig;
use file::RotatingFile;

/// How often a failing audit write is logged at most.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// Why the audit file cannot be opened at start.
#[derive(Debug, thiserror::Error)]
#[error("audit.path: cannot open the audit file: {0}")]
pub struct AuditError(#[source] std::io::Error);

/// Where audit lines go. Cheap to clone: clones share the sink.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Mutex<Sink>,
    location: String,
    failures: AtomicU64,
    last_failure_log: Mutex<Option<Instant>>,
}

enum Sink {
    Stderr,
    File(RotatingFile),
    /// No trail (a gateway embedded in tests).
    Discard,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

impl Audit {
    /// The trail `config` names: its file opened (created 0600), or stderr.
    pub fn open(config: &AuditConfig) -> Result<Audit, AuditError> {
        match &config.path {
            None => Ok(Audit::stderr()),
            Some(path) => {
                let file =
                    RotatingFile::open(path, config.max_bytes, config.keep).map_err(AuditError)?;
                Ok(Audit::with(Sink::File(file), path.display().to_string()))
            }
        }
    }

    /// The trail on stderr.
    pub fn stderr() -> Audit {
        Audit::with(Sink::Stderr, "stderr".to_owned())
    }

    fn with(sink: Sink, location: String) -> Audit {
        Audit {
            inner: Arc::new(Inner {
                sink: Mutex::new(sink),
                location,
                failures: AtomicU64::new(0),
                last_failure_log: Mutex::new(None),
            }),
        }
    }

    /// No trail at all: for a gateway embedded in another program's tests,
    /// whose stderr should stay readable. The configuration has no way to
    /// choose it.
    pub fn discard() -> Audit {
        Audit::with(Sink::Discard, "nowhere".to_owned())
    }

    /// Where the lines go: the file's path, `stderr` or `nowhere`.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// Lines that could not be written since the start.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Writes `entry` as one line.
    pub fn allocation(&self, entry: &AllocationEntry) {
        let line = json::line(entry);
        let written = {
            let mut sink = self
                .inner
                .sink
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &mut *sink {
                Sink::Stderr => crate::logging::stderr::write_line(&line),
                Sink::File(file) => file.write_line(&line),
                Sink::Discard => Ok(()),
            }
        };
        if let Err(e) = written {
            self.failed(&e.to_string());
        }
    }

    fn failed(&self, error: &str) {
        let total = self.inner.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .inner
            .last_failure_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= FAILURE_LOG_EVERY) {
            *last = Some(Instant::now());
            tracing::error!(
                audit = %self.inner.location,
                error,
                failures = total,
                "could not write an audit line"
            );
        }
    }
}
