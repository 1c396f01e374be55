//! The AllocateIp flow: idempotency, reconciliation, replays and waiting.
//!
//! Every allocation runs under an idempotency key: the caller's, or one the
//! gateway makes up (`gw-<uuid>`), so that an answer of "outcome unknown"
//! always names a key to retry with. With a key:
//! - a duplicate in this process waits for the first call (bounded by its
//!   deadline; then ABORTED);
//! - a completed key answers the stored response, never a second
//!   allocation, and never less than it answered before: the original
//!   allocation ids, refreshed with one lookup (on the read share) when the
//!   stored state is not terminal, and the stored record updated;
//! - a key whose last attempt had an unknown outcome (a timeout after
//!   sending, a lost connection, a gateway restart, a panic) is reconciled
//!   with the provider, the source of truth. **No blind re-send**: the
//!   allocation is sent again only when a reconciliation made in this same
//!   call, after the grace period, answered definitively that nothing
//!   exists; a reconciliation that fails (throttled, 5xx, timeout) answers
//!   ABORTED and sends nothing;
//! - the same key with other parameters is INVALID_ARGUMENT naming them;
//! - with spend limits configured, the addresses are reserved in the
//!   ledger before anything is sent (`allocate/spend.rs`): over a limit the
//!   call is refused and the key freed; a replay reserves nothing.
//!
//! The allocation runs holding the key's in-flight claim, in the caller's
//! task and, if the caller goes away, in a task of its own
//! (`server::finishing`), so it is never cut short; a panic inside it is
//! caught, the outcome recorded as unknown, and the caller answered.
//!
//! The account's metrics count what the flow decides: waits for a call
//! with the same key, replays, key conflicts, unknown outcomes and the
//! results of reconciliations.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use prost::Message;
use tokio::time::Instant;
use tonic::Status;

use super::{convert, error, follow, validate::ValidAllocate};
use crate::admin::{AccountMetrics, Metrics, Reconciled};
use crate::idempotency::{
    Begin, Claim, Fingerprint, InFlightRegistry, Record, Records, StoreError, WaitResult,
};
use crate::logging::access::CallFacts;
use crate::pb;
use crate::provider::{
    AllocateResult, AllocateSpec, AllocationState, CallContext, Lane, Provider,
    ProviderDescription, ProviderError,
};

mod inventory;
mod owned;
mod replay;
mod spend;

use owned::Owned;

/// Longest `wait` when the call has no deadline and no `wait_timeout`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// The longest `wait_timeout` a request may ask for (INVALID_ARGUMENT above).
pub use super::validate::MAX_WAIT_TIMEOUT;

/// Shared state of the flow.
pub struct Allocator {
    /// This process's store, or the fleet's shared records.
    pub store: Records,
    pub inflight: InFlightRegistry,
    /// Shutdown: allocation tasks are tracked, waits end when it stops.
    pub drain: crate::server::Drain,
    /// Spend limits and the ledger's clock; `None`: no limit configured,
    /// no ledger kept.
    pub spend: Option<crate::spend::Spend>,
    /// Every allocation made, for ListAllocations and releases.
    pub inventory: crate::inventory::Inventory,
}

/// What the caller asked besides the allocation itself.
pub struct Request {
    pub valid: ValidAllocate,
    /// The fingerprint of `valid.spec`'s canonical parameters under the
    /// account's name (the service builds it with the audit line's).
    pub fingerprint: Fingerprint,
    /// The caller's configured name (`None` when authorization is off).
    pub caller: Option<String>,
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    pub deadline: Option<Instant>,
}

