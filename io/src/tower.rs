//! Serving any [`tower_service::Service`] over `http` types (an axum
//! `Router`, a tower stack, a hyper-style service) on the async server
//! (feature `tower`).
//!
//! The server engine is the one every wireloom server runs (core's
//! parser, limits and smuggling rules, keep-alive, pipelining, timeouts,
//! the connection limit, graceful shutdown, TLS); the service is a
//! [`Handler`] to it ([`ServiceHandler`], installed by
//! [`ServerBuilder::service`]). Per request:
//!
//! ```text
//!  core RequestHead ──request_to_http──▶ http::Request<IncomingBody> ──▶ Service::call
//!  (spelling kept as HeaderCase,              │ body streams from the connection;
//!   peer/SNI as ConnectionInfo)               │ 100 Continue on its first poll
//!                                             ▼
//!  core ResponseHead ◀──response_from_http── http::Response<B: http_body::Body>
//!  Body::Full   (exact size, one frame: Content-Length, batched with pipelined answers)
//!  Body::Frames (anything else: streamed piece by piece, chunked; trailers in the
//!                last chunk when the request's TE lists `trailers`)
//! ```
//!
//! A request core refuses (CL+TE, bad framing, over a limit, a timeout)
//! is answered by core and never reaches the service. A service that
//! fails (its `Error`) or panics gives a 500; a head the `http` types
//! cannot hold gives a 400 without calling it.

use std::error::Error as StdError;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use http_body::{Body as HttpBody, Frame as HttpFrame, SizeHint};
use tower_service::Service;
use wireloom_core::http::framing::accepts_trailers;
use wireloom_core::http::interop::{request_to_http, response_from_http, response_from_http_sized};
use wireloom_core::http::{Framing, StatusCode};

use crate::aio::body::{Body, Frame, RequestBody};
use crate::aio::server::{Handler, Request, Response, ServerBuilder};
use crate::rt::{BoxFuture, Runtime};

/// The error type of the services this module serves may return.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What the server knows of a request's connection, in the extensions of
/// every `http::Request` it hands to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The TLS SNI name the client asked for, on a TLS connection.
    pub server_name: Option<String>,
}

/// A request body streaming from the connection, as an
/// [`http_body::Body`] of `Bytes` (zero-copy pieces of the read buffer),
/// ending with the trailer fields of a chunked body, if it has any. Its
/// first poll sends `100 Continue` when the client waits for one; a body
/// the service does not read is discarded by the connection (or, beyond
/// 1 MiB, the connection closes after the response).
///
/// Errors: the client stalled past the body timeout, broke the chunked
/// framing or sent more than the body limit (the server answers it
/// itself: 408, 400, 413), or the connection closed mid-body.
pub struct IncomingBody {
    body: RequestBody,
    /// Bytes still due by Content-Length.
    remaining: Option<u64>,
    done: bool,
}

impl fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingBody")
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish()
    }
}

impl IncomingBody {
    /// The body of a request delimited by `framing`.
    pub fn new(body: RequestBody, framing: Framing) -> IncomingBody {
        let remaining = match framing {
            Framing::Length(n) => Some(n),
            Framing::Empty => Some(0),
            _ => None,
        };
        IncomingBody {
            done: body.is_empty(),
            body,
            remaining,
        }
    }

    /// An empty body.
    pub fn empty() -> IncomingBody {
        IncomingBody::new(RequestBody::empty(), Framing::Empty)
    }
}

impl HttpBody for IncomingBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<HttpFrame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.body.poll_chunk(cx) {
            Poll::Ready(Ok(Some(b))) => {
                if let Some(r) = &mut this.remaining {
                    *r = r.saturating_sub(b.len() as u64);
                }
                Poll::Ready(Some(Ok(HttpFrame::data(b))))
            }
            Poll::Ready(Ok(None)) => {
                this.done = true;
                let trailers = this.body.trailers().filter(|t| !t.is_empty());
                match trailers.map(|t| wireloom_core::http::interop::headers_to_http(&t)) {
                    Some(Ok(t)) => Poll::Ready(Some(Ok(HttpFrame::trailers(t)))),
                    Some(Err(e)) => {
                        Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidData, e))))
                    }
                    None => Poll::Ready(None),
                }
            }
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// A request of the server as an `http::Request` with its body streaming
/// from the connection: the head converted by
/// [`request_to_http`] (so a [`HeaderCase`](wireloom_core::http::interop::HeaderCase)
/// keeps the names' spelling and order, when the `http` map alone does not:
/// a request whose names are all lowercase, each name's fields together,
/// has none) and a [`ConnectionInfo`] in the
/// extensions. Fails when `http::Uri` refuses the request-target.
pub fn into_http_request(
    req: Request,
) -> Result<http::Request<IncomingBody>, wireloom_core::http::interop::InteropError> {
    let (info, server_name, body) = req.into_parts();
    let (head, framing, _params, peer) = info.into_parts();
    let mut parts = request_to_http(head)?;
    parts
        .extensions
        .insert(ConnectionInfo { peer, server_name });
    Ok(http::Request::from_parts(
        parts,
        IncomingBody::new(body, framing),
    ))
}

