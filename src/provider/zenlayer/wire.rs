//! Wire formats of the Zenlayer BMC API 2.0 calls the gateway makes, and the
//! decoding of provider responses into results or [`ProviderError`]s.
//!
//! Request bodies are camelCase JSON with absent fields omitted, in the
//! field order of the official SDK models (the order does not matter to the
//! server, but serde_json's compact output of these structs is what gets
//! hashed, so it is fixed and tested). Response types tolerate `null` and
//! unknown fields. Every success is HTTP 200 with
//! `{"requestId": ..., "response": {...}}`; every failure is a non-200 with
//! `{"requestId", "code", "message"}`, except the non-JSON answers of the
//! Cloudflare front (403 challenge, 451), which get synthetic codes. Every
//! piece of provider text that enters an error (code, message, request id,
//! body snippet) passes through [`redact::relayed`]: echoed credentials are
//! redacted and the length is bounded.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::{ChargeType, Operation, ZenlayerAllocate};
use crate::provider::redact;

/// Synthetic code for a Cloudflare challenge page (HTTP 403 with
/// `cf-mitigated: challenge`), as the official SDKs name it.
pub const SECURITY_CHALLENGE: &str = "SECURITY_CHALLENGE";
/// Synthetic code for HTTP 451, as the official SDKs name it.
pub const REQUEST_BLOCKED: &str = "REQUEST_BLOCKED";
/// The API's rate-limit code, also used for a 429 without an API body.
pub const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTag {
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
}

/// The wrapped tag list `{"tags": [...]}` (`TagAssociation` in requests,
/// `Tags` in responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TagSet {
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<WireTag>,
}

/// `eipChargeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EipChargeType {
    Prepaid,
    Postpaid,
}

/// `ChargePrepaid`: the subscription length in months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargePrepaid {
    pub period: u32,
}

/// `MarketingInfo`, sent as `marketingOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketingOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_poc_voucher: Option<bool>,
}

// ---------------------------------------------------------------------------
// AllocateEipAddresses
// ---------------------------------------------------------------------------

/// `AllocateEipAddresses` request body (2026-02-01 field order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateEipAddressesRequest {
    pub zone_id: String,
    pub eip_charge_type: EipChargeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_charge_prepaid: Option<ChargePrepaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_options: Option<MarketingOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagSet>,
}

impl From<&ZenlayerAllocate> for AllocateEipAddressesRequest {
    /// Sends what the caller set, as the official SDK does: `amount` and
    /// `netmask` only when given (the API's defaults are validation's),
    /// `eipChargePrepaid` only for PREPAID, `marketingOptions` only when a
    /// discount code is given or the POC voucher is requested, `tags` only
    /// when there are some.
    fn from(spec: &ZenlayerAllocate) -> Self {
        let (eip_charge_type, eip_charge_prepaid) = match spec.charge {
            ChargeType::Prepaid { period_months } => (
                EipChargeType::Prepaid,
                Some(ChargePrepaid {
                    period: period_months,
                }),
            ),
            ChargeType::Postpaid => (EipChargeType::Postpaid, None),
        };
        let marketing_options =
            (spec.discount_code.is_some() || spec.use_poc_voucher).then(|| MarketingOptions {
                discount_code: spec.discount_code.clone(),
                use_poc_voucher: spec.use_poc_voucher.then_some(true),
            });
        let tags = (!spec.tags.is_empty()).then(|| TagSet {
            tags: spec
                .tags
                .iter()
                .map(|t| WireTag {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect(),
        });
        AllocateEipAddressesRequest {
            zone_id: spec.zone_id.clone(),
            eip_charge_type,
            eip_charge_prepaid,
            resource_group_id: spec.resource_group_id.clone(),
            amount: spec.amount_set.then_some(spec.amount),
            netmask: spec.netmask_set.then_some(spec.netmask),
            marketing_options,
            tags,
        }
    }
}

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

// ---------------------------------------------------------------------------
// DescribeEipAddresses
// ---------------------------------------------------------------------------

/// `DescribeEipAddresses` request body: every filter of the SDK model, in
/// its field order (`tags` here is a flat array, unlike
/// AllocateEipAddresses). A filter the caller did not set is left out, as
/// the official SDK leaves out every unset field: `"eipIds": []` would be a
/// filter on zero ids, which a strict reading answers with no EIP at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEipAddressesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_charge_type: Option<EipChargeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_num: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<WireTag>>,
}

/// `TerminateEipAddress` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminateEipAddressRequest {
    pub eip_id: String,
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

// ---------------------------------------------------------------------------
// Envelopes
// ---------------------------------------------------------------------------

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

/// The error body `{"requestId", "code", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
    let outer = non_empty(envelope.request_id);
    match (envelope.response, envelope.code) {
        (Some(inner), _) => {
            let request_id =
                outer.or_else(|| non_empty(inner.inner_request_id().map(str::to_owned)));
            Ok(Success {
                request_id,
                response: inner,
            })
        }
        (None, Some(code)) if !code.is_empty() => Err(ProviderError::Api(ApiError {
            op,
            http_status: response.status,
            code: redact::relayed(&code, redact::MAX_CODE_BYTES),
            message: relayed_message(envelope.message.as_deref()),
            request_id: relayed_id(outer.as_deref()),
            retry_after: None,
        })),
        (None, _) => Err(malformed(
            op,
            response,
            format!(
                "success body without a response object: {}",
                response.body_snippet()
            ),
            relayed_id(outer.as_deref()),
        )),
    }
}

