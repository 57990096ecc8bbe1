//! The async SMTP client against real peers started on 127.0.0.1:
//! aiosmtpd (STARTTLS and implicit TLS with a test CA, AUTH PLAIN and
//! LOGIN, per-recipient results, several messages per connection,
//! large and streamed bodies) and Postfix `smtp-sink` (PIPELINING). Each scenario
//! takes the runtime to build its clients on.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use wireloom_core::mime::Message;
use wireloom_io::aio::smtp::SmtpClient;
use wireloom_io::rt::Runtime;
use wireloom_io::smtp::{
    ClientError, Credentials, Envelope, Error, Mechanism, MessageInfo, Security, SmtpClientBuilder,
    SmtpSettings, StartTls,
};

use crate::smtp::{big_message, data, dumped, sink_dir, smtp_sink, Aiosmtpd};

const MESSAGE: &[u8] =
    b"From: a@example.org\nSubject: t\n\n.dot first\r\nbare CR\rbare LF\n..\nend without newline";
const ON_THE_WIRE_UNSTUFFED: &[u8] =
    b"From: a@example.org\r\nSubject: t\r\n\r\n.dot first\r\nbare CR\r\nbare LF\r\n..\r\nend without newline\r\n";

/// A builder for `server` (trusting its test CA, certificate checked for
/// `localhost`).
fn client(server: &Aiosmtpd, security: Security) -> SmtpClientBuilder<SmtpSettings> {
    server.builder(security)
}

/// Finishing a builder into a client on a runtime.
trait BuildOn {
    /// The client on `rt` (panics on bad settings).
    fn build_on<R: Runtime>(self, rt: &R) -> SmtpClient<R>;
}

impl BuildOn for SmtpClientBuilder<SmtpSettings> {
    fn build_on<R: Runtime>(self, rt: &R) -> SmtpClient<R> {
        SmtpClient::with_runtime(rt.clone(), self.build().unwrap())
    }
}

/// STARTTLS required, AUTH PLAIN (chosen) and LOGIN (forced) with
/// aiosmtpd; the exact bytes delivered; a wrong password is a typed error,
/// promptly.
pub async fn starttls_with_auth_plain_and_login<R: Runtime>(rt: R) {
    let mut server = Aiosmtpd::start("starttls", true);
    for (forced, expected) in [
        (None, Mechanism::Plain),
        (Some(Mechanism::Login), Mechanism::Login),
    ] {
        let mut b = client(&server, Security::StartTls(StartTls::Required))
            .credentials(Credentials::password("alice", "secret"));
        if let Some(m) = forced {
            b = b.mechanism(m);
        }
        let mut conn = b.build_on(&rt).connect().await.unwrap();
        assert!(conn.is_secure());
        assert_eq!(conn.authenticated(), Some(expected));
        assert!(conn.greeting().is_some_and(|g| g.code == 220));
        let env = Envelope::new("a@example.org", ["b@example.com"]);
        let d = conn.send(&env, MESSAGE).await.unwrap();
        assert_eq!(d.reply.code, 250);
        assert!(d.recipients.iter().all(|r| r.accepted()));
        conn.quit().await.unwrap();
        let got = server.delivered();
        assert_eq!(got["tls"], true);
        assert_eq!(got["authenticated"], true);
        assert_eq!(got["mail_from"], "a@example.org");
        // Exactly the bytes sent: CRLF everywhere, dot-stuffing undone.
        assert_eq!(data(&got), ON_THE_WIRE_UNSTUFFED);
    }
    // A wrong password is a typed error, promptly (aiosmtpd answers 535).
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let started = Instant::now();
        let err = client(&server, Security::StartTls(StartTls::Required))
            .credentials(Credentials::password("alice", "wrong"))
            .mechanism(mech)
            .build_on(&rt)
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Protocol(ClientError::AuthFailed(r)) if r.code == 535),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

/// A stream of message pieces, as a producer would hand them out.
struct Chunks(std::vec::IntoIter<std::io::Result<Bytes>>);

impl Stream for Chunks {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next())
    }
}

