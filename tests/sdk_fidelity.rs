//! Proof that the emulators check requests the way the clouds do,
//! independently of the gateway's own signers: the official Python SDKs
//! (aliyun-python-sdk-core/-ecs, zenlayercloud-sdk-python) run
//! `tests/python/sdk_fidelity.py` against both emulators on loopback. The
//! script prints one JSON object; this test asserts on it and on the
//! emulators' own state and counters.
//!
//! The strongest check: with a wrong secret the emulator answers
//! `SignatureDoesNotMatch` with its string-to-sign, and the legacy Alibaba
//! SDK turns that into `InvalidAccessKeySecret` only when the emulator's
//! string-to-sign is byte-for-byte its own.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tools::{self, run_with_timeout};
use ipalloc_gateway::emulator::aliyun;
use ipalloc_gateway::emulator::zenlayer::{self, ChargeType, EipStatus};
use ipalloc_gateway::sandbox::{EmulatorOptions, start_emulators};
use serde_json::{Value, json};

/// A seeded Running VPC instance without a public IP.
const INSTANCE: &str = "i-emuready001";
/// Another one, for the V3 SDK.
const V3_INSTANCE: &str = "i-emuready002";

/// The script's own requests have 10 s timeouts; this bounds the whole run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// `script` (in `tests/python/`) with the official SDKs, given both
/// emulators' addresses and their sandbox credentials (`ALIYUN_AK_*`,
/// `ZENLAYER_AK_*`).
fn sdk_script(script: &str, aliyun_addr: SocketAddr, zenlayer_addr: SocketAddr) -> Command {
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut command = tools::python(&tools::python_sdks(), path);
    command
        .arg(aliyun_addr.to_string())
        .arg(zenlayer_addr.to_string())
        .env("ALIYUN_AK_ID", aliyun::SANDBOX_ACCESS_KEY_ID)
        .env("ALIYUN_AK_SECRET", aliyun::SANDBOX_ACCESS_KEY_SECRET)
        .env("ZENLAYER_AK_ID", zenlayer::SANDBOX_ACCESS_KEY_ID)
        .env(
            "ZENLAYER_AK_PASSWORD",
            zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
        );
    command
}

