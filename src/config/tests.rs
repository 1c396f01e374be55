//! Unit tests of configuration loading, with the environment as a map.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::provider::aliyun::SignatureVersion;

const ALIYUN_SECRET: &str = "aliyun-secret-VALUE-0001";
const ZL_PASSWORD: &str = "zenlayer-password-VALUE-0002";
const STS_TOKEN: &str = "sts-token-VALUE-0003";

fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map = env_of(pairs);
    let lookup = move |name: &str| map.get(name).cloned();
    load(text, "test.toml", &lookup)
}

fn error_text(text: &str, pairs: &[(&str, &str)]) -> String {
    match load_with(text, pairs) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// `[providers.<name>]`: a Zenlayer account with inline credentials, then
/// the `extra` lines.
fn zenlayer(name: &str, extra: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"zenlayer\"\naccess_key_id = \"i\"\naccess_key_password = \"p\"\n{extra}"
    )
}

/// `[providers.<name>]`: an Aliyun account in cn-hangzhou with inline
/// credentials, then the `extra` lines.
fn aliyun(name: &str, extra: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\naccess_key_id = \"i\"\naccess_key_secret = \"s\"\n{extra}"
    )
}

const BOTH: &str = r#"
listen = "127.0.0.1:6000"
[log]
format = "json"
level = "debug"
[providers.ali-prod]
kind = "aliyun"
region = "cn-hangzhou"
access_key_id = "LTAI-id"
access_key_secret = "aliyun-secret-VALUE-0001"
security_token_env = "MY_STS"
request_timeout_ms = 36000
[providers.zl]
kind = "zenlayer"
endpoint = "http://127.0.0.1:18081/"
access_key_id = "zl-id"
access_key_password_env = "ZL_PW"
"#;

