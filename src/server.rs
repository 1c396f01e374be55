//! Serving: builds the provider registry from configuration, and runs the
//! gRPC server (IpAllocation, health, reflection v1 and v1alpha) on a bound
//! listener until a shutdown future completes, so tests can run it on port 0.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::IpAllocationService;
use crate::api::allocate::Allocator;
use crate::api::catch_panic::CatchPanicLayer;
use crate::api::grpc_guard::GrpcGuardLayer;
use crate::api::shed::LoadShedLayer;
use crate::config::{Config, IdempotencyConfig, ProviderConfig, ServerConfig};
use crate::idempotency::{IdempotencyStore, InFlightRegistry, StoreError};
use crate::pb;
use crate::pb::ip_allocation_server::IpAllocationServer;
use crate::provider::aliyun::AliyunProvider;
use crate::provider::zenlayer::ZenlayerProvider;
use crate::provider::{Provider, ProviderError, Registry};

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
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Creates one adapter (and so one HTTP client) per configured provider.
pub fn build_registry(configs: &[ProviderConfig]) -> Result<Registry, ServeError> {
    let mut providers: Vec<Arc<dyn Provider>> = Vec::with_capacity(configs.len());
    for config in configs {
        let wrap = |source| ServeError::Provider {
            name: config.name().to_owned(),
            source: Box::new(source),
        };
        let provider: Arc<dyn Provider> = match config {
            ProviderConfig::Aliyun(settings) => {
                Arc::new(AliyunProvider::new(settings.clone()).map_err(wrap)?)
            }
            ProviderConfig::Zenlayer(settings) => {
                Arc::new(ZenlayerProvider::new(settings.clone()).map_err(wrap)?)
            }
        };
        providers.push(provider);
    }
    Ok(Registry::new(providers)?)
}

/// Everything the server needs, built once from configuration.
pub struct Gateway {
    pub registry: Arc<Registry>,
    pub allocator: Arc<Allocator>,
    pub server: ServerConfig,
}

impl Gateway {
    /// Providers (one HTTP client and one resilience stack each), the
    /// idempotency store, and each provider's follow settings.
    pub fn build(config: &Config) -> Result<Gateway, ServeError> {
        Gateway::from_parts(&config.providers, &config.idempotency, config.server)
    }

    pub fn from_parts(
        providers: &[ProviderConfig],
        idempotency: &IdempotencyConfig,
        server: ServerConfig,
    ) -> Result<Gateway, ServeError> {
        let registry = Arc::new(build_registry(providers)?);
        let store = IdempotencyStore::open_with(&idempotency.store_options())?;
        Gateway::with_store(registry, store, providers, server)
    }

    /// The gateway around an already opened store (tests use it to inject
    /// store faults).
    pub fn with_store(
        registry: Arc<Registry>,
        store: IdempotencyStore,
        providers: &[ProviderConfig],
        server: ServerConfig,
    ) -> Result<Gateway, ServeError> {
        let allocator = Arc::new(Allocator {
            store,
            inflight: InFlightRegistry::new(),
            follow: providers
                .iter()
                .map(|p| (p.name().to_owned(), p.follow()))
                .collect(),
        });
        Ok(Gateway {
            registry,
            allocator,
            server,
        })
    }
}

/// How often expired idempotency records are purged.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Serves the gateway on `listener` until `shutdown` completes, then drains
/// in-flight calls. Health turns NOT_SERVING as soon as shutdown begins.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Gateway {
        registry,
        allocator,
        server,
    } = gateway;
    let (health, health_service) = tonic_health::server::health_reporter();
    // SERVING while the idempotency store is usable (see follow_store_health).
    let store = allocator.store.clone();
    let usable = *store.health().borrow();
    set_health(&health, usable).await;
    let (stop_following, stopped_following) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(follow_store_health(
        health.clone(),
        store.health(),
        stopped_following,
    ));

    let reflection = || {
        // Both reflection services list both reflection APIs, so any client
        // (grpcurl 1.8 speaks only v1alpha) sees the whole server.
        tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let purger = tokio::spawn(purge_expired(allocator.store.clone()));
    let service = IpAllocationServer::new(
        IpAllocationService::new(registry, allocator)
            .with_watch_lifetime(server.watch_max_lifetime),
    )
    .max_decoding_message_size(server.max_request_bytes);

    let draining = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight calls");
        // Store health no longer changes the status once shutdown began.
        let _ = stop_following.send(true);
        let _ = following.await;
        health
            .set_not_serving::<IpAllocationServer<IpAllocationService>>()
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };

    let served = Server::builder()
        // More streams per connection than the cap: a call over the cap must
        // reach the gateway and be shed, not queue in the client (h2 clients
        // assume 100 streams when the server does not say).
        .max_concurrent_streams(
            u32::try_from(server.max_concurrent_calls.saturating_mul(2).max(1024))
                .unwrap_or(u32::MAX),
        )
        // Refuse non-gRPC requests; give library-made statuses an ErrorInfo.
        .layer(GrpcGuardLayer::new(server.max_request_bytes))
        // Shed calls over the cap at once instead of queueing them; a call
        // (a watch's stream included) holds its slot until its body ends.
        .layer(LoadShedLayer::new(server.max_concurrent_calls))
        // Inside the cap: a panicking handler answers INTERNAL with
        // ErrorInfo, and its slot is released like any other call's.
        .layer(CatchPanicLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(
            // TCP_NODELAY: without it small responses can wait ~40 ms for a
            // delayed ACK (Nagle), which the load benchmark showed at p99.
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            draining,
        )
        .await;
    purger.abort();
    // Closed on every way out, so the next start finds the file clean.
    store.close();
    served?;
    Ok(())
}

/// Both the API service and the overall status `""` follow the store:
/// without it no AllocateIp can be served (each would answer
/// IDEMPOTENCY_STORE_UNAVAILABLE), and `""` is what Kubernetes gRPC probes
/// and most load balancers check by default.
async fn set_health(health: &tonic_health::server::HealthReporter, serving: bool) {
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    health
        .set_service_status(
            <IpAllocationServer<IpAllocationService> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
    health.set_service_status("", status).await;
}

/// Turns health NOT_SERVING while the idempotency store is unusable (a file
/// store being reopened after an I/O error) and SERVING when it is back,
/// until `stop` changes.
async fn follow_store_health(
    health: tonic_health::server::HealthReporter,
    mut store: tokio::sync::watch::Receiver<bool>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = store.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        let usable = *store.borrow_and_update();
        if *stop.borrow() {
            return;
        }
        if usable {
            tracing::info!("health: SERVING (the idempotency store is usable again)");
        } else {
            tracing::warn!("health: NOT_SERVING (the idempotency store is unusable)");
        }
        set_health(&health, usable).await;
    }
}

/// Removes idempotency records past their retention, once an hour.
async fn purge_expired(store: IdempotencyStore) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
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

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
