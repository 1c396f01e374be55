//! The `ClientToken` of a release (`ModifyInstanceNetworkSpec`): Alibaba
//! performs a request whose token it has seen before only once, and answers
//! a repeat with the first answer. Derived from the caller's idempotency key
//! and the instance, so a re-send of the same release (after a lost answer,
//! by this gateway or another one of the fleet) carries the same token and
//! is deduplicated by Alibaba too.
//!
//! `AllocatePublicIpAddress` has no `ClientToken` (FACTS.md §1.3), so this
//! is the first token the adapter derives. Alibaba allows at most 64 ASCII
//! characters; the idempotency key may have 128, so the token is a digest:
//! `ipalloc-` and the first 48 hex digits (192 bits) of
//! SHA-256(`ModifyInstanceNetworkSpec` NUL instance id NUL key), 56
//! characters. Without a key (a call not made on behalf of a caller's key),
//! the token is a fresh UUID, as the official SDKs fill it: the retries of
//! one call still share it.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Alibaba's limit on a `ClientToken`, in ASCII characters.
pub const MAX_CLIENT_TOKEN: usize = 64;

/// What every derived token starts with.
pub const PREFIX: &str = "ipalloc-";

/// Hex digits of the digest kept.
const DIGEST_HEX: usize = 48;

/// The token of releasing `instance_id` on behalf of `key`.
pub fn release_token(instance_id: &str, key: Option<&str>) -> String {
    let Some(key) = key else {
        return Uuid::new_v4().to_string();
    };
    let mut hasher = Sha256::new();
    hasher.update(b"ModifyInstanceNetworkSpec");
    hasher.update([0]);
    hasher.update(instance_id.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    let digest = hex::encode(hasher.finalize());
    let mut token = String::with_capacity(PREFIX.len() + DIGEST_HEX);
    token.push_str(PREFIX);
    token.push_str(&digest[..DIGEST_HEX]);
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_and_instance_give_the_same_token() {
        let a = release_token("i-a", Some("key-1"));
        assert_eq!(a, release_token("i-a", Some("key-1")));
        assert_ne!(a, release_token("i-b", Some("key-1")));
        assert_ne!(a, release_token("i-a", Some("key-2")));
        // NUL-separated: ("i-a", "bkey") is not ("i-ab", "key").
        assert_ne!(
            release_token("i-a", Some("bkey")),
            release_token("i-ab", Some("key"))
        );
        assert_eq!(a.len(), 56);
        assert!(a.starts_with(PREFIX));
        assert!(a.bytes().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn the_longest_key_fits_and_no_key_is_random() {
        let key = "k".repeat(128);
        assert!(release_token("i-a", Some(&key)).len() <= MAX_CLIENT_TOKEN);
        let first = release_token("i-a", None);
        assert_ne!(first, release_token("i-a", None));
        assert!(first.len() <= MAX_CLIENT_TOKEN);
    }

    /// A known value (computed independently with Python's hashlib), so
    /// the derivation never changes unnoticed: a change would make a
    /// re-send after an upgrade a new request to Alibaba.
    #[test]
    fn the_derivation_is_stable() {
        assert_eq!(
            release_token("i-emuready001", Some("key-1")),
            "ipalloc-787e494891d7ad409461d72267bf2b9c82acec1c4e2fc393"
        );
    }
}
