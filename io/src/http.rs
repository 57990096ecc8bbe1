//! The runtime-neutral HTTP application surface every adapter's server
//! shares: what a handler knows about a request ([`RequestInfo`]), a
//! response generic over its body type, error pages, and the dispatch
//! decisions around a handler: routing ([`route`]: a handler, or 404/405
//! from the router), 500 for a panic or an invalid header, custom pages for
//! empty error responses ([`ErrorPages::respond`]), and how a response
//! starts on the connection ([`start_response`]).
//!
//! Each adapter's server is then: accept, drive the core
//! `ServerConnection`, [`route`] and call the handler, [`start_response`]
//! and write the body its own way.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::file::Segment;
use wireloom_core::http::{
    names, BodyLength, Framing, HeaderMap, HeaderValue, Method, RequestHead, ResponseHead,
    ServerConfig, ServerConnection, StatusCode, UsageError,
};

use crate::router::{Found, Params, Router};

/// Content types used often enough to be kept as static values.
const KNOWN_TYPES: [&str; 6] = [
    "text/plain; charset=utf-8",
    "text/html; charset=utf-8",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "text/event-stream",
];

/// What a response body type must offer the shared code.
pub trait ResponseBody {
    /// No body.
    fn empty() -> Self;
    /// The whole body at once.
    fn full(bytes: Bytes) -> Self;
    /// True for [`empty`](ResponseBody::empty).
    fn is_empty(&self) -> bool;
    /// How long the body is, as core is told with the head (a file's
    /// planned segments: [`segments_len`]; a stream: unknown; an upgrade:
    /// none).
    fn length(&self) -> BodyLength;
    /// Whether the body is the switch to another protocol (101, or a 2xx
    /// to CONNECT), which takes over the transport once the head is out.
    fn is_upgrade(&self) -> bool;
}

/// The length of a file response planned as `segments`.
pub fn segments_len(segments: &[Segment]) -> u64 {
    segments
        .iter()
        .map(|s| match s {
            Segment::Bytes(b) => b.len() as u64,
            Segment::File(a, b) => b - a,
        })
        .sum()
}

/// Starts `body`'s response on the connection: core frames the head (and
/// stamps the `Date` it was given) or, when it refuses the head, sends a
/// 500 in its place ([`ServerConnection::send_response_or_500`]). Returns
/// what the adapter still has to write before
/// [`send_end`](ServerConnection::send_end): `Ok(None)` when the response
/// is complete (the 500 went out; skip the body and `send_end`),
/// `Ok(Some(body))` otherwise. When the connection sends no body (HEAD,
/// 204, 304) the body is replaced by an empty one, so none is produced: a
/// HEAD to an endless stream or a large file answers at once. An upgrade
/// is kept (the adapter flushes and hands the transport over when
/// [`is_switched`](ServerConnection::is_switched)).
pub fn start_response<B: ResponseBody>(
    conn: &mut ServerConnection,
    now: Instant,
    head: ResponseHead,
    body: B,
) -> Result<Option<B>, UsageError> {
    if !conn.send_response_or_500(now, head, body.length())? {
        return Ok(None);
    }
    if conn.is_sending_body() || body.is_upgrade() {
        Ok(Some(body))
    } else {
        Ok(Some(B::empty()))
    }
}

/// What every adapter's server builder collects besides its transport
/// (TLS, worker threads, the runtime): addresses and backlog, the
/// connection limit, core's settings, routes, middleware, error pages and
/// the write timeout. The builders' chained setters for these are written
/// once, by [`server_builder_methods!`](crate::server_builder_methods).
pub struct ServerOptions<H, M, B> {
    /// Addresses to listen on.
    pub addrs: Vec<SocketAddr>,
    /// Listen backlog (default 1024).
    pub backlog: i32,
    /// Connections over this many are answered 503 and closed.
    pub max_connections: usize,
    /// Core's limits and timeouts, keep-alive.
    pub config: ServerConfig,
    /// The routes.
    pub router: Router<H>,
    /// Middleware, the first outermost.
    pub middleware: Vec<M>,
    /// Custom error pages.
    pub pages: ErrorPages<B>,
    /// Time allowed to write to a slow client (default 30 s).
    pub write_timeout: Duration,
}

