//! `ReleasePublicIpAddress` (`PublicIpAddress`, `InstanceId`, `DryRun`;
//! `RegionId`): gives an instance's static public IP back; `{}` (the page's
//! `RemainTimes` is "not yet available" and not sent). Deprecated by
//! Alibaba ("deprecated with no replacement", Apr 2026), and only for the
//! classic network: a VPC instance answers `OperationDenied`.
//!
//! Checks, in order (the first failure answers; the codes are the API
//! page's):
//!
//! 1. `PublicIpAddress` absent: 400 `MissingParameter`; `DryRun` not a
//!    boolean: 400 `InvalidParameter`.
//! 2. no instance holds the address (or it is not an IPv4 address): 400
//!    `InvalidIpAddress.NotFound`.
//! 3. no `InstanceId`: 403 `InvalidIpAddress.NeedInstanceId`.
//! 4. unknown `InstanceId`: 404 `InvalidInstanceId.NotFound`; another
//!    instance holds the address: 400 `InvalidIpAddress.NotFound`.
//! 5. VPC instance: 400 `OperationDenied` ("... your instance is in VPC.").
//! 6. status not Running/Stopped: 403 `IncorrectInstanceStatus`.
//! 7. lock `security`: 403 `InstanceLockedForSecurity`.
//! 8. the instance gave its IP back [`MAX_PUBLIC_IP_RELEASES`] times
//!    already: 403 `OperationTimesOverLimit` (the limit is the emulator's;
//!    Alibaba does not publish it).
//! 9. `DryRun=true`: 400 `DryRunOperation`, nothing done.
//!
//! Otherwise the address leaves the instance and returns to its pool.

use serde_json::Map;

use super::{Effect, Performed};
use crate::aliyun::AliyunEmulator;
use crate::aliyun::errors::EcsError;
use crate::aliyun::instance::{LockReason, MAX_PUBLIC_IP_RELEASES, NetworkType};
use crate::aliyun::params::ApiRequest;

pub fn perform(emulator: &AliyunEmulator, request: &ApiRequest) -> Result<Performed, EcsError> {
    let address = request.required("PublicIpAddress")?;
    let dry_run = request
        .boolean("DryRun", || EcsError::invalid_parameter("DryRun"))?
        .unwrap_or(false);
    let instance_id = request.non_empty("InstanceId");
    let released = emulator.with_inventory(|inventory| {
        let ip = address.parse().map_err(|_| EcsError::ip_not_in_records())?;
        let holder = inventory
            .holder(ip)
            .ok_or_else(EcsError::ip_not_in_records)?
            .to_owned();
        let instance_id = instance_id.ok_or_else(EcsError::ip_needs_instance_id)?;
        let instance = inventory
            .get(instance_id)
            .ok_or_else(EcsError::instance_not_found)?;
        if holder != instance_id {
            return Err(EcsError::ip_not_in_records());
        }
        if instance.network == NetworkType::Vpc {
            return Err(EcsError::instance_in_vpc());
        }
        if !instance.is_running_or_stopped() {
            return Err(EcsError::incorrect_instance_status());
        }
        if instance.locks.contains(&LockReason::Security) {
            return Err(EcsError::locked_for_security());
        }
        if instance.public_ip_releases >= MAX_PUBLIC_IP_RELEASES {
            return Err(EcsError::release_times_over_limit());
        }
        if dry_run {
            return Err(EcsError::dry_run_operation());
        }
        if let Some(instance) = inventory.get_mut(instance_id) {
            instance.public_ip_releases = instance.public_ip_releases.saturating_add(1);
        }
        inventory
            .release_public_ip(instance_id)
            .map(|ip| (instance_id.to_owned(), ip))
            .ok_or_else(EcsError::ip_not_in_records)
    })?;
    let (instance_id, ip) = released;
    emulator.note_release(&instance_id, ip);
    tracing::debug!(instance_id, %ip, "aliyun emulator released a public IP");
    Ok(Performed {
        fields: Map::new(),
        effect: Effect::Released(1),
    })
}
