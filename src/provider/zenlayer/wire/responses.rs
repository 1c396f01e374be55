//! Response objects of the Zenlayer BMC API 2.0 calls the gateway makes,
//! the envelope every answer comes in, and [`decode`], which turns a
//! provider answer into a success or a [`ProviderError`]. Every success is
//! HTTP 200 with `{"requestId": ..., "response": {...}}`; response types
//! tolerate `null` and unknown fields.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::super::errors::TABLE;
use super::error_body::{error_from_response, request_id_of};
use super::requests::TagSet;
use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::redact;
use crate::provider::wire_common::{
    malformed, non_blank, null_default, relayed_id, relayed_message,
};

/// `AllocateEipAddresses` `response` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateEipAddressesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Missing and `null` both read as empty.
    #[serde(default, deserialize_with = "null_default")]
    pub eip_id_set: Vec<String>,
    /// Only for PREPAID; `""` for POSTPAID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
}

/// `TerminateEipAddress` `response` object (only the request id).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminateEipAddressResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl HasRequestId for TerminateEipAddressResponse {
    fn inner_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// `ReleaseEipAddresses` `response` object (only the request id).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseEipAddressesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl HasRequestId for ReleaseEipAddressesResponse {
    fn inner_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// `DescribeEipAvailableResources` `response` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEipAvailableResourcesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Missing and `null` both read as empty (a zone that sells nothing).
    #[serde(default, deserialize_with = "null_default")]
    pub eip_resources: Vec<EipAvailable>,
}

impl HasRequestId for DescribeEipAvailableResourcesResponse {
    fn inner_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// One `eipResources` row (`EipAvailable`). Every field may be missing:
/// the API page's own example has no `netmask`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EipAvailable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// SELL, SELL_SHORTAGE or SOLD_OUT; kept as text so a new value does
    /// not break decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<u32>,
}

/// `DescribeEipAddresses` `response` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEipAddressesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    /// Missing and `null` both read as empty.
    #[serde(default, deserialize_with = "null_default")]
    pub data_set: Vec<EipAddress>,
}

/// One EIP as DescribeEipAddresses reports it. Only `eipId` is required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EipAddress {
    pub eip_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    /// `PREPAID` or `POSTPAID`; kept as text so a new value does not break
    /// decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_charge_type: Option<String>,
    /// Months; null for POSTPAID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_name: Option<String>,
    /// CREATING, CREATE_FAILED, ASSOCIATING, UNASSOCIATING, ASSOCIATED,
    /// AVAILABLE, RECYCLING, RECYCLE (and older RELEASING, INUSE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagSet>,
}

/// The outer object of every answer: a success carries `response`, an error
/// carries `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// (A missing `Option` field reads as `None` without `default`, which
    /// would otherwise add a `T: Default` bound.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A decoded success: the `response` object and the request id (outer,
/// else inner, when non-empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success<T> {
    pub request_id: Option<String>,
    pub response: T,
}

/// Implemented by `response` objects that repeat the request id inside.
pub trait HasRequestId {
    fn inner_request_id(&self) -> Option<&str>;
}

impl HasRequestId for AllocateEipAddressesResponse {
    fn inner_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl HasRequestId for DescribeEipAddressesResponse {
    fn inner_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// Decodes any provider answer: HTTP 200 with a `response` object is a
/// success; everything else becomes the matching [`ProviderError`].
pub fn decode<T>(op: Operation, response: &HttpResponse) -> Result<Success<T>, ProviderError>
where
    T: DeserializeOwned + HasRequestId,
{
    if response.status != 200 {
        return Err(error_from_response(op, response));
    }
    let envelope: Envelope<T> = match serde_json::from_slice(&response.body) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Err(malformed(
                op,
                response,
                format!(
                    "undecodable success body ({}): {}",
                    redact::relayed(&e.to_string(), redact::MAX_MESSAGE_BYTES),
                    response.body_snippet()
                ),
                request_id_of(&response.body),
            ));
        }
    };
    let outer = envelope.request_id.as_deref().and_then(non_blank);
    match (envelope.response, envelope.code) {
        (Some(inner), _) => {
            let request_id = outer
                .or_else(|| inner.inner_request_id().and_then(non_blank))
                .map(str::to_owned);
            Ok(Success {
                request_id,
                response: inner,
            })
        }
        (None, Some(code)) if non_blank(&code).is_some() => Err(ProviderError::from(
            ApiError::new(
                &TABLE,
                op,
                response.status,
                redact::relayed(&code, redact::MAX_CODE_BYTES),
                relayed_message(envelope.message.as_deref()),
            )
            .with_request_id(relayed_id(outer)),
        )),
        (None, _) => Err(malformed(
            op,
            response,
            format!(
                "success body without a response object: {}",
                response.body_snippet()
            ),
            relayed_id(outer),
        )),
    }
}
