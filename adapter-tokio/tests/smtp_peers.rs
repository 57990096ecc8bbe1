//! The async SMTP client on tokio against real peers started here on
//! 127.0.0.1: aiosmtpd (STARTTLS and implicit TLS with a test CA, AUTH
//! PLAIN and LOGIN, per-recipient results, several messages per
//! connection, streamed bodies) and Postfix `smtp-sink` (PIPELINING): the
//! scenarios every async adapter runs (`wireloom_testkit::scenarios`), plus
//! a large streamed message, tasks sharing one client and a silent server
//! (timeouts).

use std::time::{Duration, Instant};

use wireloom_testkit::net::silent_server;
use wireloom_testkit::pki;
use wireloom_testkit::scenarios::smtp as scenarios;
use wireloom_testkit::smtp::Aiosmtpd;
use wireloom_tokio::smtp::{
    ClientError, ClientTimeouts, Credentials, Envelope, Error, Security, SmtpClient,
    SmtpClientBuilder, Stage, StartTls, Timeout,
};
use wireloom_tokio::TokioRuntime;

fn client(server: &Aiosmtpd, security: Security) -> SmtpClientBuilder {
    server.builder(security)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_auth_plain_and_login() {
    scenarios::starttls_with_auth_plain_and_login(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_with_auth_several_recipients_and_messages() {
    scenarios::smtps_with_auth_several_recipients_and_messages(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_pipelining_one_batch_per_envelope() {
    scenarios::smtp_sink_pipelining_one_batch_per_envelope(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_message_streamed_from_a_reader_over_starttls() {
    scenarios::large_message_streamed_from_a_reader_over_starttls(TokioRuntime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_tls_errors_are_typed() {
    // No greeting: core's reply timer.
    let (h, addr) = silent_server();
    let started = Instant::now();
    let err = SmtpClient::builder(addr.to_string())
        .security(Security::None)
        .timeouts(ClientTimeouts {
            greeting: Duration::from_millis(400),
            ..ClientTimeouts::default()
        })
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Reply(Stage::Greeting))),
        "{err:?}"
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3));
    h.join().unwrap();

    // Implicit TLS to a silent server: the handshake times out.
    let (h, addr) = silent_server();
    let (ca_pem, _) = pki::localhost();
    let tls = wireloom_tokio::tls::ClientTlsConfig::builder()
        .only_custom_roots()
        .add_root_pem(ca_pem.as_bytes())
        .unwrap()
        .handshake_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = SmtpClient::builder(addr.to_string())
        .security(Security::Tls)
        .tls_config(tls)
        .tls_server_name("localhost")
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::TlsHandshake)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    h.join().unwrap();

    // A certificate from another CA; STARTTLS required but not offered;
    // opportunistic goes on in plaintext.
    let server = Aiosmtpd::start("implicit", false);
    let (other_ca, _) = pki::localhost();
    let err = SmtpClient::builder(server.addr())
        .security(Security::Tls)
        .ca_pem(other_ca)
        .tls_server_name("localhost")
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    let plain = Aiosmtpd::start("plain", false);
    let err = client(&plain, Security::StartTls(StartTls::Required))
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ClientError::TlsUnavailable)),
        "{err:?}"
    );
    let conn = client(&plain, Security::StartTls(StartTls::Opportunistic))
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(!conn.is_secure());
    conn.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_send_and_tasks_in_parallel() {
    let mut server = Aiosmtpd::start("starttls", true);
    let client = client(&server, Security::StartTls(StartTls::Required))
        .credentials(Credentials::password("alice", "secret"))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let env = Envelope::new("a@example.org", [format!("t{i}@example.com")]);
            client
                .send(&env, format!("Subject: task {i}\r\n\r\nhi\r\n"))
                .await
        }));
    }
    for t in tasks {
        let d = t.await.unwrap().unwrap();
        assert!(d.recipients.iter().all(|r| r.accepted()));
    }
    let mut seen: Vec<String> = (0..4)
        .map(|_| {
            server.delivered()["rcpt_to"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "t0@example.com",
            "t1@example.com",
            "t2@example.com",
            "t3@example.com"
        ]
    );
}
