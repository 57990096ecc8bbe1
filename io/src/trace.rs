//! [`tracing`] instrumentation shared by every adapter: the spans and
//! events and their fields are written here once; the blocking server and
//! clients and the async engine ([`aio`](crate::aio)) call these helpers at
//! the points where things happen.
//!
//! Nothing is logged unless the application installs a `tracing`
//! subscriber. Every helper first asks [`tracing::enabled!`] (a static
//! check while no subscriber is installed), so the hot path pays no
//! formatting, clock read or allocation when nobody listens.
//!
//! Targets and levels (filter them with `RUST_LOG`, for example
//! `RUST_LOG=wireloom=debug` with `tracing-subscriber`'s `EnvFilter`):
//!
//! | target             | level | what                                                        |
//! |--------------------|-------|-------------------------------------------------------------|
//! | `wireloom::conn`   | DEBUG | connection accepted (peer, TLS, SNI), refused, closed (reason)|
//! | `wireloom::conn`   | DEBUG | protocol errors (kind, status) and timeouts (typed)          |
//! | `wireloom::tls`    | DEBUG | a TLS handshake that failed or timed out                     |
//! | `wireloom::request`| INFO  | span `request` around each handler (method, path), and one  |
//! |                    |       | event when its response is written (status, bytes, duration) |
//! | `wireloom::client` | DEBUG | each HTTP client exchange (method, URL, status or error)     |
//! | `wireloom::smtp`   | DEBUG | each SMTP reply: the command's verb and the reply code       |
//!
//! The SMTP events carry the command verb and the reply code only: never
//! the reply text, AUTH payloads, credentials or message data.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{Level, Span};
use wireloom_core::http::{BodyLength, CloseReason, ErrorKind, RequestHead, StatusCode};
use wireloom_core::smtp::client::Stage;

/// The target of connection events.
pub const CONN: &str = "wireloom::conn";
/// The target of TLS handshake failures.
pub const TLS: &str = "wireloom::tls";
/// The target of the server's request spans and events.
pub const REQUEST: &str = "wireloom::request";
/// The target of the HTTP clients' events.
pub const CLIENT: &str = "wireloom::client";
/// The target of the SMTP clients' events.
pub const SMTP: &str = "wireloom::smtp";

/// A peer address as a field (`-` when unknown).
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => a.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A server accepted a connection from `peer` (after the TLS handshake
/// when `tls`; `sni`: the server name the client asked for).
#[inline]
pub fn conn_accepted(peer: Option<SocketAddr>, tls: bool, sni: Option<&str>) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        tracing::debug!(
            target: CONN,
            peer = %Peer(peer),
            tls,
            sni = sni.unwrap_or("-"),
            "connection accepted"
        );
    }
}

/// A server refused the connection from `peer` (over its connection
/// limit: answered 503 and closed).
#[inline]
pub fn conn_refused(peer: Option<SocketAddr>) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        tracing::debug!(target: CONN, peer = %Peer(peer), "connection refused (over the limit)");
    }
}

/// A server connection from `peer` ended, for `reason` (core's
/// [`CloseReason`]; `None`: the transport failed or the peer went away
/// without a protocol close). A timer that ran out is reported as a
/// [`timeout`] event as well.
#[inline]
pub fn conn_closed(peer: Option<SocketAddr>, reason: Option<CloseReason>) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        if let Some(CloseReason::Timeout(t)) = reason {
            timeout(peer, &t);
        }
        // No reason from core: the transport failed or the peer went away.
        let reason: &dyn fmt::Debug = match &reason {
            Some(r) => r,
            None => &"Transport",
        };
        tracing::debug!(target: CONN, peer = %Peer(peer), ?reason, "connection closed");
    }
}

/// The peer `peer` broke the protocol or a limit (core's error `kind`, and
/// the status it was answered with). A timeout kind is left to
/// [`conn_closed`], which reports it typed.
#[inline]
pub fn protocol_error(peer: Option<SocketAddr>, kind: ErrorKind) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        if matches!(CloseReason::of_error(kind), CloseReason::Timeout(_)) {
            return;
        }
        tracing::debug!(
            target: CONN,
            peer = %Peer(peer),
            kind = %kind,
            status = kind.status().map_or(0, |s| s.as_u16()),
            "protocol error"
        );
    }
}

/// A timer ran out on a connection from `peer`: `what` names it (core's
/// `Timeout` for its timers, or an adapter's `"write"`).
#[inline]
pub fn timeout(peer: Option<SocketAddr>, what: &dyn fmt::Debug) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        tracing::debug!(target: CONN, peer = %Peer(peer), timeout = ?what, "timeout");
    }
}

/// Reading from or writing to `peer` failed (`error`): a timeout (only
/// writes have one) is reported
/// as a typed [`timeout`] (`"write"`).
#[inline]
pub fn transport_failed(peer: Option<SocketAddr>, error: &std::io::Error) {
    if tracing::enabled!(target: CONN, Level::DEBUG) {
        match error.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                timeout(peer, &"write");
            }
            _ => tracing::debug!(target: CONN, peer = %Peer(peer), %error, "transport error"),
        }
    }
}

