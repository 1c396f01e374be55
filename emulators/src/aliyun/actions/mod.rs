//! The emulated ECS actions, one file each, and the dispatch between them:
//!
//! - [`allocate_public_ip_address`]: `InstanceId`, optional `IpAddress`,
//!   `VlanId` -> `{"IpAddress"}`; the rules live in [`super::state`].
//! - [`describe_instance_attribute`]: `InstanceId` -> one instance's fields.
//! - [`describe_instances`]: filtered, paged instances of the region.
//!
//! Every action is checked under the strict reading first
//! ([`super::strict`]) when the emulator reads strictly.

pub mod allocate_public_ip_address;
pub mod describe_instance_attribute;
pub mod describe_instances;

use serde_json::{Map, Value};

use super::AliyunEmulator;
use super::errors::EcsError;
use super::params::ApiRequest;

pub const ALLOCATE_PUBLIC_IP_ADDRESS: &str = "AllocatePublicIpAddress";
pub const DESCRIBE_INSTANCE_ATTRIBUTE: &str = "DescribeInstanceAttribute";
pub const DESCRIBE_INSTANCES: &str = "DescribeInstances";

/// Every action the emulator serves.
pub const ACTIONS: [&str; 3] = [
    ALLOCATE_PUBLIC_IP_ADDRESS,
    DESCRIBE_INSTANCE_ATTRIBUTE,
    DESCRIBE_INSTANCES,
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// The result of a performed action.
#[derive(Debug)]
pub struct Performed {
    /// The answer's fields (the response adds `RequestId`).
    pub fields: Map<String, Value>,
    /// True when an address was allocated (fault injection may then drop
    /// the connection); false for an existing IP returned by
    /// [`super::RepeatAllocation::ReturnExisting`].
    pub allocated: bool,
}

impl Performed {
    /// An answer that allocated nothing.
    pub fn read(fields: Map<String, Value>) -> Performed {
        Performed {
            fields,
            allocated: false,
        }
    }
}

/// Performs `action` (one of [`ACTIONS`]) for an authenticated request.
pub fn perform(
    emulator: &AliyunEmulator,
    action: &str,
    request: &ApiRequest,
) -> Result<Performed, EcsError> {
    if emulator.reading().is_strict() {
        super::strict::check(request, action, emulator.region())?;
    }
    match action {
        ALLOCATE_PUBLIC_IP_ADDRESS => allocate_public_ip_address::perform(emulator, request),
        DESCRIBE_INSTANCE_ATTRIBUTE => describe_instance_attribute::perform(emulator, request),
        DESCRIBE_INSTANCES => describe_instances::perform(emulator, request),
        _ => Err(EcsError::api_not_found()),
    }
}
