//! The server against real peers (curl, Python's http.client, raw
//! sockets), every scenario under async-std, under smol's global executor
//! and under a single-threaded `smol::Executor`.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use wireloom_async_std::cache::{CacheConfig, FileCache};
use wireloom_async_std::core::http::{Method, ServerConfig, StatusCode};
use wireloom_async_std::router::Router;
use wireloom_async_std::server::{
    handler, BoxHandler, Next, Request, Response, Server, ServerBuilder, StaticFiles,
};
use wireloom_async_std::static_files::StaticDir;
use wireloom_async_std::AsyncRuntime;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::http::{header, Client, Resp};

const HELLO_TXT: &str = "0123456789abcdefghijklmnopqrstuvwxyz\n";

/// A directory with `hello.txt` and `index.html`.
fn site() -> std::path::PathBuf {
    let dir = temp_dir("site");
    std::fs::write(dir.join("hello.txt"), HELLO_TXT).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>index</h1>\n").unwrap();
    dir
}

/// The routes every scenario uses; everything else is a static file.
fn app(rt: &AsyncRuntime, root: &Path) -> ServerBuilder {
    let mut r = routes();
    let dir = StaticDir::new(root, FileCache::new(CacheConfig::default())).unwrap();
    r.any("/{*path}", handler(StaticFiles::new(rt.clone(), dir)))
        .unwrap();
    Server::builder_on(rt.clone()).router(r)
}

/// The API routes (no static files).
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
            match req.read_body(16 << 20).await {
                Ok(body) => Response::bytes(StatusCode::OK, &ct, body),
                Err(_) => Response::text(StatusCode::CONTENT_TOO_LARGE, "body too large\n"),
            }
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/n/{i}",
        handler(|req: Request| async move {
            Response::text(StatusCode::OK, req.param("i").unwrap_or("?").to_string())
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/peer",
        handler(|req: Request| async move {
            let port = req.peer_addr().map_or(0, |a| a.port());
            Response::text(StatusCode::OK, port.to_string())
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/slow",
        handler(|_: Request| async {
            sleep(Duration::from_millis(600)).await;
            Response::text(StatusCode::OK, "slow done")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/panic",
        handler(|req: Request| async move {
            if req.method() == &Method::GET {
                panic!("this handler panics on purpose");
            }
            Response::text(StatusCode::OK, "unreachable")
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/gone",
        handler(|_: Request| async { Response::new(StatusCode::NOT_FOUND) }),
    )
    .unwrap();
    r
}

#[test]
fn curl_plaintext_head_404_and_keep_alive() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let base = s.base();
            let (out, err) = curl(&["-i", &format!("{base}/plaintext")]).await;
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}{err}");
            assert!(out.ends_with("\r\n\r\nHello, World!"), "{out}");
            assert_eq!(header(&out, "content-length"), Some("13"));
            assert!(header(&out, "date").is_some(), "{out}");

            // HEAD: the GET's head, no body.
            let (out, err) = curl(&["-I", &format!("{base}/plaintext")]).await;
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}{err}");
            assert_eq!(header(&out, "content-length"), Some("13"));
            assert!(out.ends_with("\r\n\r\n"), "{out:?}");
            let (out, _) = curl(&["-I", &format!("{base}/hello.txt")]).await;
            assert_eq!(
                header(&out, "content-length"),
                Some(HELLO_TXT.len().to_string().as_str())
            );

            // 404 for a file that is not there, 405 for a known path.
            let (out, _) = curl(&["-i", &format!("{base}/missing.txt")]).await;
            assert!(out.starts_with("HTTP/1.1 404"), "{out}");
            let (out, _) = curl(&["-i", "-X", "DELETE", &format!("{base}/plaintext")]).await;
            assert!(out.starts_with("HTTP/1.1 405"), "{out}");
            assert_eq!(header(&out, "allow"), Some("GET, HEAD"));

            // Three requests, one connection.
            let url = format!("{base}/plaintext");
            let (out, err) = curl(&["-w", "\n%{num_connects}\n", &url, &url, &url]).await;
            assert_eq!(
                out.lines().filter(|l| *l == "Hello, World!").count(),
                3,
                "{out}{err}"
            );
            assert_eq!(
                out.lines().filter(|l| *l == "1").count(),
                1,
                "one connect for three requests: {out}"
            );
            s.stop().await;
        }
    });
}

