//! The record kept per idempotency key, and its stored encoding.
//!
//! A [`Record`] is in one of three states: `InFlight` (an attempt was sent or
//! is about to be), `Unknown` (an attempt ended without a definite answer: the
//! provider may have allocated) and `Completed` (the encoded
//! `AllocateIpResponse` to replay). A definite failure leaves no record.
//!
//! Stored form: JSON, `{"v":1,"record":{"state":"completed",...}}`, with
//! times as whole seconds plus nanoseconds since the Unix epoch and the
//! response bytes in base64. JSON keeps a record readable with ordinary tools
//! and versioned; records are small. Decoding checks everything and turns bad
//! bytes into an error, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::fingerprint::Fingerprint;

/// Version of the stored encoding.
const FORMAT_VERSION: u32 = 1;

/// What is known about one idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An attempt was started at `attempt_started` and has not ended (or its
    /// process died before recording how it ended).
    InFlight {
        fingerprint: Fingerprint,
        attempt_started: SystemTime,
        created: SystemTime,
    },
    /// The attempt started at `last_attempt` ended without a definite answer:
    /// the provider may have performed it. Reconcile before sending again.
    Unknown {
        fingerprint: Fingerprint,
        last_attempt: SystemTime,
        created: SystemTime,
    },
    /// The allocation succeeded; `response` is the encoded `AllocateIpResponse`.
    Completed {
        fingerprint: Fingerprint,
        response: Vec<u8>,
        created: SystemTime,
        completed: SystemTime,
    },
}

impl Record {
    /// The parameters the key was first used with.
    pub fn fingerprint(&self) -> &Fingerprint {
        match self {
            Record::InFlight { fingerprint, .. }
            | Record::Unknown { fingerprint, .. }
            | Record::Completed { fingerprint, .. } => fingerprint,
        }
    }

    /// When the key was first used (by the current record).
    pub fn created(&self) -> SystemTime {
        match self {
            Record::InFlight { created, .. }
            | Record::Unknown { created, .. }
            | Record::Completed { created, .. } => *created,
        }
    }

    /// The latest time in the record: retention counts from here.
    pub fn last_activity(&self) -> SystemTime {
        let latest = match self {
            Record::InFlight {
                attempt_started, ..
            } => *attempt_started,
            Record::Unknown { last_attempt, .. } => *last_attempt,
            Record::Completed { completed, .. } => *completed,
        };
        latest.max(self.created())
    }

    /// Whether the record is older than `retention` at `now`, counted from
    /// [`Record::last_activity`]. A clock that went backwards keeps it live.
    pub fn is_expired(&self, now: SystemTime, retention: Duration) -> bool {
        now.duration_since(self.last_activity())
            .is_ok_and(|age| age > retention)
    }

    /// `in_flight`, `unknown` or `completed`.
    pub fn state_name(&self) -> &'static str {
        match self {
            Record::InFlight { .. } => "in_flight",
            Record::Unknown { .. } => "unknown",
            Record::Completed { .. } => "completed",
        }
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let record = match self {
            Record::InFlight {
                fingerprint,
                attempt_started,
                created,
            } => Stored::InFlight {
                fingerprint: fingerprint.clone(),
                attempt_started: Timestamp::from_system(*attempt_started)?,
                created: Timestamp::from_system(*created)?,
            },
            Record::Unknown {
                fingerprint,
                last_attempt,
                created,
            } => Stored::Unknown {
                fingerprint: fingerprint.clone(),
                last_attempt: Timestamp::from_system(*last_attempt)?,
                created: Timestamp::from_system(*created)?,
            },
            Record::Completed {
                fingerprint,
                response,
                created,
                completed,
            } => Stored::Completed {
                fingerprint: fingerprint.clone(),
                response: BASE64.encode(response),
                created: Timestamp::from_system(*created)?,
                completed: Timestamp::from_system(*completed)?,
            },
        };
        serde_json::to_vec(&Envelope {
            v: FORMAT_VERSION,
            record,
        })
        .map_err(|e| format!("cannot serialize: {e}"))
    }

    /// Reads the stored form back; any malformed input is an error.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, String> {
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| format!("not a valid record: {e}"))?;
        if envelope.v != FORMAT_VERSION {
            return Err(format!(
                "record format version {} is not supported (expected {FORMAT_VERSION})",
                envelope.v
            ));
        }
        let record = match envelope.record {
            Stored::InFlight {
                fingerprint,
                attempt_started,
                created,
            } => Record::InFlight {
                fingerprint,
                attempt_started: attempt_started.to_system()?,
                created: created.to_system()?,
            },
            Stored::Unknown {
                fingerprint,
                last_attempt,
                created,
            } => Record::Unknown {
                fingerprint,
                last_attempt: last_attempt.to_system()?,
                created: created.to_system()?,
            },
            Stored::Completed {
                fingerprint,
                response,
                created,
                completed,
            } => Record::Completed {
                fingerprint,
                response: BASE64
                    .decode(response.as_bytes())
                    .map_err(|e| format!("response is not valid base64: {e}"))?,
                created: created.to_system()?,
                completed: completed.to_system()?,
            },
        };
        record.fingerprint().validate()?;
        Ok(record)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    v: u32,
    record: Stored,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
