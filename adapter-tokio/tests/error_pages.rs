//! Custom error pages and responses core refuses, on the tokio server, over
//! loopback with raw bytes (exact wire checks).

mod common;

use common::{start, Flavor, Running};
use wireloom_testkit::http::exchange;
use wireloom_testkit::scenarios::server;
use wireloom_tokio::core::http::StatusCode;
use wireloom_tokio::server::{Request, Response, Server};

fn serve<F, Fut>(handler: F) -> Running
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    start(
        Flavor::Current,
        Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .handler(handler)
            .error_page(StatusCode::UNAUTHORIZED, |_| {
                Response::text(StatusCode::OK, "log in first")
            })
            .error_page(StatusCode::NOT_FOUND, |_| panic!("error page bug")),
    )
}

/// A handler's `Content-Length: 0` on an empty 401 does not carry over to
/// the page (core would refuse the head and the client get nothing).
#[test]
fn page_replaces_the_handlers_content_fields() {
    let srv = serve(|_| async {
        Response::new(StatusCode::UNAUTHORIZED)
            .header("Content-Length", "0")
            .header("ETag", "\"stale\"")
    });
    server::error_page_replaces_the_handlers_content_fields(srv.addr);
}

/// Every instance of a repeated field (two challenges, two cookies) stays.
#[test]
fn page_keeps_every_instance_of_repeated_fields() {
    let srv = serve(|_| async {
        Response::new(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Basic realm=\"a\"")
            .header("WWW-Authenticate", "Bearer")
            .header("Set-Cookie", "a=; Max-Age=0")
            .header("Set-Cookie", "b=; Max-Age=0")
    });
    server::error_page_keeps_every_instance_of_repeated_fields(srv.addr);
}

/// A response core refuses (its Content-Length contradicts its body) is
/// answered 500 (with a Date) and the connection closed, never left
/// without an answer.
#[test]
fn refused_response_head_is_a_500() {
    let srv =
        serve(|_| async { Response::text(StatusCode::OK, "hello").header("Content-Length", "99") });
    server::refused_response_head_is_a_500(srv.addr);
}

/// An error page that panics: the plain 500, and the server lives on.
#[test]
fn panicking_error_page_gives_the_plain_500() {
    let srv = serve(|req: Request| async move {
        if req.path() == "/missing" {
            Response::new(StatusCode::NOT_FOUND)
        } else {
            Response::text(StatusCode::OK, "fine")
        }
    });
    let out = exchange(
        srv.addr,
        b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\nfine"), "{out}");
    assert!(wireloom_testkit::net::wait_until(
        std::time::Duration::from_secs(5),
        || srv.handle.active_connections() == 0
    ));
}
