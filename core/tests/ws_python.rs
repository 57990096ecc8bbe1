//! The core WebSocket connection against a real peer, Python's
//! `websockets` (sync client API and asyncio server API), over loopback,
//! with and without permessage-deflate. The connection is driven by a tiny
//! blocking std::net loop written here (test code; the real adapters live
//! in the adapter crates): this proves the codec, the handshake and the
//! close handshake against an independent implementation.
//!
//! Skipped (with a message) when `python3 -c 'import websockets'` fails;
//! `.ci/run` installs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, ServerConfig, ServerConnection,
    ServerEvent,
};
use wireloom_core::ws::{
    accept, is_upgrade_request, ClientHandshake, ClientOptions, CloseCode, Config, DeflateConfig,
    DeflateParams, Event, Message, Negotiated, ServerOptions, WebSocket,
};
use wireloom_core::Dialogue;

const CLIENT_PY: &str = include_str!("ws_python/client.py");
const SERVER_PY: &str = include_str!("ws_python/server.py");
const LIMITS_PY: &str = include_str!("ws_python/limits.py");
/// Every loop here gives up after this long (a hang fails the test).
const DEADLINE: Duration = Duration::from_secs(60);

fn have_websockets() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: python3 websockets is not installed (pip install websockets)");
    }
    ok
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes everything the dialogue has to send.
fn flush<D: Dialogue>(d: &mut D, s: &mut TcpStream) {
    while let Some(b) = d.poll_transmit() {
        s.write_all(&b).unwrap();
    }
}