#[test]
fn curl_static_range_and_conditional() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let url = format!("{}/hello.txt", s.base());
            let (out, _) = curl(&["-i", &url]).await;
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
            assert!(out.ends_with(HELLO_TXT), "{out}");
            assert!(
                header(&out, "content-type").is_some_and(|t| t.starts_with("text/plain")),
                "{out}"
            );
            let etag = header(&out, "etag").expect("an ETag").to_string();
            assert!(header(&out, "last-modified").is_some(), "{out}");

            // Single range.
            let (out, _) = curl(&["-i", "-r", "10-19", &url]).await;
            assert!(out.starts_with("HTTP/1.1 206"), "{out}");
            assert_eq!(
                header(&out, "content-range"),
                Some(format!("bytes 10-19/{}", HELLO_TXT.len()).as_str())
            );
            assert!(out.ends_with("abcdefghij"), "{out}");

            // Multiple ranges: multipart/byteranges.
            let (out, _) = curl(&["-i", "-r", "0-1,5-6", &url]).await;
            assert!(out.starts_with("HTTP/1.1 206"), "{out}");
            assert!(
                header(&out, "content-type").is_some_and(|t| t.starts_with("multipart/byteranges")),
                "{out}"
            );

            // Unsatisfiable range.
            let (out, _) = curl(&["-i", "-r", "500-600", &url]).await;
            assert!(out.starts_with("HTTP/1.1 416"), "{out}");

            // If-None-Match with the ETag: 304, no body.
            let (out, _) = curl(&["-i", "-H", &format!("If-None-Match: {etag}"), &url]).await;
            assert!(out.starts_with("HTTP/1.1 304"), "{out}");
            assert!(out.ends_with("\r\n\r\n"), "{out:?}");
            assert_eq!(header(&out, "etag"), Some(etag.as_str()));

            // The index of the root.
            let (out, _) = curl(&[&format!("{}/", s.base())]).await;
            assert_eq!(out, "<h1>index</h1>\n");

            // No escape from the root.
            let (out, _) = curl(&[
                "-i",
                "--path-as-is",
                &format!("{}/../../etc/passwd", s.base()),
            ])
            .await;
            assert!(!out.starts_with("HTTP/1.1 200"), "{out}");
            s.stop().await;
        }
    });
}

#[test]
fn curl_chunked_upload_with_expect_continue() {
    let dir = temp_dir("upload");
    let payload: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = dir.join("payload.bin");
    std::fs::write(&file, &payload).unwrap();
    let root = site();
    each_executor(|rt| {
        let (root, dir, file, payload) = (root.clone(), dir.clone(), file.clone(), &payload);
        async move {
            let s = start(&rt, app(&rt, &root));
            let url = format!("{}/api/echo", s.base());
            let out_file = dir.join("echo.bin");
            // Chunked (from a file given as stdin-like upload) and 100-continue.
            let (out, err) = curl(&[
                "-v",
                "-X",
                "POST",
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Expect: 100-continue",
                "-H",
                "Content-Type: application/x-test",
                "-T",
                &file.display().to_string(),
                "-o",
                &out_file.display().to_string(),
                &url,
            ])
            .await;
            assert!(err.contains("> Transfer-Encoding: chunked"), "{err}{out}");
            assert!(err.contains("< HTTP/1.1 100 Continue"), "{err}{out}");
            assert!(err.contains("< HTTP/1.1 200 OK"), "{err}{out}");
            assert!(
                err.contains("< Content-Type: application/x-test"),
                "{err}{out}"
            );
            assert!(
                std::fs::read(&out_file).unwrap() == *payload,
                "echo differs"
            );

            // A known length with 100-continue as well.
            let (_, err) = curl(&[
                "-v",
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                &format!("@{}", file.display()),
                "-o",
                &out_file.display().to_string(),
                &url,
            ])
            .await;
            assert!(err.contains("< HTTP/1.1 100 Continue"), "{err}");
            assert!(
                std::fs::read(&out_file).unwrap() == *payload,
                "echo differs"
            );
            s.stop().await;
        }
    });
}

