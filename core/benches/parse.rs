//! Head parsing: wireloom-core against httparse on the same inputs.
//!
//! Each criterion group holds one input and every contestant, so the report
//! shows them side by side:
//!
//! - `httparse`: `httparse::Request::parse` / `Response::parse` with a
//!   64-entry header array (reused across iterations).
//! - `wireloom_raw`: [`parse_request`] / [`parse_response`], the zero-copy
//!   scan that returns offsets (reused `Vec<RawHeader>`), which also checks
//!   what httparse does not: strict request-target characters and
//!   pct-encoding, the HTTP version, the line and head limits.
//! - `wireloom_head`: the raw parse plus `RequestHead::from_raw` /
//!   `ResponseHead::from_raw`, which builds an owned, validated head of shared
//!   `Bytes` slices (method, target form, Host rule, header map).
//!
//! Run with `cargo bench -p wireloom-core --bench parse`; figures are in
//! BENCHMARKS.md.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wireloom_core::http::parse::{parse_request, parse_response, ParseConfig, Status};
use wireloom_core::http::{RequestHead, ResponseHead};

/// The 720-byte request of httparse's own benchmark (`benches/parse.rs`).
const REQ_720: &[u8] = b"\
GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral|padding=under256\r\n\r\n";

/// A small GET as curl sends it.
const GET_SMALL: &[u8] = b"\
GET /index.html HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: curl/8.5.0\r\n\
Accept: */*\r\n\r\n";

/// A typical response head (as nginx answers a static file).
const RESP_TYPICAL: &[u8] = b"\
HTTP/1.1 200 OK\r\n\
Server: nginx/1.24.0\r\n\
Date: Wed, 02 Dec 2026 01:40:18 GMT\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 6152\r\n\
Last-Modified: Mon, 30 Nov 2026 10:12:44 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"656c8e3c-1808\"\r\n\
Cache-Control: max-age=3600\r\n\
Accept-Ranges: bytes\r\n\r\n";

fn bench_request(c: &mut Criterion, name: &str, input: &'static [u8]) {
    let cfg = ParseConfig::default();
    let shared = Bytes::from_static(input);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.len() as u64));

    let mut hp_headers = [httparse::EMPTY_HEADER; 64];
    g.bench_function("httparse", |b| {
        b.iter(|| {
            let mut req = httparse::Request::new(&mut hp_headers);
            let s = req.parse(black_box(input)).unwrap();
            assert_eq!(s, httparse::Status::Complete(input.len()));
            black_box(req.headers.len());
        })
    });

    let mut raw_headers = Vec::with_capacity(64);
    g.bench_function("wireloom_raw", |b| {
        b.iter(|| {
            let s = parse_request(black_box(input), &cfg, &mut raw_headers).unwrap();
            let Status::Complete(raw) = s else {
                panic!("partial")
            };
            assert_eq!(raw.head_len, input.len());
            black_box(raw_headers.len());
        })
    });

    g.bench_function("wireloom_head", |b| {
        b.iter(|| {
            let buf = black_box(&shared);
            let Status::Complete(raw) = parse_request(buf, &cfg, &mut raw_headers).unwrap() else {
                panic!("partial")
            };
            let head = RequestHead::from_raw(buf, &raw, &raw_headers, &cfg).unwrap();
            black_box(head);
        })
    });
    g.finish();
}

fn bench_response(c: &mut Criterion, name: &str, input: &'static [u8]) {
    let cfg = ParseConfig::default();
    let shared = Bytes::from_static(input);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.len() as u64));

    let mut hp_headers = [httparse::EMPTY_HEADER; 64];
    g.bench_function("httparse", |b| {
        b.iter(|| {
            let mut resp = httparse::Response::new(&mut hp_headers);
            let s = resp.parse(black_box(input)).unwrap();
            assert_eq!(s, httparse::Status::Complete(input.len()));
            black_box(resp.headers.len());
        })
    });

    let mut raw_headers = Vec::with_capacity(64);
    g.bench_function("wireloom_raw", |b| {
        b.iter(|| {
            let s = parse_response(black_box(input), &cfg, &mut raw_headers).unwrap();
            let Status::Complete(raw) = s else {
                panic!("partial")
            };
            assert_eq!(raw.head_len, input.len());
            black_box(raw_headers.len());
        })
    });

    g.bench_function("wireloom_head", |b| {
        b.iter(|| {
            let buf = black_box(&shared);
            let Status::Complete(raw) = parse_response(buf, &cfg, &mut raw_headers).unwrap() else {
                panic!("partial")
            };
            black_box(ResponseHead::from_raw(buf, &raw, &raw_headers));
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    assert_eq!(REQ_720.len(), 720);
    bench_request(c, "req_720", REQ_720);
    bench_request(c, "get_small", GET_SMALL);
    bench_response(c, "resp_typical", RESP_TYPICAL);
}

criterion_group!(parse, benches);
criterion_main!(parse);
