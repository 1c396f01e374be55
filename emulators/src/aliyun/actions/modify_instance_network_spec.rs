//! `ModifyInstanceNetworkSpec` (`InstanceId`; optional
//! `InternetMaxBandwidthOut` 0..=100, `InternetMaxBandwidthIn` 1..=200,
//! `NetworkChargeType` PayByTraffic | PayByBandwidth, `AllocatePublicIp`,
//! `AutoPay`, `ClientToken`): changes an instance's public bandwidth;
//! `{"OrderId"}`. The documented way to give a static public IP back: "the
//! system reclaims a static public IP address when you change the
//! bandwidth to 0 Mbps". With `AllocatePublicIp=true` (pay-as-you-go) and a
//! bandwidth above 0 it assigns one from the zone's pool.
//!
//! Checks, in order (the first failure answers; codes from the API page
//! unless noted):
//!
//! 1. `InstanceId` absent: 400 `MissingParameter`.
//! 2. `InternetMaxBandwidthOut` not an integer in 0..=100: 400
//!    `InvalidInternetMaxBandwidthOut.ValueNotSupported`;
//!    `InternetMaxBandwidthIn` not in 1..=200: 400
//!    `InvalidInternetMaxBandwidthIn.ValueNotSupported`;
//!    `NetworkChargeType` unknown: 400
//!    `InvalidInternetChargeType.ValueNotSupported`; `AllocatePublicIp` not
//!    a boolean: 400 `InvalidParam.AllocatePublicIp`; `AutoPay` not a
//!    boolean: 400 `InvalidParameter`; `ClientToken` not 1 to 64 printable
//!    ASCII characters: 400 `InvalidClientToken.ValueNotSupported`.
//! 3. a `ClientToken` seen before: the same parameters get the first
//!    answer again, nothing is performed; other parameters are 400
//!    `IdempotentParameterMismatch` (ECS common error).
//! 4. unknown instance: 404 `InvalidInstanceId.NotFound`; an instance
//!    designated to refuse the change ([`crate::aliyun::refusals`]): its
//!    row of the page.
//! 5. status not Running/Stopped: 403 `IncorrectInstanceStatus`; lock
//!    `security`: 403 `InstanceLockedForSecurity` (ECS common), `financial`:
//!    403 `InstanceExpiredOrInArrears`, `recycling`: 403
//!    `IncorrectInstanceStatus`.
//! 6. an order waiting for payment: 403 `InvalidInstance.UnPaidOrder`.
//! 7. a VPC instance with an EIP bound, asked for a bandwidth or a public
//!    IP: 403 `InvalidInstance.InstanceNotSupported`.
//! 8. `AllocatePublicIp=true` with the resulting bandwidth 0: 400
//!    `InvalidParam.AllocatePublicIp`.
//! 9. a classic-network instance raised from 0 while not Stopped: 403
//!    `IncorrectInstanceStatus` (the page's rule).
//! 10. `AllocatePublicIp=true`, no public IP yet, and the zone's pool
//!     empty: 400 `IpAllocationError`.
//!
//! Then: the bandwidths and charge type are set; bandwidth 0 takes the
//! static public IP away (it returns to its pool; a release for the
//! counters and faults); `AllocatePublicIp=true` assigns one (an
//! allocation). `OrderId` is a fresh number.

use serde_json::{Map, Value};

use super::{Effect, Performed};
use crate::aliyun::AliyunEmulator;
use crate::aliyun::errors::EcsError;
use crate::aliyun::instance::{InstanceStatus, InternetChargeType, LockReason, NetworkType};
use crate::aliyun::params::ApiRequest;
use crate::aliyun::refusals::network_spec_refusal;
use crate::aliyun::strict::action_params;

/// The largest `InternetMaxBandwidthOut` (pay-by-traffic and pay-as-you-go
/// instances; the page allows 200 only for subscription pay-by-bandwidth).
pub const MAX_BANDWIDTH_OUT: u32 = 100;
/// `InternetMaxBandwidthIn` range.
pub const BANDWIDTH_IN: std::ops::RangeInclusive<u32> = 1..=200;

/// The change asked for, validated.
#[derive(Debug, Clone, Copy)]
struct Change {
    out: Option<u32>,
    inbound: Option<u32>,
    charge: Option<InternetChargeType>,
    allocate_public_ip: bool,
}

pub fn perform(
    emulator: &AliyunEmulator,
    request: &ApiRequest,
    access_key_id: &str,
) -> Result<Performed, EcsError> {
    let instance_id = request.required("InstanceId")?;
    let change = parse(request)?;
    let token = request.non_empty("ClientToken");
    if let Some(token) = token {
        if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EcsError::invalid_client_token());
        }
        let params = own_params(request);
        if let Some(fields) = emulator
            .client_tokens
            .replay(access_key_id, token, &params)?
        {
            return Ok(Performed::read(fields));
        }
    }
    let (effect, released) = apply(emulator, instance_id, change)?;
    let mut fields = Map::new();
    fields.insert("OrderId".to_owned(), Value::String(order_id()));
    if let Some(token) = token {
        emulator
            .client_tokens
            .remember(access_key_id, token, &own_params(request), &fields);
    }
    match (effect, released) {
        (Effect::Allocated(_), _) => emulator.note_allocation(instance_id),
        (Effect::Released(_), Some(ip)) => emulator.note_release(instance_id, ip),
        _ => {}
    }
    Ok(Performed { fields, effect })
}

