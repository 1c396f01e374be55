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

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::tools;
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

/// What a child process did.
struct Finished {
    /// `None` when it was killed for running past its timeout.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn report(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` (stdin closed, output captured), killing it after
/// `timeout`.
fn run_with_timeout(command: &mut Command, timeout: Duration) -> Finished {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    Finished {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
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

    let bin = tools::python_sdks();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_fidelity.py");
    let started = Instant::now();
    let finished = run_with_timeout(
        Command::new(bin.join("python"))
            .arg(script)
            .arg(aliyun_running.addr.to_string())
            .arg(zenlayer_running.addr.to_string())
            .arg(INSTANCE)
            .arg(V3_INSTANCE)
            // No proxy variables (the SDKs honour them) and nothing else
            // from the caller's environment.
            .env_clear()
            .env("PYTHONUTF8", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("ALIYUN_AK_ID", aliyun::SANDBOX_ACCESS_KEY_ID)
            .env("ALIYUN_AK_SECRET", aliyun::SANDBOX_ACCESS_KEY_SECRET)
            .env("ZENLAYER_AK_ID", zenlayer::SANDBOX_ACCESS_KEY_ID)
            .env(
                "ZENLAYER_AK_PASSWORD",
                zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
            ),
        SCRIPT_TIMEOUT,
    );
    let report = finished.report();
    assert!(
        finished.status.is_some_and(|s| s.success()),
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
