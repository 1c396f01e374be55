//! The emulated BMC actions, one file each, and the dispatch between them:
//!
//! - [`allocate_eip_addresses`]: creates 1 to 100 EIPs (CREATING at first).
//! - [`describe_eip_addresses`]: the account's EIPs, filtered and paged.
//! - [`terminate_eip_address`]: moves a POSTPAID EIP to the recycle bin.
//! - [`release_eip_addresses`]: purges EIPs from the recycle bin.
//! - [`describe_eip_available_resources`]: per zone and netmask, whether
//!   EIPs are for sale (SELL, SELL_SHORTAGE, SOLD_OUT).
//!
//! Every action reads its JSON body through [`super::params`], under the
//! emulator's [`crate::ApiReading`].

pub mod allocate_eip_addresses;
pub mod describe_eip_addresses;
pub mod describe_eip_available_resources;
pub mod release_eip_addresses;
pub mod terminate_eip_address;

use serde::Serialize;
use serde_json::{Map, Value};

use super::ZenlayerEmulator;
use super::errors::ApiError;

pub const ALLOCATE_EIP_ADDRESSES: &str = "AllocateEipAddresses";
pub const DESCRIBE_EIP_ADDRESSES: &str = "DescribeEipAddresses";
pub const TERMINATE_EIP_ADDRESS: &str = "TerminateEipAddress";
pub const RELEASE_EIP_ADDRESSES: &str = "ReleaseEipAddresses";
pub const DESCRIBE_EIP_AVAILABLE_RESOURCES: &str = "DescribeEipAvailableResources";

/// Every action the emulator serves.
pub const ACTIONS: [&str; 5] = [
    ALLOCATE_EIP_ADDRESSES,
    DESCRIBE_EIP_ADDRESSES,
    TERMINATE_EIP_ADDRESS,
    RELEASE_EIP_ADDRESSES,
    DESCRIBE_EIP_AVAILABLE_RESOURCES,
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

pub use crate::{Effect, Performed};

/// `value` as a JSON object (every answer type is a struct).
pub fn object(value: &impl Serialize) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(ApiError::internal()),
    }
}

/// Performs `action` (one of [`ACTIONS`]) for an authenticated request.
pub fn perform(
    emulator: &ZenlayerEmulator,
    action: &str,
    body: &Map<String, Value>,
) -> Result<Performed, ApiError> {
    match action {
        ALLOCATE_EIP_ADDRESSES => allocate_eip_addresses::perform(emulator, body),
        DESCRIBE_EIP_ADDRESSES => describe_eip_addresses::perform(emulator, body),
        TERMINATE_EIP_ADDRESS => terminate_eip_address::perform(emulator, body),
        RELEASE_EIP_ADDRESSES => release_eip_addresses::perform(emulator, body),
        DESCRIBE_EIP_AVAILABLE_RESOURCES => {
            describe_eip_available_resources::perform(emulator, body)
        }
        _ => Err(ApiError::unauthorized_operation(action)),
    }
}
