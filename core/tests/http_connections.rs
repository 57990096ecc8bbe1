//! Behaviour of the HTTP server and client connections: keep-alive,
//! pipelining, 100-continue, upgrades, timers, EOF and error responses.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, Error, ErrorKind, HeaderValue, Method,
    RequestHead, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_core::Dialogue;

fn wire<D: Dialogue>(d: &mut D) -> String {
    let mut out = Vec::new();
    while let Some(b) = d.poll_transmit() {
        out.extend_from_slice(&b);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn events<D: Dialogue>(d: &mut D) -> Vec<D::Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

/// Feeds `buf` to a server connection; the protocol error it reported
/// (through its one channel, the events), which must come at most once.
fn server_error(conn: &mut ServerConnection, now: Instant, buf: &mut BytesMut) -> Option<Error> {
    conn.handle_input(now, buf);
    let mut found = None;
    for ev in events(conn) {
        if let ServerEvent::Error(e) = ev {
            assert!(found.is_none(), "reported twice: {e:?}");
            found = Some(e);
        }
    }
    found
}

fn feed(
    conn: &mut ServerConnection,
    now: Instant,
    buf: &mut BytesMut,
    bytes: &[u8],
) -> Vec<ServerEvent> {
    buf.extend_from_slice(bytes);
    conn.handle_input(now, buf);
    events(conn)
}

fn ok(conn: &mut ServerConnection, now: Instant, body: &'static str) {
    let mut res = ResponseHead::new(StatusCode::OK);
    res.header("Content-Type", "text/plain").unwrap();
    conn.send_response(now, res, BodyLength::Known(body.len() as u64))
        .unwrap();
    conn.send_data(Bytes::from_static(body.as_bytes())).unwrap();
    conn.send_end(now, None).unwrap();
}

#[test]
fn pipelined_requests_answered_in_order() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    let ev = feed(
        &mut c,
        now,
        &mut buf,
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    // Only the first request is parsed while its response is pending.
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[0], ServerEvent::Request(r) if r.head.target.path() == "/1"));
    assert!(!c.wants_input());
    assert!(!buf.is_empty());
    ok(&mut c, now, "one");
    let ev = feed(&mut c, now, &mut buf, b"");
    assert!(matches!(&ev[0], ServerEvent::Request(r) if r.head.target.path() == "/2"));
    ok(&mut c, now, "two");
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\none\
         HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\ntwo"
    );
    assert!(!c.is_closed());
}

#[test]
fn keep_alive_rules() {
    let now = Instant::now();
    // HTTP/1.0 without keep-alive: close after the response.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(&mut c, now, &mut BytesMut::new(), b"GET / HTTP/1.0\r\n\r\n");
    ok(&mut c, now, "x");
    assert!(wire(&mut c).contains("Connection: close\r\n"));
    assert!(c.is_closed());
    // HTTP/1.0 with keep-alive: kept, and said so.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    ok(&mut c, now, "x");
    assert!(wire(&mut c).contains("Connection: keep-alive\r\n"));
    assert!(!c.is_closed());
    // HTTP/1.1 Connection: close.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    ok(&mut c, now, "x");
    assert!(wire(&mut c).contains("Connection: close\r\n"));
    assert!(c.is_closed());
    // Streaming to HTTP/1.0: close-delimited.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    c.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown)
        .unwrap();
    c.send_data("abc".into()).unwrap();
    c.send_end(now, None).unwrap();
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc"
    );
    assert!(c.is_closed());
}

#[test]
fn chunked_response_with_trailers_and_head() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    c.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown)
        .unwrap();
    c.send_data("hello".into()).unwrap();
    c.send_data(Bytes::new()).unwrap();
    let mut t = wireloom_core::http::HeaderMap::new();
    t.append("X-Sum", "5").unwrap();
    c.send_end(now, Some(t)).unwrap();
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n"
    );
    // HEAD: the length is announced, no body is written.
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    c.send_response(
        now,
        ResponseHead::new(StatusCode::OK),
        BodyLength::Known(10),
    )
    .unwrap();
    c.send_data("0123456789".into()).unwrap();
    c.send_end(now, None).unwrap();
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    );
    assert!(!c.is_closed());
}

