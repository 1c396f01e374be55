//! Where the API is served, and the rule that keeps it from being exposed
//! by accident.
//!
//! - TCP on `listen` (default `127.0.0.1:50051`), and/or a Unix domain
//!   socket (`server.unix_socket`, with `unix_socket_mode` and an optional
//!   owner `unix_socket_uid` / `unix_socket_gid`). With a socket and no
//!   `listen` (in the file, `IPALLOC_LISTEN` or `--listen`), the socket
//!   alone serves the API: a loopback port would let anyone in the network
//!   namespace past the socket's permissions.
//! - `server.health_listen` (in `server.rs`): a TCP port serving only
//!   `grpc.health.v1`, for probes.
//! - **Safe default**: a `listen` address that is not loopback is refused
//!   unless TLS (`[tls]`) or caller authentication (`[callers.*]`) is
//!   configured, or `server.allow_insecure = true` says it is meant (the
//!   gateway then warns at start and every hour).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::Config;
use super::problems::Collector;
use super::raw::RawServer;
use super::values::Table;

/// The socket file's mode when `server.unix_socket_mode` is not set: the
/// owner and the group may connect.
pub const DEFAULT_UNIX_SOCKET_MODE: u32 = 0o660;

/// The longest socket path the kernel takes (`sun_path` is 108 bytes,
/// its terminating NUL included).
pub const MAX_UNIX_SOCKET_PATH_BYTES: usize = 107;

/// The checked `server.unix_socket*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocketConfig {
    pub path: PathBuf,
    /// Permission bits of the socket file (connecting needs write).
    pub mode: u32,
    /// The socket file's owner, when set (changing the user needs root;
    /// the group, membership of it).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The checked Unix socket keys of `[server]`: `None` without
/// `unix_socket` (or when anything is wrong, every problem recorded).
pub(super) fn unix_socket_config(raw: &RawServer, c: &mut Collector) -> Option<UnixSocketConfig> {
    let mut t = Table::new(c, "server.");
    let Some(path) = raw.unix_socket.as_deref() else {
        for (field, set) in [
            ("unix_socket_mode", raw.unix_socket_mode.is_some()),
            ("unix_socket_uid", raw.unix_socket_uid.is_some()),
            ("unix_socket_gid", raw.unix_socket_gid.is_some()),
        ] {
            if set {
                t.add(field, "is set but server.unix_socket is not");
            }
        }
        return None;
    };
    let path = match check_path(path) {
        Ok(path) => Some(path),
        Err(message) => {
            t.add("unix_socket", message);
            None
        }
    };
    let mode = match raw.unix_socket_mode.as_deref() {
        None => Some(DEFAULT_UNIX_SOCKET_MODE),
        Some(text) => {
            let mode = parse_mode(text);
            if mode.is_none() {
                t.add(
                    "unix_socket_mode",
                    "is not an octal mode like \"0660\" (at most 0777)",
                );
            }
            mode
        }
    };
    let mut id = |field: &str, value: Option<u64>| match value.map(u32::try_from) {
        None => Some(None),
        Some(Ok(id)) if id != u32::MAX => Some(Some(id)),
        Some(_) => {
            t.add(field, "is not a user or group id (0..4294967294)");
            None
        }
    };
    let uid = id("unix_socket_uid", raw.unix_socket_uid);
    let gid = id("unix_socket_gid", raw.unix_socket_gid);
    Some(UnixSocketConfig {
        path: path?,
        mode: mode?,
        uid: uid?,
        gid: gid?,
    })
}

/// A socket path the kernel can bind, in a directory that exists.
fn check_path(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("is empty".to_owned());
    }
    if path.len() > MAX_UNIX_SOCKET_PATH_BYTES {
        return Err(format!(
            "is longer than {MAX_UNIX_SOCKET_PATH_BYTES} bytes (the limit of a Unix socket path)"
        ));
    }
    let path = PathBuf::from(path);
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err("is in a directory that does not exist; create it first".to_owned());
    }
    Ok(path)
}

/// `"0660"`, `"660"` or `"0o660"`: permission bits, at most `0o777`.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o777)
}

/// Whether the API listens on TCP: `listen` was given, or no Unix socket
/// replaces it.
pub(super) fn listens_on_tcp(raw_listen: Option<&str>, raw: &RawServer) -> bool {
    raw_listen.is_some() || raw.unix_socket.is_none()
}

/// What the safe-default rule says of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Loopback, a socket, or protected by TLS or caller authentication.
    Protected,
    /// A non-loopback `listen` with neither: refused.
    Refused,
    /// The same, allowed by `server.allow_insecure`: warned about.
    Allowed(SocketAddr),
}

/// Why a non-loopback `listen` is refused (the key is `listen`).
pub const REFUSED_EXPOSURE: &str = "is not a loopback address, and neither TLS ([tls]) nor caller \
     authentication ([callers.NAME]) is configured: anyone who can reach the port could allocate \
     addresses. Configure [tls] (with client_ca_file for client certificates) or callers, listen on \
     loopback or a Unix socket (server.unix_socket), or set server.allow_insecure = true if the \
     network is protected otherwise";

impl Config {
    /// The safe-default rule applied to this configuration.
    pub fn exposure(&self) -> Exposure {
        let exposed = self.listen_tcp && !self.listen.ip().is_loopback();
        if !exposed || self.tls.is_some() || self.caller_authentication {
            Exposure::Protected
        } else if self.server.allow_insecure {
            Exposure::Allowed(self.listen)
        } else {
            Exposure::Refused
        }
    }
}

#[cfg(test)]
#[path = "listeners_tests.rs"]
mod tests;
