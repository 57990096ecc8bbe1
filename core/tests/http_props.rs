//! Property tests for HTTP/1.1.
//!
//! - Round trips: a request or response head (any method token, target,
//!   field names in any case, values with obs-text) with a body framed by
//!   Content-Length or chunked (with trailers) comes out of the parser exactly
//!   as it went into the serialiser, both through the bare serialiser and
//!   parser and through a client and a server connection, whatever the split
//!   of the bytes on the wire.
//! - Robustness: the head parser, the chunked decoder and both connections
//!   never panic on arbitrary bytes (pure noise and mutated valid messages),
//!   fed whole or split at arbitrary points; the decoder and the server give
//!   the same result for every split.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wireloom_core::http::body::{BodyItem, ChunkedDecoder};
use wireloom_core::http::parse::{parse_request, parse_response, Lenient, ParseConfig, Status};
use wireloom_core::http::serialize::{write_request_head, write_response_head};
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, ErrorKind, HeaderMap, HeaderValue,
    Method, RequestHead, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
    Version,
};
use wireloom_core::Dialogue;

// ---------------------------------------------------------------- strategies

/// Names the connections read or write themselves; generated fields avoid
/// them so that what comes out can be compared with what went in.
const MANAGED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "expect",
    "upgrade",
    "te",
    "trailer",
];

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}"
}

fn field_name() -> impl Strategy<Value = String> {
    token().prop_filter("managed by the connection", |n| {
        !MANAGED.iter().any(|m| m.eq_ignore_ascii_case(n))
    })
}

/// A field value: VCHAR, obs-text, SP and HTAB inside, never at either end.
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        2 => 0x80u8..=0xff,
        2 => Just(b' '),
        1 => Just(b'\t'),
    ];
    prop::collection::vec(byte, 0..40).prop_map(|mut v| {
        while v.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.remove(0);
        }
        while v.last().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.pop();
        }
        v
    })
}

fn fields(max: usize) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec((field_name(), field_value()), 0..max)
}

fn header_map(fields: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in fields {
        map.append(
            n.as_str(),
            HeaderValue::from_shared(Bytes::copy_from_slice(v)).unwrap(),
        )
        .unwrap();
    }
    map
}

/// The fields as (name bytes, value bytes), spelling included, without the
/// ones the connection manages.
fn pairs(map: &HeaderMap) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.iter()
        .filter(|(n, _)| !MANAGED.iter().any(|m| n.matches(m)))
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn expected_pairs(fields: &[(String, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    fields
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.clone()))
        .collect()
}

/// A segment of pchar and pct-encoded octets.
fn segment() -> impl Strategy<Value = String> {
    "([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}){0,8}"
}

fn origin_target() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 1..4),
        prop::option::of("([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-F]{2}){0,16}"),
    )
        .prop_map(|(segs, q)| {
            let mut t = format!("/{}", segs.join("/"));
            if let Some(q) = q {
                t.push('?');
                t.push_str(&q);
            }
            t
        })
}

/// A method and a target valid for it, in all four forms.
fn method_and_target() -> impl Strategy<Value = (Method, String)> {
    let plain = prop_oneof![
        Just(Method::GET),
        Just(Method::HEAD),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::TRACE),
        Just(Method::OPTIONS),
        token()
            .prop_filter("CONNECT needs authority-form", |t| t != "CONNECT")
            .prop_map(|t| Method::from_bytes(t.as_bytes()).unwrap()),
    ];
    prop_oneof![
        6 => (plain.clone(), origin_target()),
        1 => (plain, "[a-z0-9.-]{1,12}(:[0-9]{1,5})?", origin_target())
            .prop_map(|(m, host, path)| (m, format!("http://{host}{path}"))),
        1 => "[a-z0-9.-]{1,12}:[0-9]{1,5}".prop_map(|a| (Method::CONNECT, a)),
        1 => Just((Method::OPTIONS, "*".to_string())),
    ]
}

/// A body, cut into the chunks it is sent in.
fn body() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..5)
}

/// Cut points for feeding `len` bytes: pieces `(start, end)` covering it.
fn pieces(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut pts: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    pts.push(0);
    pts.push(len);
    pts.sort_unstable();
    pts.dedup();
    pts.windows(2).map(|w| (w[0], w[1])).collect()
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..6)
}

