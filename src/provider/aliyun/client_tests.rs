//! Unit tests of the Alibaba client: the requests it builds (signed as
//! the signer instructs, to the regional URL or the endpoint override), and
//! region and endpoint resolution. The adapter through its public API, and
//! against a scripted server: `tests/aliyun_client.rs`.

use super::*;
use crate::config::secret::Secret;
use crate::provider::aliyun::AliyunCredentials;
use crate::provider::aliyun::signer::{EMPTY_BODY_SHA256, V3Request};
use crate::provider::model::HttpSettings;
use percent_encoding::percent_decode_str;
use reqwest::header::AUTHORIZATION;
use std::collections::BTreeMap;

const SECRET: &str = "TopSecret/Value+=-7f3e";
const TOKEN: &str = "CAIS+sts/token==value";

/// Account `ali-test` in `cn-hangzhou`, with an STS token when `sts`.
fn settings(signature: SignatureVersion, sts: bool, endpoint: Option<String>) -> AliyunSettings {
    AliyunSettings {
        name: "ali-test".into(),
        region: "cn-hangzhou".into(),
        endpoint,
        signature,
        credentials: AliyunCredentials {
            access_key_id: "LTAI5tExampleAkId0001".into(),
            access_key_secret: Secret::new(SECRET),
            security_token: sts.then(|| Secret::new(TOKEN)),
        },
        // Nothing is sent: the defaults do.
        http: HttpSettings::default(),
        follow: Default::default(),
        resilience: Default::default(),
    }
}

fn provider(signature: SignatureVersion, sts: bool) -> AliyunProvider {
    AliyunProvider::new(settings(signature, sts, None)).unwrap()
}

