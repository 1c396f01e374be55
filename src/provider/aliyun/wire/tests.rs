//! The Alibaba Cloud ECS wire parsers against real and hostile bodies.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::provider::error::ApiError;

use crate::provider::aliyun::client::{
    ALLOCATE_PUBLIC_IP_ADDRESS as ALLOCATE, DESCRIBE_INSTANCE_ATTRIBUTE as DESCRIBE,
};
use crate::provider::wire_common::{UNREADABLE_BODIES, response};

fn with_header(mut response: HttpResponse, name: &'static str, value: &str) -> HttpResponse {
    response
        .headers
        .insert(name, HeaderValue::from_str(value).unwrap());
    response
}

fn api(error: ProviderError) -> ApiError {
    match error {
        ProviderError::Api(api) => *api,
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
    let body = r#"{"RequestId":"F2EF6A3B-E345-46B9-931E-0EA094818567","IpAddress":"47.95.10.20"}"#;
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
    let own = [
        r#"{"RequestId":"R-1","IpAdd"#,
        r#"{"IpAddress": 47}"#,
        "<AllocatePublicIpAddressResponse><IpAddress>1.2.3.4</IpAddress></AllocatePublicIpAddressResponse>",
    ];
    for body in UNREADABLE_BODIES.into_iter().chain(own) {
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
        !ProviderError::from(error)
            .to_string()
            .contains("secret-token")
    );

    // Also in the snippet of a body that has no usable code.
    let body = r#"{"Message":"server string to sign is:POST&%2F&SecurityToken%3Dsecret-token"}"#;
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

// ----- DescribeInstances, ModifyInstanceNetworkSpec -----

use crate::provider::aliyun::batch::DESCRIBE_INSTANCES;
use crate::provider::aliyun::release::MODIFY_INSTANCE_NETWORK_SPEC as MODIFY;

#[test]
fn describe_instances_reads_every_instance() {
    let body = r#"{
            "RequestId": "R-1", "TotalCount": 2, "PageNumber": 1, "PageSize": 100, "NextToken": "",
            "Instances": {"Instance": [
                {"InstanceId": "i-a", "Status": "Running", "ZoneId": "cn-hangzhou-h",
                 "PublicIpAddress": {"IpAddress": ["47.96.0.1"]},
                 "EipAddress": {"IpAddress": "", "AllocationId": "", "IsSupportUnassociate": true}},
                {"InstanceId": "i-b", "Status": "Stopped", "PublicIpAddress": {"IpAddress": []},
                 "InternetMaxBandwidthOut": null}
            ]}
        }"#;
    let parsed = parse_describe_instances(DESCRIBE_INSTANCES, &response(200, body)).unwrap();
    assert_eq!(parsed.request_id, "R-1");
    assert_eq!(parsed.total_count, Some(2));
    let instances = &parsed.instances.instance;
    assert_eq!(instances.len(), 2);
    assert_eq!(instances[0].public_ip(), Some("47.96.0.1"));
    assert_eq!(instances[0].zone_id, "cn-hangzhou-h");
    assert_eq!(instances[1].public_ip(), None);
    assert_eq!(instances[1].status, "Stopped");
    assert_eq!(instances[1].internet_max_bandwidth_out, None);
    // Nothing found, or no Instances at all.
    for body in [
        r#"{"Instances": {"Instance": []}}"#,
        r#"{"Instances": null}"#,
        "{}",
    ] {
        let parsed = parse_describe_instances(DESCRIBE_INSTANCES, &response(200, body)).unwrap();
        assert!(parsed.instances.instance.is_empty(), "{body}");
    }
    for body in UNREADABLE_BODIES {
        let error = parse_describe_instances(DESCRIBE_INSTANCES, &response(200, body)).unwrap_err();
        assert_eq!(malformed_parts(error).0, 200, "{body:?}");
    }
}

#[test]
fn modify_instance_network_spec_success() {
    let body = r#"{"RequestId": "04F0F334-1335-436C-A1D7-6C044FE73368", "OrderId": "123457890"}"#;
    let parsed = parse_modify_instance_network_spec(MODIFY, &response(200, body)).unwrap();
    assert_eq!(parsed.request_id, "04F0F334-1335-436C-A1D7-6C044FE73368");
    assert_eq!(parsed.order_id, "123457890");
    let parsed = parse_modify_instance_network_spec(MODIFY, &response(200, "{}")).unwrap();
    assert_eq!(parsed.order_id, "");
    let error = parse_modify_instance_network_spec(MODIFY, &response(200, "<html>")).unwrap_err();
    assert_eq!(malformed_parts(error).0, 200);
}
