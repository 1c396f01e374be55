//! Raw signature V1 requests: the legacy SDK's exact request shape,
//! tampering, unknown keys, nonce reuse, timestamps, missing parameters,
//! JSON and XML, GET and POST, form bodies, faults and counters, and
//! malformed input.

use serde_json::json;
use time::OffsetDateTime;

use super::super::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET};
use super::{
    Answer, Harness, owned, remove, set, start_default, timestamp, v1_params, v1_query,
    v1_string_to_sign,
};
use crate::provider::aliyun::signer;

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.code(), code, "{}", answer.body);
    let body = answer.json();
    let request_id = body["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36);
    assert_eq!(request_id, request_id.to_ascii_uppercase());
    assert_eq!(answer.headers["x-acs-request-id"], request_id);
    assert_eq!(body["HostId"], "ecs.cn-hangzhou.aliyuncs.com");
    assert!(body["Recommend"].as_str().unwrap().contains(code));
    assert!(body["Message"].as_str().is_some_and(|m| !m.is_empty()));
}

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
    let signature = signer::sign_v1("POST", &super::borrow(&params), SANDBOX_ACCESS_KEY_SECRET)
        .unwrap()
        .signature;
    // The SDK's own wire order, not the sorted one.
    let mut query: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                signer::percent_encode(k),
                signer::percent_encode(v)
            )
        })
        .collect();
    query.push(format!("Signature={}", signer::percent_encode(&signature)));
    let url = format!("{}/?{}", harness.base(), query.join("&"));
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
            let query: String = params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        signer::percent_encode(k),
                        signer::percent_encode(v)
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
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
async fn xml_and_json_formats() {
    let harness = start_default().await;
    // XML success.
    let mut params = v1_params(
        "AllocatePublicIpAddress",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "XML");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    let request_id = answer.headers["x-acs-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        answer.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AllocatePublicIpAddressResponse><IpAddress>47.96.0.1</IpAddress><RequestId>{request_id}</RequestId></AllocatePublicIpAddressResponse>"
        )
    );
    // XML error; `Format` omitted means XML.
    let mut params = v1_params(
        "AllocatePublicIpAddress",
        &[("InstanceId", "i-emuready001")],
    );
    remove(&mut params, "Format");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    let request_id = answer.headers["x-acs-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(answer.body.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>{request_id}</RequestId><HostId>ecs.cn-hangzhou.aliyuncs.com</HostId><Code>AllocatedAlready</Code><Message>There is an IpAddress allocated already for the specified instance.</Message><Recommend>"
    )), "{}", answer.body);
    assert!(answer.body.ends_with("</Recommend></Error>"));
    // The gateway's parser reads the XML error.
    let parsed = crate::provider::aliyun::wire::ErrorBody::parse(answer.body.as_bytes()).unwrap();
    assert_eq!(parsed.code(), Some("AllocatedAlready"));
    // XML describe: lists become repeated elements.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emulocksec01")],
    );
    set(&mut params, "Format", "xml");
    let answer = harness.v1("POST", &params).await;
    assert!(answer.body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstanceAttributeResponse>"
    ));
    assert!(answer.body.contains("<OperationLocks><LockReason><LockMsg></LockMsg><LockReason>security</LockReason></LockReason></OperationLocks>"), "{}", answer.body);
    assert!(answer.body.contains("<PublicIpAddress></PublicIpAddress>"));
    // Lowercase json.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "json");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(
        answer.json()["PublicIpAddress"]["IpAddress"],
        json!(["47.96.0.1"])
    );
    // An unknown format: refused, in XML.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "yaml");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Code>InvalidParameter.Format</Code>"));
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
    let signature = signer::sign_v1("POST", &super::borrow(&params), SANDBOX_ACCESS_KEY_SECRET)
        .unwrap()
        .signature;
    // Common parameters and the signature in the query; the action's in a
    // form body, encoded as Python's urlencode does (space as `+`).
    let (body_params, query_params): (Vec<_>, Vec<_>) = params
        .iter()
        .partition(|(k, _)| k == "InstanceId" || k == "OwnerAccount");
    let mut query: Vec<String> = query_params
        .iter()
        .map(|(k, v)| format!("{k}={}", signer::percent_encode(v)))
        .collect();
    query.push(format!("Signature={}", signer::percent_encode(&signature)));
    let form: Vec<String> = body_params
        .iter()
        .map(|(k, v)| format!("{k}={}", signer::percent_encode(v).replace("%20", "+")))
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

