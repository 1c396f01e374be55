//! A provider (or a proxy in front of it) that echoes the request hands the
//! gateway's signed credentials back: the STS token, the signature, the
//! access key id, in the V1 query, the V3 headers or Zenlayer's
//! Authorization. Whatever the form (query string plain or percent-encoded
//! once, twice, three times; JSON; JSON inside a JSON string; XML; a header
//! dump; an HTML error page), none of it reaches the caller's status, its
//! details or the logs (the real binary at trace level, stderr captured).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

/// RFC 3986 unreserved characters stay, as Alibaba's signer encodes.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn pct(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `secret` as it may appear: plain, and percent-encoded one to three times
/// with either encoding set.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    for set in [NON_ALPHANUMERIC, RFC3986] {
        let mut text = secret.to_owned();
        for _ in 0..3 {
            text = utf8_percent_encode(&text, set).to_string();
            out.push(text.clone());
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn aliyun_error(status: u16, message: String) -> Reply {
    Reply::json(
        status,
        json!({"RequestId": "R-ECHO", "Code": "InvalidParameter", "Message": message}),
    )
}

fn zenlayer_error(status: u16, message: String) -> Reply {
    Reply::json(
        status,
        json!({"requestId": "T-ECHO", "code": "INVALID_PARAMETER_VALUE", "message": message}),
    )
}

fn decoded_query(r: &Recorded) -> String {
    r.query_pairs()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn headers_json(r: &Recorded) -> String {
    serde_json::to_string(&r.headers).unwrap()
}

/// A named echo: the provider's answer built from the request it received.
type Echo = (&'static str, fn(&Recorded) -> Reply);

// Alibaba V1: the credentials travel in the query.
const V1_FORMS: &[Echo] = &[
    ("query as sent", |r| {
        aliyun_error(400, format!("The request ?{} is invalid", r.query))
    }),
    ("query decoded", |r| {
        aliyun_error(400, format!("bad: {}", decoded_query(r)))
    }),
    ("query encoded twice", |r| {
        aliyun_error(400, format!("bad: {}", pct(&r.query)))
    }),
    ("query encoded three times", |r| {
        aliyun_error(400, format!("bad: {}", pct(&pct(&r.query))))
    }),
    ("string to sign", |r| {
        Reply::json(
            400,
            json!({"RequestId": "R-SIG", "Code": "SignatureDoesNotMatch",
                "Message": format!("Specified signature is not matched with our calculation. server string to sign is:GET&%2F&{}", pct(&r.query))}),
        )
    }),
    ("parameters as JSON in the message", |r| {
        let map: serde_json::Map<String, serde_json::Value> = r
            .query_pairs()
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect();
        aliyun_error(400, serde_json::to_string(&map).unwrap())
    }),
    ("XML error body", |r| {
        Reply::raw(
            400,
            "text/xml",
            &format!(
                "<?xml version=\"1.0\"?><Error><RequestId>R-X</RequestId><Code>InvalidParameter</Code><Message>{}</Message></Error>",
                xml_escape(&decoded_query(r))
            ),
        )
    }),
    ("proxy HTML page quoting the URL", |r| {
        Reply::raw(
            502,
            "text/html",
            &format!(
                "<html><body><h1>502</h1><p>upstream failed for GET {}?{}</p><pre>{}</pre></body></html>",
                r.path, r.query, r.head
            ),
        )
    }),
    ("plain-text 400 with the decoded query", |r| {
        Reply::raw(400, "text/plain", &decoded_query(r))
    }),
];

// Alibaba V3 and Zenlayer: the credentials travel in headers.
const V3_FORMS: &[Echo] = &[
    ("header dump", |r| aliyun_error(400, r.head.clone())),
    ("headers as JSON", |r| aliyun_error(400, headers_json(r))),
    ("plain-text header dump", |r| {
        Reply::raw(403, "text/plain", &r.head)
    }),
    ("HTML page with the headers", |r| {
        Reply::raw(
            502,
            "text/html",
            &format!("<html><pre>{}</pre></html>", xml_escape(&r.head)),
        )
    }),
];

const ZL_FORMS: &[Echo] = &[
    ("header dump", |r| zenlayer_error(400, r.head.clone())),
    ("headers as JSON", |r| zenlayer_error(400, headers_json(r))),
    ("plain-text header dump", |r| {
        Reply::raw(403, "text/plain", &r.head)
    }),
    ("HTML page with the headers", |r| {
        Reply::raw(
            502,
            "text/html",
            &format!("<html><pre>{}</pre></html>", r.head),
        )
    }),
    ("HTTP 200 with an error code", |r| {
        Reply::json(
            200,
            json!({"requestId": "T-200", "code": "INTERNAL_SERVER_ERROR", "message": r.head}),
        )
    }),
    ("body echoed in a JSON string", |r| {
        zenlayer_error(
            400,
            format!("{} {}", headers_json(r), String::from_utf8_lossy(&r.body)),
        )
    }),
];

/// The Signature (and Credential) values the gateway actually sent.
fn sent_signatures(requests: &[Recorded]) -> Vec<String> {
    let mut out = Vec::new();
    for r in requests {
        if let Some(signature) = r.param("Signature") {
            out.push(signature);
        }
        if let Some(auth) = r.header("authorization") {
            for part in auth.split([',', ' ']) {
                if let Some(sig) = part.trim().strip_prefix("Signature=") {
                    out.push(sig.to_owned());
                }
            }
        }
    }
    out
}

fn assert_clean(text: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} contains {form:?} (from {secret:?}):\n{}",
                &text[text.find(&form).unwrap().saturating_sub(300)..]
                    .chars()
                    .take(800)
                    .collect::<String>()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn echoed_credentials_reach_neither_statuses_nor_logs() {
    let replies = |forms: &[Echo]| {
        forms
            .iter()
            .map(|(_, build)| Reply::Echo(*build))
            .collect::<Vec<_>>()
    };
    // One more V1 and Zenlayer echo for an AllocateIp each.
    let mut v1_replies = replies(V1_FORMS);
    v1_replies.push(Reply::Echo(V1_FORMS[1].1));
    let mut zl_replies = replies(ZL_FORMS);
    zl_replies.push(Reply::Echo(ZL_FORMS[0].1));
    let v1 = Scripted::start(v1_replies).await;
    let v3 = Scripted::start(replies(V3_FORMS)).await;
    let zl = Scripted::start(zl_replies).await;

    let once = "max_attempts = 1\n";
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[log]\nlevel = \"trace\"\nformat = \"json\"\n{}{}{}",
        aliyun_provider(
            "ali",
            &v1.url(),
            &format!("security_token_env = \"TEST_STS\"\n{once}")
        ),
        aliyun_provider(
            "ali-v3",
            &v3.url(),
            &format!("signature_version = \"v3\"\nsecurity_token_env = \"TEST_STS\"\n{once}")
        ),
        zenlayer_provider("zl", &zl.url(), once),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = process::spawn(dir.path(), &config, |command| {
        command.env("TEST_STS", ALIYUN_STS);
    });
    let mut client = gateway.client().await;

    let mut seen = String::new();
    let mut record = |name: &str, result: Result<String, tonic::Status>| match result {
        Ok(ok) => panic!("{name}: expected an error, got {ok}"),
        Err(status) => {
            assert!(
                status.message().len() < 2048,
                "{name}: {}",
                status.message()
            );
            seen.push_str(&format!(
                "{name}: {status:?}\n{}\n{:?}\n",
                status.message(),
                details(&status)
            ));
        }
    };
    for (name, _) in V1_FORMS {
        let result = client
            .get_allocation(requests::lookup("ali", "i-bp1abc"))
            .await;
        record(&format!("V1 {name}"), result.map(|r| format!("{r:?}")));
    }
    for (name, _) in V3_FORMS {
        let result = client
            .get_allocation(requests::lookup("ali-v3", "i-bp1abc"))
            .await;
        record(&format!("V3 {name}"), result.map(|r| format!("{r:?}")));
    }
    for (name, _) in ZL_FORMS {
        let result = client
            .get_allocation(requests::lookup("zl", "eip-echo"))
            .await;
        record(
            &format!("Zenlayer {name}"),
            result.map(|r| format!("{r:?}")),
        );
    }
    let allocate_v1 = client
        .allocate_ip(requests::aliyun("ali", requests::instance("i-bp1abc")))
        .await;
    record("V1 AllocateIp", allocate_v1.map(|r| format!("{r:?}")));
    let allocate_zl = client
        .allocate_ip(requests::zenlayer("zl", requests::postpaid("SEL-A")))
        .await;
    record("Zenlayer AllocateIp", allocate_zl.map(|r| format!("{r:?}")));

    let mut requests = v1.requests();
    requests.extend(v3.requests());
    requests.extend(zl.requests());
    assert_eq!(
        requests.len(),
        V1_FORMS.len() + V3_FORMS.len() + ZL_FORMS.len() + 2,
        "one provider request per call"
    );
    // The echoes really carried the credentials.
    assert!(requests[0].query.contains("SecurityToken="));
    assert!(v3.requests()[0].header("x-acs-security-token") == Some(ALIYUN_STS));
    let signatures = sent_signatures(&requests);
    assert_eq!(signatures.len(), requests.len(), "a signature per request");
    let mut secrets = vec![
        ALIYUN_STS.to_owned(),
        ALIYUN_SECRET.to_owned(),
        ZL_PASSWORD.to_owned(),
    ];
    secrets.extend(signatures);
    let mut with_key_ids = secrets.clone();
    with_key_ids.extend([ALIYUN_AK_ID.to_owned(), ZL_AK_ID.to_owned()]);
    if std::env::var_os("SHOW_STATUSES").is_some() {
        println!("{seen}");
    }
    assert_clean(&seen, &with_key_ids, "statuses");
    assert!(seen.contains("[redacted]"), "{seen}");
    // What is not a credential still helps the operator.
    assert!(seen.contains("DescribeInstanceAttribute"), "{seen}");
    assert!(seen.contains("SignatureMethod"), "{seen}");

    let logs = gateway.terminate();
    assert!(logs.contains("lookup failed"), "{logs}");
    assert!(logs.contains("allocation failed"), "{logs}");
    assert_clean(&logs, &secrets, "logs");
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 4096, "a log line of {longest} bytes");
    println!(
        "{} echoes, {} provider requests, statuses {} bytes, logs {} bytes (longest line {longest}): no credential",
        V1_FORMS.len() + V3_FORMS.len() + ZL_FORMS.len() + 2,
        requests.len(),
        seen.len(),
        logs.len()
    );
}
