//! Nothing panics on malformed input: bounded randomized runs (fixed seeds,
//! so failures reproduce) through every provider response parser, the
//! header parsers, and both emulators over HTTP (a handler panic would drop
//! the connection instead of answering).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use ipalloc_gateway::api::deadline::parse_grpc_timeout;
use ipalloc_gateway::emulator::zenlayer::signature as zl_signature;
use ipalloc_gateway::provider::Operation;
use ipalloc_gateway::provider::aliyun::{signer as ali_signer, wire as ali_wire};
use ipalloc_gateway::provider::http::HttpResponse;
use ipalloc_gateway::provider::zenlayer::wire as zl_wire;
use ipalloc_gateway::sandbox::{EmulatorOptions, start_emulators};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const OP: Operation = Operation {
    name: "Fuzz",
    mutating: true,
};

/// Valid answers to mutate: every parser must survive their corruptions.
const SEEDS: &[&str] = &[
    r#"{"RequestId":"R","IpAddress":"47.96.0.1"}"#,
    r#"{"RequestId":"R","HostId":"h","Code":"Throttling","Message":"m","Recommend":"u"}"#,
    r#"<?xml version="1.0"?><Error><RequestId>R</RequestId><Code>InternalError</Code><Message>m</Message></Error>"#,
    r#"{"RequestId":"R","InstanceId":"i-a","Status":"Running","PublicIpAddress":{"IpAddress":["1.2.3.4"]},"EipAddress":{"IpAddress":""},"OperationLocks":{"LockReason":[{"LockReason":"security"}]}}"#,
    r#"{"requestId":"T","response":{"requestId":"T","eipIdSet":["eip-1"],"orderNumber":""}}"#,
    r#"{"requestId":"T","response":{"requestId":"T","totalCount":1,"dataSet":[{"eipId":"e","eipStatus":"AVAILABLE","ipAddress":"1.2.3.4","netmask":32,"tags":{"tags":[{"key":"k","value":"v"}]}}]}}"#,
    r#"{"requestId":"T","code":"INVALID_ZONE_NOT_FOUND","message":"m"}"#,
];

fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    match rng.random_range(0..5) {
        0 => bytes.truncate(rng.random_range(0..=bytes.len())),
        1 => {
            for _ in 0..rng.random_range(1..8) {
                if !bytes.is_empty() {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random();
                }
            }
        }
        2 => {
            let i = rng.random_range(0..=bytes.len());
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            bytes.splice(i..i, junk);
        }
        3 => {
            bytes = (0..rng.random_range(0..512))
                .map(|_| rng.random())
                .collect()
        }
        _ => {
            // Deep nesting and huge numbers.
            let depth = rng.random_range(1..2000);
            bytes = format!("{}1e999999{}", "[".repeat(depth), "]".repeat(depth)).into_bytes();
        }
    }
    bytes
}

fn response(status: u16, body: Vec<u8>, retry_after: Option<&str>) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        headers.insert("x-acs-retry-after", value);
    }
    HttpResponse {
        status,
        headers,
        body: Bytes::from(body),
    }
}

#[test]
fn response_parsers_survive_corrupted_and_random_bodies() {
    let mut rng = StdRng::seed_from_u64(0x1ba11);
    let statuses = [200, 201, 400, 401, 403, 404, 429, 451, 500, 503, 0, 999];
    for round in 0..20_000 {
        let seed = SEEDS[round % SEEDS.len()].as_bytes();
        let body = mutate(&mut rng, seed);
        let status = statuses[rng.random_range(0..statuses.len())];
        let retry: String = (0..rng.random_range(0..12))
            .map(|_| rng.random_range(' '..='~'))
            .collect();
        let r = response(status, body, Some(&retry));
        let _ = ali_wire::parse_allocate(OP, &r);
        let _ = ali_wire::parse_describe_instance_attribute(OP, &r);
        let _ = ali_wire::error_from_response(OP, &r);
        let _ = ali_wire::retry_after(&r);
        let _ = zl_wire::decode::<zl_wire::AllocateEipAddressesResponse>(OP, &r);
        let _ = zl_wire::decode::<zl_wire::DescribeEipAddressesResponse>(OP, &r);
        let _ = zl_wire::error_from_response(OP, &r);
        let _ = r.body_snippet();
    }
}

#[test]
fn header_and_text_parsers_survive_random_input() {
    let mut rng = StdRng::seed_from_u64(0x7e57);
    let alphabet: Vec<char> =
        "0123456789HMSmunx -=,;:é運\u{0}\u{7f}ZC2-HMAC-SHA256 Credential=SignedHeaders=Signature="
            .chars()
            .collect();
    for _ in 0..50_000 {
        let text: String = (0..rng.random_range(0..80))
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let _ = parse_grpc_timeout(&text);
        let _ = zl_signature::parse_authorization(&text);
        let _ = ali_signer::percent_encode(&text);
        let _ = ali_signer::sign_v1("POST", &[(text.as_str(), text.as_str())], &text);
    }
}

#[tokio::test]
async fn emulators_answer_garbage_requests_without_dropping_connections() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let aliyun = emulators.aliyun.as_ref().unwrap().0.url();
    let zenlayer = emulators.zenlayer.as_ref().unwrap().0.url();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(0xe4);
    let header_names = [
        "authorization",
        "x-zc-timestamp",
        "x-zc-action",
        "content-type",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-action",
    ];
    for round in 0..600 {
        let body = mutate(&mut rng, SEEDS[round % SEEDS.len()].as_bytes());
        let query: String = (0..rng.random_range(0..60))
            .map(|_| rng.random_range('!'..='~'))
            .filter(|c| *c != '#')
            .collect();
        let (base, path) = if round % 2 == 0 {
            (&aliyun, format!("/?{query}"))
        } else {
            (&zenlayer, "/api/v2/bmc".to_owned())
        };
        let mut request = http.post(format!("{base}{path}")).body(body);
        for _ in 0..rng.random_range(0..4) {
            let name = header_names[rng.random_range(0..header_names.len())];
            let value: String = (0..rng.random_range(0..40))
                .map(|_| rng.random_range(' '..='~'))
                .collect();
            request = request.header(name, value);
        }
        let answer = request.send().await;
        let status = answer
            .unwrap_or_else(|e| {
                panic!("round {round}: no answer ({e}); the handler may have panicked")
            })
            .status();
        assert!(
            status.is_client_error() || status.is_server_error() || status.is_success(),
            "round {round}: {status}"
        );
    }
}