fn lenient() -> impl Strategy<Value = Lenient> {
    (0u8..32).prop_map(|bits| {
        let names: Vec<&str> = Lenient::names()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| n)
            .collect();
        Lenient::parse_list(&names.join(",")).unwrap()
    })
}

fn wire<D: Dialogue>(d: &mut D) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = d.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

// ------------------------------------------------------ serialiser + parser

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_head_round_trip(
        (method, target) in method_and_target(),
        http10 in any::<bool>(),
        host in "[a-z0-9.-]{0,12}",
        fields in fields(8),
        trailing in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut head = RequestHead::new(method, &target).unwrap();
        if http10 {
            head.version = Version::Http10;
        }
        head.header("Host", host.as_str()).unwrap();
        for (n, v) in &fields {
            head.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(v)).unwrap()).unwrap();
        }
        let mut out = BytesMut::new();
        write_request_head(&mut out, &head);
        let head_len = out.len();
        out.extend_from_slice(&trailing);
        let buf = out.freeze();
        let cfg = ParseConfig::default();
        let mut raw_headers = Vec::new();
        let Status::Complete(raw) = parse_request(&buf, &cfg, &mut raw_headers).unwrap() else {
            panic!("complete head parsed as partial");
        };
        prop_assert_eq!(raw.head_len, head_len);
        let back = RequestHead::from_raw(&buf, &raw, &raw_headers, &cfg).unwrap();
        prop_assert_eq!(back.method.as_str(), head.method.as_str());
        prop_assert_eq!(back.target.as_bytes(), target.as_bytes());
        prop_assert_eq!(back.target.form(), head.target.form());
        prop_assert_eq!(back.version, head.version);
        let mut want = vec![(b"Host".to_vec(), host.into_bytes())];
        want.extend(expected_pairs(&fields));
        let got: Vec<_> = back
            .headers
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        prop_assert_eq!(got, want);
        // Every strict prefix is Partial.
        for i in 0..head_len {
            prop_assert_eq!(
                parse_request(&buf[..i], &cfg, &mut raw_headers).unwrap(),
                Status::Partial
            );
        }
    }

    #[test]
    fn response_head_round_trip(
        code in 100u16..=999,
        reason in prop::collection::vec(
            prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff, Just(b'\t')], 0..24),
        http10 in any::<bool>(),
        fields in fields(8),
    ) {
        let mut head = ResponseHead::new(StatusCode::from_u16(code).unwrap());
        head.reason = Bytes::from(reason.clone());
        if http10 {
            head.version = Version::Http10;
        }
        for (n, v) in &fields {
            head.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(v)).unwrap()).unwrap();
        }
        let mut out = BytesMut::new();
        write_response_head(&mut out, &head);
        let buf = out.freeze();
        let mut raw_headers = Vec::new();
        let Status::Complete(raw) =
            parse_response(&buf, &ParseConfig::default(), &mut raw_headers).unwrap()
        else {
            panic!("complete head parsed as partial");
        };
        prop_assert_eq!(raw.head_len, buf.len());
        let back = ResponseHead::from_raw(&buf, &raw, &raw_headers);
        prop_assert_eq!(back.status.as_u16(), code);
        prop_assert_eq!(&back.reason[..], &reason[..]);
        prop_assert_eq!(back.version, head.version);
        prop_assert_eq!(pairs(&back.headers), expected_pairs(&fields));
    }
}

// ------------------------------------------------------ through connections

#[derive(Debug, Clone)]
struct Message {
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<Vec<u8>>,
    /// Chunked (with these trailers) instead of Content-Length.
    chunked: Option<Vec<(String, Vec<u8>)>>,
}

fn message() -> impl Strategy<Value = Message> {
    (fields(6), body(), prop::option::of(fields(3))).prop_map(|(fields, body, chunked)| Message {
        fields,
        body,
        chunked,
    })
}

impl Message {
    fn body_bytes(&self) -> Vec<u8> {
        self.body.concat()
    }
    fn length(&self) -> BodyLength {
        match self.chunked {
            Some(_) => BodyLength::Unknown,
            None => BodyLength::Known(self.body_bytes().len() as u64),
        }
    }
    fn trailers(&self) -> Option<HeaderMap> {
        self.chunked.as_ref().map(|t| header_map(t))
    }
    fn expected_trailers(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.chunked
            .as_ref()
            .map(|t| expected_pairs(t))
            .unwrap_or_default()
    }
}

