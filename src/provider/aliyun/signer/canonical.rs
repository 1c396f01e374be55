//! The canonical forms Alibaba signs: the sorted, encoded query (V1 and
//! V3) and the canonical headers with their signed-header list (V3).

use super::encoding::percent_encode_into;

/// The canonical query string: parameters sorted by name (byte order,
/// case-sensitive; equal names by value), each name and value
/// percent-encoded, joined as `name=value` with `&`. An empty value gives
/// `name=`; no parameters give an empty string.
pub fn canonical_query<V: AsRef<str>>(params: &[(&str, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (*name, value.as_ref()))
        .collect();
    sorted.sort_unstable();
    let capacity = sorted.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(capacity);
    for (index, (name, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// Canonical headers and the signed-header list: names lowercased and
/// sorted, values trimmed; values of a repeated name are sorted and joined
/// with `,`. Every canonical entry ends with `\n`.
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    lowered.sort_unstable();
    let mut canonical = String::new();
    let mut signed = String::new();
    let mut index = 0;
    while index < lowered.len() {
        let name = &lowered[index].0;
        if !signed.is_empty() {
            signed.push(';');
        }
        signed.push_str(name);
        canonical.push_str(name);
        canonical.push(':');
        let mut first = true;
        while index < lowered.len() && &lowered[index].0 == name {
            if !first {
                canonical.push(',');
            }
            canonical.push_str(lowered[index].1);
            first = false;
            index += 1;
        }
        canonical.push('\n');
    }
    (canonical, signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_openapi_util_unit_test() {
        // aliyun/darabonba-openapi-util python/tests/test_client.py
        assert_eq!(
            canonical_query(&[("test", " ~/*-+")]),
            "test=%20~%2F%2A-%2B"
        );
    }

    #[test]
    fn canonical_query_sorts_by_byte_order_and_keeps_empty_values() {
        let query = canonical_query(&[("b", "2"), ("a", ""), ("B", "x y"), ("a", "0")]);
        assert_eq!(query, "B=x%20y&a=&a=0&b=2");
        assert_eq!(canonical_query::<&str>(&[]), "");
        let owned = [("b", "2".to_owned()), ("a", String::new())];
        assert_eq!(canonical_query(&owned), "a=&b=2");
    }

    #[test]
    fn canonical_headers_lowercase_sort_trim_and_merge() {
        let (canonical, signed) = canonical_headers(&[("X-B", " 2 "), ("host", "h"), ("x-b", "1")]);
        assert_eq!(canonical, "host:h\nx-b:1,2\n");
        assert_eq!(signed, "host;x-b");
    }
}
