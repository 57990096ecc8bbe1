//! Our SMTP client against our SMTP server, in memory, with simulated time.
//! Every scenario's wire transcript and events are snapshotted with insta.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use wireloom_core::smtp::auth::{AuthAttempt, Credentials, Mechanism};
use wireloom_core::smtp::client::{
    Client, ClientConfig, ClientEvent, Envelope, MessageInfo, TlsPolicy,
};
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

#[derive(Clone, Debug)]
enum Action {
    Send(Envelope, &'static [u8]),
    Chunks(Envelope, MessageInfo, Vec<&'static [u8]>),
    /// start_message + one chunk, never finished.
    Partial(Envelope, &'static [u8]),
    Quit,
    /// Stop acting: let timers fire.
    Stall,
}

enum Answer {
    Accept,
    Reject(u16, &'static str),
}

type Policy = Box<dyn FnMut(&ServerEvent) -> Answer>;

struct Pair {
    client: Client,
    server: Server,
    now: Instant,
    log: String,
    actions: VecDeque<Action>,
    policy: Policy,
    /// Simulate a server that never answers (for client timeouts).
    server_silent_after: Option<usize>,
    server_replies: usize,
    /// Raw bytes the server sends instead of its own replies (scripted peer).
    received: Vec<u8>,
}

fn default_policy() -> Policy {
    Box::new(|e| match e {
        ServerEvent::Auth { attempt, .. } => {
            if attempt.user() == "alice" && attempt.verify_password("secret") {
                Answer::Accept
            } else if let AuthAttempt::OAuth2 { token, .. } = attempt {
                if token == "tok" {
                    Answer::Accept
                } else {
                    Answer::Reject(535, "5.7.8 Authentication credentials invalid")
                }
            } else {
                Answer::Reject(535, "5.7.8 Authentication credentials invalid")
            }
        }
        ServerEvent::RcptTo { to, .. } if to.starts_with("nobody") => {
            Answer::Reject(550, "5.1.1 No such user")
        }
        ServerEvent::RcptTo { to, .. } if to.starts_with("later") => {
            Answer::Reject(450, "4.2.1 Try later")
        }
        _ => Answer::Accept,
    })
}

fn wire(log: &mut String, who: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for line in text.split_inclusive("\r\n") {
        let shown = line
            .strip_suffix("\r\n")
            .map(|l| l.to_string())
            .unwrap_or_else(|| format!("{line}<no CRLF>"));
        writeln!(log, "{who} {shown}").unwrap();
    }
}

fn client_event(e: &ClientEvent) -> String {
    match e {
        ClientEvent::Greeting(r) => format!("Greeting {}", r.code),
        ClientEvent::Capabilities(x) => format!(
            "Capabilities pipelining={} chunking={} starttls={} auth={:?} size={:?} 8bit={} utf8={}",
            x.pipelining, x.chunking, x.starttls, x.auth, x.size, x.eight_bit_mime, x.smtputf8
        ),
        ClientEvent::Recipient(r) => format!("Recipient #{} {} -> {}", r.index, r.address, r.reply),
        ClientEvent::MessageSent(d) => format!(
            "MessageSent {} accepted={:?}",
            d.reply,
            d.recipients.iter().filter(|r| r.accepted()).map(|r| r.address.as_str()).collect::<Vec<_>>()
        ),
        ClientEvent::MessageFailed(f) => format!(
            "MessageFailed stage={:?} reply={} recipients={}",
            f.stage,
            f.reply.as_ref().map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            f.recipients.len()
        ),
        other => format!("{other:?}"),
    }
}

impl Pair {
    fn new(cc: ClientConfig, sc: ServerConfig, actions: Vec<Action>) -> Pair {
        let now = Instant::now();
        Pair {
            client: Client::new(cc, now),
            server: Server::new(sc, now),
            now,
            log: String::new(),
            actions: actions.into(),
            policy: default_policy(),
            server_silent_after: None,
            server_replies: 0,
            received: Vec::new(),
        }
    }

    fn answer(&mut self, e: &ServerEvent) {
        let answer = match e {
            ServerEvent::Auth { .. }
            | ServerEvent::MailFrom { .. }
            | ServerEvent::RcptTo { .. }
            | ServerEvent::MessageEnd { .. } => (self.policy)(e),
            _ => return,
        };
        match answer {
            Answer::Accept => self.server.accept(self.now).unwrap(),
            Answer::Reject(code, text) => self.server.reject(self.now, code, text).unwrap(),
        }
    }

    fn act(&mut self) {
        let now = self.now;
        match self.actions.pop_front() {
            Some(Action::Send(env, body)) => {
                writeln!(self.log, "** send_message {:?}", env.to).unwrap();
                if let Err(e) = self.client.send_message(now, env, Bytes::from_static(body)) {
                    writeln!(self.log, "** refused locally: {e}").unwrap();
                    self.act();
                }
            }
            Some(Action::Chunks(env, info, chunks)) => {
                writeln!(
                    self.log,
                    "** start_message {:?} in {} chunks",
                    env.to,
                    chunks.len()
                )
                .unwrap();
                if let Err(e) = self.client.start_message(now, env, info) {
                    writeln!(self.log, "** refused locally: {e}").unwrap();
                    return self.act();
                }
                for c in chunks {
                    self.client.send_body(now, Bytes::from_static(c)).unwrap();
                }
                self.client.finish_body(now).unwrap();
            }
            Some(Action::Partial(env, chunk)) => {
                writeln!(
                    self.log,
                    "** start_message {:?}, one chunk, never finished",
                    env.to
                )
                .unwrap();
                self.client
                    .start_message(now, env, MessageInfo::default())
                    .unwrap();
                self.client
                    .send_body(now, Bytes::from_static(chunk))
                    .unwrap();
            }
            Some(Action::Quit) | None => {
                self.client.quit(now).unwrap();
            }
            Some(Action::Stall) => {}
        }
    }

    /// Runs until nothing moves; then fires the earliest timer, if any.
    fn run(mut self) -> String {
        for _round in 0..10_000 {
            let mut progress = false;
            // Client -> server.
            let mut to_server = BytesMut::new();
            while let Some(b) = self.client.poll_transmit() {
                wire(&mut self.log, "C:", &b);
                to_server.extend_from_slice(&b);
                progress = true;
            }
            if !to_server.is_empty() && !self.server.is_closed() {
                self.server.handle_input(self.now, &mut to_server);
            }
            while let Some(e) = self.server.poll_event() {
                if let ServerEvent::Error(e) = &e {
                    writeln!(self.log, "server error: {e}").unwrap();
                    progress = true;
                    continue;
                }
                writeln!(self.log, "server: {e:?}").unwrap();
                self.answer(&e);
                progress = true;
            }
            // Server -> client.
            let mut to_client = BytesMut::new();
            while let Some(b) = self.server.poll_transmit() {
                self.server_replies += 1;
                if self
                    .server_silent_after
                    .is_some_and(|n| self.server_replies > n)
                {
                    continue;
                }
                wire(&mut self.log, "S:", &b);
                to_client.extend_from_slice(&b);
                progress = true;
            }
            self.received.extend_from_slice(&to_client);
            if !to_client.is_empty() {
                // Errors come out as `ClientEvent::Failed`, logged below.
                self.client.handle_input(self.now, &mut to_client);
            }
            while let Some(e) = self.client.poll_event() {
                writeln!(self.log, "client: {}", client_event(&e)).unwrap();
                progress = true;
                match e {
                    ClientEvent::StartTls => {
                        writeln!(self.log, "-- TLS handshake --").unwrap();
                        self.server.handle_tls_established(self.now).unwrap();
                        self.client.handle_tls_established(self.now).unwrap();
                    }
                    ClientEvent::Ready => self.act(),
                    _ => {}
                }
            }
            if self.client.is_closed() && self.client.poll_transmit().is_none() {
                if !self.server.is_closed() {
                    self.server.handle_eof(self.now);
                    while let Some(e) = self.server.poll_event() {
                        writeln!(self.log, "server: {e:?}").unwrap();
                    }
                }
                break;
            }
            if !progress {
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(t) = next else { break };
                let elapsed = t.duration_since(self.now);
                self.now = t;
                writeln!(self.log, "-- {}s later --", elapsed.as_secs()).unwrap();
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
            }
        }
        self.log
    }
}

fn env(to: &[&str]) -> Envelope {
    Envelope::new("sender@example.org", to.iter().copied())
}

fn cc() -> ClientConfig {
    ClientConfig::new("client.example")
}

fn sc() -> ServerConfig {
    ServerConfig::new("mx.example")
}

fn no_pipelining() -> ServerConfig {
    let mut s = sc();
    s.pipelining = false;
    s.chunking = false;
    s
}

const MSG: &[u8] =
    b"Subject: hi\r\n\r\n.leading dot\nbare LF\rbare CR\r\n..two\r\nno final newline";

#[test]
fn pipelined_data_with_partial_acceptance() {
    let mut s = sc();
    s.chunking = false;
    let t = Pair::new(
        cc(),
        s,
        vec![
            Action::Send(env(&["a@example.com", "nobody@example.com"]), MSG),
            Action::Quit,
        ],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn one_command_at_a_time_without_pipelining() {
    let t = Pair::new(
        cc(),
        no_pipelining(),
        vec![Action::Send(env(&["a@example.com", "b@example.com"]), MSG)],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn bdat_when_chunking_is_offered() {
    let info = MessageInfo {
        size: Some(30),
        eight_bit: false,
    };
    let t = Pair::new(
        cc(),
        sc(),
        vec![Action::Chunks(
            env(&["a@example.com"]),
            info,
            vec![b"line one\r", b"\nline two\n", b".dot"],
        )],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn bdat_without_pipelining_waits_for_each_chunk() {
    let mut s = sc();
    s.pipelining = false;
    let info = MessageInfo::default();
    let t = Pair::new(
        cc(),
        s,
        vec![Action::Chunks(
            env(&["a@example.com"]),
            info,
            vec![b"one\r\n", b"two\r\n"],
        )],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn several_messages_and_failures_on_one_connection() {
    let mut s = sc();
    s.chunking = false;
    let t = Pair::new(
        cc(),
        s,
        vec![
            Action::Send(
                env(&["nobody@example.com", "later@example.com"]),
                b"all refused\r\n",
            ),
            Action::Send(env(&["a@example.com"]), b"second\r\n"),
            Action::Send(env(&["b@example.com"]), b""),
        ],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn all_recipients_required() {
    let mut c = cc();
    c.all_recipients_required = true;
    let mut s = sc();
    s.chunking = false;
    let t = Pair::new(
        c,
        s,
        vec![Action::Send(
            env(&["a@example.com", "nobody@example.com"]),
            b"x\r\n",
        )],
    )
    .run();
    insta::assert_snapshot!(t);
}

#[test]
fn starttls_then_auth_plain() {
    let mut c = cc();
    c.tls = TlsPolicy::Required;
    c.credentials = Some(Credentials::password("alice", "secret"));
    c.mechanism = Some(Mechanism::Plain);
    let mut s = sc();
    s.starttls = true;
    s.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
    s.require_auth = true;
    s.chunking = false;
    let t = Pair::new(
        c,
        s,
        vec![Action::Send(env(&["a@example.com"]), b"hello\r\n")],
    )
    .run();
    insta::assert_snapshot!(t);
}

fn auth_pair(mechanisms: Vec<Mechanism>, creds: Credentials, forced: Option<Mechanism>) -> String {
    let mut c = cc();
    c.transport_secure = true;
    c.credentials = Some(creds);
    c.mechanism = forced;
    let mut s = sc();
    s.transport_secure = true;
    s.auth_mechanisms = mechanisms;
    s.cram_md5_nonce = Some("1234".into());
    Pair::new(c, s, vec![Action::Quit]).run()
}

#[test]
fn auth_mechanisms() {
    let all = vec![
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ];
    let good = Credentials::password("alice", "secret");
    let bad = Credentials::password("alice", "wrong");
    let mut out = String::new();
    for (name, mechs, creds, forced) in [
        (
            "strongest common: CRAM-MD5",
            all.clone(),
            good.clone(),
            None,
        ),
        (
            "forced LOGIN",
            all.clone(),
            good.clone(),
            Some(Mechanism::Login),
        ),
        ("PLAIN only", vec![Mechanism::Plain], good.clone(), None),
        (
            "XOAUTH2",
            all.clone(),
            Credentials::oauth2("alice", "tok"),
            None,
        ),
        (
            "bad password LOGIN",
            vec![Mechanism::Login],
            bad.clone(),
            None,
        ),
        ("bad password CRAM-MD5", all.clone(), bad, None),
        (
            "bad token XOAUTH2",
            all.clone(),
            Credentials::oauth2("alice", "nope"),
            None,
        ),
        (
            "no common mechanism",
            vec![Mechanism::XOAuth2],
            good.clone(),
            None,
        ),
        (
            "forced mechanism not offered",
            vec![Mechanism::Plain],
            good,
            Some(Mechanism::Login),
        ),
    ] {
        writeln!(out, "=== {name}").unwrap();
        out.push_str(&auth_pair(mechs, creds, forced));
    }
    assert!(
        !out.contains("secret"),
        "password leaked into the transcript"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn plaintext_auth_refused_without_tls() {
    let mut c = cc();
    c.tls = TlsPolicy::None;
    c.credentials = Some(Credentials::password("alice", "secret"));
    let mut s = sc();
    s.auth_mechanisms = vec![Mechanism::Plain];
    s.auth_requires_tls = false;
    let t = Pair::new(c, s, vec![]).run();
    insta::assert_snapshot!(t);
}

#[test]
fn starttls_unavailable_or_refused() {
    let mut out = String::new();
    // Required, not offered.
    let mut c = cc();
    c.tls = TlsPolicy::Required;
    writeln!(out, "=== required, not offered").unwrap();
    out.push_str(&Pair::new(c, sc(), vec![]).run());
    // Opportunistic, not offered: plaintext.
    writeln!(out, "=== opportunistic, not offered").unwrap();
    out.push_str(&Pair::new(cc(), sc(), vec![Action::Quit]).run());
    insta::assert_snapshot!(out);
}

#[test]
fn server_rejections_at_every_step() {
    let mut out = String::new();
    type Step = (&'static str, fn(&ServerEvent) -> bool);
    let steps: [Step; 3] = [
        ("MAIL 451", |e| matches!(e, ServerEvent::MailFrom { .. })),
        ("RCPT 550", |e| matches!(e, ServerEvent::RcptTo { .. })),
        ("end of data 554", |e| {
            matches!(e, ServerEvent::MessageEnd { .. })
        }),
    ];
    for pipelining in [true, false] {
        for chunking in [false, true] {
            for (name, pred) in steps {
                writeln!(
                    out,
                    "=== {name} pipelining={pipelining} chunking={chunking}"
                )
                .unwrap();
                let mut s = sc();
                s.pipelining = pipelining;
                s.chunking = chunking;
                let mut p = Pair::new(
                    cc(),
                    s,
                    vec![Action::Send(env(&["a@example.com"]), b"x\r\n")],
                );
                p.policy = Box::new(move |e| {
                    if pred(e) {
                        Answer::Reject(
                            if name.starts_with("MAIL") { 451 } else { 554 },
                            "5.7.1 Refused",
                        )
                    } else {
                        Answer::Accept
                    }
                });
                out.push_str(&p.run());
            }
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn message_too_large() {
    let mut s = sc();
    s.max_message_size = Some(10);
    s.chunking = false;
    let mut out = String::new();
    writeln!(out, "=== SIZE known: refused before sending").unwrap();
    out.push_str(
        &Pair::new(
            cc(),
            s.clone(),
            vec![Action::Send(
                env(&["a@example.com"]),
                b"0123456789abcdef\r\n",
            )],
        )
        .run(),
    );
    writeln!(out, "=== size not declared: 552 after the data").unwrap();
    out.push_str(
        &Pair::new(
            cc(),
            s,
            vec![Action::Chunks(
                env(&["a@example.com"]),
                MessageInfo::default(),
                vec![b"0123456789abcdef\r\n"],
            )],
        )
        .run(),
    );
    insta::assert_snapshot!(out);
}

#[test]
fn eight_bit_and_utf8_need_extensions() {
    let mut s = sc();
    s.eight_bit_mime = false;
    s.smtputf8 = false;
    s.chunking = false;
    let mut out = String::new();
    writeln!(out, "=== server lacks both").unwrap();
    out.push_str(
        &Pair::new(
            cc(),
            s,
            vec![
                Action::Send(env(&["a@example.com"]), "caf\u{e9}\r\n".as_bytes()),
                Action::Send(env(&["j\u{f6}rg@example.com"]), b"x\r\n"),
            ],
        )
        .run(),
    );
    writeln!(out, "=== server has both").unwrap();
    let mut s = sc();
    s.chunking = false;
    out.push_str(
        &Pair::new(
            cc(),
            s,
            vec![Action::Send(
                Envelope::new("j\u{f6}rg@example.com", ["b\u{fc}cher@example.com"]),
                "caf\u{e9}\r\n".as_bytes(),
            )],
        )
        .run(),
    );
    insta::assert_snapshot!(out);
}

#[test]
fn invalid_addresses_refused_before_sending() {
    let t = Pair::new(
        cc(),
        sc(),
        vec![
            Action::Send(
                Envelope::new("a@b.example>\r\nRCPT TO:<evil@x.example", ["c@d.example"]),
                b"x",
            ),
            Action::Send(env(&["c@d.example\r\nDATA"]), b"x"),
            Action::Send(env(&["<c@d.example>"]), b"x"),
        ],
    )
    .run();
    assert!(
        !t.lines()
            .any(|l| l.starts_with("C:") && (l.contains("evil") || l.contains("DATA"))),
        "{t}"
    );
    insta::assert_snapshot!(t);
}

#[test]
fn client_timeouts() {
    let mut out = String::new();
    for (name, silent_after) in [
        ("greeting", 0),
        ("EHLO", 1),
        ("MAIL batch", 2),
        ("DATA end", 5),
    ] {
        writeln!(out, "=== server silent from reply {silent_after} ({name})").unwrap();
        let mut s = sc();
        s.chunking = false;
        let mut p = Pair::new(
            cc(),
            s,
            vec![Action::Send(env(&["a@example.com"]), b"x\r\n")],
        );
        p.server_silent_after = Some(silent_after);
        out.push_str(&p.run());
    }
    insta::assert_snapshot!(out);
}

#[test]
fn server_timeouts() {
    let mut out = String::new();
    writeln!(out, "=== idle client").unwrap();
    out.push_str(&Pair::new(cc(), sc(), vec![Action::Stall]).run());
    writeln!(out, "=== client stalls mid-DATA").unwrap();
    let mut s = sc();
    s.chunking = false;
    out.push_str(
        &Pair::new(
            cc(),
            s,
            vec![Action::Partial(env(&["a@example.com"]), b"half a line")],
        )
        .run(),
    );
    insta::assert_snapshot!(out);
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    // A scripted server: EHLO is refused, HELO accepted.
    let now = Instant::now();
    let mut c = Client::new(cc(), now);
    let mut log = String::new();
    let script: &[&[u8]] = &[
        b"220 old.example SMTP\r\n",
        b"502 5.5.1 EHLO not implemented\r\n",
        b"250 old.example\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 queued\r\n",
        b"221 bye\r\n",
    ];
    let mut sent = false;
    for step in script {
        wire(&mut log, "S:", step);
        c.handle_input(now, &mut BytesMut::from(*step));
        while let Some(e) = c.poll_event() {
            writeln!(log, "client: {}", client_event(&e)).unwrap();
            if e == ClientEvent::Ready {
                if !sent {
                    c.send_message(now, env(&["a@example.com"]), Bytes::from_static(b"hi\r\n"))
                        .unwrap();
                    sent = true;
                } else {
                    c.quit(now).unwrap();
                }
            }
        }
        while let Some(b) = c.poll_transmit() {
            wire(&mut log, "C:", &b);
        }
    }
    assert!(c.is_closed());
    insta::assert_snapshot!(log);
}

#[test]
fn eof_and_garbage_from_server() {
    let now = Instant::now();
    let mut c = Client::new(cc(), now);
    c.handle_input(now, &mut BytesMut::from(&b"220 ok\r\nhello\r\n"[..]));
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    let err = match &events[..] {
        [ClientEvent::Greeting(_), ClientEvent::Failed(e), ClientEvent::Closed] => e.clone(),
        other => panic!("{other:?}"),
    };
    assert!(c.is_closed());
    // Sticky: nothing more is read or reported.
    c.handle_input(now, &mut BytesMut::from(&b"250 ok\r\n"[..]));
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.error(), Some(&err));
    let mut c = Client::new(cc(), now);
    c.handle_input(now, &mut BytesMut::from(&b"220 ok\r\n"[..]));
    c.handle_eof(now);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(events.contains(&ClientEvent::Failed(
        wireloom_core::smtp::client::ClientError::ConnectionClosed
    )));
    assert_eq!(events.last(), Some(&ClientEvent::Closed));
    let _ = Duration::ZERO;
}

#[test]
fn server_refuses_service() {
    let mut s = sc();
    s.refuse_service = Some("5.7.1 No service for you".into());
    let t = Pair::new(cc(), s, vec![]).run();
    insta::assert_snapshot!(t);
}

#[test]
fn helo_fallback_against_an_rfc821_server() {
    let mut s = sc();
    s.esmtp = false;
    let t = Pair::new(
        cc(),
        s,
        vec![
            Action::Send(env(&["a@example.com", "b@example.com"]), b"plain 7-bit\r\n"),
            Action::Send(env(&["a@example.com"]), "caf\u{e9}".as_bytes()),
        ],
    )
    .run();
    insta::assert_snapshot!(t);
}