impl Allocator {
    pub async fn allocate(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let Request {
            valid,
            fingerprint,
            caller,
            wait,
            wait_timeout,
            deadline,
        } = request;
        let provider = valid.provider;
        let description = provider.description();
        let key = valid.idempotency_key.unwrap_or_else(generated_key);
        CallFacts::current().idempotency_key(&key);
        let ctx = CallContext {
            deadline,
            idempotency_key: Some(key.clone()),
            lane: Lane::Allocation,
        };

        // Set once this call waited for another one with the same key: the
        // stored answer is then as fresh as a lookup would make it.
        let mut just_written = false;
        let (outcome, key, fingerprint, ctx) = loop {
            let guard = match self.inflight.claim(&key) {
                Claim::Owner(guard) => guard,
                Claim::Follower(mut waiter) => {
                    let waited = waiter.wait_until(deadline.unwrap_or_else(far_future)).await;
                    let finished = matches!(waited, WaitResult::Finished);
                    metrics_of(description).inflight_waited(finished);
                    if !finished {
                        return Err(error::key_in_progress(description, &key));
                    }
                    just_written = true;
                    continue;
                }
            };
            // Run to its end holding the in-flight claim, in this task or,
            // if the caller goes away, in one of its own: the allocation
            // still completes and its outcome is recorded (the server waits
            // for it when it shuts down). The call's values go in and come
            // back out, so nothing is copied for it.
            let this = Arc::clone(self);
            let task_provider = Arc::clone(&provider);
            let spec = valid.spec;
            let work = self.drain.finish(CallFacts::current().scope(async move {
                let call = Call {
                    provider: &task_provider,
                    spec: &spec,
                    caller: caller.as_deref(),
                };
                // Boxed: the futures around it (this block, the call facts'
                // scope, `Finishing`) then hold a pointer, not the whole
                // flow's state, and moving them copies a few words.
                let run = Box::pin(this.run_owned(&call, &key, &fingerprint, &ctx, just_written));
                let outcome = match AssertUnwindSafe(run).catch_unwind().await {
                    Ok(outcome) => outcome,
                    Err(panic) => {
                        let panic = panic_message(&*panic).to_owned();
                        let description = task_provider.description();
                        Box::pin(this.interrupted(description, &key, &fingerprint, &panic)).await
                    }
                };
                drop(guard);
                (outcome, key, fingerprint, ctx)
            }));
            break work.await;
        };
        let response = outcome?;

        if !wait {
            return Ok(response);
        }
        let until = wait_until(wait_timeout, deadline);
        let before = response.clone();
        let settle = AssertUnwindSafe(Box::pin(self.settle(&provider, response, until, &ctx)))
            .catch_unwind();
        // The allocation is recorded: a wait cut short by a shutdown tells
        // the caller to retry with the key (a replay, then a new wait).
        let settled = tokio::select! {
            settled = settle => settled,
            () = self.drain.stopping() => {
                return Err(error::shutting_down(
                    "the allocation succeeded and is recorded, the wait for it was cut short",
                    Some(&key),
                ));
            }
        };
        match settled {
            Ok(settled) => {
                if settled != before {
                    // Replays answer the best-known state, not the first one.
                    Box::pin(self.record_progress(description, &key, &fingerprint, &settled)).await;
                    Box::pin(self.note_settled(description, &settled)).await;
                }
                Ok(settled)
            }
            Err(panic) => {
                // The allocation succeeded and is recorded; answer it.
                tracing::error!(
                    key = %key,
                    panic = panic_message(&*panic),
                    "waiting for an allocation panicked; answering its last known state"
                );
                Ok(before)
            }
        }
    }

    /// The flow for the process-local owner of `key`: claim it (in fleet
    /// mode waiting while another replica runs it), run the claimed call,
    /// and give up a lease the call left held.
    async fn run_owned(
        &self,
        call: &Call<'_>,
        key: &str,
        fingerprint: &Fingerprint,
        ctx: &CallContext,
        mut just_written: bool,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let description = call.provider.description();
        let (began, lease) = self
            .claim(description, key, fingerprint, ctx, &mut just_written)
            .await?;
        let mut owned = Owned::new(&self.store, description, key, fingerprint, lease, ctx);
        let outcome = self
            .run_claimed(call, &mut owned, began, just_written)
            .await;
        owned.finish().await;
        outcome
    }

