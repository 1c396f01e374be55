//! `ReleasePublicIpAddress`: every documented code in its order, the
//! address going back to its pool, the release counters and the
//! drop-after-release fault, V3, and the strict reading of its parameters.

use serde_json::json;

use super::*;
use crate::ApiReading;

const RELEASE: &str = "ReleasePublicIpAddress";

#[tokio::test]
async fn every_refusal_in_order_then_the_release() {
    let harness = start_default().await;
    let cases: [Case; 9] = [
        (&[("InstanceId", "i-emuclrel01")], 400, "MissingParameter"),
        (
            &[
                ("InstanceId", "i-emuclrel01"),
                ("PublicIpAddress", "not-an-ip"),
            ],
            400,
            "InvalidIpAddress.NotFound",
        ),
        (
            &[("PublicIpAddress", "47.101.0.1")],
            403,
            "InvalidIpAddress.NeedInstanceId",
        ),
        (
            &[
                ("InstanceId", "i-emunobody"),
                ("PublicIpAddress", "47.101.0.1"),
            ],
            404,
            "InvalidInstanceId.NotFound",
        ),
        (
            &[
                ("InstanceId", "i-emuclassic01"),
                ("PublicIpAddress", "47.101.0.1"),
            ],
            400,
            "InvalidIpAddress.NotFound",
        ),
        (
            &[
                ("InstanceId", "i-emuhasip001"),
                ("PublicIpAddress", "47.96.0.10"),
            ],
            400,
            "OperationDenied",
        ),
        (
            &[
                ("InstanceId", "i-emuclstop01"),
                ("PublicIpAddress", "47.101.0.2"),
            ],
            403,
            "IncorrectInstanceStatus",
        ),
        (
            &[
                ("InstanceId", "i-emucllock01"),
                ("PublicIpAddress", "47.101.0.3"),
            ],
            403,
            "InstanceLockedForSecurity",
        ),
        (
            &[
                ("InstanceId", "i-emurellimit1"),
                ("PublicIpAddress", "47.101.0.4"),
            ],
            403,
            "OperationTimesOverLimit",
        ),
    ];
    for (params, status, code) in cases {
        assert_error(&harness.call(RELEASE, params).await, status, code);
    }
    // Booleans as the Python SDKs send them.
    let dry = [
        ("InstanceId", "i-emuclrel01"),
        ("PublicIpAddress", "47.101.0.1"),
        ("DryRun", "True"),
    ];
    assert_error(&harness.call(RELEASE, &dry).await, 400, "DryRunOperation");
    assert!(harness.public_ip("i-emuclrel01").is_some());
    let mut bad_dry = dry;
    bad_dry[2].1 = "sometimes";
    assert_error(
        &harness.call(RELEASE, &bad_dry).await,
        400,
        "InvalidParameter",
    );

    let real = [
        ("InstanceId", "i-emuclrel01"),
        ("PublicIpAddress", "47.101.0.1"),
        ("DryRun", "False"),
    ];
    let answer = harness.call(RELEASE, &real).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json().as_object().unwrap().len(),
        1,
        "only RequestId"
    );
    let stored = harness.emulator.instance("i-emuclrel01").unwrap();
    assert_eq!((stored.public_ip, stored.public_ip_releases), (None, 1));
    let described = harness.describe_attribute("i-emuclrel01").await.json();
    assert_eq!(described["PublicIpAddress"]["IpAddress"], json!([]));
    assert_error(
        &harness.call(RELEASE, &real).await,
        400,
        "InvalidIpAddress.NotFound",
    );
    let counters = harness.counters().await;
    assert_eq!(
        (
            counters["release_calls"].as_u64(),
            counters["released"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(counters["allocate_calls"], 0);
}

#[tokio::test]
async fn a_released_vlan_address_can_be_allocated_again() {
    let harness = start_default().await;
    let answer = harness
        .call(
            RELEASE,
            &[
                ("InstanceId", "i-emuclassic02"),
                ("PublicIpAddress", "47.100.0.10"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = harness
        .call(
            "AllocatePublicIpAddress",
            &[
                ("InstanceId", "i-emuclassic01"),
                ("VlanId", "100"),
                ("IpAddress", "47.100.0.10"),
            ],
        )
        .await;
    assert_eq!(answer.json()["IpAddress"], "47.100.0.10", "{}", answer.body);
}

#[tokio::test]
async fn the_answer_can_be_lost_after_the_release() {
    let harness = start_default().await;
    harness
        .admin_put_faults(json!({"drop_after_release_probability": 1.0}))
        .await;
    let dropped = harness
        .send_unanswered(
            RELEASE,
            &[
                ("InstanceId", "i-emuclrel01"),
                ("PublicIpAddress", "47.101.0.1"),
            ],
        )
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(harness.public_ip("i-emuclrel01"), None);
    // A refused release is answered.
    assert_error(
        &harness
            .call(
                RELEASE,
                &[
                    ("InstanceId", "i-emuclrel01"),
                    ("PublicIpAddress", "47.101.0.1"),
                ],
            )
            .await,
        400,
        "InvalidIpAddress.NotFound",
    );
    let counters = harness.counters().await;
    assert_eq!(
        (
            counters["release_calls"].as_u64(),
            counters["dropped"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn v3_and_the_strict_reading() {
    let harness = start_default().await;
    // The V3 SDK puts RegionId in the query.
    let request = V3::new(
        RELEASE,
        &[
            ("DryRun", "False"),
            ("InstanceId", "i-emuclrel01"),
            ("PublicIpAddress", "47.101.0.1"),
            ("RegionId", "cn-hangzhou"),
        ],
    );
    let answer = request.send(&harness).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    for (params, code) in [
        (
            vec![
                ("InstanceId", "i-emuclstop01"),
                ("PublicIpAddress", "47.101.0.2"),
                ("Force", "true"),
            ],
            "InvalidParameter",
        ),
        (
            vec![
                ("InstanceId", "i-emuclstop01"),
                ("PublicIpAddress", ""),
                ("DryRun", "true"),
            ],
            "MissingParameter",
        ),
        (
            vec![
                ("InstanceId", "i-emuclstop01"),
                ("PublicIpAddress", "47.101.0.2"),
                ("RegionId", "cn-beijing"),
            ],
            "InvalidInstanceId.NotFound",
        ),
    ] {
        let answer = harness.call(RELEASE, &params).await;
        assert_eq!(answer.code(), code, "{params:?}: {}", answer.body);
    }
    // Leniently, an unknown parameter is ignored.
    let lenient = start_with(AliyunEmulatorConfig {
        reading: ApiReading::Lenient,
        ..AliyunEmulatorConfig::default()
    })
    .await;
    let answer = lenient
        .call(
            RELEASE,
            &[
                ("InstanceId", "i-emuclrel01"),
                ("PublicIpAddress", "47.101.0.1"),
                ("Force", "true"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
