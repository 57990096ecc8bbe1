//! Runs raw bytes through wireloom's HTTP connections and reports events as
//! JSON, one object per event (the `http` subcommand's output format).

use std::time::Instant;

use base64::Engine;
use bytes::BytesMut;
use serde_json::{json, Value};
use wireloom_core::http::{
    BodyLength, ClientConfig, ClientConnection, ClientEvent, ErrorKind, HeaderMap, Lenient, Method,
    RequestHead, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_core::Dialogue;

/// Which side of the connection wireloom plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Parse requests, answer each with an empty 200.
    Server,
    /// Send a request before each response expected, parse responses.
    Client,
}

/// How to run a transcript.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server or client.
    pub role: Role,
    /// The method of the requests the client sends (default GET).
    pub request_method: Method,
    /// Leniency flags, added to the role's defaults (the server's are
    /// strict; the client's, [`ParseConfig::client`], accept obs-fold in
    /// responses and a status line without reason phrase).
    ///
    /// [`ParseConfig::client`]: wireloom_core::http::ParseConfig::client
    pub lenient: Lenient,
}

impl Options {
    /// Defaults for `role`: GET, no leniency beyond the role's defaults.
    pub fn new(role: Role) -> Options {
        Options {
            role,
            request_method: Method::GET,
            lenient: Lenient::NONE,
        }
    }
}

/// Bytes as a string with each byte as the Latin-1 character of the same code.
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn headers_json(h: &HeaderMap) -> Value {
    Value::Array(
        h.iter()
            .map(|(n, v)| json!([latin1(n.as_bytes()), latin1(v.as_bytes())]))
            .collect(),
    )
}

fn response_json(event: &str, head: &ResponseHead) -> Value {
    if event == "informational" {
        return json!({"event": event, "status": head.status.as_u16(), "headers": headers_json(&head.headers)});
    }
    json!({
        "event": event,
        "status": head.status.as_u16(),
        "reason": latin1(&head.reason),
        "version": head.version.as_str(),
        "headers": headers_json(&head.headers),
    })
}

fn error_json(kind: ErrorKind) -> Value {
    if matches!(
        kind,
        ErrorKind::IncompleteMessage | ErrorKind::ClosedBeforeResponse
    ) {
        return json!({"event": "incomplete"});
    }
    json!({
        "event": "error",
        "kind": kind.as_str(),
        "status": kind.status().map(|s| s.as_u16()),
    })
}

/// Collects events, merging consecutive data so that the transcript does not
/// depend on how the input was split.
#[derive(Default)]
struct Transcript {
    out: Vec<Value>,
    data: Vec<u8>,
}

impl Transcript {
    fn data(&mut self, b: &[u8]) {
        self.data.extend_from_slice(b);
    }
    fn push(&mut self, v: Value) {
        self.flush();
        self.out.push(v);
    }
    fn flush(&mut self) {
        if !self.data.is_empty() {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&self.data);
            self.out.push(json!({"event": "data", "base64": b64}));
            self.data.clear();
        }
    }
    fn finish(mut self) -> Vec<Value> {
        self.flush();
        self.out
    }
}

/// Runs `chunks` (the peer's bytes, in the order they arrive, then EOF)
/// through a connection and returns the transcript.
pub fn run<'a>(opts: &Options, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Value> {
    match opts.role {
        Role::Server => run_server(opts, chunks),
        Role::Client => run_client(opts, chunks),
    }
}

