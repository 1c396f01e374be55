//! A test hook for disk faults: an [`IoFaults`] switch, given to the file
//! store through `StoreOptions::io_faults`, makes every write of the
//! database file fail with "no space left on device" (ENOSPC) until it is
//! turned off, as a full disk would. Reads keep working.
//!
//! It wraps redb's own `FileBackend`, so everything else (locking, reads,
//! sync) is the real thing. Production configurations never set it.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::StorageBackend;
use redb::backends::FileBackend;

/// A switch shared by the test and the store: while on, writes fail.
#[derive(Clone, Debug, Default)]
pub struct IoFaults {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    fail_writes: AtomicBool,
    failed: AtomicU64,
}

impl IoFaults {
    /// A switch that is off.
    pub fn new() -> Self {
        IoFaults::default()
    }

    /// Turns failing writes on or off.
    pub fn fail_writes(&self, on: bool) {
        self.shared.fail_writes.store(on, Ordering::SeqCst);
    }

    /// How many writes failed because of the switch.
    pub fn failed_writes(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }

    fn check(&self) -> io::Result<()> {
        if self.shared.fail_writes.load(Ordering::SeqCst) {
            self.shared.failed.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        Ok(())
    }
}

/// redb's file backend with writes that fail while the switch is on.
#[derive(Debug)]
pub(crate) struct FaultyFile {
    inner: FileBackend,
    faults: IoFaults,
}

impl FaultyFile {
    pub(crate) fn new(inner: FileBackend, faults: IoFaults) -> Self {
        FaultyFile { inner, faults }
    }
}

impl StorageBackend for FaultyFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.check()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.faults.check()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.faults.check()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
}
