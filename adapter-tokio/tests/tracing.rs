//! The async engine's `tracing` output (shared by wireloom-tokio and
//! wireloom-async-std), captured with a real subscriber
//! (`wireloom_testkit::trace`) on tokio while real peers talk to it: curl
//! over TLS (connection accepted with SNI, the handler's events inside the
//! request span, the response event, connection closed), plain text on the
//! TLS port (a failed handshake), Python sending a request that smuggles
//! (the protocol error's kind), a slow client (the head timeout, typed),
//! and the async HTTP client.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{start, Flavor};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki::pki;
use wireloom_tokio::core::http::{Method, ServerConfig, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Request, Response, Server};
use wireloom_tokio::tls::ServerTlsConfig;

fn builder(tls: Option<ServerTlsConfig>) -> wireloom_tokio::server::ServerBuilder {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/hello",
        handler(|_: Request| async {
            tracing::info!(target: "wireloom::test", "in the handler");
            Response::text(StatusCode::OK, "hello\n")
        }),
    )
    .unwrap();
    let config = ServerConfig {
        head_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let mut b = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .router(r);
    if let Some(tls) = tls {
        b = b.tls(tls);
    }
    b
}

fn python(script: &str, port: u16) -> String {
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn spans_and_events_with_real_peers() {
    let logs = wireloom_testkit::trace::capture();
    let p = pki();
    let dir = temp_dir("tracing");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let tls = ServerTlsConfig::from_pem(
        p.localhost.cert_pem.as_bytes(),
        p.localhost.key_pem.as_bytes(),
    )
    .unwrap();
    let https = start(Flavor::Multi, builder(Some(tls)));
    let tls_port = https.addr.port();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&ca)
        .arg(format!("https://localhost:{tls_port}/hello"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    logs.wait_for(&[
        "wireloom::conn",
        "connection accepted",
        "tls=true",
        "sni=\"localhost\"",
    ]);
    // The handler's own event sits in the request span.
    logs.wait_for(&["request{method=GET path=\"/hello\"", "in the handler"]);
    logs.wait_for(&[
        "wireloom::request",
        "request{method=GET path=\"/hello\"",
        "response",
        "status=200",
        "bytes=6",
        "duration=",
    ]);
    logs.wait_for(&["connection closed", "reason=PeerEof"]);
    let _ = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{tls_port}/hello"))
        .output();
    logs.wait_for(&["wireloom::tls", "TLS handshake failed"]);
    https.shutdown();

    let http = start(Flavor::Current, builder(None));
    let port = http.addr.port();
    let answer = python(
        r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
"#,
        port,
    );
    assert_eq!(answer.trim(), "HTTP/1.1 400 Bad Request");
    logs.wait_for(&["protocol error", "status=400"]);
    logs.wait_for(&["connection closed", "ProtocolError"]);
    python(
        r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n")
s.settimeout(10)
print(s.recv(100).split(b"\r\n")[0].decode())
"#,
        port,
    );
    logs.wait_for(&["wireloom::conn", "timeout=Head"]);
    let url = format!("{}/hello", http.base());
    let status = common::runtime(Flavor::Current).block_on(async move {
        let res = wireloom_tokio::client::Agent::new()
            .get(&url)
            .send()
            .await
            .unwrap();
        res.status()
    });
    assert_eq!(status, StatusCode::OK);
    logs.wait_for(&["wireloom::client", "method=GET", "/hello", "status=200"]);
    http.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}
