//! One client connection: the loop that moves bytes between two sockets
//! and two core dialogues (see the crate docs for the drawing).

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::pool::{retry_on_fresh_connection, Failure};
use wireloom_core::http::{
    BodyLength, ClientEvent, ErrorKind, Framing, HeaderValue, Method, Request, RequestHead,
    ResponseHead, ServerConnection, ServerEvent, StatusCode,
};
use wireloom_core::Dialogue;

use crate::headers;
use crate::transport::{Read, Side};
use crate::upstream::{ConnectFailure, UpConn};
use crate::Shared;

/// Bytes queued for one side above which the other side is not read
/// (back-pressure: a slow reader slows the writer down, no buffer grows).
const HIGH_WATER: usize = 256 * 1024;

/// One request on its way through: the upstream connection carrying it
/// and how far each direction got.
#[derive(Debug)]
struct Exchange {
    up: Box<UpConn>,
    reused: bool,
    attempt: u32,
    method: Method,
    /// The head as the client sent it, kept (moved, not copied) while a
    /// failure could still be retried on a fresh connection (a bodiless
    /// idempotent request on a pooled connection, before any response
    /// byte).
    retry: Option<RequestHead>,
    /// The request asked to switch protocols.
    wants_upgrade: bool,
    /// A request body is being streamed upstream.
    body_open: bool,
    /// The whole request went upstream.
    req_done: bool,
    /// The response head went to the client.
    resp_started: bool,
    /// The whole response went to the client.
    resp_done: bool,
    /// The upstream answered 101: both sides become a tunnel.
    upgraded: bool,
}

/// What woke the loop up.
enum Wake {
    ClientRead,
    UpstreamRead,
    Writable,
    Timer,
}

/// The state of one client connection.
struct Conn {
    shared: Arc<Shared>,
    /// The client's address, as this proxy's `X-Forwarded-For` element.
    forwarded_for: HeaderValue,
    /// Server events of one step (kept to reuse its allocation).
    events: Vec<ServerEvent>,
    /// The server dialogue facing the client.
    http: ServerConnection,
    client: Side,
    /// Boxed: it moves in and out of here on every step.
    ex: Option<Box<Exchange>>,
    /// An upstream failure after the response began: the client
    /// connection is cut (it sees a short body) instead of completed.
    abort: bool,
    sleep: Pin<Box<tokio::time::Sleep>>,
    armed: Option<Instant>,
    /// While bytes wait for the client: when it must have taken some
    /// (pushed out by each write that makes progress).
    send_deadline: Option<Instant>,
    /// `client.written()` when `send_deadline` was last pushed out.
    sent: u64,
}

/// Serves one accepted client connection until it closes.
pub async fn serve(client: Side, peer: SocketAddr, shared: Arc<Shared>) {
    let now = Instant::now();
    let http = ServerConnection::new(shared.settings.server.clone(), now);
    let mut conn = Conn {
        shared,
        forwarded_for: headers::forwarded_for(peer.ip()),
        events: Vec::new(),
        http,
        client,
        ex: None,
        abort: false,
        sleep: Box::pin(tokio::time::sleep_until(now.into())),
        armed: None,
        send_deadline: None,
        sent: 0,
    };
    let _ = conn.run().await;
}

/// Time a refused connection gets to receive its 503 (TLS handshake
/// included) before it is dropped.
const REFUSE_TIME: Duration = Duration::from_secs(1);
/// Longest lingering close of a refused connection: what the client
/// still sends is read and dropped, so the kernel does not answer it with
/// a reset that could destroy the 503 before the client read it.
const REFUSE_LINGER: Duration = Duration::from_millis(500);

