//! The fleet database's state machine, against the real PostgreSQL server:
//! every transition of a shared idempotency record (claim, complete, mark
//! unknown, mark attempt, release, end of lease, refresh, expiry, purge),
//! each conditional write losing to a takeover (the fencing token), a race
//! of concurrent claims, the shared GCRA booking, the shared spend ledger,
//! and the schema's migrations (idempotent; a newer schema refused). Each test has a fresh
//! database of its own.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;
use tokio::time::Instant;

use common::postgres::{TestDatabase, fresh_database};
use ipalloc_gateway::cluster::{
    ClusterError, Database, Lease, SharedRateLimiter, SharedRecords, Written, migrate,
};
use ipalloc_gateway::config::cluster::{ClusterConfig, DatabaseTls};
use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::idempotency::{Begin, Fingerprint, Record};
use ipalloc_gateway::spend::{
    ScopeKind, SpendLimits, SpendOutcome, SpendRequest, Window, WindowLimits,
};

const ACCOUNT: &str = "zl";
const LEASE: Duration = Duration::from_secs(30);
const RETENTION: Duration = Duration::from_secs(3600);

fn config(url: &str) -> ClusterConfig {
    ClusterConfig {
        postgres_url: Secret::new(url),
        password: None,
        pool_size: 8,
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(2),
        tls: DatabaseTls::Disable,
        ca_file: None,
        replica_id: "r1".to_owned(),
        lease: LEASE,
        replicas: 1,
        purge_interval: Duration::from_secs(60),
    }
}

/// A fresh migrated database and two replicas' views of it.
struct Fleet {
    db: TestDatabase,
    database: Database,
    r1: SharedRecords,
    r2: SharedRecords,
}

async fn fleet() -> Fleet {
    let db = fresh_database().await;
    let database = Database::new(&config(&db.url)).unwrap();
    assert_eq!(migrate::migrate(&database).await.unwrap(), 0);
    database.set_migrated();
    let r1 = SharedRecords::new(database.clone(), "r1".to_owned(), LEASE, RETENTION);
    let r2 = SharedRecords::new(database.clone(), "r2".to_owned(), LEASE, RETENTION);
    Fleet {
        db,
        database,
        r1,
        r2,
    }
}

fn fp(zone: &str) -> Fingerprint {
    Fingerprint::new(
        ACCOUNT,
        &[
            ("zenlayer.zone", zone.to_owned()),
            ("zenlayer.amount", "1".to_owned()),
        ],
    )
}

