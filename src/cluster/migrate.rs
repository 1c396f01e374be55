//! Schema migrations of the fleet database, embedded in the binary: applied
//! in order at start-up (or by `ipalloc-gateway migrate`) under a session
//! advisory lock, so replicas starting together apply each once. A database
//! at a newer version than this binary knows is refused.

use super::database::Database;
use super::error::ClusterError;

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_fleet.sql"),
    include_str!("sql/0002_spend.sql"),
    include_str!("sql/0003_inventory.sql"),
];

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key of migrations (any constant shared by replicas).
const LOCK_KEY: i64 = 0x0069_7061_6c6c_6f63; // "ipalloc"

/// Brings the schema to [`SCHEMA_VERSION`]; returns the version found before.
pub async fn migrate(db: &Database) -> Result<i32, ClusterError> {
    let client = db.dedicated().await?;
    let fail = |op| move |e: tokio_postgres::Error| ClusterError::from_postgres(op, &e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(fail("migration lock"))?;
    let result = apply(&client).await;
    // Released on this connection even when a migration failed.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(fail("migration unlock"));
    let found = result?;
    unlocked?;
    Ok(found)
}

async fn apply(client: &tokio_postgres::Client) -> Result<i32, ClusterError> {
    let fail = |op| move |e: tokio_postgres::Error| ClusterError::from_postgres(op, &e);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ipalloc_schema (
                 version integer NOT NULL,
                 applied timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(fail("schema table"))?;
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM ipalloc_schema", &[])
        .await
        .map_err(fail("schema version"))?;
    let found: i32 = row.try_get(0).map_err(fail("schema version"))?;
    if found > SCHEMA_VERSION {
        return Err(ClusterError::SchemaNewer {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i32 + 1;
        // One transaction per version: a failure leaves the previous one.
        let script = format!(
            "BEGIN;\n{sql}\nINSERT INTO ipalloc_schema (version) VALUES ({version});\nCOMMIT;"
        );
        if let Err(e) = client.batch_execute(&script).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(ClusterError::from_postgres("migration", &e));
        }
        tracing::info!(version, "fleet database schema migrated");
    }
    Ok(found)
}

/// The version the database is at (0 when never migrated).
pub async fn version(db: &Database) -> Result<i32, ClusterError> {
    let client = db.dedicated().await?;
    let fail = |e: tokio_postgres::Error| ClusterError::from_postgres("schema version", &e);
    let exists: bool = client
        .query_one("SELECT to_regclass('ipalloc_schema') IS NOT NULL", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(fail)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one("SELECT coalesce(max(version), 0) FROM ipalloc_schema", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(fail)
}