#[test]
fn expect_continue_server() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    let req = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    let ev = feed(&mut c, now, &mut buf, req);
    let [ServerEvent::Request(r)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert!(r.expects_continue);
    assert_eq!(wire(&mut c), "");
    // Body bytes sent early are not consumed until the app asks.
    let ev = feed(&mut c, now, &mut buf, b"da");
    assert!(ev.is_empty());
    c.accept_body(now);
    assert_eq!(wire(&mut c), "HTTP/1.1 100 Continue\r\n\r\n");
    let ev = feed(&mut c, now, &mut buf, b"ta");
    assert_eq!(
        ev,
        vec![
            ServerEvent::Data("data".into()),
            ServerEvent::End(Default::default())
        ]
    );

    // Refusing without reading the body: 417-style answer, then close.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(&mut c, now, &mut BytesMut::new(), req);
    c.send_response(
        now,
        ResponseHead::new(StatusCode::EXPECTATION_FAILED),
        BodyLength::Known(0),
    )
    .unwrap();
    c.send_end(now, None).unwrap();
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert!(c.is_closed());
}

#[test]
fn error_responses_and_sticky_errors() {
    let now = Instant::now();
    for (input, status) in [
        (&b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"[..], 400),
        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 1\r\n\r\n",
            417,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
            413,
        ),
    ] {
        let mut c = ServerConnection::new(ServerConfig::default(), now);
        let mut buf = BytesMut::from(input);
        let e = server_error(&mut c, now, &mut buf).unwrap();
        assert_eq!(e.status().unwrap().as_u16(), status);
        let out = wire(&mut c);
        assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
        assert!(out.contains("Connection: close\r\n"));
        assert!(c.is_closed());
        // Sticky: nothing more is read, and the error is not reported again.
        let mut more = BytesMut::from(&b"GET"[..]);
        assert_eq!(server_error(&mut c, now, &mut more), None);
        assert_eq!(&more[..], b"GET");
        assert!(wire(&mut c).is_empty());
    }
    let mut cfg = ServerConfig::default();
    cfg.head.max_request_line = 32;
    let mut c = ServerConnection::new(cfg, now);
    let mut buf = BytesMut::from(&b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..]);
    assert_eq!(
        server_error(&mut c, now, &mut buf).map(|e| e.kind()),
        Some(ErrorKind::RequestLineTooLong)
    );
    assert!(wire(&mut c).starts_with("HTTP/1.1 414 URI Too Long\r\n"));
}

#[test]
fn body_error_mid_response_keeps_response_then_closes() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    feed(
        &mut c,
        now,
        &mut buf,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    );
    c.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown)
        .unwrap();
    let ev = feed(&mut c, now, &mut buf, b"zz\r\n");
    assert!(matches!(&ev[..], [ServerEvent::Error(e)] if e.kind() == ErrorKind::InvalidChunkSize));
    // The response already started: it completes, then the connection closes.
    c.send_data("partial".into()).unwrap();
    c.send_end(now, None).unwrap();
    let out = wire(&mut c);
    assert!(out.ends_with("7\r\npartial\r\n0\r\n\r\n"), "{out}");
    assert!(c.is_closed());
}

#[test]
fn timers_server() {
    let t0 = Instant::now();
    let cfg = ServerConfig::default();
    let (head_t, idle_t, body_t) = (cfg.head_timeout, cfg.idle_timeout, cfg.body_timeout);
    // Slowloris: a head that never completes gets 408 at the head deadline.
    let mut c = ServerConnection::new(cfg.clone(), t0);
    let mut buf = BytesMut::new();
    feed(&mut c, t0, &mut buf, b"GET / HTTP/1.1\r\n");
    let t1 = t0 + Duration::from_secs(1);
    feed(&mut c, t1, &mut buf, b"X-A: 1\r\n");
    assert_eq!(c.poll_timeout(), Some(t0 + head_t));
    c.handle_timeout(t0 + head_t - Duration::from_millis(1));
    assert!(!c.is_closed());
    c.handle_timeout(t0 + head_t);
    assert!(wire(&mut c).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(c.is_closed());

    // Idle keep-alive: silent close.
    let mut c = ServerConnection::new(cfg.clone(), t0);
    feed(
        &mut c,
        t0,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(c.poll_timeout(), None, "no timer while the app works");
    ok(&mut c, t1, "x");
    wire(&mut c);
    assert_eq!(c.poll_timeout(), Some(t1 + idle_t));
    c.handle_timeout(t1 + idle_t);
    assert!(c.is_closed());
    assert_eq!(wire(&mut c), "");

    // Body stall: reset by progress, fires after a pause.
    let mut c = ServerConnection::new(cfg, t0);
    let mut buf = BytesMut::new();
    feed(
        &mut c,
        t0,
        &mut buf,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab",
    );
    let t2 = t0 + Duration::from_secs(5);
    feed(&mut c, t2, &mut buf, b"cd");
    assert_eq!(c.poll_timeout(), Some(t2 + body_t));
    c.handle_timeout(t2 + body_t);
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [ServerEvent::Error(e)] if e.kind() == ErrorKind::BodyTimeout));
    assert!(wire(&mut c).starts_with("HTTP/1.1 408 "));
}

