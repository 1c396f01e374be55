//! The AllocateIp flow: idempotency, reconciliation, and waiting.
//!
//! Every allocation runs under an idempotency key: the caller's, or one the
//! gateway makes up (`gw-<uuid>`), so that an answer of "outcome unknown"
//! always names a key to retry with. With a key:
//! - a duplicate in this process waits for the first call (bounded by its
//!   deadline; then ABORTED);
//! - a completed key answers the stored response, never a second allocation;
//! - a key whose last attempt had an unknown outcome (a timeout after
//!   sending, a lost connection, a gateway restart) is reconciled with the
//!   provider, the source of truth: found -> the original allocation; not
//!   found and the attempt is old enough to have landed -> allocate again;
//!   otherwise ABORTED with a delay to retry after;
//! - the same key with other parameters is INVALID_ARGUMENT naming them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prost::Message;
use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::error::{self, GATEWAY_DOMAIN};
use super::follow;
use super::{convert, validate::ValidAllocate};
use crate::idempotency::{
    Begin, Claim, Fingerprint, IdempotencyStore, InFlightRegistry, WaitResult,
};
use crate::logging::access::CallFacts;
use crate::pb;
use crate::provider::{
    AllocateResult, AllocateSpec, CallContext, ChargeType, FollowSettings, Provider,
    ProviderDescription, ProviderError,
};

/// Longest `wait` when the call has no deadline.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// Shared state of the flow.
pub struct Allocator {
    pub store: IdempotencyStore,
    pub inflight: InFlightRegistry,
    /// Per provider name.
    pub follow: HashMap<String, FollowSettings>,
    /// Shutdown: allocation tasks are tracked, waits end when it stops.
    pub drain: crate::server::Drain,
}

/// What the caller asked besides the allocation itself.
pub struct Request {
    pub valid: ValidAllocate,
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    pub deadline: Option<Instant>,
}

impl Allocator {
    pub fn follow_settings(&self, provider: &str) -> FollowSettings {
        self.follow.get(provider).copied().unwrap_or_default()
    }

    pub async fn allocate(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let Request {
            valid,
            wait,
            wait_timeout,
            deadline,
        } = request;
        let provider = valid.provider;
        let key = valid
            .idempotency_key
            .unwrap_or_else(|| format!("gw-{}", uuid::Uuid::new_v4().simple()));
        CallFacts::current().idempotency_key(&key);
        let fingerprint = fingerprint(&provider.description().name, &valid.spec);
        let ctx = CallContext {
            deadline,
            idempotency_key: Some(key.clone()),
        };

        let response = loop {
            let guard = match self.inflight.claim(&key) {
                Claim::Owner(guard) => guard,
                Claim::Follower(mut waiter) => {
                    match waiter.wait_until(deadline.unwrap_or_else(far_future)).await {
                        WaitResult::Finished => continue,
                        WaitResult::TimedOut => {
                            return Err(in_progress(&key, Duration::from_secs(1)));
                        }
                    }
                }
            };
            // Spawned, holding the in-flight claim: if the caller goes away,
            // the allocation still completes and its outcome is recorded
            // (the server waits for these tasks when it shuts down).
            let this = Arc::clone(self);
            let (provider, spec) = (Arc::clone(&provider), valid.spec.clone());
            let (key, fingerprint, ctx) = (key.clone(), fingerprint.clone(), ctx.clone());
            let owned = self.drain.spawn(CallFacts::current().scope(async move {
                let outcome = this
                    .run_owned(&provider, &spec, &key, &fingerprint, &ctx)
                    .await;
                drop(guard);
                outcome
            }));
            break match owned.await {
                Ok(outcome) => outcome?,
                Err(e) => {
                    tracing::error!(error = %e, "the allocation task failed");
                    return Err(Status::internal("the allocation task failed"));
                }
            };
        };

        if !wait {
            return Ok(response);
        }
        let until = wait_until(wait_timeout, deadline);
        // The allocation is recorded: a wait cut short by a shutdown tells
        // the caller to retry with the key (a replay, then a new wait).
        tokio::select! {
            settled = self.settle(&provider, response, until, &ctx) => Ok(settled),
            () = self.drain.stopping() => Err(error::shutting_down(
                "the allocation succeeded and is recorded, the wait for it was cut short",
                Some(&key),
            )),
        }
    }

