//! ReleaseAllocation on Zenlayer: `TerminateEipAddress` moves a POSTPAID
//! EIP to the recycle bin (RECYCLING, then RECYCLE), and with `purge`
//! `ReleaseEipAddresses` deletes it from there for good.
//!
//! Both are mutating: after an answer that may hide a performed call (a
//! timeout after sending, a lost connection, an IdempotentOnly 5xx) the EIP
//! is read back with DescribeEipAddresses before anything is sent again.
//! The provider decides every refusal (PREPAID, CREATING, ...): nothing is
//! pre-checked here, and its codes reach the caller through the error
//! table. Writes draw on the Allocation lane, reads on the caller's lane.

use std::time::Duration;

use tokio::time::Instant;

use super::client::{
    DESCRIBE_EIP_ADDRESSES, RELEASE_EIP_ADDRESSES, TERMINATE_EIP_ADDRESS, ZenlayerProvider,
    allocation_from_eip,
};
use super::wire::{
    DescribeEipAddressesRequest, DescribeEipAddressesResponse, EipAddress,
    ReleaseEipAddressesRequest, ReleaseEipAddressesResponse, Success, TerminateEipAddressRequest,
    TerminateEipAddressResponse,
};
use crate::provider::error::ProviderError;
use crate::provider::model::{Allocation, AllocationState, ReleaseResult, ReleaseSpec};
use crate::provider::{CallContext, Lane, Provider};

/// Terminate: the EIP is already in the recycle bin.
const EIP_RECYCLED: &str = "OPERATION_DENIED_EIP_RECYCLED";
/// Terminate and Release: no such EIP (never existed, or purged).
const EIP_NOT_FOUND: &str = "INVALID_EIP_NOT_FOUND";
/// Release: the EIP is not (yet) RECYCLE.
const EIP_NOT_RECYCLED: &str = "OPERATION_DENIED_EIP_NOT_RECYCLED";
/// Release: the other code Terraform reads as "already gone".
const RESOURCE_NOT_FOUND: &str = "OPERATION_FAILED_RESOURCE_NOT_FOUND";

/// What the recycle bin shows right after a successful terminate when the
/// read-back does not show it yet.
const RECYCLING: &str = "RECYCLING";
/// What an EIP the provider called recycled shows when it cannot be read.
const RECYCLE: &str = "RECYCLE";

/// How long a purge waits for RECYCLE when the caller set no deadline.
const PURGE_WAIT_WITHOUT_DEADLINE: Duration = Duration::from_secs(60);
/// The most ReleaseEipAddresses calls one purge sends.
const MAX_PURGE_SENDS: usize = 3;
/// The most DescribeEipAddresses polls one purge makes.
const MAX_PURGE_POLLS: usize = 100;

