//! Where the allocation flow keeps its records: this process's
//! [`IdempotencyStore`] (memory or redb file), or, in fleet mode, the
//! PostgreSQL records every replica shares ([`SharedRecords`]). One async
//! interface over both, so the flow is written once.
//!
//! In fleet mode a claim that starts or takes over a key comes with a
//! [`Lease`]; each later write carries its fencing token and is refused
//! ([`StoreError::Fenced`]) once another replica took the key over. The
//! writes that record what happened to a call that was sent (`complete`,
//! `mark_unknown`) are retried while the database is unreachable, until
//! `until` (the caller's deadline or the lease's end); if they cannot be
//! made, the record stays leased, and the next call for the key, once the
//! lease ends, reconciles with the provider. The single-node store ignores
//! leases and accounts (its keys are per gateway).
//!
//! The spend ledger (`crate::spend`) lives where the records do.
//!
//! The fleet database's calls are awaited boxed (one allocation beside a
//! round trip): unboxed, their large futures would make every single-node
//! call's future as large, copied at each level of the allocation flow.

use std::time::{Duration, SystemTime};

use prost::Message as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Begin, Fingerprint, IdempotencyStore, Record, StoreError};
use crate::cluster::inventory::RecordRows;
use crate::cluster::{ClusterError, Lease, SharedRecords, Written};
use crate::inventory::Entry;
use crate::pb;
use crate::spend::{SpendClock, SpendOutcome, SpendRequest};

/// What a completion wrote besides the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// The allocation inventory's entries were written with it (fleet
    /// mode); otherwise the caller records them in its inventory.
    pub inventory_recorded: bool,
}

/// Where records live (cheap to clone).
#[derive(Debug, Clone)]
pub enum Records {
    Local(IdempotencyStore),
    Shared(SharedRecords),
}

/// Where the shared records are, in messages.
const SHARED: &str = "the fleet database";

/// First and longest pause between retries of a write while the database
/// is unreachable.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_LONGEST: Duration = Duration::from_secs(1);

impl Records {
    /// Where the records live, for messages.
    pub fn location(&self) -> &str {
        match self {
            Records::Local(store) => store.location(),
            Records::Shared(_) => SHARED,
        }
    }

    /// The single-node store, if that is where records live.
    pub fn local(&self) -> Option<&IdempotencyStore> {
        match self {
            Records::Local(store) => Some(store),
            Records::Shared(_) => None,
        }
    }

    /// Claims `key` of `account` (see [`IdempotencyStore::begin`] and
    /// [`SharedRecords::claim`]).
    pub async fn begin(
        &self,
        account: &str,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> Result<(Begin, Option<Lease>), StoreError> {
        match self {
            Records::Local(store) => store
                .begin_async(key, fingerprint, SystemTime::now())
                .await
                .map(|begin| (begin, None)),
            // Until this binary's schema is in place (a replica that
            // started while another was migrating), nothing is claimed, so
            // nothing is sent: a completion could not be recorded in full.
            Records::Shared(shared) if !shared.database().migrated() => {
                Err(StoreError::Unavailable {
                    location: SHARED.to_owned(),
                    reason: "its schema is not migrated to this gateway's version yet".to_owned(),
                })
            }
            Records::Shared(shared) => Box::pin(shared.claim(account, key, fingerprint))
                .await
                .map_err(unavailable),
        }
    }

    /// Records the success of `key`: the response duplicates will get (and,
    /// in fleet mode, the provider's request id); in fleet mode retried
    /// until `until` while the database is unreachable. Ends the lease.
    /// In fleet mode `inventory` is written in the same statement, on a file
    /// in the same durable commit ([`Completed::inventory_recorded`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        account: &str,
        key: &str,
        lease: Option<&Lease>,
        fingerprint: &Fingerprint,
        response: &pb::AllocateIpResponse,
        until: Option<Instant>,
        inventory: &[Entry],
    ) -> Result<Completed, StoreError> {
        let encoded = response.encode_to_vec();
        self.complete_encoded(
            account,
            key,
            lease,
            fingerprint,
            &encoded,
            &response.provider_request_id,
            until,
            inventory,
        )
        .await
    }

