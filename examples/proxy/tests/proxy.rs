//! The proxy binary against real peers: curl and Python's http.client as
//! clients; nginx, Python's http.server and Python websockets as
//! upstreams; a raw TCP listener that records every byte it is sent, for
//! the smuggling refusals.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wireloom_testkit::fs::TempDir;
use wireloom_testkit::net::free_port;
use wireloom_testkit::peers::start_nginx;
use wireloom_testkit::pki;
use wireloom_testkit::process::{curl, curl_ok, first_line, python_ok, ChildGuard};

const TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");

/// Starts the proxy on a free port with `args`; returns it and its address.
fn proxy(upstreams: &str, args: &[&str]) -> (ChildGuard, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_proxy"))
        .args(["--listen", "127.0.0.1:0", "--upstream", upstreams])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn proxy");
    let out = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let line = first_line(out, Duration::from_secs(20)).expect("proxy prints its address");
    let url = line
        .split_whitespace()
        .find(|w| w.contains("://"))
        .expect("a URL");
    let addr = url.split("://").nth(1).unwrap().parse().expect("address");
    (guard, addr)
}

/// A Python peer script from tests/ that prints its port first.
fn python_peer(script: &str) -> (ChildGuard, u16) {
    let mut child = Command::new("python3")
        .arg(Path::new(TESTS).join(script))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn python3");
    let out = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let port = first_line(out, Duration::from_secs(20))
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{script} prints its port"));
    (guard, port)
}

/// Status code of a raw exchange (the first response on the connection).
fn raw_status(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_whitespace().nth(1).unwrap_or("").to_string()
}

/// A raw TCP upstream that records every byte it receives and answers
/// each request head with a 200.
fn recorder() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    recorder_on(TcpListener::bind("127.0.0.1:0").unwrap())
}

fn recorder_on(l: TcpListener) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().take(64) {
            let Ok(mut s) = s else { break };
            let rec = rec.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut buf = [0u8; 4096];
                let mut pending = Vec::new();
                loop {
                    let n = match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    rec.lock().unwrap().extend_from_slice(&buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..i + 4);
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn smuggling_vectors_are_refused_and_never_reach_the_upstream() {
    let (up, seen) = recorder();
    let (_p, addr) = proxy(&up.to_string(), &[]);
    let vectors: [(&str, &[u8]); 9] = [
        (
            "CL+TE",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "TE+CL",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        ),
        (
            "duplicate CL",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ),
        (
            "CL list",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
        ),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n",
        ),
        ("bare LF", b"GET / HTTP/1.1\nHost: a\n\n"),
        (
            "bad chunk size",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "chunk size overflow",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n",
        ),
        (
            "space before colon",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello",
        ),
    ];
    for (name, bytes) in vectors {
        assert_eq!(raw_status(addr, bytes), "400", "{name}");
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "the upstream saw: {:?}",
        String::from_utf8_lossy(&seen.lock().unwrap())
    );
    // The control: a valid request does reach it, with the proxy's fields.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /fine HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    let seen = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
    assert_eq!(
        seen,
        "GET /fine HTTP/1.1\r\nHost: a\r\nVia: 1.1 wireloom\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"
    );
}

#[test]
fn heads_keep_case_and_order_lose_hop_by_hop_and_gain_via_and_forwarded_for() {
    let (_py, port) = python_peer("upstream.py");
    let (_p, addr) = proxy(&format!("127.0.0.1:{port}"), &[]);
    let url = format!("http://{addr}/headers");
    let (out, err) = curl(&[
        "-i",
        "-H",
        "X-First: 1",
        "-H",
        "x-SECOND: 2",
        "-H",
        "X-Forwarded-For: 192.0.2.7",
        "-H",
        "Connection: X-Private",
        "-H",
        "X-Private: secret",
        "-H",
        "Keep-Alive: timeout=3",
        "-H",
        "TE: trailers",
        &url,
    ]);
    let (head, body) = out
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{out}{err}"));
    // What the upstream received, in order, as spelt.
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines.len() > 1 && lines[1].starts_with("User-Agent: curl/"),
        "{body}"
    );
    let host = format!("Host: {addr}");
    assert_eq!(
        lines,
        [
            host.as_str(),
            lines[1],
            "Accept: */*",
            "X-First: 1",
            "x-SECOND: 2",
            "X-Forwarded-For: 192.0.2.7, 127.0.0.1",
            "Via: 1.1 wireloom",
        ]
    );
    // What the client received: the upstream's order and spelling, no
    // hop-by-hop fields, a Via.
    let fields: Vec<&str> = head.lines().skip(1).collect();
    let pos = |f: &str| fields.iter().position(|l| l.starts_with(f));
    assert!(
        pos("X-Up-B: 1").unwrap() < pos("x-up-a: 2").unwrap(),
        "{head}"
    );
    assert!(pos("Via: 1.1 wireloom").is_some(), "{head}");
    for hop in ["X-Hop", "Keep-Alive"] {
        assert!(pos(hop).is_none(), "{hop} in {head}");
    }
    assert!(!head
        .to_ascii_lowercase()
        .contains("connection: keep-alive, x-hop"));
}

