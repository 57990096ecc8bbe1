//! Property tests: any body survives dot-stuffing (client) and un-stuffing
//! (server) under any chunking, and the client never emits a bare CR or LF.
//! Plus: pipelined replies split at every byte give the same client events.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::client::{Client, ClientConfig, ClientEvent, Envelope};
use wireloom_core::smtp::dot::{BodyEncoder, DataDecoder};
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

/// The reference normalisation: CRLF, bare CR, bare LF each become CRLF; a
/// final CRLF is added when missing.
fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn split_points(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut pts: Vec<usize> = cuts
        .iter()
        .map(|c| if len == 0 { 0 } else { c % (len + 1) })
        .collect();
    pts.push(0);
    pts.push(len);
    pts.sort_unstable();
    pts.dedup();
    pts.windows(2).map(|w| (w[0], w[1])).collect()
}

fn no_bare_cr_lf(wire: &[u8]) -> bool {
    wire.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => wire.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && wire[i - 1] == b'\r',
        _ => true,
    })
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Bias towards the interesting bytes.
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'.'),
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            3 => any::<u8>(),
            2 => Just(b'a'),
        ],
        0..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn dot_stuffing_round_trips_for_any_chunking(
        body in body_strategy(),
        client_cuts in prop::collection::vec(any::<usize>(), 0..6),
        server_cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut enc = BodyEncoder::new(true);
        let mut wire = BytesMut::new();
        for (a, b) in split_points(body.len(), &client_cuts) {
            enc.encode(&body[a..b], &mut wire);
        }
        enc.finish(&mut wire);
        let wire = wire.to_vec();
        prop_assert!(no_bare_cr_lf(&wire), "bare CR/LF in {:?}", wire);
        prop_assert!(wire.ends_with(b".\r\n"));
        // The terminator appears exactly once, at the end.
        let term = b"\r\n.\r\n";
        let first = wire.windows(5).position(|w| w == term);
        if wire.len() > 3 {
            prop_assert_eq!(first, Some(wire.len() - 5));
        } else {
            prop_assert_eq!(&wire[..], b".\r\n");
        }

        let mut dec = DataDecoder::new(None);
        let mut got = Vec::new();
        let mut buf = BytesMut::new();
        let mut ended = false;
        for (a, b) in split_points(wire.len(), &server_cuts) {
            buf.extend_from_slice(&wire[a..b]);
            let out = dec.decode(&mut buf);
            prop_assert_eq!(out.violation, None);
            for c in out.chunks {
                got.extend_from_slice(&c);
            }
            if out.end {
                ended = true;
                prop_assert!(buf.is_empty());
                prop_assert_eq!(b, wire.len());
            }
        }
        prop_assert!(ended);
        prop_assert_eq!(got, normalise(&body));
    }

    #[test]
    fn bdat_normalisation_has_no_bare_line_endings(
        body in body_strategy(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut enc = BodyEncoder::new(false);
        let mut wire = BytesMut::new();
        for (a, b) in split_points(body.len(), &cuts) {
            enc.encode(&body[a..b], &mut wire);
        }
        enc.finish(&mut wire);
        prop_assert!(no_bare_cr_lf(&wire));
        prop_assert_eq!(wire.to_vec(), normalise(&body));
    }
}

