//! The runtime abstraction the async engine ([`crate::aio`]) is written
//! against, in the spirit of quinn's `Runtime`: a TCP stream speaking
//! `futures-io`, a listener, a re-armable timer, task spawning and a pool
//! for blocking calls. `wireloom-tokio` and `wireloom-async-std` each
//! implement it in a few dozen lines; everything else (drivers, server,
//! client, SMTP) is written once.
//!
//! ```
//! use wireloom_io::rt::Runtime;
//! fn needs_runtime<R: Runtime>(_rt: &R) {}
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A timer that fires once at a deadline and can be moved to a new one
/// without being rebuilt.
pub trait Timer: Send + Unpin + 'static {
    /// Ready once the deadline has passed (and stays ready until
    /// [`reset`](Timer::reset)).
    fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// Moves the deadline.
    fn reset(&mut self, deadline: Instant);
}

/// What an async runtime lends the engine.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected TCP stream. `poll_write_vectored` should be a real
    /// `writev`: the server batches pipelined responses into one.
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A listening socket.
    type Listener: Send + Sync + 'static;
    /// The runtime's timer.
    type Timer: Timer;

    /// Registers a bound, listening std socket with the runtime (it is set
    /// non-blocking here).
    fn listener(&self, l: std::net::TcpListener) -> io::Result<Self::Listener>;
    /// Accepts the next connection (with `TCP_NODELAY` set).
    fn poll_accept(
        &self,
        l: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Tcp, SocketAddr)>>;
    /// Connects to `addr` (with `TCP_NODELAY` set).
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::Tcp>>;
    /// A timer armed at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;
    /// Runs `fut` as a task of its own.
    fn spawn(&self, fut: BoxFuture<'static, ()>);
    /// Runs `f` on the runtime's pool for blocking calls (file system,
    /// DNS) and resolves to its result.
    fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> BoxFuture<'static, T>;
}

/// Sleeps until `deadline` on `rt`'s timer.
pub async fn sleep_until<R: Runtime>(rt: &R, deadline: Instant) {
    let mut t = rt.timer(deadline);
    std::future::poll_fn(|cx| t.poll_fire(cx)).await
}

/// Runs `fut` but gives up at `deadline` (`None`: never) with
/// `io::ErrorKind::TimedOut`.
pub async fn timeout_at<R: Runtime, T>(
    rt: &R,
    deadline: Option<Instant>,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    let Some(deadline) = deadline else {
        return fut.await;
    };
    let mut t = rt.timer(deadline);
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        match t.poll_fire(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
