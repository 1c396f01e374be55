//! The integration tests' one harness. Its modules: the scripted provider
//! that records every request exactly (`scripted`), the emulators behind the
//! gateway or alone (`emulators`), the binary as a child process
//! (`process`), provider adapter settings (`settings`), requests
//! (`requests`), the signatures recomputed independently (`signatures`), raw
//! HTTP/2 (`h2raw`), external tools (`tools`), the PostgreSQL test database
//! (`postgres`), a TCP proxy that cuts connections (`tcp_proxy`),
//! certificates, the configured listeners, TLS and Unix socket channels
//! (`transport`), and fleet mode, several gateway processes on one database
//! (`fleet`). Here: the gateway served in process on 127.0.0.1:0 with a real
//! tonic client, the test credentials and provider TOML, free ports, and
//! readers for error details.
// Each test binary compiles this whole harness and uses only part of it.
#![allow(dead_code)]
// Test code: a failed unwrap is a failed test (the workspace denies them
// outside tests; clippy.toml allows them in `#[test]` functions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod emulators;
pub mod fleet;
pub mod h2raw;
pub mod postgres;
pub mod process;
pub mod requests;
pub mod scripted;
pub mod settings;
pub mod signatures;
pub mod tcp_proxy;
pub mod tools;
pub mod transport;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ipalloc_gateway::config;
use ipalloc_gateway::idempotency::{IdempotencyStore, IoFaults, StoreOptions};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::server;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_types::{ErrorDetails, StatusExt};

#[allow(unused_imports)]
pub use scripted::{Recorded, Reply, Scripted};

pub const ALIYUN_AK_ID: &str = "LTAI5tTestAkId0001";
pub const ALIYUN_SECRET: &str = "aliyun-TEST-secret/0001+=";
pub const ALIYUN_STS: &str = "CAIS+test/sts-token==";
pub const ZL_AK_ID: &str = "AKIDZLTEST0000000001";
pub const ZL_PASSWORD: &str = "zl-TEST-password/0002+=";

/// A gateway serving on 127.0.0.1:<ephemeral> until dropped.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub client: IpAllocationClient<Channel>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    /// ListProviders.
    pub async fn list_providers(&self) -> pb::ListProvidersResponse {
        self.client
            .clone()
            .list_providers(pb::ListProvidersRequest {})
            .await
            .expect("ListProviders answers")
            .into_inner()
    }

    /// Shuts the gateway down and waits until it has stopped (and released
    /// its idempotency store file), as a process restart would.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("gateway task");
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the gateway with a TOML configuration (environment: none).
pub async fn start_gateway(config_toml: &str) -> TestGateway {
    start_gateway_with_env(config_toml, HashMap::new()).await
}

pub async fn start_gateway_with_env(
    config_toml: &str,
    env: HashMap<String, String>,
) -> TestGateway {
    let config = test_config(config_toml, env);
    let mut gateway = server::Gateway::build(&config).expect("gateway builds");
    // The audit trail would go to stderr, which tests do not capture.
    if !config_toml.contains("[audit]") {
        gateway.audit = ipalloc_gateway::audit::Audit::discard();
    }
    serve_gateway(gateway).await
}

/// A test configuration from TOML and `env`: no drain period unless the
/// text sets one (tests stop and restart gateways).
pub fn test_config(config_toml: &str, env: HashMap<String, String>) -> config::Config {
    let lookup = move |name: &str| env.get(name).cloned();
    let mut config = config::load(config_toml, "test", &lookup).expect("test config is valid");
    if !config_toml.contains("shutdown_drain_ms") {
        config.server.shutdown_drain = Duration::ZERO;
    }
    config
}

/// Serves an already built gateway on 127.0.0.1:<ephemeral>.
pub async fn serve_gateway(gateway: server::Gateway) -> TestGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(listener, gateway, async {
            let _ = rx.await;
        })
        .await
        .expect("gateway serves");
    });
    TestGateway {
        addr,
        client: IpAllocationClient::new(channel(addr).await),
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// A gateway (not yet serving) on a redb store in `dir` whose writes fail
/// while the returned [`IoFaults`] say so.
pub fn gateway_with_io_faults(
    providers: &[config::ProviderConfig],
    dir: &std::path::Path,
) -> (server::Gateway, IoFaults) {
    let faults = IoFaults::new();
    let mut options = StoreOptions::new(
        Some(&dir.join("idempotency.redb")),
        Duration::from_secs(3600),
    );
    options.io_faults = Some(faults.clone());
    let store = IdempotencyStore::open_with(&options).unwrap();
    let registry = std::sync::Arc::new(server::build_registry(providers).unwrap());
    let gateway =
        server::Gateway::with_store(registry, store, config::ServerConfig::default()).unwrap();
    (gateway, faults)
}

/// A channel to a gateway at `addr` (`127.0.0.1:PORT`), connected.
pub async fn channel(addr: impl std::fmt::Display) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gateway accepts connections")
}

