//! An answer never grows with the size of bad input: every error answer
//! (headers, `grpc-message`, `grpc-status-details-bin`, trailers and body)
//! stays under 8 KiB and every log line under 4 KiB, whatever a hostile
//! caller sends, and no provider is called. Measured over a real socket with
//! a raw HTTP/2 client (exact bytes on the wire) and checked with a tonic
//! client limited to an 8 KiB header list, as grpc-C clients are.
//!
//! `cargo test --test bounds -- --nocapture` prints the table of sizes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::emulators::{self, counters};
use common::h2raw::{RawAnswer, RawClient, RawRequest};
use common::requests;
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::EmulatorOptions;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Endpoint;

/// The bound on every error answer.
const MAX_ANSWER_BYTES: usize = 8 * 1024;
/// The bound on every log line.
const MAX_LOG_LINE_BYTES: usize = 4 * 1024;

/// Log lines written by the gateway in this test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

fn zenlayer(params: pb::ZenlayerAllocateParams) -> pb::AllocateIpRequest {
    requests::zenlayer("zenlayer", params)
}

fn aliyun(params: pb::AliyunAllocateParams) -> pb::AllocateIpRequest {
    requests::aliyun("aliyun", params)
}

fn tags(n: usize, key: &str, value: &str) -> Vec<pb::Tag> {
    (0..n)
        .map(|_| pb::Tag {
            key: key.into(),
            value: value.into(),
        })
        .collect()
}

/// One hostile request: which RPC, the encoded message.
struct Case {
    name: &'static str,
    rpc: Rpc,
    message: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Rpc {
    Allocate,
    Get,
    Watch,
}

impl Rpc {
    fn path(self) -> &'static str {
        match self {
            Rpc::Allocate => "/ipalloc.v1.IpAllocation/AllocateIp",
            Rpc::Get => "/ipalloc.v1.IpAllocation/GetAllocation",
            Rpc::Watch => "/ipalloc.v1.IpAllocation/WatchAllocation",
        }
    }
}

fn allocate(name: &'static str, request: pb::AllocateIpRequest) -> Case {
    Case {
        name,
        rpc: Rpc::Allocate,
        message: request.encode_to_vec(),
    }
}

fn lookup(name: &'static str, rpc: Rpc, provider: &str, id: &str, region_id: &str) -> Case {
    let message = match rpc {
        Rpc::Get => pb::GetAllocationRequest {
            provider: provider.into(),
            id: id.into(),
            region_id: region_id.into(),
        }
        .encode_to_vec(),
        _ => pb::WatchAllocationRequest {
            provider: provider.into(),
            id: id.into(),
            region_id: region_id.into(),
        }
        .encode_to_vec(),
    };
    Case { name, rpc, message }
}