/// Reads once into `buf` (with a short socket timeout so timers run);
/// returns false on EOF.
fn read_some(s: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<bool> {
    let mut tmp = [0u8; 64 * 1024];
    match s.read(&mut tmp) {
        Ok(0) => Ok(false),
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            Ok(true)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Drives `ws` until closed, handing every event to `on_event` (which may
/// call the application API). Returns the events seen.
fn run(
    ws: &mut WebSocket,
    s: &mut TcpStream,
    buf: &mut BytesMut,
    mut on_event: impl FnMut(&mut WebSocket, &Event),
) -> Vec<Event> {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut eof = false;
    // The bytes read past the HTTP head come first.
    ws.handle_input(Instant::now(), buf);
    loop {
        assert!(start.elapsed() < DEADLINE, "websocket loop did not finish");
        while let Some(ev) = ws.poll_event() {
            on_event(ws, &ev);
            seen.push(ev);
        }
        flush(ws, s);
        if ws.is_closed() {
            return seen;
        }
        let now = Instant::now();
        if ws.poll_timeout().is_some_and(|t| t <= now) {
            ws.handle_timeout(now);
            continue;
        }
        if eof {
            continue;
        }
        if ws.wants_input() {
            match read_some(s, buf) {
                Ok(true) => ws.handle_input(Instant::now(), buf),
                Ok(false) | Err(_) => {
                    eof = true;
                    ws.handle_eof(Instant::now());
                }
            }
        }
    }
}

fn server_side(listener: TcpListener, deflate: bool) -> (Vec<Event>, Option<String>, Negotiated) {
    server_side_with(listener, deflate, Config::default())
}

fn server_side_with(
    listener: TcpListener,
    deflate: bool,
    config: Config,
) -> (Vec<Event>, Option<String>, Negotiated) {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let mut http = ServerConnection::new(ServerConfig::default(), Instant::now());
    let mut buf = BytesMut::new();
    let options = ServerOptions {
        deflate: DeflateConfig {
            enabled: deflate,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut negotiated = None;
    let mut offered = None;
    // HTTP until the upgrade
    'http: loop {
        assert!(start.elapsed() < DEADLINE, "no upgrade");
        assert!(
            read_some(&mut s, &mut buf).unwrap(),
            "EOF before the upgrade"
        );
        http.handle_input(Instant::now(), &mut buf);
        while let Some(ev) = http.poll_event() {
            match ev {
                ServerEvent::Request(req) => {
                    assert!(req.wants_upgrade && is_upgrade_request(&req.head));
                    offered = req
                        .head
                        .headers
                        .get_str("sec-websocket-extensions")
                        .map(str::to_owned);
                    let ok = accept(&req.head, &options).unwrap();
                    negotiated = Some(ok.negotiated);
                    // answered at End (the request has no body)
                    http.send_response(Instant::now(), ok.response, BodyLength::Known(0))
                        .unwrap();
                }
                ServerEvent::End(_) => {}
                ServerEvent::Upgrade => {
                    flush(&mut http, &mut s);
                    break 'http;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        flush(&mut http, &mut s);
    }
    let negotiated: Negotiated = negotiated.unwrap();
    assert_eq!(negotiated.deflate.is_some(), deflate);
    let config = Config {
        ping_interval: None,
        ..config
    };
    let mut ws = WebSocket::server(config, negotiated.deflate, Instant::now());
    let events = run(&mut ws, &mut s, &mut buf, |ws, ev| match ev {
        Event::Message(Message::Text(t)) if t == "close me" => ws
            .close(Instant::now(), CloseCode(4001), "bye from core")
            .unwrap(),
        Event::Message(Message::Text(t)) if t == "ping me" => {
            ws.send_ping(Bytes::from_static(b"core-ping")).unwrap()
        }
        Event::Pong(p) if &p[..] == b"core-ping" => ws.send_text("ponged").unwrap(),
        Event::Message(m) => ws.send(m.clone()).unwrap(),
        _ => {}
    });
    lingering_close(s);
    (events, offered, negotiated)
}

/// Closes like a server should after failing a connection whose peer may
/// still be sending: shut down the write half (the close frame is out),
/// then read and discard until the peer's EOF (bounded), so the kernel
/// does not answer unread data with a reset that destroys the close frame
/// in flight.
fn lingering_close(mut s: TcpStream) {
    let _ = s.shutdown(std::net::Shutdown::Write);
    let start = Instant::now();
    let mut sink = BytesMut::new();
    while start.elapsed() < Duration::from_secs(5) {
        sink.clear();
        match read_some(&mut s, &mut sink) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
}

/// `mode`: "none", "deflate" (websockets' default offer) or "params"
/// (every permessage-deflate parameter offered).
fn python_client_against_core_server(mode: &str) {
    let deflate = mode != "none";
    if !have_websockets() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    let child = Command::new("python3")
        .args(["-c", CLIENT_PY, &url, mode])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let (events, offered, negotiated) = server_side(listener, deflate);
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    eprintln!("client offered {offered:?}; python saw {v}");
    let ext = if deflate {
        vec!["permessage-deflate"]
    } else {
        vec![]
    };
    assert_eq!(v["extensions"], serde_json::json!(ext));
    if mode == "params" {
        // python's view: [remote (server) no context takeover, local (client)
        // no context takeover, server window, client window]
        assert_eq!(v["params"], serde_json::json!([[true, true, 10, 9]]));
        let expected = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 9,
        };
        assert_eq!(negotiated.deflate, Some(expected));
    }
    for k in [
        "text",
        "big",
        "compressible",
        "fragmented_text",
        "fragmented_binary",
        "empty",
        "pong",
    ] {
        assert_eq!(v[k], true, "{k}: {v}");
    }
    assert_eq!(v["server_ping"], "ponged");
    assert_eq!(v["close"], serde_json::json!([4001, "bye from core"]));
    // the server saw the client's answer to its close and ended cleanly
    let Some(Event::Closed(info)) = events.last() else {
        panic!("{events:?}")
    };
    assert!(info.is_clean(), "{info:?}");
    assert_eq!(info.code(), CloseCode(4001));
    assert!(
        events.iter().all(|e| !matches!(e, Event::Error(_))),
        "{events:?}"
    );
}

#[test]
fn python_client_against_core_server_with_deflate() {
    python_client_against_core_server("deflate");
}

#[test]
fn python_client_against_core_server_with_deflate_parameters() {
    python_client_against_core_server("params");
}

#[test]
fn python_client_against_core_server_without_deflate() {
    python_client_against_core_server("none");
}

/// `mode`: the python server's permessage-deflate setup ("none",
/// "deflate": websockets' default, "params": every parameter); `offer`:
/// this client's.
fn core_client_against_python_server(mode: &str, offer: DeflateConfig) -> DeflateParams {
    let deflate = mode != "none" && offer.enabled;
    let child = Command::new("python3")
        .args(["-c", SERVER_PY, mode])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port line {line:?}"));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();

    let options = ClientOptions {
        deflate: offer,
        ..Default::default()
    };
    let hs = ClientHandshake::new(*b"0123456789abcdef", options);
    let mut http = ClientConnection::new(ClientConfig::default());
    let req = hs.request("/", &format!("127.0.0.1:{port}")).unwrap();
    http.send_request(Instant::now(), req, BodyLength::Known(0))
        .unwrap();
    flush(&mut http, &mut s);
    let mut buf = BytesMut::new();
    let start = Instant::now();
    let mut response = None;
    'http: loop {
        assert!(start.elapsed() < DEADLINE, "no 101");
        assert!(read_some(&mut s, &mut buf).unwrap(), "EOF before the 101");
        http.handle_input(Instant::now(), &mut buf);
        while let Some(ev) = http.poll_event() {
            match ev {
                ClientEvent::Response(r) => response = Some(r.head),
                ClientEvent::Upgrade => break 'http,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let response = response.unwrap();
    let negotiated = hs.check_response(&response).unwrap();
    assert_eq!(negotiated.deflate.is_some(), deflate, "{response:?}");
    let answer = response
        .headers
        .get_str("sec-websocket-extensions")
        .map(str::to_owned);

    let mut ws = WebSocket::client(
        Config::default(),
        negotiated.deflate,
        [42; 32],
        Instant::now(),
    );
    let big: Bytes = (0..1_100_000u32)
        .map(|i| (i * 31 % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let script: Vec<Message> = vec![
        Message::Text("héllo from core".to_owned().into()),
        Message::Binary(big.clone()),
        Message::Binary(Bytes::from(vec![b'z'; 200_000])),
        Message::Text("fragments".into()),
        Message::Text("ping me".into()),
        Message::Text("extensions".into()),
        Message::Text("close".into()),
    ];
    let mut next = 0;
    ws.send(script[0].clone()).unwrap();
    next += 1;
    let mut received = Vec::new();
    let events = run(&mut ws, &mut s, &mut buf, |ws, ev| {
        if let Event::Message(m) = ev {
            received.push(m.clone());
            if next < script.len() {
                ws.send(script[next].clone()).unwrap();
                next += 1;
            }
        }
    });
    drop(s); // is_closed: the transport ends (the python server waits for it)
    eprintln!("python answered {answer:?}");
    assert_eq!(received.len(), 6, "{received:?}");
    assert_eq!(received[0], script[0]);
    assert_eq!(received[1], script[1]);
    assert_eq!(received[2], script[2]);
    assert_eq!(received[3], Message::Text("fragmented τext".into()));
    assert_eq!(received[4], Message::Text("pinged".into()));
    let ext = if deflate { "permessage-deflate" } else { "" };
    assert_eq!(received[5], Message::Text(ext.to_owned().into()));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Ping(p) if &p[..] == b"srv")));
    let Some(Event::Closed(info)) = events.last() else {
        panic!("{events:?}")
    };
    assert!(info.is_clean(), "{info:?}");
    assert_eq!(
        (info.code(), info.reason()),
        (CloseCode(4002), "server bye")
    );
    assert!(
        events.iter().all(|e| !matches!(e, Event::Error(_))),
        "{events:?}"
    );
    let _ = child.0.wait();
    negotiated.deflate.unwrap_or_default()
}

#[test]
fn core_client_against_python_server_with_deflate() {
    if have_websockets() {
        core_client_against_python_server("deflate", DeflateConfig::default());
    }
}

#[test]
fn core_client_against_python_server_with_deflate_parameters() {
    if !have_websockets() {
        return;
    }
    // The server imposes every parameter.
    let p = core_client_against_python_server("params", DeflateConfig::default());
    let expected = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 9,
        client_max_window_bits: 10,
    };
    assert_eq!(p, expected);
    // The client asks for every parameter.
    let offer = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 11,
        ..DeflateConfig::default()
    };
    let p = core_client_against_python_server("deflate", offer);
    assert!(
        p.server_no_context_takeover && p.client_no_context_takeover,
        "{p:?}"
    );
    assert!(
        p.server_max_window_bits <= 10 && p.client_max_window_bits <= 11,
        "{p:?}"
    );
}

#[test]
fn core_client_against_python_server_without_deflate() {
    if !have_websockets() {
        return;
    }
    let off = DeflateConfig {
        enabled: false,
        ..DeflateConfig::default()
    };
    core_client_against_python_server("none", off.clone());
    // a server that would compress, a client that does not offer
    core_client_against_python_server("deflate", off);
}

/// A message over the server's limit gets a 1009 close that Python sees;
/// compressed, the limit counts inflated bytes (8 MiB of zeros deflate to
/// about 8 KiB, a decompression bomb for a 64 KiB limit).
fn over_the_limit(mode: &str) {
    if !have_websockets() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let child = Command::new("python3")
        .args(["-c", LIMITS_PY, &url, mode, &(8 << 20).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let config = Config {
        max_message_size: 64 << 10,
        ..Config::default()
    };
    let (events, _, negotiated) = server_side_with(listener, mode != "none", config);
    assert_eq!(negotiated.deflate.is_some(), mode != "none");
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(v, serde_json::json!([1009, ""]), "{err}");
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Error(wireloom_core::ws::WsError::MessageTooBig)
                | Event::Error(wireloom_core::ws::WsError::Frame(_))
        )),
        "{events:?}"
    );
}

#[test]
fn python_message_over_the_limit_gets_1009() {
    over_the_limit("none");
}

#[test]
fn python_decompression_bomb_gets_1009() {
    over_the_limit("deflate");
}
