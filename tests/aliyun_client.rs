//! The gateway's `AliyunProvider` against a scripted server on 127.0.0.1
//! (tests/common/scripted.rs): the requests it puts on the wire, V1 and V3,
//! with their signatures recomputed independently
//! (tests/common/signatures.rs), and how it reads canned answers:
//! allocations, lookups, API errors, proxy pages, a refused connection.
//! Also what needs no server: settings validation, the description, `Debug`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(dead_code)]
use std::time::Duration;

use common::{Recorded, Reply, Scripted, settings};
use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::provider::aliyun::client::{
    ALLOCATE_PUBLIC_IP_ADDRESS, DESCRIBE_INSTANCE_ATTRIBUTE, PUBLIC_IP_NOT_ALLOCATED,
};
use ipalloc_gateway::provider::aliyun::signer::canonical_query;
use ipalloc_gateway::provider::aliyun::{
    AliyunCredentials, AliyunProvider, AliyunSettings, SignatureVersion,
};
use ipalloc_gateway::provider::error::{ProviderError, SendPhase};
use ipalloc_gateway::provider::model::{
    AliyunAllocate, AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    Capabilities, ChargeType, ProviderKind, ZenlayerAllocate,
};
use ipalloc_gateway::provider::{CallContext, Provider};

const AK_ID: &str = "LTAI5tExampleAkId0001";
const SECRET: &str = "TopSecret/Value+=-7f3e";
const TOKEN: &str = "CAIS+sts/token==value";

fn credentials(sts: bool) -> AliyunCredentials {
    AliyunCredentials {
        access_key_id: AK_ID.into(),
        access_key_secret: Secret::new(SECRET),
        security_token: sts.then(|| Secret::new(TOKEN)),
    }
}

/// Account `ali-test` in `cn-hangzhou`, with an STS token when `sts`;
/// `endpoint` overrides the regional URLs.
fn settings(signature: SignatureVersion, sts: bool, endpoint: Option<&str>) -> AliyunSettings {
    settings::aliyun_account("ali-test", endpoint, signature, credentials(sts))
}

/// The provider with every region sent to `base`.
fn provider(signature: SignatureVersion, sts: bool, base: &str) -> AliyunProvider {
    AliyunProvider::new(settings(signature, sts, Some(base))).unwrap()
}

/// The provider on the regional URLs (for tests that send nothing).
fn regional(signature: SignatureVersion, sts: bool) -> AliyunProvider {
    AliyunProvider::new(settings(signature, sts, None)).unwrap()
}

/// A canned answer with exactly `headers` (besides `content-length`).
fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    Reply::Respond {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
        delay: Duration::ZERO,
    }
}

fn spec(region: Option<&str>) -> AllocateSpec {
    AllocateSpec::Aliyun(AliyunAllocate {
        instance_id: "i-bp1abcdefghijk123456".into(),
        ip_address: None,
        vlan_id: None,
        region_id: region.map(str::to_owned),
    })
}

fn lookup(id: &str, region: Option<&str>) -> AllocationLookup {
    AllocationLookup {
        id: id.into(),
        region_id: region.map(str::to_owned),
    }
}

/// Serves `replies` and makes one provider of `signature` (with an STS
/// token when `sts`) against them.
async fn serve(
    signature: SignatureVersion,
    sts: bool,
    replies: Vec<Reply>,
) -> (Scripted, AliyunProvider) {
    let server = Scripted::start(replies).await;
    let provider = provider(signature, sts, &server.url());
    (server, provider)
}

/// Checks the V1 signature of a request as it arrived: `Signature` comes
/// last, covers every other parameter, and the query went out exactly as
/// signed (sorted and encoded).
fn assert_v1_verifies(request: &Recorded) {
    let pairs = request.query_pairs();
    let (last_name, signature) = pairs.last().unwrap();
    assert_eq!(last_name, "Signature", "Signature comes last");
    assert_eq!(&common::signatures::aliyun_v1(request, SECRET), signature);
    let signed: Vec<(&str, &str)> = pairs[..pairs.len() - 1]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(request.query.starts_with(&canonical_query(&signed)));
}