/// What a connection reported for one message.
#[derive(Debug, Default, PartialEq)]
struct Received {
    heads: usize,
    body: Vec<u8>,
    trailers: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    error: Option<ErrorKind>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn request_round_trip_through_connections(
        (method, target) in method_and_target()
            .prop_filter("no tunnel", |(m, _)| *m != Method::CONNECT),
        msg in message(),
        cuts in cuts(),
    ) {
        let now = Instant::now();
        let mut client = ClientConnection::new(ClientConfig::default());
        let mut head = RequestHead::new(method.clone(), &target).unwrap();
        head.header("Host", "example.com").unwrap();
        for (n, v) in &msg.fields {
            head.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(v)).unwrap()).unwrap();
        }
        client.send_request(now, head, msg.length()).unwrap();
        // With an empty Content-Length body the request is complete already.
        if msg.length() != BodyLength::Known(0) {
            for piece in &msg.body {
                client.send_data(Bytes::copy_from_slice(piece)).unwrap();
            }
            client.send_end(now, msg.trailers()).unwrap();
        }
        let bytes = wire(&mut client);

        let mut server = ServerConnection::new(ServerConfig::default(), now);
        let mut buf = BytesMut::new();
        let mut got = Received::default();
        for (a, b) in pieces(bytes.len(), &cuts) {
            buf.extend_from_slice(&bytes[a..b]);
            server.handle_input(now, &mut buf);
            while let Some(ev) = server.poll_event() {
                match ev {
                    ServerEvent::Request(req) => {
                        got.heads += 1;
                        prop_assert_eq!(req.head.method.as_str(), method.as_str());
                        prop_assert_eq!(req.head.target.as_bytes(), target.as_bytes());
                        prop_assert_eq!(req.head.headers.get_str("host"), Some("example.com"));
                        prop_assert_eq!(pairs(&req.head.headers), expected_pairs(&msg.fields));
                    }
                    ServerEvent::Data(d) => got.body.extend_from_slice(&d),
                    ServerEvent::End(t) => got.trailers = Some(pairs(&t)),
                    ServerEvent::Upgrade => prop_assert!(false, "unexpected upgrade"),
                    ServerEvent::Error(e) => got.error = Some(e.kind()),
                }
            }
        }
        prop_assert_eq!(got, Received {
            heads: 1,
            body: msg.body_bytes(),
            trailers: Some(msg.expected_trailers()),
            error: None,
        });
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn response_round_trip_through_connections(
        head_request in any::<bool>(),
        code in prop_oneof![200u16..=203, 205u16..=299, 300u16..=303, 305u16..=599],
        msg in message(),
        cuts in cuts(),
    ) {
        let now = Instant::now();
        let method = if head_request { Method::HEAD } else { Method::GET };
        let mut client = ClientConnection::new(ClientConfig::default());
        let mut req = RequestHead::new(method, "/").unwrap();
        req.header("Host", "example.com").unwrap();
        client.send_request(now, req, BodyLength::Known(0)).unwrap();
        let request = wire(&mut client);

        let mut server = ServerConnection::new(ServerConfig::default(), now);
        let mut sbuf = BytesMut::from(&request[..]);
        server.handle_input(now, &mut sbuf);
        while let Some(ev) = server.poll_event() {
            prop_assert!(!matches!(ev, ServerEvent::Error(_)), "{:?}", ev);
        }
        let mut res = ResponseHead::new(StatusCode::from_u16(code).unwrap());
        for (n, v) in &msg.fields {
            res.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(v)).unwrap()).unwrap();
        }
        server.send_response(now, res, msg.length()).unwrap();
        for piece in &msg.body {
            server.send_data(Bytes::copy_from_slice(piece)).unwrap();
        }
        server.send_end(now, msg.trailers()).unwrap();
        let bytes = wire(&mut server);

        let mut buf = BytesMut::new();
        let mut got = Received::default();
        for (a, b) in pieces(bytes.len(), &cuts) {
            buf.extend_from_slice(&bytes[a..b]);
            client.handle_input(now, &mut buf);
            while let Some(ev) = client.poll_event() {
                match ev {
                    ClientEvent::Response(r) => {
                        got.heads += 1;
                        prop_assert_eq!(r.head.status.as_u16(), code);
                        prop_assert_eq!(pairs(&r.head.headers), expected_pairs(&msg.fields));
                    }
                    ClientEvent::Data(d) => got.body.extend_from_slice(&d),
                    ClientEvent::End(t) => got.trailers = Some(pairs(&t)),
                    ClientEvent::Informational(_) | ClientEvent::Upgrade => {
                        prop_assert!(false, "unexpected {:?}", ev)
                    }
                    ClientEvent::Error(e) => got.error = Some(e.kind()),
                }
            }
        }
        // A HEAD response has no body and no trailers, whatever the head says.
        let want = if head_request {
            Received { heads: 1, body: Vec::new(), trailers: Some(Vec::new()), error: None }
        } else {
            Received {
                heads: 1,
                body: msg.body_bytes(),
                trailers: Some(msg.expected_trailers()),
                error: None,
            }
        };
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
    }
}

