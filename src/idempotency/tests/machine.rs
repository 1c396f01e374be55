//! The state machine, on both backends: every transition of the table in
//! `store`'s docs, and the behaviour around it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

on_both_backends!(
    every_transition_of_the_table,
    refresh_completed_replaces_only_a_completed_response,
    begin_complete_get_round_trip,
    mismatch_names_the_differing_parameters,
    duplicates_see_in_flight_unknown_and_completed,
    transitions_that_do_not_fit_are_refused_without_change,
    outcomes_are_recorded_even_without_a_record,
    release_lets_the_key_be_used_again,
    expired_records_count_as_absent_and_are_replaced,
    purge_removes_only_expired_records,
    a_corrupt_record_is_an_error_not_a_panic,
    a_time_before_1970_is_an_encode_error,
    counted_bytes_follow_the_records,
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Expired,
    InFlight,
    Unknown,
    Completed,
}

const STATES: [State; 5] = [
    State::Absent,
    State::Expired,
    State::InFlight,
    State::Unknown,
    State::Completed,
];

/// Puts `key` in `state` (all at `t0()`, retention one hour, so that
/// `Expired` is a completed record two hours old at `now()`).
fn setup(store: &IdempotencyStore, key: &str, state: State, f: &Fingerprint) {
    let at = t0();
    match state {
        State::Absent => {}
        State::Expired => {
            let old = at - Duration::from_secs(2 * 3600);
            store.begin(key, f, old).unwrap();
            store.complete(key, f, b"old", old).unwrap();
        }
        State::InFlight => assert_eq!(store.begin(key, f, at).unwrap(), Begin::Started),
        State::Unknown => {
            store.begin(key, f, at).unwrap();
            store.mark_unknown(key, f, at).unwrap();
        }
        State::Completed => {
            store.begin(key, f, at).unwrap();
            store.complete(key, f, b"first", at).unwrap();
        }
    }
}

/// The state and times the key is in at `now`.
fn state_of(store: &IdempotencyStore, key: &str, now: SystemTime) -> Option<Record> {
    store.get(key, now).unwrap()
}

