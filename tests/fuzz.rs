//! A bounded, seeded fuzz of request decoding, validation and the
//! allocation flow, over a real socket, against a gateway in front of both
//! emulators (with a few injected faults, so retries, reconciliation and
//! replays run too). It generates AllocateIp, GetAllocation and
//! WatchAllocation requests, structurally valid and invalid (every field
//! drawn from valid, edge, invalid and huge values), and raw byte mutations
//! of their encodings and of the gRPC frame prefix. It checks:
//!
//! - nothing panics (a panic hook counts them; the gateway runs in process),
//!   and every call is answered within its deadline plus a margin;
//! - every error answer is under 8 KiB (headers, trailers and body) and
//!   carries exactly one ErrorInfo;
//! - every answer's metadata is under 8 KiB, and a success's body grows only
//!   with the allocations it returns (at most 100 per call);
//! - the gateway still serves afterwards.
//!
//! Bounded in count and time: `FUZZ_CASES` (default 3000) cases or
//! `FUZZ_SECONDS` (default 30) seconds, whichever comes first;
//! `FUZZ_SEED` picks the seed (default fixed, so CI is reproducible; the
//! seed is printed).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::emulators::{self, set_faults};
use common::h2raw::{RawAnswer, RawClient, RawRequest};
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use pb::allocate_ip_request::Params;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const MAX_ERROR_ANSWER: usize = 8 * 1024;
const MAX_METADATA: usize = 8 * 1024;
/// Deadline of every call, as `grpc-timeout`.
const CALL_DEADLINE: &str = "3S";
/// How long a call may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(15);
const WORKERS: usize = 24;

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Ids the flow returned, so later lookups and watches hit real EIPs.
#[derive(Default)]
struct Seen {
    eips: Vec<String>,
    instances: Vec<String>,
}

struct Generator<'a> {
    rng: StdRng,
    /// Probability that a field of this case is bad (set per case: many
    /// cases are wholly valid, so the flow itself runs).
    bad: f64,
    seen: &'a Mutex<Seen>,
    keys: &'a [String],
}

