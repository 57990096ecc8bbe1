//! Connection-level tests: both roles, with and without deflate, every
//! split of the input.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::frame::encode_frame_into;
use super::*;
use crate::Dialogue;

fn server(deflate: Option<DeflateParams>, now: Instant) -> WebSocket {
    WebSocket::server(Config::default(), deflate, now)
}

fn client(deflate: Option<DeflateParams>, now: Instant) -> WebSocket {
    WebSocket::client(Config::default(), deflate, [3; 32], now)
}

fn drain_wire(ws: &mut WebSocket) -> Vec<u8> {
    let mut wire = Vec::new();
    while let Some(b) = ws.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    assert_eq!(ws.buffered_amount(), 0);
    wire
}

fn events(ws: &mut WebSocket) -> Vec<Event> {
    std::iter::from_fn(|| ws.poll_event()).collect()
}

/// Feeds `wire` cut at `cuts` (sorted positions), collecting events.
fn feed_cut(ws: &mut WebSocket, now: Instant, wire: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[at..c]);
        at = c;
        loop {
            let before = buf.len();
            ws.handle_input(now, &mut buf);
            let ev = events(ws);
            let progressed = !ev.is_empty() || buf.len() != before;
            out.extend(ev);
            if !progressed || !ws.wants_input() {
                break;
            }
        }
    }
    out
}

fn feed(ws: &mut WebSocket, now: Instant, wire: &[u8]) -> Vec<Event> {
    feed_cut(ws, now, wire, &[])
}

/// Masked client frame bytes, for handcrafted input to a server.
fn cframe(fin: bool, rsv1: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode_frame_into(
        &mut b,
        fin,
        rsv1,
        op,
        Some([0x11, 0x22, 0x33, 0x44]),
        payload,
    );
    b.to_vec()
}

fn sframe(fin: bool, rsv1: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode_frame_into(&mut b, fin, rsv1, op, None, payload);
    b.to_vec()
}

fn text(s: &str) -> Event {
    Event::Message(Message::Text(Utf8Bytes::from(s.to_owned())))
}

fn error_of(ev: &[Event]) -> Option<&WsError> {
    ev.iter().find_map(|e| match e {
        Event::Error(e) => Some(e),
        _ => None,
    })
}

/// The close code in a wire of server (unmasked) frames' last frame.
fn last_close_code(wire: &[u8]) -> Option<u16> {
    let mut c = client(None, Instant::now());
    let ev = feed(&mut c, Instant::now(), wire);
    ev.iter().find_map(|e| match e {
        Event::Closing(f) => Some(f.code.0),
        _ => None,
    })
}

fn client_close_code(wire: &[u8]) -> Option<u16> {
    let mut s = server(None, Instant::now());
    let ev = feed(&mut s, Instant::now(), wire);
    ev.iter().find_map(|e| match e {
        Event::Closing(f) => Some(f.code.0),
        _ => None,
    })
}

#[test]
fn round_trip_every_split_both_directions_with_and_without_deflate() {
    let now = Instant::now();
    for deflate in [None, Some(DeflateParams::default())] {
        let msgs: Vec<Message> = vec![
            Message::Text(Utf8Bytes::from("Hello, κόσμε €𐍈".repeat(20))),
            Message::Binary(Bytes::from(
                (0..300u32).map(|i| i as u8).collect::<Vec<_>>(),
            )),
            Message::Text(Utf8Bytes::from_static("")),
            Message::Binary(Bytes::new()),
        ];
        for m in &msgs {
            let mut c = client(deflate, now);
            c.send(m.clone()).unwrap();
            let wire = drain_wire(&mut c);
            for cut in 0..=wire.len() {
                let mut s = server(deflate, now);
                let ev = feed_cut(&mut s, now, &wire, &[cut]);
                assert_eq!(ev, vec![Event::Message(m.clone())], "c->s cut {cut}");
            }
            let mut s = server(deflate, now);
            s.send(m.clone()).unwrap();
            let wire = drain_wire(&mut s);
            let cuts: Vec<usize> = (1..wire.len()).collect();
            let mut c = client(deflate, now);
            assert_eq!(
                feed_cut(&mut c, now, &wire, &cuts),
                vec![Event::Message(m.clone())],
                "s->c bytewise"
            );
        }
    }
}

