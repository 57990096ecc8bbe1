//! WebSocket on std::net (and TLS): a route that upgrades ([`upgrade`]), a
//! `ws://`/`wss://` client ([`connect`]), the connection a handler gets
//! ([`WebSocket`]), a split into a reader and a writer half for two
//! threads, and a cloneable [`WsHandle`] for any thread.
//!
//! The protocol is core's [`wireloom_core::ws`]; the mailbox, the hub and
//! the session logic are [`wireloom_io::ws`], shared with the async
//! adapters. Here: moving bytes with blocking reads and writes.
//!
//! A blocking read cannot also wait for the mailbox, so the loop reads
//! with a timeout of [`POLL`] (10 ms) while it waits for the peer and
//! takes in what other threads queued between reads: a message injected
//! through a [`WsHandle`] (or the hub) leaves within about 10 ms, and an
//! idle connection's thread wakes 100 times a second. Messages the owner
//! sends itself ([`WebSocket::send`]) leave at once.
//!
//! ```no_run
//! use wireloom_blocking::core::http::Method;
//! use wireloom_blocking::router::Router;
//! use wireloom_blocking::server::BoxHandler;
//! use wireloom_blocking::ws::{upgrade, WsConfig};
//!
//! let mut router: Router<BoxHandler> = Router::new();
//! router.route(Method::GET, "/echo", upgrade(WsConfig::default(), |mut ws| {
//!     while let Some(m) = ws.recv() {
//!         if ws.send(m).is_err() { break; }
//!     }
//! })).unwrap();
//! ```

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use wireloom_core::http::{BodyLength, ClientConnection, ClientEvent};
use wireloom_core::ws::{accept, UsageError, WebSocket as CoreWs};
use wireloom_core::Dialogue;

use crate::driver::{connect_tcp, Driver, Progress, Socket, TlsConnector};
use crate::server::{Body, BoxHandler, Request, Response, Upgraded};

pub use wireloom_core::ws::{CloseCode, CloseFrame, CloseInfo, Config, Message, WsError};
pub use wireloom_io::ws::{
    BroadcastReport, FullPolicy, Hub, Limits, Membership, SendError, UserEvent, WsConfig, WsEvent,
    WsHandle,
};

/// How long the loop's read waits before it looks at the mailbox again.
pub const POLL: Duration = Duration::from_millis(10);
/// How long a closed connection reads what the peer still sends (so our
/// close frame is not lost to a reset).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

/// One WebSocket connection over a blocking socket. The thread that owns
/// it runs its loop inside [`next_event`](WebSocket::next_event),
/// [`recv`](WebSocket::recv) and [`send`](WebSocket::send);
/// [`split`](WebSocket::split) moves the loop to a thread of its own.
pub struct WebSocket {
    drv: Driver<Box<dyn Socket>>,
    session: wireloom_io::ws::Session,
    protocol: Option<String>,
    transport_closed: bool,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.session.ws.role())
            .field("protocol", &self.protocol)
            .finish()
    }
}

pub use wireloom_io::ws::WsSendError;
use wireloom_io::ws::{mask_seed, ClientStart};

impl WebSocket {
    /// A connection over `sock` (after the handshake), with `read_ahead`
    /// the bytes already read past the handshake.
    pub fn new(
        sock: Box<dyn Socket>,
        read_ahead: BytesMut,
        ws: CoreWs,
        limits: Limits,
        protocol: Option<String>,
    ) -> WebSocket {
        let mut drv = Driver::new(sock);
        drv.buf = read_ahead;
        let mut session = wireloom_io::ws::Session::new(ws, limits);
        drv.feed_buffered(&mut session.ws);
        WebSocket {
            drv,
            session,
            protocol,
            transport_closed: false,
        }
    }