impl Generator<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'s>(&mut self, options: &[&'s str]) -> &'s str {
        options[self.rng.random_range(0..options.len())]
    }

    /// Hostile text: huge, control characters, non-ASCII, quotes.
    fn hostile(&mut self) -> String {
        let unit = self.pick(&[
            "x", "\u{0}", "\u{1b}", "é", "字", "\"", "%", " ", "{", "\u{7f}",
        ]);
        let len = match self.rng.random_range(0..4) {
            0 => self.rng.random_range(1..8),
            1 => self.rng.random_range(60..200),
            2 => self.rng.random_range(1_000..5_000),
            _ => self.rng.random_range(20_000..60_000),
        };
        unit.repeat(len)
    }

    /// True when this field should be bad.
    fn spoil(&mut self) -> bool {
        self.rng.random_bool(self.bad)
    }

    fn text(&mut self, valid: &[&str], invalid: &[&str]) -> String {
        if !self.spoil() {
            return self.pick(valid).to_owned();
        }
        match self.rng.random_range(0..10) {
            0..=5 => self.pick(invalid).to_owned(),
            6 | 7 => String::new(),
            _ => self.hostile(),
        }
    }

    /// A provider name; valid ones match the kind of the request (`""`
    /// picks the only provider of that kind).
    fn provider(&mut self, kind: &str) -> String {
        let wrong = if kind == "aliyun" {
            "zenlayer"
        } else {
            "aliyun"
        };
        self.text(&[kind, kind, ""], &["nope", "ALIYUN", wrong, "zenlayer "])
    }

    fn key(&mut self) -> String {
        if self.spoil() {
            return self.text(&["ok-key"], &["has space", "slash/", &"k".repeat(129)]);
        }
        match self.rng.random_range(0..10) {
            0..=3 => String::new(),
            4..=6 => format!("fz-{}", self.rng.next_u64()),
            _ => self.keys[self.rng.random_range(0..self.keys.len())].clone(),
        }
    }

    fn duration(&mut self) -> Option<prost_types::Duration> {
        if !self.spoil() {
            return match self.rng.random_range(0..3) {
                0 => None,
                1 => Some(prost_types::Duration {
                    seconds: self.rng.random_range(1..3),
                    nanos: 0,
                }),
                _ => Some(prost_types::Duration {
                    seconds: 0,
                    nanos: self.rng.random_range(1..1_000_000_000),
                }),
            };
        }
        match self.rng.random_range(0..3) {
            0 => Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
            1 => Some(prost_types::Duration {
                seconds: i64::MAX,
                nanos: 999_999_999,
            }),
            _ => Some(prost_types::Duration {
                seconds: self.rng.random_range(i64::MIN..0),
                nanos: self.rng.random(),
            }),
        }
    }

    fn number(&mut self, valid: std::ops::RangeInclusive<u32>, edges: &[u32]) -> Option<u32> {
        if !self.spoil() {
            return self.chance(0.7).then(|| self.rng.random_range(valid));
        }
        match self.rng.random_range(0..3) {
            0 => None,
            1 => Some(edges[self.rng.random_range(0..edges.len())]),
            _ => Some(self.rng.random()),
        }
    }

    fn aliyun(&mut self) -> pb::AliyunAllocateParams {
        let pool = format!("i-emupool{:04}", self.rng.random_range(0..2000));
        pb::AliyunAllocateParams {
            instance_id: self.text(
                &[&pool, &pool, "i-emuready001", "i-emustopped01"],
                &["i-UPPER", "instance-1", "i-", "i-nosuchinstance0"],
            ),
            ip_address: self.text(&["", "", "47.96.1.2"], &["300.1.1.1", "10.0.0.1", "::1"]),
            vlan_id: self.text(&["", "", "", "12"], &["0", "4095", "abc"]),
            region_id: self.text(
                &["", "", "cn-hangzhou"],
                &["Hangzhou", "us-west-1", "cn--x"],
            ),
        }
    }

    fn tags(&mut self) -> Vec<pb::Tag> {
        let count = if self.spoil() {
            match self.rng.random_range(0..3) {
                0 => self.rng.random_range(4..51),
                1 => self.rng.random_range(51..200),
                _ => self.rng.random_range(1_000..20_000),
            }
        } else {
            self.rng.random_range(0..4)
        };
        (0..count)
            .map(|i| match self.rng.random_range(0..8) {
                _ if !self.spoil() => pb::Tag {
                    key: format!("k{i}"),
                    value: "v".into(),
                },
                0..=4 => pb::Tag {
                    key: format!("k{}", i % 3),
                    value: "v".into(),
                },
                5 => pb::Tag {
                    key: "ipalloc-idempotency-key".into(),
                    value: "x".into(),
                },
                6 => pb::Tag {
                    key: "dup".into(),
                    value: String::new(),
                },
                _ => pb::Tag {
                    key: self.hostile(),
                    value: self.hostile(),
                },
            })
            .collect()
    }

    fn zenlayer(&mut self) -> pb::ZenlayerAllocateParams {
        pb::ZenlayerAllocateParams {
            zone_id: self.text(
                &["SEL-A", "SEL-A", "HKG-A", "FRA-A", "SIN-A"],
                &["TYO-A", "XXX-A", "sel a"],
            ),
            charge_type: match (self.spoil(), self.rng.random_range(0..10)) {
                (false, _) => pb::ChargeType::Postpaid as i32,
                (true, 0..=4) => pb::ChargeType::Prepaid as i32,
                (true, 5..=7) => 0,
                (true, _) => self.rng.random(),
            },
            prepaid_period_months: if self.spoil() {
                self.number(1..=12, &[0, 120, 121, u32::MAX])
            } else {
                None
            },
            resource_group_id: self.text(
                &["", "", "rg-sandbox-default"],
                &["rg-unknown", "bad group"],
            ),
            // Now and then the largest allocation there is (100 EIPs).
            amount: if self.chance(0.03) {
                Some(100)
            } else {
                self.number(1..=3, &[0, 100, 101, u32::MAX])
            },
            netmask: self.number(30..=32, &[0, 27, 28, 33, u32::MAX]),
            discount_code: self.text(&["", "", "", "CODE1"], &["x\u{1}y"]),
            use_poc_voucher: self.spoil() && self.chance(0.2),
            tags: self.tags(),
        }
    }

    fn allocate(&mut self) -> pb::AllocateIpRequest {
        let params = match self.rng.random_range(0..10) {
            _ if self.spoil() && self.chance(0.2) => None,
            0..=4 => Some(Params::Zenlayer(self.zenlayer())),
            _ => Some(Params::Aliyun(self.aliyun())),
        };
        let kind = match params {
            Some(Params::Aliyun(_)) => "aliyun",
            _ => "zenlayer",
        };
        pb::AllocateIpRequest {
            provider: self.provider(kind),
            idempotency_key: self.key(),
            wait: self.chance(0.4),
            wait_timeout: self.duration(),
            validate_only: false,
            params,
        }
    }

    /// (provider, id, region_id) of a lookup; valid ones are consistent.
    fn lookup(&mut self) -> (String, String, String) {
        let zenlayer = self.chance(0.5);
        let known = {
            let seen = self.seen.lock().unwrap();
            let ids = if zenlayer {
                &seen.eips
            } else {
                &seen.instances
            };
            (!ids.is_empty()).then(|| ids[self.rng.random_range(0..ids.len())].clone())
        };
        let fallback = if zenlayer {
            "eip-unknown"
        } else {
            "i-emuready001"
        };
        let id = match known {
            Some(id) if self.chance(0.7) => id,
            _ => fallback.to_owned(),
        };
        let id = self.text(&[&id], &["eip 1", "i-UPPER", "i-emupool0001"]);
        let (provider, region) = if zenlayer {
            (
                self.provider("zenlayer"),
                self.text(&[""], &["cn-hangzhou"]),
            )
        } else {
            (
                self.text(&["aliyun"], &["", "nope", "zenlayer"]),
                self.text(&["", "cn-hangzhou"], &["nowhere"]),
            )
        };
        (provider, id, region)
    }

    /// (path, encoded message) for one structurally generated request.
    fn request(&mut self) -> (&'static str, Vec<u8>) {
        match self.rng.random_range(0..10) {
            0..=5 => (
                "/ipalloc.v1.IpAllocation/AllocateIp",
                self.allocate().encode_to_vec(),
            ),
            6..=7 => {
                let (provider, id, region_id) = self.lookup();
                (
                    "/ipalloc.v1.IpAllocation/GetAllocation",
                    pb::GetAllocationRequest {
                        provider,
                        id,
                        region_id,
                    }
                    .encode_to_vec(),
                )
            }
            _ => {
                let (provider, id, region_id) = self.lookup();
                (
                    "/ipalloc.v1.IpAllocation/WatchAllocation",
                    pb::WatchAllocationRequest {
                        provider,
                        id,
                        region_id,
                    }
                    .encode_to_vec(),
                )
            }
        }
    }

    /// Flips, overwrites, inserts, deletes, truncates, duplicates.
    fn mutate(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        for _ in 0..self.rng.random_range(1..5) {
            let len = bytes.len();
            match self.rng.random_range(0..6) {
                0 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    bytes[i] ^= 1 << self.rng.random_range(0..8);
                }
                1 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    bytes[i] = self.rng.random();
                }
                2 => {
                    let i = self.rng.random_range(0..=len);
                    let extra: Vec<u8> = (0..self.rng.random_range(1..16))
                        .map(|_| self.rng.random())
                        .collect();
                    bytes.splice(i..i, extra);
                }
                3 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    let j = self.rng.random_range(i..=len.min(i + 16));
                    bytes.drain(i..j);
                }
                4 => bytes.truncate(self.rng.random_range(0..=len)),
                _ if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    let j = self.rng.random_range(i..=len.min(i + 64));
                    let copy = bytes[i..j].to_vec();
                    bytes.extend_from_slice(&copy);
                }
                _ => bytes.push(self.rng.random()),
            }
        }
        bytes
    }

    /// One case: the request, whether it was mutated.
    fn case(&mut self) -> (RawRequest, &'static str) {
        self.bad = match self.rng.random_range(0..10) {
            0..=3 => 0.0,
            4..=6 => 0.08,
            _ => 0.5,
        };
        let (path, message) = self.request();
        let roll = self.rng.random_range(0..100);
        let mut request = if roll < 20 {
            RawRequest::grpc(path, &self.mutate(message))
        } else {
            RawRequest::grpc(path, &message)
        };
        let kind = if roll < 20 {
            "mutated message"
        } else if roll < 24 {
            // A damaged frame prefix or body.
            let mut body = request.body.to_vec();
            body = self.mutate(body);
            request.body = body.into();
            "mutated frame"
        } else {
            "structured"
        };
        (request.header("grpc-timeout", CALL_DEADLINE), kind)
    }
}

