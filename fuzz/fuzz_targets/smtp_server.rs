//! The SMTP server dialogue on arbitrary client bytes, split into pieces
//! chosen by the input, under a configuration chosen by the input (PIPELINING,
//! CHUNKING, STARTTLS, AUTH, bare-LF leniency, small limits); every event
//! that needs an answer is accepted or rejected as the input says, STARTTLS
//! is "completed" at once, then EOF and the timers. It never panics, never
//! reports a usage error for a correct answer, and everything it writes
//! parses as a sequence of complete SMTP replies.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::reply::{ReplyLimits, ReplyParser};
use wireloom_core::smtp::server::{BareLineEndingPolicy, Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

struct Run {
    server: Server,
    wire: BytesMut,
    /// The accept/reject pattern, used in turn.
    answers: [u8; 4],
    answered: usize,
    in_message: bool,
}

impl Run {
    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.server.poll_event() {
            match ev {
                ServerEvent::Auth { .. }
                | ServerEvent::MailFrom { .. }
                | ServerEvent::RcptTo { .. }
                | ServerEvent::MessageEnd { .. } => {
                    if matches!(ev, ServerEvent::MessageEnd { .. }) {
                        assert!(self.in_message, "MessageEnd without MessageStart");
                        self.in_message = false;
                    }
                    let a = self.answers[self.answered % 4];
                    self.answered += 1;
                    let r = if a.is_multiple_of(4) {
                        self.server.reject(now, 550 + u16::from(a % 3), "no")
                    } else {
                        self.server.accept(now)
                    };
                    assert!(r.is_ok(), "answering {ev:?}: {r:?}");
                }
                ServerEvent::StartTls { .. } => {
                    let r = self.server.handle_tls_established(now);
                    assert!(r.is_ok(), "{r:?}");
                }
                ServerEvent::MessageStart => {
                    assert!(!self.in_message, "MessageStart twice");
                    self.in_message = true;
                }
                ServerEvent::Data(_) => assert!(self.in_message, "Data outside a message"),
                ServerEvent::MessageAborted(_) => self.in_message = false,
                _ => {}
            }
        }
        while let Some(b) = self.server.poll_transmit() {
            self.wire.extend_from_slice(&b);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: configuration; byte 1: number of pieces; bytes 2..6: the
    // accept/reject pattern; the rest: what the client sends.
    if data.len() < 6 {
        return;
    }
    let (head, input) = data.split_at(6);
    let flags = head[0];
    let mut config = ServerConfig::new("mx.example");
    config.pipelining = flags & 1 != 0;
    config.chunking = flags & 2 != 0;
    config.starttls = flags & 4 != 0;
    if flags & 8 != 0 {
        config.auth_mechanisms = vec![
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
        ];
        config.auth_requires_tls = false;
        config.cram_md5_nonce = Some("<1.2@mx.example>".into());
    }
    config.allow_bare_lf_commands = flags & 16 != 0;
    if flags & 32 != 0 {
        config.bare_line_ending = BareLineEndingPolicy::Disconnect;
    }
    if flags & 64 != 0 {
        config.max_command_line = 64;
        config.max_data_line = Some(80);
        config.max_message_size = Some(200);
        config.max_recipients = 2;
        config.max_errors = 3;
        config.max_buffered = 256;
    }
    config.require_auth = flags & 128 != 0 && flags & 8 != 0;
    let now = Instant::now();
    let mut run = Run {
        server: Server::new(config, now),
        wire: BytesMut::new(),
        answers: [head[2], head[3], head[4], head[5]],
        answered: 0,
        in_message: false,
    };
    run.drain(now);
    let mut buf = BytesMut::new();
    let step = input.len() / (head[1] as usize % 16 + 1) + 1;
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..256 {
            let before = buf.len();
            let _ = run.server.handle_input(now, &mut buf);
            run.drain(now);
            if run.server.is_closed() || (buf.len() == before && !run.server.is_waiting()) {
                break;
            }
        }
    }
    if let Some(t) = run.server.poll_timeout() {
        run.server
            .handle_timeout(t.max(now + Duration::from_secs(3600)));
        run.drain(now);
    }
    run.server.handle_eof(now);
    run.drain(now);

    // The wire is nothing but complete replies.
    let mut parser = ReplyParser::new(ReplyLimits::default());
    let mut wire = run.wire;
    while !wire.is_empty() {
        match parser.parse(&mut wire) {
            Ok(Some(_)) => {}
            other => panic!("server wrote an unparseable reply ({other:?}): {wire:?}"),
        }
    }
    assert!(
        !parser.is_partial(),
        "server ended inside a multi-line reply"
    );
});
