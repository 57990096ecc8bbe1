//! Shared helpers for the TLS integration tests: a test PKI made by rcgen,
//! configurations, temp files and a small server harness.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rcgen::{Issuer, KeyPair};

use crate::common::pki;
use rustls::pki_types::CertificateDer;
use wireloom_blocking::tls::{ClientTlsConfig, Identity, ServerTlsConfig, TlsError, TlsStream};

/// A leaf certificate and its key, as PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
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
    pub a: Leaf,
    pub b: Leaf,
    /// SAN `*.wild.test`.
    pub wild: Leaf,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    pki::ca(name)
}

fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> Leaf {
    let l = pki::leaf(issuer, names);
    Leaf {
        cert_pem: l.cert_pem,
        key_pem: l.key_pem,
        der: CertificateDer::from(l.der),
    }
}

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

/// A CA unrelated to [`pki`], with one leaf.
pub fn other_ca() -> (String, Leaf) {
    let (pem, issuer) = ca("some other CA");
    let l = leaf(&issuer, &["localhost"]);
    (pem, l)
}

/// Default `localhost`/`127.0.0.1`, plus `a.test`, `b.test`, `*.wild.test`.
pub fn server_config(p: &Pki) -> ServerTlsConfig {
    ServerTlsConfig::builder()
        .default_identity(p.localhost.identity())
        .sni_identity("a.test", p.a.identity())
        .expect("a.test")
        .sni_identity("B.Test", p.b.identity())
        .expect("b.test")
        .sni_identity("*.wild.test", p.wild.identity())
        .expect("wildcard")
        .handshake_timeout(Duration::from_secs(5))
        .build()
        .expect("server config")
}

pub fn client_config(ca_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::builder()
        .only_custom_roots()
        .add_root_pem(ca_pem.as_bytes())
        .expect("CA")
        .handshake_timeout(Duration::from_secs(5))
        .build()
        .expect("client config")
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wireloom-tls-{tag}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let dir = PathBuf::from(dir.to_string_lossy().replace(
        |c: char| !(c.is_ascii_alphanumeric() || "/-_.".contains(c)),
        "_",
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Accepts `n` connections on an ephemeral loopback port; each runs the TLS
/// server handshake (deadline from the config), then `f`.
pub fn serve<R, F>(cfg: ServerTlsConfig, n: usize, f: F) -> (SocketAddr, JoinHandle<Vec<R>>)
where
    R: Send + 'static,
    F: Fn(Result<TlsStream<TcpStream>, TlsError>) -> R + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let mut out = Vec::new();
        for _ in 0..n {
            let (sock, _) = listener.accept().expect("accept");
            let mut tls = TlsStream::server(sock, &cfg).expect("server stream");
            let res = tls
                .handshake(Instant::now() + cfg.handshake_timeout())
                .map(|()| tls);
            out.push(f(res));
        }
        out
    });
    (addr, handle)
}

/// Connects our TLS client to `addr`, verifying the certificate for `host`.
pub fn connect(
    addr: SocketAddr,
    cfg: &ClientTlsConfig,
    host: &str,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let sock = TcpStream::connect(addr).map_err(TlsError::Io)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(TlsError::Io)?;
    let mut tls = TlsStream::client(sock, cfg, host)?;
    tls.handshake(Instant::now() + cfg.handshake_timeout())?;
    Ok(tls)
}