/// The request `provider` builds for `op` with `params`, signed now.
fn built(
    provider: &AliyunProvider,
    op: Operation,
    region: &str,
    params: &[(&'static str, &str)],
) -> reqwest::Request {
    let call = Call {
        region: region.to_owned(),
        params: params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    };
    provider.shared.build_request(op, &call).unwrap()
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8().unwrap().into_owned()
}

/// The query of a built request, decoded, in wire order.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

/// Recomputes the V1 signature of a wire query and checks it.
fn assert_v1_query_verifies(method: &str, query: &str, secret: &str) {
    let pairs = query_pairs(query);
    let (last_name, signature) = pairs.last().unwrap();
    assert_eq!(last_name, "Signature", "Signature comes last");
    let signed: Vec<(&str, &str)> = pairs[..pairs.len() - 1]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = signer::sign_v1(method, &signed, secret);
    assert_eq!(&expected.signature, signature);
    // Sent exactly as signed.
    assert!(query.starts_with(&expected.canonical_query));
}

/// Recomputes the V3 signature from the request as built.
fn assert_v3_request_verifies(request: &reqwest::Request, secret: &str) {
    let authorization = request.headers()[AUTHORIZATION].to_str().unwrap();
    let signed_names = authorization
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let headers: Vec<(&str, &str)> = signed_names
        .split(';')
        .map(|name| (name, request.headers()[name].to_str().unwrap()))
        .collect();
    let query = query_pairs(request.url().query().unwrap());
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let credential = authorization
        .split("Credential=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let expected = signer::sign_v3(
        &V3Request {
            method: request.method().as_str(),
            query: &query,
            headers: &headers,
            hashed_payload: request.headers()["x-acs-content-sha256"].to_str().unwrap(),
        },
        credential,
        secret,
    );
    assert_eq!(expected.authorization, authorization);
    assert_eq!(request.url().query().unwrap(), expected.canonical_query);
}

// ----- request building -----

#[test]
fn v1_request_carries_every_parameter_signed() {
    for sts in [false, true] {
        let provider = provider(SignatureVersion::V1, sts);
        let request = built(
            &provider,
            ALLOCATE_PUBLIC_IP_ADDRESS,
            "cn-beijing",
            &[
                ("InstanceId", "i-2ze0example0000002"),
                ("IpAddress", "47.95.10.20"),
                ("VlanId", "100 *~"),
            ],
        );
        assert_eq!(request.method(), "POST");
        assert!(request.body().is_none_or(|b| b.as_bytes() == Some(&[][..])));
        assert_eq!(request.url().scheme(), "https");
        assert_eq!(
            request.url().host_str(),
            Some("ecs.cn-beijing.aliyuncs.com")
        );
        assert_eq!(request.url().path(), "/");
        let query = request.url().query().unwrap();
        assert!(!query.contains('+') && !query.contains(' '), "{query}");
        let params: BTreeMap<String, String> = query_pairs(query).into_iter().collect();
        assert_eq!(params["Action"], "AllocatePublicIpAddress");
        assert_eq!(params["Version"], "2014-05-26");
        assert_eq!(params["Format"], "JSON");
        assert_eq!(params["AccessKeyId"], "LTAI5tExampleAkId0001");
        assert_eq!(params["SignatureMethod"], "HMAC-SHA1");
        assert_eq!(params["SignatureVersion"], "1.0");
        assert_eq!(params["RegionId"], "cn-beijing");
        assert_eq!(params["InstanceId"], "i-2ze0example0000002");
        assert_eq!(params["IpAddress"], "47.95.10.20");
        assert_eq!(params["VlanId"], "100 *~");
        // 32 lowercase hex digits, as both official SDKs send.
        let nonce = &params["SignatureNonce"];
        assert_eq!(nonce.len(), 32, "{nonce}");
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // The legacy SDK's empty, signed SignatureType.
        assert_eq!(params["SignatureType"], "");
        let ts = &params["Timestamp"];
        assert!(
            time::PrimitiveDateTime::parse(
                ts.trim_end_matches('Z'),
                &time::format_description::well_known::Iso8601::DEFAULT
            )
            .is_ok(),
            "{ts}"
        );
        assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
        assert_eq!(
            params.get("SecurityToken").map(String::as_str),
            sts.then_some(TOKEN)
        );
        assert_eq!(params.len(), 14 + usize::from(sts));
        assert_v1_query_verifies("POST", query, SECRET);
        assert!(!query.contains(SECRET));
        // No signing headers in V1; the action and version repeated as
        // the SDKs repeat them.
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(request.headers()["x-acs-action"], "AllocatePublicIpAddress");
        assert_eq!(request.headers()["x-acs-version"], "2014-05-26");
    }
}

#[test]
fn every_call_is_signed_afresh() {
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        let provider = provider(signature, false);
        let build = || {
            built(
                &provider,
                DESCRIBE_INSTANCE_ATTRIBUTE,
                "cn-hangzhou",
                &[("InstanceId", "i-1")],
            )
        };
        let (a, b) = (build(), build());
        match signature {
            // The nonce (and so the signature) is in the query.
            SignatureVersion::V1 => assert_ne!(a.url().query(), b.url().query()),
            SignatureVersion::V3 => {
                assert_ne!(
                    a.headers()["x-acs-signature-nonce"],
                    b.headers()["x-acs-signature-nonce"]
                );
                assert_ne!(a.headers()[AUTHORIZATION], b.headers()[AUTHORIZATION]);
            }
        }
    }
}

#[test]
fn v3_request_headers_and_query() {
    for sts in [false, true] {
        let provider = provider(SignatureVersion::V3, sts);
        let request = built(
            &provider,
            ALLOCATE_PUBLIC_IP_ADDRESS,
            "cn-hangzhou",
            &[("InstanceId", "i-bp1abcdefghijk123456"), ("VlanId", "a b")],
        );
        assert_eq!(request.method(), "POST");
        assert_eq!(
            request.url().query(),
            Some("InstanceId=i-bp1abcdefghijk123456&VlanId=a%20b")
        );
        let headers = request.headers();
        assert_eq!(headers["host"], "ecs.cn-hangzhou.aliyuncs.com");
        assert_eq!(headers["x-acs-action"], "AllocatePublicIpAddress");
        assert_eq!(headers["x-acs-version"], "2014-05-26");
        assert_eq!(headers["x-acs-content-sha256"], EMPTY_BODY_SHA256);
        let nonce = headers["x-acs-signature-nonce"].to_str().unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(headers["x-acs-date"].to_str().unwrap().len(), 20);
        assert_eq!(headers[ACCEPT], "application/json");
        let authorization = headers[AUTHORIZATION].to_str().unwrap();
        assert!(headers[AUTHORIZATION].is_sensitive());
        if sts {
            assert_eq!(headers["x-acs-security-token"], TOKEN);
            assert!(headers["x-acs-security-token"].is_sensitive());
            assert_eq!(headers["x-acs-accesskey-id"], "LTAI5tExampleAkId0001");
            assert!(authorization.contains(
                "SignedHeaders=host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
            ));
        } else {
            assert!(headers.get("x-acs-security-token").is_none());
            assert!(headers.get("x-acs-accesskey-id").is_none());
            assert!(authorization.contains(
                "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
            ));
        }
        assert!(authorization.starts_with("ACS3-HMAC-SHA256 Credential=LTAI5tExampleAkId0001,"));
        assert_v3_request_verifies(&request, SECRET);
    }
}

#[test]
fn v3_host_header_includes_an_explicit_port() {
    let endpoint = Some("http://127.0.0.1:8081".to_owned());
    let provider = AliyunProvider::new(settings(SignatureVersion::V3, false, endpoint)).unwrap();
    let request = built(
        &provider,
        ALLOCATE_PUBLIC_IP_ADDRESS,
        "cn-beijing",
        &[("InstanceId", "i-1")],
    );
    assert_eq!(request.headers()["host"], "127.0.0.1:8081");
    assert_eq!(
        request.url().as_str().split('?').next(),
        Some("http://127.0.0.1:8081/")
    );
    assert_v3_request_verifies(&request, SECRET);
}

#[test]
fn endpoint_resolution() {
    let provider = provider(SignatureVersion::V1, false);
    assert_eq!(
        provider.shared.base_url("cn-hangzhou").unwrap().as_str(),
        "https://ecs.cn-hangzhou.aliyuncs.com/"
    );
    assert_eq!(
        provider.shared.base_url("ap-southeast-1").unwrap().as_str(),
        "https://ecs.ap-southeast-1.aliyuncs.com/"
    );
    assert_eq!(provider.shared.region(None).unwrap(), "cn-hangzhou");
    assert_eq!(provider.shared.region(Some("")).unwrap(), "cn-hangzhou");
    assert_eq!(
        provider.shared.region(Some("us-west-1")).unwrap(),
        "us-west-1"
    );
    for bad in ["evil.com/x?", "a b", "cn-hangzhou.attacker", "-x", "ü"] {
        assert!(provider.shared.region(Some(bad)).is_err(), "{bad}");
    }

    let endpoint = Some("http://127.0.0.1:9/some/path?x=1#f".to_owned());
    let provider = AliyunProvider::new(settings(SignatureVersion::V1, false, endpoint)).unwrap();
    assert_eq!(
        provider.shared.base_url("eu-central-1").unwrap().as_str(),
        "http://127.0.0.1:9/"
    );
}

// ----- the lifecycle's requests -----

/// The action's own parameters of a built request, V1 or V3, without the
/// common ones (V1 carries everything in the query; V3 only the action's).
fn own_params(request: &reqwest::Request) -> BTreeMap<String, String> {
    const COMMON: [&str; 10] = [
        "Action",
        "Version",
        "Format",
        "AccessKeyId",
        "SignatureMethod",
        "SignatureType",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Signature",
    ];
    query_pairs(request.url().query().unwrap())
        .into_iter()
        .filter(|(name, _)| !COMMON.contains(&name.as_str()) && name != "SecurityToken")
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The release is what both official SDKs send for
/// `ModifyInstanceNetworkSpec(InstanceId, InternetMaxBandwidthOut=0,
/// ClientToken)`: V1 adds the client's RegionId (aliyun-python-sdk-core),
/// V3 sends the three parameters alone (alibabacloud_ecs20140526).
#[test]
fn release_request_v1_and_v3() {
    let token = super::super::client_token::release_token("i-bp1release0001", Some("key-1"));
    let params = super::super::release::release_params("i-bp1release0001", token.clone());
    let params: Vec<(&'static str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let op = super::super::release::MODIFY_INSTANCE_NETWORK_SPEC;
    assert!(op.mutating);
    for sts in [false, true] {
        let v1 = built(
            &provider(SignatureVersion::V1, sts),
            op,
            "cn-hangzhou",
            &params,
        );
        let query = v1.url().query().unwrap();
        let all: BTreeMap<String, String> = query_pairs(query).into_iter().collect();
        assert_eq!(all["Action"], "ModifyInstanceNetworkSpec");
        assert_eq!(all.len(), 14 + usize::from(sts));
        assert_eq!(
            own_params(&v1),
            map(&[
                ("ClientToken", &token),
                ("InstanceId", "i-bp1release0001"),
                ("InternetMaxBandwidthOut", "0"),
                ("RegionId", "cn-hangzhou"),
            ])
        );
        assert_v1_query_verifies("POST", query, SECRET);

        let v3 = built(
            &provider(SignatureVersion::V3, sts),
            op,
            "cn-hangzhou",
            &params,
        );
        assert_eq!(
            v3.url().query(),
            Some(
                format!(
                    "ClientToken={token}&InstanceId=i-bp1release0001&InternetMaxBandwidthOut=0"
                )
                .as_str()
            )
        );
        assert_eq!(v3.headers()["x-acs-action"], "ModifyInstanceNetworkSpec");
        assert_v3_request_verifies(&v3, SECRET);
    }
}

/// `DescribeInstances(RegionId, InstanceIds, PageSize=100)`: its own
/// RegionId, once, in V1 as in V3.
#[test]
fn describe_instances_request_v1_and_v3() {
    let ids = vec!["i-a".to_owned(), "i-b".to_owned()];
    let params = super::super::batch::describe_params("cn-beijing", &ids);
    let params: Vec<(&'static str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let op = super::super::batch::DESCRIBE_INSTANCES;
    assert!(!op.mutating);
    let expected = map(&[
        ("InstanceIds", r#"["i-a","i-b"]"#),
        ("PageSize", "100"),
        ("RegionId", "cn-beijing"),
    ]);
    let v1 = built(
        &provider(SignatureVersion::V1, false),
        op,
        "cn-beijing",
        &params,
    );
    let query = v1.url().query().unwrap();
    assert_eq!(query.matches("RegionId=").count(), 1, "{query}");
    assert_eq!(own_params(&v1), expected);
    assert_v1_query_verifies("POST", query, SECRET);
    let v3 = built(
        &provider(SignatureVersion::V3, false),
        op,
        "cn-beijing",
        &params,
    );
    assert_eq!(
        v3.url().query(),
        Some("InstanceIds=%5B%22i-a%22%2C%22i-b%22%5D&PageSize=100&RegionId=cn-beijing")
    );
    assert_eq!(own_params(&v3), expected);
    assert_v3_request_verifies(&v3, SECRET);
}
