//! The emulated BMC actions, one file each, and the dispatch between them:
//!
//! - [`allocate_eip_addresses`]: creates 1 to 100 EIPs (CREATING at first).
//! - [`describe_eip_addresses`]: the account's EIPs, filtered and paged.
//! - [`terminate_eip_address`]: moves a POSTPAID EIP to the recycle bin.
//!
//! Every action reads its JSON body through [`super::params`], under the
//! emulator's [`crate::ApiReading`].

pub mod allocate_eip_addresses;
pub mod describe_eip_addresses;
pub mod terminate_eip_address;

use serde::Serialize;
use serde_json::{Map, Value};

use super::ZenlayerEmulator;
use super::errors::ApiError;

pub const ALLOCATE_EIP_ADDRESSES: &str = "AllocateEipAddresses";
pub const DESCRIBE_EIP_ADDRESSES: &str = "DescribeEipAddresses";
pub const TERMINATE_EIP_ADDRESS: &str = "TerminateEipAddress";

/// Every action the emulator serves.
pub const ACTIONS: [&str; 3] = [
    ALLOCATE_EIP_ADDRESSES,
    DESCRIBE_EIP_ADDRESSES,
    TERMINATE_EIP_ADDRESS,
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// The result of a performed action.
#[derive(Debug)]
pub struct Performed {
    /// The `response` object's fields (the envelope adds `requestId`).
    pub fields: Map<String, Value>,
    /// How many addresses were allocated (fault injection may then drop
    /// the connection).
    pub allocated: u64,
}

impl Performed {
    /// An answer that allocated nothing.
    pub fn read(fields: &impl Serialize) -> Result<Performed, ApiError> {
        Ok(Performed {
            fields: object(fields)?,
            allocated: 0,
        })
    }
}

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
        _ => Err(ApiError::unauthorized_operation(action)),
    }
}
