//! An axum application served unchanged by wireloom-tokio (`serve`,
//! `ServerBuilder::service`), driven by curl, Python's http.client and raw
//! sockets: path and query extractors, JSON in and out, server-sent
//! events, a body-limit layer (413), a fallback 404, a tower_http timeout
//! layer (408), trailers from a hand-written body, 100-continue on a large
//! upload, header spelling kept through the `http` types, TLS, and core's
//! smuggling rule (CL+TE never reaches the service).

mod common;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use common::{start, Flavor, FLAVORS};
use http::{HeaderMap, StatusCode};
use http_body::Frame;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use wireloom_testkit::fs::TempDir;
use wireloom_testkit::http::{request, Client};
use wireloom_testkit::pki;
use wireloom_testkit::process::{curl, curl_raw, python_ok, run};
use wireloom_tokio::core::http::interop::HeaderCase;
use wireloom_tokio::server::Server;
use wireloom_tokio::tower::ConnectionInfo;

#[derive(Deserialize)]
struct Search {
    q: String,
    page: Option<u32>,
}

#[derive(Deserialize, Serialize)]
struct Item {
    name: String,
    qty: u32,
}

/// A body of two data frames and a trailer section.
struct WithTrailers(u8);

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0 += 1;
        Poll::Ready(match self.0 {
            1 => Some(Ok(Frame::data(Bytes::from_static(b"part one,")))),
            2 => Some(Ok(Frame::data(Bytes::from_static(b"part two")))),
            3 => {
                let mut t = HeaderMap::new();
                t.insert("x-checksum", "c0ffee".parse().unwrap());
                t.insert("x-parts", "2".parse().unwrap());
                Some(Ok(Frame::trailers(t)))
            }
            _ => None,
        })
    }
}

/// The application; `calls` counts the requests that reach it.
fn app(calls: Arc<AtomicUsize>) -> Router {
    let events = || async {
        let ticks = futures_util::stream::unfold(0u32, |i| async move {
            if i == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            let ev = Event::default().event("tick").data(format!("n={i}"));
            Some((Ok::<_, Infallible>(ev), i + 1))
        });
        Sse::new(ticks)
    };
    Router::new()
        .route("/plaintext", get(|| async { "Hello, World!" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>, Query(s): Query<Search>| async move {
                Json(json!({"id": id, "q": s.q, "page": s.page}))
            }),
        )
        .route(
            "/items",
            post(|Json(item): Json<Item>| async move {
                let total = item.qty * 2;
                (
                    StatusCode::CREATED,
                    Json(json!({"name": item.name, "total": total})),
                )
            }),
        )
        // 1 KiB at most: over it (by Content-Length or while streaming) 413.
        .route(
            "/small",
            post(|body: Bytes| async move { format!("{} bytes", body.len()) })
                .layer(RequestBodyLimitLayer::new(1024)),
        )
        // A large upload, streamed: length and a byte sum.
        .route(
            "/upload",
            post(|body: AxumBody| async move {
                let mut body = body.into_data_stream();
                let (mut n, mut sum) = (0u64, 0u64);
                while let Some(piece) = futures_util::StreamExt::next(&mut body).await {
                    let piece = piece.unwrap();
                    n += piece.len() as u64;
                    sum = piece.iter().fold(sum, |s, b| s.wrapping_add(*b as u64));
                }
                format!("{n} bytes, sum {sum}")
            })
            .layer(DefaultBodyLimit::disable()),
        )
        .route("/events", get(events))
        .route(
            "/trailers",
            get(|| async { Response::new(AxumBody::new(WithTrailers(0))) }),
        )
        // tower_http's timeout layer: 408 for a handler that takes longer.
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            })
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(200),
            )),
        )
        // Header names as the client spelled them, from the `http` types'
        // extensions; the response carries the request's fields back with
        // that spelling (what a proxy on `http` types does).
        .route(
            "/names",
            get(
                |Extension(case): Extension<HeaderCase>,
                 Extension(conn): Extension<ConnectionInfo>,
                 headers: HeaderMap| async move {
                    let names: Vec<String> = case
                        .names()
                        .map(|n| String::from_utf8_lossy(n).into_owned())
                        .collect();
                    let mut res = format!(
                        "{}|peer={}",
                        names.join(","),
                        conn.peer.map(|p| p.ip().to_string()).unwrap_or_default()
                    )
                    .into_response();
                    for (n, v) in &headers {
                        if n.as_str().starts_with("x-") {
                            res.headers_mut().append(n.clone(), v.clone());
                        }
                    }
                    let mut echo = wireloom_tokio::core::http::HeaderMap::new();
                    for (n, v) in case.fields().iter() {
                        if n.as_str().to_ascii_lowercase().starts_with("x-") {
                            echo.append_field(n.clone(), v.clone());
                        }
                    }
                    echo.append("Content-Type", "text/plain; charset=utf-8")
                        .unwrap();
                    res.extensions_mut().insert(HeaderCase::new(echo));
                    res
                },
            ),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here\n") })
        // A tower middleware around the whole application.
        .layer(tower::util::MapRequestLayer::new(
            move |req: http::Request<AxumBody>| {
                calls.fetch_add(1, Ordering::SeqCst);
                req
            },
        ))
}