// ------------------------------------------------------------ never panics

/// A valid message with random bytes overwritten, inserted and deleted, so
/// that the input reaches deep into the state machines.
fn mutated(valid: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 0..6).prop_map(move |edits| {
        let mut v = valid.to_vec();
        for (at, op, byte) in edits {
            let at = at % (v.len() + 1);
            match op {
                0 if at < v.len() => v[at] = byte,
                1 => v.insert(at, byte),
                _ if at < v.len() => {
                    v.remove(at);
                }
                _ => v.push(byte),
            }
        }
        v
    })
}

const REQUESTS: &[u8] = b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
Expect: 100-continue\r\n\r\n5;e=\"q\"\r\nhello\r\n0\r\nT: v\r\n\r\n\
GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc\
OPTIONS * HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";

const RESPONSES: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\
Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
HTTP/1.0 200 OK\r\nFolded: a\r\n b\r\n\r\nuntil close";

const CHUNKED: &[u8] = b"4\r\nwiki\r\n5;name=\"v\\\"al\" ; x\r\npedia\r\nA\r\n 0123456\r\n\r\n\
0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";

fn input(valid: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        3 => mutated(valid),
    ]
}

#[derive(Debug, PartialEq)]
enum Decoded {
    Body(Vec<u8>, Option<Vec<(Vec<u8>, Vec<u8>)>>),
    Error(ErrorKind),
}

fn decode_chunked(bytes: &[u8], pieces: &[(usize, usize)], lenient: Lenient) -> Decoded {
    let cfg = ParseConfig {
        lenient,
        ..ParseConfig::default()
    };
    let mut d = ChunkedDecoder::new(Default::default(), cfg);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for &(a, b) in pieces {
        buf.extend_from_slice(&bytes[a..b]);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(BodyItem::Data(x))) => body.extend_from_slice(&x),
                Ok(Some(BodyItem::End(t))) => return Decoded::Body(body, Some(pairs_all(&t))),
                Ok(None) => break,
                Err(e) => return Decoded::Error(e.kind()),
            }
        }
    }
    Decoded::Body(body, None)
}

