//! Serving: builds the provider registry from configuration, and runs the
//! gRPC server (IpAllocation, health, reflection v1 and v1alpha) on a bound
//! listener until a shutdown future completes, so tests can run it on port 0.
//!
//! One file per concern:
//! - `listeners`: the sockets bound as configured (TCP, a Unix socket, the
//!   health-only port) and the `allow_insecure` warning;
//! - `unix_socket`: the Unix socket (stale file, mode, owner, removal);
//! - `tls`: TLS and mTLS, the files reloaded when they change;
//! - `transport`: a connection before HTTP/2 (TCP, TLS, Unix) and its peer;
//! - `peer`: the [`Peer`] every request carries (address, client
//!   certificate SANs, Unix socket credentials);
//! - `accept`: the accept loop (backs off when out of file descriptors);
//! - `connection`: one connection (handshake and idle timeouts, GOAWAY);
//! - `preface`: the HTTP/2 preface deadline;
//! - `http2`: the HTTP/2 settings (stream limit, keepalive);
//! - `arrival`: a call starts only once its request message has arrived;
//! - `end_streams`: server streams end with UNAVAILABLE when the gateway stops;
//! - `grpc_timeout`: the caller's `grpc-timeout` as a backstop;
//! - `layer`, `body`: the shape every layer of the inbound stack shares, and
//!   the response bodies they wrap (the access log and the API's shedder
//!   and panic guard use them too);
//! - `health`: health follows the idempotency store, NOT_SERVING on shutdown;
//! - `health_only`: the health-only port serves health alone;
//! - `drain`: the shutdown state shared with the allocation flow;
//! - `finishing`: work that runs in its caller's task and goes on when it is
//!   dropped (an allocation whose caller has gone);
//! - `signals`: SIGINT/SIGTERM handlers installed before binding;
//! - `serve`: the stack of layers and the shutdown sequence.

mod accept;
mod arrival;
pub(crate) mod body;
mod connection;
pub mod drain;
mod end_streams;
pub mod finishing;
mod grpc_timeout;
mod health;
mod health_only;
pub mod http2;
pub(crate) mod layer;
pub mod listeners;
pub mod peer;
mod preface;
mod serve;
pub mod signals;
pub mod tls;
mod transport;
pub mod unix_socket;

use std::sync::Arc;

pub use drain::Drain;
pub use listeners::{ListenError, Listeners};
pub use peer::{Peer, UnixPeer};
pub use serve::{serve, serve_on};
pub use signals::{Signals, StopSignal, shutdown_signal};

use crate::api::allocate::Allocator;
use crate::audit::Audit;
use crate::auth::Callers;
use crate::cluster::Cluster;
use crate::config::{Config, IdempotencyConfig, ProviderConfig, ServerConfig};
use crate::idempotency::{IdempotencyStore, InFlightRegistry, Records, StoreError};
use crate::middleware::FleetRate;
use crate::provider::registry::build_provider;
use crate::provider::{Provider, ProviderError, Registry};
use crate::spend::{Spend, SpendClock};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("provider {name}: {source}")]
    Provider {
        name: String,
        #[source]
        source: Box<ProviderError>,
    },
    #[error(transparent)]
    Registry(#[from] crate::provider::registry::DuplicateProvider),
    #[error("idempotency store: {0}")]
    Store(#[from] StoreError),
    /// The message names the key, not the path (no config value is echoed).
    #[error("idempotency.path: {problem}")]
    StorePath { problem: String },
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("fleet mode: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The message names the key and the path.
    #[error("server.unix_socket ({path}): {problem}")]
    UnixSocket { path: String, problem: String },
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The message names the key, not the path.
    #[error("audit.path: {problem}")]
    AuditPath { problem: String },
}

/// Creates one adapter (and so one HTTP client) per configured provider.
pub fn build_registry(configs: &[ProviderConfig]) -> Result<Registry, ServeError> {
    build_fleet_registry(configs, None)
}

/// [`build_registry`], each account's rate limit shared through `fleet`
/// (fleet mode) when given.
pub fn build_fleet_registry(
    configs: &[ProviderConfig],
    fleet: Option<&FleetRate>,
) -> Result<Registry, ServeError> {
    let mut providers: Vec<Arc<dyn Provider>> = Vec::with_capacity(configs.len());
    for config in configs {
        let provider = build_provider(config, fleet).map_err(|source| ServeError::Provider {
            name: config.name().to_owned(),
            source: Box::new(source),
        })?;
        providers.push(provider);
    }
    Ok(Registry::new(providers)?)
}

/// Everything start-up checks beyond the configuration itself, without
/// side effects (nothing bound, no store created): every provider adapter is
/// built (endpoints, credentials), the idempotency and audit paths are
/// usable, the TLS files load and nothing but a stale socket is at the Unix
/// socket's path. `--check-config` runs this; [`Gateway::build`] and
/// [`Listeners::bind`] check the same.
pub fn preflight(config: &Config) -> Result<(), ServeError> {
    build_registry(&config.providers)?;
    if let Some(path) = &config.idempotency.path {
        check_store_path(path)?;
    }
    if let Some(path) = &config.audit.path {
        check_file_path(path).map_err(|problem| ServeError::AuditPath { problem })?;
    }
    if let Some(files) = &config.tls {
        tls::ServerTls::load(files)?;
    }
    if let Some(socket) = &config.unix_socket {
        unix_socket::stale(&socket.path).map_err(|problem| ServeError::UnixSocket {
            path: socket.path.display().to_string(),
            problem,
        })?;
    }
    Ok(())
}

/// The store file's directory exists, and the file, if present, is a
/// regular file.
fn check_store_path(path: &std::path::Path) -> Result<(), ServeError> {
    check_file_path(path).map_err(|problem| ServeError::StorePath { problem })
}

/// What is wrong with `path` as the path of a file to create or open: its
/// directory must exist, and the file, if present, be a regular file.
fn check_file_path(path: &std::path::Path) -> Result<(), String> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err("its parent is not a directory".to_owned()),
        Err(_) => return Err("its directory does not exist; create it first".to_owned()),
    }
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err("exists and is not a regular file".to_owned()),
        _ => Ok(()),
    }
}