#[test]
fn close_delimited_upstream_body_is_rechunked_and_python_http_client_reads_it() {
    let (_py, port) = python_peer("upstream.py");
    let (_p, addr) = proxy(&format!("127.0.0.1:{port}"), &[]);
    let body = curl_ok(&[&format!("http://{addr}/close")]);
    assert_eq!(body, b"until close ".repeat(1000));
    python_ok(
        r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for _ in range(3):
    c.request("GET", "/close")
    r = c.getresponse()
    assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
    assert r.read() == b"until close " * 1000
print("ok")
"#,
        &[&addr.port().to_string()],
    );
}

#[test]
fn curl_upload_with_expect_100_continue_and_chunked() {
    let (_py, port) = python_peer("upstream.py");
    let (_p, addr) = proxy(&format!("127.0.0.1:{port}"), &[]);
    let dir = TempDir::new("proxy-upload");
    let file = dir.join("body.bin");
    let block: Vec<u8> = (0..=255u8).cycle().take(65536).collect();
    std::fs::write(&file, block.repeat(32)).unwrap();
    let f = file.display().to_string();
    // curl asks for 100-continue before a body this size; the proxy answers
    // it and streams the body on.
    let (out, err) = curl(&[
        "-v",
        "-T",
        &f,
        "-H",
        "Expect: 100-continue",
        &format!("http://{addr}/upload"),
    ]);
    assert_eq!(out, "2097152 True", "{err}");
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    // A chunked upload: decoded by the server dialogue, encoded again by
    // the client dialogue, decoded by Python.
    let (out, err) = curl(&[
        "-T",
        &f,
        "-H",
        "Transfer-Encoding: chunked",
        &format!("http://{addr}/upload"),
    ]);
    assert_eq!(out, "2097152 True", "{err}");

    // An upstream that refuses the body before reading it (nginx's 413,
    // then it closes): the client gets the 413, not a 502 or a hang.
    let (_ng, ng_port) = start_nginx("", "client_max_body_size 1k; location / { return 200; }");
    let (_p2, addr) = proxy(&format!("127.0.0.1:{ng_port}"), &[]);
    let (out, err) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-T",
        &f,
        &format!("http://{addr}/upload"),
    ]);
    assert_eq!(out, "413", "{err}");
}

