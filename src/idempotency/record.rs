//! The record kept per idempotency key, and its stored encoding.
//!
//! A [`Record`] is in one of three states: `InFlight` (an attempt was sent or
//! is about to be), `Unknown` (an attempt ended without a definite answer: the
//! provider may have allocated) and `Completed` (the encoded
//! `AllocateIpResponse` to replay). A definite failure leaves no record.
//!
//! Stored form: the compact binary format of `compact` (version 2, written by
//! this gateway); version 1 JSON records (see `legacy`), written by earlier
//! gateways, are still read. The first byte tells them apart. Decoding checks
//! everything and turns bad bytes into an error, never a panic.

use std::time::{Duration, SystemTime};

use super::compact::{self, Header};
use super::fingerprint::Fingerprint;
use super::legacy;

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
        expired(self.last_activity(), now, retention)
    }

    /// `in_flight`, `unknown` or `completed`.
    pub fn state_name(&self) -> &'static str {
        match self {
            Record::InFlight { .. } => "in_flight",
            Record::Unknown { .. } => "unknown",
            Record::Completed { .. } => "completed",
        }
    }

    /// Bytes of the stored form (version 2).
    pub fn encoded_len(&self) -> Result<usize, String> {
        compact::encode(self).map(|bytes| bytes.len())
    }

    /// The stored form (version 2).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        compact::encode(self)
    }

    /// Reads the stored form back (version 2, or version 1 JSON); any
    /// malformed input is an error.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, String> {
        if legacy::is_v1(bytes) {
            legacy::decode(bytes)
        } else {
            compact::decode(bytes)
        }
    }
}

/// The state and times of a stored record, without decoding the rest when it
/// is in the compact format.
pub(crate) fn header(bytes: &[u8]) -> Result<Header, String> {
    if legacy::is_v1(bytes) {
        let record = legacy::decode(bytes)?;
        let activity = match &record {
            Record::InFlight {
                attempt_started, ..
            } => *attempt_started,
            Record::Unknown { last_attempt, .. } => *last_attempt,
            Record::Completed { completed, .. } => *completed,
        };
        Ok(Header {
            completed: matches!(record, Record::Completed { .. }),
            created: record.created(),
            activity,
        })
    } else {
        compact::header(bytes)
    }
}

