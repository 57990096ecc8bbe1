//! A blocking HTTP/1.1 client: an [`Agent`] with a connection pool,
//! redirects, timeouts and HTTPS, on the core
//! [`wireloom_core::http::ClientConnection`].
//!
//! ```no_run
//! use wireloom_blocking::client::Agent;
//! let agent = Agent::new();
//! let mut res = agent.get("http://127.0.0.1:8080/plaintext").send().unwrap();
//! assert_eq!(res.status().as_u16(), 200);
//! let body = res.into_string(1 << 20).unwrap();
//! ```

use std::fmt;
use std::io::{self, Read};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::pool::Pool;
use wireloom_core::http::{ClientConnection, Method, RequestHead, ResponseHead, UsageError};
use wireloom_core::Dialogue;
use wireloom_io::http_client::{
    body_event, head_event, Attempts, HttpError, Origin, RequestParts, ResponseInfo, SendBody, Walk,
};
use wireloom_io::tls::TlsError;

pub use wireloom_io::http_client::Timeout;

use crate::driver::{read_pieces, ChunkRead, Driver, ReadOutcome, Socket, TlsConnector};

/// What can go wrong with an HTTP request made by the blocking [`Agent`]
/// (the blocking SMTP client reports [`smtp::Error`](crate::smtp::Error);
/// core's SMTP dialogue, its session failures as
/// [`smtp::client::ClientError`](wireloom_core::smtp::client::ClientError)).
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be used (not http/https, no host, bad characters).
    BadUrl(String),
    /// A header name or value is invalid (e.g. holds CR or LF).
    BadHeader(String),
    /// Connecting failed (DNS, refused; a connect timeout is
    /// [`Timeout::Connect`]).
    Connect(io::Error),
    /// The TLS handshake failed, or HTTPS was asked without a TLS connector.
    Tls(io::Error),
    /// A timeout fired: which one ([`Timeout::Total`] is the bound on the
    /// whole request).
    Timeout(Timeout),
    /// Reading or writing failed.
    Io(io::Error),
    /// The server broke HTTP.
    Protocol(wireloom_core::http::Error),
    /// The request cannot be sent as built (core refused it). Local;
    /// never retried.
    Usage(UsageError),
    /// More redirects than allowed.
    TooManyRedirects(u32),
    /// The response body is larger than the limit given.
    BodyTooLarge(u64),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::BadUrl(u) => write!(f, "bad URL: {u}"),
            ClientError::BadHeader(h) => write!(f, "bad header: {h}"),
            ClientError::Connect(e) => write!(f, "connect failed: {e}"),
            ClientError::Tls(e) => write!(f, "TLS failed: {e}"),
            ClientError::Timeout(what) => write!(f, "{what} timed out"),
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
            ClientError::Protocol(e) => write!(f, "{e}"),
            ClientError::Usage(e) => write!(f, "cannot send the request: {e}"),
            ClientError::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            ClientError::BodyTooLarge(n) => write!(f, "response body over {n} bytes"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The shared URL and redirect steps ([`wireloom_io::http_client`]) report
/// their errors in the shared type.
impl From<HttpError> for ClientError {
    fn from(e: HttpError) -> ClientError {
        match e {
            HttpError::BadUrl(u) => ClientError::BadUrl(u),
            HttpError::BadHeader(h) => ClientError::BadHeader(h),
            HttpError::TooManyRedirects(n) => ClientError::TooManyRedirects(n),
            HttpError::BodyTooLarge(n) => ClientError::BodyTooLarge(n),
            HttpError::Usage(u) => ClientError::Usage(u),
            HttpError::Protocol(p) => ClientError::Protocol(p),
            HttpError::Connect(e) => ClientError::Connect(e),
            HttpError::Tls(e) => ClientError::Tls(e.into_io()),
            HttpError::Timeout(t) => ClientError::Timeout(t),
            HttpError::Io(e) | HttpError::RequestBody(e) => ClientError::Io(e),
            e => ClientError::Io(io::Error::other(e)),
        }
    }
}

/// Agent settings (shared with the async agents,
/// [`wireloom_io::http_client::AgentConfig`]); TLS sessions for `https`
/// URLs come from a [`TlsConnector`].
pub type AgentConfig = wireloom_io::http_client::AgentConfig<Arc<dyn TlsConnector>>;

struct Conn {
    drv: Driver<Box<dyn Socket>>,
    http: ClientConnection,
}

struct Inner {
    config: AgentConfig,
    pool: Mutex<Pool<Origin, Conn>>,
}

/// A client with a connection pool; cheap to clone, shareable across threads.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl Default for Agent {
    fn default() -> Self {
        Agent::new()
    }
}

