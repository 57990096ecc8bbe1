//! The blocking TLS tests' harness: a loopback server thread running the
//! TLS handshake on each connection it accepts, and our blocking TLS
//! client. The test PKI and configurations are `wireloom_testkit::pki`'s.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wireloom_blocking::tls::{ClientTlsConfig, ServerTlsConfig, TlsError, TlsStream};

/// The handshake timeout of the servers these tests configure.
pub const HANDSHAKE: Duration = Duration::from_secs(5);

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
