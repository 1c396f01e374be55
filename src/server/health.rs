//! The health service's status: SERVING while the idempotency store is
//! usable, NOT_SERVING while it is not (a file store being reopened after an
//! I/O error) and from the moment shutdown begins.
//!
//! Both the API service and the overall status `""` follow the store:
//! without it no AllocateIp can be served (each would answer
//! IDEMPOTENCY_STORE_UNAVAILABLE), and `""` is what Kubernetes gRPC probes
//! and most load balancers check by default.

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::IpAllocationService;
use crate::pb::ip_allocation_server::IpAllocationServer;

/// Sets both statuses.
pub async fn set(health: &HealthReporter, serving: bool) {
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

/// Follows the store's usability until `stop` changes.
pub async fn follow_store(
    health: HealthReporter,
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
        set(&health, usable).await;
    }
}
