//! `serve`: the gRPC services behind their layers, on our own accept loops
//! (one per listener: the API on TCP and/or a Unix socket, and the
//! health-only port, see `listeners`), and the shutdown sequence.
//!
//! Layers, outermost first (each request passes them in this order):
//! 1. connection tracking (`connection`): counts open streams for the idle
//!    timeout, adds the peer address;
//! 2. access log (`logging::access`): one line per RPC, so it sees every
//!    answer below, shed calls and body timeouts included;
//! 3. stream ending (`end_streams`): long server streams end with
//!    UNAVAILABLE when the gateway stops;
//! 4. `grpc-timeout` backstop (`grpc_timeout`): CANCELLED when a call has
//!    no answer by the caller's deadline (handlers answer before it);
//! 5. the gRPC guard (`api::grpc_guard`): non-gRPC requests refused,
//!    library-made statuses given an ErrorInfo;
//! 6. arrival (`arrival`): the request message must arrive (within
//!    `request_body_timeout_ms`) before the call goes further;
//! 7. load shedding (`api::shed`): the `max_concurrent_calls` slots;
//! 8. the tonic services (IpAllocation, health, reflection unless
//!    `server.reflection = false`); on the health-only port health alone
//!    (`health_only`: anything else is UNIMPLEMENTED).
//!
//! Shutdown, once `shutdown` completes (SIGTERM):
//! 1. health turns NOT_SERVING at once (until then it follows the
//!    idempotency store's usability); everything is still served for
//!    `shutdown_drain_ms`, so probes and load balancers see it first;
//! 2. the listeners close (a Unix socket's file is removed); connections
//!    get a GOAWAY; `Drain::stop` ends
//!    server streams and `wait`s with UNAVAILABLE + RetryInfo;
//! 3. unary calls finish, and allocation tasks whose caller has gone finish
//!    and record their outcome;
//! 4. all of it within `shutdown_timeout_ms` of the signal: then whatever is
//!    left is dropped (a recorded in-flight allocation is reconciled at the
//!    next start) and `serve` returns.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;
use tower::ServiceBuilder;

use super::arrival::ArrivalLayer;
use super::connection::{self, Closing, ConnectionSettings};
use super::end_streams::EndStreams;
use super::grpc_timeout::GrpcTimeout;
use super::health_only::ByListener;
use super::layer::{AroundLayer, GrpcService};
use super::listeners::{Listeners, warn_insecure};
use super::{Gateway, ServeError, accept, health, http2, purge_expired};
use crate::api::IpAllocationService;
use crate::api::catch_panic::CatchPanic;
use crate::api::grpc_guard::GrpcGuardLayer;
use crate::api::shed::LoadShed;
use crate::logging::access::AccessLog;
use crate::pb;
use crate::pb::ip_allocation_server::IpAllocationServer;

/// Serves the gateway on `listener` (plain TCP) until `shutdown` completes,
/// then shuts down as described in the module documentation.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_on(Listeners::tcp(listener), gateway, shutdown).await
}

