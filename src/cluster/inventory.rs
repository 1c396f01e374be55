//! The allocation inventory every replica shares (see `crate::inventory`):
//! the table `ipalloc_inventory` (`sql/0003_inventory.sql`), one row per
//! (account, id). Each method is one prepared statement (one round trip,
//! counted in [`Database::statements`], bounded by the statement timeout):
//! `record` inserts all its entries from arrays (a repeated (account, id)
//! replaces the row), `update` sets the states of all its allocations from
//! arrays, `page` reads at most `scan + 1` rows after the cursor in order,
//! with the filter evaluated in SQL, and answers only the rows the page
//! looks at (up to the row after the `limit`-th match).
//!
//! Unlike the single-node backends the table has no entry bound: the
//! database holds it, and `purge_released` removes released entries, in
//! batches of [`PURGE_BATCH`] (one statement each) so that a backlog never
//! runs into the statement timeout. A row
//! that cannot be decoded is an error naming it for `get`; `page` logs it
//! and goes on.

use std::collections::HashMap;
use std::time::SystemTime;

use tokio_postgres::Row;

use super::database::Database;
use super::error::ClusterError;
use crate::idempotency::StoreError;
use crate::inventory::encode::{
    decode_allocation, decode_tags, encode_allocation, encode_tags, from_nanos, kind_name, kind_of,
    nanos,
};
use crate::inventory::{Cursor, Entry, Filter, Page, from_millis, millis};
use crate::provider::{Allocation, AllocationState};

/// Where the shared inventory is, in messages.
const SHARED: &str = "the fleet database";

const RECORD: &str = "INSERT INTO ipalloc_inventory AS i (account, id, created_ms, kind, key, \
     caller, tags, allocation, state_ns, released_ns) \
     SELECT u.account, u.id, u.created_ms, u.kind, u.key, u.caller, u.tags::jsonb, \
            u.allocation, u.state_ns, u.released_ns \
     FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::bytea[], $9::int8[], $10::int8[]) \
          AS u(account, id, created_ms, kind, key, caller, tags, allocation, state_ns, released_ns) \
     ON CONFLICT (account, id) DO UPDATE SET created_ms = EXCLUDED.created_ms, \
         kind = EXCLUDED.kind, key = EXCLUDED.key, caller = EXCLUDED.caller, \
         tags = EXCLUDED.tags, allocation = EXCLUDED.allocation, \
         state_ns = EXCLUDED.state_ns, released_ns = EXCLUDED.released_ns";

const UPDATE: &str = "UPDATE ipalloc_inventory AS i SET allocation = u.allocation, state_ns = $2, \
     released_ns = CASE WHEN i.released_ns IS NULL AND u.released THEN $2 \
                        ELSE i.released_ns END \
     FROM unnest($3::text[], $4::bytea[], $5::bool[]) AS u(id, allocation, released) \
     WHERE i.account = $1 AND i.id = u.id";

const GET: &str = "SELECT created_ms, account, id, kind, key, caller, tags::text, allocation, \
                   state_ns, released_ns FROM ipalloc_inventory WHERE account = $1 AND id = $2";

/// $1..$3: the cursor; $4: rows to look at (scan + 1); $5: accounts (NULL:
/// all); $6: key prefix; $7: tags (JSON); $8: the page's limit. Answers the
/// looked-at rows in order, up to the one after the `$8`-th match; the data
/// columns only for matches.
const PAGE: &str = "WITH looked AS ( \
       SELECT *, ($5::text[] IS NULL OR account = ANY ($5::text[])) \
                 AND starts_with(key, $6::text) AND tags @> ($7::text)::jsonb AS hit \
       FROM ipalloc_inventory \
       WHERE (created_ms, account, id) > ($1::int8, $2::text, $3::text) \
       ORDER BY created_ms, account, id LIMIT $4::int8), \
     counted AS ( \
       SELECT *, row_number() OVER w AS n, count(*) FILTER (WHERE hit) OVER w AS hits \
       FROM looked WINDOW w AS (ORDER BY created_ms, account, id ROWS UNBOUNDED PRECEDING)) \
     SELECT hit, created_ms, account, id, \
            CASE WHEN hit THEN kind END, CASE WHEN hit THEN key END, \
            CASE WHEN hit THEN caller END, CASE WHEN hit THEN tags::text END, \
            CASE WHEN hit THEN allocation END, state_ns, released_ns \
     FROM counted \
     WHERE n <= coalesce((SELECT min(c.n) + 1 FROM counted AS c \
                          WHERE c.hit AND c.hits = $8::int8), $4::int8) \
     ORDER BY n";

/// One batch of the purge: the `$2` entries released longest before `$1`
/// (through the partial index on `released_ns`).
const PURGE: &str = "WITH gone AS (DELETE FROM ipalloc_inventory WHERE (account, id) IN ( \
       SELECT account, id FROM ipalloc_inventory \
       WHERE released_ns < $1 ORDER BY released_ns LIMIT $2) RETURNING 1) \
     SELECT count(*) FROM gone";

