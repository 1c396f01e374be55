//! Gateway configuration: a TOML file (`--config`), environment overrides
//! (`IPALLOC_*`), and credentials from the file, from environment variables
//! the file names, or from each cloud's conventional variables.
//!
//! `load` takes the environment as a function so tests can pass a map.
//! Checking is strict and complete: unknown keys, wrong types, values out of
//! range, misspelled `IPALLOC_*` variables, a `log.level` that would log
//! nothing, an endpoint with credentials in it; every problem is reported
//! at once, each naming its key (with "did you mean" where it helps) and
//! never the value, which may be a secret.

pub mod env;
mod keys;
pub mod permissions;
pub mod problems;
pub mod raw;
pub mod schema;
pub mod secret;

use std::net::SocketAddr;
use std::time::Duration;

pub use env::{Env, env_name};
use problems::{Collector, Problem, Problems, problem};
use raw::{RawConfig, RawProvider};
use secret::Secret;

use crate::middleware::{BudgetSettings, ResilienceSettings};
use crate::provider::aliyun::{self, AliyunCredentials, AliyunSettings, SignatureVersion};
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
    /// Every problem found (at least one).
    #[error("{0}")]
    Invalid(Problems),
}

impl ConfigError {
    /// The problems, when the file was read and parsed.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => &problems.0,
            _ => &[],
        }
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
}

/// Inbound limits, connection handling and shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Server-wide cap on concurrent API calls; more are shed (UNAVAILABLE).
    pub max_concurrent_calls: usize,
    /// Largest request message accepted.
    pub max_request_bytes: usize,
    /// Longest life of one WatchAllocation stream; it then ends with
    /// UNAVAILABLE `WATCH_LIFETIME_ENDED` (watch again to continue).
    pub watch_max_lifetime: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// How long a request's message may take to arrive after its headers.
    pub request_body_timeout: Duration,
    /// How long a new connection may take to send the HTTP/2 preface.
    pub handshake_timeout: Duration,
    /// A connection without open streams for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 PING after this much silence on a connection.
    pub keepalive_interval: Duration,
    /// A PING not answered within this closes the connection.
    pub keepalive_timeout: Duration,
    /// After SIGTERM: how long health says NOT_SERVING while still serving.
    pub shutdown_drain: Duration,
    /// After SIGTERM: the longest the whole shutdown may take.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_concurrent_calls: 1024,
            max_request_bytes: 256 * 1024,
            watch_max_lifetime: Duration::from_secs(3600),
            max_concurrent_streams: 256,
            request_body_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            shutdown_drain: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
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
    load_file_env(path, &Env::lookup_only(env))
}

/// Reads and validates the configuration file at `path`, with the
/// misspelled-variable check when `env` lists the variable names.
pub fn load_file_env(path: &str, env: &Env<'_>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_env(&text, path, env)
}

/// Parses and validates configuration text; `origin` names it in errors.
pub fn load(text: &str, origin: &str, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    load_env(text, origin, &Env::lookup_only(env))
}

/// Parses and validates configuration text against `env`.
pub fn load_env(text: &str, origin: &str, env: &Env<'_>) -> Result<Config, ConfigError> {
    let mut table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: origin.to_owned(),
                message: syntax_message(text, &e),
            })?;
    let mut problems = Collector::default();
    env::apply(&mut table, env, &mut problems);
    env::check_unknown(&table, env, &mut problems);
    keys::check(&mut table, schema::config(), "", &mut problems);
    let raw: RawConfig = match toml::Value::Table(table).try_into() {
        Ok(raw) => raw,
        Err(e) => {
            // The key and type checks leave nothing for serde to refuse;
            // should it still, its message may quote a value: say less.
            tracing::debug!(kind = %e.message().split(':').next().unwrap_or_default(), "config deserialization failed");
            problems.add("config", "does not match the configuration schema");
            return Err(ConfigError::Invalid(problems.into_problems()));
        }
    };
    let config = validate(&raw, env.lookup, &mut problems);
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(problems.into_problems())),
    }
}

