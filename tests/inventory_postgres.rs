//! The allocation inventory's fleet backend (`ipalloc_inventory`, schema
//! version 3) against the real PostgreSQL server, each test on a fresh
//! database: the rules of every backend (order, paging with a cursor,
//! filters, the bounded scan, replacement, the release time set once,
//! purge), each call one round trip, two replicas seeing each other's
//! entries, pages equal to the in-memory backend's over many filters,
//! limits and scan bounds, an unreadable row an error for itself only, and
//! migration 3 applied to a database at version 2. Also, through the public
//! API, the file backend keeping its entries across a reopen of the store.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::postgres::{TestDatabase, fresh_database};
use ipalloc_gateway::cluster::{Database, SharedInventory, SharedRecords, migrate};
use ipalloc_gateway::config::cluster::{ClusterConfig, DatabaseTls};
use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::idempotency::{IdempotencyStore, Records, StoreError};
use ipalloc_gateway::inventory::{
    Cursor, Entry, Filter, Inventory, MemoryInventory, Page, from_millis,
};
use ipalloc_gateway::provider::{Allocation, AllocationState, ProviderKind, Tag};

fn config(url: &str) -> ClusterConfig {
    ClusterConfig {
        postgres_url: Secret::new(url),
        password: None,
        pool_size: 4,
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(5),
        tls: DatabaseTls::Disable,
        ca_file: None,
        replica_id: "r1".to_owned(),
        lease: Duration::from_secs(30),
        replicas: 2,
        purge_interval: Duration::from_secs(60),
    }
}

/// A fresh migrated database and two replicas (each its own pool).
struct Fleet {
    db: TestDatabase,
    d1: Database,
    r1: Inventory,
    r2: Inventory,
}

async fn fleet() -> Fleet {
    let db = fresh_database().await;
    let d1 = Database::new(&config(&db.url)).unwrap();
    assert_eq!(migrate::migrate(&d1).await.unwrap(), 0);
    d1.set_migrated();
    let d2 = Database::new(&config(&db.url)).unwrap();
    d2.set_migrated();
    // The way the gateway builds it: from the shared records.
    let records = Records::Shared(SharedRecords::new(
        d1.clone(),
        "r1".to_owned(),
        Duration::from_secs(30),
        Duration::from_secs(3600),
    ));
    let r1 = Inventory::for_records(&records);
    assert!(matches!(r1, Inventory::Shared(_)));
    let r2 = Inventory::Shared(SharedInventory::new(d2));
    Fleet { db, d1, r1, r2 }
}

fn at(ms: u64) -> SystemTime {
    from_millis(1_700_000_000_000 + ms)
}