    /// The flow once `key` is claimed (`began` says what the claim found).
    async fn run_claimed(
        &self,
        call: &Call<'_>,
        owned: &mut Owned<'_>,
        began: Begin,
        just_written: bool,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let (provider, spec) = (call.provider, call.spec);
        let description = provider.description();
        let (key, fingerprint) = (owned.key, owned.fingerprint);
        let mut resent = false;
        match began {
            Begin::Started => {
                // Past a spend limit nothing is sent, and the key is freed.
                if let Err(status) = self.reserve_spend(call, owned).await {
                    owned.release_key().await;
                    return Err(status);
                }
            }
            Begin::Completed(bytes) => {
                CallFacts::current().replayed();
                metrics_of(description).replayed();
                // Boxed (as the wait's record updates): a replay's state is
                // not carried, and copied, in every new key's future.
                let ctx = owned.ctx();
                return Box::pin(self.replay(
                    provider,
                    key,
                    fingerprint,
                    &bytes,
                    &ctx,
                    just_written,
                ))
                .await;
            }
            Begin::Mismatch { stored } => {
                metrics_of(description).key_conflict();
                return Err(error::key_reused(key, &stored.differences(fingerprint)));
            }
            // The claim waits these out; one left means the wait ended.
            Begin::Busy { .. } => return Err(error::key_in_progress(description, key)),
            // InFlight here means a previous process died mid-call (or, in
            // fleet mode, let its lease run out).
            Begin::InFlight {
                attempt_started: last_attempt,
                ..
            }
            | Begin::Unknown { last_attempt, .. } => {
                // When this reconciliation is made counts, not when it ends:
                // only an answer to a question asked after the grace period
                // may lead to a re-send.
                let asked = SystemTime::now();
                match self.reconcile(provider, spec, key, &owned.ctx()).await {
                    Ok(Some(found)) => return self.complete(call, owned, found).await,
                    Ok(None) => {}
                    Err(e) => return Err(error::reconcile_failed(description, key, &e)),
                }
                let age = asked.duration_since(last_attempt).unwrap_or_default();
                let grace = provider.follow().reconcile_grace;
                if age < grace {
                    return Err(error::outcome_pending(description, key, grace - age));
                }
                // The key's own reservation moves to now (or, if it is gone,
                // the re-send is counted again); past a limit the record
                // stays unknown.
                self.reserve_spend(call, owned).await?;
                owned.mark_attempt().await?;
                resent = true;
            }
        }

        let ctx = owned.ctx();
        // No backstop timer around the attempt: every await inside it is a
        // pass through the provider's stack, which ends it at this same
        // deadline (`middleware::timeout`, the waits for a token or a permit,
        // the retry sleeps) with the right "sent or not" answer. A caller's
        // `grpc-timeout` is also enforced around the whole call by the server.
        let attempt = provider.allocate(spec, &ctx).await;
        match attempt {
            Ok(result) => self.complete(call, owned, result).await,
            Err(e) if resent && description.kind.already_allocated(&e) => {
                // The earlier, ambiguous attempt did land: read what it made.
                match self.reconcile(provider, spec, key, &owned.ctx()).await {
                    Ok(Some(found)) => self.complete(call, owned, found).await,
                    // It landed but is not visible yet: still pending, never
                    // a definite failure that frees the key.
                    Ok(None) => {
                        owned.mark_unknown().await;
                        Err(error::outcome_pending(
                            description,
                            key,
                            error::DEFAULT_RETRY_DELAY,
                        ))
                    }
                    Err(lookup) => {
                        owned.mark_unknown().await;
                        Err(error::reconcile_failed(description, key, &lookup))
                    }
                }
            }
            Err(e) if e.outcome_unknown() => {
                // Recorded before anything else: the record, not this
                // answer, is what keeps a retry from allocating twice.
                owned.mark_unknown().await;
                metrics_of(description).outcome_unknown();
                // The provider is the source of truth: ask it straight away,
                // unless the call's deadline (or lease) has already passed.
                let ctx = owned.ctx();
                if ctx.deadline.is_some_and(|d| d <= Instant::now()) {
                    return Err(error::allocation_status(description, &e, key));
                }
                match self.reconcile(provider, spec, key, &ctx).await {
                    Ok(Some(found)) => self.complete(call, owned, found).await,
                    Ok(None) | Err(_) => Err(error::allocation_status(description, &e, key)),
                }
            }
            Err(e) => Err(owned.fail(resent, &e).await),
        }
    }

