//! The PostgreSQL test harness itself: the test database exists and takes
//! tables, a fresh one is empty and separate, the databases of test runs
//! that died are dropped, the watcher drops a run's databases once it has
//! exited, and the TCP proxy cuts and restores connections.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::postgres::{self, TestDatabase};
use common::tcp_proxy::TcpProxy;

/// Whether the server has a database called `name`.
async fn exists(name: &str) -> bool {
    let admin = postgres::connect(&postgres::server_url()).await;
    let row = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    row.get::<_, i64>(0) == 1
}

/// Polls `check` every 100 ms until it holds, for at most `bound`.
async fn eventually<F: std::future::Future<Output = bool>>(
    bound: Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check().await
}

#[tokio::test]
async fn the_test_database_exists_and_takes_tables() {
    let db = postgres::database().await;
    let prefix = format!("ipalloc_test_{}_", std::process::id());
    let suffix = db.name.strip_prefix(&prefix).expect("named after the pid");
    assert_eq!(suffix.len(), 8, "{}", db.name);
    assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{}", db.name);
    assert!(db.url.ends_with(&format!("/{}", db.name)), "{}", db.url);
    assert!(exists(&db.name).await);
    // Once per run: the same database every time.
    assert_eq!(postgres::database().await, db);
    assert!(std::ptr::eq(postgres::database().await, db));

    let client = db.client().await;
    let row = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), db.name);
    client
        .batch_execute("CREATE TABLE harness_check (id bigint PRIMARY KEY, note text)")
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO harness_check VALUES ($1, $2)",
            &[&7_i64, &"seven"],
        )
        .await
        .unwrap();
    let row = client
        .query_one("SELECT note FROM harness_check WHERE id = 7", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "seven");
}

#[tokio::test]
async fn a_fresh_database_is_empty_and_separate() {
    let shared = postgres::database().await;
    let fresh = postgres::fresh_database().await;
    assert_ne!(fresh.name, shared.name);
    assert!(exists(&fresh.name).await);
    let client = fresh.client().await;
    let row = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0, "no tables");
}

#[tokio::test]
async fn databases_of_test_runs_that_died_are_dropped() {
    // A process that ran and is gone: its pid runs no more.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = format!("ipalloc_test_{dead}_0badf00d");
    let admin = postgres::connect(&postgres::server_url()).await;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{stale}\""))
        .await
        .unwrap();
    assert!(exists(&stale).await);
    // Every creation drops stale databases first.
    let _fresh = postgres::fresh_database().await;
    assert!(!exists(&stale).await, "{stale} was not dropped");
}

#[tokio::test]
async fn the_watcher_drops_a_runs_databases_once_it_has_exited() {
    // Stand-in for a test binary: a process that lives 2 s.
    let mut run = std::process::Command::new("sleep")
        .arg("2")
        .spawn()
        .unwrap();
    let pid = run.id();
    let names = [
        format!("ipalloc_test_{pid}_00000001"),
        format!("ipalloc_test_{pid}_00000002"),
    ];
    let admin = postgres::connect(&postgres::server_url()).await;
    for name in &names {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
    }
    postgres::spawn_watcher(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in &names {
        assert!(exists(name).await, "{name} dropped while its run lives");
    }
    tokio::task::spawn_blocking(move || run.wait().unwrap())
        .await
        .unwrap();
    for name in &names {
        let gone = eventually(Duration::from_secs(20), || async { !exists(name).await }).await;
        assert!(gone, "{name} still exists 20 s after its run exited");
    }
}

/// A query through `client`, bounded in time.
async fn select_one(client: &tokio_postgres::Client) -> Result<i32, String> {
    match tokio::time::timeout(Duration::from_secs(5), client.query_one("SELECT 1", &[])).await {
        Ok(Ok(row)) => Ok(row.get(0)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer in 5 s".to_owned()),
    }
}

/// A connection to `url`, bounded in time.
async fn try_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.connect_timeout(Duration::from_secs(5));
    match tokio::time::timeout(
        Duration::from_secs(5),
        config.connect(tokio_postgres::NoTls),
    )
    .await
    {
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            Ok(client)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no connection in 5 s".to_owned()),
    }
}

#[tokio::test]
async fn the_proxy_cuts_and_restores_connections() {
    let db: &TestDatabase = postgres::database().await;
    let proxy = TcpProxy::start(postgres::server_addr()).await;
    let url = db.url_via(proxy.addr());
    assert!(url.contains(&proxy.addr().to_string()), "{url}");
    assert_eq!(proxy.connections(), 0);

    let before = try_connect(&url).await.unwrap();
    assert_eq!(select_one(&before).await, Ok(1));
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.open(), 1);

    proxy.cut();
    assert!(proxy.is_cut());
    let error = select_one(&before)
        .await
        .expect_err("a cut connection fails");
    assert!(
        !error.contains("no answer"),
        "fails at once, not by timeout: {error}"
    );
    assert!(before.is_closed());
    let refused = try_connect(&url).await.expect_err("refused while cut");
    assert!(
        !refused.contains("no connection in"),
        "refused at once: {refused}"
    );
    assert!(proxy.refused() >= 1);
    let drained = eventually(Duration::from_secs(5), || async { proxy.open() == 0 }).await;
    assert!(drained, "{} still open", proxy.open());

    proxy.restore();
    assert!(!proxy.is_cut());
    let after = try_connect(&url).await.unwrap();
    assert_eq!(select_one(&after).await, Ok(1));
    assert_eq!(proxy.connections(), 2);
    // The database is the test database, reached through the proxy.
    let row = after
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), db.name);

    // Dropped: the proxy stops, its connections with it.
    drop(proxy);
    let error = select_one(&after).await.expect_err("the proxy is gone");
    assert!(!error.is_empty());
}

#[test]
fn urls_are_rewritten_keeping_user_and_options() {
    use postgres::{owner_pid, with_database, with_host};
    assert_eq!(
        with_database(postgres::DEFAULT_URL, "ipalloc_test_1_ab"),
        "postgres://postgres@127.0.0.1:5432/ipalloc_test_1_ab"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1?application_name=x", "d"),
        "postgres://u:p@h:1/d?application_name=x"
    );
    assert_eq!(with_database("postgresql://h/old", "d"), "postgresql://h/d");
    assert_eq!(
        with_host("postgres://u:p@h:1/d?x=y", "127.0.0.1:9"),
        "postgres://u:p@127.0.0.1:9/d?x=y"
    );
    assert_eq!(
        with_host("postgres://h/d", "127.0.0.1:9"),
        "postgres://127.0.0.1:9/d"
    );
    assert_eq!(owner_pid("ipalloc_test_123_0a1b2c3d"), Some(123));
    assert_eq!(owner_pid("ipalloc_test_x_0a"), None);
    assert_eq!(owner_pid("ipalloc_test_12_"), None);
    assert_eq!(owner_pid("other_12_ab"), None);
    assert_eq!(
        postgres::cluster_table("postgres://h/d", "pool_size = 2"),
        "[cluster]\npostgres_url = \"postgres://h/d\"\ntls = \"disable\"\npool_size = 2\n"
    );
}

#[test]
fn the_blocking_form_gives_the_same_database() {
    let db = postgres::database_blocking();
    assert!(
        db.name
            .starts_with(&format!("ipalloc_test_{}_", std::process::id()))
    );
    assert!(std::ptr::eq(postgres::database_blocking(), db));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(std::ptr::eq(runtime.block_on(postgres::database()), db));
}
