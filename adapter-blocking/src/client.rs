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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::pool::{retry_on_fresh_connection, Failure, Pool, PoolConfig};
use wireloom_core::http::redirect::{fields_to_strip, redirect};
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, ErrorKind, HeaderMap, Method,
    RequestHead, ResponseHead, StatusCode, Version,
};
use wireloom_core::Dialogue;

use crate::driver::{read_pieces, ChunkRead, Driver, ReadOutcome, Socket, TlsConnector};

/// What can go wrong with a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be used (not http/https, no host, bad characters).
    BadUrl(String),
    /// A header name or value is invalid (e.g. holds CR or LF).
    BadHeader(String),
    /// Connecting failed (DNS, refused; a connect timeout is `Timeout("connect")`).
    Connect(io::Error),
    /// The TLS handshake failed, or HTTPS was asked without a TLS connector.
    Tls(io::Error),
    /// A timeout fired: `"connect"`, `"read"`, `"write"` or `"request"` (the
    /// total per request).
    Timeout(&'static str),
    /// Reading or writing failed.
    Io(io::Error),
    /// The server broke HTTP.
    Protocol(wireloom_core::http::Error),
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
            ClientError::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            ClientError::BodyTooLarge(n) => write!(f, "response body over {n} bytes"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Agent settings.
#[derive(Clone)]
pub struct AgentConfig {
    /// Time to establish the TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Longest wait for the response head, or between body bytes. Default 30 s.
    pub read_timeout: Duration,
    /// Longest blocked write. Default 30 s.
    pub write_timeout: Duration,
    /// Bound on a whole request (connect, send, receive the head, and the
    /// body as it is read). Default none.
    pub total_timeout: Option<Duration>,
    /// Redirects followed; 0 turns following off. Default 5.
    pub max_redirects: u32,
    /// Pool limits.
    pub pool: PoolConfig,
    /// Protocol limits for responses.
    pub http: ClientConfig,
    /// `User-Agent` sent unless the request sets one.
    pub user_agent: Option<String>,
    /// Makes TLS sessions for `https` URLs.
    pub tls: Option<Arc<dyn TlsConnector>>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            total_timeout: None,
            max_redirects: 5,
            pool: PoolConfig::default(),
            http: ClientConfig::default(),
            user_agent: Some(concat!("wireloom/", env!("CARGO_PKG_VERSION")).to_string()),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

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
            method,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: ReqBody::None,
            error: None,
            timeout: None,
            redirects: None,
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

enum ReqBody {
    None,
    Bytes(Bytes),
    Reader(Box<dyn Read + Send>),
}

/// One request being built.
pub struct RequestBuilder {
    agent: Agent,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: ReqBody,
    error: Option<ClientError>,
    timeout: Option<Duration>,
    redirects: Option<u32>,
}

impl RequestBuilder {
    /// Adds a header (an invalid one makes `send` fail with `BadHeader`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if self.headers.append(name, value).is_err() && self.error.is_none() {
            self.error = Some(ClientError::BadHeader(name.to_string()));
        }
        self
    }

    /// A body from bytes (sent with Content-Length).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ReqBody::Bytes(body.into());
        self
    }

    /// A streamed body (sent chunked; not replayed on redirect or retry).
    pub fn body_reader(mut self, r: impl Read + Send + 'static) -> Self {
        self.body = ReqBody::Reader(Box::new(r));
        self
    }

    /// Bounds this whole request.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Overrides the agent's redirect limit for this request (0: off).
    pub fn redirects(mut self, n: u32) -> Self {
        self.redirects = Some(n);
        self
    }

    /// Sends the request; returns once the response head is in. Follows
    /// redirects, and retries an idempotent request once on a fresh
    /// connection when a reused one turns out closed.
    pub fn send(self) -> Result<Response, ClientError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let inner = &self.agent.inner;
        let cfg = &inner.config;
        let deadline = self
            .timeout
            .or(cfg.total_timeout)
            .map(|d| Instant::now() + d);
        let max_redirects = self.redirects.unwrap_or(cfg.max_redirects);
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| ClientError::BadUrl(format!("{}: {e}", self.url)))?;
        let mut method = self.method;
        let mut headers = self.headers;
        let mut body = self.body;
        let mut hops = 0;
        loop {
            let origin = origin_of(&url)?;
            let replay = match &body {
                ReqBody::None => Some(None),
                ReqBody::Bytes(b) => Some(Some(b.clone())),
                ReqBody::Reader(_) => None,
            };
            let res = exchange(
                &self.agent,
                &origin,
                &url,
                &method,
                &headers,
                &mut body,
                deadline,
            )?;
            let status = res.status();
            let follow = if max_redirects > 0 {
                redirect(&method, status)
            } else {
                None
            };
            let location = res.head.headers.get_str("location").map(str::to_string);
            let (Some(hop), Some(location)) = (follow, location) else {
                return Ok(res);
            };
            if !hop.keep_body || replay.is_some() {
                hops += 1;
                if hops > max_redirects {
                    return Err(ClientError::TooManyRedirects(max_redirects));
                }
                let next = url
                    .join(&location)
                    .map_err(|e| ClientError::BadUrl(format!("Location {location}: {e}")))?;
                // Drain the redirect's body so the connection can be reused.
                let _ = res.into_bytes(64 * 1024);
                let cross = origin_of(&next).ok() != Some(origin);
                for f in fields_to_strip(cross, hop.keep_body) {
                    headers.remove(f);
                }
                body = match (hop.keep_body, replay) {
                    (true, Some(Some(b))) => ReqBody::Bytes(b),
                    _ => ReqBody::None,
                };
                method = hop.method;
                url = next;
                continue;
            }
            return Ok(res);
        }
    }
}

