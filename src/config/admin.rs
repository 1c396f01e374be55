//! The `[admin] listen` table: where the admin listener serves
//! `/metrics`, `/live` and `/ready` over HTTP (default `127.0.0.1:9464`;
//! `listen = ""` turns it off).

use std::net::SocketAddr;

use super::problems::Collector;
use super::raw::RawAdmin;

/// Default admin listen address: loopback, the port Prometheus exporters
/// of OpenTelemetry use.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    9464,
));

/// The checked `[admin]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None`: no admin listener.
    pub listen: Option<SocketAddr>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: Some(DEFAULT_ADMIN_LISTEN),
        }
    }
}

/// The checked `[admin]` table (the default for what it leaves out).
pub(super) fn admin_config(raw: &RawAdmin, c: &mut Collector) -> AdminConfig {
    let listen = match raw.listen.as_deref().map(str::trim) {
        None => Some(DEFAULT_ADMIN_LISTEN),
        Some("") => None,
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                c.add(
                    "admin.listen",
                    "is not an address like 127.0.0.1:9464 (or \"\" to turn the admin listener off)",
                );
                Some(DEFAULT_ADMIN_LISTEN)
            }
        },
    };
    AdminConfig { listen }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(listen: Option<&str>) -> (AdminConfig, Vec<String>) {
        let mut c = Collector::default();
        let raw = RawAdmin {
            listen: listen.map(str::to_owned),
        };
        let config = admin_config(&raw, &mut c);
        let problems = c
            .into_problems()
            .0
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        (config, problems)
    }

    #[test]
    fn listen_defaults_parses_and_turns_off() {
        let cases: [(Option<&str>, Option<&str>); 4] = [
            (None, Some("127.0.0.1:9464")),
            (Some("0.0.0.0:9100"), Some("0.0.0.0:9100")),
            (Some(" [::1]:0 "), Some("[::1]:0")),
            (Some(""), None),
        ];
        for (given, want) in cases {
            let (config, problems) = checked(given);
            assert!(problems.is_empty(), "{given:?}: {problems:?}");
            assert_eq!(config.listen, want.map(|w| w.parse().unwrap()), "{given:?}");
        }
    }

    /// Through the loader: the table, its environment override, the default.
    #[test]
    fn the_table_and_its_override_load() {
        let provider = "[providers.zl]\nkind = \"zenlayer\"\naccess_key_id = \"id\"\n\
                        access_key_password = \"pw\"\n";
        let load = |text: &str, env: Option<&str>| {
            let lookup = move |name: &str| {
                (name == "IPALLOC_ADMIN_LISTEN")
                    .then_some(env)
                    .flatten()
                    .map(str::to_owned)
            };
            crate::config::load(text, "test.toml", &lookup).map(|c| c.admin.listen)
        };
        let off = format!("[admin]\nlisten = \"\"\n{provider}");
        assert_eq!(load(provider, None).unwrap(), Some(DEFAULT_ADMIN_LISTEN));
        assert_eq!(load(&off, None).unwrap(), None);
        let moved = load(&off, Some("127.0.0.1:0")).unwrap();
        assert_eq!(moved, Some("127.0.0.1:0".parse().unwrap()));
        let typo = format!("[admin]\nlisten_on = \"x\"\n{provider}");
        let problem = load(&typo, None).unwrap_err().to_string();
        assert!(
            problem.contains("admin.listen_on: unknown key"),
            "{problem}"
        );
    }

    #[test]
    fn a_bad_address_is_a_problem_naming_the_key() {
        for given in ["localhost:9464", "ninety", "127.0.0.1:99999"] {
            let (_, problems) = checked(Some(given));
            assert_eq!(problems.len(), 1, "{given}");
            assert!(
                problems[0].starts_with("admin.listen: is not an address"),
                "{problems:?}"
            );
            assert!(!problems[0].contains(given), "the value is not echoed");
        }
    }
}
