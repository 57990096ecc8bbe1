//! The async HTTP/1.1 client, written once for every runtime: an
//! [`Agent`] with a connection pool, redirects, timeouts and HTTPS, on the
//! core [`ClientConnection`] driven by the generic [`Driver`].
//!
//! ```text
//! Agent::get(url) ─ .header() .body() / .body_stream() / .body_reader() .timeout() ─> send().await
//!     │  Walk (redirects, credential stripping)      ┌───────────── pool (core Pool) ◄─┐
//!     └─> exchange: checkout or connect (TCP, TLS) ──┤ send head + body, wait for head │
//!         dead pooled connection: retried once       └─> Response ─ chunk().await ... ─┘
//!         (core retry_on_fresh_connection)               (its end returns the connection)
//! ```
//!
//! Every decision is core's or [`crate::http_client`]'s: which idle
//! connection to reuse and whether it may go back ([`Pool`],
//! [`ClientConnection::can_pool`]), whether a failure is retried
//! ([`Attempts`], core's `retry_on_fresh_connection`), whether a redirect is followed and
//! what it strips ([`Walk`]), the `Host` and `User-Agent` fields. This
//! module moves bytes and runs timers.
//!
//! The agent is cheap to clone (an `Arc` inside) and may be used from many
//! tasks at once; each request checks a connection out of the pool and its
//! response's end puts it back.
//!
//! ```no_run
//! # async fn demo<R: wireloom_io::rt::Runtime + Default>() -> Result<(), wireloom_io::http_client::HttpError> {
//! use wireloom_io::aio::client::Agent;
//! let agent = Agent::<R>::new();
//! let mut res = agent.get("http://127.0.0.1:8080/plaintext").send().await?;
//! assert_eq!(res.status().as_u16(), 200);
//! while let Some(piece) = res.chunk().await? {
//!     println!("{} bytes", piece.len());
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use futures_io::AsyncRead;
use wireloom_core::http::pool::Pool;
use wireloom_core::http::{ClientConnection, Method, RequestHead, ResponseHead};
use wireloom_core::Dialogue;

use super::body::{poll_read_pieces, reader_stream, BodyStream, Collect};
use super::conn::{client_handshake, Conn};
use super::driver::Driver;
use crate::http_client::{body_event, head_event, Attempts, RequestParts, ResponseInfo, Walk};
use crate::rt::{connect_host, poll_until, Runtime, Timer};
use crate::tls::{ClientTlsConfig, TlsError};

pub use crate::http_client::{HttpError, Origin, Timeout};

/// Agent settings; TLS for `https` URLs is a [`ClientTlsConfig`] (the
/// handshake is bounded by its handshake timeout).
pub type AgentConfig = crate::http_client::AgentConfig<ClientTlsConfig>;

/// One connection: the transport under the generic driver, and core's
/// client connection. Always boxed ([`Pooled`]): it moves on every request
/// (pool, request, response, pool), and 600 bytes of it would be copied
/// each time.
struct Connection<R: Runtime> {
    drv: Driver<R, Conn<R::Tcp>>,
    http: ClientConnection,
}

/// A boxed [`Connection`].
type Pooled<R> = Box<Connection<R>>;

struct Inner<R: Runtime> {
    rt: R,
    config: AgentConfig,
    pool: Mutex<Pool<Origin, Pooled<R>>>,
}

/// An HTTP client with a connection pool; cheap to clone, usable from many
/// tasks at once.
pub struct Agent<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Agent<R> {
    fn clone(&self) -> Self {
        Agent {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: Runtime> fmt::Debug for Agent<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.inner.config)
            .field("idle", &self.idle_connections())
            .finish()
    }
}

impl<R: Runtime + Default> Default for Agent<R> {
    fn default() -> Self {
        Agent::new()
    }
}

impl<R: Runtime + Default> Agent<R> {
    /// An agent with default settings (no TLS: see [`AgentConfig::tls`]).
    pub fn new() -> Agent<R> {
        Agent::with_config(AgentConfig::default())
    }

    /// An agent with `config`.
    pub fn with_config(config: AgentConfig) -> Agent<R> {
        Agent::with_runtime(R::default(), config)
    }
}