impl<H, M, B> ServerOptions<H, M, B> {
    /// Defaults, with this connection limit.
    pub fn new(max_connections: usize) -> Self {
        ServerOptions {
            addrs: Vec::new(),
            backlog: 1024,
            max_connections,
            config: ServerConfig::default(),
            router: Router::new(),
            middleware: Vec::new(),
            pages: ErrorPages::default(),
            write_timeout: Duration::from_secs(30),
        }
    }

    /// Binds a listener on every address (`SO_REUSEADDR`, the backlog);
    /// an error when no address was given.
    pub fn listen(&self) -> io::Result<Vec<TcpListener>> {
        if self.addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to bind",
            ));
        }
        self.addrs
            .iter()
            .map(|a| crate::net::listen(*a, self.backlog))
            .collect()
    }
}

/// The chained setters every server builder has, written once: `bind`,
/// `backlog`, `config`, `keep_alive`, `write_timeout`, `router`,
/// `handler`, `middleware` and `error_page`, on the builder's
/// [`ServerOptions`] field named `$opts`. Expand it inside the builder's
/// `impl` block; the adapter's `Handler`, `BoxHandler`, `Middleware` and
/// `Response` must be in scope there.
#[macro_export]
macro_rules! server_builder_methods {
    ($opts:ident) => {
        /// Adds address(es) to listen on.
        pub fn bind(mut self, addr: impl ::std::net::ToSocketAddrs) -> ::std::io::Result<Self> {
            self.$opts
                .addrs
                .extend(::std::net::ToSocketAddrs::to_socket_addrs(&addr)?);
            Ok(self)
        }

        /// Listen backlog (default 1024).
        pub fn backlog(mut self, n: i32) -> Self {
            self.$opts.backlog = n;
            self
        }

        /// Protocol limits and timeouts (head/idle/body timeouts, head and body
        /// limits, keep-alive).
        pub fn config(mut self, config: $crate::core::http::ServerConfig) -> Self {
            self.$opts.config = config;
            self
        }

        /// Turns keep-alive on or off.
        pub fn keep_alive(mut self, on: bool) -> Self {
            self.$opts.config.keep_alive = on;
            self
        }

        /// Time allowed to write to a slow client before the connection is dropped.
        pub fn write_timeout(mut self, d: ::std::time::Duration) -> Self {
            self.$opts.write_timeout = d;
            self
        }

        /// The routes.
        pub fn router(mut self, router: $crate::router::Router<BoxHandler>) -> Self {
            self.$opts.router = router;
            self
        }

        /// Serves every path with one handler (after the router's routes).
        pub fn handler(mut self, h: impl Handler) -> Self {
            let h: BoxHandler = ::std::sync::Arc::new(h);
            let _ = self.$opts.router.any("/{*path}", h);
            self
        }

        /// Adds a middleware; the first added runs outermost.
        pub fn middleware(mut self, m: impl Middleware) -> Self {
            self.$opts.middleware.push(::std::sync::Arc::new(m));
            self
        }

        /// A custom page for `status`, used for 404/405 from the router, 500
        /// from a panicking handler, and any handler response with that status
        /// and no body.
        pub fn error_page(
            mut self,
            status: $crate::core::http::StatusCode,
            page: impl Fn(&$crate::core::http::RequestHead) -> Response + Send + Sync + 'static,
        ) -> Self {
            self.$opts.pages.insert(status, ::std::sync::Arc::new(page));
            self
        }
    };
}

/// A connection refused before it is read from (a server over its
/// connection limit): core's 503 with `Connection: close`, `Retry-After`
/// and the current `Date` is queued, and the connection is closed. The
/// adapter writes what it queued (briefly: the client may not read) and
/// closes the transport.
pub fn refused_connection(config: &ServerConfig) -> ServerConnection {
    let mut conn = ServerConnection::new(config.clone(), Instant::now());
    conn.set_date(crate::date::now());
    conn.refuse(StatusCode::SERVICE_UNAVAILABLE);
    conn
}

/// What a handler knows about a request besides its body: the head, the
/// route's path parameters, the client's address, and whether a body
/// follows. Each adapter's `Request` dereferences to it and adds the body
/// in its runtime's idiom.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    head: RequestHead,
    params: Params,
    peer: Option<SocketAddr>,
    framing: Framing,
}

