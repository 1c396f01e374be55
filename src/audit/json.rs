//! An audit line as JSON, written straight into one buffer.
//!
//! The same bytes as `serde_json::to_vec` of the entry (its derived
//! `Serialize`: fields in declaration order, the parameters as an object in
//! key order), checked by `tests` against it. Why not serde_json itself: it
//! escapes a string a byte at a time through a table and grows its buffer
//! from 128 bytes, and a line has about forty strings (a callgrind count of
//! a new-key AllocateIp: ~6,600 instructions a line in `serialize_str`).
//! Here a string that needs no escape (nearly all: [`super::field`] has
//! already replaced control characters) is copied whole, and the buffer is
//! sized once.

use super::record::{AllocationEntry, EipEntry};

/// Room for a line without EIPs; each EIP adds about 80 bytes.
const LINE_BYTES: usize = 640;

/// `entry` as one JSON object followed by `\n`.
pub(super) fn line(entry: &AllocationEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(LINE_BYTES + 80 * entry.eips.len());
    let mut object = Object::start(&mut out);
    object.str("time", &entry.time);
    object.str("action", entry.action);
    object.str("caller", &entry.caller);
    object.str("caller_via", entry.caller_via);
    object.str("peer", &entry.peer);
    object.str("provider", &entry.provider);
    object.str("provider_kind", entry.provider_kind);
    object.name("params");
    let mut params = Object::start(object.out);
    for (name, value) in &entry.params {
        params.str(name, value);
    }
    params.end();
    object.name("addresses");
    object
        .out
        .extend_from_slice(itoa::Buffer::new().format(entry.addresses).as_bytes());
    object.str("idempotency_key", &entry.idempotency_key);
    object.name("replay");
    object
        .out
        .extend_from_slice(if entry.replay { b"true" } else { b"false" });
    object.str("code", entry.code);
    object.str("reason", &entry.reason);
    object.name("provider_request_ids");
    array(object.out, &entry.provider_request_ids, |out, id| {
        string(out, id)
    });
    object.name("eips");
    array(object.out, &entry.eips, eip);
    object.end();
    out.push(b'\n');
    out
}

fn eip(out: &mut Vec<u8>, eip: &EipEntry) {
    let mut object = Object::start(out);
    object.str("id", &eip.id);
    object.str("address", &eip.address);
    object.str("state", eip.state);
    object.end();
}

/// `[a,b,...]`, each item written by `item`.
fn array<T>(out: &mut Vec<u8>, items: &[T], item: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, value) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, value);
    }
    out.push(b']');
}

/// An object being written: `{`, then `"name":value` pairs, then `}`.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn start(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// `"name":` after the separator; the caller writes the value. Names
    /// are the entry's field names and the canonical parameters' names,
    /// constants that need no escape: copied as they are.
    fn name(&mut self, name: &'static str) {
        debug_assert!(!any_escape(name.as_bytes()), "{name}");
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, name: &'static str, value: &str) {
        self.name(name);
        string(self.out, value);
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// Whether a byte must be escaped in a JSON string (as serde_json escapes:
/// quote, backslash and the control characters below 0x20; DEL and
/// non-ASCII are written as they are).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `bytes` needs an escape: 16 bytes at a time, the
/// last block padded, with no early exit inside a block, which the compiler
/// turns into vector compares (a byte-at-a-time `any` cost about 2.5 times
/// the instructions on the audit line's strings).
fn any_escape(bytes: &[u8]) -> bool {
    let block = |block: &[u8; 16]| block.iter().fold(false, |any, &b| any | needs_escape(b));
    let (blocks, rest) = bytes.as_chunks::<16>();
    if blocks.iter().any(block) {
        return true;
    }
    let mut last = [b'a'; 16];
    last[..rest.len()].copy_from_slice(rest);
    block(&last)
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    if !any_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            other => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(other >> 4)]);
                out.push(HEX[usize::from(other & 0xf)]);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn serde_line(entry: &AllocationEntry) -> Vec<u8> {
        let mut line = serde_json::to_vec(entry).unwrap();
        line.push(b'\n');
        line
    }

    fn assert_same(entry: &AllocationEntry) {
        let ours = line(entry);
        let theirs = serde_line(entry);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn an_empty_entry_is_serde_json_s_line() {
        assert_same(&AllocationEntry::default());
    }

    #[test]
    fn a_full_entry_is_serde_json_s_line() {
        let mut params = BTreeMap::new();
        params.insert("zone_id", "asia-east-1a".to_owned());
        params.insert("amount", "3".to_owned());
        params.insert("name", "web \"front\" \\ tier".to_owned());
        let entry = AllocationEntry {
            time: "2026-12-04T19:40:00.123Z".to_owned(),
            action: "allocate",
            caller: "billing".to_owned(),
            caller_via: "token",
            peer: "127.0.0.1:51234".to_owned(),
            provider: "zenlayer".to_owned(),
            provider_kind: "zenlayer",
            params,
            addresses: u64::MAX,
            idempotency_key: "gw-0b8e2f6a".to_owned(),
            replay: true,
            code: "OK",
            reason: String::new(),
            provider_request_ids: vec!["req-1".to_owned(), "req-2".to_owned()],
            eips: vec![
                EipEntry {
                    id: "eip-1".to_owned(),
                    address: "203.0.113.7".to_owned(),
                    state: "READY",
                },
                EipEntry {
                    id: "eip-2".to_owned(),
                    address: String::new(),
                    state: "PENDING",
                },
            ],
        };
        assert_same(&entry);
    }

    #[test]
    fn every_byte_that_needs_an_escape_is_escaped_as_serde_json_does() {
        // Every control character, quote, backslash, DEL and non-ASCII
        // text, alone and between plain text, in every string field.
        let mut text = String::new();
        for c in (0u8..0x20).map(char::from).chain(['"', '\\', '\u{7f}']) {
            text.push(c);
            text.push('a');
        }
        text.push_str("ü 雪 🚀");
        // An escape in the first, a later and the last (partial) block of 16.
        let later: Vec<String> = [0, 15, 16, 17, 31, 32, 40]
            .iter()
            .flat_map(|&at| {
                ["\"", "\\", "\n", "\u{1f}"]
                    .map(|c| format!("{}{c}{}", "a".repeat(at), "b".repeat(at % 7)))
            })
            .collect();
        let values = [text.as_str(), "\n", "\"", "a\\", "\u{1}x", "plain", ""]
            .into_iter()
            .chain(later.iter().map(String::as_str));
        for value in values {
            let mut params = BTreeMap::new();
            params.insert("name", value.to_owned());
            let entry = AllocationEntry {
                time: value.to_owned(),
                caller: value.to_owned(),
                peer: value.to_owned(),
                provider: value.to_owned(),
                params,
                idempotency_key: value.to_owned(),
                reason: value.to_owned(),
                provider_request_ids: vec![value.to_owned()],
                eips: vec![EipEntry {
                    id: value.to_owned(),
                    address: value.to_owned(),
                    state: "FAILED",
                }],
                ..AllocationEntry::default()
            };
            assert_same(&entry);
        }
    }

    #[test]
    fn the_line_is_sized_once_for_a_usual_entry() {
        let entry = AllocationEntry {
            time: "2026-12-04T19:40:00.123Z".to_owned(),
            idempotency_key: "gw-".to_owned() + &"0".repeat(32),
            eips: vec![EipEntry::default(); 3],
            ..AllocationEntry::default()
        };
        let out = line(&entry);
        assert!(out.len() <= LINE_BYTES + 80 * 3, "{}", out.len());
        assert_eq!(out.capacity(), LINE_BYTES + 80 * 3);
    }
}