/// Checks the V3 `Authorization` of a request as it arrived.
fn assert_v3_verifies(request: &Recorded) {
    let authorization = request.header("authorization").unwrap();
    let parsed = common::signatures::parse_v3(authorization).unwrap();
    let expected = format!(
        "ACS3-HMAC-SHA256 Credential={AK_ID},SignedHeaders={},Signature={}",
        parsed.signed_headers.join(";"),
        common::signatures::aliyun_v3(request, &parsed.signed_headers, SECRET)
    );
    assert_eq!(expected, authorization);
}

#[tokio::test]
async fn allocate_success_v1_end_to_end() {
    let (server, provider) = serve(
        SignatureVersion::V1,
        true,
        vec![canned(
            200,
            &[("content-type", "application/json;charset=utf-8")],
            r#"{"RequestId":"F2EF6A3B-E345-46B9-931E-0EA094818567","IpAddress":"47.95.10.20"}"#,
        )],
    )
    .await;
    let result = provider
        .allocate(&spec(Some("cn-beijing")), &CallContext::default())
        .await
        .unwrap();
    assert_eq!(
        result,
        AllocateResult {
            provider_request_id: "F2EF6A3B-E345-46B9-931E-0EA094818567".into(),
            order_number: None,
            allocations: vec![Allocation {
                id: "i-bp1abcdefghijk123456".into(),
                ip_address: Some("47.95.10.20".into()),
                state: AllocationState::Ready,
                provider_status: String::new(),
                zone_id: None,
                region_id: Some("cn-beijing".into()),
                requires_instance_restart: true,
                instance_id: Some("i-bp1abcdefghijk123456".into()),
                failure_reason: None,
                netmask: None,
            }],
        }
    );
    let request = server.last_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    assert_v1_verifies(&request);
    assert_eq!(request.param("RegionId").as_deref(), Some("cn-beijing"));
    assert_eq!(request.param("SecurityToken").as_deref(), Some(TOKEN));
    assert_eq!(request.header("content-length").unwrap_or("0"), "0");
}

#[tokio::test]
async fn allocate_success_v3_end_to_end() {
    let (server, provider) = serve(
        SignatureVersion::V3,
        true,
        vec![canned(
            200,
            &[],
            r#"{"RequestId":"R-3","IpAddress":"47.95.10.21"}"#,
        )],
    )
    .await;
    let result = provider
        .allocate(&spec(None), &CallContext::default())
        .await
        .unwrap();
    assert_eq!(result.provider_request_id, "R-3");
    assert_eq!(
        result.allocations[0].region_id.as_deref(),
        Some("cn-hangzhou")
    );

    let request = server.last_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    assert_eq!(request.query, "InstanceId=i-bp1abcdefghijk123456");
    assert_eq!(
        request.header("host"),
        Some(server.url().trim_start_matches("http://"))
    );
    assert_v3_verifies(&request);
}

#[tokio::test]
async fn allocate_api_error_keeps_code_request_id_and_retry_after() {
    let (_server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![canned(
            400,
            &[("x-acs-retry-after", "1500")],
            r#"{"RequestId":"R-T","HostId":"ecs.cn-hangzhou.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"https://api.aliyun.com/troubleshoot?q=Throttling.User"}"#,
        )],
    )
    .await;
    let error = provider
        .allocate(&spec(None), &CallContext::default())
        .await
        .unwrap_err();
    let ProviderError::Api(api) = &error else {
        panic!("expected Api, got {error:?}")
    };
    assert_eq!(api.op, ALLOCATE_PUBLIC_IP_ADDRESS);
    assert_eq!(api.http_status, 400);
    assert_eq!(api.code, "Throttling.User");
    assert_eq!(api.request_id.as_deref(), Some("R-T"));
    assert_eq!(api.retry_after, Some(Duration::from_millis(1500)));
    let text = error.to_string();
    assert!(!text.contains(SECRET) && !text.contains("Signature=") && !text.contains("127.0.0.1"));
}

#[tokio::test]
async fn proxy_html_page_is_malformed() {
    let (_server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![
            canned(
                502,
                &[("content-type", "text/html")],
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            canned(200, &[], r#"{"RequestId":"R-4"}"#),
        ],
    )
    .await;
    let error = provider
        .allocate(&spec(None), &CallContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::MalformedResponse { http_status: 502, detail, .. } if detail.contains("502 Bad Gateway")),
        "{error:?}"
    );
    let error = provider
        .allocate(&spec(None), &CallContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::MalformedResponse { http_status: 200, request_id: Some(id), .. } if id == "R-4"),
        "{error:?}"
    );
}