    /// The flow for the process-local owner of `key`.
    async fn run_owned(
        &self,
        provider: &Arc<dyn Provider>,
        spec: &AllocateSpec,
        key: &str,
        fingerprint: &Fingerprint,
        ctx: &CallContext,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let description = provider.description();
        let began = self
            .store
            .begin(key, fingerprint, SystemTime::now())
            .map_err(store_unavailable)?;
        let mut ambiguous_before = false;
        match began {
            Begin::Started => {}
            Begin::Completed(bytes) => {
                CallFacts::current().replayed();
                return decode_stored(&bytes);
            }
            Begin::Mismatch { stored } => return Err(key_reused(key, fingerprint, &stored)),
            // InFlight here means a previous process died mid-call.
            Begin::InFlight {
                attempt_started: last_attempt,
                ..
            }
            | Begin::Unknown { last_attempt, .. } => {
                ambiguous_before = true;
                if let Some(found) = self.reconcile(provider, spec, key, ctx).await? {
                    return self.complete(description, key, fingerprint, found);
                }
                let age = SystemTime::now()
                    .duration_since(last_attempt)
                    .unwrap_or_default();
                let grace = self.follow_settings(&description.name).reconcile_grace;
                if age < grace {
                    return Err(outcome_pending(key, grace - age));
                }
                self.store
                    .mark_attempt(key, fingerprint, SystemTime::now())
                    .map_err(store_unavailable)?;
            }
        }

        let attempt = with_deadline(ctx, provider.allocate(spec, ctx)).await;
        match attempt {
            Ok(result) => self.complete(description, key, fingerprint, result),
            Err(e) if ambiguous_before && is_allocated_already(&e) => {
                // The earlier, ambiguous attempt did land: read what it made.
                match self.reconcile(provider, spec, key, ctx).await? {
                    Some(found) => self.complete(description, key, fingerprint, found),
                    // It landed but is not visible yet: still pending, never a
                    // definite failure that frees the key.
                    None => Err(outcome_pending(key, Duration::from_secs(1))),
                }
            }
            Err(e) if error::outcome_unknown(description.kind, &e) => {
                self.store
                    .mark_unknown(key, fingerprint, SystemTime::now())
                    .map_err(store_unavailable)?;
                // The provider is the source of truth: ask it straight away,
                // unless the caller's deadline has already passed.
                if ctx.deadline.is_some_and(|d| d <= Instant::now()) {
                    return Err(with_key(error::provider_status(description, &e), key));
                }
                match self.reconcile(provider, spec, key, ctx).await {
                    Ok(Some(found)) => self.complete(description, key, fingerprint, found),
                    Ok(None) | Err(_) => {
                        Err(with_key(error::provider_status(description, &e), key))
                    }
                }
            }
            Err(e) => Err(self.fail(description, key, &e)),
        }
    }

