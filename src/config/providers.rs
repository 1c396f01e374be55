//! The `[providers.NAME]` tables: one provider account each, of kind
//! `aliyun` or `zenlayer`. Each kind requires and accepts its own keys;
//! the shared ones (HTTP timeouts, follow and resilience settings) are
//! checked for both.

use super::EnvLookup;
use super::credentials::Credential as C;
use super::problems::{Collector, Problem, problem};
use super::raw::RawProvider;
use super::secret::Secret;
use super::values::Table;
use crate::provider::aliyun::{self, AliyunCredentials, AliyunSettings, SignatureVersion};
use crate::provider::zenlayer::{self, ZenlayerCredentials, ZenlayerSettings};

/// One configured provider account.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Aliyun(AliyunSettings),
    Zenlayer(ZenlayerSettings),
}

impl ProviderConfig {
    pub fn name(&self) -> &str {
        match self {
            ProviderConfig::Aliyun(s) => &s.name,
            ProviderConfig::Zenlayer(s) => &s.name,
        }
    }
}

/// The path every Zenlayer call is posted to; an endpoint may name it.
const ZENLAYER_API_PATH: &str = "/api/v2/bmc";

/// The checked `[providers.NAME]` table; `None` when anything is wrong
/// (every problem recorded in `c`).
pub(super) fn provider_config(
    name: &str,
    raw: &RawProvider,
    env: EnvLookup<'_>,
    c: &mut Collector,
) -> Option<ProviderConfig> {
    if !valid_provider_name(name) {
        c.add(
            format!("providers.{name}"),
            "provider names are 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        );
        return None;
    }
    let mut t = Table::new(c, format!("providers.{name}."));
    let http = super::resilience::http_settings(raw, &mut t);
    let follow = super::follow::follow_settings(raw, &mut t);
    let resilience = super::resilience::resilience_settings(raw, &mut t);
    match raw.kind.as_deref() {
        Some("aliyun") => {
            reject_fields(
                &mut t,
                &[
                    ("api_version", raw.api_version.is_some()),
                    ("access_key_password", raw.access_key_password.is_some()),
                    (
                        "access_key_password_env",
                        raw.access_key_password_env.is_some(),
                    ),
                    // Alibaba allocations never end FAILED.
                    ("terminate_failed", raw.terminate_failed.is_some()),
                ],
                "aliyun",
            );
            let region = match raw.region.clone() {
                None => {
                    t.add(
                        "region",
                        "required for kind \"aliyun\" (e.g. \"cn-hangzhou\")",
                    );
                    None
                }
                Some(region) if !aliyun::region::is_valid(&region) => {
                    t.add("region", "is not a region id like \"cn-hangzhou\"");
                    None
                }
                Some(region) => Some(region),
            };
            let endpoint = match raw.endpoint.as_deref() {
                None => Some(None),
                Some(e) => t.take(check_url(e, &t.key("endpoint"), None)).map(Some),
            };
            let signature = match raw.signature_version.as_deref().unwrap_or("v1") {
                "v1" => Some(SignatureVersion::V1),
                "v3" => Some(SignatureVersion::V3),
                _ => {
                    t.add("signature_version", "is not one of \"v1\", \"v3\"");
                    None
                }
            };
            let access_key_id = t.take(C::AliyunAccessKeyId.required(env, &t, raw));
            let access_key_secret = t.take(C::AliyunAccessKeySecret.required(env, &t, raw));
            let security_token = t.take(C::AliyunSecurityToken.read(env, &t, raw));
            Some(ProviderConfig::Aliyun(AliyunSettings {
                name: name.to_owned(),
                region: region?,
                endpoint: endpoint?,
                signature: signature?,
                credentials: AliyunCredentials {
                    access_key_id: access_key_id?,
                    access_key_secret: Secret::new(access_key_secret?),
                    security_token: security_token?.map(Secret::new),
                },
                http,
                follow: follow?,
                resilience: resilience?,
            }))
        }
        Some("zenlayer") => {
            reject_fields(
                &mut t,
                &[
                    ("region", raw.region.is_some()),
                    ("signature_version", raw.signature_version.is_some()),
                    ("access_key_secret", raw.access_key_secret.is_some()),
                    ("access_key_secret_env", raw.access_key_secret_env.is_some()),
                    ("security_token", raw.security_token.is_some()),
                    ("security_token_env", raw.security_token_env.is_some()),
                ],
                "zenlayer",
            );
            let endpoint = t.take(check_url(
                raw.endpoint
                    .as_deref()
                    .unwrap_or(zenlayer::DEFAULT_ENDPOINT),
                &t.key("endpoint"),
                Some(ZENLAYER_API_PATH),
            ));
            let api_version = raw
                .api_version
                .clone()
                .unwrap_or_else(|| zenlayer::DEFAULT_API_VERSION.to_owned());
            if !valid_api_version(&api_version) {
                t.add("api_version", "is not a version like \"2026-02-01\"");
            }
            let access_key_id = t.take(C::ZenlayerAccessKeyId.required(env, &t, raw));
            let access_key_password = t.take(C::ZenlayerAccessKeyPassword.required(env, &t, raw));
            Some(ProviderConfig::Zenlayer(ZenlayerSettings {
                name: name.to_owned(),
                endpoint: endpoint?,
                api_version,
                credentials: ZenlayerCredentials {
                    access_key_id: access_key_id?,
                    access_key_password: Secret::new(access_key_password?),
                },
                http,
                follow: follow?,
                resilience: resilience?,
            }))
        }
        Some(other) => {
            t.add("kind", super::not_one_of(other, &["aliyun", "zenlayer"]));
            None
        }
        None => {
            t.add("kind", "required: \"aliyun\" or \"zenlayer\"");
            None
        }
    }
}

/// Records every present field of `fields` as not a setting of `kind`.
fn reject_fields(t: &mut Table<'_>, fields: &[(&str, bool)], kind: &str) {
    for (field, present) in fields {
        if *present {
            t.add(field, format!("not a setting of kind {kind:?}"));
        }
    }
}

/// An `http(s)` base URL without credentials, query or fragment, returned
/// without a trailing `/`. When `api_path` is given, a URL that already ends
/// with it (as the emulator banner printed it) is accepted and the path cut
/// off: the gateway appends it to every call.
fn check_url(url: &str, key: &str, api_path: Option<&str>) -> Result<String, Problem> {
    let form = "is not an http(s) base URL like \"https://host[:port]\"";
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| problem(key, form))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(problem(key, form));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(problem(
            key,
            "must not contain user information (user:password@): set the provider's access_key_* keys instead",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(problem(key, "must not have a query or fragment"));
    }
    let base = url.trim().trim_end_matches('/');
    Ok(match api_path {
        Some(path) => base
            .strip_suffix(path)
            .unwrap_or(base)
            .trim_end_matches('/')
            .to_owned(),
        None => base.to_owned(),
    })
}

/// A provider (or caller) name: 1 to 63 characters of `a-z0-9_-`, starting
/// with a letter or digit.
pub(super) fn valid_provider_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

fn valid_api_version(version: &str) -> bool {
    let b = version.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