impl<R: Runtime> Agent<R> {
    /// An agent on `rt` with `config`.
    pub fn with_runtime(rt: R, config: AgentConfig) -> Agent<R> {
        let pool = Pool::new(config.pool.clone());
        Agent {
            inner: Arc::new(Inner {
                rt,
                config,
                pool: Mutex::new(pool),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    /// Idle pooled connections now.
    pub fn idle_connections(&self) -> usize {
        self.pool().len()
    }

    /// A request builder.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<R> {
        RequestBuilder {
            agent: self.clone(),
            parts: RequestParts::new(method, url),
            body: ReqBody::Empty,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> RequestBuilder<R> {
        self.request(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(&self, url: &str) -> RequestBuilder<R> {
        self.request(Method::POST, url)
    }

    /// `PUT url`.
    pub fn put(&self, url: &str) -> RequestBuilder<R> {
        self.request(Method::PUT, url)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> RequestBuilder<R> {
        self.request(Method::DELETE, url)
    }

    /// `HEAD url`.
    pub fn head(&self, url: &str) -> RequestBuilder<R> {
        self.request(Method::HEAD, url)
    }

    /// The pool, even if a task panicked while holding it (its bookkeeping
    /// stays consistent: every change is one call).
    fn pool(&self) -> MutexGuard<'_, Pool<Origin, Pooled<R>>> {
        self.inner.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection to `origin` that is still open and silent.
    fn checkout(&self, origin: &Origin) -> Option<Pooled<R>> {
        loop {
            let mut conn = self.pool().checkout(origin, Instant::now())?;
            // Probed outside the lock; a dead one is dropped (closed).
            if conn.drv.is_idle_and_open() {
                return Some(conn);
            }
        }
    }

    /// Puts a connection whose response ended back into the pool, if core
    /// says it can carry another request.
    fn checkin(&self, origin: Origin, conn: Pooled<R>) {
        if conn.http.can_pool(&conn.drv.buf) {
            let evicted = self.pool().checkin(origin, conn, Instant::now());
            drop(evicted);
        }
    }

    /// A new connection to `origin`: TCP, then TLS for https.
    async fn connect(
        &self,
        origin: &Origin,
        deadline: Option<Instant>,
    ) -> Result<Pooled<R>, HttpError> {
        let Inner { rt, config, .. } = &*self.inner;
        let host = origin.dial_host();
        let by = earliest(Instant::now() + config.connect_timeout, deadline)?;
        let tcp = match connect_host(rt, host, origin.port, by).await {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(timed_out(deadline, Timeout::Connect))
            }
            Err(e) => return Err(HttpError::Connect(e)),
        };
        let io = if origin.https {
            let tls = config.tls.as_ref().ok_or(HttpError::Tls(TlsError::Usage(
                "https needs a TLS configuration (AgentConfig::tls)",
            )))?;
            let by = earliest(Instant::now() + tls.handshake_timeout(), deadline)?;
            let t = match client_handshake(rt, tcp, tls, host, by).await {
                Ok(t) => t,
                Err(TlsError::HandshakeTimeout)
                    if deadline.is_some_and(|d| Instant::now() >= d) =>
                {
                    return Err(HttpError::Timeout(Timeout::Total))
                }
                Err(e) => return Err(HttpError::Tls(e)),
            };
            Conn::Tls(Box::new(t))
        } else {
            Conn::Plain(tcp)
        };
        Ok(Box::new(Connection {
            drv: Driver::new(rt.clone(), io),
            http: ClientConnection::new(config.connection_config()),
        }))
    }

    /// Sends one request (no redirects) and reads the response head,
    /// retrying once on a fresh connection when core allows it.
    async fn exchange(
        &self,
        walk: &Walk,
        body: &mut ReqBody,
        deadline: Option<Instant>,
    ) -> Result<Response<R>, HttpError> {
        let origin = walk.origin()?;
        let user_agent = self.inner.config.user_agent.as_deref();
        let mut attempts = Attempts::new(walk.method(), body.is_replayable());
        loop {
            // Built for each attempt (a retry is rare): a clone kept for
            // a retry cost six allocations on every request.
            let head = walk.request_head(user_agent)?;
            let pooled = self.checkout(&origin);
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect(&origin, deadline).await?,
            };
            match self.send_on(&mut conn, head, body, deadline).await {
                Ok(head) => {
                    return Ok(Response {
                        info: ResponseInfo::new(head, walk.url()),
                        conn: Some(conn),
                        origin,
                        agent: self.clone(),
                        pending: Bytes::new(),
                        done: false,
                        deadline,
                        timer: None,
                    })
                }
                Err(e) if attempts.retry(reused, &e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the request on `conn` and waits for the final response head.
    async fn send_on(
        &self,
        conn: &mut Connection<R>,
        head: RequestHead,
        body: &mut ReqBody,
        deadline: Option<Instant>,
    ) -> Result<ResponseHead, HttpError> {
        if let Some(s) = body.start(&mut conn.http, Instant::now(), head)? {
            loop {
                let next = poll_until(&self.inner.rt, deadline, |cx| s.as_mut().poll_next(cx))
                    .await
                    .ok_or(HttpError::Timeout(Timeout::Total))?;
                match next {
                    None => break,
                    Some(Err(e)) => return Err(HttpError::RequestBody(e)),
                    Some(Ok(piece)) if piece.is_empty() => {}
                    Some(Ok(piece)) => {
                        conn.http.send_data(piece).map_err(HttpError::Usage)?;
                        self.flush(conn, deadline).await?;
                    }
                }
            }
            conn.http
                .send_end(Instant::now(), None)
                .map_err(HttpError::Usage)?;
        }
        loop {
            self.flush(conn, deadline).await?;
            while let Some(ev) = conn.http.poll_event() {
                if let Some(head) = head_event(ev) {
                    return head;
                }
            }
            if conn.drv.peer_closed() {
                // Core reports a close before the response itself; this
                // only guards against waiting on a closed transport.
                return Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            match poll_until(&self.inner.rt, deadline, |cx| {
                conn.drv.poll_wait(cx, &mut conn.http)
            })
            .await
            {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(HttpError::Io(e)),
                None => return Err(HttpError::Timeout(Timeout::Total)),
            }
        }
    }

    /// Writes what core queued, within the write timeout.
    async fn flush(
        &self,
        conn: &mut Connection<R>,
        deadline: Option<Instant>,
    ) -> Result<(), HttpError> {
        let by = earliest(Instant::now() + self.inner.config.write_timeout, deadline)?;
        let Connection { drv, http } = conn;
        match poll_until(&self.inner.rt, Some(by), |cx| drv.poll_flush(cx, http)).await {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(HttpError::Io(e)),
            None => Err(timed_out(deadline, Timeout::Write)),
        }
    }
}

/// The earlier of a step's own bound and the request's deadline; the
/// total timeout when that already passed.
fn earliest(step: Instant, deadline: Option<Instant>) -> Result<Instant, HttpError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(HttpError::Timeout(Timeout::Total)),
        Some(d) => Ok(step.min(d)),
        None => Ok(step),
    }
}

/// A step's bound passed: the total timeout if that is what ended it.
fn timed_out(deadline: Option<Instant>, step: Timeout) -> HttpError {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        HttpError::Timeout(Timeout::Total)
    } else {
        HttpError::Timeout(step)
    }
}

type ReqBody = crate::http_client::SendBody<BodyStream>;

/// One request being built; [`send`](RequestBuilder::send) sends it.
pub struct RequestBuilder<R: Runtime> {
    agent: Agent<R>,
    parts: RequestParts,
    body: ReqBody,
}

impl<R: Runtime> fmt::Debug for RequestBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("parts", &self.parts)
            .field("body", &self.body)
            .finish()
    }
}

impl<R: Runtime> RequestBuilder<R> {
    /// Adds a header (an invalid one makes `send` fail with `BadHeader`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.parts.header(name, value);
        self
    }

    /// A body from bytes (sent with Content-Length; sent again on a retry
    /// or a 307/308 redirect).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ReqBody::Bytes(body.into());
        self
    }

    /// A streamed body (sent chunked, each piece written before the next
    /// is asked for; not replayed on redirect or retry). An error from the
    /// stream fails the request with [`HttpError::RequestBody`].
    pub fn body_stream(
        mut self,
        body: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    ) -> Self {
        self.body = ReqBody::Stream(Box::pin(body));
        self
    }

    /// A streamed body read from a `futures-io` reader (as
    /// [`body_stream`](Self::body_stream)).
    pub fn body_reader(mut self, body: impl AsyncRead + Send + Unpin + 'static) -> Self {
        self.body = ReqBody::Stream(reader_stream(body));
        self
    }

    /// Bounds this whole request (overrides [`AgentConfig::total_timeout`]).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.parts.timeout(d);
        self
    }

    /// Overrides the agent's redirect limit for this request (0: off).
    pub fn redirects(mut self, n: u32) -> Self {
        self.parts.redirects(n);
        self
    }

    /// Sends the request; resolves once the response head is in. Follows
    /// redirects, and retries an idempotent request once on a fresh
    /// connection when a pooled one turns out closed.
    pub async fn send(self) -> Result<Response<R>, HttpError> {
        let RequestBuilder {
            agent,
            parts,
            mut body,
        } = self;
        let (mut walk, deadline) = parts.start(&agent.inner.config, Instant::now())?;
        loop {
            let started = crate::trace::client_started();
            let res = agent.exchange(&walk, &mut body, deadline).await;
            crate::trace::client_exchange(
                walk.method(),
                walk.url().as_str(),
                started,
                res.as_ref().map(|r| r.status()).map_err(|e| e as _),
            );
            let res = res?;
            let hop = walk.follow(res.status(), res.header("location"), body.is_replayable())?;
            let Some(hop) = hop else {
                return Ok(res);
            };
            // Drain the redirect's body so its connection can be reused.
            let _ = res.bytes(64 * 1024).await;
            body.redirected(hop);
        }
    }
}

/// A response whose body streams from the connection: [`chunk`]
/// (zero-copy pieces), a [`Stream`], or a `futures-io` [`AsyncRead`].
/// Reading it to the end returns the connection to the pool; dropping it
/// earlier closes the connection.
///
/// [`chunk`]: Response::chunk
pub struct Response<R: Runtime> {
    info: ResponseInfo,
    conn: Option<Pooled<R>>,
    origin: Origin,
    agent: Agent<R>,
    pending: Bytes,
    done: bool,
    deadline: Option<Instant>,
    /// The total deadline's timer, armed the first time the body waits.
    timer: Option<R::Timer>,
}

impl<R: Runtime> fmt::Debug for Response<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url())
            .field("head", self.head())
            .finish()
    }
}

