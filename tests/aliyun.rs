//! Alibaba Cloud ECS end to end: tonic client -> gateway -> scripted provider.
//! Asserts the exact HTTP request (method, path, headers, every query
//! parameter, and a signature recomputed here from the spec, independently
//! of the gateway's signer) for RPC V1 (with and without STS) and V3, the
//! response mapping, and GetAllocation.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::signatures;
use std::collections::BTreeMap;

use common::*;
use ipalloc_gateway::pb;
use serde_json::json;

fn allocate(params: pb::AliyunAllocateParams) -> pb::AllocateIpRequest {
    requests::aliyun("ali", params)
}

fn ok_reply() -> Reply {
    Reply::json(
        200,
        json!({"RequestId": "F2EF6A3B-E345-46B9-931E-0EA094818567", "IpAddress": "47.95.10.20"}),
    )
}

fn assert_fresh_timestamp(text: &str) {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(
        text.ends_with('Z') && text.len() == 20,
        "YYYY-MM-DDThh:mm:ssZ: {text}"
    );
    let skew = (time::OffsetDateTime::now_utc() - parsed)
        .whole_seconds()
        .abs();
    assert!(skew <= 5, "timestamp {text} is {skew}s off");
}

/// A gateway with Alibaba account `ali` (configured with `extra`, the
/// environment holding `STS_FOR_TEST`) on a scripted provider that accepts
/// every allocation.
async fn scripted_account(extra: &str) -> (Scripted, TestGateway) {
    let server = Scripted::start(vec![ok_reply()]).await;
    let gateway = start_gateway_with_env(
        &aliyun_provider("ali", &server.url(), extra),
        [("STS_FOR_TEST".to_owned(), ALIYUN_STS.to_owned())].into(),
    )
    .await;
    (server, gateway)
}

/// One successful AllocateIp with `params`.
async fn allocate_with(
    gateway: &TestGateway,
    params: pb::AliyunAllocateParams,
) -> pb::AllocateIpResponse {
    gateway
        .client
        .clone()
        .allocate_ip(allocate(params))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn v1_allocation_request_is_exact_and_signed() {
    let (server, gateway) = scripted_account("").await;
    let response = allocate_with(
        &gateway,
        pb::AliyunAllocateParams {
            instance_id: "i-bp1abcdefghijk123456".into(),
            ip_address: "47.95.10.20".into(),
            vlan_id: "100".into(),
            region_id: "cn-beijing".into(),
        },
    )
    .await;

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    assert!(request.body.is_empty(), "parameters travel in the query");
    let params: BTreeMap<String, String> = request.query_pairs().into_iter().collect();
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "Action",
            "Format",
            "InstanceId",
            "IpAddress",
            "RegionId",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureType",
            "SignatureVersion",
            "Timestamp",
            "Version",
            "VlanId"
        ]
    );
    assert_eq!(params["SignatureType"], "", "as the legacy SDK signs it");
    assert_eq!(params["Action"], "AllocatePublicIpAddress");
    assert_eq!(params["Version"], "2014-05-26");
    assert_eq!(params["Format"], "JSON");
    assert_eq!(params["AccessKeyId"], ALIYUN_AK_ID);
    assert_eq!(params["SignatureMethod"], "HMAC-SHA1");
    assert_eq!(params["SignatureVersion"], "1.0");
    assert_eq!(params["RegionId"], "cn-beijing");
    assert_eq!(params["InstanceId"], "i-bp1abcdefghijk123456");
    assert_eq!(params["IpAddress"], "47.95.10.20");
    assert_eq!(params["VlanId"], "100");
    let nonce = &params["SignatureNonce"];
    assert!(
        nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()),
        "{nonce}"
    );
    assert_fresh_timestamp(&params["Timestamp"]);
    assert_eq!(
        params["Signature"],
        signatures::aliyun_v1(request, ALIYUN_SECRET)
    );
    // The wire encoding is RFC 3986 (':' as %3A, signature '=' as %3D).
    assert!(request.query.contains("Timestamp=20"), "{}", request.query);
    assert!(request.query.contains("%3A"), "{}", request.query);
    assert!(
        !request.query.contains('+'),
        "no '+' for spaces or in the signature"
    );

    assert_eq!(response.provider, "ali");
    assert_eq!(
        response.provider_request_id,
        "F2EF6A3B-E345-46B9-931E-0EA094818567"
    );
    assert_eq!(response.order_number, "");
    assert_eq!(response.allocations.len(), 1);
    let allocation = &response.allocations[0];
    assert_eq!(allocation.id, "i-bp1abcdefghijk123456");
    assert_eq!(allocation.instance_id, "i-bp1abcdefghijk123456");
    assert_eq!(allocation.ip_address, "47.95.10.20");
    assert_eq!(allocation.state(), pb::AllocationState::Ready);
    assert_eq!(allocation.region_id, "cn-beijing");
    assert_eq!(allocation.provider_kind(), pb::ProviderKind::Aliyun);
    assert!(allocation.requires_instance_restart, "Alibaba's rule");
}

#[tokio::test]
async fn every_attempt_gets_a_fresh_nonce() {
    let (server, gateway) = scripted_account("").await;
    for _ in 0..3 {
        allocate_with(&gateway, requests::instance("i-bp1abc")).await;
    }
    let nonces: std::collections::HashSet<String> = server
        .requests()
        .iter()
        .map(|r| r.param("SignatureNonce").unwrap())
        .collect();
    assert_eq!(nonces.len(), 3);
}

