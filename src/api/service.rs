//! The `ipalloc.v1.IpAllocation` service: validate, dispatch to the provider
//! named by the request, map the outcome. Nothing provider-specific lives here
//! beyond the `params` oneof.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use tracing::{info, warn};

use super::{convert, error, validate};
use crate::pb;
use crate::pb::ip_allocation_server::IpAllocation;
use crate::provider::Registry;

/// The gRPC service over a set of provider accounts.
#[derive(Clone)]
pub struct IpAllocationService {
    registry: Arc<Registry>,
}

impl IpAllocationService {
    pub fn new(registry: Arc<Registry>) -> Self {
        IpAllocationService { registry }
    }
}

#[tonic::async_trait]
impl IpAllocation for IpAllocationService {
    #[tracing::instrument(name = "allocate_ip", skip_all)]
    async fn allocate_ip(
        &self,
        request: Request<pb::AllocateIpRequest>,
    ) -> Result<Response<pb::AllocateIpResponse>, Status> {
        let request = request.into_inner();
        let valid = validate::allocate(&request, &self.registry).inspect_err(|status| {
            info!(code = ?status.code(), message = status.message(), "rejected allocate request");
        })?;
        let provider = valid.provider.description();
        let result = valid.provider.allocate(&valid.spec).await.map_err(|e| {
            let status = error::provider_status(provider, &e);
            warn!(
                provider = %provider.name,
                code = ?status.code(),
                provider_request_id = e.request_id().unwrap_or_default(),
                error = %e,
                "allocation failed"
            );
            status
        })?;
        info!(
            provider = %provider.name,
            provider_request_id = %result.provider_request_id,
            allocations = result.allocations.len(),
            "allocated"
        );
        Ok(Response::new(convert::allocate_response(provider, result)))
    }

    #[tracing::instrument(name = "get_allocation", skip_all)]
    async fn get_allocation(
        &self,
        request: Request<pb::GetAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let request = request.into_inner();
        let (provider, lookup) = validate::get_allocation(&request, &self.registry)?;
        let description = provider.description();
        let allocation = provider.get_allocation(&lookup).await.map_err(|e| {
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
        _request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let providers = self
            .registry
            .iter()
            .map(|p| convert::provider_info(p.description()))
            .collect();
        Ok(Response::new(pb::ListProvidersResponse { providers }))
    }
}
