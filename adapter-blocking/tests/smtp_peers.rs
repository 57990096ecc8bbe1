//! The blocking SMTP client against real peers started here on 127.0.0.1:
//! aiosmtpd (STARTTLS and implicit TLS with a test CA, AUTH PLAIN and
//! LOGIN, per-recipient results, several messages per connection) and
//! Postfix `smtp-sink` (PIPELINING); plus a silent server (timeouts) and a
//! scripted one (plaintext injected after the STARTTLS go-ahead).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_blocking::core::smtp::auth::{Credentials, Mechanism};
use wireloom_blocking::core::smtp::client::{ClientError, ClientTimeouts, Stage};
use wireloom_blocking::smtp::{
    Envelope, Error, MessageInfo, Security, SmtpClient, StartTls, Timeout,
};
use wireloom_blocking::tls::{ServerTlsConfig, TlsStream};
use wireloom_testkit::net::silent_server;
use wireloom_testkit::pki::{client_config, other_ca, pki};
use wireloom_testkit::scenarios;
use wireloom_testkit::smtp::{big_message, data, sink_dir, smtp_sink, Aiosmtpd};

const MESSAGE: &[u8] =
    b"From: a@example.org\nSubject: t\n\n.dot first\r\nbare CR\rbare LF\n..\nend without newline";
const ON_THE_WIRE_UNSTUFFED: &[u8] =
    b"From: a@example.org\r\nSubject: t\r\n\r\n.dot first\r\nbare CR\r\nbare LF\r\n..\r\nend without newline\r\n";

#[test]
fn starttls_required_auth_plain_and_login() {
    let mut server = Aiosmtpd::start("starttls", true);
    for (forced, expected) in [
        (None, Mechanism::Plain),
        (Some(Mechanism::Login), Mechanism::Login),
    ] {
        let mut b = server
            .builder::<SmtpClient>(Security::StartTls(StartTls::Required))
            .credentials(Credentials::password("alice", "secret"));
        if let Some(m) = forced {
            b = b.mechanism(m);
        }
        let mut conn = b.build().unwrap().connect().unwrap();
        assert!(conn.is_secure());
        assert_eq!(conn.authenticated(), Some(expected));
        assert!(conn.greeting().is_some_and(|g| g.code == 220));
        let env = Envelope::new("a@example.org", ["b@example.com"]);
        let d = conn.send(&env, MESSAGE).unwrap();
        assert_eq!(d.reply.code, 250);
        assert!(d.recipients.iter().all(|r| r.accepted()));
        conn.quit().unwrap();
        let got = server.delivered();
        assert_eq!(got["tls"], true);
        assert_eq!(got["authenticated"], true);
        assert_eq!(got["mail_from"], "a@example.org");
        // Exactly the bytes sent: CRLF everywhere, dot-stuffing undone.
        assert_eq!(data(&got), ON_THE_WIRE_UNSTUFFED);
    }
}

fn assert_auth_failed(err: &Error) {
    assert!(
        matches!(err, Error::Protocol(ClientError::AuthFailed(r)) if r.code == 535),
        "{err:?}"
    );
}

