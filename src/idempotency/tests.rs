//! Tests of the store (in memory and on file) and of the store together with
//! the in-process registry.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn fp(zone: &str, amount: u32) -> Fingerprint {
    Fingerprint::new(
        "zl",
        &[
            ("zone", zone.to_owned()),
            ("amount", amount.to_string()),
            ("bandwidth_mbps", "10".to_owned()),
        ],
    )
}

fn memory() -> IdempotencyStore {
    IdempotencyStore::open(None, DAY).unwrap()
}

fn open_file(path: &Path) -> IdempotencyStore {
    IdempotencyStore::open(Some(path), DAY).unwrap()
}

#[test]
fn begin_complete_get_round_trip() {
    let store = memory();
    let f = fp("SEL-A", 2);
    assert_eq!(store.get("k", t0()).unwrap(), None);
    assert_eq!(store.begin("k", &f, t0()).unwrap(), Begin::Started);
    assert_eq!(
        store.get("k", t0()).unwrap(),
        Some(Record::InFlight {
            fingerprint: f.clone(),
            attempt_started: t0(),
            created: t0(),
        })
    );
    let done = t0() + Duration::from_secs(3);
    store.complete("k", &f, b"response-bytes", done).unwrap();
    let record = store.get("k", done).unwrap().unwrap();
    assert_eq!(
        record,
        Record::Completed {
            fingerprint: f.clone(),
            response: b"response-bytes".to_vec(),
            created: t0(),
            completed: done,
        }
    );
    assert_eq!(record.state_name(), "completed");
    assert_eq!(store.len().unwrap(), 1);
    assert!(!store.is_empty().unwrap());
}

#[test]
fn mismatch_names_the_differing_parameters() {
    let store = memory();
    let first = fp("SEL-A", 2);
    store.begin("k", &first, t0()).unwrap();
    let second = fp("SEL-B", 3);
    let Begin::Mismatch { stored } = store.begin("k", &second, t0()).unwrap() else {
        panic!("expected a mismatch");
    };
    assert_eq!(stored, first);
    assert_eq!(stored.summary(), first.summary());
    assert_eq!(stored.differences(&second), vec!["amount", "zone"]);
    // The record is untouched, also after completion.
    store.complete("k", &first, b"r", t0()).unwrap();
    assert!(matches!(
        store.begin("k", &second, t0()).unwrap(),
        Begin::Mismatch { .. }
    ));
    let other_provider = Fingerprint::new("aliyun", &[("zone", "SEL-A".to_owned())]);
    let Begin::Mismatch { stored } = store.begin("k", &other_provider, t0()).unwrap() else {
        panic!("expected a mismatch");
    };
    assert_eq!(
        stored.differences(&other_provider),
        vec!["provider", "amount", "bandwidth_mbps"]
    );
}

#[test]
fn duplicates_see_in_flight_unknown_and_completed() {
    let store = memory();
    let f = fp("SEL-A", 1);
    let later = t0() + Duration::from_secs(10);
    assert_eq!(store.begin("k", &f, t0()).unwrap(), Begin::Started);
    assert_eq!(
        store.begin("k", &f, later).unwrap(),
        Begin::InFlight {
            attempt_started: t0(),
            created: t0(),
        }
    );
    store.mark_unknown("k", &f, later).unwrap();
    // The attempt's start time is kept for reconciliation.
    assert_eq!(
        store.begin("k", &f, later).unwrap(),
        Begin::Unknown {
            last_attempt: t0(),
            created: t0(),
        }
    );
    // Reconciliation found nothing: a re-send.
    let resend = t0() + Duration::from_secs(20);
    store.mark_attempt("k", &f, resend).unwrap();
    assert_eq!(
        store.begin("k", &f, resend).unwrap(),
        Begin::InFlight {
            attempt_started: resend,
            created: t0(),
        }
    );
    store.complete("k", &f, b"resp", resend).unwrap();
    assert_eq!(
        store.begin("k", &f, resend).unwrap(),
        Begin::Completed(b"resp".to_vec())
    );
    assert_eq!(store.len().unwrap(), 1);
}

#[test]
fn transitions_that_do_not_fit_are_refused_without_change() {
    let store = memory();
    let f = fp("SEL-A", 1);
    let g = fp("SEL-A", 9);
    store.begin("k", &f, t0()).unwrap();

    let err = store.complete("k", &g, b"x", t0()).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("\"k\"") && message.contains("differing: amount"));
    assert!(message.contains("(in memory)"), "{message}");
    assert!(matches!(
        store.mark_unknown("k", &g, t0()),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.mark_attempt("k", &g, t0()),
        Err(StoreError::Conflict { .. })
    ));

    store.complete("k", &f, b"first", t0()).unwrap();
    // Completing again with the same response is a no-op, another is refused.
    store.complete("k", &f, b"first", t0()).unwrap();
    assert!(matches!(
        store.complete("k", &f, b"second", t0()),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.mark_unknown("k", &f, t0()),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.mark_attempt("k", &f, t0()),
        Err(StoreError::Conflict { .. })
    ));
    let err = store.release("k").unwrap_err();
    assert!(err.to_string().contains("allocation was made"), "{err}");
    assert_eq!(
        store.begin("k", &f, t0()).unwrap(),
        Begin::Completed(b"first".to_vec())
    );
}

