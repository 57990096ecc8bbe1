//! A test PKI made by rcgen: a CA and server leaves it signs (rustls
//! refuses a self-signed leaf as its own root), the server and client TLS
//! configurations the adapters take, PEM files for peers (nginx, curl,
//! Python, the examples), and a blocking rustls client for raw checks.
//!
//! ```
//! use std::time::Duration;
//! use wireloom_testkit::pki;
//!
//! let p = pki::pki();
//! let server = pki::server_config(&p, Duration::from_secs(5));
//! let client = pki::client_config(&p.ca_pem);
//! # let _ = (server, client);
//! let (ca_pem, leaf) = pki::localhost();
//! assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! assert!(leaf.key_pem.contains("PRIVATE KEY"));
//! ```

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use wireloom_io::tls::{ClientTlsConfig, Identity, ServerTlsConfig};

/// A server certificate and its key, as PEM, and the certificate as DER.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM (PKCS#8).
    pub key_pem: String,
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
}

impl Leaf {
    /// The certificate and key as a server identity.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).expect("identity")
    }
}

/// A CA and leaves signed by it.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate, PEM: what clients trust.
    pub ca_pem: String,
    /// SANs `localhost` and `127.0.0.1`: the default certificate.
    pub localhost: Leaf,
    /// SAN `a.test`.
    pub a: Leaf,
    /// SAN `b.test`.
    pub b: Leaf,
    /// SAN `*.wild.test`.
    pub wild: Leaf,
}

/// A fresh CA named `name`: its certificate as PEM, and the issuer that
/// signs leaves.
pub fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("ca key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("ca cert");
    (cert.pem(), Issuer::new(params, key))
}

/// A server certificate for `names` (the first is also the common name),
/// signed by `issuer`.
pub fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> Leaf {
    let key = KeyPair::generate().expect("leaf key");
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).expect("leaf cert");
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
    }
}

/// A fresh CA with its leaves: `localhost`/`127.0.0.1`, `a.test`,
/// `b.test` and `*.wild.test`.
pub fn pki() -> Pki {
    let (ca_pem, issuer) = ca("wireloom test CA");
    Pki {
        ca_pem,
        localhost: leaf(&issuer, &["localhost", "127.0.0.1"]),
        a: leaf(&issuer, &["a.test"]),
        b: leaf(&issuer, &["b.test"]),
        wild: leaf(&issuer, &["*.wild.test"]),
    }
}

/// A fresh CA and one leaf for `localhost` and `127.0.0.1`.
pub fn localhost() -> (String, Leaf) {
    let (ca_pem, issuer) = ca("wireloom test CA");
    (ca_pem, leaf(&issuer, &["localhost", "127.0.0.1"]))
}

/// A CA unrelated to any [`pki`], with one leaf for `localhost`.
pub fn other_ca() -> (String, Leaf) {
    let (pem, issuer) = ca("some other CA");
    (pem, leaf(&issuer, &["localhost"]))
}

/// The server configuration for `p`: `localhost`/`127.0.0.1` by default,
/// `a.test`, `b.test` (registered as `B.Test`: names match without regard
/// to case) and `*.wild.test` by SNI, with `handshake_timeout`.
pub fn server_config(p: &Pki, handshake_timeout: Duration) -> ServerTlsConfig {
    ServerTlsConfig::builder()
        .default_identity(p.localhost.identity())
        .sni_identity("a.test", p.a.identity())
        .expect("a.test")
        .sni_identity("B.Test", p.b.identity())
        .expect("b.test")
        .sni_identity("*.wild.test", p.wild.identity())
        .expect("wildcard")
        .handshake_timeout(handshake_timeout)
        .build()
        .expect("server config")
}

/// A client configuration trusting `ca_pem` only, with a 5 s handshake
/// timeout.
pub fn client_config(ca_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::builder()
        .only_custom_roots()
        .add_root_pem(ca_pem.as_bytes())
        .expect("CA")
        .handshake_timeout(Duration::from_secs(5))
        .build()
        .expect("client config")
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` (the `localhost` leaf) into
/// `dir`, for peers and command lines.
pub fn write_files(p: &Pki, dir: &Path) {
    std::fs::write(dir.join("ca.pem"), &p.ca_pem).expect("write ca.pem");
    std::fs::write(dir.join("cert.pem"), &p.localhost.cert_pem).expect("write cert.pem");
    std::fs::write(dir.join("key.pem"), &p.localhost.key_pem).expect("write key.pem");
}

/// A blocking rustls client stream to `addr` (10 s socket timeouts; the
/// handshake runs on first use), verifying `host` against `p`'s CA.
pub fn rustls_client(
    p: &Pki,
    addr: SocketAddr,
    host: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(p.ca_pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let sock = crate::net::connect(addr);
    rustls::StreamOwned::new(conn, sock)
}
