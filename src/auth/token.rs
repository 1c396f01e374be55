//! Bearer tokens: read from `authorization: Bearer <token>` metadata,
//! hashed with SHA-256, and compared with the configured hashes in
//! constant time. The gateway keeps only hashes (tokens read from files or
//! the environment are hashed at start and dropped); a token is never
//! logged, quoted or kept.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::metadata::MetadataMap;

/// Bytes of a token hash.
pub const HASH_BYTES: usize = 32;

/// The SHA-256 hash of a bearer token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; HASH_BYTES]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// A hash written as 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; HASH_BYTES];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(TokenHash(bytes))
    }

    /// Whether `self` equals `other`, in time that does not depend on
    /// where they differ.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not a secret, but a hash of a weak token can be searched: never
        // printed.
        f.write_str("TokenHash(..)")
    }
}

/// What the `authorization` metadata holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// No `authorization` metadata.
    None,
    /// A bearer token, hashed.
    Bearer(TokenHash),
    /// `authorization` metadata that is not `Bearer <token>` (another
    /// scheme, an empty token, several values, not text).
    Malformed,
}

/// The token of `authorization: Bearer <token>` (the scheme in any case,
/// RFC 6750), hashed.
pub fn presented(metadata: &MetadataMap) -> Presented {
    let mut values = metadata.get_all("authorization").iter();
    let Some(value) = values.next() else {
        return Presented::None;
    };
    if values.next().is_some() {
        return Presented::Malformed;
    }
    let Ok(text) = value.to_str() else {
        return Presented::Malformed;
    };
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Presented::Malformed
            } else {
                Presented::Bearer(TokenHash::of(token))
            }
        }
        _ => Presented::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_matched_by_its_hash_in_hex_of_either_case() {
        let hash = TokenHash::of("s3cret-token-0123456789");
        let hex_text = hex::encode(Sha256::digest(b"s3cret-token-0123456789"));
        assert!(TokenHash::from_hex(&hex_text).unwrap().matches(&hash));
        assert!(
            TokenHash::from_hex(&hex_text.to_ascii_uppercase())
                .unwrap()
                .matches(&hash)
        );
        assert!(!TokenHash::of("another").matches(&hash));
        for bad in [
            "",
            "abc",
            &hex_text[1..],
            &format!("{hex_text}00"),
            &"zz".repeat(32),
        ] {
            assert_eq!(TokenHash::from_hex(bad), None, "{bad}");
        }
        assert_eq!(format!("{hash:?}"), "TokenHash(..)");
    }

    #[test]
    fn only_bearer_tokens_are_presented() {
        let cases: [(&[&str], Presented); 7] = [
            (&[], Presented::None),
            (&["Bearer abc"], Presented::Bearer(TokenHash::of("abc"))),
            (&["bearer  abc "], Presented::Bearer(TokenHash::of("abc"))),
            (&["Bearer "], Presented::Malformed),
            (&["Basic YWJj"], Presented::Malformed),
            (&["abc"], Presented::Malformed),
            (&["Bearer a", "Bearer b"], Presented::Malformed),
        ];
        for (values, expected) in cases {
            let mut metadata = MetadataMap::new();
            for value in values {
                metadata.append("authorization", value.parse().unwrap());
            }
            assert_eq!(presented(&metadata), expected, "{values:?}");
        }
    }
}
