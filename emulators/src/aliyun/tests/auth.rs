//! Raw signature V1 requests: the legacy SDK's exact request shape,
//! tampering, unknown keys, nonce reuse, timestamps, missing parameters,
//! the signature method, action and version, GET and POST, form bodies.

use time::OffsetDateTime;

use super::super::signature;
use super::super::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET};
use super::*;

#[tokio::test]
async fn the_legacy_sdk_request_shape_is_accepted() {
    // aliyun-python-sdk-core 2.16 (FACTS.md §1.6): POST, every parameter in
    // the URL in this order, RegionId injected, `SignatureType=` signed,
    // empty body; only the timestamp, nonce and credentials differ.
    let harness = start_default().await;
    let nonce = uuid::Uuid::new_v4().to_string();
    let now = super::now();
    let params = owned(&[
        ("InstanceId", "i-emuready001"),
        ("Version", "2014-05-26"),
        ("Action", "AllocatePublicIpAddress"),
        ("Format", "JSON"),
        ("RegionId", "cn-hangzhou"),
        ("Timestamp", &now),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureType", ""),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("AccessKeyId", SANDBOX_ACCESS_KEY_ID),
    ]);
    let signed = v1_signature("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    // The SDK's own wire order, not the sorted one.
    let query = format!(
        "{}&Signature={}",
        encoded_query(&params),
        signature::percent_encode(&signed)
    );
    let url = format!("{}/?{query}", harness.base());
    let response = harness
        .http
        .post(url)
        .header("x-acs-action", "AllocatePublicIpAddress")
        .header("x-acs-version", "2014-05-26")
        .header("x-sdk-invoke-type", "normal")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/2.16.1 python-requests/2.32",
        )
        .send()
        .await
        .unwrap();
    let answer = super::read(response).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "application/json;charset=utf-8");
    let body = answer.json();
    assert_eq!(body["IpAddress"], "47.96.0.1");
    let request_id = body["RequestId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(request_id).is_ok());
    assert_eq!(request_id, request_id.to_ascii_uppercase());
}

#[tokio::test]
async fn tampered_signature_echoes_the_server_string_to_sign() {
    let harness = start_default().await;
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let good = v1_query("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    let tampered = good.replacen("Signature=", "Signature=A", 1);
    let answer = harness.send("POST", &tampered, None).await;
    assert_error(&answer, 400, "SignatureDoesNotMatch");
    let expected = format!(
        "Specified signature is not matched with our calculation. server string to sign is:{}",
        v1_string_to_sign("POST", &params)
    );
    assert_eq!(answer.json()["Message"], expected);

    // A parameter changed after signing: the server's string shows it.
    let changed = good.replace("i-emuready001", "i-emuready002");
    let answer = harness.send("POST", &changed, None).await;
    assert_error(&answer, 400, "SignatureDoesNotMatch");
    assert!(
        answer.json()["Message"]
            .as_str()
            .unwrap()
            .contains("InstanceId%3Di-emuready002")
    );

    // The wrong secret.
    let answer = harness
        .send("POST", &v1_query("POST", &params, "wrong"), None)
        .await;
    assert_error(&answer, 400, "SignatureDoesNotMatch");
    assert_eq!(harness.counters().await["auth_failures"], 3);
}

#[tokio::test]
async fn unknown_access_key() {
    let harness = start_default().await;
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "AccessKeyId", "LTAI5tUnknownKey");
    let answer = harness.v1("POST", &params).await;
    assert_error(&answer, 404, "InvalidAccessKeyId.NotFound");
    assert_eq!(
        answer.json()["Message"],
        "Specified access key is not found."
    );
}