#[test]
fn half_close_still_answers() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    c.handle_eof(now);
    assert!(!c.is_closed());
    ok(&mut c, now, "bye");
    let out = wire(&mut c);
    assert!(out.contains("Connection: close\r\n") && out.ends_with("bye"));
    assert!(c.is_closed());
    // EOF mid-body: reported, closed.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab",
    );
    c.handle_eof(now);
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [ServerEvent::Error(e)] if e.kind() == ErrorKind::IncompleteMessage));
    assert!(c.is_closed());
    // EOF on an idle connection: clean close, no event.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    c.handle_eof(now);
    assert!(c.is_closed() && events(&mut c).is_empty());
}

#[test]
fn upgrade_hands_off_remaining_bytes() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    let ev = feed(
        &mut c,
        now,
        &mut buf,
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    );
    assert!(matches!(&ev[0], ServerEvent::Request(r) if r.wants_upgrade));
    let mut res = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS);
    res.header("Upgrade", "websocket")
        .unwrap()
        .header("Connection", "Upgrade")
        .unwrap();
    c.send_response(now, res, BodyLength::Known(0)).unwrap();
    assert_eq!(events(&mut c), vec![ServerEvent::Upgrade]);
    assert_eq!(
        wire(&mut c),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    );
    assert!(c.is_switched() && !c.is_closed());
    c.handle_input(now, &mut buf);
    assert_eq!(&buf[..], b"\x81\x05hello");
    // A 101 without an Upgrade request is refused.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert!(c
        .send_response(
            now,
            ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS),
            BodyLength::Known(0)
        )
        .is_err());
}

#[test]
fn usage_errors() {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    assert!(c
        .send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Known(0))
        .is_err());
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert!(c
        .send_response(
            now,
            ResponseHead::new(StatusCode::CONTINUE),
            BodyLength::Known(0)
        )
        .is_err());
    c.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Known(3))
        .unwrap();
    assert!(c.send_data("toolong".into()).is_err());
    c.send_data("ab".into()).unwrap();
    // Short body: error, and the connection closes rather than desync.
    assert!(c.send_end(now, None).is_err());
    assert!(c.is_closed());
}

fn client_get(c: &mut ClientConnection, now: Instant, method: Method, target: &str) {
    let mut req = RequestHead::new(method, target).unwrap();
    req.header("Host", "example.com").unwrap();
    c.send_request(now, req, BodyLength::Known(0)).unwrap();
}

#[test]
fn client_pipelining_and_reuse() {
    let now = Instant::now();
    let mut c = ClientConnection::new(ClientConfig::default());
    client_get(&mut c, now, Method::HEAD, "/a");
    client_get(&mut c, now, Method::GET, "/b");
    assert_eq!(
        wire(&mut c),
        "HEAD /a HTTP/1.1\r\nHost: example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com\r\n\r\n"
    );
    assert_eq!(c.in_flight(), 2);
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..],
    );
    c.handle_input(now, &mut buf);
    let ev = events(&mut c);
    assert_eq!(ev.len(), 5, "{ev:?}");
    assert!(
        matches!(&ev[1], ClientEvent::End(_)),
        "HEAD response has no body"
    );
    assert_eq!(ev[3], ClientEvent::Data("hi".into()));
    assert!(c.is_reusable());
    assert_eq!(c.completed(), 2);
    // Connection: close from the server ends reuse.
    client_get(&mut c, now, Method::GET, "/c");
    let mut buf =
        BytesMut::from(&b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..]);
    c.handle_input(now, &mut buf);
    assert!(!c.is_reusable() && c.is_closed());
}

#[test]
fn client_expect_continue() {
    let t0 = Instant::now();
    let post = |c: &mut ClientConnection| {
        let mut req = RequestHead::new(Method::POST, "/up").unwrap();
        req.header("Host", "h")
            .unwrap()
            .header("Expect", "100-continue")
            .unwrap();
        c.send_request(t0, req, BodyLength::Known(4)).unwrap();
        c.send_data("body".into()).unwrap();
        c.send_end(t0, None).unwrap();
    };
    // 100 arrives: body released.
    let mut c = ClientConnection::new(ClientConfig::default());
    post(&mut c);
    assert!(wire(&mut c).ends_with("\r\n\r\n"), "body held");
    c.handle_input(
        t0,
        &mut BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]),
    );
    assert_eq!(wire(&mut c), "body");
    // No 100: body sent when the expect timer fires.
    let mut c = ClientConnection::new(ClientConfig::default());
    post(&mut c);
    wire(&mut c);
    let at = c.poll_timeout().unwrap();
    assert_eq!(at, t0 + ClientConfig::default().expect_timeout);
    c.handle_timeout(at);
    assert_eq!(wire(&mut c), "body");
    // A final response first: body never sent, connection not reused.
    let mut c = ClientConnection::new(ClientConfig::default());
    post(&mut c);
    wire(&mut c);
    c.handle_input(
        t0,
        &mut BytesMut::from(&b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"[..]),
    );
    assert_eq!(wire(&mut c), "");
    assert!(c.body_refused() || c.is_closed());
    assert!(!c.is_reusable());
}

