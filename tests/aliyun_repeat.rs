//! Alibaba's rule for a repeated AllocatePublicIpAddress, both versions of
//! it, end to end through reconciliation: a real tonic client, the gateway,
//! the Alibaba emulator on loopback with
//! [`RepeatAllocation::AllocatedAlready`] (the API page's error table) or
//! [`RepeatAllocation::ReturnExisting`] (the 2026 documentation: the
//! instance's existing IP is returned).
//!
//! Outcomes only (never the gateway's internal call sequence): the caller,
//! retrying with the same idempotency key as RetryInfo says, ends with OK
//! and the one IP the instance holds; the emulator counted one allocation.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::emulators::{self, EmulatedGateway};
use common::*;
use ipalloc_gateway::emulator::{FaultConfig, RepeatAllocation};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use tonic::Code;

const RULES: [RepeatAllocation; 2] = [
    RepeatAllocation::AllocatedAlready,
    RepeatAllocation::ReturnExisting,
];

/// A seeded Running VPC instance without a public IP.
const READY: &str = "i-emuready001";
/// A seeded instance that holds 47.96.0.10.
const HAS_IP: &str = "i-emuhasip001";

async fn gateway(rule: RepeatAllocation, faults: FaultConfig, grace_ms: u64) -> EmulatedGateway {
    emulators::start(
        EmulatorOptions {
            repeat_allocation: rule,
            faults,
            ..EmulatorOptions::default()
        },
        "",
        &format!("reconcile_grace_ms = {grace_ms}"),
        "",
    )
    .await
}

fn request(key: &str, instance: &str) -> pb::AllocateIpRequest {
    requests::keyed(
        key,
        requests::aliyun("aliyun", requests::instance(instance)),
    )
}

/// What a careful client does: call, and on an error that invites a retry
/// (RetryInfo, or an unknown outcome) wait as told and call again with the
/// same key; at most `rounds` calls and 20 s. Returns every answer.
async fn call_until_settled(
    env: &EmulatedGateway,
    key: &str,
    instance: &str,
    rounds: usize,
) -> Vec<Result<pb::AllocateIpResponse, tonic::Status>> {
    let mut client = env.gateway.client.clone();
    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..rounds {
        let mut call = tonic::Request::new(request(key, instance));
        call.set_timeout(Duration::from_secs(5));
        let answer = client.allocate_ip(call).await.map(|r| r.into_inner());
        let wait = match &answer {
            Ok(_) => None,
            Err(status) => {
                let (reason, _, _) = error_info(status);
                match (retry_delay(status), reason.as_str()) {
                    (Some(delay), _) => Some(delay),
                    (None, "PROVIDER_OUTCOME_UNKNOWN" | "PROVIDER_OUTCOME_PENDING") => {
                        Some(Duration::from_millis(200))
                    }
                    _ => None,
                }
            }
        };
        answers.push(answer);
        match wait {
            Some(delay) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(delay.min(Duration::from_secs(2))).await;
            }
            _ => break,
        }
    }
    answers
}