    async fn reconcile(
        &self,
        provider: &Arc<dyn Provider>,
        spec: &AllocateSpec,
        key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, ProviderError> {
        let description = provider.description();
        // The allocation's own lane: reads cannot starve it.
        let ctx = CallContext {
            idempotency_key: None,
            ..ctx.clone()
        };
        let found = with_deadline(&ctx, provider.reconcile(spec, key, &ctx)).await;
        metrics_of(description).reconciled(match &found {
            Ok(Some(_)) => Reconciled::Found,
            Ok(None) => Reconciled::NotFound,
            Err(_) => Reconciled::Failed,
        });
        match &found {
            Ok(found) => tracing::info!(
                provider = %description.name,
                key = %key,
                found = found.is_some(),
                "reconciled an allocation with an unknown outcome"
            ),
            Err(e) => tracing::warn!(
                provider = %description.name,
                key = %key,
                error = %e,
                "reconciling an allocation with an unknown outcome failed; nothing is re-sent"
            ),
        }
        found
    }

    /// A panic inside the allocation task: whatever the record says stands.
    /// A completed allocation is answered from it; otherwise the outcome is
    /// recorded as unknown (the attempt may have been sent) and the caller
    /// told to retry with the key.
    async fn interrupted(
        &self,
        description: &ProviderDescription,
        key: &str,
        fingerprint: &Fingerprint,
        panic: &str,
    ) -> Result<pb::AllocateIpResponse, Status> {
        tracing::error!(
            provider = %description.name,
            key = %key,
            panic,
            "the allocation task panicked; recording its outcome as unknown"
        );
        match self.store.get(&description.name, key).await {
            Ok(Some(Record::Completed { response, .. })) => {
                if let Ok(response) = pb::AllocateIpResponse::decode(response.as_slice()) {
                    return Ok(response);
                }
            }
            // The single node's record says unknown from now on; a shared
            // record stays in flight under the lease the panic dropped,
            // which the next call takes over (and reconciles) once it ends.
            Ok(Some(Record::InFlight { .. })) => {
                if let Some(store) = self.store.local()
                    && let Err(e) = store
                        .mark_unknown_async(key, fingerprint, SystemTime::now())
                        .await
                {
                    tracing::error!(error = %e, key = %key, "could not record an unknown outcome");
                }
            }
            // Unknown already, or released after a definite failure.
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, key = %key, "could not read the interrupted record")
            }
        }
        Err(error::allocation_interrupted(description, key))
    }

    async fn settle(
        &self,
        provider: &Arc<dyn Provider>,
        mut response: pb::AllocateIpResponse,
        until: Instant,
        ctx: &CallContext,
    ) -> pb::AllocateIpResponse {
        let description = provider.description();
        let options = provider.follow();
        let current = response
            .allocations
            .iter()
            .map(convert::allocation_from_pb)
            .collect();
        let mut settled = follow::settle(provider.as_ref(), current, until, options, ctx).await;
        if options.terminate_failed {
            for allocation in settled
                .iter_mut()
                .filter(|a| a.state == AllocationState::Failed)
            {
                // The call's own deadline, not the end of the wait: the
                // refund should not depend on how late the failure showed.
                let ctx = CallContext {
                    deadline: ctx.deadline,
                    idempotency_key: None,
                    lane: Lane::Allocation,
                };
                match provider.release_failed(&allocation.id, &ctx).await {
                    Ok(true) => {
                        let reason = allocation.failure_reason.take().unwrap_or_default();
                        allocation.failure_reason =
                            Some(format!("{reason}; terminated for a full refund"));
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(id = %allocation.id, error = %e, "could not terminate a failed allocation")
                    }
                }
            }
        }
        response.allocations = settled
            .into_iter()
            .map(|a| convert::allocation(description, a))
            .collect();
        response
    }
}

