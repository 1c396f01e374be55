//! Fingerprints of an allocation request's parameters.
//!
//! A [`Fingerprint`] identifies "the same request" for an idempotency key: the
//! provider name plus the canonical allocation parameters as `(name, value)`
//! pairs. It keeps a SHA-256 of an unambiguous (length-prefixed) encoding of
//! all of them, which decides equality, and a short human summary of the same
//! pairs, from which [`Fingerprint::differences`] names what changed when a
//! key is reused with other parameters.
//!
//! Only request parameters go in: never credentials or other secrets, since
//! the fingerprint is stored on disk and shown in error messages. Long values
//! are abbreviated in the summary (a prefix plus a hash of the whole value),
//! so a difference in them is still detected and named. An empty value and
//! an absent parameter are the same request (the canonical parameters use
//! `""` for "not given"), so the stored form leaves empty values out and
//! [`Fingerprint::differences`] never names a parameter that is empty on one
//! side and absent on the other.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// Domain separator of the hashed encoding; changing the encoding means
/// changing this, so old and new fingerprints never compare equal by accident.
const HASH_DOMAIN: &[u8] = b"ipalloc-gateway/idempotency-fingerprint/v1";

/// Values longer than this (in bytes) are abbreviated in the summary.
const MAX_SUMMARY_VALUE: usize = 96;

/// Bytes of a long value kept before the abbreviation mark.
const ABBREVIATED_PREFIX: usize = 48;

/// Bytes of the hash.
pub const HASH_BYTES: usize = 32;

/// The parameters of one allocation request, as a hash (equality) and a
/// summary (for messages). Two fingerprints are equal exactly when their
/// hashes are.
///
/// Cloned into every change of a key's record: the summary is shared, not
/// copied.
#[derive(Clone)]
pub struct Fingerprint {
    /// SHA-256 of the canonical encoding.
    hash: [u8; HASH_BYTES],
    named: Arc<Named>,
}

/// What a fingerprint names, for messages.
struct Named {
    /// Provider name, as given.
    provider: String,
    /// Parameters sorted by name (stable), values abbreviated when long.
    /// A new fingerprint's names are the static ones of the providers'
    /// canonical parameters, borrowed; a stored one's are read back.
    params: Vec<(Cow<'static, str>, String)>,
}

impl Fingerprint {
    /// Fingerprint of a request to `provider` with the given canonical
    /// parameters. The order of differently named parameters does not matter
    /// (they are sorted by name); repeated names keep their relative order.
    /// Put no secrets in: the summary is stored and shown in errors.
    pub fn new(provider: &str, canonical_params: &[(&'static str, String)]) -> Self {
        let mut sorted: Vec<(&'static str, &str)> = canonical_params
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));

        let mut hasher = Sha256::new();
        hasher.update(HASH_DOMAIN);
        put_field(&mut hasher, provider.as_bytes());
        hasher.update((sorted.len() as u64).to_be_bytes());
        for (name, value) in &sorted {
            put_field(&mut hasher, name.as_bytes());
            put_field(&mut hasher, value.as_bytes());
        }
        let hash: [u8; HASH_BYTES] = hasher.finalize().into();

        let params = sorted
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), abbreviate(value)))
            .collect();
        Fingerprint {
            hash,
            named: Arc::new(Named {
                provider: provider.to_owned(),
                params,
            }),
        }
    }

    /// Rebuilds a fingerprint read back from storage.
    pub(crate) fn from_parts(
        hash: [u8; HASH_BYTES],
        provider: String,
        params: Vec<(String, String)>,
    ) -> Self {
        let params = params
            .into_iter()
            .map(|(name, value)| (Cow::Owned(name), value))
            .collect();
        Fingerprint::from_named_parts(hash, provider, params)
    }

    /// [`Fingerprint::from_parts`] without converting the names.
    pub(crate) fn from_named_parts(
        hash: [u8; HASH_BYTES],
        provider: String,
        params: Vec<(Cow<'static, str>, String)>,
    ) -> Self {
        Fingerprint {
            hash,
            named: Arc::new(Named { provider, params }),
        }
    }

    /// SHA-256 of the canonical parameters.
    pub fn hash(&self) -> &[u8; HASH_BYTES] {
        &self.hash
    }

    /// The hash as lowercase hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The provider name the request was for.
    pub fn provider(&self) -> &str {
        &self.named.provider
    }

    /// The parameters sorted by name; long values are abbreviated.
    pub fn params(&self) -> &[(Cow<'static, str>, String)] {
        &self.named.params
    }

    /// A one-line human summary, e.g. `provider=zl zone=SEL-A amount=2`.
    pub fn summary(&self) -> String {
        let mut out = format!("provider={}", display_value(self.provider()));
        for (name, value) in self.params() {
            out.push(' ');
            out.push_str(name);
            out.push('=');
            out.push_str(&display_value(value));
        }
        out
    }

    /// Names of the parameters that differ between `self` and `other`
    /// (`provider` first, then parameter names in order), including
    /// parameters present in only one of them with a non-empty value (empty
    /// and absent are the same). Empty when the fingerprints are equal, and
    /// also in the unlikely case that the hashes differ but the summaries do
    /// not show where (then say "the parameters differ").
    pub fn differences(&self, other: &Fingerprint) -> Vec<String> {
        if self == other {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.provider() != other.provider() {
            out.push("provider".to_owned());
        }
        let mine = by_name(self.params());
        let theirs = by_name(other.params());
        let mut names: Vec<&str> = mine.keys().chain(theirs.keys()).copied().collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            if mine.get(name) != theirs.get(name) {
                out.push(name.to_owned());
            }
        }
        out
    }
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
    }
}

