//! The gateway under test: the release binary `ipalloc-gateway` as a child
//! process, configured with both providers on the fake provider (limits far
//! above the load, so the gateway itself is measured, not its rate
//! limiter) and the in-memory or the file store, or fleet mode (`[cluster]`
//! on the bench's PostgreSQL database); its start-to-SERVING time (spawn
//! until the gRPC health check answers SERVING); its idle RSS (`VmRSS` a
//! second after SERVING, before any call); and its clean stop
//! (SIGTERM, no drain period) with, in fleet mode, the statements it sent
//! for calls, read from the line its database pool logs when it closes
//! (target `ipalloc_gateway::cluster::database`, field `statements`:
//! health checks left out).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipalloc_gateway::emulator::{aliyun, zenlayer};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::BoxError;
use crate::scenario::Store;
use crate::server::Server;

/// Longest wait for SERVING, and the pause between health checks.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_POLL: Duration = Duration::from_millis(1);

/// How long the gateway idles after SERVING before its idle RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(1);

/// Longest wait for the exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The log line of the fleet database pool's close, and its field.
const DATABASE_TARGET: &str = "ipalloc_gateway::cluster::database";
const CLOSING_MESSAGE: &str = "fleet database: closing the pool";
const STATEMENTS_FIELD: &str = "statements=";

/// The gateway binary: `explicit`, or `ipalloc-gateway` in the target
/// directory this example runs from (`target/release/examples/bench` ->
/// `target/release/ipalloc-gateway`).
pub fn binary(explicit: Option<&Path>) -> Result<PathBuf, BoxError> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("ipalloc-gateway"))
        .ok_or("cannot tell the target directory from this executable's path")?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first with `cargo build --release` (or pass --gateway PATH)",
            path.display()
        )
        .into())
    }
}

/// A started gateway.
pub struct Started {
    pub server: Server,
    pub start_to_serving: Duration,
    /// RSS (`VmRSS`) a second after SERVING, before any call.
    pub idle_rss: u64,
    pub log: GatewayLog,
}

/// The directory holding a gateway's config, log and store, and its log.
pub struct GatewayLog {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl GatewayLog {
    /// The last `bytes` of the log.
    fn tail(&self, bytes: usize) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut start = text.len().saturating_sub(bytes);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }
}

/// Starts `binary` in front of `provider` with `store` (for
/// [`Store::Postgres`], on the database at `postgres_url`); waits for
/// SERVING.
pub async fn start(
    binary: &Path,
    provider: &str,
    store: Store,
    log_level: &str,
    postgres_url: Option<&str>,
    worker_threads: u16,
) -> Result<Started, BoxError> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut log_level = log_level.to_owned();
    let (store_path, cluster) = match store {
        Store::Memory => (String::new(), String::new()),
        Store::File => (
            format!("path = {:?}\n", dir.path().join("idempotency.redb")),
            String::new(),
        ),
        Store::Postgres => {
            let url = postgres_url.ok_or("the postgres store needs the database URL")?;
            // The pool's closing line carries the statement count: logged
            // whatever --gateway-log says. The purge (a counted statement)
            // never runs during a scenario.
            log_level.push_str(&format!(",{DATABASE_TARGET}=info"));
            (
                String::new(),
                format!(
                    "[cluster]\npostgres_url = {url:?}\ntls = \"disable\"\n\
                     replica_id = \"bench\"\npool_size = 16\nreplicas = 1\n\
                     purge_interval_ms = 86400000\n"
                ),
            )
        }
    };
    let limits = "rate_per_second = 100000\nburst = 100000\nmax_concurrency = 1024\n";
    // No drain period: the bench stops the gateway only once its load ended.
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[log]\nlevel = {log_level:?}\n\
         [idempotency]\n{store_path}max_bytes = {max_bytes}\n\
         [server]\nshutdown_drain_ms = 0\n{cluster}\
         [admin]\nlisten = \"127.0.0.1:0\"\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{provider}\"\n\
         access_key_id = \"{zl_id}\"\naccess_key_password = \"{zl_password}\"\n{limits}\
         [providers.aliyun]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\nendpoint = \"{provider}\"\n\
         access_key_id = \"{ali_id}\"\naccess_key_secret = \"{ali_secret}\"\n{limits}",
        max_bytes = 1u64 << 34,
        zl_id = zenlayer::SANDBOX_ACCESS_KEY_ID,
        zl_password = zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
        ali_id = aliyun::SANDBOX_ACCESS_KEY_ID,
        ali_secret = aliyun::SANDBOX_ACCESS_KEY_SECRET,
    );
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(&config_path, config)?;
    let log_path = dir.path().join("gateway.log");
    let log_file = std::fs::File::create(&log_path)?;
    let log = GatewayLog {
        path: log_path,
        _dir: dir,
    };

    let spawned = Instant::now();
    let mut command = Command::new(binary);
    // Only the config file configures it: the gateway reads IPALLOC_*
    // (and refuses the ones it does not know, such as the bench's own).
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("IPALLOC_") {
            command.env_remove(name);
        }
    }
    let child = command
        .arg("--config")
        .arg(&config_path)
        .arg("--worker-threads")
        .arg(worker_threads.to_string())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut server = Server::new(child, format!("http://127.0.0.1:{port}"));
    loop {
        if serving(&server.endpoint).await {
            break;
        }
        let log_tail = || log.tail(2000);
        if let Some(status) = server.exited() {
            return Err(format!(
                "the gateway exited ({status}) before SERVING:\n{}",
                log_tail()
            )
            .into());
        }
        if spawned.elapsed() > START_TIMEOUT {
            return Err(format!(
                "the gateway was not SERVING after {START_TIMEOUT:?}:\n{}",
                log_tail()
            )
            .into());
        }
        tokio::time::sleep(START_POLL).await;
    }
    let start_to_serving = spawned.elapsed();
    // Idle: SERVING, no call yet, its start-up work settled.
    tokio::time::sleep(IDLE_SETTLE).await;
    let idle_rss = server.rss()?;
    Ok(Started {
        server,
        start_to_serving,
        idle_rss,
        log,
    })
}

/// Stops a gateway with SIGTERM and waits for its exit; in fleet mode,
/// returns the statements it sent for calls (`None` without the line).
pub async fn stop(mut server: Server, log: &GatewayLog) -> Result<Option<u64>, BoxError> {
    let status = server
        .terminate(STOP_TIMEOUT)
        .await
        .map_err(|e| format!("stopping the gateway: {e}:\n{}", log.tail(2000)))?;
    if !status.success() {
        eprintln!(
            "the gateway exited with {status} after SIGTERM:\n{}",
            log.tail(2000)
        );
    }
    let text = std::fs::read_to_string(&log.path)?;
    Ok(statements(&text))
}

/// `N` of the last `statements=N` on the pool's closing line.
fn statements(log: &str) -> Option<u64> {
    log.lines()
        .filter(|line| line.contains(DATABASE_TARGET) && line.contains(CLOSING_MESSAGE))
        .filter_map(|line| {
            let (_, after) = line.rsplit_once(STATEMENTS_FIELD)?;
            let digits = after.split(|c: char| !c.is_ascii_digit()).next()?;
            digits.parse().ok()
        })
        .next_back()
}

/// One health check of the whole server (`service = ""`).
async fn serving(endpoint: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(endpoint.to_owned()) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(1))
        .connect()
        .await
    else {
        return false;
    };
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    answer.is_ok_and(|a| a.into_inner().status == ServingStatus::Serving as i32)
}
