//! The `[callers.NAME]` tables: who may call the gateway, with which
//! provider accounts and RPCs, and how many addresses it may allocate.
//! Without any, authorization is off (see `crate::auth`).
//!
//! Identities: `token_sha256` (hex SHA-256 hashes of bearer tokens, so the
//! file holds no token), `token_files` and `token_env` (tokens read at start
//! from files or environment variables and hashed at once; at least 16
//! characters each), `cert_sans` (mTLS client certificate SANs, exactly as
//! in the certificate), `unix_uids` and `unix_gids` (Unix socket peers).
//! Every caller needs at least one; no hash, SAN, uid or gid may belong to
//! two callers. `providers` and `rpcs` restrict what it may use (absent:
//! everything; `[]`: nothing). No message quotes a token, a hash or a file's
//! content.

use std::collections::BTreeMap;
use std::path::Path;

use super::EnvLookup;
use super::problems::Collector;
use super::raw::RawCaller;
use super::spend::window_limits;
use super::values::Table;
use crate::auth::{Rpc, TokenHash};
use crate::spend::WindowLimits;

/// Shortest token read from a file or the environment.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Longest `cert_sans` entry.
pub const MAX_SAN_CHARS: usize = 1024;

/// One checked `[callers.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerConfig {
    pub name: String,
    /// Hashes of its bearer tokens.
    pub tokens: Vec<TokenHash>,
    pub cert_sans: Vec<String>,
    pub unix_uids: Vec<u32>,
    pub unix_gids: Vec<u32>,
    /// The provider accounts it may use; `None`: all.
    pub providers: Option<Vec<String>>,
    /// The RPCs it may call; `None`: all.
    pub rpcs: Option<Vec<Rpc>>,
    /// Its spend limits, over every account it uses.
    pub limits: WindowLimits,
}

impl CallerConfig {
    fn has_identity(&self) -> bool {
        !(self.tokens.is_empty()
            && self.cert_sans.is_empty()
            && self.unix_uids.is_empty()
            && self.unix_gids.is_empty())
    }
}

