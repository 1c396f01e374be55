//! Hostile connections, over real sockets with raw HTTP/2 (the `h2` crate,
//! or hand-written frames where a client library would refuse to misbehave):
//! streams that send headers and no body do not take call slots and are
//! answered after the body timeout; idle connections, silent ones and
//! half-sent prefaces are closed; unanswered keepalive pings close a
//! connection; the per-connection stream limit holds.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ipalloc_gateway::pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

const LIST: &str = "/ipalloc.v1.IpAllocation/ListProviders";
/// Generous bound for "this happens": never a measured duration.
const EVENTUALLY: Duration = Duration::from_secs(20);

fn config(server: &str) -> String {
    format!(
        "[server]\n{server}\n{}",
        zenlayer_provider("zl", "http://127.0.0.1:9", "")
    )
}

fn grpc_request(addr: std::net::SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// An h2 client connection; its driver runs in a task whose handle says
/// when the server closed the connection.
async fn h2_connect(
    addr: std::net::SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    (client, tokio::spawn(connection))
}

/// The gRPC status of a trailers-only answer, or of the trailers.
async fn grpc_status(response: h2::client::ResponseFuture) -> (String, http::HeaderMap) {
    let response = response.await.unwrap();
    if let Some(status) = response.headers().get("grpc-status") {
        return (
            status.to_str().unwrap().to_owned(),
            response.headers().clone(),
        );
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    let status = trailers
        .get("grpc-status")
        .map(|s| s.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, trailers)
}

/// Opens `n` streams that send their headers and nothing else.
async fn header_only_streams(
    client: &mut h2::client::SendRequest<Bytes>,
    addr: std::net::SocketAddr,
    n: usize,
) -> Vec<(h2::client::ResponseFuture, h2::SendStream<Bytes>)> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        *client = client.clone().ready().await.unwrap();
        open.push(
            client
                .send_request(grpc_request(addr, LIST), false)
                .unwrap(),
        );
    }
    open
}

/// A complete empty ListProviders request on the same connection: once it
/// is answered, the server has seen every stream opened before it.
async fn complete_call(
    client: &mut h2::client::SendRequest<Bytes>,
    addr: std::net::SocketAddr,
) -> String {
    *client = client.clone().ready().await.unwrap();
    let (response, mut body) = client
        .send_request(grpc_request(addr, LIST), false)
        .unwrap();
    body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    grpc_status(response).await.0
}

#[tokio::test]
async fn header_only_streams_take_no_call_slot() {
    let gateway = start_gateway(&config(
        "max_concurrent_calls = 4\nmax_concurrent_streams = 200\nrequest_body_timeout_ms = 60000",
    ))
    .await;
    let (mut client, _driver) = h2_connect(gateway.addr).await;
    // 150 streams stuck after their headers: far more than the 4 slots.
    let _stuck = header_only_streams(&mut client, gateway.addr, 150).await;
    assert_eq!(complete_call(&mut client, gateway.addr).await, "0");
    for i in 0..20 {
        let response = gateway
            .client
            .clone()
            .list_providers(pb::ListProvidersRequest {})
            .await;
        assert!(
            response.is_ok(),
            "real call {i} while 150 streams are stuck: {response:?}"
        );
    }
}

#[tokio::test]
async fn a_body_that_never_comes_is_answered_after_the_body_timeout() {
    let gateway = start_gateway(&config("request_body_timeout_ms = 300")).await;
    let (mut client, _driver) = h2_connect(gateway.addr).await;
    let mut open = header_only_streams(&mut client, gateway.addr, 3).await;
    let (response, _body) = open.remove(0);
    let (status, headers) = tokio::time::timeout(EVENTUALLY, grpc_status(response))
        .await
        .expect("answered once the body timeout passed");
    assert_eq!(status, (Code::DeadlineExceeded as i32).to_string());
    let status = tonic::Status::from_header_map(&headers).unwrap();
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("REQUEST_BODY_TIMEOUT", "ipalloc-gateway")
    );
    assert_eq!(metadata["requestBodyTimeoutMs"], "300");
    // The connection still serves.
    assert_eq!(complete_call(&mut client, gateway.addr).await, "0");
}

#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_are_not() {
    let gateway = start_gateway(&config(
        "idle_timeout_ms = 300\nrequest_body_timeout_ms = 60000",
    ))
    .await;
    let (idle_client, idle_driver) = h2_connect(gateway.addr).await;
    let (mut busy_client, busy_driver) = h2_connect(gateway.addr).await;
    let open = header_only_streams(&mut busy_client, gateway.addr, 3).await;
    let closed = tokio::time::timeout(EVENTUALLY, idle_driver)
        .await
        .expect("the idle connection is closed");
    assert!(closed.unwrap().is_ok(), "closed with a GOAWAY, not reset");
    drop(idle_client);
    // The busy connection has had a stream open for all that time (and 5
    // idle timeouts more): it is still there and answers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !busy_driver.is_finished(),
        "a connection with an open stream is not idle"
    );
    // Its streams end one by one (3 open, 2, 1, none): once the last has
    // ended, it is idle and closed in its turn.
    for (response, mut body) in open {
        assert!(!busy_driver.is_finished(), "closed with streams open");
        body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
            .unwrap();
        assert_eq!(grpc_status(response).await.0, "0");
    }
    let closed = tokio::time::timeout(EVENTUALLY, busy_driver)
        .await
        .expect("the connection whose streams all ended is closed when idle");
    assert!(closed.unwrap().is_ok(), "closed with a GOAWAY, not reset");
    drop(busy_client);
}

