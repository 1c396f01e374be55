//! Alibaba Cloud ECS response bodies: the serde types of the two calls the
//! gateway makes (`AllocatePublicIpAddress`, `DescribeInstanceAttribute`),
//! the error body in its JSON and XML forms, and the functions that turn a
//! complete HTTP response into either a typed body or a [`ProviderError`].
//!
//! Nothing here panics on what the provider (or a proxy in front of it)
//! sends: an HTML page, an empty body or truncated JSON becomes
//! [`ProviderError::MalformedResponse`] with a short body snippet. Every
//! piece of provider text (code, message, request id, snippet) passes
//! through [`redact::relayed`] first: credentials echoed back are redacted
//! and the length is bounded.

use std::borrow::Cow;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::redact;

/// Header in which Alibaba asks a throttled client to wait, in milliseconds.
pub const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";
/// Header carrying the request id on (most) gateway responses.
pub const REQUEST_ID_HEADER: &str = "x-acs-request-id";
/// Longest provider error message kept, in bytes (the body may be up to
/// 4 MiB).
pub const MAX_MESSAGE_BYTES: usize = redact::MAX_MESSAGE_BYTES;

/// `null` (or a missing field, with `#[serde(default)]`) becomes the default.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------
// Success bodies
// ---------------------------------------------------------------------------

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
            .map(|ip| ip.trim())
            .find(|ip| !ip.is_empty())
    }

    /// The bound EIP address, if any.
    pub fn eip(&self) -> Option<&str> {
        Some(self.eip_address.ip_address.trim()).filter(|ip| !ip.is_empty())
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
    let ip_address = raw.ip_address.trim();
    if ip_address.is_empty() {
        return Err(malformed(
            op,
            response,
            "the response has no IpAddress",
            redact::relayed_opt(Some(&raw.request_id), redact::MAX_REQUEST_ID_BYTES),
        ));
    }
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

fn parse_json<T: DeserializeOwned>(
    op: Operation,
    response: &HttpResponse,
) -> Result<T, ProviderError> {
    serde_json::from_slice(&response.body).map_err(|error| {
        let what = format!("the response is not the expected JSON ({error})");
        malformed(op, response, &what, None)
    })
}

// ---------------------------------------------------------------------------
// Error bodies
// ---------------------------------------------------------------------------

/// An Alibaba error body, from JSON
/// (`{"RequestId","HostId","Code","Message","Recommend"}`) or XML
/// (`<Error><RequestId/><HostId/><Code/><Message/></Error>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    #[serde(default, alias = "requestId")]
    pub request_id: Option<String>,
    #[serde(default, alias = "hostId")]
    pub host_id: Option<String>,
    #[serde(default, alias = "code")]
    pub code: Option<String>,
    #[serde(default, alias = "message")]
    pub message: Option<String>,
    #[serde(default, alias = "recommend")]
    pub recommend: Option<String>,
}

impl ErrorBody {
    /// Parses a JSON or XML error body; `None` when the body is neither (an
    /// HTML page, plain text, empty, truncated).
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let text = std::str::from_utf8(body)
            .ok()?
            .trim_start_matches('\u{feff}')
            .trim();
        if text.starts_with('{') {
            serde_json::from_str(text).ok()
        } else if text.starts_with('<') {
            parse_xml_error(text)
        } else {
            None
        }
    }

    /// The error code, when present and not blank.
    pub fn code(&self) -> Option<&str> {
        self.code
            .as_deref()
            .map(str::trim)
            .filter(|code| !code.is_empty())
    }
}

/// The `<Error>` document of `Format=XML` (or a V3 XML error). Only the four
/// known elements are read.
fn parse_xml_error(text: &str) -> Option<ErrorBody> {
    let body = ErrorBody {
        request_id: xml_element(text, "RequestId"),
        host_id: xml_element(text, "HostId"),
        code: xml_element(text, "Code"),
        message: xml_element(text, "Message"),
        recommend: xml_element(text, "Recommend"),
    };
    (body.code.is_some() || body.request_id.is_some()).then_some(body)
}

/// The text of the first `<tag>...</tag>` element, entity-decoded; `None`
/// when absent, self-closing or unterminated.
fn xml_element(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let length = text[start..].find(&close)?;
    let inner = text[start..start + length].trim();
    let inner = inner
        .strip_prefix("<![CDATA[")
        .and_then(|rest| rest.strip_suffix("]]>"))
        .map_or_else(|| xml_unescape(inner), Cow::Borrowed);
    Some(inner.into_owned())
}

