//! Property tests for the WebSocket connection.
//!
//! - Round trips: any sequence of text and binary messages, sent whole or
//!   streamed in any pieces, with any outgoing frame size (so any
//!   fragmentation), pings in between, with or without permessage-deflate
//!   (any negotiated parameters and threshold), delivered whole or
//!   streamed, whatever the split of the bytes on the wire, arrives
//!   unchanged, client to server and server to client, and the close code
//!   arrives too.
//! - Robustness: server and client connections (with deflate) fed random
//!   bytes, or valid traffic with a byte flipped, in random pieces, then EOF
//!   and a timer: never panic, always end with exactly one `Closed`.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wireloom_core::ws::{
    CloseCode, Config, DeflateConfig, DeflateParams, Event, Message, MessageKind, Utf8Bytes,
    WebSocket,
};
use wireloom_core::Dialogue;

#[derive(Debug, Clone)]
enum Send {
    Whole(Message),
    /// A message sent in pieces cut at these positions.
    Streamed(Message, Vec<usize>),
    Ping(Vec<u8>),
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,300}".prop_map(|s| Message::Text(Utf8Bytes::from(s))),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|v| Message::Binary(Bytes::from(v))),
        // compressible
        (0usize..3000, any::<u8>()).prop_map(|(n, b)| Message::Binary(Bytes::from(vec![b; n]))),
    ]
}

fn send() -> impl Strategy<Value = Send> {
    prop_oneof![
        3 => message().prop_map(Send::Whole),
        2 => (message(), prop::collection::vec(any::<prop::sample::Index>(), 0..4)).prop_map(|(m, idx)| {
            let len = m.as_bytes().len();
            let mut cuts: Vec<usize> = idx.iter().map(|i| i.index(len + 1)).collect();
            cuts.sort_unstable();
            Send::Streamed(m, cuts)
        }),
        1 => prop::collection::vec(any::<u8>(), 0..126).prop_map(Send::Ping),
    ]
}

fn deflate() -> impl Strategy<Value = Option<DeflateParams>> {
    prop_oneof![
        Just(None),
        (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15).prop_map(|(snc, cnc, sb, cb)| {
            Some(DeflateParams {
                server_no_context_takeover: snc,
                client_no_context_takeover: cnc,
                server_max_window_bits: sb,
                client_max_window_bits: cb,
            })
        }),
    ]
}

fn config(frame: usize, threshold: usize, streaming: bool) -> Config {
    Config {
        max_send_frame_size: frame,
        streaming,
        compression: DeflateConfig {
            threshold,
            ..DeflateConfig::default()
        },
        ..Config::default()
    }
}

/// Runs `sends` from one side to the other through the given wire split;
/// returns the messages, pings and close code the receiver saw.
fn transfer(
    sender: &mut WebSocket,
    receiver: &mut WebSocket,
    sends: &[Send],
    cuts: &[prop::sample::Index],
    now: Instant,
) -> (Vec<Message>, Vec<Bytes>, Option<CloseCode>) {
    for s in sends {
        match s {
            Send::Whole(m) => sender.send(m.clone()).unwrap(),
            Send::Streamed(m, pieces) => {
                let b = Bytes::copy_from_slice(m.as_bytes());
                let mut at = 0;
                for (i, &c) in pieces.iter().enumerate() {
                    let piece = b.slice(at..c);
                    at = c;
                    if i == 0 {
                        sender.start_message(m.kind(), piece).unwrap();
                    } else {
                        sender.continue_message(piece).unwrap();
                    }
                }
                if pieces.is_empty() {
                    sender.start_message(m.kind(), Bytes::new()).unwrap();
                }
                sender.finish_message(b.slice(at..)).unwrap();
            }
            Send::Ping(p) => sender.send_ping(Bytes::from(p.clone())).unwrap(),
        }
    }
    sender.close(now, CloseCode(4321), "end").unwrap();
    let mut wire = Vec::new();
    while let Some(b) = sender.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
    positions.sort_unstable();
    positions.push(wire.len());

    let mut messages = Vec::new();
    let mut pings = Vec::new();
    let mut close = None;
    let mut streamed: Option<(MessageKind, Vec<u8>)> = None;
    let mut buf = BytesMut::new();
    let mut at = 0;
    for p in positions {
        buf.extend_from_slice(&wire[at..p]);
        at = p;
        for _ in 0..10_000 {
            let before = buf.len();
            receiver.handle_input(now, &mut buf);
            let mut any = false;
            while let Some(ev) = receiver.poll_event() {
                any = true;
                match ev {
                    Event::Message(m) => messages.push(m),
                    Event::MessageStart(k) => streamed = Some((k, Vec::new())),
                    Event::MessageData(d) => {
                        let (kind, data) = streamed.as_mut().unwrap();
                        if *kind == MessageKind::Text {
                            assert!(
                                std::str::from_utf8(&d).is_ok(),
                                "text piece not whole UTF-8"
                            );
                        }
                        data.extend_from_slice(&d)
                    }
                    Event::MessageEnd => {
                        let (k, d) = streamed.take().unwrap();
                        messages.push(match k {
                            MessageKind::Text => {
                                Message::Text(Utf8Bytes::try_from_bytes(Bytes::from(d)).unwrap())
                            }
                            MessageKind::Binary => Message::Binary(Bytes::from(d)),
                        })
                    }
                    Event::Ping(p) => pings.push(p),
                    Event::Closing(f) => close = Some(f.code),
                    Event::Pong(_) | Event::Closed(_) => {}
                    Event::Error(e) => panic!("unexpected error {e}"),
                }
            }
            if !any && (!receiver.wants_input() || buf.len() == before) {
                break;
            }
        }
    }
    (messages, pings, close)
}

