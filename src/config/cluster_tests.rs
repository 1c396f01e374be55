//! Unit tests of the `[cluster]` table: defaults, every range bound, the
//! environment overrides, the password sources, and secrets kept out of
//! every problem message and of `Debug`.

use std::collections::HashMap;
use std::time::Duration;

use super::super::{Env, load_env};
use super::*;
use crate::testing::config::{PROVIDER, load_with};

const URL_PASSWORD: &str = "url-PASSWORD-0007";
const ENV_PASSWORD: &str = "env-PASSWORD-0008";
const FILE_PASSWORD: &str = "file-PASSWORD-0009";
const URL: &str = "postgres://gateway@db.example:5432/ipalloc";

/// `[cluster]` with `postgres_url = URL` and the `extra` lines.
fn cluster(extra: &str) -> String {
    format!("[cluster]\npostgres_url = \"{URL}\"\n{extra}\n")
}

fn loaded(text: &str, pairs: &[(&str, &str)]) -> ClusterConfig {
    match load_with(text, pairs) {
        Ok(config) => config.cluster.expect("fleet mode is configured"),
        Err(e) => panic!("expected a valid configuration, got: {e}"),
    }
}

fn error_text(text: &str, pairs: &[(&str, &str)]) -> String {
    match load_with(text, pairs) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// The keys of every problem.
fn problem_keys(text: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    match load_with(text, pairs) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.problems().iter().map(|p| p.key.clone()).collect(),
    }
}

#[test]
fn without_postgres_url_the_gateway_runs_alone() {
    assert_eq!(load_with("", &[]).unwrap().cluster, None);
    assert_eq!(load_with("[cluster]\n", &[]).unwrap().cluster, None);
    assert_eq!(
        load_with("[cluster]\npostgres_url = \"  \"\n", &[])
            .unwrap()
            .cluster,
        None,
        "an empty URL is no URL"
    );
}

#[test]
fn defaults() {
    let config = loaded(&cluster(""), &[]);
    assert_eq!(config.postgres_url.expose(), URL);
    assert_eq!(config.password, None);
    assert_eq!(config.pool_size, 16);
    assert_eq!(config.connect_timeout, Duration::from_millis(2000));
    assert_eq!(config.statement_timeout, Duration::from_millis(2000));
    assert_eq!(config.tls, DatabaseTls::VerifyFull);
    assert_eq!(config.ca_file, None);
    assert_eq!(config.lease, Duration::from_secs(30));
    assert_eq!(config.replicas, 1);
    assert_eq!(config.purge_interval, Duration::from_secs(60));
    // <host>-<pid>-<4 hex>, a valid id.
    let id = &config.replica_id;
    assert!(valid_replica_id(id), "{id}");
    let mut parts = id.rsplitn(3, '-');
    let suffix = parts.next().unwrap();
    assert_eq!(suffix.len(), 4, "{id}");
    assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(parts.next().unwrap(), std::process::id().to_string());
    assert!(!parts.next().unwrap().is_empty(), "{id}");
    // Two loads (two gateways on one host) get different ids, most likely.
    let ids: std::collections::HashSet<String> = (0..8)
        .map(|_| loaded(&cluster(""), &[]).replica_id)
        .collect();
    assert!(ids.len() > 1, "{ids:?}");
}

