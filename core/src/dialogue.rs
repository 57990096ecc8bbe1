//! The one shape shared by every protocol dialogue in wireloom-core.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

/// The handle/poll contract shared by the HTTP server and client connections,
/// the SMTP client and server dialogues and the WebSocket connection
/// ([`ws::WebSocket`](crate::ws::WebSocket)).
///
/// Every adapter has a single generic driver written against this trait:
///
/// 1. While [`wants_input`](Dialogue::wants_input) is true, bytes read from
///    the transport are appended to a `BytesMut` and given to
///    [`handle_input`](Dialogue::handle_input). The dialogue takes (splits
///    off) the bytes it consumed; what it leaves in the buffer is kept for
///    the next call. Running out of input is never an error. While
///    `wants_input` is false the driver stops reading (back-pressure: a
///    peer that sends faster than the application answers is held back by
///    the transport, and no buffer grows without bound); it still runs the
///    timer.
/// 2. End of stream from the peer is [`handle_eof`](Dialogue::handle_eof).
/// 3. When the instant returned by [`poll_timeout`](Dialogue::poll_timeout)
///    has passed, the adapter calls [`handle_timeout`](Dialogue::handle_timeout).
/// 4. After any `handle_*` call (and after any application call on the
///    concrete type), the adapter drains [`poll_transmit`](Dialogue::poll_transmit)
///    into the transport and [`poll_event`](Dialogue::poll_event) into the
///    application, until both return `None`.
/// 5. When [`is_closed`](Dialogue::is_closed) is true and everything from
///    `poll_transmit` was written, the adapter closes the transport.
///
/// # Errors: one channel, the events
///
/// A remote error (the peer broke the protocol, a limit or a timer fired,
/// the peer closed mid-message) is reported once, as an event
/// (`ServerEvent::Error`, `ClientEvent::Error`, `ClientEvent::Failed`...),
/// whichever of `handle_input`, `handle_eof` or `handle_timeout` found it;
/// none of those calls returns an error. As in quinn-proto, the error is
/// one more thing the dialogue reports in order with everything else, so
/// a driver has one place to look and cannot drop one copy of it. The
/// error is sticky: the dialogue queues what it still has to say (an
/// error answer such as a 400 or a 421), consumes no more input, and
/// closes. The concrete types record it too (for example
/// `ServerConnection::close_reason`), for whoever asks after the fact.
///
/// Local errors (the application used the API out of turn) are apart: the
/// application calls on the concrete types return them as a `Result`.
///
/// The dialogue never reads a clock: every call that needs the time takes a
/// `now` argument.
pub trait Dialogue {
    /// What the dialogue reports to the application, remote errors
    /// included.
    type Event;

    /// Feeds bytes received from the peer. Consumed bytes are split off the
    /// front of `input`; unconsumed bytes stay for the next call. A
    /// protocol error comes out of [`poll_event`](Dialogue::poll_event).
    fn handle_input(&mut self, now: Instant, input: &mut BytesMut);
    /// The peer closed its sending side (or the transport failed).
    fn handle_eof(&mut self, now: Instant);
    /// The deadline from [`poll_timeout`](Dialogue::poll_timeout) has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// Next bytes to write to the peer, in order.
    fn poll_transmit(&mut self) -> Option<Bytes>;
    /// Next event for the application; `None` means more input is needed.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// The earliest instant at which [`handle_timeout`](Dialogue::handle_timeout)
    /// must be called, if any timer is armed.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether the driver should read from the transport now. False while
    /// the dialogue would leave new bytes unconsumed (a pipelined request
    /// waits for the response under way, an SMTP command waits for the
    /// application's answer), after the transport was handed off, and
    /// once closed.
    fn wants_input(&self) -> bool;
    /// True once the dialogue is over: after flushing `poll_transmit`, the
    /// adapter closes the transport.
    fn is_closed(&self) -> bool;
}