fn builder(calls: &Arc<AtomicUsize>) -> wireloom_tokio::server::ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .service(app(Arc::clone(calls)))
}

#[test]
fn curl_extractors_json_fallback_and_timeout() {
    for flavor in FLAVORS {
        let calls = Arc::new(AtomicUsize::new(0));
        let srv = start(flavor, builder(&calls));
        let base = srv.base();

        let (out, err) = curl(&[&format!("{base}/plaintext")]);
        assert_eq!(out, "Hello, World!", "{flavor:?} {err}");

        // Path + query extractors, JSON out; two requests on one connection.
        let (out, err) = curl(&[
            "-w",
            "\n%{http_code} %{content_type} %{num_connects}\n",
            &format!("{base}/users/42?q=rust&page=3"),
            &format!("{base}/users/7?q=x"),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out} {err}");
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v, json!({"id": 42, "q": "rust", "page": 3}));
        assert_eq!(lines[1], "200 application/json 1");
        let v: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(v, json!({"id": 7, "q": "x", "page": null}));
        assert_eq!(lines[3], "200 application/json 0");

        // JSON in: a bad path parameter and bad JSON are axum's 400/422.
        let (out, _) = curl(&[
            "-w",
            " %{http_code}",
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"name":"bolt","qty":21}"#,
            &format!("{base}/items"),
        ]);
        let (json_text, code) = out.rsplit_once(' ').unwrap();
        assert_eq!(code, "201");
        let v: Value = serde_json::from_str(json_text).unwrap();
        assert_eq!(v, json!({"name": "bolt", "total": 42}));
        let (out, _) = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"name":1}"#,
            &format!("{base}/items"),
        ]);
        assert_eq!(out, "422");
        let (out, _) = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/users/abc?q=1"),
        ]);
        assert_eq!(out, "400");

        // HEAD to a GET route: the GET's length, no body.
        let r = request(
            srv.addr,
            b"HEAD /users/42?q=rust HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.status, 200, "{flavor:?} {}", r.head);
        assert_eq!(r.header("content-length"), Some("32"), "{}", r.head);
        assert!(r.body.is_empty());

        // The fallback.
        let (out, _) = curl(&["-w", "%{http_code}", &format!("{base}/no/such/page")]);
        assert_eq!(out, "nothing here\n404");

        // tower_http's timeout layer answers for the slow handler.
        let (out, _) = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/slow"),
        ]);
        assert_eq!(out, "408");
        assert!(calls.load(Ordering::SeqCst) >= 8);
        srv.shutdown();
    }
}

