//! Secrets (access key secrets, passwords, STS tokens) never appear in logs,
//! in gRPC error messages or details, or in Debug output, even at trace log
//! level, when a provider echoes its string-to-sign, or when the network fails.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ipalloc_gateway::pb;
use serde_json::json;

fn aliyun_request(provider: &str) -> pb::AllocateIpRequest {
    requests::aliyun(provider, requests::instance("i-bp1abc"))
}

fn zenlayer_request(provider: &str) -> pb::AllocateIpRequest {
    requests::zenlayer(provider, requests::postpaid("SEL-A"))
}

fn assert_clean(text: &str, what: &str) {
    for secret in [ALIYUN_SECRET, ALIYUN_STS, ZL_PASSWORD] {
        assert!(
            !text.contains(secret),
            "{what} contains secret {secret:?}:\n{text}"
        );
        // Also the percent-encoded form a URL would carry.
        let encoded: String =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(
            !text.contains(&encoded),
            "{what} contains encoded secret:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_logs_errors_or_statuses() {
    // The provider echoes a string-to-sign carrying the STS token, as
    // Alibaba does on SignatureDoesNotMatch.
    let echo = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D{ALIYUN_AK_ID}%26SecurityToken%3D{}",
        percent_encoding::utf8_percent_encode(ALIYUN_STS, percent_encoding::NON_ALPHANUMERIC)
    );
    let aliyun = Scripted::start(vec![
        Reply::json(
            400,
            json!({"RequestId": "R-SIG", "Code": "SignatureDoesNotMatch", "Message": echo}),
        ),
        Reply::json(
            200,
            json!({"RequestId": "R-OK", "IpAddress": "47.95.10.20"}),
        ),
    ])
    .await;
    let zenlayer = Scripted::start(vec![
        Reply::json(401, json!({"requestId": "T-1", "code": "AUTHFAILURE_SIGNATURE_FAILURE", "message": "bad"})),
        Reply::json(200, json!({"requestId": "T-2", "response": {"requestId": "T-2", "eipIdSet": ["eip-1"], "orderNumber": ""}})),
    ])
    .await;
    let dead = closed_port().await;
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[log]\nlevel = \"trace\"\nformat = \"json\"\n{}{}{}{}",
        aliyun_provider("ali", &aliyun.url(), "security_token_env = \"TEST_STS\""),
        aliyun_provider(
            "ali-v3",
            &aliyun.url(),
            "signature_version = \"v3\"\nsecurity_token_env = \"TEST_STS\""
        ),
        zenlayer_provider("zl", &zenlayer.url(), ""),
        aliyun_provider(
            "ali-dead",
            &format!("http://127.0.0.1:{dead}"),
            "security_token_env = \"TEST_STS\""
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = process::spawn(dir.path(), &config, |command| {
        command.env("TEST_STS", ALIYUN_STS);
    });
    let mut client = gateway.client().await;

    let mut seen = String::new();
    for request in [
        aliyun_request("ali"),      // SignatureDoesNotMatch echoing the token
        aliyun_request("ali"),      // success
        aliyun_request("ali-v3"),   // success, token in a header
        aliyun_request("ali-dead"), // connection refused
        zenlayer_request("zl"),     // AUTHFAILURE
        zenlayer_request("zl"),     // success
    ] {
        match client.allocate_ip(request).await {
            Ok(response) => seen.push_str(&format!("{:?}\n", response.into_inner())),
            Err(status) => {
                seen.push_str(&format!("{status:?}\n{}\n", status.message()));
                seen.push_str(&format!("{:?}\n", details(&status)));
            }
        }
    }
    assert_clean(&seen, "gRPC responses and statuses");
    assert!(
        seen.contains("[redacted]"),
        "the echoed string-to-sign is redacted: {seen}"
    );

    let logs = gateway.terminate();
    assert!(
        logs.contains("sending aliyun request"),
        "trace logs were captured: {logs}"
    );
    assert!(logs.contains("allocation failed"), "{logs}");
    assert_clean(&logs, "logs");
}

#[test]
fn debug_of_providers_and_config_hides_secrets() {
    let text = format!(
        "{}{}",
        aliyun_provider("ali", "http://127.0.0.1:9", "security_token_env = \"S\""),
        zenlayer_provider("zl", "http://127.0.0.1:9", "")
    );
    let env = |name: &str| (name == "S").then(|| ALIYUN_STS.to_owned());
    let config = ipalloc_gateway::config::load(&text, "t", &env).unwrap();
    assert_clean(&format!("{config:?} {config:#?}"), "Config Debug");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    for provider in &config.providers {
        let debug = match provider {
            ipalloc_gateway::config::ProviderConfig::Aliyun(s) => format!(
                "{:?}",
                ipalloc_gateway::provider::aliyun::AliyunProvider::new(s.clone()).unwrap()
            ),
            ipalloc_gateway::config::ProviderConfig::Zenlayer(s) => format!(
                "{:?}",
                ipalloc_gateway::provider::zenlayer::ZenlayerProvider::new(s.clone()).unwrap()
            ),
        };
        assert_clean(&debug, "provider Debug");
    }
}
