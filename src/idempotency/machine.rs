//! The state machine of one key's record: what each store call does given
//! the record it finds, as pure functions (no I/O), so that every backend
//! runs exactly the same transitions (see the table in `store`).
//!
//! Each function takes the key's current live record (`None` when absent or
//! expired) and returns what the call answers plus the [`Change`] to write.
//! A refusal is `Err(reason)`: the record is left unchanged.

use std::time::SystemTime;

use super::backend::Admission;
use super::fingerprint::Fingerprint;
use super::record::Record;
use super::store::Begin;

/// How a call changes the key's record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Keep,
    Put(Record, Admission),
    Remove,
}

/// A refusal: why the call does not fit the record.
pub(crate) type Refusal = String;

/// The live record with `fingerprint`, or a refusal naming the differences.
fn own(record: Option<Record>, fingerprint: &Fingerprint) -> Result<Option<Record>, Refusal> {
    match record {
        Some(record) if record.fingerprint() != fingerprint => {
            let differing = record.fingerprint().differences(fingerprint);
            Err(if differing.is_empty() {
                "it is recorded for other parameters".to_owned()
            } else {
                format!(
                    "it is recorded for other parameters (differing: {})",
                    differing.join(", ")
                )
            })
        }
        other => Ok(other),
    }
}

pub(crate) fn begin(
    current: Option<Record>,
    fingerprint: &Fingerprint,
    now: SystemTime,
) -> (Begin, Change) {
    match current {
        Some(record) if record.fingerprint() != fingerprint => (
            Begin::Mismatch {
                stored: record.fingerprint().clone(),
            },
            Change::Keep,
        ),
        Some(Record::InFlight {
            attempt_started,
            created,
            ..
        }) => (
            Begin::InFlight {
                attempt_started,
                created,
            },
            Change::Keep,
        ),
        Some(Record::Unknown {
            last_attempt,
            created,
            ..
        }) => (
            Begin::Unknown {
                last_attempt,
                created,
            },
            Change::Keep,
        ),
        Some(Record::Completed { response, .. }) => (Begin::Completed(response), Change::Keep),
        None => (
            Begin::Started,
            Change::Put(
                Record::InFlight {
                    fingerprint: fingerprint.clone(),
                    attempt_started: now,
                    created: now,
                },
                Admission::New,
            ),
        ),
    }
}

pub(crate) fn complete(
    current: Option<Record>,
    fingerprint: &Fingerprint,
    response: &[u8],
    now: SystemTime,
) -> Result<Change, Refusal> {
    let created = match own(current, fingerprint)? {
        Some(Record::Completed {
            response: stored, ..
        }) => {
            if stored == response {
                return Ok(Change::Keep);
            }
            return Err("it is already completed with a different response".to_owned());
        }
        Some(record) => record.created(),
        None => now,
    };
    Ok(Change::Put(
        Record::Completed {
            fingerprint: fingerprint.clone(),
            response: response.to_vec(),
            created,
            completed: now,
        },
        Admission::Existing,
    ))
}

pub(crate) fn refresh_completed(
    current: Option<Record>,
    fingerprint: &Fingerprint,
    response: &[u8],
) -> Result<Change, Refusal> {
    match own(current, fingerprint)? {
        Some(Record::Completed {
            response: stored,
            created,
            completed,
            ..
        }) => {
            if stored == response {
                return Ok(Change::Keep);
            }
            Ok(Change::Put(
                Record::Completed {
                    fingerprint: fingerprint.clone(),
                    response: response.to_vec(),
                    created,
                    completed,
                },
                Admission::Existing,
            ))
        }
        Some(record) => Err(format!(
            "it is not completed (it is {})",
            record.state_name()
        )),
        None => Err("it has no live record".to_owned()),
    }
}

pub(crate) fn mark_unknown(
    current: Option<Record>,
    fingerprint: &Fingerprint,
    now: SystemTime,
) -> Result<Change, Refusal> {
    let (last_attempt, created) = match own(current, fingerprint)? {
        Some(Record::InFlight {
            attempt_started,
            created,
            ..
        }) => (attempt_started, created),
        Some(Record::Unknown { .. }) => return Ok(Change::Keep),
        Some(Record::Completed { .. }) => return Err("it is already completed".to_owned()),
        None => (now, now),
    };
    Ok(Change::Put(
        Record::Unknown {
            fingerprint: fingerprint.clone(),
            last_attempt,
            created,
        },
        Admission::Existing,
    ))
}

pub(crate) fn mark_attempt(
    current: Option<Record>,
    fingerprint: &Fingerprint,
    now: SystemTime,
) -> Result<Change, Refusal> {
    let (created, admission) = match own(current, fingerprint)? {
        Some(Record::Completed { .. }) => return Err("it is already completed".to_owned()),
        Some(record) => (record.created(), Admission::Existing),
        // Nothing is sent before this is written: refusable at the bound.
        None => (now, Admission::New),
    };
    Ok(Change::Put(
        Record::InFlight {
            fingerprint: fingerprint.clone(),
            attempt_started: now,
            created,
        },
        admission,
    ))
}

pub(crate) fn release(current: Option<Record>) -> Result<Change, Refusal> {
    match current {
        None => Ok(Change::Keep),
        Some(Record::Completed { .. }) => Err("it is completed: an allocation was made".to_owned()),
        Some(_) => Ok(Change::Remove),
    }
}