#[test]
fn every_setting_is_read_and_every_range_bound_holds() {
    // (key, smallest, largest)
    let bounds: [(&str, u64, u64); 6] = [
        ("pool_size", 1, 256),
        ("connect_timeout_ms", 100, 60_000),
        ("statement_timeout_ms", 100, 60_000),
        ("lease_ms", 1000, 600_000),
        ("replicas", 1, 1000),
        ("purge_interval_ms", 1000, 86_400_000),
    ];
    for (key, low, high) in bounds {
        for value in [low, high] {
            let config = loaded(&cluster(&format!("{key} = {value}")), &[]);
            let read = match key {
                "pool_size" => config.pool_size as u64,
                "connect_timeout_ms" => config.connect_timeout.as_millis() as u64,
                "statement_timeout_ms" => config.statement_timeout.as_millis() as u64,
                "lease_ms" => config.lease.as_millis() as u64,
                "replicas" => u64::from(config.replicas),
                "purge_interval_ms" => config.purge_interval.as_millis() as u64,
                _ => unreachable!(),
            };
            assert_eq!(read, value, "{key}");
        }
        for value in [low - 1, high + 1] {
            let text = cluster(&format!("{key} = {value}"));
            assert_eq!(problem_keys(&text, &[]), [format!("cluster.{key}")]);
            let message = error_text(&text, &[]);
            assert!(
                message.contains(&format!("is outside {low}..={high}")),
                "{key} = {value}: {message}"
            );
        }
    }
    let config = loaded(
        &cluster("tls = \"require\"\nreplica_id = \"gw-a.prod:1_x\""),
        &[],
    );
    assert_eq!(config.tls, DatabaseTls::Require);
    assert_eq!(config.replica_id, "gw-a.prod:1_x");
    assert_eq!(
        loaded(&cluster("tls = \"disable\""), &[]).tls,
        DatabaseTls::Disable
    );
    assert_eq!(
        loaded(&cluster("tls = \"verify-full\""), &[]).tls,
        DatabaseTls::VerifyFull
    );
}