    /// The subprotocol both ends agreed on.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.session.ws.is_compressed()
    }

    /// A handle for other threads (see the module doc for when what it
    /// queues leaves).
    pub fn handle(&self) -> WsHandle {
        self.session.handle().clone()
    }

    /// How the connection ended (once [`WsEvent::Closed`] was handed out).
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.session.close_info()
    }

    /// The next event; `None` once the connection is over and its socket
    /// closed. Writes what is queued meanwhile.
    pub fn next_event(&mut self) -> Option<WsEvent> {
        loop {
            if self.session.is_done() {
                self.close_transport();
                return None;
            }
            self.session.pull(Instant::now());
            if let Some(ev) = self.session.next_event() {
                return Some(ev);
            }
            if self.drv.flush(&mut self.session.ws).is_err() {
                self.session.transport_gone(Instant::now());
                continue;
            }
            // Input already read that the connection left (it stops at
            // its limit of pending events): feed it before reading more.
            if !self.drv.buf.is_empty() && self.session.ws.wants_input() {
                let before = self.drv.buf.len();
                self.drv.feed_buffered(&mut self.session.ws);
                if self.drv.buf.len() != before {
                    continue;
                }
            }
            if self
                .drv
                .read_once(&mut self.session.ws, Some(POLL))
                .is_err()
            {
                self.session.transport_gone(Instant::now());
            }
        }
    }

    fn close_transport(&mut self) {
        if self.transport_closed {
            return;
        }
        self.transport_closed = true;
        let _ = self.drv.flush(&mut self.session.ws);
        let _ = self.drv.sock.shutdown_write();
        if self.drv.peer_closed() {
            return;
        }
        // Linger: drop what the peer still sends, until its EOF.
        let deadline = Instant::now() + LINGER;
        let mut buf = vec![0u8; 16 * 1024];
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.drv.sock.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.drv.sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    }

    /// The next whole message; `None` once the connection is over.
    pub fn recv(&mut self) -> Option<Message> {
        loop {
            if let WsEvent::Message(m) = self.next_event()? {
                return Some(m);
            }
        }
    }

    /// Queues a message without writing it (it leaves with the next
    /// [`send`](WebSocket::send), [`flush`](WebSocket::flush) or read).
    pub fn feed(&mut self, message: impl Into<Message>) -> Result<(), UsageError> {
        self.session.send(message.into())
    }

    /// Sends a message and writes everything queued (blocks while the
    /// peer does not read, bounded by the socket's write timeout).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), WsSendError> {
        self.session
            .send(message.into())
            .map_err(WsSendError::Usage)?;
        self.flush()
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<(), WsSendError> {
        self.drv.flush(&mut self.session.ws).map_err(|e| {
            self.session.transport_gone(Instant::now());
            WsSendError::Io(e)
        })
    }

    /// Starts the close handshake and runs the connection until it is over
    /// (bounded by the close timeout); messages arriving meanwhile are
    /// dropped. Returns how it ended.
    pub fn close(mut self, code: CloseCode, reason: &str) -> Result<CloseInfo, UsageError> {
        if self.session.close_info().is_none() {
            match self.session.ws.close(Instant::now(), code, reason) {
                Ok(()) | Err(UsageError::Closing) => {}
                Err(e) => return Err(e),
            }
        }
        while self.next_event().is_some() {}
        Ok(self.session.close_info().cloned().unwrap_or_default())
    }

    /// Splits the connection: its loop moves to a thread of its own; the
    /// [`WsReader`] receives its events (a bounded channel of 16: the
    /// loop stops reading while it is full) and the [`WsWriter`] sends
    /// through its mailbox, each from any thread. Dropping the reader
    /// closes the connection (1000).
    pub fn split(mut self) -> io::Result<(WsReader, WsWriter)> {
        let writer = WsWriter {
            handle: self.handle(),
        };
        let (tx, rx) = sync_channel(16);
        std::thread::Builder::new()
            .name("wireloom-ws".into())
            .spawn(move || {
                let mut closing = false;
                while let Some(ev) = self.next_event() {
                    if tx.send(ev).is_err() && !closing {
                        closing = true;
                        let _ = self.session.ws.close(Instant::now(), CloseCode::NORMAL, "");
                    }
                }
            })?;
        Ok((WsReader { rx }, writer))
    }
}

/// The receiving half of a split [`WebSocket`].
#[derive(Debug)]
pub struct WsReader {
    rx: Receiver<WsEvent>,
}

impl WsReader {
    /// The next event; `None` at the end.
    pub fn next_event(&mut self) -> Option<WsEvent> {
        self.rx.recv().ok()
    }

    /// The next event, waiting at most `limit` ([`Elapsed`] then); `None`
    /// at the end.
    pub fn next_event_timeout(&mut self, limit: Duration) -> Result<Option<WsEvent>, Elapsed> {
        match self.rx.recv_timeout(limit) {
            Ok(ev) => Ok(Some(ev)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Elapsed),
        }
    }

    /// The next whole message; `None` once the connection is over.
    pub fn recv(&mut self) -> Option<Message> {
        loop {
            if let WsEvent::Message(m) = self.next_event()? {
                return Some(m);
            }
        }
    }
}

/// [`WsReader::next_event_timeout`] waited its whole limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no event within the limit")
    }
}

impl std::error::Error for Elapsed {}

/// Wakes a parked thread (a blocked sender waiting for room).
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The sending half of a split [`WebSocket`].
#[derive(Debug, Clone)]
pub struct WsWriter {
    handle: WsHandle,
}

impl WsWriter {
    /// Queues a message for the connection's loop, blocking while its
    /// queue is above the high-water mark. `Err` with the message when the
    /// connection is over.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), Message> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut m = message.into();
        loop {
            match self.handle.send_or_register(m, &waker) {
                Ok(()) => return Ok(()),
                Err(SendError::Closed(back)) => return Err(back),
                Err(SendError::Full(back)) => {
                    m = back;
                    // Woken when room is made; the timeout re-checks in
                    // case the wake-up raced the registration.
                    std::thread::park_timeout(POLL);
                }
            }
        }
    }

    /// Asks the loop to close the connection.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.handle.close(code, reason);
    }

    /// The connection's handle.
    pub fn handle(&self) -> &WsHandle {
        &self.handle
    }
}

