//! The one generic blocking driver: moves bytes between a socket and any
//! core [`Dialogue`], and runs the timer the dialogue asks for.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use wireloom_core::Dialogue;

/// A byte stream the driver can run: a TCP socket, or TLS over one.
pub trait Socket: Read + Write + Send {
    /// Sets the read timeout (`None` blocks).
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()>;
    /// Sets the write timeout (`None` blocks).
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()>;
    /// Closes the sending side (after a TLS close_notify, for TLS).
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// Whether bytes written may be handed to the kernel straight from a
    /// memory-mapped file (true for plain TCP; false for TLS, which must read
    /// them in user space and so must not touch a mapping that can shrink).
    fn zero_copy(&self) -> bool {
        false
    }
}

impl Socket for TcpStream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, d)
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, d)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
    fn zero_copy(&self) -> bool {
        true
    }
}

impl<S: Socket + ?Sized> Socket for Box<S> {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(d)
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(d)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
    fn zero_copy(&self) -> bool {
        (**self).zero_copy()
    }
}

/// What one [`Driver::read_once`] call did.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Bytes arrived and were given to the dialogue.
    Data,
    /// The dialogue's timer fired and `handle_timeout` ran.
    Timer,
    /// The peer closed; `handle_eof` ran.
    Eof,
    /// Nothing happened within the poll interval.
    Idle,
    /// The dialogue rejected the input (it has queued what to answer, if
    /// anything, and will close).
    ProtocolError,
}

/// Read size per call.
const READ_CHUNK: usize = 16 * 1024;

/// Owns a socket and its read buffer and drives one dialogue at a time.
#[derive(Debug)]
pub struct Driver<S> {
    /// The transport.
    pub sock: S,
    /// Bytes read but not yet consumed by the dialogue. After an upgrade,
    /// these belong to the new protocol.
    pub buf: BytesMut,
    eof: bool,
    write_batches: u64,
}

impl<S: Socket> Driver<S> {
    /// A driver over `sock`.
    pub fn new(sock: S) -> Driver<S> {
        Driver {
            sock,
            buf: BytesMut::with_capacity(READ_CHUNK),
            eof: false,
            write_batches: 0,
        }
    }

    /// Whether the peer has closed its side.
    pub fn peer_closed(&self) -> bool {
        self.eof
    }

    /// How many [`flush`](Driver::flush) calls had something to write: each
    /// is one batch handed to the transport (with SMTP PIPELINING, a whole
    /// envelope is one batch).
    pub fn write_batches(&self) -> u64 {
        self.write_batches
    }

    /// Writes everything the dialogue wants sent, batching with vectored writes.
    pub fn flush<D: Dialogue>(&mut self, d: &mut D) -> io::Result<()> {
        let mut batch: Vec<Bytes> = Vec::new();
        let mut counted = false;
        loop {
            while batch.len() < 64 {
                match d.poll_transmit() {
                    Some(b) if b.is_empty() => {}
                    Some(b) => batch.push(b),
                    None => break,
                }
            }
            if batch.is_empty() {
                return self.sock.flush();
            }
            if !counted {
                counted = true;
                self.write_batches += 1;
            }
            write_all_vectored(&mut self.sock, &mut batch)?;
        }
    }

    /// Feeds whatever is already buffered to the dialogue (e.g. pipelined
    /// requests after a response ended).
    pub fn feed_buffered<D: Dialogue>(&mut self, d: &mut D) -> ReadOutcome {
        if self.buf.is_empty() {
            return ReadOutcome::Idle;
        }
        match d.handle_input(Instant::now(), &mut self.buf) {
            Ok(()) => ReadOutcome::Data,
            Err(_) => ReadOutcome::ProtocolError,
        }
    }

    /// Waits for bytes (or the dialogue's deadline, or `poll` whichever comes
    /// first) and feeds the dialogue.
    pub fn read_once<D: Dialogue>(
        &mut self,
        d: &mut D,
        poll: Option<Duration>,
    ) -> io::Result<ReadOutcome> {
        let now = Instant::now();
        let deadline = d.poll_timeout();
        if let Some(at) = deadline {
            if at <= now {
                d.handle_timeout(now);
                return Ok(ReadOutcome::Timer);
            }
        }
        if self.eof {
            return Ok(ReadOutcome::Eof);
        }
        let wait = match (deadline.map(|at| at - now), poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A zero timeout means "block" to the OS: never pass it.
        self.sock
            .set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))))?;
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let r = self.sock.read(&mut self.buf[len..]);
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        let now = Instant::now();
                        if d.poll_timeout().is_some_and(|at| at <= now) {
                            d.handle_timeout(now);
                            Ok(ReadOutcome::Timer)
                        } else {
                            Ok(ReadOutcome::Idle)
                        }
                    }
                    io::ErrorKind::Interrupted => Ok(ReadOutcome::Idle),
                    io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::UnexpectedEof => {
                        self.eof = true;
                        d.handle_eof(Instant::now());
                        Ok(ReadOutcome::Eof)
                    }
                    _ => Err(e),
                };
            }
        };
        self.buf.truncate(len + n);
        let now = Instant::now();
        if n == 0 {
            self.eof = true;
            // Whatever is buffered was already offered; now the peer is gone.
            d.handle_eof(now);
            return Ok(ReadOutcome::Eof);
        }
        match d.handle_input(now, &mut self.buf) {
            Ok(()) => Ok(ReadOutcome::Data),
            Err(_) => Ok(ReadOutcome::ProtocolError),
        }
    }
}

/// A body handed out in [`Bytes`] pieces that is also read through
/// [`io::Read`]: the piece a short `read` left over waits in
/// [`pending`](ChunkRead::pending). Implemented by the server's request and
/// the client's response, whose `Read` impls are [`read_pieces`].
pub(crate) trait ChunkRead {
    /// The rest of the piece the last `read` did not take.
    fn pending(&mut self) -> &mut Bytes;
    /// The next piece (the pending one first); `None` at the end.
    fn next_piece(&mut self) -> io::Result<Option<Bytes>>;
}

/// `io::Read::read` for a [`ChunkRead`]: copies from the pending piece,
/// fetching the next one when it is used up; 0 at the end of the body.
pub(crate) fn read_pieces<R: ChunkRead + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    if r.pending().is_empty() {
        match r.next_piece()? {
            Some(piece) => *r.pending() = piece,
            None => return Ok(0),
        }
    }
    let pending = r.pending();
    let n = buf.len().min(pending.len());
    buf[..n].copy_from_slice(&pending[..n]);
    bytes::Buf::advance(pending, n);
    Ok(n)
}

/// Writes every buffer in `batch` (emptying it), retrying partial writes.
pub fn write_all_vectored<W: Write + ?Sized>(w: &mut W, batch: &mut Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < batch.len() {
        let slices: Vec<IoSlice<'_>> = batch[first..].iter().map(|b| IoSlice::new(b)).collect();
        let mut n = match w.write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while n > 0 {
            let len = batch[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                bytes::Buf::advance(&mut batch[first], n);
                n = 0;
            }
        }
    }
    batch.clear();
    Ok(())
}

/// Wraps a connected TCP stream into a client TLS session for `server_name`
/// (see [`crate::tls`]); shared by the HTTP and SMTP clients.
pub trait TlsConnector: Send + Sync {
    /// Performs the handshake (bounded by the stream's timeouts).
    fn connect(&self, tcp: TcpStream, server_name: &str) -> io::Result<Box<dyn Socket>>;
}
