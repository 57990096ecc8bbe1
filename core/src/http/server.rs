//! The server side of an HTTP/1.1 connection.
//!
//! ```text
//!            handle_input                 send_response        send_end
//!  ┌──────┐  head parsed   ┌────────────┐  (head queued) ┌──────────┐  ┌───────────┐
//!  │ Head ├──────────────►│ Body/Done  ├───────────────►│ Sending  ├─►│ keep-alive├─► Head
//!  └──┬───┘  Request evt  └────┬───────┘                └────┬─────┘  │ or close  │
//!     │ parse error            │ Expect: 100-continue        │        └───────────┘
//!     ▼                        ▼ accept_body() sends 100     ▼ 101 / 2xx to CONNECT
//!  error response +      WaitContinue                    Upgrade event: the transport
//!  close (sticky)                                         leaves HTTP
//! ```
//!
//! Pipelined requests are answered in order: while a response is under way
//! the connection leaves later bytes in the caller's buffer, and parses them
//! when the response has ended (so call `handle_input` again after
//! [`ServerConnection::send_end`] even if nothing new arrived).
//!
//! After an [`ServerEvent::Upgrade`] the connection consumes nothing more:
//! whatever is left in the caller's read buffer was read past the switch
//! point and belongs to the new protocol.
//!
//! CONNECT: a CONNECT request carries no content (RFC 9110 §9.3.6). One with
//! `Content-Length` or `Transfer-Encoding` (even `Content-Length: 0`) is
//! refused with 400 ([`ErrorKind::ConnectWithContent`]) instead of either
//! reading tunnel bytes as a body or guessing which of the two the client
//! meant; every byte after an accepted CONNECT's head belongs to the tunnel.
//!
//! Fail fast: a head is refused as soon as its bytes decide it (a TLS
//! record or a NUL where a request line starts, a bare CR, `HTTP/5.`, a
//! complete `Content-Length` line that is invalid or contradicts an earlier
//! one, an over-long line...), without waiting for the rest of the head, so a
//! connection that will be refused does not stay open. The error is the same
//! however the bytes are split.
//!
//! `Date`: core reads no clock. The adapter hands it the current `Date` value
//! with [`ServerConnection::set_date`] (once a second is enough); from then
//! on every response head the connection writes, its own error responses
//! included, carries it unless the head has a `Date` already.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::body::{BodyDecoder, BodyEncoder as Enc, BodyLimits};
use super::error::{Error, ErrorKind, UsageError};
use super::framing::{self, Expectation, Framing};
use super::header::{names, HeaderMap, HeaderValue};
use super::message::{RequestHead, ResponseHead};
use super::outbox::Outbox;
use super::parse::{check_unfinished, parse_request, request_head, ParseConfig, RawHeader, Status};
use super::serialize::{write_response_head, write_response_head_with, Extra};
use super::{Method, StatusCode, Version};
use crate::Dialogue;

/// Server connection settings. Defaults are safe against slowloris and
/// oversized input.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Head limits and leniency.
    pub head: ParseConfig,
    /// Body limits.
    pub body: BodyLimits,
    /// Allow persistent connections. Default true.
    pub keep_alive: bool,
    /// Time allowed for a request head from its first byte (or from the
    /// connection's start for the first request). Default 10 s.
    pub head_timeout: Duration,
    /// Time an idle keep-alive connection waits for the next request. Default 60 s.
    pub idle_timeout: Duration,
    /// Longest pause while a request body is being received. Default 30 s.
    pub body_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            head: ParseConfig::default(),
            body: BodyLimits::default(),
            keep_alive: true,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// A request head together with what the connection decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The head as received.
    pub head: RequestHead,
    /// How the body is delimited ([`Framing::Empty`] for none).
    pub framing: Framing,
    /// The client waits for a 100 before sending the body: call
    /// [`ServerConnection::accept_body`] to get it, or answer without it.
    pub expects_continue: bool,
    /// The client asked to switch protocols (Upgrade) or to open a tunnel
    /// (CONNECT); a 101 (resp. a 2xx) answer hands the connection off.
    pub wants_upgrade: bool,
}