impl Fleet {
    /// Makes `key`'s lease run out now (as if its holder froze past it).
    async fn expire_lease(&self, key: &str) {
        let client = self.db.client().await;
        let n = client
            .execute(
                "UPDATE ipalloc_records SET lease_expires = clock_timestamp() - interval '1 ms' \
                 WHERE key = $1",
                &[&key],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    /// Makes `key`'s record pass its retention.
    async fn expire_record(&self, key: &str) {
        let client = self.db.client().await;
        client
            .execute(
                "UPDATE ipalloc_records SET expires = clock_timestamp() - interval '1 ms' \
                 WHERE key = $1",
                &[&key],
            )
            .await
            .unwrap();
    }

    /// (state, fence, lease owner) of `key`'s row, if any.
    async fn row(&self, key: &str) -> Option<(String, i64, Option<String>)> {
        let client = self.db.client().await;
        client
            .query_opt(
                "SELECT state, fence, lease_owner FROM ipalloc_records WHERE key = $1",
                &[&key],
            )
            .await
            .unwrap()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
    }

    async fn claim(&self, records: &SharedRecords, key: &str) -> (Begin, Option<Lease>) {
        records.claim(ACCOUNT, key, &fp("SEL-A")).await.unwrap()
    }
}

fn started(claimed: (Begin, Option<Lease>)) -> Lease {
    match claimed {
        (Begin::Started, Some(lease)) => lease,
        other => panic!("expected Started with a lease, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_key_is_started_then_busy_for_the_other_replica_then_replayed() {
    let f = fleet().await;
    let lease = started(f.claim(&f.r1, "k").await);
    assert_eq!(lease.fence, 1);
    assert_eq!(
        f.row("k").await,
        Some(("in_flight".into(), 1, Some("r1".into())))
    );

    match f.claim(&f.r2, "k").await {
        (Begin::Busy { retry_after }, None) => {
            assert!(retry_after <= LEASE && retry_after > LEASE - Duration::from_secs(5));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    // The holder itself is busy too (its second call waits in-process).
    assert!(matches!(f.claim(&f.r1, "k").await.0, Begin::Busy { .. }));

    let written =
        f.r1.complete(
            ACCOUNT,
            "k",
            &lease,
            &fp("SEL-A"),
            b"response",
            &["req-1".to_owned()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(written, Written::Ok);
    assert_eq!(f.row("k").await, Some(("completed".into(), 1, None)));
    assert_eq!(
        f.claim(&f.r2, "k").await,
        (Begin::Completed(b"response".to_vec()), None)
    );
    // Completing again with the same response is a no-op; another is refused.
    assert_eq!(
        f.r1.complete(ACCOUNT, "k", &lease, &fp("SEL-A"), b"response", &[], None)
            .await
            .unwrap(),
        Written::Ok
    );
    assert_eq!(
        f.r1.complete(ACCOUNT, "k", &lease, &fp("SEL-A"), b"other", &[], None)
            .await
            .unwrap(),
        Written::Conflict
    );
    let client = f.db.client().await;
    let ids: Vec<String> = client
        .query_one(
            "SELECT request_ids FROM ipalloc_records WHERE key = 'k'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ids, ["req-1"]);
}

#[tokio::test]
async fn other_parameters_are_a_mismatch_naming_the_difference() {
    let f = fleet().await;
    started(f.claim(&f.r1, "k").await);
    match f.r2.claim(ACCOUNT, "k", &fp("SEL-B")).await.unwrap() {
        (Begin::Mismatch { stored }, None) => {
            assert_eq!(stored, fp("SEL-A"));
            assert_eq!(stored.differences(&fp("SEL-B")), ["zenlayer.zone"]);
        }
        other => panic!("expected Mismatch, got {other:?}"),
    }
    // Also once completed (the replay path reads without a lock).
    let lease = Lease {
        fence: 1,
        until: tokio::time::Instant::now() + LEASE,
    };
    f.r1.complete(ACCOUNT, "k", &lease, &fp("SEL-A"), b"r", &[], None)
        .await
        .unwrap();
    assert!(matches!(
        f.r2.claim(ACCOUNT, "k", &fp("SEL-B")).await.unwrap().0,
        Begin::Mismatch { .. }
    ));
    // The same key on another account is another record.
    let other =
        f.r2.claim("other-account", "k", &fp("SEL-B"))
            .await
            .unwrap();
    assert!(matches!(other.0, Begin::Started));
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_over_and_the_late_writes_are_fenced() {
    let f = fleet().await;
    let old = started(f.claim(&f.r1, "k").await);
    f.expire_lease("k").await;
    let (begin, new) = f.claim(&f.r2, "k").await;
    assert!(matches!(begin, Begin::InFlight { .. }), "{begin:?}");
    let new = new.unwrap();
    assert_eq!(new.fence, 2);
    assert_eq!(
        f.row("k").await,
        Some(("in_flight".into(), 2, Some("r2".into())))
    );

    // Every late write of the old holder changes nothing.
    let fp = fp("SEL-A");
    assert_eq!(
        f.r1.complete(ACCOUNT, "k", &old, &fp, b"late", &[], None)
            .await
            .unwrap(),
        Written::Fenced
    );
    assert_eq!(
        f.r1.mark_unknown(ACCOUNT, "k", &old, &fp).await.unwrap(),
        Written::Fenced
    );
    let mut stale = old.clone();
    assert_eq!(
        f.r1.mark_attempt(ACCOUNT, "k", &mut stale).await.unwrap(),
        Written::Fenced
    );
    assert_eq!(stale.until, old.until, "a refused attempt renews nothing");
    assert_eq!(
        f.r1.release(ACCOUNT, "k", &old).await.unwrap(),
        Written::Fenced
    );
    f.r1.end_lease(ACCOUNT, "k", &old).await.unwrap();
    assert_eq!(
        f.row("k").await,
        Some(("in_flight".into(), 2, Some("r2".into())))
    );

    // The new holder's writes go through.
    assert_eq!(
        f.r2.complete(ACCOUNT, "k", &new, &fp, b"found", &[], None)
            .await
            .unwrap(),
        Written::Ok
    );
    assert_eq!(
        f.claim(&f.r1, "k").await,
        (Begin::Completed(b"found".to_vec()), None)
    );
}

#[tokio::test]
async fn unknown_keeps_the_lease_until_it_is_given_up_then_the_next_claim_reconciles() {
    let f = fleet().await;
    let fp = fp("SEL-A");
    let lease = started(f.claim(&f.r1, "k").await);
    assert_eq!(
        f.r1.mark_unknown(ACCOUNT, "k", &lease, &fp).await.unwrap(),
        Written::Ok
    );
    // Twice is a no-op.
    assert_eq!(
        f.r1.mark_unknown(ACCOUNT, "k", &lease, &fp).await.unwrap(),
        Written::Ok
    );
    assert_eq!(
        f.row("k").await,
        Some(("unknown".into(), 1, Some("r1".into())))
    );
    assert!(matches!(f.claim(&f.r2, "k").await.0, Begin::Busy { .. }));

    f.r1.end_lease(ACCOUNT, "k", &lease).await.unwrap();
    let (begin, taken) = f.claim(&f.r2, "k").await;
    assert!(matches!(begin, Begin::Unknown { .. }), "{begin:?}");
    let mut taken = taken.unwrap();
    assert_eq!(taken.fence, 2);

    // Reconciliation found nothing: a new attempt renews the lease.
    let before = taken.until;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        f.r2.mark_attempt(ACCOUNT, "k", &mut taken).await.unwrap(),
        Written::Ok
    );
    assert!(taken.until > before);
    assert_eq!(
        f.row("k").await,
        Some(("in_flight".into(), 2, Some("r2".into())))
    );
    // A completed record cannot go back to unknown or be re-attempted.
    f.r2.complete(ACCOUNT, "k", &taken, &fp, b"r", &[], None)
        .await
        .unwrap();
    assert_eq!(
        f.r2.mark_unknown(ACCOUNT, "k", &taken, &fp).await.unwrap(),
        Written::Conflict
    );
    assert_eq!(
        f.r2.mark_attempt(ACCOUNT, "k", &mut taken).await.unwrap(),
        Written::Conflict
    );
}

#[tokio::test]
async fn release_frees_the_key_but_never_a_completed_one() {
    let f = fleet().await;
    let lease = started(f.claim(&f.r1, "k").await);
    assert_eq!(
        f.r1.release(ACCOUNT, "k", &lease).await.unwrap(),
        Written::Ok
    );
    assert_eq!(f.row("k").await, None);
    // Already gone: still fine.
    assert_eq!(
        f.r1.release(ACCOUNT, "k", &lease).await.unwrap(),
        Written::Ok
    );
    // The key is free: a new claim starts it again.
    let again = started(f.claim(&f.r2, "k").await);
    f.r2.complete(ACCOUNT, "k", &again, &fp("SEL-A"), b"r", &[], None)
        .await
        .unwrap();
    assert_eq!(
        f.r2.release(ACCOUNT, "k", &again).await.unwrap(),
        Written::Conflict
    );
    assert_eq!(f.row("k").await.unwrap().0, "completed");
}

#[tokio::test]
async fn an_expired_record_counts_as_absent_and_is_replaced_with_a_new_fence() {
    let f = fleet().await;
    let lease = started(f.claim(&f.r1, "k").await);
    f.r1.complete(ACCOUNT, "k", &lease, &fp("SEL-A"), b"old", &[], None)
        .await
        .unwrap();
    f.expire_record("k").await;
    assert_eq!(f.r1.get(ACCOUNT, "k").await.unwrap(), None);
    // Even with other parameters: the expired record is gone.
    let (begin, lease) = f.r2.claim(ACCOUNT, "k", &fp("SEL-B")).await.unwrap();
    assert_eq!(begin, Begin::Started);
    assert_eq!(lease.unwrap().fence, 2);
    match f.r2.get(ACCOUNT, "k").await.unwrap() {
        Some(Record::InFlight { fingerprint, .. }) => assert_eq!(fingerprint, fp("SEL-B")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_completed_record_is_refreshed_and_read_back() {
    let f = fleet().await;
    let fp = fp("SEL-A");
    let lease = started(f.claim(&f.r1, "k").await);
    assert!(
        !f.r1
            .refresh_completed(ACCOUNT, "k", &fp, b"x")
            .await
            .unwrap()
    );
    f.r1.complete(ACCOUNT, "k", &lease, &fp, b"creating", &[], None)
        .await
        .unwrap();
    assert!(
        f.r2.refresh_completed(ACCOUNT, "k", &fp, b"available")
            .await
            .unwrap()
    );
    assert!(
        !f.r2
            .refresh_completed(ACCOUNT, "k", &self::fp("SEL-B"), b"other")
            .await
            .unwrap()
    );
    match f.r2.get(ACCOUNT, "k").await.unwrap() {
        Some(Record::Completed {
            fingerprint,
            response,
            ..
        }) => {
            assert_eq!(fingerprint, fp);
            assert_eq!(response, b"available");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn concurrent_claims_of_a_new_key_start_it_exactly_once() {
    let f = fleet().await;
    let mut tasks = Vec::new();
    for n in 0..24 {
        let records = if n % 2 == 0 {
            f.r1.clone()
        } else {
            f.r2.clone()
        };
        tasks.push(tokio::spawn(async move {
            records
                .claim(ACCOUNT, "race", &fp("SEL-A"))
                .await
                .unwrap()
                .0
        }));
    }
    let mut started = 0;
    for task in tasks {
        match task.await.unwrap() {
            Begin::Started => started += 1,
            Begin::Busy { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started, 1);
}

#[tokio::test]
async fn purge_removes_expired_records_one_replica_at_a_time() {
    let f = fleet().await;
    for key in ["a", "b", "c"] {
        started(f.claim(&f.r1, key).await);
    }
    f.expire_record("a").await;
    f.expire_record("b").await;
    // Another replica is purging: this one removes nothing.
    let mut client = f.db.client().await;
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('ipalloc_purge'))",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(f.r1.purge_expired().await.unwrap(), 0);
    tx.rollback().await.unwrap();
    assert_eq!(f.r1.purge_expired().await.unwrap(), 2);
    assert_eq!(f.row("a").await, None);
    assert!(f.row("c").await.is_some());
}

#[tokio::test]
async fn the_shared_rate_limit_books_a_burst_then_one_slot_per_interval() {
    let f = fleet().await;
    let rate = SharedRateLimiter::new(f.database.clone());
    let interval = Duration::from_millis(50);
    let tolerance = interval * 4; // burst 5
    // Each booking's slot, as an interval of this process's clock: the
    // delay counts from the statement's start, which is between the call's
    // start and its answer, so the interval lies within the call's span
    // shifted by the delay, and is no wider than the call.
    let mut slots = Vec::new();
    for _ in 0..7 {
        let before = Instant::now();
        let slot = rate
            .book("acct", interval, tolerance, None)
            .await
            .unwrap()
            .unwrap();
        let after = Instant::now();
        assert!(
            slot.earliest >= before && slot.earliest <= slot.latest,
            "{slot:?}"
        );
        assert!(slot.latest - slot.earliest <= after - before, "{slot:?}");
        slots.push((before, after, slot));
    }
    let (_, _, first) = slots[0];
    for (k, &(_, after, slot)) in slots.iter().enumerate() {
        if k < 5 {
            // The burst: at once (the delay counts from the statement's
            // start, so "now" is the moment it booked, within the call).
            assert!(slot.latest <= after, "booking {k}: {slots:?}");
            continue;
        }
        // Then one per interval after the first: at the first booking's
        // time + (k - 4) intervals, or at once if that has passed.
        let due = interval * (k as u32 - 4);
        assert!(
            slot.latest >= first.earliest + due,
            "booking {k} too early: {slots:?}"
        );
        assert!(
            slot.earliest <= (first.latest + due).max(after) + Duration::from_millis(1),
            "booking {k} too late: {slots:?}"
        );
    }
    // A slot beyond max_delay is refused and nothing is booked.
    let refused = rate
        .book("acct", interval, tolerance, Some(Duration::from_millis(10)))
        .await
        .unwrap();
    let wait = refused.unwrap_err();
    assert!(wait > Duration::from_millis(50), "{wait:?}");
    // With the database's clock known here by now, the longest delay is
    // counted on it: a slot within it is booked, and comes within it.
    let asked = Instant::now();
    let within = rate
        .book("acct", interval, tolerance, Some(wait + interval))
        .await
        .unwrap()
        .unwrap();
    assert!(
        within.latest - asked <= wait + interval,
        "{within:?} vs {wait:?}"
    );
    let wait = wait + interval;
    let asked = Instant::now();
    let next = rate
        .book("acct", interval, tolerance, None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        next.earliest - asked < wait + Duration::from_millis(10),
        "{next:?} vs {wait:?}"
    );
    // Accounts are independent: the other's burst slot is at once.
    let other = rate
        .book("other", interval, tolerance, None)
        .await
        .unwrap()
        .unwrap();
    assert!(other.latest <= Instant::now(), "{other:?}");
}

/// Spend limits of caller `app` (3 an hour) and account `zl` (5 a day).
fn spend_limits() -> SpendLimits {
    let mut limits = SpendLimits::default();
    let limit = |per_hour, per_day| WindowLimits { per_hour, per_day };
    limits
        .callers
        .insert("app".to_owned(), limit(Some(3), None));
    limits
        .accounts
        .insert(ACCOUNT.to_owned(), limit(None, Some(5)));
    limits
}

async fn reserve(
    records: &SharedRecords,
    caller: &str,
    key: &str,
    addresses: u64,
    ahead: Duration,
) -> SpendOutcome {
    let scopes = spend_limits().scopes(ACCOUNT, Some(caller));
    let request = SpendRequest {
        account: ACCOUNT,
        key,
        addresses,
        scopes: &scopes,
    };
    records.reserve_spend(&request, ahead).await.unwrap()
}

/// Both replicas count in one ledger: a caller's hour fills across them,
/// frees as its reservations age (the clock moved ahead), a key is counted
/// once, a release gives it back, and the account counts every caller.
#[tokio::test]
async fn the_spend_ledger_is_shared_and_frees_with_its_window() {
    let f = fleet().await;
    let now = Duration::ZERO;
    assert_eq!(
        reserve(&f.r1, "app", "k1", 2, now).await,
        SpendOutcome::Reserved
    );
    assert_eq!(
        reserve(&f.r2, "app", "k2", 1, now).await,
        SpendOutcome::Reserved
    );
    // A re-send of k2 replaces its own reservation.
    assert_eq!(
        reserve(&f.r1, "app", "k2", 1, now).await,
        SpendOutcome::Reserved
    );
    let SpendOutcome::Refused(refusal) = reserve(&f.r2, "app", "k3", 1, now).await else {
        panic!("the caller's hour is full")
    };
    assert_eq!(
        (
            refusal.scope,
            refusal.window,
            refusal.limit,
            refusal.used,
            refusal.requested
        ),
        (ScopeKind::Caller, Window::Hour, 3, 3, 1)
    );
    let wait = refusal.retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
    assert_eq!(
        reserve(&f.r2, "app", "k4", 4, now).await,
        SpendOutcome::Refused(ipalloc_gateway::spend::SpendRefusal {
            scope: ScopeKind::Caller,
            name: "app".to_owned(),
            window: Window::Hour,
            limit: 3,
            used: 3,
            requested: 4,
            retry_after: None,
        }),
        "more than the limit never fits"
    );
    // An hour later the caller fits again; the account's day holds 3 of 5.
    let later = Duration::from_secs(3601);
    assert_eq!(
        reserve(&f.r2, "app", "k3", 2, later).await,
        SpendOutcome::Reserved
    );
    let SpendOutcome::Refused(refusal) = reserve(&f.r1, "other", "k5", 1, later).await else {
        panic!("the account's day is full")
    };
    assert_eq!(
        (
            refusal.scope,
            refusal.name.as_str(),
            refusal.window,
            refusal.used
        ),
        (ScopeKind::Account, ACCOUNT, Window::Day, 5)
    );
    f.r1.release_spend(ACCOUNT, "k1").await.unwrap();
    assert_eq!(
        reserve(&f.r1, "other", "k5", 2, later).await,
        SpendOutcome::Reserved
    );
}

/// Concurrent reservations on both replicas never take more than the limit.
#[tokio::test]
async fn concurrent_reservations_never_overshoot_the_limit() {
    let f = fleet().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let records = if i % 2 == 0 {
            f.r1.clone()
        } else {
            f.r2.clone()
        };
        tasks.push(tokio::spawn(async move {
            reserve(&records, "other", &format!("k{i}"), 1, Duration::ZERO).await
        }));
    }
    let mut reserved = 0;
    for task in tasks {
        if task.await.unwrap() == SpendOutcome::Reserved {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 5, "the account's 5 a day");
}

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let f = fleet().await;
    assert_eq!(
        migrate::migrate(&f.database).await.unwrap(),
        migrate::SCHEMA_VERSION
    );
    assert_eq!(
        migrate::version(&f.database).await.unwrap(),
        migrate::SCHEMA_VERSION
    );
    let client = f.db.client().await;
    client
        .execute("INSERT INTO ipalloc_schema (version) VALUES (99)", &[])
        .await
        .unwrap();
    match migrate::migrate(&f.database).await {
        Err(ClusterError::SchemaNewer { found: 99, known }) => {
            assert_eq!(known, migrate::SCHEMA_VERSION)
        }
        other => panic!("{other:?}"),
    }
    let message = ClusterError::SchemaNewer {
        found: 99,
        known: 1,
    }
    .to_string();
    assert!(message.contains("upgrade the gateway"), "{message}");
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let db = fresh_database().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let database = Database::new(&config(&db.url)).unwrap();
        tasks.push(tokio::spawn(
            async move { migrate::migrate(&database).await },
        ));
    }
    let mut found = Vec::new();
    for task in tasks {
        found.push(task.await.unwrap().unwrap());
    }
    found.sort();
    // Schema version 2 (0002_spend.sql) made this [0, 2, 2, 2], was [0, 1, 1, 1].
    let v = migrate::SCHEMA_VERSION;
    assert_eq!(found, [0, v, v, v]);
}

#[tokio::test]
async fn an_unreachable_database_is_an_unreachable_error_and_never_shows_the_password() {
    // Nothing listens on port 1 of loopback.
    let mut cfg = config("postgres://postgres:s3cret-pw@127.0.0.1:1/x");
    cfg.connect_timeout = Duration::from_millis(500);
    let database = Database::new(&cfg).unwrap();
    let records = SharedRecords::new(database.clone(), "r1".to_owned(), LEASE, RETENTION);
    let e = records.claim(ACCOUNT, "k", &fp("SEL-A")).await.unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(!e.to_string().contains("s3cret-pw"), "{e}");
    assert!(!format!("{e:?}{database:?}").contains("s3cret-pw"));
    assert!(!database.usable());
}

/// Whether this connection is encrypted, as the server sees it.
async fn encrypted(database: &Database) -> Result<bool, ClusterError> {
    let row = database
        .query_one(
            "tls check",
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The machine's PostgreSQL serves TLS with Debian's self-signed "snakeoil"
/// certificate (for `localhost`): `require` encrypts without checking it;
/// `verify-full` accepts it when `ca_file` names it and the host is
/// `localhost`, and refuses it for another host name or another CA.
#[tokio::test]
async fn tls_require_encrypts_and_verify_full_checks_the_certificate() {
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    // Any CA that did not sign the snakeoil certificate.
    const OTHER_CA: &str = "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt";
    let db = fresh_database().await;
    let plain = Database::new(&config(&db.url)).unwrap();
    assert!(!encrypted(&plain).await.unwrap());

    let mut require = config(&db.url);
    require.tls = DatabaseTls::Require;
    let require = Database::new(&require).unwrap();
    assert!(
        encrypted(&require).await.unwrap(),
        "the server at {} must have ssl = on (Debian's default)",
        db.url
    );

    let local = db.url.replacen("127.0.0.1", "localhost", 1);
    let mut other_ca = config(&local);
    other_ca.tls = DatabaseTls::VerifyFull;
    other_ca.ca_file = Some(OTHER_CA.into());
    let e = encrypted(&Database::new(&other_ca).unwrap())
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");

    let mut pinned = config(&local);
    pinned.tls = DatabaseTls::VerifyFull;
    pinned.ca_file = Some(SNAKEOIL.into());
    assert!(
        encrypted(&Database::new(&pinned).unwrap()).await.unwrap(),
        "verify-full with {SNAKEOIL} as the CA, host localhost"
    );
    // The same CA for another name: the host name check refuses it.
    let mut wrong_name = pinned.clone();
    wrong_name.postgres_url = Secret::new(db.url.clone());
    let e = encrypted(&Database::new(&wrong_name).unwrap())
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
}

/// `ipalloc-gateway migrate` brings a fresh database to the binary's schema
/// and says so; run again, it finds it there.
#[tokio::test]
async fn the_migrate_command_applies_the_schema() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "{}\n[providers.zl]\nkind = \"zenlayer\"\nendpoint = \"http://127.0.0.1:9\"\n\
             access_key_id = \"id\"\naccess_key_password = \"pw\"\n",
            db.cluster_table("")
        ),
    )
    .unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ipalloc-gateway"))
            .arg("--config")
            .arg(&path)
            .arg("migrate")
            .env_clear()
            .output()
            .unwrap()
    };
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Schema version 2 (0002_spend.sql): was "at version 1 (was 0)".
    let v = migrate::SCHEMA_VERSION;
    assert!(
        stdout.contains(&format!("at version {v} (was 0)")),
        "{stdout}"
    );
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains(&format!("at version {v} (was {v})")));
    let database = Database::new(&config(&db.url)).unwrap();
    assert_eq!(
        migrate::version(&database).await.unwrap(),
        migrate::SCHEMA_VERSION
    );
}
