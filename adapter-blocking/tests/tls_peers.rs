//! Real TLS peers: curl and Python `ssl` against our server (which runs
//! wireloom-core's HTTP `ServerConnection` through a [`TlsPump`]), and our
//! client against Python's `http.server` wrapped in `ssl`.

mod tls_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rustls::CertificateError;
use tls_support::*;
use wireloom_blocking::core::http::{
    BodyLength, ResponseHead, ServerConfig, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_blocking::core::Dialogue;
use wireloom_blocking::tls::{PeerClose, ServerTlsConfig, TlsError, TlsStream};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki::{client_config, pki, server_config, write_files};
use wireloom_testkit::process::{first_line, have, run, ChildGuard};
use wireloom_testkit::scenarios::server;

/// What the pump-driven HTTP server saw on one connection.
#[derive(Debug)]
struct Seen {
    targets: Vec<String>,
    sni: Option<String>,
    alpn: Option<String>,
    /// How the client ended the connection (None: it did not within the
    /// linger time).
    close: Option<PeerClose>,
}

/// Serves HTTP over TLS on one accepted socket, exactly as an adapter driver
/// would: socket -> TlsPump -> ServerConnection -> TlsPump -> socket.
/// Every loop is bounded by a deadline.
fn drive_http(mut sock: TcpStream, cfg: &ServerTlsConfig) -> Result<Seen, TlsError> {
    let start = Instant::now();
    let hs_deadline = start + cfg.handshake_timeout();
    let deadline = start + Duration::from_secs(15);
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(TlsError::Io)?;
    let mut pump = cfg.accept()?;
    let mut conn = ServerConnection::new(ServerConfig::default(), start);
    let mut rbuf = vec![0u8; 17 * 1024];
    let mut plain = BytesMut::new();
    let mut seen = Seen {
        targets: Vec::new(),
        sni: None,
        alpn: None,
        close: None,
    };
    let mut closing_since: Option<Instant> = None;
    while Instant::now() < deadline {
        let now = Instant::now();
        // Application: answer every complete request.
        while let Some(ev) = conn.poll_event() {
            match ev {
                ServerEvent::Request(req) => seen.targets.push(req.head.target.to_string()),
                ServerEvent::Data(_) | ServerEvent::Upgrade => {}
                ServerEvent::End(_) => {
                    let body = Bytes::from(format!(
                        "hello {} sni={} alpn={}\n",
                        seen.targets.last().map(String::as_str).unwrap_or("?"),
                        pump.server_name().unwrap_or("-"),
                        String::from_utf8_lossy(pump.alpn_protocol().unwrap_or(b"-")),
                    ));
                    let mut head = ResponseHead::new(StatusCode::OK);
                    head.header("content-type", "text/plain")
                        .expect("static header");
                    conn.send_response(now, head, BodyLength::Known(body.len() as u64))
                        .expect("response");
                    conn.send_data(body).expect("data");
                    conn.send_end(now, None).expect("end");
                }
                ServerEvent::Error(e) => panic!("HTTP error from peer: {e}"),
            }
        }
        // Dialogue output -> pump -> socket.
        while let Some(bytes) = conn.poll_transmit() {
            pump.write_plaintext(&bytes)?;
        }
        if conn.is_closed() && !pump.close_sent() {
            pump.send_close_notify();
            closing_since = Some(now);
        }
        while let Some(wire) = pump.poll_ciphertext() {
            sock.write_all(&wire).map_err(TlsError::Io)?;
        }
        if pump.is_eof() || closing_since.is_some_and(|t| now - t > Duration::from_secs(2)) {
            break;
        }
        if pump.is_handshaking() && now > hs_deadline {
            return Err(TlsError::HandshakeTimeout);
        }
        // Socket -> pump -> dialogue.
        match sock.read(&mut rbuf) {
            Ok(0) => {
                match pump.handle_eof() {
                    Ok(close) => seen.close = Some(close),
                    Err(e) => return Err(e),
                }
                conn.handle_eof(Instant::now());
            }
            Ok(n) => {
                let res = pump.handle_ciphertext_slice(&rbuf[..n], &mut plain);
                if let Err(e) = res {
                    while let Some(alert) = pump.poll_ciphertext() {
                        let _ = sock.write_all(&alert);
                    }
                    return Err(e);
                }
                if seen.sni.is_none() && !pump.is_handshaking() {
                    seen.sni = pump.server_name().map(str::to_owned);
                    seen.alpn = pump
                        .alpn_protocol()
                        .map(|a| String::from_utf8_lossy(a).into_owned());
                }
                if !plain.is_empty() {
                    // An error would come out of poll_event (and panic there).
                    conn.handle_input(Instant::now(), &mut plain);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if conn.poll_timeout().is_some_and(|t| Instant::now() >= t) {
                    conn.handle_timeout(Instant::now());
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                seen.close = Some(PeerClose::Truncated);
                break;
            }
            Err(e) => return Err(TlsError::Io(e)),
        }
    }
    Ok(seen)
}

fn serve_http(
    cfg: ServerTlsConfig,
    n: usize,
) -> (SocketAddr, JoinHandle<Vec<Result<Seen, TlsError>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (sock, _) = listener.accept().expect("accept");
                drive_http(sock, &cfg)
            })
            .collect()
    });
    (addr, h)
}