impl Eq for Fingerprint {}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = hex::encode(&self.hash[..8]);
        write!(f, "Fingerprint({short}… {})", self.summary())
    }
}

fn put_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Non-empty values by name (an empty value counts as absent).
fn by_name<'a>(params: &'a [(Cow<'static, str>, String)]) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
        map.entry(name.as_ref()).or_default().push(value.as_str());
    }
    map
}

/// A long value becomes its first bytes plus a hash of the whole value, so two
/// different long values still have different summaries.
fn abbreviate(value: &str) -> String {
    if value.len() <= MAX_SUMMARY_VALUE {
        return value.to_owned();
    }
    let mut end = ABBREVIATED_PREFIX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let digest = hex::encode(Sha256::digest(value.as_bytes()));
    let short = digest.get(..16).unwrap_or(&digest);
    format!("{}…(len {}, sha256 {short})", &value[..end], value.len())
}

/// Plain values as they are; anything with spaces, quotes or `=` quoted.
fn display_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
    if plain {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(provider: &str, params: &[(&'static str, &str)]) -> Fingerprint {
        let owned: Vec<(&'static str, String)> =
            params.iter().map(|(n, v)| (*n, v.to_string())).collect();
        Fingerprint::new(provider, &owned)
    }

    #[test]
    fn equal_parameters_give_equal_fingerprints_in_any_order() {
        let a = fp("zl", &[("zone", "SEL-A"), ("amount", "2")]);
        let b = fp("zl", &[("amount", "2"), ("zone", "SEL-A")]);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.hash_hex().len(), 64);
        assert!(a.differences(&b).is_empty());
        assert_eq!(a.summary(), "provider=zl amount=2 zone=SEL-A");
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Same concatenation, different split between name and value.
        let a = fp("zl", &[("ab", "c")]);
        let b = fp("zl", &[("a", "bc")]);
        assert_ne!(a, b);
        let c = fp("zla", &[("b", "c")]);
        let d = fp("zl", &[("ab", "c")]);
        assert_ne!(c, d);
        assert_ne!(fp("zl", &[]), fp("zl", &[("", "")]));
    }

    #[test]
    fn differences_name_changed_added_and_removed_parameters() {
        let a = fp("zl", &[("zone", "SEL-A"), ("amount", "2"), ("bw", "10")]);
        let b = fp(
            "aliyun",
            &[("zone", "SEL-B"), ("amount", "2"), ("isp", "BGP")],
        );
        assert_eq!(a.differences(&b), vec!["provider", "bw", "isp", "zone"]);
        assert_eq!(b.differences(&a), vec!["provider", "bw", "isp", "zone"]);
    }

    #[test]
    fn an_empty_value_and_an_absent_parameter_are_not_a_named_difference() {
        let stored = fp("zl", &[("zone", "SEL-A"), ("tags", "")]);
        let without = fp("zl", &[("zone", "SEL-B")]);
        assert_ne!(stored, without);
        assert_eq!(stored.differences(&without), vec!["zone"]);
        let with_tags = fp("zl", &[("zone", "SEL-A"), ("tags", "a=b")]);
        assert_eq!(stored.differences(&with_tags), vec!["tags"]);
        assert_eq!(without.differences(&with_tags), vec!["tags", "zone"]);
    }

    #[test]
    fn long_values_are_abbreviated_but_still_distinguished() {
        let long_a = "x".repeat(500);
        let long_b = format!("{}y", "x".repeat(499));
        let a = fp("zl", &[("ids", &long_a)]);
        let b = fp("zl", &[("ids", &long_b)]);
        assert!(a.summary().len() < 200, "{}", a.summary());
        assert!(a.summary().contains("len 500"));
        assert_eq!(a.differences(&b), vec!["ids"]);
        // A multi-byte character straddling the cut does not panic.
        let wide = "é".repeat(100);
        let w = fp("zl", &[("name", &wide)]);
        assert!(w.summary().contains("len 200"));
    }

    #[test]
    fn summary_quotes_values_that_need_it() {
        let a = fp("zl", &[("name", "my ip"), ("empty", "")]);
        assert_eq!(a.summary(), r#"provider=zl empty="" name="my ip""#);
        assert!(format!("{a:?}").starts_with("Fingerprint("));
    }
}
