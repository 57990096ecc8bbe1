//! What handlers see and return: [`Request`] (the shared
//! [`RequestInfo`] plus a body read through `std::io::Read`), [`Body`],
//! [`Response`], and the [`Handler`] and [`Middleware`] traits.

use std::io::{self, Read};
use std::net::TcpStream;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use wireloom_core::http::file::Segment;
use wireloom_core::http::{BodyLength, Framing, RequestHead};
use wireloom_io::http::{segments_len, RequestInfo, ResponseBody};

use crate::driver::{read_pieces, ChunkRead, Socket};
use crate::router::Params;

/// Something that answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. The body can be read from `req` (as a stream);
    /// a body left unread is discarded by the connection.
    fn handle(&self, req: &mut Request<'_>) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&mut Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self(req)
    }
}

/// Wraps every handler: logging, authentication, timing...
pub trait Middleware: Send + Sync + 'static {
    /// Handles `req`, calling `next` to run the rest of the chain (or not).
    fn handle(
        &self,
        req: &mut Request<'_>,
        next: &dyn Fn(&mut Request<'_>) -> Response,
    ) -> Response;
}

impl<F> Middleware for F
where
    F: Fn(&mut Request<'_>, &dyn Fn(&mut Request<'_>) -> Response) -> Response
        + Send
        + Sync
        + 'static,
{
    fn handle(
        &self,
        req: &mut Request<'_>,
        next: &dyn Fn(&mut Request<'_>) -> Response,
    ) -> Response {
        self(req, next)
    }
}

/// A handler shared between threads.
pub type BoxHandler = Arc<dyn Handler>;

/// Where a request body comes from (the connection, in the server).
pub trait BodySource {
    /// The next piece of the body; `None` at its end.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// A request as a handler sees it: the head, path parameters and peer
/// (the shared [`RequestInfo`], whose accessors it dereferences to), and
/// the body as a stream (`Read`, or [`Request::read_chunk`] for zero-copy
/// pieces).
pub struct Request<'a> {
    info: RequestInfo,
    body: &'a mut dyn BodySource,
    pending: Bytes,
    body_done: bool,
}

impl Deref for Request<'_> {
    type Target = RequestInfo;
    fn deref(&self) -> &RequestInfo {
        &self.info
    }
}

impl<'a> Request<'a> {
    /// A request over any body source (for tests and other adapters).
    pub fn new(head: RequestHead, framing: Framing, body: &'a mut dyn BodySource) -> Request<'a> {
        Request::with_info(
            RequestInfo::new(head, framing, Params::default(), None),
            body,
        )
    }

    /// A request described by `info` (route parameters and peer
    /// included) over a body source.
    pub fn with_info(info: RequestInfo, body: &'a mut dyn BodySource) -> Request<'a> {
        let body_done = info.framing() == Framing::Empty;
        Request {
            info,
            body,
            pending: Bytes::new(),
            body_done,
        }
    }

    /// The next piece of the body without copying (`None` at the end). The
    /// first call sends `100 Continue` if the client waits for it.
    pub fn read_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if self.body_done {
            return Ok(None);
        }
        match self.body.next_chunk()? {
            Some(b) => Ok(Some(b)),
            None => {
                self.body_done = true;
                Ok(None)
            }
        }
    }

    /// The whole body, refused with `InvalidData` beyond `limit` bytes.
    pub fn read_body(&mut self, limit: usize) -> io::Result<Bytes> {
        let mut out = bytes::BytesMut::new();
        while let Some(c) = self.read_chunk()? {
            if out.len() + c.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body over the limit",
                ));
            }
            if out.is_empty() && self.pending.is_empty() {
                out = bytes::BytesMut::from(&c[..]);
            } else {
                out.extend_from_slice(&c);
            }
        }
        Ok(out.freeze())
    }
}

impl ChunkRead for Request<'_> {
    fn pending(&mut self) -> &mut Bytes {
        &mut self.pending
    }
    fn next_piece(&mut self) -> io::Result<Option<Bytes>> {
        self.read_chunk()
    }
}

impl Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_pieces(self, buf)
    }
}

/// Bytes of a file body, as the planner's [`Segment::File`] ranges need them.
pub trait FileSource: Send + Sync {
    /// The bytes `start..end` in checked pieces of at most `chunk` bytes.
    /// With `zero_copy`, pieces may be slices of a memory map that only the
    /// kernel reads (plain sockets); otherwise they are safe copies (TLS).
    /// A piece that fails with [`ServeError::FileChanged`](crate::cache::ServeError)
    /// (as an `io::Error`) means the file changed: the response is cut.
    fn chunks(
        &self,
        start: u64,
        end: u64,
        chunk: usize,
        zero_copy: bool,
    ) -> io::Result<Box<dyn FileChunks + '_>>;
}

/// Checked pieces of a file range.
pub trait FileChunks {
    /// The next piece; `None` at the end of the range.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// The transport after a protocol switch, with the bytes already read past
/// the switch point.
pub struct Upgraded {
    /// The socket (plain or TLS).
    pub io: Box<dyn Socket>,
    /// Bytes read from `io` that belong to the new protocol.
    pub read_ahead: Bytes,
}

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// The whole body at once (sent with Content-Length).
    Full(Bytes),
    /// Streamed from a reader (chunked to HTTP/1.1 clients).
    Stream(Box<dyn Read + Send>),
    /// Planned file segments (sent with Content-Length).
    File(Arc<dyn FileSource>, Vec<Segment>),
    /// Switch protocols (101 to an Upgrade request, 2xx to CONNECT): the
    /// function receives the transport once the head is written.
    Upgrade(Box<dyn FnOnce(Upgraded) + Send>),
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
            Body::Stream(_) => BodyLength::Unknown,
            Body::File(_, segments) => BodyLength::Known(segments_len(segments)),
        }
    }
    fn is_upgrade(&self) -> bool {
        matches!(self, Body::Upgrade(_))
    }
}

impl<R: Read + Send + 'static> From<R> for Body {
    /// A streamed body read from `reader`.
    fn from(reader: R) -> Body {
        Body::Stream(Box::new(reader))
    }
}

/// A response: a head and a [`Body`] (see [`wireloom_io::http::Response`]).
pub type Response = wireloom_io::http::Response<Body>;

/// Wraps an accepted TCP stream into TLS (or anything else) before HTTP.
pub type Acceptor = Arc<dyn Fn(TcpStream) -> io::Result<Box<dyn Socket>> + Send + Sync>;
