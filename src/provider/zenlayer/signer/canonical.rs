//! The ZC2 canonical request: always a POST to `/` with an empty query,
//! signing exactly `content-type` and `host` and the hash of the body
//! bytes as sent.

use crate::provider::signing::sha256_hex;

/// The headers covered by the signature, in canonical order.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// The canonical URI: always `/`, whatever the request path.
pub const CANONICAL_URI: &str = "/";

/// `HashedRequestPayload`: lowercase hex SHA-256 of the body bytes.
pub fn hashed_payload(body: &[u8]) -> String {
    sha256_hex(body)
}

/// The canonical request for a POST with the given signed header values and
/// hashed payload.
pub fn canonical_request(content_type: &str, host: &str, hashed_payload: &str) -> String {
    [
        "POST\n",
        CANONICAL_URI,
        "\n\ncontent-type:",
        content_type,
        "\nhost:",
        host,
        "\n\n",
        SIGNED_HEADERS,
        "\n",
        hashed_payload,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_request_matches_v1_text() {
        let hp = "b6b348fe3160aec0ae155bb018754b4385c87af470c5622af9122bf05a49bf76";
        assert_eq!(
            canonical_request("application/json", "console.zenlayer.com", hp),
            format!(
                "POST\n/\n\ncontent-type:application/json\nhost:console.zenlayer.com\n\ncontent-type;host\n{hp}"
            )
        );
    }
}
