//! WebSocket scenarios shared by every adapter's tests: a demo server's
//! `/ws/echo` and `/ws/chat` against the Python `websockets` clients and
//! headless Chromium (any adapter: they talk to a URL), and the async
//! engine's client ([`wireloom_io::aio::ws`], on any [`Runtime`]) against
//! the Python `websockets` server.
//!
//! ```no_run
//! // In an adapter's test, with its demo running at `base`:
//! # let base = "http://127.0.0.1:8080";
//! wireloom_testkit::scenarios::ws::demo_with_python(base, None);
//! wireloom_testkit::scenarios::ws::demo_chat_in_chromium(base);
//! ```

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use wireloom_core::ws::{CloseCode, Message};
use wireloom_io::aio::ws::{connect, ClientConfig, WebSocket};
use wireloom_io::rt::{timeout_at, Runtime};
use wireloom_io::ws::WsEvent;

use crate::examples::serve;
use crate::fs::temp_dir;
use crate::net::wait_until;
use crate::pki;
use crate::ws::{
    chat_messages, chromium_dump_dom, python_client, python_client_output, Api, PyWsServer,
};

/// `http://HOST:PORT` -> `ws://HOST:PORT` (`https` -> `wss`).
pub fn ws_base(http_base: &str) -> String {
    if let Some(rest) = http_base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", http_base.trim_start_matches("http://"))
    }
}

/// A demo server at `http_base` (its `/ws/echo` and `/ws/chat`) against the
/// Python `websockets` clients, sync and asyncio: with and without
/// permessage-deflate the `echo` scenario (text, binary, fragmented, 4 MiB,
/// 100 in a row, ping/pong, close 1000), `close-code` (4001 echoed),
/// `chat:3` (three clients, every greeting to all); once each: `too-big`
/// (17 MiB: 1009), `slow-member` (a member that never reads holds back
/// no other: 200 messages of 64 KiB all reach two other clients),
/// `raw-unmasked` (1002), `raw-bad-utf8` (1007).
/// `ca_file`: the CA to trust when `http_base` is `https://`.
pub fn demo_with_python(http_base: &str, ca_file: Option<&Path>) {
    let ws = ws_base(http_base);
    let echo = format!("{ws}/ws/echo");
    let chat = format!("{ws}/ws/chat");
    for api in Api::ALL {
        for compression in [true, false] {
            python_client(api, "echo", &echo, compression, ca_file);
            python_client(api, "close-code", &echo, compression, ca_file);
            python_client(api, "chat:3", &chat, compression, ca_file);
        }
        python_client(api, "too-big", &echo, false, ca_file);
    }
    if ca_file.is_none() {
        python_client(Api::Asyncio, "slow-member", &chat, false, None);
        python_client(Api::Sync, "raw-unmasked", &echo, false, None);
        python_client(Api::Sync, "raw-bad-utf8", &echo, false, None);
    }
}

/// The demo example at `demo` (started with `args`, plain and with TLS)
/// through every demo scenario: [`demo_python_all`] and
/// [`demo_chat_in_chromium`].
pub fn demo_all(demo: &Path, args: &[&str]) {
    demo_python_all(demo, args);
    let (_plain, base) = serve(demo, args);
    demo_chat_in_chromium(&base);
}

