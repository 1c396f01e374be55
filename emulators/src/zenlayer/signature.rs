//! ZC2-HMAC-SHA256 as Zenlayer recomputes it on its side, and the
//! `Authorization` header's shape.
//!
//! ```text
//! HashedPayload    = hex(SHA-256(body bytes as received))
//! CanonicalRequest = "POST" \n "/" \n "" \n "content-type:" CT \n "host:" HOST \n \n "content-type;host" \n HashedPayload
//! StringToSign     = "ZC2-HMAC-SHA256" \n X-ZC-Timestamp \n hex(SHA-256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(key = AccessKeyPassword, StringToSign))
//! Authorization    = "ZC2-HMAC-SHA256 Credential=" ID ", SignedHeaders=content-type;host, Signature=" SIG
//! ```
//!
//! Written for the emulator alone: it shares no code with the gateway's
//! signer. The tests reproduce the documentation's example and the vectors
//! computed with the official SDK (`tests/vectors/zenlayer-zc2.json` at the
//! top of the repository).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// `X-ZC-Signature-Method` and the first word of `Authorization`.
pub const ALGORITHM: &str = "ZC2-HMAC-SHA256";
/// The only signed-header list the API accepts.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// The string to sign of a request: its `X-ZC-Timestamp`, `Content-Type`
/// and `Host` as received, and its body bytes.
pub fn string_to_sign(timestamp: &str, content_type: &str, host: &str, body: &[u8]) -> String {
    let hashed_payload = hex::encode(Sha256::digest(body));
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\n{SIGNED_HEADERS}\n{hashed_payload}"
    );
    format!(
        "{ALGORITHM}\n{timestamp}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The signature (lowercase hex); `None` only if the HMAC implementation
/// refuses the key, which it does for no length.
pub fn signature(access_key_password: &str, string_to_sign: &str) -> Option<String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(access_key_password.as_bytes()).ok()?;
    mac.update(string_to_sign.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// The parts of a ZC2 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Splits `ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=<list>,
/// Signature=<hex>` (exactly these separators, as every SDK writes them);
/// `None` for anything else.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let mut parts = rest.split(", ");
    let credential = parts.next()?.strip_prefix("Credential=")?;
    let signed_headers = parts.next()?.strip_prefix("SignedHeaders=")?;
    let signature = parts.next()?.strip_prefix("Signature=")?;
    if parts.next().is_some() {
        return None;
    }
    Some(Authorization {
        credential,
        signed_headers,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn reproduces_every_vector() {
        let path = format!(
            "{}/../tests/vectors/zenlayer-zc2.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let vectors = file["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 3);
        for vector in vectors {
            let text = |name: &str| vector[name].as_str().unwrap();
            let to_sign = string_to_sign(
                &vector["timestamp"].to_string(),
                text("content_type"),
                text("host"),
                text("body").as_bytes(),
            );
            assert!(
                to_sign.ends_with(text("hashed_canonical_request")),
                "{}",
                text("name")
            );
            let parsed = parse_authorization(text("authorization")).unwrap();
            assert_eq!(parsed.credential, text("access_key_id"));
            assert_eq!(parsed.signed_headers, SIGNED_HEADERS);
            assert_eq!(
                signature(text("access_key_password"), &to_sign).as_deref(),
                Some(parsed.signature),
                "{}",
                text("name")
            );
        }
    }

    #[test]
    fn authorization_shapes() {
        assert!(
            parse_authorization("ZC2-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c")
                .is_some()
        );
        for bad in [
            "",
            "ZC2-HMAC-SHA256",
            "ZC2-HMAC-SHA256 Credential=a,SignedHeaders=b,Signature=c",
            "ZC2-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c, X=d",
            "TC3-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c",
        ] {
            assert!(parse_authorization(bad).is_none(), "{bad:?}");
        }
    }
}
