//! The per-connection mailbox: how other threads and tasks reach a
//! connection's loop. Runtime neutral: the loop registers a
//! [`std::task::Waker`] (an async task's waker, or a waker that unparks a
//! blocking thread) and is woken when something is put in.
//!
//! Bounds (nothing here grows without limit):
//! - messages from [`WsHandle::try_send`] count their payload bytes
//!   against [`Limits::send_high_water`]; past it `try_send` refuses
//!   ([`SendError::Full`]) and the async/blocking `send` waits for room;
//! - hub frames ([`WsHandle::send_frame`]) count against
//!   [`Limits::hub_queue`]; when full the [`FullPolicy`] decides;
//! - application events count against [`Limits::events`].

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use bytes::Bytes;
use wireloom_core::ws::{CloseCode, Message};

/// An application event injected into a connection's loop
/// ([`WsHandle::event`]); the loop hands it back unchanged as
/// [`WsEvent::User`](super::WsEvent::User).
pub type UserEvent = Box<dyn Any + Send>;

/// What the hub does when a connection's queue of broadcast frames is full
/// (that client reads slower than the hub sends).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Drop the oldest queued broadcast frame to make room (the client
    /// misses messages, the others are not held back). The default.
    #[default]
    DropOldest,
    /// Close that client with this code (1008 policy violation or 1013
    /// try again later) and the reason; its queued frames still go first.
    Close(CloseCode, String),
}

/// The bounds of one connection's mailbox.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Payload bytes of queued messages (handle sends) above which
    /// sending waits or is refused. The loop also stops taking messages
    /// from the mailbox while the core connection holds more than this
    /// unsent, so one connection buffers at most about twice this.
    /// Default 256 KiB.
    pub send_high_water: usize,
    /// Broadcast frames queued per connection. Default 64.
    pub hub_queue: usize,
    /// What happens when `hub_queue` is full. Default [`FullPolicy::DropOldest`].
    pub hub_policy: FullPolicy,
    /// Application events queued. Default 1024.
    pub events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            send_high_water: 256 << 10,
            hub_queue: 64,
            hub_policy: FullPolicy::DropOldest,
            events: 1024,
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug)]
pub enum SendError<T> {
    /// The queue is above its high-water mark; the value is handed back.
    Full(T),
    /// The connection's loop has ended (closed, or failed).
    Closed(T),
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("the connection's send queue is full"),
            SendError::Closed(_) => f.write_str("the connection is closed"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// What a broadcast did to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest queued broadcast frame.
    DroppedOldest,
    /// The queue was full and the policy closes the client: not queued.
    Closing,
    /// The connection is gone.
    Closed,
}

/// A command for the loop.
pub(crate) enum Command {
    Message(Message),
    Frame(Bytes),
    Ping(Bytes),
    Close(CloseCode, String),
    User(UserEvent),
}

#[derive(Default)]
struct State {
    commands: VecDeque<Command>,
    /// Payload bytes of the `Message` commands.
    bytes: usize,
    /// `Frame` commands queued.
    frames: usize,
    /// `User` commands queued.
    users: usize,
    /// Frames dropped by `DropOldest` so far.
    dropped: u64,
    /// A close asked by the hub's policy: goes before anything else.
    urgent_close: Option<(CloseCode, String)>,
    /// The loop ended.
    closed: bool,
    loop_waker: Option<Waker>,
    senders: Vec<Waker>,
}

pub(crate) struct Mailbox {
    limits: Limits,
    state: Mutex<State>,
    /// Commands queued (an urgent close counts): the loop looks here
    /// before taking the lock, so an idle mailbox costs it no lock.
    queued: AtomicUsize,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A cloneable handle on one connection's loop, usable from any thread or
/// task: queue messages, broadcast frames, pings, a close, or application
/// events. Every queue is bounded (see [`Limits`]).
#[derive(Clone)]
pub struct WsHandle {
    mb: Arc<Mailbox>,
}

impl fmt::Debug for WsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.mb.lock();
        f.debug_struct("WsHandle")
            .field("queued", &s.commands.len())
            .field("closed", &s.closed)
            .finish()
    }
}

impl WsHandle {
    pub(crate) fn new(limits: Limits) -> WsHandle {
        WsHandle {
            mb: Arc::new(Mailbox {
                limits,
                state: Mutex::new(State::default()),
                queued: AtomicUsize::new(0),
            }),
        }
    }

    fn push(&self, mut s: MutexGuard<'_, State>, c: Command) {
        s.commands.push_back(c);
        self.mb.queued.fetch_add(1, Ordering::Release);
        self.wake_loop(s);
    }

