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