#[test]
fn python_http_client_keep_alive() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let script = format!(
                r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
ports = set()
for i in range(5):
    c.request("GET", "/peer")
    r = c.getresponse(); assert r.status == 200, r.status
    ports.add(r.read())
    c.request("GET", "/plaintext")
    r = c.getresponse(); assert r.status == 200 and r.read() == b"Hello, World!"
c.request("POST", "/api/echo", body=b"y" * 100000, headers={{"Content-Type": "application/x-thing"}})
r = c.getresponse(); b = r.read()
assert r.status == 200 and b == b"y" * 100000 and r.getheader("Content-Type") == "application/x-thing"
def gen():
    for i in range(10):
        yield b"part%d;" % i
c.request("POST", "/api/echo", body=gen(), encode_chunked=True)
r = c.getresponse(); assert r.read() == b"".join(b"part%d;" % i for i in range(10))
c.request("GET", "/hello.txt")
r = c.getresponse(); assert r.read() == {hello:?}.encode()
c.request("GET", "/peer")
r = c.getresponse(); ports.add(r.read())
assert len(ports) == 1, ports
print("ok")
"#,
                port = s.addr.port(),
                hello = HELLO_TXT,
            );
            python_ok(script).await;
            s.stop().await;
        }
    });
}

#[test]
fn sixteen_pipelined_requests_in_one_write() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let addr = s.addr;
            unblock(move || {
                let mut sock = Client::new(addr);
                let mut all = String::new();
                for i in 0..16 {
                    all.push_str(&format!("GET /n/{i} HTTP/1.1\r\nHost: t\r\n\r\n"));
                }
                sock.send(all.as_bytes());
                for i in 0..16 {
                    let Resp { head, body, .. } = sock.response(false).unwrap();
                    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
                    assert_eq!(body, i.to_string().as_bytes(), "response {i} out of order");
                }
                assert!(sock.leftover().is_empty(), "extra bytes after 16 responses");
                // The connection lives on.
                let Resp { head, body, .. } =
                    sock.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
                assert_eq!(body, b"Hello, World!");
            })
            .await;
            s.stop().await;
        }
    });
}

#[test]
fn panicking_handler_gives_500_and_the_server_lives_on() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let addr = s.addr;
            unblock(move || {
                let mut sock = Client::new(addr);
                for _ in 0..2 {
                    let Resp { head, .. } =
                        sock.round_trip("GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
                    assert!(head.starts_with("HTTP/1.1 500"), "{head}");
                }
                // The same connection, then a new one, still served.
                let Resp { head, body, .. } =
                    sock.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                assert_eq!(body, b"Hello, World!");
            })
            .await;
            let (out, _) = curl(&[&format!("{}/plaintext", s.base())]).await;
            assert_eq!(out, "Hello, World!");
            s.stop().await;
        }
    });
}

