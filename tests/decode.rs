//! Requests the gateway cannot read are the caller's fault and say so:
//! malformed protobuf, invalid UTF-8, a missing or truncated message, a bad
//! compressed-flag and an oversized message get INVALID_ARGUMENT with an
//! ErrorInfo; a non-gRPC content type gets HTTP 415 and a non-POST HTTP 405
//! (as grpc-go answers), also with an ErrorInfo; an unknown method or an
//! unsupported compression keep UNIMPLEMENTED with one. Raw HTTP/2 (the `h2`
//! crate), so the bytes are exactly what a broken or hostile client sends.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::emulators::{self, counters};
use common::h2raw::{RawAnswer, RawClient, RawRequest};
use common::requests;
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use prost::Message as _;
use tonic::Code;

const ALLOCATE: &str = "/ipalloc.v1.IpAllocation/AllocateIp";
const GET: &str = "/ipalloc.v1.IpAllocation/GetAllocation";
const WATCH: &str = "/ipalloc.v1.IpAllocation/WatchAllocation";
const TIMEOUT: Duration = Duration::from_secs(10);

fn assert_refused(answer: &RawAnswer, code: Code, reason: &str, context: &str) {
    assert_eq!(
        answer.grpc_status(),
        Some(code as i32),
        "{context}: {answer:?} {}",
        answer.grpc_message()
    );
    assert_eq!(answer.error_info_count(), 1, "{context}: {answer:?}");
    let info = answer.error_info().unwrap();
    assert_eq!(info.reason, reason, "{context}: {}", answer.grpc_message());
    assert_eq!(info.domain, "ipalloc-gateway", "{context}");
    assert!(
        answer.total_bytes() < 8 * 1024,
        "{context}: {} bytes",
        answer.total_bytes()
    );
}

/// A message whose field 1 (`provider`, a string) holds bytes that are not
/// UTF-8.
fn invalid_utf8_provider() -> Vec<u8> {
    vec![0x0a, 0x03, b'a', 0xff, 0xfe]
}

/// AllocateIpRequest { zenlayer { tags: [{ key: <invalid UTF-8> }] } }.
fn invalid_utf8_tag_key() -> Vec<u8> {
    let tag = [0x0a, 0x02, 0xc3, 0x28]; // Tag.key = C3 28 (bad continuation)
    let mut zenlayer = vec![0x4a, tag.len() as u8]; // ZenlayerAllocateParams.tags = 9
    zenlayer.extend_from_slice(&tag);
    let mut request = vec![0x5a, zenlayer.len() as u8]; // AllocateIpRequest.zenlayer = 11
    request.extend_from_slice(&zenlayer);
    request
}

#[tokio::test]
async fn undecodable_messages_are_invalid_argument_with_error_info() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("garbage bytes", ALLOCATE, vec![0xff, 0xff, 0xff, 0xff]),
        (
            "invalid UTF-8 in provider",
            ALLOCATE,
            invalid_utf8_provider(),
        ),
        (
            "invalid UTF-8 in a tag key",
            ALLOCATE,
            invalid_utf8_tag_key(),
        ),
        (
            "length past the end",
            ALLOCATE,
            vec![0x0a, 0x7f, b'a', b'b'],
        ),
        ("wire type 7", GET, vec![0x0f, 0x00]),
        ("invalid UTF-8 in an id", GET, vec![0x12, 0x02, 0xed, 0xa0]),
        ("invalid UTF-8 in a watch id", WATCH, vec![0x12, 0x01, 0x80]),
        (
            "truncated varint",
            WATCH,
            vec![0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ];
    for (name, path, message) in cases {
        let answer = raw.call(RawRequest::grpc(path, &message), TIMEOUT).await;
        assert_refused(&answer, Code::InvalidArgument, "REQUEST_UNDECODABLE", name);
        let info = answer.error_info().unwrap();
        assert!(
            info.metadata["messageType"].ends_with("Request"),
            "{name}: {info:?}"
        );
        assert!(!info.metadata["problem"].is_empty(), "{name}: {info:?}");
        println!(
            "{name}: {} ({} bytes)",
            answer.grpc_message(),
            answer.total_bytes()
        );
    }
    let counted =
        counters(&env.aliyun_url).await.requests + counters(&env.zenlayer_url).await.requests;
    assert_eq!(counted, 0, "no provider was called");
}