#[tokio::test]
async fn get_allocation_with_public_ip() {
    let (server, provider) = serve(
        SignatureVersion::V3,
        false,
        vec![canned(
            200,
            &[],
            r#"{"RequestId":"R-5","InstanceId":"i-1","RegionId":"cn-shanghai","ZoneId":"cn-shanghai-b","Status":"Running",
                     "PublicIpAddress":{"IpAddress":["47.95.10.20"]},"EipAddress":{"IpAddress":"","AllocationId":""},
                     "OperationLocks":{"LockReason":[]},"InternetMaxBandwidthOut":5}"#,
        )],
    )
    .await;
    let allocation = provider
        .get_allocation(&lookup("i-1", Some("cn-shanghai")), &CallContext::default())
        .await
        .unwrap();
    assert_eq!(
        allocation,
        Allocation {
            id: "i-1".into(),
            ip_address: Some("47.95.10.20".into()),
            state: AllocationState::Ready,
            provider_status: "Running".into(),
            zone_id: Some("cn-shanghai-b".into()),
            region_id: Some("cn-shanghai".into()),
            requires_instance_restart: true,
            instance_id: Some("i-1".into()),
            failure_reason: None,
            netmask: None,
        }
    );
    let request = server.last_request();
    assert_eq!(request.path, "/");
    assert_eq!(request.query, "InstanceId=i-1", "V3 sends no RegionId");
    assert_eq!(
        request.header("x-acs-action"),
        Some("DescribeInstanceAttribute")
    );
}

#[tokio::test]
async fn get_allocation_without_public_ip_is_not_found() {
    let (_server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![
            canned(
                200,
                &[],
                r#"{"RequestId":"R-6","InstanceId":"i-2","Status":"Stopped","PublicIpAddress":{"IpAddress":[]}}"#,
            ),
            canned(
                200,
                &[],
                r#"{"RequestId":"R-7","InstanceId":"i-2","PublicIpAddress":{"IpAddress":[]},"EipAddress":{"IpAddress":"121.40.1.2","AllocationId":"eip-1"}}"#,
            ),
        ],
    )
    .await;
    let lookup = lookup("i-2", None);
    let error = provider
        .get_allocation(&lookup, &CallContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::NotFound {
            op: DESCRIBE_INSTANCE_ATTRIBUTE,
            reason: PUBLIC_IP_NOT_ALLOCATED,
            message: "instance i-2 has no static public IP".into(),
            request_id: Some("R-6".into()),
        }
    );
    let error = provider
        .get_allocation(&lookup, &CallContext::default())
        .await
        .unwrap_err();
    let ProviderError::NotFound {
        message,
        request_id,
        ..
    } = &error
    else {
        panic!("expected NotFound, got {error:?}")
    };
    assert!(message.contains("121.40.1.2"), "{message}");
    assert_eq!(request_id.as_deref(), Some("R-7"));
}

