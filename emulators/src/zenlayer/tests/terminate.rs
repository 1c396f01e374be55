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
