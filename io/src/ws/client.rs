//! What a `ws://`/`wss://` client decides before any IO, the same for
//! every adapter: the URL's origin and request-target, the handshake
//! request, the random key and masking seed, and the errors `connect`
//! reports.

use std::fmt;
use std::io;

use url::Url;
use wireloom_core::http::RequestHead;
use wireloom_core::ws::{ClientHandshake, ClientOptions, HandshakeError};

use crate::tls::TlsError;

/// Why a WebSocket client's `connect` failed (every adapter's).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// Not a `ws://` or `wss://` URL (or `wss://` without TLS settings).
    BadUrl(String),
    /// DNS, TCP or a read/write failed (on the blocking adapter, a TLS
    /// failure too).
    Io(io::Error),
    /// TLS failed.
    Tls(TlsError),
    /// The server's answer was not HTTP, or not a 101.
    Http(String),
    /// The 101 did not check out (accept key, extension, protocol).
    Handshake(HandshakeError),
    /// A time bound passed.
    Timeout,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::BadUrl(s) => write!(f, "bad URL: {s}"),
            ConnectError::Io(e) => write!(f, "{e}"),
            ConnectError::Tls(e) => write!(f, "TLS: {e}"),
            ConnectError::Http(s) => write!(f, "HTTP: {s}"),
            ConnectError::Handshake(e) => write!(f, "handshake: {e}"),
            ConnectError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl ConnectError {
    /// A failed TCP connect: a timeout is [`ConnectError::Timeout`].
    pub fn from_connect(e: io::Error) -> ConnectError {
        match e.kind() {
            io::ErrorKind::TimedOut => ConnectError::Timeout,
            _ => ConnectError::Io(e),
        }
    }
}

/// A client connection about to be opened: where to, and the handshake
/// request to send once connected.
#[derive(Debug)]
pub struct ClientStart {
    /// `wss://`: TLS to [`host`](Self::host) before the handshake.
    pub secure: bool,
    /// The host to connect to (and the TLS server name), without IPv6
    /// brackets.
    pub host: String,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
    /// The handshake, to check the server's 101 with.
    pub handshake: ClientHandshake,
    /// The handshake request (`GET target` with `Host`, the key and the
    /// offers).
    pub head: RequestHead,
}

impl ClientStart {
    /// Parses `url` and prepares the handshake request with a fresh random
    /// key. `has_tls`: the caller has TLS settings (`wss://` needs them).
    pub fn new(url: &str, has_tls: bool, options: ClientOptions) -> Result<Self, ConnectError> {
        let url = Url::parse(url).map_err(|e| ConnectError::BadUrl(format!("{url}: {e}")))?;
        let secure = match url.scheme() {
            "ws" => false,
            "wss" if has_tls => true,
            "wss" => {
                return Err(ConnectError::BadUrl(
                    "wss:// needs ClientConfig::tls".into(),
                ))
            }
            s => return Err(ConnectError::BadUrl(format!("unsupported scheme {s}"))),
        };
        let host_port = url
            .host_str()
            .ok_or_else(|| ConnectError::BadUrl(format!("{url}: no host")))?;
        let host = host_port
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host_port}:{p}"),
            None => host_port.to_string(),
        };
        let handshake = ClientHandshake::new(random(), options);
        let head = handshake
            .request(&target, &authority)
            .map_err(|e| ConnectError::BadUrl(e.to_string()))?;
        Ok(ClientStart {
            secure,
            host,
            port,
            handshake,
            head,
        })
    }
}

/// The seed of a client connection's masking keys
/// (`wireloom_core::ws::WebSocket::client`), from the OS random source.
pub fn mask_seed() -> [u8; 32] {
    random()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    for chunk in b.chunks_mut(16) {
        let r = crate::smtp::random_128();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    b
}
