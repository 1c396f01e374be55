//! The field checks every cloud's parameter validation shares: sizes first
//! (a field over its size is reported by its length alone, never parsed),
//! the token alphabet of ids, and "empty means not given". Bad fields are
//! collected as bounded field violations (`crate::api::error`), all of them,
//! not only the first.

use crate::api::error::FieldViolations;

/// Bad fields found so far.
pub type Violations = FieldViolations;

/// True when `text` is at most `max_bytes` long; otherwise reports `field`
/// by its length alone (the value is neither parsed nor quoted).
pub fn size_ok(text: &str, max_bytes: usize, field: &str, v: &mut Violations) -> bool {
    if text.len() <= max_bytes {
        return true;
    }
    v.add(
        field,
        format!("{} bytes; at most {max_bytes} allowed", text.len()),
    );
    false
}

/// 1..=max characters of `A-Z a-z 0-9 - _ .`.
pub fn is_token(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `None` for an empty (not given) value.
pub fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}
