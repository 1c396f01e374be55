//! A change of the spend ledger (a reservation or its release) owning its
//! arguments, so that a file store queues it to the committer
//! (`file::committer`) like a record change and answers it once the commit
//! that holds it is durable; and the store's calls that do so. In memory
//! the ledger is changed at once on the caller's thread (`store`).

use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use super::change::Reply;
use super::error::StoreError;
use super::file::{Batch, Committer, Queued};
use super::spend;
use super::store::{IdempotencyStore, record_timing};
use crate::spend::{Scope, SpendOutcome, SpendRequest, epoch_nanos, reservation_id};

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What to change in the ledger.
enum SpendChange {
    Reserve {
        account: String,
        key: String,
        addresses: u64,
        scopes: Vec<Scope>,
        now_ns: u64,
    },
    Release {
        id: String,
    },
}

/// A ledger change waiting in the committer's queue, with its caller: a
/// reservation is answered its outcome, a release `None`.
struct QueuedSpend {
    change: SpendChange,
    outcome: Option<SpendOutcome>,
    reply: Reply<Option<SpendOutcome>>,
}

impl Queued for QueuedSpend {
    fn size(&self) -> usize {
        256
    }

    fn apply(&mut self, batch: &mut Batch<'_, '_>) -> Result<bool> {
        self.outcome = None;
        match &self.change {
            SpendChange::Reserve {
                account,
                key,
                addresses,
                scopes,
                now_ns,
            } => {
                let request = SpendRequest {
                    account,
                    key,
                    addresses: *addresses,
                    scopes,
                };
                let outcome = &mut self.outcome;
                batch.ledger("reserve spend", &mut |tables| {
                    let (decided, changed) = spend::reserve(tables, &request, *now_ns)?;
                    *outcome = Some(decided);
                    Ok(changed)
                })
            }
            SpendChange::Release { id } => {
                batch.ledger("release spend", &mut |tables| tables.remove(id))
            }
        }
    }

    fn answer(self: Box<Self>, result: Result<(), StoreError>, _location: &str) {
        let QueuedSpend { outcome, reply, .. } = *self;
        reply.send(result.map(|()| outcome));
    }
}

fn reserve(request: &SpendRequest<'_>, now: SystemTime) -> SpendChange {
    SpendChange::Reserve {
        account: request.account.to_owned(),
        key: request.key.to_owned(),
        addresses: request.addresses,
        scopes: request.scopes.to_vec(),
        now_ns: epoch_nanos(now),
    }
}

fn release(account: &str, key: &str) -> SpendChange {
    SpendChange::Release {
        id: reservation_id(account, key),
    }
}

impl IdempotencyStore {
    /// Queues `change` and blocks until it is durable.
    fn spend_blocking(
        &self,
        committer: &Committer,
        op: &'static str,
        change: SpendChange,
    ) -> Result<Option<SpendOutcome>> {
        let started = Instant::now();
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        committer.send_blocking(Box::new(QueuedSpend {
            change,
            outcome: None,
            reply: Reply::Blocking(reply),
        }));
        let result = answer.recv().unwrap_or_else(|_| Err(self.spend_lost(op)));
        record_timing(op, started, &result);
        result
    }

    /// Queues `change` and awaits its commit.
    async fn spend_async(
        &self,
        committer: &Committer,
        op: &'static str,
        change: SpendChange,
    ) -> Result<Option<SpendOutcome>> {
        let started = Instant::now();
        let (reply, answer) = oneshot::channel();
        committer
            .send(Box::new(QueuedSpend {
                change,
                outcome: None,
                reply: Reply::Async(reply),
            }))
            .await;
        let result = answer.await.unwrap_or_else(|_| Err(self.spend_lost(op)));
        record_timing(op, started, &result);
        result
    }

    fn spend_lost(&self, op: &str) -> StoreError {
        StoreError::Unavailable {
            location: self.location().to_owned(),
            reason: format!("{op} was not applied"),
        }
    }

    fn reserved(&self, outcome: Option<SpendOutcome>) -> Result<SpendOutcome> {
        outcome.ok_or_else(|| self.spend_lost("reserve spend"))
    }

    /// [`IdempotencyStore::reserve_spend`] on a file: through the committer.
    pub(super) fn reserve_spend_queued(
        &self,
        committer: &Committer,
        request: &SpendRequest<'_>,
        now: SystemTime,
    ) -> Result<SpendOutcome> {
        let outcome = self.spend_blocking(committer, "reserve spend", reserve(request, now))?;
        self.reserved(outcome)
    }

    /// [`IdempotencyStore::release_spend`] on a file: through the committer.
    pub(super) fn release_spend_queued(
        &self,
        committer: &Committer,
        account: &str,
        key: &str,
    ) -> Result<()> {
        self.spend_blocking(committer, "release spend", release(account, key))
            .map(drop)
    }

    /// [`IdempotencyStore::reserve_spend`] for async callers: on a file, the
    /// reservation is durable when it is answered.
    pub async fn reserve_spend_async(
        &self,
        request: &SpendRequest<'_>,
        now: SystemTime,
    ) -> Result<SpendOutcome> {
        match self.backend().committer() {
            None => self.reserve_spend(request, now),
            Some(committer) => {
                let change = reserve(request, now);
                let outcome = self.spend_async(committer, "reserve spend", change).await?;
                self.reserved(outcome)
            }
        }
    }

    /// [`IdempotencyStore::release_spend`] for async callers.
    pub async fn release_spend_async(&self, account: &str, key: &str) -> Result<()> {
        match self.backend().committer() {
            None => self.release_spend(account, key),
            Some(committer) => self
                .spend_async(committer, "release spend", release(account, key))
                .await
                .map(drop),
        }
    }
}
