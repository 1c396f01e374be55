//! TEMPORARY (branch `callers`): the per-connection peer facts, exactly as
//! the `transport` branch defines them in this file. Its version, which
//! also puts a `Peer` in every request's extensions, replaces this one when
//! both are merged; until then nothing inserts one, so callers are
//! identified by bearer token only.

use std::net::SocketAddr;

/// Who is at the other end of a connection, as a request extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The TCP peer address (none on a Unix socket).
    pub remote: Option<SocketAddr>,
    /// The subject alternative names of a verified mTLS client certificate.
    pub tls_sans: Vec<String>,
    /// The credentials of a Unix socket peer.
    pub unix: Option<UnixPeer>,
}

/// A Unix domain socket peer's credentials (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixPeer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}
