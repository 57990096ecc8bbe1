//! wireloom-async-std: wireloom on async-std and on smol. An HTTP/1.1
//! [`server`] with async handlers, middleware, a router, static files from
//! the mmap file cache and TLS; an HTTP/1.1 [`client`] agent (pool,
//! redirects, timeouts, HTTPS, streaming bodies); an SMTP client
//! ([`smtp`]: implicit TLS, STARTTLS, AUTH, PIPELINING).
//!
//! Serve and fetch (a server on a free port, a request to it; tasks on
//! smol's global executor, the default [`AsyncRuntime`]):
//!
//! ```
//! use wireloom_async_std::client::Agent;
//! use wireloom_async_std::core::http::{Method, StatusCode};
//! use wireloom_async_std::router::Router;
//! use wireloom_async_std::server::{handler, Request, Response, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     let mut router = Router::new();
//!     router.route(Method::GET, "/hello/{name}", handler(|req: Request| async move {
//!         Response::text(StatusCode::OK, format!("Hello, {}!", req.param("name").unwrap_or("?")))
//!     }))?;
//!     // `Server::builder_on(AsyncRuntime::async_std())` runs on async-std's executor.
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
//! use wireloom_async_std::core::mime::Message;
//! use wireloom_async_std::core::smtp::auth::Credentials;
//! use wireloom_async_std::smtp::{Security, SmtpClient, StartTls};
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
//! `futures-io` sockets and timers from `async-io` (the reactor async-std
//! and smol share), the `blocking` pool, and task spawning on the executor
//! [`AsyncRuntime`] names: async-std's, smol's global one (the default), or
//! a `smol::Executor` of your own. The same server runs unchanged on each.
//! With a `tracing` subscriber installed, the server and clients log
//! connections, requests, errors and SMTP replies
//! ([`wireloom_io::trace`]).
//!
//! Cargo features: `smol` (smol's global executor) and `async-std`
//! (async-std's), both on by default; an application on one runtime can
//! turn the other off (`default-features = false, features = ["smol"]`)
//! and not build it. A `smol::Executor` of your own needs neither.
//!
//! The client, from any task (the agent is cheap to clone); its tasks and
//! blocking calls (DNS) go to the agent's [`AsyncRuntime`]:
//!
//! ```no_run
//! use wireloom_async_std::client::{Agent, AgentConfig};
//! use wireloom_async_std::AsyncRuntime;
//!
//! # fn main() -> Result<(), wireloom_async_std::client::HttpError> {
//! smol::block_on(async {
//!     let agent = Agent::new(); // smol's global executor
//!     let res = agent.get("http://127.0.0.1:8080/plaintext").send().await?;
//!     println!("{}", res.text(1 << 20).await?);
//!     Ok::<_, wireloom_async_std::client::HttpError>(())
//! })?;
//! async_std::task::block_on(async {
//!     let agent = Agent::with_runtime(AsyncRuntime::async_std(), AgentConfig::default());
//!     let res = agent.get("http://127.0.0.1:8080/plaintext").send().await?;
//!     println!("{}", res.text(1 << 20).await?);
//!     Ok(())
//! })
//! # }
//! ```

//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | [wireloom-io](https://docs.rs/wireloom-io) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | [wireloom-blocking](https://docs.rs/wireloom-blocking) | the toolkit on `std::net` sockets and threads |
//! | [wireloom-tokio](https://docs.rs/wireloom-tokio) | the toolkit on tokio |
//! | **wireloom-async-std** (this one) | the toolkit on async-std and smol |
//! | [wireloom-conformance](https://docs.rs/wireloom-conformance) | the conformance corpus and the `wireloom-conformance` CLI |
//! | [wireloom-testkit](https://docs.rs/wireloom-testkit) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); each
//! re-exports the core as `core`.

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

