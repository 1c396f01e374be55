//! The API on a Unix domain socket (`server.unix_socket`).
//!
//! - **Binding**: a file already at the path is replaced only if it is a
//!   socket nobody listens on (left by a gateway that was killed); a socket
//!   that answers, or anything that is not a socket, is refused.
//! - **Permissions**: the socket file gets `unix_socket_mode` (connecting
//!   needs write permission) and, when set, the owner `unix_socket_uid` /
//!   `unix_socket_gid`.
//! - **Removal**: the file is removed when the listener closes (at
//!   shutdown), if it is still the one this gateway created.
//! - **Peers**: each connection's client credentials (`SO_PEERCRED`) become
//!   its [`Peer`](super::peer::Peer)'s `unix`.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::peer::UnixPeer;
use crate::config::UnixSocketConfig;

/// Why the socket cannot be set up. Names the key and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum UnixSocketError {
    #[error("server.unix_socket ({path}): {problem}")]
    Path { path: String, problem: String },
    #[error("server.unix_socket ({path}): cannot listen: {source}")]
    Bind {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("server.unix_socket_mode ({path}): cannot set the mode: {source}")]
    Mode {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "server.unix_socket_uid / unix_socket_gid ({path}): cannot change the owner: {source} (changing the user needs root; the group, membership of it)"
    )]
    Owner {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// A listening Unix socket; its file is removed when this is dropped.
#[derive(Debug)]
pub struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The inode created, so a file put there by someone else since is
    /// left alone.
    inode: Option<u64>,
}

impl UnixSocket {
    /// Binds the socket as configured (see the module documentation).
    pub fn bind(config: &UnixSocketConfig) -> Result<UnixSocket, UnixSocketError> {
        let path = &config.path;
        let shown = path.display().to_string();
        if stale(path).map_err(|problem| UnixSocketError::Path {
            path: shown.clone(),
            problem,
        })? {
            std::fs::remove_file(path).map_err(|e| UnixSocketError::Path {
                path: shown.clone(),
                problem: format!("cannot remove the stale socket: {e}"),
            })?;
            tracing::info!(path = %shown, "replaced a stale Unix socket");
        }
        let listener = UnixListener::bind(path).map_err(|source| UnixSocketError::Bind {
            path: shown.clone(),
            source,
        })?;
        let socket = UnixSocket {
            listener,
            path: path.clone(),
            inode: inode(path),
        };
        // From here on a failure drops `socket`, which removes the file.
        set_mode(path, config.mode).map_err(|source| UnixSocketError::Mode {
            path: shown.clone(),
            source,
        })?;
        if config.uid.is_some() || config.gid.is_some() {
            std::os::unix::fs::chown(path, config.uid, config.gid).map_err(|source| {
                UnixSocketError::Owner {
                    path: shown,
                    source,
                }
            })?;
        }
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next connection and its client's credentials.
    pub async fn accept(&self) -> io::Result<(UnixStream, Option<UnixPeer>)> {
        let (stream, _) = self.listener.accept().await?;
        let peer = match stream.peer_cred() {
            Ok(cred) => Some(UnixPeer {
                uid: cred.uid(),
                gid: cred.gid(),
                pid: cred.pid(),
            }),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read a Unix socket peer's credentials");
                None
            }
        };
        Ok((stream, peer))
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        if self.inode.is_some()
            && inode(&self.path) == self.inode
            && let Err(e) = std::fs::remove_file(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the Unix socket");
        }
    }
}

/// Whether a file at `path` is a socket nobody listens on (to be
/// replaced); `Ok(false)` when there is no file; an error when something
/// else is there. `--check-config` runs this too.
pub fn stale(path: &Path) -> Result<bool, String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot be examined: {e}")),
    };
    if !meta.file_type().is_socket() {
        return Err("exists and is not a socket; remove it or choose another path".to_owned());
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err("another process is listening on it".to_owned()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(true),
        Err(e) => Err(format!("is a socket that cannot be checked: {e}")),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|meta| meta.ino())
}
