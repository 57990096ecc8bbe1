//! The client side of an HTTP/1.1 connection.
//!
//! ```text
//!  send_request ──► head queued ──► body (send_data / send_end)
//!                       │                 │ Expect: 100-continue: body held
//!                       │                 ▼ until 100, a final response, or
//!                       │                   expect_timeout
//!  handle_input ──► 1xx: Informational (100 releases a held body)
//!                 ► final head: Response ──► Data* ──► End ──► next in-flight
//!                 ► 101 to an Upgrade / 2xx to CONNECT: Response, Upgrade
//! ```
//!
//! Requests may be pipelined: each `send_request` after the previous body
//! ended; responses are matched to requests in order, so HEAD and CONNECT
//! rules apply to the right one. After [`ClientEvent::Upgrade`] nothing more
//! is consumed: the rest of the read buffer belongs to the new protocol.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::body::{BodyDecoder, BodyEncoder, BodyItem, BodyLimits};
use super::close::{self, CloseReason, Life};
use super::error::{Error, ErrorKind, UsageError};
use super::framing::{self, Framing, Outgoing};
use super::head_reader::HeadReader;
use super::header::HeaderMap;
use super::message::{RequestHead, ResponseHead};
use super::outbox::Outbox;
use super::parse::{parse_response, response_head, ParseConfig};
use super::serialize::write_request_head_with;
use super::{Method, StatusCode, Version};
use crate::Dialogue;

/// Client connection settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Head limits and leniency. Default [`ParseConfig::client`]: obs-fold
    /// in a response is unfolded (RFC 9112 §5.2) and a status line without
    /// a reason phrase is accepted; nothing that can change framing is
    /// relaxed. Other real servers may need more [`Lenient`](super::Lenient)
    /// flags; [`ParseConfig::default`] is strict.
    pub head: ParseConfig,
    /// Body limits (default: no body size limit on responses).
    pub body: BodyLimits,
    /// Time from a request's end to its response head. Default 30 s.
    pub response_timeout: Duration,
    /// Longest pause inside a response body. Default 30 s.
    pub body_timeout: Duration,
    /// How long a request with `Expect: 100-continue` waits for the 100
    /// before sending its body anyway. Default 1 s.
    pub expect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            head: ParseConfig::client(),
            body: BodyLimits {
                max_body: None,
                ..BodyLimits::default()
            },
            response_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            expect_timeout: Duration::from_secs(1),
        }
    }
}

/// A final response head and how its body is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The head as received.
    pub head: ResponseHead,
    /// Body framing ([`Framing::Tunnel`] when the connection leaves HTTP).
    pub framing: Framing,
}

/// What a client connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// An interim 1xx response.
    Informational(ResponseHead),
    /// The final response head for the oldest request in flight.
    Response(Response),
    /// A piece of the response body.
    Data(Bytes),
    /// The response is complete, with trailer fields.
    End(HeaderMap),
    /// The connection left HTTP (101 or 2xx to CONNECT); the rest of the read
    /// buffer belongs to the new protocol.
    Upgrade,
    /// The server broke the protocol, a timer fired, or the connection closed
    /// mid-response. Fatal.
    Error(Error),
}

#[derive(Debug, Clone)]
struct InFlight {
    method: Method,
    upgrade: bool,
    /// The request's own reason to close after its response, if any.
    close: Option<CloseReason>,
}

#[derive(Debug)]
enum Read {
    Head,
    Body(BodyDecoder),
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// No expectation pending.
    None,
    /// Body held until a 100 (or timeout).
    Waiting,
    /// A final response came first: the body is never sent.
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Expect,
    Response,
    Body,
}