#[test]
fn outcomes_are_recorded_even_without_a_record() {
    // E.g. the record expired while the provider call ran.
    let store = memory();
    let f = fp("SEL-A", 1);
    store.complete("done", &f, b"r", t0()).unwrap();
    assert_eq!(
        store.begin("done", &f, t0()).unwrap(),
        Begin::Completed(b"r".to_vec())
    );
    store.mark_unknown("maybe", &f, t0()).unwrap();
    assert_eq!(
        store.begin("maybe", &f, t0()).unwrap(),
        Begin::Unknown {
            last_attempt: t0(),
            created: t0(),
        }
    );
    store.mark_attempt("again", &f, t0()).unwrap();
    assert!(matches!(
        store.begin("again", &f, t0()).unwrap(),
        Begin::InFlight { .. }
    ));
}

#[test]
fn release_lets_the_key_be_used_again() {
    let store = memory();
    let f = fp("SEL-A", 1);
    store.begin("k", &f, t0()).unwrap();
    store.release("k").unwrap();
    assert_eq!(store.get("k", t0()).unwrap(), None);
    assert!(store.is_empty().unwrap());
    // Releasing again, or an unknown key, is fine.
    store.release("k").unwrap();
    store.release("never-seen").unwrap();
    // Reused, even with other parameters.
    let g = fp("SEL-B", 4);
    assert_eq!(store.begin("k", &g, t0()).unwrap(), Begin::Started);
    // An Unknown record may be released too (reconciliation proved nothing
    // was allocated).
    store.mark_unknown("k", &g, t0()).unwrap();
    store.release("k").unwrap();
    assert_eq!(store.begin("k", &f, t0()).unwrap(), Begin::Started);
}

#[test]
fn expired_records_count_as_absent_and_are_replaced() {
    let store = IdempotencyStore::open(None, Duration::from_secs(3600)).unwrap();
    assert_eq!(store.retention(), Duration::from_secs(3600));
    let f = fp("SEL-A", 1);
    store.begin("k", &f, t0()).unwrap();
    store.complete("k", &f, b"old", t0()).unwrap();

    let edge = t0() + Duration::from_secs(3600);
    assert!(store.get("k", edge).unwrap().is_some());
    assert_eq!(
        store.begin("k", &f, edge).unwrap(),
        Begin::Completed(b"old".to_vec())
    );

    let expired = edge + Duration::from_secs(1);
    assert_eq!(store.get("k", expired).unwrap(), None);
    // Even other parameters may now use the key.
    let g = fp("SEL-B", 2);
    assert_eq!(store.begin("k", &g, expired).unwrap(), Begin::Started);
    assert_eq!(store.get("k", expired).unwrap().unwrap().fingerprint(), &g);
    assert_eq!(store.len().unwrap(), 1);

    // Retention counts from the last activity: a late re-send keeps the
    // record alive past `created + retention`.
    let resend = expired + Duration::from_secs(3000);
    store.mark_attempt("k", &g, resend).unwrap();
    let after = expired + Duration::from_secs(3601);
    assert!(matches!(
        store.begin("k", &g, after).unwrap(),
        Begin::InFlight { .. }
    ));
}

#[test]
fn purge_removes_only_expired_records() {
    let store = IdempotencyStore::open(None, Duration::from_secs(100)).unwrap();
    let f = fp("SEL-A", 1);
    for i in 0..10u64 {
        let at = t0() + Duration::from_secs(i * 10);
        store.begin(&format!("k{i}"), &f, at).unwrap();
    }
    store.complete("k0", &f, b"r", t0()).unwrap();
    assert_eq!(store.purge_expired(t0()).unwrap(), 0);
    // At t0 + 145 s, records with last activity before t0 + 45 s are expired.
    let now = t0() + Duration::from_secs(145);
    assert_eq!(store.purge_expired(now).unwrap(), 5);
    assert_eq!(store.len().unwrap(), 5);
    assert_eq!(store.get("k4", now).unwrap(), None);
    assert!(store.get("k5", now).unwrap().is_some());
    assert_eq!(store.purge_expired(now).unwrap(), 0);
    assert_eq!(
        store
            .purge_expired(now + Duration::from_secs(1000))
            .unwrap(),
        5
    );
    assert!(store.is_empty().unwrap());
}

