//! Raw signature V3 (`ACS3-HMAC-SHA256`) requests: the new SDK's request
//! shape, form bodies, and every way the `Authorization` header or the
//! signed headers can be wrong.

use time::OffsetDateTime;

use super::super::{AliyunEmulatorConfig, EmulatorCredential, SANDBOX_ACCESS_KEY_SECRET};
use super::{V3, owned, send_v3, start_default, start_with, timestamp};

#[tokio::test]
async fn the_new_sdk_request_shape_is_accepted() {
    // alibabacloud-ecs20140526 on tea-openapi (FACTS.md §1.6): only
    // InstanceId in the query, nine signed headers, JSON answers.
    let harness = start_default().await;
    let mut request = V3::new(
        "AllocatePublicIpAddress",
        &[("InstanceId", "i-emuready001")],
    );
    request.extra = owned(&[
        ("accept", "application/json"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-credentials-provider", "static_ak"),
    ]);
    let answer = request.send(&harness).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "application/json;charset=utf-8");
    assert_eq!(answer.json()["IpAddress"], "47.96.0.1");

    // An XML Accept gets XML.
    let mut request = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    request.extra = owned(&[("accept", "text/xml")]);
    let answer = request.send(&harness).await;
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    assert!(
        answer.body.contains("<IpAddress>47.96.0.1</IpAddress>"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn form_body_and_special_characters() {
    let harness = start_default().await;
    let mut request = V3::new(
        "AllocatePublicIpAddress",
        &[
            ("OwnerAccount", "ops team*~ 运维账号"),
            ("ResourceOwnerAccount", "a+b=c&d/e:f(1)!'"),
        ],
    );
    request.body = b"InstanceId=i-emuready002".to_vec();
    request.extra = owned(&[("content-type", "application/x-www-form-urlencoded")]);
    let answer = request.send(&harness).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["IpAddress"], "47.96.0.1");

    // A body changed after signing.
    let mut request = V3::new("DescribeInstanceAttribute", &[]);
    request.body = b"InstanceId=i-emuready002".to_vec();
    request.extra = owned(&[("content-type", "application/x-www-form-urlencoded")]);
    let (headers, query) = request.sign(&harness.host());
    let answer = send_v3(
        &harness,
        "POST",
        &query,
        &headers,
        b"InstanceId=i-emuready003".to_vec(),
    )
    .await;
    assert_eq!(answer.code(), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn tampering_is_refused_with_the_string_to_sign() {
    let harness = start_default().await;
    let request = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let (mut headers, query) = request.sign(&harness.host());
    // Another query than the one signed.
    let answer = send_v3(
        &harness,
        "POST",
        "InstanceId=i-emuready002",
        &headers,
        Vec::new(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "SignatureDoesNotMatch")
    );
    let message = answer.json()["Message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("Specified signature is not matched with our calculation. server string to sign is:ACS3-HMAC-SHA256\n"),
        "{message}"
    );
    // Another method than the one signed.
    let answer = send_v3(&harness, "GET", &query, &headers, Vec::new()).await;
    assert_eq!(answer.code(), "SignatureDoesNotMatch");
    // A signed header changed.
    for (name, value) in &mut headers {
        if name == "x-acs-signature-nonce" {
            *value = "0000".into();
        }
    }
    let answer = send_v3(&harness, "POST", &query, &headers, Vec::new()).await;
    assert_eq!(answer.code(), "SignatureDoesNotMatch");
    // The wrong secret; an uppercase signature is accepted.
    let mut wrong = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    wrong.secret = "nope".into();
    assert_eq!(wrong.send(&harness).await.code(), "SignatureDoesNotMatch");
    let fine = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let (mut headers, query) = fine.sign(&harness.host());
    if let Some((_, auth)) = headers.last_mut() {
        let (head, signature) = auth.rsplit_once("Signature=").unwrap();
        *auth = format!("{head}Signature={}", signature.to_ascii_uppercase());
    }
    assert_eq!(
        send_v3(&harness, "POST", &query, &headers, Vec::new())
            .await
            .status,
        200
    );
    assert_eq!(harness.counters().await["auth_failures"], 4);
}

#[tokio::test]
async fn authorization_header_errors() {
    let harness = start_default().await;
    let request = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    let (headers, query) = request.sign(&harness.host());
    let with_auth = |auth: &str| {
        let mut h: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| k != "authorization")
            .cloned()
            .collect();
        h.push(("authorization".into(), auth.into()));
        h
    };
    for (auth, code) in [
        ("ACS3-HMAC-SHA256", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 Credential=x", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 ,,,,=,=,", "IncompleteSignature"),
        (
            "ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=b",
            "InvalidSignatureMethod",
        ),
        (
            "ACS3-RSA-SHA256 Credential=a,SignedHeaders=host,Signature=b",
            "InvalidSignatureMethod",
        ),
        // Required headers left unsigned.
        (
            "ACS3-HMAC-SHA256 Credential=LTAI5tSandboxAccessKey01,SignedHeaders=host;x-acs-action;x-acs-version,Signature=00",
            "IncompleteSignature",
        ),
        (
            "ACS3-HMAC-SHA256 Credential=LTAI5tNobody,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=00",
            "InvalidAccessKeyId.NotFound",
        ),
    ] {
        let answer = send_v3(&harness, "POST", &query, &with_auth(auth), Vec::new()).await;
        assert_eq!(answer.code(), code, "{auth}: {}", answer.body);
        let expected = if code == "InvalidAccessKeyId.NotFound" {
            404
        } else {
            400
        };
        assert_eq!(answer.status, expected);
    }
    // Bytes that are not UTF-8.
    let response = harness
        .http
        .post(format!("{}/?{query}", harness.base()))
        .header("x-acs-action", "DescribeInstanceAttribute")
        .header("x-acs-version", "2014-05-26")
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"ACS3-HMAC-SHA256 \xff\xfe=\x80").unwrap(),
        )
        .send()
        .await
        .unwrap();
    let answer = super::read(response).await;
    assert_eq!(answer.code(), "IncompleteSignature");
}

#[tokio::test]
async fn missing_headers_dates_and_nonces() {
    let harness = start_default().await;
    for name in [
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        let request = V3::new(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        );
        let (headers, query) = request.sign(&harness.host());
        let headers: Vec<_> = headers.into_iter().filter(|(k, _)| k != name).collect();
        let answer = send_v3(&harness, "POST", &query, &headers, Vec::new()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (400, "MissingParameter"),
            "{name}"
        );
        assert!(
            answer.json()["Message"]
                .as_str()
                .unwrap()
                .contains(&format!("\"{name}\""))
        );
    }
    let stale = timestamp(OffsetDateTime::now_utc() - time::Duration::minutes(16));
    let mut request = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    request.date = stale;
    assert_eq!(
        request.send(&harness).await.code(),
        "InvalidTimeStamp.Expired"
    );
    request.date = "Thu, 01 May 2024 08:30:00 GMT".into();
    assert_eq!(
        request.send(&harness).await.code(),
        "InvalidTimeStamp.Format"
    );

    let request = V3::new(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    assert_eq!(request.send(&harness).await.status, 200);
    let again = request.send(&harness).await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (400, "SignatureNonceUsed")
    );

    let unknown = V3::new("RunInstances", &[]);
    assert_eq!(unknown.send(&harness).await.code(), "InvalidApi.NotFound");
}

#[tokio::test]
async fn sts_token_header_must_be_signed_and_match() {
    let config = AliyunEmulatorConfig {
        credentials: vec![
            EmulatorCredential::new("STS.emuKey", "sts-secret").with_security_token("CAIS+tok/=="),
        ],
        ..AliyunEmulatorConfig::default()
    };
    let harness = start_with(config).await;
    let sts = |token: Option<&str>| {
        let mut request = V3::new(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        );
        request.access_key_id = "STS.emuKey".into();
        request.secret = "sts-secret".into();
        request.extra = owned(&[("x-acs-accesskey-id", "STS.emuKey")]);
        if let Some(token) = token {
            request
                .extra
                .push(("x-acs-security-token".into(), token.into()));
        }
        request
    };
    assert_eq!(sts(Some("CAIS+tok/==")).send(&harness).await.status, 200);
    assert_eq!(
        sts(Some("CAIS+other")).send(&harness).await.code(),
        "InvalidSecurityToken.MismatchWithAccessKey"
    );
    assert_eq!(
        sts(None).send(&harness).await.code(),
        "MissingSecurityToken"
    );
    // A token sent but not signed.
    let request = sts(None);
    let (mut headers, query) = request.sign(&harness.host());
    headers.push(("x-acs-security-token".into(), "CAIS+tok/==".into()));
    let answer = send_v3(&harness, "POST", &query, &headers, Vec::new()).await;
    assert_eq!(answer.code(), "IncompleteSignature");
    // The sandbox key is not configured here.
    let mut request = V3::new("DescribeInstanceAttribute", &[]);
    request.secret = SANDBOX_ACCESS_KEY_SECRET.into();
    assert_eq!(
        request.send(&harness).await.code(),
        "InvalidAccessKeyId.NotFound"
    );
}
