//! Redaction and bounds for text relayed from a provider (or a proxy in
//! front of it) before it enters a [`ProviderError`](super::ProviderError),
//! so it can reach neither a caller's status nor a log.
//!
//! A provider that echoes the request (Alibaba's "string to sign", a proxy's
//! error page quoting the URL or the headers) hands back the signed
//! credentials: the STS `SecurityToken`, the `Signature`, the `AccessKeyId`,
//! `x-acs-security-token`, `Authorization` (Alibaba V3 `ACS3-HMAC-SHA256
//! Credential=...,Signature=...`, Zenlayer `ZC2-HMAC-SHA256 Credential=...,
//! Signature=...`). Every value of a credential-bearing name is replaced by
//! `[redacted]`, whatever its spelling (`SecurityToken`, `security_token`,
//! `x-acs-security-token`, any case) and whatever its form:
//!
//! - query strings, plain and percent-encoded once, twice or more
//!   (`SecurityToken=v`, `SecurityToken%3Dv%26`, `SecurityToken%253Dv%2526`);
//! - JSON (`"SecurityToken":"v"`, also escaped inside a JSON string,
//!   `\"SecurityToken\":\"v\"`, and `\u0026`-style escapes);
//! - XML (`<SecurityToken>v</SecurityToken>`, entities);
//! - header dumps (`x-acs-security-token: v`, `Authorization: ...` to the end
//!   of the line).
//!
//! Everything after Alibaba's "string to sign is:" is cut. The result is one
//! line (control characters become spaces) of bounded length.

use std::borrow::Cow;

/// Longest provider message relayed, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 512;
/// Longest provider error code relayed, in bytes.
pub const MAX_CODE_BYTES: usize = 128;
/// Longest provider request id relayed, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;
/// Longest body snippet relayed, in bytes.
pub const MAX_SNIPPET_BYTES: usize = 200;
/// How much of a text is scanned (then cut to its bound): enough that a
/// value starting inside the bound is seen whole.
const SCAN_BYTES: usize = 16 * 1024;

/// What replaces a credential's value.
pub const REDACTED: &str = "[redacted]";

/// Names whose values are credentials, lowercase, without `-` and `_`
/// (which are ignored when matching).
const CREDENTIAL_NAMES: &[&str] = &[
    "securitytoken",
    "accesskeyid",
    "accesskeysecret",
    "accesskeypassword",
    "signature",
    "authorization",
    "credential",
    "sessiontoken",
    "token",
    "password",
    "secret",
];

/// Names whose value runs to the end of the line (it contains spaces and
/// commas: `ACS3-HMAC-SHA256 Credential=...,Signature=...`).
const LINE_NAMES: &[&str] = &["authorization"];

/// Alibaba's echo of its string-to-sign, which carries every signed
/// parameter: everything after it is cut.
const STRING_TO_SIGN: &str = "string to sign is:";

/// Provider text as it may be relayed: redacted, one line, at most
/// `max_bytes` (cut on a character boundary, marked `...`).
pub fn relayed(text: &str, max_bytes: usize) -> String {
    let scanned = &text[..crate::bounded::floor_char_boundary(text, SCAN_BYTES)];
    let redacted = redact(scanned.trim());
    let one_line: String = redacted
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::bounded::truncate_owned(one_line, max_bytes)
}

/// [`relayed`] for an optional value (a request id, a code), `None` when
/// blank.
pub fn relayed_opt(text: Option<&str>, max_bytes: usize) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| relayed(t, max_bytes))
}

/// A response body for an error message: lossy UTF-8, redacted, bounded;
/// `"empty body"` when there is nothing to show.
pub fn body_snippet(body: &[u8]) -> String {
    let head = &body[..body.len().min(SCAN_BYTES)];
    let text = String::from_utf8_lossy(head);
    if text.trim().is_empty() {
        return "empty body".to_owned();
    }
    relayed(&text, MAX_SNIPPET_BYTES)
}

/// One logical character of the text and the bytes it spans: `%3D`,
/// `%253D`, `\u003d`, `\"`, `&quot;` and `&#61;` are one character each.
#[derive(Clone, Copy)]
struct Unit {
    c: char,
    start: usize,
    end: usize,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits `text` into logical characters, undoing percent-encoding (nested
/// any number of times), JSON escapes and XML entities.
fn units(text: &str) -> Vec<Unit> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let (c, len) = match bytes[i] {
            b'%' => percent_unit(&bytes[i..]),
            b'\\' => json_escape_unit(&bytes[i..]),
            b'&' => entity_unit(&bytes[i..]),
            _ => {
                let c = text[i..].chars().next().unwrap_or('\u{fffd}');
                (c, c.len_utf8())
            }
        };
        out.push(Unit {
            c,
            start: i,
            end: i + len,
        });
        i += len;
    }
    out
}