fn every_transition_of_the_table(kind: Kind) {
    let store = kind.open(Duration::from_secs(3600));
    let f = fp("SEL-A", 1);
    let g = fp("SEL-B", 2);
    let now = t0() + Duration::from_secs(10);
    let created = t0();
    for (n, state) in STATES.into_iter().enumerate() {
        let live = !matches!(state, State::Absent | State::Expired);
        let key = |call: &str| format!("{call}-{n}");

        // begin
        let k = key("begin");
        setup(&store, &k, state, &f);
        let expected = match state {
            State::Absent | State::Expired => Begin::Started,
            State::InFlight => Begin::InFlight {
                attempt_started: created,
                created,
            },
            State::Unknown => Begin::Unknown {
                last_attempt: created,
                created,
            },
            State::Completed => Begin::Completed(b"first".to_vec()),
        };
        assert_eq!(store.begin(&k, &f, now).unwrap(), expected, "{state:?}");
        if !live {
            assert_eq!(
                state_of(&store, &k, now),
                Some(Record::InFlight {
                    fingerprint: f.clone(),
                    attempt_started: now,
                    created: now,
                }),
                "{state:?}"
            );
        }
        if live {
            // Another fingerprint: a mismatch, nothing changed.
            let before = state_of(&store, &k, now);
            assert_eq!(
                store.begin(&k, &g, now).unwrap(),
                Begin::Mismatch { stored: f.clone() }
            );
            assert_eq!(state_of(&store, &k, now), before);
        }

        // complete
        let k = key("complete");
        setup(&store, &k, state, &f);
        let result = store.complete(&k, &f, b"second", now);
        match state {
            State::Completed => {
                assert!(
                    matches!(result, Err(StoreError::Conflict { .. })),
                    "{result:?}"
                );
                store.complete(&k, &f, b"first", now).unwrap();
                assert!(matches!(
                    state_of(&store, &k, now),
                    Some(Record::Completed { completed, .. }) if completed == created
                ));
            }
            _ => {
                result.unwrap();
                assert_eq!(
                    state_of(&store, &k, now),
                    Some(Record::Completed {
                        fingerprint: f.clone(),
                        response: b"second".to_vec(),
                        created: if live { created } else { now },
                        completed: now,
                    }),
                    "{state:?}"
                );
            }
        }

        // mark_unknown and mark_attempt: refused on a completed record,
        // otherwise the record each makes.
        type Mark = fn(&IdempotencyStore, &str, &Fingerprint, SystemTime) -> Result<(), StoreError>;
        let last = if live { created } else { now };
        let marks: [(&str, Mark, Record); 2] = [
            (
                "unknown",
                IdempotencyStore::mark_unknown,
                Record::Unknown {
                    fingerprint: f.clone(),
                    last_attempt: last,
                    created: last,
                },
            ),
            (
                "attempt",
                IdempotencyStore::mark_attempt,
                Record::InFlight {
                    fingerprint: f.clone(),
                    attempt_started: now,
                    created: last,
                },
            ),
        ];
        for (call, mark, expected) in marks {
            let k = key(call);
            setup(&store, &k, state, &f);
            let result = mark(&store, &k, &f, now);
            match state {
                State::Completed => {
                    assert!(matches!(result, Err(StoreError::Conflict { .. })))
                }
                _ => {
                    result.unwrap();
                    assert_eq!(state_of(&store, &k, now), Some(expected), "{state:?}");
                }
            }
        }

        // release
        let k = key("release");
        setup(&store, &k, state, &f);
        let result = store.release(&k);
        match state {
            State::Completed | State::Expired => {
                assert!(matches!(result, Err(StoreError::Conflict { .. })));
                let kept = store.get(&k, t0() - Duration::from_secs(2 * 3600));
                assert!(kept.unwrap().is_some(), "{state:?}");
            }
            _ => {
                result.unwrap();
                assert_eq!(state_of(&store, &k, now), None, "{state:?}");
            }
        }

        // refresh_completed
        let k = key("refresh");
        setup(&store, &k, state, &f);
        let before = state_of(&store, &k, now);
        let result = store.refresh_completed(&k, &f, b"fresh", now);
        match state {
            State::Completed => {
                result.unwrap();
                assert_eq!(
                    state_of(&store, &k, now),
                    Some(Record::Completed {
                        fingerprint: f.clone(),
                        response: b"fresh".to_vec(),
                        created,
                        completed: created,
                    })
                );
            }
            _ => {
                assert!(
                    matches!(result, Err(StoreError::Conflict { .. })),
                    "{state:?}"
                );
                assert_eq!(state_of(&store, &k, now), before);
            }
        }

        // Every change with another fingerprint is refused on a live record.
        if live {
            let k = key("other");
            setup(&store, &k, state, &f);
            let before = state_of(&store, &k, now);
            for result in [
                store.complete(&k, &g, b"x", now),
                store.mark_unknown(&k, &g, now),
                store.mark_attempt(&k, &g, now),
                store.refresh_completed(&k, &g, b"x", now),
            ] {
                let err = result.unwrap_err();
                assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
                assert!(err.to_string().contains("differing: amount, zone"), "{err}");
            }
            assert_eq!(state_of(&store, &k, now), before);
        }
    }
}

fn refresh_completed_replaces_only_a_completed_response(kind: Kind) {
    let store = kind.open(DAY);
    let f = fp("SEL-A", 1);
    store.begin("k", &f, t0()).unwrap();
    let err = store.refresh_completed("k", &f, b"new", t0()).unwrap_err();
    assert!(err.to_string().contains("not completed"), "{err}");
    store.complete("k", &f, b"CREATING", t0()).unwrap();
    let later = t0() + Duration::from_secs(60);
    store
        .refresh_completed("k", &f, b"AVAILABLE", later)
        .unwrap();
    // Same response again: a no-op.
    store
        .refresh_completed("k", &f, b"AVAILABLE", later)
        .unwrap();
    assert_eq!(
        store.begin("k", &f, later).unwrap(),
        Begin::Completed(b"AVAILABLE".to_vec())
    );
    // Retention still counts from the completion.
    let Some(Record::Completed { completed, .. }) = store.get("k", later).unwrap() else {
        panic!("expected a completed record");
    };
    assert_eq!(completed, t0());
    let err = store
        .refresh_completed("never", &f, b"x", later)
        .unwrap_err();
    assert!(err.to_string().contains("no live record"), "{err}");
}

