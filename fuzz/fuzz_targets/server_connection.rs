//! A server connection on arbitrary bytes, split into pieces chosen by the
//! input, then EOF and a timeout: it never panics, answers every request it
//! reports (so pipelined requests keep flowing), and what it transmits is
//! always a parseable response head first.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wireloom_core::http::parse::{parse_response, ParseConfig, Status};
use wireloom_core::http::{
    BodyLength, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_core::Dialogue;

fn drain(conn: &mut ServerConnection, now: Instant, wire: &mut Vec<u8>) {
    while let Some(ev) = conn.poll_event() {
        match ev {
            ServerEvent::Request(req) => {
                if req.expects_continue {
                    conn.accept_body(now);
                }
            }
            ServerEvent::End(_) => {
                let mut res = ResponseHead::new(StatusCode::OK);
                let _ = res.header("X-Fuzz", "1");
                if conn.send_response(now, res, BodyLength::Known(2)).is_ok() {
                    let _ = conn.send_data(Bytes::from_static(b"ok"));
                    let _ = conn.send_end(now, None);
                }
            }
            ServerEvent::Data(_) | ServerEvent::Upgrade | ServerEvent::Error(_) => {}
        }
    }
    while let Some(b) = conn.poll_transmit() {
        wire.extend_from_slice(&b);
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: number of pieces; the input is cut evenly.
    let Some((&n, input)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut conn = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    let mut wire = Vec::new();
    let step = input.len() / (n as usize % 8 + 1) + 1;
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..64 {
            let before = buf.len();
            conn.handle_input(now, &mut buf);
            drain(&mut conn, now, &mut wire);
            if conn.is_closed() || buf.len() == before {
                break;
            }
        }
    }
    conn.handle_eof(now);
    drain(&mut conn, now, &mut wire);
    if let Some(t) = conn.poll_timeout() {
        conn.handle_timeout(t.max(now + Duration::from_secs(3600)));
        drain(&mut conn, now, &mut wire);
    }
    if !wire.is_empty() {
        let mut h = Vec::new();
        let parsed = parse_response(&wire, &ParseConfig::default(), &mut h);
        assert!(
            matches!(parsed, Ok(Status::Complete(_))),
            "server wrote an unparseable head: {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
});
