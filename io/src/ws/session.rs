//! The part of a connection's loop that is the same on every runtime:
//! the core [`WebSocket`] plus its [`WsHandle`] mailbox. An adapter's loop
//! moves bytes (read into `handle_input`, `poll_transmit` to the socket,
//! timers) and calls, on every turn:
//!
//! 1. [`Session::pull`]: commands from the mailbox into the connection, as
//!    long as the connection holds less than the high-water mark unsent
//!    (writer backpressure: a slow peer stops the mailbox from draining,
//!    which stops senders at their own high-water mark);
//! 2. [`Session::next_event`]: the next event for the application;
//! 3. writes, then waits for input, a timer or the mailbox's waker.
//!
//! When the connection reports [`Event::Closed`] the session shuts its
//! mailbox: handles see `Closed` from then on.

use std::collections::VecDeque;
use std::time::Instant;

use wireloom_core::ws::{CloseCode, CloseInfo, Event, Message, UsageError, WebSocket};
use wireloom_core::Dialogue;

use super::mailbox::{Command, Limits};
use super::{WsEvent, WsHandle};

/// A core connection and its mailbox, driven by one loop.
#[derive(Debug)]
pub struct Session {
    /// The core connection (the adapter moves its bytes).
    pub ws: WebSocket,
    handle: WsHandle,
    /// Application events taken from the mailbox, not yet handed out.
    users: VecDeque<WsEvent>,
    closed: Option<CloseInfo>,
    /// The waker last registered with the mailbox (registration takes the
    /// mailbox's lock: skipped while the loop's waker does not change).
    registered: Option<std::task::Waker>,
}

impl Session {
    /// A session over `ws` with a fresh mailbox bounded by `limits`.
    pub fn new(ws: WebSocket, limits: Limits) -> Session {
        Session {
            ws,
            handle: WsHandle::new(limits),
            users: VecDeque::new(),
            closed: None,
            registered: None,
        }
    }

    /// A handle on the mailbox.
    pub fn handle(&self) -> &WsHandle {
        &self.handle
    }

    /// How the connection ended, once [`WsEvent::Closed`] was handed out.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.closed.as_ref()
    }

    /// Whether the connection is over (its last event handed out).
    pub fn is_done(&self) -> bool {
        self.closed.is_some()
    }

    /// The loop registers the waker the mailbox wakes when a command
    /// arrives (an async task's, or one that unparks a blocking thread).
    /// Register, then [`pull`](Session::pull): no command is missed.
    pub fn register(&mut self, waker: &std::task::Waker) {
        if self.registered.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return;
        }
        self.handle.register(waker);
        self.registered = Some(waker.clone());
    }

    /// Whether commands wait in the mailbox.
    pub fn has_commands(&self) -> bool {
        self.handle.has_commands()
    }

    /// Whether the connection holds more than the high-water mark unsent.
    pub fn is_backlogged(&self) -> bool {
        self.ws.buffered_amount() >= self.handle.limits().send_high_water
    }

    /// Moves mailbox commands into the connection while it is below the
    /// high-water mark. Application events are kept for
    /// [`next_event`](Session::next_event).
    pub fn pull(&mut self, now: Instant) {
        while !self.is_backlogged() {
            let Some(c) = self.handle.pop() else { return };
            // A usage error here (the connection is closing, a frame on a
            // client connection) drops the command: the peer can no
            // longer receive it.
            match c {
                Command::Message(m) => {
                    let _ = self.ws.send(m);
                }
                Command::Frame(f) => {
                    let _ = self.ws.send_raw_frame(f);
                }
                Command::Ping(p) => {
                    let _ = self.ws.send_ping(p);
                }
                Command::Close(code, reason) => {
                    if self.ws.close(now, code, &reason) == Err(UsageError::InvalidCloseCode)
                        || reason.len() > 123
                    {
                        let _ = self.ws.close(now, CloseCode::INTERNAL_ERROR, "");
                    }
                }
                Command::User(e) => self.users.push_back(WsEvent::User(e)),
            }
        }
    }

    /// Sends a message directly (the loop's owner, not through the
    /// mailbox).
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        self.ws.send(message)
    }

    /// The next event for the application: injected events first, then
    /// the connection's. `None`: nothing until more input, a timer or a
    /// command.
    pub fn next_event(&mut self) -> Option<WsEvent> {
        if let Some(e) = self.users.pop_front() {
            return Some(e);
        }
        let ev = match self.ws.poll_event()? {
            Event::Message(m) => WsEvent::Message(m),
            Event::MessageStart(k) => WsEvent::MessageStart(k),
            Event::MessageData(b) => WsEvent::MessageData(b),
            Event::MessageEnd => WsEvent::MessageEnd,
            Event::Ping(p) => WsEvent::Ping(p),
            Event::Pong(p) => WsEvent::Pong(p),
            Event::Closing(f) => WsEvent::Closing(f),
            Event::Error(e) => WsEvent::Error(e),
            Event::Closed(info) => {
                self.handle.shut();
                self.closed = Some(info.clone());
                WsEvent::Closed(info)
            }
        };
        Some(ev)
    }

    /// The transport failed or ended: the connection learns it (it
    /// reports the error and closes).
    pub fn transport_gone(&mut self, now: Instant) {
        self.ws.handle_eof(now);
    }

    /// Whether the transport may be closed: the connection is closed and
    /// everything it queued was taken.
    pub fn can_close_transport(&self) -> bool {
        self.ws.is_closed() && self.ws.buffered_amount() == 0
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.handle.shut();
    }
}
