//! The `[tls]` table: TLS on the gRPC API's TCP listener, and with
//! `client_ca_file` mutual TLS (every client must present a certificate
//! that CA issued).
//!
//! The files are PEM. They are checked here to exist; their contents are
//! loaded by `server::tls` at start (and `--check-config`) and again
//! whenever they change on disk. A key file group or others can read draws
//! a start-up warning.

use std::path::{Path, PathBuf};

use super::problems::Collector;
use super::raw::RawTls;
use super::values::Table;

/// The checked `[tls]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM): when set, clients must present a certificate
    /// issued by one of them (mTLS).
    pub client_ca_file: Option<PathBuf>,
}

/// The checked `[tls]` table: `None` when the table is empty (no TLS) or
/// anything is wrong (every problem recorded in `c`). `warnings` gets what
/// start-up should log (a key file others can read).
pub(super) fn tls_config(
    raw: &RawTls,
    c: &mut Collector,
    warnings: &mut Vec<String>,
) -> Option<TlsConfig> {
    let mut t = Table::new(c, "tls.");
    if raw.cert_file.is_none() && raw.key_file.is_none() {
        if raw.client_ca_file.is_some() {
            t.add(
                "client_ca_file",
                "is set but tls.cert_file and tls.key_file are not: mTLS needs the server's certificate and key",
            );
        }
        return None;
    }
    let cert_file = existing_file(&mut t, "cert_file", raw.cert_file.as_deref());
    let key_file = existing_file(&mut t, "key_file", raw.key_file.as_deref());
    let client_ca_file = match raw.client_ca_file.as_deref() {
        None => Some(None),
        Some(path) => existing_file(&mut t, "client_ca_file", Some(path)).map(Some),
    };
    if let Some(key_file) = &key_file
        && let Some(warning) =
            super::permissions::insecure_secret_file_warning(key_file, &t.key("key_file"))
    {
        warnings.push(warning);
    }
    Some(TlsConfig {
        cert_file: cert_file?,
        key_file: key_file?,
        client_ca_file: client_ca_file?,
    })
}

/// The path of `field`, which must be given and name a file.
fn existing_file(t: &mut Table<'_>, field: &str, path: Option<&str>) -> Option<PathBuf> {
    match path {
        None => {
            t.add(
                field,
                "is required when [tls] is set (tls.cert_file and tls.key_file go together)",
            );
            None
        }
        Some("") => {
            t.add(field, "is empty");
            None
        }
        Some(path) if !Path::new(path).is_file() => {
            t.add(field, "does not exist or is not a file");
            None
        }
        Some(path) => Some(PathBuf::from(path)),
    }
}