/// What a server connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A request head arrived. Body events follow.
    Request(Request),
    /// A piece of the request body.
    Data(Bytes),
    /// The request body is complete, with trailer fields (usually empty).
    End(HeaderMap),
    /// The response switched protocols: the connection is no longer HTTP.
    /// Bytes left in the read buffer belong to the new protocol.
    Upgrade,
    /// The peer broke the protocol, a limit or a timer fired, or the peer
    /// closed mid-request. The connection answers (if it still can) and closes.
    Error(Error),
}

/// How the response body length is known when the head is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many bytes (0 for none).
    Known(u64),
    /// Streamed: chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0.
    Unknown,
}

#[derive(Debug)]
enum Read {
    /// Waiting for (or reading) a request head.
    Head,
    /// Reading a body.
    Body(BodyDecoder),
    /// Body held until the application asks for it (100-continue).
    WaitContinue(BodyDecoder),
    /// Request fully read; waiting for the response to finish.
    Done,
    /// Reading and dropping the rest of a body the application did not read.
    Discard(BodyDecoder),
    /// Nothing more is read.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resp {
    /// No request waiting.
    Idle,
    /// A request waits for its response head.
    Awaiting,
    /// The head is sent; body under way.
    Sending(Enc),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Idle,
    Head,
    Body,
}

/// The current request's facts that shape its response.
#[derive(Debug, Clone)]
struct Current {
    method: Method,
    version: Version,
    keep_alive: bool,
    wants_upgrade: bool,
}

/// The server side of one HTTP/1.1 connection, sans IO.
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use wireloom_core::Dialogue;
/// use wireloom_core::http::{ServerConnection, ServerConfig, ServerEvent, ResponseHead,
///     StatusCode, BodyLength};
///
/// let now = Instant::now();
/// let mut conn = ServerConnection::new(ServerConfig::default(), now);
/// let mut input = BytesMut::from(&b"GET /hi HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
/// conn.handle_input(now, &mut input).unwrap();
/// let Some(ServerEvent::Request(req)) = conn.poll_event() else { panic!() };
/// assert_eq!(req.head.target.path(), "/hi");
/// assert!(matches!(conn.poll_event(), Some(ServerEvent::End(_))));
///
/// let mut res = ResponseHead::new(StatusCode::OK);
/// res.header("Content-Type", "text/plain").unwrap();
/// conn.send_response(now, res, BodyLength::Known(2)).unwrap();
/// conn.send_data("ok".into()).unwrap();
/// conn.send_end(now, None).unwrap();
/// let mut wire = Vec::new();
/// while let Some(b) = conn.poll_transmit() { wire.extend_from_slice(&b); }
/// assert_eq!(wire, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
/// assert!(!conn.is_closed());
/// ```
#[derive(Debug)]
pub struct ServerConnection {
    config: ServerConfig,
    read: Read,
    resp: Resp,
    current: Option<Current>,
    /// Set when this connection will close after the current response.
    must_close: bool,
    /// Set once the peer has closed its sending side.
    peer_eof: bool,
    /// The response switched protocols.
    switched: bool,
    /// Nothing more will be sent; close once transmit is drained.
    closed: bool,
    /// Sticky fatal error.
    error: Option<Error>,
    /// The last response had no body and is complete: `send_data` drops
    /// data and `send_end` is a no-op until the next response.
    bodyless_done: bool,
    /// Bytes of a head seen so far (for the head timer and EOF).
    partial_head: bool,
    /// At least one response was completed: between requests, the
    /// connection is an idle keep-alive one.
    served: bool,
    /// Where the last head scan stopped, and the last newline seen, so a head
    /// trickling in is not re-parsed for every byte.
    scanned: usize,
    last_newline: Option<usize>,
    raw: Vec<RawHeader>,
    timer: Option<(Instant, Timer)>,
    transmit: Outbox,
    events: VecDeque<ServerEvent>,
    /// The `Date` value given by [`ServerConnection::set_date`], stamped on
    /// every response head written without one.
    date: Option<HeaderValue>,
}

