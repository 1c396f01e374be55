//! grpcurl 1.8.6 (which speaks only reflection v1alpha) against a running
//! gateway: `list`, `describe`, an AllocateIp through reflection, and an
//! error whose google.rpc details decode as JSON.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

/// `grpcurl -plaintext [flags] ADDRESS [rest]`
fn grpcurl(gateway: &TestGateway, flags: &[&str], rest: &[&str]) -> (i32, String, String) {
    let output = Command::new(tools::grpcurl())
        .arg("-plaintext")
        .args(flags)
        .arg(gateway.addr.to_string())
        .args(rest)
        .output()
        .expect("run grpcurl");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_lists_describes_and_allocates_through_reflection() {
    let server = Scripted::start(vec![Reply::json(
        200,
        json!({"requestId": "T-grpcurl", "response": {"requestId": "T-grpcurl", "eipIdSet": ["eip-g1"], "orderNumber": ""}}),
    )])
    .await;
    let gateway = start_gateway(&zenlayer_provider("zl", &server.url(), "")).await;

    let (code, out, err) = grpcurl(&gateway, &[], &["list"]);
    assert_eq!(code, 0, "{err}");
    for service in [
        "ipalloc.v1.IpAllocation",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            out.lines().any(|l| l == service),
            "list lacks {service}: {out}"
        );
    }

    let (code, out, err) = grpcurl(&gateway, &[], &["describe", "ipalloc.v1.IpAllocation"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rpc AllocateIp ( .ipalloc.v1.AllocateIpRequest ) returns ( .ipalloc.v1.AllocateIpResponse )"), "{out}");
    assert!(out.contains("rpc GetAllocation"), "{out}");
    assert!(out.contains("rpc ListProviders"), "{out}");

    let (code, out, err) = grpcurl(
        &gateway,
        &[],
        &["describe", "ipalloc.v1.ZenlayerAllocateParams"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Required. Zone of the EIPs"),
        "field comments are served: {out}"
    );

    let (code, out, err) = grpcurl(
        &gateway,
        &[
            "-d",
            r#"{"zenlayer": {"zone_id": "SEL-A", "charge_type": "CHARGE_TYPE_POSTPAID"}}"#,
        ],
        &["ipalloc.v1.IpAllocation/AllocateIp"],
    );
    assert_eq!(code, 0, "{err}");
    let response: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(response["provider"], "zl");
    assert_eq!(response["providerRequestId"], "T-grpcurl");
    assert_eq!(response["allocations"][0]["id"], "eip-g1");
    assert_eq!(
        response["allocations"][0]["state"],
        "ALLOCATION_STATE_PENDING"
    );
    assert_eq!(server.requests().len(), 1);

    // An error: exit code 64 + INVALID_ARGUMENT (3), details decoded as JSON.
    let (code, _out, err) = grpcurl(
        &gateway,
        &["-d", r#"{"zenlayer": {"zone_id": "SEL-A", "amount": 500}}"#],
        &["ipalloc.v1.IpAllocation/AllocateIp"],
    );
    assert_eq!(code, 67, "{err}");
    assert!(err.contains("google.rpc.BadRequest"), "{err}");
    assert!(err.contains("\"field\":\"zenlayer.amount\""), "{err}");
    assert!(err.contains("\"field\":\"zenlayer.charge_type\""), "{err}");
    assert!(err.contains("google.rpc.ErrorInfo"), "{err}");
    assert_eq!(server.requests().len(), 1, "nothing sent for a bad request");
}