fn xml_unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Turns a non-2xx response into an error: [`ProviderError::Api`] when the
/// body carries an Alibaba error code, else
/// [`ProviderError::MalformedResponse`] with the status and a body snippet.
pub fn error_from_response(op: Operation, response: &HttpResponse) -> ProviderError {
    let body = ErrorBody::parse(&response.body).unwrap_or_default();
    let request_id = redact::relayed_opt(body.request_id.as_deref(), redact::MAX_REQUEST_ID_BYTES)
        .or_else(|| {
            redact::relayed_opt(
                header_str(response, REQUEST_ID_HEADER),
                redact::MAX_REQUEST_ID_BYTES,
            )
        });
    match body.code() {
        Some(code) => ProviderError::Api(ApiError {
            op,
            http_status: response.status,
            code: redact::relayed(code, redact::MAX_CODE_BYTES),
            message: body
                .message
                .as_deref()
                .map(|message| redact::relayed(message, MAX_MESSAGE_BYTES))
                .unwrap_or_default(),
            request_id,
            retry_after: retry_after(response),
        }),
        None => malformed(
            op,
            response,
            "the error response has no error code",
            request_id,
        ),
    }
}

/// `x-acs-retry-after` as a positive integer of milliseconds; anything else
/// (missing, empty, non-numeric, zero, negative) is `None`.
pub fn retry_after(response: &HttpResponse) -> Option<Duration> {
    header_str(response, RETRY_AFTER_HEADER)?
        .parse::<u64>()
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

fn header_str<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

fn malformed(
    op: Operation,
    response: &HttpResponse,
    what: &str,
    request_id: Option<String>,
) -> ProviderError {
    // `what` may quote the body too (serde's "invalid type: string ...").
    let what = redact::relayed(what, MAX_MESSAGE_BYTES);
    ProviderError::MalformedResponse {
        op,
        http_status: response.status,
        detail: format!("{what}; body: {}", response.body_snippet()),
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::header::{HeaderMap, HeaderValue};

    const ALLOCATE: Operation = Operation {
        name: "AllocatePublicIpAddress",
        mutating: true,
    };
    const DESCRIBE: Operation = Operation {
        name: "DescribeInstanceAttribute",
        mutating: false,
    };

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn with_header(mut response: HttpResponse, name: &'static str, value: &str) -> HttpResponse {
        response
            .headers
            .insert(name, HeaderValue::from_str(value).unwrap());
        response
    }

    fn api(error: ProviderError) -> ApiError {
        match error {
            ProviderError::Api(api) => api,
            other => panic!("expected Api, got {other:?}"),
        }
    }

    fn malformed_parts(error: ProviderError) -> (u16, String, Option<String>) {
        match error {
            ProviderError::MalformedResponse {
                http_status,
                detail,
                request_id,
                ..
            } => (http_status, detail, request_id),
            other => panic!("expected MalformedResponse, got {other:?}"),
        }
    }

    // ----- success bodies -----

    #[test]
    fn allocate_success() {
        let body =
            r#"{"RequestId":"F2EF6A3B-E345-46B9-931E-0EA094818567","IpAddress":"47.95.10.20"}"#;
        let parsed = parse_allocate(ALLOCATE, &response(200, body)).unwrap();
        assert_eq!(parsed.request_id, "F2EF6A3B-E345-46B9-931E-0EA094818567");
        assert_eq!(parsed.ip_address, "47.95.10.20");
    }

    #[test]
    fn allocate_success_ignores_unknown_fields() {
        let body = r#"{"IpAddress":"10.1.0.159","RequestId":"R","Extra":{"a":[1,2]}}"#;
        let parsed = parse_allocate(ALLOCATE, &response(200, body)).unwrap();
        assert_eq!(parsed.ip_address, "10.1.0.159");
    }

    #[test]
    fn allocate_without_ip_is_malformed_and_keeps_request_id() {
        for body in [
            r#"{"RequestId":"R-1"}"#,
            r#"{"RequestId":"R-1","IpAddress":""}"#,
            r#"{"RequestId":"R-1","IpAddress":null}"#,
        ] {
            let (status, detail, request_id) =
                malformed_parts(parse_allocate(ALLOCATE, &response(200, body)).unwrap_err());
            assert_eq!(status, 200);
            assert!(detail.contains("no IpAddress"), "{detail}");
            assert_eq!(request_id.as_deref(), Some("R-1"));
        }
    }

    #[test]
    fn allocate_unparseable_2xx_is_malformed() {
        for body in [
            "",
            "   ",
            r#"{"RequestId":"R-1","IpAdd"#,
            "<html><body>502 Bad Gateway</body></html>",
            "[1,2,3]",
            r#"{"IpAddress": 47}"#,
            "<AllocatePublicIpAddressResponse><IpAddress>1.2.3.4</IpAddress></AllocatePublicIpAddressResponse>",
        ] {
            let (status, detail, _) =
                malformed_parts(parse_allocate(ALLOCATE, &response(200, body)).unwrap_err());
            assert_eq!(status, 200);
            assert!(detail.contains("body:"), "{detail}");
        }
    }

    #[test]
    fn describe_full_body() {
        let body = r#"{
            "RequestId": "6EF60BEC-0242-43AF-BB20-270359FB54A7",
            "InstanceId": "i-bp1abcdefghijk123456",
            "RegionId": "cn-hangzhou",
            "ZoneId": "cn-hangzhou-g",
            "Status": "Running",
            "InstanceNetworkType": "vpc",
            "InternetMaxBandwidthOut": 5,
            "PublicIpAddress": {"IpAddress": ["47.95.10.20"]},
            "EipAddress": {"IpAddress": "", "AllocationId": "", "InternetChargeType": ""},
            "OperationLocks": {"LockReason": [{"LockReason": "security", "LockMsg": "x"}]},
            "VpcAttributes": {"VpcId": "vpc-1", "PrivateIpAddress": {"IpAddress": ["172.16.0.1"]}}
        }"#;
        let parsed = parse_describe_instance_attribute(DESCRIBE, &response(200, body)).unwrap();
        assert_eq!(parsed.request_id, "6EF60BEC-0242-43AF-BB20-270359FB54A7");
        assert_eq!(parsed.instance_id, "i-bp1abcdefghijk123456");
        assert_eq!(parsed.region_id, "cn-hangzhou");
        assert_eq!(parsed.zone_id, "cn-hangzhou-g");
        assert_eq!(parsed.status, "Running");
        assert_eq!(parsed.instance_network_type, "vpc");
        assert_eq!(parsed.internet_max_bandwidth_out, Some(5));
        assert_eq!(parsed.public_ip(), Some("47.95.10.20"));
        assert_eq!(parsed.eip(), None);
        assert_eq!(parsed.lock_reasons().collect::<Vec<_>>(), ["security"]);
    }

    #[test]
    fn describe_tolerates_missing_and_null_fields() {
        for body in [
            "{}",
            r#"{"RequestId":"R"}"#,
            r#"{"PublicIpAddress":null,"EipAddress":null,"OperationLocks":null,"Status":null,"InternetMaxBandwidthOut":null}"#,
            r#"{"PublicIpAddress":{},"EipAddress":{},"OperationLocks":{}}"#,
            r#"{"PublicIpAddress":{"IpAddress":[]},"OperationLocks":{"LockReason":[]}}"#,
        ] {
            let parsed = parse_describe_instance_attribute(DESCRIBE, &response(200, body)).unwrap();
            assert_eq!(parsed.public_ip(), None, "{body}");
            assert_eq!(parsed.eip(), None, "{body}");
            assert_eq!(parsed.lock_reasons().count(), 0, "{body}");
        }
    }

    #[test]
    fn describe_with_eip() {
        let body = r#"{"RequestId":"R","Status":"Stopped","PublicIpAddress":{"IpAddress":[""]},
            "EipAddress":{"IpAddress":"121.40.1.2","AllocationId":"eip-bp1abc"}}"#;
        let parsed = parse_describe_instance_attribute(DESCRIBE, &response(200, body)).unwrap();
        assert_eq!(parsed.public_ip(), None);
        assert_eq!(parsed.eip(), Some("121.40.1.2"));
        assert_eq!(parsed.eip_address.allocation_id, "eip-bp1abc");
    }

    #[test]
    fn describe_unparseable_is_malformed() {
        for body in ["", "{\"Status\":", "<html></html>", r#"{"Status": 3}"#] {
            let (status, _, _) = malformed_parts(
                parse_describe_instance_attribute(DESCRIBE, &response(200, body)).unwrap_err(),
            );
            assert_eq!(status, 200);
        }
    }

    // ----- error bodies -----

    #[test]
    fn json_error_body() {
        let body = r#"{
            "RequestId": "81EF1E7D-0D15-5CAF-B602-3487FAFA88D5",
            "HostId": "ecs.cn-hangzhou.aliyuncs.com",
            "Code": "InvalidInstanceId.NotFound",
            "Message": "The specified InstanceId does not exist.",
            "Recommend": "https://api.aliyun.com/troubleshoot?q=InvalidInstanceId.NotFound&product=Ecs"
        }"#;
        let error = api(error_from_response(ALLOCATE, &response(404, body)));
        assert_eq!(error.op, ALLOCATE);
        assert_eq!(error.http_status, 404);
        assert_eq!(error.code, "InvalidInstanceId.NotFound");
        assert_eq!(error.message, "The specified InstanceId does not exist.");
        assert_eq!(
            error.request_id.as_deref(),
            Some("81EF1E7D-0D15-5CAF-B602-3487FAFA88D5")
        );
        assert_eq!(error.retry_after, None);

        let parsed = ErrorBody::parse(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.host_id.as_deref(),
            Some("ecs.cn-hangzhou.aliyuncs.com")
        );
        assert!(
            parsed
                .recommend
                .unwrap()
                .starts_with("https://api.aliyun.com/")
        );
    }

    #[test]
    fn xml_error_body() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <RequestId>540CFF28-407A-40B5-B6A5-74Bxxxxxxxxx</RequestId>
  <HostId>ess.aliyuncs.com</HostId>
  <Code>InternalError</Code>
  <Message>The request processing has failed &amp; &lt;retry&gt;.</Message>