#[test]
fn records_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let f = fp("SEL-A", 2);
    let g = fp("SEL-B", 1);
    {
        let store = open_file(&path);
        assert_eq!(store.location(), path.display().to_string());
        assert_eq!(store.begin("done", &f, t0()).unwrap(), Begin::Started);
        store
            .complete("done", &f, &[0, 1, 2, 254, 255], t0())
            .unwrap();
        assert_eq!(store.begin("maybe", &g, t0()).unwrap(), Begin::Started);
        store.mark_unknown("maybe", &g, t0()).unwrap();
        assert_eq!(store.begin("running", &g, t0()).unwrap(), Begin::Started);
        let clone = store.clone();
        drop(store);
        drop(clone);
    }
    let store = open_file(&path);
    assert_eq!(store.len().unwrap(), 3);
    assert_eq!(
        store.begin("done", &f, t0()).unwrap(),
        Begin::Completed(vec![0, 1, 2, 254, 255])
    );
    assert_eq!(
        store.begin("maybe", &g, t0()).unwrap(),
        Begin::Unknown {
            last_attempt: t0(),
            created: t0(),
        }
    );
    // Left InFlight by the previous process: an owner treats it as abandoned.
    assert!(matches!(
        store.begin("running", &g, t0()).unwrap(),
        Begin::InFlight { .. }
    ));
    let Begin::Mismatch { stored } = store.begin("done", &g, t0()).unwrap() else {
        panic!("expected a mismatch");
    };
    assert_eq!(stored.summary(), f.summary());
    assert_eq!(stored.differences(&g), vec!["amount", "zone"]);
}

#[test]
fn in_memory_stores_are_separate_and_not_persisted() {
    let a = memory();
    let b = memory();
    assert_eq!(a.location(), "(in memory)");
    let f = fp("SEL-A", 1);
    assert_eq!(a.begin("k", &f, t0()).unwrap(), Begin::Started);
    assert_eq!(b.begin("k", &f, t0()).unwrap(), Begin::Started);
    // A clone shares the records.
    let a2 = a.clone();
    assert!(matches!(
        a2.begin("k", &f, t0()).unwrap(),
        Begin::InFlight { .. }
    ));
    drop(a);
    drop(a2);
    assert!(memory().is_empty().unwrap());
    assert!(format!("{b:?}").contains("in memory"));
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.starts_with("cannot open the idempotency store"),
        "{message}"
    );
    // The file was not touched.
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(content.starts_with("this is not a database"));

    // A short file, a directory, a missing parent directory.
    let short = dir.path().join("short");
    std::fs::write(&short, b"x").unwrap();
    let err = IdempotencyStore::open(Some(&short), DAY).unwrap_err();
    assert!(err.to_string().contains("short"), "{err}");
    let err = IdempotencyStore::open(Some(dir.path()), DAY).unwrap_err();
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    let missing = dir.path().join("no-such-dir").join("db.redb");
    let err = IdempotencyStore::open(Some(&missing), DAY).unwrap_err();
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

/// Damage anywhere in a database file gives an error or the right data,
/// never a panic and never a wrong record. redb itself panics on some damaged
/// pages; the store catches that and reports `Damaged`.
#[test]
fn a_damaged_database_file_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let f = fp("SEL-A", 1);
    let response = [7u8; 300];
    {
        let store = open_file(&path);
        for i in 0..50 {
            let key = format!("key-{i}");
            store.begin(&key, &f, t0()).unwrap();
            store.complete(&key, &f, &response, t0()).unwrap();
        }
    }
    let original = std::fs::read(&path).unwrap();
    let expected = Record::Completed {
        fingerprint: f.clone(),
        response: response.to_vec(),
        created: t0(),
        completed: t0(),
    };
    let (mut refused, mut damaged_later, mut intact) = (0, 0, 0);
    // 16 flipped bytes at 48 places spread over the file, header included.
    let step = original.len() / 48;
    for place in 0..48 {
        let offset = place * step;
        let mut bytes = original.clone();
        for b in bytes.iter_mut().skip(offset).take(16) {
            *b ^= 0x5a;
        }
        let copy = dir.path().join(format!("damaged-{offset}.redb"));
        std::fs::write(&copy, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| match IdempotencyStore::open(Some(&copy), DAY) {
            Err(err) => {
                assert!(
                    matches!(err, StoreError::Open { .. } | StoreError::Damaged { .. }),
                    "{err}"
                );
                assert!(
                    err.to_string().contains(&copy.display().to_string()),
                    "{err}"
                );
                0
            }
            Ok(store) => {
                let mut failed = false;
                for i in 0..50 {
                    match store.get(&format!("key-{i}"), t0()) {
                        Ok(Some(record)) => assert_eq!(record, expected, "offset {offset}"),
                        Ok(None) => panic!("key-{i} vanished at offset {offset}"),
                        Err(_) => failed = true,
                    }
                }
                if store.begin("new", &f, t0()).is_err() {
                    failed = true;
                }
                if failed { 1 } else { 2 }
            }
        });
        match outcome {
            Ok(0) => refused += 1,
            Ok(1) => damaged_later += 1,
            Ok(_) => intact += 1,
            Err(_) => {
                panic!("damage at offset {offset}: a panic escaped or a wrong record was read")
            }
        }
        std::fs::remove_file(&copy).unwrap();
    }
    // Damage to the header and the tree is found; damage to free space is
    // harmless.
    assert!(
        refused > 0,
        "refused {refused}, later {damaged_later}, intact {intact}"
    );
    assert!(
        intact > 0,
        "refused {refused}, later {damaged_later}, intact {intact}"
    );
}

