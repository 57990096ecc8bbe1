//! The tokio server over TLS against real peers: curl (`--cacert`,
//! `--resolve`, SNI picking one of two certificates), Python's `ssl`, a
//! rustls client for upgrades; handshake deadlines against silent and
//! dripping clients.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{aio, start, Flavor, Running, FLAVORS};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::net::{connect, wait_until};
use wireloom_testkit::pki;
use wireloom_testkit::process::run;
use wireloom_testkit::scenarios::server;
use wireloom_tokio::core::http::{Method, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Body, BoxHandler, Request, Response, Server, Upgraded};

fn routes() -> Router<BoxHandler> {
    let mut r: Router<BoxHandler> = Router::new();
    r.route(
        Method::GET,
        "/who/{name}",
        handler(|req: Request| async move {
            Response::text(
                StatusCode::OK,
                format!(
                    "hello {} sni={}\n",
                    req.param("name").unwrap_or("?"),
                    req.server_name().unwrap_or("-")
                ),
            )
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/echo",
        handler(|mut req: Request| async move {
            match req.read_body(16 << 20).await {
                Ok(b) => Response::bytes(StatusCode::OK, "application/octet-stream", b),
                Err(_) => Response::new(StatusCode::CONTENT_TOO_LARGE),
            }
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
                    let first = up.read_ahead.clone();
                    if aio::write_all(&mut up.io, &first).await.is_err() {
                        return;
                    }
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = aio::read(&mut up.io, &mut buf).await {
                        if n == 0 || aio::write_all(&mut up.io, &buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    // close_notify, then FIN.
                    let _ = std::future::poll_fn(|cx| {
                        futures_io::AsyncWrite::poll_close(std::pin::Pin::new(&mut up.io), cx)
                    })
                    .await;
                }))
        }),
    )
    .unwrap();
    r
}

fn serve(flavor: Flavor, p: &pki::Pki, handshake: Duration) -> Running {
    start(
        flavor,
        Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .tls(pki::server_config(p, handshake))
            .router(routes()),
    )
}

fn curl_tls(
    ca: Option<&std::path::Path>,
    host: &str,
    port: u16,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--http1.1", "--max-time", "10"])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"));
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    cmd.args(extra);
    run(&mut cmd, Duration::from_secs(20))
}

