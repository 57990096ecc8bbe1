//! A blocking HTTP/1.1 server: a bounded pool of worker threads, each
//! driving one connection at a time through the core
//! [`wireloom_core::http::ServerConnection`].
//!
//! ```no_run
//! use wireloom_blocking::server::{Request, Response, Server};
//! use wireloom_core::http::{Method, StatusCode};
//!
//! let mut router = wireloom_blocking::router::Router::new();
//! router.route(Method::GET, "/hello/{name}", Server::handler(|req: &mut Request<'_>| {
//!     Response::text(StatusCode::OK, format!("Hello, {}!", req.param("name").unwrap_or("?")))
//! })).unwrap();
//! let server = Server::builder().bind("127.0.0.1:8080").unwrap().router(router).build().unwrap();
//! server.run().unwrap();
//! ```
//!
//! It reads as every wireloom server does:
//!
//! ```text
//!  builder ──build──► Server ──spawn──► accept loops ──► worker pool
//!  (builder.rs)                         (accept.rs: 503 over the limit)
//!        ┌───────────────────────────────────────────────────┘
//!        ▼
//!  driver call: the loop on Driver::advance (conn.rs)
//!        │ ServerEvent::Request
//!        ▼
//!  handler call: route, middleware, handler, error pages (dispatch.rs)
//!        │ Response
//!        ▼
//!  response writer: core starts it, the body goes out in pieces (respond.rs)
//! ```
//!
//! The API types ([`Request`], [`Body`], [`Response`], [`Handler`],
//! [`Middleware`]) are in `api.rs`; what they share with the async
//! servers (request accessors, routing and error-page decisions, how a
//! response starts) is in [`wireloom_io::http`].

mod accept;
mod api;
mod builder;
mod conn;
mod dispatch;
mod respond;

pub use api::{
    Acceptor, Body, BodySource, BoxHandler, FileChunks, FileSource, Handler, Middleware, Request,
    Response, Upgraded,
};
pub use builder::{Server, ServerBuilder, ServerHandle};
pub use wireloom_io::http::RequestInfo;