/// The metrics of the call's provider account.
fn metrics_of(description: &ProviderDescription) -> Arc<AccountMetrics> {
    Metrics::global().account(&description.name)
}

/// The allocation a call asks for, and who asks.
struct Call<'a> {
    provider: &'a Arc<dyn Provider>,
    spec: &'a AllocateSpec,
    caller: Option<&'a str>,
}

/// The status for a store failure: a corrupt record, or the store unusable.
pub(super) fn store_status(description: &ProviderDescription, key: &str, e: &StoreError) -> Status {
    match e {
        // The store logs these itself, at most once per interval.
        StoreError::Full { .. } => {
            tracing::debug!(error = %e, key = %key, "idempotency store refused a key")
        }
        StoreError::Unavailable { .. } => {
            tracing::warn!(error = %e, key = %key, "idempotency store unavailable")
        }
        _ => tracing::error!(error = %e, key = %key, "idempotency store failed"),
    }
    match e {
        StoreError::CorruptRecord { reason, .. } => {
            error::record_corrupt(Some(description), key, reason)
        }
        _ => error::store_unavailable(Some(description)),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic"
    }
}

/// When a `wait` must end: the wait timeout or the deadline, whichever is
/// first (`DEFAULT_WAIT` when neither is given). Never overflows, whatever
/// the caller asked.
pub fn wait_until(wait_timeout: Option<Duration>, deadline: Option<Instant>) -> Instant {
    let now = Instant::now();
    let by_timeout = now
        .checked_add(wait_timeout.unwrap_or(DEFAULT_WAIT))
        .unwrap_or_else(far_future);
    match deadline {
        Some(deadline) if wait_timeout.is_none() => deadline,
        Some(deadline) => deadline.min(by_timeout),
        None => by_timeout,
    }
}

pub(super) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// How long after the deadline the outer guard waits for the stack's own
/// answer, which knows whether anything was sent.
const GUARD_GRACE: Duration = Duration::from_millis(5);

/// Runs a provider future, giving up at the call's deadline (the stack
/// below enforces it too; this is the backstop).
pub(super) async fn with_deadline<T>(
    ctx: &CallContext,
    call: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match ctx.deadline {
        None => call.await,
        Some(deadline) => {
            let at = deadline.checked_add(GUARD_GRACE).unwrap_or(deadline);
            match tokio::time::timeout_at(at, call).await {
                Ok(result) => result,
                // Conservatively "sent": the stack may have been mid-attempt.
                Err(_) => Err(ProviderError::DeadlineExceeded {
                    op: crate::provider::Operation {
                        name: "AllocateIp",
                        mutating: true,
                    },
                    sent: true,
                }),
            }
        }
    }
}

/// The idempotency key of a request that named none: `gw-` and a random
/// UUID's 32 hex digits (encoded in place, not through `fmt`).
fn generated_key() -> String {
    let mut digits = [0u8; uuid::fmt::Simple::LENGTH];
    let digits = uuid::Uuid::new_v4().simple().encode_lower(&mut digits);
    ["gw-", digits].concat()
}

/// The request's canonical parameters: what must match for a key to be
/// reused (each cloud names its own, see [`AllocateSpec::canonical_params`]),
/// as `IpAllocationService::allocate_audited` builds them (with the audit
/// line's parameters) for a [`Request`]; for tests and examples that make
/// one or pin a stored fingerprint.
pub fn fingerprint(provider: &str, spec: &AllocateSpec) -> Fingerprint {
    Fingerprint::new(provider, &spec.canonical_params())
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;
