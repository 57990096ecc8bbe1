//! The SMTP server dialogue fed raw client bytes: sequencing, reply codes,
//! limits, smuggling defences, STARTTLS, pipelining at every split.

use std::time::Instant;

use bytes::BytesMut;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::dot::DataViolation;
use wireloom_core::smtp::server::{
    AbortReason, BareLineEndingPolicy, Server, ServerConfig, ServerError, ServerEvent,
};
use wireloom_core::Dialogue;

struct Run {
    replies: Vec<String>,
    events: Vec<ServerEvent>,
    error: Option<ServerError>,
    closed: bool,
}

impl Run {
    fn codes(&self) -> Vec<u16> {
        self.replies
            .iter()
            .map(|r| r[..3].parse().unwrap())
            .collect()
    }
    fn data(&self) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Data(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }
    fn has(&self, pred: impl Fn(&ServerEvent) -> bool) -> bool {
        self.events.iter().any(pred)
    }
}

/// Feeds `pieces` one after another; accepts every decision. Replies are
/// split into single reply lines (last line of each multi-line reply kept).
fn run_with(config: ServerConfig, pieces: &[&[u8]]) -> Run {
    let now = Instant::now();
    let mut s = Server::new(config, now);
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut error = None;
    let drain = |s: &mut Server,
                 wire: &mut Vec<u8>,
                 events: &mut Vec<ServerEvent>,
                 error: &mut Option<ServerError>| loop {
        let mut moved = false;
        while let Some(e) = s.poll_event() {
            // The one error channel: an event, reported once.
            if let ServerEvent::Error(e) = e {
                assert!(error.is_none(), "reported twice: {e:?}");
                *error = Some(e);
                moved = true;
                continue;
            }
            let answer = matches!(
                e,
                ServerEvent::Auth { .. }
                    | ServerEvent::MailFrom { .. }
                    | ServerEvent::RcptTo { .. }
                    | ServerEvent::MessageEnd { .. }
            );
            events.push(e);
            if answer {
                s.accept(now).unwrap();
            }
            moved = true;
        }
        while let Some(b) = s.poll_transmit() {
            wire.extend_from_slice(&b);
            moved = true;
        }
        if !moved {
            break;
        }
    };
    drain(&mut s, &mut wire, &mut events, &mut error);
    for p in pieces {
        let mut buf = BytesMut::from(*p);
        s.handle_input(now, &mut buf);
        drain(&mut s, &mut wire, &mut events, &mut error);
    }
    let text = String::from_utf8(wire).unwrap();
    let replies = text
        .split("\r\n")
        .filter(|l| !l.is_empty() && l.as_bytes().get(3) != Some(&b'-'))
        .map(str::to_string)
        .collect();
    Run {
        replies,
        events,
        error,
        closed: s.is_closed(),
    }
}

fn run(pieces: &[&[u8]]) -> Run {
    run_with(ServerConfig::new("mx.example"), pieces)
}

const START: &[u8] =
    b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n";

#[test]
fn happy_path_replies_in_order() {
    let r = run(&[START, b"Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n"]);
    assert_eq!(r.codes(), [220, 250, 250, 250, 354, 250, 221]);
    assert_eq!(r.data(), b"Subject: x\r\n\r\n.dot\r\n");
    assert!(r.closed);
}

#[test]
fn smuggling_endings_never_end_data() {
    // The December 2023 SMTP smuggling payloads (Postfix/Sendmail/Exim,
    // CVE-2023-51764/51765/51766) and aiosmtpd CVE-2024-27305: a
    // non-CRLF.CRLF "end of data" followed by a smuggled transaction.
    let smuggled = "MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: phish\r\n";
    for ending in [
        "\n.\r\n", "\r.\r\n", "\n.\n", "\r\n.\n", "\r\n.\r", "\n.\r", "\r.\n", "\n..\r\n",
    ] {
        let body = format!("Subject: legit\r\n\r\nhello{ending}{smuggled}.\r\nQUIT\r\n");
        let r = run(&[START, body.as_bytes()]);
        let mails = r
            .events
            .iter()
            .filter(|e| matches!(e, ServerEvent::MailFrom { .. }))
            .count();
        assert_eq!(mails, 1, "{ending:?}: a smuggled MAIL FROM was parsed");
        assert!(
            !r.has(|e| matches!(e, ServerEvent::MessageEnd { .. })),
            "{ending:?}"
        );
        assert!(
            r.has(|e| matches!(e, ServerEvent::MessageAborted(AbortReason::Data(_)))),
            "{ending:?}"
        );
        assert_eq!(r.codes(), [220, 250, 250, 250, 354, 554, 221], "{ending:?}");
    }
}