/// Every checked caller (problems recorded in `c`); `accounts` are the
/// configured provider account names `providers` may list. `warnings` gets
/// a token file others can read.
pub(super) fn callers_config(
    raw: &BTreeMap<String, RawCaller>,
    accounts: &[&str],
    env: EnvLookup<'_>,
    c: &mut Collector,
    warnings: &mut Vec<String>,
) -> Vec<CallerConfig> {
    let mut callers: Vec<CallerConfig> = Vec::with_capacity(raw.len());
    for (name, raw) in raw {
        if !super::providers::valid_provider_name(name) {
            c.add(
                format!("callers.{name}"),
                "caller names are 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            );
            continue;
        }
        let mut t = Table::new(c, format!("callers.{name}."));
        let config = caller_config(name, raw, accounts, env, &mut t, warnings);
        if !config.has_identity() {
            c.add(
                format!("callers.{name}"),
                "matches no one: give token_sha256, token_files, token_env, cert_sans, unix_uids \
                 or unix_gids",
            );
        }
        for other in &callers {
            for (field, shared) in shared_identities(other, &config) {
                c.add(
                    format!("callers.{name}.{field}"),
                    format!("{shared} also belongs to callers.{}", other.name),
                );
            }
        }
        callers.push(config);
    }
    callers
}

fn caller_config(
    name: &str,
    raw: &RawCaller,
    accounts: &[&str],
    env: EnvLookup<'_>,
    t: &mut Table<'_>,
    warnings: &mut Vec<String>,
) -> CallerConfig {
    let mut tokens = Vec::new();
    for (i, text) in list(&raw.token_sha256) {
        match TokenHash::from_hex(text.trim()) {
            Some(hash) => tokens.push(hash),
            None => t.add(
                "token_sha256",
                format!(
                    "element {i} is not 64 hexadecimal digits (the SHA-256 of the token: \
                     `printf %s \"$TOKEN\" | sha256sum`)"
                ),
            ),
        }
    }
    for (i, path) in list(&raw.token_files) {
        let key = t.key("token_files");
        match super::secret::read_secret_file(Path::new(path), "the token") {
            Ok(token) => {
                if let Some(hash) = token_hash(&token, i, "token_files", t) {
                    tokens.push(hash);
                }
                if let Some(warning) =
                    super::permissions::insecure_secret_file_warning(Path::new(path), &key)
                {
                    warnings.push(warning);
                }
            }
            Err(message) => t.add("token_files", format!("element {i} {message}")),
        }
    }
    for (i, var) in list(&raw.token_env) {
        match env(var) {
            Some(token) => {
                if let Some(hash) = token_hash(&token, i, "token_env", t) {
                    tokens.push(hash);
                }
            }
            None => t.add(
                "token_env",
                format!("element {i}: environment variable {var} is not set"),
            ),
        }
    }
    let mut cert_sans = Vec::new();
    for (i, san) in list(&raw.cert_sans) {
        if san.is_empty() || san.chars().count() > MAX_SAN_CHARS {
            t.add(
                "cert_sans",
                format!("element {i} must be 1 to {MAX_SAN_CHARS} characters"),
            );
        } else {
            cert_sans.push(san.clone());
        }
    }
    let unix_uids = ids(&raw.unix_uids, "unix_uids", t);
    let unix_gids = ids(&raw.unix_gids, "unix_gids", t);
    let providers = raw.providers.as_ref().map(|names| {
        let mut known = Vec::with_capacity(names.len());
        for (i, account) in names.iter().enumerate() {
            if accounts.contains(&account.as_str()) {
                known.push(account.clone());
            } else {
                let hint = super::did_you_mean(account, accounts.iter().copied())
                    .map(|close| format!("; did you mean \"{close}\"?"))
                    .unwrap_or_default();
                t.add(
                    "providers",
                    format!("element {} names no [providers.NAME] table{hint}", i + 1),
                );
            }
        }
        known
    });
    let rpcs = raw.rpcs.as_ref().map(|names| {
        let mut known = Vec::with_capacity(names.len());
        for name in names {
            match Rpc::from_name(name) {
                Some(rpc) => known.push(rpc),
                None => {
                    let all: Vec<&str> = Rpc::ALL.iter().map(|rpc| rpc.name()).collect();
                    t.add("rpcs", super::not_one_of(name, &all));
                }
            }
        }
        known
    });
    let limits = window_limits(raw.max_addresses_per_hour, raw.max_addresses_per_day, t);
    CallerConfig {
        name: name.to_owned(),
        tokens,
        cert_sans,
        unix_uids,
        unix_gids,
        providers,
        rpcs,
        limits,
    }
}

/// The elements of an optional list, numbered from 1 (for messages).
fn list(values: &Option<Vec<String>>) -> impl Iterator<Item = (usize, &String)> {
    values.iter().flatten().enumerate().map(|(i, v)| (i + 1, v))
}

/// The hash of a token read from `field`'s element `i`, if long enough.
fn token_hash(token: &str, i: usize, field: &str, t: &mut Table<'_>) -> Option<TokenHash> {
    let token = token.trim();
    if token.chars().count() < MIN_TOKEN_CHARS || token.contains(char::is_whitespace) {
        t.add(
            field,
            format!(
                "element {i}: a token must be at least {MIN_TOKEN_CHARS} characters without \
                 white space"
            ),
        );
        return None;
    }
    Some(TokenHash::of(token))
}

/// Unix user or group ids (each at most 2^32 - 1).
fn ids(values: &Option<Vec<u64>>, field: &str, t: &mut Table<'_>) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, id) in values.iter().flatten().enumerate() {
        match u32::try_from(*id) {
            Ok(id) => out.push(id),
            Err(_) => t.add(field, format!("element {} is above 4294967295", i + 1)),
        }
    }
    out
}

/// The identities `b` shares with `a`, by field (never the values of
/// tokens and hashes).
fn shared_identities(a: &CallerConfig, b: &CallerConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if b.tokens
        .iter()
        .any(|h| a.tokens.iter().any(|o| o.matches(h)))
    {
        out.push(("token_sha256", "a token".to_owned()));
    }
    if let Some(san) = b.cert_sans.iter().find(|s| a.cert_sans.contains(s)) {
        out.push(("cert_sans", format!("SAN {}", crate::bounded::echo(san))));
    }
    if let Some(uid) = b.unix_uids.iter().find(|u| a.unix_uids.contains(u)) {
        out.push(("unix_uids", format!("uid {uid}")));
    }
    if let Some(gid) = b.unix_gids.iter().find(|g| a.unix_gids.contains(g)) {
        out.push(("unix_gids", format!("gid {gid}")));
    }
    out
}

#[cfg(test)]
#[path = "callers_tests.rs"]
mod tests;
