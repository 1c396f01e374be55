//! Alibaba Cloud ECS response bodies: the serde types of the calls the
//! gateway makes (`AllocatePublicIpAddress`, `DescribeInstanceAttribute`,
//! in `responses`; `DescribeInstances`, `ModifyInstanceNetworkSpec`, in
//! `lifecycle`), the error body in its JSON and XML forms (`error_body`),
//! and the functions that turn a complete HTTP response into either a typed
//! body or a [`ProviderError`].
//!
//! Nothing here panics on what the provider (or a proxy in front of it)
//! sends: an HTML page, an empty body or truncated JSON becomes
//! [`ProviderError::MalformedResponse`] with a short body snippet. Every
//! piece of provider text (code, message, request id, snippet) passes
//! through [`redact::relayed`] first: credentials echoed back are redacted
//! and the length is bounded.

mod error_body;
mod lifecycle;
mod responses;

pub use error_body::{ErrorBody, error_from_response, retry_after};
pub use lifecycle::{
    DescribeInstancesResponse, InstanceSet, ModifyInstanceNetworkSpecResponse,
    parse_describe_instances, parse_modify_instance_network_spec,
};
pub use responses::{
    AllocatePublicIpAddressResponse, DescribeInstanceAttributeResponse, EipAddress, IpAddressList,
    LockReason, OperationLocks, parse_allocate, parse_describe_instance_attribute,
};

use crate::provider::error::ProviderError;
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::redact;
use crate::provider::wire_common::malformed;

/// Header in which Alibaba asks a throttled client to wait, in milliseconds.
pub const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";
/// Header carrying the request id on (most) gateway responses.
pub const REQUEST_ID_HEADER: &str = "x-acs-request-id";
/// Longest provider error message kept, in bytes (the body may be up to
/// 4 MiB).
pub const MAX_MESSAGE_BYTES: usize = redact::MAX_MESSAGE_BYTES;

/// An answer that is not the API's: "`what`; body: `snippet`".
fn unreadable(
    op: Operation,
    response: &HttpResponse,
    what: &str,
    request_id: Option<String>,
) -> ProviderError {
    // `what` may quote the body too (serde's "invalid type: string ...").
    let what = redact::relayed(what, MAX_MESSAGE_BYTES);
    let detail = format!("{what}; body: {}", response.body_snippet());
    malformed(op, response, detail, request_id)
}

#[cfg(test)]
mod tests;
