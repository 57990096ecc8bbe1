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
    /// Whether the bytes travel over TLS (for logs; false by default).
    fn is_tls(&self) -> bool {
        false
    }
    /// The server name (SNI) a TLS client asked for, if any (for logs).
    fn server_name(&self) -> Option<&str> {
        None
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
    fn is_tls(&self) -> bool {
        (**self).is_tls()
    }
    fn server_name(&self) -> Option<&str> {
        (**self).server_name()
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
    /// Nothing happened within the poll interval (or the dialogue wants no
    /// input now and its timer did not fire).
    Idle,
}

/// What one [`Driver::advance`] call did.
#[derive(Debug)]
pub enum Progress<E> {
    /// The dialogue had an event (nothing was written or read for it).
    Event(E),
    /// The dialogue could make no progress on buffered input: the write
    /// batch went out, then one read (see [`Driver::read_once`]).
    Read(ReadOutcome),
    /// The dialogue is closed and everything it queued is written.
    Closed,
}

/// Read size per call.
const READ_CHUNK: usize = 16 * 1024;
/// Shortest read timeout handed to the OS (zero would mean "block").
const MIN_WAIT: Duration = Duration::from_millis(1);
/// Buffers handed to one `writev`; also the most buffers the write batch
/// holds before [`Driver::queue`] writes it.
const MAX_IOV: usize = 64;
/// The most bytes the write batch holds before [`Driver::queue`] writes it:
/// however many pipelined requests are buffered, and however large their
/// answers, batching never holds more than this plus one response.
const MAX_BATCH_BYTES: usize = 256 * 1024;

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
    /// The read timeout last set on `sock` (outer `None`: unknown). The
    /// driver skips the `setsockopt` when it can keep it; whoever changes
    /// the socket's read timeout directly must call
    /// [`Driver::forget_read_timeout`].
    read_timeout: Option<Option<Duration>>,
    /// What each `read` fills (zeroed once, then reused) before the bytes
    /// received are appended to `buf`: cheaper than zeroing `READ_CHUNK`
    /// fresh bytes of `buf` per call when requests are small.
    scratch: Vec<u8>,
    /// The write batch: bytes the dialogue queued that are not written yet
    /// (in order, before anything still in the dialogue's transmit queue).
    /// [`Driver::queue`] fills it and writes it once it holds `MAX_IOV`
    /// buffers or `MAX_BATCH_BYTES`; [`Driver::flush`] writes it whole. The
    /// vector is reused between writes.
    batch: Vec<Bytes>,
    /// Bytes in `batch`.
    batch_bytes: usize,
}

impl<S: Socket> Driver<S> {
    /// A driver over `sock`.
    pub fn new(sock: S) -> Driver<S> {
        Driver {
            sock,
            buf: BytesMut::with_capacity(READ_CHUNK),
            eof: false,
            write_batches: 0,
            read_timeout: None,
            scratch: Vec::new(),
            batch: Vec::new(),
            batch_bytes: 0,
        }
    }

    /// Forgets which read timeout the driver last set on the socket (call
    /// after changing it through `sock` directly).
    pub fn forget_read_timeout(&mut self) {
        self.read_timeout = None;
    }

    /// Makes the socket's read timeout at most `wait` (and not much less),
    /// calling `setsockopt` only when the current one does not fit. Waking
    /// early is harmless: [`Driver::read_once`] then reports `Idle` (or runs
    /// the timer if it is due) and the caller reads again.
    fn set_wait(&mut self, wait: Option<Duration>) -> io::Result<()> {
        let want = match wait {
            None => None,
            Some(w) => {
                let w = w.max(MIN_WAIT);
                if let Some(Some(cur)) = self.read_timeout {
                    if cur <= w && w <= cur * 2 {
                        return Ok(());
                    }
                }
                // A little under `w`, so that a slightly shorter wait next
                // time (the same deadline, a bit later) still fits.
                Some((w - w / 8).max(MIN_WAIT))
            }
        };
        if self.read_timeout == Some(want) {
            return Ok(());
        }
        self.read_timeout = None;
        self.sock.set_read_timeout(want)?;
        self.read_timeout = Some(want);
        Ok(())
    }

    /// Whether the peer has closed its side.
    pub fn peer_closed(&self) -> bool {
        self.eof
    }

    /// How many batches were handed to the transport: [`flush`](Driver::flush)
    /// calls that had something to write, including those [`queue`](Driver::queue)
    /// makes when the batch is full (with SMTP PIPELINING, a whole envelope
    /// is one batch; with HTTP pipelining, the answers to every request
    /// already read).
    pub fn write_batches(&self) -> u64 {
        self.write_batches
    }

    /// Moves what the dialogue wants sent into the write batch without
    /// writing it, unless the batch is full (`MAX_IOV` buffers or
    /// `MAX_BATCH_BYTES`): then it is written at once, so memory stays
    /// bounded however many answers are batched.
    pub fn queue<D: Dialogue>(&mut self, d: &mut D) -> io::Result<()> {
        while let Some(b) = d.poll_transmit() {
            if !b.is_empty() {
                self.batch_bytes += b.len();
                self.batch.push(b);
            }
        }
        if self.batch.len() >= MAX_IOV || self.batch_bytes >= MAX_BATCH_BYTES {
            self.flush(d)
        } else {
            Ok(())
        }
    }

