//! One side of a proxied connection: a tokio TCP socket (plain, or TLS
//! through wireloom-io's sans-IO [`TlsPump`]), the bytes read from it that
//! a dialogue has not consumed yet, and the bytes waiting to be written.
//!
//! Readiness-based: the connection loop waits for `poll_read_ready` /
//! `poll_write_ready` on the socket and then calls [`Side::read`] and
//! [`Side::flush`], which never block (`try_read`, `try_write_vectored`).
//! Nothing here decides anything about HTTP.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::Interest;
use tokio::net::TcpStream;
use wireloom_io::tls::{TlsError, TlsPump};

/// Room made in the read buffer before a read: small while messages are
/// small, large once a read filled all the room it had (a body streaming).
const READ_SMALL: usize = 8 * 1024;
const READ_LARGE: usize = 64 * 1024;
/// Buffers handed to one `writev`.
const MAX_IOV: usize = 64;

/// One read into `buf`'s spare capacity. A read that did not fill it
/// drained the socket: its readiness is cleared at once (as nginx does
/// after a short `recv`), so the next wait goes to the reactor instead of
/// costing a `recv` that only says `EAGAIN`. The readiness is cleared as
/// of before the read: an event that arrives meanwhile is kept.
fn read_drained(tcp: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    let room = buf.capacity() - buf.len();
    let mut short = None;
    let r = tcp.try_io(Interest::READABLE, || {
        let n = tcp.try_read_buf(buf)?;
        if n > 0 && n < room {
            short = Some(n);
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match short {
        Some(n) => Ok(n),
        None => r,
    }
}

/// The socket, plain or with a TLS session on it.
#[derive(Debug)]
enum Io {
    Plain,
    Tls(Box<TlsPump>),
}

/// What one [`Side::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Plaintext was appended to [`Side::buf`] (for TLS, possibly none yet:
    /// handshake records only).
    Data,
    /// Nothing to read right now.
    WouldBlock,
    /// The peer closed its sending side.
    Eof,
}

/// A socket with its read buffer and write queue.
#[derive(Debug)]
pub struct Side {
    tcp: TcpStream,
    io: Io,
    /// Plaintext read and not consumed yet. After an upgrade, bytes here
    /// belong to the tunnel.
    pub buf: BytesMut,
    /// Bytes to write, in order (ciphertext for TLS).
    out: VecDeque<Bytes>,
    out_len: usize,
    eof: bool,
    write_shut: bool,
    /// The last read filled its room: make more for the next.
    bulk: bool,
    /// Bytes written to the socket so far (progress of the write queue,
    /// for the send timeout).
    written: u64,
}

fn tls_err(e: TlsError) -> io::Error {
    io::Error::other(e)
}

impl Side {
    /// A plain TCP side.
    pub fn plain(tcp: TcpStream) -> Side {
        Side::new(tcp, Io::Plain)
    }

    /// A TLS side; `pump` is a fresh server (or client) session.
    pub fn tls(tcp: TcpStream, pump: TlsPump) -> Side {
        Side::new(tcp, Io::Tls(Box::new(pump)))
    }

    fn new(tcp: TcpStream, io: Io) -> Side {
        let _ = tcp.set_nodelay(true);
        Side {
            tcp,
            io,
            buf: BytesMut::new(),
            out: VecDeque::new(),
            out_len: 0,
            eof: false,
            write_shut: false,
            bulk: false,
            written: 0,
        }
    }

    /// The socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Bytes written to the socket since it was opened.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes queued and not written yet.
    pub fn pending(&self) -> usize {
        self.out_len
    }

    /// Whether a TLS handshake is still under way (never for plain TCP):
    /// plaintext queued now leaves only once it completes.
    pub fn is_handshaking(&self) -> bool {
        matches!(&self.io, Io::Tls(pump) if pump.is_handshaking())
    }

    /// Whether the peer closed its sending side.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Queues plaintext for the peer (encrypted at once for TLS).
    pub fn queue(&mut self, b: Bytes) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        match &mut self.io {
            Io::Plain => {
                self.out_len += b.len();
                self.out.push_back(b);
            }
            Io::Tls(pump) => {
                pump.write_plaintext(&b).map_err(tls_err)?;
                self.take_ciphertext();
            }
        }
        Ok(())
    }

    fn take_ciphertext(&mut self) {
        if let Io::Tls(pump) = &mut self.io {
            while let Some(c) = pump.poll_ciphertext() {
                self.out_len += c.len();
                self.out.push_back(c);
            }
        }
    }

    /// One non-blocking read.
    pub fn read(&mut self) -> io::Result<Read> {
        if self.eof {
            return Ok(Read::Eof);
        }
        match &mut self.io {
            Io::Plain => {
                self.buf
                    .reserve(if self.bulk { READ_LARGE } else { READ_SMALL });
                let room = self.buf.capacity() - self.buf.len();
                match read_drained(&self.tcp, &mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        Ok(Read::Eof)
                    }
                    Ok(n) => {
                        self.bulk = n == room;
                        Ok(Read::Data)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::WouldBlock),
                    Err(e) => Err(e),
                }
            }
            Io::Tls(pump) => {
                let mut cipher = [0u8; 16 * 1024];
                let n = match self.tcp.try_read(&mut cipher) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Read::WouldBlock),
                    Err(e) => return Err(e),
                };
                let r = if n == 0 {
                    self.eof = true;
                    pump.handle_eof().map(|_| Read::Eof)
                } else {
                    pump.handle_ciphertext_slice(&cipher[..n], &mut self.buf)
                        .map(|_| Read::Data)
                };
                // Handshake messages, or the alert of a failed session.
                self.take_ciphertext();
                r.map_err(tls_err)
            }
        }
    }

    /// Writes what is queued until done or the socket would block.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let n = self.out.len().min(MAX_IOV);
            for (slot, b) in iov.iter_mut().zip(self.out.iter()) {
                *slot = IoSlice::new(b);
            }
            let written = match self.tcp.try_write_vectored(&iov[..n]) {
                Ok(w) if w > 0 => w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                r => {
                    // The peer is gone: what is queued can never be
                    // written (reported once; the caller decides).
                    self.out.clear();
                    self.out_len = 0;
                    return Err(r.err().unwrap_or_else(|| io::ErrorKind::WriteZero.into()));
                }
            };
            self.out_len -= written;
            self.written += written as u64;
            let mut left = written;
            while left > 0 {
                let front = self.out.front_mut().expect("written bytes were queued");
                if front.len() <= left {
                    left -= front.len();
                    self.out.pop_front();
                } else {
                    front.advance(left);
                    left = 0;
                }
            }
        }
        Ok(())
    }

    /// Closes the sending side once the queue is written (TLS:
    /// `close_notify` first). For tunnels, where each direction ends on
    /// its own.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        if !self.write_shut {
            if let Io::Tls(pump) = &mut self.io {
                pump.send_close_notify();
                self.take_ciphertext();
            }
            self.write_shut = true;
        }
        self.flush()?;
        if self.out.is_empty() {
            socket2::SockRef::from(&self.tcp).shutdown(std::net::Shutdown::Write)?;
        }
        Ok(())
    }

    /// Readiness to read (or an error, which the next read reports).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.tcp.poll_read_ready(cx).map(|_| ())
    }

    /// Readiness to write, when something is queued.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.out.is_empty() {
            return Poll::Pending;
        }
        self.tcp.poll_write_ready(cx).map(|_| ())
    }

    /// Whether a pooled connection is still fit: nothing arrived on it
    /// while it sat idle (no EOF, no stray bytes such as a 408).
    pub fn idle_and_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}
