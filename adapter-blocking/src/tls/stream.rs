//! Blocking TLS over any `Read + Write` transport, driven by [`TlsPump`].

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};

use super::{ClientTlsConfig, PeerClose, ServerTlsConfig, TlsError, TlsPump};

/// Sockets whose blocking reads and writes can time out; used by
/// [`TlsStream::handshake`] to enforce its deadline.
pub trait SocketTimeouts {
    /// The current read timeout.
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
    /// Sets the read timeout (`None`: block forever).
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// The current write timeout.
    fn write_timeout(&self) -> io::Result<Option<Duration>>;
    /// Sets the write timeout (`None`: block forever).
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl SocketTimeouts for TcpStream {
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::read_timeout(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::write_timeout(self)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl SocketTimeouts for std::os::unix::net::UnixStream {
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::read_timeout(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::write_timeout(self)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
}

/// A blocking TLS stream: [`Read`] yields plaintext, [`Write`] encrypts.
///
/// Built on [`TlsPump`] (the same pump the async adapters drive), not on
/// `rustls::StreamOwned`. The handshake runs on the first read or write, or
/// explicitly with [`handshake`](TlsStream::handshake) (with a deadline) or
/// [`complete_handshake`](TlsStream::complete_handshake).
///
/// End of stream: `read` returns `Ok(0)` after the peer's `close_notify`. A
/// transport EOF without it is an [`io::ErrorKind::UnexpectedEof`] error
/// carrying [`TlsError::Truncated`], unless
/// [`set_accept_truncation`](TlsStream::set_accept_truncation) was called, in
/// which case it is `Ok(0)` too and [`is_truncated`](TlsStream::is_truncated)
/// tells the two apart.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Instant;
/// use wireloom_blocking::tls::{ClientTlsConfig, ServerTlsConfig, TlsStream, Transport};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Server: accept, then complete the handshake within the configured time.
/// let config = ServerTlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// let listener = TcpListener::bind("127.0.0.1:8443")?;
/// let (sock, _) = listener.accept()?;
/// let mut tls = TlsStream::server(sock, &config)?;
/// tls.handshake(Instant::now() + config.handshake_timeout())?;
/// let mut conn = Transport::from(tls);
/// conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
/// conn.shutdown_write()?; // close_notify, then FIN
///
/// // Client: certificates checked against webpki-roots and the host name.
/// let client = ClientTlsConfig::new()?;
/// let sock = TcpStream::connect("example.com:443")?;
/// let mut tls = TlsStream::client(sock, &client, "example.com")?;
/// tls.handshake(Instant::now() + client.handshake_timeout())?;
/// tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")?;
/// tls.set_accept_truncation(true); // many servers skip close_notify
/// let mut response = Vec::new();
/// tls.read_to_end(&mut response)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TlsStream<S> {
    sock: S,
    pump: TlsPump,
    /// Decrypted bytes not yet returned by `read`.
    plaintext: BytesMut,
    /// A transport EOF without close_notify reads as `Ok(0)`.
    accept_truncation: bool,
}

impl<S: Read + Write> TlsStream<S> {
    /// Wraps a transport and a pump (no IO happens yet).
    pub fn new(sock: S, pump: TlsPump) -> TlsStream<S> {
        TlsStream {
            sock,
            pump,
            plaintext: BytesMut::new(),
            accept_truncation: false,
        }
    }

    /// The client side of a session to `host` (DNS name or IP address).
    pub fn client(sock: S, config: &ClientTlsConfig, host: &str) -> Result<TlsStream<S>, TlsError> {
        Ok(TlsStream::new(sock, config.connect(host)?))
    }

    /// The server side of a session on an accepted transport.
    pub fn server(sock: S, config: &ServerTlsConfig) -> Result<TlsStream<S>, TlsError> {
        Ok(TlsStream::new(sock, config.accept()?))
    }

    /// Writes all pending ciphertext to the transport.
    fn flush_ciphertext(&mut self) -> io::Result<()> {
        if self.pump.write_ciphertext_to(&mut self.sock)? > 0 {
            self.sock.flush()?;
        }
        Ok(())
    }

    /// One blocking read from the transport, fed to the pump.
    fn read_transport(&mut self) -> Result<(), TlsError> {
        let res = loop {
            match self
                .pump
                .read_ciphertext_from(&mut self.sock, &mut self.plaintext)
            {
                Err(TlsError::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(TlsError::Io(e)) => return Err(TlsError::Io(e)),
                Ok(0) => break self.pump.handle_eof().map(|_| ()),
                Ok(_) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if res.is_err() {
            // Best effort: tell the peer why (rustls queued an alert).
            let _ = self.flush_ciphertext();
        }
        res
    }

    /// Runs the handshake to completion, blocking as long as the transport
    /// blocks (no deadline of its own; see [`handshake`](TlsStream::handshake)).
    pub fn complete_handshake(&mut self) -> Result<(), TlsError> {
        while self.pump.is_handshaking() {
            if let Some(e) = self.pump.error() {
                return Err(e);
            }
            self.flush_ciphertext().map_err(TlsError::Io)?;
            if !self.pump.is_handshaking() {
                break;
            }
            self.read_transport()?;
        }
        // The last flight (e.g. the client's Finished) and session tickets.
        self.flush_ciphertext().map_err(TlsError::Io)
    }

    /// Sends `close_notify` and flushes it. The transport stays open (shut
    /// down its write side or drop it afterwards).
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.pump.send_close_notify();
        self.flush_ciphertext()
    }

    /// With `true`, a transport EOF without `close_notify` reads as `Ok(0)`
    /// instead of an error (HTTP responses framed by Content-Length or
    /// chunked encoding detect truncation themselves).
    pub fn set_accept_truncation(&mut self, accept: bool) {
        self.accept_truncation = accept;
    }

    /// The transport ended without `close_notify`.
    pub fn is_truncated(&self) -> bool {
        self.pump.is_truncated()
    }

    /// The peer sent `close_notify`.
    pub fn peer_closed(&self) -> bool {
        self.pump.peer_closed()
    }

    /// The negotiated ALPN protocol.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.pump.alpn_protocol()
    }

    /// Server side: the SNI host name the client sent.
    pub fn server_name(&self) -> Option<&str> {
        self.pump.server_name()
    }

    /// The pump.
    pub fn pump(&self) -> &TlsPump {
        &self.pump
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The transport, mutably (reading or writing it directly corrupts the
    /// session).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// Splits into transport, pump and decrypted bytes not yet read.
    pub fn into_parts(self) -> (S, TlsPump, BytesMut) {
        (self.sock, self.pump, self.plaintext)
    }
}

impl<S: Read + Write + SocketTimeouts> TlsStream<S> {
    /// Completes the handshake before `deadline`, using the transport's read
    /// and write timeouts (restored afterwards). A peer that stalls gets
    /// [`TlsError::HandshakeTimeout`].
    pub fn handshake(&mut self, deadline: Instant) -> Result<(), TlsError> {
        let saved = (self.sock.read_timeout(), self.sock.write_timeout());
        let res = self.handshake_until(deadline);
        if let (Ok(r), Ok(w)) = saved {
            let _ = self.sock.set_read_timeout(r);
            let _ = self.sock.set_write_timeout(w);
        }
        res
    }

    fn handshake_until(&mut self, deadline: Instant) -> Result<(), TlsError> {
        let timed_out = |e: TlsError| match e {
            TlsError::Io(io)
                if matches!(
                    io.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                TlsError::HandshakeTimeout
            }
            e => e,
        };
        loop {
            if let Some(e) = self.pump.error() {
                return Err(e);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(TlsError::HandshakeTimeout);
            }
            self.sock
                .set_read_timeout(Some(remaining))
                .map_err(TlsError::Io)?;
            self.sock
                .set_write_timeout(Some(remaining))
                .map_err(TlsError::Io)?;
            self.flush_ciphertext()
                .map_err(|e| timed_out(TlsError::Io(e)))?;
            if !self.pump.is_handshaking() {
                return Ok(());
            }
            self.read_transport().map_err(timed_out)?;
        }
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.plaintext.is_empty() {
                let n = buf.len().min(self.plaintext.len());
                buf[..n].copy_from_slice(&self.plaintext[..n]);
                self.plaintext.advance(n);
                return Ok(n);
            }
            if let Some(e) = self.pump.error() {
                return Err(e.into_io());
            }
            if self.pump.peer_closed() {
                return Ok(0);
            }
            if self.pump.is_eof() {
                if self.accept_truncation {
                    return Ok(0);
                }
                return Err(TlsError::Truncated.into_io());
            }
            if self.pump.is_handshaking() {
                self.complete_handshake().map_err(TlsError::into_io)?;
                continue;
            }
            self.flush_ciphertext()?;
            self.read_transport().map_err(TlsError::into_io)?;
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pump.is_handshaking() {
            self.complete_handshake().map_err(TlsError::into_io)?;
        }
        self.pump.write_plaintext(buf).map_err(TlsError::into_io)?;
        self.flush_ciphertext()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_ciphertext()?;
        self.sock.flush()
    }
}

/// A connection as the blocking HTTP server and client see it: plain TCP or
/// TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.get_ref(),
        }
    }

    /// True for TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The negotiated ALPN protocol (TLS only).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => t.alpn_protocol(),
        }
    }

    /// Sets the TCP read timeout.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Sets the TCP write timeout.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }

    /// Ends our sending side: for TLS, `close_notify` first, then the TCP
    /// write half is shut down.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        if let Transport::Tls(t) = self {
            t.shutdown()?;
        }
        match self.tcp().shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    /// How the peer closed, once a read returned end of stream (`None` for
    /// plain TCP or while still open).
    pub fn peer_close(&self) -> Option<PeerClose> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) if t.peer_closed() => Some(PeerClose::CloseNotify),
            Transport::Tls(t) if t.is_truncated() => Some(PeerClose::Truncated),
            Transport::Tls(_) => None,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

impl From<TcpStream> for Transport {
    fn from(s: TcpStream) -> Transport {
        Transport::Plain(s)
    }
}

impl From<TlsStream<TcpStream>> for Transport {
    fn from(s: TlsStream<TcpStream>) -> Transport {
        Transport::Tls(Box::new(s))
    }
}