#[tokio::test]
async fn v1_with_sts_token_signs_the_security_token() {
    let (server, gateway) = scripted_account("security_token_env = \"STS_FOR_TEST\"").await;
    allocate_with(&gateway, requests::instance("i-2ze0example0000002")).await;
    let request = server.last_request();
    assert_eq!(request.param("SecurityToken").as_deref(), Some(ALIYUN_STS));
    // '+', '/' and '=' in the token are percent-encoded on the wire.
    assert!(
        request
            .query
            .contains("SecurityToken=CAIS%2Btest%2Fsts-token%3D%3D")
    );
    assert_eq!(
        request.param("Signature").unwrap(),
        signatures::aliyun_v1(&request, ALIYUN_SECRET)
    );
}

#[tokio::test]
async fn v3_request_is_exact_and_signed() {
    let extra = "signature_version = \"v3\"\nsecurity_token_env = \"STS_FOR_TEST\"";
    let (server, gateway) = scripted_account(extra).await;
    allocate_with(
        &gateway,
        pb::AliyunAllocateParams {
            ip_address: "47.95.10.20".into(),
            ..requests::instance("i-2ze0example0000002")
        },
    )
    .await;
    let request = server.last_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    let mut query = request.query_pairs();
    query.sort();
    assert_eq!(
        query,
        [
            ("InstanceId".to_owned(), "i-2ze0example0000002".to_owned()),
            ("IpAddress".to_owned(), "47.95.10.20".to_owned()),
        ],
        "V3 moves the common parameters into headers; RegionId is not a parameter of the action"
    );
    assert_eq!(
        request.header("x-acs-action"),
        Some("AllocatePublicIpAddress")
    );
    assert_eq!(request.header("x-acs-version"), Some("2014-05-26"));
    assert_eq!(request.header("x-acs-security-token"), Some(ALIYUN_STS));
    assert_eq!(request.header("x-acs-accesskey-id"), Some(ALIYUN_AK_ID));
    assert_eq!(
        request.header("x-acs-content-sha256"),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        request.header("host"),
        Some(server.addr.to_string().as_str())
    );
    assert_fresh_timestamp(request.header("x-acs-date").unwrap());
    let nonce = request.header("x-acs-signature-nonce").unwrap();
    assert_eq!(nonce.len(), 32);
    let auth = request.header("authorization").unwrap();
    assert!(
        auth.contains("SignedHeaders=host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"),
        "{auth}"
    );
    assert_eq!(
        auth,
        signatures::aliyun_v3_authorization(&request, ALIYUN_AK_ID, ALIYUN_SECRET)
    );
}

#[tokio::test]
async fn get_allocation_reads_the_instance_public_ip() {
    let server = Scripted::start(vec![Reply::json(
        200,
        json!({
            "RequestId": "R-DESC-1", "InstanceId": "i-bp1abc", "RegionId": "cn-hangzhou",
            "ZoneId": "cn-hangzhou-h", "Status": "Stopped", "InstanceNetworkType": "vpc",
            "InternetMaxBandwidthOut": 5,
            "PublicIpAddress": {"IpAddress": ["47.95.10.20"]},
            "EipAddress": {"IpAddress": "", "AllocationId": ""},
            "OperationLocks": {"LockReason": []}
        }),
    )])
    .await;
    let gateway = start_gateway(&aliyun_provider("ali", &server.url(), "")).await;
    let mut client = gateway.client.clone();
    let allocation = client
        .get_allocation(pb::GetAllocationRequest {
            provider: String::new(), // the only provider
            id: "i-bp1abc".into(),
            region_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(allocation.ip_address, "47.95.10.20");
    assert_eq!(allocation.state(), pb::AllocationState::Ready);
    assert_eq!(allocation.provider_status, "Stopped");
    assert_eq!(allocation.region_id, "cn-hangzhou");
    assert!(allocation.requires_instance_restart);
    let request = server.last_request();
    assert_eq!(
        request.param("Action").as_deref(),
        Some("DescribeInstanceAttribute")
    );
    assert_eq!(request.param("InstanceId").as_deref(), Some("i-bp1abc"));
    assert_eq!(
        request.param("Signature").unwrap(),
        signatures::aliyun_v1(&request, ALIYUN_SECRET)
    );

    // An instance with only an EIP has no static public IP: NOT_FOUND.
    server.set_replies(vec![Reply::json(
        200,
        json!({
            "RequestId": "R-DESC-2", "InstanceId": "i-bp1abc", "Status": "Running",
            "PublicIpAddress": {"IpAddress": []},
            "EipAddress": {"IpAddress": "39.1.2.3", "AllocationId": "eip-x"}
        }),
    )]);
    let status = client
        .get_allocation(requests::lookup("ali", "i-bp1abc"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(reason, "PUBLIC_IP_NOT_ALLOCATED");
    assert_eq!(domain, "ecs.aliyuncs.com");
    assert_eq!(metadata["providerRequestId"], "R-DESC-2");
    assert!(
        status.message().contains("39.1.2.3"),
        "{}",
        status.message()
    );
}
