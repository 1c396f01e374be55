//! The text log's field formatter: the same output as tracing-subscriber's
//! `DefaultFields`, written with less work per field.
//!
//! Without colours, `DefaultFields` still runs every field's name and its
//! `=` through `nu_ansi_term`'s painting (a style that adds nothing), which
//! was about half of what the access line's fields cost (a profile of
//! GetAllocation: ~900 instructions a field). [`PlainFields`] writes
//! `name=value` directly. Everything else it leaves to `DefaultVisitor`
//! itself, so it cannot drift: the message (escaped), errors (with their
//! sources), `r#` names, the `log.` fields of events from the `log` crate,
//! and every field when the writer has colours. `tests` checks the output
//! against `DefaultFields` for each kind of field.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// [`FormatFields`] for the text log (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            let mut visitor = DefaultVisitor::new(writer, true);
            fields.record(&mut visitor);
            return visitor.finish();
        }
        let mut visitor = PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'a> {
    writer: Writer<'a>,
    /// No field written yet (the next one needs no separating space).
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Whether `DefaultVisitor` must write this field (see the module doc).
    fn is_special(name: &str) -> bool {
        name == "message" || name.starts_with("r#") || name.starts_with("log.")
    }

    /// Lets `DefaultVisitor` write one field, keeping the separators right.
    fn delegate(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        // A `log.` field is skipped, so it leaves the line as it was.
        if !field.name().starts_with("log.") {
            self.is_empty = false;
        }
    }

    /// `name=` after the separator.
    fn name(&mut self, name: &str) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
        } else {
            self.writer.write_char(' ')?;
        }
        self.writer.write_str(name)?;
        self.writer.write_char('=')
    }
}

impl Visit for PlainVisitor<'_> {
    /// As `DefaultVisitor` does: a string is its `Debug` (quoted), except
    /// the message, written as it is.
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if self.result.is_ok() {
                self.delegate(field, |v| v.record_str(field, value));
            }
            return;
        }
        self.record_debug(field, &value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_err() {
            return;
        }
        self.delegate(field, |v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if Self::is_special(field.name()) {
            return self.delegate(field, |v| v.record_debug(field, value));
        }
        self.result = self
            .name(field.name())
            .and_then(|()| write!(self.writer, "{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::fmt::format::DefaultFields;

    use crate::logging::captured::Captured;

    use super::*;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("inner \u{1b}[31mcause")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::error::Error for Inner {}

    /// Every kind of field, in events and in spans.
    fn emit() {
        let span = tracing::info_span!("rpc", method = "/a/B", r#type = 3, shown = %"x y");
        let _entered = span.enter();
        span.record("shown", tracing::field::display("recorded later"));
        tracing::info!(
            target: "ipalloc_gateway::access",
            method = %"/ipalloc.v1.IpAllocation/AllocateIp",
            code = %"OK",
            reason = %"",
            latency_ms = 0.512_f64,
            peer = %"127.0.0.1:5150",
            replay = false,
            eips = %"eip-1=1.2.3.4,eip-2=",
            "rpc"
        );
        tracing::warn!(
            quoted = "a \"b\"\n\tc",
            number = -7_i64,
            unsigned = 7_u64,
            debug = ?vec!["x", "y"],
            r#type = "raw name",
            "a message with \u{1b}[2J escapes \u{85} and {} arguments",
            2
        );
        let error = Outer(Inner);
        let alone = std::io::Error::other("no source");
        tracing::error!(
            error = &error as &(dyn std::error::Error + 'static),
            alone = &alone as &(dyn std::error::Error + 'static),
            "failed"
        );
        tracing::info!(only = 1);
        tracing::info!("");
    }

    fn render<N>(fields: N, ansi: bool) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(ansi)
            .without_time()
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.bytes();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_output_is_default_fields_own_without_colours_and_with_them() {
        for ansi in [false, true] {
            let default = render(DefaultFields::new(), ansi);
            let plain = render(PlainFields, ansi);
            assert_eq!(plain, default, "ansi {ansi}");
            assert_eq!(plain.lines().count(), 5, "{plain}");
        }
        let plain = render(PlainFields, false);
        // What the output is, not only that both agree.
        assert!(
            plain.contains("rpc{method=\"/a/B\" type=3 shown=x y shown=recorded later}"),
            "{plain}"
        );
        assert!(
            plain.contains(
                "ipalloc_gateway::access: rpc method=/ipalloc.v1.IpAllocation/AllocateIp \
                 code=OK reason= latency_ms=0.512 peer=127.0.0.1:5150 replay=false \
                 eips=eip-1=1.2.3.4,eip-2="
            ),
            "{plain}"
        );
        assert!(
            plain.contains("quoted=\"a \\\"b\\\"\\n\\tc\" number=-7"),
            "{plain}"
        );
        assert!(
            plain.contains("\\x1b[2J escapes \\u{85} and 2 arguments"),
            "{plain}"
        );
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(plain.contains("error.sources="), "{plain}");
    }
}
