//! The errors of the idempotency store: every message names the store's
//! location, and each means that nothing was sent to a provider by the call
//! that got it.

/// Errors of the store. Every message names the store's location. Each
/// means nothing was sent to a provider by the call that got it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the idempotency store {location}: {source}{}", open_hint(.source))]
    Open {
        location: String,
        #[source]
        source: Box<redb::DatabaseError>,
    },
    /// The file exists but is not a valid store; the gateway refuses to
    /// start on it (a replay of a key it recorded would allocate again).
    #[error(
        "{location} exists but is not a valid idempotency store: {reason}. Restore the right \
         file (or fix [idempotency] path). To give up what it recorded, start with \
         --start-fresh-if-invalid (or [idempotency] start_fresh_if_invalid = true): the file is \
         moved aside to {location}.invalid-<time> and an empty store is created; a retry of a \
         key recorded in it would allocate again"
    )]
    Invalid { location: String, reason: String },
    /// A transaction failed.
    #[error("idempotency store {location}: {op} failed: {source}")]
    Database {
        location: String,
        op: &'static str,
        #[source]
        source: Box<redb::Error>,
    },
    /// The store cannot be used for now (a write failed, e.g. the disk is
    /// full); it is reopened in the background.
    #[error("idempotency store {location} is unavailable: {reason}")]
    Unavailable { location: String, reason: String },
    /// The byte bound is reached: new keys are refused.
    #[error(
        "idempotency store {location} is full ({bytes} of {max_bytes} bytes): new keys are \
         refused until records expire (raise [idempotency] max_bytes, or set evict_completed = \
         true to evict the oldest completed records)"
    )]
    Full {
        location: String,
        bytes: u64,
        max_bytes: u64,
    },
    /// The store was closed (the gateway is stopping).
    #[error("idempotency store {location} is closed")]
    Closed { location: String },
    /// A stored record could not be decoded. The key stays unusable (rather
    /// than risking a second allocation) until the record is removed.
    #[error("idempotency store {location}: the record of key {key:?} is unreadable: {reason}")]
    CorruptRecord {
        location: String,
        key: String,
        reason: String,
    },
    /// A record could not be encoded (e.g. a time before 1970).
    #[error("idempotency store {location}: cannot store the record of key {key:?}: {reason}")]
    Encode {
        location: String,
        key: String,
        reason: String,
    },
    /// The database file is damaged: redb failed inside an operation (it
    /// panics on some corrupt pages; the panic is caught). The store refuses
    /// every later call rather than risk a second allocation.
    #[error(
        "idempotency store {location} is unusable: {reason} (restore or move away the file and \
         restart; moving it away forgets every recorded key)"
    )]
    Damaged { location: String, reason: String },
    /// The call does not fit the key's current record: another fingerprint,
    /// or a change to a completed record. Nothing was changed.
    #[error("idempotency store {location}: cannot {op} key {key:?}: {reason}")]
    Conflict {
        location: String,
        key: String,
        op: &'static str,
        reason: String,
    },
    /// Fleet mode: another gateway took the key over after this one's lease
    /// ran out; the fencing token refused this late write.
    #[error(
        "idempotency store {location}: key {key:?} was taken over by another gateway; this late \
         {op} was refused by the fencing token"
    )]
    Fenced {
        location: String,
        key: String,
        op: &'static str,
    },
}

impl StoreError {
    /// The kind of failure, as the metrics name it
    /// (`ipalloc_store_operation_errors_total{error}`); `None` for a
    /// refusal of the record's state machine (a conflict), which is an
    /// answer, not a failure of the store.
    pub fn metric_kind(&self) -> Option<&'static str> {
        Some(match self {
            StoreError::Open { .. } => "open",
            StoreError::Invalid { .. } => "invalid",
            StoreError::Database { .. } => "database",
            StoreError::Unavailable { .. } => "unavailable",
            StoreError::Full { .. } => "full",
            StoreError::Closed { .. } => "closed",
            StoreError::CorruptRecord { .. } => "corrupt_record",
            StoreError::Encode { .. } => "encode",
            StoreError::Damaged { .. } => "damaged",
            StoreError::Fenced { .. } => "fenced",
            StoreError::Conflict { .. } => return None,
        })
    }
}

fn open_hint(error: &redb::DatabaseError) -> &'static str {
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen => {
            " (another gateway process, or another store in this process, has it open)"
        }
        _ => "",
    }
}
