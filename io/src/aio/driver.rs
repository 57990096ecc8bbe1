//! The one generic async driver: moves bytes between an async transport and
//! any core [`Dialogue`], and runs the one timer the dialogue asks for.
//!
//! The rule it keeps (DESIGN.md, "Drivers"): everything the dialogue
//! queued is written in one vectored batch, and only when the caller says
//! the dialogue can make no more progress without new input; the timer is
//! re-armed only when the deadline changes; a slow peer exerts
//! back-pressure (the driver stops reading while a batch is unwritten).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};
use wireloom_core::Dialogue;

use super::scratch;
use crate::rt::{Runtime, Timer};

/// Buffers handed to one `writev`.
const MAX_IOV: usize = 64;

/// What one [`Driver::wait`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Bytes arrived and were given to the dialogue.
    Input,
    /// The dialogue's timer fired and `handle_timeout` ran.
    Timeout,
    /// The peer closed; `handle_eof` ran.
    Eof,
}

/// Owns a transport, its read buffer, the write batch and the timer.
pub struct Driver<R: Runtime, S> {
    rt: R,
    /// The transport.
    pub io: S,
    /// Bytes read but not yet consumed by the dialogue. After an upgrade,
    /// these belong to the new protocol. Reads go through the thread's
    /// shared scratch buffer (see `scratch`): an idle connection holds no
    /// read buffer of its own beyond what is left here.
    pub buf: BytesMut,
    batch: Vec<Bytes>,
    timer: Option<R::Timer>,
    armed: Option<Instant>,
    eof: bool,
    batches: u64,
    /// When the last input or timer was handed to the dialogue.
    woke: Instant,
}

