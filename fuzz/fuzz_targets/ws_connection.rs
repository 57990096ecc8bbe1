//! Server and client WebSocket connections, with permessage-deflate
//! negotiated, on arbitrary bytes split into pieces chosen by the input,
//! then EOF and a late timer: they never panic, never report anything after
//! `Closed`, report exactly one `Closed`, and account every queued byte.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wireloom_core::ws::{Config, DeflateParams, Event, WebSocket};
use wireloom_core::Dialogue;

fn drain(ws: &mut WebSocket, closed: &mut usize) {
    while let Some(ev) = ws.poll_event() {
        assert_eq!(*closed, 0, "event after Closed: {ev:?}");
        match ev {
            Event::Closed(_) => *closed += 1,
            // an echo keeps traffic flowing back
            Event::Message(m) => {
                let _ = ws.send(m);
            }
            _ => {}
        }
    }
    while ws.poll_transmit().is_some() {}
    assert_eq!(ws.buffered_amount(), 0);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let config = Config {
        max_message_size: 1 << 16,
        max_frame_size: 1 << 15,
        streaming: flags & 2 != 0,
        ..Config::default()
    };
    let deflate = Some(DeflateParams {
        server_no_context_takeover: flags & 4 != 0,
        client_no_context_takeover: flags & 8 != 0,
        server_max_window_bits: 8 + (flags >> 4 & 7),
        client_max_window_bits: 15 - (flags >> 4 & 7),
    });
    let mut ws = if flags & 1 != 0 {
        WebSocket::server(config, deflate, now)
    } else {
        WebSocket::client(config, deflate, [7; 32], now)
    };
    let mut closed = 0;
    let step = input.len() / (flags as usize % 5 + 1) + 1;
    let mut buf = BytesMut::new();
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..256 {
            let before = buf.len();
            ws.handle_input(now, &mut buf);
            drain(&mut ws, &mut closed);
            if buf.len() == before || !ws.wants_input() {
                break;
            }
        }
    }
    let _ = ws.send_ping(Bytes::from_static(b"x"));
    drain(&mut ws, &mut closed);
    ws.handle_eof(now);
    drain(&mut ws, &mut closed);
    ws.handle_timeout(now + Duration::from_secs(3600));
    drain(&mut ws, &mut closed);
    assert!(ws.is_closed());
    assert_eq!(closed, 1);
});