#[test]
fn tls_ca_file_and_replica_id_are_checked() {
    let message = error_text(&cluster("tls = \"verify_full\""), &[]);
    assert!(message.contains("cluster.tls"), "{message}");
    assert!(
        message.contains("did you mean \"verify-full\""),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let ca_line = format!("ca_file = \"{}\"", ca.display());
    assert_eq!(loaded(&cluster(&ca_line), &[]).ca_file, Some(ca.clone()));
    for tls in ["disable", "require"] {
        let text = cluster(&format!("{ca_line}\ntls = \"{tls}\""));
        assert_eq!(problem_keys(&text, &[]), ["cluster.ca_file"], "{tls}");
    }
    let missing = format!("ca_file = \"{}\"", dir.path().join("nope.pem").display());
    assert_eq!(problem_keys(&cluster(&missing), &[]), ["cluster.ca_file"]);
    let directory = format!("ca_file = \"{}\"", dir.path().display());
    assert_eq!(problem_keys(&cluster(&directory), &[]), ["cluster.ca_file"]);

    let longest = "r".repeat(128);
    assert_eq!(
        loaded(&cluster(&format!("replica_id = \"{longest}\"")), &[]).replica_id,
        longest
    );
    for bad in ["", "gw a", "gw/a", "gëw", &"r".repeat(129)] {
        let text = cluster(&format!("replica_id = \"{bad}\""));
        assert_eq!(problem_keys(&text, &[]), ["cluster.replica_id"], "{bad:?}");
    }
}

#[test]
fn other_keys_without_postgres_url_are_problems_naming_each() {
    let text = "[cluster]\npool_size = 4\ntls = \"disable\"\nreplicas = 3\n";
    assert_eq!(
        problem_keys(text, &[]),
        ["cluster.pool_size", "cluster.tls", "cluster.replicas"]
    );
    let message = error_text(text, &[]);
    assert!(message.contains("cluster.postgres_url is not"), "{message}");
    // An empty URL is no URL: the same.
    let text = "[cluster]\npostgres_url = \"\"\nlease_ms = 5000\n";
    assert_eq!(problem_keys(text, &[]), ["cluster.lease_ms"]);
    // Set by the environment: the problem says which variable.
    let message = error_text("", &[("IPALLOC_CLUSTER_REPLICAS", "3")]);
    assert!(
        message.contains("cluster.replicas") && message.contains("IPALLOC_CLUSTER_REPLICAS"),
        "{message}"
    );
}

#[test]
fn environment_overrides_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "pem").unwrap();
    let ca = ca.display().to_string();
    let vars = [
        ("IPALLOC_CLUSTER_POSTGRES_URL", URL),
        ("IPALLOC_CLUSTER_PASSWORD_ENV", "DB_PW"),
        ("DB_PW", ENV_PASSWORD),
        ("IPALLOC_CLUSTER_POOL_SIZE", "8"),
        ("IPALLOC_CLUSTER_CONNECT_TIMEOUT_MS", "500"),
        ("IPALLOC_CLUSTER_STATEMENT_TIMEOUT_MS", "700"),
        ("IPALLOC_CLUSTER_TLS", "verify-full"),
        ("IPALLOC_CLUSTER_CA_FILE", &ca),
        ("IPALLOC_CLUSTER_REPLICA_ID", "gw-1"),
        ("IPALLOC_CLUSTER_LEASE_MS", "10000"),
        ("IPALLOC_CLUSTER_REPLICAS", "3"),
        ("IPALLOC_CLUSTER_PURGE_INTERVAL_MS", "5000"),
    ];
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = |name: &str| map.get(name).cloned();
    // With the misspelled-variable check on: every IPALLOC_CLUSTER_* is known.
    let env = Env {
        lookup: &lookup,
        names: Some(map.keys().cloned().collect()),
        also_known: &[],
    };
    let config = load_env(PROVIDER, "test.toml", &env)
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(config.postgres_url.expose(), URL);
    assert_eq!(
        config.password.as_ref().map(Secret::expose),
        Some(ENV_PASSWORD)
    );
    assert_eq!(config.pool_size, 8);
    assert_eq!(config.connect_timeout, Duration::from_millis(500));
    assert_eq!(config.statement_timeout, Duration::from_millis(700));
    assert_eq!(config.tls, DatabaseTls::VerifyFull);
    assert_eq!(config.ca_file, Some(PathBuf::from(&ca)));
    assert_eq!(config.replica_id, "gw-1");
    assert_eq!(config.lease, Duration::from_secs(10));
    assert_eq!(config.replicas, 3);
    assert_eq!(config.purge_interval, Duration::from_secs(5));

    // An override replaces the file's value.
    let file = cluster("pool_size = 4\ntls = \"require\"");
    let config = loaded(
        &file,
        &[
            ("IPALLOC_CLUSTER_POOL_SIZE", "32"),
            ("IPALLOC_CLUSTER_TLS", "disable"),
            (
                "IPALLOC_CLUSTER_POSTGRES_URL",
                "postgresql://other@127.0.0.1/x",
            ),
        ],
    );
    assert_eq!(config.pool_size, 32);
    assert_eq!(config.tls, DatabaseTls::Disable);
    assert_eq!(
        config.postgres_url.expose(),
        "postgresql://other@127.0.0.1/x"
    );
    // An override out of range names its variable.
    let message = error_text(&file, &[("IPALLOC_CLUSTER_POOL_SIZE", "0")]);
    assert!(
        message.contains("cluster.pool_size") && message.contains("IPALLOC_CLUSTER_POOL_SIZE"),
        "{message}"
    );
    let message = error_text(&file, &[("IPALLOC_CLUSTER_LEASE_MS", "soon")]);
    assert!(message.contains("IPALLOC_CLUSTER_LEASE_MS"), "{message}");
}