/// `%HH`, `%25HH`, `%2525HH`, ... as the character `HH`; a lone `%` as
/// itself.
fn percent_unit(bytes: &[u8]) -> (char, usize) {
    let mut at = 1;
    loop {
        match (
            bytes.get(at).copied().and_then(hex),
            bytes.get(at + 1).copied().and_then(hex),
        ) {
            (Some(h), Some(l)) => {
                let value = h * 16 + l;
                // `%25` followed by two more hex digits is one more level.
                if value == 0x25
                    && bytes.get(at + 2).copied().and_then(hex).is_some()
                    && bytes.get(at + 3).copied().and_then(hex).is_some()
                {
                    at += 2;
                    continue;
                }
                let c = if value.is_ascii() {
                    value as char
                } else {
                    '\u{fffd}'
                };
                return (c, at + 2);
            }
            _ => return ('%', 1),
        }
    }
}

/// `\"`, `\\`, `\/` and `\uXXXX` (ASCII only) as their character; a lone
/// backslash as itself.
fn json_escape_unit(bytes: &[u8]) -> (char, usize) {
    match bytes.get(1) {
        Some(b'"') => ('"', 2),
        Some(b'/') => ('/', 2),
        Some(b'u') => {
            let digits = bytes
                .get(2..6)
                .filter(|d| d.iter().all(|b| hex(*b).is_some()));
            match digits {
                Some(d) => {
                    let value = d
                        .iter()
                        .fold(0u32, |n, b| n * 16 + u32::from(hex(*b).unwrap_or(0)));
                    (
                        char::from_u32(value)
                            .filter(char::is_ascii)
                            .unwrap_or('\u{fffd}'),
                        6,
                    )
                }
                None => ('\\', 1),
            }
        }
        _ => ('\\', 1),
    }
}

