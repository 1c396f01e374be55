//! The listener keys (`[server]` Unix socket and health port, `[tls]`) and
//! the safe-default rule, with the environment as a map.

use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::testing::config::load_with;

fn problems(text: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    match load_with(text, pairs) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

/// A temporary directory with `cert.pem`, `key.pem` (mode 0600) and `ca.pem`.
fn tls_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["cert.pem", "key.pem", "ca.pem"] {
        std::fs::write(dir.path().join(name), "PEM").unwrap();
    }
    std::fs::set_permissions(
        dir.path().join("key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    dir
}

#[test]
fn defaults_serve_tcp_on_loopback_with_reflection_and_nothing_else() {
    let config = load_with("", &[]).unwrap();
    assert!(config.listen_tcp);
    assert_eq!(config.unix_socket, None);
    assert_eq!(config.tls, None);
    assert_eq!(config.server.health_listen, None);
    assert!(config.server.reflection && !config.server.allow_insecure);
    assert_eq!(config.exposure(), Exposure::Protected);
}

#[test]
fn a_unix_socket_alone_replaces_tcp_unless_listen_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.sock");
    let socket = format!("[server]\nunix_socket = \"{}\"\n", path.display());
    let config = load_with(&socket, &[]).unwrap();
    assert!(!config.listen_tcp);
    assert_eq!(
        config.unix_socket,
        Some(UnixSocketConfig {
            path: path.clone(),
            mode: 0o660,
            uid: None,
            gid: None,
        })
    );
    let both = load_with(&format!("listen = \"127.0.0.1:7001\"\n{socket}"), &[]).unwrap();
    assert!(both.listen_tcp && both.unix_socket.is_some());
    let by_env = load_with(&socket, &[("IPALLOC_LISTEN", "127.0.0.1:7002")]).unwrap();
    assert!(by_env.listen_tcp);

    let owned = format!(
        "{socket}unix_socket_mode = \"0600\"\nunix_socket_uid = 1000\nunix_socket_gid = 1001\n"
    );
    let config = load_with(&owned, &[]).unwrap().unix_socket.unwrap();
    assert_eq!(
        (config.mode, config.uid, config.gid),
        (0o600, Some(1000), Some(1001))
    );
}

#[test]
fn bad_unix_socket_keys_are_named() {
    let found = problems(
        "[server]\nunix_socket_mode = \"0660\"\nunix_socket_uid = 5\n",
        &[],
    );
    assert_eq!(
        found,
        [
            "server.unix_socket_mode: is set but server.unix_socket is not",
            "server.unix_socket_uid: is set but server.unix_socket is not",
        ]
    );
    let found = problems(
        "[server]\nunix_socket = \"/nonexistent-dir/gw.sock\"\nunix_socket_mode = \"0999\"\nunix_socket_gid = 4294967295\n",
        &[],
    );
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("server.unix_socket: is in a directory that does not exist"));
    assert!(found[1].starts_with("server.unix_socket_mode: is not an octal mode"));
    assert!(found[2].starts_with("server.unix_socket_gid: is not a user or group id"));
    let long = format!("[server]\nunix_socket = \"/tmp/{}\"\n", "s".repeat(120));
    assert!(problems(&long, &[])[0].contains("longer than 107 bytes"));
    for (text, mode) in [("660", 0o660), ("0o700", 0o700), ("0777", 0o777)] {
        assert_eq!(parse_mode(text), Some(mode), "{text}");
    }
    for text in ["", "1777", "0o", "rw-rw----", "-660", "00660"] {
        assert_eq!(parse_mode(text), None, "{text}");
    }
}

#[test]
fn the_health_port_and_reflection_are_read() {
    let config = load_with(
        "[server]\nhealth_listen = \"0.0.0.0:50052\"\nreflection = false\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        config.server.health_listen,
        Some("0.0.0.0:50052".parse().unwrap())
    );
    assert!(!config.server.reflection);
    let by_env = load_with("", &[("IPALLOC_SERVER_REFLECTION", "false")]).unwrap();
    assert!(!by_env.server.reflection);
    assert_eq!(
        problems("[server]\nhealth_listen = \"50052\"\n", &[]),
        ["server.health_listen: is not an address like 0.0.0.0:50052"]
    );
}

#[test]
fn tls_needs_both_files_and_they_must_exist() {
    let dir = tls_files();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let full = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{}\"\n",
        path("cert.pem"),
        path("key.pem"),
        path("ca.pem")
    );
    let config = load_with(&full, &[]).unwrap();
    let tls = config.tls.unwrap();
    assert_eq!(tls.client_ca_file, Some(dir.path().join("ca.pem")));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    assert_eq!(
        problems(
            &format!("[tls]\ncert_file = \"{}\"\n", path("cert.pem")),
            &[]
        ),
        [
            "tls.key_file: is required when [tls] is set (tls.cert_file and tls.key_file go together)"
        ]
    );
    assert_eq!(
        problems(
            &format!("[tls]\nclient_ca_file = \"{}\"\n", path("ca.pem")),
            &[]
        ),
        [
            "tls.client_ca_file: is set but tls.cert_file and tls.key_file are not: mTLS needs the server's certificate and key"
        ]
    );
    assert_eq!(
        problems(
            &format!(
                "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                path("missing.pem"),
                path("key.pem")
            ),
            &[]
        ),
        ["tls.cert_file: does not exist or is not a file"]
    );

    std::fs::set_permissions(
        dir.path().join("key.pem"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let warned = load_with(&full, &[]).unwrap();
    assert_eq!(warned.warnings.len(), 1);
    assert!(
        warned.warnings[0].starts_with("tls.key_file names"),
        "{:?}",
        warned.warnings
    );
}

#[test]
fn a_non_loopback_listen_needs_tls_or_caller_authentication_or_allow_insecure() {
    let exposed = "listen = \"0.0.0.0:50051\"\n";
    let found = problems(exposed, &[]);
    assert_eq!(found, [format!("listen: {REFUSED_EXPOSURE}")]);
    assert!(found[0].contains("server.allow_insecure = true"));
    let by_env = problems("", &[("IPALLOC_LISTEN", "[::]:50051")]);
    assert!(by_env[0].ends_with("(set by IPALLOC_LISTEN)"), "{by_env:?}");

    let allowed = load_with(&format!("{exposed}[server]\nallow_insecure = true\n"), &[]).unwrap();
    assert_eq!(
        allowed.exposure(),
        Exposure::Allowed("0.0.0.0:50051".parse().unwrap())
    );

    let dir = tls_files();
    let tls = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let protected = load_with(&format!("{exposed}{tls}"), &[]).unwrap();
    assert_eq!(protected.exposure(), Exposure::Protected);

    // Loopback (v4 and v6) and a Unix socket alone are not exposed.
    for listen in ["127.0.0.1:50051", "127.9.9.9:1", "[::1]:50051"] {
        let config = load_with(&format!("listen = \"{listen}\"\n"), &[]).unwrap();
        assert_eq!(config.exposure(), Exposure::Protected, "{listen}");
    }
    let mut config = load_with("", &[]).unwrap();
    config.listen = "0.0.0.0:50051".parse().unwrap();
    config.listen_tcp = false;
    assert_eq!(config.exposure(), Exposure::Protected);
    config.listen_tcp = true;
    assert_eq!(config.exposure(), Exposure::Refused);
    config.caller_authentication = true;
    assert_eq!(config.exposure(), Exposure::Protected);
}