/// The demo example at `demo` (started with `args`) with the Python
/// clients: [`demo_with_python`] on plain TCP, and the `echo` scenario of
/// both Python APIs over TLS (a certificate for `localhost` from a test CA).
pub fn demo_python_all(demo: &Path, args: &[&str]) {
    let (_plain, base) = serve(demo, args);
    demo_with_python(&base, None);

    let p = pki::pki();
    let dir = temp_dir("demo-tls");
    pki::write_files(&p, &dir);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut tls_args = args.to_vec();
    tls_args.extend([
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let (_tls, base) = serve(demo, &tls_args);
    // The certificate is for `localhost`.
    let base = base.replace("127.0.0.1", "localhost");
    let ca = dir.join("ca.pem");
    for api in Api::ALL {
        python_client(
            api,
            "echo",
            &format!("{}/ws/echo", ws_base(&base)),
            true,
            Some(&ca),
        );
    }
}

/// Headless Chromium loads the demo's `chat.html?auto=alice` while a
/// Python client sits on `/ws/chat`: the page's greeting reaches the
/// Python client through the hub, whose answer reaches the page; both
/// show in the page's DOM.
pub fn demo_chat_in_chromium(http_base: &str) {
    let dir = temp_dir("chat");
    let ready = dir.join("ready");
    let chat = format!("{}/ws/chat", ws_base(http_base));
    let scenario = format!("greeter:{}", ready.display());
    let greeter =
        std::thread::spawn(move || python_client_output(Api::Sync, &scenario, &chat, true, None));
    assert!(
        wait_until(Duration::from_secs(20), || ready.exists()),
        "the Python chat client did not connect"
    );
    // A listener that never answers: the page keeps a request to it
    // pending until both messages arrived, which holds Chromium's virtual
    // time (and so the DOM dump) until then.
    let hold = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hold_url = format!("http://{}/", hold.local_addr().unwrap());
    hold.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_holder = std::sync::Arc::clone(&stop);
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = std::time::Instant::now() + Duration::from_secs(90);
        while !stop_holder.load(std::sync::atomic::Ordering::Relaxed)
            && std::time::Instant::now() < until
        {
            match hold.accept() {
                Ok((s, _)) if held.len() < 16 => held.push(s),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let dom = chromium_dump_dom(&format!(
        "{http_base}/chat.html?auto=alice&hold={hold_url}&expect=2"
    ));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    holder.join().unwrap();
    let (out, err) = greeter.join().unwrap();
    assert_eq!(out.trim(), "ok", "the Python chat client: {err}");
    let messages = chat_messages(&dom);
    assert!(
        messages.iter().any(|m| m == "hello from alice")
            && messages.iter().any(|m| m == "welcome alice"),
        "the page's messages: {messages:?}\n{dom}"
    );
    assert!(dom.contains("<span id=\"status\">open</span>"), "{dom}");
}

async fn recv_within<R: Runtime>(rt: &R, ws: &mut WebSocket<R>) -> Option<Message> {
    let deadline = Some(std::time::Instant::now() + Duration::from_secs(20));
    timeout_at(rt, deadline, async { Ok(ws.recv().await) })
        .await
        .expect("no message within 20 s")
}

fn text(m: Option<Message>) -> String {
    match m {
        Some(Message::Text(t)) => t.as_str().to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The engine's client on `rt` against the Python `websockets` echo
/// server (sync and asyncio, with and without permessage-deflate, and
/// once over TLS): the negotiated extension, text, binary, a 4 MiB
/// message each way, a fragmented message from the server, the server's
/// ping answered (its "pong received"), the server's close code (4002)
/// seen by the client, the client's close (1000) answered.
pub async fn client_against_python<R: Runtime>(rt: R) {
    for (api, compression, tls) in [
        (Api::Sync, true, false),
        (Api::Sync, false, false),
        (Api::Asyncio, true, false),
        (Api::Asyncio, false, false),
        (Api::Asyncio, true, true),
    ] {
        let what = format!("{api:?} compression {compression} tls {tls}");
        let server = PyWsServer::start(api, compression, tls);
        let mut config = ClientConfig::default();
        if tls {
            config.tls = Some(pki::client_config(&server.ca_pem));
        }
        let mut ws = connect(rt.clone(), &server.url("/"), &config)
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        assert_eq!(ws.is_compressed(), compression, "{what}");
        ws.send(Message::Text("extensions?".to_string().into()))
            .await
            .unwrap();
        let ext = text(recv_within(&rt, &mut ws).await);
        assert_eq!(
            ext.contains("permessage-deflate"),
            compression,
            "{what}: {ext:?}"
        );

        ws.send(Message::Text("h\u{e9}llo".to_string().into()))
            .await
            .unwrap();
        assert_eq!(
            text(recv_within(&rt, &mut ws).await),
            "h\u{e9}llo",
            "{what}"
        );
        let bin = Bytes::from(crate::data::pattern(7, 4 << 20));
        ws.send(Message::Binary(bin.clone())).await.unwrap();
        match recv_within(&rt, &mut ws).await {
            Some(Message::Binary(b)) => assert!(b == bin, "{what}: 4 MiB echo differs"),
            other => panic!("{what}: {other:?}"),
        }
        ws.send(Message::Text("send-fragmented 5".to_string().into()))
            .await
            .unwrap();
        assert_eq!(
            text(recv_within(&rt, &mut ws).await),
            "part0part1part2part3part4",
            "{what}"
        );
        ws.send(Message::Text("send-big 4194304".to_string().into()))
            .await
            .unwrap();
        match recv_within(&rt, &mut ws).await {
            Some(Message::Binary(b)) => {
                assert_eq!(b.len(), 4 << 20, "{what}");
                assert!(
                    b.iter().enumerate().all(|(i, x)| *x == (i % 251) as u8),
                    "{what}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
        ws.send(Message::Text("ping-me".to_string().into()))
            .await
            .unwrap();
        assert_eq!(
            text(recv_within(&rt, &mut ws).await),
            "pong received",
            "{what}"
        );
        let info = ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(info.is_clean(), "{what}: {info:?}");
        assert_eq!(info.code(), CloseCode::NORMAL, "{what}");

        // The server closes: the client sees its code and reason.
        let mut ws = connect(rt.clone(), &server.url("/"), &config)
            .await
            .unwrap();
        ws.send(Message::Text(
            "close 4002 server says bye".to_string().into(),
        ))
        .await
        .unwrap();
        let mut closing = None;
        while let Some(ev) = ws.next_event().await {
            if let WsEvent::Closing(f) = ev {
                closing = Some(f);
            }
        }
        let f = closing.unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(
            (f.code, f.reason.as_str()),
            (CloseCode(4002), "server says bye"),
            "{what}"
        );
        assert!(ws.close_info().unwrap().is_clean(), "{what}");
    }
}

/// The engine's client on `rt`, split: the writer half in another task
/// and a handle used from a plain thread send to the Python echo server
/// while the reader half receives every echo, in order per sender.
pub async fn client_split_and_handle<R: Runtime>(rt: R) {
    let server = PyWsServer::start(Api::Asyncio, true, false);
    let ws = connect(rt.clone(), &server.url("/"), &ClientConfig::default())
        .await
        .unwrap();
    let handle = ws.handle();
    let (mut reader, writer) = ws.split();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(Box::pin(async move {
        for i in 0..50 {
            writer
                .send(Message::Text(format!("task {i}").into()))
                .await
                .unwrap();
        }
        let _ = tx.send(writer);
    }));
    let thread = std::thread::spawn(move || {
        for i in 0..50 {
            let mut m = Message::Binary(Bytes::from(format!("thread {i}")));
            // Bounded: the queue makes room as the loop drains it.
            let mut tries = 0;
            loop {
                match handle.try_send(m) {
                    Ok(()) => break,
                    Err(wireloom_io::ws::SendError::Full(back)) if tries < 1000 => {
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
    let (mut from_task, mut from_thread) = (0, 0);
    while from_task < 50 || from_thread < 50 {
        let deadline = Some(std::time::Instant::now() + Duration::from_secs(20));
        let m = timeout_at(&rt, deadline, async { Ok(reader.recv().await) })
            .await
            .unwrap_or_else(|e| panic!("an echo within 20 s ({from_task} from the task, {from_thread} from the thread): {e}"))
            .expect("the connection stays open");
        match m {
            Message::Text(t) => {
                assert_eq!(t.as_str(), format!("task {from_task}"));
                from_task += 1;
            }
            Message::Binary(b) => {
                assert_eq!(&b[..], format!("thread {from_thread}").as_bytes());
                from_thread += 1;
            }
        }
    }
    let handle = thread.join().unwrap();
    let writer = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    writer.close(CloseCode::NORMAL, "");
    let deadline = Some(std::time::Instant::now() + Duration::from_secs(20));
    timeout_at(&rt, deadline, async {
        while reader.next_event().await.is_some() {}
        Ok(())
    })
    .await
    .expect("the connection ends within 20 s");
    assert!(handle.is_closed());
}
