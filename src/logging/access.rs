//! The access log: one line per RPC, when its response ends.
//!
//! Target `ipalloc_gateway::access`, message `rpc`, fields:
//! `method` (the gRPC path), `code` (the gRPC code name, `CANCELLED` when the
//! client left before the end), `reason` (the ErrorInfo reason of an error),
//! `latency_ms` (request headers to the end of the response), `peer`,
//! `caller` (the configured name of the caller, with `[callers]`), `provider`, `idempotency_key`, `replay` (answered from the idempotency
//! store), and on success `eips` (`id=address` pairs). API calls log at INFO;
//! health checks and reflection at DEBUG (probes would flood the log).
//! Silence it with `log.level = "info,ipalloc_gateway::access=off"`.
//!
//! Every field is bounded ([`MAX_FIELD_CHARS`], [`MAX_EIPS`]) whatever the
//! caller sent. The same point times every call for the metrics
//! (`grpc_server_call_duration_seconds`, calls in flight). Handlers add what only they know through [`CallFacts`], a
//! slot the layer puts in the request's extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::HeaderMap;
use http_body::Body as HttpBody;
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tonic_types::StatusExt;

use super::plain::AccessFields;
use crate::admin::metrics::{CallTimer, Metrics};
use crate::pb;
use crate::provider::error_table::code_name;
use crate::server::body::{Hook, Hooked, Polled};
use crate::server::layer::{Around, GrpcService, ResponseFuture};

/// Longest value of a text field in an access line, in characters.
pub const MAX_FIELD_CHARS: usize = 128;
/// Most EIPs listed in one line (one AllocateIp makes at most 100).
pub const MAX_EIPS: usize = 100;

/// The client's address as the access line shows it (empty on a Unix
/// socket), formatted once per connection; the connection puts it in every
/// request's extensions.
#[derive(Clone, Debug, Default)]
pub struct PeerAddress(Arc<str>);