// ---- server ---------------------------------------------------------------

/// A route handler that upgrades `GET` requests to WebSocket (refusing
/// others with core's answer: 400, 403, 405, 426) and runs `f` with the
/// connection on the connection's worker thread.
pub fn upgrade<F>(config: WsConfig, f: F) -> BoxHandler
where
    F: Fn(WebSocket) + Send + Sync + 'static,
{
    let config = Arc::new(config);
    let f = Arc::new(f);
    Arc::new(move |req: &mut Request<'_>| -> Response {
        match accept(req.head(), &config.server) {
            Err(refusal) => {
                let body = refusal.body();
                Response::from_parts(refusal.response, Body::Full(body.into()))
            }
            Ok(accepted) => {
                let (config, f) = (Arc::clone(&config), Arc::clone(&f));
                let negotiated = accepted.negotiated;
                Response::from_parts(
                    accepted.response,
                    Body::Upgrade(Box::new(move |up: Upgraded| {
                        let _ = up.io.set_read_timeout(None);
                        let core = CoreWs::server(
                            config.connection.clone(),
                            negotiated.deflate,
                            Instant::now(),
                        );
                        f(WebSocket::new(
                            up.io,
                            BytesMut::from(up.read_ahead),
                            core,
                            config.limits.clone(),
                            negotiated.protocol,
                        ))
                    })),
                )
            }
        }
    })
}

// ---- client ---------------------------------------------------------------

/// Client settings: the WebSocket ones, the TLS connector for `wss://`
/// (the same as the HTTP client's `AgentConfig::tls`, e.g. a
/// `ClientTlsConfig`), and time bounds.
#[derive(Clone)]
pub struct ClientConfig {
    /// Handshake offer, connection limits, mailbox bounds.
    pub ws: WsConfig,
    /// TLS for `wss://` (none: `wss://` is refused).
    pub tls: Option<Arc<dyn TlsConnector>>,
    /// Bound on DNS + TCP connect. Default 30 s.
    pub connect_timeout: Duration,
    /// Bound on the TLS and the opening handshake. Default 30 s.
    pub handshake_timeout: Duration,
    /// Bound on each write once connected. Default 30 s.
    pub write_timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("ws", &self.ws)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ws: WsConfig::default(),
            tls: None,
            connect_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

pub use wireloom_io::ws::ConnectError;

/// Opens a WebSocket to a `ws://` or `wss://` URL.
pub fn connect(url: &str, config: &ClientConfig) -> Result<WebSocket, ConnectError> {
    let start = ClientStart::new(url, config.tls.is_some(), config.ws.client.clone())?;
    let tcp: TcpStream = connect_tcp(&start.host, start.port, config.connect_timeout, None)
        .map_err(ConnectError::from_connect)?;
    let _ = tcp.set_nodelay(true);
    let io_err = ConnectError::Io;
    tcp.set_write_timeout(Some(config.write_timeout))
        .map_err(io_err)?;
    tcp.set_read_timeout(Some(config.handshake_timeout))
        .map_err(io_err)?;
    let sock: Box<dyn Socket> = match config.tls.as_ref().filter(|_| start.secure) {
        None => Box::new(tcp),
        Some(t) => t.connect(tcp, &start.host).map_err(ConnectError::Io)?,
    };
    let deadline = Instant::now() + config.handshake_timeout;
    let ClientStart {
        handshake, head, ..
    } = start;
    let mut http = ClientConnection::new(Default::default());
    let mut drv = Driver::new(sock);
    http.send_request(Instant::now(), head, BodyLength::Known(0))
        .map_err(|e| ConnectError::Http(e.to_string()))?;
    let response = loop {
        if Instant::now() >= deadline {
            return Err(ConnectError::Timeout);
        }
        match drv
            .advance(&mut http, Some(POLL))
            .map_err(ConnectError::Io)?
        {
            Progress::Event(ClientEvent::Response(r)) => break r.head,
            Progress::Event(ClientEvent::Error(e)) => {
                return Err(ConnectError::Http(e.to_string()))
            }
            Progress::Event(_) => {}
            Progress::Closed => return Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into())),
            Progress::Read(_) if drv.peer_closed() => {
                return Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into()))
            }
            Progress::Read(_) => {}
        }
    };
    let negotiated = handshake
        .check_response(&response)
        .map_err(ConnectError::Handshake)?;
    let rest = std::mem::take(&mut drv.buf);
    let sock = drv.sock;
    let _ = sock.set_read_timeout(None);
    let core = CoreWs::client(
        config.ws.connection.clone(),
        negotiated.deflate,
        mask_seed(),
        Instant::now(),
    );
    Ok(WebSocket::new(
        sock,
        rest,
        core,
        config.ws.limits.clone(),
        negotiated.protocol,
    ))
}