/// Every check on the typed configuration; `None` when any failed.
fn validate(raw: &RawConfig, env: EnvLookup<'_>, c: &mut Collector) -> Option<Config> {
    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().ok();
    if listen.is_none() {
        c.add("listen", "is not an address like 127.0.0.1:50051");
    }

    let json = match raw.log.format.as_deref().unwrap_or("text") {
        "text" => Some(false),
        "json" => Some(true),
        other => {
            let hint = did_you_mean(other, ["text", "json"])
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            c.add(
                "log.format",
                format!("is not one of \"text\", \"json\"{hint}"),
            );
            None
        }
    };
    let level = raw.log.level.clone().unwrap_or_else(|| "info".to_owned());
    if let Err(message) = crate::logging::check_level(&level) {
        c.add("log.level", message);
    }

    if raw.providers.is_empty() {
        c.add(
            "providers",
            "no provider is configured; add a [providers.NAME] table with kind = \"aliyun\" or \"zenlayer\"",
        );
    }
    let server = server_config(raw, c);
    let idempotency = IdempotencyConfig {
        path: raw
            .idempotency
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from),
        retention: Duration::from_secs(
            range(
                c,
                raw.idempotency.retention_hours,
                "idempotency.retention_hours",
                1..=24 * 365,
                24,
            ) * 3600,
        ),
        max_bytes: range(
            c,
            raw.idempotency.max_bytes,
            "idempotency.max_bytes",
            IDEMPOTENCY_MAX_BYTES_RANGE,
            crate::idempotency::DEFAULT_MAX_BYTES,
        ),
        evict_completed: raw.idempotency.evict_completed.unwrap_or(false),
        start_fresh_if_invalid: raw.idempotency.start_fresh_if_invalid.unwrap_or(false),
    };

    let mut providers = Vec::with_capacity(raw.providers.len());
    for (name, provider) in &raw.providers {
        if let Some(config) = provider_config(name, provider, env, c) {
            providers.push(config);
        }
    }
    Some(Config {
        listen: listen?,
        log: LogConfig { json: json?, level },
        server,
        idempotency,
        providers,
    })
}

fn server_config(raw: &RawConfig, c: &mut Collector) -> ServerConfig {
    let d = ServerConfig::default();
    let s = &raw.server;
    let server = ServerConfig {
        max_concurrent_calls: range(
            c,
            s.max_concurrent_calls,
            "server.max_concurrent_calls",
            1..=100_000,
            d.max_concurrent_calls as u64,
        ) as usize,
        max_request_bytes: range(
            c,
            s.max_request_bytes,
            "server.max_request_bytes",
            1024..=16 * 1024 * 1024,
            d.max_request_bytes as u64,
        ) as usize,
        max_concurrent_streams: range(
            c,
            s.max_concurrent_streams,
            "server.max_concurrent_streams",
            1..=10_000,
            u64::from(d.max_concurrent_streams),
        ) as u32,
        request_body_timeout: millis(
            c,
            s.request_body_timeout_ms,
            "server.request_body_timeout_ms",
            1..=600_000,
            d.request_body_timeout,
        ),
        handshake_timeout: millis(
            c,
            s.handshake_timeout_ms,
            "server.handshake_timeout_ms",
            1..=600_000,
            d.handshake_timeout,
        ),
        idle_timeout: millis(
            c,
            s.idle_timeout_ms,
            "server.idle_timeout_ms",
            1..=86_400_000,
            d.idle_timeout,
        ),
        keepalive_interval: millis(
            c,
            s.keepalive_interval_ms,
            "server.keepalive_interval_ms",
            1..=86_400_000,
            d.keepalive_interval,
        ),
        watch_max_lifetime: millis(
            c,
            s.watch_max_lifetime_ms,
            "server.watch_max_lifetime_ms",
            1000..=24 * 3_600_000,
            d.watch_max_lifetime,
        ),
        keepalive_timeout: millis(
            c,
            s.keepalive_timeout_ms,
            "server.keepalive_timeout_ms",
            1..=600_000,
            d.keepalive_timeout,
        ),
        shutdown_drain: millis(
            c,
            s.shutdown_drain_ms,
            "server.shutdown_drain_ms",
            0..=3_600_000,
            d.shutdown_drain,
        ),
        shutdown_timeout: millis(
            c,
            s.shutdown_timeout_ms,
            "server.shutdown_timeout_ms",
            1..=3_600_000,
            d.shutdown_timeout,
        ),
    };
    if server.shutdown_drain >= server.shutdown_timeout {
        c.add(
            "server.shutdown_drain_ms",
            "must be below server.shutdown_timeout_ms (the timeout bounds the whole shutdown, drain included)",
        );
    }
    server
}

/// A TOML error as "line L, column C: message", without the source excerpt
/// the parser would quote (that line may hold an inline secret).
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
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

