//! The lifecycle RPCs of `IpAllocationService`: ReleaseAllocation,
//! ListAllocations, CheckAvailability, and AllocateIp's `validate_only`.
//! Each reads the deadline, identifies and authorizes the caller, validates
//! the request, then runs its flow (`release.rs`, `list.rs`,
//! `availability.rs`); the audit line of a release is written by the
//! service.

use tokio::time::Instant;
use tonic::{Request, Status};
use tracing::info;

use super::service::IpAllocationService;
use super::validate::ValidAllocate;
use super::{authorize, availability, deadline, error, validate_lifecycle};
use crate::api::release::ReleaseRequest;
use crate::audit::AllocationEntry;
use crate::auth::Rpc;
use crate::logging::access::CallFacts;
use crate::pb;
use crate::provider::AvailabilitySpec;
use crate::spend::{SpendOutcome, SpendRequest};

impl IpAllocationService {
    /// ReleaseAllocation, noting in `entry` what the audit line says.
    pub(super) async fn release_audited(
        &self,
        request: Request<pb::ReleaseAllocationRequest>,
        facts: &CallFacts,
        entry: &mut AllocationEntry,
    ) -> Result<pb::ReleaseAllocationResponse, Status> {
        let deadline = deadline::from_metadata(request.metadata(), Instant::now());
        entry.provider = crate::audit::field(&request.get_ref().provider);
        let who = authorize::identify(&self.callers, &request, Rpc::ReleaseAllocation)?;
        if let Some(who) = who.as_ref() {
            entry.caller = who.name().to_owned();
            entry.caller_via = who.via.as_str();
        }
        authorize::may_call(who.as_ref(), Rpc::ReleaseAllocation)?;
        let request = request.into_inner();
        facts.provider(&request.provider);
        let valid = validate_lifecycle::release(&request, &self.registry).inspect_err(|status| {
            info!(code = ?status.code(), message = status.message(), "rejected release request");
        })?;
        let description = valid.provider.description();
        facts.provider(&description.name);
        entry.provider.clone_from(&description.name);
        entry.provider_kind = description.kind.as_str();
        entry.params.insert("id", valid.spec.id.clone());
        if let Some(region) = &valid.spec.region_id {
            entry.params.insert("region_id", region.clone());
        }
        entry.params.insert("purge", valid.spec.purge.to_string());
        entry.idempotency_key = valid.idempotency_key.clone().unwrap_or_default();
        authorize::provider(who.as_ref(), Rpc::ReleaseAllocation, description)?;
        self.allocator
            .release(ReleaseRequest {
                provider: valid.provider,
                spec: valid.spec,
                idempotency_key: valid.idempotency_key,
                deadline,
            })
            .await
    }

    /// ListAllocations over the accounts the caller may use.
    pub(super) async fn list(
        &self,
        request: Request<pb::ListAllocationsRequest>,
    ) -> Result<pb::ListAllocationsResponse, Status> {
        let deadline = deadline::from_metadata(request.metadata(), Instant::now());
        let who = authorize::caller(&self.callers, &request, Rpc::ListAllocations)?;
        let caller = who
            .as_ref()
            .map(|w| w.name().to_owned())
            .unwrap_or_default();
        let may_use = |account: &str| who.as_ref().is_none_or(|w| w.may_use(account));
        let valid = validate_lifecycle::list(request.get_ref(), &self.registry, &caller, may_use)?;
        for provider in &valid.providers {
            authorize::provider(who.as_ref(), Rpc::ListAllocations, provider.description())?;
        }
        self.allocator.list(valid, deadline).await
    }

    /// CheckAvailability.
    pub(super) async fn check(
        &self,
        request: Request<pb::CheckAvailabilityRequest>,
    ) -> Result<pb::CheckAvailabilityResponse, Status> {
        let deadline = deadline::from_metadata(request.metadata(), Instant::now());
        let who = authorize::caller(&self.callers, &request, Rpc::CheckAvailability)?;
        CallFacts::of(&request).provider(&request.get_ref().provider);
        let (provider, spec) = validate_lifecycle::check(request.get_ref(), &self.registry)?;
        authorize::provider(who.as_ref(), Rpc::CheckAvailability, provider.description())?;
        availability::check(&provider, &spec, deadline)
            .await
            .map(|(_, response)| response)
    }

    /// AllocateIp with `validate_only`: the request is valid and the caller
    /// may make it (checked by the caller of this); now its spend limits,
    /// without reserving, and the provider's availability. Nothing is
    /// allocated, reserved or recorded under the key.
    pub(super) async fn validate_only(
        &self,
        valid: &ValidAllocate,
        caller: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let description = valid.provider.description();
        if let Some(spend) = &self.allocator.spend {
            let scopes = spend.limits.scopes(&description.name, caller);
            let request = SpendRequest {
                account: &description.name,
                key: valid.idempotency_key.as_deref().unwrap_or("validate-only"),
                addresses: u64::from(valid.spec.addresses()),
                scopes: &scopes,
            };
            match self
                .allocator
                .store
                .check_spend(&request, &spend.clock)
                .await
            {
                Ok(SpendOutcome::Reserved) => {}
                Ok(SpendOutcome::Refused(refusal)) => {
                    return Err(error::spend_limit_reached(
                        description,
                        caller,
                        request.key,
                        &refusal,
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not check a spend limit");
                    return Err(error::store_unavailable(Some(description)));
                }
            }
        }
        let spec = AvailabilitySpec::for_allocation(&valid.spec);
        let (availability, response) =
            availability::check(&valid.provider, &spec, deadline).await?;
        if let Some(refused) = availability::refusal(description, &valid.spec, &availability) {
            info!(
                provider = %description.name,
                code = ?refused.code(),
                "validate_only: the allocation would be refused"
            );
            return Err(refused);
        }
        Ok(availability::would_allocate(
            description,
            &valid.spec,
            response,
        ))
    }
}
