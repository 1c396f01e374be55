//! The success bodies of the two calls of the allocation lifecycle:
//! `DescribeInstances` (several instances of one region, each with the
//! fields `DescribeInstanceAttribute` has) and `ModifyInstanceNetworkSpec`
//! (`{"RequestId","OrderId"}`), and their parsers.

use serde::Deserialize;

use super::responses::{DescribeInstanceAttributeResponse, parse_json};
use super::unreadable;
use crate::provider::error::ProviderError;
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::wire_common::null_default;

/// `{"Instance": [..]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceSet {
    #[serde(default, deserialize_with = "null_default")]
    pub instance: Vec<DescribeInstanceAttributeResponse>,
}

/// `DescribeInstances` success, reduced to what the gateway reads: each
/// instance has the fields of a `DescribeInstanceAttribute` answer (its
/// `request_id` is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub request_id: String,
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub instances: InstanceSet,
}

/// `ModifyInstanceNetworkSpec` success.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceNetworkSpecResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub request_id: String,
    /// The order of the change (empty when none was made).
    #[serde(default, deserialize_with = "null_default")]
    pub order_id: String,
}

/// Parses a 2xx `DescribeInstances` body. Only a JSON object is the API's
/// answer: an array (which serde would read as a struct of defaults, here
/// "no instance found") is [`ProviderError::MalformedResponse`].
pub fn parse_describe_instances(
    op: Operation,
    response: &HttpResponse,
) -> Result<DescribeInstancesResponse, ProviderError> {
    require_object(op, response)?;
    parse_json(op, response)
}

/// Parses a 2xx `ModifyInstanceNetworkSpec` body (a JSON object).
pub fn parse_modify_instance_network_spec(
    op: Operation,
    response: &HttpResponse,
) -> Result<ModifyInstanceNetworkSpecResponse, ProviderError> {
    require_object(op, response)?;
    parse_json(op, response)
}

/// The body starts with `{` (after white space).
fn require_object(op: Operation, response: &HttpResponse) -> Result<(), ProviderError> {
    if response.body.trim_ascii_start().first() == Some(&b'{') {
        Ok(())
    } else {
        Err(unreadable(
            op,
            response,
            "the response is not a JSON object",
            None,
        ))
    }
}
