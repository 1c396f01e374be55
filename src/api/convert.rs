//! Domain types to protobuf messages.

use crate::pb;
use crate::provider::{
    AllocateResult, Allocation, AllocationState, Capabilities, ChargeTypeName, ProviderDescription,
    ProviderKind,
};

pub fn provider_kind(kind: ProviderKind) -> pb::ProviderKind {
    match kind {
        ProviderKind::Aliyun => pb::ProviderKind::Aliyun,
        ProviderKind::Zenlayer => pb::ProviderKind::Zenlayer,
    }
}

fn state_from_pb(state: pb::AllocationState) -> AllocationState {
    match state {
        pb::AllocationState::Ready => AllocationState::Ready,
        pb::AllocationState::Failed => AllocationState::Failed,
        pb::AllocationState::Released => AllocationState::Released,
        pb::AllocationState::Pending | pb::AllocationState::Unspecified => AllocationState::Pending,
    }
}

/// A stored or just-built response's allocation, back in domain terms.
pub fn allocation_from_pb(a: &pb::Allocation) -> Allocation {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Allocation {
        id: a.id.clone(),
        ip_address: text(&a.ip_address),
        state: state_from_pb(a.state()),
        provider_status: a.provider_status.clone(),
        zone_id: text(&a.zone_id),
        region_id: text(&a.region_id),
        requires_instance_restart: a.requires_instance_restart,
        instance_id: text(&a.instance_id),
        failure_reason: text(&a.failure_reason),
        netmask: (a.netmask != 0).then_some(a.netmask),
    }
}

fn state(state: AllocationState) -> pb::AllocationState {
    match state {
        AllocationState::Pending => pb::AllocationState::Pending,
        AllocationState::Ready => pb::AllocationState::Ready,
        AllocationState::Failed => pb::AllocationState::Failed,
        AllocationState::Released => pb::AllocationState::Released,
    }
}

pub fn allocation(provider: &ProviderDescription, a: Allocation) -> pb::Allocation {
    pb::Allocation {
        id: a.id,
        provider: provider.name.clone(),
        provider_kind: provider_kind(provider.kind) as i32,
        ip_address: a.ip_address.unwrap_or_default(),
        state: state(a.state) as i32,
        provider_status: a.provider_status,
        zone_id: a.zone_id.unwrap_or_default(),
        region_id: a.region_id.unwrap_or_default(),
        requires_instance_restart: a.requires_instance_restart,
        instance_id: a.instance_id.unwrap_or_default(),
        failure_reason: a.failure_reason.unwrap_or_default(),
        netmask: a.netmask.unwrap_or_default(),
    }
}

pub fn allocate_response(
    provider: &ProviderDescription,
    result: AllocateResult,
) -> pb::AllocateIpResponse {
    pb::AllocateIpResponse {
        provider: provider.name.clone(),
        provider_request_id: result.provider_request_id,
        order_number: result.order_number.unwrap_or_default(),
        allocations: result
            .allocations
            .into_iter()
            .map(|a| allocation(provider, a))
            .collect(),
        validated_only: false,
        availability: None,
    }
}

fn charge_type(name: ChargeTypeName) -> pb::ChargeType {
    match name {
        ChargeTypeName::Prepaid => pb::ChargeType::Prepaid,
        ChargeTypeName::Postpaid => pb::ChargeType::Postpaid,
    }
}

fn capabilities(c: &Capabilities) -> pb::ProviderCapabilities {
    pb::ProviderCapabilities {
        max_allocations_per_request: c.max_allocations_per_request,
        asynchronous: c.asynchronous,
        requires_instance: c.requires_instance,
        requires_instance_restart: c.requires_instance_restart,
        charge_types: c
            .charge_types
            .iter()
            .map(|&t| charge_type(t) as i32)
            .collect(),
        api_version: c.api_version.clone(),
        signature: c.signature.clone(),
    }
}

pub fn provider_info(d: &ProviderDescription) -> pb::ProviderInfo {
    pb::ProviderInfo {
        name: d.name.clone(),
        kind: provider_kind(d.kind) as i32,
        region: d.region.clone().unwrap_or_default(),
        endpoint: d.endpoint.clone(),
        capabilities: Some(capabilities(&d.capabilities)),
    }
}
