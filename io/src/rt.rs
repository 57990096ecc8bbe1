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

/// Runs `fut` until `deadline` (`None`: no deadline): `Some(output)`, or
/// `None` when the deadline passed first. The timer is armed only if `fut`
/// does not finish on its first poll.
pub async fn until<R: Runtime, F: Future>(
    rt: &R,
    deadline: Option<Instant>,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    poll_until(rt, deadline, |cx| fut.as_mut().poll(cx)).await
}

/// [`until`] for a poll function: `Some(output)` once `f` is ready, `None`
/// when `deadline` passed first. The timer is armed only once `f` was
/// pending.
pub async fn poll_until<R: Runtime, T>(
    rt: &R,
    deadline: Option<Instant>,
    mut f: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Option<T> {
    let mut timer: Option<R::Timer> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f(cx) {
            return Poll::Ready(Some(v));
        }
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        timer
            .get_or_insert_with(|| rt.timer(deadline))
            .poll_fire(cx)
            .map(|()| None)
    })
    .await
}

/// Resolves `host` (on the blocking pool, unless it is an IP literal) and
/// connects to the first address that answers, all of it before
/// `deadline` (not a timeout per address). A timeout is an error of kind
/// [`io::ErrorKind::TimedOut`]. The HTTP and SMTP clients connect with it.
pub async fn connect_host<R: Runtime>(
    rt: &R,
    host: &str,
    port: u16,
    deadline: Instant,
) -> io::Result<R::Tcp> {
    let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let owned = host.to_string();
            let lookup = rt.spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(owned.as_str(), port))
                    .map(Iterator::collect)
            });
            until(rt, Some(deadline), lookup)
                .await
                .ok_or(io::ErrorKind::TimedOut)??
        }
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match until(rt, Some(deadline), rt.connect(addr)).await {
            Some(Ok(s)) => return Ok(s),
            Some(Err(e)) => last = e,
            None => return Err(io::ErrorKind::TimedOut.into()),
        }
    }
    Err(last)
}
