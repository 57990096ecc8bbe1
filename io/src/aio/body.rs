//! Bodies of the async server: the request body streamed from the
//! connection to the handler, and response bodies.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use wireloom_core::http::file::Segment;
use wireloom_core::http::{BodyLength, HeaderMap};

use crate::cache::CachedFile;
use crate::http::{segments_len, ResponseBody};
use crate::rt::BoxFuture;

/// Body bytes the connection buffers ahead of the handler before it stops
/// reading from the socket (back-pressure).
pub(crate) const BODY_AHEAD: usize = 64 * 1024;

/// What the connection and the handler share about a request body.
#[derive(Default)]
pub(crate) struct BodyState {
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) queued: usize,
    pub(crate) end: bool,
    pub(crate) error: Option<(io::ErrorKind, String)>,
    /// Trailer fields of a chunked body, once it has ended.
    pub(crate) trailers: Option<HeaderMap>,
    /// The handler asked for body bytes (sends 100 Continue).
    pub(crate) wanted: bool,
    pub(crate) reader: Option<Waker>,
    pub(crate) conn: Option<Waker>,
}

impl BodyState {
    pub(crate) fn push(&mut self, b: Bytes) {
        self.queued += b.len();
        self.queue.push_back(b);
        self.wake_reader();
    }
    pub(crate) fn finish(&mut self, error: Option<(io::ErrorKind, String)>) {
        self.end = true;
        if self.error.is_none() {
            self.error = error;
        }
        self.wake_reader();
    }
    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }
}

pub(crate) type Shared = Arc<Mutex<BodyState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, BodyState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A request body as it arrives from the connection: a [`Stream`] of
/// `Bytes` pieces (zero-copy slices of the read buffer) and a `futures-io`
/// [`AsyncRead`]. The first poll sends `100 Continue` when the client
/// waits for it. A body not read by the time the response is sent is
/// discarded by the connection.
#[derive(Default)]
pub struct RequestBody {
    shared: Option<Shared>,
    pending: Bytes,
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("empty", &self.shared.is_none())
            .finish()
    }
}

impl RequestBody {
    pub(crate) fn new(shared: Option<Shared>) -> RequestBody {
        RequestBody {
            shared,
            pending: Bytes::new(),
        }
    }

    /// An empty body.
    pub fn empty() -> RequestBody {
        RequestBody::default()
    }

    /// Whether the request has no body at all.
    pub fn is_empty(&self) -> bool {
        self.shared.is_none() && self.pending.is_empty()
    }

    /// The trailer fields of a chunked body, once the body has been read
    /// to its end (`None` before, and for a body without trailers).
    pub fn trailers(&self) -> Option<HeaderMap> {
        let shared = self.shared.as_ref()?;
        lock(shared).trailers.clone()
    }

    /// The poll form of [`chunk`](RequestBody::chunk).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Ok(Some(std::mem::take(&mut self.pending))));
        }
        let Some(shared) = &self.shared else {
            return Poll::Ready(Ok(None));
        };
        let mut st = lock(shared);
        if let Some(b) = st.queue.pop_front() {
            st.queued -= b.len();
            if st.queued < BODY_AHEAD {
                if let Some(w) = st.conn.take() {
                    w.wake();
                }
            }
            return Poll::Ready(Ok(Some(b)));
        }
        if st.end {
            return Poll::Ready(match &st.error {
                Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
                None => Ok(None),
            });
        }
        st.wanted = true;
        st.reader = Some(cx.waker().clone());
        if let Some(w) = st.conn.take() {
            w.wake();
        }
        Poll::Pending
    }

    /// The next piece of the body without copying; `None` at its end. A
    /// broken body (the client stalled or sent bad framing, which the
    /// server answers itself) is an error.
    pub async fn chunk(&mut self) -> io::Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The whole body, refused with `InvalidData` beyond `limit` bytes.
    pub async fn read_all(&mut self, limit: usize) -> io::Result<Bytes> {
        let mut all = Collect::new(limit as u64);
        while let Some(c) = self.chunk().await? {
            if !all.push(c) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body over the limit",
                ));
            }
        }
        Ok(all.finish())
    }
}

/// Joins body pieces up to a limit; a body of one piece is returned as is,
/// without a copy.
pub(crate) struct Collect {
    first: Option<Bytes>,
    out: BytesMut,
    limit: u64,
}

impl Collect {
    pub(crate) fn new(limit: u64) -> Collect {
        Collect {
            first: None,
            out: BytesMut::new(),
            limit,
        }
    }

    /// Adds a piece; false when it would pass the limit.
    pub(crate) fn push(&mut self, c: Bytes) -> bool {
        let have = self.first.as_ref().map_or(self.out.len(), Bytes::len);
        if (have + c.len()) as u64 > self.limit {
            return false;
        }
        match self.first.take() {
            None if self.out.is_empty() => self.first = Some(c),
            Some(f) => {
                self.out.extend_from_slice(&f);
                self.out.extend_from_slice(&c);
            }
            None => self.out.extend_from_slice(&c),
        }
        true
    }

    pub(crate) fn finish(self) -> Bytes {
        self.first.unwrap_or_else(|| self.out.freeze())
    }
}

