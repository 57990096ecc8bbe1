//! A test PKI made by rcgen (a CA and leaves signed by it: rustls refuses
//! a self-signed leaf as its own root), server configurations, and a
//! blocking rustls client for raw checks.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use wireloom_tokio::tls::{Identity, ServerTlsConfig};

/// A leaf certificate and its key, as PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).expect("identity")
    }
}

/// A CA and leaves signed by it.
pub struct Pki {
    pub ca_pem: String,
    /// SANs `localhost` and `127.0.0.1`: the default certificate.
    pub localhost: Leaf,
    /// SAN `a.test`.
    pub a: Leaf,
    /// SAN `b.test`.
    pub b: Leaf,
}

fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> Leaf {
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
    }
}

pub fn pki() -> Pki {
    let key = KeyPair::generate().expect("ca key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "wireloom tokio test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("ca cert");
    let issuer = Issuer::new(params, key);
    Pki {
        ca_pem: cert.pem(),
        localhost: leaf(&issuer, &["localhost", "127.0.0.1"]),
        a: leaf(&issuer, &["a.test"]),
        b: leaf(&issuer, &["b.test"]),
    }
}

/// Default `localhost`/`127.0.0.1`, plus `a.test` and `b.test` by SNI.
pub fn server_config(p: &Pki, handshake_timeout: Duration) -> ServerTlsConfig {
    ServerTlsConfig::builder()
        .default_identity(p.localhost.identity())
        .sni_identity("a.test", p.a.identity())
        .expect("a.test")
        .sni_identity("b.test", p.b.identity())
        .expect("b.test")
        .handshake_timeout(handshake_timeout)
        .build()
        .expect("server config")
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` (the localhost leaf) to `dir`.
pub fn write_files(p: &Pki, dir: &Path) {
    std::fs::write(dir.join("ca.pem"), &p.ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &p.localhost.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &p.localhost.key_pem).unwrap();
}

/// A blocking rustls client stream to `addr`, verifying `host` against
/// the test CA.
pub fn client(
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
    let sock = super::connect(addr);
    rustls::StreamOwned::new(conn, sock)
}
