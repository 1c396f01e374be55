//! Reading records of stored format version 1: JSON,
//! `{"v":1,"record":{"state":"completed",...}}`, with times as whole seconds
//! plus nanoseconds since the Unix epoch, the fingerprint hash in hex and the
//! response bytes in base64. Gateways before the compact format (see
//! `compact`) wrote these; they are still read, and rewritten in the new
//! format on their next change. Decoding checks everything and turns bad
//! bytes into an error, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::fingerprint::{Fingerprint, HASH_BYTES};
use super::record::Record;

/// The only version this module reads.
const FORMAT_VERSION: u32 = 1;

/// Whether `bytes` look like a version 1 record (JSON starts with `{`).
pub(super) fn is_v1(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// Decodes a version 1 record.
pub(super) fn decode(bytes: &[u8]) -> Result<Record, String> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| format!("not a valid record: {e}"))?;
    if envelope.v != FORMAT_VERSION {
        return Err(format!(
            "record format version {} is not supported (expected {FORMAT_VERSION})",
            envelope.v
        ));
    }
    Ok(match envelope.record {
        Stored::InFlight {
            fingerprint,
            attempt_started,
            created,
        } => Record::InFlight {
            fingerprint: fingerprint.into_fingerprint()?,
            attempt_started: attempt_started.to_system()?,
            created: created.to_system()?,
        },
        Stored::Unknown {
            fingerprint,
            last_attempt,
            created,
        } => Record::Unknown {
            fingerprint: fingerprint.into_fingerprint()?,
            last_attempt: last_attempt.to_system()?,
            created: created.to_system()?,
        },
        Stored::Completed {
            fingerprint,
            response,
            created,
            completed,
        } => Record::Completed {
            fingerprint: fingerprint.into_fingerprint()?,
            response: BASE64
                .decode(response.as_bytes())
                .map_err(|e| format!("response is not valid base64: {e}"))?,
            created: created.to_system()?,
            completed: completed.to_system()?,
        },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    v: u32,
    record: Stored,
}

#[derive(Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
enum Stored {
    InFlight {
        fingerprint: StoredFingerprint,
        attempt_started: Timestamp,
        created: Timestamp,
    },
    Unknown {
        fingerprint: StoredFingerprint,
        last_attempt: Timestamp,
        created: Timestamp,
    },
    Completed {
        fingerprint: StoredFingerprint,
        response: String,
        created: Timestamp,
        completed: Timestamp,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFingerprint {
    /// Lowercase hex SHA-256.
    hash: String,
    provider: String,
    params: Vec<(String, String)>,
}

impl StoredFingerprint {
    fn into_fingerprint(self) -> Result<Fingerprint, String> {
        let lowercase_hex = self.hash.len() == 2 * HASH_BYTES
            && self
                .hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let hash: [u8; HASH_BYTES] = lowercase_hex
            .then(|| hex::decode(&self.hash).ok())
            .flatten()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| "fingerprint hash is not 64 lowercase hex digits".to_owned())?;
        Ok(Fingerprint::from_parts(hash, self.provider, self.params))
    }
}

/// Seconds and nanoseconds since the Unix epoch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Timestamp {
    s: u64,
    n: u32,
}

impl Timestamp {
    fn to_system(&self) -> Result<SystemTime, String> {
        if self.n >= 1_000_000_000 {
            return Err(format!("timestamp nanoseconds out of range: {}", self.n));
        }
        UNIX_EPOCH
            .checked_add(Duration::new(self.s, self.n))
            .ok_or_else(|| format!("timestamp out of range: {} s", self.s))
    }
}