</Error>"#;
        let error = api(error_from_response(ALLOCATE, &response(500, body)));
        assert_eq!(error.http_status, 500);
        assert_eq!(error.code, "InternalError");
        assert_eq!(
            error.message,
            "The request processing has failed & <retry>."
        );
        assert_eq!(
            error.request_id.as_deref(),
            Some("540CFF28-407A-40B5-B6A5-74Bxxxxxxxxx")
        );
        let parsed = ErrorBody::parse(body.as_bytes()).unwrap();
        assert_eq!(parsed.host_id.as_deref(), Some("ess.aliyuncs.com"));
    }

    #[test]
    fn xml_error_with_empty_and_self_closing_elements() {
        let body = "<Error><RequestId/><Code>Throttling</Code><Message></Message></Error>";
        let error = api(error_from_response(DESCRIBE, &response(400, body)));
        assert_eq!(error.code, "Throttling");
        assert_eq!(error.message, "");
        assert_eq!(error.request_id, None);
    }

    #[test]
    fn retry_after_header_is_positive_milliseconds() {
        let body = r#"{"Code":"Throttling.User","Message":"Request was denied due to user flow control.","RequestId":"R"}"#;
        let cases = [
            (Some("1500"), Some(Duration::from_millis(1500))),
            (Some(" 20 "), Some(Duration::from_millis(20))),
            (Some("0"), None),
            (Some("-5"), None),
            (Some(""), None),
            (Some("soon"), None),
            (Some("1.5"), None),
            (Some("99999999999999999999999"), None),
            (None, None),
        ];
        for (header, expected) in cases {
            let mut resp = response(400, body);
            if let Some(value) = header {
                resp = with_header(resp, "x-acs-retry-after", value);
            }
            let error = api(error_from_response(ALLOCATE, &resp));
            assert_eq!(error.retry_after, expected, "header {header:?}");
            assert_eq!(error.code, "Throttling.User");
        }
    }

    #[test]
    fn bodies_without_a_code_are_malformed_with_status_and_snippet() {
        let html = format!(
            "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
            "x".repeat(1000)
        );
        let cases: Vec<(u16, String)> = vec![
            (502, html),
            (503, String::new()),
            (500, "   \n ".into()),
            (400, r#"{"Code":"Throttl"#.into()),
            (
                400,
                r#"{"RequestId":"R-9","Message":"no code here"}"#.into(),
            ),
            (400, r#"{"Code":"","Message":"blank code"}"#.into()),
            (400, r#"{"Code":42}"#.into()),
            (403, "Forbidden".into()),
            (404, "[]".into()),
            (400, "<Error><Code>Unterminated".into()),
            (400, "<Error><Code></Code></Error>".into()),
        ];
        for (status, body) in cases {
            let resp = HttpResponse {
                status,
                headers: HeaderMap::new(),
                body: Bytes::from(body.clone()),
            };
            let (http_status, detail, _) = malformed_parts(error_from_response(ALLOCATE, &resp));
            assert_eq!(http_status, status, "{body}");
            assert!(detail.contains("no error code"), "{detail}");
            // The snippet is bounded.
            assert!(detail.chars().count() < 300, "{detail}");
        }
        let (_, detail, _) = malformed_parts(error_from_response(ALLOCATE, &response(503, "")));
        assert!(detail.ends_with("body: empty body"), "{detail}");
    }

    #[test]
    fn invalid_utf8_and_binary_bodies_do_not_panic() {
        let resp = HttpResponse {
            status: 502,
            headers: HeaderMap::new(),
            body: Bytes::from_static(&[0xff, 0xfe, b'{', 0x00, 0xc3]),
        };
        let (status, _, _) = malformed_parts(error_from_response(ALLOCATE, &resp));
        assert_eq!(status, 502);
        let resp = HttpResponse {
            status: 200,
            ..resp
        };
        assert!(parse_allocate(ALLOCATE, &resp).is_err());
        assert!(parse_describe_instance_attribute(DESCRIBE, &resp).is_err());
    }

    #[test]
    fn request_id_falls_back_to_header() {
        let resp = with_header(response(502, "bad gateway"), "x-acs-request-id", "HDR-1");
        let (_, _, request_id) = malformed_parts(error_from_response(ALLOCATE, &resp));
        assert_eq!(request_id.as_deref(), Some("HDR-1"));

        let resp = with_header(
            response(400, r#"{"Code":"Throttling","Message":"m"}"#),
            "x-acs-request-id",
            "HDR-2",
        );
        assert_eq!(
            api(error_from_response(ALLOCATE, &resp))
                .request_id
                .as_deref(),
            Some("HDR-2")
        );

        let (_, _, request_id) = malformed_parts(error_from_response(
            ALLOCATE,
            &response(400, r#"{"RequestId":"BODY-1"}"#),
        ));
        assert_eq!(request_id.as_deref(), Some("BODY-1"));
    }

    #[test]
    fn long_messages_are_bounded() {
        let body = format!(
            r#"{{"Code":"InternalError","Message":"{}"}}"#,
            "é".repeat(5000)
        );
        let error = api(error_from_response(ALLOCATE, &response(500, &body)));
        assert!(
            error.message.len() <= MAX_MESSAGE_BYTES,
            "{}",
            error.message.len()
        );
        assert!(error.message.len() > MAX_MESSAGE_BYTES - 8);
        assert!(error.message.ends_with("é..."));
        // Codes and request ids too.
        let body = format!(
            r#"{{"Code":"{}","RequestId":"{}"}}"#,
            "C".repeat(100_000),
            "R".repeat(100_000)
        );
        let error = api(error_from_response(ALLOCATE, &response(400, &body)));
        assert!(error.code.len() <= redact::MAX_CODE_BYTES);
        assert!(error.request_id.unwrap().len() <= redact::MAX_REQUEST_ID_BYTES);
    }

    #[test]
    fn lowercase_json_keys_are_accepted() {
        let body = r#"{"code":"Forbidden.RAM","message":"User not authorized","requestId":"r-1"}"#;
        let error = api(error_from_response(ALLOCATE, &response(403, body)));
        assert_eq!(error.code, "Forbidden.RAM");
        assert_eq!(error.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn server_string_to_sign_is_redacted() {
        let body = r#"{"Recommend":"https://error-center.aliyun.com/status/search?Keyword=SignatureDoesNotMatch&source=PopGw","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3DCAIS%252Bsecret-token","RequestId":"1DD9","HostId":"alidns.aliyuncs.com","Code":"SignatureDoesNotMatch"}"#;
        let error = api(error_from_response(ALLOCATE, &response(400, body)));
        assert_eq!(error.code, "SignatureDoesNotMatch");
        assert_eq!(
            error.message,
            "Specified signature is not matched with our calculation. server string to sign is: [redacted]"
        );
        assert!(
            !ProviderError::Api(error)
                .to_string()
                .contains("secret-token")
        );

        // Also in the snippet of a body that has no usable code.
        let body =
            r#"{"Message":"server string to sign is:POST&%2F&SecurityToken%3Dsecret-token"}"#;
        let (_, detail, _) = malformed_parts(error_from_response(ALLOCATE, &response(400, body)));
        assert!(!detail.contains("secret-token"), "{detail}");
    }

    #[test]
    fn error_display_names_operation_code_and_status() {
        let body = r#"{"Code":"IncorrectInstanceStatus","Message":"The current status of the resource does not support this operation.","RequestId":"R"}"#;
        let error = error_from_response(ALLOCATE, &response(403, body));
        assert_eq!(
            error.to_string(),
            "AllocatePublicIpAddress failed with IncorrectInstanceStatus (HTTP 403): The current status of the resource does not support this operation."
        );
        assert_eq!(error.request_id(), Some("R"));
    }
}
