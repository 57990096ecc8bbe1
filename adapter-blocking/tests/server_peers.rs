//! The blocking server against real clients: curl and Python's http.client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Body, Request, Response, Server, ServerHandle};
use wireloom_core::http::{Method, ServerConfig, StatusCode};
use wireloom_testkit::process::curl;
use wireloom_testkit::scenarios::server;

/// Length of the `/blob` body (a `Body::Full`).
const BLOB_LEN: usize = 100 * 1024;

fn start(config: ServerConfig, threads: usize) -> (ServerHandle, SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/api/echo",
        Server::handler(|req: &mut Request<'_>| {
            let ct = req
                .header("content-type")
                .unwrap_or("application/octet-stream")
                .to_string();
            match req.read_body(64 << 20) {
                Ok(b) => Response::bytes(StatusCode::OK, &ct, b),
                Err(_) => Response::new(StatusCode::CONTENT_TOO_LARGE),
            }
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/users/{id}",
        Server::handler(|req: &mut Request<'_>| {
            Response::json(
                StatusCode::OK,
                format!("{{\"id\":\"{}\"}}", req.param("id").unwrap_or("")),
            )
        }),
    )
    .unwrap();
    r.regex(
        Method::GET,
        r"^/reverse/(?P<word>[a-z]+)$",
        Server::handler(|req: &mut Request<'_>| {
            Response::text(
                StatusCode::OK,
                req.param("word")
                    .unwrap_or("")
                    .chars()
                    .rev()
                    .collect::<String>(),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/panic",
        Server::handler(|_: &mut Request<'_>| -> Response { panic!("handler bug") }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/stream",
        Server::handler(|_: &mut Request<'_>| {
            let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            Response::stream(
                StatusCode::OK,
                "application/octet-stream",
                std::io::Cursor::new(data),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/blob",
        Server::handler(|_: &mut Request<'_>| {
            let data: Vec<u8> = (0..BLOB_LEN as u32).map(|i| (i % 251) as u8).collect();
            Response::bytes(StatusCode::OK, "application/octet-stream", data.into())
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/bad-header",
        Server::handler(|_: &mut Request<'_>| {
            Response::text(StatusCode::OK, "x").header("X-Evil", "a\r\nSet-Cookie: pwned=1")
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/upgrade",
        Server::handler(|req: &mut Request<'_>| {
            let _ = req;
            Response::new(StatusCode::SWITCHING_PROTOCOLS)
                .header("Upgrade", "echo")
                .header("Connection", "Upgrade")
                .with_body(Body::Upgrade(Box::new(|mut up| {
                    let mut buf = [0u8; 64];
                    let mut got = up.read_ahead.to_vec();
                    while got.len() < 4 {
                        match up.io.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = up.io.write_all(&got);
                })))
        }),
    )
    .unwrap();
    let h2 = Arc::clone(&hits);
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(threads)
        .config(config)
        .router(r)
        .middleware(
            move |req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response| {
                h2.fetch_add(1, Ordering::SeqCst);
                next(req).header("X-Served-By", "wireloom")
            },
        )
        .error_page(StatusCode::NOT_FOUND, |_| {
            Response::html(StatusCode::NOT_FOUND, "<h1>nothing here</h1>")
        })
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    (server.spawn().unwrap(), addr, hits)
}

#[test]
fn curl_keep_alive_routes_and_errors() {
    let (h, addr, hits) = start(ServerConfig::default(), 4);
    server::curl_keep_alive_routes_and_errors(&format!("http://{addr}"), &["/panic"], "/stream");
    assert!(hits.load(Ordering::SeqCst) >= 8);
    h.shutdown();
}

#[test]
fn curl_uploads_chunked_and_expect_continue() {
    let (h, addr, _) = start(ServerConfig::default(), 4);
    server::curl_uploads_chunked_and_expect_continue(&format!("http://{addr}"));
    h.shutdown();
}

#[test]
fn python_http_client() {
    let (h, addr, _) = start(ServerConfig::default(), 4);
    server::python_http_client(addr.port());
    h.shutdown();
}

#[test]
fn bad_input_and_slow_clients() {
    let cfg = ServerConfig {
        head_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(700),
        ..ServerConfig::default()
    };
    let (h, addr, _) = start(cfg, 4);
    // Malformed request: 400 and close.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 400 Bad Request\r\n") && out.contains("Connection: close"),
        "{out}"
    );
    // Smuggling attempt: CL + TE.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    server::slow_clients_are_timed_out_with_408(addr);
    h.shutdown();
}

/// The `Date` values a response sent now may carry (a couple of seconds
/// either side, for a slow machine).
fn dates_around_now() -> Vec<String> {
    let now = std::time::SystemTime::now();
    (0..6)
        .map(|k| {
            let t = now + Duration::from_secs(3) - Duration::from_secs(k);
            format!(
                "Date: {}\r\n",
                wireloom_core::http::http_date(t).to_str().unwrap()
            )
        })
        .collect()
}

fn one_current_date(out: &str) {
    let head = &out[..out.find("\r\n\r\n").expect("a complete head") + 2];
    assert_eq!(head.matches("\r\nDate: ").count(), 1, "{out}");
    assert!(
        dates_around_now().iter().any(|d| head.contains(d.as_str())),
        "no current Date in {out}"
    );
}

/// Core answers bad input itself (400, 505...): since the adapter hands it
/// the date instead of stamping the handler's responses, those answers carry
/// a Date too, and handler responses still carry exactly one.
#[test]
fn core_error_responses_carry_a_date() {
    let (h, addr, _) = start(ServerConfig::default(), 2);
    let raw = |input: &[u8]| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(input).unwrap();
        let started = Instant::now();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    };
    // The answers core gives by itself (shared with the async engine's
    // test), each with the current date.
    server::core_error_answers_close_and_carry_a_date(addr, &|r| {
        one_current_date(&format!("{}\r\n\r\n", r.head));
    });
    // CONNECT with content.
    let (out, _) = raw(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 3\r\n\r\nabc");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    one_current_date(&out);
    // Fail fast: a TLS ClientHello sent to the plain-text port is answered
    // at once, without waiting for a line ending or the head timeout.
    let (out, took) = raw(b"\x16\x03\x01\x00\xf1\x01\x00\x00\xed\x03\x03");
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(took < Duration::from_secs(2), "answered after {took:?}");
    one_current_date(&out);
    // A handler's response: one Date, the current one.
    let (out, _) = raw(b"GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("Hello, World!"),
        "{out}"
    );
    one_current_date(&out);
    h.shutdown();
}

#[test]
fn upgrade_hands_over_the_socket() {
    let (h, addr, _) = start(ServerConfig::default(), 2);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\nContent-Length: 0\r\n\r\nping").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"ping") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    h.shutdown();
}

#[test]
fn graceful_shutdown_finishes_in_flight() {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/slow",
        Server::handler(|_: &mut Request<'_>| {
            std::thread::sleep(Duration::from_millis(400));
            Response::text(StatusCode::OK, "done")
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(2)
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let h = server.spawn().unwrap();
    // An idle keep-alive connection, after one exchange.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.write_all(b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 404 "));
    let t = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    std::thread::sleep(Duration::from_millis(100));
    h.shutdown();
    let out = t.join().unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n")
            && out.contains("Connection: close")
            && out.ends_with("done"),
        "{out}"
    );
    // The idle connection was closed without a response.
    let started = Instant::now();
    assert_eq!(idle.read(&mut buf).unwrap(), 0);
    assert!(started.elapsed() < Duration::from_secs(1));
    // The listener is gone: new connections are refused.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err());
}

/// Reads one response (up to its empty body or `Content-Length` bytes).
fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + len {
                return text;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return text,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn several_addresses_pool_bound_and_max_connections() {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/slow",
        Server::handler(|_: &mut Request<'_>| {
            std::thread::sleep(Duration::from_millis(800));
            Response::text(StatusCode::OK, "slow")
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .bind("127.0.0.1:0")
        .unwrap()
        .backlog(16)
        .threads(1)
        .max_connections(2)
        .router(r)
        .build()
        .unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    let h = server.spawn().unwrap();
    // Both listeners serve.
    for a in &addrs {
        let (out, err) = curl(&[&format!("http://{a}/plaintext")]);
        assert_eq!(out, "Hello, World!", "{a}: {err}");
    }
    let get = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    // Connection A occupies the only worker with a slow request.
    let mut a = TcpStream::connect(addrs[0]).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    a.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // Connection B is accepted but waits for a worker: one thread is the
    // concurrency bound.
    let mut b = TcpStream::connect(addrs[1]).unwrap();
    b.write_all(get).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        b.read(&mut buf).is_err(),
        "B served while A holds the worker"
    );
    assert_eq!(h.active_connections(), 2);
    // Connection C is over max_connections: 503 and closed at once.
    let mut c = TcpStream::connect(addrs[0]).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{out}"
    );
    // A's response ends its request; A is now an idle keep-alive connection
    // while B waits, so the server closes A and serves B.
    assert!(read_response(&mut a).ends_with("slow"));
    b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    assert!(read_response(&mut b).ends_with("Hello, World!"));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(a.read(&mut buf).unwrap(), 0, "idle A not closed");
    // With nobody waiting, an idle keep-alive connection stays open.
    b.write_all(get).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let first = read_response(&mut b);
    assert!(first.ends_with("Hello, World!"), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    b.write_all(get).unwrap();
    assert!(read_response(&mut b).ends_with("Hello, World!"));
    drop(b);
    h.shutdown();
}

#[test]
fn keep_alive_off_closes_after_each_response() {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(2)
        .keep_alive(false)
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let h = server.spawn().unwrap();
    server::keep_alive_off_closes_after_each_response(addr);
    h.shutdown();
}

/// Relays bytes both ways between two sockets until either side closes
/// (bounded to 10 s).
fn relay(a: &mut dyn wireloom_blocking::driver::Socket, b: &mut TcpStream) {
    a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 16 * 1024];
    while Instant::now() < until {
        match a.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if b.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
        match b.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if a.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn connect_tunnel_under_curl() {
    let (target, target_addr, _) = start(ServerConfig::default(), 2);
    let mut r = Router::new();
    r.route(
        Method::CONNECT,
        "/{*authority}",
        Server::handler(|req: &mut Request<'_>| {
            let authority = req.param("authority").unwrap_or("").to_string();
            let Ok(mut upstream) = TcpStream::connect(authority.as_str()) else {
                return Response::new(StatusCode::BAD_GATEWAY);
            };
            Response::new(StatusCode::OK).with_body(Body::Upgrade(Box::new(move |mut up| {
                if !up.read_ahead.is_empty() && upstream.write_all(&up.read_ahead).is_err() {
                    return;
                }
                relay(&mut *up.io, &mut upstream);
            })))
        }),
    )
    .unwrap();
    let proxy = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(2)
        .router(r)
        .build()
        .unwrap();
    let paddr = proxy.local_addrs()[0];
    let proxy = proxy.spawn().unwrap();
    server::connect_tunnel_under_curl(paddr, target_addr);
    proxy.shutdown();
    target.shutdown();
}

#[test]
fn middleware_chain_auth_and_error_pages() {
    use std::sync::Mutex;
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut r = Router::new();
    let l = Arc::clone(&log);
    r.route(
        Method::GET,
        "/private/{item}",
        Server::handler(move |req: &mut Request<'_>| {
            l.lock().unwrap().push("handler".into());
            Response::text(
                StatusCode::OK,
                format!("secret {}", req.param("item").unwrap()),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/forbidden",
        Server::handler(|_: &mut Request<'_>| Response::new(StatusCode::FORBIDDEN)),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/panic",
        Server::handler(|_: &mut Request<'_>| -> Response { panic!("handler bug") }),
    )
    .unwrap();
    let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(2)
        .router(r)
        // Timing, outermost: sees every response, including the auth refusal.
        .middleware(
            move |req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response| {
                l1.lock().unwrap().push("timing in".into());
                let started = Instant::now();
                let res = next(req);
                l1.lock().unwrap().push("timing out".into());
                res.header("X-Elapsed-Us", started.elapsed().as_micros().to_string())
            },
        )
        // Authentication: refuses without calling the handler.
        .middleware(
            move |req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response| {
                l2.lock().unwrap().push("auth".into());
                if req.path().starts_with("/private/")
                    && req.header("authorization") != Some("Bearer ok")
                {
                    return Response::new(StatusCode::UNAUTHORIZED)
                        .header("WWW-Authenticate", "Bearer");
                }
                next(req)
            },
        )
        .error_page(StatusCode::UNAUTHORIZED, |_| {
            Response::html(StatusCode::OK, "<p>log in first</p>")
        })
        .error_page(StatusCode::FORBIDDEN, |head| {
            Response::text(
                StatusCode::OK,
                format!("no access to {}", head.target.path()),
            )
        })
        .error_page(StatusCode::INTERNAL_SERVER_ERROR, |_| {
            Response::text(StatusCode::OK, "our fault, sorry")
        })
        .build()
        .unwrap();
    let base = format!("http://{}", server.local_addrs()[0]);
    let h = server.spawn().unwrap();
    server::middleware_chain_auth_and_error_pages(&base, &log);
    h.shutdown();
}

#[test]
fn client_that_never_reads_is_dropped_by_the_write_timeout() {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/big",
        Server::handler(|_: &mut Request<'_>| {
            Response::stream(
                StatusCode::OK,
                "application/octet-stream",
                std::io::repeat(b'x').take(1 << 30),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(1)
        .write_timeout(Duration::from_millis(300))
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let h = server.spawn().unwrap();
    // Asks for a large body and never reads it: the only worker blocks on
    // a full socket until the write timeout drops the connection.
    let mut stuck = TcpStream::connect(addr).unwrap();
    stuck
        .write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (out, err) = curl(&[&format!("http://{addr}/plaintext")]);
    assert_eq!(out, "Hello, World!", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The stuck connection was cut: its body ends well short of 1 GiB.
    stuck
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stuck.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    assert!(total < 1 << 29, "{total} bytes");
    h.shutdown();
}

/// One response parsed off the wire: status line, fields, decoded body.
struct Parsed {
    status: String,
    head: String,
    body: Vec<u8>,
}

/// Splits `wire` into complete responses (Content-Length or chunked
/// bodies); panics on anything incomplete or left over.
fn parse_responses(mut wire: &[u8]) -> Vec<Parsed> {
    fn find(h: &[u8], n: &[u8]) -> Option<usize> {
        h.windows(n.len()).position(|w| w == n)
    }
    let mut out = Vec::new();
    while !wire.is_empty() {
        let end = find(wire, b"\r\n\r\n").expect("incomplete head") + 4;
        let head = String::from_utf8(wire[..end].to_vec()).unwrap();
        wire = &wire[end..];
        let status = head.lines().next().unwrap().to_string();
        let field = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let mut body = Vec::new();
        if field("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let eol = find(wire, b"\r\n").expect("incomplete chunk size");
                let size = usize::from_str_radix(std::str::from_utf8(&wire[..eol]).unwrap(), 16)
                    .expect("chunk size");
                wire = &wire[eol + 2..];
                if size == 0 {
                    assert!(wire.starts_with(b"\r\n"), "trailers are not expected");
                    wire = &wire[2..];
                    break;
                }
                assert!(wire.len() >= size + 2, "incomplete chunk");
                body.extend_from_slice(&wire[..size]);
                assert_eq!(&wire[size..size + 2], b"\r\n");
                wire = &wire[size + 2..];
            }
        } else {
            let len: usize = field("content-length").map_or(0, |v| v.parse().unwrap());
            assert!(wire.len() >= len, "incomplete body: {status}");
            body.extend_from_slice(&wire[..len]);
            wire = &wire[len..];
        }
        out.push(Parsed { status, head, body });
    }
    out
}

/// Sends `requests` in one write on a fresh connection and reads until the
/// server closes (the last request carries `Connection: close`).
fn pipeline(addr: SocketAddr, requests: &[String]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(requests.concat().as_bytes()).unwrap();
    let mut wire = Vec::new();
    s.read_to_end(&mut wire).unwrap();
    wire
}

#[test]
fn pipelined_gets_are_answered_in_order_in_one_batch() {
    let (h, addr, _) = start(ServerConfig::default(), 4);
    let requests: Vec<String> = (0..16)
        .map(|i| {
            let close = if i == 15 { "Connection: close\r\n" } else { "" };
            format!("GET /users/{i} HTTP/1.1\r\nHost: a\r\n{close}\r\n")
        })
        .collect();
    let responses = parse_responses(&pipeline(addr, &requests));
    assert_eq!(responses.len(), 16);
    for (i, r) in responses.iter().enumerate() {
        assert_eq!(r.status, "HTTP/1.1 200 OK", "response {i}");
        assert_eq!(
            r.body,
            format!("{{\"id\":\"{i}\"}}").as_bytes(),
            "response {i}"
        );
        assert_eq!(
            r.head.contains("Connection: close"),
            i == 15,
            "response {i}"
        );
    }
    // The 16 requests arrive in one segment and are read together: their
    // answers leave in one batch (a little slack in case the kernel splits
    // the read), not 16. The count is taken before the server closes.
    let batches = h.write_batches();
    assert!(
        (1..=3).contains(&batches),
        "{batches} write batches for 16 pipelined requests"
    );
    h.shutdown();
}

#[test]
fn pipelined_batches_stay_bounded_and_bodies_still_stream() {
    let (h, addr, _) = start(ServerConfig::default(), 4);
    // 16 answers of 100 KiB each: the batch is written whenever it holds
    // 256 KiB, so about every third answer, not all 1.6 MiB at the end.
    let requests: Vec<String> = (0..16)
        .map(|i| {
            let close = if i == 15 { "Connection: close\r\n" } else { "" };
            format!("GET /blob HTTP/1.1\r\nHost: a\r\n{close}\r\n")
        })
        .collect();
    let responses = parse_responses(&pipeline(addr, &requests));
    assert_eq!(responses.len(), 16);
    let blob: Vec<u8> = (0..BLOB_LEN as u32).map(|i| (i % 251) as u8).collect();
    for r in &responses {
        assert_eq!(r.status, "HTTP/1.1 200 OK");
        assert!(r.body == blob);
    }
    let batches = h.write_batches();
    assert!(
        batches >= 5,
        "{batches} write batches for 1.6 MiB of answers"
    );

    // Mixed: a body to read, a streamed response, an error page and small
    // answers, all pipelined in one write, come back complete and in order.
    let requests = [
        "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n".to_string(),
        "POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: text/x-test\r\nContent-Length: 5\r\n\r\nhello".to_string(),
        "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n".to_string(),
        "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n".to_string(),
        "POST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_string(),
        "GET /reverse/abc HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_string(),
    ];
    let responses = parse_responses(&pipeline(addr, &requests));
    let got: Vec<(&str, &[u8])> = responses
        .iter()
        .map(|r| (r.status.as_str(), &r.body[..r.body.len().min(32)]))
        .collect();
    let stream: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        got,
        [
            ("HTTP/1.1 200 OK", &b"Hello, World!"[..]),
            ("HTTP/1.1 200 OK", b"hello"),
            ("HTTP/1.1 200 OK", &stream[..32]),
            ("HTTP/1.1 404 Not Found", b"<h1>nothing here</h1>"),
            ("HTTP/1.1 200 OK", b"abc"),
            ("HTTP/1.1 200 OK", b"cba"),
        ]
    );
    assert!(responses[2].body == stream);
    assert!(responses[2].head.contains("Transfer-Encoding: chunked"));
    h.shutdown();
}

#[test]
fn expect_continue_body_sent_without_waiting_is_read_from_the_buffer() {
    // A client that sends the body right behind an `Expect: 100-continue`
    // head (allowed: RFC 9110 §10.1.1) gets its answer without waiting for
    // the body timeout: the body already buffered is offered again once the
    // handler accepts it.
    let cfg = ServerConfig {
        body_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    };
    let (h, addr, _) = start(cfg, 4);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /api/echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .unwrap();
    let mut wire = Vec::new();
    s.read_to_end(&mut wire).unwrap();
    let responses = parse_responses(&wire);
    let got: Vec<(&str, &[u8])> = responses
        .iter()
        .map(|r| (r.status.as_str(), &r.body[..]))
        .collect();
    assert_eq!(
        got,
        [
            ("HTTP/1.1 100 Continue", &b""[..]),
            ("HTTP/1.1 200 OK", b"hello")
        ]
    );
    h.shutdown();
}
