//! Helpers shared by the integration tests: every scenario runs under each
//! executor, peers (curl, Python) run on the `blocking` pool with a time
//! limit, and servers start on 127.0.0.1:0.
#![allow(dead_code)]

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wireloom_async_std::server::{Server, ServerBuilder, ServerHandle};
use wireloom_async_std::AsyncRuntime;
use wireloom_io::rt::Runtime;

/// Bound on one scenario under one executor.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);
/// Bound on one peer process.
pub const PEER_LIMIT: Duration = Duration::from_secs(20);

/// The executors every scenario runs under: async-std's global executor,
/// smol's global executor, and a `smol::Executor` run by the test thread
/// alone (single-threaded: anything that blocks the executor deadlocks
/// here instead of passing by luck).
pub fn executors() -> Vec<(&'static str, AsyncRuntime)> {
    vec![
        ("async-std", AsyncRuntime::async_std()),
        ("smol", AsyncRuntime::smol()),
        (
            "smol-executor-1-thread",
            AsyncRuntime::shared(Arc::new(smol::Executor::new())),
        ),
    ]
}

/// Runs `body` under each executor (`async_std::task::block_on`,
/// `smol::block_on`, `smol::block_on(ex.run(..))`), each bounded by
/// [`SCENARIO_LIMIT`].
pub fn each_executor<F, Fut>(body: F)
where
    F: Fn(AsyncRuntime) -> Fut,
    Fut: Future<Output = ()>,
{
    for (name, rt) in executors() {
        eprintln!("--- under {name}");
        let fut = body(rt.clone());
        let limit = async {
            async_io::Timer::after(SCENARIO_LIMIT).await;
            panic!("scenario did not finish within {SCENARIO_LIMIT:?} under {name}");
        };
        rt.block_on(smol::future::or(fut, limit));
    }
}

/// A server serving on the runtime, stopped (and awaited) by [`Running::stop`].
pub struct Running {
    pub handle: ServerHandle,
    pub addr: SocketAddr,
    done: smol::channel::Receiver<io::Result<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits (bounded) for `run()` to return, after a shutdown.
    pub async fn finished(&self, limit: Duration) -> io::Result<()> {
        let wait = async {
            self.done
                .recv()
                .await
                .unwrap_or_else(|_| Err(io::Error::other("run() task vanished")))
        };
        let limit = async {
            async_io::Timer::after(limit).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "run() did not return",
            ))
        };
        smol::future::or(wait, limit).await
    }

    /// Graceful shutdown; asserts that `run()` returns within 10 s.
    pub async fn stop(self) {
        self.handle.shutdown();
        self.finished(Duration::from_secs(10))
            .await
            .expect("run() returns after shutdown");
    }
}

/// Binds `builder` to 127.0.0.1:0 and runs it on a task of `rt`.
pub fn start(rt: &AsyncRuntime, builder: ServerBuilder) -> Running {
    let server = builder
        .bind("127.0.0.1:0")
        .expect("resolve")
        .build()
        .expect("listen");
    start_built(rt, server)
}

/// Runs a built server on a task of `rt`.
pub fn start_built(rt: &AsyncRuntime, server: Server) -> Running {
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let (tx, done) = smol::channel::bounded(1);
    rt.spawn(Box::pin(async move {
        let _ = tx.send(server.run().await).await;
    }));
    Running { handle, addr, done }
}

/// Kills and reaps the child when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion (blocking), killing it after `limit`.
pub fn run_blocking(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut guard = ChildGuard(child);
    // Drain the pipes on threads so a chatty peer never blocks on them.
    let mut out_pipe = guard.0.stdout.take().expect("stdout");
    let mut err_pipe = guard.0.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            drop(guard);
            panic!("{cmd:?} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Runs a command on the `blocking` pool (never on the executor).
pub async fn run(cmd: Command) -> Output {
    blocking::unblock(move || run_blocking(cmd, PEER_LIMIT)).await
}

/// curl with `-sS --max-time 15` and `args`: (stdout, stderr).
pub async fn curl(args: &[&str]) -> (String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "15"]).args(args);
    let out = run(cmd).await;
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `python3 -c script`; asserts it printed `ok` and returns its stdout.
pub async fn python(script: String) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script);
    let out = run(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.lines().last() == Some("ok"),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs blocking socket code on the `blocking` pool.
pub async fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking::unblock(f).await
}

/// A blocking loopback connection with 10 s read/write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one response with a `Content-Length` body (blocking): (head, body).
/// Bytes past it stay in `rest` for the next call.
pub fn read_response(s: &mut TcpStream, rest: &mut Vec<u8>) -> (String, Vec<u8>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(rest, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            while rest.len() < end + 4 + len {
                let n = s.read(&mut buf).expect("read body");
                assert!(n > 0, "EOF inside a body after {head}");
                rest.extend_from_slice(&buf[..n]);
            }
            let body = rest[end + 4..end + 4 + len].to_vec();
            rest.drain(..end + 4 + len);
            return (head, body);
        }
        let n = s.read(&mut buf).expect("read head");
        assert!(n > 0, "EOF before a response head");
        rest.extend_from_slice(&buf[..n]);
    }
}

/// Sends `req` and reads the response on a blocking socket.
pub fn exchange(s: &mut TcpStream, req: &str) -> (String, Vec<u8>) {
    s.write_all(req.as_bytes()).expect("write");
    read_response(s, &mut Vec::new())
}

/// Reads until EOF (blocking); `Err` on a timeout.
pub fn read_to_eof(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    s.read_to_end(&mut v)?;
    Ok(v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!(
        "wireloom-async-std-{tag}-{}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Sleeps on the runtime's timer.
pub async fn sleep(d: Duration) {
    async_io::Timer::after(d).await;
}
