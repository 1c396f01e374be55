//! What only the file backend does: entries survive closing and reopening
//! the store file, an undecodable entry is an error naming it while the
//! others stay listable (and it can still be replaced or purged), the bound
//! with eviction of the oldest released entry, and a closed store refusing.

use std::path::PathBuf;
use std::time::Duration;

use super::super::*;
use super::{allocation, at, entry, ids};
use crate::idempotency::{INVENTORY_ENTRIES, IdempotencyStore, StoreError};
use crate::provider::AllocationState;

const RETENTION: Duration = Duration::from_secs(3600);

/// A store file in a temporary directory.
pub(crate) struct TempStore {
    _dir: tempfile::TempDir,
    path: PathBuf,
    pub(crate) store: IdempotencyStore,
}

impl TempStore {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let store = IdempotencyStore::open(Some(&path), RETENTION).unwrap();
        TempStore {
            _dir: dir,
            path,
            store,
        }
    }

    pub(crate) fn inventory(&self) -> Inventory {
        let inv = Inventory::for_store(&self.store);
        assert!(matches!(inv, Inventory::File(_)));
        inv
    }

    fn file(&self) -> FileInventory {
        match self.inventory() {
            Inventory::File(f) => f,
            _ => unreachable!(),
        }
    }

    /// Closes the store and opens its file again.
    fn reopen(&mut self) {
        self.store.close();
        self.store = IdempotencyStore::open(Some(&self.path), RETENTION).unwrap();
    }

    /// Overwrites the stored bytes of the entry at `cursor`.
    fn damage(&self, cursor: &Cursor, bytes: &[u8]) {
        let db = self.store.redb().unwrap();
        db.with_db(|db| {
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(INVENTORY_ENTRIES).unwrap();
                let key = (
                    cursor.created_ms,
                    cursor.account.as_str(),
                    cursor.id.as_str(),
                );
                assert!(t.insert(key, bytes).unwrap().is_some());
            }
            txn.commit().unwrap();
            Ok(())
        })
        .unwrap();
    }
}

#[tokio::test]
async fn entries_survive_a_restart() {
    let mut store = TempStore::new();
    let inv = store.inventory();
    inv.record(
        (0..3)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    inv.update(
        "zl",
        &[allocation("eip-1", AllocationState::Released)],
        at(7),
    )
    .await
    .unwrap();
    let before = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    drop(inv);
    store.reopen();

    let inv = store.inventory();
    assert_eq!(inv.len().await.unwrap(), 3);
    let after = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&after), ["eip-0", "eip-1", "eip-2"]);
    assert_eq!(after, before);
    let e = inv.get("zl", "eip-1").await.unwrap().unwrap();
    assert_eq!(e.released, Some(at(7)));
    // The release index came back too: the purge finds the entry.
    assert_eq!(inv.purge_released(at(8)).await.unwrap(), 1);
    assert_eq!(inv.len().await.unwrap(), 2);
    // The idempotency records share the file and still work.
    let fp = crate::idempotency::Fingerprint::new("zl", &[("zenlayer.zone", "SEL-A".to_owned())]);
    assert!(matches!(
        store.store.begin("key-1", &fp, SystemTime::now()).unwrap(),
        crate::idempotency::Begin::Started
    ));
}

