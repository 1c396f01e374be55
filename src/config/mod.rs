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

pub mod admin;
pub mod audit;
pub mod callers;
pub mod cluster;
mod credentials;
pub mod env;
mod follow;
pub mod idempotency;
mod keys;
pub mod listeners;
pub mod permissions;
pub mod problems;
pub mod providers;
pub mod raw;
mod resilience;
pub mod schema;
pub mod secret;
pub mod server;
pub mod spend;
pub mod tls;
mod values;

use std::net::SocketAddr;

pub use admin::AdminConfig;
pub use audit::AuditConfig;
pub use callers::CallerConfig;
pub use cluster::{ClusterConfig, DatabaseTls};
pub use env::{Env, env_name};
pub use idempotency::{IDEMPOTENCY_MAX_BYTES_RANGE, IdempotencyConfig};
pub use listeners::{Exposure, UnixSocketConfig};
use problems::{Collector, Problem, Problems};
pub use providers::ProviderConfig;
use raw::RawConfig;
pub use server::ServerConfig;
pub use tls::TlsConfig;

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

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API's TCP address (default `127.0.0.1:50051`).
    pub listen: SocketAddr,
    /// Whether the API listens on `listen`: false when `server.unix_socket`
    /// is set and `listen` is not (the socket alone serves it).
    pub listen_tcp: bool,
    /// The API on a Unix domain socket (`server.unix_socket`).
    pub unix_socket: Option<UnixSocketConfig>,
    /// TLS on the API's TCP listener (`[tls]`).
    pub tls: Option<TlsConfig>,
    /// Whether callers must authenticate (any `[callers.NAME]` table, that
    /// is `callers` is not empty): with it, a non-loopback `listen` is not
    /// refused.
    pub caller_authentication: bool,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub idempotency: IdempotencyConfig,
    /// Fleet mode (`[cluster]`): `None` runs alone on the embedded store.
    pub cluster: Option<cluster::ClusterConfig>,
    /// The admin listener (`[admin]`).
    pub admin: AdminConfig,
    pub providers: Vec<ProviderConfig>,
    /// Who may call (`[callers.NAME]`); empty: authorization is off.
    pub callers: Vec<CallerConfig>,
    /// Spend limits of callers and provider accounts.
    pub spend: crate::spend::SpendLimits,
    /// Where the audit trail goes (`[audit]`).
    pub audit: AuditConfig,
    /// What start-up logs once logging is up (a secret file others can
    /// read); never a secret.
    pub warnings: Vec<String>,
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
            c.add("log.format", not_one_of(other, &["text", "json"]));
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
    let server = server::server_config(&raw.server, c);
    let idempotency = idempotency::idempotency_config(&raw.idempotency, c);
    let mut warnings = Vec::new();
    let cluster = cluster::cluster_config(&raw.cluster, env, c, &mut warnings);
    let unix_socket = listeners::unix_socket_config(&raw.server, c);
    let tls = tls::tls_config(&raw.tls, c, &mut warnings);
    let admin = admin::admin_config(&raw.admin, c);

    let mut providers = Vec::with_capacity(raw.providers.len());
    for (name, provider) in &raw.providers {
        if let Some(config) = providers::provider_config(name, provider, env, c) {
            providers.push(config);
        }
    }
    let accounts: Vec<&str> = raw.providers.keys().map(String::as_str).collect();
    let callers = callers::callers_config(&raw.callers, &accounts, env, c, &mut warnings);
    let spend = crate::spend::SpendLimits {
        accounts: spend::account_limits(&raw.providers, c),
        callers: callers
            .iter()
            .filter(|caller| !caller.limits.is_empty())
            .map(|caller| (caller.name.clone(), caller.limits))
            .collect(),
    };
    let audit = audit::audit_config(&raw.audit, c);
    let config = Config {
        listen: listen?,
        listen_tcp: listeners::listens_on_tcp(raw.listen.as_deref(), &raw.server),
        unix_socket,
        tls,
        caller_authentication: !callers.is_empty(),
        log: LogConfig { json: json?, level },
        server,
        idempotency,
        cluster,
        admin,
        providers,
        callers,
        spend,
        audit,
        warnings,
    };
    if config.exposure() == Exposure::Refused {
        c.add("listen", listeners::REFUSED_EXPOSURE);
    }
    Some(config)
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

/// `is not one of "a", "b"`, with "did you mean" when `given` is close to
/// one of them.
fn not_one_of(given: &str, candidates: &[&str]) -> String {
    let list: Vec<String> = candidates.iter().map(|c| format!("\"{c}\"")).collect();
    let hint = did_you_mean(given, candidates.iter().copied())
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    format!("is not one of {}{hint}", list.join(", "))
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
