//! Errors of fleet mode's database: what failed and why, never a password
//! or the connection URL (which may hold one).

/// A database call that failed. Nothing in it is secret: messages come from
/// the server's error fields or the client's description of a connection
/// failure, neither of which repeats the password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// No connection could be had (refused, timed out, TLS, authentication).
    #[error("the fleet database is unreachable ({op}): {detail}")]
    Unreachable { op: &'static str, detail: String },
    /// A statement ran longer than `[cluster] statement_timeout_ms`.
    #[error("the fleet database did not answer {op} within {timeout_ms} ms")]
    Timeout { op: &'static str, timeout_ms: u64 },
    /// The server refused a statement.
    #[error("the fleet database refused {op}: {detail}")]
    Refused { op: &'static str, detail: String },
    /// The database holds a newer schema than this gateway knows.
    #[error(
        "the fleet database's ipalloc schema is at version {found}, newer than this gateway's \
         ({known}): upgrade the gateway (every replica), or point [cluster] postgres_url at \
         another database"
    )]
    SchemaNewer { found: i32, known: i32 },
    /// The TLS configuration cannot be built (a bad CA file).
    #[error("fleet database TLS: {0}")]
    Tls(String),
    /// An answer that does not have the expected shape.
    #[error("the fleet database answered {op} unexpectedly: {detail}")]
    Unexpected { op: &'static str, detail: String },
}

impl ClusterError {
    /// Whether the error says the database cannot be reached (health turns
    /// NOT_SERVING), rather than refusing one statement.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClusterError::Unreachable { .. } | ClusterError::Timeout { .. }
        )
    }

    /// The kind of failure, as the metrics name it
    /// (`ipalloc_store_operation_errors_total{error}`).
    pub fn metric_kind(&self) -> &'static str {
        match self {
            ClusterError::Unreachable { .. } => "unreachable",
            ClusterError::Timeout { .. } => "timeout",
            ClusterError::Refused { .. } => "refused",
            ClusterError::SchemaNewer { .. } => "schema_newer",
            ClusterError::Tls(_) => "tls",
            ClusterError::Unexpected { .. } => "unexpected",
        }
    }

    /// The error of a failed statement or connection.
    pub(crate) fn from_postgres(op: &'static str, error: &tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => ClusterError::Refused {
                op,
                detail: format!("{} ({})", db.message(), db.code().code()),
            },
            None => ClusterError::Unreachable {
                op,
                detail: describe(error),
            },
        }
    }
}

/// A client-side error and its causes, as one line.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    // Bounded: error chains are short, and each level is one line.
    for _ in 0..4 {
        let Some(cause) = source else { break };
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