/// A body of raw bytes (frame prefixes written by hand).
fn raw_body(path: &str, body: Vec<u8>) -> RawRequest {
    RawRequest {
        body: Bytes::from(body),
        ..RawRequest::grpc(path, &[])
    }
}

fn prefix(flag: u8, len: u32) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_u8(flag);
    out.put_u32(len);
    out.to_vec()
}

#[tokio::test]
async fn broken_framing_is_invalid_argument_with_error_info() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    let valid = requests::lookup("zenlayer", "eip-1").encode_to_vec();

    let empty = raw.call(raw_body(GET, Vec::new()), TIMEOUT).await;
    assert_refused(
        &empty,
        Code::InvalidArgument,
        "REQUEST_UNDECODABLE",
        "no message",
    );

    let mut truncated = prefix(0, 100);
    truncated.extend_from_slice(&[0x0a, 0x01]);
    let answer = raw.call(raw_body(GET, truncated), TIMEOUT).await;
    assert_refused(
        &answer,
        Code::InvalidArgument,
        "REQUEST_UNDECODABLE",
        "truncated",
    );

    let mut half_prefix = prefix(0, 100);
    half_prefix.truncate(3);
    let answer = raw.call(raw_body(GET, half_prefix), TIMEOUT).await;
    assert_refused(
        &answer,
        Code::InvalidArgument,
        "REQUEST_UNDECODABLE",
        "half a prefix",
    );

    for flag in [1u8, 7, 0xff] {
        let mut body = prefix(flag, valid.len() as u32);
        body.extend_from_slice(&valid);
        let answer = raw.call(raw_body(GET, body), TIMEOUT).await;
        assert_refused(
            &answer,
            Code::InvalidArgument,
            "REQUEST_UNDECODABLE",
            &format!("compressed-flag {flag}"),
        );
    }

    let mut gzip = prefix(1, valid.len() as u32);
    gzip.extend_from_slice(&valid);
    let answer = raw
        .call(raw_body(GET, gzip).header("grpc-encoding", "gzip"), TIMEOUT)
        .await;
    assert_refused(
        &answer,
        Code::Unimplemented,
        "COMPRESSION_UNSUPPORTED",
        "gzip",
    );

    let counted =
        counters(&env.aliyun_url).await.requests + counters(&env.zenlayer_url).await.requests;
    assert_eq!(counted, 0, "no provider was called");
}

