//! Authentication: every way a signature, key, timestamp or
//! `Authorization` header can be wrong, unknown actions, custom
//! credentials, and the official Python SDK's exact request shape.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn signature_errors() {
    let h = harness(Duration::ZERO).await;
    let body = br#"{"eipIds":[]}"#.to_vec();
    let cases: Vec<(&str, HeaderMap, u16, &str)> = vec![
        (
            "wrong password",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    password: "not-the-password",
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_FAILURE",
        ),
        (
            "unknown key",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    id: "ZLUNKNOWNKEY",
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_FAILURE",
        ),
        (
            "expired timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() - 301).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
        (
            "future timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() + 400).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
        (
            "milliseconds timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() * 1000).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
    ];
    let mut failures = 0;
    for (what, headers, status, code) in cases {
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(got, &value, status, code, what);
        failures += 1;
    }

    // Body changed after signing.
    let headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    let (got, value) = h.post(headers, br#"{"eipIds": []}"#.to_vec()).await;
    assert_error(got, &value, 401, "AUTHFAILURE_SIGNATURE_FAILURE", "body");
    failures += 1;

    // Signed for another host.
    let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    headers.insert("host", HeaderValue::from_static("console.zenlayer.com"));
    let (got, value) = h.post(headers, body.clone()).await;
    assert_error(got, &value, 401, "AUTHFAILURE_SIGNATURE_FAILURE", "host");
    failures += 1;

    // Missing and malformed timestamps.
    for timestamp in [None, Some("yesterday")] {
        let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
        match timestamp {
            None => {
                headers.remove("x-zc-timestamp");
            }
            Some(t) => {
                headers.insert("x-zc-timestamp", HeaderValue::from_static(t));
            }
        }
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(
            got,
            &value,
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
            &format!("{timestamp:?}"),
        );
        failures += 1;
    }

    // Malformed Authorization headers.
    let good = h.signed_headers(DESCRIBE, &body, &Signing::default());
    let good_auth = good["authorization"].to_str().unwrap().to_owned();
    let malformed = [
        None,
        Some("Bearer sometoken".to_owned()),
        Some(good_auth.replace("ZC2-HMAC-SHA256", "TC3-HMAC-SHA256")),
        Some(good_auth.replace("content-type;host", "host")),
        Some(good_auth.replace(", ", ",")),
        Some("ZC2-HMAC-SHA256".to_owned()),
    ]
    .map(|a| a.map(|a| HeaderValue::from_str(&a).unwrap()))
    .into_iter()
    // Not ASCII.
    .chain([Some(
        HeaderValue::from_bytes(b"ZC2-HMAC-SHA256 Credential=\xe9").unwrap(),
    )]);
    for authorization in malformed {
        let mut headers = good.clone();
        match &authorization {
            None => {
                headers.remove("authorization");
            }
            Some(a) => {
                headers.insert("authorization", a.clone());
            }
        }
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(
            got,
            &value,
            401,
            "AUTHFAILURE_INVALID_AUTHORIZATION",
            &format!("{authorization:?}"),
        );
        failures += 1;
    }

    // The untouched request still works.
    let (got, _) = h.post(good, body.clone()).await;
    assert_eq!(got, 200);

    let counters = h.counters().await;
    assert_eq!(counters.auth_failures, failures);
    assert_eq!(counters.requests, failures + 1);
}

#[tokio::test]
async fn unknown_or_missing_action_is_unauthorized_operation() {
    let h = harness(Duration::ZERO).await;
    let (status, value) = h.call("DeleteEverything", &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "unknown",
    );
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("DeleteEverything")
    );
    let (status, value) = h.call("", &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "empty",
    );
    let body = b"{}".to_vec();
    let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    headers.remove("x-zc-action");
    let (status, value) = h.post(headers, body).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "missing",
    );
    // Valid signatures: not counted as authentication failures.
    assert_eq!(h.counters().await.auth_failures, 0);
}

#[tokio::test]
async fn python_sdk_style_request_is_accepted() {
    // Exactly what zenlayercloud-sdk-python sends with
    // Config(scheme="http", domain="127.0.0.1:PORT"): a json.dumps body
    // (", " and ": " separators), mixed-case header names, an explicit host
    // header with the port, signed over those bytes.
    let h = harness(Duration::ZERO).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .http1_title_case_headers()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let host = h.host();
    let send = |action: &'static str, body: &'static str| {
        let signing = Signing::default();
        let timestamp = signing.timestamp.clone();
        let authorization = authorization(&signing, &host, body.as_bytes());
        client
            .post(h.url())
            .header("x-zc-version", "2022-11-20")
            .header("x-zc-service", "bmc")
            .header("x-zc-action", action)
            .header("x-zc-sdk-version", "SDK_PYTHON_2.0.077")
            .header("x-zc-sdk-lang", "Python")
            .header("host", host.as_str())
            .header("Content-Type", "application/json")
            .header("x-zc-signature-method", "ZC2-HMAC-SHA256")
            .header("x-zc-timestamp", timestamp.as_str())
            .header("Authorization", authorization)
            .body(body)
            .send()
    };
    let response = send(
        ALLOCATE,
        r#"{"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}, "amount": 2, "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "owner", "value": "gateway"}]}}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(value["response"]["eipIdSet"].as_array().unwrap().len(), 2);
    assert_ne!(value["response"]["orderNumber"], "");

    let response = send(
        DESCRIBE,
        r#"{"tags": [{"key": "owner", "value": "gateway"}], "pageSize": 20, "pageNum": 1}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(value["response"]["totalCount"], 2);
}

#[tokio::test]
async fn custom_credentials_are_trimmed_and_sandbox_key_is_then_unknown() {
    let h = harness_with(ZenlayerEmulatorConfig {
        credentials: vec![(" AKIDMINE ".to_owned(), "my-password\n".to_owned())],
        creation_delay: Duration::ZERO,
        faults: FaultConfig::default(),
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let body = b"{}".to_vec();
    let headers = h.signed_headers(
        DESCRIBE,
        &body,
        &Signing {
            id: "AKIDMINE",
            password: "my-password",
            ..Signing::default()
        },
    );
    assert_eq!(h.post(headers, body.clone()).await.0, 200);
    let (status, value) = h.call(DESCRIBE, &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_SIGNATURE_FAILURE",
        "sandbox key",
    );
    let debug = format!("{:?} {:?}", h.emulator, ZenlayerEmulatorConfig::default());
    assert!(
        !debug.contains("my-password") && !debug.contains(SANDBOX_ACCESS_KEY_PASSWORD),
        "{debug}"
    );
}
