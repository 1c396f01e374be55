//! Gateway configuration: a TOML file (`--config`), environment overrides
//! (`IPALLOC_*`), and credentials from the file, from environment variables
//! the file names, or from each cloud's conventional variables.
//!
//! `load` takes the environment as a function so tests can pass a map. Every
//! error names the key at fault.

pub mod permissions;
pub mod raw;
pub mod secret;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use raw::{RawConfig, RawProvider};
use secret::Secret;

use crate::middleware::{BudgetSettings, ResilienceSettings};
use crate::provider::aliyun::{AliyunCredentials, AliyunSettings, SignatureVersion};
use crate::provider::zenlayer::{self, ZenlayerCredentials, ZenlayerSettings};
use crate::provider::{FollowSettings, HttpSettings};

/// Default gRPC listen address: loopback, since a sidecar serves only its pod.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// The environment, as a lookup function (`std::env::var` in production).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Syntax { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub json: bool,
    /// A tracing filter directive, e.g. `info`.
    pub level: String,
}

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

    pub fn follow(&self) -> FollowSettings {
        match self {
            ProviderConfig::Aliyun(s) => s.follow,
            ProviderConfig::Zenlayer(s) => s.follow,
        }
    }
}

/// Inbound limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Server-wide cap on concurrent API calls; more are shed (UNAVAILABLE).
    pub max_concurrent_calls: usize,
    /// Largest request message accepted.
    pub max_request_bytes: usize,
    /// Longest life of one WatchAllocation stream; it then ends with
    /// UNAVAILABLE `WATCH_LIFETIME_ENDED` (watch again to continue).
    pub watch_max_lifetime: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_concurrent_calls: 1024,
            max_request_bytes: 256 * 1024,
            watch_max_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Where idempotency records live, for how long, and how many bytes they
/// may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// The embedded database file; `None` keeps records in memory (lost on
    /// restart).
    pub path: Option<std::path::PathBuf>,
    pub retention: Duration,
    /// Byte bound of the records (`[idempotency] max_bytes`).
    pub max_bytes: u64,
    /// At the bound, evict the oldest completed records instead of refusing
    /// new keys (`[idempotency] evict_completed`).
    pub evict_completed: bool,
    /// Move an existing file that is not a valid store aside and start empty
    /// (`[idempotency] start_fresh_if_invalid`, `--start-fresh-if-invalid`).
    pub start_fresh_if_invalid: bool,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            path: None,
            retention: Duration::from_secs(24 * 3600),
            max_bytes: crate::idempotency::DEFAULT_MAX_BYTES,
            evict_completed: false,
            start_fresh_if_invalid: false,
        }
    }
}

impl IdempotencyConfig {
    /// The store's options.
    pub fn store_options(&self) -> crate::idempotency::StoreOptions {
        let mut options =
            crate::idempotency::StoreOptions::new(self.path.as_deref(), self.retention);
        options.max_bytes = self.max_bytes;
        options.evict_completed = self.evict_completed;
        options.start_fresh_if_invalid = self.start_fresh_if_invalid;
        options
    }
}

/// Smallest and largest `[idempotency] max_bytes`.
pub const IDEMPOTENCY_MAX_BYTES_RANGE: std::ops::RangeInclusive<u64> = 65_536..=1 << 40;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub idempotency: IdempotencyConfig,
    pub providers: Vec<ProviderConfig>,
}

/// Reads and validates the configuration file at `path`.
pub fn load_file(path: &str, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    load(&text, path, env)
}

