//! wireloom-tokio: wireloom on tokio. An HTTP/1.1 [`server`] with async
//! handlers, middleware, a router, static files from the mmap file cache
//! and TLS; an HTTP/1.1 [`client`] agent (pool, redirects, timeouts,
//! HTTPS, streaming bodies); an SMTP client ([`smtp`]: implicit TLS,
//! STARTTLS, AUTH, PIPELINING). It runs on the caller's runtime,
//! multi-thread or current-thread.
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
//!
//! The client, from any task (the agent is cheap to clone):
//!
//! ```no_run
//! # async fn fetch() -> Result<(), wireloom_tokio::client::HttpError> {
//! let agent = wireloom_tokio::client::Agent::new();
//! let res = agent.get("http://127.0.0.1:8080/plaintext").send().await?;
//! println!("{}", res.text(1 << 20).await?);
//! # Ok(()) }
//! ```

pub use wireloom_core as core;
pub use wireloom_io::{cache, router, static_files, tls};

pub mod compat;
mod rt;
pub use rt::{Sleep, TcpStream, TokioRuntime};

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
