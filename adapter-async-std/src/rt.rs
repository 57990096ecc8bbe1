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
