//! Idempotency records shared by every replica, in PostgreSQL: one row per
//! (provider account, key), changed only by the functions of the schema
//! (`sql/0001_fleet.sql`), each one round trip.
//!
//! **Leases and fencing.** A claim that starts or takes over a key leases it
//! to this replica until `now + lease` (the database's clock) and hands out
//! a fencing token, one more than the row's last. Every later write names
//! that token and changes nothing once another replica has taken the key
//! over ([`Written::Fenced`]), so a replica that was frozen or partitioned
//! past its lease cannot overwrite the record of the one that took over.
//! The holder never sends past its lease: the allocation flow caps each
//! provider call's deadline at [`Lease::until`] (a monotonic instant taken
//! before the claim, so never later than the database's expiry).
//!
//! The states and their meaning are those of the single-node store (see
//! `idempotency::store`); what fleet mode adds is `Begin::Busy` (another
//! replica holds a live lease) and the takeover of an abandoned key.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::database::Database;
use super::error::ClusterError;
use super::inventory::RecordRows;
use crate::idempotency::{Begin, Fingerprint, Record};

/// A key leased to this replica: the fencing token its writes carry and
/// when the lease ends (on this process's monotonic clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub fence: i64,
    pub until: Instant,
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Ok,
    /// Another replica took the key over (a newer fencing token): nothing
    /// was written.
    Fenced,
    /// The record does not allow it (already completed, with another
    /// response): nothing was written.
    Conflict,
}

/// The shared records of one fleet.
#[derive(Debug, Clone)]
pub struct SharedRecords {
    db: Database,
    owner: String,
    lease: Duration,
    retention: Duration,
}

const CLAIM: &str = "SELECT outcome, fence, state, fp_hash, fp_provider, fp_params, response, \
                     created, last_attempt, wait_ms FROM ipalloc_claim($1, $2, $3, $4, $5, $6, $7, $8)";
const COMPLETE: &str = "SELECT ipalloc_complete($1, $2, $3, $4, $5, $6, $7, $8, $9)";
/// [`COMPLETE`] with the inventory rows of the allocation ($10..$19).
static COMPLETE_RECORDING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH inventory AS ({}) {COMPLETE}",
        super::inventory::record_from(10)
    )
});
const MARK_UNKNOWN: &str = "SELECT ipalloc_mark_unknown($1, $2, $3, $4, $5, $6, $7)";
const MARK_ATTEMPT: &str = "SELECT ipalloc_mark_attempt($1, $2, $3, $4, $5, $6)";
const RELEASE: &str = "SELECT ipalloc_release($1, $2, $3)";
const END_LEASE: &str = "UPDATE ipalloc_records SET lease_owner = NULL, lease_expires = NULL \
                         WHERE account = $1 AND key = $2 AND fence = $3 AND lease_owner = $4";

/// RETURNING: a changed row shows in the answer.
const REFRESH: &str = "UPDATE ipalloc_records SET response = $4, updated = clock_timestamp() \
                       WHERE account = $1 AND key = $2 AND fingerprint_hash = $3 \
                       AND state = 'completed' AND expires > clock_timestamp() RETURNING 1";
const GET: &str = "SELECT state, fingerprint_hash, fingerprint_provider, fingerprint_params, \
                   response, created, last_attempt, completed FROM ipalloc_records \
                   WHERE account = $1 AND key = $2 AND expires > clock_timestamp()";
const PURGE: &str = "SELECT ipalloc_purge($1)";

/// Most records one purge statement removes.
const PURGE_BATCH: i32 = 1000;

