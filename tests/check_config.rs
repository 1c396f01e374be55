//! Strict configuration, checked in full: `--check-config` refuses what
//! start-up would refuse (a log level that logs nothing, an idempotency path
//! in a missing directory, an endpoint with credentials), misspelled keys
//! and `IPALLOC_*` variables are errors with "did you mean", every problem
//! is reported at once and no value is ever repeated. A Zenlayer endpoint
//! pasted with `/api/v2/bmc` works; a wrong endpoint's 404 is the gateway's
//! FAILED_PRECONDITION naming the path and status, never the caller's NOT_FOUND.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::emulators::{self};
use common::process::BIN;
use common::*;
use ipalloc_gateway::emulator::zenlayer::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use tonic::Code;

const NUMERIC_SECRET: &str = "918273645";

fn check(text: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn refused(text: &str, env: &[(&str, &str)]) -> String {
    let output = check(text, env);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn zl(extra: &str) -> String {
    zenlayer_provider("zl", "http://127.0.0.1:9", extra)
}

#[test]
fn check_config_refuses_what_start_up_refuses() {
    let cases = [
        (
            format!("[log]\nlevel = \"inf\"\n{}", zl("")),
            "log.level",
            "did you mean \"info\"",
        ),
        (
            format!(
                "[idempotency]\npath = \"/nonexistent-dir/ipalloc/x.redb\"\n{}",
                zl("")
            ),
            "idempotency.path",
            "does not exist",
        ),
        (
            zenlayer_provider("zl", "http://user:pass@127.0.0.1:9", ""),
            "providers.zl.endpoint",
            "user information",
        ),
        (
            format!(
                "[server]\nshutdown_drain_ms = 9000\nshutdown_timeout_ms = 5000\n{}",
                zl("")
            ),
            "server.shutdown_drain_ms",
            "below",
        ),
        (
            format!(
                "[audit]\npath = \"/nonexistent-dir/ipalloc/audit.jsonl\"\n{}",
                zl("")
            ),
            "audit.path",
            "does not exist",
        ),
        (
            format!("[callers.app]\ntoken_env = [\"APP_TOKEN\"]\n{}", zl("")),
            "callers.app.token_env",
            "APP_TOKEN is not set",
        ),
        (
            format!(
                "[callers.app]\nunix_uids = [1]\nproviders = [\"zl2\"]\n{}",
                zl("")
            ),
            "callers.app.providers",
            "did you mean \"zl\"",
        ),
    ];
    for (text, key, hint) in cases {
        let stderr = refused(&text, &[]);
        assert!(
            stderr.contains(key) && stderr.contains(hint),
            "{key}: {stderr}"
        );
        assert!(!stderr.contains("pass@"), "{stderr}");
    }
    assert!(check(&zl(""), &[]).status.success());
}

#[test]
fn misspelled_variables_and_keys_are_errors_reported_together() {
    let text = format!(
        "[server]\nmax_concurent_calls = 10\n[log]\nformat = \"jsn\"\n{}",
        zl("burst = 0\nendpont = \"x\"")
    );
    let stderr = refused(
        &text,
        &[
            ("IPALLOC_LOG_LEVLE", "debug"),
            ("IPALLOC_PROVIDER_ZL_RATE_PER_SECOND", "lots"),
            ("IPALLOC_CONFIG_DIR", "/etc"),
        ],
    );
    for expected in [
        "7 problems",
        "server.max_concurent_calls: unknown key; did you mean `max_concurrent_calls`?",
        "providers.zl.endpont: unknown key; did you mean `endpoint`?",
        "log.format: is not one of \"text\", \"json\"; did you mean \"json\"?",
        "providers.zl.burst: is outside",
        "IPALLOC_LOG_LEVLE: is not a setting of the gateway; did you mean IPALLOC_LOG_LEVEL?",
        "IPALLOC_PROVIDER_ZL_RATE_PER_SECOND: is not a whole number",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    // IPALLOC_CONFIG is the command line's; IPALLOC_CONFIG_DIR is nobody's.
    assert!(stderr.contains("IPALLOC_CONFIG_DIR"), "{stderr}");
    assert!(
        !stderr.contains("lots") && !stderr.contains("jsn"),
        "values never echoed: {stderr}"
    );
    // A known variable is applied (and its range checked under its key).
    let stderr = refused(&zl(""), &[("IPALLOC_SERVER_MAX_CONCURRENT_CALLS", "0")]);
    assert!(
        stderr.contains("server.max_concurrent_calls: is outside 1..=100000 (set by IPALLOC_SERVER_MAX_CONCURRENT_CALLS)"),
        "{stderr}"
    );
}

#[test]
fn values_never_appear_in_errors() {
    let text = format!(
        "[providers.zl]\nkind = \"zenlayer\"\naccess_key_id = \"i\"\naccess_key_password = {NUMERIC_SECRET}\n"
    );
    let stderr = refused(&text, &[]);
    assert!(
        stderr.contains("providers.zl.access_key_password: expected a string, found integer"),
        "{stderr}"
    );
    assert!(!stderr.contains(NUMERIC_SECRET), "{stderr}");
    let stderr = refused(
        &zl(""),
        &[
            ("IPALLOC_PROVIDER_ZL_BURST", NUMERIC_SECRET),
            ("IPALLOC_PROVIDER_ZL_KIND", NUMERIC_SECRET),
        ],
    );
    assert!(!stderr.contains(NUMERIC_SECRET), "{stderr}");
}

#[test]
fn the_cluster_table_is_checked_and_its_secrets_never_shown() {
    const DB_PASSWORD: &str = "db-PASSWORD-0010";
    let url = format!("postgres://postgres:{DB_PASSWORD}@127.0.0.1:5432/postgres?sslmode=require");
    let stderr = refused(
        &zl(""),
        &[
            ("IPALLOC_CLUSTER_POSTGRES_URL", &url),
            (
                "IPALLOC_CLUSTER_PASSWORD_ENV",
                "IPALLOC_TEST_UNSET_PASSWORD",
            ),
        ],
    );
    for expected in [
        "cluster.postgres_url: must not set sslmode",
        "(set by IPALLOC_CLUSTER_POSTGRES_URL)",
        "environment variable IPALLOC_TEST_UNSET_PASSWORD is not set",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(!stderr.contains(DB_PASSWORD), "{stderr}");
    let stderr = refused(&format!("[cluster]\nreplicas = 3\n{}", zl("")), &[]);
    assert!(
        stderr.contains("cluster.replicas: is set but cluster.postgres_url is not"),
        "{stderr}"
    );

    // A password file others can read: accepted, with a warning naming the key.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db-password");
    std::fs::write(&file, format!("{DB_PASSWORD}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let text = format!(
        "[cluster]\npostgres_url = \"postgres://postgres@127.0.0.1:5432/postgres\"\n\
         tls = \"disable\"\npassword_file = \"{}\"\n{}",
        file.display(),
        zl("")
    );
    let output = check(&text, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stderr.contains("warning: cluster.password_file"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains(DB_PASSWORD), "{stderr}");
}

/// The emulator's account at `endpoint`.
fn sandbox_zenlayer(endpoint: &str, extra: &str) -> String {
    format!(
        "[providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{SANDBOX_ACCESS_KEY_ID}\"\naccess_key_password = \"{SANDBOX_ACCESS_KEY_PASSWORD}\"\n{extra}\n"
    )
}

fn allocation() -> pb::AllocateIpRequest {
    requests::zenlayer("zenlayer", requests::postpaid("SEL-A"))
}

#[tokio::test]
async fn a_zenlayer_endpoint_pasted_with_its_api_path_works() {
    // The emulator banner shows the API URL; either form is accepted.
    let emulators = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let pasted = format!("{}/api/v2/bmc", emulators.zenlayer_url);
    let gateway = start_gateway(&sandbox_zenlayer(&pasted, "")).await;
    let response = gateway
        .client
        .clone()
        .allocate_ip(allocation())
        .await
        .unwrap();
    assert_eq!(response.into_inner().allocations.len(), 1);
    let listed = gateway.list_providers().await;
    assert_eq!(listed.providers[0].endpoint, emulators.zenlayer_url);
}

#[tokio::test]
async fn a_wrong_endpoint_is_the_gateways_fault_not_the_callers_not_found() {
    let emulators = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let wrong = format!("{}/wrong", emulators.zenlayer_url);
    let gateway = start_gateway(&sandbox_zenlayer(&wrong, "max_attempts = 1")).await;
    let status = gateway
        .client
        .clone()
        .allocate_ip(allocation())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(reason, "PROVIDER_RESPONSE_MALFORMED");
    assert_eq!(metadata["httpStatus"], "404");
    assert!(
        status
            .message()
            .contains("/wrong/api/v2/bmc answered HTTP 404")
            && status.message().contains("endpoint setting"),
        "{}",
        status.message()
    );
}
