//! Why a connection closes, and the lifecycle both connections share.
//!
//! ```text
//!   Open ──(a reason to close after this exchange)──► Closing(reason)
//!    │                                                   │ exchange done
//!    │ (a reason to close at once)                       ▼
//!    └──────────────────────────────────────────────► Closed(reason)
//!   Open / Closing ──(101, 2xx to CONNECT)──► Switched (the transport leaves HTTP)
//! ```
//!
//! The first reason recorded is the one reported ([`CloseReason`]), except
//! that an error (or a timer that ends the connection) overrides a polite
//! reason: it is what actually ended the connection.

use super::error::Error;
use super::header::HeaderMap;
use super::{ErrorKind, StatusCode, Version};

/// Why a connection closes (or closed): what
/// [`ServerConnection::close_reason`](super::ServerConnection::close_reason)
/// and [`ClientConnection::close_reason`](super::ClientConnection::close_reason)
/// report once the connection decided not to carry another exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Keep-alive is off in the server's settings.
    KeepAliveOff,
    /// The client asked for it (`Connection: close` on its request).
    ClientAskedClose,
    /// The server asked for it (`Connection: close` on its response).
    ServerAskedClose,
    /// The peer speaks HTTP/1.0 without `Connection: keep-alive`.
    Http10,
    /// The body is delimited by the end of the connection (a response
    /// without a length; a streamed response to an HTTP/1.0 client).
    CloseDelimited,
    /// The server answered without reading the request body (a large one,
    /// or one that waited for `100 Continue`), so the next request cannot
    /// be found in the stream.
    UnreadBody,
    /// The server gave its final answer before `100 Continue`: the request
    /// body was never sent, so the stream cannot carry another request.
    Not100Continue,
    /// The peer closed its sending side.
    PeerEof,
    /// The connection switched protocols (101, or a 2xx to CONNECT): the
    /// transport is no longer HTTP.
    Upgraded,
    /// The application asked for it
    /// ([`close_after_response`](super::ServerConnection::close_after_response),
    /// as in a graceful shutdown).
    Shutdown,
    /// An idle keep-alive connection was closed to make room
    /// ([`close_if_idle`](super::ServerConnection::close_if_idle)).
    Reclaimed,
    /// The connection was refused before it was read from
    /// ([`refuse`](super::ServerConnection::refuse)) with this status.
    Refused(StatusCode),
    /// A timer ran out.
    Timeout(Timeout),
    /// The peer broke the protocol, exceeded a limit, or closed in the
    /// middle of a message (the kind of the error that was reported).
    ProtocolError(ErrorKind),
    /// The application's own message could not be sent whole (a response
    /// head core refused and answered with 500 in its place, a body shorter
    /// than its `Content-Length`).
    LocalError,
}

/// Which timer ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// An idle keep-alive connection waited too long for the next request.
    Idle,
    /// A request head did not arrive in time (408).
    Head,
    /// A body stalled (408 when the server was reading it).
    Body,
    /// A response did not start in time.
    Response,
}

impl CloseReason {
    /// The reason for a connection that reported `kind`: its timers as
    /// [`CloseReason::Timeout`], the rest as [`CloseReason::ProtocolError`].
    pub fn of_error(kind: ErrorKind) -> CloseReason {
        match kind {
            ErrorKind::HeadTimeout => CloseReason::Timeout(Timeout::Head),
            ErrorKind::BodyTimeout => CloseReason::Timeout(Timeout::Body),
            ErrorKind::ResponseTimeout => CloseReason::Timeout(Timeout::Response),
            kind => CloseReason::ProtocolError(kind),
        }
    }

    /// Whether the connection ended on an error (a protocol error or a
    /// timer that reported one), rather than by agreement or by a side
    /// simply going away.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            CloseReason::ProtocolError(_)
                | CloseReason::LocalError
                | CloseReason::Timeout(Timeout::Head | Timeout::Body | Timeout::Response)
        )
    }
}

/// Where a connection is in its life (shared by the server and the client
/// connection; see the module's drawing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// More exchanges may follow.
    Open,
    /// No new exchange; closes once the ones under way are done.
    Closing(CloseReason),
    /// Nothing more is sent once the transmit queue is drained.
    Closed(CloseReason),
    /// The transport left HTTP.
    Switched,
}

impl Life {
    /// The reason, once the connection decided to close.
    pub(crate) fn reason(self) -> Option<CloseReason> {
        match self {
            Life::Open => None,
            Life::Closing(r) | Life::Closed(r) => Some(r),
            Life::Switched => Some(CloseReason::Upgraded),
        }
    }

    pub(crate) fn is_open(self) -> bool {
        self == Life::Open
    }

    pub(crate) fn is_closed(self) -> bool {
        matches!(self, Life::Closed(_))
    }

    pub(crate) fn is_switched(self) -> bool {
        self == Life::Switched
    }

    /// Closed or switched: nothing more is sent as HTTP.
    pub(crate) fn is_over(self) -> bool {
        matches!(self, Life::Closed(_) | Life::Switched)
    }

    /// Decides to close after the exchanges under way; the first reason
    /// stays.
    pub(crate) fn close_after(&mut self, reason: CloseReason) {
        if *self == Life::Open {
            *self = Life::Closing(reason);
        }
    }

    /// Closes now, with the reason recorded before (if any) or `reason`.
    pub(crate) fn close(&mut self, reason: CloseReason) {
        *self = match *self {
            Life::Open => Life::Closed(reason),
            Life::Closing(first) => Life::Closed(first),
            other => other,
        };
    }

    /// Closes now if closing was decided before (the exchanges under way
    /// are done).
    pub(crate) fn finish(&mut self) {
        if let Life::Closing(r) = *self {
            *self = Life::Closed(r);
        }
    }

    /// A protocol error the connection reported (sticky): it becomes the
    /// reason ([`CloseReason::of_error`]); `now` closes at once, otherwise
    /// after the exchange under way.
    pub(crate) fn error(&mut self, e: &Error, now: bool) {
        self.fail(CloseReason::of_error(e.kind()), now);
    }

    /// An error: it becomes the reason. `now` closes at once; otherwise
    /// after the exchange under way.
    pub(crate) fn fail(&mut self, reason: CloseReason, now: bool) {
        if self.is_over() {
            return;
        }
        *self = if now {
            Life::Closed(reason)
        } else {
            Life::Closing(reason)
        };
    }
}

/// The reason a message's sender gives for closing after it, if any
/// (RFC 9112 §9.3): `Connection: close` (`asked`: the client's or the
/// server's), or HTTP/1.0 without `Connection: keep-alive`.
pub(crate) fn peer_close(
    version: Version,
    headers: &HeaderMap,
    asked: CloseReason,
) -> Option<CloseReason> {
    if headers.contains_token("connection", "close") {
        Some(asked)
    } else if version == Version::Http10 && !headers.contains_token("connection", "keep-alive") {
        Some(CloseReason::Http10)
    } else {
        None
    }
}