pub mod client {
    //! The HTTP/1.1 client on async-std or smol (see
    //! [`wireloom_io::aio::client`]): an [`Agent`] with a pool, redirects,
    //! timeouts, HTTPS and streaming bodies; cheap to clone and shared by
    //! many tasks. [`Agent::new`] runs on the default
    //! [`AsyncRuntime`](crate::AsyncRuntime) (smol's global executor);
    //! [`Agent::with_runtime`] takes another.
    //!
    //! ```no_run
    //! use wireloom_async_std::client::{Agent, AgentConfig};
    //! # async fn run() -> Result<(), wireloom_async_std::client::HttpError> {
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

    /// The agent on [`AsyncRuntime`](crate::AsyncRuntime).
    pub type Agent = wireloom_io::aio::client::Agent<crate::AsyncRuntime>;
    /// A request being built.
    pub type RequestBuilder = wireloom_io::aio::client::RequestBuilder<crate::AsyncRuntime>;
    /// A response with its body streaming from the connection.
    pub type Response = wireloom_io::aio::client::Response<crate::AsyncRuntime>;
}

pub mod smtp {
    //! The SMTP client on async-std or smol (see
    //! [`wireloom_io::aio::smtp`]): implicit TLS and STARTTLS, AUTH,
    //! PIPELINING, several messages per connection, per-recipient results,
    //! streamed bodies. [`SmtpClient::builder`] runs on the default
    //! [`AsyncRuntime`](crate::AsyncRuntime) (smol's global executor);
    //! [`SmtpClient::with_runtime`] takes another.
    //!
    //! ```no_run
    //! use wireloom_async_std::smtp::{Envelope, Security, SmtpClient, StartTls};
    //! # async fn run() -> Result<(), wireloom_async_std::smtp::Error> {
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

    /// The SMTP client on [`AsyncRuntime`](crate::AsyncRuntime).
    pub type SmtpClient = wireloom_io::aio::smtp::SmtpClient<crate::AsyncRuntime>;
    /// Its builder.
    pub type SmtpClientBuilder = wireloom_io::smtp::SmtpClientBuilder<SmtpClient>;
    /// One session.
    pub type SmtpConnection = wireloom_io::aio::smtp::SmtpConnection<crate::AsyncRuntime>;
}

pub mod ws {
    //! WebSocket on async-std and smol (see [`wireloom_io::aio::ws`]): a
    //! route that upgrades, a `ws://`/`wss://` client, split halves for two
    //! tasks, a handle for any task or thread, and the broadcast [`Hub`].
    //! Each function takes the [`AsyncRuntime`](crate::AsyncRuntime) to
    //! spawn and time on.
    //!
    //! ```no_run
    //! use wireloom_async_std::core::http::Method;
    //! use wireloom_async_std::router::Router;
    //! use wireloom_async_std::ws::{upgrade, WebSocket, WsConfig};
    //! use wireloom_async_std::AsyncRuntime;
    //!
    //! let mut router = Router::new();
    //! let rt = AsyncRuntime::new(wireloom_async_std::Executor::Smol);
    //! router.route(Method::GET, "/echo", upgrade(rt, WsConfig::default(), |mut ws: WebSocket| async move {
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

    /// A WebSocket connection on async-std/smol.
    pub type WebSocket = wireloom_io::aio::ws::WebSocket<crate::AsyncRuntime>;

    /// A route handler that upgrades to WebSocket and runs `f` with the
    /// connection (see [`wireloom_io::aio::ws::upgrade`]).
    pub fn upgrade<F, Fut>(
        rt: crate::AsyncRuntime,
        config: WsConfig,
        f: F,
    ) -> crate::server::BoxHandler
    where
        F: Fn(WebSocket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        wireloom_io::aio::ws::upgrade(rt, config, f)
    }

    /// Opens a WebSocket to a `ws://` or `wss://` URL.
    pub async fn connect(
        rt: crate::AsyncRuntime,
        url: &str,
        config: &ClientConfig,
    ) -> Result<WebSocket, ConnectError> {
        wireloom_io::aio::ws::connect(rt, url, config).await
    }
}