/// An `http::Response` as a response of the server. The head keeps the
/// spelling of a [`HeaderCase`](wireloom_core::http::interop::HeaderCase)
/// and the phrase of a [`ReasonPhrase`](wireloom_core::http::interop::ReasonPhrase)
/// in its extensions (the version is the connection's). The body: none
/// when it is already at its end; `Body::Full` when it has an exact size
/// and gives it in one frame (the usual axum answer: one write, batched
/// with other pipelined answers); otherwise [`Body::Frames`] streaming it,
/// with its exact size if it has one. Trailers are kept only when
/// `trailers_ok` (see [`accepts_trailers`]). A field `http` allows and
/// wireloom does not (a value with surrounding whitespace) gives a 500.
pub async fn from_http_response<B>(res: http::Response<B>, trailers_ok: bool) -> Response
where
    B: HttpBody + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = res.into_parts();
    let head = |parts: &http::response::Parts| response_from_http(parts).ok();
    if body.is_end_stream() {
        return match head(&parts) {
            Some(h) => Response::from_parts(h, Body::Empty),
            None => internal_error(),
        };
    }
    let exact = body.size_hint().exact();
    let mut body = Box::pin(body);
    let mut first = None;
    if let Some(n) = exact {
        match poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            None => {
                return match head(&parts) {
                    Some(h) => Response::from_parts(h, Body::Empty),
                    None => internal_error(),
                }
            }
            Some(Err(_)) => return internal_error(),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    let data = data.copy_to_bytes(data.remaining());
                    if body.is_end_stream() && data.len() as u64 == n {
                        // The connection writes the length of a whole body
                        // itself: a matching `content-length` (axum sets
                        // one) is not copied, unless a `HeaderCase` keeps
                        // its spelling.
                        return match response_from_http_sized(&parts, Some(n)).ok() {
                            Some(h) => Response::from_parts(h, Body::Full(data)),
                            None => internal_error(),
                        };
                    }
                    first = Some(Frame::Data(data));
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        first = trailers_frame(t, trailers_ok);
                    }
                }
            },
        }
    }
    let Some(head) = head(&parts) else {
        return internal_error();
    };
    let frames = Frames {
        first,
        body: Some(body),
        trailers_ok,
    };
    Response::from_parts(head, Body::frames(frames, exact))
}

fn internal_error() -> Response {
    Response::text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
}

fn trailers_frame(t: http::HeaderMap, trailers_ok: bool) -> Option<Frame> {
    if !trailers_ok || t.is_empty() {
        return None;
    }
    // A field wireloom cannot write is left out rather than failing the
    // whole body at its end.
    let mut map = wireloom_core::http::HeaderMap::new();
    for (n, v) in &t {
        if let Ok(v) = wireloom_core::http::HeaderValue::try_from(v) {
            map.append_field(n.into(), v);
        }
    }
    Some(Frame::Trailers(map))
}

/// An `http_body::Body` as a stream of [`Frame`]s.
struct Frames<B> {
    /// A frame taken to look at the body before it was streamed.
    first: Option<Frame>,
    /// `None` once it ended.
    body: Option<Pin<Box<B>>>,
    trailers_ok: bool,
}

impl<B> Stream for Frames<B>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    type Item = io::Result<Frame>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(f) = this.first.take() {
            if matches!(f, Frame::Trailers(_)) {
                this.body = None;
            }
            return Poll::Ready(Some(Ok(f)));
        }
        loop {
            let Some(body) = &mut this.body else {
                return Poll::Ready(None);
            };
            return match body.as_mut().poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    this.body = None;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => {
                    this.body = None;
                    Poll::Ready(Some(Err(io::Error::other(e.into()))))
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(mut data) => {
                        if !data.has_remaining() {
                            continue;
                        }
                        let b = data.copy_to_bytes(data.remaining());
                        Poll::Ready(Some(Ok(Frame::Data(b))))
                    }
                    Err(frame) => {
                        this.body = None;
                        match frame.into_trailers() {
                            Ok(t) => Poll::Ready(trailers_frame(t, this.trailers_ok).map(Ok)),
                            // A frame kind of a later http-body: skipped.
                            Err(_) => Poll::Ready(None),
                        }
                    }
                },
            };
        }
    }
}

/// A [`Service`] as a [`Handler`] of the server: each request calls a
/// clone of the service (as hyper-util's `TowerToHyperService` does; an
/// axum `Router` clones cheaply), after `poll_ready`.
pub struct ServiceHandler<S> {
    service: S,
}

impl<S> ServiceHandler<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> ServiceHandler<S> {
        ServiceHandler { service }
    }
}

impl<S: Clone> Clone for ServiceHandler<S> {
    fn clone(&self) -> Self {
        ServiceHandler {
            service: self.service.clone(),
        }
    }
}

impl<S> fmt::Debug for ServiceHandler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceHandler")
    }
}

impl<S, B> Handler for ServiceHandler<S>
where
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        let trailers_ok = accepts_trailers(req.head());
        let mut service = self.service.clone();
        let req = into_http_request(req);
        Box::pin(async move {
            let Ok(req) = req else {
                return Response::text(StatusCode::BAD_REQUEST, "bad request target\n");
            };
            if poll_fn(|cx| service.poll_ready(cx)).await.is_err() {
                return Response::text(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n");
            }
            let res = match service.call(req).await {
                Ok(res) => res,
                Err(_) => return internal_error(),
            };
            from_http_response(res, trailers_ok).await
        })
    }
}

impl<R: Runtime> ServerBuilder<R> {
    /// Serves `service` (an axum `Router`, any tower
    /// `Service<http::Request<IncomingBody>>` whose responses have an
    /// `http_body::Body`) for every request no route matches; with no
    /// routes, for every request. See [`crate::tower`].
    pub fn service<S, B>(self, service: S) -> Self
    where
        S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: HttpBody + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.fallback(ServiceHandler::new(service))
    }
}
