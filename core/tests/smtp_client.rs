//! The SMTP client dialogue against scripted server replies: STARTTLS
//! injection defence, streaming bodies, timers, usage errors, XOAUTH2
//! error challenges, unsolicited 421.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use wireloom_core::smtp::auth::{Credentials, Mechanism};
use wireloom_core::smtp::client::{
    Client, ClientConfig, ClientError, ClientEvent, Envelope, MessageInfo, Security, Stage,
    StartTls, TlsPolicy, UsageError,
};
use wireloom_core::Dialogue;

struct Script {
    c: Client,
    now: Instant,
}

impl Script {
    fn new(config: ClientConfig) -> Script {
        let now = Instant::now();
        Script {
            c: Client::new(config, now),
            now,
        }
    }

    /// Feeds server bytes; returns (events, client wire output).
    fn feed(&mut self, bytes: &[u8]) -> (Vec<ClientEvent>, String) {
        let mut buf = BytesMut::from(bytes);
        self.c.handle_input(self.now, &mut buf);
        assert!(buf.is_empty(), "the client consumes everything it is given");
        self.drain()
    }

    fn drain(&mut self) -> (Vec<ClientEvent>, String) {
        let events = std::iter::from_fn(|| self.c.poll_event()).collect();
        let wire: Vec<u8> = std::iter::from_fn(|| self.c.poll_transmit())
            .flatten()
            .collect();
        (events, String::from_utf8(wire).unwrap())
    }

    fn ready(config: ClientConfig, ehlo: &str) -> Script {
        let mut s = Script::new(config);
        s.feed(b"220 mx ready\r\n");
        let (events, _) = s.feed(ehlo.as_bytes());
        assert_eq!(events.last(), Some(&ClientEvent::Ready), "{events:?}");
        s
    }
}

fn cc() -> ClientConfig {
    ClientConfig::new("c.example")
}

