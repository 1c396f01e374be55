//! Where the gateway listens, over real sockets: the API on a Unix socket
//! (mode and owner applied, a stale socket replaced, anything else at the
//! path refused, the file removed at shutdown, by the binary too); the
//! health-only port (Health/Check answers, following the same reporter as
//! the API's, and the API and reflection are UNIMPLEMENTED there);
//! reflection turned off; and the safe default: a non-loopback `listen`
//! without TLS or caller authentication refused at start, allowed with
//! `server.allow_insecure` (and warned about).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::process;
use common::transport::{list_providers, serve, unix_channel};
use common::{channel, zenlayer_provider};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

fn provider() -> String {
    zenlayer_provider("zl", "http://127.0.0.1:9", "")
}

async fn health(channel: Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|response| response.into_inner().status())
}

/// Reflection's service list, as `grpcurl list` asks for it.
async fn reflected_services(channel: Channel) -> Result<Vec<String>, tonic::Status> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let answer = answers.message().await?.expect("one answer");
    match answer.message_response {
        Some(tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => panic!("not a service list: {other:?}"),
    }
}

fn uid_gid() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

#[tokio::test]
async fn the_api_on_a_unix_socket_with_its_mode_replacing_a_stale_socket_removed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.sock");
    // A socket left by a gateway that was killed: nobody listens on it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (uid, gid) = uid_gid();
    let gateway = serve(&format!(
        "[server]\nunix_socket = \"{}\"\nunix_socket_mode = \"0600\"\n\
         unix_socket_uid = {uid}\nunix_socket_gid = {gid}\n{}",
        path.display(),
        provider()
    ))
    .await;
    assert_eq!(gateway.api, None, "the socket alone serves the API");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));

    let channel = unix_channel(&path).await;
    assert_eq!(list_providers(channel.clone()).await.unwrap(), 1);
    assert_eq!(health(channel, "").await.unwrap(), ServingStatus::Serving);
    gateway.stopped().await;
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

#[tokio::test]
async fn a_live_socket_or_a_file_that_is_not_a_socket_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.sock");
    let config = format!(
        "[server]\nunix_socket = \"{}\"\n{}",
        path.display(),
        provider()
    );
    let config = ipalloc_gateway::config::load(&config, "test", &|_: &str| None).unwrap();

    std::fs::write(&path, "not a socket").unwrap();
    let error = ipalloc_gateway::server::Listeners::bind(&config)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("exists and is not a socket"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    let preflight = ipalloc_gateway::server::preflight(&config).unwrap_err();
    assert!(
        preflight.to_string().contains("not a socket"),
        "{preflight}"
    );

    std::fs::remove_file(&path).unwrap();
    let _live = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let error = ipalloc_gateway::server::Listeners::bind(&config)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("another process is listening"),
        "{error}"
    );
    assert!(path.exists(), "a live socket is left alone");
}