/// Parses and validates configuration text; `origin` names it in errors.
pub fn load(text: &str, origin: &str, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let mut raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: origin.to_owned(),
        message: syntax_message(text, &e),
    })?;
    apply_env_overrides(&mut raw, env)?;

    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
        invalid(
            "listen",
            format!("{listen_text:?} is not an address like 127.0.0.1:50051"),
        )
    })?;

    let log = LogConfig {
        json: match raw.log.format.as_deref().unwrap_or("text") {
            "text" => false,
            "json" => true,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} is not one of \"text\", \"json\""),
                ));
            }
        },
        level: raw.log.level.clone().unwrap_or_else(|| "info".to_owned()),
    };

    if raw.providers.is_empty() {
        return Err(invalid(
            "providers",
            "no provider is configured; add a [providers.NAME] table with kind = \"aliyun\" or \"zenlayer\"",
        ));
    }
    let server_defaults = ServerConfig::default();
    let server = ServerConfig {
        max_concurrent_calls: in_range(
            raw.server.max_concurrent_calls,
            "server.max_concurrent_calls",
            1..=100_000,
            server_defaults.max_concurrent_calls as u64,
        )? as usize,
        max_request_bytes: in_range(
            raw.server.max_request_bytes,
            "server.max_request_bytes",
            1024..=16 * 1024 * 1024,
            server_defaults.max_request_bytes as u64,
        )? as usize,
        watch_max_lifetime: Duration::from_millis(in_range(
            raw.server.watch_max_lifetime_ms,
            "server.watch_max_lifetime_ms",
            1000..=24 * 3_600_000,
            server_defaults.watch_max_lifetime.as_millis() as u64,
        )?),
    };
    let idempotency = IdempotencyConfig {
        path: raw
            .idempotency
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from),
        retention: Duration::from_secs(
            in_range(
                raw.idempotency.retention_hours,
                "idempotency.retention_hours",
                1..=24 * 365,
                24,
            )? * 3600,
        ),
        max_bytes: in_range(
            raw.idempotency.max_bytes,
            "idempotency.max_bytes",
            IDEMPOTENCY_MAX_BYTES_RANGE,
            crate::idempotency::DEFAULT_MAX_BYTES,
        )?,
        evict_completed: raw.idempotency.evict_completed.unwrap_or(false),
        start_fresh_if_invalid: raw.idempotency.start_fresh_if_invalid.unwrap_or(false),
    };

    let mut providers = Vec::with_capacity(raw.providers.len());
    for (name, provider) in &raw.providers {
        providers.push(provider_config(name, provider, env)?);
    }
    Ok(Config {
        listen,
        log,
        server,
        idempotency,
        providers,
    })
}

/// A TOML error as "line L, column C: message", without the source excerpt
/// the parser would quote (that line may hold an inline secret), and without
/// the value serde quotes in a type error (`invalid type: integer
/// `123456`, expected a string` is how an unquoted numeric secret would be
/// printed): only the kind of value is named.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = without_values(error.message().trim());
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// serde's "invalid type: <unexpected>, expected ..." and "invalid value:
/// ..." name the value found (`integer `5``, `string "abc"`); keep only its
/// kind (`integer`, `string`).
fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let (unexpected, expected) = match rest.rfind(", expected ") {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        let kind = unexpected.split(['`', '"']).next().unwrap_or("").trim();
        return format!(
            "{prefix}{kind}{expected} (the value is not shown: it may be a secret; quote strings)"
        );
    }
    message.to_owned()
}