fn expected(sends: &[Send]) -> (Vec<Message>, Vec<Bytes>) {
    let mut m = Vec::new();
    let mut p = Vec::new();
    for s in sends {
        match s {
            Send::Whole(x) | Send::Streamed(x, _) => m.push(x.clone()),
            Send::Ping(x) => p.push(Bytes::from(x.clone())),
        }
    }
    (m, p)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_client_to_server(
        sends in prop::collection::vec(send(), 0..6),
        deflate in deflate(),
        frame in 1usize..400,
        threshold in 0usize..200,
        streaming in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let now = Instant::now();
        let mut c = WebSocket::client(config(frame, threshold, false), deflate, [5; 32], now);
        let mut s = WebSocket::server(config(frame, threshold, streaming), deflate, now);
        let (msgs, pings, close) = transfer(&mut c, &mut s, &sends, &cuts, now);
        let (em, ep) = expected(&sends);
        prop_assert_eq!(msgs, em);
        prop_assert_eq!(pings, ep);
        prop_assert_eq!(close, Some(CloseCode(4321)));
        prop_assert!(s.is_closed());
    }

    #[test]
    fn round_trip_server_to_client(
        sends in prop::collection::vec(send(), 0..6),
        deflate in deflate(),
        frame in 1usize..400,
        threshold in 0usize..200,
        streaming in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let now = Instant::now();
        let mut s = WebSocket::server(config(frame, threshold, false), deflate, now);
        let mut c = WebSocket::client(config(frame, threshold, streaming), deflate, [6; 32], now);
        let (msgs, pings, close) = transfer(&mut s, &mut c, &sends, &cuts, now);
        let (em, ep) = expected(&sends);
        prop_assert_eq!(msgs, em);
        prop_assert_eq!(pings, ep);
        prop_assert_eq!(close, Some(CloseCode(4321)));
    }
}

/// Feeds `input` in pieces to a fresh connection, then EOF and a late
/// timer; checks it ends with exactly one `Closed` and never panics.
fn robust(server: bool, input: &[u8], cuts: &[prop::sample::Index], streaming: bool) {
    let now = Instant::now();
    let cfg = Config {
        max_message_size: 4096,
        streaming,
        ..Config::default()
    };
    let deflate = Some(DeflateParams::default());
    let mut ws = if server {
        WebSocket::server(cfg, deflate, now)
    } else {
        WebSocket::client(cfg, deflate, [1; 32], now)
    };
    let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
    positions.sort_unstable();
    positions.push(input.len());
    let mut buf = BytesMut::new();
    let mut closed = 0;
    let mut at = 0;
    let drain = |ws: &mut WebSocket, closed: &mut usize| {
        while let Some(ev) = ws.poll_event() {
            if matches!(ev, Event::Closed(_)) {
                *closed += 1;
            }
        }
        while ws.poll_transmit().is_some() {}
        assert_eq!(ws.buffered_amount(), 0);
    };
    for p in positions {
        buf.extend_from_slice(&input[at..p]);
        at = p;
        for _ in 0..1000 {
            let before = buf.len();
            ws.handle_input(now, &mut buf);
            drain(&mut ws, &mut closed);
            if buf.len() == before || !ws.wants_input() {
                break;
            }
        }
    }
    ws.handle_eof(now);
    drain(&mut ws, &mut closed);
    ws.handle_timeout(now + Duration::from_secs(3600));
    drain(&mut ws, &mut closed);
    assert!(ws.is_closed());
    assert_eq!(closed, 1);
}

/// Valid client traffic (masked, compressed) to mutate.
fn valid_client_wire(sends: &[Send]) -> Vec<u8> {
    let now = Instant::now();
    let mut c = WebSocket::client(
        config(100, 0, false),
        Some(DeflateParams::default()),
        [2; 32],
        now,
    );
    for s in sends {
        if let Send::Whole(m) | Send::Streamed(m, _) = s {
            c.send(m.clone()).unwrap();
        }
    }
    let mut wire = Vec::new();
    while let Some(b) = c.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    wire
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        server in any::<bool>(),
        streaming in any::<bool>(),
    ) {
        robust(server, &input, &cuts, streaming);
    }

    #[test]
    fn mutated_traffic_never_panics(
        sends in prop::collection::vec(send(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        streaming in any::<bool>(),
    ) {
        let mut wire = valid_client_wire(&sends);
        if !wire.is_empty() {
            for (i, x) in &flips {
                let i = i.index(wire.len());
                wire[i] ^= x | 1;
            }
        }
        robust(true, &wire, &cuts, streaming);
    }
}
