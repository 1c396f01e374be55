//! RPC signature V1 (HMAC-SHA1 over the sorted query), and the V1 request
//! as aliyun-python-sdk-core sends it: every common parameter in the query,
//! signed with the action's own, and the action and version repeated in
//! `x-acs-*` headers.

use std::fmt;

use base64::Engine as _;

use super::canonical::canonical_query;
use super::encoding::percent_encode_into;
use super::{SignableRequest, Stamp, X_ACS_ACTION, X_ACS_VERSION};
use crate::provider::aliyun::{API_VERSION, AliyunCredentials};
use crate::provider::signing::{
    Header, SigningError, SigningInstructions, SigningOutput, hmac_sha1,
};

/// The V1 `SignatureMethod` parameter value.
pub const V1_SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// The V1 `SignatureVersion` parameter value.
pub const V1_SIGNATURE_VERSION: &str = "1.0";

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
pub fn v1_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut key = Vec::with_capacity(access_key_secret.len() + 1);
    key.extend_from_slice(access_key_secret.as_bytes());
    key.push(b'&');
    let mac = hmac_sha1(&key, string_to_sign.as_bytes());
    // Do not leave a copy of the secret behind longer than needed.
    key.fill(0);
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// Signs `params` (every request parameter except `Signature`, including
/// `SecurityToken` when using STS) for `method` (`GET` or `POST`, as sent).
pub fn sign_v1(method: &str, params: &[(&str, &str)], access_key_secret: &str) -> V1Signature {
    let canonical_query = canonical_query(params);
    let string_to_sign = v1_string_to_sign(method, &canonical_query);
    let signature = v1_signature(access_key_secret, &string_to_sign);
    V1Signature {
        canonical_query,
        string_to_sign,
        signature,
    }
}

/// The V1 instructions for `request` in `region`: the whole query (the
/// common parameters, the action's own, `Signature` last) and the
/// `x-acs-*` headers.
pub(super) fn sign_request(
    request: &SignableRequest<'_>,
    credentials: &AliyunCredentials,
    region: &str,
    stamp: &Stamp,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    // As aliyun-python-sdk-core sends V1: 32 hex digits of nonce, the
    // client's region injected as RegionId unless the action has its own
    // (`DescribeInstances`; `RpcRequest.get_url` adds it only when absent),
    // an empty (signed) SignatureType.
    let own_region = request.params.iter().any(|(name, _)| *name == "RegionId");
    let mut signed: Vec<(&str, &str)> = Vec::with_capacity(11 + request.params.len());
    signed.extend_from_slice(&[
        ("Action", request.action),
        ("Version", API_VERSION),
        ("Format", "JSON"),
        ("AccessKeyId", credentials.access_key_id.as_str()),
        ("SignatureMethod", V1_SIGNATURE_METHOD),
        ("SignatureType", ""),
        ("SignatureVersion", V1_SIGNATURE_VERSION),
        ("SignatureNonce", stamp.nonce.as_str()),
        ("Timestamp", stamp.timestamp.as_str()),
    ]);
    if !own_region {
        signed.push(("RegionId", region));
    }
    if let Some(token) = &credentials.security_token {
        signed.push(("SecurityToken", token.expose()));
    }
    signed.extend(
        request
            .params
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
    );
    let signed = sign_v1(
        request.method,
        &signed,
        credentials.access_key_secret.expose(),
    );
    let headers = vec![
        Header::new(X_ACS_ACTION, request.action, false)?,
        Header::new(X_ACS_VERSION, API_VERSION, false)?,
    ];
    let signature = signed.signature.clone();
    Ok(SigningOutput::new(
        SigningInstructions::new(Some(signed.into_query()), headers),
        signature,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_vectors::{borrow, load, pairs};
    use super::*;

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
            let signed = sign_v1(method, &borrow(&owned), secret);
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
        let signed = sign_v1("POST", &borrow(&owned), "ExampleSecret0001");
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
        let signed = sign_v1("POST", &params, "ExampleSecret0001");
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
        let signed = sign_v1("POST", &params, "ExampleSecret0001");
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
            let signed = sign_v1(method, &special_params(with_token), secret);
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
        let get = sign_v1("GET", &special_params(true), "s");
        let post = sign_v1("POST", &special_params(true), "s");
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
        let forward = sign_v1("POST", &params, "s");
        params.reverse();
        assert_eq!(sign_v1("POST", &params, "s"), forward);
    }

    #[test]
    fn v1_secret_is_never_in_the_output() {
        let secret = "TopSecretValue-9f8e7d";
        let signed = sign_v1("POST", &special_params(true), secret);
        let debug = format!("{signed:?}");
        assert!(!debug.contains(secret));
        assert!(
            !debug.contains("CAIS"),
            "the STS token stays out of Debug: {debug}"
        );
        assert!(!signed.clone().into_query().contains(secret));
    }
}
