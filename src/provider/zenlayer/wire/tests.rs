//! The Zenlayer BMC wire formats: request bytes as signed, responses and
//! error answers as the API (and its Cloudflare front) send them.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::{ChargeType, Tag, ZenlayerAllocate};
use crate::provider::wire_common::{UNREADABLE_BODIES, response as resp};
use crate::provider::zenlayer::client::ALLOCATE_EIP_ADDRESSES as OP;
use crate::provider::zenlayer::errors::TABLE;
use crate::provider::zenlayer::signer;

/// The API error the parser should make of an error body.
fn api_error(http_status: u16, code: &str, message: &str, request_id: &str) -> ProviderError {
    let error = ApiError::new(&TABLE, OP, http_status, code.to_owned(), message.to_owned());
    ProviderError::from(error.with_request_id(Some(request_id.to_owned())))
}

/// One POSTPAID /32 EIP in SEL-A, its amount given, tagged `env=test`.
fn spec() -> ZenlayerAllocate {
    ZenlayerAllocate {
        amount_set: true,
        tags: vec![Tag {
            key: "env".to_owned(),
            value: "test".to_owned(),
        }],
        ..crate::testing::provider::zenlayer_allocate()
    }
}

const V4_BODY: &str = r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"tags":{"tags":[{"key":"env","value":"test"}]}}"#;
const V4_HASHED_PAYLOAD: &str = "6419a25a9c1c69cdf5bb3080bee0d24a548c70c9aa797abf97b700c7ef6be049";

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

/// The lifecycle requests, byte for byte as the SDK's serializer writes
/// them (compact, SDK field order, unset fields absent).
#[test]
fn lifecycle_request_bodies() {
    let terminate = TerminateEipAddressRequest {
        eip_id: "eip-1".to_owned(),
    };
    assert_eq!(
        serde_json::to_string(&terminate).unwrap(),
        r#"{"eipId":"eip-1"}"#
    );
    let release = ReleaseEipAddressesRequest {
        eip_ids: vec!["eip-1".to_owned(), "eip-2".to_owned()],
    };
    assert_eq!(
        serde_json::to_string(&release).unwrap(),
        r#"{"eipIds":["eip-1","eip-2"]}"#
    );
    let one_zone = DescribeEipAvailableResourcesRequest {
        eip_charge_type: EipChargeType::Prepaid,
        zone_id: Some("SEL-A".to_owned()),
    };
    assert_eq!(
        serde_json::to_string(&one_zone).unwrap(),
        r#"{"eipChargeType":"PREPAID","zoneId":"SEL-A"}"#
    );
    let every_zone = DescribeEipAvailableResourcesRequest {
        eip_charge_type: EipChargeType::Postpaid,
        zone_id: None,
    };
    assert_eq!(
        serde_json::to_string(&every_zone).unwrap(),
        r#"{"eipChargeType":"POSTPAID"}"#
    );
    // An account page: only the paging fields, in the SDK's order.
    let page = DescribeEipAddressesRequest {
        page_size: Some(50),
        page_num: Some(3),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&page).unwrap(),
        r#"{"pageSize":50,"pageNum":3}"#
    );
}

#[test]
fn lifecycle_answers_decode() {
    let body = r#"{"requestId":"T-R","response":{"requestId":"T-R"}}"#;
    let ok = decode::<ReleaseEipAddressesResponse>(OP, &resp(200, body)).unwrap();
    assert_eq!(ok.request_id.as_deref(), Some("T-R"));
    let inner_only = r#"{"response":{"requestId":"T-I"}}"#;
    let ok = decode::<TerminateEipAddressResponse>(OP, &resp(200, inner_only)).unwrap();
    assert_eq!(ok.request_id.as_deref(), Some("T-I"));

    // The API page's example (no netmask), and a full row with a new field.
    let body = r#"{"requestId":"T-A","response":{"requestId":"T-A","eipResources":[
            {"zoneId":"SEL-A","status":"SELL"},
            {"zoneId":"LAX-A","status":"SELL_SHORTAGE","netmask":29,"new":1}]}}"#;
    let ok = decode::<DescribeEipAvailableResourcesResponse>(OP, &resp(200, body)).unwrap();
    assert_eq!(
        ok.response.eip_resources,
        [
            EipAvailable {
                zone_id: Some("SEL-A".to_owned()),
                status: Some("SELL".to_owned()),
                netmask: None,
            },
            EipAvailable {
                zone_id: Some("LAX-A".to_owned()),
                status: Some("SELL_SHORTAGE".to_owned()),
                netmask: Some(29),
            },
        ]
    );
    for empty in [
        r#"{"requestId":"T-E","response":{"eipResources":[]}}"#,
        r#"{"requestId":"T-E","response":{"eipResources":null}}"#,
        r#"{"requestId":"T-E","response":{}}"#,
    ] {
        let ok = decode::<DescribeEipAvailableResourcesResponse>(OP, &resp(200, empty)).unwrap();
        assert!(ok.response.eip_resources.is_empty(), "{empty}");
    }
}

#[test]
fn success_status_with_code_is_api_error() {
    let body = r#"{"requestId":"T-6","code":"INTERNAL_SERVER_ERROR","message":"boom"}"#;
    let err = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap_err();
    assert_eq!(err, api_error(200, "INTERNAL_SERVER_ERROR", "boom", "T-6"));
}

#[test]
fn success_status_with_unreadable_body_is_malformed() {
    let own = [
        "<html>hi</html>",
        r#"{"requestId":"T-7","resp"#,
        r#"{"requestId":"T-7"}"#,
        // A blank code is no code.
        r#"{"requestId":"T-7","code":"  ","message":"m"}"#,
    ];
    for body in UNREADABLE_BODIES.into_iter().chain(own) {
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
        api_error(
            404,
            "INVALID_ZONE_NOT_FOUND",
            "The specified zoneId `SEL--A` is not found",
            "T-9"
        )
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
        (500, r#"{"code":" \t "}"#),
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

/// Blank text is absent, as in the Alibaba parsers: a blank outer request
/// id gives way to the inner one, and request ids are trimmed.
#[test]
fn blank_request_ids_give_way_and_request_ids_are_trimmed() {
    let body = r#"{"requestId":" ","response":{"requestId":" T-15 ","eipIdSet":["e"]}}"#;
    let ok = decode::<AllocateEipAddressesResponse>(OP, &resp(200, body)).unwrap();
    assert_eq!(ok.request_id.as_deref(), Some("T-15"));
}