#[test]
fn client_eof_and_timeouts() {
    let t0 = Instant::now();
    // Reused connection closed before any response byte: retryable kind.
    let mut c = ClientConnection::new(ClientConfig::default());
    client_get(&mut c, t0, Method::GET, "/");
    c.handle_eof(t0);
    assert!(
        matches!(&events(&mut c)[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::ClosedBeforeResponse)
    );
    // Close-delimited body completes on EOF.
    let mut c = ClientConnection::new(ClientConfig::default());
    client_get(&mut c, t0, Method::GET, "/");
    c.handle_input(
        t0,
        &mut BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\nall of it"[..]),
    );
    c.handle_eof(t0);
    let ev = events(&mut c);
    assert!(matches!(ev.last(), Some(ClientEvent::End(_))), "{ev:?}");
    assert!(c.is_closed());
    // Response timeout.
    let mut c = ClientConnection::new(ClientConfig::default());
    client_get(&mut c, t0, Method::GET, "/");
    let at = c.poll_timeout().unwrap();
    c.handle_timeout(at);
    assert!(
        matches!(&events(&mut c)[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::ResponseTimeout)
    );
    // Requests must carry Host.
    let mut c = ClientConnection::new(ClientConfig::default());
    let req = RequestHead::new(Method::GET, "/").unwrap();
    assert!(c.send_request(t0, req, BodyLength::Known(0)).is_err());
}

#[test]
fn client_streams_chunked_upload_and_connect() {
    let now = Instant::now();
    let mut c = ClientConnection::new(ClientConfig::default());
    let mut req = RequestHead::new(Method::PUT, "/file").unwrap();
    req.header("Host", "h").unwrap();
    c.send_request(now, req, BodyLength::Unknown).unwrap();
    c.send_data("abc".into()).unwrap();
    c.send_end(now, None).unwrap();
    assert_eq!(
        wire(&mut c),
        "PUT /file HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    );

    let mut c = ClientConnection::new(ClientConfig::default());
    client_get(&mut c, now, Method::CONNECT, "example.com:443");
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\n\x16\x03"[..]);
    c.handle_input(now, &mut buf);
    assert!(matches!(events(&mut c).last(), Some(ClientEvent::Upgrade)));
    assert_eq!(&buf[..], b"\x16\x03");
}

#[test]
fn client_server_round_trip_in_memory() {
    // Our client against our server, byte for byte.
    let now = Instant::now();
    let mut client = ClientConnection::new(ClientConfig::default());
    let mut server = ServerConnection::new(ServerConfig::default(), now);
    let mut req = RequestHead::new(Method::POST, "/echo?x=1").unwrap();
    req.header("Host", "h").unwrap();
    client.send_request(now, req, BodyLength::Unknown).unwrap();
    for part in ["alpha ", "beta ", "gamma"] {
        client
            .send_data(Bytes::from_static(part.as_bytes()))
            .unwrap();
    }
    client.send_end(now, None).unwrap();
    let mut to_server = BytesMut::from(wire(&mut client).as_bytes());
    server.handle_input(now, &mut to_server);
    let mut body = Vec::new();
    for ev in events(&mut server) {
        if let ServerEvent::Data(d) = ev {
            body.extend_from_slice(&d);
        }
    }
    assert_eq!(body, b"alpha beta gamma");
    server
        .send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Unknown)
        .unwrap();
    server.send_data(Bytes::from(body)).unwrap();
    server.send_end(now, None).unwrap();
    let mut to_client = BytesMut::from(wire(&mut server).as_bytes());
    client.handle_input(now, &mut to_client);
    let got: Vec<u8> = events(&mut client)
        .into_iter()
        .filter_map(|e| {
            if let ClientEvent::Data(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .flat_map(|d| d.to_vec())
        .collect();
    assert_eq!(got, b"alpha beta gamma");
    assert!(client.is_reusable());
}

#[test]
fn close_if_idle_only_between_requests() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    // Fresh: the client is about to send its first request.
    assert!(!conn.close_if_idle());
    // Mid-head.
    feed(&mut conn, now, &mut buf, b"GET /a HTTP/1.1\r\nHo");
    assert!(!conn.close_if_idle());
    // Request in, response not yet sent.
    feed(&mut conn, now, &mut buf, b"st: a\r\n\r\n");
    assert!(!conn.close_if_idle());
    ok(&mut conn, now, "a");
    wire(&mut conn);
    // Mid-body of the next request.
    feed(
        &mut conn,
        now,
        &mut buf,
        b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab",
    );
    assert!(!conn.close_if_idle());
    feed(&mut conn, now, &mut buf, b"cd");
    ok(&mut conn, now, "b");
    assert!(wire(&mut conn).ends_with("\r\n\r\nb"));
    // Between requests after a response: closes, silently.
    assert!(conn.close_if_idle());
    assert!(conn.is_closed());
    assert_eq!(wire(&mut conn), "");
    assert!(!conn.close_if_idle());
}

// ------------------------------------------------ fail fast, CONNECT, Date

/// What a server connection makes of `pieces` fed in turn (no EOF): the
/// error it reports, how many bytes it had been given when it did, and what
/// it wrote back.
fn server_verdict(pieces: &[&[u8]]) -> (Option<ErrorKind>, usize, String) {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::new();
    let mut given = 0;
    for p in pieces {
        buf.extend_from_slice(p);
        given += p.len();
        if let Some(e) = server_error(&mut c, now, &mut buf) {
            assert!(c.is_closed(), "an error closes the connection");
            return (Some(e.kind()), given, wire(&mut c));
        }
    }
    (None, given, wire(&mut c))
}

/// Feeds `input` whole, byte by byte and split at every position; the
/// verdict must be the same, and reached once `decided` bytes are in.
fn same_verdict_every_split(input: &[u8], decided: usize) -> (Option<ErrorKind>, String) {
    let what = String::from_utf8_lossy(input);
    let (whole, _, out) = server_verdict(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (bytewise, at, out1) = server_verdict(&bytes);
    assert_eq!(bytewise, whole, "{what:?} byte by byte");
    assert_eq!(out1, out, "{what:?} byte by byte");
    if whole.is_some() {
        assert_eq!(at, decided, "{what:?}: refused after {at} bytes");
    }
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        let (split, _, out2) = server_verdict(&[a, b]);
        assert_eq!(split, whole, "{what:?} split at {cut}");
        assert_eq!(out2, out, "{what:?} split at {cut}");
    }
    (whole, out)
}

#[test]
fn server_fails_fast_with_the_same_error_however_split() {
    use ErrorKind::*;
    // None of these heads is complete: the error comes without the rest.
    for (input, kind, decided, status) in [
        (
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
            InvalidMethod,
            1,
            400,
        ),
        (b"\x00\x00\x00\x00", InvalidMethod, 1, 400),
        (b"\r\n\r\n\x16\x03\x01", InvalidMethod, 5, 400),
        (b"\rGET / HTTP/1.1", InvalidNewline, 2, 400),
        (b"GET / HTTP/1.1\rHost: a", InvalidNewline, 16, 400),
        (
            b"GET / HTTP/1.1\r\nHost: a\rX-A: b",
            InvalidNewline,
            25,
            400,
        ),
        (b"GET / HTTP/5.1\r\nHost: a", UnsupportedVersion, 12, 505),
        (b"GET / HTTX/1.1\r\nHost: a", InvalidVersion, 10, 400),
        (b"GET /\x7f HTTP/1.1", InvalidTarget, 6, 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b", InvalidHeaderValue, 21, 400),
        (b"GET / HTTP/1.1\r\n X: a", LeadingWhitespace, 17, 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n X: a", ObsFold, 26, 400),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\nX-Rest: ",
            InvalidContentLength,
            46,
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\nHost",
            InvalidContentLength,
            55,
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\nHo",
            ConflictingContentLength,
            55,
            400,
        ),
    ] {
        let (got, out) = same_verdict_every_split(input, decided);
        assert_eq!(got, Some(kind), "{:?}", String::from_utf8_lossy(input));
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} "))
                && out.contains("Connection: close\r\n"),
            "{out}"
        );
    }
    // Valid prefixes wait, however split, and the limits still apply.
    for input in [
        &b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX-A: b"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\nHo",
    ] {
        assert_eq!(same_verdict_every_split(input, 0).0, None);
    }
    let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 9000));
    long.push(0);
    let (whole, _, out) = server_verdict(&[&long]);
    assert_eq!(whole, Some(HeaderLineTooLong));
    assert!(out.starts_with("HTTP/1.1 431 "));
    let cut = long.len() - 500;
    assert_eq!(server_verdict(&[&long[..cut], &long[cut..]]).0, whole);
}

#[test]
fn connect_with_content_is_refused_whole_and_split() {
    for input in [
        &b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 5\r\n\r\nhello"[..],
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 0\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let decided = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (got, out) = same_verdict_every_split(input, decided);
        assert_eq!(got, Some(ErrorKind::ConnectWithContent));
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    }
    // Without content: a tunnel, and the bytes after the head are its own.
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    let mut buf = BytesMut::from(
        &b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01"[..],
    );
    c.handle_input(now, &mut buf);
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [ServerEvent::Request(r), ServerEvent::End(_)] if r.wants_upgrade));
    c.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Known(0))
        .unwrap();
    assert_eq!(events(&mut c), vec![ServerEvent::Upgrade]);
    assert_eq!(&buf[..], b"\x16\x03\x01");
    // The client refuses to send such a request in the first place.
    let mut cl = ClientConnection::new(ClientConfig::default());
    let mut req = RequestHead::new(Method::CONNECT, "example.com:443").unwrap();
    req.header("Host", "example.com:443").unwrap();
    assert!(cl
        .send_request(now, req.clone(), BodyLength::Known(5))
        .is_err());
    assert!(cl
        .send_request(now, req.clone(), BodyLength::Unknown)
        .is_err());
    let mut with_cl = req.clone();
    with_cl.header("Content-Length", "0").unwrap();
    assert!(cl.send_request(now, with_cl, BodyLength::Known(0)).is_err());
    cl.send_request(now, req, BodyLength::Known(0)).unwrap();
    assert_eq!(
        wire(&mut cl),
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    );
}

