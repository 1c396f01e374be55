//! `AllocateEipAddresses`: every parameter error, unreadable bodies, zone
//! behaviours, resource groups, marketing options and tags.

use serde_json::{Value, json};

use super::super::api;
use super::*;

#[tokio::test]
async fn allocate_parameter_errors() {
    let h = harness(Duration::ZERO).await;
    let base = || json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"eipChargeType": "POSTPAID"}),
            400,
            "MISSING_PARAMETER",
        ),
        (json!({"zoneId": "SEL-A"}), 400, "MISSING_PARAMETER"),
        (with("zoneId", json!("")), 400, "MISSING_PARAMETER"),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID"}),
            400,
            "MISSING_PARAMETER",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {}}),
            400,
            "MISSING_PARAMETER",
        ),
        (
            with("eipChargeType", json!("MONTHLY")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            with("eipChargeType", json!("postpaid")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (with("zoneId", json!(7)), 400, "INVALID_PARAMETER_TYPE"),
        (with("amount", json!("2")), 400, "INVALID_PARAMETER_TYPE"),
        (with("amount", json!(1.5)), 400, "INVALID_PARAMETER_TYPE"),
        (with("netmask", json!(true)), 400, "INVALID_PARAMETER_TYPE"),
        (
            with("eipChargePrepaid", json!(1)),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("marketingOptions", json!({"usePocVoucher": "yes"})),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("marketingOptions", json!({"discountCode": 5})),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("amount", json!(101)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (
            with("amount", json!(u64::MAX)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (with("amount", json!(1e300)), 400, "INVALID_PARAMETER_TYPE"),
        (
            with("netmask", json!(33)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (
            with("amount", json!(0)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            with("amount", json!(-5)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            with("netmask", json!(0)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 0}}),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 121}}),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
    ];
    for (body, status, code) in cases {
        h.fails(ALLOCATE, body, status, code).await;
    }
    assert!(h.emulator.eips().is_empty());
    let counters = h.counters().await;
    assert_eq!(counters.allocate_calls, 0);
}

#[tokio::test]
async fn unparseable_bodies_are_invalid_parameter_type() {
    let h = harness(Duration::ZERO).await;
    let bodies: [&[u8]; 6] = [
        b"{",
        b"[1, 2]",
        b"\"zoneId\"",
        b"\xff\xfe\x00garbage",
        b"{\"zoneId\": \"SEL-A\", \"amount\": 1,}",
        b"null",
    ];
    for body in bodies {
        let headers = h.signed_headers(ALLOCATE, body, &Signing::default());
        let (status, value) = h.post(headers, body.to_vec()).await;
        assert_error(
            status,
            &value,
            400,
            "INVALID_PARAMETER_TYPE",
            &String::from_utf8_lossy(body),
        );
    }
    // An empty body reads as `{}`: the first missing parameter.
    let headers = h.signed_headers(ALLOCATE, b"", &Signing::default());
    let (status, value) = h.post(headers, Vec::new()).await;
    assert_error(status, &value, 400, "MISSING_PARAMETER", "empty body");
    // A body over the limit.
    let big = vec![b' '; api::MAX_BODY_BYTES + 1];
    let headers = h.signed_headers(ALLOCATE, &big, &Signing::default());
    let (status, value) = h.post(headers, big).await;
    assert_error(
        status,
        &value,
        400,
        "INVALID_PARAMETER_EXCEED_LENGTH",
        "big",
    );
}

#[tokio::test]
async fn zone_errors_and_behaviours() {
    let h = harness(Duration::ZERO).await;
    let message = h
        .fails(
            ALLOCATE,
            json!({"zoneId": "SEL--A", "eipChargeType": "POSTPAID"}),
            404,
            "INVALID_ZONE_NOT_FOUND",
        )
        .await;
    assert_eq!(message, "The specified zoneId `SEL--A` is not found");
    for (body, status, code) in [
        (
            json!({"zoneId": "sel-a", "eipChargeType": "POSTPAID"}),
            404,
            "INVALID_ZONE_NOT_FOUND",
        ),
        (
            json!({"zoneId": "TYO-A", "eipChargeType": "POSTPAID"}),
            400,
            "INVALID_EIP_TYPE_ZONE_NO_SELL",
        ),
        (
            json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID", "netmask": 27}),
            400,
            "INVALID_EIP_TYPE_ZONE_NO_SELL",
        ),
    ] {
        h.fails(ALLOCATE, body, status, code).await;
    }
    // Netmask 29: an aligned block of 8, reported with its first address.
    let ids = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID", "netmask": 29}))
        .await;
    let eip = h.emulator.eip(&ids[0]).unwrap();
    assert_eq!(eip.netmask, 29);
    let ip: std::net::Ipv4Addr = eip.ip_address.unwrap().parse().unwrap();
    assert_eq!(u32::from(ip) % 8, 0);
    assert_eq!(ip.octets()[..2], [128, 14]);
    // SIN-A accepts, then fails.
    let ids = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID", "amount": 3}))
        .await;
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert_eq!(
            h.emulator.eip(id).unwrap().eip_status,
            EipStatus::CreateFailed
        );
    }
}

#[tokio::test]
async fn resource_groups_marketing_and_tags() {
    let h = harness(Duration::ZERO).await;
    let base = || json!({"zoneId": "HKG-A", "eipChargeType": "POSTPAID"});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    h.fails(
        ALLOCATE,
        with("resourceGroupId", json!("rg-unknown")),
        404,
        "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND",
    )
    .await;
    let ids = h
        .allocate(with("resourceGroupId", json!("rg-sandbox-team-a")))
        .await;
    let eip = h.emulator.eip(&ids[0]).unwrap();
    assert_eq!(
        (
            eip.resource_group_id.as_str(),
            eip.resource_group_name.as_str()
        ),
        ("rg-sandbox-team-a", "team-a")
    );
    let ids = h.allocate(base()).await;
    assert_eq!(
        h.emulator.eip(&ids[0]).unwrap().resource_group_id,
        "rg-sandbox-default"
    );

    // A discount code that does not exist is simply not applied.
    h.allocate(with(
        "marketingOptions",
        json!({"discountCode": "NOPE", "usePocVoucher": false}),
    ))
    .await;
    let message = h
        .fails(
            ALLOCATE,
            with("marketingOptions", json!({"usePocVoucher": true})),
            403,
            "OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE",
        )
        .await;
    assert!(message.contains("POC voucher"), "{message}");

    let tag_cases: Vec<(Value, &str)> = vec![
        (
            json!({"tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"tags": [{"key": "", "value": "1"}]}),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            json!({"tags": [{"key": "a", "value": ""}]}),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            json!({"tags": [{"key": "k".repeat(129), "value": "1"}]}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (
            json!({"tags": [{"key": "a", "value": "v".repeat(129)}]}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (json!({"tags": [{"value": "1"}]}), "MISSING_PARAMETER"),
        (
            json!({"tags": [{"key": 1, "value": "1"}]}),
            "INVALID_PARAMETER_TYPE",
        ),
        (json!({"tags": "env=test"}), "INVALID_PARAMETER_TYPE"),
        // The flat Describe shape is not the Allocate one.
        (
            json!([{"key": "a", "value": "1"}]),
            "INVALID_PARAMETER_TYPE",
        ),
    ];
    for (tags, code) in tag_cases {
        h.fails(ALLOCATE, with("tags", tags), 400, code).await;
    }
    // 128 characters (not bytes) is fine.
    let ids = h
        .allocate(with(
            "tags",
            json!({"tags": [{"key": "é".repeat(128), "value": "ü".repeat(128)}]}),
        ))
        .await;
    assert_eq!(h.emulator.eip(&ids[0]).unwrap().tags.tags.len(), 1);
}