impl ServerConnection {
    /// A new connection accepted at `now`.
    pub fn new(config: ServerConfig, now: Instant) -> ServerConnection {
        let timer = Some((now + config.head_timeout, Timer::Idle));
        ServerConnection {
            raw: Vec::with_capacity(config.head.max_headers.min(64)),
            config,
            read: Read::Head,
            resp: Resp::Idle,
            current: None,
            must_close: false,
            peer_eof: false,
            switched: false,
            closed: false,
            error: None,
            bodyless_done: false,
            partial_head: false,
            served: false,
            scanned: 0,
            last_newline: None,
            timer,
            transmit: Outbox::default(),
            events: VecDeque::new(),
            date: None,
        }
    }

    /// Stores the current `Date` value (core reads no clock: the adapter
    /// formats the time, e.g. with [`http_date`](super::http_date), and
    /// refreshes it, e.g. once a second and before each read). From then on
    /// every response head the connection writes without a `Date` field gets
    /// `Date: <value>` appended: final responses ([`send_response`]) and the
    /// connection's own answers (400, 408, 413, 414, 431, 501, 505, the 500
    /// of [`send_response_or_500`], [`refuse`]...) alike, as RFC 9110 §6.6.1
    /// asks of an origin server with a clock. Interim 1xx responses are left
    /// alone. Without a call, no `Date` is added.
    ///
    /// [`send_response`]: ServerConnection::send_response
    /// [`send_response_or_500`]: ServerConnection::send_response_or_500
    /// [`refuse`]: ServerConnection::refuse
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{HeaderValue, ServerConfig, ServerConnection};
    /// let now = Instant::now();
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// conn.set_date(HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
    /// // A bare LF: the connection answers 400 itself, with the date.
    /// let _ = conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..]));
    /// let wire = conn.poll_transmit().unwrap();
    /// let text = std::str::from_utf8(&wire).unwrap();
    /// assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    /// assert!(text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    /// ```
    pub fn set_date(&mut self, value: HeaderValue) {
        self.date = Some(value);
    }

    /// Whether a response body is under way: true after a
    /// [`send_response`](Self::send_response) whose body goes on the wire,
    /// until [`send_end`](Self::send_end). False when the response has no
    /// body to send (HEAD, 204, 304, a zero length), so the adapter need
    /// not produce one (a HEAD to a streamed or file response reads
    /// nothing).
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{BodyLength, ResponseHead, ServerConfig, ServerConnection,
    ///     StatusCode};
    /// let now = Instant::now();
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// let mut input = BytesMut::from(&b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
    /// conn.handle_input(now, &mut input).unwrap();
    /// conn.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown).unwrap();
    /// assert!(!conn.is_sending_body()); // HEAD: nothing to stream
    /// conn.send_end(now, None).unwrap();
    /// conn.handle_input(now, &mut input).unwrap();
    /// conn.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown).unwrap();
    /// assert!(conn.is_sending_body()); // GET: chunked body under way
    /// ```
    pub fn is_sending_body(&self) -> bool {
        matches!(self.resp, Resp::Sending(_)) && !self.closed && !self.switched
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether a request is partly received (head or body): EOF now would
    /// cut it.
    pub fn is_message_in_progress(&self) -> bool {
        match self.read {
            Read::Head => self.partial_head,
            Read::Body(_) | Read::WaitContinue(_) => true,
            _ => false,
        }
    }

    /// Whether the connection has left HTTP (after a 101 or a 2xx to CONNECT).
    pub fn is_switched(&self) -> bool {
        self.switched
    }

    /// Whether a request waits for its response head.
    pub fn is_awaiting_response(&self) -> bool {
        self.resp == Resp::Awaiting
    }

    /// Whether the adapter should keep reading from the transport. False
    /// while a response is under way for a fully read request (pipelined
    /// bytes wait in the buffer), after an upgrade, and once closed.
    pub fn wants_input(&self) -> bool {
        !self.closed
            && !self.switched
            && !matches!(
                self.read,
                Read::Done | Read::Stopped | Read::WaitContinue(_)
            )
    }

    /// Closes the connection once the current response (if any) is sent, as
    /// for a graceful shutdown: the response carries `Connection: close`.
    /// An idle connection closes at once.
    pub fn close_after_response(&mut self) {
        self.must_close = true;
        if self.resp == Resp::Idle && matches!(self.read, Read::Head) && !self.partial_head {
            self.close_now();
        }
    }

    /// Closes an idle keep-alive connection: one that has completed a
    /// response and waits for the next request with no byte of it read. A
    /// server short of workers or sockets does this to serve new clients; a
    /// client that finds its reused connection closed sends an idempotent
    /// request again on a fresh one (RFC 9112 §9.3.1). A fresh connection
    /// (no request yet) or one in the middle of a message is left alone.
    /// Returns whether the connection closed.
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{BodyLength, ResponseHead, ServerConfig, ServerConnection,
    ///     StatusCode};
    /// let now = Instant::now();
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// assert!(!conn.close_if_idle()); // no request yet
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..])).unwrap();
    /// conn.send_response(now, ResponseHead::new(StatusCode::NO_CONTENT), BodyLength::Known(0)).unwrap();
    /// assert!(conn.close_if_idle());
    /// assert!(conn.is_closed());
    /// ```
    pub fn close_if_idle(&mut self) -> bool {
        let idle = self.served
            && !self.closed
            && !self.switched
            && self.resp == Resp::Idle
            && matches!(self.read, Read::Head)
            && !self.partial_head;
        if idle {
            self.close_now();
        }
        idle
    }