#[test]
fn context_takeover_across_messages_and_no_context_takeover() {
    let now = Instant::now();
    for p in [
        DeflateParams::default(),
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 10,
        },
    ] {
        let mut c = client(Some(p), now);
        let mut s = server(Some(p), now);
        for i in 0..5 {
            let msg = format!(
                "message number {i} with some repeated text {}",
                "repeated text ".repeat(10)
            );
            c.send_text(msg.clone()).unwrap();
            let wire = drain_wire(&mut c);
            assert_eq!(wire[0], 0xc1, "compressed, RSV1 set");
            assert_eq!(feed(&mut s, now, &wire), vec![text(&msg)]);
            s.send_text(msg.clone()).unwrap();
            let wire = drain_wire(&mut s);
            assert_eq!(feed(&mut c, now, &wire), vec![text(&msg)]);
        }
    }
}

#[test]
fn rfc7692_hello_frames() {
    let now = Instant::now();
    let mut c = client(Some(DeflateParams::default()), now);
    // 7.2.3.1 then 7.2.3.2 (context takeover)
    let ev = feed(
        &mut c,
        now,
        b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00",
    );
    assert_eq!(ev, vec![text("Hello"), text("Hello")]);
    // 7.2.3.4: fragmented compressed message
    let mut c = client(Some(DeflateParams::default()), now);
    let ev = feed(&mut c, now, b"\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00");
    assert_eq!(ev, vec![text("Hello")]);
}

#[test]
fn small_messages_below_threshold_and_window_8_go_uncompressed() {
    let now = Instant::now();
    let mut s = server(Some(DeflateParams::default()), now);
    s.send_text("tiny").unwrap();
    assert_eq!(drain_wire(&mut s), b"\x81\x04tiny");
    let p = DeflateParams {
        server_max_window_bits: 8,
        ..Default::default()
    };
    let mut s = server(Some(p), now);
    let big = "x".repeat(1000);
    s.send_text(big.clone()).unwrap();
    let wire = drain_wire(&mut s);
    assert_eq!(wire[0], 0x81);
    let mut c = client(Some(p), now);
    assert_eq!(feed(&mut c, now, &wire), vec![text(&big)]);
}

#[test]
fn fragmented_with_interleaved_control_frames() {
    let now = Instant::now();
    let mut wire = cframe(false, false, OpCode::Text, "Hel€".as_bytes().split_at(4).0);
    wire.extend(cframe(true, false, OpCode::Ping, b"p1"));
    wire.extend(cframe(
        false,
        false,
        OpCode::Continuation,
        &"€".as_bytes()[1..],
    ));
    wire.extend(cframe(true, false, OpCode::Pong, b"x"));
    wire.extend(cframe(true, false, OpCode::Continuation, b"lo"));
    for cut in 0..=wire.len() {
        let mut s = server(None, now);
        let ev = feed_cut(&mut s, now, &wire, &[cut]);
        assert_eq!(
            ev,
            vec![
                Event::Ping(Bytes::from_static(b"p1")),
                Event::Pong(Bytes::from_static(b"x")),
                text("Hel€lo")
            ],
            "cut {cut}"
        );
        assert_eq!(drain_wire(&mut s), b"\x8a\x02p1");
    }
}