/// `&quot;`, `&apos;`, `&amp;`, `&lt;`, `&gt;` and `&#NN;` as their
/// character; any other `&` as itself.
fn entity_unit(bytes: &[u8]) -> (char, usize) {
    const NAMED: &[(&[u8], char)] = &[
        (b"&quot;", '"'),
        (b"&apos;", '\''),
        (b"&amp;", '&'),
        (b"&lt;", '<'),
        (b"&gt;", '>'),
    ];
    for (entity, c) in NAMED {
        if bytes.starts_with(entity) {
            return (*c, entity.len());
        }
    }
    if bytes.get(1) == Some(&b'#') {
        let digits = bytes[2..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 && bytes.get(2 + digits) == Some(&b';') {
            let value = bytes[2..2 + digits]
                .iter()
                .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
            if let Some(c) = char::from_u32(value).filter(char::is_ascii) {
                return (c, 3 + digits);
            }
        }
    }
    ('&', 1)
}

/// `text` with every credential value replaced by [`REDACTED`], and
/// everything after "string to sign is:" cut.
pub fn redact(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    // ASCII lowercasing keeps byte offsets, so the cut is a char boundary.
    let (text, cut) = match lower.find(STRING_TO_SIGN) {
        Some(at) => (&text[..at + STRING_TO_SIGN.len()], true),
        None => (text, false),
    };
    let units = units(text);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < units.len() {
        match credential_at(&units, i) {
            Some((value_start, value_end)) => {
                ranges.push((units[value_start].start, units[value_end - 1].end));
                i = value_end;
            }
            None => i += 1,
        }
    }
    if ranges.is_empty() && !cut {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    for (start, end) in ranges {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    if cut {
        out.push(' ');
        out.push_str(REDACTED);
    }
    Cow::Owned(out)
}

/// When a credential name starts at unit `i` and is followed by a
/// separator and a value, the units `[start, end)` of the value.
fn credential_at(units: &[Unit], i: usize) -> Option<(usize, usize)> {
    let first = units[i].c;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let before = i.checked_sub(1).map(|b| units[b].c);
    if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    for name in CREDENTIAL_NAMES {
        let Some(after_name) = match_name(units, i, name) else {
            continue;
        };
        if units
            .get(after_name)
            .is_some_and(|u| u.c.is_ascii_alphanumeric())
        {
            continue;
        }
        let Some(value_start) = separator(units, after_name, before == Some('<')) else {
            continue;
        };
        let line = LINE_NAMES.contains(name);
        let mut end = value_start;
        while end < units.len() && !ends_value(units[end].c, line) {
            end += 1;
        }
        if end > value_start {
            return Some((value_start, end));
        }
    }
    None
}

/// The unit after `name` when it matches at `i` (any case; `-` and `_`
/// between its letters are skipped).
fn match_name(units: &[Unit], mut i: usize, name: &str) -> Option<usize> {
    let mut first = true;
    for expected in name.chars() {
        if !first {
            while units.get(i).is_some_and(|u| matches!(u.c, '-' | '_')) {
                i += 1;
            }
        }
        first = false;
        if !units.get(i)?.c.eq_ignore_ascii_case(&expected) {
            return None;
        }
        i += 1;
    }
    Some(i)
}

/// After a name: `=` or `:` (with quotes, backslashes and blanks around
/// them, as in JSON keys), `,` between a quoted name and its value (JSON
/// arrays of pairs), or `>` after an XML open tag. Returns the first unit of
/// the value.
fn separator(units: &[Unit], mut i: usize, xml_open: bool) -> Option<usize> {
    let at = |i: usize| units.get(i).map(|u| u.c);
    if xml_open {
        return (at(i) == Some('>')).then_some(i + 1);
    }
    let name_end = i;
    while matches!(at(i), Some('"' | '\'' | '\\')) {
        i += 1;
    }
    let quoted = i > name_end;
    while matches!(at(i), Some(' ' | '\t')) {
        i += 1;
    }
    match at(i) {
        Some('=' | ':') => {}
        // A quoted name and value side by side: `["SecurityToken", "v"]`,
        // `('SecurityToken', 'v')`.
        Some(',') if quoted => {}
        _ => return None,
    }
    i += 1;
    while matches!(at(i), Some(' ' | '\t')) {
        i += 1;
    }
    while matches!(at(i), Some('"' | '\'' | '\\')) {
        i += 1;
    }
    Some(i)
}

/// Where a value ends: a query separator, a quote, markup, a delimiter, a
/// blank; for a header line (`Authorization`) only the line's end, a quote
/// or markup.
fn ends_value(c: char, line: bool) -> bool {
    if line {
        return matches!(c, '\r' | '\n' | '"' | '\'' | '<' | '&' | '\\' | '}');
    }
    c.is_whitespace()
        || matches!(
            c,
            '&' | '"' | '\'' | '<' | '>' | ',' | ';' | '\\' | '}' | ']' | ')'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "CAIS+test/sts-token==";
    const SIGNATURE: &str = "Zm9vYmFyc2lnbmF0dXJl";
    const AK: &str = "STS.NUexampleTempAk0002";

    fn pct(text: &str) -> String {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    /// Every form a secret can take in the text.
    fn forms(secret: &str) -> Vec<String> {
        vec![
            secret.to_owned(),
            pct(secret),
            pct(&pct(secret)),
            pct(&pct(&pct(secret))),
        ]
    }

    fn assert_clean(redacted: &str, input: &str) {
        for secret in [TOKEN, SIGNATURE, AK] {
            for form in forms(secret) {
                assert!(
                    !redacted.contains(&form),
                    "{form:?} survived in {redacted:?} (from {input:?})"
                );
            }
        }
        assert!(redacted.contains(REDACTED), "{redacted:?} (from {input:?})");
    }

    #[test]
    fn query_strings_in_every_encoding() {
        let query = format!(
            "AccessKeyId={AK}&Action=AllocatePublicIpAddress&SecurityToken={}&Signature={}&SignatureMethod=HMAC-SHA1",
            pct(TOKEN),
            pct(SIGNATURE)
        );
        let plain_token =
            format!("SecurityToken={TOKEN}&Signature={SIGNATURE}&AccessKeyId={AK}&Action=x");
        for input in [
            query.clone(),
            plain_token.clone(),
            format!("GET /?{query} HTTP/1.1"),
            format!("POST&%2F&{}", pct(&query)),
            format!("POST%26%252F%26{}", pct(&pct(&query))),
            format!("url={}", pct(&pct(&pct(&query)))),
        ] {
            let redacted = redact(&input);
            assert_clean(&redacted, &input);
            assert!(
                redacted.contains("Action"),
                "other parameters stay: {redacted}"
            );
        }
    }

    #[test]
    fn json_xml_and_header_dumps() {
        let inputs = [
            format!(
                r#"{{"SecurityToken":"{TOKEN}","Signature": "{SIGNATURE}","AccessKeyId" : "{AK}"}}"#
            ),
            format!(
                r#"{{\"SecurityToken\":\"{TOKEN}\",\"Signature\":\"{SIGNATURE}\",\"AccessKeyId\":\"{AK}\"}}"#
            ),
            format!(
                r#"{{"x-acs-security-token":"{TOKEN}","authorization":"ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host,Signature={SIGNATURE}"}}"#
            ),
            format!(
                "{{\"q\":\"SecurityToken=\\u003d{TOKEN}\\u0026Signature={SIGNATURE}\\u0026AccessKeyId={AK}\"}}"
            ),
            format!(
                "<Error><SecurityToken>{TOKEN}</SecurityToken><Signature>{SIGNATURE}</Signature><AccessKeyId>{AK}</AccessKeyId></Error>"
            ),
            format!(
                "<Msg>SecurityToken={TOKEN}&amp;Signature={SIGNATURE}&amp;AccessKeyId={AK}</Msg>"
            ),
            format!(
                "<Msg>SecurityToken&#61;{TOKEN}&amp;Signature&#61;{SIGNATURE}&amp;AccessKeyId&#61;{AK}</Msg>"
            ),
            format!(
                "POST / HTTP/1.1\r\nHost: ecs.aliyuncs.com\r\nx-acs-security-token: {TOKEN}\r\nAuthorization: ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host;x-acs-date,Signature={SIGNATURE}\r\n"
            ),
            format!(
                "X-ZC-Action: AllocateEipAddresses\nAuthorization: ZC2-HMAC-SHA256 Credential={AK}, SignedHeaders=content-type;host, Signature={SIGNATURE}\nX-ZC-Security-Token: {TOKEN}"
            ),
            format!("authorization=Bearer {TOKEN} Credential={AK} signature={SIGNATURE}"),
            format!(
                "SECURITY_TOKEN={TOKEN}; security-token: {TOKEN}; Signature={SIGNATURE}; access_key_id={AK}"
            ),
            format!(
                r#"[["x-acs-security-token","{TOKEN}"],["x-acs-accesskey-id", "{AK}"],["authorization","ACS3-HMAC-SHA256 Credential={AK},Signature={SIGNATURE}"]]"#
            ),
            format!(
                "[('SecurityToken', '{TOKEN}'), ('Signature', '{SIGNATURE}'), ('AccessKeyId', '{AK}')]"
            ),
        ];
        for input in inputs {
            assert_clean(&redact(&input), &input);
        }
    }

    #[test]
    fn string_to_sign_is_cut() {
        let input = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.x";
        assert_eq!(
            redact(input),
            "Specified signature is not matched with our calculation. server string to sign is: [redacted]"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "The specified InstanceId does not exist.",
            "SignatureDoesNotMatch: Specified signature is not matched",
            "SignatureMethod=HMAC-SHA1&SignatureNonce=abc&SignatureVersion=1.0",
            "x-acs-signature-nonce: 123",
            "NextToken=abc",
            "100% done &amp more \\ backslash %zz",
            "",
            "字符 é",
        ] {
            assert_eq!(redact(text), text, "{text}");
        }
    }

    #[test]
    fn relayed_is_redacted_one_line_and_bounded() {
        let long = format!("{}\nSecurityToken={TOKEN}", "x".repeat(100));
        let out = relayed(&long, 1000);
        assert!(!out.contains(TOKEN) && !out.contains('\n'), "{out}");
        // A value that straddles the bound is redacted before the cut.
        let straddle = format!(
            "{}SecurityToken={TOKEN}",
            "y".repeat(MAX_MESSAGE_BYTES - 20)
        );
        let out = relayed(&straddle, MAX_MESSAGE_BYTES);
        assert!(out.len() <= MAX_MESSAGE_BYTES);
        assert!(!out.contains("CAIS"), "{out}");
        let huge = "é".repeat(1 << 20);
        assert!(relayed(&huge, 100).len() <= 100);
        assert_eq!(relayed_opt(Some("  "), 10), None);
        assert_eq!(relayed_opt(Some(" R-1 "), 10).as_deref(), Some("R-1"));
        assert_eq!(body_snippet(b"  "), "empty body");
        assert!(body_snippet(&[0xff; 100_000]).len() <= MAX_SNIPPET_BYTES);
    }

    #[test]
    fn malformed_escapes_never_panic() {
        for text in [
            "%",
            "%2",
            "%25",
            "%252",
            "\\",
            "\\u12",
            "&",
            "&#",
            "&#12345678;",
            "&#65",
            "%E8%BF",
            "a\u{0}b",
        ] {
            let _ = relayed(text, 10);
        }
    }
}