/// Entries one purge statement removes at most, so that a large backlog
/// does not run into the statement timeout.
pub const PURGE_BATCH: usize = 10_000;

/// Most purge statements of one `purge_released` (a backlog beyond is left
/// to the next purge).
const PURGE_STATEMENTS: usize = 100;
const LEN: &str = "SELECT count(*) FROM ipalloc_inventory";

/// The shared inventory of one fleet (cheap to clone).
#[derive(Debug, Clone)]
pub struct SharedInventory {
    db: Database,
    purge_batch: usize,
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn unavailable(error: ClusterError) -> StoreError {
    StoreError::Unavailable {
        location: SHARED.to_owned(),
        reason: error.to_string(),
    }
}

fn entry_name(account: &str, id: &str) -> String {
    format!("inventory entry {account}/{id}")
}

fn encode_error(entry: &Entry, reason: String) -> StoreError {
    StoreError::Encode {
        location: SHARED.to_owned(),
        key: entry_name(&entry.account, &entry.id),
        reason,
    }
}

/// The entry of `row` whose columns start at `at`, in the order of [`GET`]:
/// created_ms, account, id, kind, key, caller, tags, allocation, state_ns,
/// released_ns.
fn entry_of(row: &Row, at: usize) -> Result<Entry, String> {
    let field = |e: tokio_postgres::Error| e.to_string();
    let created_ms: i64 = row.try_get(at).map_err(field)?;
    let kind: String = row.try_get(at + 3).map_err(field)?;
    let tags: String = row.try_get(at + 6).map_err(field)?;
    let allocation: Vec<u8> = row.try_get(at + 7).map_err(field)?;
    let state_ns: i64 = row.try_get(at + 8).map_err(field)?;
    let released_ns: Option<i64> = row.try_get(at + 9).map_err(field)?;
    Ok(Entry {
        account: row.try_get(at + 1).map_err(field)?,
        id: row.try_get(at + 2).map_err(field)?,
        kind: kind_of(&kind)?,
        idempotency_key: row.try_get(at + 4).map_err(field)?,
        caller: row.try_get(at + 5).map_err(field)?,
        tags: decode_tags(&tags)?,
        created: from_millis(unsigned(created_ms)),
        allocation: decode_allocation(&allocation)?,
        state_time: from_nanos(unsigned(state_ns)),
        released: released_ns.map(|ns| from_nanos(unsigned(ns))),
    })
}

impl SharedInventory {
    /// The inventory in `db` (migrated to schema version 3 or later).
    pub fn new(db: Database) -> Self {
        SharedInventory {
            db,
            purge_batch: PURGE_BATCH,
        }
    }

    /// The same inventory purging at most `batch` entries per statement
    /// (at least 1; [`PURGE_BATCH`] by default).
    pub fn with_purge_batch(mut self, batch: usize) -> Self {
        self.purge_batch = batch.max(1);
        self
    }