/// A TLS handshake with `peer` failed (or timed out: `error` says which).
#[inline]
pub fn tls_failed(peer: Option<SocketAddr>, error: &dyn fmt::Display) {
    if tracing::enabled!(target: TLS, Level::DEBUG) {
        tracing::debug!(target: TLS, peer = %Peer(peer), %error, "TLS handshake failed");
    }
}

/// One request's trace: the span its handler runs in, and what the event
/// at its end reports. Built only while a subscriber wants
/// [`REQUEST`] events ([`RequestTrace::start`] is `None` otherwise), so a
/// server without logging never builds one; boxed, so that a connection's
/// future (held by every idle keep-alive connection) grows by one pointer.
#[derive(Debug)]
pub struct RequestTrace {
    span: Span,
    started: Instant,
    status: Option<StatusCode>,
    body: Option<BodyLength>,
}

impl RequestTrace {
    /// The trace of the request `head` from `peer`, or `None` when nobody
    /// listens. Enter [`span`](RequestTrace::span) around the handler (an
    /// async one: `Instrument`), call [`respond`](RequestTrace::respond)
    /// with its answer, then [`finish`](RequestTrace::finish) once the
    /// response is written.
    #[inline]
    pub fn start(head: &RequestHead, peer: Option<SocketAddr>) -> Option<Box<RequestTrace>> {
        if !tracing::enabled!(target: REQUEST, Level::INFO) {
            return None;
        }
        Some(Box::new(Self::new(head, peer)))
    }

    #[cold]
    fn new(head: &RequestHead, peer: Option<SocketAddr>) -> RequestTrace {
        let span = tracing::info_span!(
            target: REQUEST,
            "request",
            method = %head.method,
            path = head.target.path(),
            peer = %Peer(peer),
        );
        RequestTrace {
            span,
            started: Instant::now(),
            status: None,
            body: None,
        }
    }

    /// The span the handler runs in.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The handler answered `status` with a body of `body`
    /// (`BodyLength::Unknown` for a stream).
    pub fn respond(&mut self, status: StatusCode, body: BodyLength) {
        self.status = Some(status);
        self.body = Some(body);
    }

    /// The response went out: one event in the request's span with the
    /// status and body length given to [`respond`](RequestTrace::respond)
    /// (`bytes=-` for a stream) and the time since
    /// [`start`](RequestTrace::start).
    pub fn finish(&self) {
        let duration: Duration = self.started.elapsed();
        let _entered = self.span.enter();
        let status = self.status.map_or(0, |s| s.as_u16());
        match self.body {
            Some(BodyLength::Known(bytes)) => tracing::info!(
                target: REQUEST,
                status,
                bytes,
                ?duration,
                "response"
            ),
            _ => tracing::info!(
                target: REQUEST,
                status,
                bytes = "-",
                ?duration,
                "response"
            ),
        }
    }
}

/// An HTTP client exchange started at `started` with `method` to `url`
/// ended: `Ok(status)` (the response head is in) or `Err(error)`.
#[inline]
pub fn client_exchange(
    method: &dyn fmt::Display,
    url: &str,
    started: Option<Instant>,
    outcome: Result<StatusCode, &dyn fmt::Display>,
) {
    if tracing::enabled!(target: CLIENT, Level::DEBUG) {
        let duration = started.map(|s| s.elapsed()).unwrap_or_default();
        match outcome {
            Ok(status) => tracing::debug!(
                target: CLIENT,
                %method,
                url,
                status = status.as_u16(),
                ?duration,
                "response"
            ),
            Err(error) => tracing::debug!(
                target: CLIENT,
                %method,
                url,
                %error,
                ?duration,
                "request failed"
            ),
        }
    }
}

/// `Some(now)` when client events are wanted (the start of an exchange to
/// time), `None` otherwise (no clock read).
#[inline]
pub fn client_started() -> Option<Instant> {
    tracing::enabled!(target: CLIENT, Level::DEBUG).then(Instant::now)
}

/// Whether SMTP reply events are wanted (to turn on core's reply record,
/// [`Client::record_replies`](wireloom_core::smtp::client::Client::record_replies)).
#[inline]
pub fn smtp_enabled() -> bool {
    tracing::enabled!(target: SMTP, Level::DEBUG)
}

/// The verb of the command a reply at `stage` answers (`220` for the
/// greeting, `.` for the end of DATA).
pub fn smtp_verb(stage: Stage) -> &'static str {
    match stage {
        Stage::Greeting => "(greeting)",
        Stage::Hello => "EHLO",
        Stage::StartTls => "STARTTLS",
        Stage::Auth => "AUTH",
        Stage::Mail => "MAIL",
        Stage::Rcpt => "RCPT",
        Stage::Data => "DATA",
        Stage::DataEnd => ".",
        Stage::Bdat => "BDAT",
        Stage::Rset => "RSET",
        Stage::Noop => "NOOP",
        Stage::Quit => "QUIT",
        _ => "?",
    }
}

/// The server answered the command at `stage` with `code`.
#[inline]
pub fn smtp_reply(stage: Stage, code: u16) {
    tracing::debug!(target: SMTP, command = smtp_verb(stage), code, "reply");
}