#[test]
fn python_http_client_keep_alive() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Multi, builder(&calls));
    let script = r#"
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/users/5?q=py&page=1")
r = c.getresponse()
assert r.status == 200, r.status
assert json.loads(r.read()) == {"id": 5, "q": "py", "page": 1}
c.request("POST", "/items", body=json.dumps({"name": "nut", "qty": 4}),
          headers={"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 201, r.status
assert json.loads(r.read()) == {"name": "nut", "total": 8}
c.request("POST", "/small", body=b"x" * 2000)
r = c.getresponse()
assert r.status == 413, r.status
r.read()
c.close()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/small", body=b"y" * 100)
r = c.getresponse()
assert r.status == 200 and r.read() == b"100 bytes", r.status
c.request("GET", "/missing")
r = c.getresponse()
assert r.status == 404 and r.read() == b"nothing here\n"
c.request("GET", "/events")
r = c.getresponse()
assert r.status == 200
assert r.getheader("Content-Type") == "text/event-stream", r.getheader("Content-Type")
assert r.getheader("Transfer-Encoding") == "chunked"
text = r.read().decode()
assert text == "".join(f"event: tick\ndata: n={i}\n\n" for i in range(3)), repr(text)
c.request("GET", "/plaintext")
r = c.getresponse()
assert r.read() == b"Hello, World!"
print("ok")
"#;
    python_ok(script, &[&srv.addr.port().to_string()]);
    // A streamed body over the limit (chunked, no Content-Length): 413
    // from the limit layer while the body streams.
    let mut c = Client::new(srv.addr);
    let big = "z".repeat(1500);
    let req = format!(
        "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:X}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let r = c.round_trip(req);
    assert_eq!(r.status, 413, "{}", r.head);
    srv.shutdown();
}

#[test]
fn server_sent_events_stream_with_curl() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Current, builder(&calls));
    let (out, err) = curl(&["-N", "-i", &format!("{}/events", srv.base())]);
    let (head, body) = out
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{out} {err}"));
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert_eq!(
        body,
        "event: tick\ndata: n=0\n\nevent: tick\ndata: n=1\n\nevent: tick\ndata: n=2\n\n"
    );
    srv.shutdown();
}

#[test]
fn smuggling_never_reaches_the_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Multi, builder(&calls));
    let r = request(
        srv.addr,
        b"POST /items HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.head);
    assert!(r.closes());
    // Two Content-Lengths that differ, a bad chunk size: 400, unseen.
    let r = request(
        srv.addr,
        b"POST /items HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    );
    assert_eq!(r.status, 400);
    // A head over the limit: 431, unseen.
    let long = format!(
        "GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let r = request(srv.addr, long.as_bytes());
    assert_eq!(r.status, 431);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // A good request does reach it.
    let r = request(srv.addr, b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    srv.shutdown();
}

#[test]
fn pipelined_requests_and_header_spelling() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Multi, builder(&calls));
    let mut c = Client::new(srv.addr);
    c.send(
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /names HTTP/1.1\r\nhOsT: a\r\nX-Request-ID: 9\r\nx-lower: l\r\nX-Request-ID: 10\r\n\r\n\
          GET /users/1?q=z HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let r = c.response(false).unwrap();
    assert_eq!(r.text(), "Hello, World!");
    let r = c.response(false).unwrap();
    assert_eq!(
        r.text(),
        "hOsT,X-Request-ID,x-lower,X-Request-ID|peer=127.0.0.1"
    );
    // The response fields went out as the request spelled them, in order.
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..4],
        ["X-Request-ID", "x-lower", "X-Request-ID", "Content-Type"],
        "{}",
        r.head
    );
    assert_eq!(r.headers_named("x-request-id"), ["9", "10"]);
    let r = c.response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(srv.handle.active_connections(), 1);
    srv.shutdown();
}

#[test]
fn trailers_only_when_the_request_accepts_them() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Current, builder(&calls));
    let r = request(
        srv.addr,
        b"GET /trailers HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
    );
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{}", r.head);
    assert_eq!(r.text(), "part one,part two");
    assert_eq!(
        r.trailers,
        [
            ("x-checksum".to_string(), "c0ffee".to_string()),
            ("x-parts".to_string(), "2".to_string())
        ]
    );
    let r = request(srv.addr, b"GET /trailers HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.text(), "part one,part two");
    assert!(r.trailers.is_empty(), "{:?}", r.trailers);
    // HTTP/1.0: no chunks, the body ends at the close.
    let r = request(srv.addr, b"GET /trailers HTTP/1.0\r\nTE: trailers\r\n\r\n");
    assert_eq!(r.text(), "part one,part two");
    assert!(r.header("transfer-encoding").is_none());
    srv.shutdown();
}

