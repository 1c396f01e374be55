//! The process's stderr, written in batches.
//!
//! Log lines and audit lines (when the audit trail goes to stderr) are
//! appended to one in-memory buffer under a short lock; a flusher thread
//! writes the buffer out with one `write` at most [`FLUSH_DELAY`] after the
//! first line that found it empty. So a loaded gateway makes one system call
//! per batch of lines instead of one per line, and nothing is woken per line:
//! the flusher is notified only when a line finds the buffer empty, at most
//! once per flush. An idle gateway wakes nothing.
//!
//! Memory is bounded: a line that finds [`MAX_BUFFER_BYTES`] waiting writes
//! the buffer out itself before adding to it (lines are never dropped, and
//! their order is kept: a lock is held from taking the buffer to the end of
//! its write).
//!
//! Two buffers take turns (the one being written and the one filling), so
//! a loaded gateway appends into capacity already there instead of growing
//! a new buffer for every batch; a buffer is kept for reuse only up to
//! [`KEPT_BUFFER_BYTES`] of capacity.
//!
//! The [`StderrGuard`] returned by [`install`] flushes what is left when it
//! is dropped (at the end of `main`, also when unwinding from a panic);
//! lines buffered when the process is killed are lost (at most
//! [`FLUSH_DELAY`] of them). Before [`install`], and in tests that do not
//! call it, [`write_line`] writes to stderr directly.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest time a line waits in the buffer.
pub const FLUSH_DELAY: Duration = Duration::from_millis(2);

/// Most bytes waiting: a line finding this many writes them out first.
pub const MAX_BUFFER_BYTES: usize = 256 * 1024;

/// Largest capacity of a written buffer kept for the next batch.
pub const KEPT_BUFFER_BYTES: usize = 64 * 1024;

/// Where a [`Batched`] writes: stderr, or a test's sink.
type Sink = Box<dyn Write + Send>;

/// The output and the buffer written last, kept empty for the next swap.
struct Output {
    sink: Sink,
    spare: Vec<u8>,
}

struct Shared {
    /// Lines waiting, and whether the guard has stopped the flusher.
    pending: Mutex<Pending>,
    /// Notified when a line finds the buffer empty, and at stop.
    wake: Condvar,
    /// The output, locked from taking the buffer to the end of its write.
    sink: Mutex<Output>,
}

#[derive(Default)]
struct Pending {
    buffer: Vec<u8>,
    stopped: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves consistent data (an append, a swap).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on the batched output (cheap to clone); `io::Write` appends.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Batched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batched")
    }
}

impl Batched {
    /// A batched writer over `sink` and its flusher thread.
    fn start(sink: Sink) -> io::Result<(Batched, StderrGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            sink: Mutex::new(Output {
                sink,
                spare: Vec::new(),
            }),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ipalloc-stderr".to_owned())
                .spawn(move || flusher(&shared))?
        };
        let batched = Batched { shared };
        let guard = StderrGuard {
            stop: Some((batched.clone(), flusher)),
        };
        Ok((batched, guard))
    }

    /// Appends one whole line (or several).
    pub fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut pending = lock(&self.shared.pending);
        if pending.stopped {
            drop(pending);
            return lock(&self.shared.sink).sink.write_all(bytes);
        }
        if pending.buffer.len().saturating_add(bytes.len()) > MAX_BUFFER_BYTES {
            drop(pending);
            self.flush_now()?;
            pending = lock(&self.shared.pending);
        }
        let was_empty = pending.buffer.is_empty();
        pending.buffer.extend_from_slice(bytes);
        drop(pending);
        if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Writes out what is buffered, in order.
    pub fn flush_now(&self) -> io::Result<()> {
        let mut output = lock(&self.shared.sink);
        let mut batch = std::mem::take(&mut output.spare);
        std::mem::swap(&mut lock(&self.shared.pending).buffer, &mut batch);
        if batch.is_empty() {
            output.spare = batch;
            return Ok(());
        }
        let written = output
            .sink
            .write_all(&batch)
            .and_then(|()| output.sink.flush());
        if batch.capacity() <= KEPT_BUFFER_BYTES {
            batch.clear();
            output.spare = batch;
        }
        written
    }

    /// Flushes what is left and makes later lines go straight to the sink.
    fn stop(&self) {
        lock(&self.shared.pending).stopped = true;
        self.shared.wake.notify_one();
        // A failing stderr cannot be reported anywhere.
        let _ = self.flush_now();
    }
}

impl Write for &Batched {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.append(bytes).map(|()| bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Each event writes through a reference: nothing cloned per line.
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = &'a Batched;

    fn make_writer(&'a self) -> &'a Batched {
        self
    }
}

/// The flusher: waits for a first line, lets [`FLUSH_DELAY`] pass so that
/// more join it, writes the batch.
fn flusher(shared: &Arc<Shared>) {
    let batched = Batched {
        shared: Arc::clone(shared),
    };
    loop {
        {
            let mut pending = lock(&shared.pending);
            while pending.buffer.is_empty() && !pending.stopped {
                pending = shared
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.stopped {
                return;
            }
        }
        std::thread::sleep(FLUSH_DELAY);
        // A failing stderr cannot be reported anywhere; the next batch tries
        // again.
        let _ = batched.flush_now();
    }
}

static WRITER: OnceLock<Batched> = OnceLock::new();

/// Keeps the flusher; dropping it writes out what is buffered.
#[must_use = "dropping the guard stops the batching of stderr"]
pub struct StderrGuard {
    stop: Option<(Batched, JoinHandle<()>)>,
}

impl std::fmt::Debug for StderrGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StderrGuard")
    }
}

impl Drop for StderrGuard {
    fn drop(&mut self) {
        if let Some((batched, flusher)) = self.stop.take() {
            batched.stop();
            let _ = flusher.join();
        }
    }
}

/// Starts batching stderr (once per process) and returns the writer the log
/// subscriber uses, with the guard that flushes it. When the flusher thread
/// cannot be started, lines go to stderr directly.
pub fn install() -> (Batched, StderrGuard) {
    if let Some(writer) = WRITER.get() {
        return (writer.clone(), StderrGuard { stop: None });
    }
    match Batched::start(Box::new(io::stderr())) {
        Ok((writer, guard)) => match WRITER.set(writer.clone()) {
            Ok(()) => (writer, guard),
            // Installed by another thread meanwhile: use that one (this
            // guard stops the unused flusher).
            Err(_) => match WRITER.get() {
                Some(installed) => (installed.clone(), StderrGuard { stop: None }),
                None => (writer, guard),
            },
        },
        Err(_) => direct(),
    }
}

/// A writer without a flusher: every line straight to stderr.
fn direct() -> (Batched, StderrGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            buffer: Vec::new(),
            stopped: true,
        }),
        wake: Condvar::new(),
        sink: Mutex::new(Output {
            sink: Box::new(io::stderr()),
            spare: Vec::new(),
        }),
    });
    (Batched { shared }, StderrGuard { stop: None })
}

/// Writes one whole line (with its line end) to stderr: batched once
/// [`install`]ed, else directly.
pub fn write_line(line: &[u8]) -> io::Result<()> {
    match WRITER.get() {
        Some(writer) => writer.append(line),
        None => io::stderr().lock().write_all(line),
    }
}

#[cfg(test)]
#[path = "stderr_tests.rs"]
mod tests;
