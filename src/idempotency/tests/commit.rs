//! Group commit on the file: concurrent changes share durable commits, a
//! batch sees its own earlier changes in order, a failed commit fails every
//! change of its batch, and closing waits for the queued changes.
//!
//! To make batches form on demand, a test holds redb's single writer (a
//! write transaction of its own): the committer then waits in its batch's
//! `begin_write`, and the changes queued meanwhile form the next batch.

use std::time::Duration;

use redb::WriteTransaction;

use super::*;

/// A file store (with `faults`, if any) and its directory.
fn file_store(faults: Option<&IoFaults>) -> (IdempotencyStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StoreOptions::new(Some(&dir.path().join("idempotency.redb")), DAY);
    options.io_faults = faults.cloned();
    (IdempotencyStore::open_with(&options).unwrap(), dir)
}

/// Takes redb's writer, so the committer waits until it is dropped.
fn hold_writer(store: &IdempotencyStore) -> WriteTransaction {
    store
        .redb()
        .unwrap()
        .with_db(|db| Ok(db.begin_write().unwrap()))
        .unwrap()
}

/// Long enough for spawned tasks to queue their changes.
const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_begins_of_different_keys_share_commits() {
    let (store, _dir) = file_store(None);
    let f = fp("SEL-A", 1);
    let writer = hold_writer(&store);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(async move { store.begin_async(&format!("k{i}"), &f, t0()).await })
        })
        .collect();
    tokio::time::sleep(SETTLE).await;
    drop(writer);
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Begin::Started);
    }
    let stats = store.stats();
    assert_eq!(stats.records, 64);
    assert_eq!(stats.committed_changes, 64);
    // The first change may be taken alone; the others queued behind it.
    assert!(
        stats.commits <= 2,
        "{} commits for 64 changes",
        stats.commits
    );
    for i in 0..64 {
        assert_eq!(
            state_name(&store, &format!("k{i}"), t0()),
            Some("in_flight")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_changes_of_one_key_in_a_batch_see_each_other_in_order() {
    let (store, _dir) = file_store(None);
    let f = fp("SEL-A", 1);
    let writer = hold_writer(&store);
    let blocker = {
        let (store, f) = (store.clone(), f.clone());
        tokio::spawn(async move { store.begin_async("blocker", &f, t0()).await })
    };
    tokio::time::sleep(SETTLE).await;
    let (first, second, done) = {
        let pair = async {
            tokio::join!(
                store.begin_async("same", &f, t0()),
                store.begin_async("same", &f, t0()),
                store.complete_async("done", &f, b"r", t0()),
            )
        };
        let release = async {
            tokio::time::sleep(SETTLE).await;
            drop(writer);
        };
        tokio::join!(pair, release).0
    };
    assert_eq!(blocker.await.unwrap().unwrap(), Begin::Started);
    assert_eq!(first.unwrap(), Begin::Started);
    // The second saw the first's claim, in the same transaction.
    assert!(
        matches!(second.unwrap(), Begin::InFlight { .. }),
        "the second begin must not start the key again"
    );
    done.unwrap();
    let stats = store.stats();
    assert_eq!(stats.commits, 2, "blocker, then the three queued changes");
    assert_eq!(stats.committed_changes, 3, "the second begin wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_change_of_its_batch() {
    let faults = IoFaults::new();
    let (store, _dir) = file_store(Some(&faults));
    let f = fp("SEL-A", 1);
    store.begin_async("before", &f, t0()).await.unwrap();
    let before = store.stats();
    let writer = hold_writer(&store);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(async move { store.begin_async(&format!("k{i}"), &f, t0()).await })
        })
        .collect();
    tokio::time::sleep(SETTLE).await;
    faults.fail_writes(true);
    drop(writer);
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    }
    assert!(faults.failed_writes() > 0);
    assert_eq!(store.stats().commits, before.commits, "nothing committed");
    assert!(!*store.health().borrow());

    // Once writes work again the store reopens (the last durable commit)
    // and none of the failed claims is there.
    faults.fail_writes(false);
    let mut health = store.health();
    tokio::time::timeout(Duration::from_secs(20), health.wait_for(|usable| *usable))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_name(&store, "before", t0()), Some("in_flight"));
    for i in 0..16 {
        assert_eq!(state_name(&store, &format!("k{i}"), t0()), None);
    }
    assert_eq!(
        store.begin_async("k0", &f, t0()).await.unwrap(),
        Begin::Started
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_the_queued_changes() {
    let (store, dir) = file_store(None);
    let f = fp("SEL-A", 1);
    let writer = hold_writer(&store);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(
                async move { store.complete_async(&format!("k{i}"), &f, b"r", t0()).await },
            )
        })
        .collect();
    tokio::time::sleep(SETTLE).await;
    let closing = {
        let store = store.clone();
        std::thread::spawn(move || store.close())
    };
    tokio::time::sleep(SETTLE).await;
    assert!(!closing.is_finished(), "close waits for the queued changes");
    drop(writer);
    closing.join().unwrap();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let err = store.begin_async("late", &f, t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::Closed { .. }), "{err}");
    drop(store);

    let store = open_file(&dir.path().join("idempotency.redb"));
    assert_eq!(store.len().unwrap(), 32);
    for i in 0..32 {
        assert_eq!(
            state_name(&store, &format!("k{i}"), t0()),
            Some("completed")
        );
    }
}