/// AllocateIp, which must succeed: the id of its first allocation.
pub async fn first_allocation_id(
    client: &mut IpAllocationClient<Channel>,
    request: impl tonic::IntoRequest<pb::AllocateIpRequest>,
) -> String {
    let response = client
        .allocate_ip(request)
        .await
        .expect("the allocation succeeds")
        .into_inner();
    response.allocations[0].id.clone()
}

/// `[providers.<name>]` for an Aliyun account pointed at `endpoint`.
pub fn aliyun_provider(name: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{ALIYUN_AK_ID}\"\naccess_key_secret = \"{ALIYUN_SECRET}\"\n{extra}\n"
    )
}

/// `[providers.<name>]` for a Zenlayer account pointed at `endpoint`.
pub fn zenlayer_provider(name: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"zenlayer\"\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{ZL_AK_ID}\"\naccess_key_password = \"{ZL_PASSWORD}\"\n{extra}\n"
    )
}

/// A loopback port nothing listens on right now (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// [`free_port`], for a provider endpoint that refuses connections.
pub async fn closed_port() -> u16 {
    free_port()
}

/// What ListProviders reports of every Alibaba account: one address per
/// call, synchronous, on an instance that must restart, ECS 2014-05-26, no
/// charge types. The signature depends on the account's version.
pub fn assert_aliyun_capabilities(provider: &pb::ProviderInfo) {
    assert_eq!(provider.kind(), pb::ProviderKind::Aliyun);
    assert_eq!(provider.region, "cn-hangzhou");
    let caps = provider.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.max_allocations_per_request, 1);
    assert!(!caps.asynchronous);
    assert!(caps.requires_instance && caps.requires_instance_restart);
    assert!(caps.charge_types.is_empty());
    assert_eq!(caps.api_version, "ecs/2014-05-26");
}

/// What ListProviders reports of every Zenlayer account: up to 100
/// addresses, asynchronous, no instance, PREPAID and POSTPAID, BMC
/// 2026-02-01, ZC2-HMAC-SHA256.
pub fn assert_zenlayer_capabilities(provider: &pb::ProviderInfo) {
    assert_eq!(provider.kind(), pb::ProviderKind::Zenlayer);
    assert_eq!(provider.region, "");
    let caps = provider.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.max_allocations_per_request, 100);
    assert!(caps.asynchronous);
    assert!(!caps.requires_instance && !caps.requires_instance_restart);
    assert_eq!(
        caps.charge_types().collect::<Vec<_>>(),
        [pb::ChargeType::Prepaid, pb::ChargeType::Postpaid]
    );
    assert_eq!(caps.api_version, "bmc/2026-02-01");
    assert_eq!(caps.signature, "ZC2-HMAC-SHA256");
}

/// `message` carrying `authorization` metadata `value`.
pub fn authorized<T>(message: T, value: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", value.parse().unwrap());
    request
}

/// `message` with `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    authorized(message, &format!("Bearer {token}"))
}

/// The hex SHA-256 of `text` (a caller's `token_sha256`).
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The decoded error details of a status.
pub fn details(status: &tonic::Status) -> ErrorDetails {
    status.get_error_details()
}

/// ErrorInfo (reason, domain, metadata); panics when absent.
pub fn error_info(status: &tonic::Status) -> (String, String, HashMap<String, String>) {
    let details = details(status);
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("status without ErrorInfo: {status:?}"));
    (
        info.reason.clone(),
        info.domain.clone(),
        info.metadata.clone(),
    )
}

/// The BadRequest field names of a status, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    details(status)
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The RetryInfo delay, if any.
pub fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    details(status).retry_info().and_then(|r| r.retry_delay)
}

/// The RequestInfo request id, if any.
pub fn request_id(status: &tonic::Status) -> Option<String> {
    details(status).request_info().map(|r| r.request_id.clone())
}
