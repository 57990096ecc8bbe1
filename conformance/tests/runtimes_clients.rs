//! Same bytes on every runtime, client side: the HTTP agent and the SMTP
//! client of each adapter (blocking, tokio, wireloom-async-std under smol)
//! run one script against a capturing peer on loopback, and the bytes each
//! puts on the wire must be identical (and match the insta snapshot, with
//! the ephemeral port normalised).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wireloom_core::smtp::client::{Envelope, Security};

/// Everything each accepted connection sent, in order of connection.
type Capture = Arc<Mutex<Vec<Vec<u8>>>>;

/// A peer on loopback that serves each connection on a thread of its own
/// with `serve`, recording what the client sent into the capture.
fn peer(serve: fn(TcpStream, Capture)) -> (SocketAddr, Capture) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let cap: Capture = Arc::default();
    let c = Arc::clone(&cap);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let c = Arc::clone(&c);
            std::thread::spawn(move || serve(s, c));
        }
    });
    (addr, cap)
}

/// Starts recording a new connection; returns its index in the capture.
fn new_connection(cap: &Capture) -> usize {
    let mut v = cap.lock().unwrap();
    v.push(Vec::new());
    v.len() - 1
}

/// An HTTP peer that answers every request `200 ok` (keep-alive).
fn serve_http(s: TcpStream, cap: Capture) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let idx = new_connection(&cap);
    let record = |b: &[u8]| cap.lock().unwrap()[idx].extend_from_slice(b);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        // Head.
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            record(&line);
            let end = line == b"\r\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let is_head = text.starts_with("head ");
        if let Some(cl) = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
        {
            let mut body = vec![0; cl.trim().parse().unwrap()];
            r.read_exact(&mut body).unwrap();
            record(&body);
        } else if text.contains("transfer-encoding: chunked") {
            loop {
                let mut size = Vec::new();
                r.read_until(b'\n', &mut size).unwrap();
                record(&size);
                let n = usize::from_str_radix(
                    String::from_utf8_lossy(&size)
                        .trim()
                        .split(';')
                        .next()
                        .unwrap(),
                    16,
                )
                .unwrap();
                let mut chunk = vec![0; n + 2];
                if n == 0 {
                    // Trailer section: lines until an empty one.
                    loop {
                        let mut line = Vec::new();
                        r.read_until(b'\n', &mut line).unwrap();
                        record(&line);
                        if line == b"\r\n" {
                            break;
                        }
                    }
                    break;
                }
                r.read_exact(&mut chunk).unwrap();
                record(&chunk);
            }
        }
        let answer: &[u8] = if is_head {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        if w.write_all(answer).is_err() {
            return;
        }
    }
}

/// An SMTP peer (PIPELINING, 8BITMIME) that accepts everything.
fn serve_smtp(s: TcpStream, cap: Capture) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let idx = new_connection(&cap);
    let record = |b: &[u8]| cap.lock().unwrap()[idx].extend_from_slice(b);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let _ = w.write_all(b"220 peer.test ESMTP\r\n");
    let mut data = false;
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        record(&line);
        let reply: &[u8] = if data {
            if line == b".\r\n" {
                data = false;
                b"250 2.0.0 queued\r\n"
            } else {
                continue;
            }
        } else {
            let cmd = String::from_utf8_lossy(&line).to_ascii_uppercase();
            if cmd.starts_with("EHLO") {
                b"250-peer.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n"
            } else if cmd.starts_with("DATA") {
                data = true;
                b"354 go ahead\r\n"
            } else if cmd.starts_with("QUIT") {
                let _ = w.write_all(b"221 2.0.0 bye\r\n");
                return;
            } else {
                b"250 2.0.0 ok\r\n"
            }
        };
        if w.write_all(reply).is_err() {
            return;
        }
    }
}

/// A `futures-io` reader over bytes, as the blocking agent gets a
/// `std::io::Cursor`: the same streamed body for every client.
struct Reader(&'static [u8]);

impl futures_io::AsyncRead for Reader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Poll::Ready(Ok(n))
    }
}

const STREAMED: &[u8] = b"streamed body";
const MESSAGE: &[u8] = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: same bytes\r\n\r\nHello,\r\n.a line starting with a dot\r\nbye\r\n";