/// Inputs under the default 256 KiB request limit, each hostile in its own
/// way.
fn cases() -> Vec<Case> {
    let big = 200 * 1024;
    vec![
        allocate(
            "60,000 empty tags",
            zenlayer(pb::ZenlayerAllocateParams {
                tags: tags(60_000, "", ""),
                ..requests::postpaid("SEL-A")
            }),
        ),
        allocate(
            "255 KiB provider name",
            pb::AllocateIpRequest {
                provider: "p".repeat(255 * 1024),
                ..aliyun(pb::AliyunAllocateParams {
                    instance_id: "i-bp1abc".into(),
                    ..Default::default()
                })
            },
        ),
        allocate(
            "100k-character instance_id",
            aliyun(pb::AliyunAllocateParams {
                instance_id: "x".repeat(100_000),
                ..Default::default()
            }),
        ),
        allocate(
            "40 tags, 3,000-character keys and values",
            zenlayer(pb::ZenlayerAllocateParams {
                tags: (0..40)
                    .map(|i| pb::Tag {
                        key: format!("{i}{}", "k".repeat(3000)),
                        value: "v".repeat(3000),
                    })
                    .collect(),
                ..requests::postpaid("SEL-A")
            }),
        ),
        allocate(
            "one 200 KiB tag key",
            zenlayer(pb::ZenlayerAllocateParams {
                tags: tags(1, &"k".repeat(big), "v"),
                ..requests::postpaid("SEL-A")
            }),
        ),
        allocate(
            "50 bad tags of every kind (control, non-ASCII, reserved, duplicate)",
            zenlayer(pb::ZenlayerAllocateParams {
                tags: (0..50)
                    .map(|i| match i % 5 {
                        0 => pb::Tag {
                            key: "\u{1}".repeat(128),
                            value: "\u{7f}".repeat(128),
                        },
                        1 => pb::Tag {
                            key: "é".repeat(129),
                            value: "字".repeat(1000),
                        },
                        2 => pb::Tag {
                            key: "ipalloc-idempotency-key".into(),
                            value: "".into(),
                        },
                        3 => pb::Tag {
                            key: "dup".into(),
                            value: "\"".repeat(1000),
                        },
                        _ => pb::Tag {
                            key: "%".repeat(1000),
                            value: " ".repeat(1000),
                        },
                    })
                    .collect(),
                ..requests::postpaid("SEL-A")
            }),
        ),
        allocate(
            "every Zenlayer field bad and huge",
            pb::AllocateIpRequest {
                idempotency_key: "?".repeat(20_000),
                wait_timeout: Some(prost_types::Duration {
                    seconds: -1,
                    nanos: -5,
                }),
                ..zenlayer(pb::ZenlayerAllocateParams {
                    zone_id: "\"".repeat(20_000),
                    charge_type: 99,
                    prepaid_period_months: Some(u32::MAX),
                    resource_group_id: "{".repeat(20_000),
                    amount: Some(u32::MAX),
                    netmask: Some(u32::MAX),
                    discount_code: "\u{0}".repeat(20_000),
                    use_poc_voucher: true,
                    tags: tags(1000, &"<".repeat(20), ""),
                })
            },
        ),
        allocate(
            "every Aliyun field bad and huge",
            pb::AllocateIpRequest {
                provider: "ali\u{0}".repeat(5_000),
                idempotency_key: "é".repeat(10_000),
                ..aliyun(pb::AliyunAllocateParams {
                    instance_id: "`".repeat(30_000),
                    ip_address: "#".repeat(30_000),
                    vlan_id: "%".repeat(30_000),
                    region_id: "字".repeat(10_000),
                })
            },
        ),
        allocate(
            "200 KiB idempotency key",
            pb::AllocateIpRequest {
                idempotency_key: "k".repeat(big),
                ..zenlayer(requests::postpaid("SEL-A"))
            },
        ),
        allocate(
            "200 KiB region id",
            aliyun(pb::AliyunAllocateParams {
                instance_id: "i-bp1abc".into(),
                region_id: "r".repeat(big),
                ..Default::default()
            }),
        ),
        allocate(
            "200 KiB zone, resource group and discount code",
            zenlayer(pb::ZenlayerAllocateParams {
                zone_id: "z".repeat(70_000),
                resource_group_id: "g".repeat(70_000),
                discount_code: "d".repeat(70_000),
                ..requests::postpaid("SEL-A")
            }),
        ),
        lookup(
            "GetAllocation, 200 KiB EIP id",
            Rpc::Get,
            "zenlayer",
            &"e".repeat(big),
            "",
        ),
        lookup(
            "GetAllocation, 100 KiB instance id and region",
            Rpc::Get,
            "aliyun",
            &"\u{1}".repeat(100 * 1024),
            &"r".repeat(100 * 1024),
        ),
        lookup(
            "GetAllocation, 200 KiB provider name",
            Rpc::Get,
            &"q".repeat(big),
            "eip-1",
            "",
        ),
        lookup(
            "WatchAllocation, 200 KiB EIP id",
            Rpc::Watch,
            "zenlayer",
            &"\"".repeat(big),
            "",
        ),
    ]
}

