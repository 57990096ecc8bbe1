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

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::file::Segment;
use wireloom_core::http::{
    BodyLength, Framing, HeaderMap, Method, RequestHead, ResponseHead, ServerConfig,
    ServerConnection, ServerEvent, StatusCode,
};

use crate::driver::{read_pieces, ChunkRead, Driver, Progress, ReadOutcome, Socket};
use crate::router::{Found, Params, Router};
use wireloom_core::Dialogue;
use wireloom_io::http::ErrorPages;

/// How often a worker waiting on an idle connection looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(100);
/// Largest piece of a streamed or file body handed to the socket at once.
const CHUNK: usize = 256 * 1024;

/// Something that answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. The body can be read from `req` (as a stream);
    /// a body left unread is discarded by the connection.
    fn handle(&self, req: &mut Request<'_>) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&mut Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self(req)
    }
}

/// Wraps every handler: logging, authentication, timing...
pub trait Middleware: Send + Sync + 'static {
    /// Handles `req`, calling `next` to run the rest of the chain (or not).
    fn handle(
        &self,
        req: &mut Request<'_>,
        next: &dyn Fn(&mut Request<'_>) -> Response,
    ) -> Response;
}

impl<F> Middleware for F
where
    F: Fn(&mut Request<'_>, &dyn Fn(&mut Request<'_>) -> Response) -> Response
        + Send
        + Sync
        + 'static,
{
    fn handle(
        &self,
        req: &mut Request<'_>,
        next: &dyn Fn(&mut Request<'_>) -> Response,
    ) -> Response {
        self(req, next)
    }
}

/// A handler shared between threads.
pub type BoxHandler = Arc<dyn Handler>;

/// Where a request body comes from (the connection, in the server).
pub trait BodySource {
    /// The next piece of the body; `None` at its end.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// A request as a handler sees it: the head, path parameters, and the body
/// as a stream (`Read`, or [`Request::read_chunk`] for zero-copy pieces).
pub struct Request<'a> {
    head: RequestHead,
    params: Params,
    peer: Option<SocketAddr>,
    framing: Framing,
    body: &'a mut dyn BodySource,
    pending: Bytes,
    body_done: bool,
}

impl<'a> Request<'a> {
    /// A request over any body source (for tests and other adapters).
    pub fn new(head: RequestHead, framing: Framing, body: &'a mut dyn BodySource) -> Request<'a> {
        Request {
            head,
            params: Params::default(),
            peer: None,
            framing,
            body,
            pending: Bytes::new(),
            body_done: framing == Framing::Empty,
        }
    }

    /// The head.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The path, still percent-encoded.
    pub fn path(&self) -> &str {
        self.head.target.path()
    }

    /// The query string without `?`.
    pub fn query(&self) -> Option<&str> {
        self.head.target.query()
    }

    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// A path parameter captured by the route.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// All path parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The client's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether the request has a body.
    pub fn has_body(&self) -> bool {
        self.framing != Framing::Empty
    }

    /// The next piece of the body without copying (`None` at the end). The
    /// first call sends `100 Continue` if the client waits for it.
    pub fn read_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if self.body_done {
            return Ok(None);
        }
        match self.body.next_chunk()? {
            Some(b) => Ok(Some(b)),
            None => {
                self.body_done = true;
                Ok(None)
            }
        }
    }

    /// The whole body, refused with `InvalidData` beyond `limit` bytes.
    pub fn read_body(&mut self, limit: usize) -> io::Result<Bytes> {
        let mut out = bytes::BytesMut::new();
        while let Some(c) = self.read_chunk()? {
            if out.len() + c.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body over the limit",
                ));
            }
            if out.is_empty() && self.pending.is_empty() {
                out = bytes::BytesMut::from(&c[..]);
            } else {
                out.extend_from_slice(&c);
            }
        }
        Ok(out.freeze())
    }
}