impl<R: Runtime, S: AsyncRead + AsyncWrite + Unpin> Driver<R, S> {
    /// A driver over `io`.
    pub fn new(rt: R, io: S) -> Driver<R, S> {
        Driver {
            rt,
            io,
            buf: BytesMut::new(),
            batch: Vec::new(),
            timer: None,
            armed: None,
            eof: false,
            batches: 0,
            woke: Instant::now(),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.rt
    }

    /// Whether the peer has closed its side.
    pub fn peer_closed(&self) -> bool {
        self.eof
    }

    /// How many non-empty batches [`flush`](Driver::flush) wrote.
    pub fn write_batches(&self) -> u64 {
        self.batches
    }

    /// Writes everything the dialogue queued, in vectored batches.
    pub async fn flush<D: Dialogue>(&mut self, d: &mut D) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx, d)).await
    }

    /// The poll form of [`flush`](Driver::flush).
    pub fn poll_flush<D: Dialogue>(
        &mut self,
        cx: &mut Context<'_>,
        d: &mut D,
    ) -> Poll<io::Result<()>> {
        let mut wrote = !self.batch.is_empty();
        loop {
            while self.batch.len() < MAX_IOV {
                match d.poll_transmit() {
                    Some(b) if b.is_empty() => {}
                    Some(b) => self.batch.push(b),
                    None => break,
                }
            }
            if self.batch.is_empty() {
                break;
            }
            if !wrote {
                wrote = true;
                self.batches += 1;
            }
            match poll_write_batch(Pin::new(&mut self.io), cx, &mut self.batch) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        if wrote {
            return Pin::new(&mut self.io).poll_flush(cx);
        }
        Poll::Ready(Ok(()))
    }

    /// Checks, without waiting, that an idle transport is still open and
    /// silent (a pooled client connection before reuse): reads whatever
    /// already arrived. False when the peer closed, the transport failed,
    /// or bytes arrived that nobody asked for (a 408, junk): such a
    /// connection must not carry a request.
    pub fn is_idle_and_open(&mut self) -> bool {
        if self.eof || !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.poll_read(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(r) => {
                if matches!(r, Ok(0) | Err(_)) {
                    self.eof = true;
                }
                false
            }
        }
    }

    /// Takes the transport and the bytes read past the point where the
    /// dialogue stopped (after an upgrade).
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.io, self.buf)
    }

    /// Feeds bytes already buffered (pipelined input after a response).
    pub fn feed_buffered<D: Dialogue>(&mut self, now: Instant, d: &mut D) {
        if !self.buf.is_empty() {
            // A protocol error comes out of `poll_event`, like the rest.
            d.handle_input(now, &mut self.buf);
        }
    }

    /// When the last [`poll_wait`](Driver::poll_wait) or
    /// [`poll_timer`](Driver::poll_timer) handed input, EOF or a timeout to
    /// the dialogue (one clock read per wake-up, reusable by the caller).
    pub fn woke_at(&self) -> Instant {
        self.woke
    }

    /// Waits for input or for the dialogue's timer, whichever comes first,
    /// and hands it to the dialogue. Flush first: nothing queued is written
    /// here. While the dialogue does not [`want input`](Dialogue::wants_input),
    /// nothing is read (back-pressure: the peer is held back by the
    /// transport) and only the timer is waited for.
    pub async fn wait<D: Dialogue>(&mut self, d: &mut D) -> io::Result<Wake> {
        poll_fn(|cx| self.poll_wait(cx, d)).await
    }

    /// The poll form of [`wait`](Driver::wait), for callers that also wait
    /// for something else (a handler, a shutdown signal).
    pub fn poll_wait<D: Dialogue>(
        &mut self,
        cx: &mut Context<'_>,
        d: &mut D,
    ) -> Poll<io::Result<Wake>> {
        self.poll_wait_with(cx, d, |_, _| {})
    }

    /// [`poll_wait`](Driver::poll_wait) that calls `prepare` with the
    /// dialogue and the current instant before handing it input, EOF or a
    /// timeout (a server sets the `Date` its own answers carry there).
    pub fn poll_wait_with<D: Dialogue>(
        &mut self,
        cx: &mut Context<'_>,
        d: &mut D,
        prepare: impl FnOnce(&mut D, Instant),
    ) -> Poll<io::Result<Wake>> {
        if !self.eof && d.wants_input() {
            if let Poll::Ready(r) = self.poll_read(cx) {
                let now = Instant::now();
                self.woke = now;
                prepare(d, now);
                return Poll::Ready(match r {
                    Ok(0) => {
                        self.eof = true;
                        d.handle_eof(now);
                        Ok(Wake::Eof)
                    }
                    Ok(_) => {
                        d.handle_input(now, &mut self.buf);
                        Ok(Wake::Input)
                    }
                    Err(e) => {
                        // A transport failure ends the dialogue like an EOF.
                        self.eof = true;
                        d.handle_eof(now);
                        Err(e)
                    }
                });
            }
        }
        self.poll_timer_with(cx, d, prepare)
    }

    /// Runs the dialogue's timer alone (used while the dialogue does not
    /// want input). Pending when no timer is armed.
    pub fn poll_timer<D: Dialogue>(
        &mut self,
        cx: &mut Context<'_>,
        d: &mut D,
    ) -> Poll<io::Result<Wake>> {
        self.poll_timer_with(cx, d, |_, _| {})
    }

    /// [`poll_timer`](Driver::poll_timer) with a `prepare` call before the
    /// timeout is handed over (see [`poll_wait_with`](Driver::poll_wait_with)).
    pub fn poll_timer_with<D: Dialogue>(
        &mut self,
        cx: &mut Context<'_>,
        d: &mut D,
        prepare: impl FnOnce(&mut D, Instant),
    ) -> Poll<io::Result<Wake>> {
        let Some(deadline) = d.poll_timeout() else {
            return Poll::Pending;
        };
        // A deadline that moved later (a keep-alive or dead-peer timer
        // pushed back by every input) keeps the armed timer: it fires
        // early and is re-armed for the rest below, instead of a re-arm
        // per message.
        let keep = self
            .armed
            .is_some_and(|a| a <= deadline && self.timer.is_some());
        if self.armed != Some(deadline) && !keep {
            self.armed = Some(deadline);
            match &mut self.timer {
                Some(t) => t.reset(deadline),
                None => self.timer = Some(self.rt.timer(deadline)),
            }
        }
        let Some(t) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        match t.poll_fire(cx) {
            Poll::Ready(()) => {
                let now = Instant::now();
                if now < deadline {
                    // Timers may fire a hair early, and a deadline that
                    // moved later was not re-armed: re-arm for the rest.
                    self.armed = Some(deadline);
                    t.reset(deadline);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                self.woke = now;
                prepare(d, now);
                d.handle_timeout(now);
                Poll::Ready(Ok(Wake::Timeout))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// One read into `buf` (at most 64 KiB, through the thread's shared
    /// scratch buffer); `Ok(0)` at end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Driver { io, buf, .. } = self;
        scratch::with_read(|scratch| loop {
            match Pin::new(&mut *io).poll_read(cx, scratch) {
                Poll::Ready(Ok(n)) => {
                    buf.extend_from_slice(&scratch[..n]);
                    return Poll::Ready(Ok(n));
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        })
    }

    /// Closes the transport's sending side (TLS: after `close_notify`).
    pub async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut self.io).poll_close(cx)).await
    }
}

/// Writes all of `batch` with vectored writes, emptying it.
pub fn poll_write_batch<W: AsyncWrite + ?Sized>(
    mut w: Pin<&mut W>,
    cx: &mut Context<'_>,
    batch: &mut Vec<Bytes>,
) -> Poll<io::Result<()>> {
    while !batch.is_empty() {
        let n = {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let k = batch.len().min(MAX_IOV);
            for (slot, b) in iov.iter_mut().zip(batch.iter()) {
                *slot = IoSlice::new(b);
            }
            match w.as_mut().poll_write_vectored(cx, &iov[..k]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        };
        let mut left = n;
        let mut done = 0;
        for b in batch.iter_mut() {
            if left >= b.len() {
                left -= b.len();
                done += 1;
            } else {
                b.advance(left);
                break;
            }
        }
        batch.drain(..done);
    }
    Poll::Ready(Ok(()))
}
