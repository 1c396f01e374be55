//! The gateway's listeners from the outside: certificates made for a test
//! (`rcgen`), the gateway served in process on the listeners its
//! configuration asks for (`Listeners::bind`), and gRPC channels over TLS
//! (with or without a client certificate) and over a Unix socket.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::{config, pb, server};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint, Uri};

/// A certificate authority made for one test.
pub struct Ca(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    pub fn pem(&self) -> String {
        self.0.pem()
    }

    /// A server certificate for `localhost`.
    pub fn server(&self) -> Leaf {
        self.leaf(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate with these DNS (or URI, with `://`) SANs.
    pub fn client(&self, sans: &[&str]) -> Leaf {
        self.leaf(sans, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, sans: &[&str], purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for san in sans {
            params.subject_alt_names.push(if san.contains("://") {
                rcgen::SanType::URI((*san).try_into().unwrap())
            } else {
                rcgen::SanType::DnsName((*san).try_into().unwrap())
            });
        }
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Writes `text` to `dir/name` as a new file (a new inode), the way an
/// atomic rotation (or a Kubernetes secret update) replaces it.
pub fn replace(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.new"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, &path).unwrap();
    path
}

/// `[tls]` with `server` in `dir` (and `client_ca` as the client CA).
pub fn tls_table(dir: &Path, server: &Leaf, client_ca: Option<&Ca>) -> String {
    let cert = replace(dir, "server.pem", &server.cert);
    let key = replace(dir, "server-key.pem", &server.key);
    let mut table = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    if let Some(ca) = client_ca {
        let path = replace(dir, "client-ca.pem", &ca.pem());
        table.push_str(&format!("client_ca_file = \"{}\"\n", path.display()));
    }
    table
}

/// A gateway in process on the listeners its configuration names, until
/// stopped or dropped.
pub struct Served {
    /// The API's TCP address (when `listen` is served).
    pub api: Option<SocketAddr>,
    pub health: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Serves `config_toml` (no drain period unless it sets one).
pub async fn serve(config_toml: &str) -> Served {
    let mut config =
        config::load(config_toml, "test", &|_: &str| None).expect("test config is valid");
    if !config_toml.contains("shutdown_drain_ms") {
        config.server.shutdown_drain = Duration::ZERO;
    }
    let mut gateway = server::Gateway::build(&config).expect("gateway builds");
    // The audit trail would go to stderr, which tests do not capture.
    if !config_toml.contains("[audit]") {
        gateway.audit = ipalloc_gateway::audit::Audit::discard();
    }
    let listeners = server::Listeners::bind(&config)
        .await
        .expect("listeners bind");
    let (api, health) = (listeners.api_address(), listeners.health_address());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve_on(listeners, gateway, async {
            let _ = rx.await;
        })
        .await
        .expect("gateway serves");
    });
    Served {
        api,
        health,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl Served {
    /// Starts the shutdown; [`Served::stopped`] waits for its end.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits (at most 20 s) until the gateway has stopped.
    pub async fn stopped(mut self) {
        self.begin_stop();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("the gateway stops within 20 s")
                .expect("gateway task");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

/// A rustls client trusting `ca`, presenting `identity` if given, ALPN h2.
pub fn client_tls(ca: &Ca, identity: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.0.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// A TLS session with the gateway at `addr` (server name `localhost`).
pub async fn tls_connect(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
}

/// A gRPC channel over TLS to `addr`: one connection, made now.
pub async fn tls_channel(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let tls = Arc::clone(&tls);
            async move { tls_connect(addr, tls).await.map(TokioIo::new) }
        }))
        .await
}

/// ListProviders on `channel`: how many providers it lists.
pub async fn list_providers(channel: Channel) -> Result<usize, tonic::Status> {
    IpAllocationClient::new(channel)
        .list_providers(pb::ListProvidersRequest {})
        .await
        .map(|response| response.into_inner().providers.len())
}

/// A gRPC channel over the Unix socket at `path`, connected now.
pub async fn unix_channel(path: &Path) -> Channel {
    let path = path.to_owned();
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .expect("the Unix socket accepts connections")
}
