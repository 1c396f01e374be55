//! The spend ledger every replica shares (see `crate::spend`): a
//! reservation is one call of `ipalloc_reserve_spend` (`sql/0002_spend.sql`),
//! which checks every limited window of its scopes and writes the rows in
//! one transaction, serialized per scope; a release deletes the key's rows.

use std::time::Duration;

use super::error::ClusterError;
use super::records::SharedRecords;
use crate::spend::{SpendOutcome, SpendRefusal, SpendRequest, Window};

const RESERVE: &str = "SELECT reserved, spend_scope, spend_window, spend_limit, spend_used, \
                       wait_ms FROM ipalloc_reserve_spend($1, $2, $3, $4, $5, $6, $7)";
const RELEASE: &str = "DELETE FROM ipalloc_spend WHERE account = $1 AND key = $2";

impl SharedRecords {
    /// Reserves `request` if it fits its limits, on the database's clock
    /// moved `ahead` (zero but in tests).
    pub async fn reserve_spend(
        &self,
        request: &SpendRequest<'_>,
        ahead: Duration,
    ) -> Result<SpendOutcome, ClusterError> {
        let op = "reserve spend";
        let p = Params::of(request, ahead);
        let row = self
            .database()
            .query_one(op, RESERVE, &p.refs(request))
            .await?;
        outcome(op, &row, request)
    }

    /// Whether `request` would fit its limits now, reserving nothing: the
    /// reservation is made in a transaction that is rolled back (so the
    /// same rule decides, and nothing is ever visible to others).
    pub async fn check_spend(
        &self,
        request: &SpendRequest<'_>,
        ahead: Duration,
    ) -> Result<SpendOutcome, ClusterError> {
        let op = "check spend";
        let failed = |e: tokio_postgres::Error| ClusterError::from_postgres(op, &e);
        let p = Params::of(request, ahead);
        let mut client = self.database().dedicated().await?;
        let tx = client.transaction().await.map_err(failed)?;
        let row = tx
            .query_one(RESERVE, &p.refs(request))
            .await
            .map_err(failed)?;
        tx.rollback().await.map_err(failed)?;
        outcome(op, &row, request)
    }

    /// Releases the reservation of `key` on `account` (a definite failure).
    pub async fn release_spend(&self, account: &str, key: &str) -> Result<(), ClusterError> {
        self.database()
            .query("release spend", RELEASE, &[&account, &key])
            .await
            .map(drop)
    }
}

/// The parameters of `ipalloc_reserve_spend` besides account and key.
struct Params {
    scopes: Vec<String>,
    hour: Vec<i64>,
    day: Vec<i64>,
    amount: i64,
    ahead_ms: i64,
}

impl Params {
    fn of(request: &SpendRequest<'_>, ahead: Duration) -> Params {
        let limit = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        Params {
            scopes: request.scopes.iter().map(|s| s.key()).collect(),
            hour: request
                .scopes
                .iter()
                .map(|s| limit(s.limits.per_hour))
                .collect(),
            day: request
                .scopes
                .iter()
                .map(|s| limit(s.limits.per_day))
                .collect(),
            amount: i64::try_from(request.addresses).unwrap_or(i64::MAX),
            ahead_ms: i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn refs<'a>(
        &'a self,
        request: &'a SpendRequest<'_>,
    ) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 7] {
        [
            &request.account,
            &request.key,
            &self.scopes,
            &self.hour,
            &self.day,
            &self.amount,
            &self.ahead_ms,
        ]
    }
}

/// The outcome in a row of `ipalloc_reserve_spend`.
fn outcome(
    op: &'static str,
    row: &tokio_postgres::Row,
    request: &SpendRequest<'_>,
) -> Result<SpendOutcome, ClusterError> {
    let field = |e: tokio_postgres::Error| ClusterError::from_postgres(op, &e);
    let reserved: bool = row.try_get(0).map_err(field)?;
    if reserved {
        return Ok(SpendOutcome::Reserved);
    }
    let scope_key: String = row.try_get(1).map_err(field)?;
    let window: String = row.try_get(2).map_err(field)?;
    let spend_limit: i64 = row.try_get(3).map_err(field)?;
    let used: i64 = row.try_get(4).map_err(field)?;
    let wait_ms: i64 = row.try_get(5).map_err(field)?;
    let unexpected = |detail: String| ClusterError::Unexpected { op, detail };
    let scope = request
        .scopes
        .iter()
        .find(|s| s.key() == scope_key)
        .ok_or_else(|| unexpected("a refusal naming no scope of the request".to_owned()))?;
    let window = match window.as_str() {
        "hour" => Window::Hour,
        "day" => Window::Day,
        other => return Err(unexpected(format!("window {other:?}"))),
    };
    Ok(SpendOutcome::Refused(SpendRefusal {
        scope: scope.kind,
        name: scope.name.clone(),
        window,
        limit: u64::try_from(spend_limit).unwrap_or(0),
        used: u64::try_from(used).unwrap_or(0),
        requested: request.addresses,
        // Negative: it never fits.
        retry_after: u64::try_from(wait_ms).ok().map(Duration::from_millis),
    }))
}
