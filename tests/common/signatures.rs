//! The three signatures recomputed from a captured request, written here
//! from the providers' documents and independent of both the gateway's
//! signers and the SDKs': a request passes only if its own signature covers
//! exactly what arrived on the wire.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::Recorded;

fn rfc3986(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RPC signature V1: Base64(HMAC-SHA1(secret + "&", METHOD&%2F&enc(sorted
/// query))) over every query parameter but `Signature`.
pub fn aliyun_v1(request: &Recorded, secret: &str) -> String {
    let mut params: Vec<(String, String)> = request
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k != "Signature")
        .collect();
    params.sort();
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{}&%2F&{}", request.method, rfc3986(&canonical));
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The parts of an `ACS3-HMAC-SHA256` Authorization header.
#[derive(Debug, PartialEq, Eq)]
pub struct V3Authorization {
    pub credential: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`.
pub fn parse_v3(header: &str) -> Option<V3Authorization> {
    let rest = header.strip_prefix("ACS3-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (name, value) = part.split_once('=')?;
        fields.insert(name.to_owned(), value.to_owned());
    }
    if fields.len() != 3 {
        return None;
    }
    Some(V3Authorization {
        credential: fields.remove("Credential")?,
        signed_headers: fields
            .remove("SignedHeaders")?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: fields.remove("Signature")?,
    })
}

/// Signature V3 over the request's own signed headers: hex(HMAC-SHA256(
/// secret, "ACS3-HMAC-SHA256\n" + hex(sha256(canonical request)))).
pub fn aliyun_v3(request: &Recorded, signed_headers: &[String], secret: &str) -> String {
    let mut query: Vec<(String, String)> = request.query_pairs();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let mut values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .collect();
        values.sort_unstable();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical = format!(
        "{}\n/\n{canonical_query}\n{canonical_headers}\n{}\n{}",
        request.method,
        signed_headers.join(";"),
        sha256_hex(&request.body)
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The whole `Authorization` value a V3 request must carry, over the
/// headers its own `SignedHeaders` names.
pub fn aliyun_v3_authorization(request: &Recorded, access_key_id: &str, secret: &str) -> String {
    let header = request.header("authorization").unwrap_or_default();
    let signed: Vec<String> = parse_v3(header)
        .map(|auth| auth.signed_headers)
        .unwrap_or_default();
    format!(
        "ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={},Signature={}",
        signed.join(";"),
        aliyun_v3(request, &signed, secret)
    )
}

/// ZC2-HMAC-SHA256: the whole `Authorization` value expected for the
/// request's content type, host, timestamp and exact body bytes.
pub fn zenlayer(request: &Recorded, access_key_id: &str, password: &str) -> String {
    let header = |name: &str| request.header(name).unwrap_or_default();
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        header("content-type"),
        header("host"),
        sha256_hex(&request.body)
    );
    let to_sign = format!(
        "ZC2-HMAC-SHA256\n{}\n{}",
        header("x-zc-timestamp"),
        sha256_hex(canonical.as_bytes())
    );
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    format!(
        "ZC2-HMAC-SHA256 Credential={access_key_id}, SignedHeaders=content-type;host, Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
