//! One change of a key's record as data: which transition (`machine`) with
//! which arguments, so that it can run at once on the caller's thread (the
//! memory backend, borrowing its arguments) or be queued for the file's
//! committer (`file::committer`, owning them) and answered when the commit
//! that holds it is durable.

use std::borrow::Cow;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use super::backend::Write;
use super::error::StoreError;
use super::file::{Batch, Queued};
use super::fingerprint::Fingerprint;
use super::machine::{self, Change, Refusal};
use super::record::Record;
use super::store::Begin;

/// A transition of one key's record and its arguments.
#[derive(Clone, Debug)]
pub(crate) enum Op<'a> {
    Begin {
        fingerprint: Cow<'a, Fingerprint>,
        now: SystemTime,
    },
    Complete {
        fingerprint: Cow<'a, Fingerprint>,
        response: Cow<'a, [u8]>,
        now: SystemTime,
    },
    Refresh {
        fingerprint: Cow<'a, Fingerprint>,
        response: Cow<'a, [u8]>,
        now: SystemTime,
    },
    MarkUnknown {
        fingerprint: Cow<'a, Fingerprint>,
        now: SystemTime,
    },
    MarkAttempt {
        fingerprint: Cow<'a, Fingerprint>,
        now: SystemTime,
    },
    Release,
}

/// What a change answers its caller.
#[derive(Debug)]
pub(crate) enum Answer {
    Begin(Begin),
    Done,
}

/// What a queued change's caller is waiting on.
pub(crate) enum Reply<T = Answer> {
    /// An async caller awaiting the answer.
    Async(oneshot::Sender<Result<T, StoreError>>),
    /// A blocking caller waiting on a channel of one.
    Blocking(SyncSender<Result<T, StoreError>>),
}

impl<T> Reply<T> {
    pub(crate) fn send(self, result: Result<T, StoreError>) {
        // A caller that gave up (a cancelled request) no longer listens.
        match self {
            Reply::Async(sender) => {
                let _ = sender.send(result);
            }
            Reply::Blocking(sender) => {
                let _ = sender.send(result);
            }
        }
    }
}

impl Op<'_> {
    /// The operation's name in metrics and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Begin { .. } => "begin",
            Op::Complete { .. } => "complete",
            Op::Refresh { .. } => "refresh",
            Op::MarkUnknown { .. } => "mark unknown",
            Op::MarkAttempt { .. } => "mark attempt",
            Op::Release => "release",
        }
    }

    /// The caller's clock; `None` (release) sees expired records too.
    fn now(&self) -> Option<SystemTime> {
        match self {
            Op::Begin { now, .. }
            | Op::Complete { now, .. }
            | Op::Refresh { now, .. }
            | Op::MarkUnknown { now, .. }
            | Op::MarkAttempt { now, .. } => Some(*now),
            Op::Release => None,
        }
    }

    /// Bytes the change carries, for the committer's batch bound.
    pub(crate) fn size(&self) -> usize {
        match self {
            Op::Complete { response, .. } | Op::Refresh { response, .. } => response.len() + 256,
            _ => 256,
        }
    }

    /// The same change owning its arguments, to be queued.
    pub(crate) fn into_owned(self) -> Op<'static> {
        let own = |fingerprint: Cow<'_, Fingerprint>| Cow::Owned(fingerprint.into_owned());
        let bytes = |response: Cow<'_, [u8]>| Cow::Owned(response.into_owned());
        match self {
            Op::Begin { fingerprint, now } => Op::Begin {
                fingerprint: own(fingerprint),
                now,
            },
            Op::Complete {
                fingerprint,
                response,
                now,
            } => Op::Complete {
                fingerprint: own(fingerprint),
                response: bytes(response),
                now,
            },
            Op::Refresh {
                fingerprint,
                response,
                now,
            } => Op::Refresh {
                fingerprint: own(fingerprint),
                response: bytes(response),
                now,
            },
            Op::MarkUnknown { fingerprint, now } => Op::MarkUnknown {
                fingerprint: own(fingerprint),
                now,
            },
            Op::MarkAttempt { fingerprint, now } => Op::MarkAttempt {
                fingerprint: own(fingerprint),
                now,
            },
            Op::Release => Op::Release,
        }
    }

    /// The transition on the key's live record (see `machine`).
    fn step(&self, current: Option<Record>) -> Result<(Answer, Change), Refusal> {
        let done = |change| (Answer::Done, change);
        match self {
            Op::Begin { fingerprint, now } => {
                let (begin, change) = machine::begin(current, fingerprint, *now);
                Ok((Answer::Begin(begin), change))
            }
            Op::Complete {
                fingerprint,
                response,
                now,
            } => machine::complete(current, fingerprint, response, *now).map(done),
            Op::Refresh {
                fingerprint,
                response,
                ..
            } => machine::refresh_completed(current, fingerprint, response).map(done),
            Op::MarkUnknown { fingerprint, now } => {
                machine::mark_unknown(current, fingerprint, *now).map(done)
            }
            Op::MarkAttempt { fingerprint, now } => {
                machine::mark_attempt(current, fingerprint, *now).map(done)
            }
            Op::Release => machine::release(current).map(done),
        }
    }
}