#[test]
fn blocking_callers_share_the_committer_too() {
    let (store, _dir) = file_store(None);
    let f = fp("SEL-A", 1);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            std::thread::spawn(move || store.begin(&format!("k{i}"), &f, t0()).unwrap())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Begin::Started);
    }
    let stats = store.stats();
    assert_eq!(stats.committed_changes, 8);
    assert!(stats.commits >= 1 && stats.commits <= 8);
    // In memory nothing is committed.
    let memory = memory();
    memory.begin("k", &f, t0()).unwrap();
    assert_eq!(
        (memory.stats().commits, memory.stats().committed_changes),
        (0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_reservations_go_through_the_committer() {
    use crate::spend::{SpendLimits, SpendOutcome, SpendRequest, WindowLimits};
    let (store, dir) = file_store(None);
    let mut limits = SpendLimits::default();
    limits.accounts.insert(
        "zl".to_owned(),
        WindowLimits {
            per_hour: None,
            per_day: Some(8),
        },
    );
    let scopes = limits.scopes("zl", None);
    let request = |key| SpendRequest {
        account: "zl",
        key,
        addresses: 3,
        scopes: &scopes,
    };
    let writer = hold_writer(&store);
    let f = fp("SEL-A", 1);
    let (ra, rb, rc) = (request("a"), request("b"), request("c"));
    let ((a, b, c, begun), ()) = tokio::join!(
        async {
            tokio::join!(
                store.reserve_spend_async(&ra, t0()),
                store.reserve_spend_async(&rb, t0()),
                store.reserve_spend_async(&rc, t0()),
                store.begin_async("a", &f, t0()),
            )
        },
        async {
            tokio::time::sleep(SETTLE).await;
            drop(writer);
        }
    );
    assert_eq!(a.unwrap(), SpendOutcome::Reserved);
    assert_eq!(b.unwrap(), SpendOutcome::Reserved);
    // The third sees the first two in the same batch: 9 > 8 a day.
    assert!(matches!(c.unwrap(), SpendOutcome::Refused(_)));
    assert_eq!(begun.unwrap(), Begin::Started);
    let stats = store.stats();
    assert_eq!(stats.committed_changes, 3, "two reservations and a claim");
    assert!(stats.commits <= 2, "{} commits", stats.commits);
    store.release_spend_async("zl", "a").await.unwrap();
    drop(store);
    let store = open_file(&dir.path().join("idempotency.redb"));
    // a was released, b is kept: 3 more fit, 6 more do not.
    assert_eq!(
        store.check_spend(&request("d"), t0()).unwrap(),
        SpendOutcome::Reserved
    );
    let six = SpendRequest {
        addresses: 6,
        ..request("e")
    };
    assert!(matches!(
        store.check_spend(&six, t0()).unwrap(),
        SpendOutcome::Refused(_)
    ));
}