fn origin_of(url: &url::Url) -> Result<Origin, ClientError> {
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        s => return Err(ClientError::BadUrl(format!("unsupported scheme {s}"))),
    };
    let host = url
        .host_str()
        .ok_or_else(|| ClientError::BadUrl(format!("{url}: no host")))?
        .to_string();
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    Ok(Origin { https, host, port })
}

/// A failed write: the write timeout when the socket stayed full too long.
fn write_error(e: io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout("write"),
        _ => ClientError::Io(e),
    }
}

fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, ClientError> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                Err(ClientError::Timeout("request"))
            } else {
                Ok(Some(d - now))
            }
        }
    }
}

fn connect(agent: &Agent, origin: &Origin, deadline: Option<Instant>) -> Result<Conn, ClientError> {
    let cfg = &agent.inner.config;
    let host = origin.host.trim_start_matches('[').trim_end_matches(']');
    remaining(deadline)?;
    let tcp = match crate::driver::connect_tcp(host, origin.port, cfg.connect_timeout, deadline) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            remaining(deadline)?;
            return Err(ClientError::Timeout("connect"));
        }
        Err(e) => return Err(ClientError::Connect(e)),
    };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(cfg.write_timeout));
    let sock: Box<dyn Socket> = if origin.https {
        let tls = cfg
            .tls
            .as_ref()
            .ok_or_else(|| ClientError::Tls(io::Error::other("https needs a TLS connector")))?;
        let _ = tcp.set_read_timeout(Some(cfg.connect_timeout));
        tls.connect(tcp, host).map_err(ClientError::Tls)?
    } else {
        Box::new(tcp)
    };
    let mut http = cfg.http.clone();
    http.response_timeout = cfg.read_timeout;
    http.body_timeout = cfg.read_timeout;
    Ok(Conn {
        drv: Driver::new(sock),
        http: ClientConnection::new(http),
    })
}

/// Sends one request and reads the response head.
fn exchange(
    agent: &Agent,
    origin: &Origin,
    url: &url::Url,
    method: &Method,
    headers: &HeaderMap,
    body: &mut ReqBody,
    deadline: Option<Instant>,
) -> Result<Response, ClientError> {
    let inner = &agent.inner;
    let target = match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_string(),
    };
    let mut head = RequestHead::new(method.clone(), &target)
        .map_err(|e| ClientError::BadUrl(format!("{url}: {e}")))?;
    head.version = Version::Http11;
    if !headers.contains("host") {
        let default_port = if origin.https { 443 } else { 80 };
        let host = match url.port() {
            Some(p) if p != default_port => format!("{}:{}", url.host_str().unwrap_or(""), p),
            _ => url.host_str().unwrap_or("").to_string(),
        };
        head.headers
            .append("Host", host.as_str())
            .map_err(|_| ClientError::BadUrl(url.to_string()))?;
    }
    for (n, v) in headers {
        head.headers.append_field(n.clone(), v.clone());
    }
    if let Some(ua) = &inner.config.user_agent {
        if !head.headers.contains("user-agent") {
            let _ = head.headers.append("User-Agent", ua.as_str());
        }
    }
    let replayable = !matches!(body, ReqBody::Reader(_));
    for attempt in 0..2 {
        let pooled = inner
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.checkout(origin, Instant::now()));
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(agent, origin, deadline)?,
        };
        match send_on(&mut conn, head.clone(), body, deadline) {
            Ok(res_head) => {
                return Ok(Response {
                    head: res_head,
                    url: url.to_string(),
                    conn: Some(conn),
                    origin: origin.clone(),
                    agent: agent.clone(),
                    pending: Bytes::new(),
                    done: false,
                    deadline,
                });
            }
            Err(e) => {
                let failure = Failure {
                    reused,
                    body_replayable: replayable,
                    before_response: matches!(&e, ClientError::Io(_))
                        | matches!(&e, ClientError::Protocol(p) if p.kind() == ErrorKind::ClosedBeforeResponse),
                };
                if !retry_on_fresh_connection(method, attempt, failure) {
                    return Err(e);
                }
            }
        }
    }
    Err(ClientError::Io(io::ErrorKind::ConnectionAborted.into()))
}