fn provider_config(
    name: &str,
    raw: &RawProvider,
    env: EnvLookup<'_>,
    c: &mut Collector,
) -> Option<ProviderConfig> {
    let key = |field: &str| format!("providers.{name}.{field}");
    if !valid_provider_name(name) {
        c.add(
            format!("providers.{name}"),
            "provider names are 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        );
        return None;
    }
    let http = http_settings(raw, &key, c);
    let follow = follow_settings(raw, &key, c);
    let resilience = resilience_settings(raw, &key, &http, c);
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
                c,
            );
            let region = match raw.region.clone() {
                None => {
                    c.add(
                        key("region"),
                        "required for kind \"aliyun\" (e.g. \"cn-hangzhou\")",
                    );
                    None
                }
                Some(region) if !aliyun::region::is_valid(&region) => {
                    c.add(key("region"), "is not a region id like \"cn-hangzhou\"");
                    None
                }
                Some(region) => Some(region),
            };
            let endpoint = match raw.endpoint.as_deref() {
                None => Some(None),
                Some(e) => c.take(check_url(e, &key("endpoint"), None)).map(Some),
            };
            let signature = match raw.signature_version.as_deref().unwrap_or("v1") {
                "v1" => Some(SignatureVersion::V1),
                "v3" => Some(SignatureVersion::V3),
                _ => {
                    c.add(key("signature_version"), "is not one of \"v1\", \"v3\"");
                    None
                }
            };
            let access_key_id = c.take(required_credential(
                env,
                &key,
                "access_key_id",
                &raw.access_key_id,
                &raw.access_key_id_env,
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
            ));
            let access_key_secret = c.take(required_credential(
                env,
                &key,
                "access_key_secret",
                &raw.access_key_secret,
                &raw.access_key_secret_env,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            ));
            let security_token = c.take(credential(
                env,
                &key,
                "security_token",
                &raw.security_token,
                &raw.security_token_env,
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            ));
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
                c,
            );
            let endpoint = c.take(check_url(
                raw.endpoint
                    .as_deref()
                    .unwrap_or(zenlayer::DEFAULT_ENDPOINT),
                &key("endpoint"),
                Some(ZENLAYER_API_PATH),
            ));
            let api_version = raw
                .api_version
                .clone()
                .unwrap_or_else(|| zenlayer::DEFAULT_API_VERSION.to_owned());
            if !valid_api_version(&api_version) {
                c.add(key("api_version"), "is not a version like \"2026-02-01\"");
            }
            let access_key_id = c.take(required_credential(
                env,
                &key,
                "access_key_id",
                &raw.access_key_id,
                &raw.access_key_id_env,
                "ZENLAYERCLOUD_ACCESS_KEY_ID",
            ));
            let access_key_password = c.take(required_credential(
                env,
                &key,
                "access_key_password",
                &raw.access_key_password,
                &raw.access_key_password_env,
                "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD",
            ));
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
            let hint = did_you_mean(other, ["aliyun", "zenlayer"])
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            c.add(
                key("kind"),
                format!("is not one of \"aliyun\", \"zenlayer\"{hint}"),
            );
            None
        }
        None => {
            c.add(key("kind"), "required: \"aliyun\" or \"zenlayer\"");
            None
        }
    }
}

/// The path every Zenlayer call is posted to; an endpoint may name it.
const ZENLAYER_API_PATH: &str = "/api/v2/bmc";

/// `value` (or `default`) checked against `range`; out of range, the
/// problem is recorded and the default returned.
fn range(
    c: &mut Collector,
    value: Option<u64>,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> u64 {
    match value {
        None => default,
        Some(v) if range.contains(&v) => v,
        Some(_) => {
            c.add(
                key,
                format!("is outside {}..={}", range.start(), range.end()),
            );
            default
        }
    }
}

/// Milliseconds (or `default`) checked against `range`, as [`range`].
fn millis(
    c: &mut Collector,
    value: Option<u64>,
    key: &str,
    bounds: std::ops::RangeInclusive<u64>,
    default: Duration,
) -> Duration {
    Duration::from_millis(range(c, value, key, bounds, default.as_millis() as u64))
}

fn follow_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
    c: &mut Collector,
) -> Option<FollowSettings> {
    let defaults = FollowSettings::default();
    let follow = FollowSettings {
        poll_initial: millis(
            c,
            raw.poll_initial_ms,
            &key("poll_initial_ms"),
            1..=3_600_000,
            defaults.poll_initial,
        ),
        poll_max: millis(
            c,
            raw.poll_max_ms,
            &key("poll_max_ms"),
            1..=3_600_000,
            defaults.poll_max,
        ),
        terminate_failed: raw.terminate_failed.unwrap_or(defaults.terminate_failed),
        reconcile_grace: millis(
            c,
            raw.reconcile_grace_ms,
            &key("reconcile_grace_ms"),
            1..=3_600_000,
            defaults.reconcile_grace,
        ),
    };
    if follow.poll_max < follow.poll_initial {
        c.add(key("poll_max_ms"), "must not be below poll_initial_ms");
        return None;
    }
    Some(follow)
}