#[test]
fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let first = open_file(&path);
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    assert!(err.to_string().contains("has it open"), "{err}");
    drop(first);
    open_file(&path);
}

#[test]
fn a_corrupt_record_is_an_error_not_a_panic() {
    let store = memory();
    let f = fp("SEL-A", 1);
    store
        .put_raw("bad", b"{\"v\":1,\"record\":{\"state\":\"??\"}}")
        .unwrap();
    store.put_raw("worse", &[0xff, 0x00, 0x13]).unwrap();
    for key in ["bad", "worse"] {
        let err = store.get(key, t0()).unwrap_err();
        assert!(matches!(err, StoreError::CorruptRecord { .. }), "{err}");
        assert!(err.to_string().contains(key));
        assert!(matches!(
            store.begin(key, &f, t0()),
            Err(StoreError::CorruptRecord { .. })
        ));
        assert!(store.complete(key, &f, b"r", t0()).is_err());
        assert!(store.release(key).is_err());
    }
    // Purge keeps what it cannot read; other keys work.
    assert_eq!(store.purge_expired(t0() + 10 * DAY).unwrap(), 0);
    assert_eq!(store.len().unwrap(), 2);
    assert_eq!(store.begin("good", &f, t0()).unwrap(), Begin::Started);
}

#[test]
fn a_time_before_1970_is_an_encode_error() {
    let store = memory();
    let err = store
        .begin("k", &fp("SEL-A", 1), UNIX_EPOCH - Duration::from_secs(5))
        .unwrap_err();
    assert!(matches!(err, StoreError::Encode { .. }), "{err}");
    assert!(store.is_empty().unwrap());
}

#[test]
fn errors_and_handles_can_cross_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<StoreError>();
    assert_send_sync::<IdempotencyStore>();
    assert_send_sync::<InFlightRegistry>();
    assert_send_sync::<OwnerGuard>();
    assert_send_sync::<Waiter>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_begins_start_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_file(&dir.path().join("idempotency.redb"));
    let f = Arc::new(fp("SEL-A", 1));
    let start = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, f, start) = (store.clone(), Arc::clone(&f), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            if i % 2 == 0 {
                store.begin("same-key", &f, t0())
            } else {
                tokio::task::spawn_blocking(move || store.begin("same-key", &f, t0()))
                    .await
                    .unwrap()
            }
        }));
    }
    let mut started = 0;
    let mut in_flight = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Begin::Started => started += 1,
            Begin::InFlight { .. } => in_flight += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((started, in_flight), (1, 31));
    assert_eq!(store.len().unwrap(), 1);
}

/// The gRPC layer's flow: duplicates in this process wait for the owner and
/// then replay its stored result; exactly one provider call is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_store_together_allocate_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::Instant;

    let store = memory();
    let registry = InFlightRegistry::new();
    let provider_calls = Arc::new(AtomicUsize::new(0));
    let f = Arc::new(fp("SEL-A", 1));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, registry, calls, f) = (
            store.clone(),
            registry.clone(),
            Arc::clone(&provider_calls),
            Arc::clone(&f),
        );
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            // Bounded: a follower claims again after each wait.
            for _ in 0..100 {
                match registry.claim("key") {
                    Claim::Follower(mut waiter) => {
                        if waiter.wait_until(deadline).await == WaitResult::TimedOut {
                            return Err("timed out".to_owned());
                        }
                    }
                    Claim::Owner(_guard) => {
                        return match store.begin("key", &f, SystemTime::now()) {
                            Ok(Begin::Started) => {
                                calls.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                store
                                    .complete("key", &f, b"allocated", SystemTime::now())
                                    .map_err(|e| e.to_string())?;
                                Ok(b"allocated".to_vec())
                            }
                            Ok(Begin::Completed(response)) => Ok(response),
                            other => Err(format!("unexpected {other:?}")),
                        };
                    }
                }
            }
            Err("too many rounds".to_owned())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(b"allocated".to_vec()));
    }
    assert_eq!(provider_calls.load(Ordering::SeqCst), 1);
    assert!(registry.is_empty());
}
