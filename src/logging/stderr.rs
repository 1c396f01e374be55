//! The process's stderr, written by a thread of its own.
//!
//! Log lines and audit lines (when the audit trail goes to stderr) are
//! handed, one message per line, to a writer thread through a bounded
//! channel ([`MAX_QUEUED_LINES`]); the thread writes what it drained in one
//! `write` (a 64 KiB buffer flushed whenever the channel is empty), so a
//! loaded gateway makes one system call per batch of lines instead of one
//! per line, and a slow stderr (a full pipe) does not stall the async
//! workers until the queue is full. When it is, writers wait: lines are
//! never dropped, and the queue bounds the memory they take.
//!
//! The [`StderrGuard`] returned by [`install`] flushes what is queued when
//! it is dropped (at the end of `main`, also when unwinding from a panic);
//! lines queued when the process is killed are lost (at most a few ms).
//! Before [`install`], and in tests, [`write_line`] writes to stderr
//! directly.

use std::io::{self, Write};
use std::sync::OnceLock;

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

/// Most lines waiting for the writer thread.
pub const MAX_QUEUED_LINES: usize = 1024;

/// Size of the writer thread's buffer.
const BUFFER_BYTES: usize = 64 * 1024;

static WRITER: OnceLock<NonBlocking> = OnceLock::new();

/// Keeps the writer thread; dropping it flushes the queued lines.
#[must_use = "dropping the guard stops the stderr writer"]
pub struct StderrGuard {
    _worker: Option<WorkerGuard>,
}

impl std::fmt::Debug for StderrGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StderrGuard")
    }
}

/// Starts the writer thread (once per process) and returns the writer the
/// log subscriber uses, with the guard that flushes it.
pub fn install() -> (NonBlocking, StderrGuard) {
    if let Some(writer) = WRITER.get() {
        return (writer.clone(), StderrGuard { _worker: None });
    }
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(MAX_QUEUED_LINES)
        .thread_name("ipalloc-stderr")
        .finish(io::BufWriter::with_capacity(BUFFER_BYTES, io::stderr()));
    match WRITER.set(writer.clone()) {
        Ok(()) => (
            writer,
            StderrGuard {
                _worker: Some(guard),
            },
        ),
        // Installed by another thread meanwhile: use that one.
        Err(_) => match WRITER.get() {
            Some(installed) => (installed.clone(), StderrGuard { _worker: None }),
            None => (
                writer,
                StderrGuard {
                    _worker: Some(guard),
                },
            ),
        },
    }
}

/// Writes one whole line (with its line end) to stderr: through the writer
/// thread once [`install`]ed, else directly.
pub fn write_line(line: &[u8]) -> io::Result<()> {
    match WRITER.get() {
        Some(writer) => writer.clone().write_all(line),
        None => io::stderr().lock().write_all(line),
    }
}
