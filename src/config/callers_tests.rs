//! Unit tests of the `[callers.NAME]` tables and the spend limit keys: every
//! identity source, the allowlists, the cross-caller checks, list types and
//! list overrides, and no token (or hash) in any message or `Debug`.

use super::super::{Config, ConfigError};
use super::*;

const TOKEN_ENV: &str = "env-TOKEN-0123456789";
const TOKEN_FILE: &str = "file-TOKEN-0123456789";
const TOKEN_HASHED: &str = "hashed-TOKEN-0123456789";

/// A second account (`testing::config` adds `zl`).
const ALIYUN: &str = "[providers.ali]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\n\
    access_key_id = \"i\"\naccess_key_secret = \"s\"\n";

fn load_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    crate::testing::config::load_with(&format!("{text}\n{ALIYUN}"), pairs)
}

fn loaded(text: &str, pairs: &[(&str, &str)]) -> Config {
    load_with(text, pairs).unwrap_or_else(|e| panic!("expected a valid configuration, got: {e}"))
}

/// Every problem as `key: message`.
fn problems(text: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    match load_with(text, pairs) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[test]
fn without_callers_authorization_is_off_and_no_limit_is_set() {
    let config = loaded("", &[]);
    assert!(config.callers.is_empty());
    assert!(!config.spend.is_active());
}

#[test]
fn every_identity_source_and_allowlist_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN_FILE}\n")).unwrap();
    let text = format!(
        "[callers.app]\ntoken_sha256 = [\"{}\"]\ntoken_files = [\"{}\"]\n\
         token_env = [\"APP_TOKEN\"]\ncert_sans = [\"app.example.com\"]\nunix_uids = [1000]\n\
         unix_gids = [50, 51]\nproviders = [\"zl\"]\nrpcs = [\"AllocateIp\", \"ListProviders\"]\n\
         max_addresses_per_hour = 5\nmax_addresses_per_day = 20\n\
         [callers.ops]\nunix_uids = [0]\n",
        sha256_hex(TOKEN_HASHED).to_ascii_uppercase(),
        file.display()
    );
    let config = loaded(&text, &[("APP_TOKEN", TOKEN_ENV)]);
    let [app, ops] = config.callers.as_slice() else {
        panic!("two callers: {:?}", config.callers)
    };
    assert_eq!(app.name, "app");
    for token in [TOKEN_HASHED, TOKEN_FILE, TOKEN_ENV] {
        assert!(
            app.tokens.iter().any(|h| h.matches(&TokenHash::of(token))),
            "{token}"
        );
    }
    assert_eq!(app.tokens.len(), 3);
    assert_eq!(app.cert_sans, ["app.example.com"]);
    assert_eq!(
        (app.unix_uids.as_slice(), app.unix_gids.as_slice()),
        (&[1000][..], &[50, 51][..])
    );
    assert_eq!(app.providers.as_deref(), Some(&["zl".to_owned()][..]));
    assert_eq!(
        app.rpcs.as_deref(),
        Some(&[Rpc::AllocateIp, Rpc::ListProviders][..])
    );
    assert_eq!(
        app.limits,
        WindowLimits {
            per_hour: Some(5),
            per_day: Some(20)
        }
    );
    // Absent lists allow everything.
    assert_eq!((ops.providers.as_ref(), ops.rpcs.as_ref()), (None, None));
    assert!(config.spend.is_active());
    assert_eq!(config.spend.callers.len(), 1, "only callers with limits");
    let debug = format!("{config:?}");
    for secret in [TOKEN_HASHED, TOKEN_FILE, TOKEN_ENV] {
        assert!(!debug.contains(secret), "Debug shows a token");
    }
    assert!(
        !debug.contains(&sha256_hex(TOKEN_ENV)),
        "Debug shows a hash"
    );
}

#[test]
fn an_account_limits_its_allocations_whoever_calls() {
    let config = loaded("", &[("IPALLOC_PROVIDER_ZL_MAX_ADDRESSES_PER_DAY", "10")]);
    assert!(config.callers.is_empty());
    assert_eq!(
        config.spend.accounts.get("zl"),
        Some(&WindowLimits {
            per_hour: None,
            per_day: Some(10)
        })
    );
    assert!(!config.spend.accounts.contains_key("ali"));
}