async fn tonic_call(
    client: &mut IpAllocationClient<tonic::transport::Channel>,
    case: &Case,
) -> Result<Code, String> {
    let result = match case.rpc {
        Rpc::Allocate => {
            let request = pb::AllocateIpRequest::decode(case.message.as_slice()).unwrap();
            client.allocate_ip(request).await.map(|_| ())
        }
        Rpc::Get => {
            let request = pb::GetAllocationRequest::decode(case.message.as_slice()).unwrap();
            client.get_allocation(request).await.map(|_| ())
        }
        Rpc::Watch => {
            let request = pb::WatchAllocationRequest::decode(case.message.as_slice()).unwrap();
            match client.watch_allocation(request).await {
                Ok(mut stream) => stream.get_mut().message().await.map(|_| ()),
                Err(status) => Err(status),
            }
        }
    };
    match result {
        Ok(()) => Err("the request was accepted".to_owned()),
        Err(status) => Ok(status.code()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_answer_and_log_line_is_bounded_whatever_the_input() {
    let logs = logs();
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    // A tonic client that, like grpc-C, refuses more than 8 KiB of
    // metadata.
    let channel = Endpoint::from_shared(format!("http://{}", env.gateway.addr))
        .unwrap()
        .http2_max_header_list_size(8 * 1024)
        .connect()
        .await
        .unwrap();
    let mut strict = IpAllocationClient::new(channel);

    println!(
        "{:<70} {:>9} {:>9} {:>7} {:>9}  code",
        "request", "sent", "metadata", "body", "answer"
    );
    let mut failures = Vec::new();
    for case in cases() {
        let before = logs.0.lock().unwrap().len();
        let answer: RawAnswer = raw
            .call(
                RawRequest::grpc(case.rpc.path(), &case.message),
                Duration::from_secs(30),
            )
            .await;
        println!(
            "{:<70} {:>9} {:>9} {:>7} {:>9}  {:?}",
            case.name,
            case.message.len() + 5,
            answer.metadata_bytes(),
            answer.body.len(),
            answer.total_bytes(),
            answer.grpc_status()
        );
        if answer.total_bytes() >= MAX_ANSWER_BYTES {
            failures.push(format!(
                "{}: answer of {} bytes",
                case.name,
                answer.total_bytes()
            ));
        }
        if answer.grpc_status() != Some(Code::InvalidArgument as i32) {
            failures.push(format!(
                "{}: grpc-status {:?}, message {:?}",
                case.name,
                answer.grpc_status(),
                answer.grpc_message().chars().take(200).collect::<String>()
            ));
        }
        if answer.error_info_count() != 1 {
            failures.push(format!(
                "{}: {} ErrorInfo",
                case.name,
                answer.error_info_count()
            ));
        }
        match tonic_call(&mut strict, &case).await {
            Ok(Code::InvalidArgument) => {}
            other => failures.push(format!(
                "{}: a client with an 8 KiB metadata limit got {other:?}",
                case.name
            )),
        }
        let written = logs.0.lock().unwrap()[before..].to_vec();
        let longest = String::from_utf8_lossy(&written)
            .lines()
            .map(str::len)
            .max()
            .unwrap_or(0);
        if longest >= MAX_LOG_LINE_BYTES {
            failures.push(format!("{}: a log line of {longest} bytes", case.name));
        }
    }
    let counted =
        counters(&env.aliyun_url).await.requests + counters(&env.zenlayer_url).await.requests;
    assert_eq!(counted, 0, "no provider was called");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The worst an INVALID_ARGUMENT can be: every listed violation at its
/// longest field path and description, all of it non-ASCII (three times its
/// size in `grpc-message`), and far more violations than are listed.
#[test]
fn the_largest_possible_invalid_argument_fits_in_8_kib() {
    use ipalloc_gateway::api::error::{
        FieldViolations, MAX_DESCRIPTION_BYTES, MAX_FIELD_BYTES, invalid_argument,
    };
    let mut violations = FieldViolations::default();
    for _ in 0..10_000 {
        violations.add(
            "é".repeat(MAX_FIELD_BYTES),
            "字".repeat(MAX_DESCRIPTION_BYTES),
        );
    }
    let status = invalid_argument("AllocateIpRequest", violations);
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    status.add_header(&mut headers).unwrap();
    let size = common::h2raw::header_list_size(&headers) + ":status".len() + 3 + 32;
    println!("largest INVALID_ARGUMENT: {size} bytes of metadata");
    assert!(size < MAX_ANSWER_BYTES, "{size} bytes");
}