/// The client side of one HTTP/1.1 connection, sans IO.
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use wireloom_core::Dialogue;
/// use wireloom_core::http::{ClientConnection, ClientConfig, ClientEvent, Method, RequestHead,
///     BodyLength};
///
/// let now = Instant::now();
/// let mut conn = ClientConnection::new(ClientConfig::default());
/// let mut req = RequestHead::new(Method::GET, "/").unwrap();
/// req.header("Host", "example.com").unwrap();
/// conn.send_request(now, req, BodyLength::Known(0)).unwrap();
/// assert_eq!(&conn.poll_transmit().unwrap()[..], b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
///
/// let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// conn.handle_input(now, &mut input);
/// let Some(ClientEvent::Response(res)) = conn.poll_event() else { panic!() };
/// assert_eq!(res.head.status.as_u16(), 200);
/// assert_eq!(conn.poll_event(), Some(ClientEvent::Data("hi".into())));
/// assert!(matches!(conn.poll_event(), Some(ClientEvent::End(_))));
/// assert!(conn.is_reusable());
/// ```
#[derive(Debug)]
pub struct ClientConnection {
    config: ClientConfig,
    in_flight: VecDeque<InFlight>,
    /// Body of the request being sent, if its head went out.
    sending: Option<BodyEncoder>,
    expect: Expect,
    /// Encoded body bytes held back for 100-continue.
    held: Outbox,
    /// The held body is complete (send_end was called while waiting).
    held_end: bool,
    read: Read,
    /// Why the connection closes after the response being read, if it does.
    resp_close: Option<CloseReason>,
    /// The next response head, as far as it arrived.
    head: HeadReader,
    /// Open, closing once the requests in flight are answered, closed, or
    /// switched, with the reason. A protocol error closes at once and is
    /// sticky (nothing more is read).
    life: Life,
    timer: Option<(Instant, Timer)>,
    transmit: Outbox,
    events: VecDeque<ClientEvent>,
    /// Responses completed on this connection.
    completed: u64,
}