fn counted_bytes_follow_the_records(kind: Kind) {
    let store = kind.open(Duration::from_secs(100));
    assert_eq!(store.stats().records, 0);
    let f = fp("SEL-A", 1);
    let mut last = store.stats().bytes;
    for i in 0..200 {
        let key = format!("key-{i:04}");
        store.begin(&key, &f, t0()).unwrap();
        assert!(store.stats().bytes > 0, "{i}");
        store.complete(&key, &f, &[7; 120], t0()).unwrap();
        let stats = store.stats();
        // Never less for one more record (in memory, completed records
        // fill segments, so the count grows in steps).
        assert!(stats.bytes >= last, "{i}");
        assert!(stats.completed_bytes > 0 && stats.completed_bytes <= stats.bytes);
        last = stats.bytes;
    }
    let stats = store.stats();
    assert_eq!(stats.records, 200);
    assert!(stats.usable);
    assert_eq!(stats.max_bytes, DEFAULT_MAX_BYTES);
    // At least the keys and the records (about 130 bytes each).
    assert!(stats.bytes >= 200 * 130, "{stats:?}");
    store.begin("in-flight", &f, t0()).unwrap();
    let with_it = store.stats();
    store.release("in-flight").unwrap();
    let without = store.stats();
    assert_eq!(without.records, 200);
    assert_eq!(without.completed_bytes, with_it.completed_bytes);
    assert!(without.bytes < with_it.bytes && without.bytes >= last);
    // All expire: nothing is counted any more.
    assert_eq!(
        store
            .purge_expired(t0() + Duration::from_secs(101))
            .unwrap(),
        200
    );
    let stats = store.stats();
    assert_eq!(
        (stats.records, stats.bytes, stats.completed_bytes),
        (0, 0, 0)
    );
}

fn begin_complete_get_round_trip(kind: Kind) {
    let store = kind.open(DAY);
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

fn mismatch_names_the_differing_parameters(kind: Kind) {
    let store = kind.open(DAY);
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

fn duplicates_see_in_flight_unknown_and_completed(kind: Kind) {
    let store = kind.open(DAY);
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

fn transitions_that_do_not_fit_are_refused_without_change(kind: Kind) {
    let store = kind.open(DAY);
    let f = fp("SEL-A", 1);
    let g = fp("SEL-A", 9);
    store.begin("k", &f, t0()).unwrap();

    let err = store.complete("k", &g, b"x", t0()).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("\"k\"") && message.contains("differing: amount"));
    assert!(message.contains(store.location()), "{message}");
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

fn outcomes_are_recorded_even_without_a_record(kind: Kind) {
    // E.g. the record expired while the provider call ran.
    let store = kind.open(DAY);
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

fn release_lets_the_key_be_used_again(kind: Kind) {
    let store = kind.open(DAY);
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

fn expired_records_count_as_absent_and_are_replaced(kind: Kind) {
    let store = kind.open(Duration::from_secs(3600));
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

fn purge_removes_only_expired_records(kind: Kind) {
    let store = kind.open(Duration::from_secs(100));
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

fn a_corrupt_record_is_an_error_not_a_panic(kind: Kind) {
    let store = kind.open(DAY);
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

fn a_time_before_1970_is_an_encode_error(kind: Kind) {
    let store = kind.open(DAY);
    let err = store
        .begin("k", &fp("SEL-A", 1), UNIX_EPOCH - Duration::from_secs(5))
        .unwrap_err();
    assert!(matches!(err, StoreError::Encode { .. }), "{err}");
    assert!(store.is_empty().unwrap());
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
fn a_closed_store_refuses_calls_and_reports_unhealthy() {
    for kind in [Kind::Memory, Kind::File] {
        let store = kind.open(DAY);
        let health = store.health();
        assert!(*health.borrow());
        store.close();
        assert!(!*health.borrow(), "{kind:?}");
        assert!(!store.stats().usable);
        let err = store.begin("k", &fp("SEL-A", 1), t0()).unwrap_err();
        assert!(matches!(err, StoreError::Closed { .. }), "{err}");
        // Closing twice is fine.
        store.close();
    }
}

async fn concurrent_begins_start_exactly_once_on(kind: Kind) {
    let store = Arc::new(kind.open(DAY));
    let f = Arc::new(fp("SEL-A", 1));
    let start = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, f, start) = (Arc::clone(&store), Arc::clone(&f), Arc::clone(&start));
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
    assert_eq!((started, in_flight), (1, 31), "{kind:?}");
    assert_eq!(store.len().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_begins_start_exactly_once() {
    concurrent_begins_start_exactly_once_on(Kind::Memory).await;
    concurrent_begins_start_exactly_once_on(Kind::File).await;
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
