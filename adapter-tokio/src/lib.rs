//! wireloom-tokio: wireloom on tokio. An HTTP/1.1 [`server`] with async
//! handlers, middleware, a router, static files from the mmap file cache
//! and TLS; it runs on the caller's runtime, multi-thread or
//! current-thread.
//!
//! Everything here is the engine of [`wireloom_io`] written once against
//! its [`Runtime`](wireloom_io::rt::Runtime) trait; this crate lends it
//! tokio's sockets, timers and tasks ([`TokioRuntime`]).
//!
//! ```no_run
//! use wireloom_tokio::server::{Request, Response, Server};
//! use wireloom_tokio::core::http::{Method, StatusCode};
//! use wireloom_tokio::router::Router;
//!
//! # async fn run() -> std::io::Result<()> {
//! let mut router = Router::new();
//! router.route(Method::GET, "/hello/{name}", wireloom_tokio::server::handler(
//!     |req: Request| async move {
//!         Response::text(StatusCode::OK, format!("Hello, {}!", req.param("name").unwrap_or("?")))
//!     },
//! )).unwrap();
//! let server = Server::builder().bind("127.0.0.1:8080")?.router(router).build()?;
//! server.run().await
//! # }
//! ```

pub use wireloom_core as core;
pub use wireloom_io::{cache, router, static_files, tls};

mod rt;
pub use rt::{Sleep, TcpStream, TokioRuntime};

pub mod server {
    //! The HTTP/1.1 server on tokio (see [`wireloom_io::aio::server`]).
    pub use wireloom_io::aio::body::{Body, BodyStream, RequestBody, Upgraded};
    pub use wireloom_io::aio::server::{
        handler, BoxHandler, Handler, Middleware, Next, Request, Response, ServerHandle,
    };

    /// The server on tokio.
    pub type Server = wireloom_io::aio::server::Server<crate::TokioRuntime>;
    /// Its builder.
    pub type ServerBuilder = wireloom_io::aio::server::ServerBuilder<crate::TokioRuntime>;
    /// Static files, looked up on tokio's blocking pool.
    pub type StaticFiles = wireloom_io::aio::server::StaticFiles<crate::TokioRuntime>;
}
