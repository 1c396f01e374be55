//! Serving: builds the provider registry from configuration, and runs the
//! gRPC server (IpAllocation, health, reflection v1 and v1alpha) on a bound
//! listener until a shutdown future completes, so tests can run it on port 0.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::IpAllocationService;
use crate::config::ProviderConfig;
use crate::pb;
use crate::pb::ip_allocation_server::IpAllocationServer;
use crate::provider::aliyun::AliyunProvider;
use crate::provider::zenlayer::ZenlayerProvider;
use crate::provider::{Provider, ProviderError, Registry};

/// Largest request message accepted (a full Zenlayer request with 50 tags of
/// 128 characters is about 14 KiB).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The fully qualified name of the service, as health checks name it.
pub const SERVICE_NAME: &str = "ipalloc.v1.IpAllocation";

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

/// Serves the gateway on `listener` until `shutdown` completes, then drains
/// in-flight calls. Health turns NOT_SERVING as soon as shutdown begins.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<IpAllocationServer<IpAllocationService>>()
        .await;
    health.set_service_status("", ServingStatus::Serving).await;

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

    let service = IpAllocationServer::new(IpAllocationService::new(registry))
        .max_decoding_message_size(MAX_REQUEST_BYTES);

    let draining = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight calls");
        health
            .set_not_serving::<IpAllocationServer<IpAllocationService>>()
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };

    Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            draining,
        )
        .await?;
    Ok(())
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