    /// [`Records::complete`] with the answer already encoded (any message:
    /// a ReleaseAllocation key stores its own answer) and its provider
    /// request id.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_encoded(
        &self,
        account: &str,
        key: &str,
        lease: Option<&Lease>,
        fingerprint: &Fingerprint,
        response: &[u8],
        request_id: &str,
        until: Option<Instant>,
        inventory: &[Entry],
    ) -> Result<Completed, StoreError> {
        match (self, lease) {
            (Records::Shared(shared), Some(lease)) => {
                let ids: Vec<String> = if request_id.is_empty() {
                    Vec::new()
                } else {
                    vec![request_id.to_owned()]
                };
                // The inventory rows ride with the completion: no round
                // trip of their own.
                let rows = RecordRows::of(inventory).unwrap_or_else(|e| {
                    tracing::warn!(key = %key, error = %e, "an inventory entry cannot be encoded");
                    None
                });
                let write = || {
                    shared.complete(
                        account,
                        key,
                        lease,
                        fingerprint,
                        response,
                        &ids,
                        rows.as_ref(),
                    )
                };
                written(
                    key,
                    "complete",
                    Box::pin(retried(write, until_for(until, lease))).await,
                )?;
                Ok(Completed {
                    inventory_recorded: rows.is_some(),
                })
            }
            (Records::Shared(_), None) => Err(no_lease(key, "complete")),
            (Records::Local(store), _) => {
                let now = SystemTime::now();
                // On a file, the inventory entries ride in the completion's
                // commit: one fsync for both.
                match store.redb().filter(|_| !inventory.is_empty()) {
                    Some(db) => {
                        let also = crate::inventory::FileInventory::new(db)
                            .record_with_completion(inventory.to_vec());
                        store
                            .complete_async_with(key, fingerprint, response, now, also)
                            .await?;
                        Ok(Completed {
                            inventory_recorded: true,
                        })
                    }
                    None => {
                        store
                            .complete_async(key, fingerprint, response, now)
                            .await?;
                        Ok(Completed {
                            inventory_recorded: false,
                        })
                    }
                }
            }
        }
    }

    /// Records that the attempt on `key` has an unknown outcome (retried
    /// like `complete`). The lease is kept.
    pub async fn mark_unknown(
        &self,
        account: &str,
        key: &str,
        lease: Option<&Lease>,
        fingerprint: &Fingerprint,
        until: Option<Instant>,
    ) -> Result<(), StoreError> {
        match (self, lease) {
            (Records::Shared(shared), Some(lease)) => {
                let write = || shared.mark_unknown(account, key, lease, fingerprint);
                let result = Box::pin(retried(write, until_for(until, lease))).await;
                written(key, "mark unknown", result)
            }
            (Records::Shared(_), None) => Err(no_lease(key, "mark unknown")),
            (Records::Local(store), _) => {
                store
                    .mark_unknown_async(key, fingerprint, SystemTime::now())
                    .await
            }
        }
    }

    /// Records a new attempt on `key` (a re-send after a reconciliation
    /// found nothing); renews the lease. Not retried: nothing was sent yet.
    pub async fn mark_attempt(
        &self,
        account: &str,
        key: &str,
        lease: Option<&mut Lease>,
        fingerprint: &Fingerprint,
    ) -> Result<(), StoreError> {
        match (self, lease) {
            (Records::Shared(shared), Some(lease)) => written(
                key,
                "mark attempt",
                Box::pin(shared.mark_attempt(account, key, lease)).await,
            ),
            (Records::Shared(_), None) => Err(no_lease(key, "mark attempt")),
            (Records::Local(store), _) => {
                store
                    .mark_attempt_async(key, fingerprint, SystemTime::now())
                    .await
            }
        }
    }

    /// Frees `key` after a definite failure. Ends the lease.
    pub async fn release(
        &self,
        account: &str,
        key: &str,
        lease: Option<&Lease>,
    ) -> Result<(), StoreError> {
        match (self, lease) {
            (Records::Shared(shared), Some(lease)) => {
                let result = Box::pin(shared.release(account, key, lease)).await;
                written(key, "release", result)
            }
            (Records::Shared(_), None) => Err(no_lease(key, "release")),
            (Records::Local(store), _) => store.release_async(key).await,
        }
    }

    /// Gives up a lease whose call ended without completing or freeing the
    /// key, so the next call anywhere takes it over at once.
    pub async fn end_lease(&self, account: &str, key: &str, lease: &Lease) {
        if let Records::Shared(shared) = self
            && let Err(e) = Box::pin(shared.end_lease(account, key, lease)).await
        {
            tracing::warn!(error = %e, key = %key, "could not give up a lease; it will run out");
        }
    }

    /// Replaces the response of `key`'s completed record (a replay or a
    /// wait saw a newer state).
    pub async fn refresh_completed(
        &self,
        account: &str,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
    ) -> Result<(), StoreError> {
        match self {
            Records::Local(store) => {
                store
                    .refresh_completed_async(key, fingerprint, response, SystemTime::now())
                    .await
            }
            Records::Shared(shared) => {
                match Box::pin(shared.refresh_completed(account, key, fingerprint, response)).await
                {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(StoreError::Conflict {
                        location: SHARED.to_owned(),
                        key: key.to_owned(),
                        op: "refresh",
                        reason: "it has no live completed record with these parameters".to_owned(),
                    }),
                    Err(e) => Err(unavailable(e)),
                }
            }
        }
    }

    /// Checks `request` against its spend limits and reserves it when it
    /// fits (see `crate::spend`), on `clock` (moved ahead in tests).
    pub async fn reserve_spend(
        &self,
        request: &SpendRequest<'_>,
        clock: &SpendClock,
    ) -> Result<SpendOutcome, StoreError> {
        match self {
            Records::Local(store) => store.reserve_spend_async(request, clock.now()).await,
            Records::Shared(shared) => Box::pin(shared.reserve_spend(request, clock.ahead()))
                .await
                .map_err(unavailable),
        }
    }

    /// Whether `request` would fit its spend limits now; reserves nothing
    /// (`validate_only`).
    pub async fn check_spend(
        &self,
        request: &SpendRequest<'_>,
        clock: &SpendClock,
    ) -> Result<SpendOutcome, StoreError> {
        match self {
            Records::Local(store) => store.check_spend(request, clock.now()),
            Records::Shared(shared) => Box::pin(shared.check_spend(request, clock.ahead()))
                .await
                .map_err(unavailable),
        }
    }

    /// Releases the spend reservation of `key` on `account`.
    pub async fn release_spend(&self, account: &str, key: &str) -> Result<(), StoreError> {
        match self {
            Records::Local(store) => store.release_spend_async(account, key).await,
            Records::Shared(shared) => Box::pin(shared.release_spend(account, key))
                .await
                .map_err(unavailable),
        }
    }

    /// The live record of `key`, if any.
    pub async fn get(&self, account: &str, key: &str) -> Result<Option<Record>, StoreError> {
        match self {
            Records::Local(store) => store.get(key, SystemTime::now()),
            Records::Shared(shared) => Box::pin(shared.get(account, key))
                .await
                .map_err(unavailable),
        }
    }

    /// Whether records can be written, now and on every change.
    pub fn health(&self) -> watch::Receiver<bool> {
        match self {
            Records::Local(store) => store.health(),
            Records::Shared(shared) => shared.database().health(),
        }
    }

    /// Closes the store (a file is flushed and unlocked; the pool closed).
    pub fn close(&self) {
        match self {
            Records::Local(store) => store.close(),
            Records::Shared(shared) => shared.database().close(),
        }
    }
}