/// The pieces as a [`Chunks`] stream.
fn chunks(parts: &[&'static str]) -> Chunks {
    Chunks(
        parts
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// Implicit TLS (SMTPS) with AUTH: per-recipient results, every recipient
/// refused, several messages on one connection (streamed pieces, a MIME
/// message), and a failing source that abandons the session.
pub async fn smtps_with_auth_several_recipients_and_messages<R: Runtime>(rt: R) {
    let mut server = Aiosmtpd::start("implicit", true);
    let mut conn = client(&server, Security::Tls)
        .credentials(Credentials::password("alice", "secret"))
        .build_on(&rt)
        .connect()
        .await
        .unwrap();
    assert!(conn.is_secure());
    assert!(!conn.extensions().starttls);
    assert_eq!(conn.authenticated(), Some(Mechanism::Plain));

    // One recipient refused: per-recipient results, the others get it.
    let env = Envelope::new(
        "a@example.org",
        ["b@example.com", "nobody@example.com", "c@example.com"],
    );
    let d = conn
        .send(&env, "Subject: one\r\n\r\nfirst\r\n")
        .await
        .unwrap();
    let codes: Vec<_> = d.recipients.iter().map(|r| r.reply.code).collect();
    assert_eq!(codes, [250, 550, 250]);
    assert_eq!(d.recipients[1].address, "nobody@example.com");
    let got = server.delivered();
    assert_eq!(got["tls"], true);
    assert_eq!(got["authenticated"], true);
    assert_eq!(
        got["rcpt_to"],
        serde_json::json!(["b@example.com", "c@example.com"])
    );

    // Every recipient refused: Rejected, and the connection lives on.
    let env_bad = Envelope::new("a@example.org", ["nobody@example.com"]);
    match conn.send(&env_bad, "Subject: x\r\n\r\nx\r\n").await {
        Err(Error::Rejected(f)) => {
            assert_eq!(f.recipients.len(), 1);
            assert_eq!(f.recipients[0].reply.code, 550);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.noop().await.unwrap().code, 250);

    // More messages on the same connection: streamed pieces, a MIME
    // message, and a failing source that abandons the session.
    let env2 = Envelope::new("a@example.org", ["d@example.com"]);
    let pieces = chunks(&["Subject: three\r\n", "\r\n.", "stuffed\r", "\nthird"]);
    conn.send_stream(&env2, MessageInfo::default(), pieces)
        .await
        .unwrap();
    assert_eq!(
        data(&server.delivered()),
        b"Subject: three\r\n\r\n.stuffed\r\nthird\r\n"
    );
    let message = Message::builder()
        .from("a@example.org")
        .to("e@example.com")
        .subject("mime")
        .date(std::time::SystemTime::now())
        .text("built by core\n")
        .build()
        .unwrap();
    conn.send_message(&message).await.unwrap();
    let got = server.delivered();
    assert_eq!(got["rcpt_to"], serde_json::json!(["e@example.com"]));
    assert!(String::from_utf8_lossy(&data(&got)).contains("built by core"));
    let failing = Chunks(
        vec![
            Ok(Bytes::from_static(b"Subject: never\r\n\r\npart")),
            Err(std::io::Error::other("disk on fire")),
        ]
        .into_iter(),
    );
    let err = conn
        .send_stream(&env2, MessageInfo::default(), failing)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(matches!(conn.send(&env2, "x").await, Err(Error::Closed)));
    conn.quit().await.unwrap();
}

/// A large 8-bit message streamed from a `futures-io` reader over
/// STARTTLS: exactly the expected bytes arrive (CRLF everywhere, dots
/// unstuffed).
pub async fn large_message_streamed_from_a_reader_over_starttls<R: Runtime>(rt: R) {
    let mut server = Aiosmtpd::start("starttls", false);
    let (message, expected) = big_message();
    let info = MessageInfo {
        size: None,
        eight_bit: true,
    };
    let env = Envelope::new("a@example.org", ["b@example.com"]);
    let mut conn = client(&server, Security::StartTls(StartTls::Required))
        .build_on(&rt)
        .connect()
        .await
        .unwrap();
    assert!(conn.is_secure());
    conn.send_reader(&env, info, Cursor(message, 0))
        .await
        .unwrap();
    conn.quit().await.unwrap();
    let got = data(&server.delivered());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "delivered bytes differ");
}

/// A `futures-io` reader over bytes in memory.
struct Cursor(Vec<u8>, usize);

impl futures_io::AsyncRead for Cursor {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let at = self.1;
        let n = buf.len().min(self.0.len() - at);
        buf[..n].copy_from_slice(&self.0[at..at + n]);
        self.1 += n;
        Poll::Ready(Ok(n))
    }
}

/// Postfix `smtp-sink` with and without PIPELINING: three messages of
/// three recipients each; pipelined, MAIL, the RCPTs and DATA leave in one
/// write batch per envelope.
pub async fn smtp_sink_pipelining_one_batch_per_envelope<R: Runtime>(rt: R) {
    let dir = sink_dir();
    let recipients = ["r1@example.com", "r2@example.com", "r3@example.com"];
    let env = Envelope::new("s@example.org", recipients);
    let mut batches = Vec::new();
    for (tag, extra) in [("pipelined", &[][..]), ("lockstep", &["-p"][..])] {
        let dump = dir.join(tag);
        let (_sink, addr) = smtp_sink(extra, &dump);
        let mut conn = SmtpClientBuilder::<SmtpSettings>::new(addr)
            .hello_name("wireloom.test")
            .security(Security::None)
            .build_on(&rt)
            .connect()
            .await
            .unwrap();
        assert_eq!(conn.extensions().pipelining, extra.is_empty());
        let before = conn.write_batches();
        for i in 0..3 {
            let d = conn
                .send(&env, format!("Subject: m{i}\r\n\r\nbody {i}\r\n"))
                .await
                .unwrap();
            assert_eq!(d.recipients.len(), 3);
            assert!(d.recipients.iter().all(|r| r.accepted()), "{d:?}");
        }
        batches.push((conn.write_batches() - before) / 3);
        conn.quit().await.unwrap();
        sink_got_three_messages(&dump, &recipients);
    }
    // Pipelined: MAIL + 3 RCPT + DATA in one write, then the body.
    // Lock-step: MAIL, RCPT, RCPT, RCPT, DATA, body.
    assert_eq!(batches, [2, 6], "writes per message");
}

/// What `smtp-sink` dumped into `dump` for the pipelining scenario: three
/// messages `Subject: m<i>` / `body <i>` from `s@example.org`, each to
/// every one of `recipients` (waits for the three dumps).
pub fn sink_got_three_messages(dump: &Path, recipients: &[&str]) {
    let text = dumped(dump, 3);
    assert_eq!(text.matches("X-Mail-Args: <s@example.org>").count(), 3);
    for r in recipients {
        assert_eq!(text.matches(&format!("X-Rcpt-Args: <{r}>")).count(), 3);
    }
    for i in 0..3 {
        assert!(
            text.contains(&format!("Subject: m{i}\n\nbody {i}\n")),
            "{text}"
        );
    }
}
