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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::{Bytes, BytesMut};
    use wireloom_core::ws::{CloseCode, Config, Event, Message, WebSocket};
    use wireloom_core::Dialogue;

    use super::*;
    use crate::ws::{FullPolicy, Limits, Session};

    fn session(limits: Limits) -> Session {
        Session::new(
            WebSocket::server(Config::default(), None, Instant::now()),
            limits,
        )
    }

    /// What a client connection reads from the server session's output.
    fn client_reads(s: &mut Session) -> Vec<Event> {
        let now = Instant::now();
        let mut wire = BytesMut::new();
        while let Some(b) = s.ws.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        let mut c = WebSocket::client(Config::default(), None, [1; 32], now);
        c.handle_input(now, &mut wire);
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    #[test]
    fn one_encoded_frame_shared_by_every_member() {
        let hub = Hub::new();
        let mut members: Vec<Session> = (0..3).map(|_| session(Limits::default())).collect();
        let _m: Vec<Membership> = members
            .iter()
            .map(|s| hub.join(s.handle().clone()))
            .collect();
        let payload = Bytes::from(vec![7u8; 1000]);
        let r = hub.broadcast(&Message::Binary(payload));
        assert_eq!(r.queued, 3);
        // Every member's queued frame is the same allocation.
        let mut ptrs = Vec::new();
        for s in &mut members {
            s.pull(Instant::now());
            let head = s.ws.poll_transmit().unwrap();
            ptrs.push(head.as_ptr());
            assert_eq!(head.len(), 1000 + 4);
        }
        assert!(ptrs.windows(2).all(|w| w[0] == w[1]), "{ptrs:?}");
    }

    #[test]
    fn full_queue_drops_oldest_without_touching_others() {
        let small = Limits {
            hub_queue: 2,
            ..Limits::default()
        };
        let hub = Hub::new();
        let mut slow = session(small.clone());
        let mut fast = session(small);
        let _a = hub.join(slow.handle().clone());
        let _b = hub.join(fast.handle().clone());
        for i in 0..5 {
            let r = hub.broadcast_text(&format!("m{i}"));
            // The fast member's loop takes its frame at once.
            fast.pull(Instant::now());
            assert_eq!(r.queued, 2);
            assert_eq!(r.dropped_oldest, usize::from(i >= 2));
        }
        assert_eq!(slow.handle().dropped_frames(), 3);
        slow.pull(Instant::now());
        let got: Vec<Event> = client_reads(&mut slow);
        assert_eq!(
            got,
            vec![
                Event::Message(Message::Text("m3".into())),
                Event::Message(Message::Text("m4".into()))
            ]
        );
        assert_eq!(client_reads(&mut fast).len(), 5);
    }

    #[test]
    fn full_queue_closes_that_member_with_the_policy_code() {
        let strict = Limits {
            hub_queue: 1,
            hub_policy: FullPolicy::Close(CloseCode::TRY_AGAIN_LATER, "too slow".into()),
            ..Limits::default()
        };
        let hub = Hub::new();
        let mut slow = session(strict);
        let _a = hub.join(slow.handle().clone());
        assert_eq!(hub.broadcast_text("a").queued, 1);
        let r = hub.broadcast_text("b");
        assert_eq!((r.queued, r.closing), (0, 1));
        slow.pull(Instant::now());
        let got = client_reads(&mut slow);
        assert!(
            matches!(got.last(), Some(Event::Closing(f)) if f.code == CloseCode::TRY_AGAIN_LATER && f.reason == "too slow"),
            "{got:?}"
        );
    }

    #[test]
    fn closed_members_are_pruned_and_senders_see_closed() {
        let hub = Hub::new();
        let s = session(Limits::default());
        let h = s.handle().clone();
        let _m = hub.join(h.clone());
        drop(s);
        assert!(h.is_closed());
        assert!(matches!(
            h.try_send(Message::Text("x".into())),
            Err(crate::ws::SendError::Closed(_))
        ));
        assert_eq!(hub.broadcast_text("x").gone, 1);
        assert!(hub.is_empty());
    }

    #[test]
    fn handle_sends_are_bounded_by_the_high_water_mark() {
        let s = session(Limits {
            send_high_water: 100,
            ..Limits::default()
        });
        let h = s.handle().clone();
        let big = Message::Binary(Bytes::from(vec![0u8; 60]));
        assert!(h.try_send(big.clone()).is_ok());
        assert!(h.try_send(big.clone()).is_ok()); // 60 < 100 before it
        assert!(matches!(
            h.try_send(big),
            Err(crate::ws::SendError::Full(_))
        ));
    }
}
