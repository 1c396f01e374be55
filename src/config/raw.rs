//! The TOML schema of the configuration file, exactly as written by users.
//! Unknown keys are errors (a typo must not silently drop a setting).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// gRPC listen address.
    pub listen: Option<String>,
    #[serde(default)]
    pub log: RawLog,
    /// Provider accounts by name.
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A tracing filter, e.g. `info` or `ipalloc_gateway=debug`.
    pub level: Option<String>,
}

/// One `[providers.NAME]` table. Every field is optional here; which ones a
/// kind requires or accepts is checked in `config::load`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub signature_version: Option<String>,
    pub api_version: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_id_env: Option<String>,
    pub access_key_secret: Option<String>,
    pub access_key_secret_env: Option<String>,
    pub security_token: Option<String>,
    pub security_token_env: Option<String>,
    pub access_key_password: Option<String>,
    pub access_key_password_env: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
}

// Hand-written so inline secrets never reach a log through `{:?}`.
impl std::fmt::Debug for RawProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("RawProvider")
            .field("kind", &self.kind)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("signature_version", &self.signature_version)
            .field("api_version", &self.api_version)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_id_env", &self.access_key_id_env)
            .field("access_key_secret", &hidden(&self.access_key_secret))
            .field("access_key_secret_env", &self.access_key_secret_env)
            .field("security_token", &hidden(&self.security_token))
            .field("security_token_env", &self.security_token_env)
            .field("access_key_password", &hidden(&self.access_key_password))
            .field("access_key_password_env", &self.access_key_password_env)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}