/// Serves a client connection the proxy does not take (over the
/// connection limit): core's 503 (`Connection: close`, `Retry-After`),
/// delivered after the TLS handshake on a TLS listener, then a short
/// lingering close. Bounded by `REFUSE_TIME` + `REFUSE_LINGER` (1.5 s).
pub async fn refuse(mut client: Side, shared: Arc<Shared>) {
    let now = Instant::now();
    let mut http = ServerConnection::new(shared.settings.server.clone(), now);
    http.set_date(wireloom_io::date::at(now));
    http.refuse(StatusCode::SERVICE_UNAVAILABLE);
    while let Some(b) = http.poll_transmit() {
        if client.queue(b).is_err() {
            return;
        }
    }
    let delivered = tokio::time::timeout(REFUSE_TIME, async {
        loop {
            client.flush()?;
            if client.pending() == 0 && !client.is_handshaking() {
                return client.shutdown_write();
            }
            let readable = poll_fn(|cx| {
                if client.poll_write_ready(cx).is_ready() {
                    return Poll::Ready(false);
                }
                client.poll_read_ready(cx).map(|_| true)
            })
            .await;
            if readable {
                // Drives the TLS handshake; request bytes are dropped.
                if let Read::Eof = client.read()? {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                client.buf.clear();
            }
        }
    })
    .await;
    if !matches!(delivered, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(REFUSE_LINGER, async {
        loop {
            poll_fn(|cx| client.poll_read_ready(cx)).await;
            match client.read() {
                Ok(Read::Data) | Ok(Read::WouldBlock) => client.buf.clear(),
                Ok(Read::Eof) | Err(_) => break,
            }
        }
    })
    .await;
}

fn body_length(framing: Framing) -> BodyLength {
    match framing {
        Framing::Empty | Framing::Tunnel => BodyLength::Known(0),
        Framing::Length(n) => BodyLength::Known(n),
        Framing::Chunked | Framing::CloseDelimited => BodyLength::Unknown,
    }
}

impl Conn {
    async fn run(&mut self) -> io::Result<()> {
        loop {
            let now = Instant::now();
            self.http.set_date(wireloom_io::date::at(now));
            let progress = self.step(now).await?;
            self.client.flush()?;
            self.watch_send(now);
            if let Some(ex) = &mut self.ex {
                if ex.up.side.flush().is_err() {
                    // Written into a closed connection: what the
                    // upstream says (if anything) is read, then EOF.
                    ex.up.http.handle_eof(now);
                    continue;
                }
            }
            if self.abort {
                return Ok(());
            }
            if self.http.is_switched() && self.ex.as_ref().is_some_and(|e| e.upgraded) {
                let ex = self.ex.take().expect("checked");
                return self.tunnel(ex.up.side).await;
            }
            if self.http.is_closed() && self.client.pending() == 0 {
                // A clean end: close_notify on TLS, then FIN.
                let _ = self.client.shutdown_write();
                return Ok(());
            }
            if progress {
                continue;
            }
            match self.wait().await {
                Wake::ClientRead => match self.client.read() {
                    Ok(Read::Data) | Ok(Read::WouldBlock) => {}
                    Ok(Read::Eof) => self.http.handle_eof(Instant::now()),
                    Err(e) => {
                        // A TLS alert may be queued: best effort.
                        let _ = self.client.flush();
                        return Err(e);
                    }
                },
                Wake::UpstreamRead => {
                    if let Some(ex) = &mut self.ex {
                        match ex.up.side.read() {
                            Ok(Read::Data) | Ok(Read::WouldBlock) => {}
                            Ok(Read::Eof) | Err(_) => ex.up.http.handle_eof(Instant::now()),
                        }
                    }
                }
                Wake::Writable => {}
                Wake::Timer => {
                    let now = Instant::now();
                    self.armed = None;
                    if self.send_deadline.is_some_and(|d| d <= now) {
                        // The client took nothing for the send timeout:
                        // it stopped reading. Drop it (and its upstream).
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    self.http.handle_timeout(now);
                    if let Some(ex) = &mut self.ex {
                        ex.up.http.handle_timeout(now);
                    }
                }
            }
        }
    }

    /// Feeds what was read to both dialogues and acts on their events
    /// until neither has anything more to say; returns whether anything
    /// happened.
    async fn step(&mut self, now: Instant) -> io::Result<bool> {
        let mut progress = false;

        // Client bytes -> server dialogue -> requests for the upstream.
        if self.http.wants_input() && !self.client.buf.is_empty() {
            self.http.handle_input(now, &mut self.client.buf);
        }
        let mut events = std::mem::take(&mut self.events);
        while let Some(ev) = self.http.poll_event() {
            events.push(ev);
        }
        // A head refused in this batch (smuggling attempts, bad framing):
        // core has queued the error answer; nothing goes upstream, not
        // even a connection attempt.
        let refused =
            self.ex.is_none() && events.iter().any(|e| matches!(e, ServerEvent::Error(_)));
        for ev in events.drain(..) {
            progress = true;
            self.on_request_event(ev, refused).await;
        }
        self.events = events;

        // Upstream bytes -> client dialogue -> the response for the client.
        if let Some(mut ex) = self.ex.take() {
            let now = Instant::now();
            if ex.up.http.wants_input() && !ex.up.side.buf.is_empty() {
                ex.up.http.handle_input(now, &mut ex.up.side.buf);
            }
            let mut keep = true;
            while let Some(ev) = ex.up.http.poll_event() {
                progress = true;
                if !self.on_response_event(&mut ex, ev).await {
                    keep = false;
                    break;
                }
            }
            if keep && ex.up.http.is_closed() && !ex.resp_done && !ex.upgraded {
                // The upstream connection ended without a word (a write
                // into a closed socket): fail the exchange.
                keep = false;
                if ex.resp_started {
                    self.abort = true;
                } else {
                    self.answer(StatusCode::BAD_GATEWAY, "bad gateway\n");
                }
            }
            if keep {
                while let Some(b) = ex.up.http.poll_transmit() {
                    let _ = ex.up.side.queue(b);
                }
                if ex.resp_done && !ex.upgraded {
                    // Pooled if the whole request went out and core says
                    // the connection may carry another; closed otherwise.
                    progress = true;
                    if ex.req_done {
                        self.shared.upstreams.release(ex.up, Instant::now());
                    }
                } else {
                    self.ex = Some(ex);
                }
            }
        }

        while let Some(b) = self.http.poll_transmit() {
            self.client.queue(b)?;
        }
        Ok(progress)
    }

    async fn on_request_event(&mut self, ev: ServerEvent, refused: bool) {
        match ev {
            ServerEvent::Request(req) if !refused => self.on_request(req).await,
            ServerEvent::Data(b) => {
                if let Some(ex) = &mut self.ex {
                    if ex.body_open {
                        let _ = ex.up.http.send_data(b);
                    }
                }
            }
            ServerEvent::End(trailers) => {
                if let Some(ex) = &mut self.ex {
                    if ex.body_open {
                        let t = (!trailers.is_empty()).then_some(trailers);
                        let _ = ex.up.http.send_end(Instant::now(), t);
                        ex.body_open = false;
                    }
                    ex.req_done = true;
                }
            }
            ServerEvent::Error(_) => {
                // Core answered (400, 408, 413...) if no response began.
                // A request cut short upstream is abandoned with its
                // connection: the upstream sees an incomplete message,
                // never a different one.
                if let Some(ex) = self.ex.take() {
                    if ex.resp_started && !ex.resp_done {
                        self.abort = true;
                    }
                }
            }
            ServerEvent::Request(_) | ServerEvent::Upgrade => {}
        }
    }

    async fn on_request(&mut self, req: Request) {
        if req.head.method == Method::CONNECT {
            // A reverse proxy opens no tunnels to arbitrary hosts.
            return self.answer(
                StatusCode::METHOD_NOT_ALLOWED,
                "CONNECT is not served here\n",
            );
        }
        if req.expects_continue {
            // The proxy reads the body itself (`Expect` is not forwarded).
            self.http.accept_body(Instant::now());
        }
        let body = body_length(req.framing);
        let (up, reused) = match self.shared.upstreams.acquire(Instant::now()).await {
            Ok(c) => c,
            Err(f) => return self.answer_failure(f),
        };
        let settings = &self.shared.settings;
        let head = headers::request(
            &req.head,
            &self.forwarded_for,
            req.wants_upgrade,
            &settings.via,
            self.shared.upstreams.host(up.index),
        );
        let method = req.head.method.clone();
        let retry =
            (reused && body == BodyLength::Known(0) && method.is_idempotent()).then_some(req.head);
        let mut ex = Box::new(Exchange {
            up,
            reused,
            attempt: 0,
            method,
            retry,
            wants_upgrade: req.wants_upgrade,
            body_open: body != BodyLength::Known(0),
            req_done: false,
            resp_started: false,
            resp_done: false,
            upgraded: false,
        });
        if ex.up.http.send_request(Instant::now(), head, body).is_err() {
            return self.answer(StatusCode::BAD_GATEWAY, "bad gateway\n");
        }
        self.ex = Some(ex);
    }

    /// Acts on one upstream event; false when the exchange is over with
    /// its upstream connection dropped.
    async fn on_response_event(&mut self, ex: &mut Exchange, ev: ClientEvent) -> bool {
        let now = Instant::now();
        let via = &self.shared.settings.via;
        match ev {
            ClientEvent::Informational(head) => {
                if head.status != StatusCode::CONTINUE {
                    let _ = self
                        .http
                        .send_informational(headers::response(head, false, via));
                }
            }
            ClientEvent::Response(res) => {
                ex.resp_started = true;
                ex.retry = None;
                let tunnel = res.framing == Framing::Tunnel;
                let mut head = headers::response(res.head, tunnel, via);
                if res.framing == Framing::CloseDelimited {
                    rechunk(&mut head);
                }
                match self
                    .http
                    .send_response_or_500(now, head, body_length(res.framing))
                {
                    Ok(true) => {}
                    // Core would not send that head (a 101 before the
                    // request body ended...): the client got a 500.
                    _ => return false,
                }
            }
            ClientEvent::Data(b) => {
                let _ = self.http.send_data(b);
            }
            ClientEvent::End(trailers) => {
                let t = (!trailers.is_empty()).then_some(trailers);
                let _ = self.http.send_end(now, t);
                ex.resp_done = true;
            }
            ClientEvent::Upgrade => ex.upgraded = true,
            ClientEvent::Error(e) => {
                if ex.resp_started {
                    self.abort = true;
                    return false;
                }
                let failure = Failure {
                    reused: ex.reused,
                    body_replayable: ex.retry.is_some(),
                    before_response: e.kind() == ErrorKind::ClosedBeforeResponse,
                };
                if retry_on_fresh_connection(&ex.method, ex.attempt, failure) {
                    // The pooled connection had died while idle.
                    if let (Some(orig), Ok(fresh)) = (
                        ex.retry.take(),
                        self.shared.upstreams.connect(ex.up.index).await,
                    ) {
                        let head = headers::request(
                            &orig,
                            &self.forwarded_for,
                            ex.wants_upgrade,
                            &self.shared.settings.via,
                            self.shared.upstreams.host(fresh.index),
                        );
                        ex.up = fresh;
                        ex.reused = false;
                        ex.attempt += 1;
                        if ex
                            .up
                            .http
                            .send_request(Instant::now(), head, BodyLength::Known(0))
                            .is_ok()
                        {
                            return true;
                        }
                    }
                }
                let (status, text) = match e.kind() {
                    ErrorKind::ResponseTimeout | ErrorKind::BodyTimeout => {
                        (StatusCode::GATEWAY_TIMEOUT, "upstream timed out\n")
                    }
                    _ => (StatusCode::BAD_GATEWAY, "bad gateway\n"),
                };
                self.answer(status, text);
                return false;
            }
        }
        true
    }

    fn answer_failure(&mut self, f: ConnectFailure) {
        match f {
            ConnectFailure::Refused => self.answer(StatusCode::BAD_GATEWAY, "no upstream\n"),
            ConnectFailure::TimedOut => {
                self.answer(StatusCode::GATEWAY_TIMEOUT, "upstream connect timed out\n")
            }
        }
    }

    /// The proxy's own answer to the current request.
    fn answer(&mut self, status: StatusCode, text: &'static str) {
        let now = Instant::now();
        let mut head = ResponseHead::new(status);
        let _ = head.header("Content-Type", "text/plain; charset=utf-8");
        if self
            .http
            .send_response(now, head, BodyLength::Known(text.len() as u64))
            .is_ok()
        {
            let _ = self.http.send_data(Bytes::from_static(text.as_bytes()));
            let _ = self.http.send_end(now, None);
        }
    }

    /// Arms, pushes out or clears the send deadline after a flush: armed
    /// while bytes wait for the client, pushed out whenever the client
    /// took some, cleared once it took everything.
    fn watch_send(&mut self, now: Instant) {
        let written = self.client.written();
        if self.client.pending() == 0 {
            self.send_deadline = None;
        } else if self.send_deadline.is_none() || written != self.sent {
            self.send_deadline = Some(now + self.shared.settings.send_timeout);
        }
        self.sent = written;
    }

    /// Waits until a socket is ready or the earliest timer fires.
    async fn wait(&mut self) -> Wake {
        let up_timer = self.ex.as_ref().and_then(|e| e.up.http.poll_timeout());
        let deadline = [self.http.poll_timeout(), up_timer, self.send_deadline]
            .into_iter()
            .flatten()
            .min();
        // The timer is moved only when the deadline comes earlier than the
        // one armed: a later deadline (each request pushes the idle and
        // response timers out) lets the armed timer fire early, the
        // dialogues find nothing due, and it is armed again then.
        if let Some(d) = deadline {
            if self.armed.is_none_or(|a| d < a) {
                self.sleep.as_mut().reset(d.into());
                self.armed = Some(d);
            }
        }
        let read_client = self.http.wants_input()
            && !self.client.is_eof()
            && self.client.pending() < HIGH_WATER
            && self
                .ex
                .as_ref()
                .is_none_or(|e| e.up.side.pending() < HIGH_WATER);
        let read_up = self
            .ex
            .as_ref()
            .is_some_and(|e| e.up.http.wants_input() && !e.up.side.is_eof())
            && self.client.pending() < HIGH_WATER;
        let (client, ex, sleep, armed) = (&self.client, &self.ex, &mut self.sleep, self.armed);
        poll_fn(|cx| {
            if client.poll_write_ready(cx).is_ready() {
                return Poll::Ready(Wake::Writable);
            }
            if let Some(ex) = ex {
                if ex.up.side.poll_write_ready(cx).is_ready() {
                    return Poll::Ready(Wake::Writable);
                }
                if read_up && ex.up.side.poll_read_ready(cx).is_ready() {
                    return Poll::Ready(Wake::UpstreamRead);
                }
            }
            if read_client && client.poll_read_ready(cx).is_ready() {
                return Poll::Ready(Wake::ClientRead);
            }
            if armed.is_some() && sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            Poll::Pending
        })
        .await
    }

    /// After a 101: bytes go both ways untouched until both sides have
    /// closed (each direction is closed on its own) or nothing moved for
    /// the tunnel timeout.
    async fn tunnel(&mut self, mut up: Side) -> io::Result<()> {
        // Bytes that arrived past the switch belong to the new protocol.
        up.queue(self.client.buf.split().freeze())?;
        self.client.queue(up.buf.split().freeze())?;
        let idle = self.shared.settings.tunnel_timeout;
        let sleep = tokio::time::sleep(idle);
        tokio::pin!(sleep);
        loop {
            self.client.flush()?;
            up.flush()?;
            if self.client.is_eof() && up.pending() == 0 {
                up.shutdown_write()?;
            }
            if up.is_eof() && self.client.pending() == 0 {
                self.client.shutdown_write()?;
            }
            if self.client.is_eof()
                && up.is_eof()
                && self.client.pending() == 0
                && up.pending() == 0
            {
                return Ok(());
            }
            let read_client = !self.client.is_eof() && up.pending() < HIGH_WATER;
            let read_up = !up.is_eof() && self.client.pending() < HIGH_WATER;
            let client = &self.client;
            let up_ref = &up;
            let wake = poll_fn(|cx| {
                if client.poll_write_ready(cx).is_ready() || up_ref.poll_write_ready(cx).is_ready()
                {
                    return Poll::Ready(Wake::Writable);
                }
                if read_client && client.poll_read_ready(cx).is_ready() {
                    return Poll::Ready(Wake::ClientRead);
                }
                if read_up && up_ref.poll_read_ready(cx).is_ready() {
                    return Poll::Ready(Wake::UpstreamRead);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Timer);
                }
                Poll::Pending
            })
            .await;
            let moved = match wake {
                Wake::ClientRead => {
                    let r = self.client.read()?;
                    up.queue(self.client.buf.split().freeze())?;
                    r == Read::Data
                }
                Wake::UpstreamRead => {
                    let r = up.read()?;
                    self.client.queue(up.buf.split().freeze())?;
                    r == Read::Data
                }
                Wake::Writable => true,
                Wake::Timer => return Ok(()),
            };
            if moved {
                sleep.as_mut().reset(tokio::time::Instant::now() + idle);
            }
        }
    }
}

/// A close-delimited upstream body is sent on chunked (or close-delimited
/// to an HTTP/1.0 client): a transfer coding it carried must now end in
/// chunked.
fn rechunk(head: &mut ResponseHead) {
    let codings: Vec<String> = head
        .headers
        .get_all("transfer-encoding")
        .filter_map(|v| v.to_str().map(str::to_string))
        .collect();
    if !codings.is_empty() {
        let _ = head.headers.insert(
            "Transfer-Encoding",
            format!("{}, chunked", codings.join(", ")),
        );
    }
}
