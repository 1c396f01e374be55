//! The file's tables, the schema marker, and what each entry costs.
//!
//! - `idempotency_records_v1`: key to encoded record (the name predates the
//!   compact record format; old JSON records in it are still read);
//! - `idempotency_completed_v2`: (completion time in ns, key) for every
//!   completed record, the eviction order;
//! - `ipalloc_meta`: `format` (names this program) and `schema` (2). A file
//!   of schema 1 (records only) gets the index built when first opened;
//! - `spend_reservations_v1`: spend ledger reservation id (account, key) to
//!   its time, amount and scopes (`idempotency::spend::Reservation`);
//! - `spend_windows_v1`: (scope, time in ns, reservation id) to amount, each
//!   scope's window in time order. Both appear with the first reservation
//!   (only when spend limits are configured); a gateway older than them
//!   refuses a file that has them.
//! - `inventory_entries_v1`: (creation in ms, account, allocation id) to
//!   the allocation inventory's entry (`crate::inventory::encode`, versioned
//!   JSON), in the inventory's order;
//! - `inventory_ids_v1`: (account, allocation id) to (creation in ms,
//!   release time in ns if released), the index by id;
//! - `inventory_released_v1`: (release time in ns, creation in ms, account,
//!   allocation id) of released entries, the order of purge and eviction.
//!   The three appear with the first entry and are kept by
//!   `crate::inventory` (bounded by its entry count, outside the byte
//!   bound); a gateway older than them refuses a file that has them.
//!
//! The costs here are what the backend counts against the byte bound (see
//! the parent module).

use std::time::UNIX_EPOCH;

use redb::{Database, ReadableTable, TableDefinition};

use super::super::error::StoreError;
use super::super::record;

pub(super) const RECORDS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("idempotency_records_v1");
pub(super) const COMPLETED: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("idempotency_completed_v2");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("ipalloc_meta");
pub(super) const SPEND: TableDefinition<&str, &[u8]> =
    TableDefinition::new("spend_reservations_v1");
pub(super) const SPEND_WINDOWS: TableDefinition<(&str, u64, &str), u64> =
    TableDefinition::new("spend_windows_v1");

pub(crate) const INVENTORY_ENTRIES: TableDefinition<(u64, &str, &str), &[u8]> =
    TableDefinition::new("inventory_entries_v1");
pub(crate) const INVENTORY_IDS: TableDefinition<(&str, &str), (u64, Option<u64>)> =
    TableDefinition::new("inventory_ids_v1");
pub(crate) const INVENTORY_RELEASED: TableDefinition<(u64, u64, &str, &str), ()> =
    TableDefinition::new("inventory_released_v1");

pub(super) const FORMAT_KEY: &str = "format";
pub(super) const FORMAT: &[u8] = b"ipalloc-gateway idempotency store";
const SCHEMA_KEY: &str = "schema";
const SCHEMA: u8 = 2;

/// The records table in a write transaction.
pub(super) type Records<'txn> = redb::Table<'txn, &'static str, &'static [u8]>;
/// The eviction index in a write transaction.
pub(super) type Index<'txn> = redb::Table<'txn, (u64, &'static str), ()>;

pub(super) fn record_cost(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len() + 16) as u64
}

pub(super) fn index_cost(key: &str) -> u64 {
    (key.len() + 24) as u64
}

/// The index time of a record: its completion in ns since the epoch, when
/// it is completed.
pub(super) fn completed_at(bytes: &[u8]) -> Option<u64> {
    let header = record::header(bytes).ok()?;
    header.completed.then(|| {
        header
            .activity
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    })
}

/// What the records of a record cost, with its index entry.
pub(super) fn full_cost(key: &str, value: &[u8]) -> (u64, bool) {
    match completed_at(value) {
        Some(_) => (record_cost(key, value) + index_cost(key), true),
        None => (record_cost(key, value), false),
    }
}

/// Sets up the tables of a new or older store (schema 1: records only).
pub(super) fn initialize(db: &Database, location: &str) -> Result<(), StoreError> {
    let fail = |op: &'static str| {
        move |e: redb::Error| StoreError::Database {
            location: location.to_owned(),
            op,
            source: Box::new(e),
        }
    };
    let txn = db.begin_write().map_err(|e| fail("initialize")(e.into()))?;
    {
        let records = txn
            .open_table(RECORDS)
            .map_err(|e| fail("initialize")(e.into()))?;
        let mut index = txn
            .open_table(COMPLETED)
            .map_err(|e| fail("initialize")(e.into()))?;
        let mut meta = txn
            .open_table(META)
            .map_err(|e| fail("initialize")(e.into()))?;
        let schema = meta
            .get(SCHEMA_KEY)
            .map_err(|e| fail("initialize")(e.into()))?
            .map(|v| v.value().first().copied().unwrap_or(0));
        if schema != Some(SCHEMA) {
            // Build the eviction index of a schema 1 file.
            for entry in records.iter().map_err(|e| fail("migrate")(e.into()))? {
                let (key, value) = entry.map_err(|e| fail("migrate")(e.into()))?;
                if let Some(at) = completed_at(value.value()) {
                    index
                        .insert((at, key.value()), ())
                        .map_err(|e| fail("migrate")(e.into()))?;
                }
            }
            meta.insert(FORMAT_KEY, FORMAT)
                .map_err(|e| fail("initialize")(e.into()))?;
            meta.insert(SCHEMA_KEY, [SCHEMA].as_slice())
                .map_err(|e| fail("initialize")(e.into()))?;
        }
    }
    txn.commit().map_err(|e| fail("initialize")(e.into()))
}