/// Whether a record last active at `last_activity` is expired at `now`.
pub(crate) fn expired(last_activity: SystemTime, now: SystemTime, retention: Duration) -> bool {
    now.duration_since(last_activity)
        .is_ok_and(|age| age > retention)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use prost::Message;

    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint::new(
            "zl",
            &[
                ("zenlayer.zone", "SEL-A".to_owned()),
                ("zenlayer.amount", "2".to_owned()),
                ("zenlayer.tags", String::new()),
            ],
        )
    }

    fn t(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn samples() -> Vec<Record> {
        vec![
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
            // A clock that went backwards between creation and the attempt.
            Record::InFlight {
                fingerprint: Fingerprint::new("é", &[("ü", "ß".repeat(200))]),
                attempt_started: t(1_600_000_000, 0),
                created: t(1_700_000_000, 0),
            },
        ]
    }

    #[test]
    fn every_state_round_trips_exactly() {
        for record in samples() {
            let bytes = record.encode().unwrap();
            assert_eq!(bytes[0], compact::VERSION);
            let back = Record::decode(&bytes).unwrap();
            assert_eq!(back, record);
            assert_eq!(back.created(), record.created());
            assert_eq!(back.last_activity(), record.last_activity());
            assert_eq!(back.state_name(), record.state_name());
            // Empty values are left out of the stored summary only.
            let kept: Vec<_> = record
                .fingerprint()
                .params()
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .cloned()
                .collect();
            assert_eq!(back.fingerprint().params(), kept.as_slice());
            assert!(
                back.fingerprint()
                    .differences(record.fingerprint())
                    .is_empty()
            );
            let head = header(&bytes).unwrap();
            assert_eq!(head.created, record.created());
            assert_eq!(head.last_activity(), record.last_activity());
            assert_eq!(head.completed, record.state_name() == "completed");
        }
    }

    #[test]
    fn bad_bytes_decode_to_errors_not_panics() {
        for record in samples() {
            let good = record.encode().unwrap();
            // Every truncation, every single-byte change of the header and
            // lengths, and trailing garbage.
            for cut in 0..good.len() {
                assert!(Record::decode(&good[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = good.clone();
            longer.push(0);
            assert!(Record::decode(&longer).is_err());
            for at in 0..good.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[at] ^= flip;
                    // Either an error or some record; never a panic.
                    let _ = Record::decode(&bad);
                    let _ = header(&bad);
                }
            }
        }
        let bad_inputs: Vec<&[u8]> = vec![
            b"",
            b"\xff\xfe\x00garbage",
            b"{}",
            b"null",
            &[2],
            &[2, 9, 0, 0, 0],
            &[2, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0],
            &[3, 1, 0, 0, 0],
        ];
        for bad in bad_inputs {
            assert!(Record::decode(bad).is_err(), "decoded: {bad:?}");
        }
    }

    /// Records written by the gateway before the compact format (version 1
    /// JSON), taken from `tests/fixtures/idempotency-v1.redb`.
    const V1_RECORDS: &str = include_str!("../../tests/fixtures/idempotency-v1-records.tsv");

    #[test]
    fn version_1_records_are_still_read() {
        let mut states = Vec::new();
        for line in V1_RECORDS.lines() {
            let (key, json) = line.split_once('\t').unwrap();
            let record = Record::decode(json.as_bytes()).unwrap();
            let head = header(json.as_bytes()).unwrap();
            assert_eq!(head.last_activity(), record.last_activity(), "{key}");
            let created = if key == "v1-in-flight" {
                1_764_590_405
            } else {
                1_764_590_400
            };
            assert_eq!(record.created(), t(created, 123_456_789), "{key}");
            // Rewritten in the new format, the record is the same.
            let again = Record::decode(&record.encode().unwrap()).unwrap();
            assert!(
                again
                    .fingerprint()
                    .differences(record.fingerprint())
                    .is_empty()
            );
            assert_eq!(again.fingerprint(), record.fingerprint());
            states.push((key.to_owned(), record.state_name()));
            if let Record::Completed { response, .. } = &record {
                let decoded = crate::pb::AllocateIpResponse::decode(response.as_slice()).unwrap();
                assert_eq!(decoded.allocations.len(), 1, "{key}");
            }
        }
        states.sort();
        assert_eq!(
            states,
            [
                (
                    "3f2b8a1e-9c4d-4e7b-8a2f-1d6c5e9b0a47".to_owned(),
                    "completed"
                ),
                (
                    "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a".to_owned(),
                    "completed"
                ),
                ("v1-in-flight".to_owned(), "in_flight"),
                ("v1-unknown".to_owned(), "unknown"),
            ]
        );

        let (_, good) = V1_RECORDS.lines().next().unwrap().split_once('\t').unwrap();
        let bad_inputs = [
            good.replace("\"v\":1", "\"v\":99"),
            good.replace("\"n\":123456789", "\"n\":4000000000"),
            good.replace("\"s\":1764590400", "\"s\":18446744073709551615"),
            good.replace("completed\"", "exploded\""),
            good.replace("\"response\":\"", "\"response\":\"!!"),
            good.replace("\"hash\":\"d7", "\"hash\":\"D7"),
            good[..good.len() / 2].to_owned(),
        ];
        for bad in bad_inputs {
            assert!(Record::decode(bad.as_bytes()).is_err(), "decoded: {bad}");
        }
    }

    #[test]
    fn times_before_the_epoch_are_an_encode_error() {
        let record = Record::InFlight {
            fingerprint: fp(),
            attempt_started: t(1, 0),
            created: UNIX_EPOCH - Duration::from_secs(1),
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

    /// The encoded size of realistic one-address records: a real
    /// `AllocateIpResponse` and the gateway's own fingerprint of the request.
    /// Target: at most 400 bytes (the version 1 JSON form took 711 and 572).
    #[test]
    fn a_one_address_record_takes_at_most_400_bytes() {
        let (zenlayer, aliyun) = realistic_records();
        let zenlayer_bytes = zenlayer.encode().unwrap().len();
        let aliyun_bytes = aliyun.encode().unwrap().len();
        println!("one Zenlayer EIP: {zenlayer_bytes} bytes; one Aliyun IP: {aliyun_bytes} bytes");
        assert!(zenlayer_bytes <= 400, "{zenlayer_bytes}");
        assert!(aliyun_bytes <= 400, "{aliyun_bytes}");
        // And the response is replayed exactly.
        for record in [zenlayer, aliyun] {
            assert_eq!(Record::decode(&record.encode().unwrap()).unwrap(), record);
        }
    }

    /// A completed record of one Zenlayer EIP (a tagged POSTPAID request, the
    /// EIP AVAILABLE with its address) and one of an Aliyun public IP, as the
    /// allocation flow builds them.
    pub(crate) fn realistic_records() -> (Record, Record) {
        use crate::api::{allocate, convert};
        use crate::provider::*;

        let created = t(1_764_590_400, 123_456_789);
        let zenlayer_spec = AllocateSpec::Zenlayer(ZenlayerAllocate {
            tags: vec![Tag {
                key: "team".into(),
                value: "edge".into(),
            }],
            ..crate::testing::provider::zenlayer_allocate()
        });
        let description = |name: &str, kind, region: Option<&str>| ProviderDescription {
            name: name.into(),
            kind,
            region: region.map(str::to_owned),
            endpoint: String::new(),
            capabilities: Capabilities {
                max_allocations_per_request: 1,
                asynchronous: false,
                requires_instance: false,
                requires_instance_restart: false,
                charge_types: Vec::new(),
                api_version: String::new(),
                signature: String::new(),
            },
        };
        let zenlayer_response = convert::allocate_response(
            &description("zenlayer", ProviderKind::Zenlayer, None),
            AllocateResult {
                provider_request_id: "T05992D0C-5C4B-4E69-A8E5-07E5F2A1B3C4".into(),
                order_number: None,
                allocations: vec![Allocation {
                    id: "eip-0a1b2c3d4e5f60718293".into(),
                    ip_address: Some("128.1.32.17".into()),
                    state: AllocationState::Ready,
                    provider_status: "AVAILABLE".into(),
                    zone_id: Some("SEL-A".into()),
                    region_id: None,
                    requires_instance_restart: false,
                    instance_id: None,
                    failure_reason: None,
                    netmask: Some(32),
                }],
            },
        );
        let zenlayer = Record::Completed {
            fingerprint: allocate::fingerprint("zenlayer", &zenlayer_spec),
            response: zenlayer_response.encode_to_vec(),
            created,
            completed: created + Duration::from_millis(850),
        };

        let aliyun_spec = AllocateSpec::Aliyun(AliyunAllocate {
            instance_id: "i-bp1a2b3c4d5e6f7g8h9i".into(),
            ip_address: None,
            vlan_id: None,
            region_id: None,
        });
        let aliyun_response = convert::allocate_response(
            &description("aliyun", ProviderKind::Aliyun, Some("cn-hangzhou")),
            AllocateResult {
                provider_request_id: "F2EF6A3B-E345-46B9-931E-0EA094818567".into(),
                order_number: None,
                allocations: vec![Allocation {
                    id: "i-bp1a2b3c4d5e6f7g8h9i".into(),
                    ip_address: Some("47.95.10.20".into()),
                    state: AllocationState::Ready,
                    provider_status: "Running".into(),
                    zone_id: None,
                    region_id: Some("cn-hangzhou".into()),
                    requires_instance_restart: true,
                    instance_id: Some("i-bp1a2b3c4d5e6f7g8h9i".into()),
                    failure_reason: None,
                    netmask: None,
                }],
            },
        );
        let aliyun = Record::Completed {
            fingerprint: allocate::fingerprint("aliyun", &aliyun_spec),
            response: aliyun_response.encode_to_vec(),
            created,
            completed: created + Duration::from_millis(420),
        };
        (zenlayer, aliyun)
    }
}
