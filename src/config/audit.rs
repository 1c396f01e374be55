//! The `[audit]` table: where the audit trail goes (see `crate::audit`):
//! stderr (`path` absent or `"-"`), or a file rotated by size.

use std::path::PathBuf;

use super::problems::Collector;
use super::raw::RawAudit;
use super::values::{Table, setting};

/// Default size a file may reach before it is rotated: 100 MiB.
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Default number of rotated files kept.
pub const DEFAULT_AUDIT_KEEP: u32 = 5;

/// The checked `[audit]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The file; `None` writes to stderr.
    pub path: Option<PathBuf>,
    /// A file is rotated before a line would take it past this size.
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` newest .. `path.<keep>`).
    pub keep: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            path: None,
            max_bytes: DEFAULT_AUDIT_MAX_BYTES,
            keep: DEFAULT_AUDIT_KEEP,
        }
    }
}

/// The checked `[audit]` table (defaults for what it leaves out).
pub(super) fn audit_config(raw: &RawAudit, c: &mut Collector) -> AuditConfig {
    let mut config = AuditConfig {
        path: raw
            .path
            .as_deref()
            .filter(|p| !p.is_empty() && *p != "-")
            .map(PathBuf::from),
        ..AuditConfig::default()
    };
    let mut t = Table::new(c, "audit.");
    setting!(t, config.max_bytes = raw.max_bytes in 4096..=1 << 40);
    setting!(t, config.keep = raw.keep in 1..=1000);
    if config.path.is_none() {
        for (field, set) in [
            ("max_bytes", raw.max_bytes.is_some()),
            ("keep", raw.keep.is_some()),
        ] {
            if set {
                t.add(
                    field,
                    "is set but audit.path names no file (stderr is not rotated)",
                );
            }
        }
    }
    if let Some(path) = &config.path
        && path.is_dir()
    {
        t.add("path", "is a directory; give the path of a file in it");
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::config::load_with;

    fn load_audit(text: &str) -> Result<AuditConfig, Vec<String>> {
        load_with(text, &[])
            .map(|config| config.audit)
            .map_err(|e| e.problems().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn stderr_by_default_or_a_rotated_file() {
        for text in ["", "[audit]\npath = \"-\"\n", "[audit]\npath = \"\"\n"] {
            assert_eq!(load_audit(text).unwrap(), AuditConfig::default(), "{text}");
        }
        let file = load_audit(
            "[audit]\npath = \"/var/log/ipalloc/audit.jsonl\"\nmax_bytes = 4096\nkeep = 2\n",
        )
        .unwrap();
        assert_eq!(
            file,
            AuditConfig {
                path: Some(PathBuf::from("/var/log/ipalloc/audit.jsonl")),
                max_bytes: 4096,
                keep: 2,
            }
        );
        assert_eq!(
            load_audit("[audit]\nmax_bytes = 100\nkeep = 0\n").unwrap_err(),
            [
                "audit.max_bytes: is outside 4096..=1099511627776",
                "audit.keep: is outside 1..=1000",
                "audit.max_bytes: is set but audit.path names no file (stderr is not rotated)",
                "audit.keep: is set but audit.path names no file (stderr is not rotated)",
            ]
        );
        assert_eq!(
            load_audit("[audit]\npath = \"/\"\n").unwrap_err(),
            ["audit.path: is a directory; give the path of a file in it"]
        );
    }
}