#[test]
fn bare_line_endings_disconnect_policy() {
    let mut c = ServerConfig::new("mx.example");
    c.bare_line_ending = BareLineEndingPolicy::Disconnect;
    let r = run_with(c, &[START, b"a\n.\r\nMAIL FROM:<x@y.example>\r\n"]);
    assert_eq!(r.codes(), [220, 250, 250, 250, 354, 521]);
    assert_eq!(r.error, Some(ServerError::BareLineEnding));
    assert!(r.closed);
    assert!(r.has(|e| *e == ServerEvent::MessageAborted(AbortReason::Data(DataViolation::BareLf))));
}

#[test]
fn sequencing_errors() {
    let r = run(&[b"MAIL FROM:<a@b.example>\r\nEHLO c\r\nRCPT TO:<a@b.example>\r\nDATA\r\nMAIL FROM:<a@b.example>\r\nDATA\r\nMAIL FROM:<a@b.example>\r\nRSET\r\nBDAT 3 LAST\r\nxyzNOOP\r\n"]);
    assert_eq!(
        r.codes(),
        [220, 503, 250, 503, 503, 250, 554, 503, 250, 503, 250]
    );
}

#[test]
fn syntax_and_unknown_commands() {
    let long = format!("NOOP {}\r\n", "x".repeat(5000));
    let r = run(&[
        b"EHLO c\r\nFOO\r\nMAIL FROM:a@b\r\nEXPN list\r\nAUTH PLAIN\r\nVRFY x\r\nHELP\r\n",
        long.as_bytes(),
        b"NOOP\nNOOP\r\nMAIL FROM:<a@b.example> FOO=1\r\nMAIL FROM:<a b@c>\r\nMAIL FROM:<j\xc3\xb6rg@c.example>\r\n",
    ]);
    assert_eq!(
        r.codes(),
        [220, 250, 500, 501, 502, 502, 252, 214, 500, 500, 250, 555, 553, 553]
    );
}

#[test]
fn too_many_errors_closes() {
    let mut c = ServerConfig::new("mx.example");
    c.max_errors = 3;
    let r = run_with(c, &[b"A\r\nB\r\nC\r\nD\r\nNOOP\r\n"]);
    assert_eq!(r.codes(), [220, 500, 500, 500, 421]);
    assert_eq!(r.error, Some(ServerError::TooManyErrors));
}

