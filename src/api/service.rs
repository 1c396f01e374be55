//! The `ipalloc.v1.IpAllocation` service: read the deadline, authorize the
//! caller (`authorize`), validate, dispatch to the provider named by the
//! request, map the outcome, and write the audit line of every `AllocateIp`
//! answer. Nothing provider-specific lives here beyond the `params` oneof.
//! Each RPC runs in a span named after it at DEBUG: at the default INFO
//! level the spans are disabled and cost nothing per call (the access line
//! names the method of every call).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{info, warn};

use super::allocate::{self, Allocator};
use super::{authorize, convert, deadline, error, follow, validate};
use crate::audit::{AllocationEntry, Audit};
use crate::auth::{Callers, Identified, Rpc};
use crate::idempotency::Fingerprint;
use crate::logging::access::CallFacts;
use crate::pb;
use crate::pb::ip_allocation_server::IpAllocation;
use crate::provider::{AllocationLookup, CallContext, Lane, Provider, ProviderError, Registry};

/// Default longest life of one `WatchAllocation` stream.
pub const DEFAULT_WATCH_LIFETIME: Duration = Duration::from_secs(3600);

/// The gRPC service over a set of provider accounts.
#[derive(Clone)]
pub struct IpAllocationService {
    pub(super) registry: Arc<Registry>,
    pub(super) allocator: Arc<Allocator>,
    /// Longest life of one `WatchAllocation` stream.
    watch_lifetime: Duration,
    /// Who may call; none configured: everyone.
    pub(super) callers: Arc<Callers>,
    /// Where `AllocateIp` and `ReleaseAllocation` outcomes are audited;
    /// `None`: nowhere.
    pub(super) audit: Option<Audit>,
}

impl IpAllocationService {
    pub fn new(registry: Arc<Registry>, allocator: Arc<Allocator>) -> Self {
        IpAllocationService {
            registry,
            allocator,
            watch_lifetime: DEFAULT_WATCH_LIFETIME,
            callers: Arc::new(Callers::default()),
            audit: None,
        }
    }

    /// Serves only `callers` (when any is configured), auditing to `audit`.
    pub fn with_access(mut self, callers: Arc<Callers>, audit: Audit) -> Self {
        self.callers = callers;
        self.audit = Some(audit);
        self
    }

    /// Ends every `WatchAllocation` stream after `lifetime` at the latest.
    pub fn with_watch_lifetime(mut self, lifetime: Duration) -> Self {
        self.watch_lifetime = lifetime;
        self
    }

    /// The deadline, provider and validated lookup of a GetAllocation or
    /// WatchAllocation request.
    fn lookup<T: WhichAllocation>(
        &self,
        request: &Request<T>,
        rpc: Rpc,
    ) -> Result<LookupCall, Status> {
        let deadline = deadline::from_metadata(request.metadata(), Instant::now());
        let who = authorize::caller(&self.callers, request, rpc)?;
        let (provider, id, region_id) = request.get_ref().which();
        CallFacts::of(request).provider(provider);
        let (provider, lookup) = validate::get_allocation(provider, id, region_id, &self.registry)?;
        authorize::provider(who.as_ref(), rpc, provider.description())?;
        Ok(LookupCall {
            deadline,
            provider,
            lookup,
        })
    }
}

impl IpAllocationService {
    /// AllocateIp, noting in `entry` what the audit line says of the call.
    async fn allocate_audited(
        &self,
        request: Request<pb::AllocateIpRequest>,
        facts: &CallFacts,
        entry: &mut AllocationEntry,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let deadline = deadline::from_metadata(request.metadata(), Instant::now());
        entry.provider = crate::audit::field(&request.get_ref().provider);
        let who = authorize::identify(&self.callers, &request, Rpc::AllocateIp)?;
        note_caller(entry, who.as_ref());
        authorize::may_call(who.as_ref(), Rpc::AllocateIp)?;
        let request = request.into_inner();
        facts.provider(&request.provider);
        let (valid, wait_timeout) = validate::allocate(&request, &self.registry)
            .inspect_err(|status| {
                info!(code = ?status.code(), message = status.message(), "rejected allocate request");
            })?;
        let description = valid.provider.description();
        let provider = description.name.clone();
        // The configured name, when the request left it to the default.
        if provider != request.provider {
            facts.provider(&provider);
        }
        entry.provider.clone_from(&provider);
        entry.provider_kind = description.kind.as_str();
        // Made once: the fingerprint hashes them, then the audit line keeps
        // them (moved, not copied).
        let canonical = valid.spec.canonical_params();
        let fingerprint = Fingerprint::new(&provider, &canonical);
        entry.params = canonical.into_iter().collect();
        entry.addresses = u64::from(valid.spec.addresses());
        authorize::provider(who.as_ref(), Rpc::AllocateIp, description)?;
        if request.validate_only {
            entry.action = "validate_only";
            let caller = who.as_ref().map(|who| who.name());
            return self.validate_only(&valid, caller, deadline).await;
        }
        // Boxed: the futures of this call and its layers hold a pointer to
        // the flow's state instead of copying all of it at every level.
        let response = facts
            .clone()
            .scope(Box::pin(self.allocator.allocate(allocate::Request {
                valid,
                fingerprint,
                caller: who.as_ref().map(|who| who.name().to_owned()),
                wait: request.wait,
                wait_timeout,
                deadline,
            })))
            .await
            .inspect_err(|status| {
                warn!(
                    provider = %provider,
                    code = ?status.code(),
                    message = status.message(),
                    "allocation failed"
                );
            })?;
        // The access line and the audit line say it at INFO already.
        tracing::debug!(
            provider = %provider,
            provider_request_id = %response.provider_request_id,
            allocations = response.allocations.len(),
            "allocated"
        );
        facts.allocations(&response.allocations);
        Ok(response)
    }
}