    /// Wakes the loop (its waker stays registered).
    fn wake_loop(&self, s: MutexGuard<'_, State>) {
        let w = s.loop_waker.clone();
        drop(s);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Queues a whole message, unless the queue is above its high-water
    /// mark ([`SendError::Full`]: wait and retry, or use the adapter's
    /// awaiting/blocking `send`).
    pub fn try_send(&self, message: Message) -> Result<(), SendError<Message>> {
        let mut s = self.mb.lock();
        if s.closed {
            return Err(SendError::Closed(message));
        }
        if s.bytes >= self.mb.limits.send_high_water {
            return Err(SendError::Full(message));
        }
        s.bytes += message.as_bytes().len();
        self.push(s, Command::Message(message));
        Ok(())
    }

    /// [`try_send`](WsHandle::try_send), or when full, registers `waker`
    /// to be woken when room is made (the awaiting and blocking `send`s).
    pub fn send_or_register(
        &self,
        message: Message,
        waker: &Waker,
    ) -> Result<(), SendError<Message>> {
        let mut s = self.mb.lock();
        if s.closed {
            return Err(SendError::Closed(message));
        }
        if s.bytes >= self.mb.limits.send_high_water {
            if !s.senders.iter().any(|w| w.will_wake(waker)) {
                s.senders.push(waker.clone());
            }
            return Err(SendError::Full(message));
        }
        s.bytes += message.as_bytes().len();
        self.push(s, Command::Message(message));
        Ok(())
    }

    /// Queues a frame encoded once for many connections
    /// ([`encode_server_frame`](wireloom_core::ws::encode_server_frame)),
    /// applying the [`FullPolicy`] when this connection's broadcast queue
    /// is full. Server connections only (a client connection's loop
    /// drops it: client frames must be masked per connection).
    pub fn send_frame(&self, frame: Bytes) -> FrameOutcome {
        let mut s = self.mb.lock();
        if s.closed {
            return FrameOutcome::Closed;
        }
        if s.urgent_close.is_some() {
            return FrameOutcome::Closing;
        }
        let mut outcome = FrameOutcome::Queued;
        if s.frames >= self.mb.limits.hub_queue {
            match &self.mb.limits.hub_policy {
                FullPolicy::DropOldest => {
                    if let Some(i) = s
                        .commands
                        .iter()
                        .position(|c| matches!(c, Command::Frame(_)))
                    {
                        s.commands.remove(i);
                        s.frames -= 1;
                        s.dropped += 1;
                    }
                    outcome = FrameOutcome::DroppedOldest;
                }
                FullPolicy::Close(code, reason) => {
                    s.urgent_close = Some((*code, reason.clone()));
                    self.mb.queued.fetch_add(1, Ordering::Release);
                    self.wake_loop(s);
                    return FrameOutcome::Closing;
                }
            }
        }
        s.frames += 1;
        self.push(s, Command::Frame(frame));
        outcome
    }

    /// Queues a ping (payload at most 125 bytes; longer is cut to 125).
    pub fn ping(&self, mut payload: Bytes) -> Result<(), SendError<Bytes>> {
        payload.truncate(125);
        let s = self.mb.lock();
        if s.closed {
            return Err(SendError::Closed(payload));
        }
        self.push(s, Command::Ping(payload));
        Ok(())
    }

    /// Asks the loop to close with `code` and `reason` (after what is
    /// already queued). An invalid code or a reason over 123 bytes makes
    /// the loop close with 1011 instead.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let s = self.mb.lock();
        if s.closed {
            return;
        }
        self.push(s, Command::Close(code, reason.to_string()));
    }

    /// Injects an application event; the loop hands it back as
    /// [`WsEvent::User`](super::WsEvent::User), in order with the other
    /// commands of this mailbox.
    pub fn event(&self, event: UserEvent) -> Result<(), SendError<UserEvent>> {
        let mut s = self.mb.lock();
        if s.closed {
            return Err(SendError::Closed(event));
        }
        if s.users >= self.mb.limits.events {
            return Err(SendError::Full(event));
        }
        s.users += 1;
        self.push(s, Command::User(event));
        Ok(())
    }

    /// Whether the connection's loop has ended.
    pub fn is_closed(&self) -> bool {
        self.mb.lock().closed
    }

    /// Broadcast frames dropped so far by [`FullPolicy::DropOldest`].
    pub fn dropped_frames(&self) -> u64 {
        self.mb.lock().dropped
    }

    /// Whether `self` and `other` reach the same connection.
    pub fn same(&self, other: &WsHandle) -> bool {
        Arc::ptr_eq(&self.mb, &other.mb)
    }

    // ---- the loop's side ------------------------------------------------

    /// The loop: registers the waker to be woken when something arrives.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut s = self.mb.lock();
        match &s.loop_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => s.loop_waker = Some(waker.clone()),
        }
    }

    /// The loop: the next command (an urgent close first).
    pub(crate) fn pop(&self) -> Option<Command> {
        if self.mb.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut s = self.mb.lock();
        if let Some((code, reason)) = s.urgent_close.take() {
            self.mb.queued.fetch_sub(1, Ordering::Release);
            return Some(Command::Close(code, reason));
        }
        let c = s.commands.pop_front()?;
        self.mb.queued.fetch_sub(1, Ordering::Release);
        let mut wake = Vec::new();
        match &c {
            Command::Message(m) => {
                let before = s.bytes;
                s.bytes -= m.as_bytes().len();
                if before >= self.mb.limits.send_high_water
                    && s.bytes < self.mb.limits.send_high_water
                {
                    wake = std::mem::take(&mut s.senders);
                }
            }
            Command::Frame(_) => s.frames -= 1,
            Command::User(_) => s.users -= 1,
            _ => {}
        }
        drop(s);
        for w in wake {
            w.wake();
        }
        Some(c)
    }

    /// The loop: whether commands wait.
    pub(crate) fn has_commands(&self) -> bool {
        self.mb.queued.load(Ordering::Acquire) > 0
    }

    /// The loop ended: nothing more is accepted, queued commands are
    /// dropped, waiting senders are woken (to see `Closed`).
    pub(crate) fn shut(&self) {
        let mut s = self.mb.lock();
        s.closed = true;
        s.commands.clear();
        s.urgent_close = None;
        self.mb.queued.store(0, Ordering::Release);
        s.bytes = 0;
        s.frames = 0;
        s.users = 0;
        s.loop_waker = None;
        let wake = std::mem::take(&mut s.senders);
        drop(s);
        for w in wake {
            w.wake();
        }
    }

    /// The mailbox limits.
    pub fn limits(&self) -> &Limits {
        &self.mb.limits
    }
}
