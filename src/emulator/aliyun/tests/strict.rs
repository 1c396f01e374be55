//! The strict and lenient readings of parameters, and both rules for a
//! repeated allocation, over HTTP.

use super::*;
use crate::emulator::ApiReading;
use crate::emulator::aliyun::RepeatAllocation;

const READY: &str = "i-emuready001";
const HAS_IP: &str = "i-emuhasip001";

#[tokio::test]
async fn strict_reading_refuses_unknown_repeated_and_empty_parameters() {
    let h = start_default().await;
    assert_eq!(h.emulator.reading(), ApiReading::Strict);
    let allocate = |extra: &[(&str, &str)]| {
        let mut params = v1_params("AllocatePublicIpAddress", &[("InstanceId", READY)]);
        params.extend(owned(extra));
        params
    };
    for (extra, status, code) in [
        (vec![("IpAddress", "")], 400, "InvalidIpAddress.Malformed"),
        (vec![("VlanId", "")], 404, "InvalidVlanId.NotFound"),
        (vec![("ClientToken", "abc")], 400, "InvalidParameter"),
        (vec![("instanceId", READY)], 400, "InvalidParameter"),
        (
            vec![("InstanceId", "i-emuready002")],
            400,
            "InvalidParameter",
        ),
        (
            vec![("RegionId", "cn-beijing")],
            404,
            "InvalidInstanceId.NotFound",
        ),
        (vec![("RegionId", "")], 400, "InvalidParameter"),
        (vec![("OwnerId", "me")], 400, "InvalidParameter"),
        (
            vec![("SignatureType", "PRIVATEKEY")],
            400,
            "InvalidParameter",
        ),
    ] {
        let answer = h.v1("POST", &allocate(&extra)).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{extra:?}: {}",
            answer.body
        );
    }
    assert_eq!(
        h.emulator.instance(READY).unwrap().public_ip,
        None,
        "nothing allocated"
    );
    // What the legacy SDK sends: RegionId and an empty SignatureType.
    let answer = h
        .v1(
            "POST",
            &allocate(&[("RegionId", "cn-hangzhou"), ("SignatureType", "")]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // V3: the query holds only the action's parameters.
    let v3 = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", READY), ("Format", "JSON")],
    );
    let answer = v3.send(&h).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "InvalidParameter"),
        "{}",
        answer.body
    );
    let answer = V3::new("DescribeInstanceAttribute", &[("InstanceId", READY)])
        .send(&h)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn lenient_reading_ignores_unknown_and_empty_parameters() {
    let h = start_with(AliyunEmulatorConfig {
        reading: ApiReading::Lenient,
        ..AliyunEmulatorConfig::default()
    })
    .await;
    let params = v1_params(
        "AllocatePublicIpAddress",
        &[
            ("InstanceId", READY),
            ("IpAddress", ""),
            ("VlanId", ""),
            ("ClientToken", "abc"),
            ("RegionId", "cn-beijing"),
        ],
    );
    let answer = h.v1("POST", &params).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(h.emulator.instance(READY).unwrap().public_ip.is_some());
}

#[tokio::test]
async fn repeated_allocation_answers_by_the_configured_rule() {
    let allocated_already = start_default().await;
    assert_eq!(
        allocated_already.emulator.repeat_allocation(),
        RepeatAllocation::AllocatedAlready
    );
    let returns = start_with(AliyunEmulatorConfig {
        repeat_allocation: RepeatAllocation::ReturnExisting,
        ..AliyunEmulatorConfig::default()
    })
    .await;
    let existing = allocated_already
        .emulator
        .instance(HAS_IP)
        .unwrap()
        .public_ip
        .unwrap()
        .to_string();

    let call = |extra: &[(&str, &str)]| {
        let mut params = v1_params("AllocatePublicIpAddress", &[("InstanceId", HAS_IP)]);
        params.extend(owned(extra));
        params
    };
    let answer = allocated_already.v1("POST", &call(&[])).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (403, "AllocatedAlready")
    );

    for extra in [vec![], vec![("IpAddress", existing.as_str())]] {
        let answer = returns.v1("POST", &call(&extra)).await;
        assert_eq!(answer.status, 200, "{extra:?}: {}", answer.body);
        assert_eq!(answer.json()["IpAddress"], existing.as_str());
    }
    // Another address than the one the instance holds.
    let answer = returns
        .v1("POST", &call(&[("IpAddress", "47.96.1.2")]))
        .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (403, "AllocatedAlready")
    );
    // A returned IP is not an allocation: counters and the pool are unchanged.
    let counters = returns.counters().await;
    assert_eq!(counters["allocations"], 0, "{counters}");
    assert_eq!(
        returns
            .emulator
            .instance(HAS_IP)
            .unwrap()
            .public_ip
            .unwrap()
            .to_string(),
        existing
    );
    // A fresh allocation is one, under either rule.
    let answer = returns
        .v1(
            "POST",
            &v1_params("AllocatePublicIpAddress", &[("InstanceId", READY)]),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(returns.counters().await["allocations"], 1);
}