/// The caller's name and how it was identified, for the audit line.
fn note_caller(entry: &mut AllocationEntry, who: Option<&Identified>) {
    if let Some(who) = who {
        entry.caller = who.name().to_owned();
        entry.caller_via = who.via.as_str();
    }
}

/// What GetAllocation and WatchAllocation requests name: the provider, the
/// allocation id and (Aliyun) the region.
trait WhichAllocation {
    fn which(&self) -> (&str, &str, &str);
}

impl WhichAllocation for pb::GetAllocationRequest {
    fn which(&self) -> (&str, &str, &str) {
        (&self.provider, &self.id, &self.region_id)
    }
}

impl WhichAllocation for pb::WatchAllocationRequest {
    fn which(&self) -> (&str, &str, &str) {
        (&self.provider, &self.id, &self.region_id)
    }
}

/// A GetAllocation or WatchAllocation request, validated.
struct LookupCall {
    deadline: Option<Instant>,
    provider: Arc<dyn Provider>,
    lookup: AllocationLookup,
}

#[tonic::async_trait]
impl IpAllocation for IpAllocationService {
    #[tracing::instrument(level = "debug", name = "allocate_ip", skip_all)]
    async fn allocate_ip(
        &self,
        request: Request<pb::AllocateIpRequest>,
    ) -> Result<Response<pb::AllocateIpResponse>, Status> {
        let facts = CallFacts::of(&request);
        let mut entry = AllocationEntry::allocate();
        entry.peer = authorize::peer_address(&request);
        let result = self.allocate_audited(request, &facts, &mut entry).await;
        if let Some(audit) = &self.audit {
            entry.idempotency_key = facts.recorded_key();
            entry.replay = facts.was_replayed();
            audit.allocation(&entry.outcome(&result));
        }
        result.map(Response::new)
    }

    #[tracing::instrument(level = "debug", name = "get_allocation", skip_all)]
    async fn get_allocation(
        &self,
        request: Request<pb::GetAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let LookupCall {
            deadline,
            provider,
            lookup,
        } = self.lookup(&request, Rpc::GetAllocation)?;
        let description = provider.description();
        let ctx = CallContext {
            deadline,
            idempotency_key: None,
            lane: Lane::Read,
        };
        let allocation = match provider.get_allocation(&lookup, &ctx).await {
            // An allocation this gateway made that the provider no longer
            // shows (a purged EIP, an instance whose IP was reclaimed) was
            // released.
            Err(ProviderError::NotFound { .. })
                if self
                    .allocator
                    .inventory
                    .get(&description.name, &lookup.id)
                    .await
                    .is_ok_and(|e| e.is_some()) =>
            {
                let released = self
                    .allocator
                    .last_known_released(description, &lookup.id)
                    .await;
                self.allocator.note_released(description, &released).await;
                Ok(released)
            }
            other => other,
        };
        let allocation = allocation.map_err(|e| {
            let status = error::provider_status(description, &e);
            info!(
                provider = %description.name,
                id = %lookup.id,
                code = ?status.code(),
                error = %e,
                "lookup failed"
            );
            status
        })?;
        Ok(Response::new(convert::allocation(description, allocation)))
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let who = authorize::caller(&self.callers, &request, Rpc::ListProviders)?;
        // A caller sees the accounts it may use.
        let providers = self
            .registry
            .iter()
            .filter(|p| {
                who.as_ref()
                    .is_none_or(|who| who.may_use(&p.description().name))
            })
            .map(|p| convert::provider_info(p.description()))
            .collect();
        Ok(Response::new(pb::ListProvidersResponse { providers }))
    }

    type WatchAllocationStream = ReceiverStream<Result<pb::Allocation, Status>>;

    #[tracing::instrument(level = "debug", name = "watch_allocation", skip_all)]
    async fn watch_allocation(
        &self,
        request: Request<pb::WatchAllocationRequest>,
    ) -> Result<Response<Self::WatchAllocationStream>, Status> {
        let call = self.lookup(&request, Rpc::WatchAllocation)?;
        // Whatever the deadline, a watch ends at its maximum lifetime.
        let now = Instant::now();
        let limits = follow::WatchLimits {
            deadline: call.deadline,
            lifetime_end: now
                .checked_add(self.watch_lifetime)
                .unwrap_or_else(|| now + DEFAULT_WATCH_LIFETIME),
            lifetime: self.watch_lifetime,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(follow::watch(call.provider, call.lookup, limits, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    #[tracing::instrument(level = "debug", name = "release_allocation", skip_all)]
    async fn release_allocation(
        &self,
        request: Request<pb::ReleaseAllocationRequest>,
    ) -> Result<Response<pb::ReleaseAllocationResponse>, Status> {
        let facts = CallFacts::of(&request);
        let mut entry = AllocationEntry::release();
        entry.peer = authorize::peer_address(&request);
        let result = self.release_audited(request, &facts, &mut entry).await;
        if let Some(audit) = &self.audit {
            audit.allocation(&entry.released(&result));
        }
        result.map(Response::new)
    }

    #[tracing::instrument(level = "debug", name = "list_allocations", skip_all)]
    async fn list_allocations(
        &self,
        request: Request<pb::ListAllocationsRequest>,
    ) -> Result<Response<pb::ListAllocationsResponse>, Status> {
        self.list(request).await.map(Response::new)
    }

    #[tracing::instrument(level = "debug", name = "check_availability", skip_all)]
    async fn check_availability(
        &self,
        request: Request<pb::CheckAvailabilityRequest>,
    ) -> Result<Response<pb::CheckAvailabilityResponse>, Status> {
        self.check(request).await.map(Response::new)
    }
}
