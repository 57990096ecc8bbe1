//! WebSocket on the async engine (every runtime of [`Runtime`]): a server
//! route that upgrades ([`upgrade`]), a client ([`connect`]), and the
//! connection a handler gets ([`WebSocket`]), with a split into a reader
//! and a writer half for two tasks and a cloneable [`WsHandle`] for any
//! other task or thread.
//!
//! The protocol is core's [`wireloom_core::ws`]; the mailbox, the hub and
//! the session logic are [`crate::ws`]. Here: moving bytes.
//!
//! ```text
//!  unsplit:  the handler's task runs the loop inside next_event/recv/send
//!  split:    a loop task ──events (bounded)──► WsReader (any task)
//!                       ◄──mailbox (bounded)── WsWriter, WsHandle (any task/thread)
//! ```
//!
//! ```no_run
//! # async fn demo<R: wireloom_io::rt::Runtime>(rt: R) {
//! use wireloom_io::aio::ws::{upgrade, WebSocket};
//! use wireloom_io::router::Router;
//! use wireloom_io::ws::WsConfig;
//! use wireloom_core::http::Method;
//!
//! let mut router = Router::new();
//! router.route(Method::GET, "/echo", upgrade(rt, WsConfig::default(), |mut ws: WebSocket<R>| async move {
//!     while let Some(m) = ws.recv().await {
//!         if ws.send(m).await.is_err() { break; }
//!     }
//! })).unwrap();
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};
use wireloom_core::http::{BodyLength, ClientConnection};
use wireloom_core::ws::{accept, CloseCode, CloseInfo, Message, UsageError, WebSocket as CoreWs};
use wireloom_core::Dialogue;

use super::body::{AsyncSocket, Body, Upgraded};
use super::conn::{client_handshake, Conn};
use super::driver::Driver;
use super::server::{BoxHandler, Handler, Request, Response};
use crate::http_client::head_event;
use crate::rt::{connect_host, poll_until, BoxFuture, Runtime, Timer};
use crate::tls::ClientTlsConfig;
use crate::ws::{mask_seed, ClientStart, Limits, SendError, Session, WsConfig, WsEvent, WsHandle};

pub use crate::ws::ConnectError;

pub use crate::ws::{Hub, Membership};

/// One WebSocket connection on the async engine. Unsplit, the task that
/// owns it runs its loop: call [`next_event`](WebSocket::next_event) or
/// [`recv`](WebSocket::recv) whenever the task waits for the peer (that is
/// also when commands injected through a [`WsHandle`] are taken in and
/// written). [`split`](WebSocket::split) moves the loop to a task of its
/// own.
pub struct WebSocket<R: Runtime> {
    drv: Driver<R, Box<dyn AsyncSocket>>,
    session: Session,
    protocol: Option<String>,
    transport_closed: bool,
    /// After closing our side: the peer's remaining bytes are read and
    /// dropped until its EOF, [`LINGER_BYTES`] or the timer, so that our
    /// close frame is not lost to a reset (a peer still sending when a
    /// limit closed the connection).
    linger: Option<(R::Timer, usize)>,
}

/// How long a closed connection reads what the peer still sends.
const LINGER: Duration = Duration::from_secs(2);
/// How much it reads then, at most.
const LINGER_BYTES: usize = 64 << 20;

impl<R: Runtime> fmt::Debug for WebSocket<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.session.ws.role())
            .field("protocol", &self.protocol)
            .finish()
    }
}

pub use crate::ws::WsSendError;