#[test]
fn the_url_is_checked_without_being_quoted() {
    for (url, expect) in [
        ("mysql://gateway@db/ipalloc", "is not a URL like"),
        ("host=db user=gateway", "is not a URL like"),
        (
            "postgres://gateway@db/ipalloc?sslmode=require",
            "cluster.tls",
        ),
        (
            "postgres://gateway@db/ipalloc?sslmode=verify-full",
            "cluster.tls",
        ),
        (
            "postgres://gateway@db/ipalloc?application_name=g&sslmode=disable",
            "cluster.tls",
        ),
        (
            "postgres://gateway@db/ipalloc?sslrootcert=/ca.pem",
            "cluster.tls",
        ),
        (
            "postgres://gateway@db:port/ipalloc",
            "invalid value for option `port`",
        ),
        (
            "postgres://gateway@db/ipalloc?colour=blue",
            "unknown option `colour`",
        ),
        (
            "postgres://gateway@db/ipalloc?no-equals",
            "is not a URL like",
        ),
        ("postgres:///ipalloc", "names no host"),
    ] {
        let text = format!("[cluster]\npostgres_url = \"{url}\"\n");
        assert_eq!(problem_keys(&text, &[]), ["cluster.postgres_url"], "{url}");
        let message = error_text(&text, &[]);
        assert!(message.contains(expect), "{url}: {message}");
        assert!(!message.contains("db/"), "{url}: {message}");
        assert!(!message.contains("gateway@"), "{url}: {message}");
    }
    // A password that looks like a parameter is the password, not sslmode.
    let tricky = "postgres://gateway:a?sslmode=x@db:5432/ipalloc";
    let config = loaded(&format!("[cluster]\npostgres_url = \"{tricky}\"\n"), &[]);
    assert_eq!(config.postgres_url.expose(), tricky);
    // Host lists, IPv6, a Unix socket directory and options are fine.
    for url in [
        "postgres://gateway@db-a:5432,db-b:5433/ipalloc?target_session_attrs=read-write",
        "postgresql://gateway@[::1]:5432/ipalloc?application_name=ipalloc",
        "postgres://gateway@%2Fvar%2Frun%2Fpostgresql/ipalloc",
        "postgres://127.0.0.1",
    ] {
        loaded(&format!("[cluster]\npostgres_url = \"{url}\"\n"), &[]);
    }
}

