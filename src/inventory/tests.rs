//! The inventory's rules on the in-memory backend and on the file backend
//! (a store file in a temporary directory): order, paging, filters,
//! replacement, release times, purge and the bound; what only the file
//! does: surviving a reopen, and an undecodable entry that is an error for
//! itself only; and what only memory does: its byte bound.

use std::time::{Duration, SystemTime};

use super::*;
use crate::provider::{Allocation, AllocationState, ProviderKind, Tag};

mod file_backend;
mod memory_bytes;
mod with_completion;

pub(super) fn at(ms: u64) -> SystemTime {
    from_millis(1_700_000_000_000 + ms)
}

pub(super) fn allocation(id: &str, state: AllocationState) -> Allocation {
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

pub(super) fn entry(account: &str, id: &str, key: &str, created: u64) -> Entry {
    Entry {
        account: account.to_owned(),
        id: id.to_owned(),
        kind: ProviderKind::Zenlayer,
        idempotency_key: key.to_owned(),
        caller: None,
        tags: vec![Tag {
            key: "team".to_owned(),
            value: if created.is_multiple_of(2) { "a" } else { "b" }.to_owned(),
        }],
        created: at(created),
        allocation: allocation(id, AllocationState::Ready),
        state_time: at(created),
        released: None,
    }
}

/// Each rule as a test on every backend.
macro_rules! on_every_backend {
    ($($rule:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $rule() {
                    super::$rule(super::Inventory::memory()).await;
                }
            )*
        }
        mod file {
            $(
                #[tokio::test]
                async fn $rule() {
                    let store = super::file_backend::TempStore::new();
                    super::$rule(store.inventory()).await;
                }
            )*
        }
    };
}

on_every_backend!(
    pages_in_creation_order_with_a_cursor,
    filters_by_account_key_prefix_and_tag,
    a_bounded_scan_stops_with_a_cursor,
    updates_set_the_release_time_once_and_purge_removes_old_releases,
    recording_the_same_id_again_replaces_the_entry,
    entries_round_trip_exactly,
);

async fn entries_round_trip_exactly(inv: Inventory) {
    let mut e = entry("zl", "eip-9", "k", 3);
    e.caller = Some("ci".to_owned());
    e.state_time = at(3) + Duration::from_nanos(123_456);
    inv.record(vec![e.clone()]).await.unwrap();
    assert_eq!(inv.get("zl", "eip-9").await.unwrap(), Some(e.clone()));
    assert_eq!(inv.get("zl", "nothing").await.unwrap(), None);
    let page = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(page.entries, [e]);
    assert_eq!(inv.len().await.unwrap(), 1);
}

pub(super) fn ids(page: &Page) -> Vec<&str> {
    page.entries.iter().map(|e| e.id.as_str()).collect()
}

async fn pages_in_creation_order_with_a_cursor(inv: Inventory) {
    let entries = (0..5)
        .rev()
        .map(|i| entry("zl", &format!("eip-{i}"), &format!("k{i}"), i))
        .collect();
    inv.record(entries).await.unwrap();
    let first = inv.page(&Filter::default(), None, 2, 100).await.unwrap();
    assert_eq!(ids(&first), ["eip-0", "eip-1"]);
    let second = inv
        .page(&Filter::default(), first.next.as_ref(), 2, 100)
        .await
        .unwrap();
    assert_eq!(ids(&second), ["eip-2", "eip-3"]);
    let last = inv
        .page(&Filter::default(), second.next.as_ref(), 2, 100)
        .await
        .unwrap();
    assert_eq!(ids(&last), ["eip-4"]);
    assert_eq!(last.next, None);
}

async fn filters_by_account_key_prefix_and_tag(inv: Inventory) {
    inv.record(vec![
        entry("zl", "eip-0", "job-1", 0),
        entry("zl", "eip-1", "job-2", 1),
        entry("other", "eip-2", "job-3", 2),
        entry("zl", "eip-3", "web-1", 3),
    ])
    .await
    .unwrap();
    let only = |accounts: &[&str]| Filter {
        accounts: Some(accounts.iter().map(|a| (*a).to_owned()).collect()),
        ..Filter::default()
    };
    let page = inv.page(&only(&["zl"]), None, 10, 100).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-1", "eip-3"]);
    let prefix = Filter {
        key_prefix: "job-".to_owned(),
        ..Filter::default()
    };
    let page = inv.page(&prefix, None, 10, 100).await.unwrap();
    assert_eq!(ids(&page), ["eip-0", "eip-1", "eip-2"]);
    let tagged = Filter {
        tags: vec![Tag {
            key: "team".to_owned(),
            value: "b".to_owned(),
        }],
        ..Filter::default()
    };
    let page = inv.page(&tagged, None, 10, 100).await.unwrap();
    assert_eq!(ids(&page), ["eip-1", "eip-3"]);
}