#[test]
fn one_gib_up_and_down_streams_with_flat_memory() {
    let (_py, port) = python_peer("upstream.py");
    let (p, addr) = proxy(&format!("127.0.0.1:{port}"), &["--max-body", "0"]);
    // Python's http.client sends a bounded generator (never more than
    // 64 KiB in hand) and reads the download 64 KiB at a time.
    python_ok(
        r#"
import http.client, sys
port, n = int(sys.argv[1]), 1 << 30
BLOCK = bytes(range(256)) * 256
TWICE = BLOCK * 2
def gen():
    left = n
    while left > 0:
        k = min(left, len(BLOCK))
        yield BLOCK[:k]
        left -= k
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
c.request("PUT", "/upload", body=gen(), headers={"Content-Length": str(n)})
r = c.getresponse()
body = r.read().decode()
assert r.status == 200 and body == f"{n} True", (r.status, body)
c.request("GET", f"/download?n={n}")
r = c.getresponse()
assert r.status == 200
got, ok = 0, True
while True:
    b = r.read(65536)
    if not b:
        break
    o = got % 65536
    ok = ok and b == TWICE[o:o + len(b)]
    got += len(b)
assert got == n and ok, (got, ok)
print("ok")
"#,
        &[&addr.port().to_string()],
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.0.id())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    eprintln!("proxy peak RSS after 1 GiB up and 1 GiB down: {hwm_kib} KiB");
    assert!(
        hwm_kib < 64 * 1024,
        "peak RSS of the proxy: {hwm_kib} KiB after 2 GiB through it"
    );
}

#[test]
fn upstream_connections_are_pooled_and_round_robin_skips_a_dead_upstream() {
    // nginx answers with the serial number of the connection it came on.
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"$connection\"; }");
    // A free port nobody listens on: connects are refused.
    let dead = free_port();
    let (_p, addr) = proxy(
        &format!("127.0.0.1:{dead},127.0.0.1:{ng_port}"),
        &["--upstream-retry", "60s"],
    );
    let mut conns = std::collections::BTreeSet::new();
    for i in 0..20 {
        // A new curl, a new client connection, each time.
        let out = curl_ok(&[&format!("http://{addr}/r{i}")]);
        conns.insert(String::from_utf8(out).unwrap());
    }
    assert_eq!(conns.len(), 1, "one pooled upstream connection: {conns:?}");
    assert!(
        conns.iter().all(|c| c.parse::<u64>().is_ok()),
        "nginx answered: {conns:?}"
    );
}

#[test]
fn pipelined_requests_and_http10_are_answered_in_order() {
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"$request_method $uri\"; }");
    let (_p, addr) = proxy(&format!("127.0.0.1:{ng_port}"), &[]);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let bodies: Vec<&str> = out
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|r| r.split_once("\r\n\r\n").map_or("", |(_, b)| b))
        .collect();
    assert_eq!(bodies, ["GET /a", "", "GET /c"], "{out}");
    // HTTP/1.0 without Host: sent upstream as HTTP/1.1 with one.
    let out = raw_exchange(addr, b"GET /old HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nGET /old"), "{out}");
    assert!(out.contains("\r\nConnection: close\r\n"), "{out}");
}

/// A raw exchange to EOF, as text.
fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_get_on_a_pooled_connection_the_upstream_drops_is_retried_fresh() {
    // Each upstream connection answers its first request and closes,
    // unanswered, when a second arrives: what a server does whose
    // keep-alive timeout fires just as the next request comes.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    let conns = Arc::new(Mutex::new(0u32));
    let counter = conns.clone();
    std::thread::spawn(move || {
        for s in l.incoming().take(16) {
            let Ok(mut s) = s else { break };
            *counter.lock().unwrap() += 1;
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                let mut answered = false;
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        if answered {
                            return; // dropped: closed without an answer
                        }
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                        answered = true;
                        seen.clear();
                    }
                }
            });
        }
    });
    let (_p, addr) = proxy(&up.to_string(), &[]);
    for _ in 0..3 {
        assert_eq!(curl_ok(&[&format!("http://{addr}/")]), b"ok");
    }
    // The first request opened connection 1; each later one found its
    // pooled connection dropped and was sent again on a new one (which is
    // then the pooled one): 3 connections, no error.
    assert_eq!(*conns.lock().unwrap(), 3);
    // A POST is not retried: the client gets 502.
    let (out, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-d",
        "x",
        &format!("http://{addr}/"),
    ]);
    assert_eq!(out, "502");
}

