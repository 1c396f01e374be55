//! RFC 3986 percent-encoding as Alibaba signs and sends it: the UTF-8 bytes
//! `A-Z a-z 0-9 - _ . ~` stay literal, every other byte becomes `%XY` with
//! uppercase hex (space is `%20`, never `+`).

/// Appends `input` percent-encoded.
pub fn percent_encode_into(out: &mut String, input: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// `input` percent-encoded (see [`percent_encode_into`]).
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2);
    percent_encode_into(&mut out, input);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_per_rfc3986() {
        let cases = [
            ("AZaz09-_.~", "AZaz09-_.~"),
            ("运维", "%E8%BF%90%E7%BB%B4"),
            (" ", "%20"),
            ("*", "%2A"),
            ("~", "~"),
            ("+", "%2B"),
            ("/", "%2F"),
            ("=", "%3D"),
            ("&", "%26"),
            (":", "%3A"),
            ("%", "%25"),
            ("(1)!'", "%281%29%21%27"),
            ("\n", "%0A"),
            ("é", "%C3%A9"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_encode(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn encoding_matches_percent_encoding_crate() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x4e2d, 0x8fd0, 0x1f600]) {
            if let Some(c) = char::from_u32(c) {
                all.push(c);
            }
        }
        assert_eq!(
            percent_encode(&all),
            utf8_percent_encode(&all, RFC3986).to_string()
        );
    }
}
