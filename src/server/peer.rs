//! `Peer`: who is at the other end of a connection, as the transport knows
//! it. Every request carries one in its extensions, so caller
//! authorization (and anything else) reads it with
//! `request.extensions().get::<Peer>()`:
//!
//! - TCP: `remote` is the client's address;
//! - TLS with a client CA (mTLS): `tls_sans` lists the DNS and URI subject
//!   alternative names of the client's certificate, which rustls verified
//!   against `tls.client_ca_file` during the handshake (empty without mTLS);
//! - Unix socket: `unix` holds the client process's credentials as the
//!   kernel reports them (`SO_PEERCRED`), which the client cannot forge.
//!
//! The same `Peer` is shared by every request of a connection.

use std::net::SocketAddr;

use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// The peer of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The client's TCP address (`None` on a Unix socket).
    pub remote: Option<SocketAddr>,
    /// The DNS and URI SANs of the verified client certificate, in the
    /// certificate's order (empty without mTLS).
    pub tls_sans: Vec<String>,
    /// The client process's credentials on a Unix socket.
    pub unix: Option<UnixPeer>,
}

/// A Unix socket client's credentials (`SO_PEERCRED`), taken when it
/// connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixPeer {
    pub uid: u32,
    pub gid: u32,
    /// The client's process id, when the kernel reports it.
    pub pid: Option<i32>,
}

impl Peer {
    /// A TCP peer, with the SANs of its verified client certificate (if any).
    pub fn tcp(remote: SocketAddr, tls_sans: Vec<String>) -> Peer {
        Peer {
            remote: Some(remote),
            tls_sans,
            unix: None,
        }
    }

    /// A Unix socket peer.
    pub fn unix(unix: Option<UnixPeer>) -> Peer {
        Peer {
            remote: None,
            tls_sans: Vec::new(),
            unix,
        }
    }
}

/// The most SANs kept of one certificate (a certificate is not a list).
pub const MAX_SANS: usize = 64;

/// The DNS names and URIs in the subject alternative names of a
/// DER-encoded certificate, in order (at most [`MAX_SANS`]); empty when
/// the certificate has none or cannot be read (rustls verified it
/// already: an unreadable extension is no identity, not an error).
pub fn certificate_sans(der: &[u8]) -> Vec<String> {
    let Ok(certificate) = Certificate::from_der(der) else {
        return Vec::new();
    };
    let extensions = certificate.tbs_certificate.extensions.unwrap_or_default();
    let Some(extension) = extensions
        .iter()
        .find(|extension| extension.extn_id == SubjectAltName::OID)
    else {
        return Vec::new();
    };
    let Ok(names) = SubjectAltName::from_der(extension.extn_value.as_bytes()) else {
        return Vec::new();
    };
    names
        .0
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(dns.as_str().to_owned()),
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str().to_owned()),
            _ => None,
        })
        .take(MAX_SANS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};

    #[test]
    fn the_dns_and_uri_sans_of_a_certificate_are_its_identity() {
        let mut params =
            CertificateParams::new(vec!["billing.internal".to_owned(), "10.0.0.7".to_owned()])
                .unwrap();
        params.subject_alt_names.push(SanType::URI(
            "spiffe://prod/ns/billing/sa/api".try_into().unwrap(),
        ));
        params
            .subject_alt_names
            .push(SanType::Rfc822Name("ops@example.com".try_into().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            certificate_sans(cert.der()),
            ["billing.internal", "spiffe://prod/ns/billing/sa/api"]
        );
    }

    #[test]
    fn a_certificate_without_sans_or_not_a_certificate_has_none() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert!(certificate_sans(cert.der()).is_empty());
        assert!(certificate_sans(b"not a certificate").is_empty());
        assert!(certificate_sans(&[]).is_empty());
    }
}
