//! The servers against real clients (curl, Python's `http.client`, raw
//! sockets): the client side of each check, written once. Each adapter's
//! test builds its own server (blocking handlers or async ones), starts
//! it on 127.0.0.1 and hands the address here.
//!
//! The scenarios that take a `base` URL (`http://127.0.0.1:PORT`) expect
//! the *demo routes*:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /plaintext` | `Hello, World!` |
//! | `GET /users/{id}` | `{"id":"<id>"}` (JSON) |
//! | `GET /reverse/<word>` (a regex route) | the word reversed |
//! | `POST /api/echo` | the body back, with its content type |
//! | `GET /stream` | 200,000 bytes `i % 251`, streamed (chunked) |
//! | `GET /bad-header` | a handler setting a header with CR LF in it |
//! | every response | `X-Served-By: wireloom` (a middleware) |
//! | 404 | the error page `<h1>nothing here</h1>` |

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::fs::temp_dir;
use crate::http::{exchange, request, Client, Resp};
use crate::net::connect;
use crate::process::{curl, curl_raw, python_ok, run};
use crate::trace::Captured;

/// The `/stream` route's body.
pub fn stream_body() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8).collect()
}

/// curl against the demo routes: two requests on one connection, a regex
/// route, the 404 page, 405 with `Allow`, a 500 for each of the panicking
/// `panic_paths` (the server lives on), a header injection refused with
/// 500, HEAD with the length GET would have, and HEAD on the streamed
/// `streamed` route answered promptly with the head only.
pub fn curl_keep_alive_routes_and_errors(base: &str, panic_paths: &[&str], streamed: &str) {
    // Two requests on one connection: curl reports a single connect.
    let (out, err) = curl(&[
        "-w",
        "\n%{num_connects}\n",
        &format!("{base}/plaintext"),
        &format!("{base}/users/42"),
    ]);
    assert_eq!(out, "Hello, World!\n1\n{\"id\":\"42\"}\n0\n", "{err}");
    let (out, _) = curl(&[&format!("{base}/reverse/loom")]);
    assert_eq!(out, "mool");
    let (out, _) = curl(&["-i", &format!("{base}/nothing")]);
    assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
    assert!(out.contains("<h1>nothing here</h1>"), "{out}");
    let (out, _) = curl(&["-i", "-X", "DELETE", &format!("{base}/plaintext")]);
    assert!(
        out.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
            && out.contains("Allow: GET, HEAD\r\n"),
        "{out}"
    );
    // Panicking handlers: 500, and the server lives on.
    for path in panic_paths {
        let (out, _) = curl(&["-i", &format!("{base}{path}")]);
        assert!(
            out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{path}: {out}"
        );
    }
    let (out, _) = curl(&[&format!("{base}/plaintext")]);
    assert_eq!(out, "Hello, World!");
    // A header injection attempt by a handler: refused with 500.
    let (out, _) = curl(&["-i", &format!("{base}/bad-header")]);
    assert!(
        out.starts_with("HTTP/1.1 500 ") && !out.contains("pwned"),
        "{out}"
    );
    // HEAD: the head only, with the length GET would have.
    let (out, _) = curl(&["-I", &format!("{base}/plaintext")]);
    assert!(
        out.contains("Content-Length: 13\r\n") && out.contains("X-Served-By: wireloom\r\n"),
        "{out}"
    );
    // HEAD on a streamed response: the head only, promptly (a bound on a
    // hang, not a timing claim).
    let started = Instant::now();
    let (out, err) = curl(&["-I", &format!("{base}{streamed}")]);
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"),
        "{out}{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// curl uploads to `/api/echo`: 3 MB chunked from stdin, then with
/// `Expect: 100-continue` and a length (the interim 100 seen), each echoed
/// back whole; then the chunked `/stream` response, byte for byte.
pub fn curl_uploads_chunked_and_expect_continue(base: &str) {
    let url = format!("{base}/api/echo");
    let dir = temp_dir("up");
    let file = dir.join("payload.bin");
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, &payload).unwrap();
    let out_file = dir.join("echo.bin");
    // Chunked upload (Transfer-Encoding: chunked from stdin with -T -).
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -sS --max-time 20 -H 'Content-Type: application/x-test' -H 'Transfer-Encoding: chunked' -T - -X POST {url} -o {} < {}",
            out_file.display(),
            file.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(&out_file).unwrap() == payload);
    // Expect: 100-continue with a known length.
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &format!("@{}", file.display()),
        "-o",
        &out_file.display().to_string(),
        &url,
    ]);
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}{out}");
    assert!(std::fs::read(&out_file).unwrap() == payload);
    // Streamed (chunked) response.
    let (out, _) = curl(&["-i", "--raw", &format!("{base}/stream")]);
    assert!(
        out.contains("Transfer-Encoding: chunked\r\n"),
        "{}",
        &out[..200.min(out.len())]
    );
    let out = curl_raw(&[&format!("{base}/stream")]);
    assert!(out.stdout == stream_body());
    std::fs::remove_dir_all(&dir).ok();
}