fn pairs_all(map: &HeaderMap) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Runs bytes through a server connection that answers every request (after
/// asking for the body), then EOF; returns the transcript as text.
fn serve(bytes: &[u8], pieces: &[(usize, usize)], lenient: Lenient) -> Vec<String> {
    serve_then(bytes, pieces, lenient, true)
}

/// [`serve`], with or without the EOF at the end.
fn serve_then(bytes: &[u8], pieces: &[(usize, usize)], lenient: Lenient, eof: bool) -> Vec<String> {
    let now = Instant::now();
    let mut cfg = ServerConfig::default();
    cfg.head.lenient = lenient;
    let mut conn = ServerConnection::new(cfg, now);
    let mut buf = BytesMut::new();
    let mut log = Vec::new();
    let mut body = Vec::new();
    let mut drain = |conn: &mut ServerConnection, log: &mut Vec<String>| {
        while let Some(ev) = conn.poll_event() {
            match ev {
                ServerEvent::Request(r) => {
                    log.push(format!("request {:?}", r.head));
                    if r.expects_continue {
                        conn.accept_body(now);
                    }
                }
                // Data is merged: its split follows the input's.
                ServerEvent::Data(d) => body.extend_from_slice(&d),
                ServerEvent::End(t) => {
                    log.push(format!("body {:?} end {:?}", std::mem::take(&mut body), t));
                    let res = ResponseHead::new(StatusCode::OK);
                    if conn.send_response(now, res, BodyLength::Known(0)).is_ok() {
                        let _ = conn.send_end(now, None);
                    }
                }
                ServerEvent::Upgrade => log.push("upgrade".into()),
                ServerEvent::Error(e) => log.push(format!("error {:?}", e.kind())),
            }
        }
        wire(conn);
    };
    for &(a, b) in pieces {
        buf.extend_from_slice(&bytes[a..b]);
        for _ in 0..16 {
            let before = buf.len();
            conn.handle_input(now, &mut buf);
            drain(&mut conn, &mut log);
            if conn.is_closed() || conn.is_switched() || buf.len() == before {
                break;
            }
        }
    }
    if eof && !conn.is_closed() && !conn.is_switched() {
        conn.handle_eof(now);
        drain(&mut conn, &mut log);
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn head_parser_never_panics(
        bytes in prop_oneof![input(REQUESTS), input(RESPONSES)],
        lenient in lenient(),
    ) {
        let cfg = ParseConfig { lenient, ..ParseConfig::default() };
        let buf = Bytes::from(bytes);
        let mut h = Vec::new();
        if let Ok(Status::Complete(raw)) = parse_request(&buf, &cfg, &mut h) {
            prop_assert!(raw.head_len <= buf.len());
            let _ = RequestHead::from_raw(&buf, &raw, &h, &cfg);
        }
        if let Ok(Status::Complete(raw)) = parse_response(&buf, &cfg, &mut h) {
            prop_assert!(raw.head_len <= buf.len());
            let _ = ResponseHead::from_raw(&buf, &raw, &h);
        }
    }

    #[test]
    fn chunked_decoder_never_panics_and_ignores_splits(
        bytes in input(CHUNKED),
        cuts in cuts(),
        lenient in lenient(),
    ) {
        let whole = decode_chunked(&bytes, &[(0, bytes.len())], lenient);
        let split = decode_chunked(&bytes, &pieces(bytes.len(), &cuts), lenient);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn server_never_panics_and_ignores_splits(
        bytes in input(REQUESTS),
        cuts in cuts(),
        lenient in lenient(),
    ) {
        let whole = serve(&bytes, &[(0, bytes.len())], lenient);
        let split = serve(&bytes, &pieces(bytes.len(), &cuts), lenient);
        prop_assert_eq!(whole, split);
    }

    /// Fail fast without guessing: what the server reports for the first
    /// bytes of an input (no EOF yet), an error included, is exactly the
    /// beginning of what it reports for the whole input.
    #[test]
    fn server_verdict_on_a_prefix_is_the_whole_verdict(
        bytes in input(REQUESTS),
        cut in any::<usize>(),
        lenient in lenient(),
    ) {
        let cut = cut % (bytes.len() + 1);
        let whole = serve_then(&bytes, &[(0, bytes.len())], lenient, false);
        let prefix = serve_then(&bytes[..cut], &[(0, cut)], lenient, false);
        prop_assert!(
            whole.starts_with(&prefix),
            "prefix {:?}\nwhole {:?}", prefix, whole
        );
    }

    #[test]
    fn client_never_panics(
        bytes in input(RESPONSES),
        cuts in cuts(),
        lenient in lenient(),
        method in prop_oneof![Just(Method::GET), Just(Method::HEAD), Just(Method::CONNECT)],
    ) {
        let now = Instant::now();
        let mut cfg = ClientConfig::default();
        cfg.head.lenient = lenient;
        let mut conn = ClientConnection::new(cfg);
        let mut buf = BytesMut::new();
        for (a, b) in pieces(bytes.len(), &cuts) {
            buf.extend_from_slice(&bytes[a..b]);
            for _ in 0..16 {
                if conn.in_flight() == 0 && conn.can_send_request() {
                    let target = if method == Method::CONNECT { "example.com:443" } else { "/" };
                    let mut req = RequestHead::new(method.clone(), target).unwrap();
                    req.header("Host", "example.com").unwrap();
                    let _ = conn.send_request(now, req, BodyLength::Known(0));
                }
                let before = buf.len();
                conn.handle_input(now, &mut buf);
                wire(&mut conn);
                while conn.poll_event().is_some() {}
                if conn.is_closed() || buf.len() == before {
                    break;
                }
            }
        }
        conn.handle_eof(now);
        while conn.poll_event().is_some() {}
        if let Some(t) = conn.poll_timeout() {
            conn.handle_timeout(t);
            while conn.poll_event().is_some() {}
        }
        prop_assert!(conn.poll_event().is_none());
    }
}
