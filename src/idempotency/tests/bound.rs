//! The byte bound, on both backends: new keys refused at it, outcomes of
//! sent calls always recorded, and with `evict_completed` the oldest
//! completed records evicted, never one in flight or unknown.

use super::*;

on_both_backends!(
    at_the_bound_new_keys_are_refused_but_outcomes_are_recorded,
    eviction_takes_the_oldest_completed_records_only,
    eviction_cannot_make_room_among_records_in_flight,
);

const BOUND: u64 = 16 * 1024;
const RESPONSE: [u8; 120] = [7; 120];

fn key(i: usize) -> String {
    format!("order-{i:05}")
}

fn at_the_bound_new_keys_are_refused_but_outcomes_are_recorded(kind: Kind) {
    let store = kind.open_with(|o| o.max_bytes = BOUND);
    let f = fp("SEL-A", 1);
    assert_eq!(store.begin("held", &f, t0()).unwrap(), Begin::Started);
    let mut filled = 0;
    let refused = loop {
        assert!(filled < 10_000, "the bound never came");
        match store.begin(&key(filled), &f, t0()) {
            Ok(Begin::Started) => store.complete(&key(filled), &f, &RESPONSE, t0()).unwrap(),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
        filled += 1;
    };
    assert!(filled > 20, "{filled}");
    assert!(matches!(refused, StoreError::Full { .. }), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("is full") && message.contains("max_bytes"),
        "{message}"
    );
    let stats = store.stats();
    assert_eq!(stats.refused_full, 1);
    assert_eq!(stats.evicted, 0);
    // Over by at most one segment (a quarter of this bound) and a record.
    assert!(stats.bytes <= BOUND + BOUND / 4 + 512, "{stats:?}");
    // The refused key left nothing behind.
    assert_eq!(store.get(&key(filled), t0()).unwrap(), None);
    assert!(matches!(
        store.mark_attempt("vanished", &f, t0()),
        Err(StoreError::Full { .. })
    ));
    assert_eq!(store.stats().refused_full, 2);
    // Replays and outcomes of calls that were sent still work.
    assert_eq!(
        store.begin(&key(0), &f, t0()).unwrap(),
        Begin::Completed(RESPONSE.to_vec())
    );
    store.mark_unknown("held", &f, t0()).unwrap();
    store.mark_attempt("held", &f, t0()).unwrap();
    store.complete("held", &f, &[9; 300], t0()).unwrap();
    store.mark_unknown("sent-without-record", &f, t0()).unwrap();
    store
        .complete("done-without-record", &f, &RESPONSE, t0())
        .unwrap();
    assert!(store.stats().bytes > BOUND);
    // Once records expire and are purged, new keys fit again.
    assert!(store.purge_expired(t0() + 2 * DAY).unwrap() > filled);
    assert_eq!(
        store.begin(&key(filled), &f, t0() + 2 * DAY).unwrap(),
        Begin::Started
    );
}

fn eviction_takes_the_oldest_completed_records_only(kind: Kind) {
    let store = kind.open_with(|o| {
        o.max_bytes = BOUND;
        o.evict_completed = true;
    });
    let f = fp("SEL-A", 1);
    store.begin("held-in-flight", &f, t0()).unwrap();
    store.begin("held-unknown", &f, t0()).unwrap();
    store.mark_unknown("held-unknown", &f, t0()).unwrap();
    let total = 400;
    for i in 0..total {
        let at = t0() + Duration::from_millis(i as u64);
        assert_eq!(store.begin(&key(i), &f, at).unwrap(), Begin::Started, "{i}");
        store.complete(&key(i), &f, &RESPONSE, at).unwrap();
    }
    let stats = store.stats();
    assert!(stats.evicted > 100, "{stats:?}");
    assert_eq!(stats.refused_full, 0);
    // Over by at most one segment (a quarter of this bound) and a record.
    assert!(stats.bytes <= BOUND + BOUND / 4 + 512, "{stats:?}");
    let now = t0() + Duration::from_secs(1);
    assert_eq!(state_name(&store, "held-in-flight", now), Some("in_flight"));
    assert_eq!(state_name(&store, "held-unknown", now), Some("unknown"));
    // The evicted ones are exactly the oldest.
    let present: Vec<bool> = (0..total)
        .map(|i| store.get(&key(i), now).unwrap().is_some())
        .collect();
    let first_kept = present.iter().position(|p| *p).unwrap();
    assert!(present[first_kept..].iter().all(|p| *p), "{present:?}");
    assert_eq!(first_kept as u64, stats.evicted);
    assert_eq!(stats.records as usize, total - first_kept + 2);
}

fn eviction_cannot_make_room_among_records_in_flight(kind: Kind) {
    let store = kind.open_with(|o| {
        o.max_bytes = 4 * 1024;
        o.evict_completed = true;
    });
    let f = fp("SEL-A", 1);
    store.begin("done", &f, t0()).unwrap();
    store.complete("done", &f, &RESPONSE, t0()).unwrap();
    let mut admitted = 0;
    let refused = loop {
        assert!(admitted < 10_000);
        match store.begin(&key(admitted), &f, t0()) {
            Ok(_) => admitted += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(refused, StoreError::Full { .. }), "{refused}");
    // The completed record made room once; every in-flight one is kept.
    assert_eq!(store.stats().evicted, 1);
    assert_eq!(store.get("done", t0()).unwrap(), None);
    for i in 0..admitted {
        assert!(store.get(&key(i), t0()).unwrap().is_some());
    }
}
