//! Injected faults and counters through the admin routes, added latency,
//! and malformed input that must never break the server.

use serde_json::json;

use super::super::SANDBOX_ACCESS_KEY_SECRET;
use super::*;

#[tokio::test]
async fn injected_faults_and_counters_over_admin() {
    let harness = start_default().await;
    harness
        .admin_put_faults(json!({"throttle_probability": 1.0}))
        .await;
    let answer = harness.describe_attribute("i-emuready001").await;
    assert_error(&answer, 400, "Throttling");
    assert_eq!(answer.headers["x-acs-retry-after"], "100");
    assert_eq!(
        answer.json()["Message"],
        "Request was denied due to request throttling."
    );

    harness
        .admin_put_faults(json!({"error_5xx_probability": 1.0}))
        .await;
    let answer = harness.describe_attribute("i-emuready001").await;
    assert_error(&answer, 503, "ServiceUnavailable");
    assert_eq!(
        answer.json()["Message"],
        "The request has failed due to a temporary failure of the server."
    );

    harness
        .admin_put_faults(json!({"drop_after_allocate_probability": 1.0}))
        .await;
    let dropped = harness
        .send_unanswered(
            "AllocatePublicIpAddress",
            &[("InstanceId", "i-emuready001")],
        )
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    // A failed allocation is answered even with drops on.
    let answer = harness.allocate("i-emustarting01").await;
    assert_error(&answer, 403, "IncorrectInstanceStatus");

    harness.admin_put_faults(json!({})).await;
    assert_eq!(
        harness.admin_get("/_admin/faults").await["drop_after_allocate_probability"],
        0.0
    );
    let mut bad = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut bad, "AccessKeyId", "nobody");
    harness.v1("POST", &bad).await;
    let answer = harness.describe_attribute("i-emuready001").await;
    assert_eq!(
        answer.json()["PublicIpAddress"]["IpAddress"],
        json!(["47.96.0.1"])
    );

    let counters = harness.counters().await;
    assert_eq!(counters["requests"], 6);
    assert_eq!(counters["throttled"], 1);
    assert_eq!(counters["server_errors"], 1);
    assert_eq!(counters["dropped"], 1);
    assert_eq!(counters["allocate_calls"], 1);
    assert_eq!(counters["allocations"], 1);
    assert_eq!(counters["auth_failures"], 1);
    // Admin requests are not counted.
    assert_eq!(harness.counters().await["requests"], 6);
    let reset = reqwest::Client::new()
        .post(format!("{}/_admin/counters/reset", harness.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(harness.counters().await["requests"], 0);
}

#[tokio::test]
async fn latency_is_added() {
    let harness = start_default().await;
    harness.admin_put_faults(json!({"latency_ms": 150})).await;
    let started = std::time::Instant::now();
    let answer = harness.describe_attribute("i-emuready001").await;
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn malformed_input_never_breaks_the_server() {
    let harness = start_default().await;
    // Invalid UTF-8 and broken escapes in the query.
    let answer = harness
        .send("POST", "Action=%FF%FE&Version=%zz&Format=JSON&%=%", None)
        .await;
    assert_error(&answer, 404, "InvalidApi.NotFound");
    let answer = harness.send("GET", "&&&===&Format=JSON", None).await;
    assert_error(&answer, 400, "MissingParameter");
    // A huge parameter value in the body.
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let query = v1_query("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    let huge = format!("Big={}", "x".repeat(900_000));
    let answer = harness.send("POST", &query, Some(&huge)).await;
    assert_error(&answer, 400, "SignatureDoesNotMatch");
    // A body over the limit.
    let too_big = format!("Big={}", "x".repeat(2 * 1024 * 1024));
    let answer = harness.send("POST", "Format=JSON", Some(&too_big)).await;
    assert_error(&answer, 400, "InvalidParameter");
    // A signature made of garbage bytes.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Signature", "\u{0}\u{FFFD}<&>");
    let query: String = encoded_query(&params);
    assert_error(
        &harness.send("POST", &query, None).await,
        400,
        "SignatureDoesNotMatch",
    );
    // A huge nonce and timestamp.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "SignatureNonce", &"n".repeat(20_000));
    assert_eq!(harness.v1("POST", &params).await.status, 200);
    set(&mut params, "Timestamp", &"2".repeat(20_000));
    assert_error(
        &harness.v1("POST", &params).await,
        400,
        "InvalidTimeStamp.Format",
    );
    // Unknown paths.
    let response = harness
        .http
        .get(format!("{}/nope?Format=JSON", harness.base()))
        .send()
        .await
        .unwrap();
    assert_error(&super::read(response).await, 404, "InvalidApi.NotFound");
    // Still serving.
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    assert_eq!(harness.v1("POST", &params).await.status, 200);
}
