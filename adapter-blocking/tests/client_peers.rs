//! The blocking client against real servers: nginx and Python's http.server,
//! plus our own server for redirects, pooling and retries.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wireloom_blocking::client::{Agent, AgentConfig, ClientError, Timeout};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server, ServerHandle};
use wireloom_core::http::pool::PoolConfig;
use wireloom_core::http::{Method, StatusCode};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::net::{free_port, full_listener};
use wireloom_testkit::peers::{python_http_server, start_nginx};

#[test]
fn against_nginx() {
    let root = temp_dir("root");
    std::fs::write(root.join("hello.txt"), "hello from nginx\n").unwrap();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let (_nginx, port) = start_nginx(
        "",
        &format!(
            r#"root {};
        location = /moved {{ return 301 /hello.txt; }}
        location = /see-other {{ return 303 /hello.txt; }}
        location = /conn {{ add_header X-Requests $connection_requests always; return 200 "ok"; }}"#,
            root.display()
        ),
    );
    let agent = Agent::new();
    let base = format!("http://127.0.0.1:{port}");
    let res = agent.get(&format!("{base}/hello.txt")).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/plain"));
    assert_eq!(res.into_string(1 << 20).unwrap(), "hello from nginx\n");
    // Keep-alive: the pooled connection carries the next requests.
    for i in 1..=3 {
        let res = agent.get(&format!("{base}/conn")).send().unwrap();
        assert_eq!(
            res.header("x-requests"),
            Some(&*format!("{}", i + 1)),
            "request {i}"
        );
        res.into_bytes(100).unwrap();
    }
    assert_eq!(agent.idle_connections(), 1);
    // Large body streamed, and the size limit.
    let res = agent.get(&format!("{base}/big.bin")).send().unwrap();
    assert_eq!(res.into_bytes(10_000_000).unwrap(), big);
    let res = agent.get(&format!("{base}/big.bin")).send().unwrap();
    assert!(matches!(
        res.into_bytes(1000),
        Err(ClientError::BodyTooLarge(1000))
    ));
    // Redirects: followed, or not.
    let res = agent.get(&format!("{base}/moved")).send().unwrap();
    assert!(res.url().ends_with("/hello.txt"));
    assert_eq!(res.into_string(100).unwrap(), "hello from nginx\n");
    let res = agent
        .get(&format!("{base}/moved"))
        .redirects(0)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 301);
    // 303 turns POST into GET.
    let res = agent
        .post(&format!("{base}/see-other"))
        .body("data")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // HEAD.
    let res = agent.head(&format!("{base}/big.bin")).send().unwrap();
    assert_eq!(res.header("content-length"), Some("5000000"));
    assert!(res.into_bytes(0).unwrap().is_empty());
    // 404.
    assert_eq!(
        agent
            .get(&format!("{base}/missing"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn against_python_http_server() {
    let root = temp_dir("pyroot");
    std::fs::write(root.join("index.html"), "<p>python</p>").unwrap();
    let (_peer, port) = python_http_server(&root);
    let agent = Agent::new();
    for _ in 0..3 {
        // HTTP/1.0 server: each response closes; the agent reconnects.
        let res = agent
            .get(&format!("http://127.0.0.1:{port}/index.html"))
            .send()
            .unwrap();
        assert_eq!(res.head().version, wireloom_core::http::Version::Http10);
        assert_eq!(res.into_string(1000).unwrap(), "<p>python</p>");
    }
    assert_eq!(agent.idle_connections(), 0);
    let res = agent
        .get(&format!("http://127.0.0.1:{port}/nope"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&root).ok();
}

fn our_server(connections: Arc<AtomicUsize>) -> (ServerHandle, SocketAddr) {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/auth",
        Server::handler(|req: &mut Request<'_>| {
            Response::text(
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
        Server::handler(|_: &mut Request<'_>| {
            Response::new(StatusCode::FOUND).header("Location", "/auth")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/loop",
        Server::handler(|_: &mut Request<'_>| {
            Response::new(StatusCode::FOUND).header("Location", "/loop")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/peer",
        Server::handler(|req: &mut Request<'_>| {
            let port = req.peer_addr().map_or(0, |a| a.port());
            Response::text(StatusCode::OK, port.to_string())
        }),
    )
    .unwrap();
    r.any(
        "/echo",
        Server::handler(|req: &mut Request<'_>| {
            let m = req.method().to_string();
            // The body through `io::Read`, bounded.
            let mut b = Vec::new();
            let _ = req.by_ref().take(1 << 20).read_to_end(&mut b);
            Response::text(
                StatusCode::OK,
                format!("{m} {}", String::from_utf8_lossy(&b)),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/go307",
        Server::handler(|_: &mut Request<'_>| {
            Response::new(StatusCode::TEMPORARY_REDIRECT).header("Location", "/echo")
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/go302",
        Server::handler(|_: &mut Request<'_>| {
            Response::new(StatusCode::FOUND).header("Location", "/echo")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/slow",
        Server::handler(|_: &mut Request<'_>| {
            std::thread::sleep(Duration::from_millis(1500));
            Response::text(StatusCode::OK, "late")
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(4)
        .middleware(
            move |req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response| {
                let _ = &connections;
                next(req)
            },
        )
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    (server.spawn().unwrap(), addr)
}

#[test]
fn redirects_strip_credentials_across_origins() {
    let (h1, a1) = our_server(Arc::new(AtomicUsize::new(0)));
    let (h2, a2) = our_server(Arc::new(AtomicUsize::new(0)));
    // A tiny redirector on a third port: sends everything to the other origin.
    let redirector = TcpListener::bind("127.0.0.1:0").unwrap();
    let raddr = redirector.local_addr().unwrap();
    let target = format!("http://{a2}/auth");
    let same = format!("http://{a1}/auth");
    let t = std::thread::spawn(move || {
        for (i, s) in redirector.incoming().take(2).enumerate() {
            let mut s = s.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let loc = if i == 0 { &target } else { &same };
            let _ = write!(s, "HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let agent = Agent::new();
    let res = agent
        .get(&format!("http://{raddr}/start"))
        .header("Authorization", "Bearer secret")
        .header("Cookie", "session=1")
        .send()
        .unwrap();
    assert_eq!(res.into_string(100).unwrap(), "auth=- cookie=-");
    // Another port is another origin too.
    let res = agent
        .get(&format!("http://{raddr}/again"))
        .header("Authorization", "Bearer secret")
        .send()
        .unwrap();
    assert_eq!(res.into_string(100).unwrap(), "auth=- cookie=-");
    // A same-origin redirect keeps them.
    let res = agent
        .get(&format!("http://{a1}/to-auth"))
        .header("Authorization", "Bearer secret")
        .send()
        .unwrap();
    assert_eq!(res.into_string(100).unwrap(), "auth=Bearer secret cookie=-");
    t.join().unwrap();
    // Method rules: 307 keeps POST and body, 302 turns POST into GET.
    let res = agent
        .post(&format!("http://{a1}/go307"))
        .body("payload")
        .send()
        .unwrap();
    assert_eq!(res.into_string(100).unwrap(), "POST payload");
    let res = agent
        .post(&format!("http://{a1}/go302"))
        .body("payload")
        .send()
        .unwrap();
    assert_eq!(res.into_string(100).unwrap(), "GET ");
    // Loops end.
    assert!(matches!(
        agent.get(&format!("http://{a1}/loop")).send(),
        Err(ClientError::TooManyRedirects(5))
    ));
    h1.shutdown();
    h2.shutdown();
}

#[test]
fn dead_pooled_connection_is_retried_once() {
    // A server that answers one request per connection, keep-alive
    // advertised, then closes: the pooled connection is dead on reuse.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = Arc::clone(&accepted);
    let t = std::thread::spawn(move || {
        for s in l.incoming().take(3) {
            let mut s = s.unwrap();
            acc.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let agent = Agent::new();
    for _ in 0..2 {
        let res = agent.get(&format!("http://{addr}/")).send().unwrap();
        assert_eq!(res.into_string(10).unwrap(), "ok");
        std::thread::sleep(Duration::from_millis(150));
    }
    // The second GET went out on the dead pooled connection and was retried
    // on a fresh one.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    // A POST is not idempotent: no retry, an error instead.
    let r = agent.post(&format!("http://{addr}/")).body("x").send();
    assert!(r.is_err(), "{r:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    drop(agent);
    let _ = TcpStream::connect(addr);
    t.join().unwrap();
}

#[test]
fn timeouts() {
    let (h, addr) = our_server(Arc::new(AtomicUsize::new(0)));
    let agent = Agent::with_config(AgentConfig {
        read_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    assert!(matches!(
        agent.get(&format!("http://{addr}/slow")).send(),
        Err(ClientError::Timeout(_))
    ));
    assert!(started.elapsed() < Duration::from_millis(1200));
    let agent = Agent::new();
    let started = Instant::now();
    let r = agent
        .get(&format!("http://{addr}/slow"))
        .timeout(Duration::from_millis(300))
        .send();
    assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(1200));
    // Connection refused.
    let port = free_port();
    assert!(matches!(
        agent.get(&format!("http://127.0.0.1:{port}/")).send(),
        Err(ClientError::Connect(_))
    ));
    // Bad URL and bad header.
    assert!(matches!(
        agent.get("ftp://x/").send(),
        Err(ClientError::BadUrl(_))
    ));
    assert!(matches!(
        agent
            .get(&format!("http://{addr}/"))
            .header("X", "a\r\nb")
            .send(),
        Err(ClientError::BadHeader(_))
    ));
    // Streamed upload, chunked.
    let body = std::io::Cursor::new(vec![b'z'; 100_000]);
    let res = agent
        .put(&format!("http://{addr}/echo"))
        .body_reader(body)
        .send()
        .unwrap();
    let text = res.into_string(1 << 20).unwrap();
    assert_eq!(text.len(), 4 + 100_000);
    h.shutdown();
}

#[test]
fn pool_per_host_idle_limit_and_idle_timeout() {
    let (h, addr) = our_server(Arc::new(AtomicUsize::new(0)));
    let agent = Agent::with_config(AgentConfig {
        pool: PoolConfig {
            max_idle_per_key: 1,
            idle_timeout: Duration::from_millis(400),
            ..PoolConfig::default()
        },
        ..AgentConfig::default()
    });
    let url = format!("http://{addr}/peer");
    let port = |res: wireloom_blocking::client::Response| -> u16 {
        res.into_string(100).unwrap().parse().unwrap()
    };
    // Two responses open at once: two connections.
    let r1 = agent.get(&url).send().unwrap();
    let r2 = agent.get(&url).send().unwrap();
    let (p1, p2) = (port(r1), port(r2));
    assert_ne!(p1, p2);
    // Both went back to the pool, but only one is kept for this host: the
    // most recently returned.
    assert_eq!(agent.idle_connections(), 1);
    assert_eq!(port(agent.get(&url).send().unwrap()), p2);
    assert_eq!(agent.idle_connections(), 1);
    // Past the idle timeout the pooled connection is not reused.
    std::thread::sleep(Duration::from_millis(600));
    let p4 = port(agent.get(&url).send().unwrap());
    assert!(p4 != p1 && p4 != p2, "{p4} reused after the idle timeout");
    h.shutdown();
}

#[test]
fn all_methods_and_the_body_as_a_reader() {
    let (h, addr) = our_server(Arc::new(AtomicUsize::new(0)));
    let agent = Agent::new();
    let url = format!("http://{addr}/echo");
    for m in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::from_bytes(b"PURGE").unwrap(),
    ] {
        let mut res = agent
            .request(m.clone(), &url)
            .header("X-Custom", "1")
            .body("b")
            .send()
            .unwrap();
        // The response body through `io::Read`, in small reads.
        let mut text = String::new();
        let mut buf = [0u8; 3];
        loop {
            let n = res.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        assert_eq!(text, format!("{m} b"));
    }
    // HEAD: no body even though the server states a length.
    let res = agent.head(&url).send().unwrap();
    assert_eq!(res.header("content-length"), Some("5"));
    assert!(res.into_bytes(0).unwrap().is_empty());
    // All on one pooled connection.
    assert_eq!(agent.idle_connections(), 1);
    h.shutdown();
}

#[test]
fn write_and_connect_timeouts() {
    // A server that accepts and never reads: a large streamed upload fills
    // the socket buffers and the write timeout fires.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(6));
        drop(s);
    });
    let agent = Agent::with_config(AgentConfig {
        write_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    let r = agent
        .put(&format!("http://{addr}/sink"))
        .body_reader(std::io::repeat(b'x').take(256 << 20))
        .send();
    assert!(
        matches!(r, Err(ClientError::Timeout(Timeout::Write))),
        "{:?}",
        r.err()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(t);
    // A listener whose accept queue is full drops new SYNs: the connect
    // timeout fires.
    let (full, _queue) = full_listener();
    let agent = Agent::with_config(AgentConfig {
        connect_timeout: Duration::from_millis(300),
        ..AgentConfig::default()
    });
    let started = Instant::now();
    let r = agent.get(&format!("http://{full}/")).send();
    assert!(
        matches!(r, Err(ClientError::Timeout(Timeout::Connect))),
        "{:?}",
        r.err()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
