//! `TerminateEipAddress`: every refusal in its order, and the address
//! going back to the pool.

use serde_json::json;

use super::*;

#[tokio::test]
async fn terminate_rules() {
    let h = harness(Duration::ZERO).await;
    let post = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    let pre = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}}))
        .await;
    let failed = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.emulator.set_creation_delay(Duration::from_secs(3600));
    let creating = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;

    h.fails(TERMINATE, json!({}), 400, "MISSING_PARAMETER")
        .await;
    h.fails(
        TERMINATE,
        json!({"eipId": 5}),
        400,
        "INVALID_PARAMETER_TYPE",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": "eip-nope"}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": pre[0]}),
        403,
        "OPERATION_DENIED_EIP_SUBSCRIPTION",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": creating[0]}),
        403,
        "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
    )
    .await;

    let free = h.emulator.free_addresses("SEL-A");
    let ip = h.emulator.eip(&post[0]).unwrap().ip_address.unwrap();
    let response = h.ok(TERMINATE, json!({"eipId": post[0]})).await;
    assert_eq!(response.as_object().unwrap().len(), 1, "{response}");
    assert_eq!(h.emulator.free_addresses("SEL-A"), free + 1);
    let eip = h.emulator.eip(&post[0]).unwrap();
    assert_eq!((eip.eip_status, eip.ip_address), (EipStatus::Recycle, None));
    h.fails(
        TERMINATE,
        json!({"eipId": post[0]}),
        403,
        "OPERATION_DENIED_EIP_RECYCLED",
    )
    .await;
    let (_, recycled) = h.describe(json!({"eipStatus": "RECYCLE"})).await;
    assert_eq!(recycled, post);

    // CREATE_FAILED EIPs can be terminated; the address is reused.
    h.ok(TERMINATE, json!({"eipId": failed[0]})).await;
    h.emulator.set_creation_delay(Duration::ZERO);
    let again = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    assert_eq!(h.emulator.eip(&again[0]).unwrap().ip_address, Some(ip));
}

#[tokio::test]
async fn terminations_are_counted_and_the_answer_can_be_lost() {
    let h = harness(Duration::ZERO).await;
    let ids = h
        .allocate(json!({"zoneId": "HKG-A", "eipChargeType": "POSTPAID", "amount": 2}))
        .await;
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    let counters = h.counters().await;
    assert_eq!((counters.release_calls, counters.released), (1, 1));
    assert_eq!(
        h.admin_put(
            "/_admin/faults",
            json!({"drop_after_release_probability": 1.0})
        )
        .await,
        200
    );
    let lost = h
        .send_unanswered(TERMINATE, &json!({"eipId": ids[1]}))
        .await;
    assert!(lost.is_err(), "{lost:?}");
    // Terminated all the same: a retry finds it in the recycle bin.
    assert_eq!(
        h.emulator.eip(&ids[1]).unwrap().eip_status,
        EipStatus::Recycle
    );
    h.fails(
        TERMINATE,
        json!({"eipId": ids[1]}),
        403,
        "OPERATION_DENIED_EIP_RECYCLED",
    )
    .await;
    let counters = h.counters().await;
    assert_eq!(
        (counters.release_calls, counters.released, counters.dropped),
        (2, 2, 1)
    );
    // A released EIP is unknown to Terminate.
    h.admin_put("/_admin/faults", json!({})).await;
    h.ok(RELEASE, json!({"eipIds": [ids[1]]})).await;
    h.fails(
        TERMINATE,
        json!({"eipId": ids[1]}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_terminated_eip_is_recycling_before_it_is_recycle() {
    let h = harness_with(ZenlayerEmulatorConfig {
        creation_delay: Duration::ZERO,
        recycling_delay: Duration::from_secs(3600),
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let ids = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    let eip = h.emulator.eip(&ids[0]).unwrap();
    assert_eq!(
        (eip.eip_status, eip.ip_address),
        (EipStatus::Recycling, None)
    );
    let (_, recycling) = h.describe(json!({"eipStatus": "RECYCLING"})).await;
    assert_eq!(recycling, ids);
    // Already in the recycle bin for Terminate, not yet for Release.
    h.fails(
        TERMINATE,
        json!({"eipId": ids[0]}),
        403,
        "OPERATION_DENIED_EIP_RECYCLED",
    )
    .await;
    h.fails(
        RELEASE,
        json!({"eipIds": [ids[0]]}),
        403,
        "OPERATION_DENIED_EIP_NOT_RECYCLED",
    )
    .await;
    // EIPs terminated after the delay changes follow the new delay.
    h.emulator.set_recycling_delay(Duration::ZERO);
    assert_eq!(h.emulator.recycling_delay(), Duration::ZERO);
    let more = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.ok(TERMINATE, json!({"eipId": more[0]})).await;
    assert_eq!(
        h.emulator.eip(&more[0]).unwrap().eip_status,
        EipStatus::Recycle
    );
    h.ok(RELEASE, json!({"eipIds": [more[0]]})).await;
    assert_eq!(
        h.emulator.eip(&ids[0]).unwrap().eip_status,
        EipStatus::Recycling
    );
}