#[tokio::test]
async fn injected_faults_and_counters_over_admin() {
    let harness = start_default().await;
    harness
        .admin_put_faults(json!({"throttle_probability": 1.0}))
        .await;
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emuready001")],
            ),
        )
        .await;
    assert_error(&answer, 400, "Throttling");
    assert_eq!(answer.headers["x-acs-retry-after"], "100");
    assert_eq!(
        answer.json()["Message"],
        "Request was denied due to request throttling."
    );

    harness
        .admin_put_faults(json!({"error_5xx_probability": 1.0}))
        .await;
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emuready001")],
            ),
        )
        .await;
    assert_error(&answer, 503, "ServiceUnavailable");
    assert_eq!(
        answer.json()["Message"],
        "The request has failed due to a temporary failure of the server."
    );

    harness
        .admin_put_faults(json!({"drop_after_allocate_probability": 1.0}))
        .await;
    let query = v1_query(
        "POST",
        &v1_params(
            "AllocatePublicIpAddress",
            &[("InstanceId", "i-emuready001")],
        ),
        SANDBOX_ACCESS_KEY_SECRET,
    );
    let dropped = harness
        .http
        .post(format!("{}/?{query}", harness.base()))
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    // A failed allocation is answered even with drops on.
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "AllocatePublicIpAddress",
                &[("InstanceId", "i-emustarting01")],
            ),
        )
        .await;
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
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emuready001")],
            ),
        )
        .await;
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
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emuready001")],
            ),
        )
        .await;
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
    let query: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                signer::percent_encode(k),
                signer::percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
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

#[tokio::test]
async fn describe_instance_attribute_fields() {
    let harness: Harness = start_default().await;
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emuvpceip01")],
            ),
        )
        .await;
    let body = answer.json();
    assert_eq!(body["InstanceId"], "i-emuvpceip01");
    assert_eq!(body["RegionId"], "cn-hangzhou");
    assert_eq!(body["ZoneId"], "cn-hangzhou-h");
    assert_eq!(body["Status"], "Running");
    assert_eq!(body["InstanceNetworkType"], "vpc");
    assert_eq!(body["InternetMaxBandwidthOut"], 5);
    assert_eq!(body["EipAddress"]["IpAddress"], "121.40.10.1");
    assert_eq!(body["EipAddress"]["AllocationId"], "eip-emu00000001");
    assert_eq!(body["PublicIpAddress"]["IpAddress"], json!([]));
    assert_eq!(body["OperationLocks"]["LockReason"], json!([]));
    assert!(
        body["VpcAttributes"]["VpcId"]
            .as_str()
            .unwrap()
            .starts_with("vpc-")
    );
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstanceAttribute",
                &[("InstanceId", "i-emulockfin01")],
            ),
        )
        .await;
    assert_eq!(
        answer.json()["OperationLocks"]["LockReason"][0]["LockReason"],
        "financial"
    );
    let answer = harness
        .v1(
            "POST",
            &v1_params("DescribeInstanceAttribute", &[("InstanceId", "i-nope")]),
        )
        .await;
    assert_error(&answer, 404, "InvalidInstanceId.NotFound");
    let answer = harness
        .v1("POST", &v1_params("DescribeInstanceAttribute", &[]))
        .await;
    assert_error(&answer, 400, "MissingParameter");
}