fn allocation(id: &str, state: AllocationState) -> Allocation {
    Allocation {
        id: id.to_owned(),
        ip_address: Some("198.51.100.7".to_owned()),
        state,
        provider_status: "AVAILABLE".to_owned(),
        zone_id: Some("SEL-A".to_owned()),
        region_id: None,
        requires_instance_restart: false,
        instance_id: None,
        failure_reason: None,
        netmask: Some(32),
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn entry(account: &str, id: &str, key: &str, created: u64) -> Entry {
    Entry {
        account: account.to_owned(),
        id: id.to_owned(),
        kind: ProviderKind::Zenlayer,
        idempotency_key: key.to_owned(),
        caller: None,
        tags: vec![tag(
            "team",
            if created.is_multiple_of(2) { "a" } else { "b" },
        )],
        created: at(created),
        allocation: allocation(id, AllocationState::Ready),
        state_time: at(created),
        released: None,
    }
}

fn ids(page: &Page) -> Vec<&str> {
    page.entries.iter().map(|e| e.id.as_str()).collect()
}

/// Runs `call` and asserts it took exactly one round trip.
async fn one_round_trip<T>(db: &Database, call: impl std::future::Future<Output = T>) -> T {
    let before = db.statements();
    let out = call.await;
    assert_eq!(db.statements() - before, 1, "one statement per call");
    out
}

#[tokio::test]
async fn pages_in_creation_order_with_a_cursor_one_round_trip_each() {
    let f = fleet().await;
    let entries: Vec<Entry> = (0..5)
        .rev()
        .map(|i| entry("zl", &format!("eip-{i}"), &format!("k{i}"), i))
        .collect();
    one_round_trip(&f.d1, f.r1.record(entries)).await.unwrap();
    let all = Filter::default();
    let first = one_round_trip(&f.d1, f.r1.page(&all, None, 2, 100))
        .await
        .unwrap();
    assert_eq!(ids(&first), ["eip-0", "eip-1"]);
    assert_eq!(first.next.as_ref().unwrap().id, "eip-1");
    let second = f.r1.page(&all, first.next.as_ref(), 2, 100).await.unwrap();
    assert_eq!(ids(&second), ["eip-2", "eip-3"]);
    let last = f.r1.page(&all, second.next.as_ref(), 2, 100).await.unwrap();
    assert_eq!(ids(&last), ["eip-4"]);
    assert_eq!(last.next, None);
    // Exactly the end: no next page.
    let exact = f.r1.page(&all, second.next.as_ref(), 1, 100).await.unwrap();
    assert_eq!(ids(&exact), ["eip-4"]);
    assert_eq!(exact.next, None);
    assert_eq!(one_round_trip(&f.d1, f.r1.len()).await.unwrap(), 5);
}

#[tokio::test]
async fn filters_by_account_key_prefix_and_tag() {
    let f = fleet().await;
    let mut tagged = entry("zl", "eip-4", "job-4", 4);
    tagged.tags.push(tag("env", "prod"));
    f.r1.record(vec![
        entry("zl", "eip-0", "job-1", 0),
        entry("zl", "eip-1", "job-2", 1),
        entry("other", "eip-2", "job-3", 2),
        entry("zl", "eip-3", "web-1", 3),
        tagged,
    ])
    .await
    .unwrap();
    let only = |accounts: &[&str]| Filter {
        accounts: Some(accounts.iter().map(|a| (*a).to_owned()).collect()),
        ..Filter::default()
    };
    let page = f.r1.page(&only(&["zl"]), None, 10, 100).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-1", "eip-3", "eip-4"]);
    let page = f.r1.page(&only(&[]), None, 10, 100).await.unwrap();
    assert!(page.entries.is_empty());
    let prefix = Filter {
        key_prefix: "job-".to_owned(),
        ..Filter::default()
    };
    let page = f.r1.page(&prefix, None, 10, 100).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-1", "eip-2", "eip-4"]);
    let by_tags = |tags: Vec<Tag>| Filter {
        tags,
        ..Filter::default()
    };
    let page =
        f.r1.page(&by_tags(vec![tag("team", "b")]), None, 10, 100)
            .await;
    assert_eq!(ids(&page.unwrap()), ["eip-1", "eip-3"]);
    let both = by_tags(vec![tag("team", "a"), tag("env", "prod")]);
    assert_eq!(
        ids(&f.r1.page(&both, None, 10, 100).await.unwrap()),
        ["eip-4"]
    );
    // A tag matches only as a whole (key and value of one tag).
    let mixed = by_tags(vec![tag("team", "prod")]);
    assert!(
        f.r1.page(&mixed, None, 10, 100)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
}

#[tokio::test]
async fn a_bounded_scan_stops_with_a_cursor() {
    let f = fleet().await;
    f.r1.record(
        (0..10)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    let none = Filter {
        key_prefix: "nothing".to_owned(),
        ..Filter::default()
    };
    let page = f.r1.page(&none, None, 5, 4).await.unwrap();
    assert!(page.entries.is_empty());
    let next = page.next.expect("the scan stopped at its bound");
    assert_eq!(next.id, "eip-3");
    let rest = f.r1.page(&none, Some(&next), 5, 100).await.unwrap();
    assert!(rest.entries.is_empty());
    assert_eq!(rest.next, None);
    // No bound at all.
    let every = Filter::default();
    let all = f.r1.page(&every, None, usize::MAX, usize::MAX);
    let all = all.await.unwrap();
    assert_eq!(all.entries.len(), 10);
    assert_eq!(all.next, None);
}

#[tokio::test]
async fn updates_set_the_release_time_once_and_purge_removes_old_releases() {
    let f = fleet().await;
    f.r1.record(vec![
        entry("zl", "eip-0", "k0", 0),
        entry("zl", "eip-1", "k1", 1),
    ])
    .await
    .unwrap();
    let released = allocation("eip-0", AllocationState::Released);
    let update = f.r1.update("zl", std::slice::from_ref(&released), at(10));
    one_round_trip(&f.d1, update).await.unwrap();
    f.r1.update("zl", &[released], at(20)).await.unwrap();
    // Unknown ids and other accounts are ignored.
    f.r1.update(
        "other",
        &[allocation("eip-1", AllocationState::Released)],
        at(20),
    )
    .await
    .unwrap();
    f.r1.update(
        "zl",
        &[allocation("nothing", AllocationState::Released)],
        at(20),
    )
    .await
    .unwrap();
    let e = one_round_trip(&f.d1, f.r1.get("zl", "eip-0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.released, Some(at(10)));
    assert_eq!(e.state_time, at(20));
    assert_eq!(e.allocation.state, AllocationState::Released);
    assert_eq!(
        f.r1.get("zl", "eip-1").await.unwrap().unwrap().released,
        None
    );

    assert_eq!(f.r1.purge_released(at(10)).await.unwrap(), 0);
    let purge = f.r1.purge_released(at(11));
    assert_eq!(one_round_trip(&f.d1, purge).await.unwrap(), 1);
    assert_eq!(f.r1.get("zl", "eip-0").await.unwrap(), None);
    assert_eq!(f.r1.len().await.unwrap(), 1);
}

#[tokio::test]
async fn recording_the_same_id_again_replaces_the_entry() {
    let f = fleet().await;
    f.r1.record(vec![entry("ali", "i-1", "first", 0)])
        .await
        .unwrap();
    f.r1.update(
        "ali",
        &[allocation("i-1", AllocationState::Released)],
        at(5),
    )
    .await
    .unwrap();
    f.r1.record(vec![entry("ali", "i-1", "second", 9)])
        .await
        .unwrap();
    let e = f.r1.get("ali", "i-1").await.unwrap().unwrap();
    assert_eq!(e.idempotency_key, "second");
    assert_eq!(e.released, None);
    assert_eq!(e.created, at(9));
    // Twice in one batch: the later wins.
    f.r1.record(vec![
        entry("ali", "i-2", "early", 1),
        entry("ali", "i-2", "late", 2),
    ])
    .await
    .unwrap();
    assert_eq!(
        f.r1.get("ali", "i-2")
            .await
            .unwrap()
            .unwrap()
            .idempotency_key,
        "late"
    );
    assert_eq!(f.r1.len().await.unwrap(), 2);
    let page = f.r1.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["i-2", "i-1"]);
}

#[tokio::test]
async fn entries_round_trip_exactly_and_replicas_see_each_other() {
    let f = fleet().await;
    let mut e = entry("zl", "eip-9", "k", 3);
    e.caller = Some("ci".to_owned());
    e.kind = ProviderKind::Aliyun;
    e.state_time = at(3) + Duration::from_nanos(123_456);
    e.allocation.instance_id = Some("i-abc".to_owned());
    e.allocation.requires_instance_restart = true;
    f.r1.record(vec![e.clone()]).await.unwrap();
    assert_eq!(f.r2.get("zl", "eip-9").await.unwrap(), Some(e.clone()));
    f.r2.record(vec![entry("zl", "eip-10", "k", 4)])
        .await
        .unwrap();
    f.r2.update(
        "zl",
        &[allocation("eip-9", AllocationState::Released)],
        at(8),
    )
    .await
    .unwrap();
    let page = f.r1.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["eip-9", "eip-10"]);
    assert_eq!(page.entries[0].released, Some(at(8)));
    assert_eq!(f.r2.purge_released(at(9)).await.unwrap(), 1);
    assert_eq!(f.r1.len().await.unwrap(), 1);
}

#[tokio::test]
async fn a_purge_goes_in_batches_oldest_release_first() {
    let f = fleet().await;
    f.r1.record(
        (0..8)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    for i in 0..7u64 {
        // Released in the reverse order of creation.
        let released = allocation(&format!("eip-{i}"), AllocationState::Released);
        f.r1.update("zl", &[released], at(100 - i)).await.unwrap();
    }
    let small = Inventory::Shared(SharedInventory::new(f.d1.clone()).with_purge_batch(3));
    let before = f.d1.statements();
    // eip-6 .. eip-2 were released before 99.
    assert_eq!(small.purge_released(at(99)).await.unwrap(), 5);
    assert_eq!(f.d1.statements() - before, 2, "batches of 3: 3 + 2");
    let left = f.r1.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&left), ["eip-0", "eip-1", "eip-7"]);
    let before = f.d1.statements();
    assert_eq!(small.purge_released(at(1000)).await.unwrap(), 2);
    assert_eq!(f.d1.statements() - before, 1);
    assert_eq!(f.r1.len().await.unwrap(), 1);
}

/// Ids whose byte order differs from a language collation's.
const IDS: &[&str] = &["B", "a", "Z", "é", "a-1", "a_1", "A", "z", "10", "9"];

#[tokio::test]
async fn pages_equal_the_memory_backends_for_every_filter_limit_and_bound() {
    let f = fleet().await;
    let memory = MemoryInventory::default();
    let mut entries = Vec::new();
    for (n, id) in IDS.iter().enumerate() {
        for account in ["zl", "ali"] {
            // Several entries share a creation time: account and id order them.
            let created = (n / 3) as u64;
            let key = if n % 3 == 0 { "job-x" } else { "web-y" };
            entries.push(entry(account, id, key, created));
        }
    }
    memory.record(entries.clone());
    f.r1.record(entries).await.unwrap();
    let filters = [
        Filter::default(),
        Filter {
            key_prefix: "job-".to_owned(),
            ..Filter::default()
        },
        Filter {
            accounts: Some(vec!["ali".to_owned()]),
            tags: vec![tag("team", "b")],
            ..Filter::default()
        },
        Filter {
            key_prefix: "none".to_owned(),
            ..Filter::default()
        },
    ];
    for filter in &filters {
        for limit in [1, 2, 3, 7, 50] {
            for scan in [1, 2, 5, 100] {
                let mut after: Option<Cursor> = None;
                // Bounded: each page moves the cursor by at least one entry.
                for _ in 0..=2 * IDS.len() {
                    let want = memory.page(filter, after.as_ref(), limit, scan);
                    let got =
                        f.r1.page(filter, after.as_ref(), limit, scan)
                            .await
                            .unwrap();
                    assert_eq!(
                        got, want,
                        "{filter:?} limit {limit} scan {scan} after {after:?}"
                    );
                    after = got.next;
                    if after.is_none() {
                        break;
                    }
                }
                assert_eq!(after, None, "paged to the end");
            }
        }
    }
}

#[tokio::test]
async fn an_unreadable_row_is_an_error_for_itself_only() {
    let f = fleet().await;
    f.r1.record(
        (0..3)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    let client = f.db.client().await;
    client
        .execute(
            "UPDATE ipalloc_inventory SET allocation = '\\x00ff'::bytea WHERE id = 'eip-1'",
            &[],
        )
        .await
        .unwrap();
    match f.r1.get("zl", "eip-1").await {
        Err(StoreError::CorruptRecord { key, .. }) => assert_eq!(key, "inventory entry zl/eip-1"),
        other => panic!("expected an unreadable entry, got {other:?}"),
    }
    let page = f.r1.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-2"]);
    // With the unreadable one among the matches the statement counted, a
    // next page is offered rather than a false end.
    let short = f.r1.page(&Filter::default(), None, 2, 10).await.unwrap();
    assert_eq!(ids(&short), ["eip-0", "eip-2"]);
    assert_eq!(short.next.as_ref().unwrap().id, "eip-2");
    let rest =
        f.r1.page(&Filter::default(), short.next.as_ref(), 2, 10)
            .await;
    assert_eq!(rest.unwrap(), Page::default());
    f.r1.record(vec![entry("zl", "eip-1", "again", 1)])
        .await
        .unwrap();
    assert_eq!(
        f.r1.get("zl", "eip-1")
            .await
            .unwrap()
            .unwrap()
            .idempotency_key,
        "again"
    );
}

#[tokio::test]
async fn migration_3_applies_to_a_database_at_version_2() {
    let db = fresh_database().await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE ipalloc_schema (version integer NOT NULL, \
                 applied timestamptz NOT NULL DEFAULT now());\n{}\n{}\n\
             INSERT INTO ipalloc_schema (version) VALUES (1), (2);",
            include_str!("../src/cluster/sql/0001_fleet.sql"),
            include_str!("../src/cluster/sql/0002_spend.sql"),
        ))
        .await
        .unwrap();
    let database = Database::new(&config(&db.url)).unwrap();
    assert_eq!(migrate::version(&database).await.unwrap(), 2);
    assert_eq!(migrate::SCHEMA_VERSION, 3);
    assert_eq!(migrate::migrate(&database).await.unwrap(), 2);
    assert_eq!(migrate::version(&database).await.unwrap(), 3);
    // Again: nothing to do.
    assert_eq!(migrate::migrate(&database).await.unwrap(), 3);
    database.set_migrated();
    let inv = Inventory::Shared(SharedInventory::new(database));
    inv.record(vec![entry("zl", "eip-0", "k", 0)])
        .await
        .unwrap();
    assert_eq!(inv.len().await.unwrap(), 1);
    let spend: i64 = client
        .query_one("SELECT count(*) FROM ipalloc_spend", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(spend, 0, "the version 2 tables are still there");
    // Byte order whatever the database's default collation.
    let collations: Vec<String> = client
        .query(
            "SELECT collation_name::text FROM information_schema.columns \
             WHERE table_name = 'ipalloc_inventory' AND column_name IN ('account', 'id')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(collations, ["C", "C"]);
}

#[tokio::test]
async fn the_file_backend_keeps_its_entries_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let retention = Duration::from_secs(3600);
    let store = IdempotencyStore::open(Some(&path), retention).unwrap();
    let records = Records::Local(store.clone());
    let inv = Inventory::for_records(&records);
    assert!(matches!(inv, Inventory::File(_)));
    inv.record(
        (0..3)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    )
    .await
    .unwrap();
    inv.update(
        "zl",
        &[allocation("eip-2", AllocationState::Released)],
        at(4),
    )
    .await
    .unwrap();
    drop((inv, records));
    store.close();
    drop(store);

    let store = IdempotencyStore::open(Some(&path), retention).unwrap();
    let inv = Inventory::for_store(&store);
    let page = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-1", "eip-2"]);
    assert_eq!(page.entries[2].released, Some(at(4)));
}