#[test]
fn pong_overtakes_queued_data_and_only_latest_is_sent() {
    let now = Instant::now();
    let mut s = server(None, now);
    s.send_binary(vec![7u8; 600 * 1024]).unwrap(); // 3 frames of 256 KiB max
    let first_head = s.poll_transmit().unwrap();
    assert_eq!(first_head[0], 0x02); // not FIN: fragmented
    let mut pings = cframe(true, false, OpCode::Ping, b"a");
    pings.extend(cframe(true, false, OpCode::Ping, b"b"));
    pings.extend(cframe(true, false, OpCode::Ping, b"c"));
    feed(&mut s, now, &pings);
    // The first frame's body must finish, then the pong goes first.
    let body = s.poll_transmit().unwrap();
    assert_eq!(body.len(), 256 * 1024);
    assert_eq!(&s.poll_transmit().unwrap()[..], b"\x8a\x01c");
    let rest = drain_wire(&mut s);
    assert_eq!(rest[0], 0x00); // continuation
    assert!(!rest
        .windows(3)
        .any(|w| w == b"\x8a\x01a" || w == b"\x8a\x01b"));
}

#[test]
fn invalid_utf8_fails_fast_before_the_frame_ends() {
    let now = Instant::now();
    let payload = [b"ok \xed\xa0".as_slice(), &[b'x'; 95]].concat();
    let wire = cframe(true, false, OpCode::Text, &payload);
    let mut s = server(None, now);
    // only the header and the first 5 payload bytes
    let ev = feed(&mut s, now, &wire[..8 + 5]);
    assert_eq!(error_of(&ev), Some(&WsError::InvalidUtf8));
    assert!(matches!(ev.last(), Some(Event::Closed(_))));
    assert!(s.is_closed());
    assert_eq!(last_close_code(&drain_wire(&mut s)), Some(1007));
    // across fragments: a code point cut by the fragment boundary is fine,
    // a truncated one at the end is not
    let mut wire = cframe(false, false, OpCode::Text, b"\xe2\x82");
    wire.extend(cframe(true, false, OpCode::Continuation, b""));
    let mut s = server(None, now);
    assert_eq!(
        error_of(&feed(&mut s, now, &wire)),
        Some(&WsError::InvalidUtf8)
    );
}

#[test]
fn protocol_errors_answer_1002() {
    let now = Instant::now();
    let cases: Vec<(Vec<u8>, WsError)> = vec![
        (
            sframe(true, false, OpCode::Text, b"unmasked"),
            WsError::Frame(FrameError::Mask),
        ),
        (
            cframe(true, false, OpCode::Continuation, b"x"),
            WsError::UnexpectedContinuation,
        ),
        (
            [
                cframe(false, false, OpCode::Text, b"a"),
                cframe(true, false, OpCode::Binary, b"b"),
            ]
            .concat(),
            WsError::ExpectedContinuation,
        ),
        (
            cframe(true, true, OpCode::Text, b"x"),
            WsError::Frame(FrameError::ReservedBits),
        ),
        (
            vec![0x83, 0x80, 0, 0, 0, 0],
            WsError::Frame(FrameError::ReservedOpcode(3)),
        ),
        (
            cframe(true, false, OpCode::Close, b"\x03"),
            WsError::BadClose,
        ),
        (
            cframe(true, false, OpCode::Close, b"\x03\xed"),
            WsError::BadClose,
        ), // 1005
        (
            cframe(true, false, OpCode::Close, b"\x03\xee"),
            WsError::BadClose,
        ), // 1006
        (
            cframe(true, false, OpCode::Close, b"\x03\xf7"),
            WsError::BadClose,
        ), // 1015
        (
            cframe(true, false, OpCode::Close, b"\x07\xd0"),
            WsError::BadClose,
        ), // 2000
    ];
    for (wire, err) in cases {
        for cut in 0..=wire.len() {
            let mut s = server(None, now);
            let ev = feed_cut(&mut s, now, &wire, &[cut]);
            assert_eq!(error_of(&ev), Some(&err), "{wire:?} cut {cut}");
            assert_eq!(last_close_code(&drain_wire(&mut s)), Some(1002));
        }
    }
    // masked server frame to a client
    let mut c = client(None, now);
    let ev = feed(&mut c, now, &cframe(true, false, OpCode::Text, b"x"));
    assert_eq!(error_of(&ev), Some(&WsError::Frame(FrameError::Mask)));
    assert_eq!(client_close_code(&drain_wire(&mut c)), Some(1002));
    // RSV1 on a continuation frame with deflate negotiated
    let mut s = server(Some(DeflateParams::default()), now);
    let wire = [
        cframe(false, false, OpCode::Text, b"a"),
        cframe(true, true, OpCode::Continuation, b"b"),
    ]
    .concat();
    assert_eq!(
        error_of(&feed(&mut s, now, &wire)),
        Some(&WsError::Frame(FrameError::ReservedBits))
    );
    // bad close reason: 1007
    let mut s = server(None, now);
    let ev = feed(
        &mut s,
        now,
        &cframe(true, false, OpCode::Close, b"\x03\xe8\xff"),
    );
    assert_eq!(error_of(&ev), Some(&WsError::InvalidUtf8));
    assert_eq!(last_close_code(&drain_wire(&mut s)), Some(1007));
}

