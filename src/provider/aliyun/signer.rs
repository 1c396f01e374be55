//! Alibaba Cloud request signing, as pure functions (no clock, no randomness,
//! no I/O): RFC 3986 percent-encoding, RPC signature V1 (HMAC-SHA1 over the
//! sorted query) and signature V3 (`ACS3-HMAC-SHA256` over a canonical
//! request).
//!
//! The client supplies timestamps and nonces; the tests reproduce Alibaba's
//! published examples and the vectors computed with the official SDKs
//! (`tests/vectors/aliyun-rpc-v1.json`, `tests/vectors/aliyun-acs3.json`).
//!
//! Secrets are taken as `&str` and used only as HMAC keys: nothing here
//! formats, logs or returns them.

use std::fmt::{self, Write as _};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The V1 `SignatureMethod` parameter value.
pub const V1_SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The V1 `SignatureVersion` parameter value.
pub const V1_SIGNATURE_VERSION: &str = "1.0";
/// The V3 algorithm name, first word of `Authorization` and of the
/// string-to-sign.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Lowercase hex SHA-256 of an empty body (`x-acs-content-sha256` of every
/// request the gateway sends).
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The HMAC implementation refused the key. HMAC accepts keys of any length,
/// so this does not happen in practice; it exists so that signing never
/// panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the HMAC implementation rejected the signing key")]
pub struct SignError;

/// Appends `input` percent-encoded per RFC 3986: the UTF-8 bytes
/// `A-Z a-z 0-9 - _ . ~` stay literal, every other byte becomes `%XY` with
/// uppercase hex (space is `%20`, never `+`).
pub fn percent_encode_into(out: &mut String, input: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// `input` percent-encoded per RFC 3986 (see [`percent_encode_into`]).
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2);
    percent_encode_into(&mut out, input);
    out
}

/// The canonical query string shared by V1 and V3: parameters sorted by name
/// (byte order, case-sensitive; equal names by value), each name and value
/// percent-encoded, joined as `name=value` with `&`. An empty value gives
/// `name=`; no parameters give an empty string.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(b.1)));
    let capacity = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(capacity);
    for (index, (name, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// Lowercase hex SHA-256 of `data` (the V3 payload hash).
pub fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).map_err(|_| SignError)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| SignError)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

// ---------------------------------------------------------------------------
// RPC signature V1 (HMAC-SHA1)
// ---------------------------------------------------------------------------

/// The result of signing a request with RPC signature V1. `Debug` shows only
/// the signature: the query and string-to-sign carry the STS token.
#[derive(Clone, PartialEq, Eq)]
pub struct V1Signature {
    /// The sorted, encoded parameters (everything except `Signature`). Sent
    /// as the URL query, followed by `&Signature=<encoded signature>`.
    pub canonical_query: String,
    /// `METHOD&%2F&<percent-encoded canonical query>`.
    pub string_to_sign: String,
    /// Base64 of the HMAC-SHA1, before percent-encoding.
    pub signature: String,
}

impl fmt::Debug for V1Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V1Signature")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl V1Signature {
    /// The complete query string to send: the canonical query plus the
    /// percent-encoded `Signature`, exactly as signed.
    pub fn into_query(self) -> String {
        let mut query = self.canonical_query;
        query.reserve(11 + self.signature.len() * 2);
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("Signature=");
        percent_encode_into(&mut query, &self.signature);
        query
    }
}

/// `StringToSign = METHOD + "&%2F&" + percentEncode(canonical_query)`.
pub fn v1_string_to_sign(method: &str, canonical_query: &str) -> String {
    let mut out = String::with_capacity(method.len() + 5 + canonical_query.len() * 3 / 2);
    out.push_str(method);
    out.push_str("&%2F&");
    percent_encode_into(&mut out, canonical_query);
    out
}

/// `Base64(HMAC-SHA1(key = secret + "&", string_to_sign))`.
pub fn v1_signature(access_key_secret: &str, string_to_sign: &str) -> Result<String, SignError> {
    let mut key = Vec::with_capacity(access_key_secret.len() + 1);
    key.extend_from_slice(access_key_secret.as_bytes());
    key.push(b'&');
    let mac = hmac_sha1(&key, string_to_sign.as_bytes());
    // Do not leave a copy of the secret behind longer than needed.
    key.fill(0);
    Ok(base64::engine::general_purpose::STANDARD.encode(mac?))
}

