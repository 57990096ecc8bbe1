//! The async engine's `tracing` output (shared by wireloom-tokio and
//! wireloom-async-std), captured with a real subscriber
//! (`wireloom_testkit::trace`) on tokio while real peers talk to it: curl
//! over TLS (connection accepted with SNI, the handler's events inside the
//! request span, the response event, connection closed), plain text on the
//! TLS port (a failed handshake), Python sending a request that smuggles
//! (the protocol error's kind), a slow client (the head timeout, typed),
//! and the async HTTP client.

mod common;

use std::time::Duration;

use common::{start, Flavor};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki::pki;
use wireloom_testkit::scenarios;
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
    scenarios::server::tracing_tls_peer(&logs, &ca, https.addr.port());
    https.shutdown();

    let http = start(Flavor::Current, builder(None));
    scenarios::server::tracing_bad_peers(&logs, http.addr.port());
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
