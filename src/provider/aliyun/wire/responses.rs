//! The success bodies of the two Alibaba Cloud ECS calls the gateway makes
//! (`AllocatePublicIpAddress`, `DescribeInstanceAttribute`) and their
//! parsers: a 2xx answer becomes a typed body, or
//! [`ProviderError::MalformedResponse`] when it is not the expected JSON.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::unreadable;
use crate::provider::error::ProviderError;
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::wire_common::{non_blank, null_default, relayed_id};

/// `AllocatePublicIpAddress` success: `{"RequestId": "...", "IpAddress": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatePublicIpAddressResponse {
    pub request_id: String,
    /// Never empty.
    pub ip_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAllocateResponse {
    #[serde(default, deserialize_with = "null_default")]
    request_id: String,
    #[serde(default, deserialize_with = "null_default")]
    ip_address: String,
}

/// `{"IpAddress": ["47.95.10.20"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpAddressList {
    #[serde(default, deserialize_with = "null_default")]
    pub ip_address: Vec<String>,
}

/// The EIP bound to an instance (empty strings when none is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EipAddress {
    #[serde(default, deserialize_with = "null_default")]
    pub ip_address: String,
    #[serde(default, deserialize_with = "null_default")]
    pub allocation_id: String,
}

/// One operation lock: `financial`, `security` or `recycling`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockReason {
    #[serde(default, deserialize_with = "null_default")]
    pub lock_reason: String,
}

/// `{"LockReason": [{"LockReason": "security"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationLocks {
    #[serde(default, deserialize_with = "null_default")]
    pub lock_reason: Vec<LockReason>,
}

/// `DescribeInstanceAttribute` success, reduced to the fields that decide
/// whether (and why not) an instance has a static public IP. Every field is
/// optional on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceAttributeResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub request_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub region_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub zone_id: String,
    /// `Pending`, `Running`, `Starting`, `Stopping`, `Stopped`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// `vpc` or `classic`.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_network_type: String,
    /// Mbit/s; allocation requires more than 0.
    #[serde(default)]
    pub internet_max_bandwidth_out: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_ip_address: IpAddressList,
    #[serde(default, deserialize_with = "null_default")]
    pub eip_address: EipAddress,
    #[serde(default, deserialize_with = "null_default")]
    pub operation_locks: OperationLocks,
}

impl DescribeInstanceAttributeResponse {
    /// The first non-empty static public IP, if any.
    pub fn public_ip(&self) -> Option<&str> {
        self.public_ip_address
            .ip_address
            .iter()
            .find_map(|ip| non_blank(ip))
    }

    /// The bound EIP address, if any.
    pub fn eip(&self) -> Option<&str> {
        non_blank(&self.eip_address.ip_address)
    }

    /// The operation lock reasons (`security`, `financial`, ...).
    pub fn lock_reasons(&self) -> impl Iterator<Item = &str> {
        self.operation_locks
            .lock_reason
            .iter()
            .map(|lock| lock.lock_reason.as_str())
            .filter(|reason| !reason.is_empty())
    }
}

/// Parses a 2xx `AllocatePublicIpAddress` body. A body that is not JSON, or
/// lacks `IpAddress`, is [`ProviderError::MalformedResponse`].
pub fn parse_allocate(
    op: Operation,
    response: &HttpResponse,
) -> Result<AllocatePublicIpAddressResponse, ProviderError> {
    let raw: RawAllocateResponse = parse_json(op, response)?;
    let Some(ip_address) = non_blank(&raw.ip_address) else {
        return Err(unreadable(
            op,
            response,
            "the response has no IpAddress",
            relayed_id(Some(&raw.request_id)),
        ));
    };
    Ok(AllocatePublicIpAddressResponse {
        ip_address: ip_address.to_owned(),
        request_id: raw.request_id,
    })
}

/// Parses a 2xx `DescribeInstanceAttribute` body.
pub fn parse_describe_instance_attribute(
    op: Operation,
    response: &HttpResponse,
) -> Result<DescribeInstanceAttributeResponse, ProviderError> {
    parse_json(op, response)
}

/// Parses a 2xx JSON body as `T`.
pub(super) fn parse_json<T: DeserializeOwned>(
    op: Operation,
    response: &HttpResponse,
) -> Result<T, ProviderError> {
    serde_json::from_slice(&response.body).map_err(|error| {
        let what = format!("the response is not the expected JSON ({error})");
        unreadable(op, response, &what, None)
    })
}
