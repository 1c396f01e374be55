//! TLS and mTLS on the API's TCP listener, over real sockets with
//! certificates made in the test: a call works with the CA; plaintext is
//! refused; with a client CA a call without a client certificate (or with
//! one from another CA) is refused and one with a good certificate works;
//! a certificate rotated on disk is served to the next connection while an
//! open connection keeps working, and a bad file keeps the previous one.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::transport::{
    Ca, Leaf, client_tls, list_providers, replace, serve, tls_channel, tls_connect, tls_table,
};
use common::zenlayer_provider;
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

fn config(tls: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n{tls}\n{}",
        zenlayer_provider("zl", "http://127.0.0.1:9", "")
    )
}

/// The leaf certificate the gateway presents to a new connection.
async fn served_certificate(addr: SocketAddr, ca: &Ca) -> Vec<u8> {
    let stream = tls_connect(addr, client_tls(ca, None)).await.unwrap();
    let (_, session) = stream.get_ref();
    assert_eq!(session.alpn_protocol(), Some(b"h2".as_slice()));
    session.peer_certificates().unwrap()[0].to_vec()
}

fn der(leaf: &Leaf) -> Vec<u8> {
    CertificateDer::from_pem_slice(leaf.cert.as_bytes())
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_call_over_tls_works_with_the_ca_and_plaintext_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let server = ca.server();
    let gateway = serve(&config(&tls_table(dir.path(), &server, None))).await;
    let addr = gateway.api.unwrap();

    let channel = tls_channel(addr, client_tls(&ca, None)).await.unwrap();
    assert_eq!(list_providers(channel).await.unwrap(), 1);
    assert_eq!(served_certificate(addr, &ca).await, der(&server));

    // Another CA's client does not trust it; a plaintext client gets no answer.
    assert!(
        tls_channel(addr, client_tls(&Ca::new(), None))
            .await
            .is_err()
    );
    let plain = tokio::time::timeout(
        Duration::from_secs(10),
        IpAllocationClient::connect(format!("http://{addr}")),
    )
    .await
    .expect("a plaintext client is answered promptly");
    match plain {
        Err(_) => {}
        Ok(mut client) => {
            let answer = client.list_providers(pb::ListProvidersRequest {}).await;
            assert!(answer.is_err(), "a plaintext call is answered: {answer:?}");
        }
    }
    gateway.stopped().await;
}

#[tokio::test]
async fn mtls_refuses_a_call_without_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, client_ca) = (Ca::new(), Ca::new());
    let table = tls_table(dir.path(), &server_ca.server(), Some(&client_ca));
    let gateway = serve(&config(&table)).await;
    let addr = gateway.api.unwrap();

    // No certificate: the handshake (TLS 1.3: the first read) fails, so no
    // call is ever answered.
    let refused = async {
        let channel = tls_channel(addr, client_tls(&server_ca, None)).await?;
        Ok::<_, Box<dyn std::error::Error>>(list_providers(channel).await?)
    };
    assert!(
        refused.await.is_err(),
        "a call without a client certificate is refused"
    );
    // A certificate from another CA: refused too.
    let stranger = Ca::new().client(&["billing.internal"]);
    let refused = async {
        let channel = tls_channel(addr, client_tls(&server_ca, Some(&stranger))).await?;
        Ok::<_, Box<dyn std::error::Error>>(list_providers(channel).await?)
    };
    assert!(
        refused.await.is_err(),
        "a certificate from another CA is refused"
    );

    let caller = client_ca.client(&["billing.internal", "spiffe://prod/sa/billing"]);
    let channel = tls_channel(addr, client_tls(&server_ca, Some(&caller)))
        .await
        .unwrap();
    assert_eq!(list_providers(channel).await.unwrap(), 1);
    gateway.stopped().await;
}

#[tokio::test]
async fn a_rotated_certificate_is_served_to_the_next_connection_and_open_ones_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (Ca::new(), Ca::new());
    let old = old_ca.server();
    let gateway = serve(&config(&tls_table(dir.path(), &old, None))).await;
    let addr = gateway.api.unwrap();
    // One connection, opened on the old certificate (a channel trusting only
    // the old CA: were it to reconnect, it would fail on the new one).
    let open = tls_channel(addr, client_tls(&old_ca, None)).await.unwrap();
    assert_eq!(list_providers(open.clone()).await.unwrap(), 1);

    let new = new_ca.server();
    replace(dir.path(), "server.pem", &new.cert);
    replace(dir.path(), "server-key.pem", &new.key);
    assert_eq!(served_certificate(addr, &new_ca).await, der(&new));
    let channel = tls_channel(addr, client_tls(&new_ca, None)).await.unwrap();
    assert_eq!(list_providers(channel).await.unwrap(), 1);
    assert!(tls_channel(addr, client_tls(&old_ca, None)).await.is_err());
    // The connection opened before the rotation is still served.
    assert_eq!(list_providers(open.clone()).await.unwrap(), 1);

    // A bad file (half written, garbage): the previous certificate stays.
    replace(
        dir.path(),
        "server.pem",
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    );
    assert_eq!(served_certificate(addr, &new_ca).await, der(&new));
    // A key that does not go with the certificate: the same.
    replace(dir.path(), "server.pem", &new.cert);
    replace(dir.path(), "server-key.pem", &old.key);
    assert_eq!(served_certificate(addr, &new_ca).await, der(&new));
    assert_eq!(list_providers(open).await.unwrap(), 1);
    gateway.stopped().await;
}