impl RequestInfo {
    /// A request with `head`, whose body is delimited by `framing`
    /// ([`Framing::Empty`] for none), matched with `params`, from `peer`.
    pub fn new(
        head: RequestHead,
        framing: Framing,
        params: Params,
        peer: Option<SocketAddr>,
    ) -> RequestInfo {
        RequestInfo {
            head,
            params,
            peer,
            framing,
        }
    }

    /// The head.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// Takes the head (and the rest) out.
    pub fn into_parts(self) -> (RequestHead, Framing, Params, Option<SocketAddr>) {
        (self.head, self.framing, self.params, self.peer)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The path, still percent-encoded.
    pub fn path(&self) -> &str {
        self.head.target.path()
    }

    /// The query string without `?`.
    pub fn query(&self) -> Option<&str> {
        self.head.target.query()
    }

    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// A path parameter captured by the route.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// All path parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The client's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether the request has a body.
    pub fn has_body(&self) -> bool {
        self.framing != Framing::Empty
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }
}

/// Why no handler answers a request; the router answers it itself
/// ([`ErrorPages::no_route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// Nothing matched the path: 404.
    NotFound,
    /// The path matched for these methods only: 405 with `Allow`.
    MethodNotAllowed(Vec<Method>),
}

/// Routes a request: its handler and path parameters, or why there is
/// none (with no parameters). A CONNECT request's authority-form target
/// is routed as `/host:port` (core's
/// [`route_path`](wireloom_core::http::RequestTarget::route_path)).
///
/// ```
/// use wireloom_core::http::{Method, RequestHead};
/// use wireloom_io::http::{route, NoRoute};
/// use wireloom_io::router::Router;
/// let mut r = Router::new();
/// r.route(Method::GET, "/users/{id}", "user").unwrap();
/// let head = RequestHead::new(Method::GET, "/users/7").unwrap();
/// let (found, params) = route(&r, &head);
/// assert_eq!((found, params.get("id")), (Ok(&"user"), Some("7")));
/// let head = RequestHead::new(Method::POST, "/users/7").unwrap();
/// assert_eq!(route(&r, &head).0, Err(NoRoute::MethodNotAllowed(vec![Method::GET, Method::HEAD])));
/// ```
pub fn route<'r, H>(router: &'r Router<H>, head: &RequestHead) -> (Result<&'r H, NoRoute>, Params) {
    match router.find(&head.method, &head.target.route_path()) {
        Found::Route(h, params) => (Ok(h), params),
        Found::MethodNotAllowed(allowed) => {
            (Err(NoRoute::MethodNotAllowed(allowed)), Params::default())
        }
        Found::NotFound => (Err(NoRoute::NotFound), Params::default()),
    }
}

/// A response: a head and a body of the adapter's body type `B`.
pub struct Response<B> {
    /// Status line and fields.
    pub head: ResponseHead,
    /// The body.
    pub body: B,
    invalid_header: bool,
}

impl<B: ResponseBody> Response<B> {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Response::from_parts(ResponseHead::new(status), B::empty())
    }

    /// A response from a head and a body.
    pub fn from_parts(head: ResponseHead, body: B) -> Self {
        Response {
            head,
            body,
            invalid_header: false,
        }
    }

    /// `text/plain; charset=utf-8`.
    pub fn text(status: StatusCode, text: impl Into<String>) -> Self {
        Self::bytes(
            status,
            "text/plain; charset=utf-8",
            Bytes::from(text.into()),
        )
    }

    /// `text/html; charset=utf-8`.
    pub fn html(status: StatusCode, html: impl Into<String>) -> Self {
        Self::bytes(status, "text/html; charset=utf-8", Bytes::from(html.into()))
    }

    /// `application/json` from already serialised JSON text.
    pub fn json(status: StatusCode, json: impl Into<String>) -> Self {
        Self::bytes(status, "application/json", Bytes::from(json.into()))
    }

    /// Bytes with a content type.
    pub fn bytes(status: StatusCode, content_type: &str, body: Bytes) -> Self {
        let mut r = Self::new(status).with_body(B::full(body));
        // The common types need no validation nor copy.
        match KNOWN_TYPES.iter().find(|k| **k == content_type) {
            Some(k) => {
                r.head
                    .headers
                    .append_field(names::CONTENT_TYPE, HeaderValue::from_static(k));
                r
            }
            None => r.header("Content-Type", content_type),
        }
    }

    /// A streamed body (an `impl Read` for the blocking adapter, a
    /// `Stream` of `Bytes` for the async ones) with a content type.
    pub fn stream(status: StatusCode, content_type: &str, body: impl Into<B>) -> Self {
        Self::new(status)
            .header("Content-Type", content_type)
            .with_body(body.into())
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: B) -> Self {
        self.body = body;
        self
    }

    /// Appends a header. An invalid name or value (e.g. a CR or LF) is never
    /// written: the server answers 500 instead.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        if self.head.headers.append(name, value.as_ref()).is_err() {
            self.invalid_header = true;
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// Whether [`header`](Response::header) was given an invalid field.
    pub fn has_invalid_header(&self) -> bool {
        self.invalid_header
    }
}