/// Turns a non-200 answer into an error: the Cloudflare special cases, the
/// API's JSON error body, a bare 429, or a malformed response.
pub fn error_from_response(op: Operation, response: &HttpResponse) -> ProviderError {
    let status = response.status;
    if status == 403 && is_cloudflare_challenge(response) {
        return synthetic(
            op,
            status,
            SECURITY_CHALLENGE,
            "the request was stopped by a Cloudflare security challenge (cf-mitigated: challenge)",
        );
    }
    let parsed = serde_json::from_slice::<ErrorBody>(&response.body).ok();
    let request_id = parsed
        .as_ref()
        .and_then(|b| relayed_id(b.request_id.as_deref()));
    let has_code = parsed
        .as_ref()
        .is_some_and(|b| b.code.as_deref().is_some_and(|c| !c.is_empty()));
    if status == 451 && !has_code {
        let mut error = synthetic(
            op,
            status,
            REQUEST_BLOCKED,
            "the request was blocked for legal reasons (HTTP 451)",
        );
        if let ProviderError::Api(api) = &mut error {
            api.request_id = request_id;
        }
        return error;
    }
    if let Some(ErrorBody {
        code: Some(code),
        message,
        ..
    }) = parsed
        && !code.is_empty()
    {
        return ProviderError::Api(ApiError {
            op,
            http_status: status,
            code: redact::relayed(&code, redact::MAX_CODE_BYTES),
            message: relayed_message(message.as_deref()),
            request_id,
            retry_after: None,
        });
    }
    if status == 429 {
        return ProviderError::Api(ApiError {
            op,
            http_status: status,
            code: REQUEST_LIMIT_EXCEEDED.to_owned(),
            message: "rate limited (HTTP 429 without an API error body)".to_owned(),
            request_id,
            retry_after: None,
        });
    }
    malformed(
        op,
        response,
        format!(
            "expected an API error body, got: {}",
            response.body_snippet()
        ),
        request_id,
    )
}

fn is_cloudflare_challenge(response: &HttpResponse) -> bool {
    response.headers.get_all("cf-mitigated").iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("challenge"))
    })
}

fn synthetic(op: Operation, status: u16, code: &str, message: &str) -> ProviderError {
    ProviderError::Api(ApiError {
        op,
        http_status: status,
        code: code.to_owned(),
        message: message.to_owned(),
        request_id: None,
        retry_after: None,
    })
}

fn malformed(
    op: Operation,
    response: &HttpResponse,
    detail: String,
    request_id: Option<String>,
) -> ProviderError {
    ProviderError::MalformedResponse {
        op,
        http_status: response.status,
        detail,
        request_id,
    }
}

/// The `requestId` of a body that is JSON but not of the expected shape.
fn request_id_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| relayed_id(b.request_id.as_deref()))
}

/// A provider request id as it may enter an error: redacted, bounded.
fn relayed_id(id: Option<&str>) -> Option<String> {
    redact::relayed_opt(id, redact::MAX_REQUEST_ID_BYTES)
}