fn envelope() -> Envelope {
    Envelope {
        from: Some("a@example.org".into()),
        to: vec!["b@example.net".into(), "c@example.net".into()],
    }
}

fn blocking_http(base: &str) {
    let agent = wireloom_blocking::client::Agent::new();
    let get = |p: &str| agent.get(&format!("{base}{p}"));
    get("/first").send().unwrap().into_bytes(100).unwrap();
    agent
        .post(&format!("{base}/known"))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .unwrap()
        .into_bytes(100)
        .unwrap();
    agent
        .put(&format!("{base}/streamed"))
        .body_reader(std::io::Cursor::new(STREAMED))
        .send()
        .unwrap()
        .into_bytes(100)
        .unwrap();
    agent.head(&format!("{base}/head")).send().unwrap();
}

macro_rules! async_http {
    ($agent:expr, $base:expr) => {{
        let agent = $agent;
        let base = $base;
        agent
            .get(&format!("{base}/first"))
            .send()
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap();
        agent
            .post(&format!("{base}/known"))
            .header("Content-Type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap();
        agent
            .put(&format!("{base}/streamed"))
            .body_reader(Reader(STREAMED))
            .send()
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap();
        agent.head(&format!("{base}/head")).send().await.unwrap();
    }};
}

fn normalise(bytes: &[u8], port: u16) -> String {
    String::from_utf8_lossy(bytes).replace(&format!(":{port}"), ":<port>")
}

#[test]
fn every_runtime_sends_the_same_http_requests() {
    let mut runs: Vec<(&str, String)> = Vec::new();
    for runtime in ["blocking", "tokio", "smol"] {
        let (addr, cap) = peer(serve_http);
        let base = format!("http://{addr}");
        match runtime {
            "blocking" => blocking_http(&base),
            "tokio" => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async { async_http!(wireloom_tokio::client::Agent::new(), &base) }),
            _ => wireloom_async_std::AsyncRuntime::smol()
                .block_on(async { async_http!(wireloom_async_std::client::Agent::new(), &base) }),
        }
        let conns = cap.lock().unwrap().clone();
        assert_eq!(conns.len(), 1, "{runtime}: one keep-alive connection");
        runs.push((runtime, normalise(&conns[0], addr.port())));
    }
    insta::assert_snapshot!("http_client_requests", runs[0].1);
    for (runtime, got) in &runs[1..] {
        assert_eq!(got, &runs[0].1, "{runtime} differs from blocking");
    }
}

#[test]
fn every_runtime_sends_the_same_smtp_session() {
    let mut runs: Vec<(&str, String)> = Vec::new();
    for runtime in ["blocking", "tokio", "smol"] {
        let (addr, cap) = peer(serve_smtp);
        let server = addr.to_string();
        match runtime {
            "blocking" => {
                let c = wireloom_blocking::smtp::SmtpClient::builder(server)
                    .hello_name("client.test")
                    .security(Security::None)
                    .build()
                    .unwrap();
                c.send(&envelope(), MESSAGE).unwrap();
            }
            "tokio" => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let c = wireloom_tokio::smtp::SmtpClient::builder(server)
                        .hello_name("client.test")
                        .security(Security::None)
                        .build()
                        .unwrap();
                    c.send(&envelope(), MESSAGE).await.unwrap();
                }),
            _ => wireloom_async_std::AsyncRuntime::smol().block_on(async {
                let c = wireloom_async_std::smtp::SmtpClient::builder(server)
                    .hello_name("client.test")
                    .security(Security::None)
                    .build()
                    .unwrap();
                c.send(&envelope(), MESSAGE).await.unwrap();
            }),
        }
        // The session ends with QUIT; give the peer a moment to record it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let done = cap
                .lock()
                .unwrap()
                .first()
                .is_some_and(|c| c.ends_with(b"QUIT\r\n"));
            if done || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let conns = cap.lock().unwrap().clone();
        assert_eq!(conns.len(), 1, "{runtime}: one session");
        runs.push((runtime, String::from_utf8_lossy(&conns[0]).into_owned()));
    }
    insta::assert_snapshot!("smtp_client_session", runs[0].1);
    for (runtime, got) in &runs[1..] {
        assert_eq!(got, &runs[0].1, "{runtime} differs from blocking");
    }
}
