//! The blocking adapter's `tracing` output, captured with a real
//! subscriber (`wireloom_testkit::trace`) while real peers talk to it:
//! curl over TLS (connection accepted with SNI, request span and response
//! event, connection closed), Python sending a request that smuggles
//! (`Content-Length` with `Transfer-Encoding`: the protocol error's kind),
//! a slow client (the head timeout, typed), plain text on the TLS port (a
//! failed handshake), our HTTP client, and our SMTP client against
//! aiosmtpd with AUTH (one event per reply; no credentials logged).

use std::time::Duration;

use wireloom_blocking::client::Agent;
use wireloom_blocking::core::http::ServerConfig;
use wireloom_blocking::core::smtp::auth::Credentials;
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::smtp::{Envelope, Security, SmtpClient, StartTls};
use wireloom_blocking::tls::{acceptor, ServerTlsConfig};
use wireloom_core::http::{Method, StatusCode};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki::pki;
use wireloom_testkit::scenarios;
use wireloom_testkit::smtp::Aiosmtpd;

fn server(tls: Option<ServerTlsConfig>) -> (wireloom_blocking::server::ServerHandle, u16) {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/hello",
        Server::handler(|_: &mut Request<'_>| {
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
        .threads(2)
        .config(config)
        .router(r);
    if let Some(tls) = tls {
        b = b.acceptor(acceptor(tls));
    }
    let server = b.build().unwrap();
    let port = server.local_addrs()[0].port();
    (server.spawn().unwrap(), port)
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
    let (https, tls_port) = server(Some(tls));
    scenarios::server::tracing_tls_peer(&logs, &ca, tls_port);
    https.shutdown();

    let (http, port) = server(None);
    scenarios::server::tracing_bad_peers(&logs, port);
    // Our client.
    let res = Agent::new()
        .get(&format!("http://127.0.0.1:{port}/hello"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    logs.wait_for(&["wireloom::client", "method=GET", "/hello", "status=200"]);
    http.shutdown();

    // SMTP: one event per reply, with the command's verb and code only.
    let mut smtp = Aiosmtpd::start("starttls", true);
    let mut conn = smtp
        .builder::<SmtpClient>(Security::StartTls(StartTls::Required))
        .credentials(Credentials::password("alice", "secret"))
        .build()
        .unwrap()
        .connect()
        .unwrap();
    let env = Envelope::new("a@example.org", ["b@example.com"]);
    conn.send(&env, &b"Subject: t\r\n\r\nconfidential body\r\n"[..])
        .unwrap();
    conn.quit().unwrap();
    smtp.delivered();
    for (verb, code) in [
        ("(greeting)", "220"),
        ("EHLO", "250"),
        ("STARTTLS", "220"),
        ("AUTH", "235"),
        ("MAIL", "250"),
        ("RCPT", "250"),
        ("DATA", "354"),
        (".", "250"),
        ("QUIT", "221"),
    ] {
        logs.wait_for(&[
            "wireloom::smtp",
            &format!("command=\"{verb}\""),
            &format!("code={code}"),
        ]);
    }
    let text = logs.text();
    // Neither the password, nor the AUTH PLAIN payload, nor the body.
    for secret in ["secret", "AGFsaWNlAHNlY3JldA", "confidential"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
