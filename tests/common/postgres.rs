//! The test database every PostgreSQL test uses.
//!
//! The server is `IPALLOC_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust authentication).
//! [`database`] creates one database per test binary run, named
//! `ipalloc_test_<pid>_<8 hex>`; [`fresh_database`] creates another, empty,
//! for a test that needs its own. Rust tests have no global teardown, so a
//! watcher process (`sh`, one per test binary) waits for the binary to exit
//! and then drops every `ipalloc_test_<pid>_*` database; and each creation
//! first drops the databases of test binaries that no longer run (killed
//! before their watcher could finish; the pids are this machine's, so a
//! server shared by several machines needs one URL per machine).
//!
//! A server that does not answer is a loud failure naming the command that
//! starts it, never a skipped test.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

/// The server used when `IPALLOC_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The prefix of every test database's name.
pub const PREFIX: &str = "ipalloc_test_";

/// How to start the local server, for failure messages.
pub const START_COMMAND: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// Longest wait for a connection or one administrative statement.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The watcher gives up after this many seconds (a day) even if the test
/// binary still runs: every loop is bounded.
const WATCH_MAX_SECONDS: u32 = 86_400;

/// One database on the test server, dropped after the test binary exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDatabase {
    /// `postgres://...@host:port/<name>`: the server's URL with this
    /// database (and the server URL's options, if any).
    pub url: String,
    /// `ipalloc_test_<pid>_<8 hex>`.
    pub name: String,
}

impl TestDatabase {
    /// A connection to this database, for assertions; its connection task
    /// runs on the caller's runtime.
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// [`TestDatabase::url`] reaching the server through `addr` instead
    /// (a [`super::tcp_proxy::TcpProxy`] in front of it).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        with_host(&self.url, &addr.to_string())
    }

    /// A `[cluster]` table for the gateway on this database: plain TCP (the
    /// test server has no TLS), then the `extra` lines.
    pub fn cluster_table(&self, extra: &str) -> String {
        cluster_table(&self.url, extra)
    }
}

/// A `[cluster]` table for the gateway on the database at `url`: plain TCP,
/// then the `extra` lines.
pub fn cluster_table(url: &str, extra: &str) -> String {
    format!("[cluster]\npostgres_url = \"{url}\"\ntls = \"disable\"\n{extra}\n")
}

/// The test server's URL (`IPALLOC_TEST_POSTGRES_URL`, or [`DEFAULT_URL`]).
pub fn server_url() -> String {
    std::env::var("IPALLOC_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// The address of the test server (its first host and port), for a proxy.
pub fn server_addr() -> SocketAddr {
    let url = server_url();
    let config = tokio_postgres::Config::from_str(&url)
        .unwrap_or_else(|_| panic!("IPALLOC_TEST_POSTGRES_URL is not a PostgreSQL URL"));
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => panic!("the test server must be reached over TCP (host:port in the URL)"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .unwrap_or_else(|_| panic!("the test server's host must be an IP address, not {host}"))
}

/// The database of this test binary run.
static DATABASE: OnceLock<TestDatabase> = OnceLock::new();

/// The database of this test binary run, created on first use.
pub async fn database() -> &'static TestDatabase {
    if let Some(database) = DATABASE.get() {
        return database;
    }
    joined(tokio::task::spawn_blocking(|| DATABASE.get_or_init(create_on_own_thread)).await)
}

/// [`database`], for a test that is not async.
pub fn database_blocking() -> &'static TestDatabase {
    DATABASE.get_or_init(create_on_own_thread)
}

/// A new, empty database of its own (dropped like [`database`]'s).
pub async fn fresh_database() -> TestDatabase {
    joined(tokio::task::spawn_blocking(create_on_own_thread).await)
}

/// The value of a blocking task; its panic (the server does not answer)
/// goes on with its own message.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("creating the test database: {e}"),
        },
    }
}