fn run_server<'a>(opts: &Options, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Value> {
    let now = Instant::now();
    let mut cfg = ServerConfig::default();
    cfg.head.lenient = cfg.head.lenient | opts.lenient;
    let mut conn = ServerConnection::new(cfg, now);
    let mut t = Transcript::default();
    let mut buf = BytesMut::new();
    let mut stop = false;
    // Drives the connection until it needs more input.
    let drive = |conn: &mut ServerConnection, buf: &mut BytesMut, t: &mut Transcript| -> bool {
        loop {
            conn.handle_input(now, buf);
            let mut progressed = false;
            while let Some(ev) = conn.poll_event() {
                progressed = true;
                match ev {
                    ServerEvent::Request(req) => {
                        let h = &req.head;
                        t.push(json!({
                            "event": "request",
                            "method": h.method.as_str(),
                            "target": latin1(h.target.as_bytes()),
                            "version": h.version.as_str(),
                            "headers": headers_json(&h.headers),
                        }));
                        if req.expects_continue {
                            conn.accept_body(now);
                        }
                    }
                    ServerEvent::Data(d) => t.data(&d),
                    ServerEvent::End(trailers) => {
                        t.push(json!({"event": "end", "trailers": headers_json(&trailers)}));
                        let res = ResponseHead::new(StatusCode::OK);
                        if conn.send_response(now, res, BodyLength::Known(0)).is_ok() {
                            let _ = conn.send_end(now, None);
                        }
                    }
                    ServerEvent::Upgrade => {
                        t.push(json!({"event": "upgrade"}));
                        return true;
                    }
                    ServerEvent::Error(e) => {
                        t.push(error_json(e.kind()));
                        return true;
                    }
                }
            }
            while conn.poll_transmit().is_some() {}
            if conn.is_closed() {
                return true;
            }
            if !progressed {
                return false;
            }
        }
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if drive(&mut conn, &mut buf, &mut t) {
            stop = true;
            break;
        }
    }
    if !stop {
        conn.handle_eof(now);
        drive(&mut conn, &mut buf, &mut t);
    }
    t.finish()
}

fn client_request(method: &Method) -> RequestHead {
    let target = if *method == Method::CONNECT {
        "example.com:443"
    } else if *method == Method::OPTIONS {
        "*"
    } else {
        "/"
    };
    let mut req = RequestHead::new(method.clone(), target).expect("valid target");
    let _ = req.header("Host", "example.com");
    req
}

fn run_client<'a>(opts: &Options, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Value> {
    let now = Instant::now();
    let mut cfg = ClientConfig::default();
    cfg.head.lenient = cfg.head.lenient | opts.lenient;
    let mut conn = ClientConnection::new(cfg);
    let mut t = Transcript::default();
    let mut buf = BytesMut::new();
    let method = opts.request_method.clone();
    let drive = |conn: &mut ClientConnection, buf: &mut BytesMut, t: &mut Transcript| -> bool {
        loop {
            if !buf.is_empty() && conn.in_flight() == 0 && conn.can_send_request() {
                let _ = conn.send_request(now, client_request(&method), BodyLength::Known(0));
            }
            conn.handle_input(now, buf);
            while conn.poll_transmit().is_some() {}
            let mut ended = false;
            while let Some(ev) = conn.poll_event() {
                match ev {
                    ClientEvent::Informational(h) => t.push(response_json("informational", &h)),
                    ClientEvent::Response(r) => t.push(response_json("response", &r.head)),
                    ClientEvent::Data(d) => t.data(&d),
                    ClientEvent::End(trailers) => {
                        t.push(json!({"event": "end", "trailers": headers_json(&trailers)}));
                        ended = true;
                    }
                    ClientEvent::Upgrade => {
                        t.push(json!({"event": "upgrade"}));
                        return true;
                    }
                    ClientEvent::Error(e) => {
                        t.push(error_json(e.kind()));
                        return true;
                    }
                }
            }
            if conn.is_closed() {
                return true;
            }
            if !ended || buf.is_empty() {
                return false;
            }
        }
    };
    let mut stop = false;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if drive(&mut conn, &mut buf, &mut t) {
            stop = true;
            break;
        }
    }
    if !stop {
        conn.handle_eof(now);
        drive(&mut conn, &mut buf, &mut t);
    }
    t.finish()
}
