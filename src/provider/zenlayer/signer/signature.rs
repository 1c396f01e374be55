//! The ZC2-HMAC-SHA256 signature over a canonical request: the string to
//! sign, the HMAC keyed with the raw access key password (no key
//! derivation), and the `Authorization` header that carries it.

use super::ALGORITHM;
use super::canonical::{SIGNED_HEADERS, canonical_request, hashed_payload};
use crate::provider::signing::{hmac_sha256, lower_hex, sha256_hex};

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

/// `ZC2-HMAC-SHA256\n<timestamp>\n<hashed canonical request>`.
pub fn string_to_sign(timestamp: &str, hashed_canonical_request: &str) -> String {
    // `concat` sizes the string once; `format!` costs several times more
    // and every attempt signs.
    [ALGORITHM, "\n", timestamp, "\n", hashed_canonical_request].concat()
}

/// Lowercase hex HMAC-SHA256 of the string to sign, keyed with the raw
/// access key password.
pub fn signature(access_key_password: &str, string_to_sign: &str) -> String {
    lower_hex(&hmac_sha256(
        access_key_password.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// The `Authorization` header value for a computed signature.
pub fn authorization_header(access_key_id: &str, signature: &str) -> String {
    [
        ALGORITHM,
        " Credential=",
        access_key_id,
        ", SignedHeaders=",
        SIGNED_HEADERS,
        ", Signature=",
        signature,
    ]
    .concat()
}

/// All steps at once: the signature of `input`.
pub fn sign_input(input: &SigningInput<'_>) -> String {
    let canonical = canonical_request(input.content_type, input.host, &hashed_payload(input.body));
    let to_sign = string_to_sign(input.timestamp, &sha256_hex(canonical.as_bytes()));
    signature(input.access_key_password, &to_sign)
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
        let hcr = sha256_hex(canonical.as_bytes());
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
        let all_at_once = authorization_header(
            &v.access_key_id,
            &sign_input(&SigningInput {
                access_key_id: &v.access_key_id,
                access_key_password: &v.access_key_password,
                timestamp: &v.timestamp,
                content_type: &v.content_type,
                host: &v.host,
                body: v.body.as_bytes(),
            }),
        );
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
    fn v0_docs_signature_value() {
        let v = &json_vectors()[0];
        let canonical =
            canonical_request(&v.content_type, &v.host, &hashed_payload(v.body.as_bytes()));
        let sts = string_to_sign(&v.timestamp, &sha256_hex(canonical.as_bytes()));
        assert_eq!(
            signature(&v.access_key_password, &sts),
            "efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f"
        );
    }
}
