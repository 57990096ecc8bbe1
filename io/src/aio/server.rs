//! The async HTTP/1.1 server, written once for every runtime.
//!
//! Each connection is one task running the shape every wireloom server
//! has: accept, drive the core [`ServerConnection`], call the handler,
//! write the answer. Pipelined requests already read are all answered
//! before one vectored write goes out; a streamed or file body is written
//! piece by piece, so a slow reader slows the producer instead of growing
//! a buffer. The request body streams to the handler while the handler
//! runs (the same task polls both).

use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::file::Segment;
use wireloom_core::http::{
    Framing, HeaderMap, Method, RequestHead, ServerConfig, ServerConnection, ServerEvent,
};
use wireloom_core::Dialogue;

use super::body::{self, Body, BodyState, RequestBody, Upgraded};
use super::conn::{Conn, TlsConn};
use super::driver::Driver;
use crate::http::{
    refused_connection, route, start_response, ErrorPages, NoRoute, RequestInfo, ResponseBody,
    ServerOptions,
};
use crate::router::{Params, Router};
use crate::rt::{timeout_at, BoxFuture, Runtime, Timer};
use crate::static_files::{Pieces, StaticDir};
use crate::tls::ServerTlsConfig;
use crate::trace::{self, RequestTrace};
use tracing::Instrument as _;

/// Largest piece of a file body handed to the socket at once.
const CHUNK: usize = 256 * 1024;
/// Time allowed for closing a connection (TLS close_notify, FIN).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest lingering close after an answer that ends a connection.
const LINGER: Duration = Duration::from_secs(2);
/// Lingering close of a connection refused over `max_connections`.
const REFUSE_LINGER: Duration = Duration::from_millis(500);
/// Most input dropped by a lingering close.
const LINGER_BYTES: usize = 64 << 20;
/// Pause before accepting again after `accept` failed (out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A response of the async server.
pub type Response = crate::http::Response<Body>;

/// A request as a handler sees it: the head, path parameters and peer
/// (the shared [`RequestInfo`], whose accessors it dereferences to), the
/// TLS server name, and the body streaming from the connection.
pub struct Request {
    info: RequestInfo,
    server_name: Option<String>,
    body: RequestBody,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("head", self.head())
            .field("peer", &self.peer_addr())
            .finish()
    }
}

impl std::ops::Deref for Request {
    type Target = RequestInfo;
    fn deref(&self) -> &RequestInfo {
        &self.info
    }
}

impl Request {
    /// Takes the request apart: what the handler knows of it, the TLS
    /// server name, the body.
    pub fn into_parts(self) -> (RequestInfo, Option<String>, RequestBody) {
        (self.info, self.server_name, self.body)
    }

    /// A request with an empty body (for tests and for calling handlers
    /// directly).
    pub fn new(head: RequestHead) -> Request {
        Request {
            info: RequestInfo::new(head, Framing::Empty, Params::default(), None),
            server_name: None,
            body: RequestBody::empty(),
        }
    }

    /// The TLS SNI name the client asked for, on a TLS connection.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }
    /// The body.
    pub fn body_mut(&mut self) -> &mut RequestBody {
        &mut self.body
    }
    /// Takes the body (it stays readable while the response is not sent).
    pub fn take_body(&mut self) -> RequestBody {
        std::mem::take(&mut self.body)
    }
    /// The whole body, refused with `InvalidData` beyond `limit` bytes.
    pub async fn read_body(&mut self, limit: usize) -> io::Result<Bytes> {
        self.body.read_all(limit).await
    }
}

/// Something that answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, req: Request) -> BoxFuture<'static, Response>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        Box::pin(self(req))
    }
}

/// A handler shared between tasks.
pub type BoxHandler = Arc<dyn Handler>;

/// Boxes a closure (or any handler) for a [`Router`].
pub fn handler(h: impl Handler) -> BoxHandler {
    Arc::new(h)
}

/// Wraps every handler (the router's 404 and 405 included): logging,
/// authentication, timing...
pub trait Middleware: Send + Sync + 'static {
    /// Handles `req`, calling `next.run(req)` for the rest of the chain (or not).
    fn call(&self, req: Request, next: Next) -> BoxFuture<'static, Response>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, req: Request, next: Next) -> BoxFuture<'static, Response> {
        Box::pin(self(req, next))
    }
}

/// The rest of the middleware chain, then the handler.
pub struct Next {
    chain: Arc<[Arc<dyn Middleware>]>,
    at: usize,
    /// The handler, or the router's own answer.
    endpoint: Result<BoxHandler, NoRoute>,
    pages: Arc<ErrorPages<Body>>,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").field("at", &self.at).finish()
    }
}

