//! The strict reading (the default) refuses what the lenient one ignores,
//! in parameters and headers.

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::*;
use crate::ApiReading;

#[tokio::test]
async fn lenient_reading_treats_empty_filters_as_absent() {
    let h = harness_with(ZenlayerEmulatorConfig {
        creation_delay: Duration::ZERO,
        reading: ApiReading::Lenient,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let ids = h
        .allocate(
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2.0,
            "resourceGroupId": "", "unknownField": {"x": null}, "netmask": null,
            "tags": {"tags": [{"key": "env", "value": "prod"}]}}),
        )
        .await;
    assert_eq!(
        ids.len(),
        2,
        "2.0 reads as 2; \"\", null and unknown fields as absent"
    );
    for filter in [
        json!({"eipIds": []}),
        json!({"zoneId": ""}),
        json!({"tagKeys": []}),
        json!({"tags": []}),
        json!({"eipIds": null, "whatever": 1}),
    ] {
        let (total, _) = h.describe(filter.clone()).await;
        assert_eq!(total, 2, "{filter}");
    }
    let (total, _) = h.describe(json!({"tags": [{"key": "env"}]})).await;
    assert_eq!(total, 2, "a tag filter without a value matches any value");
    // Headers are not checked either.
    let body = br#"{"zoneId":"SEL-A","zoneId":"HKG-A","eipChargeType":"POSTPAID"}"#.to_vec();
    let mut headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
    headers.remove("x-zc-version");
    headers.remove("x-zc-service");
    let (status, value) = h.post(headers, body).await;
    assert_eq!(status, 200, "{value}");
    let id = value["response"]["eipIdSet"][0].as_str().unwrap();
    assert_eq!(
        h.emulator.eip(id).unwrap().zone_id,
        "HKG-A",
        "the last key wins"
    );
}

#[tokio::test]
async fn strict_reading_refuses_what_lenient_ignores() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(h.emulator.reading(), ApiReading::Strict);
    let postpaid = json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"});
    let with = |field: &str, value: Value| {
        let mut body = postpaid.clone();
        body[field] = value;
        body
    };
    for (action, body, code) in [
        (
            ALLOCATE,
            with("amount", json!(2.0)),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            ALLOCATE,
            with("netmask", Value::Null),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            ALLOCATE,
            with("resourceGroupID", json!("rg-sandbox-team-a")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            ALLOCATE,
            with("clientToken", json!("abc")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            ALLOCATE,
            with("resourceGroupId", json!("")),
            "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND",
        ),
        (
            ALLOCATE,
            with("tags", json!({"tags": []})),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            ALLOCATE,
            with("eipChargePrepaid", json!({"period": 1})),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            DESCRIBE,
            json!({"eipId": "eip-1"}),
            "INVALID_PARAMETER_VALUE",
        ),
        (DESCRIBE, json!({"eipIds": null}), "INVALID_PARAMETER_TYPE"),
        (
            DESCRIBE,
            json!({"pageSize": 20.0}),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            DESCRIBE,
            json!({"eipStatus": ""}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            DESCRIBE,
            json!({"tags": [{"key": "env"}]}),
            "MISSING_PARAMETER",
        ),
        (
            DESCRIBE,
            json!({"tags": [{"key": "env", "value": "v", "op": "="}]}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            TERMINATE,
            json!({"eipId": "eip-1", "force": true}),
            "INVALID_PARAMETER_VALUE",
        ),
        (TERMINATE, json!({"eipId": null}), "INVALID_PARAMETER_TYPE"),
    ] {
        let status = if code.starts_with("OPERATION_FAILED") {
            404
        } else {
            400
        };
        let message = h.fails(action, body.clone(), status, code).await;
        assert!(!message.is_empty(), "{action} {body}");
    }
    assert_eq!(h.counters().await.allocations, 0, "nothing was allocated");

    // A key repeated in one object.
    let body = br#"{"zoneId":"SEL-A","zoneId":"HKG-A","eipChargeType":"POSTPAID"}"#.to_vec();
    let headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
    let (status, value) = h.post(headers, body).await;
    assert_error(
        status,
        &value,
        400,
        "INVALID_PARAMETER_TYPE",
        "repeated key",
    );
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("`zoneId` appears twice"),
        "{value}"
    );

    // What every SDK sends in headers: a known X-ZC-Version, X-ZC-Service
    // bmc, Content-Type application/json.
    let body = serde_json::to_vec(&postpaid).unwrap();
    for (header, value, status, code) in [
        (
            "x-zc-version",
            None,
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-version",
            Some("2020-01-01"),
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-service",
            None,
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-service",
            Some("zec"),
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
    ] {
        let mut headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
        match value {
            None => {
                headers.remove(header);
            }
            Some(v) => {
                headers.insert(HeaderName::from_static(header), HeaderValue::from_static(v));
            }
        }
        let (got, answer) = h.post(headers, body.clone()).await;
        assert_error(got, &answer, status, code, header);
    }
    let (status, _) = h.call(ALLOCATE, &postpaid).await;
    assert_eq!(status, 200, "the same request with every header is served");
    // The older API version is served too.
    let mut headers = h.signed_headers(DESCRIBE, b"{}", &Signing::default());
    headers.insert(
        HeaderName::from_static("x-zc-version"),
        HeaderValue::from_static("2022-11-20"),
    );
    let (status, _) = h.post(headers, b"{}".to_vec()).await;
    assert_eq!(status, 200);
}
