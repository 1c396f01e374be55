//! `ModifyInstanceNetworkSpec`: bandwidth 0 reclaims the static public IP
//! (the documented way to give it back), `AllocatePublicIp=true` assigns
//! one, every reproduced code, `ClientToken` replays, the describe lag of a
//! release, the counters and faults, V3.

use serde_json::json;

use super::*;
use crate::aliyun::InstanceStatus;

const MODIFY: &str = "ModifyInstanceNetworkSpec";

#[tokio::test]
async fn bandwidth_zero_reclaims_the_ip_and_allocate_public_ip_assigns_one() {
    let harness = start_default().await;
    let answer = harness.set_bandwidth("i-emuhasip001", "0").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let order = answer.json()["OrderId"].as_str().unwrap().to_owned();
    assert!(
        order.len() == 15 && order.bytes().all(|b| b.is_ascii_digit()),
        "{order}"
    );
    let described = harness.describe_attribute("i-emuhasip001").await.json();
    assert_eq!(described["PublicIpAddress"]["IpAddress"], json!([]));
    assert_eq!(described["InternetMaxBandwidthOut"], 0);
    let pools = harness.admin_get("/_admin/pools").await;
    assert!(
        pools["zones"]["cn-hangzhou-h"]["free_ips"]
            .as_array()
            .unwrap()
            .contains(&json!("47.96.0.10")),
        "the address is back in the pool"
    );
    // AllocatePublicIpAddress now refuses for want of bandwidth.
    assert_error(
        &harness.allocate("i-emuhasip001").await,
        400,
        "AllocateIpInvalidInstanceBandwidth",
    );
    // Raising it again with AllocatePublicIp assigns the lowest free address.
    let answer = harness
        .call(
            MODIFY,
            &[
                ("InstanceId", "i-emuhasip001"),
                ("InternetMaxBandwidthOut", "8"),
                ("InternetMaxBandwidthIn", "50"),
                ("NetworkChargeType", "PayByBandwidth"),
                ("AllocatePublicIp", "True"),
                ("AutoPay", "False"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let described = harness.describe_attribute("i-emuhasip001").await.json();
    assert_eq!(
        described["PublicIpAddress"]["IpAddress"],
        json!(["47.96.0.1"])
    );
    assert_eq!(described["InternetMaxBandwidthOut"], 8);
    assert_eq!(described["InternetMaxBandwidthIn"], 50);
    assert_eq!(described["InternetChargeType"], "PayByBandwidth");
    // A bandwidth change alone keeps the IP.
    let answer = harness.set_bandwidth("i-emuhasip001", "3").await;
    assert_eq!(answer.status, 200);
    assert!(harness.public_ip("i-emuhasip001").is_some());
    let counters = harness.counters().await;
    assert_eq!(
        (
            counters["release_calls"].as_u64(),
            counters["released"].as_u64(),
            counters["allocate_calls"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // Bandwidth 0 on an instance without an IP is a change, not a release.
    let answer = harness.set_bandwidth("i-emuready001", "0").await;
    assert_eq!(answer.status, 200);
    assert_eq!(harness.counters().await["release_calls"], 1);
}

#[tokio::test]
async fn parameter_and_state_refusals() {
    let harness = start_default().await;
    let cases: [Case; 12] = [
        (&[("InternetMaxBandwidthOut", "0")], 400, "MissingParameter"),
        (
            &[
                ("InstanceId", "i-emuready001"),
                ("InternetMaxBandwidthOut", "-1"),
            ],
            400,
            "InvalidInternetMaxBandwidthOut.ValueNotSupported",
        ),
        (
            &[
                ("InstanceId", "i-emuready001"),
                ("InternetMaxBandwidthOut", "1.5"),
            ],
            400,
            "InvalidInternetMaxBandwidthOut.ValueNotSupported",
        ),
        (
            &[
                ("InstanceId", "i-emuready001"),
                ("InternetMaxBandwidthIn", "201"),
            ],
            400,
            "InvalidInternetMaxBandwidthIn.ValueNotSupported",
        ),
        (
            &[
                ("InstanceId", "i-emuready001"),
                ("NetworkChargeType", "paybytraffic"),
            ],
            400,
            "InvalidInternetChargeType.ValueNotSupported",
        ),
        (
            &[("InstanceId", "i-emuready001"), ("AllocatePublicIp", "1")],
            400,
            "InvalidParam.AllocatePublicIp",
        ),
        (
            &[("InstanceId", "i-emuready001"), ("AutoPay", "yes")],
            400,
            "InvalidParameter",
        ),
        (
            &[
                ("InstanceId", "i-emuready001"),
                ("ClientToken", &"t".repeat(65)),
            ],
            400,
            "InvalidClientToken.ValueNotSupported",
        ),
        (
            &[
                ("InstanceId", "i-emunobody"),
                ("InternetMaxBandwidthOut", "0"),
            ],
            404,
            "InvalidInstanceId.NotFound",
        ),
        (
            &[
                ("InstanceId", "i-emupending01"),
                ("InternetMaxBandwidthOut", "0"),
            ],
            403,
            "IncorrectInstanceStatus",
        ),
        (
            &[
                ("InstanceId", "i-emulockrec01"),
                ("InternetMaxBandwidthOut", "0"),
            ],
            403,
            "IncorrectInstanceStatus",
        ),
        (
            &[
                ("InstanceId", "i-emuvpceip01"),
                ("AllocatePublicIp", "true"),
            ],
            403,
            "InvalidInstance.InstanceNotSupported",
        ),
    ];
    for (params, status, code) in cases {
        assert_error(&harness.call(MODIFY, params).await, status, code);
    }
    // A classic instance raised from 0 once it is Stopped.
    let mut stopped = harness.emulator.instance("i-emuclbwzero1").unwrap();
    stopped.status = InstanceStatus::Stopped;
    harness.emulator.upsert_instance(stopped).unwrap();
    let answer = harness.set_bandwidth("i-emuclbwzero1", "5").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Nothing above changed a public IP.
    let counters = harness.counters().await;
    assert_eq!(
        (
            counters["release_calls"].as_u64(),
            counters["allocate_calls"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // Strict: the preview parameters are not available.
    for name in ["StartTime", "EndTime", "ISP"] {
        let answer = harness
            .call(MODIFY, &[("InstanceId", "i-emuready001"), (name, "x")])
            .await;
        assert_error(&answer, 400, "InvalidParameter");
        assert!(answer.json()["Message"].as_str().unwrap().contains(name));
    }
}

#[tokio::test]
async fn a_client_token_replays_the_first_answer() {
    let harness = start_default().await;
    let params = [
        ("InstanceId", "i-emuhasip001"),
        ("InternetMaxBandwidthOut", "0"),
        ("ClientToken", "release-1"),
    ];
    let first = harness.call(MODIFY, &params).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // A retry after a lost answer: the same order, nothing performed again.
    let again = harness.call(MODIFY, &params).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["OrderId"], first.json()["OrderId"]);
    assert_ne!(again.json()["RequestId"], first.json()["RequestId"]);
    assert_eq!(harness.counters().await["release_calls"], 1);
    // Parameter order does not matter; values do.
    let reordered = [params[2], params[0], params[1]];
    assert_eq!(harness.call(MODIFY, &reordered).await.status, 200);
    let other = [
        ("InstanceId", "i-emuhasip001"),
        ("InternetMaxBandwidthOut", "1"),
        ("ClientToken", "release-1"),
    ];
    assert_error(
        &harness.call(MODIFY, &other).await,
        400,
        "IdempotentParameterMismatch",
    );
}

#[tokio::test]
async fn a_reclaimed_ip_shows_for_the_describe_lag_and_the_answer_can_be_lost() {
    let harness = start_default().await;
    harness
        .admin_put_faults(json!({"describe_lag_ms": 1500}))
        .await;
    let answer = harness.set_bandwidth("i-emurelvpc01", "0").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(harness.public_ip("i-emurelvpc01"), None);
    let described = harness.describe_attribute("i-emurelvpc01").await.json();
    assert_eq!(
        described["PublicIpAddress"]["IpAddress"],
        json!(["47.101.0.5"]),
        "still shown"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let described = harness.describe_attribute("i-emurelvpc01").await.json();
        if described["PublicIpAddress"]["IpAddress"] == json!([]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    harness
        .admin_put_faults(json!({"drop_after_release_probability": 1.0}))
        .await;
    let dropped = harness
        .send_unanswered(
            MODIFY,
            &[
                ("InstanceId", "i-emuhasip001"),
                ("InternetMaxBandwidthOut", "0"),
            ],
        )
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(harness.public_ip("i-emuhasip001"), None);
    // A change that releases nothing is answered.
    assert_eq!(
        harness.set_bandwidth("i-emuready001", "2").await.status,
        200
    );
    assert_eq!(harness.counters().await["dropped"], 1);
}

#[tokio::test]
async fn the_v3_sdk_request_shape() {
    // alibabacloud-ecs20140526: the model's fields in the query, sorted,
    // booleans as Python writes them, no RegionId.
    let harness = start_default().await;
    let request = V3::new(
        MODIFY,
        &[
            ("AllocatePublicIp", "False"),
            ("AutoPay", "True"),
            ("ClientToken", "v3-token"),
            ("InstanceId", "i-emuhasip001"),
            ("InternetMaxBandwidthOut", "0"),
        ],
    );
    let answer = request.send(&harness).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.json()["OrderId"].is_string());
    assert_eq!(harness.public_ip("i-emuhasip001"), None);
}
