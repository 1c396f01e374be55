//! `ServerTls`: files loaded, reloaded when they change, a bad file keeps
//! the previous configuration, and the SANs of a verified client
//! certificate come out of a real handshake.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A CA, and leaf certificates it signs (PEM).
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// (certificate, key) for `names`, for `purpose`.
    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    // A new file each time (a new inode), as an atomic rotation makes it.
    let temporary = dir.join(format!("{name}.new"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, &path).unwrap();
    path
}

fn files(dir: &Path, ca: &Ca, client_ca: Option<&Ca>) -> TlsConfig {
    let (cert, key) = ca.leaf(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    TlsConfig {
        cert_file: write(dir, "cert.pem", &cert),
        key_file: write(dir, "key.pem", &key),
        client_ca_file: client_ca.map(|ca| write(dir, "client-ca.pem", &ca.0.pem())),
    }
}

#[test]
fn a_changed_file_is_reloaded_and_a_bad_one_keeps_the_previous_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = files(dir.path(), &ca, None);
    let tls = ServerTls::load(&files).unwrap();
    let first = tls.current();
    assert!(
        Arc::ptr_eq(&first, &tls.current()),
        "unchanged: same config"
    );
    assert_eq!(first.alpn_protocols, [b"h2".to_vec()]);

    let (cert, key) = ca.leaf(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    let second = tls.current();
    assert!(!Arc::ptr_eq(&first, &second), "rotated: reloaded");

    // A key that does not go with the certificate: the previous one stays,
    // and it is not retried until a file changes again.
    let (_, other_key) = ca.leaf(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    write(dir.path(), "key.pem", &other_key);
    assert!(Arc::ptr_eq(&second, &tls.current()));
    assert!(tls.loaded.lock().unwrap().failed.is_some());
    assert!(Arc::ptr_eq(&second, &tls.current()));
    write(dir.path(), "key.pem", &key);
    let third = tls.current();
    assert!(!Arc::ptr_eq(&second, &third), "mended: reloaded");
    assert!(tls.loaded.lock().unwrap().failed.is_none());

    std::fs::write(&files.cert_file, "not PEM").unwrap();
    assert!(Arc::ptr_eq(&third, &tls.current()));
}

#[test]
fn loading_names_the_key_at_fault_and_never_the_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let mut files = files(dir.path(), &ca, None);
    let secret =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
    files.key_file = write(dir.path(), "bad-key.pem", secret);
    let error = ServerTls::load(&files).unwrap_err().to_string();
    assert!(error.starts_with("tls.key_file"), "{error}");
    assert!(!error.contains("c2VjcmV0"), "{error}");
    files.cert_file = write(dir.path(), "empty.pem", "");
    let error = ServerTls::load(&files).unwrap_err().to_string();
    assert!(
        error.contains("tls.cert_file") && error.contains("no certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn a_verified_client_certificate_gives_its_sans() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, client_ca) = (Ca::new(), Ca::new());
    let tls = Arc::new(ServerTls::load(&files(dir.path(), &server_ca, Some(&client_ca))).unwrap());
    assert!(tls.mutual());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn({
        let tls = Arc::clone(&tls);
        async move {
            let (stream, _) = listener.accept().await.unwrap();
            tls.accept(stream).await.map(|(_, sans)| sans)
        }
    });

    let (cert, key) = client_ca.leaf(&["billing.internal"], ExtendedKeyUsagePurpose::ClientAuth);
    let mut roots = RootCertStore::empty();
    roots.add(server_ca.0.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap(),
        PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
    )
    .unwrap();
    let stream = TcpStream::connect(address).await.unwrap();
    let _client = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .unwrap();
    assert_eq!(server.await.unwrap().unwrap(), ["billing.internal"]);
}
