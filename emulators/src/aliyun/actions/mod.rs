//! The emulated ECS actions, one file each, and the dispatch between them:
//!
//! - [`allocate_public_ip_address`]: `InstanceId`, optional `IpAddress`,
//!   `VlanId` -> `{"IpAddress"}`; the rules live in [`super::state`].
//! - [`describe_instance_attribute`]: `InstanceId` -> one instance's fields.
//! - [`describe_instances`]: filtered, paged instances of the region.
//! - [`release_public_ip_address`]: gives a classic-network instance's
//!   static public IP back (deprecated by Alibaba; refused for VPC).
//! - [`modify_instance_network_spec`]: changes an instance's public
//!   bandwidth; to 0 it reclaims the static public IP, and with
//!   `AllocatePublicIp=true` it assigns one.
//!
//! Every action is checked under the strict reading first
//! ([`super::strict`]) when the emulator reads strictly.

pub mod allocate_public_ip_address;
pub mod describe_instance_attribute;
pub mod describe_instances;
pub mod modify_instance_network_spec;
pub mod release_public_ip_address;

use super::AliyunEmulator;
use super::errors::EcsError;
use super::params::ApiRequest;

pub const ALLOCATE_PUBLIC_IP_ADDRESS: &str = "AllocatePublicIpAddress";
pub const DESCRIBE_INSTANCE_ATTRIBUTE: &str = "DescribeInstanceAttribute";
pub const DESCRIBE_INSTANCES: &str = "DescribeInstances";
pub const RELEASE_PUBLIC_IP_ADDRESS: &str = "ReleasePublicIpAddress";
pub const MODIFY_INSTANCE_NETWORK_SPEC: &str = "ModifyInstanceNetworkSpec";

/// Every action the emulator serves.
pub const ACTIONS: [&str; 5] = [
    ALLOCATE_PUBLIC_IP_ADDRESS,
    DESCRIBE_INSTANCE_ATTRIBUTE,
    DESCRIBE_INSTANCES,
    RELEASE_PUBLIC_IP_ADDRESS,
    MODIFY_INSTANCE_NETWORK_SPEC,
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

pub use crate::{Effect, Performed};

/// Performs `action` (one of [`ACTIONS`]) for a request authenticated with
/// `access_key_id`.
pub fn perform(
    emulator: &AliyunEmulator,
    action: &str,
    request: &ApiRequest,
    access_key_id: &str,
) -> Result<Performed, EcsError> {
    if emulator.reading().is_strict() {
        super::strict::check(request, action, emulator.region())?;
    }
    match action {
        ALLOCATE_PUBLIC_IP_ADDRESS => allocate_public_ip_address::perform(emulator, request),
        DESCRIBE_INSTANCE_ATTRIBUTE => describe_instance_attribute::perform(emulator, request),
        DESCRIBE_INSTANCES => describe_instances::perform(emulator, request),
        RELEASE_PUBLIC_IP_ADDRESS => release_public_ip_address::perform(emulator, request),
        MODIFY_INSTANCE_NETWORK_SPEC => {
            modify_instance_network_spec::perform(emulator, request, access_key_id)
        }
        _ => Err(EcsError::api_not_found()),
    }
}