const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn dated(now: Instant, cfg: ServerConfig) -> ServerConnection {
    let mut c = ServerConnection::new(cfg, now);
    c.set_date(HeaderValue::from_static(DATE));
    c
}

#[test]
fn date_on_every_response_the_connection_writes() {
    let now = Instant::now();
    // Final responses: appended after the handler's fields, before the
    // framing fields the connection adds.
    let mut c = dated(now, ServerConfig::default());
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    ok(&mut c, now, "x");
    assert_eq!(
        wire(&mut c),
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: {DATE}\r\nContent-Length: 1\r\n\r\nx")
    );
    // A Date the application set is kept, not doubled; a later set_date
    // takes over for the next response.
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let mut res = ResponseHead::new(StatusCode::NO_CONTENT);
    res.header("date", "Mon, 07 Nov 1994 08:49:37 GMT").unwrap();
    c.send_response(now, res, BodyLength::Known(0)).unwrap();
    let out = wire(&mut c);
    assert_eq!(out.matches("ate: ").count(), 1, "{out}");
    assert!(out.contains("date: Mon, 07 Nov 1994"), "{out}");
    c.set_date(HeaderValue::from_static("Tue, 08 Nov 1994 08:49:37 GMT"));
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    c.send_response(
        now,
        ResponseHead::new(StatusCode::NOT_FOUND),
        BodyLength::Known(3),
    )
    .unwrap();
    assert!(wire(&mut c).contains("\r\nDate: Tue, 08 Nov 1994 08:49:37 GMT\r\n"));

    // Interim responses carry none.
    let mut c = dated(now, ServerConfig::default());
    feed(
        &mut c,
        now,
        &mut BytesMut::new(),
        b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
    );
    let mut hints = ResponseHead::new(StatusCode::from_u16(103).unwrap());
    hints.header("Link", "</a.css>; rel=preload").unwrap();
    c.send_informational(hints).unwrap();
    c.accept_body(now);
    let out = wire(&mut c);
    assert!(!out.contains("Date"), "{out}");

    // The connection's own error responses, every status it answers with.
    let mut small = ServerConfig::default();
    small.head.max_request_line = 64;
    small.head.max_header_line = 64;
    small.head.max_headers = 3;
    small.body.max_body = Some(4);
    for (input, status) in [
        (&b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..], 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 413),
        (b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 414),
        (b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 1\r\n\r\n", 417),
    ] {
        let mut c = dated(now, small.clone());
        let e = server_error(&mut c, now, &mut BytesMut::from(input)).unwrap();
        assert_eq!(e.status().unwrap().as_u16(), status);
        let out = wire(&mut c);
        assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
        assert!(out.contains(&format!("\r\nDate: {DATE}\r\n")), "{out}");
        assert!(c.is_closed());
    }
    // 408 from the head timer.
    let cfg = ServerConfig::default();
    let mut c = dated(now, cfg.clone());
    feed(&mut c, now, &mut BytesMut::new(), b"GET / HTTP/1.1\r\n");
    c.handle_timeout(now + cfg.head_timeout);
    let out = wire(&mut c);
    assert!(
        out.starts_with("HTTP/1.1 408 ") && out.contains(&format!("\r\nDate: {DATE}\r\n")),
        "{out}"
    );

    // Without set_date, no Date at all.
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    c.handle_input(
        now,
        &mut BytesMut::from(&b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..]),
    );
    assert!(!wire(&mut c).contains("Date"));
}

