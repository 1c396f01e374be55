//! The claimed key of one AllocateIp call: claiming it (in fleet mode,
//! waiting while another replica runs it), and every record write the call
//! makes afterwards, each carrying the claim's lease (fleet mode) so a late
//! write after a takeover changes nothing. Provider calls made under a
//! lease get a deadline no later than the lease's end: a replica never
//! sends after its claim may have passed to another. A wait for another
//! replica's claim counts as an in-flight wait in the account's metrics.

use std::time::Duration;

use tokio::time::Instant;
use tonic::Status;

use super::{Allocator, convert, error, metrics_of, store_status};
use crate::cluster::Lease;
use crate::idempotency::{Begin, Fingerprint, Records, StoreError};
use crate::inventory::Entry;
use crate::pb;
use crate::provider::{AllocateResult, CallContext, ProviderDescription, ProviderError};

/// First and longest pause between claims while another replica holds the
/// key, and the longest wait without a deadline.
const BUSY_FIRST: Duration = Duration::from_millis(25);
const BUSY_LONGEST: Duration = Duration::from_millis(500);
const BUSY_WAIT_WITHOUT_DEADLINE: Duration = Duration::from_secs(300);

/// How long before its lease ends a provider call must be over: the
/// database's expiry is never earlier than `Lease::until`, so this only
/// covers the time between the stack's last check and the send.
const LEASE_MARGIN: Duration = Duration::from_millis(100);

impl Allocator {
    /// Claims `key`. While another replica holds a live lease on it, polls
    /// (25 ms, doubling to 500 ms, never past the lease's end) until the
    /// record changes or the lease ends, bounded by the deadline (then
    /// ABORTED `IDEMPOTENCY_KEY_IN_PROGRESS`). Sets `waited` when it waited:
    /// the answer it then finds is as fresh as a lookup would make it.
    pub(super) async fn claim(
        &self,
        description: &ProviderDescription,
        key: &str,
        fingerprint: &Fingerprint,
        ctx: &CallContext,
        waited: &mut bool,
    ) -> Result<(Begin, Option<Lease>), Status> {
        let give_up = ctx
            .deadline
            .unwrap_or_else(|| Instant::now() + BUSY_WAIT_WITHOUT_DEADLINE);
        let mut pause = BUSY_FIRST;
        let mut busy = false;
        // A wait for another replica is counted once, when it ends.
        let waits = || metrics_of(description);
        loop {
            let claimed = self
                .store
                .begin(&description.name, key, fingerprint)
                .await
                .map_err(|e| store_status(description, key, &e))?;
            let (Begin::Busy { retry_after }, _) = claimed else {
                if busy {
                    waits().inflight_waited(true);
                }
                return Ok(claimed);
            };
            *waited = true;
            busy = true;
            let wake = Instant::now() + pause.min(retry_after);
            if wake >= give_up {
                waits().inflight_waited(false);
                return Err(error::key_in_progress(description, key));
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = self.drain.stopping() => {
                    waits().inflight_waited(false);
                    return Err(error::shutting_down(
                        "another gateway is running a call with this idempotency key",
                        Some(key),
                    ));
                }
            }
            pause = (pause * 2).min(BUSY_LONGEST);
        }
    }
}

/// One call's claim on its key, and its record writes.
pub(super) struct Owned<'a> {
    records: &'a Records,
    description: &'a ProviderDescription,
    pub(super) key: &'a str,
    pub(super) fingerprint: &'a Fingerprint,
    /// Fleet mode: the lease, while this call holds it.
    lease: Option<Lease>,
    ctx: &'a CallContext,
    /// This call reserved its addresses in the spend ledger.
    pub(super) reserved: bool,
}

impl<'a> Owned<'a> {
    pub(super) fn new(
        records: &'a Records,
        description: &'a ProviderDescription,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lease: Option<Lease>,
        ctx: &'a CallContext,
    ) -> Self {
        Owned {
            records,
            description,
            key,
            fingerprint,
            lease,
            ctx,
            reserved: false,
        }
    }

    pub(super) fn account(&self) -> &str {
        &self.description.name
    }

    /// The call's context for a provider call: its deadline, no later than
    /// the lease's end (less a margin).
    pub(super) fn ctx(&self) -> CallContext {
        let mut ctx = self.ctx.clone();
        if let Some(lease) = &self.lease {
            let end = lease.until.checked_sub(LEASE_MARGIN).unwrap_or(lease.until);
            ctx.deadline = Some(ctx.deadline.map_or(end, |d| d.min(end)));
        }
        ctx
    }

