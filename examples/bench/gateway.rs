//! The gateway under test: the release binary `ipalloc-gateway` as a child
//! process, configured with both providers on the fake provider (limits far
//! above the load, so the gateway itself is measured, not its rate
//! limiter) and the in-memory or the file store; and its start-to-SERVING
//! time (spawn until the gRPC health check answers SERVING).

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

/// A started gateway and the directory holding its config, log and store.
pub struct Started {
    pub server: Server,
    pub start_to_serving: Duration,
    _dir: tempfile::TempDir,
}

/// Starts `binary` in front of `provider` with `store`; waits for SERVING.
pub async fn start(
    binary: &Path,
    provider: &str,
    store: Store,
    log_level: &str,
) -> Result<Started, BoxError> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let store_path = match store {
        Store::Memory => String::new(),
        Store::File => format!("path = {:?}\n", dir.path().join("idempotency.redb")),
    };
    let limits = "rate_per_second = 100000\nburst = 100000\nmax_concurrency = 1024\n";
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[log]\nlevel = {log_level:?}\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\
         [idempotency]\n{store_path}max_bytes = {max_bytes}\n\
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
    let log = std::fs::File::create(&log_path)?;

    let spawned = Instant::now();
    let child = Command::new(binary)
        .arg("--config")
        .arg(&config_path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut server = Server::new(child, format!("http://127.0.0.1:{port}"));
    loop {
        if serving(&server.endpoint).await {
            break;
        }
        let log_tail = || {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let start = text.len().saturating_sub(2000);
            text.get(start..).unwrap_or("").to_owned()
        };
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
    Ok(Started {
        server,
        start_to_serving: spawned.elapsed(),
        _dir: dir,
    })
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
