//! An async transport: plain TCP, or TLS driven by the runtime-neutral
//! [`TlsPump`] over any `futures-io` stream.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};

use super::scratch;
use crate::rt::{poll_until, Runtime};
use crate::tls::{ClientTlsConfig, TlsError, TlsPump};

/// Unwritten ciphertext above which `poll_write` waits for the socket.
const TLS_HIGH_WATER: usize = 256 * 1024;

/// TLS over an async byte stream `T`.
#[derive(Debug)]
pub struct TlsConn<T> {
    io: T,
    pump: TlsPump,
    /// Decrypted bytes not yet returned by `poll_read`.
    plain: BytesMut,
    /// Ciphertext taken from the pump and not yet fully written.
    /// (Ciphertext is read, 64 KiB at most per call, into the thread's
    /// shared scratch buffer, not into a buffer of the connection's.)
    out: Bytes,
    eof: bool,
}

fn tls_io(e: TlsError) -> io::Error {
    io::Error::other(e)
}

impl<T: AsyncRead + AsyncWrite + Unpin> TlsConn<T> {
    /// Wraps `io` with a client or server pump.
    pub fn new(io: T, pump: TlsPump) -> TlsConn<T> {
        TlsConn {
            io,
            pump,
            plain: BytesMut::new(),
            out: Bytes::new(),
            eof: false,
        }
    }

    /// The TLS session (SNI name, ALPN, peer certificates...).
    pub fn pump(&self) -> &TlsPump {
        &self.pump
    }

    /// The transport underneath.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Writes the ciphertext the pump has queued.
    fn poll_flush_cipher(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.out.is_empty() {
                match self.pump.poll_ciphertext() {
                    Some(b) => self.out = b,
                    None => return Poll::Ready(Ok(())),
                }
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.advance(n);
        }
    }

    /// Reads and decrypts one batch of ciphertext; `Ok(false)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        // Handshake answers (and alerts) go out before we wait for more.
        ready!(self.poll_flush_cipher(cx))?;
        if self.eof || self.pump.peer_closed() {
            return Poll::Ready(Ok(false));
        }
        let TlsConn {
            io, pump, plain, ..
        } = self;
        // `Some(decrypt result)`, or `None` at EOF.
        let r: Poll<io::Result<Option<Result<_, TlsError>>>> = scratch::with_cipher(|scratch| {
            let n = ready!(Pin::new(&mut *io).poll_read(cx, scratch))?;
            if n == 0 {
                return Poll::Ready(Ok(None));
            }
            Poll::Ready(Ok(Some(pump.handle_ciphertext_slice(&scratch[..n], plain))))
        });
        let Some(r) = ready!(r)? else {
            self.eof = true;
            // A truncated session still ends the stream; HTTP and SMTP
            // frame their own messages and detect a cut one.
            self.pump.handle_eof().map_err(tls_io)?;
            return Poll::Ready(Ok(false));
        };
        if let Err(e) = r {
            // Best effort: the alert rustls queued.
            let _ = self.poll_flush_cipher(cx);
            return Poll::Ready(Err(tls_io(e)));
        }
        Poll::Ready(Ok(true))
    }

    /// Completes the handshake.
    pub fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pump.is_handshaking() {
            if !ready!(self.poll_fill(cx))? {
                return Poll::Ready(Err(tls_io(TlsError::ClosedDuringHandshake)));
            }
        }
        self.poll_flush_cipher(cx)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsConn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while this.plain.is_empty() {
            if !ready!(this.poll_fill(cx))? {
                return Poll::Ready(Ok(0));
            }
        }
        let n = buf.len().min(this.plain.len());
        buf[..n].copy_from_slice(&this.plain[..n]);
        this.plain.advance(n);
        Poll::Ready(Ok(n))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsConn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Back-pressure: do not let ciphertext pile up beyond the mark.
        if (this.out.len() > TLS_HIGH_WATER || this.pump.wants_write())
            && this.poll_flush_cipher(cx)?.is_pending()
            && this.out.len() > TLS_HIGH_WATER
        {
            return Poll::Pending;
        }
        let mut n = 0;
        for b in bufs {
            this.pump.write_plaintext(b).map_err(tls_io)?;
            n += b.len();
        }
        // Start sending; what does not fit waits for the next call or flush.
        let _ = this.poll_flush_cipher(cx)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_cipher(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pump.close_sent() {
            this.pump.send_close_notify();
        }
        ready!(this.poll_flush_cipher(cx))?;
        Pin::new(&mut this.io).poll_close(cx)
    }
}

/// Runs a client TLS handshake for `server_name` over `io`, bounded by
/// `deadline` ([`TlsError::HandshakeTimeout`] when it passes). Shared by
/// the HTTP client (HTTPS) and the SMTP client (implicit TLS, STARTTLS).
pub async fn client_handshake<R: Runtime, T: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    io: T,
    tls: &ClientTlsConfig,
    server_name: &str,
    deadline: Instant,
) -> Result<TlsConn<T>, TlsError> {
    let mut conn = TlsConn::new(io, tls.connect(server_name)?);
    match poll_until(rt, Some(deadline), |cx| conn.poll_handshake(cx)).await {
        Some(Ok(())) => Ok(conn),
        Some(Err(e)) => Err(TlsError::from_io(e)),
        None => Err(TlsError::HandshakeTimeout),
    }
}

/// A connection the engine drives: plain TCP or TLS over it.
#[derive(Debug)]
pub enum Conn<T> {
    /// Plain TCP.
    Plain(T),
    /// TLS over TCP.
    Tls(Box<TlsConn<T>>),
}

impl<T: AsyncRead + AsyncWrite + Unpin> Conn<T> {
    /// Whether bytes written may come straight from a memory-mapped file
    /// (only the kernel reads them): true for plain TCP, false for TLS,
    /// which encrypts them in user space.
    pub fn zero_copy(&self) -> bool {
        matches!(self, Conn::Plain(_))
    }

    /// The TLS session, if any.
    pub fn tls(&self) -> Option<&TlsPump> {
        match self {
            Conn::Plain(_) => None,
            Conn::Tls(t) => Some(t.pump()),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_read(cx, buf),
            Conn::Tls(t) => Pin::new(&mut **t).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_write(cx, buf),
            Conn::Tls(t) => Pin::new(&mut **t).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_write_vectored(cx, bufs),
            Conn::Tls(t) => Pin::new(&mut **t).poll_write_vectored(cx, bufs),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_flush(cx),
            Conn::Tls(t) => Pin::new(&mut **t).poll_flush(cx),
        }
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_close(cx),
            Conn::Tls(t) => Pin::new(&mut **t).poll_close(cx),
        }
    }
}