#[test]
fn wrong_password_is_a_typed_error() {
    let server = Aiosmtpd::start("starttls", true);
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let started = Instant::now();
        let err = server
            .builder::<SmtpClient>(Security::StartTls(StartTls::Required))
            .credentials(Credentials::password("alice", "wrong"))
            .mechanism(mech)
            .build()
            .unwrap()
            .connect()
            .unwrap_err();
        assert_auth_failed(&err);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn implicit_tls_several_recipients_and_messages() {
    let mut server = Aiosmtpd::start("implicit", true);
    let mut conn = server
        .builder::<SmtpClient>(Security::Tls)
        .credentials(Credentials::password("alice", "secret"))
        .build()
        .unwrap()
        .connect()
        .unwrap();
    assert!(conn.is_secure());
    assert!(!conn.extensions().starttls);
    assert_eq!(conn.authenticated(), Some(Mechanism::Plain));

    // One recipient refused: per-recipient results, the others get it.
    let env = Envelope::new(
        "a@example.org",
        ["b@example.com", "nobody@example.com", "c@example.com"],
    );
    let d = conn.send(&env, "Subject: one\r\n\r\nfirst\r\n").unwrap();
    let codes: Vec<_> = d.recipients.iter().map(|r| r.reply.code).collect();
    assert_eq!(codes, [250, 550, 250]);
    assert_eq!(d.recipients[1].address, "nobody@example.com");
    let got = server.delivered();
    assert_eq!(got["tls"], true);
    assert_eq!(
        got["rcpt_to"],
        serde_json::json!(["b@example.com", "c@example.com"])
    );
    assert_eq!(data(&got), b"Subject: one\r\n\r\nfirst\r\n");

    // Every recipient refused: Rejected, and the connection lives on (RSET).
    let env_bad = Envelope::new("a@example.org", ["nobody@example.com"]);
    match conn.send(&env_bad, "Subject: x\r\n\r\nx\r\n") {
        Err(Error::Rejected(f)) => {
            assert_eq!(f.recipients.len(), 1);
            assert_eq!(f.recipients[0].reply.code, 550);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.noop().unwrap().code, 250);

    // A second and a third message on the same connection, one streamed.
    let env2 = Envelope::new("a@example.org", ["d@example.com"]);
    conn.send(&env2, Bytes::from_static(b"Subject: two\r\n\r\nsecond\r\n"))
        .unwrap();
    assert_eq!(data(&server.delivered()), b"Subject: two\r\n\r\nsecond\r\n");
    let chunks = ["Subject: three\r\n", "\r\n.", "stuffed\r", "\nthird"]
        .map(|c| Ok(Bytes::from_static(c.as_bytes())));
    conn.send_stream(&env2, MessageInfo::default(), chunks)
        .unwrap();
    assert_eq!(
        data(&server.delivered()),
        b"Subject: three\r\n\r\n.stuffed\r\nthird\r\n"
    );
    conn.quit().unwrap();
}

#[test]
fn plaintext_session_declares_8bitmime_and_smtputf8() {
    let mut server = Aiosmtpd::start("plain", false);
    let mut conn = server
        .builder::<SmtpClient>(Security::None)
        .build()
        .unwrap()
        .connect()
        .unwrap();
    assert!(!conn.is_secure());
    let body: &[u8] = b"Subject: t\n\n8bit \xc3\xa9\r\n.\n";
    conn.send(&Envelope::new("a@example.org", ["b@example.com"]), body)
        .unwrap();
    let got = server.delivered();
    assert!(
        got["mail_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "BODY=8BITMIME"),
        "{got}"
    );
    assert_eq!(data(&got), b"Subject: t\r\n\r\n8bit \xc3\xa9\r\n.\r\n");
    let env = Envelope::new("j\u{f6}rg@example.org", ["b\u{fc}cher@example.com"]);
    conn.send(&env, "Subject: u\r\n\r\nutf8\r\n").unwrap();
    let got = server.delivered();
    assert_eq!(got["mail_from"], "j\u{f6}rg@example.org");
    assert!(got["mail_options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o == "SMTPUTF8"));
    conn.quit().unwrap();
}

#[test]
fn plaintext_auth_only_when_allowed() {
    let mut server = Aiosmtpd::start("plain", true);
    let builder = |password: &str| {
        server
            .builder::<SmtpClient>(Security::None)
            .credentials(Credentials::password("alice", password))
    };
    // Core refuses to send the secret over plaintext by default.
    let err = builder("secret").build().unwrap().connect().unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ClientError::AuthUnavailable)),
        "{err:?}"
    );
    for (forced, expected) in [
        (None, Mechanism::Plain),
        (Some(Mechanism::Login), Mechanism::Login),
    ] {
        let mut b = builder("secret").configure(|c| c.allow_insecure_auth = true);
        if let Some(m) = forced {
            b = b.mechanism(m);
        }
        let conn = b.build().unwrap().connect().unwrap();
        assert_eq!(conn.authenticated(), Some(expected));
        conn.quit().unwrap();
    }
    let err = builder("wrong")
        .configure(|c| c.allow_insecure_auth = true)
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert_auth_failed(&err);
    let env = Envelope::new("alice@example.org", ["b@example.com"]);
    builder("secret")
        .configure(|c| c.allow_insecure_auth = true)
        .build()
        .unwrap()
        .send(&env, "hi\r\n")
        .unwrap();
    assert_eq!(server.delivered()["authenticated"], true);
}

#[test]
fn large_message_streamed_from_a_reader_over_starttls() {
    let mut server = Aiosmtpd::start("starttls", false);
    let (message, expected) = big_message();
    assert!(message.len() > 1_500_000, "{}", message.len());
    let mut conn = server
        .builder::<SmtpClient>(Security::StartTls(StartTls::Required))
        .build()
        .unwrap()
        .connect()
        .unwrap();
    let info = MessageInfo {
        size: None,
        eight_bit: true,
    };
    let env = Envelope::new("a@example.org", ["b@example.com"]);
    conn.send_reader(&env, info, &message[..]).unwrap();
    conn.quit().unwrap();
    let got = data(&server.delivered());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "delivered bytes differ");
}

#[test]
fn streamed_body_source_failure_abandons_the_message() {
    let mut server = Aiosmtpd::start("plain", false);
    let client = server
        .builder::<SmtpClient>(Security::None)
        .build()
        .unwrap();
    let mut conn = client.connect().unwrap();
    let chunks = vec![
        Ok(Bytes::from_static(b"Subject: never\r\n\r\npart")),
        Err(std::io::Error::other("disk on fire")),
    ];
    let env = Envelope::new("a@example.org", ["b@example.com"]);
    let err = conn
        .send_stream(&env, MessageInfo::default(), chunks)
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(matches!(conn.send(&env, "x"), Err(Error::Closed)));
    // The server discarded it: the next delivery is the next message.
    client.send(&env, "Subject: after\r\n\r\nok\r\n").unwrap();
    assert_eq!(data(&server.delivered()), b"Subject: after\r\n\r\nok\r\n");
}

#[test]
fn starttls_required_but_not_offered() {
    let server = Aiosmtpd::start("plain", false);
    let err = server
        .builder::<SmtpClient>(Security::StartTls(StartTls::Required))
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ClientError::TlsUnavailable)),
        "{err:?}"
    );
    // Opportunistic goes on in plaintext.
    let conn = server
        .builder::<SmtpClient>(Security::StartTls(StartTls::Opportunistic))
        .build()
        .unwrap()
        .connect()
        .unwrap();
    assert!(!conn.is_secure());
    conn.quit().unwrap();
}

