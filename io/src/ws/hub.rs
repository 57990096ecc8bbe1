//! The broadcast hub: one message to many connections, encoded once.
//!
//! [`Hub::broadcast`] encodes ONE unmasked server frame
//! ([`encode_server_frame`]) into a [`Bytes`] and hands each member's
//! mailbox a clone of it (a reference count, never a copy of the payload).
//! The frame is sent uncompressed (RSV1 clear) even on connections that
//! negotiated permessage-deflate: RFC 7692 lets every message choose, and
//! compressing per connection would mean one copy (and one deflate) per
//! member.
//!
//! Each member has its own bounded queue of broadcast frames
//! ([`Limits::hub_queue`](super::Limits::hub_queue)); a member whose queue
//! is full gets the [`FullPolicy`](super::FullPolicy) of its connection
//! (drop its oldest queued frame, or close it with 1008/1013) and nobody
//! else waits: a broadcast never blocks on a slow client. Members leave
//! when their [`Membership`] drops, and closed connections are pruned on
//! the next broadcast.
//!
//! ```
//! use wireloom_io::ws::Hub;
//! let hub = Hub::new();
//! let report = hub.broadcast_text("hello");
//! assert_eq!(report.queued, 0); // nobody joined
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use wireloom_core::ws::{encode_server_frame, Message, OpCode};

use super::mailbox::FrameOutcome;
use super::WsHandle;

/// What one broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Members the frame was queued for.
    pub queued: usize,
    /// Of those, members whose oldest queued frame was dropped for it.
    pub dropped_oldest: usize,
    /// Members being closed because their queue was full (not queued).
    pub closing: usize,
    /// Members found closed (removed).
    pub gone: usize,
}

#[derive(Default)]
struct Inner {
    members: Mutex<HashMap<u64, WsHandle>>,
    next: AtomicU64,
}

/// A set of server connections that receive every broadcast. Cheap to
/// clone (shared).
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("members", &self.len()).finish()
    }
}

/// A connection's place in a [`Hub`]; leaving when dropped.
#[derive(Debug)]
pub struct Membership {
    hub: Hub,
    id: u64,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.members().remove(&self.id);
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Hub {
        Hub::default()
    }

    fn members(&self) -> MutexGuard<'_, HashMap<u64, WsHandle>> {
        self.inner.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a (server) connection; it stays a member until the
    /// [`Membership`] drops or the connection closes.
    pub fn join(&self, handle: WsHandle) -> Membership {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.members().insert(id, handle);
        Membership {
            hub: self.clone(),
            id,
        }
    }

    /// Members now.
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `message` to every member: encoded once, shared by all.
    pub fn broadcast(&self, message: &Message) -> BroadcastReport {
        let opcode = match message {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
        };
        let payload = match message {
            Message::Text(t) => t.clone().into_bytes(),
            Message::Binary(b) => b.clone(),
        };
        match encode_server_frame(opcode, payload) {
            Ok(frame) => self.broadcast_frame(frame),
            Err(_) => BroadcastReport::default(),
        }
    }

    /// [`broadcast`](Hub::broadcast) of a text message.
    pub fn broadcast_text(&self, text: &str) -> BroadcastReport {
        self.broadcast(&Message::Text(text.to_string().into()))
    }

    /// Sends a frame already encoded by
    /// [`encode_server_frame`] to every member.
    pub fn broadcast_frame(&self, frame: Bytes) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        // The handles are cloned out so no mailbox lock is taken under the
        // hub's lock (a member's loop may be leaving meanwhile).
        let members: Vec<(u64, WsHandle)> = self
            .members()
            .iter()
            .map(|(k, h)| (*k, h.clone()))
            .collect();
        let mut gone = Vec::new();
        for (id, h) in members {
            match h.send_frame(frame.clone()) {
                FrameOutcome::Queued => report.queued += 1,
                FrameOutcome::DroppedOldest => {
                    report.queued += 1;
                    report.dropped_oldest += 1;
                }
                FrameOutcome::Closing => report.closing += 1,
                FrameOutcome::Closed => {
                    report.gone += 1;
                    gone.push(id);
                }
            }
        }
        if !gone.is_empty() {
            let mut m = self.members();
            for id in gone {
                m.remove(&id);
            }
        }
        report
    }
}
