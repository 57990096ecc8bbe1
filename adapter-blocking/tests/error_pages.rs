//! Custom error pages and responses core refuses, over loopback with raw
//! bytes (exact wire checks).

use std::net::SocketAddr;

use wireloom_blocking::server::{Request, Response, Server, ServerHandle};
use wireloom_core::http::StatusCode;
use wireloom_testkit::http::exchange;

fn serve(
    handler: impl Fn(&mut Request<'_>) -> Response + Send + Sync + 'static,
) -> (SocketAddr, ServerHandle) {
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(2)
        .handler(handler)
        .error_page(StatusCode::UNAUTHORIZED, |_| {
            Response::text(StatusCode::OK, "log in first")
        })
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    (addr, server.spawn().unwrap())
}

fn get(addr: SocketAddr) -> String {
    exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
}

/// A handler's `Content-Length: 0` on an empty 401 does not carry over to
/// the page (core would refuse the head and the client get nothing).
#[test]
fn page_replaces_the_handlers_content_fields() {
    let (addr, _h) = serve(|_| {
        Response::new(StatusCode::UNAUTHORIZED)
            .header("Content-Length", "0")
            .header("ETag", "\"stale\"")
    });
    let out = get(addr);
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nlog in first"), "{out}");
    assert!(out.contains("Content-Length: 12\r\n"), "{out}");
    assert!(!out.contains("Content-Length: 0"), "{out}");
    assert!(!out.contains("stale"), "{out}");
}

/// Every instance of a repeated field (two challenges, two cookies) stays.
#[test]
fn page_keeps_every_instance_of_repeated_fields() {
    let (addr, _h) = serve(|_| {
        Response::new(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Basic realm=\"a\"")
            .header("WWW-Authenticate", "Bearer")
            .header("Set-Cookie", "a=; Max-Age=0")
            .header("Set-Cookie", "b=; Max-Age=0")
    });
    let out = get(addr);
    for line in [
        "WWW-Authenticate: Basic realm=\"a\"\r\n",
        "WWW-Authenticate: Bearer\r\n",
        "Set-Cookie: a=; Max-Age=0\r\n",
        "Set-Cookie: b=; Max-Age=0\r\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from {out}");
    }
}

/// A response core refuses (its Content-Length contradicts its body) is
/// answered 500 and the connection closed, never left without an answer.
#[test]
fn refused_response_head_is_a_500() {
    let (addr, _h) =
        serve(|_| Response::text(StatusCode::OK, "hello").header("Content-Length", "99"));
    let out = get(addr);
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{out}"
    );
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\ninternal server error\n"), "{out}");
}