/// Runs `f` against the connection until the response head arrives.
fn send_on(
    conn: &mut Conn,
    head: RequestHead,
    body: &mut ReqBody,
    deadline: Option<Instant>,
) -> Result<ResponseHead, ClientError> {
    let now = Instant::now();
    let len = match body {
        ReqBody::None => BodyLength::Known(0),
        ReqBody::Bytes(b) => BodyLength::Known(b.len() as u64),
        ReqBody::Reader(_) => BodyLength::Unknown,
    };
    conn.http
        .send_request(now, head, len)
        .map_err(|e| ClientError::Io(io::Error::other(e)))?;
    match body {
        ReqBody::None => {}
        ReqBody::Bytes(b) => {
            conn.http
                .send_data(b.clone())
                .map_err(|e| ClientError::Io(io::Error::other(e)))?;
            conn.http
                .send_end(now, None)
                .map_err(|e| ClientError::Io(io::Error::other(e)))?;
        }
        ReqBody::Reader(r) => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = r.read(&mut buf).map_err(ClientError::Io)?;
                if n == 0 {
                    break;
                }
                conn.http
                    .send_data(Bytes::copy_from_slice(&buf[..n]))
                    .map_err(|e| ClientError::Io(io::Error::other(e)))?;
                conn.drv.flush(&mut conn.http).map_err(write_error)?;
                remaining(deadline)?;
            }
            conn.http
                .send_end(now, None)
                .map_err(|e| ClientError::Io(io::Error::other(e)))?;
        }
    }
    loop {
        conn.drv.flush(&mut conn.http).map_err(write_error)?;
        while let Some(ev) = conn.http.poll_event() {
            match ev {
                ClientEvent::Response(r) => return Ok(r.head),
                ClientEvent::Error(e) => {
                    return Err(match e.kind() {
                        ErrorKind::ResponseTimeout | ErrorKind::BodyTimeout => {
                            ClientError::Timeout("read")
                        }
                        _ => ClientError::Protocol(e),
                    })
                }
                _ => {}
            }
        }
        let poll = remaining(deadline)?;
        if let ReadOutcome::Idle = conn
            .drv
            .read_once(&mut conn.http, poll)
            .map_err(ClientError::Io)?
        {
            remaining(deadline)?;
        }
    }
}

/// A response whose body streams from the connection. Reading it to the end
/// returns the connection to the pool.
pub struct Response {
    head: ResponseHead,
    url: String,
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
            .field("url", &self.url)
            .field("head", &self.head)
            .finish()
    }
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The head.
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next piece of the body without copying; `None` at the end.
    pub fn read_chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if self.done {
            return Ok(None);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        loop {
            while let Some(ev) = conn.http.poll_event() {
                match ev {
                    ClientEvent::Data(b) => return Ok(Some(b)),
                    ClientEvent::End(_) => {
                        self.done = true;
                        self.release();
                        return Ok(None);
                    }
                    ClientEvent::Error(e) => {
                        self.done = true;
                        self.conn = None;
                        return Err(match e.kind() {
                            ErrorKind::BodyTimeout => ClientError::Timeout("read"),
                            _ => ClientError::Protocol(e),
                        });
                    }
                    _ => {}
                }
            }
            remaining(self.deadline)?;
            conn.drv.flush(&mut conn.http).map_err(write_error)?;
            conn.drv
                .read_once(&mut conn.http, remaining(self.deadline)?)
                .map_err(ClientError::Io)?;
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
        if conn.http.is_reusable() && conn.drv.buf.is_empty() && !conn.drv.peer_closed() {
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
