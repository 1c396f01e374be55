//! Tests of the store: one state-machine suite run against both backends
//! (`machine`), the byte bound (`bound`), and what only a file does
//! (`file`: restarts, invalid files, permissions, I/O faults, old records),
//! group commit on a file (`commit`),
//! and the spend ledger (`spend`).

use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

mod bound;
mod commit;
mod file;
mod machine;
mod spend;

pub(super) const DAY: Duration = Duration::from_secs(24 * 3600);

pub(super) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(super) fn fp(zone: &str, amount: u32) -> Fingerprint {
    Fingerprint::new(
        "zl",
        &[
            ("zone", zone.to_owned()),
            ("amount", amount.to_string()),
            ("bandwidth_mbps", "10".to_owned()),
        ],
    )
}

pub(super) fn memory() -> IdempotencyStore {
    IdempotencyStore::open(None, DAY).unwrap()
}

pub(super) fn open_file(path: &std::path::Path) -> IdempotencyStore {
    IdempotencyStore::open(Some(path), DAY).unwrap()
}

/// The state (`in_flight`, `unknown`, `completed`) of `key`'s record at
/// `at`, if it has one.
pub(super) fn state_name(
    store: &IdempotencyStore,
    key: &str,
    at: SystemTime,
) -> Option<&'static str> {
    store
        .get(key, at)
        .unwrap()
        .map(|record| record.state_name())
}

/// Which backend a suite test runs on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Memory,
    File,
}

/// A store and, for a file, the directory holding it.
pub(super) struct TestStore {
    store: IdempotencyStore,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestStore {
    type Target = IdempotencyStore;
    fn deref(&self) -> &IdempotencyStore {
        &self.store
    }
}

impl Kind {
    pub(super) fn open(self, retention: Duration) -> TestStore {
        self.open_with(|options| options.retention = retention)
    }

    pub(super) fn open_with(self, configure: impl FnOnce(&mut StoreOptions)) -> TestStore {
        let dir = match self {
            Kind::Memory => None,
            Kind::File => Some(tempfile::tempdir().unwrap()),
        };
        let path = dir.as_ref().map(|d| d.path().join("idempotency.redb"));
        let mut options = StoreOptions::new(path.as_deref(), DAY);
        configure(&mut options);
        TestStore {
            store: IdempotencyStore::open_with(&options).unwrap(),
            _dir: dir,
        }
    }
}

/// Runs each named test (a `fn(Kind)`) on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            $( #[test] fn $name() { super::$name(super::Kind::Memory) } )*
        }
        mod on_file {
            $( #[test] fn $name() { super::$name(super::Kind::File) } )*
        }
    };
}
pub(super) use on_both_backends;

#[test]
fn errors_and_handles_can_cross_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<StoreError>();
    assert_send_sync::<IdempotencyStore>();
    assert_send_sync::<InFlightRegistry>();
    assert_send_sync::<OwnerGuard>();
    assert_send_sync::<Waiter>();
}
