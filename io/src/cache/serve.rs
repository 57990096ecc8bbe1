//! Sending a byte range of a [`CachedFile`] so that a file changing
//! underneath never crashes the process nor completes a response with bytes
//! it did not have.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::os::unix::net::UnixStream;

use bytes::{Buf, Bytes};

use super::CachedFile;

/// How much of the end of a range of a mapped file is sent from a checked
/// `pread` copy instead of the mapping (at most the chunk size).
pub const HELD_BACK: u64 = 16 * 1024;

/// Why a range could not be sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The file was truncated or modified since it was loaded. What was sent
    /// is a prefix of the response at most; close the connection without
    /// completing it (and do not reuse it).
    FileChanged,
    /// The range does not lie within the file (`start..end` of `len`).
    InvalidRange {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The file's length.
        len: u64,
    },
    /// Writing (or `fstat`/`pread`) failed; the connection is unusable.
    Io(io::Error),
}

impl ServeError {
    /// Whether an `io::Error` (from
    /// [`CachedFile::read_range_checked`]) says the file changed.
    pub fn is_file_changed(err: &io::Error) -> bool {
        matches!(
            err.get_ref().and_then(|e| e.downcast_ref::<ServeError>()),
            Some(ServeError::FileChanged)
        )
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::FileChanged => f.write_str("file changed while it was being served"),
            ServeError::InvalidRange { start, end, len } => {
                write!(f, "range {start}..{end} outside a file of {len} bytes")
            }
            ServeError::Io(e) => write!(f, "io error while serving a file: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ServeError {
    fn from(e: io::Error) -> Self {
        ServeError::Io(e)
    }
}

impl From<ServeError> for io::Error {
    /// `Io` unwraps; `InvalidRange` becomes `InvalidInput`; `FileChanged` is
    /// wrapped (kind `Other`; test with [`ServeError::is_file_changed`]).
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Io(e) => e,
            e @ ServeError::InvalidRange { .. } => io::Error::new(io::ErrorKind::InvalidInput, e),
            e => io::Error::other(e),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A writer whose `write` passes the buffer straight to one `write(2)` or
/// `send(2)` call, so the kernel, not Rust code, reads it: the only writers
/// a mapped file may be given to ([`CachedFile::write_range`]). Sealed:
/// implemented for `TcpStream`, `UnixStream` and `File` (and shared
/// references to them), which do no buffering. A `BufWriter`, a TLS stream
/// or a `Vec` would copy the mapped bytes in userspace and could die of
/// `SIGBUS` on a truncated file.
pub trait DirectWrite: Write + sealed::Sealed {}

macro_rules! direct {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl DirectWrite for $t {}
    )*};
}
direct!(TcpStream, &TcpStream, UnixStream, &UnixStream, File, &File);

/// The state of sending `start..end` of a file in chunks: the runtime-neutral
/// core of [`CachedFile::write_range`], for adapters that write with their
/// own (async, non-blocking) calls.
///
/// Contract: call [`next_chunk`](Self::next_chunk), pass the returned bytes
/// **directly** to the socket's own write call (the kernel must be the one
/// reading them: tokio `TcpStream::try_write`/`poll_write`, async-io
/// `Async<TcpStream>`; never a buffering or encrypting wrapper), then report
/// how many were accepted with [`advance`](Self::advance). Repeat until
/// `next_chunk` returns `Ok(None)`. On `Err(FileChanged)`, or a write error,
/// close the connection without completing the response.
///
/// Each `next_chunk` of a mapped file first checks
/// [`CachedFile::is_unchanged`] and returns a slice of the mapping; the last
/// [`HELD_BACK`] bytes (16 KiB, or the chunk size if smaller) are held back
/// until everything before them has been written, then copied with `pread`
/// and checked after the copy, so the response can only complete with the
/// bytes the file had when it was loaded.
///
/// ```no_run
/// # fn demo(f: &wireloom_io::cache::CachedFile, sock: &mut std::net::TcpStream)
/// #     -> Result<(), wireloom_io::cache::ServeError> {
/// use std::io::Write;
/// let mut cur = f.cursor(0..f.len(), 256 * 1024)?;
/// while let Some(chunk) = cur.next_chunk()? {
///     let n = sock.write(&chunk)?; // one send(2) reading straight from the mapping
///     cur.advance(n);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RangeCursor {
    file: CachedFile,
    pos: u64,
    end: u64,
    chunk_size: u64,
    /// The held-back tail, copied and checked; what is left of it to write.
    tail: Option<Bytes>,
}

