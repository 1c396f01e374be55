//! Signature V3 (`ACS3-HMAC-SHA256` over a canonical request), and the V3
//! request as alibabacloud-ecs20140526 sends it: only the action's own
//! parameters in the query, everything else in signed `x-acs-*` headers
//! and `host`, then `Authorization`.

use std::fmt::{self, Write as _};

use reqwest::header::{AUTHORIZATION, HOST, HeaderName};

use super::canonical::{canonical_headers, canonical_query};
use super::{SignableRequest, Stamp, X_ACS_ACTION, X_ACS_VERSION};
use crate::provider::aliyun::{API_VERSION, AliyunCredentials};
use crate::provider::signing::{
    Header, SigningError, SigningInstructions, SigningOutput, hmac_sha256, host_header, lower_hex,
    sha256_hex,
};

/// The V3 algorithm name, first word of `Authorization` and of the
/// string-to-sign.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Lowercase hex SHA-256 of an empty body (`x-acs-content-sha256` of every
/// request the gateway sends).
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const X_ACS_DATE: HeaderName = HeaderName::from_static("x-acs-date");
const X_ACS_SIGNATURE_NONCE: HeaderName = HeaderName::from_static("x-acs-signature-nonce");
const X_ACS_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-acs-content-sha256");
const X_ACS_ACCESSKEY_ID: HeaderName = HeaderName::from_static("x-acs-accesskey-id");
const X_ACS_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-acs-security-token");

/// What V3 signs. The canonical URI is always `/` (RPC style).
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a, V: AsRef<str> = &'a str> {
    /// `GET` or `POST`, as sent.
    pub method: &'a str,
    /// Query parameters (unencoded).
    pub query: &'a [(&'a str, V)],
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
pub fn sign_v3<V: AsRef<str>>(
    request: &V3Request<'_, V>,
    access_key_id: &str,
    access_key_secret: &str,
) -> V3Signature {
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

    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let string_to_sign = format!("{V3_ALGORITHM}\n{hashed_canonical_request}");
    let signature = lower_hex(&hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let mut authorization = String::with_capacity(
        V3_ALGORITHM.len() + access_key_id.len() + signed_headers.len() + signature.len() + 40,
    );
    // Writing to a String cannot fail.
    let _ = write!(
        authorization,
        "{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    V3Signature {
        canonical_query,
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}

/// The V3 instructions for `request`: the sorted query of the action's own
/// parameters (no RegionId: the endpoint names the region), the signed
/// headers (the STS token marked sensitive), then `Authorization`.
pub(super) fn sign_request(
    request: &SignableRequest<'_>,
    credentials: &AliyunCredentials,
    stamp: &Stamp,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    let host = host_header(request.url)?;
    // (name, value, sensitive), in the order they are sent.
    let mut signed: Vec<(HeaderName, &str, bool)> = Vec::with_capacity(8);
    signed.extend([
        (HOST, host.as_str(), false),
        (X_ACS_ACTION, request.action, false),
        (X_ACS_VERSION, API_VERSION, false),
        (X_ACS_DATE, stamp.timestamp.as_str(), false),
        (X_ACS_SIGNATURE_NONCE, stamp.nonce.as_str(), false),
        (X_ACS_CONTENT_SHA256, EMPTY_BODY_SHA256, false),
    ]);
    if let Some(token) = &credentials.security_token {
        signed.push((
            X_ACS_ACCESSKEY_ID,
            credentials.access_key_id.as_str(),
            false,
        ));
        signed.push((X_ACS_SECURITY_TOKEN, token.expose(), true));
    }
    let names: Vec<(&str, &str)> = signed
        .iter()
        .map(|(name, value, _)| (name.as_str(), *value))
        .collect();
    let signature = sign_v3(
        &V3Request {
            method: request.method,
            query: request.params,
            headers: &names,
            hashed_payload: EMPTY_BODY_SHA256,
        },
        &credentials.access_key_id,
        credentials.access_key_secret.expose(),
    );
    let mut headers = Vec::with_capacity(signed.len() + 1);
    for (name, value, sensitive) in signed {
        headers.push(Header::new(name, value, sensitive)?);
    }
    headers.push(Header::new(AUTHORIZATION, &signature.authorization, true)?);
    Ok(SigningOutput::new(
        SigningInstructions::new(Some(signature.canonical_query), headers),
        signature.signature,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_vectors::{borrow, load, pairs};
    use super::*;
    use crate::provider::signing::sha256_hex;

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
            );
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
        );
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
        );
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
        );
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
            );
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
                query: &[] as &[(&str, &str)],
                headers: &[("host", "h")],
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "id",
            "secret",
        );
        assert!(
            signed
                .canonical_request
                .starts_with("POST\n/\n\nhost:h\n\nhost\n")
        );
    }

    #[test]
    fn empty_body_hash_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_BODY_SHA256);
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
        );
        assert!(!format!("{signed:?}").contains(secret));

        let signed = sign_v3(
            &V3Request {
                method: "POST",
                query: &[] as &[(&str, &str)],
                headers: &[("host", "h"), ("x-acs-security-token", "CAIS-token")],
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "id",
            secret,
        );
        assert!(!format!("{signed:?}").contains("CAIS"));
    }
}
