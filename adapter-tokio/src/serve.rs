//! `serve(listener, app)`: an axum `Router` (or any tower service over
//! `http` types) on wireloom's server, the way `axum::serve` runs it on
//! hyper (feature `tower`, on by default).
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use wireloom_tokio::tower::IncomingBody;
//!
//! # async fn run() -> std::io::Result<()> {
//! // Any `tower::Service<http::Request<IncomingBody>>` whose response body
//! // is an `http_body::Body`: here a plain function (an axum `Router`
//! // goes in the same place, unchanged).
//! let app = tower::service_fn(|req: Request<IncomingBody>| async move {
//!     let text = format!("hello from {}\n", req.uri().path());
//!     Ok::<_, Infallible>(Response::new(http_body_util::Full::new(bytes::Bytes::from(text))))
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! wireloom_tokio::serve(listener, app)
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await
//! # }
//! ```
//!
//! For TLS, limits, timeouts, a connection cap or wireloom routes next to
//! the service, use the builder: `Server::builder().bind(addr)?.service(app)`
//! (see [`ServerBuilder::service`](crate::server::ServerBuilder::service)).
//!
//! Not supported through this path: upgrades driven by hyper's
//! `OnUpgrade` extension, so axum's `WebSocketUpgrade` extractor answers
//! 426 (register a [`ws::upgrade`](crate::ws) route on the builder next to
//! the service instead: routes win over the service), and axum's
//! `ConnectInfo` extractor (the peer address and TLS server name are in
//! the request extensions as
//! [`ConnectionInfo`](crate::tower::ConnectionInfo)).

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;

use tower_service::Service;
use wireloom_io::rt::BoxFuture;
use wireloom_io::tower::{BoxError, IncomingBody};

use crate::server::Server;

/// A listening socket [`serve`] accepts: tokio's or std's.
pub trait Listener {
    /// The socket as a std listener (the server sets it non-blocking and
    /// registers it with the runtime).
    fn into_std_listener(self) -> io::Result<std::net::TcpListener>;
}

impl Listener for tokio::net::TcpListener {
    fn into_std_listener(self) -> io::Result<std::net::TcpListener> {
        self.into_std()
    }
}

impl Listener for std::net::TcpListener {
    fn into_std_listener(self) -> io::Result<std::net::TcpListener> {
        Ok(self)
    }
}

/// Serves `service` on `listener` until the process ends (or, with
/// [`Serve::with_graceful_shutdown`], until a signal). Await it; it is
/// driven by the current tokio runtime, multi-thread or current-thread.
/// Each request calls a clone of `service`.
pub fn serve<L, S, B>(listener: L, service: S) -> Serve<S>
where
    L: Listener,
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    Serve {
        listener: listener.into_std_listener(),
        service,
    }
}

/// A service to serve on a listener: await it (see [`serve`]).
#[must_use = "a Serve does nothing until awaited"]
pub struct Serve<S> {
    listener: io::Result<std::net::TcpListener>,
    service: S,
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .finish()
    }
}

impl<S> Serve<S> {
    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Ok(l) => l.local_addr(),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }

    /// Stops gracefully once `signal` resolves: no new connections, the
    /// requests in flight finish (their responses carry
    /// `Connection: close`), idle connections close; the future resolves
    /// when the last connection has closed.
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<S, F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
        }
    }
}

/// [`Serve`] with a shutdown signal: await it.
#[must_use = "a WithGracefulShutdown does nothing until awaited"]
pub struct WithGracefulShutdown<S, F> {
    serve: Serve<S>,
    signal: F,
}

impl<S, F> std::fmt::Debug for WithGracefulShutdown<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .finish()
    }
}

fn build<S, B>(serve: Serve<S>) -> io::Result<Server>
where
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    Server::builder()
        .listener(serve.listener?)
        .service(serve.service)
        .build()
}

impl<S, B> IntoFuture for Serve<S>
where
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = BoxFuture<'static, io::Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { build(self)?.run().await })
    }
}

impl<S, B, F> IntoFuture for WithGracefulShutdown<S, F>
where
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
    F: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = BoxFuture<'static, io::Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let server = build(self.serve)?;
            let handle = server.handle();
            let mut run = pin!(server.run());
            let mut signal = pin!(self.signal);
            let mut signalled = false;
            std::future::poll_fn(|cx| {
                if !signalled && signal.as_mut().poll(cx).is_ready() {
                    signalled = true;
                    handle.shutdown();
                }
                match run.as_mut().poll(cx) {
                    Poll::Ready(r) => Poll::Ready(r),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        })
    }
}
