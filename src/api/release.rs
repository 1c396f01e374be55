//! The ReleaseAllocation flow: give one allocation back to its provider.
//!
//! Releasing is idempotent by the provider's state: the adapter reads the
//! allocation back after an ambiguous answer, and what is already released
//! answers OK (`already_released`). The gateway's inventory answers for
//! what the provider no longer knows: an allocation the gateway made whose
//! id the provider has forgotten (a purged Zenlayer EIP, a deleted Alibaba
//! instance) was released, so OK again; an id neither knows is NOT_FOUND.
//!
//! With an idempotency key the answer is also kept under the key (the
//! fingerprint covers the RPC, the id, the region and `purge`): a repeated
//! call answers the first call's result, the same key with other
//! parameters is INVALID_ARGUMENT, and a call while another one with the
//! key is running waits for it (or gets ABORTED at its deadline). A key
//! whose release ended with an unknown outcome is simply released again:
//! the adapter's read-back makes a second send harmless.

use std::sync::Arc;
use std::time::SystemTime;

use prost::Message as _;
use tokio::time::Instant;
use tonic::Status;

use super::allocate::{Allocator, far_future, store_status, with_deadline};
use super::{convert, error};
use crate::cluster::Lease;
use crate::idempotency::{Begin, Claim, Fingerprint, WaitResult};
use crate::pb;
use crate::provider::{
    Allocation, AllocationState, CallContext, Lane, Provider, ProviderDescription, ProviderError,
    ReleaseResult, ReleaseSpec,
};

/// A validated ReleaseAllocation request.
pub struct ReleaseRequest {
    pub provider: Arc<dyn Provider>,
    pub spec: ReleaseSpec,
    pub idempotency_key: Option<String>,
    pub deadline: Option<Instant>,
}

/// The parameters a release key's fingerprint covers.
pub fn fingerprint(account: &str, spec: &ReleaseSpec) -> Fingerprint {
    Fingerprint::new(
        account,
        &[
            ("rpc", "ReleaseAllocation".to_owned()),
            ("id", spec.id.clone()),
            ("region_id", spec.region_id.clone().unwrap_or_default()),
            ("purge", spec.purge.to_string()),
        ],
    )
}

impl Allocator {
    pub async fn release(
        self: &Arc<Self>,
        request: ReleaseRequest,
    ) -> Result<pb::ReleaseAllocationResponse, Status> {
        let Some(key) = request.idempotency_key.clone() else {
            return self.release_once(&request, None).await;
        };
        let description = request.provider.description();
        loop {
            match self.inflight.claim(&key) {
                Claim::Owner(_guard) => return self.release_keyed(&request, &key).await,
                Claim::Follower(mut waiter) => {
                    let until = request.deadline.unwrap_or_else(far_future);
                    if !matches!(waiter.wait_until(until).await, WaitResult::Finished) {
                        return Err(error::key_in_progress(description, &key));
                    }
                }
            }
        }
    }

    /// The release under `key`, claimed in this process.
    async fn release_keyed(
        &self,
        request: &ReleaseRequest,
        key: &str,
    ) -> Result<pb::ReleaseAllocationResponse, Status> {
        let description = request.provider.description();
        let account = description.name.as_str();
        let fingerprint = fingerprint(account, &request.spec);
        let (began, lease) = self
            .store
            .begin(account, key, &fingerprint)
            .await
            .map_err(|e| store_status(description, key, &e))?;
        match began {
            Begin::Completed(bytes) => {
                return pb::ReleaseAllocationResponse::decode(bytes.as_slice())
                    .map_err(|e| error::record_corrupt(Some(description), key, &e.to_string()));
            }
            Begin::Mismatch { stored } => {
                return Err(error::key_reused(key, &stored.differences(&fingerprint)));
            }
            Begin::Busy { .. } => return Err(error::key_in_progress(description, key)),
            // A release that ended unknown is released again: the adapter
            // reads the state back first where a second send could matter.
            Begin::Started | Begin::InFlight { .. } | Begin::Unknown { .. } => {}
        }
        let outcome = self.release_once(request, Some(key)).await;
        let until = lease_until(request.deadline, lease.as_ref());
        let written = match &outcome {
            Ok(response) => {
                self.store
                    .complete_encoded(
                        account,
                        key,
                        lease.as_ref(),
                        &fingerprint,
                        &response.encode_to_vec(),
                        &response.provider_request_id,
                        until,
                    )
                    .await
            }
            Err(status) if is_unknown(status) => {
                self.store
                    .mark_unknown(account, key, lease.as_ref(), &fingerprint, until)
                    .await
            }
            Err(_) => self.store.release(account, key, lease.as_ref()).await,
        };
        if let Err(e) = written {
            tracing::warn!(
                provider = %account,
                key = %key,
                error = %e,
                "could not record a release under its idempotency key"
            );
            if let Some(lease) = &lease {
                self.store.end_lease(account, key, lease).await;
            }
        }
        outcome
    }