#[test]
fn limits_answer_1009_including_decompression_bombs() {
    let now = Instant::now();
    let cfg = Config {
        max_message_size: 1000,
        max_frame_size: 600,
        ..Config::default()
    };
    // one frame over the frame limit: refused at the header
    let mut s = WebSocket::server(cfg.clone(), None, now);
    let wire = cframe(true, false, OpCode::Binary, &[0; 700]);
    let ev = feed(&mut s, now, &wire[..8]);
    assert_eq!(
        error_of(&ev),
        Some(&WsError::Frame(FrameError::TooBig(700)))
    );
    assert_eq!(last_close_code(&drain_wire(&mut s)), Some(1009));
    // fragments adding up past the message limit
    let mut s = WebSocket::server(cfg.clone(), None, now);
    let wire = [
        cframe(false, false, OpCode::Binary, &[0; 500]),
        cframe(true, false, OpCode::Continuation, &[0; 501]),
    ]
    .concat();
    assert_eq!(
        error_of(&feed(&mut s, now, &wire)),
        Some(&WsError::MessageTooBig)
    );
    // a compressed message inflating past the limit
    let mut c = client(Some(DeflateParams::default()), now);
    c.send_binary(vec![0u8; 100_000]).unwrap();
    let wire = drain_wire(&mut c);
    assert!(wire.len() < 1000);
    let cfg = Config {
        max_frame_size: 100_000,
        ..cfg
    };
    let mut s = WebSocket::server(cfg, Some(DeflateParams::default()), now);
    assert_eq!(
        error_of(&feed(&mut s, now, &wire)),
        Some(&WsError::MessageTooBig)
    );
    assert_eq!(last_close_code(&drain_wire(&mut s)), Some(1009));
}

#[test]
fn close_handshake_client_initiated() {
    let now = Instant::now();
    let mut c = client(None, now);
    let mut s = server(None, now);
    c.send_text("last").unwrap();
    c.close(now, CloseCode(3000), "done").unwrap();
    assert_eq!(c.send_text("more"), Err(UsageError::Closing));
    let wire = drain_wire(&mut c);
    let ev = feed(&mut s, now, &wire);
    let closing = CloseFrame {
        code: CloseCode(3000),
        reason: "done".into(),
    };
    assert_eq!(ev[0], text("last"));
    assert_eq!(ev[1], Event::Closing(closing.clone()));
    let Event::Closed(info) = &ev[2] else {
        panic!("{ev:?}")
    };
    assert_eq!(info.code(), CloseCode(3000));
    assert!(info.is_clean());
    assert!(s.is_closed());
    let echo = drain_wire(&mut s);
    assert_eq!(echo, b"\x88\x02\x0b\xb8"); // same code, no reason
    let ev = feed(&mut c, now, &echo);
    assert!(matches!(&ev[..], [Event::Closing(f)] if f.code == CloseCode(3000)));
    assert!(!c.is_closed(), "the client waits for the server's EOF");
    assert!(c.wants_input(), "and reads to see it");
    let mut junk = BytesMut::from(&b"junk after close"[..]);
    c.handle_input(now, &mut junk);
    assert!(junk.is_empty() && events(&mut c).is_empty());
    c.handle_eof(now);
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [Event::Closed(i)] if i.is_clean()));
    assert!(c.is_closed());
}

