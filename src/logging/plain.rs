//! The access line in the plain text log, written without tracing's
//! formatting machinery: the same bytes as the subscriber [`super::init`]
//! installs would write for the access event, made from the line's fields
//! directly.
//!
//! Why: the access line is the one event every call logs, and through the
//! subscriber it was about 2.5 % of a call's CPU in a profile of AllocateIp
//! (3.7 % of GetAllocation): each field recorded through a `Visit` as a
//! `dyn Debug`, formatted through `core::fmt`, into a per-thread buffer
//! then copied to the writer. Here the line is put together in one buffer
//! and handed to the same batched stderr ([`super::stderr::write_line`]),
//! so its place among the other lines is kept.
//!
//! Only where it is the same line: [`super::init`] turns it on for the text
//! format without colours (JSON and coloured text stay with the
//! subscriber), a line goes this way only when the subscriber's filter
//! enables the access event's target and level (`tracing::enabled!`, the
//! same directives), and never inside a span (the subscriber would write
//! the span's name first; the access line is emitted from the response
//! body, outside the handler's spans, so this is only a safeguard). `tests`
//! checks the bytes against the subscriber's for every field kind.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Level;
use tracing_subscriber::fmt::time::FormatTime as _;

use super::clock::{self, Fraction};

/// Set by [`super::init`] when the log is text without colours.
static ON: AtomicBool = AtomicBool::new(false);

/// Room for a usual line (the fields are bounded; a long one grows it).
const LINE_BYTES: usize = 384;

/// Writes access lines directly from now on (see the module doc).
pub(super) fn turn_on() {
    ON.store(true, Ordering::Relaxed);
}

/// The access event's fields, in the event's order (after `message`).
pub(crate) struct AccessFields<'a> {
    pub method: &'a str,
    pub code: &'a str,
    pub reason: &'a str,
    pub latency_ms: f64,
    pub peer: &'a str,
    pub caller: &'a str,
    pub provider: &'a str,
    pub idempotency_key: &'a str,
    pub replay: bool,
    pub eips: &'a str,
}

/// The access event's target and message.
pub(crate) const TARGET: &str = "ipalloc_gateway::access";
pub(crate) const MESSAGE: &str = "rpc";

/// Where an access line goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// Through the subscriber (off, or inside a span).
    Subscriber,
    /// Nowhere: the filter leaves it out.
    Filtered,
    /// Written here.
    Direct,
}

fn route(on: bool, level: Level) -> Route {
    if !on || !tracing::Span::current().is_none() {
        return Route::Subscriber;
    }
    let enabled = if level == Level::INFO {
        tracing::enabled!(target: TARGET, Level::INFO)
    } else {
        tracing::enabled!(target: TARGET, Level::DEBUG)
    };
    if enabled {
        Route::Direct
    } else {
        Route::Filtered
    }
}

/// Writes the access line at `level` directly and answers `true` (also
/// when the filter leaves it out), or answers `false`, having written
/// nothing, when it must go through the subscriber (see the module doc).
pub(crate) fn write_access(level: Level, fields: &AccessFields<'_>) -> bool {
    match route(ON.load(Ordering::Relaxed), level) {
        Route::Subscriber => false,
        Route::Filtered => true,
        Route::Direct => {
            let line = line(std::time::SystemTime::now(), level, fields);
            // As the subscriber does with a failed write: nothing to
            // report it to.
            let _ = super::stderr::write_line(line.as_bytes());
            true
        }
    }
}

/// The line the subscriber writes for the access event at `at`.
fn line(at: std::time::SystemTime, level: Level, fields: &AccessFields<'_>) -> String {
    let mut out = String::with_capacity(LINE_BYTES);
    // As `LogTimer` inside the subscriber's formatter: a time it cannot
    // place goes to tracing-subscriber's own timer, and a timer that fails
    // is `<unknown time>`.
    if clock::write_utc(&mut out, at, Fraction::Micros).is_none() {
        let mut writer = tracing_subscriber::fmt::format::Writer::new(&mut out);
        if tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut writer)
            .is_err()
        {
            out.push_str("<unknown time>");
        }
    }
    // tracing-subscriber's `FmtLevel` pads to five characters on the left.
    out.push_str(match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    });
    out.push_str(TARGET);
    out.push_str(": ");
    out.push_str(MESSAGE);
    let text = [
        ("method", fields.method),
        ("code", fields.code),
        ("reason", fields.reason),
    ];
    for (name, value) in text {
        field(&mut out, name, value);
    }
    out.push_str(" latency_ms=");
    // `Debug` of an f64, as the subscriber records it.
    let _ = write!(out, "{:?}", fields.latency_ms);
    let text = [
        ("peer", fields.peer),
        ("caller", fields.caller),
        ("provider", fields.provider),
        ("idempotency_key", fields.idempotency_key),
    ];
    for (name, value) in text {
        field(&mut out, name, value);
    }
    out.push_str(if fields.replay {
        " replay=true"
    } else {
        " replay=false"
    });
    field(&mut out, "eips", fields.eips);
    out.push('\n');
    out
}