/// Python's `http.client` on one keep-alive connection to the demo routes
/// on `port`: GET (with a Date), a 100 kB upload echoed, a chunked upload
/// from a generator, the chunked `/stream`, HEAD and a path parameter.
pub fn python_http_client(port: u16) {
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/plaintext")
r = c.getresponse(); assert r.status == 200, r.status; assert r.read() == b"Hello, World!"
assert r.getheader("Date", "").endswith(" GMT")
c.request("POST", "/api/echo", body=b"x" * 100000, headers={"Content-Type": "application/x-thing"})
r = c.getresponse(); b = r.read()
assert r.status == 200 and b == b"x" * 100000 and r.getheader("Content-Type") == "application/x-thing"
def gen():
    for i in range(10):
        yield b"part%d;" % i
c.request("POST", "/api/echo", body=gen(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
r = c.getresponse(); assert r.read() == b"".join(b"part%d;" % i for i in range(10))
c.request("GET", "/stream")
r = c.getresponse(); assert r.getheader("Transfer-Encoding") == "chunked"; assert len(r.read()) == 200000
c.request("HEAD", "/plaintext")
r = c.getresponse(); assert r.getheader("Content-Length") == "13"; assert r.read() == b""
c.request("GET", "/users/7")
r = c.getresponse(); assert r.read() == b'{"id":"7"}'
print("ok")
"#;
    python_ok(script, &[&port.to_string()]);
}

/// curl against a server with this middleware chain and these error
/// pages, both middlewares pushing to `log`:
///
/// - timing, outermost: pushes `timing in`, runs the rest, pushes
///   `timing out` and adds `X-Elapsed-Us`;
/// - auth: pushes `auth`; a `/private/...` request without
///   `Authorization: Bearer ok` gets 401 with `WWW-Authenticate: Bearer`
///   (the handler not called);
/// - routes `GET /private/{item}` (pushes `handler`, answers
///   `secret <item>`), `GET /forbidden` (403), `GET /panic` (panics);
/// - error pages: 401 -> HTML `<p>log in first</p>`, 403 -> `no access to
///   <path>`, 500 -> `our fault, sorry` (each keeping the status).
pub fn middleware_chain_auth_and_error_pages(base: &str, log: &Mutex<Vec<String>>) {
    let (out, _) = curl(&[
        "-H",
        "Authorization: Bearer ok",
        &format!("{base}/private/x"),
    ]);
    assert_eq!(out, "secret x");
    assert_eq!(
        *log.lock().unwrap(),
        ["timing in", "auth", "handler", "timing out"]
    );
    log.lock().unwrap().clear();
    let (out, _) = curl(&["-i", &format!("{base}/private/x")]);
    assert!(
        out.starts_with("HTTP/1.1 401 Unauthorized\r\n")
            && out.contains("X-Elapsed-Us: ")
            && out.contains("WWW-Authenticate: Bearer\r\n")
            && out.contains("Content-Type: text/html")
            && out.ends_with("<p>log in first</p>"),
        "{out}"
    );
    assert_eq!(*log.lock().unwrap(), ["timing in", "auth", "timing out"]);
    // The router's own 404 goes through the middleware too.
    log.lock().unwrap().clear();
    let (out, _) = curl(&["-i", &format!("{base}/nowhere")]);
    assert!(
        out.starts_with("HTTP/1.1 404 Not Found\r\n") && out.contains("X-Elapsed-Us: "),
        "{out}"
    );
    assert_eq!(*log.lock().unwrap(), ["timing in", "auth", "timing out"]);
    // Custom pages keep the status; the page sees the request.
    let (out, _) = curl(&["-i", &format!("{base}/forbidden")]);
    assert!(
        out.starts_with("HTTP/1.1 403 Forbidden\r\n") && out.ends_with("no access to /forbidden"),
        "{out}"
    );
    // A panic: the custom 500 page, on a connection that stays usable.
    let (out, err) = curl(&[
        "-w",
        "\n%{http_code} %{num_connects}\n",
        &format!("{base}/panic"),
        &format!("{base}/forbidden"),
    ]);
    assert_eq!(
        out, "our fault, sorry\n500 1\nno access to /forbidden\n403 0\n",
        "{err}"
    );
}

/// `curl -p -x` through `proxy`, a server whose `CONNECT /{*authority}`
/// route dials the authority and relays (502 when it cannot), to the demo
/// routes on `target`: one request, two through one tunnel, and the 502
/// for an unreachable upstream.
pub fn connect_tunnel_under_curl(proxy: SocketAddr, target: SocketAddr) {
    let via = format!("http://{proxy}");
    let (out, err) = curl(&["-p", "-x", &via, &format!("http://{target}/plaintext")]);
    assert_eq!(out, "Hello, World!", "{err}");
    // Two requests through one tunnel.
    let (out, err) = curl(&[
        "-p",
        "-x",
        &via,
        &format!("http://{target}/plaintext"),
        &format!("http://{target}/reverse/abc"),
    ]);
    assert_eq!(out, "Hello, World!cba", "{err}");
    // An unreachable upstream: the handler's 502.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = request(
        proxy,
        format!("CONNECT {dead} HTTP/1.1\r\nHost: {dead}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 502);
}

/// A server with keep-alive off serving `GET /plaintext` at `addr`: two
/// pipelined requests get one response and `Connection: close`; curl
/// needs a connection per request.
pub fn keep_alive_off_closes_after_each_response(addr: SocketAddr) {
    let out = exchange(
        addr,
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 1, "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    let url = format!("http://{addr}/plaintext");
    let (out, _) = curl(&["-w", "\n%{num_connects}\n", &url, &url]);
    assert_eq!(out, "Hello, World!\n1\nHello, World!\n1\n");
}

/// Runs `python3 -c script port`, bounded; asserts success, returns stdout.
fn python_port(script: &str, port: u16) -> String {
    let out = run(
        Command::new("python3").args(["-c", script, &port.to_string()]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `tracing` output (captured in `logs`) of a TLS server on
/// `tls_port` whose `GET /hello` handler logs `in the handler` (target
/// `wireloom::test`) and answers `hello\n`, certified by the CA in
/// `ca_pem`: curl over TLS (connection accepted with SNI, the handler's
/// event inside the request span, the response event, connection closed),
/// then plain text on the TLS port (a failed handshake).
pub fn tracing_tls_peer(logs: &Captured, ca_pem: &Path, tls_port: u16) {
    let out = curl_raw(&[
        "--cacert",
        &ca_pem.display().to_string(),
        &format!("https://localhost:{tls_port}/hello"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    logs.wait_for(&[
        "wireloom::conn",
        "connection accepted",
        "tls=true",
        "sni=\"localhost\"",
    ]);
    // The handler's own event sits in the request span.
    logs.wait_for(&["request{method=GET path=\"/hello\"", "in the handler"]);
    logs.wait_for(&[
        "wireloom::request",
        "request{method=GET path=\"/hello\"",
        "response",
        "status=200",
        "bytes=6",
        "duration=",
    ]);
    logs.wait_for(&["connection closed", "reason=PeerEof"]);
    // Plain text on the TLS port: the handshake fails.
    let _ = curl_raw(&[&format!("http://127.0.0.1:{tls_port}/hello")]);
    logs.wait_for(&["wireloom::tls", "TLS handshake failed"]);
}

/// The `tracing` output (captured in `logs`) of a plain server on `port`
/// with a short head timeout, under bad peers (Python sockets): a request
/// that could smuggle (`Content-Length` with `Transfer-Encoding`: answered
/// 400, logged with its kind), and a head that never ends (the head
/// timeout, typed).
pub fn tracing_bad_peers(logs: &Captured, port: u16) {
    let answer = python_port(
        r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
"#,
        port,
    );
    assert_eq!(answer.trim(), "HTTP/1.1 400 Bad Request");
    logs.wait_for(&["protocol error", "status=400"]);
    logs.wait_for(&["connection closed", "ProtocolError"]);
    python_port(
        r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n")
s.settimeout(10)
print(s.recv(100).split(b"\r\n")[0].decode())
"#,
        port,
    );
    logs.wait_for(&["wireloom::conn", "timeout=Head"]);
}

/// Python's `ssl` module as a TLS client: connects to 127.0.0.1:`port`
/// verifying the server as `host` against the CA in `ca_pem` (ALPN
/// `http/1.1`), sends `GET path` with `Connection: close`, reads to the
/// end and answers the server's close_notify with its own (`unwrap`, which
/// fails without one). Its stdout: `<TLS version> <ALPN>` on a line, then
/// the raw response; it fails (with the reason on stderr) when the
/// certificate does not verify. Bounded to 20 s.
pub fn python_tls_get(ca_pem: &Path, port: u16, host: &str, path: &str) -> Output {
    const PY_CLIENT: &str = r#"
import socket, ssl, sys
ca, port, host, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
        data = b""
        for _ in range(1000):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        print(s.version(), s.selected_alpn_protocol())
        sys.stdout.write(data.decode())
        s.unwrap()
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(PY_CLIENT)
        .arg(ca_pem)
        .arg(port.to_string())
        .arg(host)
        .arg(path);
    run(&mut cmd, Duration::from_secs(20))
}

/// `GET /` with `Connection: close` on a new connection: all the server
/// sent, as text.
fn get_root(addr: SocketAddr) -> String {
    exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
}

/// A server at `addr` whose 401 error page is `log in first` (200 text)
/// and whose handler answers an empty 401 with `Content-Length: 0` and an
/// `ETag`: the page's own length replaces the handler's content fields
/// (core would refuse the head and the client get nothing).
pub fn error_page_replaces_the_handlers_content_fields(addr: SocketAddr) {
    let out = get_root(addr);
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nlog in first"), "{out}");
    assert!(out.contains("Content-Length: 12\r\n"), "{out}");
    assert!(!out.contains("Content-Length: 0"), "{out}");
    assert!(!out.contains("stale"), "{out}");
}

/// A server at `addr` with a 401 error page whose handler answers 401
/// with two `WWW-Authenticate` (`Basic realm="a"`, `Bearer`) and two
/// `Set-Cookie` (`a=; Max-Age=0`, `b=; Max-Age=0`): every instance stays.
pub fn error_page_keeps_every_instance_of_repeated_fields(addr: SocketAddr) {
    let out = get_root(addr);
    for line in [
        "WWW-Authenticate: Basic realm=\"a\"\r\n",
        "WWW-Authenticate: Bearer\r\n",
        "Set-Cookie: a=; Max-Age=0\r\n",
        "Set-Cookie: b=; Max-Age=0\r\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from {out}");
    }
}

/// A server at `addr` whose handler answers `hello` with
/// `Content-Length: 99`: core refuses the head, the client gets a 500
/// (with a Date) and the close, never silence.
pub fn refused_response_head_is_a_500(addr: SocketAddr) {
    let out = get_root(addr);
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{out}"
    );
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert!(out.contains("\r\nDate: "), "{out}");
    assert!(out.ends_with("\r\n\r\ninternal server error\n"), "{out}");
}

/// A server at `addr` serving the demo routes with `head_timeout` and
/// `body_timeout` of 500 ms and an `idle_timeout` of 700 ms, under slow
/// and broken clients (raw sockets) while curl is served: a slowloris
/// head, a silent connection and a head dripped a byte at a time get the
/// head deadline (408 with `Connection: close` and a Date, or the close);
/// a body that stalls gets 408 and the close; a malformed chunked body 400
/// and the close; an idle keep-alive connection is closed after the idle
/// timeout. Every wait is bounded (4 s).
pub fn slow_clients_are_timed_out_with_408(addr: SocketAddr) {
    // A slowloris client is timed out with 408 while others are served.
    let mut slow = connect(addr);
    slow.write_all(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    let started = Instant::now();
    let (fast, _) = curl(&[&format!("http://{addr}/plaintext")]);
    assert_eq!(fast, "Hello, World!");
    let mut out = String::new();
    slow.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    assert!(
        out.contains("Connection: close\r\n") && out.contains("\r\nDate: "),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // A client that connects and sends nothing: the same deadline.
    let mut silent = connect(addr);
    let started = Instant::now();
    let mut out = String::new();
    let _ = silent.read_to_string(&mut out);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 408 "), "{out}");
    // A client that drips a head one byte at a time does not extend
    // the head deadline.
    let mut drip = connect(addr);
    let started = Instant::now();
    let mut closed = false;
    for b in b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if drip.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let mut out = String::new();
    let _ = drip.read_to_string(&mut out);
    assert!(
        closed || out.starts_with("HTTP/1.1 408 "),
        "dripping client not timed out: {out}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // A body that stalls mid-way is timed out too, and the connection closed.
    let mut stall = connect(addr);
    stall
        .write_all(b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let _ = stall.read_to_end(&mut out);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "stalled body held the connection for {elapsed:?}"
    );
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.starts_with("HTTP/1.1 408 Request Timeout\r\n") && out.contains("Connection: close"),
        "{out}"
    );
    // A malformed chunked body, met while the handler streams it: 400, close.
    let out = exchange(
        addr,
        b"POST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
    );
    assert!(
        out.starts_with("HTTP/1.1 400 Bad Request\r\n") && out.contains("Connection: close"),
        "{out}"
    );
    // An idle keep-alive connection is closed after the idle timeout,
    // without an answer.
    let mut c = Client::new(addr);
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).unwrap().status, 200);
    let started = Instant::now();
    assert!(c.closed());
    let idle = started.elapsed();
    assert!(
        idle > Duration::from_millis(400) && idle < Duration::from_secs(4),
        "{idle:?}"
    );
    // Meanwhile the server kept serving.
    let (fast, _) = curl(&[&format!("http://{addr}/plaintext")]);
    assert_eq!(fast, "Hello, World!");
}

/// A server at `addr` serving the demo routes with the default limits,
/// under requests core answers by itself (400 for a bare LF, a space in a
/// field name, CL + TE, two lengths, no Host; 413, 414, 431, 431, 501,
/// 505, 417): each answer carries `Connection: close` and a `Date` (which
/// `check_date` checks further, given the response) and the connection
/// then closes; after a good pipelined request, the good answer comes
/// first.
pub fn core_error_answers_close_and_carry_a_date(addr: SocketAddr, check_date: &dyn Fn(&Resp)) {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        (0..120)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bare LF", b"GET / HTTP/1.1\nHost: a\n\n".to_vec(), 400),
        ("space in field name", b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n".to_vec(), 400),
        (
            "CL + TE",
            b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
        ("two Content-Lengths", b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(), 400),
        ("no Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("body over the limit", b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n".to_vec(), 413),
        ("long target", long_target.into_bytes(), 414),
        ("long field", big_header.into_bytes(), 431),
        ("too many fields", many_headers.into_bytes(), 431),
        ("unknown coding", b"POST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(), 501),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(), 505),
        ("unknown expectation", b"POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\nx".to_vec(), 417),
    ];
    for (name, req, status) in &cases {
        let mut c = Client::new(addr);
        c.send(req);
        let r = c.response(false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status, *status, "{name}: {}", r.head);
        assert!(r.closes(), "{name}: {}", r.head);
        let date = r
            .header("date")
            .unwrap_or_else(|| panic!("{name}: no Date in {}", r.head));
        assert!(
            date.len() == 29 && date.ends_with(" GMT") && date.as_bytes()[3] == b',',
            "{name}: {date}"
        );
        check_date(&r);
        assert!(c.closed(), "{name}: connection left open");
    }
    // An error after a good request on the same connection: the good
    // answer first, then the error.
    let mut c = Client::new(addr);
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\nHost: a\n\n");
    assert_eq!(c.response(false).unwrap().text(), "Hello, World!");
    let r = c.response(false).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.closes() && r.header("date").is_some(), "{}", r.head);
    check_date(&r);
    assert!(c.closed());
}