#[tokio::test]
async fn get_allocation_api_error() {
    let (_server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![canned(
            404,
            &[("content-type", "text/xml;charset=utf-8")],
            "<Error><RequestId>R-8</RequestId><HostId>ecs.aliyuncs.com</HostId><Code>InvalidInstanceId.NotFound</Code><Message>The specified InstanceId does not exist.</Message></Error>",
        )],
    )
    .await;
    let error = provider
        .get_allocation(&lookup("i-missing", None), &CallContext::default())
        .await
        .unwrap_err();
    let ProviderError::Api(api) = &error else {
        panic!("expected Api, got {error:?}")
    };
    assert_eq!(api.op, DESCRIBE_INSTANCE_ATTRIBUTE);
    assert_eq!(api.code, "InvalidInstanceId.NotFound");
    assert_eq!(api.request_id.as_deref(), Some("R-8"));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_without_url() {
    // Bind then drop a listener to get a port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let provider = provider(SignatureVersion::V1, true, &base);
    let error = provider
        .allocate(&spec(None), &CallContext::default())
        .await
        .unwrap_err();
    let ProviderError::Transport(transport) = &error else {
        panic!("expected Transport, got {error:?}")
    };
    assert_eq!(transport.phase, SendPhase::NotSent);
    let text = format!("{error} {error:?}");
    for leak in [
        "Signature",
        "SecurityToken",
        "AccessKeyId",
        SECRET,
        "sts%2Ftoken",
    ] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}

#[test]
fn invalid_settings_are_rejected() {
    let mut bad_region = settings(SignatureVersion::V1, false, None);
    bad_region.region = "cn-hangzhou/evil".into();
    assert!(AliyunProvider::new(bad_region).is_err());

    for endpoint in [
        "not a url",
        "ftp://host/",
        "http://user:pw@host/",
        "file:///tmp",
    ] {
        let result = AliyunProvider::new(settings(SignatureVersion::V1, false, Some(endpoint)));
        let error = result.unwrap_err().to_string();
        assert!(!error.contains("pw@"), "{error}");
    }

    let mut no_secret = settings(SignatureVersion::V1, false, None);
    no_secret.credentials.access_key_secret = Secret::new("");
    assert!(AliyunProvider::new(no_secret).is_err());
}

#[test]
fn description_per_signature() {
    let v1 = regional(SignatureVersion::V1, false);
    let d = v1.description();
    assert_eq!(d.name, "ali-test");
    assert_eq!(d.kind, ProviderKind::Aliyun);
    assert_eq!(d.region.as_deref(), Some("cn-hangzhou"));
    assert_eq!(d.endpoint, "https://ecs.cn-hangzhou.aliyuncs.com/");
    assert_eq!(
        d.capabilities,
        Capabilities {
            max_allocations_per_request: 1,
            asynchronous: false,
            requires_instance: true,
            requires_instance_restart: true,
            charge_types: vec![],
            api_version: "ecs/2014-05-26".into(),
            signature: "HMAC-SHA1 (RPC signature V1)".into(),
        }
    );
    let endpoint = Some("http://127.0.0.1:8081");
    let v3 = AliyunProvider::new(settings(SignatureVersion::V3, true, endpoint)).unwrap();
    assert_eq!(v3.description().endpoint, "http://127.0.0.1:8081");
    assert_eq!(
        v3.description().capabilities.signature,
        "ACS3-HMAC-SHA256 (signature V3)"
    );
}

#[test]
fn debug_shows_no_secret() {
    let provider = regional(SignatureVersion::V3, true);
    let debug = format!("{provider:?} {provider:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("ali-test"));
}

#[tokio::test]
async fn wrong_spec_kind_is_internal() {
    let provider = regional(SignatureVersion::V1, false);
    let spec = AllocateSpec::Zenlayer(ZenlayerAllocate {
        zone_id: "z".into(),
        charge: ChargeType::Postpaid,
        resource_group_id: None,
        amount: 1,
        netmask: 32,
        amount_set: true,
        netmask_set: true,
        discount_code: None,
        use_poc_voucher: false,
        tags: vec![],
    });
    assert!(matches!(
        provider.allocate(&spec, &CallContext::default()).await,
        Err(ProviderError::Internal(_))
    ));
}

// ----- the lifecycle on the wire -----

use ipalloc_gateway::provider::aliyun::batch::DESCRIBE_INSTANCES;
use ipalloc_gateway::provider::aliyun::client_token::release_token;
use ipalloc_gateway::provider::aliyun::release::MODIFY_INSTANCE_NETWORK_SPEC;
use ipalloc_gateway::provider::model::ReleaseSpec;

const INSTANCE: &str = "i-bp1abcdefghijk123456";

/// A DescribeInstanceAttribute answer, with a static public IP when `ip`.
fn described(ip: Option<&str>) -> Reply {
    Reply::json(
        200,
        serde_json::json!({
            "RequestId": "D-1", "InstanceId": INSTANCE, "RegionId": "cn-hangzhou",
            "ZoneId": "cn-hangzhou-h", "Status": "Running", "InternetMaxBandwidthOut": 5,
            "PublicIpAddress": {"IpAddress": ip.into_iter().collect::<Vec<_>>()},
            "EipAddress": {"IpAddress": "", "AllocationId": ""},
            "OperationLocks": {"LockReason": []}
        }),
    )
}

fn modified() -> Reply {
    Reply::json(
        200,
        serde_json::json!({"RequestId": "M-1", "OrderId": "123457890"}),
    )
}

fn error_reply(status: u16, code: &str) -> Reply {
    Reply::json(
        status,
        serde_json::json!({"RequestId": "E-1", "Code": code, "Message": "m", "HostId": "ecs"}),
    )
}

async fn release_with_key(
    provider: &AliyunProvider,
    key: &str,
) -> Result<ipalloc_gateway::provider::model::ReleaseResult, ProviderError> {
    let spec = ReleaseSpec {
        id: INSTANCE.into(),
        region_id: None,
        purge: false,
    };
    let ctx = CallContext {
        idempotency_key: Some(key.into()),
        ..CallContext::default()
    };
    provider.release(&spec, &ctx).await
}

/// What the release sends: a DescribeInstanceAttribute, then
/// ModifyInstanceNetworkSpec with exactly InstanceId,
/// InternetMaxBandwidthOut=0 and the token derived from the key (V1 adds
/// the client's RegionId, as aliyun-python-sdk-core does).
#[tokio::test]
async fn release_puts_the_sdk_request_on_the_wire() {
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        for sts in [false, true] {
            let (server, provider) = serve(
                signature,
                sts,
                vec![described(Some("47.96.0.10")), modified()],
            )
            .await;
            let result = release_with_key(&provider, "key-1").await.unwrap();
            assert_eq!(result.provider_request_id, "M-1");
            assert!(!result.already_released);
            assert_eq!(result.allocation.state, AllocationState::Released);
            let requests = server.requests();
            assert_eq!(requests.len(), 2);
            let modify = &requests[1];
            assert_eq!(modify.method, "POST");
            let own: Vec<(String, String)> = match signature {
                SignatureVersion::V1 => {
                    assert_eq!(
                        modify.param("Action").as_deref(),
                        Some(MODIFY_INSTANCE_NETWORK_SPEC.name)
                    );
                    assert_v1_verifies(modify);
                    modify
                        .query_pairs()
                        .into_iter()
                        .filter(|(k, _)| {
                            [
                                "InstanceId",
                                "InternetMaxBandwidthOut",
                                "ClientToken",
                                "RegionId",
                            ]
                            .contains(&k.as_str())
                        })
                        .collect()
                }
                SignatureVersion::V3 => {
                    assert_eq!(
                        modify.header("x-acs-action"),
                        Some("ModifyInstanceNetworkSpec")
                    );
                    assert_v3_verifies(modify);
                    modify.query_pairs()
                }
            };
            let mut expected = vec![
                (
                    "ClientToken".to_owned(),
                    release_token(INSTANCE, Some("key-1")),
                ),
                ("InstanceId".to_owned(), INSTANCE.to_owned()),
                ("InternetMaxBandwidthOut".to_owned(), "0".to_owned()),
            ];
            if signature == SignatureVersion::V1 {
                expected.push(("RegionId".to_owned(), "cn-hangzhou".to_owned()));
                expected.sort();
            }
            assert_eq!(own, expected, "{signature:?} sts={sts}");
        }
    }
}

/// A 5xx the provider may have performed, or a lost answer: the instance
/// is read back. Still holding its IP: the original error, unchanged; the
/// IP gone: released. A read-back that fails also leaves the original
/// error.
#[tokio::test]
async fn an_unknown_outcome_is_read_back() {
    let (server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![
            described(Some("47.96.0.10")),
            error_reply(503, "ServiceUnavailable"),
            described(Some("47.96.0.10")),
        ],
    )
    .await;
    let error = release_with_key(&provider, "k").await.unwrap_err();
    let ProviderError::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (api.http_status, api.code.as_str()),
        (503, "ServiceUnavailable")
    );
    assert_eq!(api.op, MODIFY_INSTANCE_NETWORK_SPEC);
    assert!(error.outcome_unknown());
    assert_eq!(server.requests().len(), 3);

    let (server, provider) = serve(
        SignatureVersion::V3,
        false,
        vec![described(Some("47.96.0.10")), Reply::Drop, described(None)],
    )
    .await;
    let result = release_with_key(&provider, "k").await.unwrap();
    assert!(!result.already_released);
    assert_eq!(result.provider_request_id, "");
    assert_eq!(result.allocation.ip_address.as_deref(), Some("47.96.0.10"));
    assert_eq!(server.requests().len(), 3);

    let (server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![
            described(Some("47.96.0.10")),
            Reply::Drop,
            error_reply(400, "Throttling.User"),
        ],
    )
    .await;
    let error = release_with_key(&provider, "k").await.unwrap_err();
    let ProviderError::Transport(transport) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(transport.phase, SendPhase::Sent);
    assert_eq!(transport.op, MODIFY_INSTANCE_NETWORK_SPEC);
    assert_eq!(server.requests().len(), 3);

    // A definite refusal is not read back.
    let (server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![
            described(Some("47.96.0.10")),
            error_reply(403, "InvalidAccountStatus.NotEnoughBalance"),
        ],
    )
    .await;
    let error = release_with_key(&provider, "k").await.unwrap_err();
    assert!(!error.outcome_unknown());
    assert_eq!(server.requests().len(), 2);
}

