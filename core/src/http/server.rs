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
use super::close::{self, CloseReason, Life, Timeout};
use super::error::{Error, ErrorKind, UsageError};
use super::framing::{self, Expectation, Framing, Outgoing};
use super::head_reader::HeadReader;
use super::header::{HeaderMap, HeaderValue};
use super::message::{RequestHead, ResponseHead};
use super::outbox::Outbox;
use super::parse::{parse_request, request_head, ParseConfig};
use super::serialize::{write_response_head, write_response_head_dated, Extra};
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

pub use super::framing::BodyLength;

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
    /// The client's reason to close after this exchange, if any.
    close: Option<CloseReason>,
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
/// conn.handle_input(now, &mut input);
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
    /// Open, closing after the current response, closed (nothing more is
    /// sent once transmit is drained) or switched, with the reason. A
    /// protocol error is sticky: it closes (or closes after the response
    /// under way) and stops reading.
    life: Life,
    /// Set once the peer has closed its sending side.
    peer_eof: bool,
    /// The last response had no body and is complete: `send_data` drops
    /// data and `send_end` is a no-op until the next response.
    bodyless_done: bool,
    /// At least one response was completed: between requests, the
    /// connection is an idle keep-alive one.
    served: bool,
    /// The next request head, as far as it arrived (for the head timer
    /// and EOF too).
    head: HeadReader,
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
            head: HeadReader::new(config.head.max_headers),
            config,
            read: Read::Head,
            resp: Resp::Idle,
            current: None,
            life: Life::Open,
            peer_eof: false,
            bodyless_done: false,
            served: false,
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
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..]));
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
    /// conn.handle_input(now, &mut input);
    /// conn.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown).unwrap();
    /// assert!(!conn.is_sending_body()); // HEAD: nothing to stream
    /// conn.send_end(now, None).unwrap();
    /// conn.handle_input(now, &mut input);
    /// conn.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown).unwrap();
    /// assert!(conn.is_sending_body()); // GET: chunked body under way
    /// ```
    pub fn is_sending_body(&self) -> bool {
        matches!(self.resp, Resp::Sending(_)) && !self.life.is_over()
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether a request is partly received (head or body): EOF now would
    /// cut it.
    pub fn is_message_in_progress(&self) -> bool {
        match self.read {
            Read::Head => self.head.is_started(),
            Read::Body(_) | Read::WaitContinue(_) => true,
            _ => false,
        }
    }

    /// Whether the connection has left HTTP (after a 101 or a 2xx to CONNECT).
    pub fn is_switched(&self) -> bool {
        self.life.is_switched()
    }

    /// Why the connection closes, once it decided to: after a response
    /// that ends it (`Connection: close` either way, HTTP/1.0, keep-alive
    /// off, a close-delimited or unread body), a graceful shutdown, the
    /// peer's EOF, a timer, a protocol error, an upgrade. `None` while it
    /// stays open for another request.
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::Dialogue;
    /// use wireloom_core::http::{BodyLength, CloseReason, ErrorKind, ResponseHead, ServerConfig,
    ///     ServerConnection, StatusCode};
    /// let now = Instant::now();
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]));
    /// conn.send_response(now, ResponseHead::new(StatusCode::NO_CONTENT), BodyLength::Known(0)).unwrap();
    /// assert_eq!(conn.close_reason(), None);
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.0\r\n\r\n"[..]));
    /// conn.send_response(now, ResponseHead::new(StatusCode::NO_CONTENT), BodyLength::Known(0)).unwrap();
    /// assert_eq!(conn.close_reason(), Some(CloseReason::Http10));
    /// assert!(conn.is_closed());
    ///
    /// let mut conn = ServerConnection::new(ServerConfig::default(), now);
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\n\r\n"[..]));
    /// assert_eq!(conn.close_reason(), Some(CloseReason::ProtocolError(ErrorKind::InvalidHost)));
    /// ```
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.life.reason()
    }

    /// Whether a request waits for its response head.
    pub fn is_awaiting_response(&self) -> bool {
        self.resp == Resp::Awaiting
    }

    /// Closes the connection once the current response (if any) is sent, as
    /// for a graceful shutdown: the response carries `Connection: close`.
    /// An idle connection closes at once.
    pub fn close_after_response(&mut self) {
        self.life.close_after(CloseReason::Shutdown);
        if self.resp == Resp::Idle && matches!(self.read, Read::Head) && !self.head.is_started() {
            self.close_now(CloseReason::Shutdown);
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
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]));
    /// conn.send_response(now, ResponseHead::new(StatusCode::NO_CONTENT), BodyLength::Known(0)).unwrap();
    /// assert!(conn.close_if_idle());
    /// assert!(conn.is_closed());
    /// ```
    pub fn close_if_idle(&mut self) -> bool {
        let idle = self.served
            && !self.life.is_over()
            && self.resp == Resp::Idle
            && matches!(self.read, Read::Head)
            && !self.head.is_started();
        if idle {
            self.close_now(CloseReason::Reclaimed);
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
        if self.life.is_over() {
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
    /// HEAD, 204 and 304 responses are not written. (The framing rules,
    /// shared with the client connection: [`framing::outgoing`].)
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
        // The connection's Date, unless the head has one: written after
        // the head's fields, not added to them.
        let dated = self.date.is_some() && !head.headers.contains("date");
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
        let (enc, mut extra) = if tunnel {
            (Enc::Discard, Extra::default())
        } else {
            let msg = Outgoing::Response {
                status: head.status,
                method: &cur.method,
                peer: cur.version,
            };
            framing::outgoing(msg, &mut head.headers, body)?
        };
        if !tunnel {
            let asked_close = head.headers.contains_token("connection", "close");
            let reason = if !self.config.keep_alive {
                Some(CloseReason::KeepAliveOff)
            } else if cur.close.is_some() {
                cur.close
            } else if self.peer_eof {
                Some(CloseReason::PeerEof)
            } else if asked_close {
                Some(CloseReason::ServerAskedClose)
            } else if enc == Enc::Close {
                Some(CloseReason::CloseDelimited)
            } else if matches!(self.read, Read::WaitContinue(_)) {
                Some(CloseReason::UnreadBody)
            } else {
                None
            };
            if let Some(r) = reason {
                self.life.close_after(r);
            }
            if !self.life.is_open() {
                if !asked_close {
                    extra.connection = Some(b"close");
                }
            } else if cur.version == Version::Http10
                && !head.headers.contains_token("connection", "keep-alive")
            {
                extra.connection = Some(b"keep-alive");
            }
        }
        let date = self
            .date
            .as_ref()
            .filter(|_| dated)
            .map(HeaderValue::as_bytes);
        write_response_head_dated(self.transmit.buf_mut(), &head, date, &extra);
        if tunnel {
            self.life = Life::Switched;
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
    /// conn.handle_input(now, &mut BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]));
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
        if self.life.is_over() || self.resp != Resp::Awaiting {
            return Err(refused);
        }
        let text = Bytes::from_static(b"internal server error\n");
        let mut head = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR);
        head.headers
            .append("Content-Type", "text/plain; charset=utf-8")
            .map_err(|_| refused.clone())?;
        self.life.fail(CloseReason::LocalError, false);
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
        if self.life.is_over() {
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
        self.close_now(CloseReason::Refused(status));
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
        self.check_open()?;
        let Resp::Sending(enc) = self.resp else {
            return Err(UsageError::NoBodyInProgress);
        };
        if let Err(e) = enc.finish(trailers, &mut self.transmit) {
            // The client would wait for the missing bytes.
            self.resp = Resp::Idle;
            self.life.fail(CloseReason::LocalError, true);
            self.close_now(CloseReason::LocalError);
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
                    self.life.close_after(CloseReason::UnreadBody);
                } else {
                    self.read = Read::Discard(d);
                }
            }
            // (Stopped: the reason, an error or the peer's EOF, is recorded.)
            Read::WaitContinue(_) | Read::Discard(_) | Read::Stopped => {
                self.life.close_after(CloseReason::UnreadBody)
            }
        }
        if !self.life.is_open() || self.peer_eof {
            self.close_now(CloseReason::PeerEof);
            return;
        }
        self.timer = match self.read {
            Read::Discard(_) => Some((now + self.config.body_timeout, Timer::Body)),
            _ => Some((now + self.config.idle_timeout, Timer::Idle)),
        };
    }

    /// Closes now: with the reason recorded before, if any, else `reason`.
    fn close_now(&mut self, reason: CloseReason) {
        self.life.close(reason);
        self.read = Read::Stopped;
        self.timer = None;
    }

    /// Records a fatal error: reports it (the one channel: an event),
    /// answers with its status if no response has started, and closes. It
    /// is sticky: nothing more is read.
    fn fail(&mut self, e: Error) {
        self.read = Read::Stopped;
        self.timer = None;
        match self.resp {
            Resp::Idle | Resp::Awaiting => {
                if let Some(status) = e.status() {
                    self.transmit
                        .push(error_response(status, self.date.as_ref()));
                }
                self.resp = Resp::Idle;
                self.life.error(&e, true);
            }
            // A response is under way: let it finish, then close.
            Resp::Sending(_) => self.life.error(&e, false),
        }
        self.events.push_back(ServerEvent::Error(e));
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
            close: close::peer_close(head.version, &head.headers, CloseReason::ClientAskedClose),
            wants_upgrade,
        });
        self.resp = Resp::Awaiting;
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
        if self.head.start() {
            self.timer = Some((now + self.config.head_timeout, Timer::Head));
        }
        let read = self
            .head
            .read(input, &self.config.head, false, parse_request)?;
        let Some((bytes, r)) = read else {
            return Ok(false);
        };
        let head = request_head(bytes, &r, &self.head.raw, &self.config.head)?;
        self.on_head(now, head)?;
        Ok(true)
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

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) {
        // Closed, switched, or failed (sticky: a protocol error stops reading).
        if self.life.is_over() || matches!(self.read, Read::Stopped) {
            return;
        }
        match self.step(now, input) {
            Ok(()) => {
                if self.peer_eof && matches!(self.read, Read::Head) && self.resp == Resp::Idle {
                    // Leftover pipelined bytes after EOF that do not form a request.
                    self.on_eof_in_head();
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.peer_eof || self.life.is_over() {
            self.peer_eof = true;
            return;
        }
        self.peer_eof = true;
        match self.read {
            Read::Head if self.resp == Resp::Idle => self.on_eof_in_head(),
            Read::Head | Read::Done => {
                // A response is under way or due: finish it, then close.
                self.life.close_after(CloseReason::PeerEof);
            }
            // Cut mid-body: nothing to answer (the peer is gone), so a
            // response not started yet is never sent.
            Read::Body(_) | Read::WaitContinue(_) => {
                self.fail(Error::new(ErrorKind::IncompleteMessage))
            }
            Read::Discard(_) | Read::Stopped => self.close_now(CloseReason::PeerEof),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some((at, kind)) = self.timer else {
            return;
        };
        if now < at || self.life.is_closed() {
            return;
        }
        match kind {
            Timer::Idle => self.close_now(CloseReason::Timeout(Timeout::Idle)),
            Timer::Head => {
                self.fail(Error::new(ErrorKind::HeadTimeout));
            }
            Timer::Body => {
                if matches!(self.read, Read::Discard(_)) {
                    self.close_now(CloseReason::Timeout(Timeout::Body));
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

    /// False while a response is under way for a fully read request
    /// (pipelined bytes wait in the buffer), while a body waits for
    /// [`accept_body`](ServerConnection::accept_body), after an upgrade,
    /// and once closed.
    fn wants_input(&self) -> bool {
        !self.life.is_over()
            && !matches!(
                self.read,
                Read::Done | Read::Stopped | Read::WaitContinue(_)
            )
    }

    fn is_closed(&self) -> bool {
        self.life.is_closed()
    }
}

impl ServerConnection {
    fn on_eof_in_head(&mut self) {
        if self.head.is_started() {
            self.fail(Error::new(ErrorKind::IncompleteMessage));
        } else {
            self.close_now(CloseReason::PeerEof);
        }
    }
}