#[test]
fn close_handshake_server_initiated_and_empty_close() {
    let now = Instant::now();
    let mut s = server(None, now);
    let mut c = client(None, now);
    s.close(now, CloseCode::NO_STATUS, "").unwrap();
    let wire = drain_wire(&mut s);
    assert_eq!(wire, b"\x88\x00");
    let ev = feed(&mut c, now, &wire);
    assert!(matches!(&ev[..], [Event::Closing(f)] if f.code == CloseCode::NO_STATUS));
    let echo = drain_wire(&mut c);
    let ev = feed(&mut s, now, &echo);
    assert!(matches!(&ev[..], [Event::Closing(_), Event::Closed(i)] if i.is_clean()));
    // client times out waiting for EOF: still clean
    let t = c.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(5));
    c.handle_timeout(t);
    assert!(matches!(&events(&mut c)[..], [Event::Closed(i)] if i.is_clean()));
    // bad close arguments are local errors
    let mut s = server(None, now);
    assert_eq!(
        s.close(now, CloseCode::ABNORMAL, ""),
        Err(UsageError::InvalidCloseCode)
    );
    assert_eq!(
        s.close(now, CloseCode::NORMAL, &"x".repeat(124)),
        Err(UsageError::ReasonTooLong)
    );
}

#[test]
fn timers_keepalive_dead_peer_and_close_timeout() {
    let now = Instant::now();
    let mut s = server(None, now);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(30)));
    s.handle_timeout(now + Duration::from_secs(30));
    assert_eq!(drain_wire(&mut s), b"\x89\x00");
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(60)));
    // an answer moves both timers
    let t = now + Duration::from_secs(31);
    feed(&mut s, t, &cframe(true, false, OpCode::Pong, b""));
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(30)));
    // silence: ping again, then dead
    s.handle_timeout(t + Duration::from_secs(30));
    assert_eq!(drain_wire(&mut s), b"\x89\x00");
    s.handle_timeout(t + Duration::from_secs(60));
    let ev = events(&mut s);
    assert_eq!(error_of(&ev), Some(&WsError::DeadPeer));
    assert!(s.is_closed());
    assert!(
        drain_wire(&mut s).is_empty(),
        "no close frame to a dead peer"
    );
    // close timeout
    let mut c = client(None, now);
    c.close(now, CloseCode::NORMAL, "").unwrap();
    drain_wire(&mut c);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
    c.handle_timeout(now + Duration::from_secs(5));
    let ev = events(&mut c);
    assert_eq!(error_of(&ev), Some(&WsError::CloseTimeout));
    assert!(matches!(ev.last(), Some(Event::Closed(i)) if i.code() == CloseCode::ABNORMAL));
    // EOF without a close
    let mut c = client(None, now);
    c.handle_eof(now);
    assert_eq!(error_of(&events(&mut c)), Some(&WsError::UnexpectedEof));
    assert!(c.is_closed());
}

#[test]
fn raw_frames_for_broadcast() {
    let now = Instant::now();
    let frame = encode_server_frame(OpCode::Text, Bytes::from_static(b"to all")).unwrap();
    let mut conns: Vec<WebSocket> = (0..3)
        .map(|_| server(Some(DeflateParams::default()), now))
        .collect();
    for s in &mut conns {
        s.send_raw_frame(frame.clone()).unwrap();
        let out = s.poll_transmit().unwrap();
        assert_eq!(out.as_ptr(), frame.as_ptr(), "shared, not copied");
        let mut c = client(Some(DeflateParams::default()), now);
        assert_eq!(feed(&mut c, now, &out), vec![text("to all")]);
    }
    let mut c = client(None, now);
    assert_eq!(c.send_raw_frame(frame.clone()), Err(UsageError::NotServer));
    let mut s = server(None, now);
    s.start_message(MessageKind::Text, Bytes::from_static(b"a"))
        .unwrap();
    assert_eq!(s.send_raw_frame(frame), Err(UsageError::MessageInProgress));
    let close = encode_server_frame(OpCode::Close, Bytes::from_static(b"\x03\xe8")).unwrap();
    s.finish_message(Bytes::new()).unwrap();
    assert_eq!(s.send_raw_frame(close), Err(UsageError::BadOpcode));
}

