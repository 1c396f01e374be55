//! TLS to the fleet database (rustls): `require` encrypts without checking
//! the server's certificate (libpq's `sslmode=require`), `verify-full`
//! checks it against `[cluster] ca_file` or the system's roots, and the
//! host name.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::ConfigVerifierExt as _;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::ClusterError;
use crate::config::cluster::DatabaseTls;

/// The TLS connector for `mode`, or `None` for plain TCP.
pub fn connector(
    mode: DatabaseTls,
    ca_file: Option<&std::path::Path>,
) -> Result<Option<MakeRustlsConnect>, ClusterError> {
    // ring is the gateway's one crypto provider (see provider/http.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match mode {
        DatabaseTls::Disable => return Ok(None),
        DatabaseTls::Require => ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth(),
        DatabaseTls::VerifyFull => match ca_file {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                let certificates = CertificateDer::pem_file_iter(path)
                    .map_err(|e| ClusterError::Tls(format!("{}: {e}", path.display())))?;
                for certificate in certificates {
                    let certificate = certificate
                        .map_err(|e| ClusterError::Tls(format!("{}: {e}", path.display())))?;
                    roots
                        .add(certificate)
                        .map_err(|e| ClusterError::Tls(format!("{}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(ClusterError::Tls(format!(
                        "{} holds no certificate",
                        path.display()
                    )));
                }
                ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth()
            }
            None => ClientConfig::with_platform_verifier()
                .map_err(|e| ClusterError::Tls(format!("the system's roots: {e}")))?,
        },
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// `require`: any certificate is accepted; the handshake's signatures are
/// still checked, so the session is encrypted with the key the server holds.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