#[test]
fn curl_with_sni_keep_alive_and_uploads() {
    let p = pki::pki();
    let dir = temp_dir("tls-curl");
    pki::write_files(&p, &dir);
    let ca = dir.join("ca.pem");
    for flavor in FLAVORS {
        let srv = serve(flavor, &p, Duration::from_secs(5));
        let port = srv.addr.port();
        // Two names, two certificates, chosen by SNI; two requests on one
        // connection.
        for host in ["a.test", "b.test", "localhost"] {
            let out = curl_tls(
                Some(&ca),
                host,
                port,
                &[
                    "-w",
                    "%{num_connects}\n",
                    &format!("https://{host}:{port}/who/one"),
                    &format!("https://{host}:{port}/who/two"),
                ],
            );
            assert!(
                out.status.success(),
                "{flavor:?} {host}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("hello one sni={host}\n1\nhello two sni={host}\n0\n")
            );
        }
        // By IP address: no SNI, the default certificate (127.0.0.1 SAN).
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--http1.1", "--max-time", "10", "--cacert"])
            .arg(&ca)
            .arg(format!("https://127.0.0.1:{port}/who/ip"));
        let out = run(&mut cmd, Duration::from_secs(20));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello ip sni=-\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A name we have no certificate for gets the default one, which
        // curl refuses (exit 60); without our CA curl refuses too.
        let out = curl_tls(
            Some(&ca),
            "c.test",
            port,
            &[&format!("https://c.test:{port}/who/x")],
        );
        assert_eq!(
            out.status.code(),
            Some(60),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = curl_tls(
            None,
            "a.test",
            port,
            &[&format!("https://a.test:{port}/who/x")],
        );
        assert_eq!(
            out.status.code(),
            Some(60),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A 2 MB upload echoed back over TLS.
        let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let file = dir.join("payload.bin");
        std::fs::write(&file, &payload).unwrap();
        let out = curl_tls(
            Some(&ca),
            "a.test",
            port,
            &[
                "--data-binary",
                &format!("@{}", file.display()),
                &format!("https://a.test:{port}/echo"),
            ],
        );
        assert!(
            out.stdout == payload,
            "{flavor:?}: echo over TLS differs ({} bytes)",
            out.stdout.len()
        );
        // The server is fine after the refused handshakes.
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        srv.shutdown();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn python_ssl_client() {
    let p = pki::pki();
    let dir = temp_dir("tls-py");
    pki::write_files(&p, &dir);
    let srv = serve(Flavor::Current, &p, Duration::from_secs(5));
    let ca = dir.join("ca.pem");
    let py = |host: &str| server::python_tls_get(&ca, srv.addr.port(), host, "/who/py");
    let out = py("b.test");
    let text = String::from_utf8_lossy(&out.stdout);
    // unwrap() succeeds only if the server sent close_notify.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("TLSv1.3 http/1.1\nHTTP/1.1 200 OK\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\nhello py sni=b.test\n"), "{text}");
    assert!(
        text.contains("Connection: close\r\n") && text.contains("\r\nDate: "),
        "{text}"
    );
    // Python checks the name: the default certificate is not valid for it.
    let out = py("nope.test");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"));
    srv.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

/// Connects and sends `hello` one byte every `gap`; returns how long until
/// the server closed (or reset) the connection.
fn time_to_close(addr: SocketAddr, hello: &[u8], gap: Duration) -> Duration {
    let mut s = connect(addr);
    let started = Instant::now();
    for b in hello {
        if s.write_all(&[*b]).is_err() {
            return started.elapsed();
        }
        std::thread::sleep(gap);
    }
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn handshake_timeout_for_silent_and_dripping_clients() {
    let p = pki::pki();
    let dir = temp_dir("tls-hs");
    pki::write_files(&p, &dir);
    for flavor in FLAVORS {
        let srv = serve(flavor, &p, Duration::from_millis(600));
        let addr = srv.addr;
        // A client that connects and says nothing.
        let silent = std::thread::spawn(move || time_to_close(addr, b"", Duration::ZERO));
        // One that drips a ClientHello-looking record a byte at a time.
        let drip = std::thread::spawn(move || {
            time_to_close(
                addr,
                &[
                    0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                Duration::from_millis(50),
            )
        });
        // Meanwhile a real client is served, on either runtime.
        std::thread::sleep(Duration::from_millis(50));
        let port = addr.port();
        let out = curl_tls(
            Some(&dir.join("ca.pem")),
            "a.test",
            port,
            &[&format!("https://a.test:{port}/who/busy")],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello busy sni=a.test\n"
        );
        let t = silent.join().unwrap();
        assert!(
            t >= Duration::from_millis(500) && t < Duration::from_secs(3),
            "{flavor:?} silent: {t:?}"
        );
        let t = drip.join().unwrap();
        assert!(t < Duration::from_secs(3), "{flavor:?} drip: {t:?}");
        assert!(wait_until(Duration::from_secs(5), || srv
            .handle
            .active_connections()
            == 0));
        srv.shutdown();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn upgrade_over_tls_keeps_read_ahead() {
    let p = pki::pki();
    for flavor in FLAVORS {
        let srv = serve(flavor, &p, Duration::from_secs(5));
        let mut s = pki::rustls_client(&p, srv.addr, "a.test");
        s.write_all(b"GET /upgrade HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nping")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"ping") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "{}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{text}"
        );
        s.write_all(b"pong and more").unwrap();
        let mut back = [0u8; 13];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"pong and more");
        // A clean TLS end both ways.
        s.conn.send_close_notify();
        s.flush().unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{flavor:?}");
        srv.shutdown();
    }
}
