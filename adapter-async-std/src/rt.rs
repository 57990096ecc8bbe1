//! [`Runtime`] for async-std and smol: the engine in `wireloom-io` runs on
//! it.
//!
//! Sockets and timers come from `async-io`, the reactor async-std and smol
//! share (`Async<std::net::TcpStream>`, `async_io::Timer`); blocking calls
//! go to the `blocking` thread pool, which both use too. Only spawning
//! differs between the executors, and [`Executor`] picks it. The global
//! executors come with the cargo features of the same names (`async-std`,
//! `smol`, both on by default); a shared `async_executor::Executor` (which
//! is `smol::Executor`) needs neither.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use wireloom_io::rt::{BoxFuture, Runtime, Timer as RtTimer};

/// Where [`AsyncRuntime`] spawns tasks.
#[derive(Clone)]
#[non_exhaustive]
pub enum Executor {
    /// async-std's global executor (`async_std::task::spawn`); its thread
    /// count comes from the `ASYNC_STD_THREAD_COUNT` environment variable,
    /// read on first use (default: one per core). Feature `async-std`.
    #[cfg(feature = "async-std")]
    AsyncStd,
    /// smol's global executor (`smol::spawn`); its thread count comes from
    /// the `SMOL_THREADS` environment variable, read on first use
    /// (default: one thread). Feature `smol`; the default executor.
    #[cfg(feature = "smol")]
    Smol,
    /// An executor of the caller's (`async_executor::Executor`, which smol
    /// re-exports as `smol::Executor`), run by as many threads as the
    /// caller gives it (each calling `block_on(ex.run(..))`).
    Shared(Arc<async_executor::Executor<'static>>),
}

/// smol's global executor when the `smol` feature is on, else async-std's.
#[cfg(any(feature = "smol", feature = "async-std"))]
impl Default for Executor {
    fn default() -> Executor {
        #[cfg(feature = "smol")]
        return Executor::Smol;
        #[cfg(not(feature = "smol"))]
        return Executor::AsyncStd;
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "async-std")]
            Executor::AsyncStd => "AsyncStd",
            #[cfg(feature = "smol")]
            Executor::Smol => "Smol",
            Executor::Shared(_) => "Shared",
        })
    }
}

/// The runtime the server runs on: `async-io` sockets and timers, the
/// `blocking` pool, and tasks spawned on an [`Executor`] (smol's global
/// one by default).
///
/// ```
/// use std::sync::Arc;
/// use wireloom_async_std::{AsyncRuntime, Executor};
///
/// let rt = AsyncRuntime::async_std();
/// assert!(matches!(rt.executor(), Executor::AsyncStd));
/// assert!(matches!(AsyncRuntime::default().executor(), Executor::Smol));
/// // An executor of your own, run here by this thread alone:
/// let ex = Arc::new(smol::Executor::new());
/// let rt = AsyncRuntime::shared(ex);
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(any(feature = "smol", feature = "async-std"), derive(Default))]
pub struct AsyncRuntime {
    executor: Executor,
}

impl AsyncRuntime {
    /// A runtime spawning on `executor`.
    pub fn new(executor: Executor) -> AsyncRuntime {
        AsyncRuntime { executor }
    }

    /// async-std's global executor.
    #[cfg(feature = "async-std")]
    pub fn async_std() -> AsyncRuntime {
        AsyncRuntime::new(Executor::AsyncStd)
    }

    /// smol's global executor.
    #[cfg(feature = "smol")]
    pub fn smol() -> AsyncRuntime {
        AsyncRuntime::new(Executor::Smol)
    }

    /// An executor of the caller's (`smol::Executor`).
    pub fn shared(executor: Arc<async_executor::Executor<'static>>) -> AsyncRuntime {
        AsyncRuntime::new(Executor::Shared(executor))
    }

    /// Where tasks go.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Runs `fut` to completion on the current thread, the way the executor
    /// does it: `async_std::task::block_on`, `smol::block_on`, or (for a
    /// [`Shared`](Executor::Shared) executor) `smol::block_on(ex.run(fut))`,
    /// which makes this thread one of the executor's.
    pub fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        match &self.executor {
            #[cfg(feature = "async-std")]
            Executor::AsyncStd => async_std::task::block_on(fut),
            // smol::block_on is async-io's.
            #[cfg(feature = "smol")]
            Executor::Smol => async_io::block_on(fut),
            Executor::Shared(ex) => async_io::block_on(ex.run(fut)),
        }
    }
}

/// A TCP stream on the `async-io` reactor, seen through the `futures-io`
/// traits: vectored writes are one `writev`, and closing shuts down the
/// sending side (a FIN), as with tokio.
#[derive(Debug)]
pub struct TcpStream(pub Async<std::net::TcpStream>);

impl AsyncRead for TcpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // async-io's own: `write_vectored` on the socket, a real writev.
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // async-io's `poll_close` only flushes; the peer must see a FIN.
        ready!(Pin::new(&mut self.0).poll_flush(cx))?;
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
    }
}

/// `async_io::Timer`, re-armed in place, that stays fired until reset
/// (`async_io::Timer` itself goes pending again after it fires once).
#[derive(Debug)]
pub struct Timer {
    inner: async_io::Timer,
    fired: bool,
}

