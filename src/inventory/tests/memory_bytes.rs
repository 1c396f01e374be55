//! What only the in-memory backend does: it counts its entries' bytes
//! (growing with them, back to 0 when they go, a replaced entry counted
//! once) and keeps them under a byte bound derived from the store's
//! `max_bytes`, making room with the oldest released entries first.

use std::time::Duration;

use super::super::memory::entry_bytes;
use super::super::*;
use super::{allocation, at, entry};
use crate::idempotency::{DEFAULT_MAX_BYTES, IdempotencyStore, StoreOptions};
use crate::provider::AllocationState;

fn released(id: &str) -> Vec<crate::provider::Allocation> {
    vec![allocation(id, AllocationState::Released)]
}

/// The bytes of entry `i` of [`same_size`] once released.
fn released_bytes(i: u64) -> u64 {
    let mut e = same_size(i);
    e.released = Some(at(0));
    entry_bytes(&e)
}

/// Entries of one size: `eip-<i>` (one digit), key `k<i>`.
fn same_size(i: u64) -> Entry {
    assert!(i < 10);
    entry("zl", &format!("eip-{i}"), &format!("k{i}"), i)
}

#[test]
fn bytes_grow_with_entries_and_return_to_zero_when_they_go() {
    let m = MemoryInventory::new(u64::MAX);
    assert_eq!(m.bytes(), 0);
    let mut counted = 0;
    for i in 0..6 {
        let e = same_size(i);
        counted += entry_bytes(&e);
        m.record(vec![e]);
        assert_eq!(m.bytes(), counted);
    }
    // Strings, tags and the B-tree and index slots: several hundred bytes.
    assert!(counted / 6 > 500, "{counted}");
    // Releasing adds the release index's slot; purging removes it all.
    for i in 0..3 {
        m.update("zl", &released(&format!("eip-{i}")), at(10 + i));
    }
    assert_eq!(
        m.bytes(),
        counted + 3 * (released_bytes(0) - entry_bytes(&same_size(0)))
    );
    assert_eq!(m.purge_released(at(12)), 2);
    assert_eq!(
        m.bytes(),
        4 * entry_bytes(&same_size(0)) + released_bytes(2) - entry_bytes(&same_size(0))
    );
    for i in 3..6 {
        m.update("zl", &released(&format!("eip-{i}")), at(20));
    }
    assert_eq!(m.purge_released(at(21)), 4);
    assert_eq!((m.bytes(), m.len()), (0, 0));
}

#[test]
fn a_longer_state_or_a_replaced_entry_is_counted_once() {
    let m = MemoryInventory::new(u64::MAX);
    let first = entry("ali", "i-1", "first", 0);
    m.record(vec![first.clone()]);
    assert_eq!(m.bytes(), entry_bytes(&first));
    // The same entry again replaces it: counted once.
    m.record(vec![first.clone()]);
    assert_eq!(m.bytes(), entry_bytes(&first));
    // An entry with a longer key replaces it: its own size.
    let long = entry("ali", "i-1", &"k".repeat(1000), 1);
    m.record(vec![long.clone()]);
    assert_eq!(m.len(), 1);
    assert_eq!(m.bytes(), entry_bytes(&long));
    assert!(m.bytes() > entry_bytes(&first) + 900);
    // A state with longer strings is counted at its size.
    let mut state = allocation("i-1", AllocationState::Failed);
    state.failure_reason = Some("x".repeat(500));
    m.update("ali", std::slice::from_ref(&state), at(5));
    let stored = m.get("ali", "i-1").unwrap();
    assert_eq!(stored.allocation, state);
    assert_eq!(m.bytes(), entry_bytes(&stored));
}

#[test]
fn at_the_byte_bound_the_oldest_released_entry_makes_room_else_the_new_one_is_refused() {
    let size = entry_bytes(&same_size(0));
    let extra = released_bytes(0) - size;
    // Room for three entries, two of them released.
    let m = MemoryInventory::new(3 * size + 2 * extra);
    m.record((0..3).map(same_size).collect());
    m.record(vec![same_size(3)]);
    assert_eq!(m.len(), 3);
    assert!(m.get("zl", "eip-3").is_none(), "nothing released: refused");
    // Released in another order than created: eip-2 first.
    m.update("zl", &released("eip-2"), at(10));
    m.update("zl", &released("eip-0"), at(20));
    assert_eq!(m.bytes(), 3 * size + 2 * extra);
    m.record(vec![same_size(3)]);
    assert!(
        m.get("zl", "eip-2").is_none(),
        "the oldest release made room"
    );
    assert!(m.get("zl", "eip-0").is_some());
    assert!(m.get("zl", "eip-3").is_some());
    assert_eq!(m.bytes(), 3 * size + extra);
    // An entry that dropping every released one would not make room for
    // is refused, and nothing is dropped.
    let big = entry("zl", "eip-big", &"k".repeat(2 * size as usize), 9);
    m.record(vec![big]);
    assert!(m.get("zl", "eip-big").is_none());
    assert!(m.get("zl", "eip-0").is_some());
    // One that fits once several released entries go takes their room.
    m.update("zl", &released("eip-1"), at(30));
    m.update("zl", &released("eip-3"), at(40));
    let two = entry("zl", "eip-two", &"k".repeat(size as usize + 100), 9);
    assert!(entry_bytes(&two) < 3 * size && entry_bytes(&two) > 2 * size);
    m.record(vec![two]);
    assert!(m.get("zl", "eip-two").is_some());
    // Oldest releases first: eip-0 (20) and eip-1 (30) went, eip-3 (40) stays.
    assert!(m.get("zl", "eip-0").is_none());
    assert!(m.get("zl", "eip-1").is_none());
    assert!(m.get("zl", "eip-3").is_some());
    assert!(m.bytes() <= m.max_bytes());
}

#[test]
fn an_update_over_the_bound_is_kept() {
    let e = same_size(0);
    let m = MemoryInventory::new(entry_bytes(&e));
    m.record(vec![e]);
    let mut state = allocation("eip-0", AllocationState::Failed);
    state.failure_reason = Some("x".repeat(100));
    m.update("zl", std::slice::from_ref(&state), at(5));
    assert_eq!(m.get("zl", "eip-0").unwrap().allocation, state);
    assert!(m.bytes() > m.max_bytes());
}

#[test]
fn the_bound_is_a_quarter_of_the_stores_max_bytes() {
    assert_eq!(memory_max_bytes(DEFAULT_MAX_BYTES), 16 << 20);
    assert_eq!(MemoryInventory::default().max_bytes(), 16 << 20);
    let mut options = StoreOptions::new(None, Duration::from_secs(3600));
    options.max_bytes = 8 << 20;
    let store = IdempotencyStore::open_with(&options).unwrap();
    let inventory = Inventory::for_store(&store);
    let Inventory::Memory(m) = &inventory else {
        panic!("an in-memory store has an in-memory inventory");
    };
    assert_eq!(m.max_bytes(), 2 << 20);
    assert_eq!(inventory.memory_bytes(), Some(0));
}