#[test]
fn starttls_discards_plaintext_after_the_220() {
    let mut config = cc();
    config.tls = TlsPolicy::Required;
    let mut s = Script::new(config);
    assert_eq!(s.feed(b"220 mx\r\n").1, "EHLO c.example\r\n");
    assert_eq!(s.feed(b"250-mx\r\n250 STARTTLS\r\n").1, "STARTTLS\r\n");
    // A man in the middle appends a fake EHLO answer to the 220.
    let (events, wire) = s.feed(b"220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    assert_eq!(events, [ClientEvent::StartTls]);
    assert_eq!(wire, "");
    assert!(!s.c.is_secure());
    // More plaintext before the handshake completes is dropped too.
    let (events, wire) = s.feed(b"250 injected\r\n");
    assert!(events.is_empty() && wire.is_empty());
    s.c.handle_tls_established(s.now).unwrap();
    assert!(s.c.is_secure());
    assert_eq!(s.drain().1, "EHLO c.example\r\n");
    let (events, _) = s.feed(b"250-mx\r\n250 PIPELINING\r\n");
    assert!(
        matches!(&events[0], ClientEvent::Capabilities(e) if e.pipelining && e.auth.is_empty())
    );
    assert_eq!(events.last(), Some(&ClientEvent::Ready));
}

#[test]
fn starttls_refused() {
    let mut config = cc();
    config.tls = TlsPolicy::Required;
    let mut s = Script::new(config);
    s.feed(b"220 mx\r\n");
    s.feed(b"250-mx\r\n250 STARTTLS\r\n");
    let (events, wire) = s.feed(b"454 4.7.0 TLS not available\r\n");
    assert!(
        matches!(&events[0], ClientEvent::Failed(ClientError::StartTlsRefused(r)) if r.code == 454)
    );
    assert_eq!(wire, "QUIT\r\n");

    let mut s = Script::new(cc()); // opportunistic
    s.feed(b"220 mx\r\n");
    s.feed(b"250-mx\r\n250 STARTTLS\r\n");
    let (events, wire) = s.feed(b"454 4.7.0 TLS not available\r\n");
    assert_eq!(events, [ClientEvent::Ready]);
    assert_eq!(wire, "");
    assert!(!s.c.is_secure());
}

#[test]
fn implicit_tls_never_sends_starttls() {
    let mut config = cc();
    config.tls = TlsPolicy::Required;
    config.transport_secure = true;
    let s = Script::ready(config, "250-mx\r\n250 STARTTLS\r\n");
    assert!(s.c.is_secure());
}

#[test]
fn body_streams_in_chunks_after_354() {
    let mut s = Script::ready(cc(), "250-mx\r\n250 PIPELINING\r\n");
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    s.c.start_message(s.now, env, MessageInfo::default())
        .unwrap();
    assert_eq!(
        s.drain().1,
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
    );
    // Chunks before the 354 are held.
    assert!(!s.c.wants_body());
    s.c.send_body(s.now, Bytes::from_static(b".first\r"))
        .unwrap();
    assert_eq!(s.c.queued_body_len(), 7);
    assert_eq!(s.drain().1, "");
    let (_, wire) = s.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(wire, "..first");
    assert!(s.c.wants_body());
    assert_eq!(s.c.queued_body_len(), 0);
    for (chunk, expect) in [
        (&b"\n."[..], "\r\n.."),
        (b".", "."),
        (b"\r", ""),
        (b"\r", "\r\n"),
        (b"\n.", "\r\n.."),
        (b"\nx\n", "\r\nx\r\n"),
    ] {
        s.c.send_body(s.now, Bytes::from_static(chunk)).unwrap();
        assert_eq!(s.drain().1, expect, "{chunk:?}");
    }
    s.c.finish_body(s.now).unwrap();
    assert_eq!(s.drain().1, ".\r\n");
    assert_eq!(s.c.poll_timeout(), Some(s.now + Duration::from_secs(600)));
    let (events, _) = s.feed(b"250 queued\r\n");
    assert!(matches!(&events[0], ClientEvent::MessageSent(d) if d.reply.code == 250));
}

#[test]
fn undeclared_eight_bit_is_fatal_and_never_sent() {
    let mut s = Script::ready(cc(), "250-mx\r\n250 8BITMIME\r\n");
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    s.c.start_message(s.now, env, MessageInfo::default())
        .unwrap();
    s.drain();
    let err =
        s.c.send_body(s.now, Bytes::from_static("caf\u{e9}".as_bytes()));
    assert_eq!(err, Err(UsageError::UndeclaredEightBit));
    assert!(s.c.is_closed());
    let (_, wire) = s.drain();
    assert!(!wire.contains("caf"));
}

#[test]
fn timers_follow_rfc5321_defaults() {
    let mut s = Script::new(cc());
    let min = |m: u64| Duration::from_secs(60 * m);
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(5)), "greeting");
    s.feed(b"220 mx\r\n");
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(5)), "EHLO");
    s.feed(b"250 mx\r\n");
    assert_eq!(s.c.poll_timeout(), None, "idle");
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    s.c.send_message(s.now, env, Bytes::from_static(b"x"))
        .unwrap();
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(5)), "MAIL");
    s.feed(b"250 ok\r\n");
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(5)), "RCPT");
    s.feed(b"250 ok\r\n");
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(2)), "DATA");
    s.feed(b"354 go\r\n");
    assert_eq!(s.c.poll_timeout(), Some(s.now + min(10)), "end of data");
    // Firing early does nothing; at the deadline the session fails.
    s.c.handle_timeout(s.now + min(9));
    assert!(!s.c.is_closed());
    s.c.handle_timeout(s.now + min(10));
    let (events, _) = s.drain();
    assert_eq!(
        events,
        [
            ClientEvent::Failed(ClientError::Timeout(Stage::DataEnd)),
            ClientEvent::Closed
        ]
    );
}

#[test]
fn configurable_timeouts() {
    let mut config = cc();
    config.timeouts.greeting = Duration::from_secs(7);
    let s = Script::new(config);
    assert_eq!(s.c.poll_timeout(), Some(s.now + Duration::from_secs(7)));
}

#[test]
fn usage_errors() {
    let mut s = Script::new(cc());
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    assert_eq!(
        s.c.start_message(s.now, env.clone(), MessageInfo::default()),
        Err(UsageError::NotReady)
    );
    assert_eq!(s.c.quit(s.now), Err(UsageError::NotReady));
    assert_eq!(
        s.c.handle_tls_established(s.now),
        Err(UsageError::NoTlsPending)
    );
    let mut s = Script::ready(cc(), "250 mx\r\n");
    assert_eq!(
        s.c.send_body(s.now, Bytes::from_static(b"x")),
        Err(UsageError::NoMessageInProgress)
    );
    assert_eq!(s.c.finish_body(s.now), Err(UsageError::NoMessageInProgress));
    let none = Envelope {
        from: None,
        to: vec![],
    };
    assert_eq!(
        s.c.start_message(s.now, none, MessageInfo::default()),
        Err(UsageError::NoRecipients)
    );
    s.c.start_message(s.now, env.clone(), MessageInfo::default())
        .unwrap();
    assert_eq!(
        s.c.start_message(s.now, env, MessageInfo::default()),
        Err(UsageError::NotReady)
    );
    assert_eq!(s.c.quit(s.now), Err(UsageError::NotReady));
    // The null sender is allowed.
    let mut s = Script::ready(cc(), "250 mx\r\n");
    let bounce = Envelope {
        from: None,
        to: vec!["c@d.example".into()],
    };
    s.c.send_message(s.now, bounce, Bytes::from_static(b"x"))
        .unwrap();
    assert!(s.drain().1.starts_with("MAIL FROM:<>\r\n"));
}