impl RtTimer for Timer {
    fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.fired {
            ready!(Pin::new(&mut self.inner).poll(cx));
            self.fired = true;
        }
        Poll::Ready(())
    }
    fn reset(&mut self, deadline: Instant) {
        self.fired = false;
        self.inner.set_at(deadline);
    }
}

/// A listening socket on the `async-io` reactor.
pub type TcpListener = Async<std::net::TcpListener>;

impl Runtime for AsyncRuntime {
    type Tcp = TcpStream;
    type Listener = TcpListener;
    type Timer = Timer;

    fn listener(&self, l: std::net::TcpListener) -> io::Result<Self::Listener> {
        // Sets the socket non-blocking.
        Async::new(l)
    }

    fn poll_accept(
        &self,
        l: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Tcp, SocketAddr)>> {
        loop {
            match l.get_ref().accept() {
                Ok((s, peer)) => {
                    let _ = s.set_nodelay(true);
                    return Poll::Ready(Async::new(s).map(|s| (TcpStream(s), peer)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(l.poll_readable(cx))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::Tcp>> {
        Box::pin(async move {
            let s = Async::<std::net::TcpStream>::connect(addr).await?;
            let _ = s.get_ref().set_nodelay(true);
            Ok(TcpStream(s))
        })
    }

    fn timer(&self, deadline: Instant) -> Self::Timer {
        Timer {
            inner: async_io::Timer::at(deadline),
            fired: false,
        }
    }

    fn spawn(&self, fut: BoxFuture<'static, ()>) {
        match &self.executor {
            // Dropping async-std's handle detaches the task.
            #[cfg(feature = "async-std")]
            Executor::AsyncStd => drop(async_std::task::spawn(fut)),
            #[cfg(feature = "smol")]
            Executor::Smol => smol::spawn(fut).detach(),
            Executor::Shared(ex) => ex.spawn(fut).detach(),
        }
    }

    fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> BoxFuture<'static, T> {
        // The pool async-std and smol both use; a panic in `f` resumes in
        // the awaiting task.
        Box::pin(blocking::unblock(f))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::io::{IoSlice, Read};
    use std::time::Duration;

    use super::*;

    fn rt() -> AsyncRuntime {
        AsyncRuntime::shared(Arc::new(async_executor::Executor::new()))
    }

    #[test]
    fn timer_stays_fired_until_reset() {
        let rt = rt();
        rt.clone().block_on(async move {
            let start = Instant::now();
            let mut t = rt.timer(start + Duration::from_millis(20));
            poll_fn(|cx| t.poll_fire(cx)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            // Fired stays fired (async_io::Timer alone would be pending).
            for _ in 0..3 {
                assert!(poll_fn(|cx| Poll::Ready(t.poll_fire(cx))).await.is_ready());
            }
            // Re-armed: pending again until the new deadline.
            let again = Instant::now();
            t.reset(again + Duration::from_millis(30));
            assert!(poll_fn(|cx| Poll::Ready(t.poll_fire(cx)))
                .await
                .is_pending());
            poll_fn(|cx| t.poll_fire(cx)).await;
            assert!(again.elapsed() >= Duration::from_millis(30));
            // A deadline already past fires at once.
            t.reset(Instant::now() - Duration::from_millis(1));
            assert!(poll_fn(|cx| Poll::Ready(t.poll_fire(cx))).await.is_ready());
        });
    }

    #[test]
    fn accept_connect_writev_and_fin() {
        let rt = rt();
        rt.clone().block_on(async move {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_listener.local_addr().unwrap();
            let l = rt.listener(std_listener).unwrap();
            let mut client = rt.connect(addr).await.unwrap();
            assert!(client.0.get_ref().nodelay().unwrap());
            let (server, peer) = poll_fn(|cx| rt.poll_accept(&l, cx)).await.unwrap();
            assert_eq!(peer, client.0.get_ref().local_addr().unwrap());
            assert!(server.0.get_ref().nodelay().unwrap());

            // One writev takes all three slices (loopback has room).
            let bufs = [
                IoSlice::new(b"one "),
                IoSlice::new(b"two "),
                IoSlice::new(b"three"),
            ];
            let n = poll_fn(|cx| Pin::new(&mut client).poll_write_vectored(cx, &bufs))
                .await
                .unwrap();
            assert_eq!(n, 13);
            // Closing sends a FIN: the peer reads everything, then EOF.
            poll_fn(|cx| Pin::new(&mut client).poll_close(cx))
                .await
                .unwrap();
            let got = rt
                .spawn_blocking(move || {
                    let mut s = server.0.into_inner().unwrap();
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut v = Vec::new();
                    s.read_to_end(&mut v).map(|_| v)
                })
                .await
                .unwrap();
            assert_eq!(got, b"one two three");
        });
    }

    #[test]
    #[cfg(all(feature = "async-std", feature = "smol"))]
    fn spawn_and_spawn_blocking_on_each_executor() {
        for rt in [AsyncRuntime::async_std(), AsyncRuntime::smol(), rt()] {
            let (tx, rx) = std::sync::mpsc::channel();
            rt.spawn(Box::pin(async move {
                tx.send(()).unwrap();
            }));
            let v = rt.block_on(async {
                let v = rt.spawn_blocking(|| 40 + 2).await;
                // The spawned task ran on the executor (a shared one runs
                // while this thread blocks on it).
                while rx.try_recv().is_err() {
                    async_io::Timer::after(Duration::from_millis(1)).await;
                }
                v
            });
            assert_eq!(v, 42);
        }
    }
}