/// `IPALLOC_LISTEN`, `IPALLOC_LOG_FORMAT`, `IPALLOC_LOG_LEVEL`,
/// `IPALLOC_IDEMPOTENCY_PATH`, `IPALLOC_IDEMPOTENCY_RETENTION_HOURS`,
/// `IPALLOC_IDEMPOTENCY_MAX_BYTES`, `IPALLOC_IDEMPOTENCY_EVICT_COMPLETED`,
/// `IPALLOC_IDEMPOTENCY_START_FRESH_IF_INVALID`,
/// `IPALLOC_SERVER_MAX_CONCURRENT_CALLS`, `IPALLOC_SERVER_MAX_REQUEST_BYTES`,
/// `IPALLOC_SERVER_WATCH_MAX_LIFETIME_MS`, and
/// `IPALLOC_PROVIDER_<NAME>_<KEY>` for each provider in the file, where NAME
/// is the provider name upper-cased with `-` as `_`, and KEY a provider key
/// upper-cased (`IPALLOC_PROVIDER_ALIYUN_PROD_ENDPOINT`).
fn apply_env_overrides(raw: &mut RawConfig, env: EnvLookup<'_>) -> Result<(), ConfigError> {
    if let Some(v) = env("IPALLOC_LISTEN") {
        raw.listen = Some(v);
    }
    if let Some(v) = env("IPALLOC_LOG_FORMAT") {
        raw.log.format = Some(v);
    }
    if let Some(v) = env("IPALLOC_LOG_LEVEL") {
        raw.log.level = Some(v);
    }
    if let Some(v) = env("IPALLOC_IDEMPOTENCY_PATH") {
        raw.idempotency.path = Some(v);
    }
    let top_numbers: [(&str, &mut Option<u64>); 5] = [
        (
            "IPALLOC_IDEMPOTENCY_RETENTION_HOURS",
            &mut raw.idempotency.retention_hours,
        ),
        (
            "IPALLOC_IDEMPOTENCY_MAX_BYTES",
            &mut raw.idempotency.max_bytes,
        ),
        (
            "IPALLOC_SERVER_MAX_CONCURRENT_CALLS",
            &mut raw.server.max_concurrent_calls,
        ),
        (
            "IPALLOC_SERVER_MAX_REQUEST_BYTES",
            &mut raw.server.max_request_bytes,
        ),
        (
            "IPALLOC_SERVER_WATCH_MAX_LIFETIME_MS",
            &mut raw.server.watch_max_lifetime_ms,
        ),
    ];
    for (name, slot) in top_numbers {
        if let Some(v) = env(name) {
            *slot = Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| invalid(name, format!("{v:?} is not a whole number")))?,
            );
        }
    }
    let top_flags: [(&str, &mut Option<bool>); 2] = [
        (
            "IPALLOC_IDEMPOTENCY_EVICT_COMPLETED",
            &mut raw.idempotency.evict_completed,
        ),
        (
            "IPALLOC_IDEMPOTENCY_START_FRESH_IF_INVALID",
            &mut raw.idempotency.start_fresh_if_invalid,
        ),
    ];
    for (name, slot) in top_flags {
        if let Some(v) = env(name) {
            *slot = Some(match v.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid(name, format!("{v:?} is not true or false"))),
            });
        }
    }
    for (name, provider) in raw.providers.iter_mut() {
        let prefix = format!("IPALLOC_PROVIDER_{}_", env_name(name));
        let var = |key: &str| env(&format!("{prefix}{key}"));
        let number = |key: &str| -> Result<Option<u64>, ConfigError> {
            var(key)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        invalid(
                            format!("{prefix}{key}"),
                            format!("{v:?} is not a whole number"),
                        )
                    })
                })
                .transpose()
        };
        let text_keys: [(&str, &mut Option<String>); 5] = [
            ("KIND", &mut provider.kind),
            ("REGION", &mut provider.region),
            ("ENDPOINT", &mut provider.endpoint),
            ("SIGNATURE_VERSION", &mut provider.signature_version),
            ("API_VERSION", &mut provider.api_version),
        ];
        for (key, slot) in text_keys {
            if let Some(v) = var(key) {
                *slot = Some(v);
            }
        }
        // A credential override replaces both the inline value and the
        // variable the file names.
        let credential_keys: [(&str, &mut Option<String>, &mut Option<String>); 4] = [
            (
                "ACCESS_KEY_ID",
                &mut provider.access_key_id,
                &mut provider.access_key_id_env,
            ),
            (
                "ACCESS_KEY_SECRET",
                &mut provider.access_key_secret,
                &mut provider.access_key_secret_env,
            ),
            (
                "SECURITY_TOKEN",
                &mut provider.security_token,
                &mut provider.security_token_env,
            ),
            (
                "ACCESS_KEY_PASSWORD",
                &mut provider.access_key_password,
                &mut provider.access_key_password_env,
            ),
        ];
        for (key, inline, named) in credential_keys {
            if let Some(v) = var(key) {
                *inline = Some(v);
                *named = None;
            }
        }
        let numbers: [(&str, &mut Option<u64>); 14] = [
            (
                "RETRY_BUDGET_WINDOW_MS",
                &mut provider.retry_budget_window_ms,
            ),
            ("CONNECT_TIMEOUT_MS", &mut provider.connect_timeout_ms),
            ("REQUEST_TIMEOUT_MS", &mut provider.request_timeout_ms),
            ("MAX_ATTEMPTS", &mut provider.max_attempts),
            ("BACKOFF_BASE_MS", &mut provider.backoff_base_ms),
            ("BACKOFF_MAX_MS", &mut provider.backoff_max_ms),
            (
                "RETRY_BUDGET_MIN_PER_SECOND",
                &mut provider.retry_budget_min_per_second,
            ),
            ("RATE_PER_SECOND", &mut provider.rate_per_second),
            ("BURST", &mut provider.burst),
            ("MAX_CONCURRENCY", &mut provider.max_concurrency),
            ("POLL_INITIAL_MS", &mut provider.poll_initial_ms),
            ("POLL_MAX_MS", &mut provider.poll_max_ms),
            ("RECONCILE_GRACE_MS", &mut provider.reconcile_grace_ms),
            ("RESERVE_FLOOR_MS", &mut provider.reserve_floor_ms),
        ];
        for (key, slot) in numbers {
            if let Some(v) = number(key)? {
                *slot = Some(v);
            }
        }
        if let Some(v) = var("RETRY_BUDGET_RATIO") {
            provider.retry_budget_ratio = Some(v.trim().parse::<f64>().map_err(|_| {
                invalid(
                    format!("{prefix}RETRY_BUDGET_RATIO"),
                    format!("{v:?} is not a number"),
                )
            })?);
        }
        if let Some(v) = var("READ_SHARE") {
            provider.read_share = Some(v.trim().parse::<f64>().map_err(|_| {
                invalid(
                    format!("{prefix}READ_SHARE"),
                    format!("{v:?} is not a number"),
                )
            })?);
        }
        if let Some(v) = var("TERMINATE_FAILED") {
            provider.terminate_failed = Some(match v.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(invalid(
                        format!("{prefix}TERMINATE_FAILED"),
                        format!("{v:?} is not true or false"),
                    ));
                }
            });
        }
    }
    Ok(())
}