impl Agent {
    /// An agent with default settings (no TLS connector: see
    /// [`Agent::with_config`] and [`crate::tls`]).
    pub fn new() -> Agent {
        Agent::with_config(AgentConfig::default())
    }

    /// An agent with `config`.
    pub fn with_config(config: AgentConfig) -> Agent {
        let pool = Pool::new(config.pool.clone());
        Agent {
            inner: Arc::new(Inner {
                config,
                pool: Mutex::new(pool),
            }),
        }
    }

    /// Idle pooled connections now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.lock().map_or(0, |p| p.len())
    }

    /// A request builder.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            agent: self.clone(),
            parts: RequestParts::new(method, url),
            body: ReqBody::Empty,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// `PUT url`.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// `HEAD url`.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }
}

type ReqBody = SendBody<Box<dyn Read + Send>>;

/// One request being built.
pub struct RequestBuilder {
    agent: Agent,
    parts: RequestParts,
    body: ReqBody,
}

impl RequestBuilder {
    /// Adds a header (an invalid one makes `send` fail with `BadHeader`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.parts.header(name, value);
        self
    }

    /// A body from bytes (sent with Content-Length).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ReqBody::Bytes(body.into());
        self
    }

    /// A streamed body (sent chunked; not replayed on redirect or retry).
    pub fn body_reader(mut self, r: impl Read + Send + 'static) -> Self {
        self.body = ReqBody::Stream(Box::new(r));
        self
    }

    /// Bounds this whole request.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.parts.timeout(d);
        self
    }

    /// Overrides the agent's redirect limit for this request (0: off).
    pub fn redirects(mut self, n: u32) -> Self {
        self.parts.redirects(n);
        self
    }

    /// Sends the request; returns once the response head is in. Follows
    /// redirects, and retries an idempotent request once on a fresh
    /// connection when a reused one turns out closed.
    pub fn send(self) -> Result<Response, ClientError> {
        let RequestBuilder {
            agent,
            parts,
            mut body,
        } = self;
        let (mut walk, deadline) = parts.start(&agent.inner.config, Instant::now())?;
        loop {
            let started = wireloom_io::trace::client_started();
            let res = exchange(&agent, &walk, &mut body, deadline);
            wireloom_io::trace::client_exchange(
                walk.method(),
                walk.url().as_str(),
                started,
                res.as_ref().map(|r| r.status()).map_err(|e| e as _),
            );
            let res = res?;
            let hop = walk.follow(res.status(), res.header("location"), body.is_replayable())?;
            let Some(hop) = hop else {
                return Ok(res);
            };
            // Drain the redirect's body so the connection can be reused.
            let _ = res.into_bytes(64 * 1024);
            body.redirected(hop);
        }
    }
}

/// A failed write: the write timeout when the socket stayed full too long.
fn write_error(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(Timeout::Write),
        _ => HttpError::Io(e),
    }
}

fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, HttpError> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                Err(HttpError::Timeout(Timeout::Total))
            } else {
                Ok(Some(d - now))
            }
        }
    }
}

fn connect(agent: &Agent, origin: &Origin, deadline: Option<Instant>) -> Result<Conn, HttpError> {
    let cfg = &agent.inner.config;
    let host = origin.dial_host();
    remaining(deadline)?;
    let tcp = match crate::driver::connect_tcp(host, origin.port, cfg.connect_timeout, deadline) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            remaining(deadline)?;
            return Err(HttpError::Timeout(Timeout::Connect));
        }
        Err(e) => return Err(HttpError::Connect(e)),
    };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(cfg.write_timeout));
    let sock: Box<dyn Socket> = if origin.https {
        let tls = cfg.tls.as_ref().ok_or(HttpError::Tls(TlsError::Usage(
            "https needs a TLS connector (AgentConfig::tls)",
        )))?;
        let _ = tcp.set_read_timeout(Some(cfg.connect_timeout));
        tls.connect(tcp, host)
            .map_err(|e| HttpError::Tls(TlsError::Io(e)))?
    } else {
        Box::new(tcp)
    };
    Ok(Conn {
        drv: Driver::new(sock),
        http: ClientConnection::new(cfg.connection_config()),
    })
}