impl<R: Runtime> WebSocket<R> {
    /// A connection over `io` (after the handshake), with `read_ahead`
    /// the bytes already read past the handshake.
    pub fn new(
        rt: R,
        io: Box<dyn AsyncSocket>,
        read_ahead: BytesMut,
        ws: CoreWs,
        limits: Limits,
        protocol: Option<String>,
    ) -> WebSocket<R> {
        let mut drv = Driver::new(rt, io);
        drv.buf = read_ahead;
        let mut session = Session::new(ws, limits);
        drv.feed_buffered(Instant::now(), &mut session.ws);
        WebSocket {
            drv,
            session,
            protocol,
            transport_closed: false,
            linger: None,
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

    /// A handle for other tasks and threads (send, broadcast frames,
    /// close, application events). What it queues is taken in while this
    /// connection's loop runs (see the type's doc).
    pub fn handle(&self) -> WsHandle {
        self.session.handle().clone()
    }

    /// How the connection ended (once [`WsEvent::Closed`] was handed out).
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.session.close_info()
    }

    /// The poll form of [`next_event`](WebSocket::next_event).
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WsEvent>> {
        loop {
            if self.session.is_done() {
                if !self.transport_closed {
                    // What is still queued (the close frame) goes first.
                    let _ = ready!(self.drv.poll_flush(cx, &mut self.session.ws));
                    let _ = ready!(Pin::new(&mut self.drv.io).poll_close(cx));
                    self.transport_closed = true;
                    if !self.drv.peer_closed() {
                        let t = self.drv.runtime().timer(Instant::now() + LINGER);
                        self.linger = Some((t, 0));
                    }
                }
                if let Some((timer, dropped)) = &mut self.linger {
                    let io = &mut self.drv.io;
                    let r = super::scratch::with_read(|scratch| loop {
                        match Pin::new(&mut *io).poll_read(cx, scratch) {
                            Poll::Ready(Ok(n)) if n > 0 && *dropped < LINGER_BYTES => *dropped += n,
                            Poll::Ready(_) => return Poll::Ready(()),
                            Poll::Pending => return Poll::Pending,
                        }
                    });
                    if r.is_pending() && timer.poll_fire(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.linger = None;
                }
                return Poll::Ready(None);
            }
            self.session.register(cx.waker());
            self.session.pull(self.drv.woke_at());
            if let Some(ev) = self.session.next_event() {
                return Poll::Ready(Some(ev));
            }
            if let Poll::Ready(Err(_)) = self.drv.poll_flush(cx, &mut self.session.ws) {
                self.session.transport_gone(Instant::now());
                continue;
            }
            // Input already read that the connection left (it stops at its
            // limit of pending events): feed it before waiting for more.
            if !self.drv.buf.is_empty() && self.session.ws.wants_input() {
                let before = self.drv.buf.len();
                self.drv.feed_buffered(Instant::now(), &mut self.session.ws);
                if self.drv.buf.len() != before {
                    continue;
                }
            }
            match self.drv.poll_wait(cx, &mut self.session.ws) {
                // Input, a timer or EOF (or a failed read, handed to the
                // connection as EOF): look at the events again.
                Poll::Ready(_) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The next event: a message, a ping/pong, the peer's close, an
    /// injected application event, an error; `None` once the connection
    /// is over and its transport closed. Writes what is queued meanwhile.
    pub async fn next_event(&mut self) -> Option<WsEvent> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The next whole message; `None` once the connection is over.
    /// Pings, pongs, the close handshake and application events are
    /// handled and skipped (use [`next_event`](WebSocket::next_event) to
    /// see them).
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.next_event().await? {
                WsEvent::Message(m) => return Some(m),
                _ => continue,
            }
        }
    }

    /// Queues a message without writing it: it leaves with the next
    /// [`send`](WebSocket::send), [`flush`](WebSocket::flush) or wait for
    /// input (several messages, one write).
    pub fn feed(&mut self, message: impl Into<Message>) -> Result<(), UsageError> {
        self.session.send(message.into())
    }

    /// Sends a message and writes everything queued (waits while the peer
    /// does not read; meanwhile input is still read and pings answered,
    /// up to core's limit of pending events).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsSendError> {
        self.session
            .send(message.into())
            .map_err(WsSendError::Usage)?;
        self.flush().await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), WsSendError> {
        poll_fn(|cx| {
            match self.drv.poll_flush(cx, &mut self.session.ws) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => {
                    self.session.transport_gone(Instant::now());
                    return Poll::Ready(Err(WsSendError::Io(e)));
                }
                Poll::Pending => {}
            }
            // While the write waits, keep reading (pings, the peer's close).
            if self.drv.poll_wait(cx, &mut self.session.ws).is_ready() {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }

    /// Starts the close handshake and runs the connection until it is
    /// over (bounded by the connection's close timeout); messages that
    /// arrive meanwhile are dropped. Returns how it ended.
    pub async fn close(mut self, code: CloseCode, reason: &str) -> Result<CloseInfo, UsageError> {
        if self.session.close_info().is_none() {
            match self.session.ws.close(Instant::now(), code, reason) {
                Ok(()) | Err(UsageError::Closing) => {}
                Err(e) => return Err(e),
            }
        }
        while self.next_event().await.is_some() {}
        Ok(self.session.close_info().cloned().unwrap_or_default())
    }

    /// Splits the connection: its loop moves to a task of its own
    /// (spawned on the runtime); the [`WsReader`] receives its events and
    /// the [`WsWriter`] sends through its mailbox, each from any task.
    /// Dropping the reader closes the connection (1000) and drops what
    /// arrives after.
    pub fn split(self) -> (WsReader, WsWriter) {
        let inbox = Arc::new(Inbox::default());
        let writer = WsWriter {
            handle: self.handle(),
        };
        let rt = self.drv.runtime().clone();
        let task_inbox = Arc::clone(&inbox);
        rt.spawn(Box::pin(run_split(self, task_inbox)));
        (WsReader { inbox }, writer)
    }
}

/// Events waiting for a split reader (bounded).
const INBOX: usize = 16;

#[derive(Default)]
struct InboxState {
    events: VecDeque<WsEvent>,
    reader: Option<Waker>,
    pump: Option<Waker>,
    done: bool,
    reader_gone: bool,
}

#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn run_split<R: Runtime>(mut ws: WebSocket<R>, inbox: Arc<Inbox>) {
    let mut held: Option<WsEvent> = None;
    let mut closing = false;
    poll_fn(|cx| loop {
        {
            let mut s = inbox.lock();
            if s.reader_gone && !closing {
                closing = true;
                drop(s);
                let _ = ws.session.ws.close(Instant::now(), CloseCode::NORMAL, "");
                held = None;
                continue;
            }
            if let Some(ev) = held.take() {
                if s.reader_gone {
                    // Nobody listens: dropped.
                } else if s.events.len() < INBOX {
                    s.events.push_back(ev);
                    if let Some(w) = s.reader.take() {
                        w.wake();
                    }
                } else {
                    held = Some(ev);
                    s.pump = Some(cx.waker().clone());
                    drop(s);
                    // The reader is behind: keep writing (the mailbox, the
                    // close), read nothing more.
                    ws.session.register(cx.waker());
                    ws.session.pull(Instant::now());
                    let _ = ws.drv.poll_flush(cx, &mut ws.session.ws);
                    return Poll::Pending;
                }
            }
        }
        match ws.poll_next_event(cx) {
            Poll::Ready(Some(ev)) => held = Some(ev),
            Poll::Ready(None) => {
                let mut s = inbox.lock();
                s.done = true;
                if let Some(w) = s.reader.take() {
                    w.wake();
                }
                return Poll::Ready(());
            }
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// The receiving half of a split [`WebSocket`].
pub struct WsReader {
    inbox: Arc<Inbox>,
}

impl fmt::Debug for WsReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WsReader")
    }
}

impl WsReader {
    /// The poll form of [`next_event`](WsReader::next_event).
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WsEvent>> {
        let mut s = self.inbox.lock();
        if let Some(ev) = s.events.pop_front() {
            if let Some(w) = s.pump.take() {
                w.wake();
            }
            return Poll::Ready(Some(ev));
        }
        if s.done {
            return Poll::Ready(None);
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The next event (see [`WebSocket::next_event`]); `None` at the end.
    pub async fn next_event(&mut self) -> Option<WsEvent> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The next whole message; `None` once the connection is over.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let WsEvent::Message(m) = self.next_event().await? {
                return Some(m);
            }
        }
    }
}

impl Drop for WsReader {
    fn drop(&mut self) {
        let mut s = self.inbox.lock();
        s.reader_gone = true;
        s.events.clear();
        if let Some(w) = s.pump.take() {
            w.wake();
        }
    }
}

/// The sending half of a split [`WebSocket`] (clone its
/// [`handle`](WsWriter::handle) for more senders).
#[derive(Debug, Clone)]
pub struct WsWriter {
    handle: WsHandle,
}

impl WsWriter {
    /// Queues a message for the connection's loop, waiting while its
    /// queue is above the high-water mark. `Err` with the message when the
    /// connection is over.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Message> {
        let mut m = Some(message.into());
        poll_fn(|cx| {
            let msg = m.take().expect("polled after completion");
            match self.handle.send_or_register(msg, cx.waker()) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(SendError::Closed(msg)) => Poll::Ready(Err(msg)),
                Err(SendError::Full(msg)) => {
                    m = Some(msg);
                    Poll::Pending
                }
            }
        })
        .await
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
/// connection, on the connection's own task.
pub fn upgrade<R, F, Fut>(rt: R, config: WsConfig, f: F) -> BoxHandler
where
    R: Runtime,
    F: Fn(WebSocket<R>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(Upgrade {
        rt,
        config: Arc::new(config),
        f: Arc::new(f),
    })
}

struct Upgrade<R, F> {
    rt: R,
    config: Arc<WsConfig>,
    f: Arc<F>,
}

impl<R, F, Fut> Handler for Upgrade<R, F>
where
    R: Runtime,
    F: Fn(WebSocket<R>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, req: Request) -> BoxFuture<'static, Response> {
        let response = match accept(req.head(), &self.config.server) {
            Err(refusal) => {
                let body = refusal.body();
                Response::from_parts(refusal.response, Body::Full(body.into()))
            }
            Ok(accepted) => {
                let (rt, config, f) = (
                    self.rt.clone(),
                    Arc::clone(&self.config),
                    Arc::clone(&self.f),
                );
                let negotiated = accepted.negotiated;
                Response::from_parts(
                    accepted.response,
                    Body::upgrade(move |up: Upgraded| async move {
                        let core = CoreWs::server(
                            config.connection.clone(),
                            negotiated.deflate,
                            Instant::now(),
                        );
                        let ws = WebSocket::new(
                            rt,
                            up.io,
                            BytesMut::from(up.read_ahead),
                            core,
                            config.limits.clone(),
                            negotiated.protocol,
                        );
                        f(ws).await
                    }),
                )
            }
        };
        Box::pin(async move { response })
    }
}

// ---- client ---------------------------------------------------------------

/// Client settings: the WebSocket ones, the TLS configuration for `wss://`
/// (the same [`ClientTlsConfig`] as the HTTP client's), and time bounds.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Handshake offer, connection limits, mailbox bounds.
    pub ws: WsConfig,
    /// TLS for `wss://` (none: `wss://` is refused).
    pub tls: Option<ClientTlsConfig>,
    /// Bound on DNS + TCP connect. Default 30 s.
    pub connect_timeout: Duration,
    /// Bound on the TLS and the opening handshake. Default 30 s.
    pub handshake_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ws: WsConfig::default(),
            tls: None,
            connect_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Opens a WebSocket to a `ws://` or `wss://` URL.
pub async fn connect<R: Runtime>(
    rt: R,
    url: &str,
    config: &ClientConfig,
) -> Result<WebSocket<R>, ConnectError> {
    let start = ClientStart::new(url, config.tls.is_some(), config.ws.client.clone())?;
    let tcp = connect_host(
        &rt,
        &start.host,
        start.port,
        Instant::now() + config.connect_timeout,
    )
    .await
    .map_err(ConnectError::from_connect)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let io = match config.tls.as_ref().filter(|_| start.secure) {
        None => Conn::Plain(tcp),
        Some(t) => Conn::Tls(Box::new(
            client_handshake(&rt, tcp, t, &start.host, deadline)
                .await
                .map_err(ConnectError::Tls)?,
        )),
    };
    let ClientStart {
        handshake, head, ..
    } = start;
    let mut http = ClientConnection::new(Default::default());
    let mut drv = Driver::new(rt.clone(), io);
    http.send_request(Instant::now(), head, BodyLength::Known(0))
        .map_err(|e| ConnectError::Http(e.to_string()))?;
    let response = loop {
        let flushed = poll_until(&rt, Some(deadline), |cx| drv.poll_flush(cx, &mut http)).await;
        match flushed {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(ConnectError::Io(e)),
            None => return Err(ConnectError::Timeout),
        }
        let mut got = None;
        while let Some(ev) = http.poll_event() {
            if let Some(h) = head_event(ev) {
                got = Some(h.map_err(|e| ConnectError::Http(e.to_string()))?);
                break;
            }
        }
        if let Some(h) = got {
            break h;
        }
        if drv.peer_closed() {
            return Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match poll_until(&rt, Some(deadline), |cx| drv.poll_wait(cx, &mut http)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ConnectError::Io(e)),
            None => return Err(ConnectError::Timeout),
        }
    };
    let negotiated = handshake
        .check_response(&response)
        .map_err(ConnectError::Handshake)?;
    let (io, rest) = drv.into_parts();
    let core = CoreWs::client(
        config.ws.connection.clone(),
        negotiated.deflate,
        mask_seed(),
        Instant::now(),
    );
    Ok(WebSocket::new(
        rt,
        Box::new(io),
        rest,
        core,
        config.ws.limits.clone(),
        negotiated.protocol,
    ))
}