    /// One release at the provider, and what the inventory knows.
    async fn release_once(
        &self,
        request: &ReleaseRequest,
        key: Option<&str>,
    ) -> Result<pb::ReleaseAllocationResponse, Status> {
        let provider = &request.provider;
        let description = provider.description();
        let ctx = CallContext {
            deadline: request.deadline,
            idempotency_key: key.map(str::to_owned),
            lane: Lane::Allocation,
        };
        let spec = &request.spec;
        let result = with_deadline(&ctx, provider.release(spec, &ctx)).await;
        let result = match result {
            Ok(result) => result,
            Err(ProviderError::NotFound { .. }) if self.made_here(description, &spec.id).await => {
                // The provider forgot it: it was released (and purged).
                ReleaseResult {
                    provider_request_id: String::new(),
                    allocation: self.last_known_released(description, &spec.id).await,
                    already_released: true,
                    purged: spec.purge,
                }
            }
            Err(e) => {
                let status = match key {
                    Some(key) => error::allocation_status(description, &e, key),
                    None => error::provider_status(description, &e),
                };
                tracing::info!(
                    provider = %description.name,
                    id = %spec.id,
                    code = ?status.code(),
                    error = %e,
                    "release failed"
                );
                return Err(status);
            }
        };
        tracing::info!(
            provider = %description.name,
            id = %spec.id,
            already_released = result.already_released,
            purged = result.purged,
            provider_request_id = %result.provider_request_id,
            "released"
        );
        self.note_released(description, &result.allocation).await;
        Ok(pb::ReleaseAllocationResponse {
            provider: description.name.clone(),
            provider_request_id: result.provider_request_id,
            allocation: Some(convert::allocation(description, result.allocation)),
            already_released: result.already_released,
            purged: result.purged,
        })
    }

    /// Whether the inventory has `id` of this account.
    async fn made_here(&self, description: &ProviderDescription, id: &str) -> bool {
        match self.inventory.get(&description.name, id).await {
            Ok(entry) => entry.is_some(),
            Err(e) => {
                tracing::warn!(provider = %description.name, error = %e, "could not read the inventory");
                false
            }
        }
    }

    /// The inventory's last state of `id`, as released.
    pub(crate) async fn last_known_released(
        &self,
        description: &ProviderDescription,
        id: &str,
    ) -> Allocation {
        let last = self
            .inventory
            .get(&description.name, id)
            .await
            .ok()
            .flatten()
            .map(|entry| entry.allocation);
        released(last, id)
    }

    /// Stores a released state in the inventory.
    pub(crate) async fn note_released(
        &self,
        description: &ProviderDescription,
        allocation: &Allocation,
    ) {
        if let Err(e) = self
            .inventory
            .update(
                &description.name,
                std::slice::from_ref(allocation),
                SystemTime::now(),
            )
            .await
        {
            tracing::warn!(provider = %description.name, error = %e, "could not update the inventory");
        }
    }
}

/// `last` (or an allocation known only by `id`) in state Released, its
/// address kept for the record.
pub(crate) fn released(last: Option<Allocation>, id: &str) -> Allocation {
    let mut allocation = last.unwrap_or_else(|| Allocation {
        id: id.to_owned(),
        ip_address: None,
        state: AllocationState::Released,
        provider_status: String::new(),
        zone_id: None,
        region_id: None,
        requires_instance_restart: false,
        instance_id: None,
        failure_reason: None,
        netmask: None,
    });
    if allocation.state != AllocationState::Released {
        allocation.state = AllocationState::Released;
        // The provider no longer reports it: say so rather than repeat a
        // status it had while it existed.
        allocation.provider_status = "RELEASED".to_owned();
    }
    allocation
}

/// Whether `status` is the answer to an unknown outcome.
fn is_unknown(status: &Status) -> bool {
    status.code() == tonic::Code::DeadlineExceeded
}

/// The end of a record write's retries: the deadline, never past the lease.
fn lease_until(deadline: Option<Instant>, lease: Option<&Lease>) -> Option<Instant> {
    match (deadline, lease) {
        (Some(d), Some(l)) => Some(d.min(l.until)),
        (None, Some(l)) => Some(l.until),
        (d, None) => d,
    }
}