impl PeerAddress {
    pub fn of(remote: Option<std::net::SocketAddr>) -> PeerAddress {
        PeerAddress(remote.map_or_else(|| Arc::from(""), |a| Arc::from(a.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a handler learned about its call, for the access line.
#[derive(Clone, Default, Debug)]
pub struct CallFacts(Arc<Mutex<Facts>>);

#[derive(Default, Debug)]
struct Facts {
    caller: String,
    provider: String,
    idempotency_key: String,
    replay: bool,
    eips: String,
}

tokio::task_local! {
    static CURRENT: CallFacts;
}

impl CallFacts {
    /// The slot of this request (a detached one when there is no access
    /// layer, as in unit tests).
    pub fn of<T>(request: &tonic::Request<T>) -> CallFacts {
        request
            .extensions()
            .get::<CallFacts>()
            .cloned()
            .unwrap_or_default()
    }

    /// The slot of the call this task works for (see [`CallFacts::scope`]).
    pub fn current() -> CallFacts {
        CURRENT.try_with(CallFacts::clone).unwrap_or_default()
    }

    /// Runs `future` with this slot as [`CallFacts::current`].
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    fn with(&self, update: impl FnOnce(&mut Facts)) {
        if let Ok(mut facts) = self.0.lock() {
            update(&mut facts);
        }
    }

    pub fn provider(&self, name: &str) {
        self.with(|f| f.provider = bounded(name));
    }

    /// The caller's configured name.
    pub fn caller(&self, name: &str) {
        self.with(|f| f.caller = bounded(name));
    }

    /// The idempotency key recorded so far (empty before the flow set it).
    pub fn recorded_key(&self) -> String {
        self.0
            .lock()
            .map(|f| f.idempotency_key.clone())
            .unwrap_or_default()
    }

    /// Whether the answer came from the idempotency store.
    pub fn was_replayed(&self) -> bool {
        self.0.lock().is_ok_and(|f| f.replay)
    }

    pub fn idempotency_key(&self, key: &str) {
        self.with(|f| f.idempotency_key = bounded(key));
    }

    /// The answer came from the idempotency store, not a new allocation.
    pub fn replayed(&self) {
        self.with(|f| f.replay = true);
    }

    /// The allocations of a successful answer.
    pub fn allocations(&self, allocations: &[pb::Allocation]) {
        let mut eips = String::new();
        for (i, a) in allocations.iter().take(MAX_EIPS).enumerate() {
            if i > 0 {
                eips.push(',');
            }
            eips.push_str(&bounded(&a.id));
            eips.push('=');
            eips.push_str(&bounded(&a.ip_address));
        }
        if allocations.len() > MAX_EIPS {
            eips.push_str(&format!(",+{} more", allocations.len() - MAX_EIPS));
        }
        self.with(|f| f.eips = eips);
    }

    fn take(&self) -> Facts {
        self.0
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}

/// At most [`MAX_FIELD_CHARS`] characters, control characters replaced.
fn bounded(text: &str) -> String {
    // The usual field: short, printable ASCII or text without C1 controls
    // (all of them start with byte 0xC2 in UTF-8), copied as it is.
    if text.len() <= MAX_FIELD_CHARS && !text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return text.to_owned();
    }
    let mut out: String = text
        .chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(MAX_FIELD_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// Logs one line per call (see the module documentation); the layer is
/// `AroundLayer(AccessLog)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLog;

impl<S: GrpcService> Around<S, http::Request<Body>> for AccessLog {
    type Response = http::Response<Body>;
    type Future = ResponseFuture;

    fn call(&self, inner: &mut S, mut request: http::Request<Body>) -> ResponseFuture {
        let facts = CallFacts::default();
        request.extensions_mut().insert(facts.clone());
        let path = request.uri().path();
        let line = Line {
            timer: Metrics::global().call_started(path),
            start: Instant::now(),
            api: path.starts_with("/ipalloc."),
            method: bounded(path),
            // Every request comes through `server::connection`, which puts it there.
            peer: request
                .extensions()
                .get::<PeerAddress>()
                .cloned()
                .unwrap_or_default(),
            facts,
        };
        let future = inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            // A trailers-only answer (every error) has the status here.
            if response.headers().contains_key("grpc-status") {
                line.emit(Some(response.headers()));
                return Ok(response);
            }
            Ok(response.map(|inner| Body::new(Hooked::new(inner, AtEnd(Some(line))))))
        })
    }
}

/// One line waiting for the end of its response.
struct Line {
    /// Ends with the line; dropped unended, the call counts as cancelled.
    timer: CallTimer,
    start: Instant,
    api: bool,
    method: String,
    peer: PeerAddress,
    facts: CallFacts,
}

impl Line {
    /// Logs the line; `status` holds `grpc-status` (trailers or a
    /// trailers-only response), `None` when the response ended without one.
    fn emit(self, status: Option<&HeaderMap>) {
        let code = status
            .and_then(|h| h.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(Code::Cancelled, Code::from_i32);
        self.timer.end(code_name(code));
        let reason = match (code, status) {
            (Code::Ok, _) | (_, None) => String::new(),
            (_, Some(headers)) => tonic::Status::from_header_map(headers)
                .and_then(|s| {
                    s.get_error_details()
                        .error_info()
                        .map(|i| bounded(&i.reason))
                })
                .unwrap_or_default(),
        };
        let facts = self.facts.take();
        let latency_ms = (self.start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let level = if self.api {
            tracing::Level::INFO
        } else {
            tracing::Level::DEBUG
        };
        let fields = AccessFields {
            method: &self.method,
            code: code_name(code),
            reason: &reason,
            latency_ms,
            peer: self.peer.as_str(),
            caller: &facts.caller,
            provider: &facts.provider,
            idempotency_key: &facts.idempotency_key,
            replay: facts.replay,
            eips: &facts.eips,
        };
        if !super::plain::write_access(level, &fields) {
            traced(level, &fields);
        }
    }
}

/// The access event through the tracing subscriber (JSON, colours, a
/// span, or no [`super::init`]: see `plain`).
pub(super) fn traced(level: tracing::Level, f: &AccessFields<'_>) {
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: super::plain::TARGET,
                $level,
                method = %f.method,
                code = %f.code,
                reason = %f.reason,
                latency_ms = f.latency_ms,
                peer = %f.peer,
                caller = %f.caller,
                provider = %f.provider,
                idempotency_key = %f.idempotency_key,
                replay = f.replay,
                eips = %f.eips,
                "rpc"
            )
        };
    }
    match level {
        tracing::Level::INFO => line!(tracing::Level::INFO),
        _ => line!(tracing::Level::DEBUG),
    }
}

/// Logs the line at the end of the response body (or when it is dropped
/// early).
struct AtEnd(Option<Line>);

impl Hook for AtEnd {
    fn poll_frame(&mut self, inner: Pin<&mut Body>, cx: &mut Context<'_>) -> Polled {
        let polled = inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(line) = self.0.take()
                {
                    line.emit(Some(trailers));
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                if let Some(line) = self.0.take() {
                    line.emit(None);
                }
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for AtEnd {
    fn drop(&mut self) {
        if let Some(line) = self.0.take() {
            line.emit(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bounded_and_control_free() {
        let long = "k".repeat(100_000);
        let b = bounded(&long);
        assert_eq!(b.chars().count(), MAX_FIELD_CHARS + 3);
        assert_eq!(bounded("a\nb\u{1b}[31m"), "a?b?[31m");
        // At the bound exactly: whole; one over: cut and marked.
        let at = "k".repeat(MAX_FIELD_CHARS);
        assert_eq!(bounded(&at), at);
        assert_eq!(bounded(&format!("{at}k")), format!("{at}..."));
        // DEL and the C1 controls are replaced; other text is kept, counted
        // in characters, not bytes.
        assert_eq!(bounded("a\u{7f}b\u{85}c\u{9f}"), "a?b?c?");
        assert_eq!(bounded("¢ é 日本"), "¢ é 日本");
        let wide = "日".repeat(MAX_FIELD_CHARS);
        assert_eq!(bounded(&wide), wide);
        assert_eq!(bounded(&format!("{wide}日")), format!("{wide}..."));
        let facts = CallFacts::default();
        let many: Vec<pb::Allocation> = (0..150)
            .map(|i| pb::Allocation {
                id: format!("eip-{i}"),
                ip_address: "10.0.0.1".into(),
                ..Default::default()
            })
            .collect();
        facts.allocations(&many);
        let eips = facts.take().eips;
        assert_eq!(eips.matches('=').count(), MAX_EIPS);
        assert!(eips.ends_with(",+50 more"), "{eips}");
    }

    #[test]
    fn a_peer_address_is_the_socket_address_or_empty() {
        let v4: std::net::SocketAddr = "127.0.0.1:5150".parse().unwrap();
        let v6: std::net::SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(PeerAddress::of(Some(v4)).as_str(), "127.0.0.1:5150");
        assert_eq!(PeerAddress::of(Some(v6)).as_str(), "[::1]:443");
        assert_eq!(PeerAddress::of(None).as_str(), "");
    }

    #[tokio::test]
    async fn current_follows_the_scope() {
        let facts = CallFacts::default();
        facts
            .clone()
            .scope(async {
                CallFacts::current().replayed();
                CallFacts::current().idempotency_key("key-1");
            })
            .await;
        CallFacts::current().replayed(); // detached: no effect, no panic
        let taken = facts.take();
        assert!(taken.replay);
        assert_eq!(taken.idempotency_key, "key-1");
    }
}