/// `AsyncRead` over a source of pieces: copies from `pending`, refilled by
/// `next` when empty; `Ok(0)` at the end.
pub(crate) fn poll_read_pieces<E: Into<io::Error>>(
    pending: &mut Bytes,
    buf: &mut [u8],
    next: impl FnOnce() -> Poll<Result<Option<Bytes>, E>>,
) -> Poll<io::Result<usize>> {
    if pending.is_empty() {
        match next() {
            Poll::Ready(Ok(Some(b))) => *pending = b,
            Poll::Ready(Ok(None)) => return Poll::Ready(Ok(0)),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            Poll::Pending => return Poll::Pending,
        }
    }
    let n = buf.len().min(pending.len());
    buf[..n].copy_from_slice(&pending[..n]);
    pending.advance(n);
    Poll::Ready(Ok(n))
}

impl Stream for RequestBody {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().poll_chunk(cx) {
            Poll::Ready(Ok(Some(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for RequestBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut pending = std::mem::take(&mut this.pending);
        let r = poll_read_pieces(&mut pending, buf, || this.poll_chunk(cx));
        this.pending = pending;
        r
    }
}

/// A streamed response body.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A piece of a [`Body::Frames`] body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Body bytes.
    Data(Bytes),
    /// The trailer fields; the body ends after them. Sent in the last
    /// chunk of a chunked body; dropped when the body has a length (or the
    /// client cannot take them: see the producer, e.g. the `tower` module).
    Trailers(HeaderMap),
}

/// A streamed response body of data and (at its end) trailer fields.
pub type FrameStream = Pin<Box<dyn Stream<Item = io::Result<Frame>> + Send>>;

/// A byte stream the handler takes over after a protocol switch.
pub trait AsyncSocket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncSocket for T {}

/// The transport after a protocol switch, with the bytes already read past
/// the switch point.
pub struct Upgraded {
    /// The connection (plain or TLS), as `futures-io` traits.
    pub io: Box<dyn AsyncSocket>,
    /// Bytes read from `io` that belong to the new protocol.
    pub read_ahead: Bytes,
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("read_ahead", &self.read_ahead.len())
            .finish()
    }
}

/// What runs on the transport after a protocol switch.
pub type UpgradeFn = Box<dyn FnOnce(Upgraded) -> BoxFuture<'static, ()> + Send>;

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// The whole body at once (sent with Content-Length).
    Full(Bytes),
    /// Streamed (chunked to HTTP/1.1 clients); each piece is written before
    /// the next is asked for, so a slow client slows the stream down.
    Stream(BodyStream),
    /// Planned segments of a cached file (sent with Content-Length).
    File(CachedFile, Vec<Segment>),
    /// Streamed data then, optionally, trailer fields: with a length
    /// (`Some`: sent with Content-Length, and a stream that does not give
    /// exactly that many bytes cuts the connection) or without (chunked to
    /// HTTP/1.1 clients, trailers in the last chunk). Each piece is written
    /// before the next is asked for.
    Frames(FrameStream, Option<u64>),
    /// Switch protocols (101 to an Upgrade request, 2xx to CONNECT): the
    /// function receives the transport once the head is written.
    Upgrade(UpgradeFn),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Stream"),
            Body::File(file, _) => write!(f, "File({})", file.path().display()),
            Body::Frames(_, len) => write!(f, "Frames({len:?})"),
            Body::Upgrade(_) => f.write_str("Upgrade"),
        }
    }
}

impl Body {
    /// A streamed body from any stream of `Bytes`.
    pub fn stream(s: impl Stream<Item = io::Result<Bytes>> + Send + 'static) -> Body {
        Body::Stream(Box::pin(s))
    }

    /// A streamed body read from a `futures-io` reader.
    pub fn reader(r: impl AsyncRead + Send + Unpin + 'static) -> Body {
        Body::Stream(reader_stream(r))
    }

    /// A body of data and trailer [`Frame`]s, with a length if it is known.
    pub fn frames(
        s: impl Stream<Item = io::Result<Frame>> + Send + 'static,
        length: Option<u64>,
    ) -> Body {
        Body::Frames(Box::pin(s), length)
    }

    /// A protocol switch: `f` gets the transport after the head is written.
    pub fn upgrade<F, Fut>(f: F) -> Body
    where
        F: FnOnce(Upgraded) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Body::Upgrade(Box::new(move |u| Box::pin(f(u))))
    }
}

impl ResponseBody for Body {
    fn empty() -> Self {
        Body::Empty
    }
    fn full(bytes: Bytes) -> Self {
        Body::Full(bytes)
    }
    fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }
    fn length(&self) -> BodyLength {
        match self {
            Body::Empty | Body::Upgrade(_) => BodyLength::Known(0),
            Body::Full(b) => BodyLength::Known(b.len() as u64),
            Body::Stream(_) | Body::Frames(_, None) => BodyLength::Unknown,
            Body::Frames(_, Some(n)) => BodyLength::Known(*n),
            Body::File(_, segments) => BodyLength::Known(segments_len(segments)),
        }
    }
    fn is_upgrade(&self) -> bool {
        matches!(self, Body::Upgrade(_))
    }
}

/// A `futures-io` reader as a stream of `Bytes` pieces (up to 64 KiB each).
pub(crate) fn reader_stream(r: impl AsyncRead + Send + Unpin + 'static) -> BodyStream {
    Box::pin(ReaderStream {
        r,
        buf: vec![0; 64 * 1024],
    })
}

struct ReaderStream<R> {
    r: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Stream for ReaderStream<R> {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            return match Pin::new(&mut this.r).poll_read(cx, &mut this.buf) {
                Poll::Ready(Ok(0)) => Poll::Ready(None),
                Poll::Ready(Ok(n)) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(&this.buf[..n])))),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