#[test]
fn official_sdks_are_served_and_refused_like_the_clouds_do() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulators = runtime
        .block_on(start_emulators(&EmulatorOptions {
            // Long enough that every EIP is still CREATING when checked.
            creation_delay: Duration::from_secs(600),
            ..EmulatorOptions::default()
        }))
        .expect("emulators start");
    let (aliyun_running, aliyun_emulator) = emulators.aliyun.as_ref().unwrap();
    let (zenlayer_running, zenlayer_emulator) = emulators.zenlayer.as_ref().unwrap();
    assert!(aliyun_running.addr.ip().is_loopback());
    assert!(zenlayer_running.addr.ip().is_loopback());
    assert_eq!(
        aliyun_emulator.instance(INSTANCE).unwrap().public_ip,
        None,
        "the seeded instance starts without a public IP"
    );

    let started = Instant::now();
    let finished = run_with_timeout(
        sdk_script(
            "sdk_fidelity.py",
            aliyun_running.addr,
            zenlayer_running.addr,
        )
        .arg(INSTANCE)
        .arg(V3_INSTANCE),
        SCRIPT_TIMEOUT,
    );
    let report = finished.report();
    assert!(
        finished.succeeded(),
        "sdk_fidelity.py failed or timed out after {:?}:\n{report}",
        started.elapsed()
    );
    let result: Value = serde_json::from_str(finished.stdout.trim())
        .unwrap_or_else(|e| panic!("sdk_fidelity.py printed no JSON ({e}):\n{report}"));

    // --- Alibaba Cloud ECS, legacy SDK (signature V1, HMAC-SHA1).
    let ip = result["aliyun_allocate"]["IpAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("AllocatePublicIpAddress without IpAddress:\n{report}"));
    let ip: Ipv4Addr = ip
        .parse()
        .unwrap_or_else(|e| panic!("IpAddress {ip:?}: {e}\n{report}"));
    assert!(ip.to_string().starts_with("47.96."), "default pool: {ip}");
    assert!(
        result["aliyun_allocate"]["RequestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{report}"
    );
    let described = &result["aliyun_describe"];
    assert_eq!(described["InstanceId"], INSTANCE, "{report}");
    assert_eq!(
        described["PublicIpAddress"]["IpAddress"],
        json!([ip.to_string()]),
        "DescribeInstanceAttribute shows the new IP:\n{report}"
    );
    assert_eq!(
        result["aliyun_wrong_secret"]["code"], "InvalidAccessKeySecret",
        "the SDK found the emulator's string-to-sign equal to its own only if it says \
         InvalidAccessKeySecret (SignatureDoesNotMatch means they differ):\n{report}"
    );
    assert_eq!(result["aliyun_wrong_secret"]["status"], 400, "{report}");
    assert_eq!(
        result["aliyun_tampered"],
        json!({"status": 400, "code": "SignatureDoesNotMatch"}),
        "{report}"
    );

    // --- Alibaba Cloud ECS, V3 SDK (ACS3-HMAC-SHA256).
    let v3_ip = result["aliyun_v3_allocate"]["IpAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("V3 AllocatePublicIpAddress without IpAddress:\n{report}"));
    assert!(v3_ip.starts_with("47.96."), "{v3_ip}\n{report}");
    assert_ne!(v3_ip, ip.to_string());
    assert_eq!(
        result["aliyun_v3_describe"]["PublicIpAddress"]["IpAddress"],
        json!([v3_ip]),
        "{report}"
    );
    assert_eq!(
        aliyun_emulator
            .instance(V3_INSTANCE)
            .unwrap()
            .public_ip
            .map(|ip| ip.to_string())
            .as_deref(),
        Some(v3_ip)
    );

    // --- Zenlayer BMC, official SDK (ZC2-HMAC-SHA256).
    let postpaid_ids: Vec<String> = result["zenlayer_postpaid"]["eipIdSet"]
        .as_array()
        .unwrap_or_else(|| panic!("POSTPAID without eipIdSet:\n{report}"))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(postpaid_ids.len(), 2, "{report}");
    assert_ne!(postpaid_ids[0], postpaid_ids[1]);
    let prepaid_ids: Vec<String> = result["zenlayer_prepaid"]["eipIdSet"]
        .as_array()
        .unwrap_or_else(|| panic!("PREPAID without eipIdSet:\n{report}"))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(prepaid_ids.len(), 1, "amount defaults to 1:\n{report}");
    assert!(
        result["zenlayer_prepaid"]["orderNumber"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "PREPAID has an order number:\n{report}"
    );
    let described = &result["zenlayer_describe"];
    assert_eq!(described["totalCount"], 2, "{report}");
    let eips = described["eips"].as_array().unwrap();
    assert_eq!(
        eips.iter()
            .map(|e| e["eipId"].as_str().unwrap())
            .collect::<BTreeSet<_>>(),
        postpaid_ids.iter().map(String::as_str).collect(),
        "{report}"
    );
    for eip in eips {
        assert_eq!(eip["eipStatus"], "CREATING", "{report}");
        assert_eq!(eip["zoneId"], "SEL-A", "{report}");
        assert_eq!(eip["eipChargeType"], "POSTPAID", "{report}");
        assert_eq!(
            eip["tags"],
            json!([{"key": "env", "value": "sdk test"}, {"key": "owner", "value": "运维"}]),
            "tags survive the SDK's JSON (spaces, non-ASCII):\n{report}"
        );
    }
    assert_eq!(
        result["zenlayer_wrong_password"]["code"], "AUTHFAILURE_SIGNATURE_FAILURE",
        "{report}"
    );

    // --- The emulators' own state.
    assert_eq!(
        aliyun_emulator.instance(INSTANCE).unwrap().public_ip,
        Some(ip),
        "the instance holds the IP the SDK was given"
    );
    let counters = aliyun_emulator.faults().snapshot();
    assert_eq!(
        counters.requests, 6,
        "allocate, describe, wrong secret, tampered, V3 allocate and describe (no retries): {counters:?}"
    );
    assert_eq!(counters.allocate_calls, 2, "{counters:?}");
    assert_eq!(counters.allocations, 2, "{counters:?}");
    assert_eq!(
        counters.auth_failures, 2,
        "wrong secret and tampered signature: {counters:?}"
    );

    let all = zenlayer_emulator.eips();
    assert_eq!(all.len(), 3, "{all:?}");
    for id in &postpaid_ids {
        let eip = zenlayer_emulator.eip(id).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(eip.zone_id, "SEL-A");
        assert_eq!(eip.eip_charge_type, ChargeType::Postpaid);
        assert_eq!(eip.eip_status, EipStatus::Creating);
        assert_eq!(eip.ip_address, None, "hidden while CREATING");
        let tags: Vec<(&str, &str)> = eip
            .tags
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(tags, [("env", "sdk test"), ("owner", "运维")]);
    }
    let prepaid = zenlayer_emulator.eip(&prepaid_ids[0]).unwrap();
    assert_eq!(prepaid.zone_id, "HKG-A");
    assert_eq!(prepaid.eip_charge_type, ChargeType::Prepaid);
    assert_eq!(prepaid.period, Some(1));
    assert!(prepaid.expired_time.is_some(), "{prepaid:?}");
    let counters = zenlayer_emulator.faults().snapshot();
    assert_eq!(
        counters.requests, 4,
        "two allocations, describe, wrong password (no retries): {counters:?}"
    );
    assert_eq!(counters.allocate_calls, 2, "{counters:?}");
    assert_eq!(counters.allocations, 3, "{counters:?}");
    assert_eq!(counters.auth_failures, 1, "wrong password: {counters:?}");

    drop(emulators);
}

/// Runs a script of `tests/python/` with the SDK venv against the
/// emulators; returns its JSON and the report to print on failure.
fn run_sdk_script(name: &str, emulators: &ipalloc_gateway::sandbox::Emulators) -> (Value, String) {
    let (aliyun_running, _) = emulators.aliyun.as_ref().unwrap();
    let (zenlayer_running, _) = emulators.zenlayer.as_ref().unwrap();
    let started = Instant::now();
    let finished = run_with_timeout(
        &mut sdk_script(name, aliyun_running.addr, zenlayer_running.addr),
        SCRIPT_TIMEOUT,
    );
    let report = finished.report();
    assert!(
        finished.succeeded(),
        "{name} failed or timed out after {:?}:\n{report}",
        started.elapsed()
    );
    let result = serde_json::from_str(finished.stdout.trim())
        .unwrap_or_else(|e| panic!("{name} printed no JSON ({e}):\n{report}"));
    (result, report)
}

#[test]
fn official_sdks_give_addresses_back_and_ask_what_is_for_sale() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulators = runtime
        .block_on(start_emulators(&EmulatorOptions {
            // EIPs are AVAILABLE at once, so they can be terminated.
            creation_delay: Duration::ZERO,
            ..EmulatorOptions::default()
        }))
        .expect("emulators start");
    let (result, report) = run_sdk_script("sdk_lifecycle.py", &emulators);
    let (_, aliyun_emulator) = emulators.aliyun.as_ref().unwrap();
    let (_, zenlayer_emulator) = emulators.zenlayer.as_ref().unwrap();

    // --- Zenlayer: terminate, the documented refusals, release, availability.
    let error = |key: &str| result[key]["error"].as_str().unwrap_or("(no error)");
    assert!(result["zenlayer_terminate"]["ok"].is_string(), "{report}");
    assert_eq!(
        error("zenlayer_terminate_again"),
        "OPERATION_DENIED_EIP_RECYCLED",
        "{report}"
    );
    assert_eq!(
        error("zenlayer_terminate_prepaid"),
        "OPERATION_DENIED_EIP_SUBSCRIPTION",
        "{report}"
    );
    assert!(result["zenlayer_release"]["ok"].is_string(), "{report}");
    assert_eq!(
        error("zenlayer_release_again"),
        "INVALID_EIP_NOT_FOUND",
        "{report}"
    );
    let postpaid = result["zenlayer_eips"]["postpaid"].as_str().unwrap();
    let prepaid = result["zenlayer_eips"]["prepaid"].as_str().unwrap();
    assert!(
        zenlayer_emulator.eip(postpaid).is_none(),
        "released for good"
    );
    assert_eq!(
        zenlayer_emulator.eip(prepaid).unwrap().eip_status,
        EipStatus::Available
    );
    let rows = result["zenlayer_available"]["ok"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(rows.len(), 30, "{report}");
    assert!(rows.contains(&json!({"zoneId": "SEL-A", "status": "SELL", "netmask": 32})));
    assert!(rows.contains(&json!({"zoneId": "DXB-A", "status": "SOLD_OUT", "netmask": 32})));
    assert_eq!(
        result["zenlayer_available_lax"]["ok"][0],
        json!({"zoneId": "LAX-A", "status": "SELL_SHORTAGE", "netmask": 32}),
        "{report}"
    );
    assert_eq!(
        error("zenlayer_available_unknown"),
        "INVALID_ZONE_NOT_FOUND",
        "{report}"
    );
    let counters = zenlayer_emulator.faults().snapshot();
    assert_eq!(
        counters.requests, 10,
        "two allocations, three terminations, two releases, three availability calls: {counters:?}"
    );
    assert_eq!(
        (counters.release_calls, counters.released),
        (2, 1),
        "{counters:?}"
    );
    assert_eq!(counters.auth_failures, 0, "{counters:?}");

    // --- Alibaba legacy SDK: bandwidth 0 reclaims; the token replays.
    let order = result["aliyun_modify"]["ok"]["OrderId"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        result["aliyun_modify_again"]["ok"]["OrderId"], order,
        "{report}"
    );
    assert_eq!(result["aliyun_modify_described"], json!([]), "{report}");
    assert_eq!(
        error("aliyun_modify_unpaid"),
        "InvalidInstance.UnPaidOrder",
        "{report}"
    );
    assert_eq!(result["aliyun_modify_unpaid"]["status"], 403, "{report}");
    assert_eq!(
        error("aliyun_release_dry_run"),
        "DryRunOperation",
        "{report}"
    );
    assert!(
        result["aliyun_release"]["ok"]["RequestId"].is_string(),
        "{report}"
    );
    assert_eq!(result["aliyun_release_described"], json!([]), "{report}");
    assert_eq!(error("aliyun_release_vpc"), "OperationDenied", "{report}");
    // --- Alibaba V3 SDK.
    assert!(
        result["aliyun_v3_modify"]["ok"]["OrderId"].is_string(),
        "{report}"
    );
    assert_eq!(
        error("aliyun_v3_release_stopping"),
        "IncorrectInstanceStatus",
        "{report}"
    );
    for (instance, holds) in [
        ("i-emuhasip001", false),
        ("i-emuclrel01", false),
        ("i-emurelvpc01", false),
        ("i-emuclstop01", true),
    ] {
        assert_eq!(
            aliyun_emulator
                .instance(instance)
                .unwrap()
                .public_ip
                .is_some(),
            holds,
            "{instance}"
        );
    }
    let counters = aliyun_emulator.faults().snapshot();
    assert_eq!(
        counters.requests, 10,
        "four ModifyInstanceNetworkSpec, four ReleasePublicIpAddress, two describes: {counters:?}"
    );
    assert_eq!(
        (counters.release_calls, counters.released),
        (3, 3),
        "two reclaims and one release; the replayed token released nothing: {counters:?}"
    );
    assert_eq!(counters.auth_failures, 0, "{counters:?}");

    drop(emulators);
}
