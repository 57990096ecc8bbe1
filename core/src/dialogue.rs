//! The one shape shared by every protocol dialogue in wireloom-core.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

/// The handle/poll contract shared by the HTTP server and client connections,
/// the SMTP client and server dialogues and (later) the WebSocket connection.
///
/// Every adapter has a single generic driver written against this trait:
///
/// 1. Bytes read from the transport are appended to a `BytesMut` and given to
///    [`handle_input`](Dialogue::handle_input). The dialogue takes (splits off)
///    the bytes it consumed; what it leaves in the buffer is kept for the next
///    call. Running out of input is never an error.
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
/// The dialogue never reads a clock: every call that needs the time takes a
/// `now` argument.
pub trait Dialogue {
    /// What the dialogue reports to the application.
    type Event;
    /// The error returned when the peer broke the protocol. Fatal errors are
    /// sticky: every later `handle_input` returns the same error.
    type Error;

    /// Feeds bytes received from the peer. Consumed bytes are split off the
    /// front of `input`; unconsumed bytes stay for the next call.
    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) -> Result<(), Self::Error>;
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
    /// True once the dialogue is over: after flushing `poll_transmit`, the
    /// adapter closes the transport.
    fn is_closed(&self) -> bool;
}