/// DescribeInstances: `InstanceIds` as a JSON array, `PageSize=100`, the
/// region once (V1 does not add a second `RegionId`); 101 ids are two
/// calls; an instance returned that was not asked for is ignored.
#[tokio::test]
async fn describe_batch_on_the_wire() {
    let page = Reply::json(
        200,
        serde_json::json!({
            "RequestId": "L-1", "TotalCount": 2, "PageNumber": 1, "PageSize": 100,
            "Instances": {"Instance": [
                {"InstanceId": "i-1", "Status": "Running", "RegionId": "cn-beijing",
                 "PublicIpAddress": {"IpAddress": ["47.1.1.1"]}},
                {"InstanceId": "i-2", "Status": "Stopped",
                 "PublicIpAddress": {"IpAddress": []}},
                {"InstanceId": "i-other", "Status": "Running",
                 "PublicIpAddress": {"IpAddress": ["47.1.1.9"]}}
            ]}
        }),
    );
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        let (server, provider) = serve(signature, false, vec![page.clone()]).await;
        let ids: Vec<String> = ["i-1", "i-2", "i-3"].map(str::to_owned).to_vec();
        let found = provider
            .describe_batch(Some("cn-beijing"), &ids, &CallContext::default())
            .await
            .unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].state, AllocationState::Ready);
        assert_eq!(found[0].ip_address.as_deref(), Some("47.1.1.1"));
        assert_eq!(found[1].state, AllocationState::Released);
        assert_eq!(found[1].provider_status, "Stopped");
        assert_eq!(found[1].region_id.as_deref(), Some("cn-beijing"));
        let request = server.last_request();
        assert_eq!(
            request.param("InstanceIds").as_deref(),
            Some(r#"["i-1","i-2","i-3"]"#)
        );
        assert_eq!(request.param("PageSize").as_deref(), Some("100"));
        let regions = request
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k == "RegionId")
            .count();
        assert_eq!(regions, 1, "{signature:?}");
        assert_eq!(request.param("RegionId").as_deref(), Some("cn-beijing"));
        match signature {
            SignatureVersion::V1 => {
                assert_eq!(
                    request.param("Action").as_deref(),
                    Some(DESCRIBE_INSTANCES.name)
                );
                assert_v1_verifies(&request);
            }
            SignatureVersion::V3 => assert_v3_verifies(&request),
        }

        let many: Vec<String> = (0..101).map(|n| format!("i-{n}")).collect();
        provider
            .describe_batch(None, &many, &CallContext::default())
            .await
            .unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 3, "100 + 1");
        let last: Vec<String> =
            serde_json::from_str(&requests[2].param("InstanceIds").unwrap()).unwrap();
        assert_eq!(last, ["i-100"]);
        assert_eq!(
            requests[1].param("RegionId").as_deref(),
            Some("cn-hangzhou")
        );
    }

    let (_server, provider) = serve(
        SignatureVersion::V1,
        false,
        vec![Reply::raw(200, "text/html", "<html>")],
    )
    .await;
    let error = provider
        .describe_batch(None, &["i-1".to_owned()], &CallContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::MalformedResponse { op, .. } if op == DESCRIBE_INSTANCES),
        "{error:?}"
    );
}