/// Terminates `spec.id` (see the module doc), then purges it when asked.
pub(super) async fn release(
    provider: &ZenlayerProvider,
    spec: &ReleaseSpec,
    ctx: &CallContext,
) -> Result<ReleaseResult, ProviderError> {
    let write = CallContext {
        lane: Lane::Allocation,
        ..ctx.clone()
    };
    let request = TerminateEipAddressRequest {
        eip_id: spec.id.clone(),
    };
    let terminated = provider
        .call::<_, TerminateEipAddressResponse>(TERMINATE_EIP_ADDRESS, &request, &write)
        .await;
    let (provider_request_id, allocation, already_released) = match terminated {
        Ok(Success { request_id, .. }) => {
            let shown = read_back(provider, &spec.id, ctx).await;
            (
                request_id.unwrap_or_default(),
                released(&spec.id, shown, RECYCLING),
                false,
            )
        }
        Err(e) if has_code(&e, EIP_RECYCLED) => {
            let shown = read_back(provider, &spec.id, ctx).await;
            (
                e.request_id().unwrap_or_default().to_owned(),
                released(&spec.id, shown, RECYCLE),
                true,
            )
        }
        Err(e) if has_code(&e, EIP_NOT_FOUND) => {
            return Err(ProviderError::NotFound {
                op: TERMINATE_EIP_ADDRESS,
                reason: "EIP_NOT_FOUND",
                message: format!("EIP {} not found", spec.id),
                request_id: e.request_id().map(str::to_owned),
            });
        }
        Err(e) if e.outcome_unknown() => match describe(provider, &spec.id, ctx).await {
            Ok(Some(eip)) if is_recycled(&eip) => {
                tracing::info!(
                    provider = %provider.description().name,
                    eip_id = %spec.id,
                    "zenlayer terminate answer lost; the EIP is in the recycle bin"
                );
                (
                    String::new(),
                    released(&spec.id, Some(eip), RECYCLING),
                    false,
                )
            }
            _ => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let purged = spec.purge && purge(provider, &spec.id, ctx).await;
    Ok(ReleaseResult {
        provider_request_id,
        allocation,
        already_released,
        purged,
    })
}

/// True when `e` is the provider's answer with `code`.
fn has_code(e: &ProviderError, code: &str) -> bool {
    matches!(e, ProviderError::Api(api) if api.code == code)
}

/// True for the statuses of an EIP in (or on its way into) the recycle bin.
fn is_recycled(eip: &EipAddress) -> bool {
    eip.eip_status
        .as_deref()
        .is_some_and(|s| super::client::state_from_status(s) == AllocationState::Released)
}

/// The EIP as DescribeEipAddresses shows it: `None` when the provider does
/// not list it.
async fn describe(
    provider: &ZenlayerProvider,
    id: &str,
    ctx: &CallContext,
) -> Result<Option<EipAddress>, ProviderError> {
    let request = DescribeEipAddressesRequest {
        eip_ids: Some(vec![id.to_owned()]),
        ..Default::default()
    };
    let Success { response, .. } = provider
        .call::<_, DescribeEipAddressesResponse>(DESCRIBE_EIP_ADDRESSES, &request, ctx)
        .await?;
    Ok(response.data_set.into_iter().find(|eip| eip.eip_id == id))
}

/// [`describe`] after a release the provider confirmed: a failed read only
/// costs the details, so it is logged and read as `None`.
async fn read_back(provider: &ZenlayerProvider, id: &str, ctx: &CallContext) -> Option<EipAddress> {
    match describe(provider, id, ctx).await {
        Ok(eip) => eip,
        Err(e) => {
            tracing::warn!(
                provider = %provider.description().name,
                eip_id = %id,
                error = %e,
                "zenlayer EIP released; reading it back failed"
            );
            None
        }
    }
}

/// The released allocation: as the provider shows it when it shows it in
/// the recycle bin, else `fallback_status` (a read-back may lag behind).
fn released(id: &str, shown: Option<EipAddress>, fallback_status: &str) -> Allocation {
    let mut allocation = match shown {
        Some(eip) => allocation_from_eip(eip),
        None => Allocation {
            id: id.to_owned(),
            ip_address: None,
            state: AllocationState::Released,
            provider_status: fallback_status.to_owned(),
            zone_id: None,
            region_id: None,
            requires_instance_restart: false,
            instance_id: None,
            failure_reason: None,
            netmask: None,
        },
    };
    if allocation.state != AllocationState::Released {
        allocation.provider_status = fallback_status.to_owned();
        allocation.state = AllocationState::Released;
        allocation.failure_reason = None;
    }
    allocation
}

/// Deletes a terminated EIP from the recycle bin: true once it is gone.
/// While the provider says it is not in the bin yet (still RECYCLING), the
/// EIP is polled with the account's follow settings (`poll_initial`
/// doubling to `poll_max`) until it is RECYCLE, within the caller's
/// deadline; an EIP that vanished meanwhile counts as purged. The EIP is
/// released whatever happens here, so a failure only leaves it unpurged
/// (logged): the caller may ask again.
async fn purge(provider: &ZenlayerProvider, id: &str, ctx: &CallContext) -> bool {
    let write = CallContext {
        lane: Lane::Allocation,
        ..ctx.clone()
    };
    let request = ReleaseEipAddressesRequest {
        eip_ids: vec![id.to_owned()],
    };
    let follow = *provider.follow();
    let now = Instant::now();
    let limit = ctx
        .deadline
        .unwrap_or_else(|| now.checked_add(PURGE_WAIT_WITHOUT_DEADLINE).unwrap_or(now));
    let mut delay = follow.poll_initial;
    let mut polls = 0;
    let unpurged = |error: &ProviderError| {
        tracing::warn!(
            provider = %provider.description().name,
            eip_id = %id,
            error = %error,
            "zenlayer EIP released but not purged from the recycle bin"
        );
        false
    };
    for _ in 0..MAX_PURGE_SENDS {
        let sent = provider
            .call::<_, ReleaseEipAddressesResponse>(RELEASE_EIP_ADDRESSES, &request, &write)
            .await;
        match sent {
            Ok(_) => return true,
            Err(e) if has_code(&e, EIP_NOT_FOUND) || has_code(&e, RESOURCE_NOT_FOUND) => {
                return true;
            }
            Err(e) if has_code(&e, EIP_NOT_RECYCLED) => {}
            Err(e) if e.outcome_unknown() => match describe(provider, id, ctx).await {
                Ok(None) => return true,
                // Read back: still in the bin, so sending again is safe.
                Ok(Some(eip)) if eip.eip_status.as_deref() == Some(RECYCLE) => continue,
                Ok(Some(_)) => {}
                Err(_) => return unpurged(&e),
            },
            Err(e) => return unpurged(&e),
        }
        // Not in the bin yet: wait until it is RECYCLE (or gone).
        loop {
            let wakes = Instant::now().checked_add(delay);
            if polls >= MAX_PURGE_POLLS || wakes.is_none_or(|at| at > limit) {
                tracing::warn!(
                    provider = %provider.description().name,
                    eip_id = %id,
                    "zenlayer EIP released; still not RECYCLE when the purge had to stop"
                );
                return false;
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(follow.poll_max);
            polls += 1;
            match describe(provider, id, ctx).await {
                Ok(None) => return true,
                Ok(Some(eip)) if eip.eip_status.as_deref() == Some(RECYCLE) => break,
                Ok(Some(_)) => {}
                Err(e) => return unpurged(&e),
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eip(status: Option<&str>) -> EipAddress {
        EipAddress {
            eip_id: "eip-1".to_owned(),
            zone_id: Some("SEL-A".to_owned()),
            eip_status: status.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn the_released_allocation_shows_the_recycle_bin() {
        let shown = released("eip-1", Some(eip(Some("RECYCLE"))), RECYCLING);
        assert_eq!(
            (
                shown.state,
                shown.provider_status.as_str(),
                shown.zone_id.as_deref()
            ),
            (AllocationState::Released, "RECYCLE", Some("SEL-A"))
        );
        // A read-back that lags behind still reports the release.
        let stale = released("eip-1", Some(eip(Some("AVAILABLE"))), RECYCLING);
        assert_eq!(
            (stale.state, stale.provider_status.as_str()),
            (AllocationState::Released, "RECYCLING")
        );
        let unread = released("eip-1", None, RECYCLE);
        assert_eq!(
            (
                unread.id.as_str(),
                unread.state,
                unread.provider_status.as_str()
            ),
            ("eip-1", AllocationState::Released, "RECYCLE")
        );
    }

    #[test]
    fn recycled_statuses() {
        for (status, recycled) in [
            (Some("RECYCLING"), true),
            (Some("RECYCLE"), true),
            (Some("RELEASING"), true),
            (Some("AVAILABLE"), false),
            (Some("ASSOCIATED"), false),
            (Some("CREATE_FAILED"), false),
            (None, false),
        ] {
            assert_eq!(is_recycled(&eip(status)), recycled, "{status:?}");
        }
    }
}