#[test]
fn client_accepts_obs_fold_and_missing_reason_by_default() {
    let now = Instant::now();
    let response =
        b"HTTP/1.1 200\r\nX-Long: first\r\n  second\r\n\tthird\r\nContent-Length: 2\r\n\r\nok";
    let run = |cfg: ClientConfig, pieces: &[&[u8]]| {
        let mut c = ClientConnection::new(cfg);
        client_get(&mut c, now, Method::GET, "/");
        wire(&mut c);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for p in pieces {
            buf.extend_from_slice(p);
            c.handle_input(now, &mut buf);
            for ev in events(&mut c) {
                // Data follows the split of the input: merge it.
                match (out.last_mut(), ev) {
                    (Some(ClientEvent::Data(prev)), ClientEvent::Data(d)) => {
                        *prev = [&prev[..], &d[..]].concat().into();
                    }
                    (_, ev) => out.push(ev),
                }
            }
        }
        out
    };
    let whole = run(ClientConfig::default(), &[response]);
    let [ClientEvent::Response(r), ClientEvent::Data(d), ClientEvent::End(_)] = &whole[..] else {
        panic!("{whole:?}")
    };
    assert_eq!(r.head.status.as_u16(), 200);
    assert!(r.head.reason.is_empty());
    assert_eq!(r.head.headers.get("x-long").unwrap(), "first second third");
    assert_eq!(&d[..], b"ok");
    for cut in 0..=response.len() {
        let (a, b) = response.split_at(cut);
        assert_eq!(
            run(ClientConfig::default(), &[a, b]),
            whole,
            "split at {cut}"
        );
    }
    // Strict on request: both refused.
    let strict = ClientConfig {
        head: wireloom_core::http::ParseConfig::default(),
        ..ClientConfig::default()
    };
    let got = run(strict.clone(), &[response]);
    assert!(
        matches!(&got[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::InvalidStartLine),
        "{got:?}"
    );
    let got = run(strict, &[b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"]);
    assert!(
        matches!(&got[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::ObsFold),
        "{got:?}"
    );
    // Fail fast on the client side too: not HTTP, whatever follows.
    let got = run(ClientConfig::default(), &[b"HTTX"]);
    assert!(
        matches!(&got[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::InvalidVersion),
        "{got:?}"
    );
    let got = run(
        ClientConfig::default(),
        &[b"HTTP/1.1 200 OK\r\nA: b\r", b"X"],
    );
    assert!(
        matches!(&got[..], [ClientEvent::Error(e)] if e.kind() == ErrorKind::InvalidNewline),
        "{got:?}"
    );
}

#[test]
fn server_close_reasons() {
    use wireloom_core::http::close::Timeout;
    use wireloom_core::http::CloseReason::*;
    let now = Instant::now();
    // One request, answered with `head` and `len`; the reason afterwards.
    let answered = |cfg: ServerConfig, req: &[u8], head: ResponseHead, len: BodyLength| {
        let mut c = ServerConnection::new(cfg, now);
        feed(&mut c, now, &mut BytesMut::new(), req);
        c.send_response(now, head, len).unwrap();
        if c.is_sending_body() {
            c.send_end(now, None).unwrap_or(());
        }
        c.close_reason()
    };
    let get11 = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let ok = || ResponseHead::new(StatusCode::OK);
    let zero = BodyLength::Known(0);
    let dflt = ServerConfig::default;
    assert_eq!(answered(dflt(), get11, ok(), zero), None);
    let off = ServerConfig {
        keep_alive: false,
        ..ServerConfig::default()
    };
    assert_eq!(answered(off, get11, ok(), zero), Some(KeepAliveOff));
    let close = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert_eq!(answered(dflt(), close, ok(), zero), Some(ClientAskedClose));
    assert_eq!(
        answered(dflt(), b"GET / HTTP/1.0\r\n\r\n", ok(), zero),
        Some(Http10)
    );
    let mut bye = ok();
    bye.header("Connection", "close").unwrap();
    assert_eq!(answered(dflt(), get11, bye, zero), Some(ServerAskedClose));
    let keep10 = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_eq!(
        answered(dflt(), keep10, ok(), BodyLength::Unknown),
        Some(CloseDelimited)
    );
    let expect = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(answered(dflt(), expect, ok(), zero), Some(UnreadBody));
    let mut up = ok();
    up.status = StatusCode::SWITCHING_PROTOCOLS;
    let upgrade = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n";
    assert_eq!(answered(dflt(), upgrade, up, zero), Some(Upgraded));

    // Shutdown, reclaimed, refused, the peer's EOF, timers, errors.
    let mut c = ServerConnection::new(dflt(), now);
    c.close_after_response();
    assert_eq!((c.is_closed(), c.close_reason()), (true, Some(Shutdown)));
    let mut c = ServerConnection::new(dflt(), now);
    feed(&mut c, now, &mut BytesMut::new(), get11);
    c.send_response(now, ResponseHead::new(StatusCode::NO_CONTENT), zero)
        .unwrap();
    assert!(c.close_if_idle());
    assert_eq!(c.close_reason(), Some(Reclaimed));
    let mut c = ServerConnection::new(dflt(), now);
    c.refuse(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        c.close_reason(),
        Some(Refused(StatusCode::SERVICE_UNAVAILABLE))
    );
    let mut c = ServerConnection::new(dflt(), now);
    c.handle_eof(now);
    assert_eq!(c.close_reason(), Some(PeerEof));
    let mut c = ServerConnection::new(dflt(), now);
    c.handle_timeout(now + dflt().head_timeout);
    assert_eq!(c.close_reason(), Some(Timeout(Timeout::Idle)));
    let mut c = ServerConnection::new(dflt(), now);
    feed(&mut c, now, &mut BytesMut::new(), b"GET / HT");
    c.handle_timeout(now + dflt().head_timeout);
    assert_eq!(c.close_reason(), Some(Timeout(Timeout::Head)));
    assert!(c.close_reason().unwrap().is_error());
    let mut c = ServerConnection::new(dflt(), now);
    feed(&mut c, now, &mut BytesMut::new(), b"GET / HT");
    c.handle_eof(now);
    assert_eq!(
        c.close_reason(),
        Some(ProtocolError(ErrorKind::IncompleteMessage))
    );
    // A head core refuses: the 500 in its place closes.
    let mut c = ServerConnection::new(dflt(), now);
    feed(&mut c, now, &mut BytesMut::new(), get11);
    let mut bad = ok();
    bad.headers.append("Content-Length", "9").unwrap();
    assert_eq!(c.send_response_or_500(now, bad, zero), Ok(false));
    assert_eq!(c.close_reason(), Some(LocalError));
}

#[test]
fn client_close_reasons() {
    use wireloom_core::http::close::Timeout;
    use wireloom_core::http::CloseReason::*;
    let now = Instant::now();
    let exchange = |req: RequestHead, response: &[u8]| {
        let mut c = ClientConnection::new(ClientConfig::default());
        c.send_request(now, req, BodyLength::Known(0)).unwrap();
        c.handle_input(now, &mut BytesMut::from(response));
        c
    };
    let get = |fields: &[(&str, &str)]| {
        let mut r = RequestHead::new(Method::GET, "/").unwrap();
        r.header("Host", "a").unwrap();
        for (n, v) in fields {
            r.header(*n, *v).unwrap();
        }
        r
    };
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(exchange(get(&[]), ok).close_reason(), None);
    let c = exchange(get(&[("Connection", "close")]), ok);
    assert_eq!(
        (c.is_closed(), c.close_reason()),
        (true, Some(ClientAskedClose))
    );
    let c = exchange(get(&[]), b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(c.close_reason(), Some(Http10));
    let mut c = exchange(get(&[]), b"HTTP/1.1 200 OK\r\n\r\nall");
    assert_eq!(c.close_reason(), None);
    c.handle_eof(now);
    assert_eq!(c.close_reason(), Some(CloseDelimited));
    let mut c = ClientConnection::new(ClientConfig::default());
    c.handle_eof(now);
    assert_eq!(c.close_reason(), Some(PeerEof));
    let mut c = exchange(get(&[]), b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
    c.handle_timeout(now + ClientConfig::default().body_timeout);
    assert_eq!(c.close_reason(), Some(Timeout(Timeout::Body)));
    let c = exchange(get(&[]), b"HTTP/1.1 2000 OK\r\n\r\n");
    assert!(matches!(c.close_reason(), Some(ProtocolError(_))));
    let c = exchange(
        get(&[("Connection", "upgrade"), ("Upgrade", "x")]),
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
    );
    assert_eq!(c.close_reason(), Some(Upgraded));
    // A final answer before 100 Continue: the body is never sent.
    let mut c = ClientConnection::new(ClientConfig::default());
    let mut req = RequestHead::new(Method::POST, "/").unwrap();
    req.header("Host", "a").unwrap();
    req.header("Expect", "100-continue").unwrap();
    c.send_request(now, req, BodyLength::Known(5)).unwrap();
    c.handle_input(now, &mut BytesMut::from(&ok[..]));
    assert_eq!(c.close_reason(), Some(Not100Continue));
}