impl Next {
    /// Runs the rest of the chain.
    pub fn run(mut self, req: Request) -> BoxFuture<'static, Response> {
        if let Some(m) = self.chain.get(self.at).cloned() {
            self.at += 1;
            return m.call(req, self);
        }
        match self.endpoint {
            Ok(h) => h.call(req),
            Err(why) => {
                let r = self.pages.no_route(&why, req.head());
                Box::pin(async move { r })
            }
        }
    }
}

/// A wake-up for everyone waiting on a graceful shutdown.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waiters: Mutex<HashMap<u64, Waker>>,
}

impl Signal {
    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }
    fn register(&self, id: u64, w: &Waker) {
        let mut m = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(&id) {
            Some(old) if old.will_wake(w) => {}
            _ => {
                m.insert(id, w.clone());
            }
        }
        drop(m);
        // A `fire` between the caller's `is_set` check and the insert
        // drained the map before this waker was in it: wake it here, or
        // that task sleeps through the shutdown.
        if self.is_set() {
            w.wake_by_ref();
        }
    }
    fn forget(&self, id: u64) {
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
    fn fire(&self) {
        self.set.store(true, Ordering::Release);
        let ws: Vec<Waker> = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, w)| w)
            .collect();
        for w in ws {
            w.wake();
        }
    }
}

struct Shared<R: Runtime> {
    rt: R,
    config: ServerConfig,
    router: Router<BoxHandler>,
    /// Answers what no route matches (instead of the router's 404).
    fallback: Option<BoxHandler>,
    middleware: Arc<[Arc<dyn Middleware>]>,
    pages: Arc<ErrorPages<Body>>,
    tls: Option<ServerTlsConfig>,
    write_timeout: Duration,
    max_connections: usize,
    active: AtomicUsize,
    ids: AtomicU64,
    /// Vectored write batches of the connections that have ended.
    write_batches: AtomicU64,
    shutdown: Signal,
}

/// Configures a [`Server`].
pub struct ServerBuilder<R: Runtime> {
    rt: R,
    opts: ServerOptions<BoxHandler, Arc<dyn Middleware>, Body>,
    tls: Option<ServerTlsConfig>,
    fallback: Option<BoxHandler>,
    /// Listeners bound by the caller.
    listeners: Vec<std::net::TcpListener>,
}

impl<R: Runtime> ServerBuilder<R> {
    /// A builder for a server on `rt`.
    pub fn new(rt: R) -> ServerBuilder<R> {
        ServerBuilder {
            rt,
            opts: ServerOptions::new(10_000),
            tls: None,
            fallback: None,
            listeners: Vec::new(),
        }
    }

    crate::server_builder_methods!(opts);

    /// Connections served at once (default 10,000); more are answered 503
    /// and closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.opts.max_connections = n.max(1);
        self
    }

    /// Serves TLS (with SNI certificate selection, ALPN http/1.1).
    pub fn tls(mut self, config: ServerTlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Answers every request that no route matches with `h` (instead of
    /// the router's 404; a path that exists for other methods still gets
    /// 405). Middleware wraps it as it wraps routes. With no routes at
    /// all, `h` answers every request (any target form), unrouted.
    pub fn fallback(mut self, h: impl Handler) -> Self {
        self.fallback = Some(Arc::new(h));
        self
    }

    /// Serves on a listener bound by the caller (besides the addresses
    /// given to [`bind`](Self::bind)). It is set non-blocking and
    /// registered with the runtime when serving starts.
    pub fn listener(mut self, l: std::net::TcpListener) -> Self {
        self.listeners.push(l);
        self
    }

    /// Binds the listeners.
    pub fn build(self) -> io::Result<Server<R>> {
        let mut listeners = self.listeners;
        if listeners.is_empty() || !self.opts.addrs.is_empty() {
            listeners.extend(self.opts.listen()?);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let o = self.opts;
        Ok(Server {
            listeners,
            addrs,
            shared: Arc::new(Shared {
                rt: self.rt,
                config: o.config,
                router: o.router,
                fallback: self.fallback,
                middleware: o.middleware.into(),
                pages: Arc::new(o.pages),
                tls: self.tls,
                write_timeout: o.write_timeout,
                max_connections: o.max_connections,
                active: AtomicUsize::new(0),
                ids: AtomicU64::new(0),
                write_batches: AtomicU64::new(0),
                shutdown: Signal::default(),
            }),
        })
    }
}

/// A bound server, not yet serving.
pub struct Server<R: Runtime> {
    /// Bound; registered with the runtime when serving starts (so a server
    /// can be built outside the runtime).
    listeners: Vec<std::net::TcpListener>,
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared<R>>,
}

/// A running server; [`ServerHandle::shutdown`] stops it gracefully.
#[derive(Clone)]
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    state: Arc<dyn ServerState>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addrs", &self.addrs)
            .finish()
    }
}