impl RangeCursor {
    /// Offset in the file of the next byte to write.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes left to write.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// The bytes to write next (at most the chunk size), after checking that
    /// the file is unchanged; `Ok(None)` when the range is done. Calling it
    /// again without [`advance`](Self::advance) returns the same bytes
    /// (checked again).
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, ServeError> {
        if self.pos == self.end {
            return Ok(None);
        }
        if let Some(tail) = &self.tail {
            return Ok(Some(tail.clone()));
        }
        if !self.file.is_mapped() {
            // A private snapshot: nothing can change it.
            let n = (self.end - self.pos).min(self.chunk_size);
            let (a, b) = (self.pos as usize, (self.pos + n) as usize);
            return Ok(Some(self.file.bytes().slice(a..b)));
        }
        let tail_len = HELD_BACK.min(self.chunk_size);
        if self.end - self.pos <= tail_len {
            // The held-back tail: copy it out of the page cache first, check
            // after the copy. Every earlier byte was already copied by the
            // kernel in an earlier write, and a write to the file updates
            // the mtime before it changes any byte, so a passing check
            // proves the whole response is the loaded version; nothing can
            // alter the copy still to be sent.
            let tail = self
                .file
                .read_range_checked(self.pos..self.end)
                .map_err(|e| {
                    if ServeError::is_file_changed(&e) {
                        ServeError::FileChanged
                    } else {
                        ServeError::Io(e)
                    }
                })?;
            self.tail = Some(tail.clone());
            return Ok(Some(tail));
        }
        if !self.file.is_unchanged()? {
            return Err(ServeError::FileChanged);
        }
        // Up to the chunk size, stopping short of the held-back tail.
        let stop = (self.pos + self.chunk_size).min(self.end - tail_len);
        let (a, b) = (self.pos as usize, stop as usize);
        Ok(Some(self.file.bytes().slice(a..b)))
    }

    /// Records that `n` bytes of the last chunk were written.
    ///
    /// # Panics
    /// If `n` is more than the bytes remaining.
    pub fn advance(&mut self, n: usize) {
        let n64 = n as u64;
        assert!(n64 <= self.remaining(), "advance past the end of the range");
        if let Some(tail) = &mut self.tail {
            tail.advance(n);
        }
        self.pos += n64;
    }
}

impl CachedFile {
    /// A [`RangeCursor`] for sending `range` (end exclusive) in chunks of at
    /// most `chunk_size` bytes (at least 1; 64 KiB to 1 MiB is sensible).
    pub fn cursor(&self, range: Range<u64>, chunk_size: usize) -> Result<RangeCursor, ServeError> {
        self.check_range(&range)?;
        Ok(RangeCursor {
            file: self.clone(),
            pos: range.start,
            end: range.end,
            chunk_size: chunk_size.max(1) as u64,
            tail: None,
        })
    }

    /// Writes `range` (end exclusive) of the file to `out`, a plain blocking
    /// socket (or file), in chunks of at most `chunk_size` bytes; returns the
    /// number of bytes written (the range's length).
    ///
    /// The mapped bytes go straight to `write(2)`/`send(2)`: one kernel
    /// copy, no userspace read. Before each chunk the file is checked with
    /// [`is_unchanged`](Self::is_unchanged); the last [`HELD_BACK`] bytes are
    /// held back until a check made after copying them passes (see
    /// [`RangeCursor`]).
    /// A truncation met inside a write (`EFAULT`, short write) shows up as
    /// the same check failing.
    ///
    /// On `Err(ServeError::FileChanged)` (or any error) the caller must close
    /// the connection without completing the response. A non-blocking `out`
    /// or a write timeout surfaces as `ServeError::Io` (the number written is
    /// lost; use [`cursor`](Self::cursor) to resume).
    pub fn write_range<W: DirectWrite + ?Sized>(
        &self,
        range: Range<u64>,
        out: &mut W,
        chunk_size: usize,
    ) -> Result<u64, ServeError> {
        let mut cur = self.cursor(range, chunk_size)?;
        let mut written = 0;
        while let Some(chunk) = cur.next_chunk()? {
            match out.write(&chunk) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => {
                    cur.advance(n);
                    written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EFAULT: the kernel met a page the file no longer has.
                    if !self.is_unchanged().unwrap_or(false) {
                        return Err(ServeError::FileChanged);
                    }
                    return Err(ServeError::Io(e));
                }
            }
        }
        Ok(written)
    }
}