/// A provider message as it may enter an error: redacted, bounded.
fn relayed_message(message: Option<&str>) -> String {
    message
        .map(|m| redact::relayed(m, redact::MAX_MESSAGE_BYTES))
        .unwrap_or_default()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Reads `null` as the type's default (serde's `default` covers only a
/// missing field).
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::model::Tag;
    use crate::provider::zenlayer::signer;
    use bytes::Bytes;
    use reqwest::header::{HeaderMap, HeaderValue};

    const OP: Operation = Operation {
        name: "AllocateEipAddresses",
        mutating: true,
    };

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn spec() -> ZenlayerAllocate {
        ZenlayerAllocate {
            zone_id: "SEL-A".to_owned(),
            charge: ChargeType::Postpaid,
            resource_group_id: None,
            amount: 1,
            netmask: 32,
            amount_set: true,
            netmask_set: false,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![Tag {
                key: "env".to_owned(),
                value: "test".to_owned(),
            }],
        }
    }

    const V4_BODY: &str = r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"tags":{"tags":[{"key":"env","value":"test"}]}}"#;
    const V4_HASHED_PAYLOAD: &str =
        "6419a25a9c1c69cdf5bb3080bee0d24a548c70c9aa797abf97b700c7ef6be049";

    #[test]
    fn v4_struct_serializes_to_the_signed_bytes() {
        let request = AllocateEipAddressesRequest::from(&spec());
        let bytes = serde_json::to_vec(&request).unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), V4_BODY);
        assert_eq!(signer::hashed_payload(&bytes), V4_HASHED_PAYLOAD);
    }

    #[test]
    fn from_spec_sends_amount_and_netmask_only_when_given() {
        let mut s = spec();
        s.netmask_set = true;
        let bytes = serde_json::to_vec(&AllocateEipAddressesRequest::from(&s)).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"netmask":32,"tags":{"tags":[{"key":"env","value":"test"}]}}"#
        );
        s.amount_set = false;
        s.netmask_set = false;
        s.tags.clear();
        assert_eq!(
            serde_json::to_string(&AllocateEipAddressesRequest::from(&s)).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID"}"#,
            "the docs' minimal example: the provider applies amount 1, netmask 32"
        );
    }

    #[test]
    fn v2_content_serializes_in_sdk_order() {
        let spec = ZenlayerAllocate {
            zone_id: "SEL-A".to_owned(),
            charge: ChargeType::Prepaid { period_months: 1 },
            resource_group_id: None,
            amount: 2,
            netmask: 32,
            amount_set: true,
            netmask_set: false,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![
                Tag {
                    key: "env".to_owned(),
                    value: "prod".to_owned(),
                },
                Tag {
                    key: "owner".to_owned(),
                    value: "gateway".to_owned(),
                },
            ],
        };
        let request = AllocateEipAddressesRequest::from(&spec);
        // V2's body with Python's spacing removed.
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"PREPAID","eipChargePrepaid":{"period":1},"amount":2,"tags":{"tags":[{"key":"env","value":"prod"},{"key":"owner","value":"gateway"}]}}"#
        );
    }

    #[test]
    fn all_fields_in_order() {
        let spec = ZenlayerAllocate {
            zone_id: "SEL-A".to_owned(),
            charge: ChargeType::Prepaid { period_months: 12 },
            resource_group_id: Some("rg-1".to_owned()),
            amount: 3,
            netmask: 30,
            amount_set: true,
            netmask_set: true,
            discount_code: Some("PROMO".to_owned()),
            use_poc_voucher: true,
            tags: vec![],
        };
        assert_eq!(
            serde_json::to_string(&AllocateEipAddressesRequest::from(&spec)).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"PREPAID","eipChargePrepaid":{"period":12},"resourceGroupId":"rg-1","amount":3,"netmask":30,"marketingOptions":{"discountCode":"PROMO","usePocVoucher":true}}"#
        );
    }

    #[test]
    fn marketing_options_only_when_needed() {
        let mut s = spec();
        s.tags.clear();
        s.netmask_set = true;
        assert_eq!(
            serde_json::to_string(&AllocateEipAddressesRequest::from(&s)).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"netmask":32}"#
        );
        s.use_poc_voucher = true;
        assert_eq!(
            serde_json::to_string(&AllocateEipAddressesRequest::from(&s)).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"netmask":32,"marketingOptions":{"usePocVoucher":true}}"#
        );
        s.use_poc_voucher = false;
        s.discount_code = Some("D1".to_owned());
        assert_eq!(
            serde_json::to_string(&AllocateEipAddressesRequest::from(&s)).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"netmask":32,"marketingOptions":{"discountCode":"D1"}}"#
        );
    }

    #[test]
    fn json_escaping_is_deterministic() {
        let mut s = spec();
        s.tags = vec![Tag {
            key: "note".to_owned(),
            value: "a \"quoted\" \\ é / \n".to_owned(),
        }];
        let bytes = serde_json::to_vec(&AllocateEipAddressesRequest::from(&s)).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.contains(r#""value":"a \"quoted\" \\ é / \n""#),
            "{text}"
        );
        let back: AllocateEipAddressesRequest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, AllocateEipAddressesRequest::from(&s));
    }

    #[test]
    fn describe_request_compact_v3_content() {
        let request = DescribeEipAddressesRequest {
            eip_ids: Some(vec!["eip-0123456789".to_owned()]),
            page_size: Some(20),
            page_num: Some(1),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"eipIds":["eip-0123456789"],"pageSize":20,"pageNum":1}"#
        );
        let minimal = DescribeEipAddressesRequest {
            eip_ids: Some(vec!["eip-1".to_owned()]),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&minimal).unwrap(),
            r#"{"eipIds":["eip-1"]}"#
        );
        // No filter the caller did not set, not even an empty list.
        assert_eq!(
            serde_json::to_string(&DescribeEipAddressesRequest::default()).unwrap(),
            "{}"
        );
        let filters = DescribeEipAddressesRequest {
            zone_id: Some("SEL-A".to_owned()),
            eip_status: Some("AVAILABLE".to_owned()),
            ip_address: Some("1.2.3.4".to_owned()),
            eip_charge_type: Some(EipChargeType::Postpaid),
            resource_group_id: Some("rg-1".to_owned()),
            tag_keys: Some(vec!["env".to_owned()]),
            tags: Some(vec![WireTag {
                key: "env".to_owned(),
                value: "test".to_owned(),
            }]),
            page_size: Some(100),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&filters).unwrap(),
            r#"{"eipChargeType":"POSTPAID","ipAddress":"1.2.3.4","zoneId":"SEL-A","resourceGroupId":"rg-1","eipStatus":"AVAILABLE","pageSize":100,"tagKeys":["env"],"tags":[{"key":"env","value":"test"}]}"#
        );
    }

    #[test]
    fn allocate_success_decodes() {
        let body = r#"{"requestId":"T-1","response":{"requestId":"T-1","eipIdSet":["eip-1","eip-2"],"orderNumber":"ord-9"}}"#;
        let ok = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap();
        assert_eq!(ok.request_id.as_deref(), Some("T-1"));
        assert_eq!(ok.response.eip_id_set, ["eip-1", "eip-2"]);
        assert_eq!(ok.response.order_number.as_deref(), Some("ord-9"));
    }

    #[test]
    fn allocate_success_tolerates_nulls_and_unknown_fields() {
        let body = r#"{"requestId":null,"extra":1,"response":{"requestId":"T-2","eipIdSet":null,"orderNumber":null,"new":{"x":[1]}}}"#;
        let ok = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap();
        assert_eq!(ok.request_id.as_deref(), Some("T-2"));
        assert!(ok.response.eip_id_set.is_empty());
        assert_eq!(ok.response.order_number, None);
    }

    #[test]
    fn describe_success_decodes_docs_example() {
        let body = r#"{"requestId":"T-3","response":{"requestId":"T-3","totalCount":1,"dataSet":[
            {"eipId":"eipId1","zoneId":"SEL-A","ipAddress":"x.x.x.x","instanceId":"instanceId1",
             "instanceName":"instanceName","eipChargeType":"PREPAID","period":1,
             "createTime":"2022-09-25T16:53:38Z","expiredTime":"2022-10-25T16:53:38Z",
             "eipStatus":"AVAILABLE","resourceGroupId":"xx","resourceGroupName":"xx","netmask":32,
             "tags":{"tags":[{"key":"env","value":"test"}]},"someNewField":true}]}}"#;
        let ok = decode::<DescribeEipAddressesResponse>(OP, &resp(200, body)).unwrap();
        assert_eq!(ok.response.total_count, Some(1));
        let eip = &ok.response.data_set[0];
        assert_eq!(eip.eip_id, "eipId1");
        assert_eq!(eip.eip_status.as_deref(), Some("AVAILABLE"));
        assert_eq!(eip.netmask, Some(32));
        assert_eq!(eip.period, Some(1));
        assert_eq!(eip.tags.as_ref().unwrap().tags[0].key, "env");
    }

    #[test]
    fn describe_success_tolerates_nulls() {
        let body = r#"{"requestId":"T-4","response":{"requestId":"T-4","totalCount":null,"dataSet":[
            {"eipId":"e","zoneId":null,"ipAddress":null,"netmask":null,"instanceId":null,
             "period":null,"expiredTime":null,"eipStatus":null,"tags":null}]}}"#;
        let ok = decode::<DescribeEipAddressesResponse>(OP, &resp(200, body)).unwrap();
        assert_eq!(ok.response.data_set.len(), 1);
        assert_eq!(ok.response.data_set[0].ip_address, None);
        let empty = r#"{"requestId":"T-5","response":{"requestId":"T-5","dataSet":null}}"#;
        let ok = decode::<DescribeEipAddressesResponse>(OP, &resp(200, empty)).unwrap();
        assert!(ok.response.data_set.is_empty());
    }

    #[test]
    fn success_status_with_code_is_api_error() {
        let body = r#"{"requestId":"T-6","code":"INTERNAL_SERVER_ERROR","message":"boom"}"#;
        let err = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap_err();
        assert_eq!(
            err,
            ProviderError::Api(ApiError {
                op: OP,
                http_status: 200,
                code: "INTERNAL_SERVER_ERROR".to_owned(),
                message: "boom".to_owned(),
                request_id: Some("T-6".to_owned()),
                retry_after: None,
            })
        );
    }

    #[test]
    fn success_status_with_unreadable_body_is_malformed() {
        for body in [
            "",
            "<html>hi</html>",
            r#"{"requestId":"T-7","resp"#,
            "[]",
            r#"{"requestId":"T-7"}"#,
        ] {
            let err = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProviderError::MalformedResponse {
                        http_status: 200,
                        ..
                    }
                ),
                "{body:?}: {err:?}"
            );
        }
        let err = decode::<AllocateEipAddressesResponse>(OP, &resp(200, r#"{"requestId":"T-7"}"#))
            .unwrap_err();
        assert_eq!(err.request_id(), Some("T-7"));
        // `response` of the wrong shape.
        let err = decode::<AllocateEipAddressesResponse>(
            OP,
            &resp(
                200,
                r#"{"requestId":"T-8","response":{"eipIdSet":"eip-1"}}"#,
            ),
        )
        .unwrap_err();
        assert!(
            matches!(err, ProviderError::MalformedResponse { .. }),
            "{err:?}"
        );
        assert_eq!(err.request_id(), Some("T-8"));
    }

    #[test]
    fn non_200_delegates_to_error_mapping() {
        let body = r#"{"requestId":"T-9","code":"INVALID_ZONE_NOT_FOUND","message":"The specified zoneId `SEL--A` is not found"}"#;
        let err = decode::<AllocateEipAddressesResponse>(OP, &resp(404, body)).unwrap_err();
        assert_eq!(
            err,
            ProviderError::Api(ApiError {
                op: OP,
                http_status: 404,
                code: "INVALID_ZONE_NOT_FOUND".to_owned(),
                message: "The specified zoneId `SEL--A` is not found".to_owned(),
                request_id: Some("T-9".to_owned()),
                retry_after: None,
            })
        );
        // A 2xx other than 200 is not a documented success.
        let err = decode::<AllocateEipAddressesResponse>(
            OP,
            &resp(202, r#"{"requestId":"x","response":{"eipIdSet":["e"]}}"#),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ProviderError::MalformedResponse {
                http_status: 202,
                ..
            }
        ));
    }

    #[test]
    fn cloudflare_challenge_is_security_challenge() {
        let mut r = resp(
            403,
            "<!DOCTYPE html><html><title>Just a moment...</title></html>",
        );
        r.headers
            .insert("cf-mitigated", HeaderValue::from_static("challenge"));
        let ProviderError::Api(e) = error_from_response(OP, &r) else {
            panic!("not an API error");
        };
        assert_eq!((e.code.as_str(), e.http_status), (SECURITY_CHALLENGE, 403));
        assert_eq!(e.request_id, None);
        // Without the header a 403 HTML page is just unreadable.
        let r = resp(403, "<html>forbidden</html>");
        assert!(matches!(
            error_from_response(OP, &r),
            ProviderError::MalformedResponse {
                http_status: 403,
                ..
            }
        ));
    }

    #[test]
    fn status_451_is_request_blocked() {
        for body in ["", "<html>blocked</html>", r#"{"requestId":"T-451"}"#] {
            let ProviderError::Api(e) = error_from_response(OP, &resp(451, body)) else {
                panic!("not an API error");
            };
            assert_eq!((e.code.as_str(), e.http_status), (REQUEST_BLOCKED, 451));
        }
        // An API error body on a 451 is the API speaking: keep its code and id.
        let body = r#"{"requestId":"T-9","code":"X","message":"y"}"#;
        let ProviderError::Api(e) = error_from_response(OP, &resp(451, body)) else {
            panic!("not an API error");
        };
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref()),
            ("X", Some("T-9"))
        );
    }

    #[test]
    fn json_403_without_challenge_header_is_api_error() {
        let body = r#"{"requestId":"T-10","code":"OPERATION_DENIED_EIP_RECYCLED","message":"m"}"#;
        let ProviderError::Api(e) = error_from_response(OP, &resp(403, body)) else {
            panic!("not an API error");
        };
        assert_eq!(e.code, "OPERATION_DENIED_EIP_RECYCLED");
        assert_eq!(e.request_id.as_deref(), Some("T-10"));
    }

    #[test]
    fn error_body_with_missing_message_and_request_id() {
        let ProviderError::Api(e) =
            error_from_response(OP, &resp(500, r#"{"code":"INTERNAL_SERVER_ERROR"}"#))
        else {
            panic!("not an API error");
        };
        assert_eq!(e.message, "");
        assert_eq!(e.request_id, None);
        let ProviderError::Api(e) = error_from_response(
            OP,
            &resp(
                500,
                r#"{"requestId":"","code":"INTERNAL_SERVER_ERROR","message":null}"#,
            ),
        ) else {
            panic!("not an API error");
        };
        assert_eq!(e.request_id, None);
    }

    #[test]
    fn bare_429_is_rate_limited() {
        for body in ["", "Too Many Requests", "<html>slow down</html>"] {
            let ProviderError::Api(e) = error_from_response(OP, &resp(429, body)) else {
                panic!("not an API error");
            };
            assert_eq!(
                (e.code.as_str(), e.http_status),
                (REQUEST_LIMIT_EXCEEDED, 429)
            );
        }
        let ProviderError::Api(e) = error_from_response(
            OP,
            &resp(
                429,
                r#"{"requestId":"T-11","code":"REQUEST_LIMIT_EXCEEDED","message":"slow"}"#,
            ),
        ) else {
            panic!("not an API error");
        };
        assert_eq!(e.message, "slow");
        assert_eq!(e.request_id.as_deref(), Some("T-11"));
    }

    #[test]
    fn unreadable_error_bodies_are_malformed() {
        let long_html = format!("<html>{}</html>", "x".repeat(1000));
        for (status, body) in [
            (502, "<html><body>Bad Gateway</body></html>"),
            (500, ""),
            (503, r#"{"requestId":"T-12","code":"SERV"#),
            (400, "null"),
            (400, "[1,2]"),
            (500, r#"{"requestId":"T-13"}"#),
            (500, r#"{"code":""}"#),
            (500, r#"{"code":42}"#),
            (504, long_html.as_str()),
        ] {
            match error_from_response(OP, &resp(status, body)) {
                ProviderError::MalformedResponse {
                    op,
                    http_status,
                    detail,
                    ..
                } => {
                    assert_eq!((op, http_status), (OP, status));
                    assert!(detail.chars().count() < 260, "{detail}");
                }
                other => panic!("{status} {body:?}: {other:?}"),
            }
        }
        let err = error_from_response(OP, &resp(500, "")); // empty
        assert!(err.to_string().contains("empty body"), "{err}");
        let err = error_from_response(OP, &resp(500, r#"{"requestId":"T-13"}"#));
        assert_eq!(err.request_id(), Some("T-13"));
    }

    #[test]
    fn invalid_utf8_never_panics() {
        let r = HttpResponse {
            status: 500,
            headers: HeaderMap::new(),
            body: Bytes::from_static(&[0xff, 0xfe, b'{', 0x80]),
        };
        assert!(matches!(
            error_from_response(OP, &r),
            ProviderError::MalformedResponse { .. }
        ));
        let r = HttpResponse { status: 200, ..r };
        assert!(decode::<DescribeEipAddressesResponse>(OP, &r).is_err());
    }
}