    /// The application wants the request body: sends `100 Continue` if the
    /// client waits for it. Harmless otherwise.
    pub fn accept_body(&mut self, now: Instant) {
        if let Read::WaitContinue(_) = self.read {
            let Read::WaitContinue(d) = std::mem::replace(&mut self.read, Read::Stopped) else {
                return;
            };
            self.read = Read::Body(d);
            self.transmit
                .push(Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n"));
            self.timer = Some((now + self.config.body_timeout, Timer::Body));
        }
    }

    /// Sends an interim 1xx response (e.g. 103 Early Hints). Dropped for
    /// HTTP/1.0 clients, which must not receive 1xx (RFC 9110 §15.2).
    pub fn send_informational(&mut self, head: ResponseHead) -> Result<(), UsageError> {
        self.check_open()?;
        if self.resp != Resp::Awaiting {
            return Err(UsageError::NotExpectingResponse);
        }
        if !head.status.is_informational() || head.status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(UsageError::InvalidHead(
                "not an interim (1xx other than 101) status",
            ));
        }
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.version == Version::Http10)
        {
            return Ok(());
        }
        if head.status == StatusCode::CONTINUE {
            // A 100 means "send the body": same as accept_body.
            if let Read::WaitContinue(_) = self.read {
                let Read::WaitContinue(d) = std::mem::replace(&mut self.read, Read::Stopped) else {
                    return Ok(());
                };
                self.read = Read::Body(d);
            }
        }
        let mut out = BytesMut::with_capacity(64);
        write_response_head(&mut out, &head);
        self.transmit.push(out.freeze());
        Ok(())
    }

    fn check_open(&self) -> Result<(), UsageError> {
        if self.closed || self.switched {
            Err(UsageError::Closed)
        } else {
            Ok(())
        }
    }

    /// Sends the final response head for the oldest unanswered request.
    ///
    /// The connection decides the framing: a `Content-Length` or
    /// `Transfer-Encoding` already in `head` is honoured (chunked is never
    /// sent to an HTTP/1.0 client); otherwise [`BodyLength::Known`] adds
    /// `Content-Length` and [`BodyLength::Unknown`] adds chunked (or closes
    /// the connection after the body for HTTP/1.0). It adds
    /// `Connection: close` when the connection will close, and
    /// `Connection: keep-alive` for a persistent HTTP/1.0 client. Bodies of
    /// HEAD, 204 and 304 responses are not written.
    pub fn send_response(
        &mut self,
        now: Instant,
        mut head: ResponseHead,
        body: BodyLength,
    ) -> Result<(), UsageError> {
        self.check_open()?;
        if self.resp != Resp::Awaiting {
            return Err(UsageError::NotExpectingResponse);
        }
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(UsageError::InvalidHead(
                "1xx is not a final status; use send_informational",
            ));
        }
        let Some(cur) = self.current.clone() else {
            return Err(UsageError::NotExpectingResponse);
        };
        self.bodyless_done = false;
        head.version = Version::Http11;
        let mut extra = Extra::default();
        if let Some(date) = &self.date {
            if !head.headers.contains("date") {
                head.headers.append_field(names::DATE, date.clone());
            }
        }
        let tunnel = (head.status == StatusCode::SWITCHING_PROTOCOLS && cur.wants_upgrade)
            || (cur.method == Method::CONNECT && head.status.is_success());
        if head.status == StatusCode::SWITCHING_PROTOCOLS && !tunnel {
            return Err(UsageError::InvalidHead("101 without an Upgrade request"));
        }
        if tunnel && !matches!(self.read, Read::Done) {
            return Err(UsageError::InvalidHead(
                "cannot switch protocols before the request body is read",
            ));
        }
        let no_body = cur.method == Method::HEAD
            || head.status == StatusCode::NO_CONTENT
            || head.status == StatusCode::NOT_MODIFIED;
        let enc = if tunnel {
            Enc::Discard
        } else if head.status == StatusCode::NO_CONTENT || head.status == StatusCode::NOT_MODIFIED {
            // RFC 9110 §8.6: no Content-Length in 204; 304 may carry the GET's.
            if head.status == StatusCode::NO_CONTENT {
                head.headers.remove("content-length");
            }
            head.headers.remove("transfer-encoding");
            Enc::Discard
        } else {
            let has_te = head.headers.contains("transfer-encoding");
            let declared = framing::content_length(&head.headers)
                .map_err(|_| UsageError::InvalidHead("invalid Content-Length"))?;
            if has_te && cur.version == Version::Http10 {
                head.headers.remove("transfer-encoding");
            }
            let enc = if has_te && cur.version == Version::Http11 {
                if !head
                    .headers
                    .get_list("transfer-encoding")
                    .last()
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
                {
                    return Err(UsageError::InvalidHead(
                        "Transfer-Encoding must end in chunked",
                    ));
                }
                head.headers.remove("content-length");
                Enc::Chunked
            } else if let Some(n) = declared {
                if let BodyLength::Known(k) = body {
                    if k != n && !no_body {
                        return Err(UsageError::InvalidHead(
                            "Content-Length differs from the body length",
                        ));
                    }
                }
                Enc::Length(n)
            } else {
                match body {
                    BodyLength::Known(n) => {
                        if head.status != StatusCode::NOT_MODIFIED {
                            // Written with the head, without a map entry.
                            extra.content_length = Some(n);
                        }
                        Enc::Length(n)
                    }
                    BodyLength::Unknown if no_body => Enc::Discard,
                    BodyLength::Unknown if cur.version == Version::Http11 => {
                        extra.chunked = true;
                        Enc::Chunked
                    }
                    BodyLength::Unknown => Enc::Close,
                }
            };
            if no_body {
                Enc::Discard
            } else {
                enc
            }
        };

        let body_unread = !matches!(self.read, Read::Done | Read::Body(_));
        let keep = !tunnel
            && self.config.keep_alive
            && cur.keep_alive
            && !self.must_close
            && !self.peer_eof
            && !head.headers.contains_token("connection", "close")
            && enc != Enc::Close
            && !(body_unread && matches!(self.read, Read::WaitContinue(_)));
        if !tunnel {
            if !keep {
                self.must_close = true;
                if !head.headers.contains_token("connection", "close") {
                    extra.connection = Some(b"close");
                }
            } else if cur.version == Version::Http10
                && !head.headers.contains_token("connection", "keep-alive")
            {
                extra.connection = Some(b"keep-alive");
            }
        }
        write_response_head_with(self.transmit.buf_mut(), &head, &extra);
        if tunnel {
            self.switched = true;
            self.read = Read::Stopped;
            self.resp = Resp::Idle;
            self.timer = None;
            self.events.push_back(ServerEvent::Upgrade);
            return Ok(());
        }
        self.resp = Resp::Sending(enc);
        if matches!(enc, Enc::Discard | Enc::Length(0)) {
            self.finish_response(now);
            self.bodyless_done = true;
        }
        Ok(())
    }

    /// Starts a response like [`send_response`](Self::send_response), but
    /// when the connection refuses `head` (a `Content-Length` that
    /// contradicts `body`, a `Transfer-Encoding` that does not end in
    /// chunked...), the client still gets an answer: a 500 is sent in its
    /// place and the connection closes after it. Returns whether `head`
    /// was accepted (when false, do not send the body: the response is
    /// complete).
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{BodyLength, ResponseHead, ServerConfig, ServerConnection,
    ///     StatusCode};
    /// let now = Instant::now();
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..])).unwrap();
    /// let mut head = ResponseHead::new(StatusCode::OK);
    /// head.headers.append("Content-Length", "10").unwrap();
    /// assert_eq!(conn.send_response_or_500(now, head, BodyLength::Known(3)), Ok(false));
    /// let wire = conn.poll_transmit().unwrap();
    /// assert!(wire.starts_with(b"HTTP/1.1 500 "));
    /// ```
    pub fn send_response_or_500(
        &mut self,
        now: Instant,
        head: ResponseHead,
        body: BodyLength,
    ) -> Result<bool, UsageError> {
        let refused = match self.send_response(now, head, body) {
            Ok(()) => return Ok(true),
            Err(e) => e,
        };
        if self.closed || self.resp != Resp::Awaiting {
            return Err(refused);
        }
        let text = Bytes::from_static(b"internal server error\n");
        let mut head = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR);
        head.headers
            .append("Content-Type", "text/plain; charset=utf-8")
            .map_err(|_| refused.clone())?;
        self.must_close = true;
        self.send_response(now, head, BodyLength::Known(text.len() as u64))?;
        self.send_data(text)?;
        self.send_end(now, None)?;
        Ok(false)
    }

    /// Refuses a connection before reading from it (a server over its
    /// connection limit): queues a bodiless `status` answer with
    /// `Connection: close` (and `Retry-After: 1` for 503, and `Date` once
    /// [`set_date`](Self::set_date) was called), and closes.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{ServerConfig, ServerConnection, StatusCode};
    /// let mut conn = ServerConnection::new(ServerConfig::default(), Instant::now());
    /// conn.refuse(StatusCode::SERVICE_UNAVAILABLE);
    /// assert!(conn.poll_transmit().unwrap().starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
    /// assert!(conn.is_closed());
    /// ```
    pub fn refuse(&mut self, status: StatusCode) {
        if self.closed {
            return;
        }
        let retry = if status == StatusCode::SERVICE_UNAVAILABLE {
            "Retry-After: 1\r\n"
        } else {
            ""
        };
        let date = match &self.date {
            Some(d) => format!("Date: {}\r\n", d.to_str().unwrap_or("")),
            None => String::new(),
        };
        self.transmit.push(Bytes::from(format!(
            "HTTP/1.1 {} {}\r\nContent-Length: 0\r\nConnection: close\r\n{retry}{date}\r\n",
            status.as_u16(),
            status.reason().unwrap_or("Error"),
        )));
        self.close_now();
    }

    /// Sends a piece of the response body (zero-copy: the `Bytes` is queued
    /// as is). Dropped for responses that have no body (HEAD, 204, 304).
    pub fn send_data(&mut self, data: Bytes) -> Result<(), UsageError> {
        if self.bodyless_done {
            return Ok(());
        }
        self.check_open()?;
        let Resp::Sending(enc) = &mut self.resp else {
            return Err(UsageError::NoBodyInProgress);
        };
        enc.encode(data, &mut self.transmit)
    }

    /// Ends the response body, with trailer fields for a chunked body. A
    /// Content-Length body that is short is an error and the connection
    /// closes (the client would otherwise wait for the missing bytes).
    pub fn send_end(
        &mut self,
        now: Instant,
        trailers: Option<HeaderMap>,
    ) -> Result<(), UsageError> {
        if self.bodyless_done {
            self.bodyless_done = false;
            return Ok(());
        }
        if self.closed || self.switched {
            return Err(UsageError::Closed);
        }
        let Resp::Sending(enc) = self.resp else {
            return Err(UsageError::NoBodyInProgress);
        };
        if let Err(e) = enc.finish(trailers, &mut self.transmit) {
            self.must_close = true;
            self.resp = Resp::Idle;
            self.close_now();
            return Err(e);
        }
        self.finish_response(now);
        Ok(())
    }

    fn finish_response(&mut self, now: Instant) {
        self.resp = Resp::Idle;
        self.current = None;
        self.served = true;
        match std::mem::replace(&mut self.read, Read::Head) {
            Read::Done | Read::Head => {}
            Read::Body(d) => {
                // The application answered without reading the whole body:
                // drop the rest, unless it is too much to bother.
                if d.remaining().is_some_and(|r| r > 1 << 20) {
                    self.must_close = true;
                } else {
                    self.read = Read::Discard(d);
                }
            }
            Read::WaitContinue(_) | Read::Discard(_) | Read::Stopped => self.must_close = true,
        }
        if self.must_close || self.peer_eof {
            self.close_now();
            return;
        }
        self.scanned = 0;
        self.last_newline = None;
        self.partial_head = false;
        self.timer = match self.read {
            Read::Discard(_) => Some((now + self.config.body_timeout, Timer::Body)),
            _ => Some((now + self.config.idle_timeout, Timer::Idle)),
        };
    }

    fn close_now(&mut self) {
        self.closed = true;
        self.read = Read::Stopped;
        self.timer = None;
    }

    /// Records a fatal error: reports it, answers with its status if no
    /// response has started, and closes.
    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        self.events.push_back(ServerEvent::Error(e.clone()));
        self.read = Read::Stopped;
        self.timer = None;
        match self.resp {
            Resp::Idle | Resp::Awaiting => {
                if let Some(status) = e.status() {
                    self.transmit
                        .push(error_response(status, self.date.as_ref()));
                }
                self.resp = Resp::Idle;
                self.closed = true;
            }
            // A response is under way: let it finish, then close.
            Resp::Sending(_) => self.must_close = true,
        }
        e
    }

    fn on_head(&mut self, now: Instant, head: RequestHead) -> Result<(), Error> {
        let framing = framing::request_framing(&head)?;
        let expect = framing::expectation(&head)?;
        let decoder = BodyDecoder::new(framing, &self.config.body, &self.config.head)?;
        let is_connect = head.method == Method::CONNECT;
        let wants_upgrade =
            is_connect || (head.version == Version::Http11 && framing::wants_upgrade(&head));
        let expects_continue = expect == Expectation::Continue && framing != Framing::Empty;
        self.current = Some(Current {
            method: head.method.clone(),
            version: head.version,
            keep_alive: framing::wants_keep_alive(head.version, &head.headers),
            wants_upgrade,
        });
        self.resp = Resp::Awaiting;
        self.partial_head = false;
        self.events.push_back(ServerEvent::Request(Request {
            head,
            framing,
            expects_continue,
            wants_upgrade,
        }));
        if framing == Framing::Empty {
            self.events.push_back(ServerEvent::End(HeaderMap::new()));
            self.read = Read::Done;
            self.timer = None;
        } else if expects_continue {
            self.read = Read::WaitContinue(decoder);
            self.timer = None;
        } else {
            self.read = Read::Body(decoder);
            self.timer = Some((now + self.config.body_timeout, Timer::Body));
        }
        Ok(())
    }

    fn read_head(&mut self, now: Instant, input: &mut BytesMut) -> Result<bool, Error> {
        if input.is_empty() {
            return Ok(false);
        }
        if !self.partial_head {
            self.partial_head = true;
            self.timer = Some((now + self.config.head_timeout, Timer::Head));
        }
        // Parse the whole head only when a line may have completed; between
        // line endings only the unfinished line is new, and it alone is
        // checked (fail fast, at the cost of that one line).
        let from = self.scanned.min(input.len());
        let new_nl = memchr::memrchr(b'\n', &input[from..]).map(|p| from + p);
        self.scanned = input.len();
        match new_nl {
            Some(p) => self.last_newline = Some(p),
            None => {
                check_unfinished(
                    input,
                    &self.config.head,
                    &mut self.raw,
                    self.last_newline,
                    false,
                )?;
                return Ok(false);
            }
        }
        match parse_request(input, &self.config.head, &mut self.raw)? {
            Status::Partial => Ok(false),
            Status::Complete(r) => {
                let bytes = input.split_to(r.head_len).freeze();
                let head = request_head(bytes, &r, &self.raw, &self.config.head)?;
                self.on_head(now, head)?;
                Ok(true)
            }
        }
    }

    /// Runs the body decoder; returns whether progress was made.
    fn read_body(&mut self, now: Instant, input: &mut BytesMut, emit: bool) -> Result<bool, Error> {
        let dec = match &mut self.read {
            Read::Body(d) | Read::Discard(d) => d,
            _ => return Ok(false),
        };
        let events = &mut self.events;
        let (progressed, ended) = dec.decode_available(input, |b| {
            if emit {
                events.push_back(ServerEvent::Data(b));
            }
        })?;
        if let Some(trailers) = ended {
            if emit {
                self.events.push_back(ServerEvent::End(trailers));
                self.read = Read::Done;
                self.timer = None;
            } else {
                // Discarded body done: back to reading heads.
                self.read = Read::Head;
                self.timer = Some((now + self.config.idle_timeout, Timer::Idle));
            }
            return Ok(true);
        }
        if progressed {
            self.timer = Some((now + self.config.body_timeout, Timer::Body));
        }
        Ok(progressed)
    }

    fn step(&mut self, now: Instant, input: &mut BytesMut) -> Result<(), Error> {
        loop {
            let progressed = match self.read {
                Read::Head if self.resp == Resp::Idle => self.read_head(now, input)?,
                Read::Body(_) => self.read_body(now, input, true)?,
                Read::Discard(_) => self.read_body(now, input, false)?,
                _ => false,
            };
            if !progressed {
                break;
            }
        }
        Ok(())
    }
}