#[test]
fn a_failed_upstream_is_retried_later() {
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"nginx\"; }");
    let back = free_port();
    let (_p, addr) = proxy(
        &format!("127.0.0.1:{back},127.0.0.1:{ng_port}"),
        &["--upstream-retry", "200ms"],
    );
    // Down: every request is served by nginx.
    for _ in 0..4 {
        assert_eq!(curl_ok(&[&format!("http://{addr}/")]), b"nginx");
    }
    // Back up: once the retry delay has passed, round-robin reaches it.
    let (_, seen) = recorder_on(TcpListener::bind(("127.0.0.1", back)).unwrap());
    let reached = wireloom_testkit::net::wait_until(Duration::from_secs(10), || {
        curl_ok(&[&format!("http://{addr}/")]) == b"ok"
    });
    assert!(reached, "the upstream that came back was never tried again");
    assert!(String::from_utf8_lossy(&seen.lock().unwrap()).starts_with("GET / HTTP/1.1\r\n"));
}

#[test]
fn bad_gateway_and_gateway_timeout() {
    let dead = free_port();
    let (_p, addr) = proxy(&format!("127.0.0.1:{dead}"), &[]);
    let (out, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{addr}/"),
    ]);
    assert_eq!(out, "502");

    let (silent, up) = wireloom_testkit::net::silent_server();
    let (_p2, addr) = proxy(&up.to_string(), &["--upstream-timeout", "300ms"]);
    let (out, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{addr}/"),
    ]);
    assert_eq!(out, "504");
    drop(_p2);
    let _ = silent.join();

    // An upstream that answers garbage.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx");
    });
    let (_p3, addr) = proxy(&up.to_string(), &[]);
    let (out, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{addr}/"),
    ]);
    assert_eq!(out, "502");
    t.join().unwrap();
}

#[test]
fn websocket_upgrade_is_tunnelled() {
    let (_ws, port) = python_peer("ws_echo.py");
    let (_p, addr) = proxy(&format!("127.0.0.1:{port}"), &[]);
    python_ok(
        r#"
import sys
from websockets.sync.client import connect
with connect(f"ws://127.0.0.1:{sys.argv[1]}/chat", compression=None, open_timeout=10) as ws:
    for m in ["hello", "x" * 100000, b"\x00\x01binary"]:
        ws.send(m)
        assert ws.recv(timeout=10) == m
    assert ws.response.headers.get("Via") == "1.1 wireloom", ws.response.headers
print("ok")
"#,
        &[&addr.port().to_string()],
    );
}

#[test]
fn a_generic_upgrade_is_tunnelled_with_bytes_sent_early_and_half_closes() {
    // An upstream that switches to an "upper-casing echo" protocol.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    let t = std::thread::spawn(move || -> String {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "EOF before the head");
            seen.extend_from_slice(&buf[..n]);
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
        let mut rest = seen[head_end..].to_vec();
        loop {
            s.write_all(&rest.to_ascii_uppercase()).unwrap();
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return head; // the client's half-close came through
            }
            rest = buf[..n].to_vec();
        }
    });
    let (_p, addr) = proxy(&up.to_string(), &[]);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The first protocol bytes ride in the same write as the head.
    c.write_all(
        b"GET /shout HTTP/1.1\r\nHost: a\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\nhello",
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"HELLO") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nUpgrade: shout\r\n"), "{text}");
    c.write_all(b" again").unwrap();
    let mut more = [0u8; 6];
    c.read_exact(&mut more).unwrap();
    assert_eq!(&more, b" AGAIN");
    // Half-close: the upstream sees EOF, ends, and the client sees EOF.
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut tail = Vec::new();
    c.read_to_end(&mut tail).unwrap();
    assert!(tail.is_empty());
    let head = t.join().unwrap();
    assert!(
        head.contains("\r\nUpgrade: shout\r\nConnection: upgrade\r\n"),
        "{head}"
    );
}