/// A provider name as it appears in environment variable names.
pub fn env_name(provider: &str) -> String {
    provider
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn provider_config(
    name: &str,
    raw: &RawProvider,
    env: EnvLookup<'_>,
) -> Result<ProviderConfig, ConfigError> {
    let key = |field: &str| format!("providers.{name}.{field}");
    if !valid_provider_name(name) {
        return Err(invalid(
            format!("providers.{name}"),
            "provider names are 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        ));
    }
    let http = http_settings(raw, &key)?;
    let follow = follow_settings(raw, &key)?;
    let resilience = resilience_settings(raw, &key, &http)?;
    match raw.kind.as_deref() {
        Some("aliyun") => {
            reject_fields(
                &key,
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
            )?;
            let region = raw.region.clone().ok_or_else(|| {
                invalid(
                    key("region"),
                    "required for kind \"aliyun\" (e.g. \"cn-hangzhou\")",
                )
            })?;
            if !valid_region(&region) {
                return Err(invalid(
                    key("region"),
                    format!("{region:?} is not a region id like \"cn-hangzhou\""),
                ));
            }
            let endpoint = raw
                .endpoint
                .as_deref()
                .map(|e| check_url(e, &key("endpoint")))
                .transpose()?;
            let signature = match raw.signature_version.as_deref().unwrap_or("v1") {
                "v1" => SignatureVersion::V1,
                "v3" => SignatureVersion::V3,
                other => {
                    return Err(invalid(
                        key("signature_version"),
                        format!("{other:?} is not one of \"v1\", \"v3\""),
                    ));
                }
            };
            let access_key_id = required_credential(
                env,
                &key,
                "access_key_id",
                &raw.access_key_id,
                &raw.access_key_id_env,
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
            )?;
            let access_key_secret = required_credential(
                env,
                &key,
                "access_key_secret",
                &raw.access_key_secret,
                &raw.access_key_secret_env,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            )?;
            let security_token = credential(
                env,
                &key,
                "security_token",
                &raw.security_token,
                &raw.security_token_env,
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            )?;
            Ok(ProviderConfig::Aliyun(AliyunSettings {
                name: name.to_owned(),
                region,
                endpoint,
                signature,
                credentials: AliyunCredentials {
                    access_key_id,
                    access_key_secret: Secret::new(access_key_secret),
                    security_token: security_token.map(Secret::new),
                },
                http,
                follow,
                resilience,
            }))
        }
        Some("zenlayer") => {
            reject_fields(
                &key,
                &[
                    ("region", raw.region.is_some()),
                    ("signature_version", raw.signature_version.is_some()),
                    ("access_key_secret", raw.access_key_secret.is_some()),
                    ("access_key_secret_env", raw.access_key_secret_env.is_some()),
                    ("security_token", raw.security_token.is_some()),
                    ("security_token_env", raw.security_token_env.is_some()),
                ],
                "zenlayer",
            )?;
            let endpoint = check_url(
                raw.endpoint
                    .as_deref()
                    .unwrap_or(zenlayer::DEFAULT_ENDPOINT),
                &key("endpoint"),
            )?;
            let api_version = raw
                .api_version
                .clone()
                .unwrap_or_else(|| zenlayer::DEFAULT_API_VERSION.to_owned());
            if !valid_api_version(&api_version) {
                return Err(invalid(
                    key("api_version"),
                    format!("{api_version:?} is not a version like \"2026-02-01\""),
                ));
            }
            let access_key_id = required_credential(
                env,
                &key,
                "access_key_id",
                &raw.access_key_id,
                &raw.access_key_id_env,
                "ZENLAYERCLOUD_ACCESS_KEY_ID",
            )?;
            let access_key_password = required_credential(
                env,
                &key,
                "access_key_password",
                &raw.access_key_password,
                &raw.access_key_password_env,
                "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD",
            )?;
            Ok(ProviderConfig::Zenlayer(ZenlayerSettings {
                name: name.to_owned(),
                endpoint,
                api_version,
                credentials: ZenlayerCredentials {
                    access_key_id,
                    access_key_password: Secret::new(access_key_password),
                },
                http,
                follow,
                resilience,
            }))
        }
        Some(other) => Err(invalid(
            key("kind"),
            format!("{other:?} is not one of \"aliyun\", \"zenlayer\""),
        )),
        None => Err(invalid(key("kind"), "required: \"aliyun\" or \"zenlayer\"")),
    }
}

/// `value` (or `default`) checked against `range`, naming `key` when not.
fn in_range(
    value: Option<u64>,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(&v) => Ok(v),
        Some(v) => Err(invalid(
            key,
            format!("{v} is outside {}..={}", range.start(), range.end()),
        )),
    }
}

fn follow_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
) -> Result<FollowSettings, ConfigError> {
    let defaults = FollowSettings::default();
    let millis = |value, field: &str, default: Duration| -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(in_range(
            value,
            &key(field),
            1..=3_600_000,
            default.as_millis() as u64,
        )?))
    };
    let follow = FollowSettings {
        poll_initial: millis(
            raw.poll_initial_ms,
            "poll_initial_ms",
            defaults.poll_initial,
        )?,
        poll_max: millis(raw.poll_max_ms, "poll_max_ms", defaults.poll_max)?,
        terminate_failed: raw.terminate_failed.unwrap_or(defaults.terminate_failed),
        reconcile_grace: millis(
            raw.reconcile_grace_ms,
            "reconcile_grace_ms",
            defaults.reconcile_grace,
        )?,
    };
    if follow.poll_max < follow.poll_initial {
        return Err(invalid(
            key("poll_max_ms"),
            "must not be below poll_initial_ms",
        ));
    }
    Ok(follow)
}