#[test]
fn untrusted_certificate_is_a_tls_error() {
    let server = Aiosmtpd::start("implicit", false);
    let (other_ca, _) = other_ca();
    let err = SmtpClient::builder(server.addr())
        .security(Security::Tls)
        .ca_pem(other_ca)
        .tls_server_name("localhost")
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    // Default verification (webpki roots) refuses the test CA too.
    let err = SmtpClient::builder(server.addr())
        .security(Security::Tls)
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn silent_server_times_out() {
    let (h, addr) = silent_server();
    let timeouts = ClientTimeouts {
        greeting: Duration::from_millis(400),
        ..ClientTimeouts::default()
    };
    let started = Instant::now();
    let err = SmtpClient::builder(addr.to_string())
        .security(Security::None)
        .timeouts(timeouts)
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Reply(Stage::Greeting))),
        "{err:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    h.join().unwrap();

    // Implicit TLS: the handshake times out.
    let (h, addr) = silent_server();
    let pki = pki();
    let tls = client_config(&pki.ca_pem).with_handshake_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let err = SmtpClient::builder(addr.to_string())
        .security(Security::Tls)
        .tls_config(tls)
        .tls_server_name("localhost")
        .build()
        .unwrap()
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::TlsHandshake)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    h.join().unwrap();
}

/// Reads one CRLF-terminated line from a byte stream.
fn read_line(s: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut b = [0u8];
    while !line.ends_with(b"\r\n") {
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap()
}

#[test]
fn plaintext_after_starttls_go_ahead_never_reaches_tls() {
    let pki = pki();
    let server_cfg = ServerTlsConfig::builder()
        .default_identity(pki.localhost.identity())
        .alpn_protocols(Vec::<Vec<u8>>::new())
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"220 mx ready\r\n").unwrap();
        assert_eq!(read_line(&mut s), "EHLO wireloom.test\r\n");
        s.write_all(b"250-mx\r\n250 STARTTLS\r\n").unwrap();
        assert_eq!(read_line(&mut s), "STARTTLS\r\n");
        // A man in the middle appends plaintext to the go-ahead, in the
        // same segment: it must be neither believed nor fed to TLS.
        s.write_all(b"220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n")
            .unwrap();
        let mut tls = TlsStream::server(s, &server_cfg).unwrap();
        tls.handshake(Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert_eq!(read_line(&mut tls), "EHLO wireloom.test\r\n");
        tls.write_all(b"250-mx.secure\r\n250 PIPELINING\r\n")
            .unwrap();
        assert_eq!(read_line(&mut tls), "QUIT\r\n");
        tls.write_all(b"221 bye\r\n").unwrap();
    });
    let conn = SmtpClient::builder(addr.to_string())
        .hello_name("wireloom.test")
        .ca_pem(pki.ca_pem.as_bytes())
        .tls_server_name("localhost")
        .build()
        .unwrap()
        .connect()
        .unwrap();
    assert!(conn.is_secure());
    assert_eq!(conn.extensions().domain, "mx.secure");
    assert!(conn.extensions().auth.is_empty());
    conn.quit().unwrap();
    h.join().unwrap();
}

