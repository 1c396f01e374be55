//! The server around the service: ListProviders, health (overall and per
//! service), and the binary's configuration errors, exit codes and signals.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const BIN: &str = env!("CARGO_BIN_EXE_ipalloc-gateway");

#[tokio::test]
async fn list_providers_reports_kind_region_endpoint_and_capabilities() {
    let config = format!(
        "{}{}",
        zenlayer_provider("zl", "http://127.0.0.1:9", ""),
        aliyun_provider("ali", "http://127.0.0.1:8", "signature_version = \"v3\""),
    );
    let gateway = start_gateway(&config).await;
    let response = gateway.list_providers().await;
    let names: Vec<&str> = response.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ali", "zl"], "sorted by name");

    let ali = &response.providers[0];
    assert_aliyun_capabilities(ali);
    assert_eq!(ali.endpoint, "http://127.0.0.1:8");
    let signature = &ali.capabilities.as_ref().unwrap().signature;
    assert!(signature.contains("ACS3-HMAC-SHA256"), "{signature}");

    let zl = &response.providers[1];
    assert_zenlayer_capabilities(zl);
    assert_eq!(zl.endpoint, "http://127.0.0.1:9");
}

#[tokio::test]
async fn health_reports_overall_and_service_status() {
    let gateway = start_gateway(&zenlayer_provider("zl", "http://127.0.0.1:9", "")).await;
    let channel = channel(gateway.addr).await;
    let mut health = HealthClient::new(channel);
    for service in ["", "ipalloc.v1.IpAllocation"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            response.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn bad_configuration_exits_non_zero_naming_the_key() {
    let cases = [
        ("[providers.p]\nkind = \"aliyun\"\n", "providers.p.region"),
        (
            "listen = \"x\"\n[providers.p]\nkind = \"zenlayer\"\n",
            "listen",
        ),
        ("[providers.p]\nkind = \"zenlayer\"\ncolour = 1\n", "colour"),
        ("listen = \"127.0.0.1:1\"\n", "providers"),
    ];
    for (text, key) in cases {
        let file = write_config(text);
        let output = Command::new(BIN)
            .arg("--config")
            .arg(file.path())
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "stderr should name {key}: {stderr}");
    }
    let missing = Command::new(BIN)
        .args(["--config", "/nonexistent/ipalloc.toml"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ipalloc.toml"));
    let none = Command::new(BIN).env_clear().output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--config"));
}

#[test]
fn check_config_accepts_a_good_file() {
    let file = write_config(&zenlayer_provider("zl", "http://127.0.0.1:9", ""));
    let output = Command::new(BIN)
        .arg("--config")
        .arg(file.path())
        .arg("--check-config")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 provider"));
}

#[cfg(unix)]
#[test]
fn sigterm_and_sigint_stop_the_binary_gracefully() {
    for signal in ["TERM", "INT"] {
        let port = free_port();
        let file = write_config(&format!(
            "listen = \"127.0.0.1:{port}\"\n[server]\nshutdown_drain_ms = 10\n{}",
            zenlayer_provider("zl", "http://127.0.0.1:9", "")
        ));
        let child = Command::new(BIN)
            .arg("--config")
            .arg(file.path())
            .env_clear()
            // Never the default admin port: tests run gateways side by side.
            .env("IPALLOC_ADMIN_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "gateway did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let killed = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "SIG{signal}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("received SIG{signal}")),
            "{stderr}"
        );
        assert!(stderr.contains("stopped"), "{stderr}");
    }
}
