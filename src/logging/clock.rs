//! The timestamps of log lines and audit lines: RFC 3339 in UTC with six
//! (log) or three (audit) digits of fraction, as tracing-subscriber's
//! default timer and the audit trail's `time` format write them.
//!
//! The date and time of day change once a second, the fraction with every
//! line: each thread keeps the text of the last second it wrote
//! (`2026-12-04T02:00:19.`), so a line formats only its fraction instead of
//! the calendar (six integers through `fmt`: a fifth of an access line's
//! cost). A time the `time` crate cannot place (before 1970, after 9999)
//! is left to the original formatter.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Digits of the fraction of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    Millis,
    Micros,
}

thread_local! {
    /// The whole second last formatted on this thread, and its text up to
    /// and including the `.`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `YYYY-MM-DDTHH:MM:SS.` of `secs` since the epoch, `None` outside the
/// years 1970 to 9999.
fn second_text(secs: u64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
    if at.year() > 9999 {
        return None;
    }
    let mut text = String::with_capacity(20);
    write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
    .ok()?;
    Some(text)
}

/// Writes `at` as `YYYY-MM-DDTHH:MM:SS.fffZ` or `....ffffffZ` (the fraction
/// cut, not rounded) and answers what `out` did; `None`, having written
/// nothing, for a time outside 1970 to 9999.
pub fn write_utc(
    out: &mut dyn fmt::Write,
    at: SystemTime,
    fraction: Fraction,
) -> Option<fmt::Result> {
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    let secs = since.as_secs();
    let second = SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, second_text(secs)?);
        }
        Some(out.write_str(&cached.1))
    })?;
    let (value, width) = match fraction {
        Fraction::Millis => (since.subsec_millis(), 3usize),
        Fraction::Micros => (since.subsec_micros(), 6),
    };
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(value);
    let zeros = "000000"
        .get(..width.saturating_sub(digits.len()))
        .unwrap_or("");
    Some(second.and_then(|()| {
        out.write_str(zeros)?;
        out.write_str(digits)?;
        out.write_char('Z')
    }))
}

/// `at` as the audit trail writes it (milliseconds), empty outside 1970
/// to 9999.
pub fn utc_millis(at: SystemTime) -> String {
    let mut text = String::with_capacity(24);
    // Writing to a String cannot fail; out of range, nothing is written.
    let _ = write_utc(&mut text, at, Fraction::Millis);
    text
}

/// The log subscriber's timer: tracing-subscriber's `SystemTime` output,
/// made faster.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogTimer;

impl FormatTime for LogTimer {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match write_utc(w, SystemTime::now(), Fraction::Micros) {
            Some(written) => written,
            None => tracing_subscriber::fmt::time::SystemTime.format_time(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// What the formatters this replaces write for `at`: tracing-subscriber's
    /// (`{year:04}-...T...{micros:06}Z`) and the audit trail's `time` format.
    fn reference(at: SystemTime, fraction: Fraction) -> String {
        let t = time::OffsetDateTime::from(at);
        match fraction {
            Fraction::Micros => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            ),
            Fraction::Millis => t
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
                ))
                .unwrap(),
        }
    }

    #[test]
    fn every_kind_of_second_and_fraction_is_written_as_before() {
        let mut seconds = vec![0u64, 1, 59, 60, 86_399, 86_400, 951_782_400, 4_102_444_799];
        // Spread over the years (leap days, month ends), and the seconds
        // around now.
        seconds.extend((0..2_000u64).map(|i| i * 126_227_731 % 253_402_300_799));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        seconds.extend(now - 3..now + 3);
        for secs in seconds {
            for nanos in [
                0u32,
                1,
                999,
                1_000,
                999_999,
                1_000_000,
                123_456_789,
                999_999_999,
            ] {
                let at = UNIX_EPOCH + Duration::new(secs, nanos);
                for fraction in [Fraction::Millis, Fraction::Micros] {
                    let mut text = String::new();
                    assert_eq!(
                        write_utc(&mut text, at, fraction),
                        Some(Ok(())),
                        "{secs}.{nanos}"
                    );
                    assert_eq!(text, reference(at, fraction), "{secs}.{nanos} {fraction:?}");
                }
            }
        }
    }

    #[test]
    fn the_same_second_on_another_thread_or_after_another_is_still_right() {
        let a = UNIX_EPOCH + Duration::new(1_700_000_000, 5_000_000);
        let b = UNIX_EPOCH + Duration::new(1_700_000_001, 0);
        for at in [a, b, a, a, b] {
            assert_eq!(utc_millis(at), reference(at, Fraction::Millis));
        }
        let other = std::thread::spawn(move || utc_millis(b)).join().unwrap();
        assert_eq!(other, "2023-11-14T22:13:21.000Z");
    }

    #[test]
    fn a_time_it_cannot_place_is_left_to_the_original() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        let mut text = String::new();
        assert_eq!(write_utc(&mut text, before, Fraction::Micros), None);
        assert!(text.is_empty());
        assert_eq!(utc_millis(before), "");
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(write_utc(&mut text, far, Fraction::Millis), None);
        assert!(text.is_empty());
    }
}
