//! Helpers of wireloom-async-std's integration tests: every scenario runs
//! under each executor, peers (curl, Python) run on the `blocking` pool
//! with a time limit (a blocking call on the executor would stall the
//! server under test), and servers start on 127.0.0.1:0. Peers, PKI, the
//! raw-socket client and temp dirs are `wireloom_testkit`'s.
#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

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

/// Runs a command on the `blocking` pool (never on the executor).
pub async fn run(mut cmd: Command) -> Output {
    blocking::unblock(move || wireloom_testkit::process::run(&mut cmd, PEER_LIMIT)).await
}

/// [`wireloom_testkit::process::curl`] on the `blocking` pool: (stdout,
/// stderr).
pub async fn curl(args: &[&str]) -> (String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    unblock(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wireloom_testkit::process::curl(&args)
    })
    .await
}

/// [`wireloom_testkit::process::python_ok`] on the `blocking` pool:
/// asserts that the script printed `ok`.
pub async fn python_ok(script: String) {
    unblock(move || wireloom_testkit::process::python_ok(&script, &[])).await
}

/// Runs blocking socket code on the `blocking` pool.
pub async fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking::unblock(f).await
}

/// Sleeps on the runtime's timer.
pub async fn sleep(d: Duration) {
    async_io::Timer::after(d).await;
}