fn peer_input() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let token = prop_oneof![
        Just(b"EHLO x\r\n".to_vec()),
        Just(b"MAIL FROM:<a@b.c>\r\n".to_vec()),
        Just(b"RCPT TO:<d@e.f>\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b"BDAT 3\r\n".to_vec()),
        Just(b"AUTH PLAIN\r\n".to_vec()),
        Just(b"AUTH LOGIN\r\n".to_vec()),
        Just(b"AUTH CRAM-MD5\r\n".to_vec()),
        Just(b"STARTTLS\r\n".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"250-x\r\n".to_vec()),
        Just(b"250 ok\r\n".to_vec()),
        Just(b"354 go\r\n".to_vec()),
        Just(b"334 eA==\r\n".to_vec()),
        Just(b"220 hi\r\n".to_vec()),
        Just("\u{f6}".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(token, 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Never panic on peer input, whatever arrives and however it is split.
    #[test]
    fn server_survives_any_input(pieces in peer_input()) {
        let now = Instant::now();
        let mut c = ServerConfig::new("mx");
        c.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5, Mechanism::XOAuth2];
        c.auth_requires_tls = false;
        c.starttls = true;
        c.cram_md5_nonce = Some("n".into());
        c.max_message_size = Some(64);
        c.max_command_line = 40;
        let mut s = Server::new(c, now);
        for p in pieces {
            let mut buf = BytesMut::from(&p[..]);
            s.handle_input(now, &mut buf);
            while let Some(e) = s.poll_event() {
                match e {
                    ServerEvent::StartTls { .. } => { let _ = s.handle_tls_established(now); }
                    ServerEvent::Auth { .. } | ServerEvent::MailFrom { .. } | ServerEvent::RcptTo { .. }
                    | ServerEvent::MessageEnd { .. } => { let _ = s.accept(now); }
                    _ => {}
                }
            }
            while let Some(b) = s.poll_transmit() {
                prop_assert!(no_bare_cr_lf(&b));
            }
        }
        s.handle_eof(now);
    }

    #[test]
    fn client_survives_any_input(pieces in peer_input()) {
        let now = Instant::now();
        let mut config = ClientConfig::new("c");
        config.credentials = Some(wireloom_core::smtp::auth::Credentials::password("u", "p"));
        config.allow_insecure_auth = true;
        let mut c = Client::new(config, now);
        for p in pieces {
            let mut buf = BytesMut::from(&p[..]);
            c.handle_input(now, &mut buf);
            while let Some(e) = c.poll_event() {
                match e {
                    ClientEvent::StartTls => { let _ = c.handle_tls_established(now); }
                    ClientEvent::Ready => {
                        let env = Envelope::new("a@b.c", ["d@e.f"]);
                        let _ = c.send_message(now, env, Bytes::from_static(b"x\n.\n"));
                    }
                    _ => {}
                }
            }
            while let Some(b) = c.poll_transmit() {
                prop_assert!(no_bare_cr_lf(&b));
            }
        }
        c.handle_eof(now);
        c.handle_timeout(now + std::time::Duration::from_secs(3600));
    }
}

/// Client events and transmits for a pipelined transaction whose replies
/// arrive in the given pieces.
fn client_run(pieces: &[&[u8]]) -> (Vec<ClientEvent>, Vec<Bytes>) {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::new("c.example"), now);
    let mut events = Vec::new();
    let mut sent = Vec::new();
    let mut buf = BytesMut::new();
    for p in pieces {
        buf.extend_from_slice(p);
        c.handle_input(now, &mut buf);
        while let Some(e) = c.poll_event() {
            if e == ClientEvent::Ready && !events.contains(&ClientEvent::Ready) {
                let env = Envelope::new("a@example.org", ["b@example.net", "nobody@example.net"]);
                c.send_message(now, env, Bytes::from_static(b"hi\n.\n"))
                    .unwrap();
            }
            events.push(e);
        }
        while let Some(b) = c.poll_transmit() {
            sent.push(b);
        }
    }
    (events, sent)
}

#[test]
fn pipelined_replies_split_at_every_byte() {
    let setup: &[u8] =
        b"220 mx ready\r\n250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
    let replies: &[u8] = b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n250 2.0.0 queued\r\n";
    let (whole_events, whole_sent) = client_run(&[setup, replies]);
    assert!(matches!(whole_events.last(), Some(ClientEvent::Ready)));
    assert!(whole_events
        .iter()
        .any(|e| matches!(e, ClientEvent::MessageSent(_))));
    let wire: Vec<u8> = whole_sent.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE=7\r\nRCPT TO:<b@example.net>\r\n\
RCPT TO:<nobody@example.net>\r\nDATA\r\nhi\r\n..\r\n.\r\n"
    );
    for i in 0..=replies.len() {
        let (events, sent) = client_run(&[setup, &replies[..i], &replies[i..]]);
        assert_eq!(events, whole_events, "split at {i}");
        let a: Vec<u8> = sent.iter().flat_map(|b| b.to_vec()).collect();
        let b: Vec<u8> = whole_sent.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(a, b, "split at {i}");
    }
    let mut bytes: Vec<&[u8]> = vec![setup];
    bytes.extend(replies.chunks(1));
    assert_eq!(client_run(&bytes).0, whole_events);
}