#[test]
fn smtp_sink_pipelining() {
    let dir = sink_dir();
    let recipients = ["r1@example.com", "r2@example.com", "r3@example.com"];
    let env = Envelope::new("s@example.org", recipients);
    let mut batches = Vec::new();
    for (tag, extra) in [("pipelined", &[][..]), ("lockstep", &["-p"][..])] {
        let dump = dir.join(tag);
        let (_sink, addr) = smtp_sink(extra, &dump);
        let mut conn = SmtpClient::builder(addr.to_string())
            .hello_name("wireloom.test")
            .security(Security::None)
            .build()
            .unwrap()
            .connect()
            .unwrap();
        assert_eq!(conn.extensions().pipelining, extra.is_empty());
        let before = conn.write_batches();
        for i in 0..3 {
            let d = conn
                .send(&env, format!("Subject: m{i}\r\n\r\nbody {i}\r\n"))
                .unwrap();
            assert_eq!(d.recipients.len(), 3);
            assert!(d.recipients.iter().all(|r| r.accepted()), "{d:?}");
        }
        batches.push((conn.write_batches() - before) / 3);
        conn.quit().unwrap();
        scenarios::smtp::sink_got_three_messages(&dump, &recipients);
    }
    // Pipelined: MAIL + 3 RCPT + DATA in one write, then the body.
    // Lock-step: MAIL, RCPT, RCPT, RCPT, DATA, body.
    assert_eq!(batches, [2, 6], "writes per message");
}

/// The `Message-ID:` header value in a delivered message, if any.
fn message_id_of(wire: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(wire);
    let head = text.split("\r\n\r\n").next().unwrap();
    head.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .map(str::to_owned)
}

#[test]
fn send_message_adds_a_message_id_by_default() {
    use wireloom_blocking::core::mime::Message;
    let mut server = Aiosmtpd::start("plain", false);
    let host = "sender.example.org";
    let mut conn = server
        .builder::<SmtpClient>(Security::None)
        .message_id_host(host)
        .build()
        .unwrap()
        .connect()
        .unwrap();
    let base = || {
        Message::builder()
            .from("a@example.org")
            .to("b@example.com")
            .date(std::time::SystemTime::now())
            .text("hi\n")
    };
    let bare = base().build().unwrap();
    assert!(bare.needs_message_id());
    // Default: one per send, `<26 base32 digits@host>`, different each time.
    let mut ids = Vec::new();
    for _ in 0..2 {
        conn.send_message(&bare).unwrap();
        let id = message_id_of(&data(&server.delivered())).expect("a Message-ID");
        let inner = id
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix(&format!("@{host}>")))
            .unwrap_or_else(|| panic!("{id}"));
        assert_eq!(inner.len(), 26, "{id}");
        assert!(inner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    assert!(bare.needs_message_id(), "the caller's message is unchanged");
    // The caller's own one wins; an opt-out sends none.
    conn.send_message(&base().message_id("mine@example.org").build().unwrap())
        .unwrap();
    assert_eq!(
        message_id_of(&data(&server.delivered())).as_deref(),
        Some("<mine@example.org>")
    );
    conn.send_message(&base().no_message_id().build().unwrap())
        .unwrap();
    assert_eq!(message_id_of(&data(&server.delivered())), None);
    conn.quit().unwrap();

    // Without message_id_host: the machine's host name (or localhost).
    let id = wireloom_blocking::smtp::new_message_id(&wireloom_blocking::smtp::host_name());
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    SmtpClient::builder(server.addr())
        .security(Security::None)
        .build()
        .unwrap()
        .send_message(&bare)
        .unwrap();
    let got = message_id_of(&data(&server.delivered())).expect("a Message-ID");
    assert_eq!(got.len(), id.len(), "{got} vs {id}");
    assert_eq!(
        got.split_once('@').unwrap().1,
        id.split_once('@').unwrap().1
    );
}
