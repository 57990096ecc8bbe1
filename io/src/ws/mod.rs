//! WebSocket pieces every adapter shares (runtime neutral): the
//! per-connection [`WsHandle`] mailbox, the [`Session`] that feeds it into
//! the core connection, the broadcast [`Hub`], the events an application
//! sees ([`WsEvent`]) and the settings ([`WsConfig`]).
//!
//! The protocol is core's [`wireloom_core::ws`]; this module decides
//! nothing about frames. The adapters' loops (the async engine's
//! `aio::ws`, the blocking adapter's) own one core connection each and
//! move its bytes; everything else reaches the loop through a
//! [`WsHandle`].
//!
//! ```text
//!  other threads/tasks ──WsHandle──► mailbox ──Session::pull──► core WebSocket ──► socket
//!  Hub::broadcast ─ one encoded frame (Bytes), cloned per member ─┘        ▲
//!  application ◄──────────── Session::next_event ◄──────────────────────────┘ (input)
//! ```
//!
//! Memory per idle connection, with the defaults and no compression:
//! 6.1 KiB of server RSS per connection on wireloom-tokio at 10,000 idle
//! connections (`bench/ws.sh --part memory`, BENCHMARKS.md): the core
//! connection (its decoder, empty queues, timers), the mailbox (one small
//! allocation), the task and its boxed transport. Reads go through the
//! thread's shared scratch buffer, so an idle connection keeps no read
//! buffer; writes never queue more than about twice
//! [`Limits::send_high_water`] per connection (mailbox plus core).
//! permessage-deflate adds zlib's state per connection (about 300 KiB
//! with context takeover at 15 window bits for both directions: negotiate
//! `*_no_context_takeover` or smaller windows to cut it).

mod client;
mod hub;
mod mailbox;
mod session;

use bytes::Bytes;
use wireloom_core::ws::{
    ClientOptions, CloseFrame, CloseInfo, Config, Message, MessageKind, ServerOptions, WsError,
};

pub use client::{mask_seed, ClientStart, ConnectError};
pub use hub::{BroadcastReport, Hub, Membership};
pub use mailbox::{FrameOutcome, FullPolicy, Limits, SendError, UserEvent, WsHandle};
pub use session::Session;

/// What the application receives from a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum WsEvent {
    /// A whole message.
    Message(Message),
    /// Streaming delivery ([`Config::streaming`]): a message begins.
    MessageStart(MessageKind),
    /// Streaming delivery: the next piece.
    MessageData(Bytes),
    /// Streaming delivery: the message is complete.
    MessageEnd,
    /// A ping arrived (answered already when `auto_pong` is on).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The peer sent a close frame (answered with the same code).
    Closing(CloseFrame),
    /// An event injected with [`WsHandle::event`].
    User(UserEvent),
    /// The peer broke the protocol, a limit or timer fired, or the
    /// transport failed; [`WsEvent::Closed`] follows.
    Error(WsError),
    /// The connection is over (always last).
    Closed(CloseInfo),
}

/// Settings of a WebSocket connection in an adapter.
#[derive(Debug, Clone, Default)]
pub struct WsConfig {
    /// The core connection's limits and timers (message and frame limits,
    /// 16 MiB by default; ping interval, dead-peer and close timeouts).
    pub connection: Config,
    /// Server handshake: subprotocols, permessage-deflate, origin policy.
    pub server: ServerOptions,
    /// Client handshake: subprotocols, permessage-deflate offer, origin.
    pub client: ClientOptions,
    /// The mailbox and broadcast queue bounds.
    pub limits: Limits,
}

/// Why a WebSocket's `send` failed (every adapter's).
#[derive(Debug)]
#[non_exhaustive]
pub enum WsSendError {
    /// The connection is closing or closed, or the call was out of turn.
    Usage(wireloom_core::ws::UsageError),
    /// Writing failed (the connection is over).
    Io(std::io::Error),
}

impl std::fmt::Display for WsSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsSendError::Usage(e) => write!(f, "{e}"),
            WsSendError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WsSendError {}