fn parse(request: &ApiRequest) -> Result<Change, EcsError> {
    let number = |name: &str, range: std::ops::RangeInclusive<u32>, error: fn() -> EcsError| {
        request
            .non_empty(name)
            .map(|text| {
                text.parse::<u32>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(error)
            })
            .transpose()
    };
    let out = number(
        "InternetMaxBandwidthOut",
        0..=MAX_BANDWIDTH_OUT,
        EcsError::bandwidth_out_not_supported,
    )?;
    let inbound = number(
        "InternetMaxBandwidthIn",
        BANDWIDTH_IN,
        EcsError::bandwidth_in_not_supported,
    )?;
    let charge = request
        .non_empty("NetworkChargeType")
        .map(|text| InternetChargeType::parse(text).ok_or_else(EcsError::charge_type_not_supported))
        .transpose()?;
    let allocate_public_ip = request
        .boolean("AllocatePublicIp", EcsError::invalid_allocate_public_ip)?
        .unwrap_or(false);
    request.boolean("AutoPay", || EcsError::invalid_parameter("AutoPay"))?;
    Ok(Change {
        out,
        inbound,
        charge,
        allocate_public_ip,
    })
}

/// The action's own parameters as sent (what a `ClientToken` is bound to).
fn own_params(request: &ApiRequest) -> Vec<(&str, &str)> {
    let own = action_params(super::MODIFY_INSTANCE_NETWORK_SPEC);
    request
        .all_params()
        .filter(|(name, _)| own.contains(name))
        .collect()
}

/// Checks the instance's state and makes the change; returns its effect
/// and the address reclaimed, if any.
fn apply(
    emulator: &AliyunEmulator,
    instance_id: &str,
    change: Change,
) -> Result<(Effect, Option<std::net::Ipv4Addr>), EcsError> {
    emulator.with_inventory(|inventory| {
        let instance = inventory
            .get(instance_id)
            .ok_or_else(EcsError::instance_not_found)?;
        if let Some(refusal) = network_spec_refusal(instance_id) {
            return Err(refusal);
        }
        if !instance.is_running_or_stopped() {
            return Err(EcsError::incorrect_instance_status_for_network());
        }
        if instance.locks.contains(&LockReason::Security) {
            return Err(EcsError::locked_for_security());
        }
        if instance.locks.contains(&LockReason::Financial) {
            return Err(EcsError::expired_or_in_arrears());
        }
        if instance.locks.contains(&LockReason::Recycling) {
            return Err(EcsError::incorrect_instance_status_for_network());
        }
        if instance.unpaid_order {
            return Err(EcsError::unpaid_order());
        }
        if instance.network == NetworkType::Vpc
            && instance.eip.is_some()
            && (change.out.is_some() || change.allocate_public_ip)
        {
            return Err(EcsError::eip_instance_needs_no_bandwidth());
        }
        let current = instance.internet_max_bandwidth_out;
        let out = change.out.unwrap_or(current);
        if change.allocate_public_ip && out == 0 {
            return Err(EcsError::invalid_allocate_public_ip());
        }
        if instance.network == NetworkType::Classic
            && current == 0
            && out > 0
            && instance.status != InstanceStatus::Stopped
        {
            return Err(EcsError::incorrect_instance_status_for_network());
        }
        let assign = change.allocate_public_ip && instance.public_ip.is_none();
        if assign && inventory.assign_from_zone(instance_id).is_none() {
            return Err(EcsError::ip_allocation_error());
        }
        let reclaimed = if out == 0 {
            inventory.release_public_ip(instance_id)
        } else {
            None
        };
        if let Some(instance) = inventory.get_mut(instance_id) {
            instance.internet_max_bandwidth_out = out;
            if let Some(inbound) = change.inbound {
                instance.internet_max_bandwidth_in = inbound;
            }
            if let Some(charge) = change.charge {
                instance.internet_charge_type = charge;
            }
        }
        let effect = match (assign, reclaimed) {
            (true, _) => Effect::Allocated(1),
            (false, Some(_)) => Effect::Released(1),
            (false, None) => Effect::None,
        };
        Ok((effect, reclaimed))
    })
}

/// A fresh order number: 15 digits.
fn order_id() -> String {
    use rand::Rng;
    format!(
        "{:015}",
        rand::rng().random_range(100_000_000_000_000u64..1_000_000_000_000_000)
    )
}