#[test]
fn every_problem_names_its_key_and_never_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    let text = format!(
        "[callers.a]\ntoken_sha256 = [\"{short_hash}\", \"not-hex-{TOKEN_HASHED}\"]\n\
         token_files = [\"{short}\", \"{missing}\"]\ntoken_env = [\"UNSET\", \"SHORT\"]\n\
         unix_uids = [4294967296]\nproviders = [\"zll\", \"zl\"]\nrpcs = [\"AllocateIP\"]\n\
         max_addresses_per_hour = 30\nmax_addresses_per_day = 20\n\
         [callers.b]\nmax_addresses_per_hour = 0\n\
         [callers.c]\ntoken_env = [\"DUP\"]\ncert_sans = [\"x\", \"\"]\nunix_gids = [7]\n\
         [callers.d]\ntoken_env = [\"DUP\"]\ncert_sans = [\"x\"]\nunix_gids = [7]\n\
         [callers.Bad]\nunix_uids = [1]\n",
        short_hash = &sha256_hex(TOKEN_HASHED)[..63],
        short = short.display(),
        missing = dir.path().join("missing").display(),
    );
    let found = problems(&text, &[("SHORT", "tiny-env"), ("DUP", TOKEN_ENV)]);
    #[rustfmt::skip]
    let expected = [
        "callers.Bad: caller names are 1 to 63 characters",
        "callers.a.token_sha256: element 1 is not 64 hexadecimal digits",
        "callers.a.token_sha256: element 2 is not 64 hexadecimal digits",
        "callers.a.token_files: element 1: a token must be at least 16 characters",
        "callers.a.token_files: element 2 cannot be read",
        "callers.a.token_env: element 1: environment variable UNSET is not set",
        "callers.a.token_env: element 2: a token must be at least 16 characters",
        "callers.a.unix_uids: element 1 is above 4294967295",
        "callers.a.providers: element 1 names no [providers.NAME] table; did you mean \"zl\"?",
        "callers.a.rpcs: is not one of \"AllocateIp\"",
        "callers.a.max_addresses_per_hour: is above max_addresses_per_day",
        "callers.a: matches no one",
        "callers.b.max_addresses_per_hour: is outside 1..=1000000",
        "callers.b: matches no one",
        "callers.c.cert_sans: element 2 must be 1 to 1024 characters",
        "callers.d.token_sha256: a token also belongs to callers.c",
        "callers.d.cert_sans: SAN \"x\" also belongs to callers.c",
        "callers.d.unix_gids: gid 7 also belongs to callers.c",
    ];
    for want in expected {
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "{}", found.join("\n"));
    let all = found.join("\n");
    for secret in [TOKEN_HASHED, TOKEN_ENV, "tiny"] {
        assert!(!all.contains(secret), "a message quotes a token: {all}");
    }
    assert!(!all.contains(&sha256_hex(TOKEN_HASHED)[..63]), "{all}");
}

#[test]
fn lists_are_typed_and_overridden_from_comma_separated_variables() {
    let found = problems(
        "[callers.a]\ntoken_sha256 = \"abc\"\nunix_uids = [\"1000\"]\nunix_gids = [-1]\n",
        &[],
    );
    #[rustfmt::skip]
    let expected = [
        "callers.a.token_sha256: expected a list of strings, found string",
        "callers.a.unix_gids: expected a list of whole numbers, found a list holding a negative number",
        "callers.a.unix_uids: expected a list of whole numbers, found a list holding a string",
        "callers.a: matches no one",
    ];
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (found, want) in found.iter().zip(expected) {
        assert!(found.starts_with(want), "{found:?} is not {want:?}");
    }
    let config = loaded(
        "[callers.app]\nunix_uids = [1]\n",
        &[
            ("IPALLOC_CALLER_APP_UNIX_UIDS", "1000, 1001,"),
            ("IPALLOC_CALLER_APP_RPCS", "GetAllocation,ListProviders"),
        ],
    );
    assert_eq!(config.callers[0].unix_uids, [1000, 1001]);
    assert_eq!(
        config.callers[0].rpcs.as_deref(),
        Some(&[Rpc::GetAllocation, Rpc::ListProviders][..])
    );
    let found = problems(
        "[callers.app]\nunix_uids = [1]\n",
        &[("IPALLOC_CALLER_APP_UNIX_UIDS", "1000,x")],
    );
    assert_eq!(
        found,
        ["IPALLOC_CALLER_APP_UNIX_UIDS: is not a comma-separated list of whole numbers"]
    );
}
