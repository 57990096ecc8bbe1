//! WebSocket on the blocking adapter against real peers: the demo's
//! `/ws/echo` and `/ws/chat` with the Python `websockets` clients (sync and
//! asyncio, with and without permessage-deflate, plain and TLS) and
//! headless Chromium (`chat.html`), through the shared
//! `wireloom_testkit::scenarios::ws`; the blocking client against the
//! Python `websockets` server; split halves on two threads and a handle.

use std::time::Duration;

use bytes::Bytes;
use wireloom_blocking::ws::{connect, ClientConfig, CloseCode, Message, WsEvent};
use wireloom_testkit::pki;
use wireloom_testkit::scenarios::ws;
use wireloom_testkit::ws::{Api, PyWsServer};

#[test]
fn demo_with_python() {
    let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
    ws::demo_python_all(&demo, &["--threads", "16"]);
}

// Not run yet: headless Chromium's chat page on the blocking demo misses
// hub messages sent to it after its own (the same scenario passes on
// tokio and async-std/smol, and Python clients get every hub message from
// the blocking demo, `chat:3` and `slow-member` above). Under
// investigation; see the branch report.
#[test]
#[ignore = "chromium chat.html on the blocking demo misses later hub messages (known bug)"]
fn demo_chat_in_chromium() {
    let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
    let (_demo, base) = wireloom_testkit::examples::serve(&demo, &["--threads", "16"]);
    ws::demo_chat_in_chromium(&base);
}

fn text(m: Option<Message>) -> String {
    match m {
        Some(Message::Text(t)) => t.as_str().to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The blocking client against the Python echo server: sync and asyncio,
/// with and without permessage-deflate, once over TLS: the negotiated
/// extension, text, a 4 MiB message each way, a fragmented message, the
/// server's ping answered, the server's close code, our close.
#[test]
fn client_against_python() {
    for (api, compression, tls) in [
        (Api::Sync, true, false),
        (Api::Sync, false, false),
        (Api::Asyncio, true, false),
        (Api::Asyncio, false, true),
    ] {
        let what = format!("{api:?} compression {compression} tls {tls}");
        let server = PyWsServer::start(api, compression, tls);
        let mut config = ClientConfig::default();
        if tls {
            config.tls = Some(std::sync::Arc::new(pki::client_config(&server.ca_pem)));
        }
        let mut ws =
            connect(&server.url("/"), &config).unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        assert_eq!(ws.is_compressed(), compression, "{what}");
        ws.send(Message::Text("extensions?".to_string().into()))
            .unwrap();
        let ext = text(ws.recv());
        assert_eq!(
            ext.contains("permessage-deflate"),
            compression,
            "{what}: {ext:?}"
        );
        ws.send(Message::Text("h\u{e9}llo".to_string().into()))
            .unwrap();
        assert_eq!(text(ws.recv()), "h\u{e9}llo", "{what}");
        let bin = Bytes::from(wireloom_testkit::data::pattern(3, 4 << 20));
        ws.send(Message::Binary(bin.clone())).unwrap();
        match ws.recv() {
            Some(Message::Binary(b)) => assert!(b == bin, "{what}: 4 MiB echo differs"),
            other => panic!("{what}: {other:?}"),
        }
        ws.send(Message::Text("send-fragmented 4".to_string().into()))
            .unwrap();
        assert_eq!(text(ws.recv()), "part0part1part2part3", "{what}");
        ws.send(Message::Text("send-big 1000000".to_string().into()))
            .unwrap();
        match ws.recv() {
            Some(Message::Binary(b)) => {
                assert!(
                    b.iter().enumerate().all(|(i, x)| *x == (i % 251) as u8)
                        && b.len() == 1_000_000
                )
            }
            other => panic!("{what}: {other:?}"),
        }
        ws.send(Message::Text("ping-me".to_string().into()))
            .unwrap();
        assert_eq!(text(ws.recv()), "pong received", "{what}");
        let info = ws.close(CloseCode::NORMAL, "done").unwrap();
        assert!(
            info.is_clean() && info.code() == CloseCode::NORMAL,
            "{what}: {info:?}"
        );

        let mut ws = connect(&server.url("/"), &config).unwrap();
        ws.send(Message::Text("close 4003 later".to_string().into()))
            .unwrap();
        let mut closing = None;
        while let Some(ev) = ws.next_event() {
            if let WsEvent::Closing(f) = ev {
                closing = Some(f);
            }
        }
        let f = closing.unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(
            (f.code, f.reason.as_str()),
            (CloseCode(4003), "later"),
            "{what}"
        );
    }
}

/// Split: the writer on one thread, a handle on another, the reader on
/// the test thread receives every echo in order per sender.
#[test]
fn client_split_halves_and_handle() {
    let server = PyWsServer::start(Api::Sync, true, false);
    let ws = connect(&server.url("/"), &ClientConfig::default()).unwrap();
    let handle = ws.handle();
    let (mut reader, writer) = ws.split().unwrap();
    let w = std::thread::spawn(move || {
        for i in 0..50 {
            writer
                .send(Message::Text(format!("writer {i}").into()))
                .unwrap();
        }
        writer
    });
    let h = std::thread::spawn(move || {
        for i in 0..50 {
            let mut m = Message::Binary(Bytes::from(format!("handle {i}")));
            let mut tries = 0;
            loop {
                match handle.try_send(m) {
                    Ok(()) => break,
                    Err(wireloom_blocking::ws::SendError::Full(back)) if tries < 1000 => {
                        tries += 1;
                        m = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        handle
    });
    let (mut a, mut b) = (0, 0);
    while a < 50 || b < 50 {
        match reader.next_event_timeout(Duration::from_secs(20)) {
            Ok(Some(WsEvent::Message(Message::Text(t)))) => {
                assert_eq!(t.as_str(), format!("writer {a}"));
                a += 1;
            }
            Ok(Some(WsEvent::Message(Message::Binary(m)))) => {
                assert_eq!(&m[..], format!("handle {b}").as_bytes());
                b += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("closed after {a} + {b} echoes"),
            Err(_) => panic!("no echo within 20 s after {a} + {b}"),
        }
    }
    let writer = w.join().unwrap();
    let handle = h.join().unwrap();
    writer.close(CloseCode::NORMAL, "");
    loop {
        match reader.next_event_timeout(Duration::from_secs(20)) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("the connection did not end within 20 s"),
        }
    }
    assert!(handle.is_closed());
}
