//! The spend ledger of the in-memory store: reservations by id and an
//! ordered index of (scope, time, id), under one mutex (lost on restart,
//! like the records).

use std::collections::{BTreeSet, HashMap};

use super::super::error::StoreError;
use super::super::spend::{LedgerTables, Reservation, WindowRow};

/// Reservations and their index.
#[derive(Debug, Default)]
pub(crate) struct MemoryLedger {
    reservations: HashMap<String, Reservation>,
    index: BTreeSet<(String, u64, String)>,
}

impl MemoryLedger {
    /// The index rows of `scope` from `from_ns` (inclusive) on.
    fn rows_from(&self, scope: &str, from_ns: u64) -> impl Iterator<Item = &(String, u64, String)> {
        self.index
            .range((scope.to_owned(), from_ns, String::new())..)
            .take_while(move |(s, _, _)| s == scope)
    }
}

impl LedgerTables for MemoryLedger {
    fn window(&self, scope: &str, after_ns: u64) -> Result<Vec<WindowRow>, StoreError> {
        let Some(from) = after_ns.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(self
            .rows_from(scope, from)
            .filter_map(|(_, at, id)| {
                let amount = self.reservations.get(id)?.amount;
                Some((*at, amount, id.clone()))
            })
            .collect())
    }

    fn older(&self, scope: &str, before_ns: u64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .rows_from(scope, 0)
            .take_while(|(_, at, _)| *at <= before_ns)
            .map(|(_, _, id)| id.clone())
            .collect())
    }

    fn put(&mut self, id: &str, reservation: &Reservation) -> Result<(), StoreError> {
        for scope in &reservation.scopes {
            self.index
                .insert((scope.clone(), reservation.at_ns, id.to_owned()));
        }
        self.reservations.insert(id.to_owned(), reservation.clone());
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        let Some(old) = self.reservations.remove(id) else {
            return Ok(false);
        };
        for scope in old.scopes {
            self.index.remove(&(scope, old.at_ns, id.to_owned()));
        }
        Ok(true)
    }
}
