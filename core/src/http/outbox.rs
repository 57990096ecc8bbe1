//! [`Outbox`]: the bytes a connection has queued for the peer.
//!
//! Small pieces (heads, chunk lines, short bodies) are copied into one
//! buffer, so sixteen pipelined responses leave as one `Bytes` and one
//! write; large pieces (file regions, big bodies) stay zero-copy, each its
//! own `Bytes`. Order is kept: the buffer always holds bytes that come
//! after everything queued before them.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

/// Pieces up to this size are copied into the shared buffer.
pub const COPY_MAX: usize = 1024;

/// Bytes queued for the peer, in order.
///
/// ```
/// use bytes::Bytes;
/// use wireloom_core::http::outbox::Outbox;
/// let mut out = Outbox::default();
/// out.put_slice(b"HTTP/1.1 200 OK\r\n\r\n");
/// out.push(Bytes::from_static(b"hi"));           // small: copied
/// out.push(Bytes::from(vec![b'x'; 4096]));       // large: kept as is
/// out.put_slice(b"after");
/// assert_eq!(&out.pop().unwrap()[..], b"HTTP/1.1 200 OK\r\n\r\nhi");
/// assert_eq!(out.pop().unwrap().len(), 4096);
/// assert_eq!(&out.pop().unwrap()[..], b"after");
/// assert!(out.pop().is_none());
/// ```
#[derive(Debug, Default)]
pub struct Outbox {
    /// Pieces ready to go, oldest first.
    queue: VecDeque<Bytes>,
    /// Bytes after the last queued piece, not yet cut into a `Bytes`.
    buf: BytesMut,
}

impl Outbox {
    /// Queues `data`: copied when small, kept (zero-copy) otherwise.
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if data.len() <= COPY_MAX {
            self.put_slice(&data);
        } else {
            self.spill();
            self.queue.push_back(data);
        }
    }

    /// Copies `s` into the buffer.
    pub fn put_slice(&mut self, s: &[u8]) {
        self.buf_mut().put_slice(s);
    }

    /// The buffer, for serialising straight into it.
    pub fn buf_mut(&mut self) -> &mut BytesMut {
        if self.buf.capacity() == 0 {
            self.buf.reserve(512);
        }
        &mut self.buf
    }

    /// Moves every piece of `other` after what is queued.
    pub fn append(&mut self, other: &mut Outbox) {
        other.spill();
        if other.queue.is_empty() {
            return;
        }
        self.spill();
        self.queue.append(&mut other.queue);
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.buf = BytesMut::new();
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.buf.is_empty()
    }

    /// The next piece to write. The buffer is handed over whole (it holds
    /// no allocation afterwards, so an idle connection keeps none).
    pub fn pop(&mut self) -> Option<Bytes> {
        if let Some(b) = self.queue.pop_front() {
            return Some(b);
        }
        if self.buf.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.buf).freeze())
    }

    fn spill(&mut self) {
        if !self.buf.is_empty() {
            let b = std::mem::take(&mut self.buf).freeze();
            self.queue.push_back(b);
        }
    }
}