/// A custom page for one status.
pub type ErrorPage<B> = Arc<dyn Fn(&RequestHead) -> Response<B> + Send + Sync>;

/// Custom error pages by status, and the answers the server makes itself.
pub struct ErrorPages<B> {
    pages: HashMap<u16, ErrorPage<B>>,
}

impl<B> Default for ErrorPages<B> {
    fn default() -> Self {
        ErrorPages {
            pages: HashMap::new(),
        }
    }
}

impl<B: ResponseBody> ErrorPages<B> {
    /// Sets the page for `status`.
    pub fn insert(&mut self, status: StatusCode, page: ErrorPage<B>) {
        self.pages.insert(status.as_u16(), page);
    }

    /// Whether no custom page is set.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Whether a custom page exists for `status`.
    pub fn has(&self, status: StatusCode) -> bool {
        self.pages.contains_key(&status.as_u16())
    }

    /// The answer for `status`: the custom page (its status and reason
    /// phrase forced to `status`) or a short text.
    pub fn page(&self, status: StatusCode, head: &RequestHead) -> Response<B> {
        match self.pages.get(&status.as_u16()) {
            Some(page) => {
                let mut r = page(head);
                let ResponseHead { status, reason, .. } = ResponseHead::new(status);
                r.head.status = status;
                r.head.reason = reason;
                r
            }
            None => Response::text(status, format!("{status}\n")),
        }
    }

    /// The router found no route: 404.
    pub fn not_found(&self, head: &RequestHead) -> Response<B> {
        self.page(StatusCode::NOT_FOUND, head)
    }

    /// The path exists for other methods: 405 with `Allow`.
    pub fn method_not_allowed(&self, head: &RequestHead, allowed: &[Method]) -> Response<B> {
        let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        self.page(StatusCode::METHOD_NOT_ALLOWED, head)
            .header("Allow", list.join(", "))
    }

    /// The router's own answer when no handler matched: 404, or 405 with
    /// `Allow`.
    pub fn no_route(&self, why: &NoRoute, head: &RequestHead) -> Response<B> {
        match why {
            NoRoute::NotFound => self.not_found(head),
            NoRoute::MethodNotAllowed(allowed) => self.method_not_allowed(head, allowed),
        }
    }

    /// The handler panicked: 500.
    pub fn panicked(&self, head: &RequestHead) -> Response<B> {
        self.page(StatusCode::INTERNAL_SERVER_ERROR, head)
    }

    /// What is sent for a handler's `answer` (`None`: the handler, or a
    /// middleware, panicked): [`finish`](ErrorPages::finish) or
    /// [`panicked`](ErrorPages::panicked). Error pages are application
    /// code too: one that panics gives the plain 500.
    pub fn respond(&self, answer: Option<Response<B>>, head: &RequestHead) -> Response<B> {
        catch_unwind(AssertUnwindSafe(|| match answer {
            Some(r) => self.finish(r, head),
            None => self.panicked(head),
        }))
        .unwrap_or_else(|_| ErrorPages::default().panicked(head))
    }

    /// What is sent for a handler's `resp`: a 500 when it carries an
    /// invalid header; the custom page when it is an error with no body
    /// (the fields the handler set, such as `WWW-Authenticate`, stay; those
    /// of the replaced body do not); otherwise `resp` itself.
    pub fn finish(&self, resp: Response<B>, head: &RequestHead) -> Response<B> {
        if resp.invalid_header {
            return self.page(StatusCode::INTERNAL_SERVER_ERROR, head);
        }
        if resp.body.is_empty() && !resp.head.status.is_success() && self.has(resp.head.status) {
            let mut page = self.page(resp.head.status, head);
            page.head.headers.carry_over(&resp.head.headers);
            return page;
        }
        resp
    }
}