#[test]
fn middleware_order_and_custom_error_pages() {
    each_executor(|rt| {
        async move {
            let log = Arc::new(Mutex::new(Vec::<String>::new()));
            let mw = |name: &'static str, log: Arc<Mutex<Vec<String>>>| {
                move |req: Request, next: Next| {
                    let log = Arc::clone(&log);
                    async move {
                        log.lock().unwrap().push(format!("{name} in"));
                        let mut res = next.run(req).await;
                        log.lock().unwrap().push(format!("{name} out"));
                        let seen = res
                            .head
                            .headers
                            .get_str("x-chain")
                            .unwrap_or("")
                            .to_string();
                        let _ = res.head.headers.insert("x-chain", format!("{name}{seen}"));
                        res
                    }
                }
            };
            let builder = Server::builder_on(rt.clone())
                .router(routes())
                .middleware(mw("outer", Arc::clone(&log)))
                .middleware(mw("inner", Arc::clone(&log)))
                .error_page(StatusCode::NOT_FOUND, |head| {
                    Response::html(
                        StatusCode::OK,
                        format!("<h1>nothing at {}</h1>\n", head.target.path()),
                    )
                })
                .error_page(StatusCode::INTERNAL_SERVER_ERROR, |_| {
                    Response::html(StatusCode::OK, "<h1>we broke</h1>\n")
                });
            let s = start(&rt, builder);
            let (out, _) = curl(&["-i", &format!("{}/plaintext", s.base())]).await;
            assert!(out.ends_with("Hello, World!"), "{out}");
            // The inner middleware runs (and returns) first.
            assert_eq!(header(&out, "x-chain"), Some("outerinner"), "{out}");
            assert_eq!(
                *log.lock().unwrap(),
                ["outer in", "inner in", "inner out", "outer out"]
            );

            // Custom pages: a router 404 (the middleware wrap it too), a
            // handler's 404 without a body, a panic.
            let nowhere = format!("{}/nowhere/at/all", s.base());
            let (out, _) = curl(&["-i", &nowhere]).await;
            assert!(out.starts_with("HTTP/1.1 404"), "{out}");
            assert!(
                out.ends_with("<h1>nothing at /nowhere/at/all</h1>\n"),
                "{out}"
            );
            assert_eq!(
                header(&out, "content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(header(&out, "x-chain"), Some("outerinner"), "{out}");
            let (out, _) = curl(&["-i", &format!("{}/gone", s.base())]).await;
            assert!(out.starts_with("HTTP/1.1 404"), "{out}");
            assert!(out.ends_with("<h1>nothing at /gone</h1>\n"), "{out}");
            let (out, _) = curl(&["-i", &format!("{}/panic", s.base())]).await;
            assert!(out.starts_with("HTTP/1.1 500"), "{out}");
            assert!(out.ends_with("<h1>we broke</h1>\n"), "{out}");
            s.stop().await;
        }
    });
}

#[test]
fn graceful_shutdown_finishes_in_flight_and_closes_idle() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root));
            let addr = s.addr;
            // An idle keep-alive connection.
            let mut idle = unblock(move || {
                let mut sock = Client::new(addr);
                let Resp { head, .. } =
                    sock.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                sock
            })
            .await;
            // A request in flight when the shutdown comes.
            let in_flight = blocking::unblock(move || {
                let mut sock = Client::new(addr);
                let Resp { head, body, .. } =
                    sock.round_trip("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
                ((head, body), sock.read_to_eof())
            });
            let until = Instant::now() + Duration::from_secs(5);
            while s.handle.active_connections() < 2 {
                assert!(Instant::now() < until, "the slow request never arrived");
                sleep(Duration::from_millis(5)).await;
            }
            // Its handler is running now (it takes 600 ms).
            sleep(Duration::from_millis(100)).await;
            let asked = Instant::now();
            s.handle.shutdown();

            // The idle connection is closed at once.
            let (eof, idle_closed) = unblock(move || {
                let r = idle.read_to_eof();
                (r, Instant::now())
            })
            .await;
            assert_eq!(eof.expect("EOF, not a timeout"), b"");
            // At once: not after the idle timeout (60 s), nor after the
            // in-flight request.
            assert!(idle_closed - asked < Duration::from_secs(3));

            // The slow one is answered, with `Connection: close`, then closed.
            let ((head, body), eof) = in_flight.await;
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(body, b"slow done");
            assert!(
                header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
                "{head}"
            );
            assert_eq!(eof.expect("EOF after the last response"), b"");

            // run() returns, and nothing listens any more.
            s.finished(Duration::from_secs(10))
                .await
                .expect("run() returns");
            assert!(TcpStream::connect(addr).is_err(), "still listening");
        }
    });
}

