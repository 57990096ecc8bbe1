//! HTTPS against curl: a test CA and leaves (`wireloom_testkit::pki`),
//! curl trusting the CA (`--cacert`), every scenario under each executor.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use wireloom_async_std::cache::{CacheConfig, FileCache};
use wireloom_async_std::core::http::{Method, StatusCode};
use wireloom_async_std::router::Router;
use wireloom_async_std::server::{handler, BoxHandler, Request, Response, Server, StaticFiles};
use wireloom_async_std::static_files::StaticDir;
use wireloom_async_std::tls::ServerTlsConfig;
use wireloom_async_std::AsyncRuntime;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki;

fn app(rt: &AsyncRuntime, root: &Path, tls: ServerTlsConfig) -> Server {
    let mut r: Router<BoxHandler> = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/sni",
        handler(|req: Request| async move {
            Response::text(StatusCode::OK, req.server_name().unwrap_or("-").to_string())
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/api/echo",
        handler(|mut req: Request| async move {
            match req.read_body(16 << 20).await {
                Ok(body) => Response::bytes(StatusCode::OK, "application/octet-stream", body),
                Err(_) => Response::text(StatusCode::CONTENT_TOO_LARGE, "body too large\n"),
            }
        }),
    )
    .unwrap();
    let dir = StaticDir::new(root, FileCache::new(CacheConfig::default())).unwrap();
    r.any("/{*path}", handler(StaticFiles::new(rt.clone(), dir)))
        .unwrap();
    Server::builder_on(rt.clone())
        .bind("127.0.0.1:0")
        .unwrap()
        .router(r)
        .tls(tls)
        .build()
        .unwrap()
}

const UPLOAD: &str = "a chunked upload over TLS\n";

#[test]
fn curl_over_tls_with_a_test_ca() {
    let dir = temp_dir("tls");
    let p = pki::pki();
    let (ca_pem, tls) = (
        p.ca_pem.clone(),
        pki::server_config(&p, Duration::from_secs(5)),
    );
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let big: Vec<u8> = (0..1_200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("upload.txt"), UPLOAD).unwrap();
    let ca = ca.display().to_string();
    each_executor(|rt| {
        let (dir, ca, tls, big) = (dir.clone(), ca.clone(), tls.clone(), &big);
        async move {
            let server = app(&rt, &dir, tls);
            let s = start_built(&rt, server);
            let port = s.addr.port();
            let resolve = |host: &str| format!("{host}:{port}:127.0.0.1");
            let url = |host: &str, path: &str| format!("https://{host}:{port}{path}");

            // Trusting the CA: two requests on one TLS connection.
            let plain = url("localhost", "/plaintext");
            let (out, err) = curl(&[
                "--http1.1",
                "--cacert",
                &ca,
                "--resolve",
                &resolve("localhost"),
                "-w",
                "\n%{num_connects}\n",
                &plain,
                &plain,
            ])
            .await;
            assert_eq!(out, "Hello, World!\n1\nHello, World!\n0\n", "{err}");

            // SNI picks the certificate and reaches the handler.
            let (out, err) = curl(&[
                "--cacert",
                &ca,
                "--resolve",
                &resolve("a.test"),
                &url("a.test", "/sni"),
            ])
            .await;
            assert_eq!(out, "a.test", "{err}");
            // By address: no SNI, the default certificate (SAN 127.0.0.1).
            let (out, err) = curl(&["--cacert", &ca, &url("127.0.0.1", "/sni")]).await;
            assert_eq!(out, "-", "{err}");

            // A file larger than the TLS write high-water mark, and a range.
            let big_out = dir.join(format!("big-{port}.out"));
            let (_, err) = curl(&[
                "--cacert",
                &ca,
                "--resolve",
                &resolve("localhost"),
                "-o",
                &big_out.display().to_string(),
                &url("localhost", "/big.bin"),
            ])
            .await;
            assert!(std::fs::read(&big_out).unwrap() == *big, "{err}");
            let (out, err) = curl(&[
                "-i",
                "--cacert",
                &ca,
                "--resolve",
                &resolve("localhost"),
                "-r",
                "1000-1003",
                &url("localhost", "/big.bin"),
            ])
            .await;
            assert!(out.starts_with("HTTP/1.1 206"), "{out}{err}");

            // A chunked upload with 100-continue, echoed.
            let (out, err) = curl(&[
                "-v",
                "--cacert",
                &ca,
                "--resolve",
                &resolve("localhost"),
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Expect: 100-continue",
                "-X",
                "POST",
                "-T",
                &dir.join("upload.txt").display().to_string(),
                &url("localhost", "/api/echo"),
            ])
            .await;
            assert!(err.contains("< HTTP/1.1 100 Continue"), "{err}");
            assert!(err.contains("< HTTP/1.1 200"), "{err}");
            assert_eq!(out, UPLOAD, "{err}");

            // Without the CA, curl refuses the certificate (exit 60); the
            // server lives on.
            let mut cmd = Command::new("curl");
            cmd.args([
                "-sS",
                "--max-time",
                "10",
                "--resolve",
                &resolve("localhost"),
            ])
            .arg(url("localhost", "/plaintext"));
            let refused = run(cmd).await;
            assert_eq!(refused.status.code(), Some(60));
            let (out, err) = curl(&["--cacert", &ca, &url("127.0.0.1", "/plaintext")]).await;
            assert_eq!(out, "Hello, World!", "{err}");

            // Plain HTTP to the TLS port: the handshake fails, the server
            // lives on.
            let (out, _) = curl(&[&format!("http://127.0.0.1:{port}/plaintext")]).await;
            assert!(!out.contains("Hello"), "{out}");

            s.stop().await;
        }
    });
}
