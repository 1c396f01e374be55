//! The audit trail over real sockets, in fleet mode in front of both
//! emulators: one JSON line per AllocateIp outcome (allocated with its EIPs
//! and addresses, replayed, failed at the provider, refused for the caller
//! or its spend limit), each naming the caller, the account, the
//! parameters, the key and the provider's request id; and no secret in the
//! file: not the provider credentials, the bearer tokens or their hashes, or
//! the database password.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::emulators::{both, providers_toml};
use common::{bearer, requests, serve_gateway, sha256_hex, test_config};
use ipalloc_gateway::emulator::{aliyun, zenlayer};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use ipalloc_gateway::server::Gateway;
use serde_json::Value;

const APP_TOKEN: &str = "app-TOKEN-audit-0123456789";
const FILE_TOKEN: &str = "file-TOKEN-audit-0123456789";
const DB_PASSWORD: &str = "db-PASSWORD-audit-0123456789";
const READER_TOKEN: &str = "reader-TOKEN-audit-0123456789";

#[tokio::test]
async fn one_line_per_outcome_and_no_secret_in_the_trail() {
    let db = common::postgres::fresh_database().await;
    let options = EmulatorOptions {
        creation_delay: Duration::from_millis(50),
        ..EmulatorOptions::default()
    };
    let (_emulators, aliyun_url, zenlayer_url) = both(&options).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("ops-token");
    std::fs::write(&token_file, FILE_TOKEN).unwrap();
    let trail_path = dir.path().join("audit.jsonl");
    let text = format!(
        "{cluster}[audit]\npath = \"{trail}\"\n\
         [callers.app]\ntoken_env = [\"IPALLOC_TEST_APP_TOKEN\"]\nmax_addresses_per_hour = 3\n\
         [callers.ops]\ntoken_files = [\"{file}\"]\nproviders = [\"aliyun\"]\n\
         [callers.reader]\ntoken_env = [\"IPALLOC_TEST_READER_TOKEN\"]\nrpcs = [\"GetAllocation\"]\n{providers}",
        cluster = db.cluster_table("password_env = \"IPALLOC_TEST_DB_PASSWORD\""),
        trail = trail_path.display(),
        file = token_file.display(),
        providers = providers_toml(
            &aliyun_url,
            &zenlayer_url,
            "",
            "poll_initial_ms = 20\npoll_max_ms = 50"
        ),
    );
    let env: HashMap<String, String> = [
        ("IPALLOC_TEST_APP_TOKEN", APP_TOKEN),
        ("IPALLOC_TEST_DB_PASSWORD", DB_PASSWORD),
        ("IPALLOC_TEST_READER_TOKEN", READER_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let gateway = serve_gateway(Gateway::start(&test_config(&text, env)).await.unwrap()).await;
    let mut client = gateway.client.clone();

    let zl = |key: &str, zone: &str, amount: u32| {
        let params = pb::ZenlayerAllocateParams {
            amount: Some(amount),
            ..requests::postpaid(zone)
        };
        pb::AllocateIpRequest {
            wait: true,
            ..requests::keyed(key, requests::zenlayer("zenlayer", params))
        }
    };
    // 1. Allocated (waited for: the addresses are known).
    let ok = client
        .allocate_ip(bearer(zl("audit-1", "SEL-A", 2), APP_TOKEN))
        .await
        .unwrap()
        .into_inner();
    // 2. The replay of it.
    client
        .allocate_ip(bearer(zl("audit-1", "SEL-A", 2), APP_TOKEN))
        .await
        .unwrap();
    // 3. Failed at the provider (a zone that sells no EIPs).
    client
        .allocate_ip(bearer(zl("audit-2", "TYO-A", 1), APP_TOKEN))
        .await
        .unwrap_err();
    // 4. Over app's spend limit.
    client
        .allocate_ip(bearer(zl("audit-3", "SEL-A", 2), APP_TOKEN))
        .await
        .unwrap_err();
    // 5. A wrong token.
    client
        .allocate_ip(bearer(zl("audit-4", "SEL-A", 1), "wrong-TOKEN-0123456789"))
        .await
        .unwrap_err();
    // 6. ops on Alibaba, identified by its token file.
    let aliyun_ok = client
        .allocate_ip(bearer(
            requests::keyed(
                "audit-5",
                requests::aliyun("aliyun", requests::instance("i-emuready001")),
            ),
            FILE_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    // 7. ops may not use Zenlayer.
    client
        .allocate_ip(bearer(zl("audit-6", "SEL-A", 1), FILE_TOKEN))
        .await
        .unwrap_err();
    // 8. reader may not call AllocateIp at all.
    client
        .allocate_ip(bearer(zl("audit-7", "SEL-A", 1), READER_TOKEN))
        .await
        .unwrap_err();
    gateway.stop().await;

    let text = std::fs::read_to_string(&trail_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    #[rustfmt::skip]
    let expected: [(&str, &str, &str, &str, &str, bool); 8] = [
        // (caller, provider, key, code, reason, replay)
        ("app", "zenlayer", "audit-1", "OK", "", false),
        ("app", "zenlayer", "audit-1", "OK", "", true),
        ("app", "zenlayer", "audit-2", "FAILED_PRECONDITION", "EIP_NOT_SOLD_IN_ZONE", false),
        ("app", "zenlayer", "audit-3", "RESOURCE_EXHAUSTED", "SPEND_LIMIT_REACHED", false),
        ("", "zenlayer", "", "UNAUTHENTICATED", "CALLER_UNAUTHENTICATED", false),
        ("ops", "aliyun", "audit-5", "OK", "", false),
        ("ops", "zenlayer", "", "PERMISSION_DENIED", "CALLER_NOT_ALLOWED", false),
        ("reader", "zenlayer", "", "PERMISSION_DENIED", "CALLER_NOT_ALLOWED", false),
    ];
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (i, (line, (caller, provider, key, code, reason, replay))) in
        lines.iter().zip(expected).enumerate()
    {
        let what = format!("line {}: {line}", i + 1);
        assert_eq!(line["action"], "allocate", "{what}");
        assert_eq!(line["caller"], caller, "{what}");
        assert_eq!(line["provider"], provider, "{what}");
        assert_eq!(line["idempotency_key"], key, "{what}");
        assert_eq!(line["code"], code, "{what}");
        assert_eq!(line["reason"], reason, "{what}");
        assert_eq!(line["replay"], replay, "{what}");
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{what}");
        assert!(
            line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{what}"
        );
    }
    // The allocation and its replay: the EIPs with their addresses, the
    // provider's request id, the parameters, how the caller was known.
    let eips: Vec<(String, String)> = ok
        .allocations
        .iter()
        .map(|a| (a.id.clone(), a.ip_address.clone()))
        .collect();
    assert!(eips.iter().all(|(_, ip)| !ip.is_empty()), "{eips:?}");
    for line in &lines[..2] {
        let logged: Vec<(String, String)> = line["eips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["state"], "READY", "{line}");
                (
                    e["id"].as_str().unwrap().to_owned(),
                    e["address"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(logged, eips, "{line}");
        assert_eq!(
            line["provider_request_ids"][0],
            ok.provider_request_id.as_str()
        );
        assert_eq!(line["params"]["zenlayer.zone_id"], "SEL-A");
        assert_eq!(line["params"]["zenlayer.amount"], "2");
        assert_eq!(line["addresses"], 2);
        assert_eq!(line["caller_via"], "token");
        assert_eq!(line["provider_kind"], "zenlayer");
    }
    assert!(
        lines[2]["provider_request_ids"][0]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "a provider error names its request id: {}",
        lines[2]
    );
    assert_eq!(
        lines[5]["eips"][0]["address"],
        aliyun_ok.allocations[0].ip_address.as_str()
    );
    assert_eq!(lines[5]["params"]["aliyun.instance_id"], "i-emuready001");

    for (what, secret) in [
        ("the app token", APP_TOKEN.to_owned()),
        ("the file token", FILE_TOKEN.to_owned()),
        ("the wrong token", "wrong-TOKEN-0123456789".to_owned()),
        ("the reader token", READER_TOKEN.to_owned()),
        ("a token hash", sha256_hex(APP_TOKEN)),
        ("a token hash", sha256_hex(FILE_TOKEN)),
        ("the database password", DB_PASSWORD.to_owned()),
        (
            "the Alibaba secret",
            aliyun::SANDBOX_ACCESS_KEY_SECRET.to_owned(),
        ),
        (
            "the Alibaba key id",
            aliyun::SANDBOX_ACCESS_KEY_ID.to_owned(),
        ),
        (
            "the Zenlayer password",
            zenlayer::SANDBOX_ACCESS_KEY_PASSWORD.to_owned(),
        ),
        (
            "the Zenlayer key id",
            zenlayer::SANDBOX_ACCESS_KEY_ID.to_owned(),
        ),
        ("the database URL", db.url.clone()),
    ] {
        assert!(!text.contains(&secret), "the trail holds {what}:\n{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&trail_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the trail is the owner's");
    }
}
