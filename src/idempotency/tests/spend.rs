//! The spend ledger on both backends: reservations up to each limit, the
//! refusal and when the window frees, a key's own reservation replaced
//! rather than counted twice, releases, a day-old past, and on a file, a
//! ledger that survives reopening.

use std::time::{Duration, SystemTime};

use super::{Kind, on_both_backends, open_file, t0};
use crate::spend::{
    Scope, ScopeKind, SpendLimits, SpendOutcome, SpendRefusal, SpendRequest, Window, WindowLimits,
};

fn limits(hour: Option<u64>, day: Option<u64>) -> SpendLimits {
    let mut limits = SpendLimits::default();
    limits.callers.insert(
        "app".to_owned(),
        WindowLimits {
            per_hour: hour,
            per_day: day,
        },
    );
    limits.accounts.insert(
        "zl".to_owned(),
        WindowLimits {
            per_hour: None,
            per_day: Some(8),
        },
    );
    limits
}

/// Reserves `addresses` for `key` on `zl` by `caller` at `at`.
fn reserve(
    store: &super::IdempotencyStore,
    scopes: &[Scope],
    key: &str,
    addresses: u64,
    at: SystemTime,
) -> SpendOutcome {
    let request = SpendRequest {
        account: "zl",
        key,
        addresses,
        scopes,
    };
    store.reserve_spend(&request, at).unwrap()
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn reservations_count_per_window_and_free_as_they_age(kind: Kind) {
    let store = kind.open(super::DAY);
    let scopes = limits(Some(3), Some(5)).scopes("zl", Some("app"));
    let t = t0();
    assert_eq!(reserve(&store, &scopes, "k1", 2, t), SpendOutcome::Reserved);
    assert_eq!(
        reserve(&store, &scopes, "k2", 1, t + minutes(10)),
        SpendOutcome::Reserved
    );
    // The hour is full: k3 fits once k1 (2 addresses, at t) is an hour old.
    let refused = reserve(&store, &scopes, "k3", 1, t + minutes(20));
    assert_eq!(
        refused,
        SpendOutcome::Refused(SpendRefusal {
            scope: ScopeKind::Caller,
            name: "app".to_owned(),
            window: Window::Hour,
            limit: 3,
            used: 3,
            requested: 1,
            retry_after: Some(minutes(40)),
        })
    );
    // A refusal reserves nothing; an hour later it fits.
    assert_eq!(
        reserve(&store, &scopes, "k3", 1, t + minutes(60)),
        SpendOutcome::Reserved
    );
    // The day holds 4 of 5 now; 2 more pass the day, not the hour.
    match reserve(&store, &scopes, "k4", 2, t + minutes(130)) {
        SpendOutcome::Refused(r) => {
            assert_eq!((r.window, r.used, r.limit), (Window::Day, 4, 5));
            // k1's 2 addresses leave the day at t + 24 h.
            assert_eq!(r.retry_after, Some(minutes(24 * 60 - 130)));
        }
        other => panic!("{other:?}"),
    }
    // More than a whole window allows never fits.
    match reserve(&store, &scopes, "k5", 4, t + minutes(200)) {
        SpendOutcome::Refused(r) => assert_eq!((r.window, r.retry_after), (Window::Hour, None)),
        other => panic!("{other:?}"),
    }
}

fn a_key_is_counted_once_and_released_on_a_definite_failure(kind: Kind) {
    let store = kind.open(super::DAY);
    let scopes = limits(Some(3), None).scopes("zl", Some("app"));
    let t = t0();
    assert_eq!(reserve(&store, &scopes, "k1", 3, t), SpendOutcome::Reserved);
    // The same key again (a re-send) replaces its own reservation.
    assert_eq!(
        reserve(&store, &scopes, "k1", 3, t + minutes(1)),
        SpendOutcome::Reserved
    );
    assert!(matches!(
        reserve(&store, &scopes, "k2", 1, t + minutes(2)),
        SpendOutcome::Refused(_)
    ));
    store.release_spend("zl", "k1").unwrap();
    store.release_spend("zl", "never-reserved").unwrap();
    assert_eq!(
        reserve(&store, &scopes, "k2", 3, t + minutes(3)),
        SpendOutcome::Reserved
    );
    // The account counts every caller: 3 of its 8 a day are used.
    let other = limits(None, None).scopes("zl", Some("other"));
    assert_eq!(
        reserve(&store, &other, "k3", 5, t + minutes(4)),
        SpendOutcome::Reserved
    );
    match reserve(&store, &other, "k4", 1, t + minutes(5)) {
        SpendOutcome::Refused(r) => {
            assert_eq!(
                (r.scope, r.name.as_str(), r.used),
                (ScopeKind::Account, "zl", 8)
            )
        }
        other => panic!("{other:?}"),
    }
}

fn a_day_old_reservation_counts_no_more(kind: Kind) {
    let store = kind.open(super::DAY);
    let scopes = limits(None, Some(2)).scopes("zl", Some("app"));
    let t = t0();
    assert_eq!(reserve(&store, &scopes, "k1", 2, t), SpendOutcome::Reserved);
    let later = t + Duration::from_secs(86_400) + minutes(1);
    assert_eq!(
        reserve(&store, &scopes, "k2", 2, later),
        SpendOutcome::Reserved
    );
    store.release_spend("zl", "k2").unwrap();
    assert_eq!(
        reserve(&store, &scopes, "k3", 2, later),
        SpendOutcome::Reserved
    );
}

on_both_backends!(
    reservations_count_per_window_and_free_as_they_age,
    a_key_is_counted_once_and_released_on_a_definite_failure,
    a_day_old_reservation_counts_no_more,
);

#[test]
fn the_ledger_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let scopes = limits(Some(2), None).scopes("zl", Some("app"));
    {
        let store = open_file(&path);
        assert_eq!(
            reserve(&store, &scopes, "k1", 2, t0()),
            SpendOutcome::Reserved
        );
        store.close();
    }
    let store = open_file(&path);
    assert!(matches!(
        reserve(&store, &scopes, "k2", 1, t0() + minutes(1)),
        SpendOutcome::Refused(_)
    ));
}
