//! Callers and spend limits over real sockets, in front of the emulators:
//! bearer tokens missing, malformed, wrong and right (health and reflection
//! stay open); each caller's RPC and provider allowlists; spend limits per
//! caller and per account (refused with RetryInfo and nothing sent, a replay
//! still answered, a definite failure giving its reservation back, freed by
//! the window), shared by two gateways in fleet mode, and not reset by a
//! restart of the real binary on a file store; callers identified by their
//! Unix socket peer's uid or gid and by their mTLS client certificate's
//! SANs. Nothing refused ever reaches a provider: the emulators' request
//! counters say so.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::emulators::{both, counters, providers_toml};
use common::{
    TestGateway, authorized, bearer, error_info, requests, retry_delay, serve_gateway, sha256_hex,
    test_config,
};
use ipalloc_gateway::audit::Audit;
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators};
use ipalloc_gateway::server::Gateway;
use ipalloc_gateway::spend::SpendClock;
use tonic::{Code, Request, Status};

const APP_TOKEN: &str = "app-token-0123456789abcdef";
const OPS_TOKEN: &str = "ops-token-0123456789abcdef";

/// `message`, with `authorization` metadata `value` if any.
fn with<T>(message: T, value: Option<&str>) -> Request<T> {
    match value {
        Some(value) => authorized(message, value),
        None => Request::new(message),
    }
}

/// Both emulators and a gateway in front of them.
struct Setup {
    gateway: TestGateway,
    _emulators: Emulators,
    aliyun_url: String,
    zenlayer_url: String,
    /// The spend ledger's clock, when limits are configured.
    clock: Option<SpendClock>,
}

impl Setup {
    /// `top` (the `[callers]` tables) before the providers, which carry
    /// `zenlayer_extra`; `env` holds the variables the file names.
    async fn start(top: &str, zenlayer_extra: &str, env: &[(&str, &str)]) -> Setup {
        let (emulators, aliyun_url, zenlayer_url) = both(&EmulatorOptions::default()).await;
        let text = format!(
            "{top}\n{}",
            providers_toml(
                &aliyun_url,
                &zenlayer_url,
                "max_attempts = 1",
                zenlayer_extra
            )
        );
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut gateway = Gateway::build(&test_config(&text, env)).unwrap();
        // tests/audit.rs reads the trail; here it would only fill stderr.
        gateway.audit = Audit::discard();
        let clock = gateway.spend_clock();
        Setup {
            gateway: serve_gateway(gateway).await,
            _emulators: emulators,
            aliyun_url,
            zenlayer_url,
            clock,
        }
    }

    fn client(&self) -> pb::ip_allocation_client::IpAllocationClient<tonic::transport::Channel> {
        self.gateway.client.clone()
    }

    /// API requests both emulators received so far.
    async fn provider_requests(&self) -> u64 {
        counters(&self.aliyun_url).await.requests + counters(&self.zenlayer_url).await.requests
    }
}

/// The reason, and the metadata value of `key`, of a refusal.
fn refusal(status: &Status, key: &str) -> (String, String) {
    let (reason, domain, metadata) = error_info(status);
    assert_eq!(domain, "ipalloc-gateway", "{status:?}");
    (reason, metadata.get(key).cloned().unwrap_or_default())
}

fn zenlayer(amount: u32) -> pb::AllocateIpRequest {
    requests::zenlayer(
        "zenlayer",
        pb::ZenlayerAllocateParams {
            amount: Some(amount),
            ..requests::postpaid("SEL-A")
        },
    )
}

const TWO_CALLERS: &str = "[callers.app]\ntoken_sha256 = [\"APP_HASH\"]\n\
    [callers.ops]\ntoken_env = [\"IPALLOC_TEST_OPS_TOKEN\"]\nrpcs = [\"ListProviders\", \"GetAllocation\"]\n\
    providers = [\"zenlayer\"]\n";

fn two_callers() -> String {
    TWO_CALLERS.replace("APP_HASH", &sha256_hex(APP_TOKEN))
}

