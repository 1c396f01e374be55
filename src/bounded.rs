//! Bounded text for answers and logs. A caller controls the size of what it
//! sends; nothing it sends may make an answer (or a log line) grow with it.
//! These helpers cut text on a character boundary with a visible marker,
//! quote a caller's value in a short escaped form, and measure a message the
//! way it travels in `grpc-message` (percent-encoded, as tonic writes it).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Marker appended where text was cut.
pub const CUT_MARKER: &str = "...";

/// Most bytes of a caller's value quoted in an error, in its escaped form.
pub const MAX_ECHO_BYTES: usize = 48;

/// At most `max_bytes` bytes of `text` (marker included), cut on a character
/// boundary and marked with [`CUT_MARKER`] when cut.
pub fn truncate(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let end = floor_char_boundary(text, max_bytes.saturating_sub(CUT_MARKER.len()));
    Cow::Owned(format!("{}{CUT_MARKER}", &text[..end]))
}

/// [`truncate`] for an owned string, reusing it when it already fits.
pub fn truncate_owned(mut text: String, max_bytes: usize) -> String {
    if text.len() > max_bytes {
        let end = floor_char_boundary(&text, max_bytes.saturating_sub(CUT_MARKER.len()));
        text.truncate(end);
        text.push_str(CUT_MARKER);
    }
    text
}

/// The largest char boundary at or below `index`.
pub fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    let mut end = index;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// A caller's value quoted for an error message: Debug-escaped (so control
/// characters and quotes cannot forge text), at most [`MAX_ECHO_BYTES`] of
/// it, and when cut, its full length: `"abc..." (123456 bytes)`. Costs
/// O(MAX_ECHO_BYTES) whatever the value's size.
pub fn echo(value: &str) -> String {
    let mut out = String::with_capacity(MAX_ECHO_BYTES + 24);
    out.push('"');
    let mut cut = false;
    for c in value.chars() {
        let escaped = c.escape_debug();
        if out.len() - 1 + escaped.len() > MAX_ECHO_BYTES {
            cut = true;
            break;
        }
        out.extend(escaped);
    }
    if cut {
        out.push_str(CUT_MARKER);
        out.push('"');
        let _ = write!(out, " ({} bytes)", value.len());
    } else {
        out.push('"');
    }
    out
}

/// Bytes `byte` takes in `grpc-message`: tonic percent-encodes controls,
/// non-ASCII bytes and ` "#%<>`?{}`.
fn wire_cost(byte: u8) -> usize {
    match byte {
        0x00..=0x1f | 0x7f..=0xff => 3,
        b' ' | b'"' | b'#' | b'%' | b'<' | b'>' | b'`' | b'?' | b'{' | b'}' => 3,
        _ => 1,
    }
}

/// Length of `text` once percent-encoded into `grpc-message`.
pub fn wire_len(text: &str) -> usize {
    text.bytes().map(wire_cost).sum()
}

/// At most `max_wire` bytes of `text` once percent-encoded (marker
/// included), cut on a character boundary.
pub fn truncate_wire(text: &str, max_wire: usize) -> Cow<'_, str> {
    let budget = max_wire.saturating_sub(CUT_MARKER.len());
    let mut used = 0;
    let mut fits_until = None;
    for (index, c) in text.char_indices() {
        let mut buf = [0u8; 4];
        let cost: usize = c.encode_utf8(&mut buf).bytes().map(wire_cost).sum();
        if used + cost > budget && fits_until.is_none() {
            fits_until = Some(index);
        }
        used += cost;
        if used > max_wire {
            let end = fits_until.unwrap_or(index);
            return Cow::Owned(format!("{}{CUT_MARKER}", &text[..end]));
        }
    }
    Cow::Borrowed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_a_char_boundary_with_a_marker() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghij", 10), "abcdefghij");
        assert_eq!(truncate("abcdefghijk", 10), "abcdefg...");
        // "é" is two bytes: never split.
        let cut = truncate("éééééé", 8);
        assert_eq!(cut, "éé...");
        assert!(cut.len() <= 8);
        assert_eq!(truncate_owned("x".repeat(100), 20).len(), 20);
        assert_eq!(truncate_owned("fits".into(), 20), "fits");
    }

    #[test]
    fn echo_is_short_escaped_and_names_the_length() {
        assert_eq!(echo("i-1"), "\"i-1\"");
        assert_eq!(echo("a\"b\u{1}"), "\"a\\\"b\\u{1}\"");
        let long = echo(&"x".repeat(100_000));
        assert!(long.len() < MAX_ECHO_BYTES + 32, "{long}");
        assert!(long.ends_with("...\" (100000 bytes)"), "{long}");
        // Escapes count against the budget.
        let controls = echo(&"\u{1}".repeat(1000));
        assert!(controls.len() < MAX_ECHO_BYTES + 32, "{controls}");
        let wide = echo(&"字".repeat(1000));
        assert!(wide.len() < MAX_ECHO_BYTES + 32, "{wide}");
    }

    #[test]
    fn wire_len_matches_tonic_percent_encoding() {
        assert_eq!(wire_len("abc"), 3);
        assert_eq!(wire_len("a b"), 5);
        assert_eq!(wire_len("é"), 6);
        assert_eq!(wire_len("\"{}\""), 12);
    }

    #[test]
    fn truncate_wire_bounds_the_encoded_length() {
        assert_eq!(truncate_wire("plain", 100), "plain");
        for text in ["x".repeat(5000), " ".repeat(5000), "字".repeat(5000)] {
            let cut = truncate_wire(&text, 1024);
            assert!(wire_len(&cut) <= 1024, "{}", wire_len(&cut));
            assert!(cut.ends_with(CUT_MARKER));
            assert!(wire_len(&cut) > 1000, "uses the budget: {}", wire_len(&cut));
        }
    }
}
