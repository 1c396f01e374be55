//! Logging: the tracing subscriber (text or JSON on stderr, written in
//! batches: [`stderr`]; text fields by [`fields`]; timestamps by [`clock`])
//! and the access log ([`access`]).
//!
//! ANSI colours are used only when stderr is a terminal (and `NO_COLOR` is
//! unset): a log file or a collector gets plain text. `log.level` is checked
//! strictly ([`check_level`]): tracing accepts a bare word such as `inf` as
//! the name of a target, after which nothing at all is logged.

pub mod access;
#[cfg(test)]
mod captured;
pub mod clock;
pub mod fields;
mod plain;
pub mod stderr;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// The level names a directive may set.
pub const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log.level: {0}")]
    Level(String),
    #[error("cannot install the log subscriber: {0}")]
    Install(String),
}

/// Checks a `log.level` filter: comma-separated directives, each a level
/// (`info`) or `target=level` (`ipalloc_gateway=debug`,
/// `ipalloc_gateway::access=off`). The message never repeats the value.
pub fn check_level(level: &str) -> Result<(), String> {
    let directives: Vec<&str> = level.split(',').map(str::trim).collect();
    if directives.iter().all(|d| d.is_empty()) {
        return Err("is empty; use a level such as \"info\"".to_owned());
    }
    let count = directives.len();
    for (i, directive) in directives.iter().enumerate() {
        if directive.is_empty() {
            continue;
        }
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level.trim(),
            Some(_) => {
                return Err(format!(
                    "directive {} of {count} has no target before '='",
                    i + 1
                ));
            }
            None => directive,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let hint =
                crate::config::did_you_mean(&level.to_ascii_lowercase(), LEVELS.iter().copied())
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
            return Err(format!(
                "directive {} of {count} does not set a level (one of {}, alone or as target=level){hint}",
                i + 1,
                LEVELS.join(", ")
            ));
        }
    }
    EnvFilter::try_new(level)
        .map(|_| ())
        .map_err(|_| "is not a valid tracing filter".to_owned())
}

/// True when log lines should carry ANSI colours.
fn use_colours(json: bool) -> bool {
    !json
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's log subscriber. Keep the guard until the
/// process ends: dropping it flushes the lines still queued.
pub fn init(config: &LogConfig) -> Result<stderr::StderrGuard, LogError> {
    check_level(&config.level).map_err(LogError::Level)?;
    let filter = EnvFilter::try_new(&config.level).map_err(|e| LogError::Level(e.to_string()))?;
    let ansi = use_colours(config.json);
    let (writer, guard) = stderr::install();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_timer(clock::LogTimer)
        .with_ansi(ansi);
    let installed = if config.json {
        builder.json().try_init()
    } else {
        builder.fmt_fields(fields::PlainFields).try_init()
    };
    installed.map_err(|e| LogError::Install(e.to_string()))?;
    if !config.json && !ansi {
        plain::turn_on();
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_targets_are_accepted() {
        for good in [
            "info",
            "WARN",
            "off",
            "info,ipalloc_gateway=debug",
            "ipalloc_gateway::access=off, info",
            "debug,h2=info,hyper=info",
        ] {
            assert_eq!(check_level(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn a_word_that_is_no_level_is_refused_without_echo() {
        let err = check_level("inf").unwrap_err();
        assert!(err.contains("did you mean \"info\""), "{err}");
        let err = check_level("info,ipalloc_gateway=verbose-secret").unwrap_err();
        assert!(err.contains("directive 2 of 2"), "{err}");
        assert!(!err.contains("verbose-secret"), "{err}");
        assert!(check_level("").is_err());
        assert!(check_level(" , ").is_err());
        assert!(check_level("=info").is_err());
    }
}
