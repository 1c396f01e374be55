//! ZC2-HMAC-SHA256, the request signature of Zenlayer Cloud API 2.0.
//!
//! Pure functions, one per step of the algorithm, so that an emulator can
//! recompute each intermediate value to verify a request:
//!
//! ```text
//! HashedPayload    = hex(sha256(body bytes))            -- the exact bytes sent
//! CanonicalRequest = "POST\n/\n\ncontent-type:<ct>\nhost:<host>\n\ncontent-type;host\n<HashedPayload>"
//! StringToSign     = "ZC2-HMAC-SHA256\n<X-ZC-Timestamp>\n" + hex(sha256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(key = AccessKeyPassword, StringToSign))
//! Authorization    = "ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=content-type;host, Signature=<sig>"
//! ```
//!
//! The canonical URI is always `/` (not `/api/v2/bmc`), the query string is
//! always empty, and the password is the HMAC key as is (no key derivation).
//! `content-type` and `host` must equal the headers actually sent; action and
//! version headers are not signed. The timestamp is Unix seconds, signed as
//! the same decimal string that goes into `X-ZC-Timestamp`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// `X-ZC-Signature-Method` and the first word of `Authorization`.
pub const ALGORITHM: &str = "ZC2-HMAC-SHA256";

/// The headers covered by the signature, in canonical order.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// The canonical URI: always `/`, whatever the request path.
pub const CANONICAL_URI: &str = "/";

type HmacSha256 = Hmac<Sha256>;

/// Everything one signature covers.
#[derive(Clone, Copy)]
pub struct SigningInput<'a> {
    pub access_key_id: &'a str,
    /// The HMAC key. Never logged; this struct has no `Debug`.
    pub access_key_password: &'a str,
    /// `X-ZC-Timestamp`, exactly as sent (decimal Unix seconds).
    pub timestamp: &'a str,
    /// `Content-Type`, exactly as sent.
    pub content_type: &'a str,
    /// `Host`, exactly as sent (with `:port` when not the scheme default).
    pub host: &'a str,
    /// The request body, byte for byte as sent.
    pub body: &'a [u8],
}

/// `HashedRequestPayload`: lowercase hex SHA-256 of the body bytes.
pub fn hashed_payload(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The canonical request for a POST with the given signed header values and
/// hashed payload.
pub fn canonical_request(content_type: &str, host: &str, hashed_payload: &str) -> String {
    format!(
        "POST\n{CANONICAL_URI}\n\ncontent-type:{content_type}\nhost:{host}\n\n{SIGNED_HEADERS}\n{hashed_payload}"
    )
}

/// Lowercase hex SHA-256 of the canonical request.
pub fn hashed_canonical_request(canonical_request: &str) -> String {
    hex::encode(Sha256::digest(canonical_request.as_bytes()))
}

/// `ZC2-HMAC-SHA256\n<timestamp>\n<hashed canonical request>`.
pub fn string_to_sign(timestamp: &str, hashed_canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{hashed_canonical_request}")
}

/// Lowercase hex HMAC-SHA256 of the string to sign, keyed with the raw
/// access key password.
pub fn signature(access_key_password: &str, string_to_sign: &str) -> String {
    let mut mac = HmacSha256::new(&hmac_key(access_key_password.as_bytes()));
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value for a computed signature.
pub fn authorization_header(access_key_id: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )
}

/// All steps at once: the `Authorization` header value for `input`.
pub fn authorization(input: &SigningInput<'_>) -> String {
    let canonical = canonical_request(input.content_type, input.host, &hashed_payload(input.body));
    let to_sign = string_to_sign(input.timestamp, &hashed_canonical_request(&canonical));
    authorization_header(
        input.access_key_id,
        &signature(input.access_key_password, &to_sign),
    )
}

/// The parts of a ZC2 `Authorization` header, as an emulator reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Splits a ZC2 `Authorization` header value into its parts; `None` when it
/// is not of the form this module produces.
pub fn parse_authorization(header: &str) -> Option<ParsedAuthorization<'_>> {
    let rest = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let mut parts = rest.split(", ");
    let credential = parts.next()?.strip_prefix("Credential=")?;
    let signed_headers = parts.next()?.strip_prefix("SignedHeaders=")?;
    let signature = parts.next()?.strip_prefix("Signature=")?;
    if parts.next().is_some() {
        return None;
    }
    Some(ParsedAuthorization {
        credential,
        signed_headers,
        signature,
    })
}

