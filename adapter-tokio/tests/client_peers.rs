//! The async client on tokio against real servers started here on
//! 127.0.0.1: nginx (plain and TLS) and Python's http.server (the
//! scenarios every async adapter runs, `wireloom_testkit::scenarios`),
//! many tasks sharing one agent, our own tokio server (redirects, uploads,
//! pool limits) and scripted sockets (a dead pooled connection, timeouts).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use futures_io::AsyncRead;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::net::{free_port, full_listener, silent_server};
use wireloom_testkit::scenarios::client::{self as scenarios, nginx};
use wireloom_tokio::client::{Agent, AgentConfig, HttpError, PoolConfig, Timeout};
use wireloom_tokio::core::http::{Method, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, BoxHandler, Request, Response as ServerResponse, Server};
use wireloom_tokio::TokioRuntime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_nginx() {
    scenarios::agent_against_nginx(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_nginx_tls() {
    scenarios::agent_against_nginx_tls(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_python_http_server() {
    scenarios::agent_against_python_http_server(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tasks_share_one_agent() {
    let root = temp_dir("tokio-nginx-64");
    let (_nginx, port) = nginx(&root, "", "");
    let agent = Agent::new();
    let url = format!("http://127.0.0.1:{port}/conn");
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (agent, url) = (agent.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..20 {
                let res = agent.get(&url).send().await.unwrap();
                conns.push(res.header("x-conn").unwrap().to_string());
                assert_eq!(res.text(10).await.unwrap(), "ok");
            }
            conns
        }));
    }
    let mut conns = HashSet::new();
    let mut requests = 0;
    for t in tasks {
        let got = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("tasks finish")
            .unwrap();
        requests += got.len();
        conns.extend(got);
    }
    assert_eq!(requests, 64 * 20);
    // Connections were reused: at most one per task at a time.
    assert!(conns.len() <= 64, "{} connections", conns.len());
    // The pool keeps at most 8 idle connections per host.
    assert!(
        (1..=8).contains(&agent.idle_connections()),
        "{}",
        agent.idle_connections()
    );
    std::fs::remove_dir_all(&root).ok();
}

/// Our own tokio server: echoes, redirects, the peer port, a slow route.
fn our_server() -> (wireloom_tokio::server::ServerHandle, SocketAddr) {
    let mut r: Router<BoxHandler> = Router::new();
    r.route(
        Method::GET,
        "/auth",
        handler(|req: Request| async move {
            ServerResponse::text(
                StatusCode::OK,
                format!(
                    "auth={} cookie={}",
                    req.header("authorization").unwrap_or("-"),
                    req.header("cookie").unwrap_or("-")
                ),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/to-auth",
        handler(|_: Request| async {
            ServerResponse::new(StatusCode::FOUND).header("Location", "/auth")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/loop",
        handler(|_: Request| async {
            ServerResponse::new(StatusCode::FOUND).header("Location", "/loop")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/peer",
        handler(|req: Request| async move {
            let port = req.peer_addr().map_or(0, |a| a.port());
            ServerResponse::text(StatusCode::OK, port.to_string())
        }),
    )
    .unwrap();
    r.any(
        "/echo",
        handler(|mut req: Request| async move {
            let m = req.method().to_string();
            let b = req.read_body(1 << 22).await.unwrap_or_default();
            ServerResponse::text(
                StatusCode::OK,
                format!("{m} {}", String::from_utf8_lossy(&b)),
            )
        }),
    )
    .unwrap();
    for (path, status) in [
        ("/go307", StatusCode::TEMPORARY_REDIRECT),
        ("/go302", StatusCode::FOUND),
    ] {
        r.route(
            Method::POST,
            path,
            handler(move |_: Request| async move {
                ServerResponse::new(status).header("Location", "/echo")
            }),
        )
        .unwrap();
    }
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    (server.spawn(), addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_strip_credentials_across_origins() {
    let (h1, a1) = our_server();
    let (h2, a2) = our_server();
    // A tiny redirector on a third port: first to the other origin, then
    // to the first server (another port is another origin too).
    let redirector = TcpListener::bind("127.0.0.1:0").unwrap();
    let raddr = redirector.local_addr().unwrap();
    let targets = [format!("http://{a2}/auth"), format!("http://{a1}/auth")];
    let t = std::thread::spawn(move || {
        for (loc, s) in targets.into_iter().zip(redirector.incoming()) {
            let mut s = s.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let agent = Agent::new();
    for path in ["start", "again"] {
        let res = agent
            .get(&format!("http://{raddr}/{path}"))
            .header("Authorization", "Bearer secret")
            .header("Cookie", "session=1")
            .send()
            .await
            .unwrap();
        assert_eq!(res.text(100).await.unwrap(), "auth=- cookie=-");
    }
    t.join().unwrap();
    // A same-origin redirect keeps them.
    let res = agent
        .get(&format!("http://{a1}/to-auth"))
        .header("Authorization", "Bearer secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text(100).await.unwrap(), "auth=Bearer secret cookie=-");
    // 307 keeps POST and its body, 302 turns POST into GET.
    let res = agent
        .post(&format!("http://{a1}/go307"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text(100).await.unwrap(), "POST payload");
    let res = agent
        .post(&format!("http://{a1}/go302"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text(100).await.unwrap(), "GET ");
    // A 307 with a streamed body is not followed (the body is gone).
    let res = agent
        .post(&format!("http://{a1}/go307"))
        .body_stream(Pieces::new(3, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    // Loops end.
    let r = agent.get(&format!("http://{a1}/loop")).send().await;
    assert!(matches!(r, Err(HttpError::TooManyRedirects(5))), "{r:?}");
    h1.shutdown();
    h2.shutdown();
}

/// A stream of `n` pieces of `size` bytes `z`.
struct Pieces {
    left: usize,
    size: usize,
}

impl Pieces {
    fn new(n: usize, size: usize) -> Pieces {
        Pieces { left: n, size }
    }
}

impl Stream for Pieces {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Bytes::from(vec![b'z'; self.size]))))
    }
}

/// `n` bytes `y` through `futures-io` `AsyncRead`.
struct Ys(usize);

impl AsyncRead for Ys {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.0);
        buf[..n].fill(b'y');
        self.0 -= n;
        Poll::Ready(Ok(n))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_uploads_methods_and_pool_limits() {
    let (h, addr) = our_server();
    let agent = Agent::with_config(AgentConfig {
        pool: PoolConfig {
            max_idle_per_key: 1,
            idle_timeout: Duration::from_millis(400),
            ..PoolConfig::default()
        },
        ..AgentConfig::default()
    });
    let echo = format!("http://{addr}/echo");
    // Streamed uploads (chunked): a Stream of Bytes and an AsyncRead.
    let res = agent
        .put(&echo)
        .body_stream(Pieces::new(10, 10_000))
        .send()
        .await
        .unwrap();
    let text = res.text(1 << 20).await.unwrap();
    assert_eq!(text.len(), 4 + 100_000);
    assert!(text[4..].bytes().all(|b| b == b'z'));
    let res = agent
        .post(&echo)
        .body_reader(Ys(300_000))
        .send()
        .await
        .unwrap();
    let text = res.text(1 << 20).await.unwrap();
    assert_eq!(text.len(), 5 + 300_000);
    // Every method, on the pooled connection.
    for m in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::from_bytes(b"PURGE").unwrap(),
    ] {
        let res = agent
            .request(m.clone(), &echo)
            .header("X-Custom", "1")
            .body("b")
            .send()
            .await
            .unwrap();
        assert_eq!(res.text(100).await.unwrap(), format!("{m} b"));
    }
    // Two responses open at once: two connections; only one is kept idle
    // for this host, the most recently returned.
    let url = format!("http://{addr}/peer");
    let r1 = agent.get(&url).send().await.unwrap();
    let r2 = agent.get(&url).send().await.unwrap();
    let p1: u16 = r1.text(100).await.unwrap().parse().unwrap();
    let p2: u16 = r2.text(100).await.unwrap().parse().unwrap();
    assert_ne!(p1, p2);
    assert_eq!(agent.idle_connections(), 1);
    let p3: u16 = agent
        .get(&url)
        .send()
        .await
        .unwrap()
        .text(100)
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(p3, p2);
    // Past the idle timeout the pooled connection is not reused.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let p4: u16 = agent
        .get(&url)
        .send()
        .await
        .unwrap()
        .text(100)
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(p4 != p1 && p4 != p2, "{p4} reused after the idle timeout");
    h.shutdown();
}

/// A server that answers `answered` requests per connection (keep-alive
/// advertised), then reads one more and closes without answering; it
/// takes `conns` connections and counts them.
fn one_shot_server(
    conns: usize,
    answered: usize,
    linger: Duration,
) -> (std::thread::JoinHandle<()>, SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = Arc::clone(&accepted);
    let t = std::thread::spawn(move || {
        for s in l.incoming().take(conns) {
            let mut s = s.unwrap();
            acc.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            for _ in 0..answered {
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
            std::thread::sleep(linger);
            if linger.is_zero() {
                let _ = s.read(&mut buf);
            }
        }
    });
    (t, addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_pooled_connection_is_retried_once() {
    // The server closes a connection after one answer, while it sits in
    // the pool: the agent sees it closed before reuse and connects anew,
    // for a POST too.
    let (t, addr, accepted) = one_shot_server(3, 1, Duration::from_millis(50));
    let agent = Agent::new();
    for _ in 0..2 {
        let res = agent.get(&format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(res.text(10).await.unwrap(), "ok");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let res = agent
        .post(&format!("http://{addr}/"))
        .body("x")
        .send()
        .await;
    assert_eq!(res.unwrap().text(10).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    t.join().unwrap();

    // The server closes when the reused connection's request arrives: the
    // GET is sent again on a fresh connection (once); a POST is not.
    let (t, addr, accepted) = one_shot_server(2, 1, Duration::ZERO);
    let agent = Agent::new();
    for _ in 0..2 {
        let res = agent.get(&format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(res.text(10).await.unwrap(), "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let r = agent
        .post(&format!("http://{addr}/"))
        .body("x")
        .send()
        .await;
    assert!(matches!(&r, Err(e) if e.before_response()), "{r:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    t.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_fire_and_errors_are_typed() {
    // Read: no response head.
    let (h, addr) = silent_server();
    let agent = Agent::with_config(AgentConfig {
        read_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    let r = agent.get(&format!("http://{addr}/")).send().await;
    assert!(matches!(r, Err(HttpError::Timeout(Timeout::Read))), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    h.join().unwrap();

    // Total: the request's own bound.
    let (h, addr) = silent_server();
    let started = Instant::now();
    let r = Agent::new()
        .get(&format!("http://{addr}/"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        matches!(r, Err(HttpError::Timeout(Timeout::Total))),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    h.join().unwrap();

    // Read, mid-body: the head and part of the body, then silence.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut res = agent.get(&format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(&res.chunk().await.unwrap().unwrap()[..], b"half");
    let r = res.chunk().await;
    assert!(matches!(r, Err(HttpError::Timeout(Timeout::Read))), "{r:?}");
    h.join().unwrap();

    // Write: the server never reads a large streamed upload.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(s);
    });
    let agent = Agent::with_config(AgentConfig {
        write_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    let r = agent
        .put(&format!("http://{addr}/sink"))
        .body_stream(Pieces::new(4096, 64 * 1024))
        .send()
        .await;
    assert!(
        matches!(r, Err(HttpError::Timeout(Timeout::Write))),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    h.join().unwrap();

    // Connect: a listener whose accept queue is full drops new SYNs.
    let s = full_listener();
    let full = s.0;
    let agent = Agent::with_config(AgentConfig {
        connect_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    let r = agent.get(&format!("http://{full}/")).send().await;
    assert!(
        matches!(r, Err(HttpError::Timeout(Timeout::Connect))),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(s);

    // Refused, bad URL, bad header, and a request core refuses to send
    // (local misuse: never an IO error, never retried).
    let agent = Agent::new();
    let port = free_port();
    let r = agent.get(&format!("http://127.0.0.1:{port}/")).send().await;
    assert!(matches!(r, Err(HttpError::Connect(_))), "{r:?}");
    let r = agent.get("ftp://x/").send().await;
    assert!(matches!(r, Err(HttpError::BadUrl(_))), "{r:?}");
    let r = agent.get("http://x/").header("X", "a\r\nb").send().await;
    assert!(matches!(r, Err(HttpError::BadHeader(_))), "{r:?}");
    let (h, addr) = our_server();
    let r = agent
        .post(&format!("http://{addr}/echo"))
        .header("Content-Length", "5")
        .body("abc")
        .send()
        .await;
    assert!(matches!(r, Err(HttpError::Usage(_))), "{r:?}");
    h.shutdown();
}
