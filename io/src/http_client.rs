//! What every wireloom HTTP client shares apart from IO: the URL's origin
//! (the pool key), the request head with its default fields, the redirect
//! walk, the retry classification and the typed error.
//!
//! The decisions themselves are core's ([`redirect`], [`fields_to_strip`],
//! [`retry_on_fresh_connection`], [`origin_request_head`]); this module
//! applies them to parsed URLs, so the blocking and the async agents only
//! move bytes.
//!
//! ```
//! use wireloom_io::http_client::{Origin, Walk};
//! use wireloom_core::http::{HeaderMap, Method, StatusCode};
//!
//! let mut fields = HeaderMap::new();
//! fields.append("Authorization", "Bearer t").unwrap();
//! let mut walk = Walk::new(Method::POST, "http://a.example/form", fields, 5).unwrap();
//! assert_eq!(walk.origin().unwrap(), Origin { https: false, host: "a.example".into(), port: 80 });
//! // 303 to another origin: GET, no body, no credentials.
//! let hop = walk
//!     .follow(StatusCode::SEE_OTHER, Some("https://b.example/done"), true)
//!     .unwrap()
//!     .unwrap();
//! assert!(!hop.keep_body);
//! assert_eq!(walk.method(), &Method::GET);
//! assert_eq!(walk.url().as_str(), "https://b.example/done");
//! assert!(!walk.fields().contains("authorization"));
//! ```
//!
//! [`redirect`]: wireloom_core::http::redirect::redirect
//! [`fields_to_strip`]: wireloom_core::http::redirect::fields_to_strip
//! [`retry_on_fresh_connection`]: wireloom_core::http::pool::retry_on_fresh_connection
//! [`origin_request_head`]: wireloom_core::http::client::origin_request_head

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::client::{origin_request_head, DEFAULT_USER_AGENT};
use wireloom_core::http::pool::{retry_on_fresh_connection, Failure, PoolConfig};
use wireloom_core::http::redirect::{fields_to_strip, redirect};
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, ErrorKind, HeaderMap, Method,
    RequestHead, ResponseHead, StatusCode, UsageError,
};

use crate::tls::TlsError;

pub use url::Url;

/// What took too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Establishing the TCP connection.
    Connect,
    /// The response head, or the next piece of its body.
    Read,
    /// Writing the request (the peer stopped reading).
    Write,
    /// The bound on the whole request (connect, send, head and body).
    Total,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connect",
            Timeout::Read => "read",
            Timeout::Write => "write",
            Timeout::Total => "request",
        })
    }
}

/// What can go wrong with an HTTP request (the async agents; the blocking
/// agent's `client::ClientError` is made from it). SMTP clients report
/// [`smtp::Error`](crate::smtp::Error).
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be used (not http/https, no host, bad characters), or
    /// a redirect's `Location` cannot be resolved.
    BadUrl(String),
    /// A header name or value is invalid (e.g. holds CR or LF).
    BadHeader(String),
    /// The request cannot be sent as built (core refused it: for example a
    /// `Content-Length` that differs from the body). Local; never retried.
    Usage(UsageError),
    /// Resolving or connecting failed (refused, unreachable).
    Connect(io::Error),
    /// The TLS handshake failed, or HTTPS was asked without a TLS
    /// configuration ([`TlsError::Usage`]).
    Tls(TlsError),
    /// A timeout fired.
    Timeout(Timeout),
    /// Reading or writing the connection failed.
    Io(io::Error),
    /// The source of a streamed request body failed.
    RequestBody(io::Error),
    /// The server broke HTTP, or closed the connection mid-response.
    Protocol(wireloom_core::http::Error),
    /// More redirects than allowed.
    TooManyRedirects(u32),
    /// The response body is larger than the limit given.
    BodyTooLarge(u64),
}

impl HttpError {
    /// Whether the request failed before the server began a response
    /// (the write failed, or the connection was closed or reset before any
    /// response byte): the half of core's retry rule the transport knows.
    pub fn before_response(&self) -> bool {
        match self {
            HttpError::Io(_) => true,
            HttpError::Protocol(p) => p.kind() == ErrorKind::ClosedBeforeResponse,
            _ => false,
        }
    }