/// Sends one request (no redirects) and reads the response head, retrying
/// once on a fresh connection when core allows it.
fn exchange(
    agent: &Agent,
    walk: &Walk,
    body: &mut ReqBody,
    deadline: Option<Instant>,
) -> Result<Response, HttpError> {
    let inner = &agent.inner;
    let origin = walk.origin()?;
    let head = walk.request_head(inner.config.user_agent.as_deref())?;
    let mut attempts = Attempts::new(walk.method(), body.is_replayable());
    loop {
        let pooled = inner
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.checkout(&origin, Instant::now()));
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(agent, &origin, deadline)?,
        };
        match send_on(&mut conn, head.clone(), body, deadline) {
            Ok(res_head) => {
                return Ok(Response {
                    info: ResponseInfo::new(res_head, walk.url()),
                    conn: Some(conn),
                    origin,
                    agent: agent.clone(),
                    pending: Bytes::new(),
                    done: false,
                    deadline,
                });
            }
            Err(e) if attempts.retry(reused, &e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes the request on `conn` and waits for the final response head.
fn send_on(
    conn: &mut Conn,
    head: RequestHead,
    body: &mut ReqBody,
    deadline: Option<Instant>,
) -> Result<ResponseHead, HttpError> {
    if let Some(r) = body.start(&mut conn.http, Instant::now(), head)? {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).map_err(HttpError::RequestBody)?;
            if n == 0 {
                break;
            }
            conn.http
                .send_data(Bytes::copy_from_slice(&buf[..n]))
                .map_err(HttpError::Usage)?;
            conn.drv.flush(&mut conn.http).map_err(write_error)?;
            remaining(deadline)?;
        }
        conn.http
            .send_end(Instant::now(), None)
            .map_err(HttpError::Usage)?;
    }
    loop {
        conn.drv.flush(&mut conn.http).map_err(write_error)?;
        while let Some(ev) = conn.http.poll_event() {
            if let Some(head) = head_event(ev) {
                return head;
            }
        }
        let poll = remaining(deadline)?;
        if let ReadOutcome::Idle = conn
            .drv
            .read_once(&mut conn.http, poll)
            .map_err(HttpError::Io)?
        {
            remaining(deadline)?;
        }
    }
}

/// A response whose body streams from the connection. Reading it to the end
/// returns the connection to the pool. Its status, head, fields and URL are
/// those of the shared [`ResponseInfo`], which it dereferences to.
pub struct Response {
    info: ResponseInfo,
    conn: Option<Conn>,
    origin: Origin,
    agent: Agent,
    pending: Bytes,
    done: bool,
    deadline: Option<Instant>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url())
            .field("head", self.head())
            .finish()
    }
}

impl Deref for Response {
    type Target = ResponseInfo;
    fn deref(&self) -> &ResponseInfo {
        &self.info
    }
}

impl Response {
    /// The next piece of the body without copying; `None` at the end.
    pub fn read_chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if self.done {
            return Ok(None);
        }
        let r = self.next_body_piece();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
            match r {
                Ok(_) => self.release(),
                Err(_) => self.conn = None,
            }
        }
        r.map_err(ClientError::from)
    }

    fn next_body_piece(&mut self) -> Result<Option<Bytes>, HttpError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        loop {
            while let Some(ev) = conn.http.poll_event() {
                if let Some(r) = body_event(ev) {
                    return r;
                }
            }
            remaining(self.deadline)?;
            conn.drv.flush(&mut conn.http).map_err(write_error)?;
            conn.drv
                .read_once(&mut conn.http, remaining(self.deadline)?)
                .map_err(HttpError::Io)?;
        }
    }

    /// The whole body, or `BodyTooLarge` beyond `limit` bytes.
    pub fn into_bytes(mut self, limit: u64) -> Result<Bytes, ClientError> {
        let mut out = bytes::BytesMut::new();
        while let Some(c) = self.read_chunk()? {
            if (out.len() + c.len()) as u64 > limit {
                return Err(ClientError::BodyTooLarge(limit));
            }
            out.extend_from_slice(&c);
        }
        Ok(out.freeze())
    }

    /// The whole body as UTF-8 (lossy), or `BodyTooLarge` beyond `limit` bytes.
    pub fn into_string(self, limit: u64) -> Result<String, ClientError> {
        let b = self.into_bytes(limit)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Returns the connection to the pool if it can carry another request.
    fn release(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if conn.http.can_pool(&conn.drv.buf) && !conn.drv.peer_closed() {
            if let Ok(mut pool) = self.agent.inner.pool.lock() {
                let _closed = pool.checkin(self.origin.clone(), conn, Instant::now());
            }
        }
    }
}

impl ChunkRead for Response {
    fn pending(&mut self) -> &mut Bytes {
        &mut self.pending
    }
    fn next_piece(&mut self) -> io::Result<Option<Bytes>> {
        self.read_chunk().map_err(io::Error::other)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_pieces(self, buf)
    }
}