impl SharedRecords {
    /// Records in `db`, leased to `owner` for `lease` at a time, kept for
    /// `retention` after their last activity.
    pub fn new(db: Database, owner: String, lease: Duration, retention: Duration) -> Self {
        SharedRecords {
            db,
            owner,
            lease,
            retention,
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// This replica's name in leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How long a lease lasts.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How long records are kept after their last activity (released
    /// allocations stay in the inventory as long).
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    fn retention_s(&self) -> i64 {
        i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX)
    }

    /// Claims `key` of `account` (one round trip): see `ipalloc_claim`. A
    /// lease comes with `Started` and with a takeover (`InFlight` or
    /// `Unknown`, which the caller reconciles before sending anything).
    pub async fn claim(
        &self,
        account: &str,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> Result<(Begin, Option<Lease>), ClusterError> {
        let op = "claim";
        let asked = Instant::now();
        let hash: &[u8] = fingerprint.hash();
        let params = flatten(fingerprint);
        let row = self
            .db
            .query_one(
                op,
                CLAIM,
                &[
                    &account,
                    &key,
                    &hash,
                    &fingerprint.provider(),
                    &params,
                    &self.owner,
                    &self.lease_ms(),
                    &self.retention_s(),
                ],
            )
            .await?;
        let outcome: String = get(op, &row, "outcome")?;
        let fence: i64 = get(op, &row, "fence")?;
        let lease = Some(Lease {
            fence,
            until: asked + self.lease,
        });
        Ok(match outcome.as_str() {
            "started" => (Begin::Started, lease),
            "completed" => {
                let response: Option<Vec<u8>> = get(op, &row, "response")?;
                (Begin::Completed(response.unwrap_or_default()), None)
            }
            "mismatch" => (
                Begin::Mismatch {
                    stored: stored_fingerprint(op, &row, "fp_hash", "fp_provider", "fp_params")?,
                },
                None,
            ),
            "busy" => {
                let wait_ms: i64 = get(op, &row, "wait_ms")?;
                let retry_after = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1));
                (Begin::Busy { retry_after }, None)
            }
            "taken_over" => {
                let state: String = get(op, &row, "state")?;
                let last_attempt: SystemTime = get(op, &row, "last_attempt")?;
                let created: SystemTime = get(op, &row, "created")?;
                let begin = match state.as_str() {
                    "in_flight" => Begin::InFlight {
                        attempt_started: last_attempt,
                        created,
                    },
                    _ => Begin::Unknown {
                        last_attempt,
                        created,
                    },
                };
                (begin, lease)
            }
            other => {
                return Err(ClusterError::Unexpected {
                    op,
                    detail: format!("outcome {other:?}"),
                });
            }
        })
    }

    /// Records the success of the lease holder (see `ipalloc_complete`);
    /// with `inventory`, the allocations go into the inventory in the same
    /// statement (one round trip for both; the rows are written even when
    /// the completion is fenced: the allocation was made either way).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        account: &str,
        key: &str,
        lease: &Lease,
        fingerprint: &Fingerprint,
        response: &[u8],
        request_ids: &[String],
        inventory: Option<&RecordRows<'_>>,
    ) -> Result<Written, ClusterError> {
        let hash: &[u8] = fingerprint.hash();
        let params = flatten(fingerprint);
        let retention = self.retention_s();
        let provider = fingerprint.provider();
        let completion: [&(dyn ToSql + Sync); 9] = [
            &account,
            &key,
            &lease.fence,
            &hash,
            &provider,
            &params,
            &response,
            &request_ids,
            &retention,
        ];
        let row = match inventory {
            None => self.db.query_one("complete", COMPLETE, &completion).await?,
            Some(rows) => {
                let rows = rows.refs();
                let all: Vec<&(dyn ToSql + Sync)> =
                    completion.iter().chain(rows.iter()).copied().collect();
                self.db
                    .query_one("complete", COMPLETE_RECORDING.as_str(), &all)
                    .await?
            }
        };
        written("complete", &row)
    }

    /// The lease holder's attempt has an unknown outcome.
    pub async fn mark_unknown(
        &self,
        account: &str,
        key: &str,
        lease: &Lease,
        fingerprint: &Fingerprint,
    ) -> Result<Written, ClusterError> {
        let hash: &[u8] = fingerprint.hash();
        let params = flatten(fingerprint);
        let row = self
            .db
            .query_one(
                "mark unknown",
                MARK_UNKNOWN,
                &[
                    &account,
                    &key,
                    &lease.fence,
                    &hash,
                    &fingerprint.provider(),
                    &params,
                    &self.retention_s(),
                ],
            )
            .await?;
        written("mark unknown", &row)
    }

    /// The lease holder sends again: a new attempt, the lease renewed (and
    /// `lease.until` with it).
    pub async fn mark_attempt(
        &self,
        account: &str,
        key: &str,
        lease: &mut Lease,
    ) -> Result<Written, ClusterError> {
        let asked = Instant::now();
        let row = self
            .db
            .query_one(
                "mark attempt",
                MARK_ATTEMPT,
                &[
                    &account,
                    &key,
                    &lease.fence,
                    &self.owner,
                    &self.lease_ms(),
                    &self.retention_s(),
                ],
            )
            .await?;
        let outcome = written("mark attempt", &row)?;
        if outcome == Written::Ok {
            lease.until = asked + self.lease;
        }
        Ok(outcome)
    }

    /// A definite failure: the key is freed.
    pub async fn release(
        &self,
        account: &str,
        key: &str,
        lease: &Lease,
    ) -> Result<Written, ClusterError> {
        let row = self
            .db
            .query_one("release", RELEASE, &[&account, &key, &lease.fence])
            .await?;
        written("release", &row)
    }

    /// Gives the lease up (the record stays as it is), so the next call for
    /// the key on any replica takes it over at once instead of waiting for
    /// the lease to run out. A lease already taken over is left alone.
    pub async fn end_lease(
        &self,
        account: &str,
        key: &str,
        lease: &Lease,
    ) -> Result<(), ClusterError> {
        self.db
            .query(
                "end lease",
                END_LEASE,
                &[&account, &key, &lease.fence, &self.owner],
            )
            .await
            .map(drop)
    }

    /// Replaces the response of a live completed record with these
    /// parameters; false when there is none.
    pub async fn refresh_completed(
        &self,
        account: &str,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
    ) -> Result<bool, ClusterError> {
        let hash: &[u8] = fingerprint.hash();
        let rows = self
            .db
            .query("refresh", REFRESH, &[&account, &key, &hash, &response])
            .await?;
        Ok(!rows.is_empty())
    }

    /// The live record of `key`, if any.
    pub async fn get(&self, account: &str, key: &str) -> Result<Option<Record>, ClusterError> {
        let op = "get";
        let rows = self.db.query(op, GET, &[&account, &key]).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let state: String = get(op, row, "state")?;
        let fingerprint = stored_fingerprint(
            op,
            row,
            "fingerprint_hash",
            "fingerprint_provider",
            "fingerprint_params",
        )?;
        let created: SystemTime = get(op, row, "created")?;
        let last_attempt: SystemTime = get(op, row, "last_attempt")?;
        Ok(Some(match state.as_str() {
            "in_flight" => Record::InFlight {
                fingerprint,
                attempt_started: last_attempt,
                created,
            },
            "unknown" => Record::Unknown {
                fingerprint,
                last_attempt,
                created,
            },
            _ => {
                let response: Option<Vec<u8>> = get(op, row, "response")?;
                let completed: Option<SystemTime> = get(op, row, "completed")?;
                Record::Completed {
                    fingerprint,
                    response: response.unwrap_or_default(),
                    created,
                    completed: completed.unwrap_or(last_attempt),
                }
            }
        }))
    }

    /// Removes expired records in batches, when no other replica is doing
    /// so; returns how many (bounded: at most 100 batches per call).
    pub async fn purge_expired(&self) -> Result<u64, ClusterError> {
        let mut removed = 0u64;
        for _ in 0..100 {
            let row = self.db.query_one("purge", PURGE, &[&PURGE_BATCH]).await?;
            let n: i32 = get("purge", &row, "ipalloc_purge")?;
            if n < 0 {
                // Another replica is purging.
                break;
            }
            removed += u64::try_from(n).unwrap_or(0);
            if n < PURGE_BATCH {
                break;
            }
        }
        Ok(removed)
    }
}