/// Without a caller's token every RPC is UNAUTHENTICATED (nothing reaches
/// a provider), with one it is served; health and reflection need none.
#[tokio::test]
async fn tokens_missing_malformed_wrong_and_right() {
    let setup = Setup::start(&two_callers(), "", &[("IPALLOC_TEST_OPS_TOKEN", OPS_TOKEN)]).await;
    let mut client = setup.client();
    let allocate = || requests::keyed("tok-1", zenlayer(1));
    let hash_for_token = format!("Bearer {}", sha256_hex(APP_TOKEN));
    let refused: [(&str, Option<&str>); 5] = [
        ("no authorization", None),
        ("wrong token", Some("Bearer not-a-callers-token-0000")),
        ("another scheme", Some("Basic YXBwOnRva2Vu")),
        ("empty bearer", Some("Bearer ")),
        ("a hash for a token", Some(&hash_for_token)),
    ];
    for (case, value) in refused {
        let status = client
            .allocate_ip(with(allocate(), value))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_eq!(
            refusal(&status, "grpcMethod"),
            (
                "CALLER_UNAUTHENTICATED".to_owned(),
                "/ipalloc.v1.IpAllocation/AllocateIp".to_owned()
            ),
            "{case}"
        );
        assert!(!status.message().contains(APP_TOKEN), "{case}");
        let status = client
            .list_providers(with(pb::ListProvidersRequest {}, value))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{case}");
        let status = client
            .get_allocation(with(requests::lookup("zenlayer", "eip-x"), value))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{case}");
    }
    assert_eq!(setup.provider_requests().await, 0, "nothing was sent");

    // Health and reflection stay open.
    let channel = common::channel(setup.gateway.addr).await;
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    assert!(
        list_services(channel)
            .await
            .contains(&"ipalloc.v1.IpAllocation".to_owned())
    );

    // The right token: served.
    let response = client
        .allocate_ip(bearer(allocate(), APP_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.allocations.len(), 1);
    let listed = client
        .list_providers(authorized(
            pb::ListProvidersRequest {},
            &format!("bearer {APP_TOKEN}"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.providers.len(), 2, "app may use every account");
}

/// The services reflection lists.
async fn list_services(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{other:?}"),
    }
}

/// A caller gets only the RPCs and accounts its table lists:
/// PERMISSION_DENIED `CALLER_NOT_ALLOWED` otherwise, nothing sent.
#[tokio::test]
async fn each_caller_gets_only_its_rpcs_and_provider_accounts() {
    let top = format!(
        "{}[callers.zl-only]\ntoken_env = [\"IPALLOC_TEST_ZL_TOKEN\"]\nproviders = [\"zenlayer\"]\n",
        two_callers()
    );
    let zl_token = "zl-only-token-0123456789";
    let setup = Setup::start(
        &top,
        "",
        &[
            ("IPALLOC_TEST_OPS_TOKEN", OPS_TOKEN),
            ("IPALLOC_TEST_ZL_TOKEN", zl_token),
        ],
    )
    .await;
    let mut client = setup.client();

    // ops: ListProviders shows only its account; AllocateIp is not its RPC.
    let listed = client
        .list_providers(bearer(pb::ListProvidersRequest {}, OPS_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["zenlayer"]);
    let status = client
        .allocate_ip(bearer(zenlayer(1), OPS_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        refusal(&status, "caller"),
        ("CALLER_NOT_ALLOWED".to_owned(), "ops".to_owned())
    );
    assert_eq!(error_info(&status).2["provider"], "", "refused for the RPC");
    let status = client
        .get_allocation(bearer(requests::lookup("aliyun", "i-bp1abc"), OPS_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(error_info(&status).2["provider"], "aliyun");

    // zl-only: every RPC, but only the Zenlayer account.
    let status = client
        .allocate_ip(bearer(
            requests::aliyun("aliyun", requests::instance("i-bp1abc")),
            zl_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(
        (
            reason.as_str(),
            metadata["caller"].as_str(),
            metadata["provider"].as_str()
        ),
        ("CALLER_NOT_ALLOWED", "zl-only", "aliyun")
    );
    let status = client
        .watch_allocation(bearer(
            pb::WatchAllocationRequest {
                provider: "aliyun".into(),
                id: "i-bp1abc".into(),
                region_id: String::new(),
            },
            zl_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        counters(&setup.aliyun_url).await.requests,
        0,
        "nothing sent"
    );
    let eip = client
        .allocate_ip(bearer(zenlayer(1), zl_token))
        .await
        .unwrap()
        .into_inner()
        .allocations[0]
        .id
        .clone();
    client
        .get_allocation(bearer(requests::lookup("zenlayer", &eip), OPS_TOKEN))
        .await
        .unwrap();
}

/// A caller's hour: refused with RetryInfo once full (nothing sent), a
/// replay still answered, a request larger than the limit never fits, a
/// definite failure gives its addresses back, and the window frees up.
#[tokio::test]
async fn a_callers_spend_limit_is_reached_then_freed_by_the_window() {
    let top = format!(
        "[callers.app]\ntoken_sha256 = [\"{}\"]\nmax_addresses_per_hour = 3\n",
        sha256_hex(APP_TOKEN)
    );
    let setup = Setup::start(&top, "", &[]).await;
    let clock = setup.clock.clone().expect("limits are configured");
    let mut client = setup.client();
    let allocate = |key: &str, amount: u32| {
        let mut client = setup.client();
        let request = bearer(requests::keyed(key, zenlayer(amount)), APP_TOKEN);
        async move { client.allocate_ip(request).await }
    };
    let first = allocate("spend-1", 2).await.unwrap().into_inner();
    let allocations = || async { counters(&setup.zenlayer_url).await.allocate_calls };
    assert_eq!(allocations().await, 1);

    let status = allocate("spend-2", 2).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(reason, "SPEND_LIMIT_REACHED");
    #[rustfmt::skip]
    let expected = [
        ("caller", "app"), ("spendScope", "caller"), ("spendWindow", "hour"),
        ("spendLimit", "3"), ("spendUsed", "2"), ("spendRequested", "2"),
        ("idempotencyKey", "spend-2"), ("provider", "zenlayer"),
    ];
    for (key, value) in expected {
        assert_eq!(metadata[key], value, "{key}");
    }
    let wait = retry_delay(&status).expect("RetryInfo");
    assert!(
        wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
    // Four never fit in three.
    let status = allocate("spend-big", 4).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(retry_delay(&status), None, "it never fits");
    // The replay of the first key is answered: it reserves nothing.
    let replay = allocate("spend-1", 2).await.unwrap().into_inner();
    assert_eq!(replay.allocations, first.allocations);
    // A definite failure (a zone that sells no EIPs) gives its address back.
    let tokyo = requests::zenlayer("zenlayer", requests::postpaid("TYO-A"));
    let status = client
        .allocate_ip(bearer(requests::keyed("spend-tyo", tokyo), APP_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    allocate("spend-3", 1).await.unwrap();
    assert!(matches!(
        allocate("spend-4", 1).await,
        Err(status) if status.code() == Code::ResourceExhausted
    ));
    // Of all these, only spend-3 allocated (and the refused zone was sent).
    assert_eq!(allocations().await, 2);

    // An hour later the window has room again.
    clock.advance(Duration::from_secs(3601));
    allocate("spend-2", 2).await.unwrap();
}

/// An account's day counts every caller (and calls made with authorization
/// off): the account is refused whoever asks.
#[tokio::test]
async fn an_accounts_spend_limit_counts_every_caller() {
    let setup = Setup::start("", "max_addresses_per_day = 2", &[]).await;
    let mut client = setup.client();
    client.allocate_ip(zenlayer(2)).await.unwrap();
    let status = client.allocate_ip(zenlayer(1)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let (_, _, metadata) = error_info(&status);
    assert_eq!(
        (
            metadata["spendScope"].as_str(),
            metadata["spendWindow"].as_str(),
            metadata["caller"].as_str()
        ),
        ("account", "day", "")
    );
    // Alibaba's account has no limit.
    client
        .allocate_ip(requests::aliyun(
            "aliyun",
            requests::instance("i-emuready001"),
        ))
        .await
        .unwrap();
    setup.clock.unwrap().advance(Duration::from_secs(86_401));
    client.allocate_ip(zenlayer(2)).await.unwrap();
}

/// The real binary on a file store: what a caller spent before a restart
/// still counts after it (and the trail went to stderr, one JSON line per
/// outcome).
#[tokio::test]
async fn a_restart_on_a_file_store_does_not_reset_the_spend() {
    let (_emulators, aliyun_url, zenlayer_url) = both(&EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[server]\nshutdown_drain_ms = 0\n\
         [idempotency]\npath = \"{}\"\n\
         [callers.app]\ntoken_env = [\"IPALLOC_APP_TOKEN\"]\nmax_addresses_per_hour = 2\n{}",
        dir.path().join("idempotency.redb").display(),
        providers_toml(&aliyun_url, &zenlayer_url, "", "")
    );
    let spawn = || {
        common::process::spawn(dir.path(), &config, |command| {
            command.env("IPALLOC_APP_TOKEN", APP_TOKEN);
        })
    };
    let mut first = spawn();
    let mut client = first.client().await;
    client
        .allocate_ip(bearer(requests::keyed("restart-1", zenlayer(2)), APP_TOKEN))
        .await
        .unwrap();
    let log = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .unwrap();
    let trail: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["action"] == "allocate")
        .collect();
    assert_eq!(trail.len(), 1, "{log}");
    assert_eq!(
        (
            &trail[0]["caller"],
            &trail[0]["code"],
            &trail[0]["addresses"]
        ),
        (&"app".into(), &"OK".into(), &2.into())
    );

    let mut second = spawn();
    let mut client = second.client().await;
    let status = client
        .allocate_ip(bearer(requests::keyed("restart-2", zenlayer(1)), APP_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(refusal(&status, "spendUsed").1, "2");
    // The first key is still answered (a replay counts nothing).
    client
        .allocate_ip(bearer(requests::keyed("restart-1", zenlayer(2)), APP_TOKEN))
        .await
        .unwrap();
    assert_eq!(counters(&zenlayer_url).await.allocate_calls, 1);
    tokio::task::spawn_blocking(move || second.terminate())
        .await
        .unwrap();
}

/// Fleet mode: two gateways on one database count in one ledger.
#[tokio::test]
async fn in_fleet_mode_every_gateway_counts_in_one_ledger() {
    let db = common::postgres::fresh_database().await;
    let (_emulators, aliyun_url, zenlayer_url) = both(&EmulatorOptions::default()).await;
    let text = format!(
        "{}[callers.app]\ntoken_sha256 = [\"{}\"]\nmax_addresses_per_hour = 2\n{}",
        db.cluster_table(""),
        sha256_hex(APP_TOKEN),
        providers_toml(&aliyun_url, &zenlayer_url, "", "")
    );
    let mut gateways = Vec::new();
    let mut clocks = Vec::new();
    for _ in 0..2 {
        let mut gateway = Gateway::start(&test_config(&text, HashMap::new()))
            .await
            .unwrap();
        gateway.audit = Audit::discard();
        clocks.push(gateway.spend_clock().unwrap());
        gateways.push(serve_gateway(gateway).await);
    }
    for (i, gateway) in gateways.iter().enumerate() {
        let request = bearer(
            requests::keyed(&format!("fleet-{i}"), zenlayer(1)),
            APP_TOKEN,
        );
        gateway.client.clone().allocate_ip(request).await.unwrap();
    }
    for (i, gateway) in gateways.iter().enumerate() {
        let request = bearer(
            requests::keyed(&format!("fleet-x{i}"), zenlayer(1)),
            APP_TOKEN,
        );
        let status = gateway
            .client
            .clone()
            .allocate_ip(request)
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::ResourceExhausted,
            "gateway {i}: {status:?}"
        );
        assert_eq!(refusal(&status, "spendUsed").1, "2");
    }
    assert_eq!(counters(&zenlayer_url).await.allocate_calls, 2);
    // An hour later (on the second gateway's clock) there is room again.
    clocks[1].advance(Duration::from_secs(3601));
    let request = bearer(requests::keyed("fleet-later", zenlayer(2)), APP_TOKEN);
    gateways[1]
        .client
        .clone()
        .allocate_ip(request)
        .await
        .unwrap();
}

/// The caller named by the refusal of an Alibaba allocation (by a caller
/// allowed only Zenlayer).
async fn refused_aliyun_caller(
    client: &mut pb::ip_allocation_client::IpAllocationClient<tonic::transport::Channel>,
) -> String {
    let request = requests::aliyun("aliyun", requests::instance("i-emuready001"));
    let status = client.allocate_ip(request).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    refusal(&status, "caller").1
}

/// The tail of a caller's table that allows it only the Zenlayer account.
const ZL_ONLY: &str = "providers = [\"zenlayer\"]\n";

/// On the Unix socket, the peer's uid (then gid) names the caller: this
/// process's uid or gid is let in (no token needed), any other is
/// UNAUTHENTICATED, and a token still decides over the peer.
#[tokio::test]
async fn a_unix_socket_peer_is_known_by_its_uid_or_gid() {
    let (_emulators, aliyun_url, zenlayer_url) = both(&EmulatorOptions::default()).await;
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let cases = [
        // (the callers, who the peer is, or None: refused)
        (
            format!("[callers.me]\nunix_uids = [{uid}]\n{ZL_ONLY}"),
            Some("me"),
        ),
        (
            format!(
                "[callers.other]\nunix_uids = [{}]\n[callers.group]\nunix_gids = [{gid}]\n{ZL_ONLY}",
                uid.wrapping_add(1)
            ),
            Some("group"),
        ),
        (
            format!(
                "[callers.other]\nunix_uids = [{}]\nunix_gids = [{}]\n",
                uid.wrapping_add(1),
                gid.wrapping_add(1)
            ),
            None,
        ),
    ];
    for (callers, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.sock");
        let text = format!(
            "[server]\nunix_socket = \"{}\"\n{callers}\n\
             [callers.token]\ntoken_sha256 = [\"{}\"]\nrpcs = [\"ListProviders\"]\n{}",
            path.display(),
            sha256_hex(APP_TOKEN),
            providers_toml(&aliyun_url, &zenlayer_url, "", "")
        );
        let served = common::transport::serve(&text).await;
        let channel = common::transport::unix_channel(&path).await;
        let mut client = pb::ip_allocation_client::IpAllocationClient::new(channel);
        let result = client.allocate_ip(zenlayer(1)).await;
        match expected {
            Some(name) => {
                result.unwrap_or_else(|e| panic!("{callers}: {e:?}"));
                // Which caller it was: the one allowed only Zenlayer.
                assert_eq!(refused_aliyun_caller(&mut client).await, name, "{callers}");
            }
            None => {
                let status = result.unwrap_err();
                assert_eq!(
                    status.code(),
                    Code::Unauthenticated,
                    "{callers}: {status:?}"
                );
                assert_eq!(refusal(&status, "grpcMethod").0, "CALLER_UNAUTHENTICATED");
            }
        }
        // The token's caller may only list providers, whoever the peer is.
        let status = client
            .allocate_ip(bearer(zenlayer(1), APP_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{callers}: {status:?}"
        );
        assert_eq!(refusal(&status, "caller").1, "token");
        served.stopped().await;
    }
}

/// With mTLS, the client certificate's SANs name the caller; a certificate
/// the CA signed for no caller's SAN is UNAUTHENTICATED.
#[tokio::test]
async fn an_mtls_client_is_known_by_its_certificates_san() {
    use common::transport::{Ca, client_tls, tls_channel, tls_table};
    let (_emulators, aliyun_url, zenlayer_url) = both(&EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let text = format!(
        "listen = \"127.0.0.1:0\"\n{}[callers.billing]\ncert_sans = [\"spiffe://prod/ns/billing/sa/api\"]\n\
         providers = [\"zenlayer\"]\n{}",
        tls_table(dir.path(), &ca.server(), Some(&ca)),
        providers_toml(&aliyun_url, &zenlayer_url, "", "")
    );
    let served = common::transport::serve(&text).await;
    let addr = served.api.expect("the API on TCP");
    let billing = ca.client(&["billing.internal", "spiffe://prod/ns/billing/sa/api"]);
    let channel = tls_channel(addr, client_tls(&ca, Some(&billing)))
        .await
        .unwrap();
    let mut client = pb::ip_allocation_client::IpAllocationClient::new(channel);
    client.allocate_ip(zenlayer(1)).await.unwrap();
    assert_eq!(refused_aliyun_caller(&mut client).await, "billing");

    let stranger = ca.client(&["stranger.internal"]);
    let channel = tls_channel(addr, client_tls(&ca, Some(&stranger)))
        .await
        .unwrap();
    let status = pb::ip_allocation_client::IpAllocationClient::new(channel)
        .allocate_ip(zenlayer(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(counters(&aliyun_url).await.requests, 0);
    served.stopped().await;
}
