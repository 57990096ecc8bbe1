//! Custom error pages and responses core refuses, over loopback with raw
//! bytes (exact wire checks).

use std::net::SocketAddr;

use wireloom_blocking::server::{Request, Response, Server, ServerHandle};
use wireloom_core::http::StatusCode;
use wireloom_testkit::scenarios::server;

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

/// A handler's `Content-Length: 0` on an empty 401 does not carry over to
/// the page (core would refuse the head and the client get nothing).
#[test]
fn page_replaces_the_handlers_content_fields() {
    let (addr, _h) = serve(|_| {
        Response::new(StatusCode::UNAUTHORIZED)
            .header("Content-Length", "0")
            .header("ETag", "\"stale\"")
    });
    server::error_page_replaces_the_handlers_content_fields(addr);
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
    server::error_page_keeps_every_instance_of_repeated_fields(addr);
}

/// A response core refuses (its Content-Length contradicts its body) is
/// answered 500 (with a Date) and the connection closed, never left
/// without an answer.
#[test]
fn refused_response_head_is_a_500() {
    let (addr, _h) =
        serve(|_| Response::text(StatusCode::OK, "hello").header("Content-Length", "99"));
    server::refused_response_head_is_a_500(addr);
}