impl ChunkRead for Request<'_> {
    fn pending(&mut self) -> &mut Bytes {
        &mut self.pending
    }
    fn next_piece(&mut self) -> io::Result<Option<Bytes>> {
        self.read_chunk()
    }
}

impl Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_pieces(self, buf)
    }
}

/// Bytes of a file body, as the planner's [`Segment::File`] ranges need them.
pub trait FileSource: Send + Sync {
    /// The bytes `start..end` in checked pieces of at most `chunk` bytes.
    /// With `zero_copy`, pieces may be slices of a memory map that only the
    /// kernel reads (plain sockets); otherwise they are safe copies (TLS).
    /// A piece that fails with [`ServeError::FileChanged`](crate::cache::ServeError)
    /// (as an `io::Error`) means the file changed: the response is cut.
    fn chunks(
        &self,
        start: u64,
        end: u64,
        chunk: usize,
        zero_copy: bool,
    ) -> io::Result<Box<dyn FileChunks + '_>>;
}

/// Checked pieces of a file range.
pub trait FileChunks {
    /// The next piece; `None` at the end of the range.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// The transport after a protocol switch, with the bytes already read past
/// the switch point.
pub struct Upgraded {
    /// The socket (plain or TLS).
    pub io: Box<dyn Socket>,
    /// Bytes read from `io` that belong to the new protocol.
    pub read_ahead: Bytes,
}

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// The whole body at once (sent with Content-Length).
    Full(Bytes),
    /// Streamed from a reader (chunked to HTTP/1.1 clients).
    Stream(Box<dyn Read + Send>),
    /// Planned file segments (sent with Content-Length).
    File(Arc<dyn FileSource>, Vec<Segment>),
    /// Switch protocols (101 to an Upgrade request, 2xx to CONNECT): the
    /// function receives the transport once the head is written.
    Upgrade(Box<dyn FnOnce(Upgraded) + Send>),
}

impl wireloom_io::http::ResponseBody for Body {
    fn empty() -> Self {
        Body::Empty
    }
    fn full(bytes: Bytes) -> Self {
        Body::Full(bytes)
    }
    fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }
}

impl<R: Read + Send + 'static> From<R> for Body {
    /// A streamed body read from `reader`.
    fn from(reader: R) -> Body {
        Body::Stream(Box::new(reader))
    }
}

/// A response: a head and a [`Body`] (see [`wireloom_io::http::Response`]).
pub type Response = wireloom_io::http::Response<Body>;

/// Wraps an accepted TCP stream into TLS (or anything else) before HTTP.
pub type Acceptor = Arc<dyn Fn(TcpStream) -> io::Result<Box<dyn Socket>> + Send + Sync>;

struct Shared {
    config: ServerConfig,
    router: Router<BoxHandler>,
    middleware: Vec<Arc<dyn Middleware>>,
    error_pages: ErrorPages<Body>,
    acceptor: Option<Acceptor>,
    write_timeout: Duration,
    shutdown: AtomicBool,
    active: AtomicUsize,
    max_connections: usize,
    /// Worker threads: more active connections than this means some wait.
    threads: usize,
    /// Write batches of the connections that have ended.
    write_batches: AtomicU64,
}