/// The HMAC key block as RFC 2104 defines it (keys longer than the block
/// are hashed, shorter ones zero-padded), so that building the MAC is
/// infallible for any password.
fn hmac_key(key: &[u8]) -> hmac::digest::Key<HmacSha256> {
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    if key.len() <= block.len() {
        block[..key.len()].copy_from_slice(key);
    } else {
        let hash = Sha256::digest(key);
        block[..hash.len()].copy_from_slice(&hash);
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        name: String,
        access_key_id: String,
        access_key_password: String,
        timestamp: String,
        content_type: String,
        host: String,
        body: String,
        hashed_payload: String,
        hashed_canonical_request: String,
        authorization: String,
    }

    fn json_vectors() -> Vec<Vector> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/zenlayer-zc2.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
        doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Vector {
                name: field(v, "name"),
                access_key_id: field(v, "access_key_id"),
                access_key_password: field(v, "access_key_password"),
                timestamp: v["timestamp"].as_u64().unwrap().to_string(),
                content_type: field(v, "content_type"),
                host: field(v, "host"),
                body: field(v, "body"),
                hashed_payload: field(v, "hashed_payload"),
                hashed_canonical_request: field(v, "hashed_canonical_request"),
                authorization: field(v, "authorization"),
            })
            .collect()
    }

    /// V2 and V3 of FACTS.md §1.4 (not in the JSON file).
    fn literal_vectors() -> Vec<Vector> {
        let common = |name: &str, body: &str, hp: &str, hcr: &str, sig: &str| Vector {
            name: name.to_owned(),
            access_key_id: "AKIDZLTEST0000000001".to_owned(),
            access_key_password: "zlTestPassw0rd/Example+Key=".to_owned(),
            timestamp: "1700000000".to_owned(),
            content_type: "application/json".to_owned(),
            host: "console.zenlayer.com".to_owned(),
            body: body.to_owned(),
            hashed_payload: hp.to_owned(),
            hashed_canonical_request: hcr.to_owned(),
            authorization: format!(
                "ZC2-HMAC-SHA256 Credential=AKIDZLTEST0000000001, SignedHeaders=content-type;host, Signature={sig}"
            ),
        };
        vec![
            common(
                "V2 AllocateEipAddresses PREPAID",
                r#"{"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}, "amount": 2, "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "owner", "value": "gateway"}]}}"#,
                "7a8ee70b54fe584ae8d250ce7b4eace00ffc68f18870dfe4b7aa41c609e774f4",
                "3826d90ac06d6558f31827f7ee4145e765af3c0404b0f17d61d9d7337b4e25fe",
                "93d55b057790f84e3ffa2ce0ea37cc18f3e089cf6dde96f3fcb10d45e1818cad",
            ),
            common(
                "V3 DescribeEipAddresses",
                r#"{"eipIds": ["eip-0123456789"], "pageSize": 20, "pageNum": 1}"#,
                "6768ae29cbb85dcd11f4733330bad4499f1dc4811fa63f9a6eb97001757ab6ef",
                "c87ed9007c0ba2b2667caef1754001f7286f85253737cbb18edc70089e69faf9",
                "c88ec59172510033bfadc8c8f4e1b06c752a527c5a4a923669d1983feb8ade78",
            ),
        ]
    }

    fn check(v: &Vector) {
        let hp = hashed_payload(v.body.as_bytes());
        assert_eq!(hp, v.hashed_payload, "{}: hashed payload", v.name);
        let canonical = canonical_request(&v.content_type, &v.host, &hp);
        let hcr = hashed_canonical_request(&canonical);
        assert_eq!(
            hcr, v.hashed_canonical_request,
            "{}: hashed canonical request",
            v.name
        );
        let sts = string_to_sign(&v.timestamp, &hcr);
        assert_eq!(
            sts,
            format!(
                "ZC2-HMAC-SHA256\n{}\n{}",
                v.timestamp, v.hashed_canonical_request
            )
        );
        let sig = signature(&v.access_key_password, &sts);
        assert_eq!(
            authorization_header(&v.access_key_id, &sig),
            v.authorization,
            "{}: authorization (step by step)",
            v.name
        );
        let all_at_once = authorization(&SigningInput {
            access_key_id: &v.access_key_id,
            access_key_password: &v.access_key_password,
            timestamp: &v.timestamp,
            content_type: &v.content_type,
            host: &v.host,
            body: v.body.as_bytes(),
        });
        assert_eq!(all_at_once, v.authorization, "{}: authorization", v.name);
    }

    #[test]
    fn json_vectors_v0_v1_v4_reproduce() {
        let vectors = json_vectors();
        assert_eq!(vectors.len(), 3);
        for (v, prefix) in vectors.iter().zip(["V0", "V1", "V4"]) {
            assert!(v.name.starts_with(prefix), "unexpected vector {}", v.name);
            check(v);
        }
    }

    #[test]
    fn literal_vectors_v2_v3_reproduce() {
        for v in literal_vectors() {
            check(&v);
        }
    }

    #[test]
    fn canonical_request_matches_v1_text() {
        let hp = "b6b348fe3160aec0ae155bb018754b4385c87af470c5622af9122bf05a49bf76";
        assert_eq!(
            canonical_request("application/json", "console.zenlayer.com", hp),
            format!(
                "POST\n/\n\ncontent-type:application/json\nhost:console.zenlayer.com\n\ncontent-type;host\n{hp}"
            )
        );
    }

    #[test]
    fn v0_docs_signature_value() {
        let v = &json_vectors()[0];
        let canonical =
            canonical_request(&v.content_type, &v.host, &hashed_payload(v.body.as_bytes()));
        let sts = string_to_sign(&v.timestamp, &hashed_canonical_request(&canonical));
        assert_eq!(
            signature(&v.access_key_password, &sts),
            "efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f"
        );
    }

    #[test]
    fn hmac_key_block_matches_library_for_any_length() {
        for len in [0usize, 1, 27, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut ours = HmacSha256::new(&hmac_key(&key));
            ours.update(b"message");
            let mut lib = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap();
            lib.update(b"message");
            assert_eq!(
                ours.finalize().into_bytes(),
                lib.finalize().into_bytes(),
                "key length {len}"
            );
        }
    }

    #[test]
    fn parse_authorization_round_trips() {
        let header =
            "ZC2-HMAC-SHA256 Credential=AKID1, SignedHeaders=content-type;host, Signature=abc123";
        assert_eq!(
            parse_authorization(header),
            Some(ParsedAuthorization {
                credential: "AKID1",
                signed_headers: "content-type;host",
                signature: "abc123",
            })
        );
        assert_eq!(parse_authorization(""), None);
        assert_eq!(parse_authorization("Bearer token"), None);
        assert_eq!(
            parse_authorization("ZC2-HMAC-SHA256 Credential=a, SignedHeaders=b"),
            None
        );
        assert_eq!(
            parse_authorization("ZC2-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c, X=d"),
            None
        );
    }
}