#[test]
fn max_connections_answers_503() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let s = start(&rt, app(&rt, &root).max_connections(1));
            let addr = s.addr;
            unblock(move || {
                let mut first = Client::new(addr);
                let Resp { head, .. } =
                    first.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                // The first stays open: the second is refused.
                let mut second = Client::new(addr);
                let Resp { head, .. } =
                    second.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 503"), "{head}");
                assert_eq!(second.read_to_eof().expect("closed"), b"");
                // The first is still served; once it is gone, others are.
                let Resp { head, .. } =
                    first.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                drop(first);
                let until = Instant::now() + Duration::from_secs(5);
                loop {
                    let mut third = Client::new(addr);
                    let Resp { head, .. } =
                        third.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                    if head.starts_with("HTTP/1.1 200") {
                        break;
                    }
                    assert!(Instant::now() < until, "never served again: {head}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .await;
            s.stop().await;
        }
    });
}

#[test]
fn idle_and_head_timeouts_close_connections() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let config = ServerConfig {
                idle_timeout: Duration::from_millis(300),
                head_timeout: Duration::from_millis(400),
                ..ServerConfig::default()
            };
            let s = start(&rt, app(&rt, &root).config(config));
            let addr = s.addr;
            unblock(move || {
                // Idle after a response: closed after ~300 ms (the timer
                // re-armed from the head deadline to the idle one).
                let mut sock = Client::new(addr);
                let Resp { head, .. } =
                    sock.round_trip("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                let t = Instant::now();
                assert_eq!(sock.read_to_eof().expect("closed"), b"");
                let took = t.elapsed();
                assert!(
                    took >= Duration::from_millis(250) && took < Duration::from_secs(3),
                    "{took:?}"
                );

                // A head that never completes: answered 408 and closed.
                let mut sock = Client::new(addr);
                sock.send(b"GET /plaintext HTTP/1.1\r\nHost:");
                let t = Instant::now();
                let got = sock.read_to_eof().expect("closed");
                let took = t.elapsed();
                assert!(
                    String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"),
                    "{}",
                    String::from_utf8_lossy(&got)
                );
                assert!(took < Duration::from_secs(3), "{took:?}");
            })
            .await;
            s.stop().await;
        }
    });
}

#[test]
fn streamed_response_body_reaches_curl() {
    let root = site();
    each_executor(|rt| {
        let root = root.clone();
        async move {
            let mut r: Router<BoxHandler> = Router::new();
            r.route(
                Method::GET,
                "/stream",
                handler(|_: Request| async {
                    let (tx, rx) = smol::channel::bounded::<std::io::Result<bytes::Bytes>>(2);
                    blocking::unblock(move || {
                        for i in 0..50u32 {
                            let piece = bytes::Bytes::from(vec![b'a' + (i % 26) as u8; 4096]);
                            if tx.send_blocking(Ok(piece)).is_err() {
                                return;
                            }
                        }
                    })
                    .detach();
                    Response::stream(
                        StatusCode::OK,
                        "application/octet-stream",
                        wireloom_async_std::server::Body::stream(rx),
                    )
                }),
            )
            .unwrap();
            let _ = root;
            let s = start(&rt, Server::builder_on(rt.clone()).router(r));
            let (out, err) = curl(&["-i", "--raw", &format!("{}/stream", s.base())]).await;
            assert!(out.contains("Transfer-Encoding: chunked\r\n"), "{err}");
            let (out, _) = curl(&[&format!("{}/stream", s.base())]).await;
            assert_eq!(out.len(), 50 * 4096);
            s.stop().await;
        }
    });
}

#[test]
fn peers_are_installed() {
    for p in ["curl", "python3"] {
        let ok = Command::new(p)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "{p} must be installed");
    }
}