/// ` name=value`, the value as its `Display` (a `%` field).
fn field(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

#[cfg(test)]
mod tests {
    use crate::logging::captured::Captured;

    use super::*;

    /// What the subscriber of `init` (text, no colours) writes for the
    /// access event with `fields` at `level`.
    fn subscriber_line(level: Level, fields: &AccessFields<'_>) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(captured.clone())
            .with_timer(clock::LogTimer)
            .with_ansi(false)
            .fmt_fields(super::super::fields::PlainFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            super::super::access::traced(level, fields);
        });
        let bytes = captured.bytes();
        String::from_utf8(bytes).unwrap()
    }

    /// The line without its timestamp (the text up to the first space).
    fn untimed(line: &str) -> &str {
        line.split_once(' ').map_or(line, |(_, rest)| rest)
    }

    fn fields<'a>(text: &'a str, latency_ms: f64, replay: bool) -> AccessFields<'a> {
        AccessFields {
            method: text,
            code: "OK",
            reason: text,
            latency_ms,
            peer: text,
            caller: text,
            provider: text,
            idempotency_key: text,
            replay,
            eips: text,
        }
    }

    #[test]
    fn the_line_is_the_subscriber_s_for_every_kind_of_value() {
        let texts = [
            "",
            "/ipalloc.v1.IpAllocation/AllocateIp",
            "a b=c \"q\" \\ ü 雪",
            "eip-1=128.1.32.7,eip-2=128.1.32.8",
        ];
        let latencies = [0.0, 0.001, 0.25, 4.712, 5.0, 1234.5, 86_400_000.0, 1e-3];
        for level in [Level::INFO, Level::DEBUG] {
            for text in texts {
                for latency in latencies {
                    for replay in [false, true] {
                        let fields = fields(text, latency, replay);
                        let ours = line(std::time::SystemTime::now(), level, &fields);
                        let theirs = subscriber_line(level, &fields);
                        assert_eq!(untimed(&ours), untimed(&theirs));
                    }
                }
            }
        }
    }

    #[test]
    fn the_timestamp_is_the_log_timer_s() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_764_595_620_297_599);
        let ours = line(at, Level::INFO, &fields("x", 1.0, false));
        assert!(
            ours.starts_with(
                "2025-12-01T13:27:00.297599Z  INFO ipalloc_gateway::access: rpc method=x code=OK"
            ),
            "{ours}"
        );
    }

    #[test]
    fn the_filter_decides_and_a_span_or_off_leaves_it_to_the_subscriber() {
        let with = |filter: &str, on: bool, level: Level| {
            let subscriber = tracing_subscriber::fmt().with_env_filter(filter).finish();
            tracing::subscriber::with_default(subscriber, || route(on, level))
        };
        assert_eq!(with("info", true, Level::INFO), Route::Direct);
        assert_eq!(with("info", true, Level::DEBUG), Route::Filtered);
        assert_eq!(with("debug", true, Level::DEBUG), Route::Direct);
        let off = "info,ipalloc_gateway::access=off";
        assert_eq!(with(off, true, Level::INFO), Route::Filtered);
        assert_eq!(with("warn", true, Level::INFO), Route::Filtered);
        assert_eq!(
            with("warn,ipalloc_gateway::access=debug", true, Level::DEBUG),
            Route::Direct
        );
        assert_eq!(with("info", false, Level::INFO), Route::Subscriber);
        let subscriber = tracing_subscriber::fmt().with_env_filter("trace").finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("a span");
            let _entered = span.enter();
            assert_eq!(route(true, Level::INFO), Route::Subscriber);
        });
    }
}