#[tokio::test]
async fn nonce_reuse_is_refused() {
    let harness = start_default().await;
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let query = v1_query("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    assert_eq!(harness.send("POST", &query, None).await.status, 200);
    let again = harness.send("POST", &query, None).await;
    assert_error(&again, 400, "SignatureNonceUsed");
    assert_eq!(
        again.json()["Message"],
        "Specified signature nonce was used already."
    );
    // Same nonce, re-signed for another request: still used.
    let mut other = params.clone();
    set(&mut other, "InstanceId", "i-emuready002");
    assert_error(&harness.v1("POST", &other).await, 400, "SignatureNonceUsed");
    // A failed signature does not consume a nonce.
    let fresh = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let bad = v1_query("POST", &fresh, "wrong");
    assert_error(
        &harness.send("POST", &bad, None).await,
        400,
        "SignatureDoesNotMatch",
    );
    assert_eq!(harness.v1("POST", &fresh).await.status, 200);
}

#[tokio::test]
async fn timestamps_outside_the_window_or_unreadable() {
    let harness = start_default().await;
    let minutes = |m: i64| timestamp(OffsetDateTime::now_utc() + time::Duration::minutes(m));
    for (value, code) in [
        (minutes(-20), "InvalidTimeStamp.Expired"),
        (minutes(20), "InvalidTimeStamp.Expired"),
        ("yesterday".to_owned(), "InvalidTimeStamp.Format"),
        ("2024-05-01 08:30:00".to_owned(), "InvalidTimeStamp.Format"),
    ] {
        let mut params = v1_params(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        );
        set(&mut params, "Timestamp", &value);
        assert_error(&harness.v1("POST", &params).await, 400, code);
    }
    // Within the window either way.
    for m in [-10, 10] {
        let mut params = v1_params(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        );
        set(&mut params, "Timestamp", &minutes(m));
        assert_eq!(harness.v1("POST", &params).await.status, 200);
    }
    assert_eq!(harness.counters().await["auth_failures"], 4);
}

#[tokio::test]
async fn missing_parameters_are_named() {
    let harness = start_default().await;
    for name in [
        "Action",
        "Version",
        "AccessKeyId",
        "Signature",
        "SignatureNonce",
        "Timestamp",
        "SignatureMethod",
    ] {
        let mut params = v1_params(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        );
        remove(&mut params, name);
        let answer = if name == "Signature" {
            let query: String = encoded_query(&params);
            harness.send("POST", &query, None).await
        } else {
            harness.v1("POST", &params).await
        };
        assert_error(&answer, 400, "MissingParameter");
        assert_eq!(
            answer.json()["Message"],
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            )
        );
    }
    // An empty value is missing too.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "SignatureNonce", "");
    assert_error(&harness.v1("POST", &params).await, 400, "MissingParameter");
    // The action's own required parameter.
    let params = v1_params("AllocatePublicIpAddress", &[]);
    let answer = harness.v1("POST", &params).await;
    assert_error(&answer, 400, "MissingParameter");
    assert!(
        answer.json()["Message"]
            .as_str()
            .unwrap()
            .contains("\"InstanceId\"")
    );
}

#[tokio::test]
async fn signature_method_action_and_version() {
    let harness = start_default().await;
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "SignatureMethod", "HMAC-SHA256");
    assert_error(
        &harness.v1("POST", &params).await,
        400,
        "InvalidSignatureMethod",
    );

    let params = v1_params("RunInstances", &[]);
    let answer = harness.v1("POST", &params).await;
    assert_error(&answer, 404, "InvalidApi.NotFound");
    assert_eq!(
        answer.json()["Message"],
        "Specified api is not found, please check your url and method."
    );

    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Version", "2016-03-14");
    assert_error(&harness.v1("POST", &params).await, 400, "InvalidVersion");
}

#[tokio::test]
async fn get_and_post_sign_their_own_method() {
    let harness = start_default().await;
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    assert_eq!(harness.v1("GET", &params).await.status, 200);

    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let signed_for_post = v1_query("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    let answer = harness.send("GET", &signed_for_post, None).await;
    assert_error(&answer, 400, "SignatureDoesNotMatch");
    assert!(
        answer.json()["Message"]
            .as_str()
            .unwrap()
            .contains("server string to sign is:GET&%2F&")
    );

    // Other methods are not part of the API.
    let answer = harness.send("PUT", "Format=JSON", None).await;
    assert_error(&answer, 400, "UnsupportedHTTPMethod");
    let answer = harness.send("DELETE", "", None).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Code>UnsupportedHTTPMethod</Code>"));
}

#[tokio::test]
async fn form_body_parameters_are_signed_with_the_query() {
    let harness = start_default().await;
    let params = v1_params(
        "AllocatePublicIpAddress",
        &[
            ("InstanceId", "i-emuready001"),
            ("OwnerAccount", "ops team*~ 运维+x"),
        ],
    );
    let signed = v1_signature("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    // Common parameters and the signature in the query; the action's in a
    // form body, encoded as Python's urlencode does (space as `+`).
    let (body_params, query_params): (Vec<_>, Vec<_>) = params
        .iter()
        .partition(|(k, _)| k == "InstanceId" || k == "OwnerAccount");
    let mut query: Vec<String> = query_params
        .iter()
        .map(|(k, v)| format!("{k}={}", signature::percent_encode(v)))
        .collect();
    query.push(format!("Signature={}", signature::percent_encode(&signed)));
    let form: Vec<String> = body_params
        .iter()
        .map(|(k, v)| format!("{k}={}", signature::percent_encode(v).replace("%20", "+")))
        .collect();
    let form = form.join("&");
    assert!(form.contains("ops+team"), "{form}");
    let answer = harness.send("POST", &query.join("&"), Some(&form)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["IpAddress"], "47.96.0.1");

    // Without the form content type the body is not read: the signature
    // no longer covers what the server sees.
    let params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let query = v1_query("POST", &params, SANDBOX_ACCESS_KEY_SECRET);
    let response = harness
        .http
        .post(format!("{}/?{query}", harness.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Extra=1")
        .send()
        .await
        .unwrap();
    assert_error(&super::read(response).await, 400, "SignatureDoesNotMatch");
}