    /// Records `entries` in one statement; a later entry of the same
    /// (account, id), in the batch or in the table, replaces the earlier.
    pub async fn record(&self, entries: &[Entry]) -> Result<(), StoreError> {
        // One row per (account, id): the last of the batch wins.
        let mut last: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            last.insert((e.account.as_str(), e.id.as_str()), i);
        }
        let mut order: Vec<usize> = last.into_values().collect();
        if order.is_empty() {
            return Ok(());
        }
        order.sort_unstable();
        let n = order.len();
        let (mut accounts, mut ids, mut created) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut kinds, mut keys, mut callers) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut tags, mut allocations, mut states, mut released) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for e in order.into_iter().filter_map(|i| entries.get(i)) {
            accounts.push(e.account.as_str());
            ids.push(e.id.as_str());
            created.push(signed(millis(e.created)));
            kinds.push(kind_name(e.kind));
            keys.push(e.idempotency_key.as_str());
            callers.push(e.caller.as_deref());
            tags.push(encode_tags(&e.tags).map_err(|r| encode_error(e, r))?);
            allocations.push(encode_allocation(&e.allocation).map_err(|r| encode_error(e, r))?);
            states.push(signed(nanos(e.state_time)));
            released.push(e.released.map(|t| signed(nanos(t))));
        }
        self.db
            .query(
                "inventory record",
                RECORD,
                &[
                    &accounts,
                    &ids,
                    &created,
                    &kinds,
                    &keys,
                    &callers,
                    &tags,
                    &allocations,
                    &states,
                    &released,
                ],
            )
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Stores the states of `allocations` read at `seen` for the entries of
    /// `account` they name, in one statement; a `Released` state sets the
    /// release time once.
    pub async fn update(
        &self,
        account: &str,
        allocations: &[Allocation],
        seen: SystemTime,
    ) -> Result<(), StoreError> {
        // One row per id: the last state, released if any said so.
        let mut by_id: HashMap<&str, (usize, bool)> = HashMap::new();
        for (i, a) in allocations.iter().enumerate() {
            let released = a.state == AllocationState::Released;
            let slot = by_id.entry(a.id.as_str()).or_insert((i, released));
            *slot = (i, slot.1 || released);
        }
        if by_id.is_empty() {
            return Ok(());
        }
        let (mut ids, mut states, mut released) = (Vec::new(), Vec::new(), Vec::new());
        for (id, (i, was_released)) in by_id {
            let Some(a) = allocations.get(i) else {
                continue;
            };
            let encoded = encode_allocation(a).map_err(|reason| StoreError::Encode {
                location: SHARED.to_owned(),
                key: entry_name(account, id),
                reason,
            })?;
            ids.push(id);
            states.push(encoded);
            released.push(was_released);
        }
        let seen_ns = signed(nanos(seen));
        self.db
            .query(
                "inventory update",
                UPDATE,
                &[&account, &seen_ns, &ids, &states, &released],
            )
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// The entry of `id` in `account`, if any.
    pub async fn get(&self, account: &str, id: &str) -> Result<Option<Entry>, StoreError> {
        let rows = self
            .db
            .query("inventory get", GET, &[&account, &id])
            .await
            .map_err(unavailable)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        entry_of(row, 0)
            .map(Some)
            .map_err(|reason| StoreError::CorruptRecord {
                location: SHARED.to_owned(),
                key: entry_name(account, id),
                reason,
            })
    }

    /// A page (see `crate::inventory::Inventory::page`), in one statement.
    pub async fn page(
        &self,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: usize,
        scan: usize,
    ) -> Result<Page, StoreError> {
        let (after_ms, after_account, after_id) = match after {
            Some(c) => (signed(c.created_ms), c.account.as_str(), c.id.as_str()),
            None => (-1, "", ""),
        };
        let looked = i64::try_from(scan).unwrap_or(i64::MAX).saturating_add(1);
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let tags = encode_tags(&filter.tags).map_err(|reason| StoreError::Encode {
            location: SHARED.to_owned(),
            key: "inventory filter".to_owned(),
            reason,
        })?;
        let rows = self
            .db
            .query(
                "inventory page",
                PAGE,
                &[
                    &after_ms,
                    &after_account,
                    &after_id,
                    &looked,
                    &filter.accounts,
                    &filter.key_prefix,
                    &tags,
                    &limit_sql,
                ],
            )
            .await
            .map_err(unavailable)?;
        let mut page = Page::default();
        let mut last = None;
        let mut unreadable = false;
        for (scanned, row) in rows.iter().enumerate() {
            if page.entries.len() >= limit || scanned >= scan {
                page.next = last;
                return Ok(page);
            }
            let field = |e: tokio_postgres::Error| {
                unavailable(ClusterError::from_postgres("inventory page", &e))
            };
            let hit: bool = row.try_get(0).map_err(field)?;
            let created_ms: i64 = row.try_get(1).map_err(field)?;
            let account: String = row.try_get(2).map_err(field)?;
            let id: String = row.try_get(3).map_err(field)?;
            if hit {
                match entry_of(row, 1) {
                    Ok(entry) => page.entries.push(entry),
                    Err(reason) => {
                        unreadable = true;
                        tracing::warn!(
                            entry = %entry_name(&account, &id),
                            %reason,
                            "an unreadable inventory entry is left out of the list"
                        );
                    }
                }
            }
            last = Some(Cursor {
                created_ms: unsigned(created_ms),
                account,
                id,
            });
        }
        // The statement stopped after the limit-th match it counted; with an
        // unreadable one among them, more may follow.
        if unreadable {
            page.next = last;
        }
        Ok(page)
    }

    /// Removes the entries released before `before`, oldest release
    /// first, in statements of at most the purge batch (at most
    /// `PURGE_STATEMENTS` of them: a larger backlog is left to the next
    /// purge); returns how many.
    pub async fn purge_released(&self, before: SystemTime) -> Result<usize, StoreError> {
        let before_ns = signed(nanos(before));
        let batch = i64::try_from(self.purge_batch).unwrap_or(i64::MAX);
        let mut removed = 0;
        for _ in 0..PURGE_STATEMENTS {
            let row = self
                .db
                .query_one("inventory purge", PURGE, &[&before_ns, &batch])
                .await
                .map_err(unavailable)?;
            let n = count(&row, "inventory purge")?;
            removed += n;
            if n < self.purge_batch {
                break;
            }
        }
        Ok(removed)
    }

    /// How many entries the table holds.
    pub async fn len(&self) -> Result<usize, StoreError> {
        let row = self
            .db
            .query_one("inventory len", LEN, &[])
            .await
            .map_err(unavailable)?;
        count(&row, "inventory len")
    }

    /// Whether the table holds no entry.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.len().await.map(|n| n == 0)
    }
}

fn count(row: &Row, op: &'static str) -> Result<usize, StoreError> {
    let n: i64 = row
        .try_get(0)
        .map_err(|e| unavailable(ClusterError::from_postgres(op, &e)))?;
    Ok(usize::try_from(n).unwrap_or(0))
}
