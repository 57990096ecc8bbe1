//! [`TlsPump`]: rustls as a sans-IO byte pump between a socket and a core
//! dialogue.

use std::io::{self, BufRead, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{Connection, ProtocolVersion, SupportedCipherSuite};

use super::TlsError;

/// How the peer ended its side of the TLS session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClose {
    /// The peer sent `close_notify`: everything it sent was received.
    CloseNotify,
    /// The transport ended without `close_notify`: the data may have been
    /// cut short by an attacker. Protocols with their own framing (HTTP with
    /// Content-Length or chunked) may treat it as a plain end of stream.
    Truncated,
}

/// A TLS session (client or server) as a pure byte pump: no IO, no clock.
///
/// The contract mirrors the core [`Dialogue`](crate::core::Dialogue):
///
/// ```text
///   socket --ciphertext--> handle_ciphertext --plaintext--> Dialogue::handle_input
///   socket <--ciphertext-- poll_ciphertext   <--plaintext-- write_plaintext <-- Dialogue::poll_transmit
///   socket EOF ----------> handle_eof  (CloseNotify | Truncated)
/// ```
///
/// 1. Ciphertext read from the socket goes to
///    [`handle_ciphertext`](TlsPump::handle_ciphertext); decrypted bytes are
///    appended to the caller's `BytesMut`, which the caller then hands to
///    the dialogue.
/// 2. Plaintext to send goes to [`write_plaintext`](TlsPump::write_plaintext)
///    (it is buffered until the handshake completes).
/// 3. After any `handle_*` or `write_*` call the driver drains
///    [`poll_ciphertext`](TlsPump::poll_ciphertext) into the socket until it
///    returns `None` (handshake messages, alerts, records).
/// 4. A read of 0 bytes from the socket is [`handle_eof`](TlsPump::handle_eof).
///
/// Errors are sticky: after a fatal error every `handle_*`/`write_*` call
/// returns it again, and `poll_ciphertext` still yields the alert rustls
/// queued for the peer (write it, then close the socket).
///
/// The pump never limits its buffers (rustls' buffer limit is lifted): the
/// driver applies back-pressure by draining `poll_ciphertext` before
/// accepting more plaintext from the application.
#[derive(Debug)]
pub struct TlsPump {
    conn: Connection,
    /// First fatal error of the session; returned by every later call.
    error: Option<rustls::Error>,
    /// The peer sent close_notify (set from `IoState::peer_has_closed`).
    peer_closed: bool,
    /// The transport reported EOF through `handle_eof`.
    eof: bool,
    /// We queued our close_notify; no more plaintext is accepted.
    close_sent: bool,
}

impl TlsPump {
    /// Wraps a rustls connection (client or server).
    pub fn new(conn: impl Into<Connection>) -> TlsPump {
        let mut conn = conn.into();
        conn.set_buffer_limit(None);
        TlsPump {
            conn,
            error: None,
            peer_closed: false,
            eof: false,
            close_sent: false,
        }
    }

