//! The digests both clouds sign with: lowercase hex SHA-256 (payload and
//! canonical-request hashes) and HMAC-SHA1 / HMAC-SHA256, infallible for a
//! key of any length (RFC 2104: a key longer than the hash's block is
//! hashed, a shorter one zero-padded), so that signing never fails or
//! panics on a credential.

use hmac::digest::{Output, block_api::EagerHash};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(&Sha256::digest(data))
}

/// Lowercase hex of `bytes`, written into a buffer of its final size
/// (`hex::encode` collects its characters one by one: about 40 times the
/// instructions for a digest, and every signature takes three).
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut text = vec![0u8; bytes.len() * 2];
    // The buffer is twice the input, the only length this refuses, and hex
    // digits are ASCII: neither default is ever taken.
    if hex::encode_to_slice(bytes, &mut text).is_err() {
        return String::new();
    }
    String::from_utf8(text).unwrap_or_default()
}

/// HMAC-SHA1 of `data` keyed with `key`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> Output<Hmac<Sha1>> {
    hmac::<Sha1>(key, data)
}

/// HMAC-SHA256 of `data` keyed with `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Output<Hmac<Sha256>> {
    hmac::<Sha256>(key, data)
}

fn hmac<D: EagerHash>(key: &[u8], data: &[u8]) -> Output<Hmac<D>> {
    // The key block RFC 2104 defines: a block-sized key is accepted as is,
    // so building the MAC cannot fail.
    let mut block = hmac::digest::Key::<Hmac<D>>::default();
    if key.len() <= block.len() {
        block[..key.len()].copy_from_slice(key);
    } else {
        let hash = D::digest(key);
        let len = hash.len().min(block.len());
        block[..len].copy_from_slice(&hash[..len]);
    }
    let mut mac = <Hmac<D> as KeyInit>::new(&block);
    // Do not leave a copy of the secret behind longer than needed.
    block.fill(0);
    mac.update(data);
    mac.finalize().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_matches_the_hex_crate_for_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&all), hex::encode(&all));
        assert_eq!(lower_hex(&[]), "");
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hmac_matches_the_library_for_any_key_length() {
        for len in [0usize, 1, 27, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut sha256 = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
            sha256.update(b"message");
            assert_eq!(
                hmac_sha256(&key, b"message"),
                sha256.finalize().into_bytes(),
                "HMAC-SHA256, key length {len}"
            );
            let mut sha1 = <Hmac<Sha1> as KeyInit>::new_from_slice(&key).unwrap();
            sha1.update(b"message");
            assert_eq!(
                hmac_sha1(&key, b"message"),
                sha1.finalize().into_bytes(),
                "HMAC-SHA1, key length {len}"
            );
        }
    }

    #[test]
    fn rfc_2202_and_4231_vectors() {
        // RFC 2202 test case 2 and RFC 4231 test case 2 ("Jefe").
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", data)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