#[test]
fn size_recipient_and_line_limits() {
    let mut c = ServerConfig::new("mx.example");
    c.max_message_size = Some(20);
    c.max_recipients = 2;
    let r = run_with(
        c.clone(),
        &[b"EHLO c\r\nMAIL FROM:<a@b.example> SIZE=21\r\nMAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<x@y.example>\r\nRCPT TO:<x@y.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n0123456789\r\n0123456789\r\n.\r\n"],
    );
    assert_eq!(r.codes(), [220, 250, 552, 250, 250, 250, 452, 354, 552]);
    assert!(r.has(|e| *e == ServerEvent::MessageAborted(AbortReason::TooLarge)));
    assert!(!r.has(|e| matches!(e, ServerEvent::MessageEnd { .. })));
    // Oversize BDAT is refused at the chunk and the data still consumed.
    let r = run_with(c.clone(), &[b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nBDAT 25\r\n0123456789012345678901234NOOP\r\n"]);
    assert_eq!(r.codes(), [220, 250, 250, 250, 552, 250]);
    // Data line over 1000 octets: 500 at the end.
    let line = "x".repeat(1200);
    let body = format!("{line}\r\n.\r\n");
    let r = run(&[START, body.as_bytes()]);
    assert_eq!(r.codes(), [220, 250, 250, 250, 354, 500]);
}

#[test]
fn bdat_chunks_and_binary_data() {
    let r = run(&[
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nBDAT 5\r\n\r\n.\r",
        b"\nBDAT 3 LAST\r\na\nbQUIT\r\n",
    ]);
    assert_eq!(r.codes(), [220, 250, 250, 250, 250, 250, 221]);
    // BDAT data is length-delimited: no un-stuffing, no terminator.
    assert_eq!(r.data(), b"\r\n.\r\na\nb");
    // BDAT without a transaction: data consumed, 503, next command fine.
    let r = run(&[b"EHLO c\r\nBDAT 4 LAST\r\nQUITNOOP\r\n"]);
    assert_eq!(r.codes(), [220, 250, 503, 250]);
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut c = ServerConfig::new("mx.example");
    c.starttls = true;
    let now = Instant::now();
    let mut s = Server::new(c, now);
    let mut buf = BytesMut::from(&b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\n"[..]);
    s.handle_input(now, &mut buf);
    assert!(buf.is_empty());
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&ServerEvent::StartTls { discarded: 28 })
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, ServerEvent::MailFrom { .. })));
    let wire: Vec<u8> = std::iter::from_fn(|| s.poll_transmit()).flatten().collect();
    assert!(String::from_utf8(wire)
        .unwrap()
        .ends_with("220 2.0.0 Ready to start TLS\r\n"));
    s.handle_tls_established(now).unwrap();
    assert!(s.is_secure());
    // State reset: EHLO needed again, and STARTTLS is no longer offered.
    s.handle_input(
        now,
        &mut BytesMut::from(&b"MAIL FROM:<a@b.example>\r\nEHLO c\r\n"[..]),
    );
    let wire =
        String::from_utf8(std::iter::from_fn(|| s.poll_transmit()).flatten().collect()).unwrap();
    assert!(wire.starts_with("503 "), "{wire}");
    assert!(!wire.contains("STARTTLS"));
}

#[test]
fn auth_offered_only_over_tls_by_default() {
    let mut c = ServerConfig::new("mx.example");
    c.auth_mechanisms = vec![Mechanism::Plain];
    let r = run_with(c.clone(), &[b"EHLO c\r\nAUTH PLAIN AGEAYg==\r\n"]);
    assert_eq!(r.codes(), [220, 250, 538]);
    c.auth_requires_tls = false;
    c.require_auth = true;
    let r = run_with(c, &[b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN\r\nAGEAYg==\r\nAUTH PLAIN AGEAYg==\r\nAUTH LOGIN\r\n*\r\n"]);
    // AUTH after success is 503; the `*` is then just an unknown command.
    assert_eq!(r.codes(), [220, 250, 530, 334, 235, 503, 503, 500]);
}

#[test]
fn pipelined_batch_split_at_every_byte() {
    let input: &[u8] = b"EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE=5\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nhi\r\n..x\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n";
    let whole = run(&[input]);
    assert_eq!(
        whole.codes(),
        [220, 250, 250, 250, 250, 354, 250, 250, 250, 221]
    );
    for i in 0..input.len() {
        let r = run(&[&input[..i], &input[i..]]);
        assert_eq!(r.replies, whole.replies, "split at {i}");
        assert_eq!(r.data(), whole.data(), "split at {i}");
        let kinds = |r: &Run| {
            r.events
                .iter()
                .filter(|e| !matches!(e, ServerEvent::Data(_)))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(&r), kinds(&whole), "split at {i}");
    }
    // One byte at a time.
    let pieces: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&pieces).replies, whole.replies);
}

#[test]
fn cram_md5_needs_a_nonce() {
    let mut c = ServerConfig::new("mx.example");
    c.auth_mechanisms = vec![Mechanism::CramMd5, Mechanism::Plain];
    c.transport_secure = true;
    let r = run_with(c.clone(), &[b"EHLO c\r\nAUTH CRAM-MD5\r\n"]);
    assert_eq!(r.codes(), [220, 250, 504]);
    let ehlo = r.replies.join("\n");
    assert!(!ehlo.contains("CRAM-MD5"));
    c.cram_md5_nonce = Some("n0nce".into());
    let r = run_with(c, &[b"EHLO c\r\nAUTH CRAM-MD5\r\n"]);
    assert_eq!(r.codes(), [220, 250, 334]);
}