fn resilience_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
    http: &HttpSettings,
    c: &mut Collector,
) -> Option<ResilienceSettings> {
    let d = ResilienceSettings::default();
    let ratio = match raw.retry_budget_ratio {
        None => d.retry_budget.retry_ratio,
        Some(r) if (0.0..=10.0).contains(&r) => r as f32,
        Some(_) => {
            c.add(key("retry_budget_ratio"), "is outside 0..=10");
            d.retry_budget.retry_ratio
        }
    };
    let settings = ResilienceSettings {
        // One attempt's timeout is the HTTP request timeout.
        attempt_timeout: http.request_timeout,
        max_attempts: range(
            c,
            raw.max_attempts,
            &key("max_attempts"),
            1..=10,
            u64::from(d.max_attempts),
        ) as u32,
        backoff_base: millis(
            c,
            raw.backoff_base_ms,
            &key("backoff_base_ms"),
            1..=60_000,
            d.backoff_base,
        ),
        backoff_max: millis(
            c,
            raw.backoff_max_ms,
            &key("backoff_max_ms"),
            1..=600_000,
            d.backoff_max,
        ),
        retry_budget: BudgetSettings {
            ttl: millis(
                c,
                raw.retry_budget_window_ms,
                &key("retry_budget_window_ms"),
                1_000..=60_000,
                d.retry_budget.ttl,
            ),
            min_per_second: range(
                c,
                raw.retry_budget_min_per_second,
                &key("retry_budget_min_per_second"),
                0..=1000,
                u64::from(d.retry_budget.min_per_second),
            ) as u32,
            retry_ratio: ratio,
        },
        rate_per_second: range(
            c,
            raw.rate_per_second,
            &key("rate_per_second"),
            1..=100_000,
            u64::from(d.rate_per_second),
        ) as u32,
        burst: range(c, raw.burst, &key("burst"), 1..=100_000, u64::from(d.burst)) as u32,
        max_concurrency: range(
            c,
            raw.max_concurrency,
            &key("max_concurrency"),
            1..=10_000,
            d.max_concurrency as u64,
        ) as usize,
        read_share: match raw.read_share {
            None => d.read_share,
            Some(share) if share > 0.0 && share <= 1.0 => share,
            Some(_) => {
                c.add(key("read_share"), "is outside 0 (excluded) ..= 1");
                d.read_share
            }
        },
        reserve_floor: millis(
            c,
            raw.reserve_floor_ms,
            &key("reserve_floor_ms"),
            0..=60_000,
            d.reserve_floor,
        ),
    };
    if let Err(e) = settings.validate() {
        let field = match e.field {
            "backoff_max" => "backoff_max_ms",
            "backoff_base" => "backoff_base_ms",
            "reserve_floor" => "reserve_floor_ms",
            other => other,
        };
        c.add(key(field), e.problem);
        return None;
    }
    Some(settings)
}

fn http_settings(
    raw: &RawProvider,
    key: &dyn Fn(&str) -> String,
    c: &mut Collector,
) -> HttpSettings {
    let defaults = HttpSettings::default();
    HttpSettings {
        connect_timeout: millis(
            c,
            raw.connect_timeout_ms,
            &key("connect_timeout_ms"),
            1..=600_000,
            defaults.connect_timeout,
        ),
        request_timeout: millis(
            c,
            raw.request_timeout_ms,
            &key("request_timeout_ms"),
            1..=600_000,
            defaults.request_timeout,
        ),
    }
}

fn reject_fields(
    key: &dyn Fn(&str) -> String,
    fields: &[(&str, bool)],
    kind: &str,
    c: &mut Collector,
) {
    for (field, present) in fields {
        if *present {
            c.add(key(field), format!("not a setting of kind {kind:?}"));
        }
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
) -> Result<Option<String>, Problem> {
    let value = match (inline, named_var) {
        (Some(_), Some(_)) => {
            return Err(problem(
                key(field),
                format!("set either {field} or {field}_env, not both"),
            ));
        }
        (Some(value), None) => Some(value.clone()),
        (None, Some(var)) => Some(env(var).ok_or_else(|| {
            problem(
                key(&format!("{field}_env")),
                format!("environment variable {var} is not set"),
            )
        })?),
        (None, None) => env(conventional),
    };
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(problem(key(field), "is empty")),
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
) -> Result<String, Problem> {
    credential(env, key, field, inline, named_var, conventional)?.ok_or_else(|| {
        problem(
            key(field),
            format!(
                "required: set {field}, or {field}_env naming an environment variable, or {conventional}"
            ),
        )
    })
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

fn valid_provider_name(name: &str) -> bool {
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

/// The candidate closest to `given`, when it is close enough to be the
/// likely intent ("did you mean ...?").
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
