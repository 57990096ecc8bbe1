//! A handler slower than the write timeout still gets its answer written:
//! the write deadline runs from when the batch is written, not from the
//! wake-up that brought the request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wireloom_tokio::core::http::{Method, StatusCode};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Request, Response, Server};

#[test]
fn slow_handler_answer_is_written() {
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/slow",
        handler(|_: Request| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            // Too big for one write: the flush has to wait for the socket.
            Response::text(StatusCode::OK, "x".repeat(16 << 20))
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .write_timeout(Duration::from_millis(200))
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
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(out.len() - body_at, 16 << 20, "the whole body arrives");
    handle.shutdown();
}