fn describe(answers: &[Result<pb::AllocateIpResponse, tonic::Status>]) -> String {
    answers
        .iter()
        .map(|a| match a {
            Ok(r) => format!("OK {:?}", r.allocations.first().map(|a| &a.ip_address)),
            Err(s) => format!("{:?} {}: {}", s.code(), error_info(s).0, s.message()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The caller ended with OK and the instance's one IP; one allocation.
async fn assert_one_allocation(
    env: &EmulatedGateway,
    rule: RepeatAllocation,
    answers: &[Result<pb::AllocateIpResponse, tonic::Status>],
) {
    let (_, emulator) = env.emulators.aliyun.as_ref().unwrap();
    let held: Ipv4Addr = emulator
        .instance(READY)
        .unwrap()
        .public_ip
        .unwrap_or_else(|| panic!("{rule}: the instance has no IP:\n{}", describe(answers)));
    let Some(Ok(last)) = answers.last() else {
        panic!(
            "{rule}: the caller did not end with OK:\n{}",
            describe(answers)
        );
    };
    assert_eq!(last.allocations.len(), 1);
    assert_eq!(
        last.allocations[0].ip_address,
        held.to_string(),
        "{rule}: the IP the instance holds"
    );
    assert_eq!(last.allocations[0].state, pb::AllocationState::Ready as i32);
    let counters = emulators::counters(&env.aliyun_url).await;
    assert_eq!(
        counters.allocations, 1,
        "{rule}: exactly one allocation: {counters:?}"
    );
    let holders = emulator
        .instances()
        .into_iter()
        .filter(|i| i.public_ip == Some(held))
        .count();
    assert_eq!(holders, 1, "{rule}: one instance holds the IP");
}

#[tokio::test]
async fn a_dropped_answer_then_a_retry_with_the_same_key_ends_ok_with_the_one_ip() {
    for rule in RULES {
        let env = gateway(
            rule,
            FaultConfig {
                drop_after_allocate_probability: 1.0,
                ..FaultConfig::default()
            },
            200,
        )
        .await;
        let answers = call_until_settled(&env, "repeat-dropped", READY, 8).await;
        assert_one_allocation(&env, rule, &answers).await;
        // Once settled, the key replays the same answer.
        let again = call_until_settled(&env, "repeat-dropped", READY, 1).await;
        assert_eq!(
            again[0].as_ref().ok(),
            answers.last().and_then(|a| a.as_ref().ok()),
            "{rule}: the replay"
        );
        assert_eq!(emulators::counters(&env.aliyun_url).await.allocations, 1);
    }
}

/// The case the repeat rule decides: the answer is lost and the new IP is
/// not visible to DescribeInstanceAttribute for longer than the grace
/// period, so a reconciliation after the grace answers "no IP" and the
/// gateway sends the allocation again, to an instance that already has one
/// (`returns-existing`: the IP comes back at once; `allocated-already`: the
/// caller is told to wait until the IP is visible, never that its own
/// allocation is someone else's).
#[tokio::test]
async fn a_lagging_describe_makes_the_gateway_repeat_the_allocation_and_the_rule_answers_it() {
    for rule in RULES {
        let env = gateway(
            rule,
            FaultConfig {
                drop_after_allocate_probability: 1.0,
                describe_lag_ms: 2500,
                ..FaultConfig::default()
            },
            300,
        )
        .await;
        let answers = call_until_settled(&env, "repeat-lagging", READY, 12).await;
        println!("{rule}, lagging describe:\n{}", describe(&answers));
        assert_one_allocation(&env, rule, &answers).await;
    }
}

/// A new key for an instance that already has a static public IP: under
/// the API page's rule the caller gets ALREADY_EXISTS
/// (`PUBLIC_IP_ALREADY_ALLOCATED`); under the 2026 rule Alibaba answers with
/// the existing IP and the gateway passes it on as OK (it cannot tell a
/// returned IP from a new one, and nothing was allocated twice: an instance
/// holds one static IP). Either way no second IP exists.
#[tokio::test]
async fn a_new_key_for_an_instance_that_has_an_ip() {
    for rule in RULES {
        let env = gateway(rule, FaultConfig::default(), 200).await;
        let (_, emulator) = env.emulators.aliyun.as_ref().unwrap();
        let seeded = emulator.instance(HAS_IP).unwrap().public_ip.unwrap();
        let mut client = env.gateway.client.clone();
        let answer = client
            .allocate_ip(request("repeat-new-key", HAS_IP))
            .await
            .map(|r| r.into_inner());
        match rule {
            RepeatAllocation::AllocatedAlready => {
                let status = answer.expect_err("ALREADY_EXISTS");
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                assert_eq!(error_info(&status).0, "PUBLIC_IP_ALREADY_ALLOCATED");
                assert_eq!(retry_delay(&status), None, "retrying does not help");
            }
            RepeatAllocation::ReturnExisting => {
                let response = answer.expect("OK with the existing IP");
                assert_eq!(response.allocations[0].ip_address, seeded.to_string());
            }
        }
        // The same after an allocation made through the gateway with one
        // key, repeated with another.
        let first = client
            .allocate_ip(request("repeat-key-1", READY))
            .await
            .expect("a fresh allocation")
            .into_inner();
        let second = client
            .allocate_ip(request("repeat-key-2", READY))
            .await
            .map(|r| r.into_inner());
        match rule {
            RepeatAllocation::AllocatedAlready => {
                assert_eq!(
                    second.expect_err("ALREADY_EXISTS").code(),
                    Code::AlreadyExists
                );
            }
            RepeatAllocation::ReturnExisting => {
                assert_eq!(
                    second.expect("OK").allocations[0].ip_address,
                    first.allocations[0].ip_address
                );
            }
        }
        assert_eq!(emulator.instance(HAS_IP).unwrap().public_ip, Some(seeded));
        let counters = emulators::counters(&env.aliyun_url).await;
        assert_eq!(
            counters.allocations, 1,
            "{rule}: only the fresh one: {counters:?}"
        );
    }
}