    /// A client session to `name` (checked against the certificate, sent as SNI).
    pub fn client(
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsPump, TlsError> {
        let conn = rustls::ClientConnection::new(config, name).map_err(TlsError::Config)?;
        Ok(TlsPump::new(conn))
    }

    /// A server session.
    pub fn server(config: Arc<rustls::ServerConfig>) -> Result<TlsPump, TlsError> {
        let conn = rustls::ServerConnection::new(config).map_err(TlsError::Config)?;
        Ok(TlsPump::new(conn))
    }

    fn check(&self) -> Result<(), TlsError> {
        match &self.error {
            Some(e) => Err(TlsError::from_session(e.clone())),
            None => Ok(()),
        }
    }

    /// Feeds ciphertext read from the socket. All of `input` is consumed
    /// (rustls keeps partial records itself); decrypted application data is
    /// appended to `plaintext`. Bytes after the peer's `close_notify` are
    /// discarded.
    pub fn handle_ciphertext(
        &mut self,
        input: &mut BytesMut,
        plaintext: &mut BytesMut,
    ) -> Result<(), TlsError> {
        let n = self.handle_ciphertext_slice(input, plaintext)?;
        let _ = input.split_to(n.min(input.len()));
        Ok(())
    }

    /// Like [`handle_ciphertext`](TlsPump::handle_ciphertext) over a slice;
    /// returns how many bytes were consumed (all of them unless an error
    /// occurred).
    pub fn handle_ciphertext_slice(
        &mut self,
        input: &[u8],
        plaintext: &mut BytesMut,
    ) -> Result<usize, TlsError> {
        self.check()?;
        let mut consumed = 0;
        while consumed < input.len() {
            let mut rest = &input[consumed..];
            let n = self.conn.read_tls(&mut rest).map_err(TlsError::Io)?;
            if n == 0 {
                // close_notify already received: rustls reads nothing more.
                return Ok(input.len());
            }
            consumed += n;
            self.process(plaintext)?;
        }
        Ok(consumed)
    }

    /// Blocking-IO shortcut for [`handle_ciphertext`](TlsPump::handle_ciphertext):
    /// one `read` from `rd` straight into rustls (no intermediate buffer),
    /// then the same processing. Returns the bytes read; `Ok(0)` means `rd`
    /// is at end of stream (call [`handle_eof`](TlsPump::handle_eof)) or the
    /// peer already sent `close_notify`. IO errors (including `WouldBlock`,
    /// `TimedOut`, `Interrupted`) are returned as [`TlsError::Io`] and are
    /// not sticky.
    pub fn read_ciphertext_from(
        &mut self,
        rd: &mut dyn io::Read,
        plaintext: &mut BytesMut,
    ) -> Result<usize, TlsError> {
        self.check()?;
        if self.peer_closed || self.eof {
            return Ok(0);
        }
        let n = self.conn.read_tls(rd).map_err(TlsError::Io)?;
        if n > 0 {
            self.process(plaintext)?;
        }
        Ok(n)
    }

    fn process(&mut self, plaintext: &mut BytesMut) -> Result<(), TlsError> {
        match self.conn.process_new_packets() {
            Ok(state) => {
                if state.peer_has_closed() {
                    self.peer_closed = true;
                }
            }
            Err(e) => {
                self.error = Some(e.clone());
                return Err(TlsError::from_session(e));
            }
        }
        let mut reader = self.conn.reader();
        loop {
            let n = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    plaintext.extend_from_slice(chunk);
                    chunk.len()
                }
                // Empty, WouldBlock (no data) or UnexpectedEof: nothing to copy.
                _ => break,
            };
            reader.consume(n);
        }
        Ok(())
    }

    /// The transport reached end of stream. Returns how the peer closed:
    /// cleanly (`close_notify` seen) or by truncation. EOF before the
    /// handshake completed is [`TlsError::ClosedDuringHandshake`].
    pub fn handle_eof(&mut self) -> Result<PeerClose, TlsError> {
        self.check()?;
        if !self.eof && !self.peer_closed {
            // Tell rustls too, so that its own reader reports the truncation.
            let _ = self.conn.read_tls(&mut io::empty());
        }
        self.eof = true;
        if self.conn.is_handshaking() {
            // Even after a close_notify: a session that never completed.
            Err(TlsError::ClosedDuringHandshake)
        } else if self.peer_closed {
            Ok(PeerClose::CloseNotify)
        } else {
            Ok(PeerClose::Truncated)
        }
    }

    /// Queues application data for the peer. Data written during the
    /// handshake is sent once it completes.
    pub fn write_plaintext(&mut self, data: &[u8]) -> Result<(), TlsError> {
        self.check()?;
        if self.close_sent {
            return Err(TlsError::Usage("plaintext written after close_notify"));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.conn.writer().write_all(data).map_err(TlsError::Io)
    }

    /// Next ciphertext to write to the socket (handshake messages, records,
    /// alerts), or `None` when nothing is pending.
    pub fn poll_ciphertext(&mut self) -> Option<Bytes> {
        let mut out = Vec::new();
        self.poll_ciphertext_into(&mut out);
        if out.is_empty() {
            None
        } else {
            Some(Bytes::from(out))
        }
    }

    /// Appends all pending ciphertext to `out`; returns how many bytes.
    pub fn poll_ciphertext_into(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.len() - start
    }

    /// Blocking-IO shortcut for [`poll_ciphertext`](TlsPump::poll_ciphertext):
    /// writes all pending ciphertext straight to `wr` (no intermediate
    /// buffer). On an error (for example a write timeout) the unwritten
    /// bytes stay queued.
    pub fn write_ciphertext_to(&mut self, wr: &mut dyn io::Write) -> io::Result<usize> {
        let mut total = 0;
        while self.conn.wants_write() {
            match self.conn.write_tls(wr) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Queues a `close_notify` alert (drain it with `poll_ciphertext`). No
    /// plaintext is accepted afterwards.
    pub fn send_close_notify(&mut self) {
        if !self.close_sent {
            self.close_sent = true;
            self.conn.send_close_notify();
        }
    }

    /// True until the handshake has completed.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// True when ciphertext is waiting for `poll_ciphertext`.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// True while the session expects more ciphertext from the peer (false
    /// after `close_notify`, EOF or a fatal error).
    pub fn wants_read(&self) -> bool {
        self.error.is_none() && !self.eof && !self.peer_closed && self.conn.wants_read()
    }

    /// The peer sent `close_notify` (a clean end of its data).
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The transport ended (see [`handle_eof`](TlsPump::handle_eof)).
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// The transport ended without `close_notify` after the handshake.
    pub fn is_truncated(&self) -> bool {
        self.eof && !self.peer_closed && !self.conn.is_handshaking()
    }

    /// We queued our `close_notify`.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// The sticky fatal error, if the session failed.
    pub fn error(&self) -> Option<TlsError> {
        self.error.clone().map(TlsError::from_session)
    }

    /// True for the server side of a session.
    pub fn is_server(&self) -> bool {
        matches!(self.conn, Connection::Server(_))
    }

    /// The negotiated ALPN protocol, once the handshake has chosen one.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Server side: the SNI host name the client sent (lower case).
    /// Client side: always `None`.
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(s) => s.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// The peer's certificate chain (end-entity first), once received.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<SupportedCipherSuite> {
        self.conn.negotiated_cipher_suite()
    }

    /// The rustls connection, for anything not exposed here.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Unwraps the rustls connection.
    pub fn into_connection(self) -> Connection {
        self.conn
    }
}
