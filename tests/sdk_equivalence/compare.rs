//! Comparing the gateway's request with the official SDK's for the same
//! operation, both as captured on the wire.
//!
//! Compared exactly: method, path, every parameter (Zenlayer: the JSON body
//! as a value, so the same fields with the same JSON types and values,
//! order aside; Alibaba: the query parameters, names and decoded values,
//! none repeated) and every protocol header (`x-zc-*`, `x-acs-*`,
//! `content-type`). Volatile values (timestamps, nonces, signatures) are
//! compared by format, and each side's signature is recomputed over what
//! that side sent. Not compared: transport and client identification
//! headers (`user-agent`, `accept`, `accept-encoding`, `connection`,
//! `content-length`, `host` (each side names its own capture server),
//! `x-sdk-*`, `x-zc-sdk-version`, `x-zc-sdk-lang`,
//! `x-acs-credentials-provider`): they say which client sent the request,
//! not what it asks for.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::Recorded;
use crate::common::signatures;

/// Credentials a case signs with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// Headers that identify the client, not the request (see the module
/// documentation).
const CLIENT_HEADERS: [&str; 4] = [
    "x-zc-sdk-version",
    "x-zc-sdk-lang",
    "x-acs-credentials-provider",
    "x-sdk-client",
];

fn protocol_headers(request: &Recorded, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &request.headers {
        if (name.starts_with(prefix) || name == "content-type")
            && !CLIENT_HEADERS.contains(&name.as_str())
            && !name.starts_with("x-sdk-")
        {
            out.entry(name.clone()).or_default().push(value.clone());
        }
    }
    out
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `YYYY-MM-DDThh:mm:ssZ`, within 5 minutes of now.
fn is_fresh_iso8601(text: &str) -> bool {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(text, &format).is_ok_and(|t| {
        (t.assume_utc() - time::OffsetDateTime::now_utc()).abs() < time::Duration::minutes(5)
    })
}

/// Decimal Unix seconds, within 5 minutes of now.
fn is_fresh_unix_seconds(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
        && text
            .parse::<i64>()
            .is_ok_and(|t| (t - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 300)
}

/// Compares header maps: the same names; equal values except where
/// `volatile` says both values have the right format.
fn compare_headers(
    gateway: &BTreeMap<String, Vec<String>>,
    sdk: &BTreeMap<String, Vec<String>>,
    volatile: &dyn Fn(&str, &str) -> Option<bool>,
    diffs: &mut Vec<String>,
) {
    let names: BTreeSet<&String> = gateway.keys().chain(sdk.keys()).collect();
    for name in names {
        match (gateway.get(name), sdk.get(name)) {
            (Some(g), None) => diffs.push(format!(
                "header {name}: sent by the gateway ({g:?}), not by the SDK"
            )),
            (None, Some(s)) => diffs.push(format!(
                "header {name}: sent by the SDK ({s:?}), not by the gateway"
            )),
            (Some(g), Some(s)) => {
                if g.len() != 1 || s.len() != 1 {
                    diffs.push(format!("header {name} repeated: gateway {g:?}, SDK {s:?}"));
                    continue;
                }
                match (volatile(name, &g[0]), volatile(name, &s[0])) {
                    (Some(gok), Some(sok)) => {
                        if !gok {
                            diffs.push(format!(
                                "header {name}: gateway value {:?} has the wrong format",
                                g[0]
                            ));
                        }
                        if !sok {
                            diffs.push(format!(
                                "header {name}: SDK value {:?} has the wrong format",
                                s[0]
                            ));
                        }
                    }
                    _ if g[0] != s[0] => {
                        diffs.push(format!("header {name}: gateway {:?}, SDK {:?}", g[0], s[0]))
                    }
                    _ => {}
                }
            }
            (None, None) => {}
        }
    }
}

fn compare_start_line(gateway: &Recorded, sdk: &Recorded, path: &str, diffs: &mut Vec<String>) {
    for (who, r) in [("gateway", gateway), ("SDK", sdk)] {
        if r.method != "POST" || r.path != path {
            diffs.push(format!(
                "{who}: {} {} (expected POST {path})",
                r.method, r.path
            ));
        }
    }
}

/// A Zenlayer BMC request: body, `x-zc-*` headers, ZC2 signature.
pub fn zenlayer(gateway: &Recorded, sdk: &Recorded, credentials: &Credentials) -> Vec<String> {
    let mut diffs = Vec::new();
    compare_start_line(gateway, sdk, "/api/v2/bmc", &mut diffs);
    for (who, r) in [("gateway", gateway), ("SDK", sdk)] {
        if !r.query.is_empty() {
            diffs.push(format!("{who}: query {:?} on a JSON API", r.query));
        }
    }
    let parse = |r: &Recorded| serde_json::from_slice::<Value>(&r.body);
    match (parse(gateway), parse(sdk)) {
        (Ok(g), Ok(s)) if g == s => {}
        (Ok(g), Ok(s)) => diffs.push(format!("body: gateway {g}, SDK {s}")),
        (g, s) => diffs.push(format!("body not JSON: gateway {g:?}, SDK {s:?}")),
    }
    let volatile = |name: &str, value: &str| match name {
        "x-zc-timestamp" => Some(is_fresh_unix_seconds(value)),
        _ => None,
    };
    compare_headers(
        &protocol_headers(gateway, "x-zc-"),
        &protocol_headers(sdk, "x-zc-"),
        &volatile,
        &mut diffs,
    );
    for (who, r) in [("gateway", gateway), ("SDK", sdk)] {
        let expected = signatures::zenlayer(r, &credentials.id, &credentials.secret);
        if r.header("authorization") != Some(expected.as_str()) {
            diffs.push(format!(
                "{who}: Authorization {:?} is not the ZC2 signature of what it sent ({expected:?})",
                r.header("authorization")
            ));
        }
    }
    diffs
}

fn query_map(r: &Recorded, who: &str, diffs: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (name, value) in r.query_pairs() {
        if map.insert(name.clone(), value).is_some() {
            diffs.push(format!("{who}: query parameter {name} repeated"));
        }
    }
    map
}

/// An Alibaba ECS request signed with V1: the query parameters (with
/// `SignatureNonce`, `Timestamp` and `Signature` volatile), the `x-acs-*`
/// headers, the signature.
pub fn aliyun_v1(gateway: &Recorded, sdk: &Recorded, credentials: &Credentials) -> Vec<String> {
    let mut diffs = Vec::new();
    compare_start_line(gateway, sdk, "/", &mut diffs);
    let g = query_map(gateway, "gateway", &mut diffs);
    let s = query_map(sdk, "SDK", &mut diffs);
    let names: BTreeSet<&String> = g.keys().chain(s.keys()).collect();
    for name in names {
        match (g.get(name), s.get(name)) {
            (Some(gv), None) => diffs.push(format!(
                "parameter {name}={gv:?}: sent by the gateway, not by the SDK"
            )),
            (None, Some(sv)) => diffs.push(format!(
                "parameter {name}={sv:?}: sent by the SDK, not by the gateway"
            )),
            (Some(gv), Some(sv)) => {
                let format_ok: Option<fn(&str) -> bool> = match name.as_str() {
                    "SignatureNonce" => Some(|v| is_lower_hex(v, 32)),
                    "Timestamp" => Some(is_fresh_iso8601),
                    "Signature" => Some(|v| !v.is_empty()),
                    _ => None,
                };
                match format_ok {
                    Some(ok) => {
                        for (who, v) in [("gateway", gv), ("SDK", sv)] {
                            if !ok(v) {
                                diffs.push(format!(
                                    "parameter {name}: {who} value {v:?} has the wrong format"
                                ));
                            }
                        }
                    }
                    None if gv != sv => {
                        diffs.push(format!("parameter {name}: gateway {gv:?}, SDK {sv:?}"))
                    }
                    None => {}
                }
            }
            (None, None) => {}
        }
    }
    for (who, r, params) in [("gateway", gateway, &g), ("SDK", sdk, &s)] {
        if !r.body.is_empty() {
            diffs.push(format!(
                "{who}: a body ({} bytes) on a query-only call",
                r.body.len()
            ));
        }
        let expected = signatures::aliyun_v1(r, &credentials.secret);
        if params.get("Signature") != Some(&expected) {
            diffs.push(format!(
                "{who}: Signature is not the V1 signature of what it sent"
            ));
        }
    }
    compare_headers(
        &protocol_headers(gateway, "x-acs-"),
        &protocol_headers(sdk, "x-acs-"),
        &|_, _| None,
        &mut diffs,
    );
    diffs
}

/// The headers a V3 request must sign (plus the STS pair when used).
const V3_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// An Alibaba ECS request signed with V3: the query, the `x-acs-*` headers
/// (date and nonce volatile), the Authorization header (same credential,
/// every `x-acs-*` header and `host` signed) and the signature.
pub fn aliyun_v3(gateway: &Recorded, sdk: &Recorded, credentials: &Credentials) -> Vec<String> {
    let mut diffs = Vec::new();
    compare_start_line(gateway, sdk, "/", &mut diffs);
    let g = query_map(gateway, "gateway", &mut diffs);
    let s = query_map(sdk, "SDK", &mut diffs);
    if g != s {
        diffs.push(format!("query: gateway {g:?}, SDK {s:?}"));
    }
    let volatile = |name: &str, value: &str| match name {
        "x-acs-date" => Some(is_fresh_iso8601(value)),
        "x-acs-signature-nonce" => Some(is_lower_hex(value, 32)),
        _ => None,
    };
    compare_headers(
        &protocol_headers(gateway, "x-acs-"),
        &protocol_headers(sdk, "x-acs-"),
        &volatile,
        &mut diffs,
    );
    for (who, r) in [("gateway", gateway), ("SDK", sdk)] {
        if !r.body.is_empty() {
            diffs.push(format!(
                "{who}: a body ({} bytes) on a query-only call",
                r.body.len()
            ));
        }
        let Some(auth) = r.header("authorization").and_then(signatures::parse_v3) else {
            diffs.push(format!(
                "{who}: Authorization {:?} is not ACS3-HMAC-SHA256",
                r.header("authorization")
            ));
            continue;
        };
        if auth.credential != credentials.id {
            diffs.push(format!("{who}: Credential={}", auth.credential));
        }
        let mut required: Vec<&str> = V3_SIGNED.to_vec();
        if credentials.token.is_some() {
            required.extend(["x-acs-accesskey-id", "x-acs-security-token"]);
        }
        required.extend(
            r.headers
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| n.starts_with("x-acs-")),
        );
        for name in required {
            if !auth.signed_headers.iter().any(|h| h == name) {
                diffs.push(format!("{who}: header {name} is not signed"));
            }
        }
        let expected = signatures::aliyun_v3(r, &auth.signed_headers, &credentials.secret);
        if auth.signature != expected {
            diffs.push(format!(
                "{who}: Signature is not the V3 signature of what it sent"
            ));
        }
    }
    diffs
}