/// Configures a [`Server`].
pub struct ServerBuilder {
    addrs: Vec<SocketAddr>,
    backlog: i32,
    threads: usize,
    max_connections: usize,
    config: ServerConfig,
    router: Router<BoxHandler>,
    middleware: Vec<Arc<dyn Middleware>>,
    error_pages: ErrorPages<Body>,
    acceptor: Option<Acceptor>,
    write_timeout: Duration,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServerBuilder {
            addrs: Vec::new(),
            backlog: 1024,
            threads: (cores * 8).max(16),
            max_connections: 1024,
            config: ServerConfig::default(),
            router: Router::new(),
            middleware: Vec::new(),
            error_pages: ErrorPages::default(),
            acceptor: None,
            write_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerBuilder {
    /// Adds address(es) to listen on.
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> io::Result<Self> {
        self.addrs.extend(addr.to_socket_addrs()?);
        Ok(self)
    }

    /// Listen backlog (default 1024).
    pub fn backlog(mut self, n: i32) -> Self {
        self.backlog = n;
        self
    }

    /// Worker threads: the number of connections served at once (default
    /// 8 per core, at least 16). While connections wait for a worker, idle
    /// keep-alive connections are closed to make room.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Connections accepted at once, served or queued (default 1024); more
    /// are answered 503 and closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Protocol limits and timeouts (head/idle/body timeouts, head and body
    /// limits, keep-alive).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Turns keep-alive on or off.
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.config.keep_alive = on;
        self
    }

    /// Time allowed to write to a slow client before the connection is dropped.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// The routes.
    pub fn router(mut self, router: Router<BoxHandler>) -> Self {
        self.router = router;
        self
    }

    /// Serves every path with one handler (after the router's routes).
    pub fn handler(mut self, h: impl Handler) -> Self {
        let _ = self.router.any("/{*path}", Arc::new(h));
        self
    }

    /// Adds a middleware; the first added runs outermost.
    pub fn middleware(mut self, m: impl Middleware) -> Self {
        self.middleware.push(Arc::new(m));
        self
    }

    /// A custom page for `status`, used for 404/405 from the router, 500
    /// from a panicking handler, and any handler response with that status
    /// and no body.
    pub fn error_page(
        mut self,
        status: StatusCode,
        page: impl Fn(&RequestHead) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.error_pages.insert(status, Arc::new(page));
        self
    }

    /// Wraps each accepted connection (TLS): see [`crate::tls`].
    pub fn acceptor(mut self, acceptor: Acceptor) -> Self {
        self.acceptor = Some(acceptor);
        self
    }

    /// Binds the listeners.
    pub fn build(self) -> io::Result<Server> {
        if self.addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to bind",
            ));
        }
        let mut listeners = Vec::new();
        for addr in &self.addrs {
            let domain = socket2::Domain::for_address(*addr);
            let s =
                socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
            s.set_reuse_address(true)?;
            s.bind(&(*addr).into())?;
            s.listen(self.backlog)?;
            listeners.push(TcpListener::from(s));
        }
        Ok(Server {
            listeners,
            threads: self.threads,
            shared: Arc::new(Shared {
                config: self.config,
                router: self.router,
                middleware: self.middleware,
                error_pages: self.error_pages,
                acceptor: self.acceptor,
                write_timeout: self.write_timeout,
                shutdown: AtomicBool::new(false),
                active: AtomicUsize::new(0),
                max_connections: self.max_connections,
                threads: self.threads,
                write_batches: AtomicU64::new(0),
            }),
        })
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listeners: Vec<TcpListener>,
    threads: usize,
    shared: Arc<Shared>,
}

/// A running server; [`ServerHandle::shutdown`] stops it gracefully.
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Boxes a closure (or any handler) for a router.
    pub fn handler(h: impl Handler) -> BoxHandler {
        Arc::new(h)
    }

    /// The addresses listened on (with the real port when bound to port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until the process ends.
    pub fn run(self) -> io::Result<()> {
        let handle = self.spawn()?;
        for a in handle.acceptors {
            let _ = a.join();
        }
        Ok(())
    }

    /// Serves on background threads.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let addrs = self.local_addrs();
        let (tx, rx) = sync_channel::<TcpStream>(self.shared.max_connections);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::new();
        for i in 0..self.threads {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(&self.shared);
            workers.push(
                std::thread::Builder::new()
                    .name(format!("wireloom-worker-{i}"))
                    .spawn(move || worker(&shared, &rx))?,
            );
        }
        let mut acceptors = Vec::new();
        for l in self.listeners {
            let tx = tx.clone();
            let shared = Arc::clone(&self.shared);
            acceptors.push(
                std::thread::Builder::new()
                    .name("wireloom-accept".into())
                    .spawn(move || accept_loop(&shared, &l, &tx))?,
            );
        }
        Ok(ServerHandle {
            addrs,
            shared: self.shared,
            acceptors,
            workers,
        })
    }
}