#[tokio::test]
async fn oversized_messages_are_refused_from_their_prefix() {
    let top = "[server]\nmax_request_bytes = 4096\n";
    let env = emulators::start(EmulatorOptions::default(), top, "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    // A prefix announcing 1 GiB, and nothing after it: refused from the
    // prefix alone, nothing buffered.
    let answer = raw
        .call(raw_body(ALLOCATE, prefix(0, 1 << 30)), TIMEOUT)
        .await;
    assert_refused(
        &answer,
        Code::InvalidArgument,
        "REQUEST_TOO_LARGE",
        "1 GiB prefix",
    );
    let info = answer.error_info().unwrap();
    assert_eq!(info.metadata["maxRequestBytes"], "4096");
    assert_eq!(info.metadata["requestBytes"], (1u64 << 30).to_string());

    // A real message one byte over the limit is refused; one at the limit
    // is read (and then validated): (provider name length, message
    // length, reason).
    for (name, length, reason) in [
        (4094, 4097, "REQUEST_TOO_LARGE"),
        (4093, 4096, "INVALID_REQUEST"),
    ] {
        let message = pb::AllocateIpRequest {
            provider: "p".repeat(name),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(message.len(), length);
        let answer = raw
            .call(RawRequest::grpc(ALLOCATE, &message), TIMEOUT)
            .await;
        assert_refused(
            &answer,
            Code::InvalidArgument,
            reason,
            &format!("{length} bytes"),
        );
    }
}

#[tokio::test]
async fn non_grpc_requests_get_415_or_405_with_error_info() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    let message = pb::ListProvidersRequest {}.encode_to_vec();
    let list = "/ipalloc.v1.IpAllocation/ListProviders";
    let long = format!("application/{}", "x".repeat(5000));
    for content_type in [
        Some("application/json"),
        Some("text/plain"),
        Some("application/grpc+json"),
        Some("application/grpc-web"),
        Some(long.as_str()),
        None,
    ] {
        let request = RawRequest {
            content_type: content_type.map(str::to_owned),
            ..RawRequest::grpc(list, &message)
        };
        let answer = raw.call(request, TIMEOUT).await;
        let context = format!("{:?}", content_type.map(|c| &c[..c.len().min(40)]));
        assert_eq!(answer.http_status, 415, "{context}");
        assert_eq!(
            answer.get("content-type"),
            Some("application/grpc"),
            "{context}"
        );
        assert_refused(
            &answer,
            Code::InvalidArgument,
            "CONTENT_TYPE_UNSUPPORTED",
            &context,
        );
        assert!(
            answer
                .grpc_message()
                .starts_with("invalid gRPC request content-type"),
            "{}",
            answer.grpc_message()
        );
    }
    // Accepted spellings still work.
    for content_type in ["application/grpc+proto", "application/grpc; charset=utf-8"] {
        let request = RawRequest {
            content_type: Some(content_type.to_owned()),
            ..RawRequest::grpc(list, &message)
        };
        let answer = raw.call(request, TIMEOUT).await;
        assert_eq!(answer.http_status, 200);
        assert_eq!(answer.grpc_status(), Some(0), "{content_type}: {answer:?}");
        let response =
            pb::ListProvidersResponse::decode(answer.body.get(5..).unwrap_or_default()).unwrap();
        assert_eq!(response.providers.len(), 2);
    }

    // Not a POST: 405, as grpc-go answers.
    let tcp = tokio::net::TcpStream::connect(env.gateway.addr)
        .await
        .unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut send = send.ready().await.unwrap();
    let request = http::Request::builder()
        .method("GET")
        .uri(format!("http://{}{list}", env.gateway.addr))
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 405);
    let status = tonic::Status::from_header_map(response.headers()).unwrap();
    assert_eq!(status.code(), Code::InvalidArgument);
    let (reason, _, metadata) = common::error_info(&status);
    assert_eq!(reason, "HTTP_METHOD_NOT_ALLOWED");
    assert_eq!(metadata["httpMethod"], "GET");
}

#[tokio::test]
async fn unknown_methods_keep_unimplemented_with_error_info() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let raw = RawClient::connect(env.gateway.addr).await;
    for path in [
        "/ipalloc.v1.IpAllocation/ReleaseIp",
        "/ipalloc.v2.Nope/Method",
        "/",
    ] {
        let answer = raw.call(RawRequest::grpc(path, &[]), TIMEOUT).await;
        assert_refused(&answer, Code::Unimplemented, "METHOD_NOT_FOUND", path);
        assert!(answer.grpc_message().contains(path), "{path}");
    }
    // Health still answers through the same door.
    let health = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    }
    .encode_to_vec();
    let answer = raw
        .call(
            RawRequest::grpc("/grpc.health.v1.Health/Check", &health),
            TIMEOUT,
        )
        .await;
    assert_eq!(answer.grpc_status(), Some(0), "{answer:?}");
}
