//! A completed allocation's inventory entries ride in its record's commit
//! on a file store (one fsync for both); in memory the caller records them.

use super::entry;
use super::file_backend::TempStore;
use crate::idempotency::{Begin, Fingerprint, IdempotencyStore, Records};

fn fingerprint() -> Fingerprint {
    Fingerprint::new("zenlayer", &[("zenlayer.zone_id", "SEL-A".to_owned())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_file_the_entries_are_committed_with_the_completion() {
    let temp = TempStore::new();
    let records = Records::Local(temp.store.clone());
    let f = fingerprint();
    let (begin, _) = records.begin("zenlayer", "key-1", &f).await.unwrap();
    assert_eq!(begin, Begin::Started);
    let before = temp.store.stats();
    let made = entry("zenlayer", "eip-1", "key-1", 1_000);
    let completed = records
        .complete_encoded(
            "zenlayer",
            "key-1",
            None,
            &f,
            b"answer",
            "req-1",
            None,
            std::slice::from_ref(&made),
        )
        .await
        .unwrap();
    assert!(completed.inventory_recorded);
    let after = temp.store.stats();
    assert_eq!(after.commits, before.commits + 1, "one commit for both");
    assert_eq!(
        after.committed_changes,
        before.committed_changes + 1,
        "one queued change"
    );
    let inventory = temp.inventory();
    assert_eq!(
        inventory.get("zenlayer", "eip-1").await.unwrap(),
        Some(made)
    );
    // The record is complete: the same key replays.
    assert!(matches!(
        temp.store
            .begin_async("key-1", &f, std::time::SystemTime::now())
            .await
            .unwrap(),
        Begin::Completed(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_the_caller_records_the_entries() {
    let store = IdempotencyStore::open(None, std::time::Duration::from_secs(3600)).unwrap();
    let records = Records::Local(store);
    let f = fingerprint();
    records.begin("zenlayer", "key-2", &f).await.unwrap();
    let completed = records
        .complete_encoded(
            "zenlayer",
            "key-2",
            None,
            &f,
            b"answer",
            "",
            None,
            &[entry("zenlayer", "eip-2", "key-2", 1_000)],
        )
        .await
        .unwrap();
    assert!(!completed.inventory_recorded);
}
