//! `ReleaseEipAddresses`: purges terminated EIPs from the recycle bin, all
//! or nothing; its parameter errors under both readings.

use serde_json::json;

use super::*;

#[tokio::test]
async fn releases_recycled_eips_all_or_nothing() {
    let h = harness(Duration::ZERO).await;
    let ids = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 3}))
        .await;
    let free = h.emulator.free_addresses("SEL-A");
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    h.ok(TERMINATE, json!({"eipId": ids[1]})).await;
    assert_eq!(h.emulator.free_addresses("SEL-A"), free + 2);

    // One id not in the recycle bin, or unknown: nothing is released.
    let message = h
        .fails(
            RELEASE,
            json!({"eipIds": [ids[0], ids[2]]}),
            403,
            "OPERATION_DENIED_EIP_NOT_RECYCLED",
        )
        .await;
    assert!(message.contains(&ids[2]), "{message}");
    h.fails(
        RELEASE,
        json!({"eipIds": [ids[0], "eip-nope"]}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
    let (total, _) = h.describe(json!({"eipStatus": "RECYCLE"})).await;
    assert_eq!(total, 2);

    let response = h.ok(RELEASE, json!({"eipIds": [ids[0], ids[1]]})).await;
    assert_eq!(response.as_object().unwrap().len(), 1, "{response}");
    let (total, described) = h.describe(json!({})).await;
    assert_eq!((total, described), (1, vec![ids[2].clone()]));
    assert!(h.emulator.eip(&ids[0]).is_none());
    assert_eq!(h.emulator.eips().len(), 1);
    // The addresses were given back at Terminate, not again now.
    assert_eq!(h.emulator.free_addresses("SEL-A"), free + 2);
    h.fails(
        RELEASE,
        json!({"eipIds": [ids[0]]}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
    let counters = h.counters().await;
    assert_eq!((counters.release_calls, counters.released), (3, 2));
}

#[tokio::test]
async fn parameter_errors() {
    let h = harness(Duration::ZERO).await;
    let ids = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    let hundred_and_one: Vec<String> = (0..101).map(|n| format!("eip-{n}")).collect();
    for (body, status, code) in [
        (json!({}), 400, "MISSING_PARAMETER"),
        (json!({"eipIds": []}), 400, "INVALID_PARAMETER_LESS_LENGTH"),
        (
            json!({"eipIds": hundred_and_one}),
            400,
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (json!({"eipIds": ids[0]}), 400, "INVALID_PARAMETER_TYPE"),
        (json!({"eipIds": [1]}), 400, "INVALID_PARAMETER_TYPE"),
        (json!({"eipIds": null}), 400, "INVALID_PARAMETER_TYPE"),
        (
            json!({"eipIds": [ids[0], ids[0]]}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"eipIds": [ids[0]], "force": true}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (json!({"eipId": ids[0]}), 400, "INVALID_PARAMETER_VALUE"),
    ] {
        h.fails(RELEASE, body, status, code).await;
    }
    assert!(h.emulator.eip(&ids[0]).is_some(), "nothing was released");
    // 100 ids is the limit, not an error (they are unknown).
    let hundred: Vec<String> = (0..100).map(|n| format!("eip-{n}")).collect();
    h.fails(
        RELEASE,
        json!({"eipIds": hundred}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn lenient_reading_reads_empty_as_absent_and_a_repeated_id_once() {
    let h = harness_with(ZenlayerEmulatorConfig {
        creation_delay: Duration::ZERO,
        reading: crate::ApiReading::Lenient,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let ids = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    h.fails(RELEASE, json!({"eipIds": []}), 400, "MISSING_PARAMETER")
        .await;
    h.fails(RELEASE, json!({"eipIds": null}), 400, "MISSING_PARAMETER")
        .await;
    h.ok(RELEASE, json!({"eipIds": [ids[0], ids[0]], "force": true}))
        .await;
    assert!(h.emulator.eip(&ids[0]).is_none());
}