#[test]
fn curl_against_our_server() {
    if !have("curl") {
        panic!("curl must be installed for this test");
    }
    let p = pki();
    let dir = temp_dir("curl");
    write_files(&p, &dir);
    let (addr, server) = serve_http(server_config(&p, HANDSHAKE), 4);
    let port = addr.port();
    let ca = dir.join("ca.pem");
    let curl = |host: &str, path: &str, verify: bool| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--http1.1", "--max-time", "10"])
            .arg("--resolve")
            .arg(format!("{host}:{port}:127.0.0.1"));
        if verify {
            cmd.arg("--cacert").arg(&ca);
        }
        cmd.arg(format!("https://{host}:{port}{path}"));
        run(&mut cmd, Duration::from_secs(20))
    };
    let out = curl("localhost", "/one", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello /one sni=localhost alpn=http/1.1\n"
    );
    let out = curl("a.test", "/two", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello /two sni=a.test alpn=http/1.1\n"
    );
    // By IP address: no SNI, default certificate with the 127.0.0.1 SAN.
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--http1.1", "--max-time", "10", "--cacert"])
        .arg(&ca)
        .arg(format!("https://127.0.0.1:{port}/ip"));
    let out = run(&mut cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello /ip sni=- alpn=http/1.1\n"
    );
    // Without our CA, curl refuses the certificate (exit 60).
    let out = curl("localhost", "/untrusted", false);
    assert_eq!(
        out.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let seen = server.join().expect("server thread");
    eprintln!("curl connections as seen by the server: {seen:#?}");
    let ok: Vec<&Seen> = seen[..3]
        .iter()
        .map(|s| s.as_ref().expect("served"))
        .collect();
    assert_eq!(ok[0].targets, ["/one"]);
    assert_eq!(ok[1].sni.as_deref(), Some("a.test"));
    assert_eq!(ok[2].sni, None);
    assert_eq!(ok[0].alpn.as_deref(), Some("http/1.1"));
    let refused = seen[3].as_ref().expect_err("refused by curl");
    assert!(refused.alert().is_some(), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_ssl_client_against_our_server() {
    if !have("python3") {
        panic!("python3 must be installed for this test");
    }
    let p = pki();
    let dir = temp_dir("pyclient");
    write_files(&p, &dir);
    let (addr, server) = serve_http(server_config(&p, HANDSHAKE), 2);
    let ca = dir.join("ca.pem");
    let py = |host: &str| server::python_tls_get(&ca, addr.port(), host, "/py");
    let out = py("b.test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("TLSv1.3 http/1.1\nHTTP/1.1 200 OK\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n\r\nhello /py sni=b.test alpn=http/1.1\n"),
        "{text}"
    );
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );

    // Python checks the host name: the default certificate is not valid for it.
    let out = py("nope.test");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CERTIFICATE_VERIFY_FAILED"), "{err}");

    let seen = server.join().expect("server thread");
    eprintln!("python connections as seen by the server: {seen:#?}");
    let first = seen[0].as_ref().expect("served");
    assert_eq!(first.targets, ["/py"]);
    // Python's unwrap() answers our close_notify with its own.
    assert_eq!(first.close, Some(PeerClose::CloseNotify));
    assert!(seen[1].as_ref().expect_err("refused").alert().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

const PY_SERVER: &str = r#"
import http.server, ssl, sys
seen = []
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("python saw %s sni=%s alpn=%s\n" % (
            self.path, (seen[-1] if seen else None) or "-",
            self.connection.selected_alpn_protocol())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def log_message(self, *args):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.set_alpn_protocols(["http/1.1"])
ctx.sni_callback = lambda sock, name, c: seen.append(name)
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

#[test]
fn our_client_against_python_https_server() {
    if !have("python3") {
        panic!("python3 must be installed for this test");
    }
    let p = pki();
    let dir = temp_dir("pyserver");
    write_files(&p, &dir);
    let child = Command::new("python3")
        .arg("-c")
        .arg(PY_SERVER)
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python");
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    // The port line; bounded by a reader thread and a timeout.
    let line =
        first_line(stdout, Duration::from_secs(20)).expect("python server did not report its port");
    let port: u16 = line.trim().parse().expect("port number");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let client = client_config(&p.ca_pem);

    let mut c = connect(addr, &client, "localhost").expect("handshake with Python");
    assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
    c.write_all(b"GET /from-wireloom HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write request");
    // Python closes without close_notify: accept the truncation as EOF, as
    // HTTP with Content-Length may.
    c.set_accept_truncation(true);
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).expect("read response");
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\npython saw /from-wireloom sni=localhost alpn=http/1.1\n"),
        "{text}"
    );
    eprintln!(
        "python server closed with {}",
        if c.peer_closed() {
            "close_notify"
        } else {
            "TCP FIN only (truncation)"
        }
    );

    // Host name not in Python's certificate: refused by our client.
    let err = connect(addr, &client, "a.test").expect_err("wrong name");
    assert!(
        matches!(
            err,
            TlsError::InvalidPeerCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{err:?}"
    );
    // Through the Transport enum as the HTTP client will use it.
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut t = TlsStream::client(sock, &client, "127.0.0.1").expect("stream");
    t.handshake(Instant::now() + Duration::from_secs(10))
        .expect("handshake by IP");
    t.set_accept_truncation(true);
    let mut t = wireloom_blocking::tls::Transport::from(t);
    t.write_all(b"GET /ip HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let mut resp = Vec::new();
    t.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp);
    assert!(
        text.ends_with("python saw /ip sni=- alpn=http/1.1\n"),
        "{text}"
    );
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