impl ClientConnection {
    /// A new connection (its transport is already connected).
    pub fn new(config: ClientConfig) -> ClientConnection {
        ClientConnection {
            config,
            in_flight: VecDeque::new(),
            sending: None,
            expect: Expect::None,
            held: Outbox::default(),
            held_end: false,
            read: Read::Head,
            resp_close: None,
            head: HeadReader::new(0),
            life: Life::Open,
            timer: None,
            transmit: Outbox::default(),
            events: VecDeque::new(),
            completed: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether a new request may be sent now (no body open, not closing).
    pub fn can_send_request(&self) -> bool {
        self.sending.is_none() && self.life.is_open()
    }

    /// Whether the connection is idle and may be reused for another request
    /// (a connection pool's test, together with an empty read buffer: bytes
    /// that arrive with no request in flight, such as a 408 sent before the
    /// server closes, are left unconsumed).
    pub fn is_reusable(&self) -> bool {
        self.can_send_request() && self.in_flight.is_empty()
    }

    /// The pool's test, whole: whether this connection may go back to a
    /// pool now that its response ended. `unread` is what the transport
    /// delivered and the connection did not consume; any byte there (a
    /// 408 or junk sent before the server closes) makes the connection
    /// unfit, as does a peer that closed (after `handle_eof` the connection
    /// is no longer reusable).
    ///
    /// ```
    /// use wireloom_core::http::{ClientConfig, ClientConnection};
    /// let conn = ClientConnection::new(ClientConfig::default());
    /// assert!(conn.can_pool(b""));
    /// assert!(!conn.can_pool(b"HTTP/1.1 408 Request Timeout\r\n"));
    /// ```
    pub fn can_pool(&self, unread: &[u8]) -> bool {
        self.is_reusable() && unread.is_empty()
    }

    /// Why the connection closes, once it decided to: its own request or
    /// the server's response asked for it (or spoke HTTP/1.0), the
    /// response was close-delimited, the server answered before
    /// `100 Continue`, the server closed, a timer, a protocol error, an
    /// upgrade. `None` while it may carry another request.
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{BodyLength, ClientConfig, ClientConnection, CloseReason, Method,
    ///     RequestHead};
    /// let now = Instant::now();
    /// let mut conn = ClientConnection::new(ClientConfig::default());
    /// let mut req = RequestHead::new(Method::GET, "/").unwrap();
    /// req.header("Host", "a").unwrap();
    /// conn.send_request(now, req, BodyLength::Known(0)).unwrap();
    /// conn.handle_input(now, &mut BytesMut::from(&b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..]));
    /// assert_eq!(conn.close_reason(), Some(CloseReason::ServerAskedClose));
    /// assert!(conn.is_closed());
    /// ```
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.life.reason()
    }

    /// Number of requests sent whose responses have not ended.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Number of responses completed on this connection (0 for a fresh one:
    /// a pool retries idempotent requests only on reused connections).
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Whether a response is partly received.
    pub fn is_message_in_progress(&self) -> bool {
        match self.read {
            Read::Head => self.head.is_started(),
            Read::Body(_) => true,
            Read::Stopped => false,
        }
    }

    /// Whether the server refused the held body (a final response arrived
    /// before 100 Continue): further body data is dropped.
    pub fn body_refused(&self) -> bool {
        self.expect == Expect::Refused
    }

    /// Sends a request head. The connection decides the framing: an explicit
    /// `Content-Length` or `Transfer-Encoding: chunked` in `head` is honoured;
    /// otherwise [`BodyLength::Known`] adds `Content-Length` (omitted for an
    /// empty body of a method that has none) and [`BodyLength::Unknown`]
    /// adds chunked ([`framing::outgoing`], the rules shared with the
    /// server connection). An HTTP/1.1 request must carry exactly one Host; a
    /// CONNECT request carries no content (`BodyLength::Known(0)`, no
    /// `Content-Length` or `Transfer-Encoding`).
    pub fn send_request(
        &mut self,
        now: Instant,
        mut head: RequestHead,
        body: BodyLength,
    ) -> Result<(), UsageError> {
        if self.life.is_over() {
            return Err(UsageError::Closed);
        }
        if !self.can_send_request() {
            return Err(UsageError::NotReady);
        }
        if head.version == Version::Http11 && head.headers.get_all_bytes("host").count() != 1 {
            return Err(UsageError::InvalidHead(
                "an HTTP/1.1 request needs exactly one Host",
            ));
        }
        if head.method == Method::CONNECT
            && (body != BodyLength::Known(0)
                || head.headers.contains("content-length")
                || head.headers.contains("transfer-encoding"))
        {
            // A server refuses it (ErrorKind::ConnectWithContent).
            return Err(UsageError::InvalidHead(
                "a CONNECT request carries no content",
            ));
        }
        let msg = Outgoing::Request {
            method: &head.method,
            version: head.version,
        };
        let (enc, extra) = framing::outgoing(msg, &mut head.headers, body)?;
        let has_body = enc != BodyEncoder::Length(0);
        let expects = has_body
            && head.version == Version::Http11
            && head.headers.contains_token("expect", "100-continue");
        let upgrade = head.method == Method::CONNECT || framing::wants_upgrade(&head);
        let close = close::peer_close(head.version, &head.headers, CloseReason::ClientAskedClose);
        let mut out = BytesMut::with_capacity(128 + head.headers.len() * 32);
        write_request_head_with(&mut out, &head, &extra);
        self.transmit.push(out.freeze());
        self.in_flight.push_back(InFlight {
            method: head.method,
            upgrade,
            close,
        });
        if let Some(r) = close {
            self.life.close_after(r);
        }
        if has_body {
            self.sending = Some(enc);
            if expects {
                self.expect = Expect::Waiting;
                self.held_end = false;
                self.timer = Some((now + self.config.expect_timeout, Timer::Expect));
            }
        } else {
            self.request_sent(now);
        }
        Ok(())
    }

    /// Sends a piece of the request body.
    pub fn send_data(&mut self, data: Bytes) -> Result<(), UsageError> {
        if self.expect == Expect::Refused {
            return Ok(());
        }
        if self.life.is_closed() {
            return Err(UsageError::Closed);
        }
        let Some(enc) = &mut self.sending else {
            return Err(UsageError::NoBodyInProgress);
        };
        let out = if self.expect == Expect::Waiting {
            &mut self.held
        } else {
            &mut self.transmit
        };
        enc.encode(data, out)
    }

    /// Ends the request body (trailers for a chunked body).
    pub fn send_end(
        &mut self,
        now: Instant,
        trailers: Option<HeaderMap>,
    ) -> Result<(), UsageError> {
        if self.expect == Expect::Refused {
            self.sending = None;
            self.expect = Expect::None;
            return Ok(());
        }
        if self.life.is_closed() {
            return Err(UsageError::Closed);
        }
        let Some(enc) = self.sending.take() else {
            return Err(UsageError::NoBodyInProgress);
        };
        if self.expect == Expect::Waiting {
            let r = enc.finish(trailers, &mut self.held);
            self.held_end = true;
            if r.is_err() {
                self.life.fail(CloseReason::LocalError, false);
            }
            return r;
        }
        if let Err(e) = enc.finish(trailers, &mut self.transmit) {
            // The server would wait for the missing bytes forever.
            self.life.fail(CloseReason::LocalError, true);
            return Err(e);
        }
        self.request_sent(now);
        Ok(())
    }

    fn request_sent(&mut self, now: Instant) {
        if matches!(self.read, Read::Head) && !self.in_flight.is_empty() {
            self.timer = Some((now + self.config.response_timeout, Timer::Response));
        }
    }

    fn release_held(&mut self, now: Instant) {
        if self.expect != Expect::Waiting {
            return;
        }
        self.expect = Expect::None;
        self.transmit.append(&mut self.held);
        if self.held_end {
            self.held_end = false;
            self.request_sent(now);
        } else if matches!(self.timer, Some((_, Timer::Expect))) {
            self.timer = None;
        }
    }

    /// Records a fatal error: reports it (the one channel: an event) and
    /// closes.
    fn fail(&mut self, e: Error) {
        self.life.error(&e, true);
        self.events.push_back(ClientEvent::Error(e));
        self.read = Read::Stopped;
        self.timer = None;
    }

    fn read_head(&mut self, now: Instant, input: &mut BytesMut) -> Result<bool, Error> {
        if input.is_empty() {
            return Ok(false);
        }
        let Some(req) = self.in_flight.front().cloned() else {
            // Nothing asked for: leave the bytes where they are. A pool must
            // not reuse a connection whose read buffer is not empty.
            return Ok(false);
        };
        let read = self
            .head
            .read(input, &self.config.head, true, parse_response)?;
        let Some((bytes, r)) = read else {
            return Ok(false);
        };
        let head = response_head(bytes, &r, &self.head.raw);
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            if head.status == StatusCode::CONTINUE {
                self.release_held(now);
            }
            self.events.push_back(ClientEvent::Informational(head));
            return Ok(true);
        }
        if head.status == StatusCode::SWITCHING_PROTOCOLS && !req.upgrade {
            return Err(Error::new(ErrorKind::UnexpectedResponse));
        }
        let framing = framing::response_framing(&req.method, req.upgrade, &head)?;
        if self.expect == Expect::Waiting {
            // A final answer before 100: the body is never sent, so the
            // connection cannot carry another request.
            self.expect = Expect::Refused;
            self.held.clear();
            self.sending = None;
            self.life.close_after(CloseReason::Not100Continue);
        }
        self.resp_close = req
            .close
            .or_else(|| {
                close::peer_close(head.version, &head.headers, CloseReason::ServerAskedClose)
            })
            .or((framing == Framing::CloseDelimited).then_some(CloseReason::CloseDelimited));
        let decoder = BodyDecoder::new(framing, &self.config.body, &self.config.head)?;
        self.events
            .push_back(ClientEvent::Response(Response { head, framing }));
        match framing {
            Framing::Tunnel => {
                self.in_flight.pop_front();
                self.life = Life::Switched;
                self.read = Read::Stopped;
                self.timer = None;
                self.events.push_back(ClientEvent::Upgrade);
                return Ok(false);
            }
            Framing::Empty | Framing::Length(0) => {
                self.events.push_back(ClientEvent::End(HeaderMap::new()));
                self.response_done(now);
            }
            _ => {
                self.read = Read::Body(decoder);
                self.timer = Some((now + self.config.body_timeout, Timer::Body));
            }
        }
        Ok(true)
    }

    fn response_done(&mut self, now: Instant) {
        self.in_flight.pop_front();
        self.completed += 1;
        self.read = Read::Head;
        self.timer = None;
        if let Some(r) = self.resp_close {
            self.life.close_after(r);
        }
        if !self.life.is_open() && (self.in_flight.is_empty() || self.resp_close.is_some()) {
            // Requests pipelined behind a closing response will not be answered.
            self.in_flight.clear();
            self.read = Read::Stopped;
            self.life.finish();
            return;
        }
        if !self.in_flight.is_empty() && self.sending.is_none() {
            self.timer = Some((now + self.config.response_timeout, Timer::Response));
        }
    }

    fn read_body(&mut self, now: Instant, input: &mut BytesMut) -> Result<bool, Error> {
        let Read::Body(dec) = &mut self.read else {
            return Ok(false);
        };
        let events = &mut self.events;
        let (progressed, ended) =
            dec.decode_available(input, |b| events.push_back(ClientEvent::Data(b)))?;
        if let Some(t) = ended {
            self.events.push_back(ClientEvent::End(t));
            self.response_done(now);
            return Ok(true);
        }
        if progressed {
            self.timer = Some((now + self.config.body_timeout, Timer::Body));
        }
        Ok(false)
    }
}

pub use super::framing::BodyLength;

/// The `User-Agent` a wireloom client sends unless told otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("wireloom/", env!("CARGO_PKG_VERSION"));

/// The head of a request to an origin server, with the fields every
/// wireloom client adds unless the caller set them: `Host` first (RFC 9112
/// §3.2, RFC 9110 §7.2: the URL's host, with its port only when it is not
/// the scheme's default), then the caller's `fields` in their order, then
/// `User-Agent` when `user_agent` is given. `host` is the URL's host as
/// written in a URL (an IPv6 literal keeps its brackets).
///
/// Errors are local: a target or host that cannot be sent.
///
/// ```
/// use wireloom_core::http::{HeaderMap, Method};
/// use wireloom_core::http::client::origin_request_head;
/// let mut fields = HeaderMap::new();
/// fields.append("Accept", "*/*").unwrap();
/// let head = origin_request_head(Method::GET, "/a?b", "example.com", 8080, 80, &fields,
///     Some("demo/1")).unwrap();
/// let names: Vec<String> = head.headers.iter().map(|(n, _)| n.to_string()).collect();
/// assert_eq!(names, ["Host", "Accept", "User-Agent"]);
/// assert_eq!(head.headers.get_str("host"), Some("example.com:8080"));
/// let head = origin_request_head(Method::GET, "/", "[::1]", 443, 443, &HeaderMap::new(), None)
///     .unwrap();
/// assert_eq!(head.headers.get_str("host"), Some("[::1]"));
/// assert!(!head.headers.contains("user-agent"));
/// ```
pub fn origin_request_head(
    method: Method,
    target: &str,
    host: &str,
    port: u16,
    default_port: u16,
    fields: &HeaderMap,
    user_agent: Option<&str>,
) -> Result<RequestHead, UsageError> {
    let mut head = RequestHead::new(method, target)
        .map_err(|_| UsageError::InvalidHead("invalid request target"))?;
    head.version = Version::Http11;
    if !fields.contains("host") {
        let host_field = if port == default_port {
            head.headers.append("Host", host)
        } else {
            head.headers.append("Host", format!("{host}:{port}"))
        };
        host_field.map_err(|_| UsageError::InvalidHead("invalid Host"))?;
    }
    for (n, v) in fields {
        head.headers.append_field(n.clone(), v.clone());
    }
    if let Some(ua) = user_agent {
        if !fields.contains("user-agent") {
            head.headers
                .append("User-Agent", ua)
                .map_err(|_| UsageError::InvalidHead("invalid User-Agent"))?;
        }
    }
    Ok(head)
}

impl Dialogue for ClientConnection {
    type Event = ClientEvent;

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) {
        // After an error (sticky) or an upgrade, `read` is `Stopped`:
        // nothing more is consumed.
        loop {
            let r = match self.read {
                Read::Head => self.read_head(now, input),
                Read::Body(_) => self.read_body(now, input),
                Read::Stopped => Ok(false),
            };
            match r {
                Ok(true) => continue,
                Ok(false) => return,
                Err(e) => return self.fail(e),
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.life.is_over() {
            return;
        }
        match &mut self.read {
            Read::Head if self.in_flight.is_empty() => {
                self.life.close(CloseReason::PeerEof);
                self.read = Read::Stopped;
                self.timer = None;
            }
            Read::Head => {
                let kind = if self.head.is_started() {
                    ErrorKind::IncompleteMessage
                } else {
                    ErrorKind::ClosedBeforeResponse
                };
                self.fail(Error::new(kind));
            }
            Read::Body(dec) => match dec.decode_eof() {
                Ok(BodyItem::End(t)) => {
                    self.events.push_back(ClientEvent::End(t));
                    self.completed += 1;
                    self.in_flight.clear();
                    self.life
                        .close(self.resp_close.unwrap_or(CloseReason::PeerEof));
                    self.read = Read::Stopped;
                    self.timer = None;
                }
                Ok(BodyItem::Data(_)) | Err(_) => {
                    self.fail(Error::new(ErrorKind::IncompleteMessage));
                }
            },
            Read::Stopped => self.life.close(CloseReason::PeerEof),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some((at, kind)) = self.timer else {
            return;
        };
        if now < at {
            return;
        }
        match kind {
            Timer::Expect => {
                self.timer = None;
                self.release_held(now);
            }
            Timer::Response => {
                self.fail(Error::new(ErrorKind::ResponseTimeout));
            }
            Timer::Body => {
                self.fail(Error::new(ErrorKind::BodyTimeout));
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop()
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer.map(|(at, _)| at)
    }

    /// True while a response is due (a request is in flight) and the
    /// connection still speaks HTTP. With nothing in flight, bytes from the
    /// server are left unconsumed (a pool must not reuse such a
    /// connection), so there is no point in reading them.
    fn wants_input(&self) -> bool {
        !self.life.is_over() && !matches!(self.read, Read::Stopped) && !self.in_flight.is_empty()
    }

    fn is_closed(&self) -> bool {
        self.life.is_closed()
    }
}
