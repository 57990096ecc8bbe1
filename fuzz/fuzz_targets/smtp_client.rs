//! The SMTP client dialogue fed arbitrary server replies, in pieces chosen
//! by the input, under a configuration chosen by the input (STARTTLS
//! policy, credentials, PIPELINING, CHUNKING, all-recipients-required,
//! lenient bare LF). It sends two messages when ready (the second through
//! start_message/send_body/finish_body) and QUIT, completes STARTTLS at
//! once, and runs every timer. It never panics, every failure is reported
//! once as an event, and after EOF it is closed.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wireloom_core::smtp::auth::Credentials;
use wireloom_core::smtp::client::{
    Client, ClientConfig, ClientEvent, Envelope, MessageInfo, TlsPolicy,
};
use wireloom_core::Dialogue;

const BODY: &[u8] = b"Subject: t\r\n\r\n.dot\r\nline\r\n";

struct Run {
    client: Client,
    sent: u8,
    failed: usize,
    closed: usize,
    wire: usize,
}

impl Run {
    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.client.poll_event() {
            match ev {
                ClientEvent::Ready => {
                    let env = Envelope::new("a@example.org", ["b@example.net", "c@example.net"]);
                    match self.sent {
                        0 => {
                            let _ = self.client.send_message(now, env, Bytes::from_static(BODY));
                        }
                        1 => {
                            if self
                                .client
                                .start_message(now, env, MessageInfo::of(BODY))
                                .is_ok()
                            {
                                for part in BODY.chunks(7) {
                                    let _ =
                                        self.client.send_body(now, Bytes::copy_from_slice(part));
                                }
                                let _ = self.client.finish_body(now);
                            }
                        }
                        2 => {
                            let _ = self.client.noop(now);
                        }
                        _ => {
                            let _ = self.client.quit(now);
                        }
                    }
                    self.sent = self.sent.saturating_add(1);
                }
                ClientEvent::StartTls => {
                    let r = self.client.handle_tls_established(now);
                    assert!(r.is_ok(), "{r:?}");
                }
                ClientEvent::Failed(_) => self.failed += 1,
                ClientEvent::Closed => self.closed += 1,
                _ => {}
            }
        }
        while let Some(b) = self.client.poll_transmit() {
            self.wire += b.len();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: configuration; byte 1: number of pieces; the rest: what the
    // server says.
    let [flags, pieces, input @ ..] = data else {
        return;
    };
    let mut config = ClientConfig::new("client.example");
    config.tls = match flags & 3 {
        0 => TlsPolicy::None,
        1 => TlsPolicy::Required,
        _ => TlsPolicy::Opportunistic,
    };
    config.transport_secure = flags & 4 != 0;
    if flags & 8 != 0 {
        config.credentials = Some(if flags & 16 != 0 {
            Credentials::oauth2("alice", "token")
        } else {
            Credentials::password("alice", "secret")
        });
        config.allow_insecure_auth = true;
    }
    config.use_pipelining = flags & 32 != 0;
    config.use_chunking = flags & 64 != 0;
    config.all_recipients_required = flags & 128 != 0;
    config.reply_limits.allow_bare_lf = pieces & 128 != 0;
    let now = Instant::now();
    let mut run = Run {
        client: Client::new(config, now),
        sent: 0,
        failed: 0,
        closed: 0,
        wire: 0,
    };
    run.drain(now);
    let mut buf = BytesMut::new();
    let step = input.len() / (*pieces as usize % 16 + 1) + 1;
    let mut t = now;
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..256 {
            let before = buf.len();
            let _ = run.client.handle_input(t, &mut buf);
            run.drain(t);
            if run.client.is_closed() || buf.len() == before {
                break;
            }
        }
        // Sometimes a timer fires between pieces.
        if piece.first().is_some_and(|b| b & 0x0f == 0x0f) {
            if let Some(d) = run.client.poll_timeout() {
                t = t.max(d);
                run.client.handle_timeout(t);
                run.drain(t);
            }
        }
    }
    if let Some(d) = run.client.poll_timeout() {
        run.client
            .handle_timeout(d.max(t + Duration::from_secs(3600)));
        run.drain(t);
    }
    run.client.handle_eof(t);
    run.drain(t);
    assert!(run.client.is_closed(), "open after EOF");
    assert!(run.failed <= 1, "{} failures reported", run.failed);
    assert_eq!(run.closed, 1, "Closed reported {} times", run.closed);
    // A sticky error and the Failed event go together.
    assert_eq!(run.client.error().is_some(), run.failed == 1);
});
