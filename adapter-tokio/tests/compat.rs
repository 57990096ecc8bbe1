//! tokio's IO traits over the engine's bodies and upgraded connections
//! (`wireloom_tokio::compat`), driven over real loopback sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wireloom_tokio::compat::{reader_body, TokioIo};
use wireloom_tokio::core::http::{Method, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Body, Request, Response, Server, Upgraded};

fn start() -> (std::net::SocketAddr, wireloom_tokio::server::ServerHandle) {
    let path = std::env::temp_dir().join(format!("wireloom-compat-{}.bin", std::process::id()));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/file",
        handler(move |_: Request| {
            let path = path.clone();
            async move {
                let f = tokio::fs::File::open(&path).await.unwrap();
                Response::new(StatusCode::OK).with_body(reader_body(f))
            }
        }),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/upload",
        handler(|mut req: Request| async move {
            // The request body through tokio's AsyncRead.
            let mut body = TokioIo(req.take_body());
            let mut all = Vec::new();
            body.read_to_end(&mut all).await.unwrap();
            Response::text(StatusCode::OK, format!("{}", all.len()))
        }),
    )
    .unwrap();
    r.route(
        Method::GET,
        "/echo",
        handler(|_: Request| async {
            Response::new(StatusCode::SWITCHING_PROTOCOLS)
                .header("Upgrade", "echo")
                .header("Connection", "upgrade")
                .with_body(Body::upgrade(|up: Upgraded| async move {
                    let mut io = TokioIo(up.io);
                    io.write_all(&up.read_ahead).await.unwrap();
                    let mut buf = [0u8; 4096];
                    loop {
                        match io.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if io.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = io.shutdown().await;
                }))
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(server.run());
    });
    (addr, handle)
}

fn read_all(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn tokio_reader_body_upload_and_upgrade() {
    let (addr, handle) = start();

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /file HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = read_all(&mut s);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    // De-chunk and compare with the file.
    let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut rest = &out[body_at..];
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        rest = &rest[eol + 2..];
        if n == 0 {
            break;
        }
        body.extend_from_slice(&rest[..n]);
        rest = &rest[n + 2..];
    }
    let want: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert!(body == want, "streamed file differs ({} bytes)", body.len());

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .unwrap();
    let text = String::from_utf8(read_all(&mut s)).unwrap();
    assert!(text.ends_with("\r\n\r\n11"), "{text}");

    let mut s = TcpStream::connect(addr).unwrap();
    // Bytes right after the head are read ahead and handed over.
    s.write_all(
        b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nfirst;",
    )
    .unwrap();
    s.write_all(b"second").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let text = String::from_utf8(read_all(&mut s)).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\nfirst;second"), "{text}");
    handle.shutdown();
}