trait ServerState: Send + Sync {
    fn active(&self) -> usize;
    fn write_batches(&self) -> u64;
    fn stop(&self);
}

impl<R: Runtime> ServerState for Shared<R> {
    fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
    fn write_batches(&self) -> u64 {
        self.write_batches.load(Ordering::Relaxed)
    }
    fn stop(&self) {
        self.shutdown.fire();
    }
}

impl<R: Runtime> Server<R> {
    /// A builder on the runtime's default handle.
    pub fn builder() -> ServerBuilder<R>
    where
        R: Default,
    {
        ServerBuilder::new(R::default())
    }

    /// A builder on `rt`.
    pub fn builder_on(rt: R) -> ServerBuilder<R> {
        ServerBuilder::new(rt)
    }

    /// The addresses listened on (with the real port when bound to port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A handle to stop the server later.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            addrs: self.addrs.clone(),
            state: self.shared.clone(),
        }
    }

    /// Serves on tasks of the runtime and returns at once (call it from
    /// within the runtime).
    pub fn spawn(self) -> ServerHandle {
        let handle = self.handle();
        let rt = self.shared.rt.clone();
        rt.spawn(Box::pin(async move {
            let _ = self.run().await;
        }));
        handle
    }

    /// Accepts connections (each on a task of its own) until shutdown,
    /// then waits for the connections to finish.
    pub async fn run(self) -> io::Result<()> {
        let Server {
            listeners, shared, ..
        } = self;
        let listeners = listeners
            .into_iter()
            .map(|l| shared.rt.listener(l))
            .collect::<io::Result<Vec<_>>>()?;
        let shared2 = Arc::clone(&shared);
        let mut retry: Option<R::Timer> = None;
        poll_fn(move |cx| {
            if shared2.shutdown.is_set() {
                return Poll::Ready(());
            }
            shared2.shutdown.register(u64::MAX, cx.waker());
            let mut failed = false;
            for l in &listeners {
                loop {
                    match shared2.rt.poll_accept(l, cx) {
                        Poll::Ready(Ok((tcp, peer))) => accept(&shared2, tcp, peer),
                        // The peer gave up before we accepted: next one.
                        Poll::Ready(Err(e))
                            if matches!(
                                e.kind(),
                                io::ErrorKind::ConnectionAborted
                                    | io::ErrorKind::ConnectionReset
                                    | io::ErrorKind::Interrupted
                            ) => {}
                        // EMFILE and friends. The listener stays readable
                        // but no waker is registered for it after an error:
                        // without a timer of our own, nothing would ever
                        // poll this loop again and the server would stop
                        // accepting for good. Retry in 10 ms (connections
                        // that end free descriptors meanwhile).
                        Poll::Ready(Err(_)) => {
                            failed = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
            }
            if failed {
                let at = Instant::now() + ACCEPT_BACKOFF;
                let t = retry.get_or_insert_with(|| shared2.rt.timer(at));
                t.reset(at);
                if t.poll_fire(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
            }
            Poll::Pending
        })
        .await;
        // Wait for the connections (they close once idle).
        while shared.active.load(Ordering::Acquire) > 0 {
            crate::rt::sleep_until(&shared.rt, Instant::now() + Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

impl ServerHandle {
    /// The addresses listened on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.state.active()
    }

    /// Vectored write batches made by the connections that have ended
    /// (each batch is one or more `writev` calls for everything the
    /// connection had queued). Pipelined requests read together are
    /// answered in one batch; this shows it without timing anything.
    pub fn write_batches(&self) -> u64 {
        self.state.write_batches()
    }

    /// Stops accepting, lets in-flight requests finish (their responses
    /// carry `Connection: close`) and closes idle connections at once.
    /// `run` returns when the last connection has closed.
    pub fn shutdown(&self) {
        self.state.stop();
    }
}

/// One counted connection: the count drops when the task's future does,
/// however it ends (returned, panicked in a handler's `call`, an upgrade
/// function or an error page, or dropped unpolled by a runtime shutting
/// down). A count that leaked would hold `run()` after a graceful
/// shutdown forever and eat into `max_connections`.
struct Counted<R: Runtime>(Arc<Shared<R>>);

impl<R: Runtime> Drop for Counted<R> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

fn accept<R: Runtime>(shared: &Arc<Shared<R>>, tcp: R::Tcp, peer: SocketAddr) {
    let over = shared.active.fetch_add(1, Ordering::AcqRel) >= shared.max_connections;
    let counted = Counted(Arc::clone(shared));
    let rt = shared.rt.clone();
    rt.spawn(Box::pin(async move {
        let shared = &counted.0;
        if over {
            trace::conn_refused(Some(peer));
            refuse(shared, tcp).await;
        } else {
            serve(shared, tcp, peer).await;
        }
        drop(counted);
    }));
}

async fn refuse<R: Runtime>(shared: &Shared<R>, tcp: R::Tcp) {
    let mut conn = refused_connection(&shared.config);
    let mut drv = Driver::new(shared.rt.clone(), tcp);
    let deadline = Some(Instant::now() + Duration::from_millis(100));
    let _ = timeout_at(&shared.rt, deadline, drv.flush(&mut conn)).await;
    let _ = timeout_at(&shared.rt, deadline, drv.close()).await;
    // The client's request is still unread in the socket.
    linger(&shared.rt, &mut drv, REFUSE_LINGER).await;
}

/// A lingering close (nginx's `lingering_close`, Apache's
/// `lingering_close`): after an answer that ends the connection while the
/// client may still be sending (an error answer, a refused connection, a
/// response cut short), our side is shut (FIN sent) but input is read and
/// dropped for a while. Closing a socket with unread input makes the
/// kernel send a reset instead, and a client still writing its request
/// body then fails with "broken pipe"/"connection reset" and never reads
/// the 413 or 408 we sent it. Ends at the peer's EOF, an error, `limit`,
/// or [`LINGER_BYTES`] dropped.
async fn linger<R: Runtime, S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin>(
    rt: &R,
    drv: &mut Driver<R, S>,
    limit: Duration,
) {
    if drv.peer_closed() {
        return;
    }
    drv.buf.clear();
    let mut dropped = 0usize;
    let deadline = Some(Instant::now() + limit);
    let drain = poll_fn(|cx| {
        super::scratch::with_read(|scratch| loop {
            match Pin::new(&mut drv.io).poll_read(cx, scratch) {
                Poll::Ready(Ok(n)) if n > 0 && dropped < LINGER_BYTES => dropped += n,
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        })
    });
    let _ = timeout_at(rt, deadline, drain).await;
}

/// What became of a dispatched request.
enum Outcome {
    /// Go on with the next request; the instant the response ended.
    Continue(Instant),
    /// End the connection.
    Close(Cut),
    /// The protocol switched: hand the transport over.
    Upgrade(body::UpgradeFn),
}

/// Why a response ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Core closed the connection (or refused the response): what it
    /// queued still goes out.
    Protocol,
    /// The body source failed (a stream error, a file that changed): the
    /// response is cut short; what was queued before goes out.
    Source,
    /// Writing failed or timed out: nothing more is written.
    Transport,
}

async fn serve<R: Runtime>(shared: &Shared<R>, tcp: R::Tcp, peer: SocketAddr) {
    let rt = &shared.rt;
    let io = match &shared.tls {
        None => Conn::Plain(tcp),
        Some(cfg) => {
            let pump = match cfg.accept() {
                Ok(p) => p,
                Err(e) => return trace::tls_failed(Some(peer), &e),
            };
            // Boxed from the start (as `Conn::Tls` keeps it): inline, the
            // session (1.3 KiB) would size every connection's future.
            let mut tls = Box::new(TlsConn::new(tcp, pump));
            let deadline = Some(Instant::now() + cfg.handshake_timeout());
            if let Err(e) = timeout_at(rt, deadline, poll_fn(|cx| tls.poll_handshake(cx))).await {
                return trace::tls_failed(Some(peer), &e);
            }
            Conn::Tls(tls)
        }
    };
    let server_name = io.tls().and_then(|t| t.server_name()).map(str::to_string);
    trace::conn_accepted(Some(peer), shared.tls.is_some(), server_name.as_deref());
    let id = shared.ids.fetch_add(1, Ordering::Relaxed);
    let mut drv = Driver::new(rt.clone(), io);
    let mut conn = ServerConnection::new(shared.config.clone(), Instant::now());
    // Set when the connection ends abruptly (core's error answer, a cut
    // response): its close lingers.
    let mut abrupt = false;
    let upgrade = loop {
        // The event (a request: 144 bytes) is taken apart before any
        // `.await`, so the connection's future has no room for it.
        let started = match conn.poll_event() {
            Some(ServerEvent::Request(req)) => {
                Some(start(shared, peer, server_name.as_deref(), req))
            }
            // Errors: the connection queued its answer and closes. Body
            // pieces of a request the handler did not read: dropped.
            Some(ServerEvent::Error(e)) => {
                trace::protocol_error(Some(peer), e.kind());
                abrupt = true;
                continue;
            }
            Some(_) => continue,
            None => None,
        };
        if let Some(started) = started {
            match dispatch(shared, &mut conn, &mut drv, started).await {
                Outcome::Continue(now) => drv.feed_buffered(now, &mut conn),
                Outcome::Close(cut) => {
                    // A stuck peer (write timeout) is not waited for.
                    abrupt = cut != Cut::Transport;
                    // What the connection still holds (earlier pipelined
                    // answers, the head of a response whose body failed,
                    // an error answer core queued) is written before the
                    // close: those clients get their answers, and a cut
                    // response shows as cut. Not after a write failed or
                    // timed out: the peer is gone or stuck.
                    if cut != Cut::Transport {
                        let _ = flush_timed(shared, &mut drv, &mut conn).await;
                    }
                    break None;
                }
                Outcome::Upgrade(f) => break Some(f),
            }
            continue;
        }
        // Nothing more can happen without new input: write the batch.
        // A fresh instant: a handler may have taken longer than the write
        // timeout since the last wake-up (one clock read per batch).
        let deadline = Some(Instant::now() + shared.write_timeout);
        if let Err(e) = timeout_at(rt, deadline, drv.flush(&mut conn)).await {
            trace::transport_failed(Some(peer), &e);
            break None;
        }
        if conn.is_closed() {
            break None;
        }
        if shared.shutdown.is_set() {
            conn.close_after_response();
            if conn.is_closed() {
                continue;
            }
        }
        let woke = poll_fn(|cx| {
            if !shared.shutdown.is_set() {
                shared.shutdown.register(id, cx.waker());
            } else if !conn.is_message_in_progress() {
                return Poll::Ready(Ok(None));
            }
            // Core stamps this on any answer of its own (408, 400...). The
            // driver reads only while the connection wants input
            // (back-pressure); the timer runs either way.
            let stamp = |c: &mut ServerConnection, now| c.set_date(crate::date::at(now));
            drv.poll_wait_with(cx, &mut conn, stamp)
                .map(|r| r.map(Some))
        })
        .await;
        match woke {
            Ok(Some(_)) => {}
            Ok(None) => conn.close_after_response(),
            Err(_) => break None,
        }
        if drv.peer_closed() && !conn.is_closed() && conn.poll_timeout().is_none() {
            // Nothing can arrive any more and nothing is pending.
            break None;
        }
    };
    shared.shutdown.forget(id);
    trace::conn_closed(Some(peer), conn.close_reason());
    shared
        .write_batches
        .fetch_add(drv.write_batches(), Ordering::Relaxed);
    if let Some(f) = upgrade {
        let (io, rest) = drv.into_parts();
        f(Upgraded {
            io: Box::new(io),
            read_ahead: rest.freeze(),
        })
        .await;
        return;
    }
    let deadline = Some(Instant::now() + CLOSE_TIMEOUT);
    let _ = timeout_at(rt, deadline, drv.close()).await;
    if abrupt {
        linger(rt, &mut drv, LINGER).await;
    }
}

/// A future that turns a panic into `None`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *fut).poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Some(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    }
}

/// The connection side of a request body: moves body events from the
/// connection to the handler while the handler runs.
struct BodyPump {
    state: Option<body::Shared>,
    accepted: bool,
}

impl BodyPump {
    /// Delivers what it can; true when the handler has something new.
    fn poll<R: Runtime, S>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut ServerConnection,
        drv: &mut Driver<R, S>,
    ) -> bool
    where
        S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    {
        let Some(state) = &self.state else {
            return false;
        };
        let mut st = body::lock(state);
        if st.end {
            return false;
        }
        match &st.conn {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.conn = Some(cx.waker().clone()),
        }
        if !st.wanted {
            return false;
        }
        if !self.accepted {
            self.accepted = true;
            conn.accept_body(Instant::now());
        }
        let mut progressed = false;
        loop {
            if st.queued >= body::BODY_AHEAD {
                return progressed;
            }
            match conn.poll_event() {
                Some(ServerEvent::Data(b)) => {
                    st.push(b);
                    progressed = true;
                }
                Some(ServerEvent::End(trailers)) => {
                    if !trailers.is_empty() {
                        st.trailers = Some(trailers);
                    }
                    st.finish(None);
                    return true;
                }
                Some(ServerEvent::Error(e)) => {
                    // The connection queued its answer (408, 400, 413).
                    let _ = drv.poll_flush(cx, conn);
                    st.finish(Some((io::ErrorKind::InvalidData, e.to_string())));
                    return true;
                }
                Some(_) => {}
                None => {
                    // 100 Continue, or nothing.
                    match drv.poll_flush(cx, conn) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => {
                            st.finish(Some((e.kind(), e.to_string())));
                            return true;
                        }
                        Poll::Pending => {
                            // A client that reads nothing cannot take its
                            // 100 Continue: the body timer (armed by
                            // accept_body) still runs, or the handler would
                            // wait for the body forever.
                            conn.set_date(crate::date::now());
                            return match drv.poll_timer(cx, conn) {
                                Poll::Ready(_) => true,
                                Poll::Pending => progressed,
                            };
                        }
                    }
                    if conn.is_closed() || drv.peer_closed() {
                        st.finish(Some((
                            io::ErrorKind::UnexpectedEof,
                            "the connection closed mid-body".into(),
                        )));
                        return true;
                    }
                    conn.set_date(crate::date::now());
                    match drv.poll_wait(cx, conn) {
                        Poll::Ready(Ok(_)) => {}
                        Poll::Ready(Err(e)) => {
                            st.finish(Some((e.kind(), e.to_string())));
                            return true;
                        }
                        Poll::Pending => return progressed,
                    }
                }
            }
        }
    }

    /// The handler is done: a reader it left behind gets an error.
    fn close(&mut self) {
        if let Some(state) = &self.state {
            let mut st = body::lock(state);
            if !st.end {
                st.finish(Some((
                    io::ErrorKind::BrokenPipe,
                    "the response was sent before the body was read".into(),
                )));
            }
        }
    }
}

/// A request handed to its handler, for [`dispatch`] to drive to a
/// response. Built by [`start`], a plain function: an `async fn` keeps room
/// in its future for every value that lives across an `.await` (and for its
/// arguments, all along), and every idle keep-alive connection holds its
/// future, so the request, its head and the router's answer stay out of it.
struct Started {
    /// The handler's future (`None`: its `call` panicked).
    answer: Option<CatchUnwind<BoxFuture<'static, Response>>>,
    pump: BodyPump,
    /// A copy of the head for a custom error page (only when there are
    /// custom pages).
    page_head: Option<Box<RequestHead>>,
    /// The request's trace (only while a subscriber listens).
    trace: Option<Box<RequestTrace>>,
}

/// Routes `req`, runs the middleware chain's `call` and hands the body to
/// the pump.
fn start<R: Runtime>(
    shared: &Shared<R>,
    peer: SocketAddr,
    server_name: Option<&str>,
    req: wireloom_core::http::Request,
) -> Started {
    let wireloom_core::http::Request { head, framing, .. } = req;
    let state = (framing != Framing::Empty).then(|| Arc::new(Mutex::new(BodyState::default())));
    let pump = BodyPump {
        state: state.clone(),
        accepted: false,
    };
    // The head is needed again only for a custom error page.
    let page_head = (!shared.pages.is_empty()).then(|| Box::new(head.clone()));
    let trace = RequestTrace::start(&head, Some(peer));
    let (endpoint, params) = match &shared.fallback {
        // Nothing to route: every request goes to the fallback.
        Some(f) if shared.router.is_empty() => (Ok(f), Params::default()),
        Some(f) => match route(&shared.router, &head) {
            (Err(NoRoute::NotFound), _) => (Ok(f), Params::default()),
            found => found,
        },
        None => route(&shared.router, &head),
    };
    let request = Request {
        info: RequestInfo::new(head, framing, params, Some(peer)),
        server_name: server_name.map(str::to_string),
        body: RequestBody::new(state),
    };
    let run = || match endpoint {
        // Without middleware the handler is called straight from the
        // router (no chain to carry, no reference counts to take).
        Ok(h) if shared.middleware.is_empty() => h.call(request),
        endpoint => Next {
            chain: Arc::clone(&shared.middleware),
            at: 0,
            endpoint: endpoint.cloned(),
            pages: Arc::clone(&shared.pages),
        }
        .run(request),
    };
    // `call` itself may panic (a hand-written Handler or Middleware that
    // does work before it returns its future): that is a 500 too, not a
    // dead connection task.
    let answer = match &trace {
        None => catch_unwind(AssertUnwindSafe(run)),
        Some(t) => {
            let span = t.span().clone();
            catch_unwind(AssertUnwindSafe(|| span.in_scope(run)))
                .map(|fut| Box::pin(fut.instrument(span)) as BoxFuture<'static, Response>)
        }
    };
    let answer = answer.ok().map(CatchUnwind);
    Started {
        answer,
        pump,
        page_head,
        trace,
    }
}

/// Runs the handler (feeding it the request body), then writes its answer.
async fn dispatch<R: Runtime>(
    shared: &Shared<R>,
    conn: &mut ServerConnection,
    drv: &mut ConnDriver<R>,
    started: Started,
) -> Outcome {
    let Started {
        answer,
        mut pump,
        page_head,
        trace,
    } = started;
    // The instant of the wake-up that brought the request stands for "now"
    // unless the handler had to wait.
    let mut waited = false;
    let answer = match answer {
        Some(mut fut) => {
            let answer = poll_fn(|cx| loop {
                if let Poll::Ready(r) = Pin::new(&mut fut).poll(cx) {
                    return Poll::Ready(r);
                }
                waited = true;
                if !pump.poll(cx, conn, drv) {
                    return Poll::Pending;
                }
            })
            .await;
            drop(fut);
            answer
        }
        None => None,
    };
    pump.close();
    let response = finish(shared, answer, page_head.as_deref());
    drop(page_head);
    if shared.shutdown.is_set() {
        conn.close_after_response();
    }
    let now = if waited {
        Instant::now()
    } else {
        drv.woke_at()
    };
    let Some(mut trace) = trace else {
        return write_response(shared, conn, drv, response, now).await;
    };
    trace.respond(response.head.status, response.body.length());
    let outcome = write_response(shared, conn, drv, response, now).await;
    trace.finish();
    outcome
}

/// The handler's answer through the error pages (`None`: it panicked).
fn finish<R: Runtime>(
    shared: &Shared<R>,
    answer: Option<Response>,
    page_head: Option<&RequestHead>,
) -> Response {
    // Without custom pages, a handler's answer with valid fields is sent
    // as it is (what `respond` would give): not moved through it.
    match answer {
        Some(r) if shared.pages.is_empty() && !r.has_invalid_header() => return r,
        _ => {}
    }
    // Without custom pages the head given to them is never looked at.
    static NO_PAGES: std::sync::OnceLock<RequestHead> = std::sync::OnceLock::new();
    let head_ref = match page_head {
        Some(h) => h,
        None => NO_PAGES.get_or_init(|| {
            RequestHead::new(Method::GET, "/").unwrap_or_else(|_| unreachable!("a valid target"))
        }),
    };
    shared.pages.respond(answer, head_ref)
}

type ConnDriver<R> = Driver<R, Conn<<R as Runtime>::Tcp>>;

async fn flush_timed<R: Runtime>(
    shared: &Shared<R>,
    drv: &mut ConnDriver<R>,
    conn: &mut ServerConnection,
) -> Result<(), Cut> {
    let deadline = Some(Instant::now() + shared.write_timeout);
    timeout_at(&shared.rt, deadline, drv.flush(conn))
        .await
        .map_err(|_| Cut::Transport)
}

async fn write_response<R: Runtime>(
    shared: &Shared<R>,
    conn: &mut ServerConnection,
    drv: &mut ConnDriver<R>,
    resp: Response,
    now: Instant,
) -> Outcome {
    let crate::http::Response { head, body, .. } = resp;
    conn.set_date(crate::date::at(now));
    let body = match start_response(conn, now, head, body) {
        Ok(Some(body)) => body,
        // A 500 went out in its place.
        Ok(None) => return Outcome::Continue(now),
        Err(_) => return Outcome::Close(Cut::Protocol),
    };
    let streamed = matches!(body, Body::Stream(_) | Body::File(..) | Body::Frames(..));
    let sent = match body {
        Body::Empty => Ok(Sent::Done(None)),
        Body::Full(b) => match conn.send_data(b) {
            Ok(()) => Ok(Sent::Done(None)),
            Err(_) => Err(Cut::Protocol),
        },
        // Streams, files and upgrades wait for the socket (and the disk):
        // their future is boxed, so that of every connection, which idle
        // keep-alive connections hold, has no room for it.
        other => Box::pin(send_body(shared, conn, drv, other)).await,
    };
    match sent {
        Ok(Sent::Done(trailers)) => {
            // A streamed or file body took time of its own.
            let now = if streamed { Instant::now() } else { now };
            match conn.send_end(now, trailers) {
                Ok(()) => Outcome::Continue(now),
                Err(_) => Outcome::Close(Cut::Protocol),
            }
        }
        Ok(Sent::Upgrade(f)) => Outcome::Upgrade(f),
        // Cut: the client sees an incomplete body, and the connection ends.
        Err(cut) => Outcome::Close(cut),
    }
}

/// What [`send_body`] did.
enum Sent {
    /// The body is written; these trailer fields end it.
    Done(Option<HeaderMap>),
    /// The protocol switched.
    Upgrade(body::UpgradeFn),
}

/// Sends `body` after its head.
async fn send_body<R: Runtime>(
    shared: &Shared<R>,
    conn: &mut ServerConnection,
    drv: &mut ConnDriver<R>,
    body: Body,
) -> Result<Sent, Cut> {
    let usage = |_| Cut::Protocol;
    let mut trailers = None;
    match body {
        Body::Empty => {}
        Body::Full(b) => conn.send_data(b).map_err(usage)?,
        Body::Stream(mut s) => loop {
            match poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                Some(Ok(b)) => {
                    conn.send_data(b).map_err(usage)?;
                    flush_timed(shared, drv, conn).await?;
                }
                Some(Err(_)) => return Err(Cut::Source),
                None => break,
            }
        },
        Body::Frames(mut s, _) => loop {
            match poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                Some(Ok(body::Frame::Data(b))) => {
                    conn.send_data(b).map_err(usage)?;
                    flush_timed(shared, drv, conn).await?;
                }
                Some(Ok(body::Frame::Trailers(t))) => {
                    trailers = Some(t);
                    break;
                }
                Some(Err(_)) => return Err(Cut::Source),
                None => break,
            }
        },
        Body::File(file, segs) => {
            let zero_copy = drv.io.zero_copy();
            for seg in segs {
                match seg {
                    Segment::Bytes(b) => conn.send_data(b).map_err(usage)?,
                    Segment::File(a, b) if !zero_copy && file.is_mapped() => {
                        // TLS encrypts in user space, so the pieces are
                        // checked `pread` copies: reads that may wait for
                        // the disk, made on the runtime's blocking pool,
                        // never on the executor (which would stall every
                        // other connection of a current-thread runtime).
                        let mut at = a;
                        while at < b {
                            let stop = (at + CHUNK as u64).min(b);
                            let f = file.clone();
                            let data = shared
                                .rt
                                .spawn_blocking(move || f.read_range_checked(at..stop))
                                .await
                                .map_err(|_| Cut::Source)?;
                            conn.send_data(data).map_err(usage)?;
                            flush_timed(shared, drv, conn).await?;
                            at = stop;
                        }
                    }
                    Segment::File(a, b) => {
                        // Changed or unreadable: cut the response. Each
                        // piece is written before the next is taken: the
                        // cursor's held-back tail relies on it.
                        let mut pieces =
                            Pieces::new(&file, a, b, CHUNK, zero_copy).map_err(|_| Cut::Source)?;
                        while let Some(data) = pieces.next_piece().map_err(|_| Cut::Source)? {
                            conn.send_data(data).map_err(usage)?;
                            flush_timed(shared, drv, conn).await?;
                        }
                    }
                }
            }
        }
        Body::Upgrade(f) => {
            flush_timed(shared, drv, conn).await?;
            if conn.is_switched() {
                return Ok(Sent::Upgrade(f));
            }
        }
    }
    Ok(Sent::Done(trailers))
}

/// Serves files under a directory through the mmap [`FileCache`](crate::cache::FileCache),
/// with every rule of [`StaticDir`]. A file the cache holds unchanged is
/// answered on the executor (only its metadata is looked at); opening and
/// mapping a file (a miss or a changed file) runs on the runtime's
/// blocking pool.
pub struct StaticFiles<R: Runtime> {
    rt: R,
    dir: Arc<StaticDir>,
}

impl<R: Runtime> StaticFiles<R> {
    /// Serves `dir` on `rt`.
    pub fn new(rt: R, dir: StaticDir) -> StaticFiles<R> {
        StaticFiles {
            rt,
            dir: Arc::new(dir),
        }
    }
}

impl<R: Runtime> Handler for StaticFiles<R> {
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        // A cache hit (or a refusal) is answered here: only metadata is
        // looked at. Opening and mapping a file (a miss) goes to the
        // blocking pool, never the executor.
        if let Some(found) = self.dir.lookup_cached(req.head()) {
            let r = found.into_response(Body::File);
            return Box::pin(async move { r });
        }
        let dir = Arc::clone(&self.dir);
        let found = self.rt.spawn_blocking(move || dir.lookup(req.head()));
        Box::pin(async move { found.await.into_response(Body::File) })
    }
}
