//! Helpers of wireloom-tokio's integration tests: the server on a
//! current-thread or a multi-thread tokio runtime (on a thread of its own,
//! so the tests talk to it with blocking sockets and real peer processes)
//! and async IO over `futures-io`. Peers, PKI, the raw-socket client, temp
//! dirs and bounded waits are `wireloom_testkit`'s. Every wait is bounded;
//! everything listens on 127.0.0.1, port 0.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wireloom_tokio::server::{ServerBuilder, ServerHandle};

/// The two tokio runtimes a caller may run the server on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `new_current_thread`: every connection shares one thread.
    Current,
    /// `new_multi_thread` with two workers.
    Multi,
}

/// Both flavours, for tests that run a scenario on each.
pub const FLAVORS: [Flavor; 2] = [Flavor::Current, Flavor::Multi];

/// A runtime of `flavor` with IO and time enabled.
pub fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    match flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    }
}

/// A server running `run()` on a runtime of its own thread.
pub struct Running {
    /// The first address listened on.
    pub addr: SocketAddr,
    /// Every address listened on.
    pub addrs: Vec<SocketAddr>,
    /// The server's handle.
    pub handle: ServerHandle,
    /// The runtime's handle, to spawn helper tasks next to the server.
    pub rt: tokio::runtime::Handle,
    done: mpsc::Receiver<io::Result<()>>,
    finished: bool,
}

/// Builds and runs `builder` on a fresh runtime of `flavor`.
pub fn start(flavor: Flavor, builder: ServerBuilder) -> Running {
    let server = builder.build().expect("build");
    let addrs = server.local_addrs().to_vec();
    let handle = server.handle();
    let (tx, done) = mpsc::channel();
    let (rt_tx, rt_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("server-{flavor:?}"))
        .spawn(move || {
            let rt = runtime(flavor);
            let _ = rt_tx.send(rt.handle().clone());
            let r = rt.block_on(server.run());
            let _ = tx.send(r);
            rt.shutdown_timeout(Duration::from_secs(1));
        })
        .unwrap();
    let rt = rt_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Running {
        addr: addrs[0],
        addrs,
        handle,
        rt,
        done,
        finished: false,
    }
}

impl Running {
    /// `http://ADDR`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown; asserts that `run()` returns (Ok) within `limit`,
    /// and returns how long it took.
    pub fn shutdown_within(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        self.handle.shutdown();
        let r = self
            .done
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("run() did not return within {limit:?}"));
        self.finished = true;
        r.expect("run() failed");
        started.elapsed()
    }

    /// Graceful shutdown (10 s bound).
    pub fn shutdown(mut self) {
        self.shutdown_within(Duration::from_secs(10));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.handle.shutdown();
            let _ = self.done.recv_timeout(Duration::from_secs(5));
        }
    }
}

/// Whether an HTTP-date value parses (IMF-fixdate, `... GMT`).
pub fn is_http_date(v: &str) -> bool {
    v.len() == 29 && v.ends_with(" GMT") && v.as_bytes()[3] == b','
}

/// Async IO helpers over the `futures-io` traits (what `Upgraded` speaks).
pub mod aio {
    use std::future::poll_fn;
    use std::io;
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};

    use futures_io::{AsyncRead, AsyncWrite};

    /// One read.
    pub async fn read<T: AsyncRead + Unpin + ?Sized>(
        io: &mut T,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf)).await
    }

    /// Writes all of `data` and flushes.
    pub async fn write_all<T: AsyncWrite + Unpin + ?Sized>(
        io: &mut T,
        mut data: &[u8],
    ) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
    }

    struct Half {
        buf: Vec<u8>,
        at: usize,
        end: usize,
    }

    impl Half {
        fn new() -> Half {
            Half {
                buf: vec![0; 16 * 1024],
                at: 0,
                end: 0,
            }
        }
        /// Copies `r` to `w`; ready at `r`'s end (or an error).
        fn poll<R, W>(&mut self, cx: &mut Context<'_>, r: &mut R, w: &mut W) -> Poll<io::Result<()>>
        where
            R: AsyncRead + Unpin + ?Sized,
            W: AsyncWrite + Unpin + ?Sized,
        {
            loop {
                if self.at < self.end {
                    let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.buf[self.at..self.end]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    self.at += n;
                    continue;
                }
                ready!(Pin::new(&mut *w).poll_flush(cx))?;
                let n = ready!(Pin::new(&mut *r).poll_read(cx, &mut self.buf))?;
                if n == 0 {
                    return Poll::Ready(Ok(()));
                }
                (self.at, self.end) = (0, n);
            }
        }
    }

    /// Relays bytes both ways until either side ends.
    pub async fn relay<A, B>(a: &mut A, b: &mut B)
    where
        A: AsyncRead + AsyncWrite + Unpin + ?Sized,
        B: AsyncRead + AsyncWrite + Unpin + ?Sized,
    {
        let (mut ab, mut ba) = (Half::new(), Half::new());
        poll_fn(|cx| {
            if ab.poll(cx, &mut *a, &mut *b).is_ready() || ba.poll(cx, &mut *b, &mut *a).is_ready()
            {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
        let _ = poll_fn(|cx| Pin::new(&mut *b).poll_close(cx)).await;
        let _ = poll_fn(|cx| Pin::new(&mut *a).poll_close(cx)).await;
    }
}

/// A stream of `n` pieces of `size` bytes (piece `i` filled with `i % 251`),
/// counting the pieces produced.
pub struct Pieces {
    pub left: u64,
    pub size: usize,
    pub made: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl futures_core::Stream for Pieces {
    type Item = io::Result<bytes::Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        let i = self.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(bytes::Bytes::from(vec![
            (i % 251) as u8;
            self.size
        ]))))
    }
}
