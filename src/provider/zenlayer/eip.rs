//! What an EIP that DescribeEipAddresses reports means as an
//! [`Allocation`]: its `eipStatus` as a lifecycle state, and its fields.

use super::wire::EipAddress;
use crate::provider::model::{Allocation, AllocationState};

/// Maps an `eipStatus` to the common lifecycle state.
pub fn state_from_status(status: &str) -> AllocationState {
    match status {
        "CREATING" => AllocationState::Pending,
        "AVAILABLE" | "ASSOCIATED" | "ASSOCIATING" | "UNASSOCIATING" | "INUSE" => {
            AllocationState::Ready
        }
        "CREATE_FAILED" => AllocationState::Failed,
        "RECYCLING" | "RECYCLE" | "RELEASING" => AllocationState::Released,
        _ => AllocationState::Pending,
    }
}

/// Maps one DescribeEipAddresses entry to an [`Allocation`].
pub fn allocation_from_eip(eip: EipAddress) -> Allocation {
    let provider_status = eip.eip_status.unwrap_or_default();
    let state = state_from_status(&provider_status);
    if state == AllocationState::Pending && provider_status != "CREATING" {
        tracing::warn!(
            eip_id = %eip.eip_id,
            status = %provider_status,
            "unknown zenlayer eip status, reporting pending"
        );
    }
    let failure_reason =
        (state == AllocationState::Failed).then(|| "Zenlayer reported CREATE_FAILED".to_owned());
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    Allocation {
        id: eip.eip_id,
        ip_address: non_empty(eip.ip_address),
        state,
        provider_status,
        zone_id: non_empty(eip.zone_id),
        region_id: None,
        requires_instance_restart: false,
        instance_id: non_empty(eip.instance_id),
        failure_reason,
        netmask: eip.netmask,
    }
}
