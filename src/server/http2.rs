//! The HTTP/2 settings every inbound connection gets.
//!
//! - `max_concurrent_streams` (`server.max_concurrent_streams`): streams one
//!   connection may have open; more are refused (RST_STREAM REFUSED_STREAM),
//!   so one connection cannot hold every stream the process will keep.
//! - keepalive (`server.keepalive_interval_ms`, `server.keepalive_timeout_ms`):
//!   the gateway pings a connection that has been quiet for the interval and
//!   closes it when the ping is not answered in time (a peer that vanished
//!   without a FIN, a client that stopped reading).
//! - a bound on request header size ([`MAX_HEADER_LIST_BYTES`]).
//!
//! hyper's defaults stand for the rest (flow-control windows, frame size,
//! rapid-reset protection: at most 20 streams reset by the client before the
//! server saw them, per connection).

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::ServerConfig;

/// Largest header block a request may send (HPACK-decoded): the gRPC
/// headers need under 1 KiB; custom metadata gets the rest.
pub const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// An HTTP/2 connection builder with the server's settings.
pub fn builder(config: &ServerConfig) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.max_concurrent_streams)
        .keep_alive_interval(config.keepalive_interval)
        .keep_alive_timeout(config.keepalive_timeout)
        .max_header_list_size(MAX_HEADER_LIST_BYTES);
    builder
}