#[test]
fn a_client_that_stalls_in_its_head_gets_408_and_the_upstream_nothing() {
    let (up, seen) = recorder();
    let (_p, addr) = proxy(&up.to_string(), &["--header-timeout", "300ms"]);
    // Half a head, then nothing: core's head timer answers.
    assert_eq!(
        raw_status(addr, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: "),
        "408"
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn over_the_connection_limit_is_answered_503() {
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"hi\"; }");
    let (_p, addr) = proxy(&format!("127.0.0.1:{ng_port}"), &["--max-connections", "1"]);
    // One connection held open (served once, idle keep-alive)...
    let mut first = TcpStream::connect(addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = first.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    // ...so the next one is refused.
    assert_eq!(
        raw_status(addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        "503"
    );
    drop(first);
    let ok = wireloom_testkit::net::wait_until(Duration::from_secs(10), || {
        raw_status(
            addr,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ) == "200"
    });
    assert!(ok, "served again once the first connection closed");
}

#[test]
fn tls_on_the_listening_side_with_curl() {
    let dir = TempDir::new("proxy-tls");
    let p = pki::pki();
    pki::write_files(&p, dir.path());
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"over tls\"; }");
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (_p, addr) = proxy(
        &format!("127.0.0.1:{ng_port}"),
        // (and a multi-thread runtime)
        &["--tls-cert", &cert, "--tls-key", &key, "--threads", "2"],
    );
    let ca = dir.join("ca.pem").display().to_string();
    let out = curl_ok(&[
        "--cacert",
        &ca,
        "--resolve",
        &format!("localhost:{}:127.0.0.1", addr.port()),
        &format!("https://localhost:{}/", addr.port()),
        &format!("https://localhost:{}/again", addr.port()),
    ]);
    assert_eq!(out, b"over tlsover tls");
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let dir = TempDir::new("proxy-stall");
    let big = dir.join("big");
    std::fs::write(&big, vec![b'x'; 16 << 20]).unwrap();
    let (_ng, ng_port) = start_nginx(
        "",
        &format!(
            "location = /big {{ alias {}; }} location / {{ return 200 \"hi\"; }}",
            big.display()
        ),
    );
    let (_p, addr) = proxy(
        &format!("127.0.0.1:{ng_port}"),
        &["--max-connections", "1", "--send-timeout", "500ms"],
    );
    // A client with a tiny receive window asks for 16 MiB and never reads:
    // the proxy's queue for it fills and stays full.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut stalled: TcpStream = sock.into();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    // It held the only connection slot; once the send timeout drops it,
    // the next client is served (not refused with 503) again.
    let served = wireloom_testkit::net::wait_until(Duration::from_secs(15), || {
        raw_status(
            addr,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ) == "200"
    });
    assert!(served, "the stalled client still holds its slot");
    drop(stalled);
}

#[test]
fn over_the_connection_limit_on_tls_the_503_arrives_after_the_handshake() {
    let dir = TempDir::new("proxy-tls-busy");
    let p = pki::pki();
    pki::write_files(&p, dir.path());
    let (_ng, ng_port) = start_nginx("", "location / { return 200 \"hi\"; }");
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (_p, addr) = proxy(
        &format!("127.0.0.1:{ng_port}"),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--max-connections",
            "1",
        ],
    );
    // The only slot: a connection that has not even started its handshake.
    let _held = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let ca = dir.join("ca.pem").display().to_string();
    let (code, err) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--cacert",
        &ca,
        "--resolve",
        &format!("localhost:{}:127.0.0.1", addr.port()),
        &format!("https://localhost:{}/", addr.port()),
    ]);
    assert_eq!(code, "503", "{err}");
}
