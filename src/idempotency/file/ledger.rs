//! The spend ledger in the redb file: its two tables (see `schema`) inside
//! a write transaction (a batch of the committer, or a check of its own),
//! committed (fsync) only when a change reserved or released something.

use std::sync::Arc;

use redb::{ReadableTable, Table, WriteTransaction};

use super::super::error::StoreError;
use super::super::spend::{LedgerChange, LedgerTables, Reservation, WindowRow};
use super::Shared;
use super::schema::{SPEND, SPEND_WINDOWS};

/// The ledger's tables in a write transaction.
struct RedbLedger<'txn, 's> {
    reservations: Table<'txn, &'static str, &'static [u8]>,
    windows: Table<'txn, (&'static str, u64, &'static str), u64>,
    shared: &'s Shared,
    op: &'static str,
}

impl RedbLedger<'_, '_> {
    fn fail(&self, e: impl Into<redb::Error>) -> StoreError {
        self.shared.db_error(self.op, e)
    }

    /// (time, id) of `scope`'s rows from `from_ns` on, while `keep` says so.
    fn rows(
        &self,
        scope: &str,
        from_ns: u64,
        mut keep: impl FnMut(u64) -> bool,
    ) -> Result<Vec<(u64, u64, String)>, StoreError> {
        let mut out = Vec::new();
        for row in self
            .windows
            .range((scope, from_ns, "")..)
            .map_err(|e| self.fail(e))?
        {
            let (key, amount) = row.map_err(|e| self.fail(e))?;
            let (row_scope, at, id) = key.value();
            if row_scope != scope || !keep(at) {
                break;
            }
            out.push((at, amount.value(), id.to_owned()));
        }
        Ok(out)
    }
}

impl LedgerTables for RedbLedger<'_, '_> {
    fn window(&self, scope: &str, after_ns: u64) -> Result<Vec<WindowRow>, StoreError> {
        match after_ns.checked_add(1) {
            Some(from) => self.rows(scope, from, |_| true),
            None => Ok(Vec::new()),
        }
    }

    fn older(&self, scope: &str, before_ns: u64) -> Result<Vec<String>, StoreError> {
        let rows = self.rows(scope, 0, |at| at <= before_ns)?;
        Ok(rows.into_iter().map(|(_, _, id)| id).collect())
    }

    fn put(&mut self, id: &str, reservation: &Reservation) -> Result<(), StoreError> {
        for scope in &reservation.scopes {
            self.windows
                .insert((scope.as_str(), reservation.at_ns, id), reservation.amount)
                .map_err(|e| self.shared.db_error(self.op, e))?;
        }
        self.reservations
            .insert(id, reservation.encode().as_slice())
            .map_err(|e| self.shared.db_error(self.op, e))?;
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        let old = self
            .reservations
            .remove(id)
            .map_err(|e| self.shared.db_error(self.op, e))?
            .map(|v| v.value().to_vec());
        let Some(old) = old else {
            return Ok(false);
        };
        // An undecodable entry loses its index rows to the purge instead.
        if let Some(old) = Reservation::decode(&old) {
            for scope in &old.scopes {
                self.windows
                    .remove((scope.as_str(), old.at_ns, id))
                    .map_err(|e| self.shared.db_error(self.op, e))?;
            }
        }
        Ok(true)
    }
}

impl Shared {
    /// One change of the ledger in its own durable write transaction (the
    /// store's ledger changes go through the committer, `committer`; this
    /// serves the checks, whose transaction is never kept).
    pub(super) fn ledger(
        self: &Arc<Self>,
        op: &'static str,
        change: &mut LedgerChange<'_>,
    ) -> Result<(), StoreError> {
        let shared = self;
        shared.with_db(|db| {
            let txn = db.begin_write().map_err(|e| shared.db_error(op, e))?;
            if shared.ledger_in(&txn, op, change)? {
                txn.commit().map_err(|e| shared.db_error(op, e))
            } else {
                txn.abort().map_err(|e| shared.db_error(op, e))
            }
        })
    }

    /// Runs `change` on the ledger's tables inside `txn`; returns whether it
    /// wrote anything (a change that answers `false` writes nothing).
    pub(super) fn ledger_in(
        &self,
        txn: &WriteTransaction,
        op: &'static str,
        change: &mut LedgerChange<'_>,
    ) -> Result<bool, StoreError> {
        let mut tables = RedbLedger {
            reservations: txn.open_table(SPEND).map_err(|e| self.db_error(op, e))?,
            windows: txn
                .open_table(SPEND_WINDOWS)
                .map_err(|e| self.db_error(op, e))?,
            shared: self,
            op,
        };
        change(&mut tables)
    }
}