fn resilience_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
    http: &HttpSettings,
) -> Result<ResilienceSettings, ConfigError> {
    let d = ResilienceSettings::default();
    let ms = |value, field: &str, default: Duration, max: u64| -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(in_range(
            value,
            &key(field),
            1..=max,
            default.as_millis() as u64,
        )?))
    };
    let ratio = match raw.retry_budget_ratio {
        None => d.retry_budget.retry_ratio,
        Some(r) if (0.0..=10.0).contains(&r) => r as f32,
        Some(r) => {
            return Err(invalid(
                key("retry_budget_ratio"),
                format!("{r} is outside 0..=10"),
            ));
        }
    };
    let settings = ResilienceSettings {
        // One attempt's timeout is the HTTP request timeout.
        attempt_timeout: http.request_timeout,
        max_attempts: in_range(
            raw.max_attempts,
            &key("max_attempts"),
            1..=10,
            u64::from(d.max_attempts),
        )? as u32,
        backoff_base: ms(
            raw.backoff_base_ms,
            "backoff_base_ms",
            d.backoff_base,
            60_000,
        )?,
        backoff_max: ms(raw.backoff_max_ms, "backoff_max_ms", d.backoff_max, 600_000)?,
        retry_budget: BudgetSettings {
            ttl: Duration::from_millis(in_range(
                raw.retry_budget_window_ms,
                &key("retry_budget_window_ms"),
                1_000..=60_000,
                d.retry_budget.ttl.as_millis() as u64,
            )?),
            min_per_second: in_range(
                raw.retry_budget_min_per_second,
                &key("retry_budget_min_per_second"),
                0..=1000,
                u64::from(d.retry_budget.min_per_second),
            )? as u32,
            retry_ratio: ratio,
        },
        rate_per_second: in_range(
            raw.rate_per_second,
            &key("rate_per_second"),
            1..=100_000,
            u64::from(d.rate_per_second),
        )? as u32,
        burst: in_range(raw.burst, &key("burst"), 1..=100_000, u64::from(d.burst))? as u32,
        max_concurrency: in_range(
            raw.max_concurrency,
            &key("max_concurrency"),
            1..=10_000,
            d.max_concurrency as u64,
        )? as usize,
        read_share: match raw.read_share {
            None => d.read_share,
            Some(share) if share > 0.0 && share <= 1.0 => share,
            Some(share) => {
                return Err(invalid(
                    key("read_share"),
                    format!("{share} is outside 0 (excluded) ..= 1"),
                ));
            }
        },
        reserve_floor: Duration::from_millis(in_range(
            raw.reserve_floor_ms,
            &key("reserve_floor_ms"),
            0..=60_000,
            d.reserve_floor.as_millis() as u64,
        )?),
    };
    settings.validate().map_err(|e| {
        let field = match e.field {
            "backoff_max" => "backoff_max_ms",
            "backoff_base" => "backoff_base_ms",
            "reserve_floor" => "reserve_floor_ms",
            other => other,
        };
        invalid(key(field), e.problem)
    })?;
    Ok(settings)
}