/// Reads until the server closes the connection (EOF or reset).
async fn closed_by_server(mut stream: TcpStream) -> usize {
    let mut received = 0;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received += n,
        }
    }
}

#[tokio::test]
async fn silent_connections_and_half_sent_prefaces_are_closed() {
    let gateway = start_gateway(&config("handshake_timeout_ms = 300")).await;
    let mut waits = Vec::new();
    for i in 0..100 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        if i % 2 == 1 {
            stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        }
        waits.push(tokio::spawn(closed_by_server(stream)));
    }
    for wait in waits {
        let received = tokio::time::timeout(EVENTUALLY, wait)
            .await
            .expect("closed after the handshake timeout")
            .unwrap();
        assert_eq!(received, 0, "nothing is sent before the preface");
    }
    // The gateway serves on.
    gateway
        .client
        .clone()
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame: 9-byte header, then the payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK string literal (no Huffman; values here are under 127 bytes).
fn hpack_str(out: &mut Vec<u8>, value: &str) {
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

/// The header block of a gRPC ListProviders request, HPACK-encoded by hand.
fn list_providers_headers(authority: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http (static)
    block.push(0x04); // :path, literal without indexing, static name 4
    hpack_str(&mut block, LIST);
    block.push(0x01); // :authority, static name 1
    hpack_str(&mut block, authority);
    block.extend_from_slice(&[0x0f, 0x10]); // content-type, static name 31
    hpack_str(&mut block, "application/grpc");
    block.push(0x00); // te: trailers, new name
    hpack_str(&mut block, "te");
    hpack_str(&mut block, "trailers");
    block
}

/// Reads one frame: (type, flags, stream id, payload).
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((header[3], header[4], id, payload))
}

const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const REFUSED_STREAM: u32 = 0x7;

#[tokio::test]
async fn the_stream_limit_per_connection_holds_for_a_client_that_ignores_it() {
    let gateway = start_gateway(&config(
        "max_concurrent_streams = 10\nrequest_body_timeout_ms = 60000",
    ))
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(PREFACE).await.unwrap();
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    // The server's SETTINGS announce the limit.
    let advertised = loop {
        let (kind, flags, _, payload) = read_frame(&mut stream).await.expect("server SETTINGS");
        if kind == SETTINGS && flags & 0x1 == 0 {
            let limit = payload.chunks(6).find_map(|s| {
                (u16::from_be_bytes([s[0], s[1]]) == MAX_CONCURRENT_STREAMS)
                    .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
            });
            stream
                .write_all(&frame(SETTINGS, 0x1, 0, &[]))
                .await
                .unwrap();
            break limit;
        }
    };
    assert_eq!(advertised, Some(10));
    // 15 streams at once, ignoring it: the 5 beyond the limit are refused.
    let block = list_providers_headers(&gateway.addr.to_string());
    for i in 0..15u32 {
        let end_headers = 0x4;
        stream
            .write_all(&frame(HEADERS, end_headers, 2 * i + 1, &block))
            .await
            .unwrap();
    }
    let mut refused = Vec::new();
    let outcome = tokio::time::timeout(EVENTUALLY, async {
        while refused.len() < 5 {
            let Some((kind, _, id, payload)) = read_frame(&mut stream).await else {
                break;
            };
            if kind == RST_STREAM {
                let code = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                assert_eq!(code, REFUSED_STREAM, "stream {id}");
                refused.push(id);
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "refusals seen: {refused:?}");
    refused.sort();
    assert_eq!(
        refused,
        [21, 23, 25, 27, 29],
        "exactly the streams over the limit"
    );
}

#[tokio::test]
async fn a_peer_that_does_not_answer_pings_is_disconnected() {
    let gateway = start_gateway(&config(
        "keepalive_interval_ms = 200\nkeepalive_timeout_ms = 200\nidle_timeout_ms = 600000",
    ))
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(PREFACE).await.unwrap();
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    // Read what the server sends (settings, pings) but never answer a ping.
    let mut pings = 0;
    let outcome = tokio::time::timeout(EVENTUALLY, async {
        while let Some((kind, flags, _, _)) = read_frame(&mut stream).await {
            if kind == 0x6 && flags & 0x1 == 0 {
                pings += 1;
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the connection was closed");
    assert!(pings >= 1, "the server pinged first");
}