#[tokio::test]
async fn the_health_port_answers_health_alone_from_the_same_reporter() {
    let mut gateway = serve(&format!(
        "listen = \"127.0.0.1:0\"\n[server]\nhealth_listen = \"127.0.0.1:0\"\n\
         shutdown_drain_ms = 1000\nshutdown_timeout_ms = 10000\n{}",
        provider()
    ))
    .await;
    let probe = channel(gateway.health.unwrap()).await;
    let api = channel(gateway.api.unwrap()).await;
    assert_eq!(
        health(probe.clone(), "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        health(probe.clone(), "ipalloc.v1.IpAllocation")
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    let refused = list_providers(probe.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    let refused = reflected_services(probe.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert_eq!(list_providers(api.clone()).await.unwrap(), 1);

    // Shutdown: the probe port says NOT_SERVING at once, with the API's
    // health, while the API is still served during the drain.
    gateway.begin_stop();
    let bound = Instant::now() + Duration::from_secs(5);
    while health(probe.clone(), "").await.unwrap() != ServingStatus::NotServing {
        assert!(
            Instant::now() < bound,
            "the probe port never said NOT_SERVING"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        health(api.clone(), "").await.unwrap(),
        ServingStatus::NotServing
    );
    assert_eq!(list_providers(api).await.unwrap(), 1);
    let health_addr = gateway.health.unwrap();
    gateway.stopped().await;
    assert!(
        tokio::net::TcpStream::connect(health_addr).await.is_err(),
        "the probe port closes with the others"
    );
}

#[tokio::test]
async fn reflection_can_be_turned_off() {
    let on = serve(&format!("listen = \"127.0.0.1:0\"\n{}", provider())).await;
    let services = reflected_services(channel(on.api.unwrap()).await)
        .await
        .unwrap();
    assert!(
        services.iter().any(|s| s == "ipalloc.v1.IpAllocation"),
        "{services:?}"
    );
    on.stopped().await;

    let off = serve(&format!(
        "listen = \"127.0.0.1:0\"\n[server]\nreflection = false\n{}",
        provider()
    ))
    .await;
    let api = channel(off.api.unwrap()).await;
    let refused = reflected_services(api.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert_eq!(
        list_providers(api).await.unwrap(),
        1,
        "the API is still served"
    );
    off.stopped().await;
}

/// The binary's stderr once it exited (within 20 s).
fn exited(mut gateway: process::Gateway) -> (Option<i32>, String) {
    let status = gateway.wait_exit(Duration::from_secs(20));
    (status.code(), gateway.log_text())
}

#[test]
fn a_non_loopback_listen_without_tls_or_callers_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("listen = \"0.0.0.0:0\"\n{}", provider());
    let (code, log) = exited(process::spawn(dir.path(), &config, |_| {}));
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(
            "listen: is not a loopback address, and neither TLS ([tls]) nor caller authentication"
        ),
        "{log}"
    );
    assert!(log.contains("server.allow_insecure = true"), "{log}");

    // --listen is held to the same rule.
    let loopback = format!("listen = \"127.0.0.1:0\"\n{}", provider());
    let (code, log) = exited(process::spawn(dir.path(), &loopback, |command| {
        command.args(["--listen", "0.0.0.0:0"]);
    }));
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("error: --listen 0.0.0.0:0: is not a loopback address"),
        "{log}"
    );
}

#[test]
fn allow_insecure_serves_a_non_loopback_listen_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "listen = \"0.0.0.0:0\"\n[server]\nallow_insecure = true\nshutdown_drain_ms = 0\n{}",
        provider()
    );
    let mut gateway = process::spawn(dir.path(), &config, |_| {});
    let addr = gateway.wait_listening();
    assert!(addr.ip().is_unspecified(), "{addr}");
    let log = gateway.terminate();
    assert!(
        log.contains("without TLS or caller authentication (server.allow_insecure = true)"),
        "{log}"
    );
}

#[test]
fn the_binary_serves_a_unix_socket_and_removes_it_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    let config = format!(
        "[server]\nunix_socket = \"{}\"\nhealth_listen = \"127.0.0.1:0\"\nshutdown_drain_ms = 0\n{}",
        path.display(),
        provider()
    );
    let gateway = process::spawn(dir.path(), &config, |_| {});
    wait_for(&gateway, "serving the API on a Unix socket");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "the default mode");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(list_providers(unix_channel(&path).await).await.unwrap(), 1);
    });
    let log = gateway.terminate();
    assert!(
        !log.contains("ipalloc-gateway listening"),
        "no TCP API: {log}"
    );
    assert!(
        log.contains("serving grpc.health.v1 alone for probes"),
        "{log}"
    );
    assert!(!Path::new(&path).exists(), "removed on SIGTERM");
}

/// Waits (at most 30 s) for a log line containing `text`.
fn wait_for(gateway: &process::Gateway, text: &str) {
    let bound = Instant::now() + Duration::from_secs(30);
    while !gateway.log_text().contains(text) {
        assert!(
            Instant::now() < bound,
            "no {text:?}:\n{}",
            gateway.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