impl ServerHandle {
    /// The addresses listened on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Connections being served or queued now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Write batches handed to the sockets by the connections that have
    /// ended: each batch is everything the connection had to send when it
    /// flushed, in vectored writes (see [`Driver::write_batches`]; pipelined
    /// requests read together are answered in one batch). Counted when a
    /// connection ends, before its socket closes.
    pub fn write_batches(&self) -> u64 {
        self.shared.write_batches.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets in-flight requests finish (their responses
    /// carry `Connection: close`), closes idle connections, and waits for
    /// the workers.
    pub fn shutdown(self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for a in &self.addrs {
            // Wake the blocking accept.
            let _ = TcpStream::connect_timeout(a, Duration::from_millis(200));
        }
        for a in self.acceptors {
            let _ = a.join();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn accept_loop(shared: &Shared, l: &TcpListener, tx: &SyncSender<TcpStream>) {
    loop {
        let stream = match l.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
                // EMFILE and friends: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        if shared.active.fetch_add(1, Ordering::SeqCst) >= shared.max_connections {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            refuse(stream, &shared.config);
            continue;
        }
        match tx.try_send(stream) {
            Ok(()) => {}
            Err(TrySendError::Full(s)) | Err(TrySendError::Disconnected(s)) => {
                shared.active.fetch_sub(1, Ordering::SeqCst);
                refuse(s, &shared.config);
            }
        }
    }
}

fn refuse(mut s: TcpStream, config: &ServerConfig) {
    let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
    let mut conn = ServerConnection::new(config.clone(), Instant::now());
    conn.refuse(StatusCode::SERVICE_UNAVAILABLE);
    while let Some(b) = conn.poll_transmit() {
        if s.write_all(&b).is_err() {
            return;
        }
    }
}

fn worker(shared: &Shared, rx: &Mutex<Receiver<TcpStream>>) {
    loop {
        let next = {
            let Ok(guard) = rx.lock() else { return };
            guard.recv_timeout(POLL)
        };
        match next {
            Ok(stream) => {
                serve_connection(shared, stream);
                shared.active.fetch_sub(1, Ordering::SeqCst);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The connection, seen as a body source by the handler.
struct ConnBody<'c> {
    conn: &'c mut ServerConnection,
    drv: &'c mut Driver<Box<dyn Socket>>,
    accepted: bool,
    ended: bool,
}

impl BodySource for ConnBody<'_> {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.ended {
            return Ok(None);
        }
        if !self.accepted {
            self.accepted = true;
            self.conn.accept_body(Instant::now());
        }
        loop {
            // Answers batched so far (and a 100 Continue) go out before the
            // driver blocks on a read for the body. A read may end in core's
            // own 400/408/413: keep its Date current (waking every POLL).
            self.conn.set_date(wireloom_io::date::now());
            match self.drv.advance(self.conn, Some(POLL))? {
                Progress::Event(ServerEvent::Data(b)) => return Ok(Some(b)),
                Progress::Event(ServerEvent::End(_)) => {
                    self.ended = true;
                    return Ok(None);
                }
                Progress::Event(ServerEvent::Error(e)) => {
                    self.ended = true;
                    // Send the answer core queued (408, 400, 413) before
                    // the handler's own response is refused.
                    let _ = self.drv.flush(self.conn);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                Progress::Event(_) | Progress::Read(_) => {}
                Progress::Closed => {
                    self.ended = true;
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
}

fn serve_connection(shared: &Shared, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().ok();
    let sock: Box<dyn Socket> = match &shared.acceptor {
        Some(acc) => match acc(tcp) {
            Ok(s) => s,
            Err(_) => return,
        },
        None => Box::new(tcp),
    };
    let mut drv = Driver::new(sock);
    let _ = drv.sock.set_write_timeout(Some(shared.write_timeout));
    let graceful = drive_connection(shared, &mut drv, peer);
    // Counted before the socket closes, so a client that has seen the close
    // also sees this connection's batches in `ServerHandle::write_batches`.
    shared
        .write_batches
        .fetch_add(drv.write_batches(), Ordering::SeqCst);
    if graceful {
        let _ = drv.sock.shutdown_write();
    }
}

/// The connection loop: [`Driver::advance`] writes the batched answers only
/// when the connection needs new input, so pipelined requests already read
/// are all answered before one vectored write. True when the connection
/// ended cleanly (closed with everything written): the caller shuts the
/// socket down; false to just drop it.
fn drive_connection(
    shared: &Shared,
    drv: &mut Driver<Box<dyn Socket>>,
    peer: Option<SocketAddr>,
) -> bool {
    let mut conn = ServerConnection::new(shared.config.clone(), Instant::now());
    let mut eofs = 0;
    loop {
        if shared.shutdown.load(Ordering::Relaxed) {
            conn.close_after_response();
        }
        // Core may answer what it reads (or its head timer) with its own
        // error response: hand it the current Date first.
        conn.set_date(wireloom_io::date::now());
        match drv.advance(&mut conn, Some(POLL)) {
            Err(_) => return false,
            Ok(Progress::Closed) => return true,
            Ok(Progress::Event(ServerEvent::Request(req))) => {
                if !dispatch(shared, &mut conn, drv, req, peer) {
                    return false;
                }
            }
            Ok(Progress::Event(_)) => {}
            Ok(Progress::Read(ReadOutcome::Eof)) => {
                eofs += 1;
                if eofs > 2 {
                    return false;
                }
            }
            // Connections wait for a worker: free this one if it is an
            // idle keep-alive connection.
            Ok(Progress::Read(ReadOutcome::Idle))
                if shared.active.load(Ordering::Relaxed) > shared.threads =>
            {
                conn.close_if_idle();
            }
            Ok(Progress::Read(_)) => {}
        }
    }
}

/// Runs the handler for one request and writes its response; false when
/// the connection must end here.
fn dispatch(
    shared: &Shared,
    conn: &mut ServerConnection,
    drv: &mut Driver<Box<dyn Socket>>,
    req: wireloom_core::http::Request,
    peer: Option<SocketAddr>,
) -> bool {
    let method = req.head.method.clone();
    // CONNECT's authority-form target is routed as `/host:port`.
    let routed_path = req.head.target.route_path().into_owned();
    let found = shared.router.find(&method, &routed_path);
    let mut body = ConnBody {
        conn,
        drv,
        accepted: false,
        ended: req.framing == Framing::Empty,
    };
    let mut request = Request::new(req.head, req.framing, &mut body);
    request.peer = peer;
    let (handler, allowed) = match found {
        Found::Route(handler, params) => {
            request.params = params;
            (Some(handler), None)
        }
        Found::MethodNotAllowed(allowed) => (None, Some(allowed)),
        Found::NotFound => (None, None),
    };
    // Middleware wraps every answer, the router's 404 and 405 included.
    let pages = &shared.error_pages;
    let inner = |r: &mut Request<'_>| match (handler, &allowed) {
        (Some(h), _) => h.handle(r),
        (None, Some(allowed)) => pages.method_not_allowed(r.head(), allowed),
        (None, None) => pages.not_found(r.head()),
    };
    let run = |r: &mut Request<'_>| call_chain(&shared.middleware, &inner, r);
    let response = match catch_unwind(AssertUnwindSafe(|| run(&mut request))) {
        Ok(resp) => pages.finish(resp, request.head()),
        Err(_) => pages.panicked(request.head()),
    };
    drop(request);
    if shared.shutdown.load(Ordering::Relaxed) {
        conn.close_after_response();
    }
    // Core stamps the Date on the response head (unless the handler set one).
    conn.set_date(wireloom_io::date::now());
    write_response(conn, drv, response).unwrap_or(false)
}

fn call_chain(
    mws: &[Arc<dyn Middleware>],
    h: &dyn Fn(&mut Request<'_>) -> Response,
    req: &mut Request<'_>,
) -> Response {
    match mws.split_first() {
        None => h(req),
        Some((m, rest)) => m.handle(req, &|r: &mut Request<'_>| call_chain(rest, h, r)),
    }
}

fn io_err(e: wireloom_core::http::UsageError) -> io::Error {
    io::Error::other(e)
}

/// Starts the response `head`; `Ok(false)` when core refused it and sent
/// a 500 in its place (the caller skips the body).
fn start_response(
    conn: &mut ServerConnection,
    head: ResponseHead,
    len: BodyLength,
) -> io::Result<bool> {
    conn.send_response_or_500(Instant::now(), head, len)
        .map_err(io_err)
}

/// Writes a response; `Ok(false)` when the connection ends (upgrade, or a
/// file changed under the response).
fn write_response(
    conn: &mut ServerConnection,
    drv: &mut Driver<Box<dyn Socket>>,
    resp: Response,
) -> io::Result<bool> {
    let Response { head, body, .. } = resp;
    match body {
        Body::Empty => {
            if !start_response(conn, head, BodyLength::Known(0))? {
                return Ok(true);
            }
            conn.send_end(Instant::now(), None).map_err(io_err)?;
        }
        Body::Full(b) => {
            if !start_response(conn, head, BodyLength::Known(b.len() as u64))? {
                return Ok(true);
            }
            conn.send_data(b).map_err(io_err)?;
            conn.send_end(Instant::now(), None).map_err(io_err)?;
        }
        Body::Stream(mut r) => {
            if !start_response(conn, head, BodyLength::Unknown)? {
                return Ok(true);
            }
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Ok(false), // cut: the client sees an incomplete body
                };
                conn.send_data(Bytes::copy_from_slice(&buf[..n]))
                    .map_err(io_err)?;
                drv.flush(conn)?;
            }
            conn.send_end(Instant::now(), None).map_err(io_err)?;
        }
        Body::File(src, segments) => {
            let total: u64 = segments
                .iter()
                .map(|s| match s {
                    Segment::Bytes(b) => b.len() as u64,
                    Segment::File(a, b) => b - a,
                })
                .sum();
            if !start_response(conn, head, BodyLength::Known(total))? {
                return Ok(true);
            }
            let zero_copy = drv.sock.zero_copy();
            for seg in segments {
                match seg {
                    Segment::Bytes(b) => conn.send_data(b).map_err(io_err)?,
                    Segment::File(a, b) => {
                        let Ok(mut chunks) = src.chunks(a, b, CHUNK, zero_copy) else {
                            return Ok(false);
                        };
                        loop {
                            match chunks.next_chunk() {
                                Ok(Some(data)) => {
                                    conn.send_data(data).map_err(io_err)?;
                                    drv.flush(conn)?;
                                }
                                Ok(None) => break,
                                // Changed or unreadable: cut the response.
                                Err(_) => return Ok(false),
                            }
                        }
                    }
                }
            }
            conn.send_end(Instant::now(), None).map_err(io_err)?;
        }
        Body::Upgrade(f) => {
            if !start_response(conn, head, BodyLength::Known(0))? {
                return Ok(true);
            }
            drv.flush(conn)?;
            if conn.is_switched() {
                let io = std::mem::replace(&mut drv.sock, Box::new(ClosedSocket));
                let read_ahead = drv.buf.split().freeze();
                f(Upgraded { io, read_ahead });
                return Ok(false);
            }
            conn.send_end(Instant::now(), None).map_err(io_err)?;
        }
    }
    Ok(true)
}

/// Placeholder left in a driver whose socket was handed off.
struct ClosedSocket;

impl Read for ClosedSocket {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for ClosedSocket {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket for ClosedSocket {
    fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}