/// The single-node store `idempotency` names, its path checked first.
fn open_store(idempotency: &IdempotencyConfig) -> Result<IdempotencyStore, ServeError> {
    if let Some(path) = &idempotency.path {
        check_store_path(path)?;
    }
    Ok(IdempotencyStore::open_with(&idempotency.store_options())?)
}

/// Everything the server needs, built once from configuration.
pub struct Gateway {
    pub registry: Arc<Registry>,
    pub allocator: Arc<Allocator>,
    pub server: ServerConfig,
    /// Who may call (`[callers]`); none: everyone.
    pub callers: Arc<Callers>,
    /// Where `AllocateIp` outcomes are audited.
    pub audit: Audit,
}

impl Gateway {
    /// Providers (one HTTP client, one resilience stack and the follow
    /// settings each), the idempotency store, the callers, spend limits and
    /// audit trail.
    pub fn build(config: &Config) -> Result<Gateway, ServeError> {
        let registry = Arc::new(build_registry(&config.providers)?);
        let store = open_store(&config.idempotency)?;
        Gateway::assemble(registry, Records::Local(store), config)
    }

    /// The gateway of `config` around `registry` and `store`: its callers,
    /// spend limits and audit trail too.
    fn assemble(
        registry: Arc<Registry>,
        store: Records,
        config: &Config,
    ) -> Result<Gateway, ServeError> {
        let spend = config.spend.is_active().then(|| Spend {
            limits: config.spend.clone(),
            clock: SpendClock::default(),
        });
        let mut gateway = Gateway::with_records(registry, store, config.server, spend);
        gateway.callers = Arc::new(Callers::new(config.callers.clone()));
        gateway.audit = Audit::open(&config.audit)?;
        Ok(gateway)
    }

    /// [`Gateway::build`], or in fleet mode (`[cluster]`) the gateway on the
    /// shared database: connected, its schema migrated (or NOT_SERVING
    /// until it answers), the records and each account's rate limit shared.
    pub async fn start(config: &Config) -> Result<Gateway, ServeError> {
        let Some(cluster) = &config.cluster else {
            return Gateway::build(config);
        };
        let cluster = Cluster::start(cluster, config.idempotency.retention).await?;
        let fleet = FleetRate {
            rate: Arc::new(cluster.rate.clone()),
            replicas: cluster.replicas,
        };
        let registry = Arc::new(build_fleet_registry(&config.providers, Some(&fleet))?);
        Gateway::assemble(registry, Records::Shared(cluster.records.clone()), config)
    }

    pub fn from_parts(
        providers: &[ProviderConfig],
        idempotency: &IdempotencyConfig,
        server: ServerConfig,
    ) -> Result<Gateway, ServeError> {
        let registry = Arc::new(build_registry(providers)?);
        let store = open_store(idempotency)?;
        Gateway::with_store(registry, store, server)
    }

    /// The gateway around an already opened store (tests use it to inject
    /// store faults).
    pub fn with_store(
        registry: Arc<Registry>,
        store: IdempotencyStore,
        server: ServerConfig,
    ) -> Result<Gateway, ServeError> {
        Ok(Gateway::with_records(
            registry,
            Records::Local(store),
            server,
            None,
        ))
    }

    fn with_records(
        registry: Arc<Registry>,
        store: Records,
        server: ServerConfig,
        spend: Option<Spend>,
    ) -> Gateway {
        let allocator = Arc::new(Allocator {
            inflight: InFlightRegistry::new(),
            drain: Drain::new(),
            spend,
            inventory: crate::inventory::Inventory::for_records(&store),
            store,
        });
        Gateway {
            registry,
            allocator,
            server,
            callers: Arc::new(Callers::default()),
            audit: Audit::stderr(),
        }
    }

    /// The spend ledger's clock (tests move it ahead to see windows pass);
    /// `None` when no spend limit is configured.
    pub fn spend_clock(&self) -> Option<SpendClock> {
        self.allocator
            .spend
            .as_ref()
            .map(|spend| spend.clock.clone())
    }
}

/// How often expired idempotency records are purged.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes idempotency records past their retention, once an hour (in
/// fleet mode the cluster's maintenance task purges instead).
async fn purge_expired(store: Records, inventory: crate::inventory::Inventory) {
    let Some(store) = store.local().cloned() else {
        return;
    };
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        // Released allocations are listed for as long as keys are kept.
        let before = std::time::SystemTime::now()
            .checked_sub(store.retention())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        match inventory.purge_released(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged released allocations from the inventory"),
            Err(e) => tracing::warn!(error = %e, "purging the allocation inventory failed"),
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.purge_expired(std::time::SystemTime::now()))
            .await
        {
            Ok(Ok(purged)) if purged > 0 => {
                tracing::info!(purged, "purged expired idempotency records")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "purging idempotency records failed"),
            Err(e) => tracing::warn!(error = %e, "the purge task failed"),
        }
    }
}
