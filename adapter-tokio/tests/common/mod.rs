//! Helpers shared by wireloom-tokio's integration tests: the server on a
//! current-thread or a multi-thread tokio runtime (on a thread of its own,
//! so the tests talk to it with blocking sockets and real peer processes),
//! a small HTTP/1.1 response reader for raw-socket checks, curl and Python.
//! Every wait is bounded; everything listens on 127.0.0.1, port 0.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wireloom_tokio::server::{ServerBuilder, ServerHandle};

pub mod pki;

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

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("wireloom-tokio-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A connected client socket with 10 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `req` on a new connection and reads until the server closes it.
pub fn exchange(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    /// The head as text (status line and fields, without the blank line).
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl Resp {
    /// The first value of `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Whether the response announces `Connection: close`.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A client connection that reads responses one at a time (pipelining),
/// keeping bytes read past a response for the next.
pub struct Client {
    pub s: TcpStream,
    buf: Vec<u8>,
    /// Read calls that returned data.
    pub reads: usize,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            s: connect(addr),
            buf: Vec::new(),
            reads: 0,
        }
    }

    /// Over an already connected socket.
    pub fn from_stream(s: TcpStream) -> Client {
        Client {
            s,
            buf: Vec::new(),
            reads: 0,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.s.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        if n > 0 {
            self.reads += 1;
        }
        Ok(n)
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads one response head (interim ones included).
    pub fn head(&mut self) -> io::Result<Resp> {
        let status_line = self.line()?;
        let status = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.clone()))?;
        let mut head = status_line;
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            head.push_str("\r\n");
            head.push_str(&l);
            let (n, v) = l.split_once(':').unwrap_or((&l, ""));
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        Ok(Resp {
            status,
            head,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
        })
    }

    /// Reads one final response (skipping 1xx), with its body unless it
    /// answers a HEAD request (`head_request`).
    pub fn response(&mut self, head_request: bool) -> io::Result<Resp> {
        let mut r = self.head()?;
        while (100..200).contains(&r.status) && r.status != 101 {
            r = self.head()?;
        }
        if head_request || r.status == 204 || r.status == 304 || r.status == 101 {
            return Ok(r);
        }
        if r.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked"))
        {
            loop {
                let size_line = self.line()?;
                let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, size_line))?;
                if size == 0 {
                    loop {
                        let l = self.line()?;
                        if l.is_empty() {
                            break;
                        }
                        let (n, v) = l.split_once(':').unwrap_or((&l, ""));
                        r.trailers
                            .push((n.trim().to_string(), v.trim().to_string()));
                    }
                    break;
                }
                let data = self.exact(size)?;
                r.body.extend_from_slice(&data);
                self.exact(2)?;
            }
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().unwrap();
            r.body = self.exact(len)?;
        } else {
            // Delimited by the close.
            while self.fill()? > 0 {}
            r.body = std::mem::take(&mut self.buf);
        }
        Ok(r)
    }

    /// True when the server has closed the connection (EOF, or reset)
    /// within the read timeout, with no byte left unread.
    pub fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match self.fill() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ),
        }
    }

    /// Bytes read but not yet parsed.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}

/// One request, its response.
pub fn request(addr: SocketAddr, req: &[u8]) -> Resp {
    let mut c = Client::new(addr);
    c.send(req);
    c.response(req.starts_with(b"HEAD ")).unwrap()
}

/// Kills and reaps a child process when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion, killing it after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut guard = ChildGuard(child);
    // Drain the pipes on threads so a chatty child cannot block.
    let mut so = guard.0.stdout.take().unwrap();
    let mut se = guard.0.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{cmd:?} did not finish in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

/// Runs curl (silent, errors shown, 20 s cap); returns stdout and stderr.
pub fn curl(args: &[&str]) -> (String, String) {
    let out = curl_raw(args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs curl and returns its whole output.
pub fn curl_raw(args: &[&str]) -> Output {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .args(args),
        Duration::from_secs(25),
    )
}

/// Runs a Python script (with `args`); asserts it printed `ok`.
pub fn python_ok(script: &str, args: &[&str]) {
    let out = run(
        Command::new("python3").arg("-c").arg(script).args(args),
        Duration::from_secs(60),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `f` every 10 ms until it is true, for at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
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
