//! [`TlsError`]: everything that can go wrong while loading TLS material or
//! running a TLS session.

use std::fmt;
use std::io;
use std::path::PathBuf;

use rustls::pki_types::pem;
use rustls::{AlertDescription, CertificateError};

/// A TLS configuration or session error.
///
/// Configuration errors (the first group) are local: bad files, bad keys,
/// bad names. Session errors (the second group) come from the peer or the
/// transport; [`is_peer_error`](TlsError::is_peer_error) tells them apart.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    // ---- configuration (local) ----
    /// A PEM file could not be read.
    ReadFile {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying IO error.
        source: io::Error,
    },
    /// PEM input is malformed (bad base64, missing END line, ...).
    Pem {
        /// What was being parsed ("certificate", "private key", "CA certificate").
        what: &'static str,
        /// The PEM parser's error.
        source: pem::Error,
    },
    /// The PEM input holds no `CERTIFICATE` section.
    NoCertificate,
    /// The PEM input holds no private key section (PKCS#8, PKCS#1 or SEC1).
    NoPrivateKey,
    /// The private key could not be loaded (malformed, or an algorithm the
    /// crypto provider does not support).
    BadPrivateKey(rustls::Error),
    /// The private key does not belong to the end-entity certificate.
    KeyMismatch,
    /// A certificate (leaf or CA root) could not be parsed.
    BadCertificate(rustls::Error),
    /// A host name is not valid for SNI or for certificate verification.
    InvalidHostName(String),
    /// A server configuration has no certificate at all.
    NoServerCertificate,
    /// A client configuration trusts no root certificate at all.
    NoRootCertificates,
    /// rustls refused the configuration.
    Config(rustls::Error),
    /// The pump was used against its contract (for example plaintext written
    /// after `close_notify` was sent).
    Usage(&'static str),

    // ---- session (peer or transport) ----
    /// The peer sent a fatal alert.
    AlertReceived(AlertDescription),
    /// The peer's certificate was refused (unknown issuer, wrong host name,
    /// expired, ...).
    InvalidPeerCertificate(CertificateError),
    /// No ALPN protocol in common with the peer.
    NoApplicationProtocol,
    /// Any other protocol failure reported by rustls (an alert describing it
    /// was queued for the peer).
    Protocol(rustls::Error),
    /// The handshake did not complete before its deadline.
    HandshakeTimeout,
    /// The transport closed before the handshake completed.
    ClosedDuringHandshake,
    /// The transport closed without a TLS `close_notify` alert: the data
    /// received may have been cut short. HTTP with its own framing may treat
    /// this as a plain end of stream.
    Truncated,
    /// The transport failed.
    Io(io::Error),
}

impl TlsError {
    /// Maps an error from an established or handshaking rustls session.
    pub fn from_session(err: rustls::Error) -> TlsError {
        match err {
            rustls::Error::AlertReceived(a) => TlsError::AlertReceived(a),
            rustls::Error::InvalidCertificate(c) => TlsError::InvalidPeerCertificate(c),
            rustls::Error::NoApplicationProtocol => TlsError::NoApplicationProtocol,
            other => TlsError::Protocol(other),
        }
    }

    /// True for errors caused by the peer or the transport (as opposed to
    /// local configuration or API misuse).
    pub fn is_peer_error(&self) -> bool {
        matches!(
            self,
            TlsError::AlertReceived(_)
                | TlsError::InvalidPeerCertificate(_)
                | TlsError::NoApplicationProtocol
                | TlsError::Protocol(_)
                | TlsError::HandshakeTimeout
                | TlsError::ClosedDuringHandshake
                | TlsError::Truncated
                | TlsError::Io(_)
        )
    }

    /// The alert the peer sent, if that is what ended the session.
    pub fn alert(&self) -> Option<AlertDescription> {
        match self {
            TlsError::AlertReceived(a) => Some(*a),
            _ => None,
        }
    }

    /// Extracts a `TlsError` carried inside an [`io::Error`] (as returned by
    /// the `Read`/`Write` impls of [`TlsStream`](https://docs.rs/wireloom-blocking)).
    pub fn from_io_ref(err: &io::Error) -> Option<&TlsError> {
        err.get_ref().and_then(|e| e.downcast_ref::<TlsError>())
    }

    /// Takes back a `TlsError` carried inside an [`io::Error`] (as the
    /// async [`TlsConn`](crate::aio::conn::TlsConn) returns them); any
    /// other IO error becomes [`TlsError::Io`].
    pub fn from_io(err: io::Error) -> TlsError {
        if !err.get_ref().is_some_and(|e| e.is::<TlsError>()) {
            return TlsError::Io(err);
        }
        match err.into_inner().map(|e| e.downcast::<TlsError>()) {
            Some(Ok(t)) => *t,
            _ => TlsError::Io(io::ErrorKind::Other.into()),
        }
    }

    /// Converts into an [`io::Error`] with a fitting kind; an IO error is
    /// returned as is, anything else is carried inside.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            TlsError::Io(_) => None,
            TlsError::HandshakeTimeout => Some(io::ErrorKind::TimedOut),
            TlsError::Truncated | TlsError::ClosedDuringHandshake => {
                Some(io::ErrorKind::UnexpectedEof)
            }
            TlsError::ReadFile { .. } => Some(io::ErrorKind::NotFound),
            TlsError::Usage(_) => Some(io::ErrorKind::InvalidInput),
            _ => Some(io::ErrorKind::InvalidData),
        };
        match (self, kind) {
            (TlsError::Io(e), _) => e,
            (other, kind) => io::Error::new(kind.unwrap_or(io::ErrorKind::Other), other),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::ReadFile { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::Pem { what, source } => write!(f, "malformed PEM ({what}): {source}"),
            TlsError::NoCertificate => f.write_str("no CERTIFICATE section in the PEM input"),
            TlsError::NoPrivateKey => f.write_str("no private key section in the PEM input"),
            TlsError::BadPrivateKey(e) => write!(f, "unusable private key: {e}"),
            TlsError::KeyMismatch => {
                f.write_str("the private key does not match the end-entity certificate")
            }
            TlsError::BadCertificate(e) => write!(f, "unusable certificate: {e}"),
            TlsError::InvalidHostName(n) => write!(f, "invalid host name {n:?}"),
            TlsError::NoServerCertificate => f.write_str("no server certificate configured"),
            TlsError::NoRootCertificates => f.write_str("no trusted root certificate configured"),
            TlsError::Config(e) => write!(f, "TLS configuration refused: {e}"),
            TlsError::Usage(what) => write!(f, "TLS API misuse: {what}"),
            TlsError::AlertReceived(a) => write!(f, "peer sent fatal alert {a:?}"),
            TlsError::InvalidPeerCertificate(e) => write!(f, "peer certificate refused: {e}"),
            TlsError::NoApplicationProtocol => f.write_str("no ALPN protocol in common with peer"),
            TlsError::Protocol(e) => write!(f, "TLS protocol error: {e}"),
            TlsError::HandshakeTimeout => f.write_str("TLS handshake timed out"),
            TlsError::ClosedDuringHandshake => {
                f.write_str("connection closed during the TLS handshake")
            }
            TlsError::Truncated => {
                f.write_str("connection closed without TLS close_notify (possible truncation)")
            }
            TlsError::Io(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::ReadFile { source, .. } => Some(source),
            TlsError::Pem { source, .. } => Some(source),
            TlsError::BadPrivateKey(e)
            | TlsError::BadCertificate(e)
            | TlsError::Config(e)
            | TlsError::Protocol(e) => Some(e),
            TlsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        e.into_io()
    }
}
