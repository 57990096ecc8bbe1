//! The async client on tokio against real servers started here on
//! 127.0.0.1: nginx (plain and TLS), Python's http.server, our own tokio
//! server (redirects, uploads, pool limits) and scripted sockets (a dead
//! pooled connection, timeouts).

#[path = "../../adapter-blocking/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::future::poll_fn;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{free_port, pki, start_nginx, temp_dir, wait_port, Peer};
use futures_core::Stream;
use futures_io::AsyncRead;
use wireloom_tokio::client::{Agent, AgentConfig, HttpError, PoolConfig, Response, Timeout};
use wireloom_tokio::core::http::{Method, StatusCode, Version};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, BoxHandler, Request, Response as ServerResponse, Server};
use wireloom_tokio::tls::ClientTlsConfig;

/// nginx serving `root` with a few locations; `X-Conn` names the
/// connection a request came on, `X-Requests` counts its requests.
fn nginx(root: &std::path::Path, listen_extra: &str, tls: &str) -> (Peer, u16) {
    start_nginx(
        listen_extra,
        &format!(
            r#"{tls}
        root {root};
        location = /moved {{ return 301 /hello.txt; }}
        location = /see-other {{ return 303 /hello.txt; }}
        location = /conn {{
            add_header X-Conn $connection always;
            add_header X-Requests $connection_requests always;
            return 200 "ok";
        }}"#,
            root = root.display()
        ),
    )
}

/// Reads a body through `futures-io` `AsyncRead`, `n` bytes at a time.
async fn read_small(res: &mut Response, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; n];
    loop {
        let got = poll_fn(|cx| Pin::new(&mut *res).poll_read(cx, &mut buf))
            .await
            .unwrap();
        if got == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..got]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_nginx() {
    let root = temp_dir("tokio-nginx");
    std::fs::write(root.join("hello.txt"), "hello from nginx\n").unwrap();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let (_nginx, port) = nginx(&root, "", "");
    let agent = Agent::new();
    let base = format!("http://127.0.0.1:{port}");

    let res = agent
        .get(&format!("{base}/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/plain"));
    assert_eq!(res.text(1 << 20).await.unwrap(), "hello from nginx\n");

    // Keep-alive: the pooled connection carries the next requests (one
    // nginx connection, its request counter going up).
    let mut conns = HashSet::new();
    for i in 1..=3 {
        let res = agent.get(&format!("{base}/conn")).send().await.unwrap();
        conns.insert(res.header("x-conn").unwrap().to_string());
        assert_eq!(res.header("x-requests"), Some(&*format!("{}", i + 1)));
        res.bytes(100).await.unwrap();
    }
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(agent.idle_connections(), 1);

    // A large body streamed in pieces, and through AsyncRead.
    let mut res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    let (mut got, mut pieces) = (Vec::with_capacity(big.len()), 0);
    while let Some(piece) = res.chunk().await.unwrap() {
        pieces += 1;
        got.extend_from_slice(&piece);
    }
    assert!(got == big, "streamed body differs");
    assert!(pieces > 10, "{pieces} pieces");
    let mut res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    assert!(read_small(&mut res, 7777).await == big);
    let res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    assert!(matches!(
        res.bytes(1000).await,
        Err(HttpError::BodyTooLarge(1000))
    ));

    // Redirects: followed, or not; 303 turns POST into GET.
    let res = agent.get(&format!("{base}/moved")).send().await.unwrap();
    assert!(res.url().ends_with("/hello.txt"), "{}", res.url());
    assert_eq!(res.text(100).await.unwrap(), "hello from nginx\n");
    let res = agent
        .get(&format!("{base}/moved"))
        .redirects(0)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 301);
    let res = agent
        .post(&format!("{base}/see-other"))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(100).await.unwrap(), "hello from nginx\n");

    // HEAD: no body even though a length is stated; 404.
    let res = agent.head(&format!("{base}/big.bin")).send().await.unwrap();
    assert_eq!(res.header("content-length"), Some("5000000"));
    assert!(res.bytes(0).await.unwrap().is_empty());
    let res = agent.get(&format!("{base}/missing")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    res.bytes(1 << 20).await.unwrap();
    // Everything above went over one or two connections.
    assert!(agent.idle_connections() >= 1);
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_nginx_tls() {
    let (ca_pem, leaf) = pki::localhost();
    let dir = temp_dir("tokio-nginx-tls");
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello over tls\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let tls_conf = format!(
        "ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;",
        d = dir.display()
    );
    let (_nginx, port) = nginx(&dir, "ssl", &tls_conf);
    let tls = ClientTlsConfig::builder()
        .add_root_pem(ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let agent = Agent::with_config(AgentConfig {
        tls: Some(tls),
        ..AgentConfig::default()
    });
    let res = agent
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text(1000).await.unwrap(), "hello over tls\n");
    // Reuse over TLS: one connection for all three.
    let mut conns = HashSet::new();
    for i in 1..=3 {
        let res = agent
            .get(&format!("https://127.0.0.1:{port}/conn"))
            .send()
            .await
            .unwrap();
        conns.insert(res.header("x-conn").unwrap().to_string());
        assert_eq!(res.header("x-requests"), Some(&*i.to_string()));
        res.bytes(10).await.unwrap();
    }
    assert_eq!(conns.len(), 1, "{conns:?}");
    let res = agent
        .get(&format!("https://localhost:{port}/big.bin"))
        .send()
        .await
        .unwrap();
    assert!(res.bytes(1 << 24).await.unwrap() == big);
    // The default roots do not know our CA; no TLS configuration at all
    // is a local error.
    let strict = Agent::with_config(AgentConfig {
        tls: Some(ClientTlsConfig::new().unwrap()),
        ..AgentConfig::default()
    });
    let r = strict
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .await;
    assert!(matches!(r, Err(HttpError::Tls(_))), "{r:?}");
    let r = Agent::new()
        .get(&format!("https://localhost:{port}/"))
        .send()
        .await;
    assert!(
        matches!(
            r,
            Err(HttpError::Tls(wireloom_tokio::tls::TlsError::Usage(_)))
        ),
        "{r:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_against_python_http_server() {
    let root = temp_dir("tokio-pyroot");
    std::fs::write(root.join("index.html"), "<p>python</p>").unwrap();
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _peer = Peer(child);
    wait_port(port);
    let agent = Agent::new();
    for _ in 0..3 {
        // HTTP/1.0 server: each response closes; the agent reconnects.
        let res = agent
            .get(&format!("http://127.0.0.1:{port}/index.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.head().version, Version::Http10);
        assert_eq!(res.text(1000).await.unwrap(), "<p>python</p>");
    }
    assert_eq!(agent.idle_connections(), 0);
    let res = agent
        .get(&format!("http://127.0.0.1:{port}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&root).ok();
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

/// A listener whose one connection is read but never answered.
fn silent_server() -> (std::thread::JoinHandle<()>, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    (h, addr)
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

/// A listener with backlog 0 whose accept queue is filled: connecting to
/// it hangs. Returns its address and what keeps it full.
fn full_listener() -> (SocketAddr, (TcpListener, Vec<TcpStream>)) {
    let l = wireloom_io::net::listen("127.0.0.1:0".parse().unwrap(), 0).unwrap();
    let full = l.local_addr().unwrap();
    let queued: Vec<TcpStream> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&full, Duration::from_millis(200)).ok())
        .collect();
    (full, (l, queued))
}