/// Signs `params` (every request parameter except `Signature`, including
/// `SecurityToken` when using STS) for `method` (`GET` or `POST`, as sent).
pub fn sign_v1(
    method: &str,
    params: &[(&str, &str)],
    access_key_secret: &str,
) -> Result<V1Signature, SignError> {
    let canonical_query = canonical_query(params);
    let string_to_sign = v1_string_to_sign(method, &canonical_query);
    let signature = v1_signature(access_key_secret, &string_to_sign)?;
    Ok(V1Signature {
        canonical_query,
        string_to_sign,
        signature,
    })
}

// ---------------------------------------------------------------------------
// Signature V3 (ACS3-HMAC-SHA256)
// ---------------------------------------------------------------------------

/// What V3 signs. The canonical URI is always `/` (RPC style).
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a> {
    /// `GET` or `POST`, as sent.
    pub method: &'a str,
    /// Query parameters (unencoded).
    pub query: &'a [(&'a str, &'a str)],
    /// Every header to sign (`host`, `x-acs-*`, `content-type` when there is
    /// a body), names in any case; `Authorization` must not be among them.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the body, also sent as `x-acs-content-sha256`
    /// ([`EMPTY_BODY_SHA256`] for an empty body).
    pub hashed_payload: &'a str,
}

/// The result of signing a request with V3. `Debug` shows only the signed
/// header names and the signature: the canonical request carries the STS
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct V3Signature {
    /// The sorted, encoded query: send it as the URL query.
    pub canonical_query: String,
    pub canonical_request: String,
    /// Lowercase hex SHA-256 of the canonical request.
    pub hashed_canonical_request: String,
    /// `ACS3-HMAC-SHA256\n<hashed canonical request>`.
    pub string_to_sign: String,
    /// Lowercase header names, sorted, `;`-joined.
    pub signed_headers: String,
    /// Lowercase hex HMAC-SHA256.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

impl fmt::Debug for V3Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V3Signature")
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// Canonical headers and the signed-header list: names lowercased and
/// sorted, values trimmed; values of a repeated name are sorted and joined
/// with `,`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    lowered.sort_unstable();
    let mut canonical = String::new();
    let mut signed = String::new();
    let mut index = 0;
    while index < lowered.len() {
        let name = &lowered[index].0;
        if !signed.is_empty() {
            signed.push(';');
        }
        signed.push_str(name);
        canonical.push_str(name);
        canonical.push(':');
        let mut first = true;
        while index < lowered.len() && &lowered[index].0 == name {
            if !first {
                canonical.push(',');
            }
            canonical.push_str(lowered[index].1);
            first = false;
            index += 1;
        }
        canonical.push('\n');
    }
    (canonical, signed)
}