    async fn reconcile(
        &self,
        provider: &Arc<dyn Provider>,
        spec: &AllocateSpec,
        key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, Status> {
        let description = provider.description();
        let ctx = CallContext {
            idempotency_key: None,
            ..ctx.clone()
        };
        match with_deadline(&ctx, provider.reconcile(spec, key, &ctx)).await {
            Ok(found) => {
                tracing::info!(
                    provider = %description.name,
                    found = found.is_some(),
                    "reconciled an allocation with an unknown outcome"
                );
                Ok(found)
            }
            Err(e) => Err(with_key(error::provider_status(description, &e), key)),
        }
    }

    fn complete(
        &self,
        description: &ProviderDescription,
        key: &str,
        fingerprint: &Fingerprint,
        result: AllocateResult,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let response = convert::allocate_response(description, result);
        if let Err(e) = self.store.complete(
            key,
            fingerprint,
            &response.encode_to_vec(),
            SystemTime::now(),
        ) {
            // The allocation happened; losing the record only weakens a
            // later duplicate (it would reconcile with the provider).
            tracing::error!(error = %e, "could not record a completed allocation");
        }
        Ok(response)
    }

    /// A definite failure: nothing was allocated, the key may be reused.
    fn fail(&self, description: &ProviderDescription, key: &str, e: &ProviderError) -> Status {
        if let Err(store_error) = self.store.release(key) {
            tracing::error!(error = %store_error, "could not release an idempotency key");
        }
        error::provider_status(description, e)
    }

    async fn settle(
        &self,
        provider: &Arc<dyn Provider>,
        mut response: pb::AllocateIpResponse,
        until: Instant,
        ctx: &CallContext,
    ) -> pb::AllocateIpResponse {
        let description = provider.description();
        let options = self.follow_settings(&description.name);
        let current = response
            .allocations
            .iter()
            .map(convert::allocation_from_pb)
            .collect();
        let mut settled = follow::settle(provider.as_ref(), current, until, &options, ctx).await;
        if options.terminate_failed {
            for allocation in settled
                .iter_mut()
                .filter(|a| a.state == crate::provider::AllocationState::Failed)
            {
                // The call's own deadline, not the end of the wait: the
                // refund should not depend on how late the failure showed.
                let ctx = CallContext {
                    deadline: ctx.deadline,
                    idempotency_key: None,
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

/// When a `wait` must end: the wait timeout or the deadline, whichever is
/// first (5 minutes when neither is given).
fn wait_until(wait_timeout: Option<Duration>, deadline: Option<Instant>) -> Instant {
    let by_timeout = Instant::now() + wait_timeout.unwrap_or(DEFAULT_WAIT);
    match deadline {
        Some(deadline) if wait_timeout.is_none() => deadline,
        Some(deadline) => deadline.min(by_timeout),
        None => by_timeout,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// How long after the deadline the outer guard waits for the stack's own
/// answer, which knows whether anything was sent.
const GUARD_GRACE: Duration = Duration::from_millis(5);

/// Runs a provider future, giving up at the call's deadline (the stack
/// below enforces it too; this is the backstop).
async fn with_deadline<T>(
    ctx: &CallContext,
    call: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match ctx.deadline {
        None => call.await,
        Some(deadline) => match tokio::time::timeout_at(deadline + GUARD_GRACE, call).await {
            Ok(result) => result,
            // Conservatively "sent": the stack may have been mid-attempt.
            Err(_) => Err(ProviderError::DeadlineExceeded {
                op: crate::provider::Operation {
                    name: "AllocateIp",
                    mutating: true,
                },
                sent: true,
            }),
        },
    }
}

fn is_allocated_already(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Api(api) if api.code == "AllocatedAlready")
}

/// The request's canonical parameters: what must match for a key to be
/// reused.
pub fn fingerprint(provider: &str, spec: &AllocateSpec) -> Fingerprint {
    let mut params: Vec<(&str, String)> = Vec::with_capacity(12);
    match spec {
        AllocateSpec::Aliyun(a) => {
            params.push(("aliyun.instance_id", a.instance_id.clone()));
            params.push((
                "aliyun.ip_address",
                a.ip_address.clone().unwrap_or_default(),
            ));
            params.push(("aliyun.vlan_id", a.vlan_id.clone().unwrap_or_default()));
            params.push(("aliyun.region_id", a.region_id.clone().unwrap_or_default()));
        }
        AllocateSpec::Zenlayer(z) => {
            params.push(("zenlayer.zone_id", z.zone_id.clone()));
            let (charge, months) = match z.charge {
                ChargeType::Prepaid { period_months } => ("PREPAID", period_months.to_string()),
                ChargeType::Postpaid => ("POSTPAID", String::new()),
            };
            params.push(("zenlayer.charge_type", charge.to_owned()));
            params.push(("zenlayer.prepaid_period_months", months));
            params.push((
                "zenlayer.resource_group_id",
                z.resource_group_id.clone().unwrap_or_default(),
            ));
            params.push(("zenlayer.amount", z.amount.to_string()));
            params.push(("zenlayer.netmask", z.netmask.to_string()));
            params.push((
                "zenlayer.discount_code",
                z.discount_code.clone().unwrap_or_default(),
            ));
            params.push(("zenlayer.use_poc_voucher", z.use_poc_voucher.to_string()));
            let mut tags: Vec<String> = z
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            tags.sort();
            params.push(("zenlayer.tags", tags.join(",")));
        }
    }
    Fingerprint::new(provider, &params)
}

fn decode_stored(bytes: &[u8]) -> Result<pb::AllocateIpResponse, Status> {
    pb::AllocateIpResponse::decode(bytes).map_err(|e| {
        gateway_status(
            Code::Internal,
            "IDEMPOTENCY_RECORD_CORRUPT",
            format!("the stored result for this idempotency key cannot be read: {e}"),
            HashMap::new(),
            None,
        )
    })
}

fn key_reused(key: &str, new: &Fingerprint, stored: &Fingerprint) -> Status {
    let differences = stored.differences(new);
    let what = if differences.is_empty() {
        "different parameters".to_owned()
    } else {
        differences.join(", ")
    };
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "IDEMPOTENCY_KEY_REUSED",
        GATEWAY_DOMAIN,
        HashMap::from([("idempotencyKey".to_owned(), key.to_owned())]),
    );
    details.add_bad_request_violation(
        "idempotency_key",
        format!("already used with other parameters; differs in: {what}"),
    );
    Status::with_error_details(
        Code::InvalidArgument,
        format!(
            "idempotency key {key:?} was already used with other parameters (differs in: {what})"
        ),
        details,
    )
}

fn in_progress(key: &str, retry: Duration) -> Status {
    gateway_status(
        Code::Aborted,
        "IDEMPOTENCY_KEY_IN_PROGRESS",
        format!(
            "a call with idempotency key {key:?} is still in progress; retry with the same key"
        ),
        HashMap::from([("idempotencyKey".to_owned(), key.to_owned())]),
        Some(retry),
    )
}

fn outcome_pending(key: &str, retry: Duration) -> Status {
    gateway_status(
        Code::Aborted,
        "PROVIDER_OUTCOME_PENDING",
        format!(
            "the last attempt with idempotency key {key:?} has an unknown outcome and the provider does not show it yet; retry with the same key after the suggested delay"
        ),
        HashMap::from([("idempotencyKey".to_owned(), key.to_owned())]),
        Some(retry),
    )
}

fn store_unavailable(e: crate::idempotency::StoreError) -> Status {
    tracing::error!(error = %e, "idempotency store failed");
    gateway_status(
        Code::Unavailable,
        "IDEMPOTENCY_STORE_UNAVAILABLE",
        "the idempotency store failed; nothing was sent to the provider".to_owned(),
        HashMap::new(),
        Some(Duration::from_secs(1)),
    )
}

fn gateway_status(
    code: Code,
    reason: &str,
    message: String,
    metadata: HashMap<String, String>,
    retry: Option<Duration>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, GATEWAY_DOMAIN, metadata);
    if let Some(retry) = retry {
        details.set_retry_info(Some(retry));
    }
    Status::with_error_details(code, message, details)
}

/// Adds the idempotency key to a status's ErrorInfo metadata and message, so
/// the caller can retry an unknown outcome safely.
fn with_key(status: Status, key: &str) -> Status {
    let mut details = status.get_error_details();
    let Some(info) = details.error_info().cloned() else {
        return status;
    };
    let mut metadata = info.metadata;
    metadata.insert("idempotencyKey".to_owned(), key.to_owned());
    details.set_error_info(info.reason, info.domain, metadata);
    let message = format!("{}; retry with idempotency_key {key:?}", status.message());
    Status::with_error_details(status.code(), message, details)
}