#[test]
fn continue_for_a_large_upload_with_curl() {
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(Flavor::Multi, builder(&calls));
    let dir = TempDir::new("axum-upload");
    let file = dir.join("big.bin");
    let data = wireloom_testkit::data::pattern(7, 3 << 20);
    std::fs::write(&file, &data).unwrap();
    let sum = data.iter().fold(0u64, |s, b| s.wrapping_add(*b as u64));
    let out = curl_raw(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "15",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{}/upload", srv.base()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP/1.1 100 Continue"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{} bytes, sum {sum}", data.len())
    );
    // Over the limit by Content-Length: 413 at once, no 100 Continue, and
    // the body is never sent.
    let out = curl_raw(&[
        "-v",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "15",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{}/small", srv.base()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413", "{stderr}");
    assert!(!stderr.contains("100 Continue"), "{stderr}");
    srv.shutdown();
}

#[test]
fn serve_with_graceful_shutdown() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = mpsc::channel();
    let app = app(Arc::clone(&calls));
    let server = std::thread::spawn(move || {
        let rt = common::runtime(Flavor::Current);
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            wireloom_tokio::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        })
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let (out, _) = curl(&[&format!("http://{addr}/plaintext")]);
    assert_eq!(out, "Hello, World!");
    // A connection idle at the signal is closed; `serve` returns.
    let mut idle = Client::new(addr);
    let r = idle.round_trip("GET /users/3?q=a HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
    stop_tx.send(()).unwrap();
    assert!(idle.closed());
    let joined =
        wireloom_testkit::net::wait_until(Duration::from_secs(10), || server.is_finished());
    assert!(joined, "serve did not return after the signal");
    server.join().unwrap().unwrap();
}

#[test]
fn tls_with_curl() {
    let p = pki::pki();
    let dir = TempDir::new("axum-tls");
    pki::write_files(&p, dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let srv = start(
        Flavor::Multi,
        builder(&calls).tls(pki::server_config(&p, Duration::from_secs(5))),
    );
    let port = srv.addr.port();
    let out = run(
        std::process::Command::new("curl").args([
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            &dir.join("ca.pem").display().to_string(),
            "--resolve",
            &format!("a.test:{port}:127.0.0.1"),
            &format!("https://a.test:{port}/users/9?q=tls"),
        ]),
        Duration::from_secs(25),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, json!({"id": 9, "q": "tls", "page": null}));
    srv.shutdown();
}

/// A plain tower service (no axum) next to a wireloom route: the route
/// wins, the service gets the rest; its errors and panics are 500s; the
/// request body streams to it with its trailers as an `http_body` frame.
#[test]
fn plain_service_beside_routes_errors_and_request_trailers() {
    use http_body_util::BodyExt;
    use wireloom_tokio::core::http::Method;
    use wireloom_tokio::router::Router as WlRouter;
    use wireloom_tokio::server::{
        handler, BoxHandler, Request as WlRequest, Response as WlResponse,
    };
    use wireloom_tokio::tower::IncomingBody;

    let svc = tower::service_fn(|req: http::Request<IncomingBody>| async move {
        match req.uri().path() {
            "/err" => Err::<http::Response<http_body_util::Full<Bytes>>, std::io::Error>(
                std::io::Error::other("service failed"),
            ),
            "/panic" => panic!("service panicked"),
            _ => {
                let collected = req.into_body().collect().await?;
                let trailers = collected
                    .trailers()
                    .map(|t| {
                        t.iter()
                            .map(|(n, v)| format!("{}={}", n, v.to_str().unwrap_or("?")))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                let body = collected.to_bytes();
                let text = format!("{} bytes; trailers {trailers}", body.len());
                Ok(http::Response::new(http_body_util::Full::new(Bytes::from(
                    text,
                ))))
            }
        }
    });
    let mut routes: WlRouter<BoxHandler> = WlRouter::new();
    routes
        .route(
            Method::GET,
            "/native",
            handler(|_: WlRequest| async {
                WlResponse::text(wireloom_tokio::core::http::StatusCode::OK, "native")
            }),
        )
        .unwrap();
    let b = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .router(routes)
        .service(svc);
    let srv = start(Flavor::Current, b);
    let r = request(srv.addr, b"GET /native HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.text(), "native");
    let r = request(srv.addr, b"GET /err HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 500);
    let r = request(srv.addr, b"GET /panic HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 500);
    let r = request(
        srv.addr,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nx-other: b\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.text(), "11 bytes; trailers x-sum=42,x-other=b");
    // Python's http.client sends a chunked body from an iterator.
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/echo", body=iter([b"ab", b"cde"]), encode_chunked=True)
r = c.getresponse()
assert r.status == 200 and r.read() == b"5 bytes; trailers ", r.status
c.request("GET", "/native")
assert c.getresponse().read() == b"native"
print("ok")
"#;
    python_ok(script, &[&srv.addr.port().to_string()]);
    srv.shutdown();
}