/// The end of a write's retries: the caller's deadline, and never past the
/// lease (after it the write would be fenced, or race a takeover).
fn until_for(until: Option<Instant>, lease: &Lease) -> Instant {
    until.map_or(lease.until, |until| until.min(lease.until))
}

/// Runs `write` until it answers, or until `until` while the database is
/// unreachable (pausing 50 ms, doubling up to 1 s).
async fn retried<F, Fut>(mut write: F, until: Instant) -> Result<Written, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Written, ClusterError>>,
{
    let mut pause = RETRY_FIRST;
    loop {
        match write().await {
            Err(e) if e.is_unreachable() && Instant::now() + pause < until => {
                tracing::debug!(error = %e, "retrying a record write");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_LONGEST);
            }
            other => return other,
        }
    }
}

fn written(
    key: &str,
    op: &'static str,
    result: Result<Written, ClusterError>,
) -> Result<(), StoreError> {
    match result.map_err(unavailable)? {
        Written::Ok => Ok(()),
        Written::Fenced => Err(StoreError::Fenced {
            location: SHARED.to_owned(),
            key: key.to_owned(),
            op,
        }),
        Written::Conflict => Err(StoreError::Conflict {
            location: SHARED.to_owned(),
            key: key.to_owned(),
            op,
            reason: "the record does not allow it (it is completed)".to_owned(),
        }),
    }
}

fn unavailable(error: ClusterError) -> StoreError {
    StoreError::Unavailable {
        location: SHARED.to_owned(),
        reason: error.to_string(),
    }
}

fn no_lease(key: &str, op: &'static str) -> StoreError {
    StoreError::Conflict {
        location: SHARED.to_owned(),
        key: key.to_owned(),
        op,
        reason: "this call holds no lease on it".to_owned(),
    }
}
