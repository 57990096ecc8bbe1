//! The tokio server against real clients (curl, Python's http.client, raw
//! sockets), on a current-thread and a multi-thread runtime: the scenarios
//! of wireloom-blocking's `server_peers.rs`, plus pipelining, trailers,
//! 100-continue, back-pressure and the core's error answers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{aio, is_http_date, start, Flavor, Pieces, Running, FLAVORS};
use wireloom_testkit::http::{request, Client};
use wireloom_testkit::net::{connect, wait_until};
use wireloom_testkit::process::{curl, python_ok};
use wireloom_testkit::scenarios::server;
use wireloom_tokio::core::http::{Method, ServerConfig, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{
    handler, Body, BoxHandler, Next, Request, Response, Server, ServerBuilder, Upgraded,
};

const ENDLESS: u64 = 1 << 14; // pieces of 64 KiB: 1 GiB

/// The routes most tests use; `hits` counts requests seen by the middleware.
fn routes() -> Router<BoxHandler> {
    let mut r: Router<BoxHandler> = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/api/echo",
        handler(|mut req: Request| async move {
            let ct = req
                .header("content-type")
                .unwrap_or("application/octet-stream")
                .to_string();
            match req.read_body(64 << 20).await {
                Ok(b) => {
                    let trailers = req
                        .body_mut()
                        .trailers()
                        .map(|t| {
                            t.iter()
                                .map(|(n, v)| {
                                    format!("{}={}", n.as_str(), v.to_str().unwrap_or("?"))
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    Response::bytes(StatusCode::OK, &ct, b).header("X-Trailers", trailers)
                }
                Err(_) => Response::new(StatusCode::CONTENT_TOO_LARGE),
            }
        }),
    )
    .unwrap();
    // Answers without reading the body.
    r.route(
        Method::POST,
        "/ignore",
        handler(|_: Request| async { Response::text(StatusCode::UNAUTHORIZED, "no thanks") }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/users/{id}",
        handler(|req: Request| async move {
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
        handler(|req: Request| async move {
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
        handler(|_: Request| async { panic!("handler bug") }),
    )
    .unwrap();
    // Panics before it returns a future.
    r.route(Method::GET, "/panic-sync", Arc::new(PanicNow) as BoxHandler)
        .unwrap();
    r.route(
        Method::GET,
        "/stream",
        handler(|_: Request| async {
            let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let pieces: Vec<std::io::Result<Bytes>> = data
                .chunks(7_000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Response::new(StatusCode::OK)
                .header("Content-Type", "application/octet-stream")
                .with_body(Body::stream(Iter(pieces.into_iter())))
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/endless",
        handler(|_: Request| async {
            Response::new(StatusCode::OK).with_body(Body::stream(Pieces {
                left: ENDLESS,
                size: 64 * 1024,
                made: Arc::default(),
            }))
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/bad-header",
        handler(|_: Request| async {
            Response::text(StatusCode::OK, "x").header("X-Evil", "a\r\nSet-Cookie: pwned=1")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/sleep/{ms}",
        handler(|req: Request| async move {
            let ms: u64 = req.param("ms").unwrap().parse().unwrap();
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Response::text(StatusCode::OK, "done")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/upgrade",
        handler(|_: Request| async {
            Response::new(StatusCode::SWITCHING_PROTOCOLS)
                .header("Upgrade", "echo")
                .header("Connection", "Upgrade")
                .with_body(Body::upgrade(|mut up: Upgraded| async move {
                    // Echo: the bytes read with the request first, then
                    // everything until the client closes.
                    let mut buf = vec![0u8; 4096];
                    let first = up.read_ahead.clone();
                    if aio::write_all(&mut up.io, &first).await.is_err() {
                        return;
                    }
                    loop {
                        match aio::read(&mut up.io, &mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if aio::write_all(&mut up.io, &buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }))
        }),
    )
    .unwrap();
    r
}

/// A handler that panics in `call` itself, before any future exists.
struct PanicNow;

impl wireloom_tokio::server::Handler for PanicNow {
    fn call(&self, _: Request) -> wireloom_io_future::BoxFuture<'static, Response> {
        panic!("synchronous handler bug")
    }
}

mod wireloom_io_future {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// A stream over an iterator.
struct Iter<I>(I);

impl<I: Iterator<Item = std::io::Result<Bytes>> + Unpin> futures_core::Stream for Iter<I> {
    type Item = std::io::Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

fn builder(config: ServerConfig) -> (ServerBuilder, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h2 = Arc::clone(&hits);
    let b = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .router(routes())
        .middleware(move |req: Request, next: Next| {
            h2.fetch_add(1, Ordering::SeqCst);
            async move { next.run(req).await.header("X-Served-By", "wireloom") }
        })
        .error_page(StatusCode::NOT_FOUND, |_| {
            Response::html(StatusCode::NOT_FOUND, "<h1>nothing here</h1>")
        });
    (b, hits)
}

fn serve(flavor: Flavor, config: ServerConfig) -> (Running, Arc<AtomicUsize>) {
    let (b, hits) = builder(config);
    (start(flavor, b), hits)
}

#[test]
fn curl_keep_alive_routes_and_errors() {
    for flavor in FLAVORS {
        let (srv, hits) = serve(flavor, ServerConfig::default());
        // Panicking handlers inside the future and in `call` itself; HEAD
        // on a streamed response of 1 GiB.
        server::curl_keep_alive_routes_and_errors(
            &srv.base(),
            &["/panic", "/panic-sync"],
            "/endless",
        );
        // And the connection is reusable after it: HEAD then GET on one.
        let mut c = Client::new(srv.addr);
        c.send(
            b"HEAD /endless HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        let h = c.response(true).unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(c.response(false).unwrap().text(), "Hello, World!");
        drop(c);
        assert!(hits.load(Ordering::SeqCst) >= 10, "{flavor:?}");
        // Every connection ended: none is leaked by the panics.
        assert!(
            wait_until(Duration::from_secs(5), || srv.handle.active_connections()
                == 0),
            "{} connections still counted",
            srv.handle.active_connections()
        );
        srv.shutdown();
    }
}

#[test]
fn curl_uploads_chunked_and_expect_continue() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        server::curl_uploads_chunked_and_expect_continue(&srv.base());
        srv.shutdown();
    }
}

#[test]
fn python_http_client() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        server::python_http_client(srv.addr.port());
        srv.shutdown();
    }
}

/// 16 requests in one write are answered in order, in one batch of writes.
#[test]
fn sixteen_pipelined_requests_in_order_in_one_batch() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        let mut all = Vec::new();
        for i in 0..16 {
            let close = if i == 15 { "Connection: close\r\n" } else { "" };
            all.extend_from_slice(
                format!("GET /users/{i} HTTP/1.1\r\nHost: a\r\n{close}\r\n").as_bytes(),
            );
        }
        let before = srv.handle.write_batches();
        let mut c = Client::new(srv.addr);
        c.send(&all);
        for i in 0..16 {
            let r = c.response(false).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), format!("{{\"id\":\"{i}\"}}"), "{flavor:?}");
            assert_eq!(r.closes(), i == 15, "{}", r.head);
        }
        assert!(c.closed());
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        // One vectored write batch for the 16 answers (the requests arrive
        // in one segment on loopback, so this does not depend on timing).
        assert_eq!(srv.handle.write_batches() - before, 1, "{flavor:?}");
        // Pipelined with a body in between, over a kept-alive connection.
        let mut c = Client::new(srv.addr);
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nPOST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /reverse/abc HTTP/1.1\r\nHost: a\r\n\r\n");
        let texts: Vec<String> = (0..4).map(|_| c.response(false).unwrap().text()).collect();
        assert_eq!(texts, ["hello", "Hello, World!", "abc", "cba"]);
        srv.shutdown();
    }
}

#[test]
fn chunked_upload_with_trailers_and_extensions() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        let mut c = Client::new(srv.addr);
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nContent-Type: text/x-t\r\n\r\n");
        // Pieces arrive one by one; the handler's body reads them as they come.
        for piece in [
            &b"5;name=v\r\nhello\r\n"[..],
            b"6\r\n world\r\n",
            b"0\r\nX-Checksum: abc123\r\nX-Other: 1\r\n\r\n",
        ] {
            std::thread::sleep(Duration::from_millis(30));
            c.send(piece);
        }
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 200, "{flavor:?} {}", r.head);
        assert_eq!(r.text(), "hello world");
        assert_eq!(r.header("content-type"), Some("text/x-t"));
        let t = r.header("x-trailers").unwrap_or("").to_ascii_lowercase();
        assert_eq!(t, "x-checksum=abc123,x-other=1", "{}", r.head);
        // The connection stays usable.
        c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).unwrap().text(), "Hello, World!");
        srv.shutdown();
    }
}

#[test]
fn expect_continue_only_when_the_handler_reads() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        // The handler reads: 100 first, then the answer; keep-alive goes on.
        let mut c = Client::new(srv.addr);
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        let interim = c.head().unwrap();
        assert_eq!(interim.status, 100, "{flavor:?} {}", interim.head);
        c.send(b"ping");
        let r = c.response(false).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ping"));
        assert!(!r.closes());
        c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).unwrap().text(), "Hello, World!");

        // The handler answers without reading: no 100, the answer, and the
        // connection closes (the client may never send the body).
        let mut c = Client::new(srv.addr);
        c.send(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(
            (r.status, r.text().as_str()),
            (401, "no thanks"),
            "{}",
            r.head
        );
        assert!(r.closes(), "{}", r.head);
        assert!(c.closed());

        // No Expect, a small body the handler ignores: discarded, and the
        // next pipelined request is served on the same connection.
        let mut c = Client::new(srv.addr);
        c.send(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 401);
        assert!(!r.closes(), "{}", r.head);
        assert_eq!(c.response(false).unwrap().text(), "Hello, World!");
        // A body sent after the answer is discarded too.
        c.send(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n");
        assert_eq!(c.response(false).unwrap().status, 401);
        c.send(b"abcdefGET /reverse/xy HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).unwrap().text(), "yx");

        // A large unread body (over core's 1 MiB discard limit): the
        // answer, then the connection closes.
        let mut c = Client::new(srv.addr);
        c.send(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\nabc");
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 401);
        assert!(c.closed());
        srv.shutdown();
    }
}

/// Every 4xx/5xx the core answers by itself arrives with `Connection: close`
/// and a `Date`, and the connection then closes.
#[test]
fn core_error_answers_close_and_carry_a_date() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        server::core_error_answers_close_and_carry_a_date(srv.addr, &|r| {
            assert!(
                is_http_date(r.header("date").unwrap()),
                "{flavor:?} {}",
                r.head
            );
        });
        srv.shutdown();
    }
}

/// A client that sends a whole body before it reads (Python's http.client)
/// gets the 413 core answers at the head, not a reset: the server drains
/// the body it will not use (lingering close).
#[test]
fn oversized_upload_gets_its_413_not_a_reset() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        let script = r#"
import http.client, sys
for body in (b"x" * 20_000_000, (b"y" * 65536 for _ in range(300))):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    c.request("POST", "/api/echo", body=body, encode_chunked=not isinstance(body, bytes))
    r = c.getresponse()
    assert r.status == 413, r.status
    assert r.getheader("Connection") == "close"
print("ok")
"#;
        python_ok(script, &[&srv.addr.port().to_string()]);
        srv.shutdown();
    }
}

#[test]
fn slow_clients_are_timed_out_with_408() {
    let cfg = ServerConfig {
        head_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(700),
        ..ServerConfig::default()
    };
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, cfg.clone());
        server::slow_clients_are_timed_out_with_408(srv.addr);
        srv.shutdown();
    }
}

#[test]
fn upgrade_hands_over_the_socket_with_read_ahead() {
    for flavor in FLAVORS {
        let (srv, _) = serve(flavor, ServerConfig::default());
        let mut s = connect(srv.addr);
        // The first bytes of the new protocol go in the same write.
        s.write_all(
            b"GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nping",
        )
        .unwrap();
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
        assert!(text.contains("\r\nUpgrade: echo\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nping"), "{text}");
        // Raw bytes both ways afterwards, large enough to need several reads.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut w = s.try_clone().unwrap();
        let big2 = big.clone();
        let writer = std::thread::spawn(move || w.write_all(&big2).unwrap());
        let mut back = vec![0u8; big.len()];
        s.read_exact(&mut back).unwrap();
        writer.join().unwrap();
        assert!(back == big, "{flavor:?}: echo differs");
        // The upgraded connection counts until its function returns.
        assert_eq!(srv.handle.active_connections(), 1);
        drop(s);
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        // A 101 to a request that asked for no upgrade is refused by core: 500.
        let r = request(srv.addr, b"GET /upgrade HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(r.status, 500, "{}", r.head);
        srv.shutdown();
    }
}

#[test]
fn connect_tunnel_under_curl() {
    for flavor in FLAVORS {
        let (target, _) = serve(flavor, ServerConfig::default());
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen2 = Arc::clone(&seen);
        let mut r: Router<BoxHandler> = Router::new();
        r.route(
            Method::CONNECT,
            "/{*authority}",
            handler(move |req: Request| {
                let seen = Arc::clone(&seen2);
                async move {
                    let authority = req.param("authority").unwrap_or("").to_string();
                    // Routed as `/host:port`; the parameter is the authority.
                    seen.lock().unwrap().push(authority.clone());
                    let Ok(up) = tokio::net::TcpStream::connect(authority.as_str()).await else {
                        return Response::new(StatusCode::BAD_GATEWAY);
                    };
                    let mut upstream = wireloom_tokio::TcpStream(up);
                    Response::new(StatusCode::OK).with_body(Body::upgrade(
                        move |mut up: Upgraded| async move {
                            if !up.read_ahead.is_empty()
                                && aio::write_all(&mut upstream, &up.read_ahead).await.is_err()
                            {
                                return;
                            }
                            aio::relay(&mut up.io, &mut upstream).await;
                        },
                    ))
                }
            }),
        )
        .unwrap();
        let proxy = start(
            flavor,
            Server::builder().bind("127.0.0.1:0").unwrap().router(r),
        );
        server::connect_tunnel_under_curl(proxy.addr, target.addr);
        // Routed as `/host:port`; the parameter is the authority (once per
        // tunnel: two curl tunnels, then the unreachable one).
        let seen = seen.lock().unwrap();
        let t = target.addr.to_string();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[..2], [t.clone(), t]);
        drop(seen);
        proxy.shutdown();
        target.shutdown();
    }
}

#[test]
fn middleware_chain_auth_and_error_pages() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut r: Router<BoxHandler> = Router::new();
    let l = Arc::clone(&log);
    r.route(
        Method::GET,
        "/private/{item}",
        handler(move |req: Request| {
            l.lock().unwrap().push("handler".into());
            async move {
                Response::text(
                    StatusCode::OK,
                    format!("secret {}", req.param("item").unwrap()),
                )
            }
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/forbidden",
        handler(|_: Request| async { Response::new(StatusCode::FORBIDDEN) }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/panic",
        handler(|_: Request| async { panic!("handler bug") }),
    )
    .unwrap();
    let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
    let b = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .router(r)
        // Timing, outermost: sees every response, the auth refusal too.
        .middleware(move |req: Request, next: Next| {
            let l1 = Arc::clone(&l1);
            async move {
                l1.lock().unwrap().push("timing in".into());
                let started = Instant::now();
                let res = next.run(req).await;
                l1.lock().unwrap().push("timing out".into());
                res.header("X-Elapsed-Us", started.elapsed().as_micros().to_string())
            }
        })
        // Authentication: refuses without calling the handler.
        .middleware(move |req: Request, next: Next| {
            let l2 = Arc::clone(&l2);
            async move {
                l2.lock().unwrap().push("auth".into());
                if req.path().starts_with("/private/")
                    && req.header("authorization") != Some("Bearer ok")
                {
                    return Response::new(StatusCode::UNAUTHORIZED)
                        .header("WWW-Authenticate", "Bearer");
                }
                next.run(req).await
            }
        })
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
        });
    let srv = start(Flavor::Current, b);
    server::middleware_chain_auth_and_error_pages(&srv.base(), &log);
    srv.shutdown();
}

#[test]
fn several_addresses_and_max_connections() {
    for flavor in FLAVORS {
        let b = Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .bind("127.0.0.1:0")
            .unwrap()
            .backlog(16)
            .max_connections(2)
            .router(routes());
        let srv = start(flavor, b);
        assert_eq!(srv.addrs.len(), 2);
        assert_ne!(srv.addrs[0], srv.addrs[1]);
        // Both listeners serve.
        for a in &srv.addrs {
            let (out, err) = curl(&[&format!("http://{a}/plaintext")]);
            assert_eq!(out, "Hello, World!", "{a}: {err}");
        }
        // Two connections in use (one busy, one idle keep-alive).
        let mut a = Client::new(srv.addrs[0]);
        a.send(b"GET /sleep/600 HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut b = Client::new(srv.addrs[1]);
        b.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(b.response(false).unwrap().status, 200);
        // curl's connections may still be closing (their close lingers).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while srv.handle.active_connections() != 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(srv.handle.active_connections(), 2);
        // A third is over max_connections: 503 with Connection: close,
        // Retry-After and Date, and closed at once.
        let mut c = Client::new(srv.addrs[0]);
        c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 503, "{flavor:?} {}", r.head);
        assert!(
            r.closes() && r.header("retry-after").is_some(),
            "{}",
            r.head
        );
        assert!(r.header("date").is_some_and(is_http_date), "{}", r.head);
        assert!(c.closed());
        // The busy one finishes; both keep working.
        assert_eq!(a.response(false).unwrap().text(), "done");
        b.send(b"GET /reverse/ab HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(b.response(false).unwrap().text(), "ba");
        drop((a, b));
        // Once they are gone, new connections are served again.
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        let (out, _) = curl(&[&format!("http://{}/plaintext", srv.addrs[1])]);
        assert_eq!(out, "Hello, World!");
        srv.shutdown();
    }
}

#[test]
fn keep_alive_off_closes_after_each_response() {
    let srv = start(
        Flavor::Multi,
        Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .keep_alive(false)
            .router(routes()),
    );
    server::keep_alive_off_closes_after_each_response(srv.addr);
    srv.shutdown();
}

#[test]
fn graceful_shutdown_finishes_in_flight() {
    for flavor in FLAVORS {
        let (mut srv, _) = serve(flavor, ServerConfig::default());
        let addr = srv.addr;
        // An idle keep-alive connection, after one exchange.
        let mut idle = Client::new(addr);
        idle.send(b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(idle.response(false).unwrap().status, 404);
        // A connection with half a head: it may finish its request.
        let mut partial = Client::new(addr);
        partial.send(b"GET /plaintext HTTP/1.1\r\n");
        // A request in flight.
        let mut busy = Client::new(addr);
        busy.send(b"GET /sleep/500 HTTP/1.1\r\nHost: a\r\n\r\n");
        std::thread::sleep(Duration::from_millis(150));
        let t = std::thread::spawn(move || {
            let r = busy.response(false).unwrap();
            (r, busy.closed())
        });
        let started = Instant::now();
        srv.handle.shutdown();
        // The idle connection is closed at once, without a response.
        assert!(idle.closed());
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
        // The listener is gone: new connections are refused.
        assert!(wait_until(Duration::from_secs(2), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err()
        }));
        // The half-sent request completes and is answered with a close.
        partial.send(b"Host: a\r\n\r\n");
        let r = partial.response(false).unwrap();
        assert_eq!(r.text(), "Hello, World!");
        assert!(r.closes(), "{}", r.head);
        assert!(partial.closed());
        // The in-flight one finishes with Connection: close.
        let (r, closed) = t.join().unwrap();
        assert_eq!(r.text(), "done");
        assert!(r.closes(), "{flavor:?} {}", r.head);
        assert!(closed);
        // And run() returns.
        srv.shutdown_within(Duration::from_secs(3));
    }
}

#[test]
fn client_that_never_reads_is_dropped_by_the_write_timeout() {
    for flavor in FLAVORS {
        let srv = start(
            flavor,
            Server::builder()
                .bind("127.0.0.1:0")
                .unwrap()
                .write_timeout(Duration::from_millis(300))
                .router(routes()),
        );
        let addr = srv.addr;
        // Asks for 1 GiB and never reads it.
        let mut stuck = connect(addr);
        stuck
            .write_all(b"GET /endless HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // Others are served meanwhile, on either runtime.
        let started = Instant::now();
        let (out, err) = curl(&[&format!("http://{addr}/plaintext")]);
        assert_eq!(out, "Hello, World!", "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // The stuck connection is cut: it ends well short of 1 GiB.
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stuck.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
        assert!(total < 1 << 28, "{total} bytes");
        srv.shutdown();
    }
}

/// A client that does not read: the producer of a streamed body is not
/// polled further than the socket buffers take.
#[test]
fn streamed_response_is_back_pressured() {
    for flavor in FLAVORS {
        let made = Arc::new(AtomicU64::new(0));
        let m2 = Arc::clone(&made);
        let mut r: Router<BoxHandler> = Router::new();
        r.route(
            Method::GET,
            "/big",
            handler(move |_: Request| {
                let made = Arc::clone(&m2);
                async move {
                    Response::new(StatusCode::OK).with_body(Body::stream(Pieces {
                        left: ENDLESS,
                        size: 64 * 1024,
                        made,
                    }))
                }
            }),
        )
        .unwrap();
        let srv = start(
            flavor,
            Server::builder().bind("127.0.0.1:0").unwrap().router(r),
        );
        let mut c = Client::new(srv.addr);
        c.send(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
        // Wait until production stalls.
        let mut last = u64::MAX;
        assert!(wait_until(Duration::from_secs(10), || {
            std::thread::sleep(Duration::from_millis(200));
            let now = made.load(Ordering::SeqCst);
            let stalled = now == last;
            last = now;
            stalled
        }));
        let produced = made.load(Ordering::SeqCst) * 64 * 1024;
        // The socket buffers on both sides, and no more.
        assert!(
            produced < 32 << 20,
            "{flavor:?}: {produced} bytes produced for a client that reads nothing"
        );
        // Reading resumes production; the body is intact.
        let mut head = c.head().unwrap();
        assert_eq!(head.header("transfer-encoding"), Some("chunked"));
        head.body.clear();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        let mut reader = c.s.try_clone().unwrap();
        while total < 64 << 20 {
            let n = reader.read(&mut buf).unwrap();
            assert!(n > 0);
            total += n as u64;
        }
        assert!(made.load(Ordering::SeqCst) * 64 * 1024 > 60 << 20);
        drop((c, reader));
        srv.shutdown();
    }
}

/// A stream that fails mid-way cuts the response (never a clean end), and
/// earlier pipelined answers are still delivered.
#[test]
fn failing_stream_cuts_the_response_but_not_earlier_answers() {
    for flavor in FLAVORS {
        let srv = start(
            flavor,
            Server::builder()
                .bind("127.0.0.1:0")
                .unwrap()
                .router(fail_routes()),
        );
        for path in ["/fail", "/fail-at-once"] {
            let mut c = Client::new(srv.addr);
            c.send(format!("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            let first = c.response(false).unwrap();
            assert_eq!(first.text(), "Hello, World!", "{flavor:?} {path}");
            // The cut answer: a head perhaps, never a complete body.
            match c.response(false) {
                Ok(r) => panic!("{path}: complete response from a failed stream: {}", r.head),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}"),
            }
        }
        srv.shutdown();
    }
}

/// [`routes`] plus streams that fail.
fn fail_routes() -> Router<BoxHandler> {
    let mut r = routes();
    r.route(
        Method::GET,
        "/fail",
        handler(|_: Request| async {
            let pieces: Vec<std::io::Result<Bytes>> = vec![
                Ok(Bytes::from_static(b"first piece")),
                Err(std::io::Error::other("backend went away")),
            ];
            Response::new(StatusCode::OK).with_body(Body::stream(Iter(pieces.into_iter())))
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/fail-at-once",
        handler(|_: Request| async {
            let pieces: Vec<std::io::Result<Bytes>> = vec![Err(std::io::Error::other("no"))];
            Response::new(StatusCode::OK).with_body(Body::stream(Iter(pieces.into_iter())))
        }),
    )
    .unwrap();
    r
}

/// A handler that reads its request body slowly: the connection stops
/// reading from the socket once a little is queued for it, so a fast
/// uploader is held back by TCP instead of filling the server's memory.
#[test]
fn request_body_is_back_pressured() {
    for flavor in FLAVORS {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g2 = Arc::clone(&gate);
        let mut r: Router<BoxHandler> = Router::new();
        r.route(
            Method::PUT,
            "/slow-sink",
            handler(move |mut req: Request| {
                let gate = Arc::clone(&g2);
                async move {
                    let mut total = req.body_mut().chunk().await.unwrap().map_or(0, |b| b.len());
                    // Stops reading until the test opens the gate.
                    gate.notified().await;
                    while let Some(b) = req.body_mut().chunk().await.unwrap() {
                        total += b.len();
                    }
                    Response::text(StatusCode::OK, total.to_string())
                }
            }),
        )
        .unwrap();
        let mut cfg = ServerConfig::default();
        cfg.body.max_body = Some(1 << 30);
        let srv = start(
            flavor,
            Server::builder()
                .bind("127.0.0.1:0")
                .unwrap()
                .config(cfg)
                .router(r),
        );
        const LEN: usize = 256 << 20;
        let mut s = connect(srv.addr);
        s.write_all(
            format!("PUT /slow-sink HTTP/1.1\r\nHost: a\r\nContent-Length: {LEN}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        // Write until the socket stays full for a while.
        s.set_nonblocking(true).unwrap();
        let piece = vec![b'u'; 1 << 20];
        let mut sent = 0usize;
        let mut idle_since = Instant::now();
        while idle_since.elapsed() < Duration::from_millis(500) && sent < LEN {
            match s.write(&piece[..piece.len().min(LEN - sent)]) {
                Ok(n) => {
                    sent += n;
                    idle_since = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        // The socket buffers and the connection's small queue hold it all.
        assert!(
            sent < 48 << 20,
            "{flavor:?}: {sent} bytes accepted by a handler that reads nothing"
        );
        // Reading resumes: the rest goes through, and the count is right.
        gate.notify_one();
        s.set_nonblocking(false).unwrap();
        while sent < LEN {
            sent += s.write(&piece[..piece.len().min(LEN - sent)]).unwrap();
        }
        let mut c = Client::from_stream(s);
        let r = c.response(false).unwrap();
        assert_eq!(r.text(), LEN.to_string());
        srv.shutdown();
    }
}