async fn a_bounded_scan_stops_with_a_cursor(inv: Inventory) {
    inv.record(
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
    let page = inv.page(&none, None, 5, 4).await.unwrap();
    assert!(page.entries.is_empty());
    let next = page.next.expect("the scan stopped at its bound");
    assert_eq!(next.id, "eip-3");
    let rest = inv.page(&none, Some(&next), 5, 100).await.unwrap();
    assert!(rest.entries.is_empty());
    assert_eq!(rest.next, None);
    // No bound at all.
    let every = Filter::default();
    let all = inv.page(&every, None, usize::MAX, usize::MAX);
    let all = all.await.unwrap();
    assert_eq!(all.entries.len(), 10);
    assert_eq!(all.next, None);
}

async fn updates_set_the_release_time_once_and_purge_removes_old_releases(inv: Inventory) {
    inv.record(vec![
        entry("zl", "eip-0", "k0", 0),
        entry("zl", "eip-1", "k1", 1),
    ])
    .await
    .unwrap();
    let released = allocation("eip-0", AllocationState::Released);
    inv.update("zl", std::slice::from_ref(&released), at(10))
        .await
        .unwrap();
    inv.update("zl", &[released], at(20)).await.unwrap();
    // Unknown ids and other accounts are ignored.
    inv.update(
        "other",
        &[allocation("eip-1", AllocationState::Released)],
        at(20),
    )
    .await
    .unwrap();
    let e = inv.get("zl", "eip-0").await.unwrap().unwrap();
    assert_eq!(e.released, Some(at(10)));
    assert_eq!(e.state_time, at(20));
    assert_eq!(e.allocation.state, AllocationState::Released);
    assert_eq!(
        inv.get("zl", "eip-1").await.unwrap().unwrap().released,
        None
    );

    assert_eq!(inv.purge_released(at(10)).await.unwrap(), 0);
    assert_eq!(inv.purge_released(at(11)).await.unwrap(), 1);
    assert_eq!(inv.get("zl", "eip-0").await.unwrap(), None);
    assert_eq!(inv.len().await.unwrap(), 1);
}

async fn recording_the_same_id_again_replaces_the_entry(inv: Inventory) {
    inv.record(vec![entry("ali", "i-1", "first", 0)])
        .await
        .unwrap();
    inv.update(
        "ali",
        &[allocation("i-1", AllocationState::Released)],
        at(5),
    )
    .await
    .unwrap();
    inv.record(vec![entry("ali", "i-1", "second", 9)])
        .await
        .unwrap();
    let e = inv.get("ali", "i-1").await.unwrap().unwrap();
    assert_eq!(e.idempotency_key, "second");
    assert_eq!(e.released, None);
    assert_eq!(inv.len().await.unwrap(), 1);
    let page = inv.page(&Filter::default(), None, 10, 10).await.unwrap();
    assert_eq!(ids(&page), ["i-1"]);
}

#[tokio::test]
async fn a_full_inventory_drops_the_oldest_released_entry_first() {
    // The count bound only (the byte bound: `memory_bytes`).
    let m = MemoryInventory::new(u64::MAX);
    m.record(
        (0..MAX_ENTRIES as u64)
            .map(|i| entry("zl", &format!("eip-{i}"), "k", i))
            .collect(),
    );
    m.update(
        "zl",
        &[allocation("eip-7", AllocationState::Released)],
        at(1),
    );
    m.record(vec![entry("zl", "eip-new", "k", 1_000_000)]);
    assert_eq!(m.len(), MAX_ENTRIES);
    assert!(m.get("zl", "eip-7").is_none());
    assert!(m.get("zl", "eip-new").is_some());
    // Nothing released left: the next one is not recorded.
    m.record(vec![entry("zl", "eip-newer", "k", 1_000_001)]);
    assert_eq!(m.len(), MAX_ENTRIES);
    assert!(m.get("zl", "eip-newer").is_none());
}