#[test]
fn bare_lf_commands_leniency() {
    let r = run(&[b"EHLO c\nNOOP\r\n"]);
    assert_eq!(r.codes(), [220, 500, 250]);
    let mut c = ServerConfig::new("mx.example");
    c.allow_bare_lf_commands = true;
    let r = run_with(
        c,
        &[b"EHLO c\nMAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nx\n.\r\n"],
    );
    // Commands are lenient; DATA stays strict (the bare LF is refused).
    assert_eq!(r.codes(), [220, 250, 250, 250, 354]);
    assert!(r.has(|e| matches!(e, ServerEvent::MessageAborted(_))));
}

#[test]
fn refused_service_answers_503_until_quit() {
    let mut c = ServerConfig::new("mx.example");
    c.refuse_service = Some("5.7.1 go away".into());
    let r = run_with(
        c,
        &[b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nBDAT 4\r\nQUITQUIT\r\n"],
    );
    assert_eq!(r.codes(), [554, 503, 503, 503, 221]);
    assert!(r.closed);
}

#[test]
fn disconnect_policy_applies_after_an_earlier_violation() {
    let mut c = ServerConfig::new("mx.example");
    c.bare_line_ending = BareLineEndingPolicy::Disconnect;
    c.max_data_line = Some(10);
    // A long line first (message already refused), then a smuggling attempt.
    let r = run_with(
        c,
        &[
            START,
            b"0123456789abcdef\r\n",
            b"x\n.\r\nMAIL FROM:<e@vil.example>\r\n",
        ],
    );
    assert_eq!(r.codes(), [220, 250, 250, 250, 354, 521]);
    assert_eq!(r.error, Some(ServerError::BareLineEnding));
    let aborted = r
        .events
        .iter()
        .filter(|e| matches!(e, ServerEvent::MessageAborted(_)))
        .count();
    assert_eq!(aborted, 1);
}

/// Drains replies as text.
fn replies(s: &mut Server) -> String {
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn shutdown_when_idle_closes_at_once() {
    let now = Instant::now();
    let mut s = Server::new(ServerConfig::new("mx.test"), now);
    let _ = replies(&mut s);
    s.handle_input(now, &mut BytesMut::from(&b"EHLO c\r\n"[..]));
    let _ = replies(&mut s);
    s.handle_shutdown(now);
    assert!(replies(&mut s).starts_with("421 4.3.2 mx.test"));
    assert!(s.is_closed());
}

#[test]
fn shutdown_lets_the_open_transaction_finish() {
    let now = Instant::now();
    let mut s = Server::new(ServerConfig::new("mx.test"), now);
    let mut input = BytesMut::from(&b"EHLO c\r\nMAIL FROM:<a@x.test>\r\n"[..]);
    s.handle_input(now, &mut input);
    while let Some(e) = s.poll_event() {
        if matches!(e, ServerEvent::MailFrom { .. }) {
            s.accept(now).unwrap();
        }
    }
    s.handle_shutdown(now);
    assert!(!s.is_closed(), "a transaction is open");
    s.handle_input(
        now,
        &mut BytesMut::from(&b"RCPT TO:<b@y.test>\r\nDATA\r\nhi\r\n.\r\n"[..]),
    );
    let mut ended = false;
    for _ in 0..10 {
        while let Some(e) = s.poll_event() {
            match e {
                ServerEvent::RcptTo { .. } => s.accept(now).unwrap(),
                ServerEvent::MessageEnd { .. } => {
                    ended = true;
                    s.accept(now).unwrap()
                }
                _ => {}
            }
        }
        s.handle_input(now, &mut BytesMut::new());
    }
    assert!(ended);
    let text = replies(&mut s);
    assert!(text.contains("250 2.0.0 Message accepted"), "{text}");
    assert!(text.trim_end().ends_with("Service shutting down"), "{text}");
    assert!(s.is_closed());
}

#[test]
fn busy_greets_421_and_closes() {
    let mut s = Server::busy(ServerConfig::new("mx.example.org"), Instant::now());
    assert_eq!(
        s.poll_transmit().as_deref(),
        Some(&b"421 4.3.2 mx.example.org Too many connections, try again later\r\n"[..])
    );
    assert_eq!(s.poll_transmit(), None);
    assert!(s.is_closed());
    assert!(!s.wants_input());
}
