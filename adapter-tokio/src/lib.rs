//! wireloom-tokio: wireloom on tokio. An HTTP/1.1 [`server`] with async
//! handlers, middleware, a router, static files from the mmap file cache
//! and TLS; an HTTP/1.1 [`client`] agent (pool, redirects, timeouts,
//! HTTPS, streaming bodies); an SMTP client ([`smtp`]: implicit TLS,
//! STARTTLS, AUTH, PIPELINING). It runs on the caller's runtime,
//! multi-thread or current-thread.
//!
//! Serve and fetch (a server on a free port, a request to it):
//!
//! ```
//! use wireloom_tokio::client::Agent;
//! use wireloom_tokio::core::http::{Method, StatusCode};
//! use wireloom_tokio::router::Router;
//! use wireloom_tokio::server::{handler, Request, Response, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let mut router = Router::new();
//!     router.route(Method::GET, "/hello/{name}", handler(|req: Request| async move {
//!         Response::text(StatusCode::OK, format!("Hello, {}!", req.param("name").unwrap_or("?")))
//!     }))?;
//!     let server = Server::builder().bind("127.0.0.1:0")?.router(router).build()?;
//!     let url = format!("http://{}/hello/loom", server.local_addrs()[0]);
//!     let handle = server.spawn(); // or `server.run().await`
//!
//!     let res = Agent::new().get(&url).send().await?;
//!     assert_eq!(res.status(), StatusCode::OK);
//!     assert_eq!(res.text(1 << 20).await?, "Hello, loom!");
//!     handle.shutdown();
//!     Ok(())
//! })
//! # }
//! ```
//!
//! Send mail (STARTTLS and AUTH; the message from the core's MIME builder):
//!
//! ```no_run
//! use wireloom_tokio::core::mime::Message;
//! use wireloom_tokio::core::smtp::auth::Credentials;
//! use wireloom_tokio::smtp::{Security, SmtpClient, StartTls};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let message = Message::builder()
//!     .from("alice@example.com")
//!     .to("bob@example.org")
//!     .subject("hi")
//!     .date(std::time::SystemTime::now())
//!     .text("Hello!")
//!     .build()?;
//! let client = SmtpClient::builder("smtp.example.com:587")
//!     .security(Security::StartTls(StartTls::Required))
//!     .credentials(Credentials::password("alice", "secret"))
//!     .build()?;
//! println!("{}", client.send_message(&message).await?.reply);
//! # Ok(()) }
//! ```
//!
//! Everything here is the engine of [`wireloom_io`] written once against
//! its [`Runtime`](wireloom_io::rt::Runtime) trait; this crate lends it
//! tokio's sockets, timers and tasks ([`TokioRuntime`]). With a `tracing`
//! subscriber installed, the server and clients log connections, requests,
//! errors and SMTP replies ([`wireloom_io::trace`]).
//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | [wireloom-io](https://docs.rs/wireloom-io) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | [wireloom-blocking](https://docs.rs/wireloom-blocking) | the toolkit on `std::net` sockets and threads |
//! | **wireloom-tokio** (this one) | the toolkit on tokio |
//! | [wireloom-async-std](https://docs.rs/wireloom-async-std) | the toolkit on async-std and smol |
//! | [wireloom-conformance](https://docs.rs/wireloom-conformance) | the conformance corpus and the `wireloom-conformance` CLI |
//! | [wireloom-testkit](https://docs.rs/wireloom-testkit) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); each
//! re-exports the core as `core`.

pub use wireloom_core as core;
pub use wireloom_io::{cache, router, static_files, tls};

pub mod compat;
mod rt;
pub use rt::{Sleep, TcpStream, TokioRuntime};

#[cfg(feature = "tower")]
pub mod serve;
#[cfg(feature = "tower")]
pub use serve::serve;

#[cfg(feature = "tower")]
pub mod tower {
    //! tower services over `http` types (an axum `Router`) on the server:
    //! [`serve`](crate::serve()) and
    //! [`ServerBuilder::service`](crate::server::ServerBuilder::service)
    //! (see [`wireloom_io::tower`]).
    pub use wireloom_io::tower::{
        from_http_response, into_http_request, BoxError, ConnectionInfo, IncomingBody,
        ServiceHandler,
    };
}

pub mod server {
    //! The HTTP/1.1 server on tokio (see [`wireloom_io::aio::server`]).
    pub use wireloom_io::aio::body::{Body, BodyStream, RequestBody, Upgraded};
    pub use wireloom_io::aio::server::{
        handler, BoxHandler, Handler, Middleware, Next, Request, Response, ServerHandle,
    };
    pub use wireloom_io::http::RequestInfo;

    /// The server on tokio.
    pub type Server = wireloom_io::aio::server::Server<crate::TokioRuntime>;
    /// Its builder.
    pub type ServerBuilder = wireloom_io::aio::server::ServerBuilder<crate::TokioRuntime>;
    /// Static files, looked up on tokio's blocking pool.
    pub type StaticFiles = wireloom_io::aio::server::StaticFiles<crate::TokioRuntime>;
}