enum Stored {
    InFlight {
        fingerprint: Fingerprint,
        attempt_started: Timestamp,
        created: Timestamp,
    },
    Unknown {
        fingerprint: Fingerprint,
        last_attempt: Timestamp,
        created: Timestamp,
    },
    Completed {
        fingerprint: Fingerprint,
        response: String,
        created: Timestamp,
        completed: Timestamp,
    },
}

/// Seconds and nanoseconds since the Unix epoch.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timestamp {
    s: u64,
    n: u32,
}

impl Timestamp {
    fn from_system(time: SystemTime) -> Result<Self, String> {
        let since = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "a time before 1970 cannot be stored".to_owned())?;
        Ok(Timestamp {
            s: since.as_secs(),
            n: since.subsec_nanos(),
        })
    }

    fn to_system(&self) -> Result<SystemTime, String> {
        if self.n >= 1_000_000_000 {
            return Err(format!("timestamp nanoseconds out of range: {}", self.n));
        }
        UNIX_EPOCH
            .checked_add(Duration::new(self.s, self.n))
            .ok_or_else(|| format!("timestamp out of range: {} s", self.s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint::new("zl", &[("zone", "SEL-A".to_owned())])
    }

    fn t(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn every_state_round_trips_exactly() {
        let records = [
            Record::InFlight {
                fingerprint: fp(),
                attempt_started: t(1_700_000_001, 5),
                created: t(1_700_000_000, 123_456_789),
            },
            Record::Unknown {
                fingerprint: fp(),
                last_attempt: t(1_700_000_002, 0),
                created: t(1_700_000_000, 1),
            },
            Record::Completed {
                fingerprint: fp(),
                response: vec![0, 1, 2, 255, 10, 13],
                created: t(1_700_000_000, 999_999_999),
                completed: t(1_700_000_003, 7),
            },
        ];
        for record in records {
            let bytes = record.encode().unwrap();
            let back = Record::decode(&bytes).unwrap();
            assert_eq!(back, record);
            assert_eq!(back.fingerprint().summary(), record.fingerprint().summary());
        }
    }

    #[test]
    fn bad_bytes_decode_to_errors_not_panics() {
        let good = Record::Completed {
            fingerprint: fp(),
            response: b"resp".to_vec(),
            created: t(10, 0),
            completed: t(11, 0),
        }
        .encode()
        .unwrap();
        let good = String::from_utf8(good).unwrap();
        let bad_inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\xff\xfe\x00garbage".to_vec(),
            b"{}".to_vec(),
            b"null".to_vec(),
            good.replace("\"v\":1", "\"v\":99").into_bytes(),
            good.replace("\"n\":0", "\"n\":4000000000").into_bytes(),
            good.replace("\"s\":11", "\"s\":18446744073709551615")
                .into_bytes(),
            good.replace("completed\"", "exploded\"").into_bytes(),
            good.replace(&BASE64.encode(b"resp"), "!!not base64!!")
                .into_bytes(),
            good.replace(fp().hash(), "abc").into_bytes(),
            good.as_bytes()[..good.len() / 2].to_vec(),
        ];
        for bad in bad_inputs {
            assert!(
                Record::decode(&bad).is_err(),
                "decoded: {}",
                String::from_utf8_lossy(&bad)
            );
        }
    }

    #[test]
    fn times_before_the_epoch_are_an_encode_error() {
        let record = Record::InFlight {
            fingerprint: fp(),
            attempt_started: UNIX_EPOCH - Duration::from_secs(1),
            created: t(1, 0),
        };
        assert!(record.encode().is_err());
    }

    #[test]
    fn expiry_counts_from_the_last_activity() {
        let day = Duration::from_secs(86_400);
        let record = Record::Unknown {
            fingerprint: fp(),
            last_attempt: t(1_000 + 3_600, 0),
            created: t(1_000, 0),
        };
        assert_eq!(record.last_activity(), t(4_600, 0));
        assert!(!record.is_expired(t(4_600, 0) + day, day));
        assert!(record.is_expired(t(4_600, 1) + day, day));
        // A clock that went backwards does not expire anything.
        assert!(!record.is_expired(t(0, 0), day));
    }
}