    /// Writes the batch and everything the dialogue wants sent, with
    /// vectored writes. Call it before anything that waits (a blocking
    /// read, a slow body source) and after each piece of a body that must
    /// see the peer's backpressure.
    pub fn flush<D: Dialogue>(&mut self, d: &mut D) -> io::Result<()> {
        let mut batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut counted = false;
        let r = loop {
            while batch.len() < MAX_IOV {
                match d.poll_transmit() {
                    Some(b) if b.is_empty() => {}
                    Some(b) => batch.push(b),
                    None => break,
                }
            }
            if batch.is_empty() {
                break self.sock.flush();
            }
            if !counted {
                counted = true;
                self.write_batches += 1;
            }
            if let Err(e) = write_all_vectored(&mut self.sock, &mut batch) {
                break Err(e);
            }
        };
        batch.clear();
        self.batch = batch;
        r
    }

    /// One step of the driver loop, with the batching rule: the write batch
    /// goes out only when the dialogue can make no more progress without
    /// new input.
    ///
    /// 1. What the dialogue queued joins the write batch ([`queue`](Driver::queue):
    ///    written early only when full).
    /// 2. A pending event is returned at once, nothing written.
    /// 3. Otherwise the bytes already buffered are offered again
    ///    ([`feed_buffered`](Driver::feed_buffered)): an application call
    ///    (a response ended, a body accepted) may have let the dialogue take
    ///    bytes it left there, such as the next pipelined request. An event
    ///    that produces is returned, nothing written.
    /// 4. Now the dialogue needs new input: the batch is written
    ///    ([`flush`](Driver::flush)); if the dialogue is closed that is the
    ///    end ([`Progress::Closed`]), else one [`read_once`](Driver::read_once)
    ///    with `poll` as for that call.
    ///
    /// So the answers to 16 pipelined requests read at once leave in one
    /// vectored write (two buffers per small response: 32 of `MAX_IOV`).
    pub fn advance<D: Dialogue>(
        &mut self,
        d: &mut D,
        poll: Option<Duration>,
    ) -> io::Result<Progress<D::Event>> {
        self.queue(d)?;
        if let Some(ev) = d.poll_event() {
            return Ok(Progress::Event(ev));
        }
        if !self.buf.is_empty() && !d.is_closed() {
            self.feed_buffered(d);
            if let Some(ev) = d.poll_event() {
                return Ok(Progress::Event(ev));
            }
        }
        self.flush(d)?;
        if d.is_closed() {
            return Ok(Progress::Closed);
        }
        self.read_once(d, poll).map(Progress::Read)
    }

    /// Feeds whatever is already buffered to the dialogue (e.g. pipelined
    /// requests after a response ended). A protocol error comes out of the
    /// dialogue's events, like everything else.
    pub fn feed_buffered<D: Dialogue>(&mut self, d: &mut D) -> ReadOutcome {
        if self.buf.is_empty() {
            return ReadOutcome::Idle;
        }
        d.handle_input(Instant::now(), &mut self.buf);
        ReadOutcome::Data
    }

    /// Waits for bytes (or the dialogue's deadline, or `poll` whichever comes
    /// first) and feeds the dialogue. While the dialogue does not
    /// [`want input`](Dialogue::wants_input), nothing is read (the peer is
    /// held back by TCP): only its timer is waited for.
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
        let wait = match (deadline.map(|at| at - now), poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.eof || !d.wants_input() {
            // Nothing to read (the peer closed, or back-pressure): only
            // the timer can fire. Wait for it, bounded by `poll`.
            if let Some(w) = wait {
                std::thread::sleep(w);
                let now = Instant::now();
                if d.poll_timeout().is_some_and(|at| at <= now) {
                    d.handle_timeout(now);
                    return Ok(ReadOutcome::Timer);
                }
            }
            return Ok(if self.eof {
                ReadOutcome::Eof
            } else {
                ReadOutcome::Idle
            });
        }
        self.set_wait(wait)?;
        if self.scratch.len() != READ_CHUNK {
            self.scratch = vec![0; READ_CHUNK];
        }
        let r = self.sock.read(&mut self.scratch);
        let n = match r {
            Ok(n) => n,
            Err(e) => {
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
        self.buf.extend_from_slice(&self.scratch[..n]);
        let now = Instant::now();
        if n == 0 {
            self.eof = true;
            // Whatever is buffered was already offered; now the peer is gone.
            d.handle_eof(now);
            return Ok(ReadOutcome::Eof);
        }
        d.handle_input(now, &mut self.buf);
        Ok(ReadOutcome::Data)
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

/// Resolves `host` (a name, an IPv4 address or a bare IPv6 address) and
/// connects to the first address that answers, all of it within `timeout`
/// (not `timeout` per address) and before `deadline` when there is one. A
/// timeout is an error of kind [`io::ErrorKind::TimedOut`].
pub fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
    deadline: Option<Instant>,
) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let start = Instant::now();
    let until = match deadline {
        Some(d) => d.min(start + timeout),
        None => start + timeout,
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                last = io::ErrorKind::TimedOut.into();
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Writes every buffer in `batch` (emptying it), retrying partial writes.
pub fn write_all_vectored<W: Write + ?Sized>(w: &mut W, batch: &mut Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < batch.len() {
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let count = (batch.len() - first).min(MAX_IOV);
        for (s, b) in slices.iter_mut().zip(&batch[first..first + count]) {
            *s = IoSlice::new(b);
        }
        let mut n = match w.write_vectored(&slices[..count]) {
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