/// The fingerprint's parameters as name, value, name, value, ...
fn flatten(fingerprint: &Fingerprint) -> Vec<&str> {
    let mut out = Vec::with_capacity(fingerprint.params().len() * 2);
    for (name, value) in fingerprint.params() {
        out.push(name.as_ref());
        out.push(value.as_str());
    }
    out
}

fn stored_fingerprint(
    op: &'static str,
    row: &Row,
    hash: &str,
    provider: &str,
    params: &str,
) -> Result<Fingerprint, ClusterError> {
    let hash: Vec<u8> = get(op, row, hash)?;
    let hash = <[u8; crate::idempotency::FINGERPRINT_HASH_BYTES]>::try_from(hash.as_slice())
        .map_err(|_| ClusterError::Unexpected {
            op,
            detail: "a fingerprint hash of the wrong length".to_owned(),
        })?;
    let provider: String = get(op, row, provider)?;
    let flat: Vec<String> = get(op, row, params)?;
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut values = flat.into_iter();
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        pairs.push((name, value));
    }
    Ok(Fingerprint::from_parts(hash, provider, pairs))
}

fn written(op: &'static str, row: &Row) -> Result<Written, ClusterError> {
    let outcome: String = row
        .try_get(0)
        .map_err(|e| ClusterError::from_postgres(op, &e))?;
    match outcome.as_str() {
        "ok" => Ok(Written::Ok),
        "fenced" => Ok(Written::Fenced),
        "conflict" => Ok(Written::Conflict),
        other => Err(ClusterError::Unexpected {
            op,
            detail: format!("outcome {other:?}"),
        }),
    }
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    op: &'static str,
    row: &'a Row,
    column: &str,
) -> Result<T, ClusterError> {
    row.try_get(column)
        .map_err(|e| ClusterError::from_postgres(op, &e))
}
