//! wireloom-async-std: wireloom on async-std and on smol. An HTTP/1.1
//! [`server`] with async handlers, middleware, a router, static files from
//! the mmap file cache and TLS.
//!
//! Everything here is the engine of [`wireloom_io`] written once against
//! its [`Runtime`](wireloom_io::rt::Runtime) trait; this crate lends it
//! `futures-io` sockets and timers from `async-io` (the reactor async-std
//! and smol share), the `blocking` pool, and task spawning on the executor
//! [`AsyncRuntime`] names: async-std's, smol's global one (the default), or
//! a `smol::Executor` of your own. The same server runs unchanged on each.
//!
//! Cargo features: `smol` (smol's global executor) and `async-std`
//! (async-std's), both on by default; an application on one runtime can
//! turn the other off (`default-features = false, features = ["smol"]`)
//! and not build it. A `smol::Executor` of your own needs neither.
//!
//! ```no_run
//! use wireloom_async_std::server::{Request, Response, Server};
//! use wireloom_async_std::core::http::{Method, StatusCode};
//! use wireloom_async_std::router::Router;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut router = Router::new();
//! router.route(Method::GET, "/hello/{name}", wireloom_async_std::server::handler(
//!     |req: Request| async move {
//!         Response::text(StatusCode::OK, format!("Hello, {}!", req.param("name").unwrap_or("?")))
//!     },
//! )).unwrap();
//! // Tasks go to smol's global executor; `Server::builder_on(AsyncRuntime::async_std())`
//! // spawns them on async-std's instead.
//! let server = Server::builder().bind("127.0.0.1:8080")?.router(router).build()?;
//! smol::block_on(server.run())
//! # }
//! ```

pub use wireloom_core as core;
pub use wireloom_io::{cache, router, static_files, tls};

mod rt;
pub use rt::{AsyncRuntime, Executor, TcpListener, TcpStream, Timer};

pub mod server {
    //! The HTTP/1.1 server on async-std or smol (see
    //! [`wireloom_io::aio::server`]).
    pub use wireloom_io::aio::body::{Body, BodyStream, RequestBody, Upgraded};
    pub use wireloom_io::aio::server::{
        handler, BoxHandler, Handler, Middleware, Next, Request, Response, ServerHandle,
    };
    pub use wireloom_io::http::RequestInfo;

    /// The server on [`AsyncRuntime`](crate::AsyncRuntime).
    pub type Server = wireloom_io::aio::server::Server<crate::AsyncRuntime>;
    /// Its builder.
    pub type ServerBuilder = wireloom_io::aio::server::ServerBuilder<crate::AsyncRuntime>;
    /// Static files, looked up on the `blocking` pool.
    pub type StaticFiles = wireloom_io::aio::server::StaticFiles<crate::AsyncRuntime>;
}
