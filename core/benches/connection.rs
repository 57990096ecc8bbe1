//! Requests per second through the core connections alone, with no IO:
//! the ceiling every adapter's server and client sits under.
//!
//! - `server_pipelined_16`: one keep-alive [`ServerConnection`] fed 16
//!   pipelined `GET /plaintext` requests (as wrk sends them) per iteration,
//!   answering each with a 13-byte `text/plain` body and a `Date` field,
//!   then draining every byte to send.
//! - `client_pipelined_16`: one [`ClientConnection`] sending 16 `GET`
//!   requests and reading 16 pipelined responses with a 13-byte body.
//!
//! `cargo bench -p wireloom-core --bench connection` (criterion; the
//! throughput line is requests/s). For instruction counts or a profile,
//! `-- --iters N` runs N iterations of both without criterion, e.g.
//! `valgrind --tool=callgrind target/release/deps/connection-* --iters 2000`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, Criterion, Throughput};
use wireloom_core::http::{
    http_date, names, BodyLength, ClientConfig, ClientConnection, ClientEvent, HeaderValue, Method,
    RequestHead, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_core::Dialogue;

const PIPELINE: usize = 16;
const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 06 Dec 2026 19:26:19 GMT\r\nContent-Length: 13\r\n\r\nHello, World!";

struct ServerRig {
    conn: ServerConnection,
    input: Vec<u8>,
    buf: BytesMut,
    date: HeaderValue,
    body: Bytes,
}

impl ServerRig {
    fn new() -> ServerRig {
        ServerRig {
            conn: ServerConnection::new(ServerConfig::default(), Instant::now()),
            input: REQUEST.repeat(PIPELINE),
            buf: BytesMut::with_capacity(16 * 1024),
            date: http_date(SystemTime::now()),
            body: Bytes::from_static(b"Hello, World!"),
        }
    }

    /// One round: 16 requests in, 16 responses out; returns bytes out.
    fn round(&mut self) -> usize {
        let now = Instant::now();
        self.buf.extend_from_slice(&self.input);
        self.conn.handle_input(now, &mut self.buf);
        let mut out = 0;
        let mut answered = 0;
        loop {
            match self.conn.poll_event() {
                Some(ServerEvent::Request(_req)) => {
                    let mut head = ResponseHead::new(StatusCode::OK);
                    head.headers.append_field(
                        names::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    head.headers.append_field(names::DATE, self.date.clone());
                    self.conn
                        .send_response(now, head, BodyLength::Known(13))
                        .expect("response");
                    self.conn.send_data(self.body.clone()).expect("data");
                    self.conn.send_end(now, None).expect("end");
                    answered += 1;
                    self.conn.handle_input(now, &mut self.buf);
                }
                Some(_) => {}
                None => break,
            }
        }
        while let Some(b) = self.conn.poll_transmit() {
            out += b.len();
        }
        assert_eq!(answered, PIPELINE);
        out
    }
}

struct ClientRig {
    conn: ClientConnection,
    input: Vec<u8>,
    buf: BytesMut,
}

impl ClientRig {
    fn new() -> ClientRig {
        ClientRig {
            conn: ClientConnection::new(ClientConfig::default()),
            input: RESPONSE.repeat(PIPELINE),
            buf: BytesMut::with_capacity(16 * 1024),
        }
    }

    fn round(&mut self) -> usize {
        let now = Instant::now();
        let mut out = 0;
        for _ in 0..PIPELINE {
            let mut head = RequestHead::new(Method::GET, "/plaintext").expect("target");
            head.headers.append("Host", "localhost:8080").expect("host");
            self.conn
                .send_request(now, head, BodyLength::Known(0))
                .expect("request");
        }
        while let Some(b) = self.conn.poll_transmit() {
            out += b.len();
        }
        self.buf.extend_from_slice(&self.input);
        self.conn.handle_input(now, &mut self.buf);
        let mut ends = 0;
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                ClientEvent::Data(b) => out += b.len(),
                ClientEvent::End(_) => ends += 1,
                _ => {}
            }
        }
        assert_eq!(ends, PIPELINE);
        out
    }
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("connection");
    g.throughput(Throughput::Elements(PIPELINE as u64));
    let mut server = ServerRig::new();
    g.bench_function("server_pipelined_16", |b| {
        b.iter(|| black_box(server.round()))
    });
    let mut client = ClientRig::new();
    g.bench_function("client_pipelined_16", |b| {
        b.iter(|| black_box(client.round()))
    });
    g.finish();
}

criterion_group!(group, benches);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--iters") {
        let n: usize = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(1000);
        let mut server = ServerRig::new();
        let mut client = ClientRig::new();
        let t = Instant::now();
        for _ in 0..n {
            black_box(server.round());
        }
        let s = t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            black_box(client.round());
        }
        let c = t.elapsed();
        let per = |d: std::time::Duration| d.as_nanos() as f64 / (n * PIPELINE) as f64;
        println!(
            "server {:.0} ns/request, client {:.0} ns/request ({n} rounds of {PIPELINE})",
            per(s),
            per(c)
        );
        return;
    }
    group();
    Criterion::default().configure_from_args().final_summary();
}