/// [`serve`] on every listener of `listeners`.
pub async fn serve_on(
    listeners: Listeners,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Gateway {
        registry,
        allocator,
        server,
        callers,
        audit,
    } = gateway;
    let drain = allocator.drain.clone();
    let (health, health_service) = tonic_health::server::health_reporter();
    // SERVING while the idempotency store is usable.
    let store = allocator.store.clone();
    let usable = *store.health().borrow();
    health::set(&health, usable).await;
    let (stop_following, stopped_following) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(health::follow_store(
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

    let purger = tokio::spawn(purge_expired(
        allocator.store.clone(),
        allocator.inventory.clone(),
    ));
    let service = IpAllocationServer::new(
        IpAllocationService::new(registry, allocator)
            .with_watch_lifetime(server.watch_max_lifetime)
            .with_access(callers, audit),
    )
    .max_decoding_message_size(server.max_request_bytes);
    let mut routes = Routes::new(health_service.clone());
    if server.reflection {
        routes = routes
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
    }
    let routes = ByListener {
        all: routes.add_service(service).prepare(),
        health: Routes::new(health_service).prepare(),
    };
    let stack = ServiceBuilder::new()
        .layer(AroundLayer(AccessLog))
        .layer(AroundLayer(EndStreams::new(drain.clone())))
        .layer(AroundLayer(GrpcTimeout))
        // Refuse non-gRPC requests; give library-made statuses an ErrorInfo.
        .layer(GrpcGuardLayer::new(server.max_request_bytes))
        .layer(ArrivalLayer::new(
            server.request_body_timeout,
            server.max_request_bytes,
        ))
        // Shed calls over the cap at once instead of queueing them; a call
        // (a watch's stream included) holds its slot until its body ends.
        .layer(AroundLayer(LoadShed::new(server.max_concurrent_calls)))
        // Inside the cap: a panicking handler answers INTERNAL with
        // ErrorInfo, and its slot is released like any other call's.
        .layer(AroundLayer(CatchPanic))
        .service(routes);

    let settings = |tls, health_only| {
        Arc::new(ConnectionSettings {
            http2: http2::builder(&server),
            handshake_timeout: server.handshake_timeout,
            idle_timeout: server.idle_timeout,
            tls,
            health_only,
        })
    };
    let closing = Closing {
        close: CancellationToken::new(),
        force: CancellationToken::new(),
    };
    let connections = TaskTracker::new();
    let stop_accepting = CancellationToken::new();
    let spawn = Acceptors {
        connections: &connections,
        closing: &closing,
        stop: &stop_accepting,
    };
    let mut acceptors = Vec::new();
    if let Some(listener) = listeners.api {
        acceptors.push(spawn.run(listener, stack.clone(), settings(listeners.tls, false)));
    }
    if let Some(listener) = listeners.unix {
        acceptors.push(spawn.run(listener, stack.clone(), settings(None, false)));
    }
    if let Some(listener) = listeners.health {
        acceptors.push(spawn.run(listener, stack, settings(None, true)));
    }
    let insecure = listeners
        .insecure
        .map(|address| tokio::spawn(warn_insecure(address)));

    shutdown.await;
    drain.begin_draining();
    let deadline = Instant::now() + server.shutdown_timeout;
    tracing::info!(
        drain_ms = server.shutdown_drain.as_millis() as u64,
        timeout_ms = server.shutdown_timeout.as_millis() as u64,
        "shutting down: health is NOT_SERVING; still serving during the drain period"
    );
    // Store health no longer changes the status once shutdown began.
    let _ = stop_following.send(true);
    let _ = following.await;
    health::set(&health, false).await;
    tokio::time::sleep(server.shutdown_drain).await;

    tracing::info!(
        connections = connections.len(),
        allocations = drain.running_tasks(),
        "stopping: no new connections; streams and waits end; finishing calls and allocations"
    );
    stop_accepting.cancel();
    for acceptor in acceptors {
        if let Err(e) = acceptor.await {
            tracing::error!(error = %e, "the accept loop failed");
        }
    }
    drain.stop();
    closing.close.cancel();
    connections.close();
    let finished = async {
        connections.wait().await;
        drain.tasks_finished().await;
    };
    if tokio::time::timeout_at(deadline, finished).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            allocations = drain.running_tasks(),
            "shutdown timeout reached: closing the connections left; allocations still running are recorded as in flight and reconciled at the next start"
        );
        closing.force.cancel();
        connections.wait().await;
    }
    if let Some(insecure) = insecure {
        insecure.abort();
    }
    purger.abort();
    // The purger holds a handle on the store: let it go before returning,
    // so the store closes when the gateway is dropped.
    let _ = purger.await;
    // Closed on every way out, so the next start finds the file clean.
    store.close();
    Ok(())
}

/// Spawns accept loops that share one set of connections and one shutdown.
struct Acceptors<'a> {
    connections: &'a TaskTracker,
    closing: &'a Closing,
    stop: &'a CancellationToken,
}

impl Acceptors<'_> {
    /// Accepts on `listener` until stopped, serving each connection with
    /// `service`.
    fn run<L, S>(
        &self,
        listener: L,
        service: S,
        settings: Arc<ConnectionSettings>,
    ) -> JoinHandle<()>
    where
        L: accept::Listener,
        S: GrpcService + Clone + Send + 'static,
    {
        let (connections, closing) = (self.connections.clone(), self.closing.clone());
        tokio::spawn(accept::run(listener, self.stop.clone(), move |accepted| {
            connections.spawn(connection::serve(
                accepted,
                service.clone(),
                Arc::clone(&settings),
                closing.clone(),
            ));
        }))
    }
}