/// Decides the write of `op` on `key` from its current record bytes: decodes
/// them, drops an expired record, runs the transition, encodes the result.
pub(crate) fn decide(
    location: &str,
    retention: Duration,
    key: &str,
    op: &Op<'_>,
    bytes: Option<&[u8]>,
) -> Result<(Answer, Write), StoreError> {
    let now = op.now();
    let current = bytes
        .map(|bytes| {
            Record::decode(bytes).map_err(|reason| StoreError::CorruptRecord {
                location: location.to_owned(),
                key: key.to_owned(),
                reason,
            })
        })
        .transpose()?
        .filter(|record| now.is_none_or(|now| !record.is_expired(now, retention)));
    let (answer, change) = op.step(current).map_err(|reason| StoreError::Conflict {
        location: location.to_owned(),
        key: key.to_owned(),
        op: op.name(),
        reason,
    })?;
    let write = match change {
        Change::Keep => Write::Keep,
        Change::Remove => Write::Remove,
        Change::Put(record, admission) => Write::Put {
            bytes: record.encode().map_err(|reason| StoreError::Encode {
                location: location.to_owned(),
                key: key.to_owned(),
                reason,
            })?,
            admission,
        },
    };
    Ok((answer, write))
}

/// A write of another concept kept in the same file (the allocation
/// inventory's entries of a completed allocation), made in the transaction
/// of a record change once that change is applied; answers whether it wrote.
pub(crate) type AlsoInTransaction =
    Box<dyn FnOnce(&redb::WriteTransaction) -> Result<bool, StoreError> + Send>;

/// A change waiting in the committer's queue, with its caller.
pub(crate) struct QueuedChange {
    pub(crate) key: String,
    pub(crate) op: Op<'static>,
    pub(crate) retention: Duration,
    pub(crate) reply: Reply,
    /// The answer decided inside the batch, sent once it is durable.
    pub(crate) answer: Option<Answer>,
    /// Written in the same transaction after the change (so in the same
    /// commit); a failure that is not the file's is logged, the change kept.
    pub(crate) also: Option<AlsoInTransaction>,
}

impl Queued for QueuedChange {
    fn size(&self) -> usize {
        self.key.len() + self.op.size()
    }

    fn apply(&mut self, batch: &mut Batch<'_, '_>) -> Result<bool, StoreError> {
        self.answer = None;
        let location = batch.location().to_owned();
        let (key, op, retention, answer) = (&self.key, &self.op, self.retention, &mut self.answer);
        let wrote = batch.record(key, op.name(), &mut |bytes| {
            let (decided, write) = decide(&location, retention, key, op, bytes)?;
            *answer = Some(decided);
            Ok(write)
        })?;
        let Some(also) = self.also.take() else {
            return Ok(wrote);
        };
        match also(batch.txn()) {
            Ok(also_wrote) => Ok(wrote || also_wrote),
            Err(e) if super::file::is_fatal(&e) => Err(e),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "a write made with a record change failed; the record change is kept");
                Ok(wrote)
            }
        }
    }

    fn answer(self: Box<Self>, result: Result<(), StoreError>, location: &str) {
        let QueuedChange { answer, reply, .. } = *self;
        let result = result.and_then(|()| {
            answer.ok_or_else(|| StoreError::Unavailable {
                location: location.to_owned(),
                reason: "the change was not applied".to_owned(),
            })
        });
        reply.send(result);
    }
}
