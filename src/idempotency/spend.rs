//! The single-node spend ledger (see `crate::spend`): one reservation per
//! (account, idempotency key), indexed by scope and time, kept next to the
//! records (in memory, or in the redb file where it survives restarts).
//!
//! A reservation is checked and written in one atomic change of the
//! backend (a redb write transaction, or the memory ledger under its
//! lock), so two calls cannot both take the last addresses of a window.
//! The rule is [`crate::spend::check`], per scope and window (the refusal
//! answered is the one that frees last: [`SpendRefusal::outranks`]); the
//! key's own earlier reservation (a re-send after an unknown outcome) is
//! left out of the count and replaced. Reservations older than the longest window are
//! purged from the scopes a reservation touches.

use super::error::StoreError;
use crate::spend::{self, LONGEST_WINDOW, SpendOutcome, SpendRefusal, SpendRequest, Window, nanos};

/// One reservation as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reservation {
    /// When it was made, in ns since the epoch.
    pub at_ns: u64,
    /// Addresses it counts.
    pub amount: u64,
    /// The keys of the scopes it is counted in.
    pub scopes: Vec<String>,
}

impl Reservation {
    /// `[at: u64 LE][amount: u64 LE][scope]\0[scope]...`
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(16 + self.scopes.iter().map(|s| s.len() + 1).sum::<usize>());
        out.extend_from_slice(&self.at_ns.to_le_bytes());
        out.extend_from_slice(&self.amount.to_le_bytes());
        out.extend_from_slice(self.scopes.join("\0").as_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Reservation> {
        let at_ns = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let amount = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let scopes = std::str::from_utf8(bytes.get(16..)?).ok()?;
        let scopes = if scopes.is_empty() {
            Vec::new()
        } else {
            scopes.split('\0').map(str::to_owned).collect()
        };
        Some(Reservation {
            at_ns,
            amount,
            scopes,
        })
    }
}

/// A reservation's row in a scope's window: (time in ns, amount, id).
pub(crate) type WindowRow = (u64, u64, String);

/// The ledger's tables inside one atomic change.
pub(crate) trait LedgerTables {
    /// `scope`'s reservations made after `after_ns`, oldest first.
    fn window(&self, scope: &str, after_ns: u64) -> Result<Vec<WindowRow>, StoreError>;
    /// The ids of `scope`'s reservations made at or before `before_ns`.
    fn older(&self, scope: &str, before_ns: u64) -> Result<Vec<String>, StoreError>;
    /// Stores `reservation` as `id`, indexed in each of its scopes (`id`
    /// must be absent).
    fn put(&mut self, id: &str, reservation: &Reservation) -> Result<(), StoreError>;
    /// Removes `id` and its index rows; whether it was there.
    fn remove(&mut self, id: &str) -> Result<bool, StoreError>;
}

/// One change of the ledger: `true` keeps what it wrote.
pub(crate) type LedgerChange<'a> =
    dyn FnMut(&mut dyn LedgerTables) -> Result<bool, StoreError> + 'a;

/// Checks `request` against every limited window of its scopes at `now_ns`
/// and, when it fits everywhere, reserves it (replacing the key's own
/// earlier reservation). Returns the outcome and whether anything changed.
pub(crate) fn reserve(
    tables: &mut dyn LedgerTables,
    request: &SpendRequest<'_>,
    now_ns: u64,
) -> Result<(SpendOutcome, bool), StoreError> {
    if let Some(refusal) = decide(tables, request, now_ns)? {
        return Ok((SpendOutcome::Refused(refusal), false));
    }
    let id = request.id();
    tables.remove(&id)?;
    let scopes: Vec<String> = request.scopes.iter().map(|s| s.key()).collect();
    tables.put(
        &id,
        &Reservation {
            at_ns: now_ns,
            amount: request.addresses,
            scopes: scopes.clone(),
        },
    )?;
    let before = now_ns.saturating_sub(nanos(LONGEST_WINDOW));
    for scope in &scopes {
        for old in tables.older(scope, before)? {
            tables.remove(&old)?;
        }
    }
    Ok((SpendOutcome::Reserved, true))
}

/// The refusal `request` gets at `now_ns` (the one that frees last), or
/// `None` when it fits every limited window; changes nothing.
pub(crate) fn decide(
    tables: &dyn LedgerTables,
    request: &SpendRequest<'_>,
    now_ns: u64,
) -> Result<Option<SpendRefusal>, StoreError> {
    let id = request.id();
    let mut refused: Option<SpendRefusal> = None;
    for scope in request.scopes {
        let key = scope.key();
        for window in Window::ALL {
            let Some(limit) = scope.limits.get(window) else {
                continue;
            };
            let after = now_ns.saturating_sub(nanos(window.length()));
            let rows: Vec<(u64, u64)> = tables
                .window(&key, after)?
                .into_iter()
                .filter(|(_, _, row)| *row != id)
                .map(|(at, amount, _)| (at, amount))
                .collect();
            if let Some((used, retry_after)) =
                spend::check(&rows, now_ns, window, limit, request.addresses)
            {
                let refusal = SpendRefusal {
                    scope: scope.kind,
                    name: scope.name.clone(),
                    window,
                    limit,
                    used,
                    requested: request.addresses,
                    retry_after,
                };
                if refused.as_ref().is_none_or(|worst| refusal.outranks(worst)) {
                    refused = Some(refusal);
                }
            }
        }
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_survives_its_encoding() {
        for scopes in [
            vec![],
            vec!["account:zl".to_owned(), "caller:app".to_owned()],
        ] {
            let r = Reservation {
                at_ns: 1_700_000_000_123_456_789,
                amount: 100,
                scopes,
            };
            assert_eq!(Reservation::decode(&r.encode()), Some(r));
        }
        assert_eq!(Reservation::decode(b"short"), None);
    }
}