    /// Records the allocation and answers it. Losing the record only weakens
    /// a later duplicate (it reconciles with the provider), so a failed
    /// write is logged, not answered.
    ///
    /// `inventory` makes the entries of the allocation inventory from the
    /// response; in fleet mode they are written with the record. Answers
    /// whether they were (else the caller records them).
    pub(super) async fn complete(
        &mut self,
        result: AllocateResult,
        inventory: impl FnOnce(&pb::AllocateIpResponse) -> Vec<Entry>,
    ) -> Result<(pb::AllocateIpResponse, Vec<Entry>, bool), Status> {
        let response = convert::allocate_response(self.description, result);
        let entries = inventory(&response);
        let written = self
            .records
            .complete(
                self.account(),
                self.key,
                self.lease.as_ref(),
                self.fingerprint,
                &response,
                self.ctx.deadline,
                &entries,
            )
            .await;
        let recorded = match written {
            Ok(completed) => {
                self.lease = None;
                completed.inventory_recorded
            }
            Err(e) => {
                self.write_failed(&e, "could not record a completed allocation");
                false
            }
        };
        Ok((response, entries, recorded))
    }

    /// Records that the attempt has an unknown outcome. A failure is
    /// logged: the record then stays in flight, which a later call treats
    /// the same way.
    pub(super) async fn mark_unknown(&mut self) {
        let written = self
            .records
            .mark_unknown(
                self.account(),
                self.key,
                self.lease.as_ref(),
                self.fingerprint,
                self.ctx.deadline,
            )
            .await;
        if let Err(e) = written {
            self.write_failed(&e, "could not record an unknown outcome");
        }
    }

    /// Records a new attempt (a re-send after reconciliation found nothing).
    pub(super) async fn mark_attempt(&mut self) -> Result<(), Status> {
        let account = self.description.name.as_str();
        let written = self
            .records
            .mark_attempt(account, self.key, self.lease.as_mut(), self.fingerprint)
            .await;
        written.map_err(|e| {
            if matches!(e, StoreError::Fenced { .. }) {
                self.lease = None;
            }
            store_status(self.description, self.key, &e)
        })
    }

    /// A definite failure: nothing was allocated by this attempt. The key is
    /// freed for a corrected request, unless this attempt re-sent one whose
    /// earlier outcome was unknown: then the record goes back to unknown, so
    /// the next call reconciles again before sending anything.
    pub(super) async fn fail(&mut self, resent: bool, e: &ProviderError) -> Status {
        if resent {
            self.mark_unknown().await;
        } else {
            self.release_key().await;
            if self.reserved {
                self.release_spend().await;
            }
        }
        error::allocation_status(self.description, e, self.key)
    }

    /// Frees the key: nothing was allocated under it (a definite failure, or
    /// nothing was sent). Ends the lease.
    pub(super) async fn release_key(&mut self) {
        let released = self
            .records
            .release(self.account(), self.key, self.lease.as_ref())
            .await;
        match released {
            Ok(()) => self.lease = None,
            Err(store_error) => {
                self.write_failed(&store_error, "could not release an idempotency key")
            }
        }
    }

    /// Gives this call's spend reservation back. A failure is logged: the
    /// reservation then counts until it leaves its window (never too few).
    async fn release_spend(&mut self) {
        if let Err(e) = self.records.release_spend(self.account(), self.key).await {
            tracing::warn!(
                provider = %self.description.name,
                key = %self.key,
                error = %e,
                "could not release a spend reservation; it counts until its window passes"
            );
        }
        self.reserved = false;
    }

    /// Gives up a lease the call still holds (its outcome is unknown, or a
    /// write failed), so the next call on any replica takes the key over at
    /// once instead of waiting for the lease to run out.
    pub(super) async fn finish(self) {
        if let Some(lease) = &self.lease {
            self.records
                .end_lease(self.account(), self.key, lease)
                .await;
        }
    }

    fn write_failed(&mut self, e: &StoreError, what: &str) {
        if matches!(e, StoreError::Fenced { .. }) {
            // Another replica owns the key now: it reconciles and records.
            tracing::warn!(
                provider = %self.description.name,
                key = %self.key,
                error = %e,
                "a late record write was refused by the fencing token: another gateway took the \
                 key over after this one's lease ran out"
            );
            self.lease = None;
        } else {
            tracing::error!(provider = %self.description.name, key = %self.key, error = %e, "{what}");
        }
    }
}
