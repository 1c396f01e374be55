//! Wire formats of the Zenlayer BMC API 2.0 calls the gateway makes, and the
//! decoding of provider responses into results or [`ProviderError`]s:
//! request bodies (`requests`), response objects and their envelope
//! (`responses`), error answers (`error_body`).
//!
//! Every piece of provider text that enters an error (code, message,
//! request id, body snippet) passes through [`redact::relayed`]: echoed
//! credentials are redacted and the length is bounded.
//!
//! [`ProviderError`]: crate::provider::error::ProviderError
//! [`redact::relayed`]: crate::provider::redact::relayed

mod error_body;
mod requests;
mod responses;

pub use error_body::{
    ErrorBody, REQUEST_BLOCKED, REQUEST_LIMIT_EXCEEDED, SECURITY_CHALLENGE, error_from_response,
};
pub use requests::{
    AllocateEipAddressesRequest, ChargePrepaid, DescribeEipAddressesRequest,
    DescribeEipAvailableResourcesRequest, EipChargeType, MarketingOptions,
    ReleaseEipAddressesRequest, TagSet, TerminateEipAddressRequest, WireTag,
};
pub use responses::{
    AllocateEipAddressesResponse, DescribeEipAddressesResponse,
    DescribeEipAvailableResourcesResponse, EipAddress, EipAvailable, Envelope, HasRequestId,
    ReleaseEipAddressesResponse, Success, TerminateEipAddressResponse, decode,
};

#[cfg(test)]
mod tests;