/// Creates a database on a thread of its own, with its own runtime, so that
/// nothing it starts depends on the runtime of the test that asked.
fn create_on_own_thread() -> TestDatabase {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(create())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

async fn create() -> TestDatabase {
    let server = server_url();
    let admin = connect(&server).await;
    drop_stale_databases(&admin).await;
    start_watcher();
    let name = format!(
        "{PREFIX}{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    within(admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    TestDatabase {
        url: with_database(&server, &name),
        name,
    }
}

/// Drops the test databases whose test binary no longer runs.
async fn drop_stale_databases(admin: &Client) {
    let rows = within(admin.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'ipalloc\\_test\\_%'",
        &[],
    ))
    .await
    .unwrap_or_else(|e| panic!("cannot list the test databases: {e}"));
    for row in rows {
        let name: String = row.get(0);
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if process_runs(pid) {
            continue;
        }
        // Another binary may drop it at the same moment: not an error.
        let _ = within(
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")),
        )
        .await;
    }
}

/// The pid in `ipalloc_test_<pid>_<hex>`.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, suffix) = rest.split_once('_')?;
    (!suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

fn process_runs(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The watcher of this test binary, started once.
fn start_watcher() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| spawn_watcher(std::process::id()));
}

/// Starts a process that waits until `pid` has exited, then drops every
/// `ipalloc_test_<pid>_*` database. Its own process group, so a Ctrl-C of
/// the test run does not stop it; the server URL goes in its environment,
/// not its command line.
pub fn spawn_watcher(pid: u32) {
    let script = format!(
        r#"i=0
while kill -0 {pid} 2>/dev/null && [ "$i" -lt {WATCH_MAX_SECONDS} ]; do sleep 1; i=$((i+1)); done
psql "$WATCH_POSTGRES_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'ipalloc\_test\_{pid}\_%'" |
while read -r name; do
  psql "$WATCH_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)"
done"#
    );
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .env("WATCH_POSTGRES_URL", server_url())
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut watcher = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the test database watcher (sh): {e}"));
    // Reaped should it end first (it outlives this binary otherwise).
    std::thread::spawn(move || {
        let _ = watcher.wait();
    });
}

/// A connection to `url` (plain TCP), its connection task on the current
/// runtime; a server that does not answer fails loudly, with the fix.
pub async fn connect(url: &str) -> Client {
    let mut config = tokio_postgres::Config::from_str(url)
        .unwrap_or_else(|_| panic!("IPALLOC_TEST_POSTGRES_URL is not a PostgreSQL URL"));
    config.connect_timeout(TIMEOUT);
    match within(config.connect(NoTls)).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        }
        Err(e) => panic!(
            "PostgreSQL at {} does not answer for the tests ({e}).\n\
             The tests need a server at IPALLOC_TEST_POSTGRES_URL (default {DEFAULT_URL}, \
             trust authentication for user postgres).\n\
             Start the local one: {START_COMMAND}\n\
             Check it: pg_isready -h 127.0.0.1 -p 5432",
            where_is(&config)
        ),
    }
}

/// `host:port` of a connection configuration (never its password).
fn where_is(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "?".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// `future`, or a timeout error after [`TIMEOUT`].
async fn within<T>(
    future: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, future).await {
        // With the cause: the server's own words, or the socket's error.
        Ok(result) => result.map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// `url` (`scheme://[user@]host[:port][/db][?options]`) with the database
/// `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (head, rest) = split_authority(url);
    let (_, options) = match rest.split_once('?') {
        Some((path, options)) => (path, Some(options)),
        None => (rest, None),
    };
    match options {
        Some(options) => format!("{head}/{name}?{options}"),
        None => format!("{head}/{name}"),
    }
}

/// `url` reaching `host_port` instead of its own host and port.
pub fn with_host(url: &str, host_port: &str) -> String {
    let (head, rest) = split_authority(url);
    let (scheme, authority) = head.split_once("://").unwrap_or(("postgres", head));
    let user = authority.split_once('@').map(|(user, _)| user);
    match user {
        Some(user) => format!("{scheme}://{user}@{host_port}{rest}"),
        None => format!("{scheme}://{host_port}{rest}"),
    }
}

/// `(scheme://user@host:port, /db?options)`.
fn split_authority(url: &str) -> (&str, &str) {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let after_scheme = &url[scheme_end..];
    let credentials_end = after_scheme.find('@').map_or(0, |i| i + 1);
    let host_start = scheme_end + credentials_end;
    let path_start = url[host_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| host_start + i);
    url.split_at(path_start)
}
