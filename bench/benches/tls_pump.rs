//! wireloom-blocking's `TlsStream` (on its `TlsPump`) against
//! `rustls::StreamOwned` over loopback TCP, with the same rustls configs
//! (moved here from an `#[ignore]`d measurement in
//! `adapter-blocking/tests/tls_loopback.rs`). Both ends of each connection
//! use the contestant's type; the server runs on its own thread.
//!
//! - `tls_handshake`: connect, full handshake, 1 byte each way,
//!   close_notify (TLS 1.3, ECDSA P-256 leaf signed by a test CA, made by
//!   rcgen at start-up, as in the adapter's TLS tests);
//! - `tls_bulk_8MiB`: 8 MiB client -> server on an established connection,
//!   64 KiB writes, then a 1-byte acknowledgement from the server (so the
//!   server has decrypted everything before the iteration ends).
//!
//! ```text
//! cd bench && cargo bench --bench tls_pump -- --warm-up-time 1 --measurement-time 3
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use wireloom_blocking::tls::{ClientTlsConfig, Identity, ServerTlsConfig, TlsStream};

const BULK: usize = 8 << 20;
const WRITE: usize = 64 << 10;

/// A CA and a `localhost` leaf signed by it: (CA PEM, leaf PEM, key PEM).
fn pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "wireloom bench CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

fn configs() -> (ServerTlsConfig, ClientTlsConfig) {
    let (ca, cert, key) = pki();
    let server = ServerTlsConfig::builder()
        .default_identity(Identity::from_pem(cert.as_bytes(), key.as_bytes()).unwrap())
        .handshake_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = ClientTlsConfig::builder()
        .only_custom_roots()
        .add_root_pem(ca.as_bytes())
        .unwrap()
        .handshake_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (server, client)
}

#[derive(Clone, Copy)]
enum Kind {
    Wireloom,
    Rustls,
}

/// A TLS stream of either kind, as `Read + Write`.
trait Stream: Read + Write + Send {
    /// close_notify, flushed.
    fn close(&mut self);
}

impl Stream for TlsStream<TcpStream> {
    fn close(&mut self) {
        self.shutdown().unwrap();
    }
}

impl Stream for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn close(&mut self) {
        self.conn.send_close_notify();
        self.flush().unwrap();
    }
}

impl Stream for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn close(&mut self) {
        self.conn.send_close_notify();
        self.flush().unwrap();
    }
}

fn server_stream(kind: Kind, cfg: &ServerTlsConfig, s: TcpStream) -> Box<dyn Stream> {
    match kind {
        Kind::Wireloom => {
            let mut t = TlsStream::server(s, cfg).unwrap();
            t.set_accept_truncation(true);
            Box::new(t)
        }
        Kind::Rustls => {
            let conn = rustls::ServerConnection::new(Arc::clone(cfg.rustls_config())).unwrap();
            Box::new(rustls::StreamOwned::new(conn, s))
        }
    }
}

fn client_stream(kind: Kind, cfg: &ClientTlsConfig, addr: SocketAddr) -> Box<dyn Stream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    match kind {
        Kind::Wireloom => Box::new(TlsStream::client(s, cfg, "localhost").unwrap()),
        Kind::Rustls => {
            let conn = cfg.connection("localhost").unwrap();
            Box::new(rustls::StreamOwned::new(conn, s))
        }
    }
}

/// The server: per connection, answer every `BULK` octets received (or the
/// first octet, for `handshake`) with one octet, until EOF. Stops when
/// `stop` is set and one more connection arrives.
fn server(
    kind: Kind,
    cfg: ServerTlsConfig,
    per_ack: usize,
    stop: Arc<AtomicBool>,
) -> (SocketAddr, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let (s, _) = l.accept().unwrap();
            if stop.load(Ordering::SeqCst) {
                return;
            }
            s.set_nodelay(true).unwrap();
            let mut t = server_stream(kind, &cfg, s);
            let mut got = 0usize;
            loop {
                match t.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        got += k;
                        while got >= per_ack {
                            got -= per_ack;
                            t.write_all(b"!").unwrap();
                            t.flush().unwrap();
                        }
                    }
                }
            }
        }
    });
    (addr, h)
}

fn stop_server(addr: SocketAddr, stop: &AtomicBool, h: JoinHandle<()>) {
    stop.store(true, Ordering::SeqCst);
    drop(TcpStream::connect(addr).unwrap());
    h.join().unwrap();
}

fn tls(c: &mut Criterion) {
    let (scfg, ccfg) = configs();
    let kinds = [
        ("wireloom_tls_stream", Kind::Wireloom),
        ("rustls_stream_owned", Kind::Rustls),
    ];

    let mut g = c.benchmark_group("tls_handshake");
    for (name, kind) in kinds {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr, h) = server(kind, scfg.clone(), 1, Arc::clone(&stop));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut t = client_stream(kind, &ccfg, addr);
                t.write_all(b"x").unwrap();
                t.flush().unwrap();
                let mut ack = [0u8; 1];
                t.read_exact(&mut ack).unwrap();
                t.close();
            })
        });
        stop_server(addr, &stop, h);
    }
    g.finish();

    let mut g = c.benchmark_group("tls_bulk_8MiB");
    g.throughput(Throughput::Bytes(BULK as u64));
    let chunk = vec![7u8; WRITE];
    for (name, kind) in kinds {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr, h) = server(kind, scfg.clone(), BULK, Arc::clone(&stop));
        let mut t = client_stream(kind, &ccfg, addr);
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BULK / WRITE {
                    t.write_all(&chunk).unwrap();
                }
                t.flush().unwrap();
                let mut ack = [0u8; 1];
                t.read_exact(&mut ack).unwrap();
            })
        });
        t.close();
        drop(t);
        stop_server(addr, &stop, h);
    }
    g.finish();
}

criterion_group!(benches, tls);
criterion_main!(benches);