#[test]
fn xoauth2_error_challenge() {
    let mut config = cc();
    config.transport_secure = true;
    config.credentials = Some(Credentials::oauth2("u@example.com", "expired"));
    let mut s = Script::new(config);
    s.feed(b"220 mx\r\n");
    let (_, wire) = s.feed(b"250-mx\r\n250 AUTH PLAIN XOAUTH2\r\n");
    assert!(wire.starts_with("AUTH XOAUTH2 "));
    // Gmail-style: a 334 with a base64 JSON error, then 535 after an empty line.
    let (_, wire) = s.feed(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
    assert_eq!(wire, "\r\n");
    let (events, wire) = s.feed(b"535 5.7.8 Username and Password not accepted\r\n");
    assert!(matches!(&events[0], ClientEvent::Failed(ClientError::AuthFailed(r)) if r.code == 535));
    assert_eq!(wire, "QUIT\r\n");
    let dbg = format!("{:?}", s.c);
    assert!(!dbg.contains("expired"), "{dbg}");
}

#[test]
fn cram_md5_bad_challenge_cancels() {
    let mut config = cc();
    config.credentials = Some(Credentials::password("u", "p"));
    config.mechanism = Some(Mechanism::CramMd5);
    let mut s = Script::new(config);
    s.feed(b"220 mx\r\n");
    s.feed(b"250-mx\r\n250 AUTH CRAM-MD5\r\n");
    let (_, wire) = s.feed(b"334 !!!not base64\r\n");
    assert_eq!(wire, "*\r\n");
    let (events, _) = s.feed(b"501 5.7.0 cancelled\r\n");
    assert!(matches!(
        &events[0],
        ClientEvent::Failed(ClientError::AuthFailed(_))
    ));
}

#[test]
fn unsolicited_421_closes_without_quit() {
    let mut s = Script::ready(cc(), "250 mx\r\n");
    let (events, wire) = s.feed(b"421 4.3.2 shutting down\r\n");
    assert!(
        matches!(&events[0], ClientEvent::Failed(ClientError::ServiceClosing(r)) if r.code == 421)
    );
    assert_eq!(events.last(), Some(&ClientEvent::Closed));
    assert_eq!(wire, "");
    assert!(s.c.is_closed());
}

#[test]
fn greeting_refused() {
    let mut s = Script::new(cc());
    let (events, wire) = s.feed(b"554 5.7.1 go away\r\n");
    assert!(matches!(
        &events[0],
        ClientEvent::Failed(ClientError::Rejected {
            stage: Stage::Greeting,
            ..
        })
    ));
    assert_eq!(wire, "QUIT\r\n");
    let (events, _) = s.feed(b"221 bye\r\n");
    assert_eq!(events, [ClientEvent::Closed]);
}

/// Found by the `smtp_client` fuzz target (input `44 a0 "222 \n"`): after
/// a failure the client sends QUIT; when that QUIT then timed out, or was
/// answered with garbage, a second `Failed` was reported and the sticky
/// error was replaced. The first failure stays the one reported.
#[test]
fn failure_is_reported_once_when_the_quit_after_it_fails_too() {
    let refused = |e: &ClientError| {
        matches!(
            e,
            ClientError::Rejected {
                stage: Stage::Greeting,
                ..
            }
        )
    };
    // The QUIT times out.
    let mut s = Script::new(cc());
    let (events, wire) = s.feed(b"222 odd greeting\r\n");
    assert!(
        matches!(&events[..], [ClientEvent::Failed(e)] if refused(e)),
        "{events:?}"
    );
    assert_eq!(wire, "QUIT\r\n");
    let deadline = s.c.poll_timeout().expect("the QUIT reply timer");
    s.c.handle_timeout(deadline);
    let (events, _) = s.drain();
    assert_eq!(events, [ClientEvent::Closed]);
    assert!(s.c.is_closed());
    assert!(refused(s.c.error().unwrap()));
    s.c.handle_eof(deadline);
    assert_eq!(s.drain().0, []);

    // The QUIT is answered with garbage.
    let mut s = Script::new(cc());
    s.feed(b"554 no\r\n");
    let mut buf = BytesMut::from(&b"22x\r\n"[..]);
    s.c.handle_input(s.now, &mut buf);
    // The garbage ends the session; it is not reported as a second failure.
    assert_eq!(s.drain().0, [ClientEvent::Closed]);
    assert!(refused(s.c.error().unwrap()));
}

#[test]
fn bdat_failure_mid_stream_then_reset() {
    let mut s = Script::ready(cc(), "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    s.c.start_message(s.now, env, MessageInfo::default())
        .unwrap();
    s.drain();
    s.feed(b"250 ok\r\n250 ok\r\n");
    s.c.send_body(s.now, Bytes::from_static(b"one\n")).unwrap();
    s.c.send_body(s.now, Bytes::from_static(b"two\n")).unwrap();
    assert_eq!(s.drain().1, "BDAT 5\r\none\r\nBDAT 5\r\ntwo\r\n");
    let (events, wire) = s.feed(b"552 5.3.4 too big\r\n503 5.5.1 no transaction\r\n");
    assert!(matches!(&events[0], ClientEvent::MessageFailed(f) if f.stage == Stage::Bdat));
    assert_eq!(wire, "RSET\r\n");
    // The caller, still streaming, is not punished; nothing more is sent.
    s.c.send_body(s.now, Bytes::from_static(b"three\n"))
        .unwrap();
    s.c.finish_body(s.now).unwrap();
    assert_eq!(s.drain().1, "");
    let (events, _) = s.feed(b"250 ok\r\n");
    assert_eq!(events, [ClientEvent::Ready]);
}

#[test]
fn malformed_reply_is_a_sticky_protocol_error() {
    let mut s = Script::new(cc());
    // Reported once, as an event; the session ends at once.
    let mut buf = BytesMut::from(&b"220-mx\r\n221 mismatched\r\n"[..]);
    s.c.handle_input(s.now, &mut buf);
    let (events, _) = s.drain();
    let [ClientEvent::Failed(err), ClientEvent::Closed] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(matches!(err, ClientError::Reply(_)));
    assert!(s.c.is_closed());
    // Sticky: nothing more is read or reported.
    let (events, wire) = s.feed(b"220 ok\r\n");
    assert!(events.is_empty() && wire.is_empty(), "{events:?}");
    assert_eq!(s.c.error(), Some(err));
}

#[test]
fn hello_name_cannot_inject() {
    let mut s = Script::new(ClientConfig::new("evil\r\nMAIL FROM:<x@y>"));
    assert_eq!(s.feed(b"220 mx\r\n").1, "EHLO [127.0.0.1]\r\n");
    let mut s = Script::new(ClientConfig::new("[192.0.2.1]"));
    assert_eq!(s.feed(b"220 mx\r\n").1, "EHLO [192.0.2.1]\r\n");
}

#[test]
fn noop_keeps_the_session_idle() {
    let mut s = Script::ready(cc(), "250 mx\r\n");
    s.c.noop(s.now).unwrap();
    assert_eq!(s.drain().1, "NOOP\r\n");
    assert!(!s.c.is_ready());
    assert_eq!(s.c.poll_timeout(), Some(s.now + Duration::from_secs(300)));
    let (events, _) = s.feed(b"250 2.0.0 OK\r\n");
    assert!(matches!(&events[0], ClientEvent::NoopReply(r) if r.code == 250));
    assert_eq!(events[1], ClientEvent::Ready);
}

#[test]
fn abort_mid_body_drops_unsent_output_and_closes() {
    let mut s = Script::ready(cc(), "250-mx\r\n250 PIPELINING\r\n");
    let env = Envelope::new("a@b.example", ["c@d.example"]);
    s.c.start_message(s.now, env, MessageInfo::default())
        .unwrap();
    s.drain();
    s.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    s.c.send_body(s.now, Bytes::from_static(b"first part\r\n"))
        .unwrap();
    s.c.abort();
    let (events, wire) = s.drain();
    assert_eq!(events, [ClientEvent::Closed]);
    assert!(
        !wire.contains("first part") && !wire.contains("QUIT"),
        "{wire}"
    );
    assert!(s.c.is_closed());
    assert_eq!(s.c.poll_timeout(), None);
    // Idempotent once closed.
    s.c.abort();
    assert!(s.drain().0.is_empty());
}

#[test]
fn security_sets_policy_and_transport_together() {
    for security in [
        Security::Tls,
        Security::StartTls(StartTls::Required),
        Security::StartTls(StartTls::Opportunistic),
        Security::None,
    ] {
        let mut config = cc();
        config.set_security(security);
        assert_eq!(config.security(), security);
        let secure = security == Security::Tls;
        assert_eq!(config.transport_secure, secure);
        // Implicit TLS: the dialogue never sends STARTTLS, even if offered.
        let mut s = Script::new(config);
        s.feed(b"220 mx\r\n");
        let (_, wire) = s.feed(b"250-mx\r\n250 STARTTLS\r\n");
        let sends_starttls = matches!(security, Security::StartTls(_));
        assert_eq!(
            wire == "STARTTLS\r\n",
            sends_starttls,
            "{security:?}: {wire}"
        );
        assert_eq!(s.c.is_secure(), secure);
    }
    assert_eq!(cc().security(), Security::StartTls(StartTls::Opportunistic));
}