#[test]
fn the_password_comes_from_the_environment_or_a_file() {
    let config = loaded(
        &cluster("password_env = \"DB_PW\""),
        &[("DB_PW", ENV_PASSWORD)],
    );
    assert_eq!(
        config.password.as_ref().map(Secret::expose),
        Some(ENV_PASSWORD)
    );
    let message = error_text(&cluster("password_env = \"DB_PW\""), &[]);
    assert!(message.contains("cluster.password_env"), "{message}");
    assert!(message.contains("DB_PW is not set"), "{message}");
    let message = error_text(&cluster("password_env = \"DB_PW\""), &[("DB_PW", "")]);
    assert!(message.contains("DB_PW is empty"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let file_line = format!("password_file = \"{}\"", file.display());
    for (content, expected) in [
        (format!("{FILE_PASSWORD}\n"), FILE_PASSWORD.to_owned()),
        (format!("{FILE_PASSWORD}\r\n"), FILE_PASSWORD.to_owned()),
        (FILE_PASSWORD.to_owned(), FILE_PASSWORD.to_owned()),
        (" spaced pw \n".to_owned(), " spaced pw ".to_owned()),
    ] {
        std::fs::write(&file, &content).unwrap();
        set_mode(&file, 0o600);
        let config = load_with(&cluster(&file_line), &[]).unwrap();
        assert_eq!(
            config
                .cluster
                .unwrap()
                .password
                .map(|p| p.expose().to_owned()),
            Some(expected)
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }
    for content in ["", "\n"] {
        std::fs::write(&file, content).unwrap();
        let message = error_text(&cluster(&file_line), &[]);
        assert!(
            message.contains("cluster.password_file: is empty"),
            "{message}"
        );
    }
    std::fs::write(&file, "x".repeat(5000)).unwrap();
    assert!(error_text(&cluster(&file_line), &[]).contains("larger than 4096 bytes"));
    let missing = format!("password_file = \"{}\"", dir.path().join("nope").display());
    let message = error_text(&cluster(&missing), &[]);
    assert!(
        message.contains("cluster.password_file: cannot be read"),
        "{message}"
    );
    assert!(!message.contains("nope"), "{message}");

    // Readable by others: loaded, with a warning for start-up to log.
    std::fs::write(&file, format!("{FILE_PASSWORD}\n")).unwrap();
    set_mode(&file, 0o644);
    let config = load_with(&cluster(&file_line), &[]).unwrap();
    assert!(config.cluster.unwrap().password.is_some());
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].contains("cluster.password_file"));
    assert!(!config.warnings[0].contains(FILE_PASSWORD));

    let both = cluster(&format!("password_env = \"DB_PW\"\n{file_line}"));
    let message = error_text(&both, &[("DB_PW", ENV_PASSWORD)]);
    assert!(message.contains("not both"), "{message}");
}

fn set_mode(path: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

#[test]
fn secrets_never_appear_in_problems_or_debug() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, FILE_PASSWORD).unwrap();
    let url = format!("postgres://gateway:{URL_PASSWORD}@db.example:5432/ipalloc");
    let secrets = [URL_PASSWORD, ENV_PASSWORD, FILE_PASSWORD];

    // Valid: Debug of the configuration and of the raw table.
    for extra in [
        "password_env = \"DB_PW\"".to_owned(),
        format!("password_file = \"{}\"", file.display()),
    ] {
        let text = format!("[cluster]\npostgres_url = \"{url}\"\n{extra}\n");
        let config = load_with(&text, &[("DB_PW", ENV_PASSWORD)]).unwrap();
        assert!(config.cluster.as_ref().unwrap().password.is_some());
        let debug = format!("{config:?} {config:#?}");
        for secret in secrets {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        let raw: super::super::raw::RawConfig = toml::from_str(&text).unwrap();
        let debug = format!("{raw:?}");
        assert!(!debug.contains(URL_PASSWORD), "{debug}");
    }

    // Invalid in every way at once: no secret in any message.
    let bad_urls = [
        format!("postgres://gateway:{URL_PASSWORD}@db:port/ipalloc"),
        format!("postgres://gateway:{URL_PASSWORD}@db/ipalloc?sslmode=require"),
        format!("postgres://gateway:{URL_PASSWORD}@db/ipalloc?{URL_PASSWORD}=1"),
        format!("postgres://gateway:{URL_PASSWORD}@db/ipalloc?x{URL_PASSWORD}"),
        format!("postgres://gateway:{URL_PASSWORD}@db/%ff{URL_PASSWORD}"),
        format!("postgres://gateway:{URL_PASSWORD}@/ipalloc"),
        format!("postgre://gateway:{URL_PASSWORD}@db/ipalloc"),
    ];
    for url in &bad_urls {
        let text = format!(
            "[cluster]\npostgres_url = \"{url}\"\npassword_env = \"DB_PW\"\npassword_file = \"{}\"\n",
            file.display()
        );
        for env in [&[("DB_PW", ENV_PASSWORD)][..], &[]] {
            let err = load_with(&text, env).unwrap_err();
            let message = format!("{err} {err:?}");
            assert!(message.contains("cluster.postgres_url"), "{message}");
            for secret in secrets {
                assert!(!message.contains(secret), "{secret} in {message}");
            }
        }
    }
    // Given through the environment, the same.
    let err = load_with("", &[("IPALLOC_CLUSTER_POSTGRES_URL", &bad_urls[0])]).unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(
        message.contains("IPALLOC_CLUSTER_POSTGRES_URL"),
        "{message}"
    );
    assert!(!message.contains(URL_PASSWORD), "{message}");
    // An unquoted secret of the wrong type: only its kind is named.
    let message = error_text("[cluster]\npostgres_url = 918273645\n", &[]);
    assert!(
        message.contains("cluster.postgres_url: expected a string"),
        "{message}"
    );
    assert!(!message.contains("918273645"), "{message}");
}