#[tokio::test]
async fn an_unreadable_entry_is_an_error_for_itself_only() {
    let store = TempStore::new();
    let inv = store.inventory();
    inv.record(
        (0..3)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    let bad = entry("zl", "eip-1", "k", 1).cursor();
    store.damage(&bad, b"\x00 not an entry");

    match inv.get("zl", "eip-1").await {
        Err(StoreError::CorruptRecord { key, reason, .. }) => {
            assert_eq!(key, "inventory entry zl/eip-1");
            assert!(!reason.is_empty());
        }
        other => panic!("expected an unreadable entry, got {other:?}"),
    }
    let page = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-2"]);
    assert_eq!(page.next, None);
    // An update leaves it alone and still stores the others.
    inv.update(
        "zl",
        &[
            allocation("eip-1", AllocationState::Released),
            allocation("eip-2", AllocationState::Released),
        ],
        at(9),
    )
    .await
    .unwrap();
    assert_eq!(
        inv.get("zl", "eip-2").await.unwrap().unwrap().released,
        Some(at(9))
    );
    // Recording it again replaces it.
    inv.record(vec![entry("zl", "eip-1", "again", 5)])
        .await
        .unwrap();
    assert_eq!(
        inv.get("zl", "eip-1")
            .await
            .unwrap()
            .unwrap()
            .idempotency_key,
        "again"
    );
    assert_eq!(inv.len().await.unwrap(), 3);

    // A newer gateway's form is unreadable the same way.
    let newer = String::from_utf8(encode::encode_entry(&entry("zl", "eip-0", "k", 0)).unwrap())
        .unwrap()
        .replacen("\"v\":1", "\"v\":2", 1);
    store.damage(&entry("zl", "eip-0", "k", 0).cursor(), newer.as_bytes());
    match inv.get("zl", "eip-0").await {
        Err(StoreError::CorruptRecord { reason, .. }) => assert!(reason.contains("version 2")),
        other => panic!("expected an unreadable entry, got {other:?}"),
    }
    let page = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["eip-2", "eip-1"]);
}

#[tokio::test]
async fn a_full_file_inventory_drops_the_oldest_released_entry_first() {
    let store = TempStore::new();
    assert_eq!(store.file().max_entries, MAX_ENTRIES);
    let inv = Inventory::File(store.file().with_max_entries(5));
    inv.record(
        (0..5)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    inv.update(
        "zl",
        &[allocation("eip-3", AllocationState::Released)],
        at(2),
    )
    .await
    .unwrap();
    inv.update(
        "zl",
        &[allocation("eip-1", AllocationState::Released)],
        at(1),
    )
    .await
    .unwrap();
    inv.record(vec![entry("zl", "eip-new", "k", 100)])
        .await
        .unwrap();
    assert_eq!(inv.len().await.unwrap(), 5);
    // eip-1 was released first.
    assert_eq!(inv.get("zl", "eip-1").await.unwrap(), None);
    assert!(inv.get("zl", "eip-3").await.unwrap().is_some());
    inv.record(vec![entry("zl", "eip-newer", "k", 101)])
        .await
        .unwrap();
    assert_eq!(inv.get("zl", "eip-3").await.unwrap(), None);
    // Nothing released left: the next one is not recorded.
    inv.record(vec![entry("zl", "eip-newest", "k", 102)])
        .await
        .unwrap();
    assert_eq!(inv.len().await.unwrap(), 5);
    assert_eq!(inv.get("zl", "eip-newest").await.unwrap(), None);
    // Replacing an entry of a full inventory needs no room.
    inv.record(vec![entry("zl", "eip-0", "again", 103)])
        .await
        .unwrap();
    assert_eq!(
        inv.get("zl", "eip-0")
            .await
            .unwrap()
            .unwrap()
            .idempotency_key,
        "again"
    );
}

#[tokio::test]
async fn a_closed_store_refuses_and_a_memory_store_gets_a_memory_inventory() {
    let store = TempStore::new();
    let inv = store.inventory();
    store.store.close();
    assert!(matches!(
        inv.record(vec![entry("zl", "eip-0", "k", 0)]).await,
        Err(StoreError::Closed { .. })
    ));
    assert!(matches!(
        inv.get("zl", "eip-0").await,
        Err(StoreError::Closed { .. })
    ));

    let memory = IdempotencyStore::open(None, RETENTION).unwrap();
    assert!(matches!(
        Inventory::for_store(&memory),
        Inventory::Memory(_)
    ));
    let records = crate::idempotency::Records::Local(memory);
    assert!(matches!(
        Inventory::for_records(&records),
        Inventory::Memory(_)
    ));
}

#[tokio::test]
async fn an_empty_file_reads_as_an_empty_inventory() {
    let store = TempStore::new();
    let inv = store.inventory();
    assert_eq!(inv.len().await.unwrap(), 0);
    assert_eq!(inv.get("zl", "x").await.unwrap(), None);
    assert_eq!(
        inv.page(&Filter::default(), None, 5, 5).await.unwrap(),
        Page::default()
    );
    assert_eq!(inv.purge_released(at(1)).await.unwrap(), 0);
}