/// A complete error response with `Connection: close` (and `Date`, when the
/// adapter gave one).
fn error_response(status: StatusCode, date: Option<&HeaderValue>) -> Bytes {
    let reason = status.reason().unwrap_or("Error");
    let body = format!("{} {}\n", status.as_u16(), reason);
    let mut out = BytesMut::with_capacity(160);
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            status.as_u16(),
            reason,
            body.len(),
        )
        .as_bytes(),
    );
    if let Some(date) = date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out.freeze()
}

impl Dialogue for ServerConnection {
    type Event = ServerEvent;
    type Error = Error;

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.closed || self.switched {
            return Ok(());
        }
        match self.step(now, input) {
            Ok(()) => {
                if self.peer_eof && matches!(self.read, Read::Head) && self.resp == Resp::Idle {
                    // Leftover pipelined bytes after EOF that do not form a request.
                    self.on_eof_in_head();
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.peer_eof || self.closed || self.switched {
            self.peer_eof = true;
            return;
        }
        self.peer_eof = true;
        match self.read {
            Read::Head if self.resp == Resp::Idle => self.on_eof_in_head(),
            Read::Head | Read::Done => {
                // A response is under way or due: finish it, then close.
                self.must_close = true;
            }
            Read::Body(_) | Read::WaitContinue(_) => {
                let e = Error::new(ErrorKind::IncompleteMessage);
                self.error = Some(e.clone());
                self.events.push_back(ServerEvent::Error(e));
                self.read = Read::Stopped;
                self.timer = None;
                if self.resp == Resp::Awaiting {
                    self.resp = Resp::Idle;
                    self.closed = true;
                } else {
                    self.must_close = true;
                }
            }
            Read::Discard(_) | Read::Stopped => self.close_now(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some((at, kind)) = self.timer else {
            return;
        };
        if now < at || self.closed {
            return;
        }
        match kind {
            Timer::Idle => self.close_now(),
            Timer::Head => {
                self.fail(Error::new(ErrorKind::HeadTimeout));
            }
            Timer::Body => {
                if matches!(self.read, Read::Discard(_)) {
                    self.close_now();
                } else {
                    self.fail(Error::new(ErrorKind::BodyTimeout));
                }
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop()
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer.map(|(at, _)| at)
    }

    fn is_closed(&self) -> bool {
        self.closed
    }
}

impl ServerConnection {
    fn on_eof_in_head(&mut self) {
        if self.partial_head {
            let e = Error::new(ErrorKind::IncompleteMessage);
            self.error = Some(e.clone());
            self.events.push_back(ServerEvent::Error(e));
        }
        self.close_now();
    }
}
