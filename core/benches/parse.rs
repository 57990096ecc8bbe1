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
//!   `ResponseHead::from_raw`, which builds the owned, validated head
//!   (method, target form for the method, Host rule, a header map that
//!   keeps the head's `Bytes` and the field positions), then drops it.
//!
//! Run with `cargo bench -p wireloom-core --bench parse` (criterion); figures
//! are in BENCHMARKS.md. On a shared machine, where criterion's one-after-the-
//! other runs see different load, `-- --alternate` instead runs the
//! contestants in alternation, round after round, and prints per-input
//! medians and the median of the per-round ratios wireloom/httparse.
//! For instruction counts, `-- --iters N --only req_720/wireloom_head` runs
//! one contestant N times with no timing (see `iterate`); the count per
//! parse is `(Ir(N) - Ir(0)) / N` of two runs of
//! `valgrind --tool=callgrind target/release/deps/parse-* --iters N --only ...`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};
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

/// One contestant: runs the parse once (asserting the result).
type Run<'a> = Box<dyn FnMut() + 'a>;

/// The contestants for a request input, in report order.
fn request_contestants<'a>(
    input: &'static [u8],
    shared: &'a Bytes,
    cfg: &'a ParseConfig,
) -> Vec<(&'static str, Run<'a>)> {
    let mut hp_headers = [httparse::EMPTY_HEADER; 64];
    let mut raw_headers = Vec::with_capacity(64);
    let mut raw_headers2 = Vec::with_capacity(64);
    vec![
        (
            "httparse",
            Box::new(move || {
                let mut req = httparse::Request::new(&mut hp_headers);
                let s = req.parse(black_box(input)).unwrap();
                assert_eq!(s, httparse::Status::Complete(input.len()));
                black_box(req.headers.len());
            }),
        ),
        (
            "wireloom_raw",
            Box::new(move || {
                let s = parse_request(black_box(input), cfg, &mut raw_headers).unwrap();
                let Status::Complete(raw) = s else {
                    panic!("partial")
                };
                assert_eq!(raw.head_len, input.len());
                black_box(raw_headers.len());
            }),
        ),
        (
            "wireloom_head",
            Box::new(move || {
                let buf = black_box(shared);
                let s = parse_request(buf, cfg, &mut raw_headers2).unwrap();
                let Status::Complete(raw) = s else {
                    panic!("partial")
                };
                black_box(RequestHead::from_raw(buf, &raw, &raw_headers2, cfg).unwrap());
            }),
        ),
    ]
}

/// The contestants for a response input, in report order.
fn response_contestants<'a>(
    input: &'static [u8],
    shared: &'a Bytes,
    cfg: &'a ParseConfig,
) -> Vec<(&'static str, Run<'a>)> {
    let mut hp_headers = [httparse::EMPTY_HEADER; 64];
    let mut raw_headers = Vec::with_capacity(64);
    let mut raw_headers2 = Vec::with_capacity(64);
    vec![
        (
            "httparse",
            Box::new(move || {
                let mut resp = httparse::Response::new(&mut hp_headers);
                let s = resp.parse(black_box(input)).unwrap();
                assert_eq!(s, httparse::Status::Complete(input.len()));
                black_box(resp.headers.len());
            }),
        ),
        (
            "wireloom_raw",
            Box::new(move || {
                let s = parse_response(black_box(input), cfg, &mut raw_headers).unwrap();
                let Status::Complete(raw) = s else {
                    panic!("partial")
                };
                assert_eq!(raw.head_len, input.len());
                black_box(raw_headers.len());
            }),
        ),
        (
            "wireloom_head",
            Box::new(move || {
                let buf = black_box(shared);
                let s = parse_response(buf, cfg, &mut raw_headers2).unwrap();
                let Status::Complete(raw) = s else {
                    panic!("partial")
                };
                black_box(ResponseHead::from_raw(buf, &raw, &raw_headers2));
            }),
        ),
    ]
}

/// The inputs: name, bytes, whether it is a request.
const INPUTS: [(&str, &[u8], bool); 3] = [
    ("req_720", REQ_720, true),
    ("get_small", GET_SMALL, true),
    ("resp_typical", RESP_TYPICAL, false),
];

fn contestants<'a>(
    input: &'static [u8],
    is_request: bool,
    shared: &'a Bytes,
    cfg: &'a ParseConfig,
) -> Vec<(&'static str, Run<'a>)> {
    if is_request {
        request_contestants(input, shared, cfg)
    } else {
        response_contestants(input, shared, cfg)
    }
}

fn benches(c: &mut Criterion) {
    assert_eq!(REQ_720.len(), 720);
    let cfg = ParseConfig::default();
    for (name, input, is_request) in INPUTS {
        let shared = Bytes::from_static(input);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        for (who, mut run) in contestants(input, is_request, &shared, &cfg) {
            g.bench_function(who, |b| b.iter(&mut run));
        }
        g.finish();
    }
}

criterion_group!(parse, benches);

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `--alternate`: every round times each contestant over the same number of
/// iterations, one after the other, so that all of them see the same load;
/// prints the median time per parse and the median per-round ratio.
fn alternate() {
    const ROUNDS: usize = 31;
    const ITERS: u32 = 20_000;
    let cfg = ParseConfig::default();
    println!("{ROUNDS} rounds x {ITERS} iterations per contestant, alternating");
    for (name, input, is_request) in INPUTS {
        let shared = Bytes::from_static(input);
        let mut runs = contestants(input, is_request, &shared, &cfg);
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
        for _ in 0..ROUNDS {
            for (k, (_, run)) in runs.iter_mut().enumerate() {
                let t = Instant::now();
                for _ in 0..ITERS {
                    run();
                }
                times[k].push(t.elapsed().as_secs_f64() * 1e9 / ITERS as f64);
            }
        }
        println!("{name} ({} bytes)", input.len());
        for (k, (who, _)) in runs.iter().enumerate() {
            let mut ratios: Vec<f64> = (0..ROUNDS).map(|r| times[k][r] / times[0][r]).collect();
            let ns = median(&mut times[k].clone());
            let mib_s = input.len() as f64 / ns * 1e9 / (1024.0 * 1024.0);
            println!(
                "  {who:14} median {ns:8.1} ns  {mib_s:7.0} MiB/s  ratio to httparse {:.2}",
                median(&mut ratios)
            );
        }
    }
}

/// `--iters N [--only INPUT/CONTESTANT]`: runs each selected contestant N
/// times without criterion or timing, for instruction counts. Per parse:
/// `(Ir(N) - Ir(0)) / N` from two `valgrind --tool=callgrind` runs.
fn iterate(n: u64, only: Option<&str>) {
    let cfg = ParseConfig::default();
    for (name, input, is_request) in INPUTS {
        let shared = Bytes::from_static(input);
        for (who, mut run) in contestants(input, is_request, &shared, &cfg) {
            if only.is_some_and(|o| o != format!("{name}/{who}")) {
                continue;
            }
            for _ in 0..n {
                run();
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--alternate") {
        alternate();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--iters") {
        let n = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(1000);
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|j| args.get(j + 1));
        iterate(n, only.map(String::as_str));
        return;
    }
    parse();
    Criterion::default().configure_from_args().final_summary();
}