    /// Maps a protocol error a client connection reported: its timers are
    /// read timeouts, the rest is the server's doing.
    pub fn from_protocol(e: wireloom_core::http::Error) -> HttpError {
        match e.kind() {
            ErrorKind::ResponseTimeout | ErrorKind::BodyTimeout => {
                HttpError::Timeout(Timeout::Read)
            }
            _ => HttpError::Protocol(e),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::BadUrl(u) => write!(f, "bad URL: {u}"),
            HttpError::BadHeader(h) => write!(f, "bad header: {h}"),
            HttpError::Usage(e) => write!(f, "cannot send the request: {e}"),
            HttpError::Connect(e) => write!(f, "connect failed: {e}"),
            HttpError::Tls(e) => write!(f, "TLS failed: {e}"),
            HttpError::Timeout(t) => write!(f, "{t} timed out"),
            HttpError::Io(e) => write!(f, "I/O error: {e}"),
            HttpError::RequestBody(e) => write!(f, "request body source failed: {e}"),
            HttpError::Protocol(e) => write!(f, "{e}"),
            HttpError::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            HttpError::BodyTooLarge(n) => write!(f, "response body over {n} bytes"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Usage(e) => Some(e),
            HttpError::Connect(e) | HttpError::Io(e) | HttpError::RequestBody(e) => Some(e),
            HttpError::Tls(e) => Some(e),
            HttpError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

/// Agent settings, generic over how TLS sessions are made (`T`: the async
/// agent takes a [`ClientTlsConfig`](crate::tls::ClientTlsConfig), the
/// blocking one a connector).
#[derive(Clone, Debug)]
pub struct AgentConfig<T> {
    /// Time to establish the TCP connection (all addresses together).
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Longest wait for the response head, or between body bytes. Default 30 s.
    pub read_timeout: Duration,
    /// Longest wait for the peer to take the bytes of one write. Default 30 s.
    pub write_timeout: Duration,
    /// Bound on a whole request (connect, send, receive the head, and the
    /// body as it is read). Default none.
    pub total_timeout: Option<Duration>,
    /// Redirects followed; 0 turns following off. Default 5.
    pub max_redirects: u32,
    /// Pool limits.
    pub pool: PoolConfig,
    /// Protocol limits for responses (its timeouts are replaced by
    /// `read_timeout`).
    pub http: ClientConfig,
    /// `User-Agent` sent unless the request sets one. Default
    /// [`DEFAULT_USER_AGENT`].
    pub user_agent: Option<String>,
    /// Makes TLS sessions for `https` URLs; `None` makes an `https` URL an
    /// error.
    pub tls: Option<T>,
}

impl<T> Default for AgentConfig<T> {
    fn default() -> Self {
        AgentConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            total_timeout: None,
            max_redirects: 5,
            pool: PoolConfig::default(),
            http: ClientConfig::default(),
            user_agent: Some(DEFAULT_USER_AGENT.to_string()),
            tls: None,
        }
    }
}

impl<T> AgentConfig<T> {
    /// Core's settings for one new connection: `http` with both of its
    /// read timers set to `read_timeout`.
    pub fn connection_config(&self) -> ClientConfig {
        let mut http = self.http.clone();
        http.response_timeout = self.read_timeout;
        http.body_timeout = self.read_timeout;
        http
    }
}

/// What a request builder collects besides the body, and how sending
/// starts.
#[derive(Debug)]
pub struct RequestParts {
    method: Method,
    url: String,
    headers: HeaderMap,
    error: Option<HttpError>,
    timeout: Option<Duration>,
    redirects: Option<u32>,
}

impl RequestParts {
    /// `method url`, no fields yet.
    pub fn new(method: Method, url: &str) -> RequestParts {
        RequestParts {
            method,
            url: url.to_string(),
            headers: HeaderMap::new(),
            error: None,
            timeout: None,
            redirects: None,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds a field; the first invalid one is kept as the error `start`
    /// returns ([`HttpError::BadHeader`]).
    pub fn header(&mut self, name: &str, value: &str) {
        if self.headers.append(name, value).is_err() && self.error.is_none() {
            self.error = Some(HttpError::BadHeader(name.to_string()));
        }
    }

    /// Bounds this whole request (overrides the agent's total timeout).
    pub fn timeout(&mut self, d: Duration) {
        self.timeout = Some(d);
    }

    /// Overrides the agent's redirect limit (0: off).
    pub fn redirects(&mut self, n: u32) {
        self.redirects = Some(n);
    }

    /// Starts sending at `now`: the redirect walk, and the deadline of the
    /// whole request (this request's timeout, else the agent's).
    pub fn start<T>(
        self,
        config: &AgentConfig<T>,
        now: Instant,
    ) -> Result<(Walk, Option<Instant>), HttpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let deadline = self.timeout.or(config.total_timeout).map(|d| now + d);
        let max = self.redirects.unwrap_or(config.max_redirects);
        let walk = Walk::new(self.method, &self.url, self.headers, max)?;
        Ok((walk, deadline))
    }
}

/// A request body: none, bytes in memory (sent with `Content-Length`, sent
/// again on a retry or a 307/308), or a stream `S` (sent chunked, once).
pub enum SendBody<S> {
    /// No body.
    Empty,
    /// The whole body in memory.
    Bytes(Bytes),
    /// A body produced as it is sent.
    Stream(S),
}

impl<S> fmt::Debug for SendBody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendBody::Empty => f.write_str("Empty"),
            SendBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            SendBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl<S> SendBody<S> {
    /// What core is told about the body's length.
    pub fn length(&self) -> BodyLength {
        match self {
            SendBody::Empty => BodyLength::Known(0),
            SendBody::Bytes(b) => BodyLength::Known(b.len() as u64),
            SendBody::Stream(_) => BodyLength::Unknown,
        }
    }

    /// Whether the body can be sent again (not a stream).
    pub fn is_replayable(&self) -> bool {
        !matches!(self, SendBody::Stream(_))
    }

    /// Sends the request `head` on `conn` and, for a body in memory, the
    /// whole body. A stream is returned for the adapter to pump into
    /// [`send_data`](ClientConnection::send_data) (writing each piece
    /// before taking the next), then
    /// [`send_end`](ClientConnection::send_end).
    pub fn start(
        &mut self,
        conn: &mut ClientConnection,
        now: Instant,
        head: RequestHead,
    ) -> Result<Option<&mut S>, HttpError> {
        conn.send_request(now, head, self.length())
            .map_err(HttpError::Usage)?;
        match self {
            SendBody::Empty => Ok(None),
            SendBody::Bytes(b) => {
                conn.send_data(b.clone()).map_err(HttpError::Usage)?;
                conn.send_end(now, None).map_err(HttpError::Usage)?;
                Ok(None)
            }
            SendBody::Stream(s) => Ok(Some(s)),
        }
    }

    /// The body of the next request after a redirect `hop`: the same bytes
    /// for a 307/308 ([`Walk::follow`] never follows one with a stream),
    /// none otherwise.
    pub fn redirected(&mut self, hop: Hop) {
        if !hop.keep_body {
            *self = SendBody::Empty;
        }
    }
}

/// The attempts of one request on pooled and fresh connections: core's
/// rule ([`retry_on_fresh_connection`]: once, on a fresh connection, for
/// an idempotent request with a replayable body whose pooled connection
/// died before any response) with the count kept.
#[derive(Debug, Clone)]
pub struct Attempts {
    method: Method,
    body_replayable: bool,
    attempt: u32,
}

impl Attempts {
    /// No attempt yet of a `method` request whose body is (or is not)
    /// replayable.
    pub fn new(method: &Method, body_replayable: bool) -> Attempts {
        Attempts {
            method: method.clone(),
            body_replayable,
            attempt: 0,
        }
    }

    /// An attempt on a `reused` (pooled) connection failed with `error`:
    /// whether to try again on a fresh connection.
    pub fn retry(&mut self, reused: bool, error: &HttpError) -> bool {
        let failure = Failure {
            reused,
            body_replayable: self.body_replayable,
            before_response: error.before_response(),
        };
        let again = retry_on_fresh_connection(&self.method, self.attempt, failure);
        self.attempt += 1;
        again
    }
}

/// What a client connection's event means while a request waits for its
/// response head: `Some(Ok(head))` for the final head, `Some(Err(e))` when
/// the request failed ([`HttpError::from_protocol`]), `None` to keep
/// waiting (a 1xx).
pub fn head_event(event: ClientEvent) -> Option<Result<ResponseHead, HttpError>> {
    match event {
        ClientEvent::Response(r) => Some(Ok(r.head)),
        ClientEvent::Error(e) => Some(Err(HttpError::from_protocol(e))),
        _ => None,
    }
}

/// What a client connection's event means while a response body is read:
/// `Some(Ok(Some(piece)))`, `Some(Ok(None))` at its end, `Some(Err(e))`
/// when it failed, `None` to keep reading (nothing for the caller, an
/// empty piece included).
pub fn body_event(event: ClientEvent) -> Option<Result<Option<Bytes>, HttpError>> {
    match event {
        ClientEvent::Data(b) if !b.is_empty() => Some(Ok(Some(b))),
        ClientEvent::End(_) => Some(Ok(None)),
        ClientEvent::Error(e) => Some(Err(HttpError::from_protocol(e))),
        _ => None,
    }
}

/// A response head and the URL that answered (after redirects): what both
/// agents' responses dereference to.
#[derive(Debug, Clone)]
pub struct ResponseInfo {
    head: ResponseHead,
    url: String,
}

impl ResponseInfo {
    /// The answer `head` from `url`.
    pub fn new(head: ResponseHead, url: &Url) -> ResponseInfo {
        ResponseInfo {
            head,
            url: url.to_string(),
        }
    }

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
}

/// Scheme, host and port: the pool key, and what "the same origin" means
/// for credentials on a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `https` rather than `http`.
    pub https: bool,
    /// The host as written in the URL (IPv6 literals keep their brackets).
    pub host: String,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
}

impl Origin {
    /// The origin of an `http` or `https` URL.
    pub fn of(url: &Url) -> Result<Origin, HttpError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            s => return Err(HttpError::BadUrl(format!("unsupported scheme {s}"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| HttpError::BadUrl(format!("{url}: no host")))?
            .to_string();
        let port = url
            .port_or_known_default()
            .unwrap_or(Origin::default_port(https));
        Ok(Origin { https, host, port })
    }

    /// 443 for https, 80 for http.
    pub fn default_port(https: bool) -> u16 {
        if https {
            443
        } else {
            80
        }
    }

    /// The host to resolve and to name in TLS (IPv6 brackets removed).
    pub fn dial_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// The head of a request for `url`: origin-form target, then core's
/// default fields (`Host`, `User-Agent`) around the caller's `fields`.
pub fn request_head(
    url: &Url,
    method: &Method,
    fields: &HeaderMap,
    user_agent: Option<&str>,
) -> Result<RequestHead, HttpError> {
    let origin = Origin::of(url)?;
    let target = match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_string(),
    };
    origin_request_head(
        method.clone(),
        &target,
        &origin.host,
        origin.port,
        Origin::default_port(origin.https),
        fields,
        user_agent,
    )
    .map_err(|e| HttpError::BadUrl(format!("{url}: {e}")))
}

/// How to go on after a redirect was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Whether the request body is sent again (307 and 308); otherwise the
    /// next request has none.
    pub keep_body: bool,
}

/// One request's walk through redirects: the method, URL and fields of
/// the next request, and the hop count.
#[derive(Debug, Clone)]
pub struct Walk {
    method: Method,
    url: Url,
    fields: HeaderMap,
    max_redirects: u32,
    hops: u32,
}

impl Walk {
    /// Starts at `url` (parsed here); `max_redirects` 0 turns following off.
    pub fn new(
        method: Method,
        url: &str,
        fields: HeaderMap,
        max_redirects: u32,
    ) -> Result<Walk, HttpError> {
        let url = Url::parse(url).map_err(|e| HttpError::BadUrl(format!("{url}: {e}")))?;
        Ok(Walk {
            method,
            url,
            fields,
            max_redirects,
            hops: 0,
        })
    }

    /// The method of the next request.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL of the next request.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The caller's fields for the next request (stripped as redirects
    /// require).
    pub fn fields(&self) -> &HeaderMap {
        &self.fields
    }

    /// The origin of the next request.
    pub fn origin(&self) -> Result<Origin, HttpError> {
        Origin::of(&self.url)
    }

    /// The head of the next request.
    pub fn request_head(&self, user_agent: Option<&str>) -> Result<RequestHead, HttpError> {
        request_head(&self.url, &self.method, &self.fields, user_agent)
    }

    /// Decides on a response: `Ok(None)` when it is the answer (not a
    /// redirect, following is off, no `Location`, or a 307/308 whose
    /// streamed body cannot be sent again); `Ok(Some(hop))` when the walk
    /// moved on to the `Location` (the caller drains this response and
    /// sends the next request, with the body only if `hop.keep_body`);
    /// an error past the redirect limit or for a bad `Location`.
    pub fn follow(
        &mut self,
        status: StatusCode,
        location: Option<&str>,
        body_replayable: bool,
    ) -> Result<Option<Hop>, HttpError> {
        if self.max_redirects == 0 {
            return Ok(None);
        }
        let (Some(hop), Some(location)) = (redirect(&self.method, status), location) else {
            return Ok(None);
        };
        if hop.keep_body && !body_replayable {
            return Ok(None);
        }
        self.hops += 1;
        if self.hops > self.max_redirects {
            return Err(HttpError::TooManyRedirects(self.max_redirects));
        }
        let next = self
            .url
            .join(location)
            .map_err(|e| HttpError::BadUrl(format!("Location {location}: {e}")))?;
        let cross = Origin::of(&next).ok() != Origin::of(&self.url).ok();
        for f in fields_to_strip(cross, hop.keep_body) {
            self.fields.remove(f);
        }
        self.method = hop.method;
        self.url = next;
        Ok(Some(Hop {
            keep_body: hop.keep_body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_limits_and_rules() {
        let mut w = Walk::new(Method::GET, "http://h/a", HeaderMap::new(), 2).unwrap();
        assert!(w
            .follow(StatusCode::FOUND, Some("/b"), true)
            .unwrap()
            .is_some());
        assert!(w
            .follow(StatusCode::FOUND, Some("/c"), true)
            .unwrap()
            .is_some());
        assert!(matches!(
            w.follow(StatusCode::FOUND, Some("/d"), true),
            Err(HttpError::TooManyRedirects(2))
        ));
        // Off, not a redirect, no Location, or a streamed body for a 307.
        let mut w = Walk::new(Method::PUT, "http://h/a", HeaderMap::new(), 0).unwrap();
        assert!(w
            .follow(StatusCode::FOUND, Some("/b"), true)
            .unwrap()
            .is_none());
        let mut w = Walk::new(Method::PUT, "http://h/a", HeaderMap::new(), 5).unwrap();
        assert!(w
            .follow(StatusCode::OK, Some("/b"), true)
            .unwrap()
            .is_none());
        assert!(w.follow(StatusCode::FOUND, None, true).unwrap().is_none());
        assert!(w
            .follow(StatusCode::TEMPORARY_REDIRECT, Some("/b"), false)
            .unwrap()
            .is_none());
        // 307 keeps method and body; same origin keeps credentials.
        let mut f = HeaderMap::new();
        f.append("Cookie", "c=1").unwrap();
        f.append("Content-Type", "text/plain").unwrap();
        let mut w = Walk::new(Method::PUT, "http://h:8080/a", f, 5).unwrap();
        let hop = w.follow(StatusCode::TEMPORARY_REDIRECT, Some("/b"), true);
        assert_eq!(hop.unwrap(), Some(Hop { keep_body: true }));
        assert_eq!(
            (w.method(), w.url().as_str()),
            (&Method::PUT, "http://h:8080/b")
        );
        assert!(w.fields().contains("cookie") && w.fields().contains("content-type"));
        // Another port is another origin.
        w.follow(StatusCode::FOUND, Some("http://h:8081/c"), true)
            .unwrap();
        assert!(!w.fields().contains("cookie"));
        assert!(matches!(
            Walk::new(Method::GET, "ftp://h/", HeaderMap::new(), 1)
                .unwrap()
                .origin(),
            Err(HttpError::BadUrl(_))
        ));
    }

    #[test]
    fn heads_and_origins() {
        let url = Url::parse("http://[::1]:8080/p?q=1").unwrap();
        let o = Origin::of(&url).unwrap();
        assert_eq!((o.dial_host(), o.port), ("::1", 8080));
        let h = request_head(&url, &Method::GET, &HeaderMap::new(), Some("t/1")).unwrap();
        assert_eq!(h.target.path(), "/p");
        assert_eq!(h.headers.get_str("host"), Some("[::1]:8080"));
        let url = Url::parse("https://example.com:443/").unwrap();
        let h = request_head(&url, &Method::GET, &HeaderMap::new(), None).unwrap();
        assert_eq!(h.headers.get_str("host"), Some("example.com"));
        assert!(HttpError::Io(io::ErrorKind::BrokenPipe.into()).before_response());
        assert!(!HttpError::Usage(UsageError::NotReady).before_response());
    }
}