/// The status, head, fields and URL ([`ResponseInfo`]).
impl<R: Runtime> std::ops::Deref for Response<R> {
    type Target = ResponseInfo;
    fn deref(&self) -> &ResponseInfo {
        &self.info
    }
}

impl<R: Runtime> Response<R> {
    /// The poll form of [`chunk`](Response::chunk).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, HttpError>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Ok(Some(std::mem::take(&mut self.pending))));
        }
        if self.done {
            return Poll::Ready(Ok(None));
        }
        let r = self.poll_body(cx);
        if let Poll::Ready(r) = &r {
            if !matches!(r, Ok(Some(_))) {
                self.done = true;
                match r {
                    Ok(_) => self.release(),
                    Err(_) => self.conn = None,
                }
            }
        }
        r
    }

    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, HttpError>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        loop {
            while let Some(ev) = conn.http.poll_event() {
                if let Some(r) = body_event(ev) {
                    return Poll::Ready(r);
                }
            }
            if conn.drv.peer_closed() {
                return Poll::Ready(Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into())));
            }
            let waited = match conn.drv.poll_flush(cx, &mut conn.http) {
                Poll::Ready(Ok(())) => conn.drv.poll_wait(cx, &mut conn.http),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
            match waited {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(HttpError::Io(e))),
                Poll::Pending => {
                    let Some(deadline) = self.deadline else {
                        return Poll::Pending;
                    };
                    let rt = &self.agent.inner.rt;
                    let timer = self.timer.get_or_insert_with(|| rt.timer(deadline));
                    return match timer.poll_fire(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(HttpError::Timeout(Timeout::Total))),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    /// The next piece of the body without copying; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The whole body, or [`HttpError::BodyTooLarge`] beyond `limit` bytes.
    pub async fn bytes(mut self, limit: u64) -> Result<Bytes, HttpError> {
        let mut all = Collect::new(limit);
        while let Some(c) = self.chunk().await? {
            if !all.push(c) {
                return Err(HttpError::BodyTooLarge(limit));
            }
        }
        Ok(all.finish())
    }

    /// The whole body as UTF-8 (lossy), or [`HttpError::BodyTooLarge`]
    /// beyond `limit` bytes.
    pub async fn text(self, limit: u64) -> Result<String, HttpError> {
        let b = self.bytes(limit).await?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Returns the connection to the pool if it can carry another request.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.agent.checkin(self.origin.clone(), conn);
        }
    }
}

// Nothing in a response is pinned: the runtime value is only cloned.
impl<R: Runtime> Unpin for Response<R> {}

impl<R: Runtime> Stream for Response<R> {
    type Item = Result<Bytes, HttpError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx).map(Result::transpose)
    }
}

impl<R: Runtime> AsyncRead for Response<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut pending = std::mem::take(&mut this.pending);
        let r = poll_read_pieces(&mut pending, buf, || this.poll_chunk(cx).map_err(into_io));
        this.pending = pending;
        r
    }
}

/// An [`HttpError`] seen through `io::Read`-style traits: IO errors as
/// they are, timeouts as `TimedOut`, the rest carried inside.
fn into_io(e: HttpError) -> io::Error {
    match e {
        HttpError::Io(e) => e,
        HttpError::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}