/// Allocations in a success answer (for the body bound).
fn allocations_in(path: &str, body: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = body;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let Some(message) = rest.get(5..5 + len) else {
            break;
        };
        count += if path.ends_with("AllocateIp") {
            pb::AllocateIpResponse::decode(message).map_or(0, |r| r.allocations.len())
        } else {
            1
        };
        rest = &rest[5 + len..];
    }
    count
}

fn remember(path: &str, answer: &RawAnswer, seen: &Mutex<Seen>) {
    if !path.ends_with("AllocateIp") || answer.grpc_status() != Some(0) {
        return;
    }
    if let Some(response) = answer
        .body
        .get(5..)
        .and_then(|m| pb::AllocateIpResponse::decode(m).ok())
    {
        let mut seen = seen.lock().unwrap();
        for allocation in response.allocations {
            if allocation.provider_kind == pb::ProviderKind::Zenlayer as i32 {
                seen.eips.push(allocation.id);
            } else {
                seen.instances.push(allocation.id);
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    by_kind: BTreeMap<&'static str, usize>,
    by_code: BTreeMap<i32, usize>,
    by_reason: BTreeMap<String, usize>,
    max_error_answer: usize,
    max_metadata: usize,
    max_success_body: usize,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_requests_never_panic_and_every_answer_is_bounded() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let seed: u64 = env_or("FUZZ_SEED", 0x1DA1_10C0_FFEE_u64);
    let max_cases: usize = env_or("FUZZ_CASES", 3000);
    let max_time = Duration::from_secs(env_or("FUZZ_SECONDS", 30));
    println!("fuzz seed {seed} (FUZZ_SEED), at most {max_cases} cases in {max_time:?}");

    let options = EmulatorOptions {
        creation_delay: Duration::from_millis(100),
        ..EmulatorOptions::default()
    };
    let follow = "poll_initial_ms = 20\npoll_max_ms = 100\nbackoff_base_ms = 5\nbackoff_max_ms = 50\nrate_per_second = 2000\nburst = 200\n";
    let env = emulators::start(options, "", follow, follow).await;
    let faults = FaultConfig {
        throttle_probability: 0.03,
        error_5xx_probability: 0.03,
        drop_after_allocate_probability: 0.03,
        ..FaultConfig::default()
    };
    set_faults(&env.aliyun_url, &faults).await;
    set_faults(&env.zenlayer_url, &faults).await;

    let raw = RawClient::connect(env.gateway.addr).await;
    let keys: Arc<Vec<String>> = Arc::new((0..20).map(|i| format!("fz-shared-{i}")).collect());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));

    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (raw, keys, seen, tally, next) = (
            raw.clone(),
            Arc::clone(&keys),
            Arc::clone(&seen),
            Arc::clone(&tally),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let mut generator = Generator {
                bad: 0.0,
                rng: StdRng::seed_from_u64(
                    seed ^ (worker as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                ),
                seen: &seen,
                keys: &keys,
            };
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= max_cases || started.elapsed() >= max_time {
                    break;
                }
                let (request, kind) = generator.case();
                let path = request.path.clone();
                let sent = request.body.len();
                let answer = raw.try_call(request, HANG).await;
                let mut tally = tally.lock().unwrap();
                tally.cases += 1;
                *tally.by_kind.entry(kind).or_default() += 1;
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(e) => {
                        tally
                            .failures
                            .push(format!("case {index} ({kind} {path}, {sent} bytes): {e}"));
                        continue;
                    }
                };
                let context = format!("case {index} ({kind} {path}, {sent} bytes)");
                let Some(code) = answer.grpc_status() else {
                    tally
                        .failures
                        .push(format!("{context}: no grpc-status: {answer:?}"));
                    continue;
                };
                *tally.by_code.entry(code).or_default() += 1;
                tally.max_metadata = tally.max_metadata.max(answer.metadata_bytes());
                if answer.metadata_bytes() >= MAX_METADATA {
                    tally.failures.push(format!(
                        "{context}: {} bytes of metadata",
                        answer.metadata_bytes()
                    ));
                }
                if code == 0 {
                    let allocations = allocations_in(&path, &answer.body);
                    tally.max_success_body = tally.max_success_body.max(answer.body.len());
                    if answer.body.len() > 1024 + 256 * allocations {
                        tally.failures.push(format!(
                            "{context}: a {}-byte body for {allocations} allocations",
                            answer.body.len()
                        ));
                    }
                    drop(tally);
                    remember(&path, &answer, &seen);
                    continue;
                }
                tally.max_error_answer = tally.max_error_answer.max(answer.total_bytes());
                if answer.total_bytes() >= MAX_ERROR_ANSWER {
                    tally.failures.push(format!(
                        "{context}: an error answer of {} bytes",
                        answer.total_bytes()
                    ));
                }
                if answer.error_info_count() != 1 {
                    tally.failures.push(format!(
                        "{context}: code {code} with {} ErrorInfo: {}",
                        answer.error_info_count(),
                        answer.grpc_message()
                    ));
                } else if let Some(info) = answer.error_info() {
                    *tally.by_reason.entry(info.reason).or_default() += 1;
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a fuzz worker");
    }
    let elapsed = started.elapsed();

    // Still serving.
    let mut client = env.gateway.client.clone();
    let providers = client
        .list_providers(pb::ListProvidersRequest {})
        .await
        .expect("the gateway still serves")
        .into_inner();
    assert_eq!(providers.providers.len(), 2);

    let tally = tally.lock().unwrap();
    println!(
        "{} cases in {elapsed:.1?} ({:?}); codes {:?}",
        tally.cases, tally.by_kind, tally.by_code
    );
    println!("reasons {:?}", tally.by_reason);
    println!(
        "largest error answer {} bytes, largest metadata {} bytes, largest success body {} bytes",
        tally.max_error_answer, tally.max_metadata, tally.max_success_body
    );
    assert!(tally.cases >= 100, "too few cases ran: {}", tally.cases);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics (see stderr)");
    assert!(
        tally.failures.is_empty(),
        "{} failures (seed {seed}):\n{}",
        tally.failures.len(),
        tally
            .failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
