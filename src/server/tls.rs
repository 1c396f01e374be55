//! TLS on the API's TCP listener (rustls, ring): the certificate and key
//! from `[tls]`, ALPN `h2`, and with `client_ca_file` client certificates
//! required and verified (rustls' `WebPkiClientVerifier`).
//!
//! **Reloading.** Each new connection first compares the files' metadata
//! (modification time, size, inode: three `stat`s, no read) with what was
//! loaded; when any changed, the files are read again and the next
//! handshakes use them. Open connections keep the session they have: none
//! is dropped. A file that does not load (half written, a key that does not
//! match the certificate) leaves the previous configuration in place and is
//! logged once per change at ERROR; the files are tried again when they
//! change next. Kubernetes' atomic secret updates (a symlink swap) change
//! the inode, so they are seen too.

use std::fs::Metadata;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::peer::certificate_sans;
use crate::config::TlsConfig;

/// Why the TLS files cannot be used. Names the key and the path, never
/// what a file holds.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key} ({path}): {problem}")]
    File {
        key: &'static str,
        path: String,
        problem: String,
    },
    #[error("tls: {0}")]
    Rustls(String),
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        // Follows symlinks: a swapped link target is a new file.
        let meta: Metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        })
    }
}

/// The stamps of the certificate, key and client CA files.
type Stamps = [Option<Stamp>; 3];

/// The loaded configuration and what it was loaded from.
struct Loaded {
    config: Arc<ServerConfig>,
    stamps: Stamps,
    /// The stamps of the last files that failed to load (not retried until
    /// they change).
    failed: Option<Stamps>,
}

/// The TLS settings of the API listener, reloaded when the files change.
pub struct ServerTls {
    files: TlsConfig,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the files once (start-up and `--check-config` fail on error).
    pub fn load(files: &TlsConfig) -> Result<ServerTls, TlsError> {
        let stamps = stamps(files);
        let config = server_config(files)?;
        Ok(ServerTls {
            files: files.clone(),
            loaded: Mutex::new(Loaded {
                config,
                stamps,
                failed: None,
            }),
        })
    }

    /// Whether client certificates are required (`client_ca_file`).
    pub fn mutual(&self) -> bool {
        self.files.client_ca_file.is_some()
    }

    /// The configuration for the next handshake: the files are reloaded
    /// first if they changed (see the module documentation).
    pub fn current(&self) -> Arc<ServerConfig> {
        let now = stamps(&self.files);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if now == loaded.stamps || loaded.failed == Some(now) {
            return Arc::clone(&loaded.config);
        }
        match server_config(&self.files) {
            Ok(config) => {
                tracing::info!(
                    cert_file = %self.files.cert_file.display(),
                    "reloaded the TLS certificate; new connections use it"
                );
                loaded.config = config;
                loaded.stamps = now;
                loaded.failed = None;
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "cannot reload the TLS files; still serving the previous certificate"
                );
                loaded.failed = Some(now);
            }
        }
        Arc::clone(&loaded.config)
    }

    /// The TLS handshake on `stream`, with the SANs of the client's
    /// certificate when one was required and verified.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> io::Result<(TlsStream<TcpStream>, Vec<String>)> {
        let stream = TlsAcceptor::from(self.current()).accept(stream).await?;
        let sans = match stream.get_ref().1.peer_certificates() {
            Some([leaf, ..]) if self.mutual() => certificate_sans(leaf),
            _ => Vec::new(),
        };
        Ok((stream, sans))
    }
}

fn stamps(files: &TlsConfig) -> Stamps {
    [
        Stamp::of(&files.cert_file),
        Stamp::of(&files.key_file),
        files.client_ca_file.as_deref().and_then(Stamp::of),
    ]
}

/// A rustls server configuration from the files.
fn server_config(files: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificates = read_certificates("tls.cert_file", &files.cert_file)?;
    let key = read_key(&files.key_file)?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &files.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates("tls.client_ca_file", path)? {
                roots.add(certificate).map_err(|e| TlsError::File {
                    key: "tls.client_ca_file",
                    path: path.display().to_string(),
                    problem: e.to_string(),
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| TlsError::File {
                        key: "tls.client_ca_file",
                        path: path.display().to_string(),
                        problem: e.to_string(),
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|e| TlsError::File {
            key: "tls.key_file",
            path: files.key_file.display().to_string(),
            problem: format!("does not go with tls.cert_file: {e}"),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file (at least one).
fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |problem: String| TlsError::File {
        key,
        path: path.display().to_string(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {}", e.kind())))?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("is not PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(fail("holds no certificate (PEM)".to_owned()));
    }
    Ok(certificates)
}

/// The private key of a PEM file. A failure says what is wrong, never a
/// byte of the file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let fail = |problem: String| TlsError::File {
        key: "tls.key_file",
        path: path.display().to_string(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {}", e.kind())))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|_| fail("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_owned()))
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