/// Signs a request with `ACS3-HMAC-SHA256`:
///
/// ```text
/// CanonicalRequest = METHOD \n / \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HashedPayload
/// StringToSign     = ACS3-HMAC-SHA256 \n hex(sha256(CanonicalRequest))
/// Signature        = hex(HMAC-SHA256(secret, StringToSign))
/// ```
///
/// `CanonicalHeaders` ends every entry with `\n`, so a blank line precedes
/// `SignedHeaders`.
pub fn sign_v3(
    request: &V3Request<'_>,
    access_key_id: &str,
    access_key_secret: &str,
) -> Result<V3Signature, SignError> {
    let canonical_query = canonical_query(request.query);
    let (headers, signed_headers) = canonical_headers(request.headers);
    let mut canonical_request = String::with_capacity(
        request.method.len() + canonical_query.len() + headers.len() + signed_headers.len() + 72,
    );
    canonical_request.push_str(request.method);
    canonical_request.push_str("\n/\n");
    canonical_request.push_str(&canonical_query);
    canonical_request.push('\n');
    canonical_request.push_str(&headers);
    canonical_request.push('\n');
    canonical_request.push_str(&signed_headers);
    canonical_request.push('\n');
    canonical_request.push_str(request.hashed_payload);

    let hashed_canonical_request = hex_sha256(canonical_request.as_bytes());
    let string_to_sign = format!("{V3_ALGORITHM}\n{hashed_canonical_request}");
    let signature = hex::encode(hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    )?);
    let mut authorization = String::with_capacity(
        V3_ALGORITHM.len() + access_key_id.len() + signed_headers.len() + signature.len() + 40,
    );
    // Writing to a String cannot fail.
    let _ = write!(
        authorization,
        "{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Ok(V3Signature {
        canonical_query,
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn load(name: &str) -> Value {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn pairs(object: &Value) -> Vec<(String, String)> {
        object
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }

    fn borrow(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    // ----- percent-encoding -----

    #[test]
    fn encodes_per_rfc3986() {
        let cases = [
            ("AZaz09-_.~", "AZaz09-_.~"),
            ("运维", "%E8%BF%90%E7%BB%B4"),
            (" ", "%20"),
            ("*", "%2A"),
            ("~", "~"),
            ("+", "%2B"),
            ("/", "%2F"),
            ("=", "%3D"),
            ("&", "%26"),
            (":", "%3A"),
            ("%", "%25"),
            ("(1)!'", "%281%29%21%27"),
            ("\n", "%0A"),
            ("é", "%C3%A9"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_encode(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn encoding_matches_openapi_util_unit_test() {
        // aliyun/darabonba-openapi-util python/tests/test_client.py
        assert_eq!(
            canonical_query(&[("test", " ~/*-+")]),
            "test=%20~%2F%2A-%2B"
        );
    }

    #[test]
    fn encoding_matches_percent_encoding_crate() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x4e2d, 0x8fd0, 0x1f600]) {
            if let Some(c) = char::from_u32(c) {
                all.push(c);
            }
        }
        assert_eq!(
            percent_encode(&all),
            utf8_percent_encode(&all, RFC3986).to_string()
        );
    }

    #[test]
    fn canonical_query_sorts_by_byte_order_and_keeps_empty_values() {
        let query = canonical_query(&[("b", "2"), ("a", ""), ("B", "x y"), ("a", "0")]);
        assert_eq!(query, "B=x%20y&a=&a=0&b=2");
        assert_eq!(canonical_query(&[]), "");
    }

    // ----- V1 vectors -----

    #[test]
    fn v1_reproduces_every_vector() {
        let file = load("aliyun-rpc-v1.json");
        let vectors = file["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 4);
        for vector in vectors {
            let name = vector["name"].as_str().unwrap();
            let method = vector["method"].as_str().unwrap();
            let secret = vector["access_key_secret"].as_str().unwrap();
            let owned = pairs(&vector["params"]);
            let signed = sign_v1(method, &borrow(&owned), secret).unwrap();
            if let Some(expected) = vector.get("canonical_query") {
                assert_eq!(signed.canonical_query, expected.as_str().unwrap(), "{name}");
            }
            if let Some(expected) = vector.get("string_to_sign") {
                assert_eq!(signed.string_to_sign, expected.as_str().unwrap(), "{name}");
            }
            assert_eq!(
                signed.signature,
                vector["signature"].as_str().unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn v1_allocate_vector_string_to_sign_and_wire_query() {
        // FACTS.md §1.4: the V1 POST vector's StringToSign and wire encoding.
        let file = load("aliyun-rpc-v1.json");
        let vector = &file["vectors"][3];
        let owned = pairs(&vector["params"]);
        let signed = sign_v1("POST", &borrow(&owned), "ExampleSecret0001").unwrap();
        assert_eq!(
            signed.string_to_sign,
            "POST&%2F&AccessKeyId%3DLTAI5tExampleAkId0001%26Action%3DAllocatePublicIpAddress%26Format%3DJSON%26InstanceId%3Di-bp1abcdefghijk123456%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Df3a1c2d4-0001-4e5f-9a8b-000000000001%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2014-05-26"
        );
        let query = signed.into_query();
        assert!(query.ends_with("&Signature=Itr0nxNkVHjtgOez5qBOmyABRl4%3D"));
        assert!(query.starts_with("AccessKeyId=LTAI5tExampleAkId0001&Action="));
    }

    #[test]
    fn v1_published_signature_goes_on_the_wire_encoded() {
        let signed = V1Signature {
            canonical_query: "A=1".into(),
            string_to_sign: String::new(),
            signature: "OLeaidS1JvxuMvnyHOwuJ+uX5qY=".into(),
        };
        assert_eq!(
            signed.into_query(),
            "A=1&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"
        );
    }

    #[test]
    fn v1_legacy_sdk_wire_capture() {
        // FACTS.md §1.6: legacy sdk-core also signs `SignatureType=` (empty).
        let params = [
            ("InstanceId", "i-bp1abcdefghijk123456"),
            ("Version", "2014-05-26"),
            ("Action", "AllocatePublicIpAddress"),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("Timestamp", "2024-05-01T08:30:00Z"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "f3a1c2d4-0001-4e5f-9a8b-000000000001"),
            ("AccessKeyId", "LTAI5tExampleAkId0001"),
        ];
        let signed = sign_v1("POST", &params, "ExampleSecret0001").unwrap();
        assert_eq!(
            signed.string_to_sign,
            "POST&%2F&AccessKeyId%3DLTAI5tExampleAkId0001%26Action%3DAllocatePublicIpAddress%26Format%3DJSON%26InstanceId%3Di-bp1abcdefghijk123456%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Df3a1c2d4-0001-4e5f-9a8b-000000000001%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2014-05-26"
        );
        assert_eq!(signed.signature, "ZwBhqjJqBkHpbhJaAEve/ipOoD8=");
        assert!(
            signed
                .into_query()
                .ends_with("&Signature=ZwBhqjJqBkHpbhJaAEve%2FipOoD8%3D")
        );
    }

    #[test]
    fn v1_tea_openapi_v2_wire_capture() {
        // FACTS.md §1.6: tea-openapi with signature_algorithm='v2'.
        let params = [
            ("AccessKeyId", "LTAI5tExampleAkId0001"),
            ("Action", "AllocatePublicIpAddress"),
            ("Format", "json"),
            ("InstanceId", "i-bp1abcdefghijk123456"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "f3a1c2d4000149f59a8b000000000001"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-05-01T08:30:00Z"),
            ("Version", "2014-05-26"),
        ];
        let signed = sign_v1("POST", &params, "ExampleSecret0001").unwrap();
        assert_eq!(signed.signature, "/Q0FIqpcFnV2a9zLTPEOA1IYvqE=");
    }

    /// Parameters with every special character class, optionally with an
    /// STS token (an ordinary signed parameter in V1).
    fn special_params(with_token: bool) -> Vec<(&'static str, &'static str)> {
        let mut params = vec![
            ("AccessKeyId", "STS.NUexampleTempAkId0002"),
            ("Action", "AllocatePublicIpAddress"),
            ("Format", "JSON"),
            ("InstanceId", "i-2ze0example0000002"),
            ("OwnerAccount", "ops team*~ 运维账号"),
            ("RegionId", "cn-beijing"),
            ("ResourceOwnerAccount", "a+b=c&d/e:f(1)!'"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "5e9b7c3a-0002-4d6e-8f70-000000000002"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-05-01T08:30:05Z"),
            ("Version", "2014-05-26"),
        ];
        if with_token {
            params.push(("SecurityToken", "CAIS+example/token=="));
        }
        params
    }

    const SPECIAL_CANONICAL: &str = "AccessKeyId=STS.NUexampleTempAkId0002&Action=AllocatePublicIpAddress&Format=JSON&InstanceId=i-2ze0example0000002&OwnerAccount=ops%20team%2A~%20%E8%BF%90%E7%BB%B4%E8%B4%A6%E5%8F%B7&RegionId=cn-beijing&ResourceOwnerAccount=a%2Bb%3Dc%26d%2Fe%3Af%281%29%21%27";

    #[test]
    fn v1_special_characters_get_post_with_and_without_sts() {
        // Expected signatures computed independently with Python's hmac,
        // hashlib and base64 from the FACTS.md §1.2 recipe.
        let secret = "ExampleSecret/0002+=";
        let cases = [
            ("GET", false, "dnlXXfqfICifcl59kP80iD5xhXc="),
            ("POST", false, "tlMVCLkqhcqsTgZCBtwl2K7xZZA="),
            ("GET", true, "X8t4fC97gOVE5o80234s7YkmgOQ="),
            ("POST", true, "QFdRXAmsZW4FTfmaeUTTsRd12aI="),
        ];
        for (method, with_token, expected) in cases {
            let signed = sign_v1(method, &special_params(with_token), secret).unwrap();
            assert!(
                signed.canonical_query.starts_with(SPECIAL_CANONICAL),
                "{method} {with_token}: {}",
                signed.canonical_query
            );
            let token_pair = "SecurityToken=CAIS%2Bexample%2Ftoken%3D%3D";
            assert_eq!(
                signed.canonical_query.contains(token_pair),
                with_token,
                "{method} {with_token}"
            );
            assert!(signed.string_to_sign.starts_with(&format!("{method}&%2F&")));
            // The second encoding: `%` -> `%25`, space -> `%2520`, `:` -> `%253A`.
            assert!(
                signed
                    .string_to_sign
                    .contains("ops%2520team%252A~%2520%25E8%25BF%2590")
            );
            assert!(signed.string_to_sign.contains("08%253A30%253A05Z"));
            assert!(!signed.canonical_query.contains('+'));
            assert!(!signed.canonical_query.contains(' '));
            assert_eq!(
                signed.signature, expected,
                "{method} with_token={with_token}"
            );
        }
    }

    #[test]
    fn v1_get_and_post_differ_only_by_method_prefix() {
        let get = sign_v1("GET", &special_params(true), "s").unwrap();
        let post = sign_v1("POST", &special_params(true), "s").unwrap();
        assert_eq!(get.canonical_query, post.canonical_query);
        assert_eq!(
            get.string_to_sign.strip_prefix("GET"),
            post.string_to_sign.strip_prefix("POST")
        );
        assert_ne!(get.signature, post.signature);
    }

    #[test]
    fn v1_parameter_order_does_not_matter() {
        let mut params = special_params(true);
        let forward = sign_v1("POST", &params, "s").unwrap();
        params.reverse();
        assert_eq!(sign_v1("POST", &params, "s").unwrap(), forward);
    }

    #[test]
    fn v1_secret_is_never_in_the_output() {
        let secret = "TopSecretValue-9f8e7d";
        let signed = sign_v1("POST", &special_params(true), secret).unwrap();
        let debug = format!("{signed:?}");
        assert!(!debug.contains(secret));
        assert!(
            !debug.contains("CAIS"),
            "the STS token stays out of Debug: {debug}"
        );
        assert!(!signed.clone().into_query().contains(secret));
    }

    // ----- V3 vectors -----

    #[test]
    fn v3_reproduces_every_vector() {
        let file = load("aliyun-acs3.json");
        let vectors = file["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for vector in vectors {
            let name = vector["name"].as_str().unwrap();
            let query = pairs(&vector["query"]);
            let headers = pairs(&vector["headers"]);
            let hashed_payload = headers
                .iter()
                .find(|(k, _)| k == "x-acs-content-sha256")
                .map(|(_, v)| v.clone())
                .unwrap();
            assert_eq!(hashed_payload, EMPTY_BODY_SHA256, "{name}");
            let query = borrow(&query);
            let headers = borrow(&headers);
            let request = V3Request {
                method: vector["method"].as_str().unwrap(),
                query: &query,
                headers: &headers,
                hashed_payload: &hashed_payload,
            };
            let signed = sign_v3(
                &request,
                vector["access_key_id"].as_str().unwrap(),
                vector["access_key_secret"].as_str().unwrap(),
            )
            .unwrap();
            assert_eq!(
                signed.hashed_canonical_request,
                vector["hashed_canonical_request"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                signed.authorization,
                vector["authorization"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                signed.string_to_sign,
                format!("ACS3-HMAC-SHA256\n{}", signed.hashed_canonical_request)
            );
        }
    }

    #[test]
    fn v3_published_canonical_request_text() {
        let query = [
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
            ("RegionId", "cn-shanghai"),
        ];
        // Mixed case and padding: names are lowercased, values trimmed.
        let headers = [
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("Host", " ecs.cn-shanghai.aliyuncs.com "),
            ("X-Acs-Action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ];
        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &query,
                headers: &headers,
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "YourAccessKeyId",
            "YourAccessKeySecret",
        )
        .unwrap();
        let expected = "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\nhost:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\nx-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\nx-acs-version:2014-05-26\n\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(signed.canonical_request, expected);
        assert_eq!(
            signed.signature,
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn v3_sdk_wire_capture_with_nine_headers() {
        // FACTS.md §1.6: what tea-openapi sends by default (signs `accept`,
        // `user-agent` and `x-acs-credentials-provider` too).
        let headers = [
            ("accept", "application/json"),
            ("host", "ecs-cn-hangzhou.aliyuncs.com"),
            (
                "user-agent",
                "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
            ),
            ("x-acs-action", "AllocatePublicIpAddress"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
            ("x-acs-credentials-provider", "static_ak"),
            ("x-acs-date", "2024-05-01T08:30:00Z"),
            ("x-acs-signature-nonce", "f3a1c2d4000149f59a8b000000000001"),
            ("x-acs-version", "2014-05-26"),
        ];
        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &[("InstanceId", "i-bp1abcdefghijk123456")],
                headers: &headers,
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "LTAI5tExampleAkId0001",
            "ExampleSecret0001",
        )
        .unwrap();
        assert_eq!(
            signed.authorization,
            "ACS3-HMAC-SHA256 Credential=LTAI5tExampleAkId0001,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=fe66b16703edf96b080a3bffa22ea9fb007ebdfdaf22df3d747a7e45462c832a"
        );
    }

    #[test]
    fn v3_openapi_util_unit_test_vector() {
        // Repeated header names are merged (sorted values, `,`-joined); the
        // payload hash is given directly.
        let signed = sign_v3(
            &V3Request {
                method: "GET",
                query: &[("test", "ok"), ("empty", "")],
                headers: &[("x-acs-test", "http"), ("x-acs-TEST", "https")],
                hashed_payload: "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
            },
            "acesskey",
            "secret",
        )
        .unwrap();
        assert_eq!(
            signed.authorization,
            "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,Signature=d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
        );
        assert!(
            signed
                .canonical_request
                .contains("\nempty=&test=ok\nx-acs-test:http,https\n\n")
        );
    }

    #[test]
    fn v3_special_characters_get_post_with_and_without_sts() {
        // Expected signatures computed independently with Python's hmac and
        // hashlib from the FACTS.md §2.2 recipe.
        let query = [
            ("InstanceId", "i-2ze0example0000002"),
            ("IpAddress", "47.95.10.20"),
            ("OwnerAccount", "ops team*~ 运维账号"),
            ("ResourceOwnerAccount", "a+b=c&d/e:f(1)!'"),
        ];
        let base = [
            ("host", "ecs-vpc.cn-beijing.aliyuncs.com"),
            ("x-acs-action", "AllocatePublicIpAddress"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2024-05-01T08:30:05Z"),
            ("x-acs-signature-nonce", "5e9b7c3a00024d6e8f70000000000002"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ];
        let sts = [
            ("x-acs-accesskey-id", "STS.NUexampleTempAkId0002"),
            ("x-acs-security-token", "CAIS+example/token=="),
        ];
        let cases = [
            (
                "GET",
                false,
                "9e99048ff3f8525a94d8087156c09d122005886a6459b578804f2ff41993d31b",
            ),
            (
                "POST",
                false,
                "e548d50aa7ad5cc769c68154a06ba9b400d3a0806aa99d07d04d9d5cfe9ef7bc",
            ),
            (
                "GET",
                true,
                "995829f1aef27957747f9626c2ef50ba33ea7089f21c910740af7b65b4a64c65",
            ),
            (
                "POST",
                true,
                "9a760f944acb505dfadfb276236719064b06db1ffd5037fab9d947cc435ccfb5",
            ),
        ];
        for (method, with_sts, expected) in cases {
            let mut headers = base.to_vec();
            if with_sts {
                headers.extend_from_slice(&sts);
            }
            let signed = sign_v3(
                &V3Request {
                    method,
                    query: &query,
                    headers: &headers,
                    hashed_payload: EMPTY_BODY_SHA256,
                },
                "STS.NUexampleTempAkId0002",
                "ExampleSecret/0002+=",
            )
            .unwrap();
            assert_eq!(
                signed.canonical_query,
                "InstanceId=i-2ze0example0000002&IpAddress=47.95.10.20&OwnerAccount=ops%20team%2A~%20%E8%BF%90%E7%BB%B4%E8%B4%A6%E5%8F%B7&ResourceOwnerAccount=a%2Bb%3Dc%26d%2Fe%3Af%281%29%21%27"
            );
            assert!(
                signed
                    .canonical_request
                    .starts_with(&format!("{method}\n/\n"))
            );
            let expected_signed_headers = if with_sts {
                "host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version"
            } else {
                "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
            };
            assert_eq!(signed.signed_headers, expected_signed_headers);
            assert_eq!(signed.signature, expected, "{method} with_sts={with_sts}");
        }
    }

    #[test]
    fn v3_empty_query_gives_an_empty_line() {
        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &[],
                headers: &[("host", "h")],
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "id",
            "secret",
        )
        .unwrap();
        assert!(
            signed
                .canonical_request
                .starts_with("POST\n/\n\nhost:h\n\nhost\n")
        );
    }

    #[test]
    fn empty_body_hash_constant() {
        assert_eq!(hex_sha256(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn v3_secret_is_never_in_the_output() {
        let secret = "TopSecretValue-9f8e7d";
        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &[("InstanceId", "i-1")],
                headers: &[("host", "h")],
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "id",
            secret,
        )
        .unwrap();
        assert!(!format!("{signed:?}").contains(secret));

        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &[],
                headers: &[("host", "h"), ("x-acs-security-token", "CAIS-token")],
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "id",
            secret,
        )
        .unwrap();
        assert!(!format!("{signed:?}").contains("CAIS"));
    }
}