#[test]
fn parses_both_kinds_with_defaults_and_named_env_vars() {
    let config = load_with(BOTH, &[("MY_STS", STS_TOKEN), ("ZL_PW", ZL_PASSWORD)]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:6000");
    assert!(config.log.json);
    assert_eq!(config.log.level, "debug");
    assert_eq!(config.providers.len(), 2);
    let ProviderConfig::Aliyun(ali) = &config.providers[0] else {
        panic!("first provider should be aliyun (sorted by name)")
    };
    assert_eq!(ali.name, "ali-prod");
    assert_eq!(ali.region, "cn-hangzhou");
    assert_eq!(ali.endpoint, None);
    assert_eq!(ali.signature, SignatureVersion::V1);
    assert_eq!(ali.credentials.access_key_id, "LTAI-id");
    assert_eq!(ali.credentials.access_key_secret.expose(), ALIYUN_SECRET);
    assert_eq!(
        ali.credentials.security_token.as_ref().map(|s| s.expose()),
        Some(STS_TOKEN)
    );
    assert_eq!(ali.resilience.attempt_timeout, Duration::from_millis(36000));
    assert_eq!(ali.http.connect_timeout, Duration::from_secs(5));
    let ProviderConfig::Zenlayer(zl) = &config.providers[1] else {
        panic!("second provider should be zenlayer")
    };
    assert_eq!(zl.endpoint, "http://127.0.0.1:18081");
    assert_eq!(zl.api_version, "2026-02-01");
    assert_eq!(zl.credentials.access_key_password.expose(), ZL_PASSWORD);
}

#[test]
fn debug_output_never_shows_secrets() {
    let config = load_with(BOTH, &[("MY_STS", STS_TOKEN), ("ZL_PW", ZL_PASSWORD)]).unwrap();
    let debug = format!("{config:?} {config:#?}");
    for secret in [ALIYUN_SECRET, ZL_PASSWORD, STS_TOKEN] {
        assert!(!debug.contains(secret), "secret leaked in Debug: {debug}");
    }
    assert!(
        debug.contains("LTAI-id"),
        "ids are not secret and help debugging"
    );
    let raw: raw::RawConfig = toml::from_str(BOTH).unwrap();
    assert!(!format!("{raw:?}").contains(ALIYUN_SECRET));
}

#[test]
fn conventional_env_vars_are_the_fallback() {
    let text = r#"
[providers.a]
kind = "aliyun"
region = "cn-beijing"
[providers.z]
kind = "zenlayer"
"#;
    let config = load_with(
        text,
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", " ak-id \n"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ALIYUN_SECRET),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN),
            ("ZENLAYERCLOUD_ACCESS_KEY_ID", "zl-id"),
            ("ZENLAYERCLOUD_ACCESS_KEY_PASSWORD", ZL_PASSWORD),
        ],
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    let ProviderConfig::Aliyun(ali) = &config.providers[0] else {
        panic!()
    };
    assert_eq!(ali.credentials.access_key_id, "ak-id", "trimmed");
    assert!(ali.credentials.security_token.is_some());
    let ProviderConfig::Zenlayer(zl) = &config.providers[1] else {
        panic!()
    };
    assert_eq!(zl.endpoint, "https://console.zenlayer.com");
    assert_eq!(zl.credentials.access_key_id, "zl-id");
}

#[test]
fn environment_overrides_file_values() {
    let config = load_with(
        BOTH,
        &[
            ("MY_STS", STS_TOKEN),
            ("IPALLOC_LISTEN", "127.0.0.1:7000"),
            ("IPALLOC_LOG_FORMAT", "text"),
            ("IPALLOC_PROVIDER_ALI_PROD_ENDPOINT", "http://127.0.0.1:9"),
            ("IPALLOC_PROVIDER_ALI_PROD_SIGNATURE_VERSION", "v3"),
            ("IPALLOC_PROVIDER_ALI_PROD_REQUEST_TIMEOUT_MS", "1500"),
            ("IPALLOC_PROVIDER_ZL_ACCESS_KEY_PASSWORD", "from-override"),
        ],
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
    assert!(!config.log.json);
    let ProviderConfig::Aliyun(ali) = &config.providers[0] else {
        panic!()
    };
    assert_eq!(ali.endpoint.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(ali.signature, SignatureVersion::V3);
    assert_eq!(ali.resilience.attempt_timeout, Duration::from_millis(1500));
    let ProviderConfig::Zenlayer(zl) = &config.providers[1] else {
        panic!()
    };
    assert_eq!(
        zl.credentials.access_key_password.expose(),
        "from-override",
        "an override replaces the variable the file names"
    );
}

/// (config text, environment, the key the error must name)
type ErrorCase<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn errors_name_the_key_at_fault() {
    let aliyun = |extra: &str| aliyun("p", extra);
    let cases: Vec<ErrorCase> = vec![
        (
            "listen = \"nope\"\n".to_owned() + &aliyun(""),
            vec![],
            "listen",
        ),
        (aliyun("regoin = \"x\""), vec![], "regoin"),
        (
            aliyun("signature_version = \"v2\""),
            vec![],
            "providers.p.signature_version",
        ),
        (
            aliyun("api_version = \"2026-02-01\""),
            vec![],
            "providers.p.api_version",
        ),
        (
            aliyun("endpoint = \"ftp://x\""),
            vec![],
            "providers.p.endpoint",
        ),
        (
            aliyun("request_timeout_ms = 0"),
            vec![],
            "providers.p.request_timeout_ms",
        ),
        (
            aliyun("security_token_env = \"UNSET_VAR\""),
            vec![],
            "providers.p.security_token_env",
        ),
        (
            aliyun("access_key_id_env = \"X\""),
            vec![("X", "y")],
            "providers.p.access_key_id",
        ),
        (
            "[providers.p]\nkind = \"aliyun\"\naccess_key_id = \"i\"\naccess_key_secret = \"s\"\n"
                .to_owned(),
            vec![],
            "providers.p.region",
        ),
        (
            "[providers.p]\nkind = \"aliyun\"\nregion = \"Hangzhou\"\n".to_owned(),
            vec![],
            "providers.p.region",
        ),
        (
            "[providers.p]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\naccess_key_id = \"i\"\n"
                .to_owned(),
            vec![],
            "providers.p.access_key_secret",
        ),
        (
            "[providers.p]\nkind = \"gcp\"\n".to_owned(),
            vec![],
            "providers.p.kind",
        ),
        (
            "[providers.p]\nregion = \"cn-hangzhou\"\n".to_owned(),
            vec![],
            "providers.p.kind",
        ),
        (
            "[providers.p]\nkind = \"zenlayer\"\nregion = \"cn-hangzhou\"\n".to_owned(),
            vec![],
            "providers.p.region",
        ),
        (
            zenlayer("z", "api_version = \"v2\"\n"),
            vec![],
            "providers.z.api_version",
        ),
        (
            "[providers.z]\nkind = \"zenlayer\"\naccess_key_id = \"i\"\n".to_owned(),
            vec![],
            "providers.z.access_key_password",
        ),
        (
            "[providers.Bad]\nkind = \"zenlayer\"\n".to_owned(),
            vec![],
            "providers.Bad",
        ),
        ("listen = \"127.0.0.1:1\"\n".to_owned(), vec![], "providers"),
        (
            aliyun(""),
            vec![("IPALLOC_PROVIDER_P_CONNECT_TIMEOUT_MS", "soon")],
            "IPALLOC_PROVIDER_P_CONNECT_TIMEOUT_MS",
        ),
        (
            "[log]\nformat = \"xml\"\n".to_owned() + &aliyun(""),
            vec![],
            "log.format",
        ),
    ];
    for (text, env, key) in cases {
        let message = error_text(&text, &env);
        assert!(
            message.contains(key),
            "error for key {key} should name it; got: {message}"
        );
    }
}

#[test]
fn errors_never_show_secret_values() {
    let text = format!(
        "[providers.p]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\naccess_key_id = \"i\"\naccess_key_secret = \"{ALIYUN_SECRET}\"\naccess_key_secret_env = \"ALSO\"\n"
    );
    let message = error_text(&text, &[("ALSO", ALIYUN_SECRET)]);
    assert!(message.contains("providers.p.access_key_secret"));
    assert!(!message.contains(ALIYUN_SECRET), "{message}");
    let syntax = error_text(
        &format!(
            "[providers.p]\nkind = \"aliyun\"\naccess_key_secret = \"{ALIYUN_SECRET}\"\nbogus = 1\n"
        ),
        &[],
    );
    assert!(syntax.contains("bogus"), "{syntax}");
    let unterminated = error_text(
        &format!("[providers.p]\nkind = \"aliyun\"\naccess_key_secret = \"{ALIYUN_SECRET}\n"),
        &[],
    );
    assert!(unterminated.contains("line 3"), "{unterminated}");
    assert!(!unterminated.contains(ALIYUN_SECRET), "{unterminated}");
}

#[test]
fn env_name_helper() {
    assert_eq!(env_name("ali-prod.2"), "ALI_PROD_2");
}

#[test]
fn resilience_follow_server_and_idempotency_settings() {
    let text = r#"
[server]
max_concurrent_calls = 64
max_request_bytes = 65536
[idempotency]
path = "/tmp/ipalloc-test.redb"
retention_hours = 48
max_bytes = 1048576
evict_completed = true
[providers.zl]
kind = "zenlayer"
access_key_id = "i"
access_key_password = "p"
request_timeout_ms = 7000
max_attempts = 6
backoff_base_ms = 50
backoff_max_ms = 2000
retry_budget_ratio = 0.5
retry_budget_min_per_second = 20
retry_budget_window_ms = 30000
rate_per_second = 40
burst = 8
max_concurrency = 12
poll_initial_ms = 200
poll_max_ms = 3000
terminate_failed = true
reconcile_grace_ms = 5000
"#;
    let config = load_with(text, &[("IPALLOC_PROVIDER_ZL_BURST", "9")]).unwrap();
    assert_eq!(config.server.max_concurrent_calls, 64);
    assert_eq!(config.server.max_request_bytes, 65536);
    assert_eq!(
        config.idempotency.path.as_deref(),
        Some(std::path::Path::new("/tmp/ipalloc-test.redb"))
    );
    assert_eq!(config.idempotency.retention, Duration::from_secs(48 * 3600));
    assert_eq!(config.idempotency.max_bytes, 1_048_576);
    assert!(config.idempotency.evict_completed);
    assert!(!config.idempotency.start_fresh_if_invalid);
    let options = config.idempotency.store_options();
    assert_eq!(
        (options.max_bytes, options.evict_completed),
        (1_048_576, true)
    );
    let ProviderConfig::Zenlayer(zl) = &config.providers[0] else {
        panic!()
    };
    let r = &zl.resilience;
    assert_eq!(
        r.attempt_timeout,
        Duration::from_millis(7000),
        "the request timeout"
    );
    assert_eq!(r.max_attempts, 6);
    assert_eq!(r.backoff_base, Duration::from_millis(50));
    assert_eq!(r.backoff_max, Duration::from_secs(2));
    assert_eq!(r.retry_budget.retry_ratio, 0.5);
    assert_eq!(r.retry_budget.min_per_second, 20);
    assert_eq!(r.retry_budget.ttl, Duration::from_secs(30));
    assert_eq!(r.rate_per_second, 40);
    assert_eq!(r.burst, 9, "environment override");
    assert_eq!(r.max_concurrency, 12);
    assert_eq!(zl.follow.poll_initial, Duration::from_millis(200));
    assert_eq!(zl.follow.poll_max, Duration::from_secs(3));
    assert!(zl.follow.terminate_failed);
    assert_eq!(zl.follow.reconcile_grace, Duration::from_secs(5));
}

#[test]
fn defaults_are_conservative() {
    let config = load_with(&zenlayer("zl", ""), &[]).unwrap();
    assert_eq!(config.idempotency.path, None, "in memory by default");
    assert_eq!(config.idempotency.retention, Duration::from_secs(24 * 3600));
    let ProviderConfig::Zenlayer(zl) = &config.providers[0] else {
        panic!()
    };
    assert_eq!(zl.resilience.rate_per_second, 10);
    assert_eq!(zl.resilience.max_attempts, 4);
    assert!(!zl.follow.terminate_failed);
}

#[test]
fn bad_resilience_settings_name_their_key() {
    // (extra provider lines, the key the error must name)
    for (extra, key) in [
        ("rate_per_second = 0", "providers.p.rate_per_second"),
        ("max_attempts = 0", "providers.p.max_attempts"),
        (
            "retry_budget_ratio = -1.0",
            "providers.p.retry_budget_ratio",
        ),
        (
            "backoff_base_ms = 500\nbackoff_max_ms = 100",
            "providers.p.backoff_max_ms",
        ),
        (
            "poll_initial_ms = 500\npoll_max_ms = 100",
            "providers.p.poll_max_ms",
        ),
    ] {
        let message = error_text(&zenlayer("p", &format!("{extra}\n")), &[]);
        assert!(message.contains(key), "{key}: {message}");
    }
    // (variable, its value, the key the error must name)
    for (variable, value, key) in [
        (
            "IPALLOC_PROVIDER_P_TERMINATE_FAILED",
            "maybe",
            "IPALLOC_PROVIDER_P_TERMINATE_FAILED",
        ),
        (
            "IPALLOC_SERVER_MAX_CONCURRENT_CALLS",
            "lots",
            "IPALLOC_SERVER_MAX_CONCURRENT_CALLS",
        ),
        (
            "IPALLOC_SERVER_MAX_CONCURRENT_CALLS",
            "0",
            "server.max_concurrent_calls",
        ),
        (
            "IPALLOC_IDEMPOTENCY_RETENTION_HOURS",
            "0",
            "idempotency.retention_hours",
        ),
    ] {
        let message = error_text(&zenlayer("p", "\n"), &[(variable, value)]);
        assert!(message.contains(key), "{key}: {message}");
    }
    let aliyun = aliyun("a", "terminate_failed = true\n");
    assert!(error_text(&aliyun, &[]).contains("providers.a.terminate_failed"));
}

#[test]
fn every_key_has_an_override_and_unknown_variables_are_named() {
    let text = "[providers.zl-prod]\nkind = \"zenlayer\"\naccess_key_id = \"i\"\naccess_key_password_env = \"PW\"\n";
    let vars = [
        ("IPALLOC_SERVER_SHUTDOWN_DRAIN_MS", "250"),
        ("IPALLOC_SERVER_MAX_CONCURRENT_STREAMS", "64"),
        ("IPALLOC_PROVIDER_ZL_PROD_ACCESS_KEY_PASSWORD", "from-env"),
        ("IPALLOC_PROVIDER_ZL_PROD_TERMINATE_FAILED", "1"),
    ];
    let map = env_of(&vars);
    let lookup = |name: &str| map.get(name).cloned();
    let names: Vec<String> = map.keys().cloned().collect();
    let env = Env {
        lookup: &lookup,
        names: Some(names),
        also_known: &[],
    };
    let config = load_env(text, "test.toml", &env).unwrap();
    assert_eq!(config.server.shutdown_drain, Duration::from_millis(250));
    assert_eq!(config.server.max_concurrent_streams, 64);
    let ProviderConfig::Zenlayer(zl) = &config.providers[0] else {
        panic!("zenlayer")
    };
    // The override replaced the `_env` indirection (PW is not set).
    assert_eq!(zl.credentials.access_key_password.expose(), "from-env");
    assert!(zl.follow.terminate_failed);

    let mut typo = vars.to_vec();
    typo.push(("IPALLOC_SERVER_SHUTDOWN_DRAIN", "1"));
    typo.push(("IPALLOC_PROVIDER_OTHER_BURST", "1"));
    let map = env_of(&typo);
    let lookup = |name: &str| map.get(name).cloned();
    let env = Env {
        lookup: &lookup,
        names: Some(map.keys().cloned().collect()),
        also_known: &[],
    };
    let err = load_env(text, "test.toml", &env).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "IPALLOC_PROVIDER_OTHER_BURST",
            "IPALLOC_SERVER_SHUTDOWN_DRAIN"
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("did you mean IPALLOC_SERVER_SHUTDOWN_DRAIN_MS?"),
        "{text}"
    );
}

#[test]
fn syntax_errors_never_quote_a_value() {
    // Unquoted secrets of every TOML type, and wrong types for numbers.
    // The problem names the key and the kind of value found, never the value.
    for (line, kind) in [
        ("access_key_secret = 123456789012", "found integer"),
        (
            "access_key_secret = -123456789012",
            "found a negative number",
        ),
        ("access_key_secret = 1234.5678e3", "found float"),
        ("access_key_secret = true", "found boolean"),
        ("access_key_secret = [123456789012]", "found array"),
        ("access_key_secret = { k = 123456789012 }", "found table"),
        ("access_key_secret = 1979-05-27T07:32:00Z", "found datetime"),
        ("max_attempts = \"123456789012\"", "found string"),
        ("max_attempts = -123456789012", "found a negative number"),
    ] {
        let text = format!("[providers.p]\nkind = \"aliyun\"\n{line}\n");
        let message = error_text(&text, &[]);
        let key = line.split(' ').next().unwrap_or_default();
        assert!(
            message.contains(&format!("providers.p.{key}: expected")),
            "{line}: {message}"
        );
        assert!(message.contains(kind), "{line}: {message}");
        for secret in ["123456789012", "1234.5678", "1979-05-27", "true"] {
            assert!(!message.contains(secret), "{line}: {message}");
        }
    }
    // Keys (not values) are still named.
    let unknown = error_text("[providers.p]\nkind = \"aliyun\"\nacess_key = 1\n", &[]);
    assert!(unknown.contains("acess_key"), "{unknown}");
}

#[test]
fn endpoint_errors_never_show_a_password() {
    let text = zenlayer("p", "endpoint = \"ftp://user:hunter2@example.com/x\"\n");
    let message = error_text(&text, &[]);
    assert!(message.contains("providers.p.endpoint"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    // The URL is not repeated at all, only what is wrong with it.
    assert!(!message.contains("example.com"), "{message}");
}

#[test]
fn idempotency_bound_and_start_fresh_settings_and_their_overrides() {
    let base = zenlayer("p", "");
    let config = load_with(&base, &[]).unwrap();
    assert_eq!(
        config.idempotency.max_bytes,
        crate::idempotency::DEFAULT_MAX_BYTES
    );
    assert!(!config.idempotency.evict_completed);
    assert!(!config.idempotency.start_fresh_if_invalid);
    let config = load_with(
        &base,
        &[
            ("IPALLOC_IDEMPOTENCY_MAX_BYTES", "2097152"),
            ("IPALLOC_IDEMPOTENCY_EVICT_COMPLETED", "true"),
            ("IPALLOC_IDEMPOTENCY_START_FRESH_IF_INVALID", "1"),
        ],
    )
    .unwrap();
    assert_eq!(config.idempotency.max_bytes, 2_097_152);
    assert!(config.idempotency.evict_completed);
    assert!(config.idempotency.start_fresh_if_invalid);
    let file = format!("[idempotency]\nstart_fresh_if_invalid = true\n{base}");
    assert!(
        load_with(&file, &[])
            .unwrap()
            .idempotency
            .start_fresh_if_invalid
    );
    for (text, env, key) in [
        (
            format!("[idempotency]\nmax_bytes = 1000\n{base}"),
            &[][..],
            "idempotency.max_bytes",
        ),
        (
            base.clone(),
            &[("IPALLOC_IDEMPOTENCY_MAX_BYTES", "lots")][..],
            "IPALLOC_IDEMPOTENCY_MAX_BYTES",
        ),
        (
            base.clone(),
            &[("IPALLOC_IDEMPOTENCY_EVICT_COMPLETED", "yes please")][..],
            "IPALLOC_IDEMPOTENCY_EVICT_COMPLETED",
        ),
    ] {
        let message = error_text(&text, env);
        assert!(message.contains(key), "{key}: {message}");
    }
}

/// The admission and watch knobs: defaults, values, ranges and overrides.
#[test]
fn read_share_reserve_floor_and_watch_lifetime() {
    let zl = zenlayer("zl", "");
    let config = load_with(&zl, &[]).unwrap();
    assert_eq!(config.server.watch_max_lifetime, Duration::from_secs(3600));
    let ProviderConfig::Zenlayer(settings) = &config.providers[0] else {
        panic!("zenlayer")
    };
    assert_eq!(settings.resilience.read_share, 0.5);
    assert_eq!(
        settings.resilience.reserve_floor,
        Duration::from_millis(100)
    );

    let text = format!(
        "[server]\nwatch_max_lifetime_ms = 60000\n{zl}read_share = 0.25\nreserve_floor_ms = 0\n"
    );
    let config = load_with(&text, &[]).unwrap();
    assert_eq!(config.server.watch_max_lifetime, Duration::from_secs(60));
    let ProviderConfig::Zenlayer(settings) = &config.providers[0] else {
        panic!("zenlayer")
    };
    assert_eq!(settings.resilience.read_share, 0.25);
    assert_eq!(settings.resilience.reserve_floor, Duration::ZERO);

    let config = load_with(
        &zl,
        &[
            ("IPALLOC_SERVER_WATCH_MAX_LIFETIME_MS", "2000"),
            ("IPALLOC_PROVIDER_ZL_READ_SHARE", "1"),
            ("IPALLOC_PROVIDER_ZL_RESERVE_FLOOR_MS", "300"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.watch_max_lifetime, Duration::from_secs(2));
    let ProviderConfig::Zenlayer(settings) = &config.providers[0] else {
        panic!("zenlayer")
    };
    assert_eq!(settings.resilience.read_share, 1.0);
    assert_eq!(
        settings.resilience.reserve_floor,
        Duration::from_millis(300)
    );

    for (line, key) in [
        ("read_share = 0\n", "providers.zl.read_share"),
        ("read_share = 1.5\n", "providers.zl.read_share"),
        (
            "reserve_floor_ms = 60001\n",
            "providers.zl.reserve_floor_ms",
        ),
    ] {
        let text = error_text(&format!("{zl}{line}"), &[]);
        assert!(text.contains(key), "{line}: {text}");
    }
    let text = error_text(&format!("[server]\nwatch_max_lifetime_ms = 999\n{zl}"), &[]);
    assert!(text.contains("server.watch_max_lifetime_ms"), "{text}");
    let text = error_text(&zl, &[("IPALLOC_PROVIDER_ZL_READ_SHARE", "half")]);
    assert!(text.contains("IPALLOC_PROVIDER_ZL_READ_SHARE"), "{text}");
}