#[test]
fn streaming_send_and_receive() {
    let now = Instant::now();
    for deflate in [None, Some(DeflateParams::default())] {
        let mut c = client(deflate, now);
        c.start_message(MessageKind::Text, Bytes::from(vec![b'a'; 200]))
            .unwrap();
        assert_eq!(c.send_text("no"), Err(UsageError::MessageInProgress));
        c.continue_message(Bytes::from_static(b"\xe2\x82")).unwrap(); // half a euro
        assert_eq!(
            c.continue_message(Bytes::from_static(b"\xff")),
            Err(UsageError::InvalidUtf8)
        );
        c.finish_message(Bytes::from_static(b"\xac!")).unwrap();
        assert_eq!(
            c.finish_message(Bytes::new()),
            Err(UsageError::NoMessageInProgress)
        );
        let wire = drain_wire(&mut c);
        let expected = format!("{}€!", "a".repeat(200));
        let mut s = server(deflate, now);
        assert_eq!(feed(&mut s, now, &wire), vec![text(&expected)]);
        // streaming delivery
        let cfg = Config {
            streaming: true,
            ..Config::default()
        };
        let mut s = WebSocket::server(cfg, deflate, now);
        let cuts: Vec<usize> = (1..wire.len()).step_by(7).collect();
        let ev = feed_cut(&mut s, now, &wire, &cuts);
        assert_eq!(ev.first(), Some(&Event::MessageStart(MessageKind::Text)));
        assert_eq!(ev.last(), Some(&Event::MessageEnd));
        let mut got = Vec::new();
        for e in &ev[1..ev.len() - 1] {
            let Event::MessageData(d) = e else {
                panic!("{e:?}")
            };
            assert!(
                std::str::from_utf8(d).is_ok(),
                "each text piece is whole UTF-8"
            );
            got.extend_from_slice(d);
        }
        assert_eq!(got, expected.as_bytes());
        // byte at a time: the euro sign, cut by reads, arrives whole
        let cfg = Config {
            streaming: true,
            ..Config::default()
        };
        let mut s = WebSocket::server(cfg, deflate, now);
        let cuts: Vec<usize> = (1..wire.len()).collect();
        let ev = feed_cut(&mut s, now, &wire, &cuts);
        let mut got = Vec::new();
        for e in &ev {
            if let Event::MessageData(d) = e {
                assert!(std::str::from_utf8(d).is_ok(), "{d:?}");
                got.extend_from_slice(d);
            }
        }
        assert_eq!(got, expected.as_bytes());
        if deflate.is_none() {
            assert!(ev.contains(&Event::MessageData(Bytes::from_static("€".as_bytes()))));
        }
    }
}

#[test]
fn backpressure_stops_reading_when_events_pile_up() {
    let now = Instant::now();
    let mut s = server(None, now);
    let mut wire = Vec::new();
    for _ in 0..100 {
        wire.extend(cframe(true, false, OpCode::Binary, b"x"));
    }
    let mut buf = BytesMut::from(&wire[..]);
    s.handle_input(now, &mut buf);
    assert!(!s.wants_input());
    assert!(!buf.is_empty(), "the rest waits in the caller's buffer");
    let n = events(&mut s).len();
    assert_eq!(n, 64);
    assert!(s.wants_input());
    s.handle_input(now, &mut buf);
    assert_eq!(events(&mut s).len(), 36);
    assert!(buf.is_empty());
}

#[test]
fn idle_connection_is_small() {
    // The struct is all an idle connection holds: queues are empty (no
    // allocation), deflate state is created on first use.
    let size = std::mem::size_of::<WebSocket>();
    eprintln!("size_of::<WebSocket>() = {size}");
    assert!(size <= 1024, "{size}");
    let now = Instant::now();
    let s = server(Some(DeflateParams::default()), now);
    assert_eq!(format!("{s:?}").matches("allocated: true").count(), 0);
}