fn http_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
) -> Result<HttpSettings, ConfigError> {
    let defaults = HttpSettings::default();
    let millis = |value: Option<u64>, field: &str, default: Duration| match value {
        None => Ok(default),
        Some(ms) if (1..=600_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(invalid(
            key(field),
            format!("{ms} is outside 1..=600000 milliseconds"),
        )),
    };
    Ok(HttpSettings {
        connect_timeout: millis(
            raw.connect_timeout_ms,
            "connect_timeout_ms",
            defaults.connect_timeout,
        )?,
        request_timeout: millis(
            raw.request_timeout_ms,
            "request_timeout_ms",
            defaults.request_timeout,
        )?,
    })
}

fn reject_fields(
    key: &dyn Fn(&str) -> String,
    fields: &[(&str, bool)],
    kind: &str,
) -> Result<(), ConfigError> {
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(invalid(
            key(field),
            format!("not a setting of kind {kind:?}"),
        )),
        None => Ok(()),
    }
}

/// A credential from, in order: the file's inline value, the variable the
/// file names in `<field>_env`, or the cloud's conventional variable.
/// Surrounding white space is trimmed (as the official SDKs do).
fn credential(
    env: EnvLookup<'_>,
    key: &dyn Fn(&str) -> String,
    field: &str,
    inline: &Option<String>,
    named_var: &Option<String>,
    conventional: &str,
) -> Result<Option<String>, ConfigError> {
    let value = match (inline, named_var) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                key(field),
                format!("set either {field} or {field}_env, not both"),
            ));
        }
        (Some(value), None) => Some(value.clone()),
        (None, Some(var)) => Some(env(var).ok_or_else(|| {
            invalid(
                key(&format!("{field}_env")),
                format!("environment variable {var} is not set"),
            )
        })?),
        (None, None) => env(conventional),
    };
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(invalid(key(field), "is empty")),
        other => Ok(other),
    }
}

/// A credential that must be present (see [`credential`]).
fn required_credential(
    env: EnvLookup<'_>,
    key: &dyn Fn(&str) -> String,
    field: &str,
    inline: &Option<String>,
    named_var: &Option<String>,
    conventional: &str,
) -> Result<String, ConfigError> {
    credential(env, key, field, inline, named_var, conventional)?.ok_or_else(|| {
        invalid(
            key(field),
            format!(
                "required: set {field}, or {field}_env naming an environment variable, or {conventional}"
            ),
        )
    })
}

fn check_url(url: &str, key: &str) -> Result<String, ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some()
                && parsed.query().is_none() =>
        {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(
            key,
            format!(
                "{:?} is not an http(s) base URL like \"https://host[:port]\"",
                without_userinfo(url)
            ),
        )),
    }
}

/// `url` with any `user:password@` replaced by `***@`, for error messages.
fn without_userinfo(url: &str) -> Cow<'_, str> {
    let start = url.find("://").map_or(0, |at| at + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| start + at);
    match url[start..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}***{}", &url[..start], &url[start + at..])),
        None => Cow::Borrowed(url),
    }
}

fn valid_provider_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// Alibaba region ids: lowercase words joined by `-` (`cn-hangzhou`,
/// `ap-southeast-1`, `cn-zhengzhou-jva`).
pub fn valid_region(region: &str) -> bool {
    region.len() <= 64
        && region.contains('-')
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
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

#[cfg(test)]
mod tests;