pub mod client {
    //! The HTTP/1.1 client on tokio (see [`wireloom_io::aio::client`]): an
    //! [`Agent`] with a pool, redirects, timeouts, HTTPS and streaming
    //! bodies; cheap to clone and shared by many tasks.
    //!
    //! ```no_run
    //! use wireloom_tokio::client::{Agent, AgentConfig};
    //! # async fn run() -> Result<(), wireloom_tokio::client::HttpError> {
    //! let agent = Agent::with_config(AgentConfig {
    //!     max_redirects: 10,
    //!     ..AgentConfig::default()
    //! });
    //! let mut res = agent.post("http://127.0.0.1:8080/api/echo").body("hi").send().await?;
    //! while let Some(piece) = res.chunk().await? {
    //!     println!("{} bytes", piece.len());
    //! }
    //! # Ok(()) }
    //! ```
    pub use wireloom_core::http::pool::PoolConfig;
    pub use wireloom_io::aio::client::{AgentConfig, HttpError, Origin, Timeout};

    /// The agent on tokio.
    pub type Agent = wireloom_io::aio::client::Agent<crate::TokioRuntime>;
    /// A request being built.
    pub type RequestBuilder = wireloom_io::aio::client::RequestBuilder<crate::TokioRuntime>;
    /// A response with its body streaming from the connection.
    pub type Response = wireloom_io::aio::client::Response<crate::TokioRuntime>;
}

pub mod smtp {
    //! The SMTP client on tokio (see [`wireloom_io::aio::smtp`]): implicit
    //! TLS and STARTTLS, AUTH, PIPELINING, several messages per connection,
    //! per-recipient results, streamed bodies.
    //!
    //! ```no_run
    //! use wireloom_tokio::smtp::{Envelope, Security, SmtpClient, StartTls};
    //! # async fn run() -> Result<(), wireloom_tokio::smtp::Error> {
    //! let client = SmtpClient::builder("mail.example.com:587")
    //!     .security(Security::StartTls(StartTls::Required))
    //!     .build()?;
    //! let envelope = Envelope::new("alice@example.com", ["bob@example.org"]);
    //! let delivery = client.send(&envelope, "Subject: hi\r\n\r\nHello!\r\n").await?;
    //! assert!(delivery.recipients.iter().all(|r| r.accepted()));
    //! # Ok(()) }
    //! ```
    pub use wireloom_io::smtp::{
        ClientConfig, ClientError, ClientTimeouts, Credentials, Delivery, Envelope, Error,
        Mechanism, MessageInfo, RecipientResult, Security, SmtpSettings, Stage, StartTls, Timeout,
        TransactionFailure, UsageError,
    };

    /// The SMTP client on tokio.
    pub type SmtpClient = wireloom_io::aio::smtp::SmtpClient<crate::TokioRuntime>;
    /// Its builder.
    pub type SmtpClientBuilder = wireloom_io::smtp::SmtpClientBuilder<SmtpClient>;
    /// One session.
    pub type SmtpConnection = wireloom_io::aio::smtp::SmtpConnection<crate::TokioRuntime>;
}

pub mod ws {
    //! WebSocket on tokio (see [`wireloom_io::aio::ws`]): a route that
    //! upgrades, a `ws://`/`wss://` client, split halves for two tasks, a
    //! handle for any task or thread, and the broadcast [`Hub`].
    //!
    //! ```no_run
    //! use wireloom_tokio::core::http::Method;
    //! use wireloom_tokio::router::Router;
    //! use wireloom_tokio::ws::{upgrade, WebSocket, WsConfig};
    //!
    //! let mut router = Router::new();
    //! router.route(Method::GET, "/echo", upgrade(WsConfig::default(), |mut ws: WebSocket| async move {
    //!     while let Some(m) = ws.recv().await {
    //!         if ws.send(m).await.is_err() { break; }
    //!     }
    //! })).unwrap();
    //! ```
    pub use wireloom_core::ws::{CloseCode, CloseFrame, CloseInfo, Config, Message, WsError};
    pub use wireloom_io::aio::ws::{ClientConfig, ConnectError, WsReader, WsSendError, WsWriter};
    pub use wireloom_io::ws::{
        BroadcastReport, FullPolicy, Hub, Limits, Membership, SendError, UserEvent, WsConfig,
        WsEvent, WsHandle,
    };

    /// A WebSocket connection on tokio.
    pub type WebSocket = wireloom_io::aio::ws::WebSocket<crate::TokioRuntime>;

    /// A route handler that upgrades to WebSocket and runs `f` with the
    /// connection (see [`wireloom_io::aio::ws::upgrade`]).
    pub fn upgrade<F, Fut>(config: WsConfig, f: F) -> crate::server::BoxHandler
    where
        F: Fn(WebSocket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        wireloom_io::aio::ws::upgrade(crate::TokioRuntime, config, f)
    }

    /// Opens a WebSocket to a `ws://` or `wss://` URL.
    pub async fn connect(url: &str, config: &ClientConfig) -> Result<WebSocket, ConnectError> {
        wireloom_io::aio::ws::connect(crate::TokioRuntime, url, config).await
    }
}
