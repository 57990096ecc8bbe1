//! The async SMTP client, written once for every runtime: the core
//! [`Client`](wireloom_core::smtp::client::Client) dialogue driven by the
//! generic [`Driver`], with implicit TLS or STARTTLS over
//! [`TlsConn`](super::conn::TlsConn).
//!
//! Every protocol decision (EHLO/HELO, when to send STARTTLS, which AUTH
//! mechanism, PIPELINING, BDAT or DATA, dot-stuffing, RSET after a refused
//! message, QUIT, per-command reply timeouts) is core's; the builder, the
//! error type and the bookkeeping of what core reported are shared with the
//! blocking client ([`crate::smtp`]). This module connects, runs the TLS
//! handshake (at connect for [`Security::Tls`], or when core reports the
//! STARTTLS go-ahead: the plaintext transport is handed back, wrapped in
//! TLS, and the dialogue goes on), writes what core queued in one batch
//! per turn, and waits for input until core's timer.
//!
//! ```text
//! SmtpClient::builder("host:port") ─build()─> SmtpClient ─connect().await─> SmtpConnection
//!     .security(..) .credentials(..)            greeting, EHLO, [STARTTLS, TLS, EHLO], [AUTH]
//!                                      send(&Envelope, message).await -> Delivery (per recipient)
//!                                      send_stream / send_reader / send_message ...
//!                                      quit().await
//! ```
//!
//! ```no_run
//! # async fn demo<R: wireloom_io::rt::Runtime + Default>() -> Result<(), wireloom_io::smtp::Error> {
//! use wireloom_io::aio::smtp::SmtpClient;
//! use wireloom_io::smtp::{Envelope, Security, StartTls};
//! use wireloom_core::smtp::auth::Credentials;
//!
//! let client = SmtpClient::<R>::builder("mail.example.com:587")
//!     .security(Security::StartTls(StartTls::Required))
//!     .credentials(Credentials::password("alice", "secret"))
//!     .build()?;
//! let mut conn = client.connect().await?;
//! let envelope = Envelope::new("alice@example.com", ["bob@example.org"]);
//! let delivery = conn
//!     .send(&envelope, "From: alice@example.com\r\nSubject: hi\r\n\r\nHello!\r\n")
//!     .await?;
//! for r in &delivery.recipients {
//!     println!("{}: {}", r.address, r.reply);
//! }
//! conn.quit().await
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use futures_io::AsyncRead;
use wireloom_core::mime::Message;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::extensions::Extensions;
use wireloom_core::smtp::reply::Reply;

use super::body::reader_stream;
use super::conn::{client_handshake, Conn};
use super::driver::Driver;
use crate::rt::{connect_host, poll_until, until, Runtime};
use crate::smtp::{FromSettings, Session, SmtpClientBuilder, SmtpSettings, Step};

pub use crate::smtp::{
    Delivery, Envelope, Error, MessageInfo, RecipientResult, Security, StartTls, Timeout,
    TransactionFailure,
};

/// Time allowed for closing the transport (TLS close_notify, FIN).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A configured SMTP client: cheap to clone, opens [`SmtpConnection`]s.
pub struct SmtpClient<R: Runtime> {
    rt: R,
    settings: Arc<SmtpSettings>,
}

impl<R: Runtime> Clone for SmtpClient<R> {
    fn clone(&self) -> Self {
        SmtpClient {
            rt: self.rt.clone(),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<R: Runtime> fmt::Debug for SmtpClient<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpClient")
            .field("settings", &self.settings)
            .finish()
    }
}

impl<R: Runtime + Default> FromSettings for SmtpClient<R> {
    fn from_settings(settings: SmtpSettings) -> Self {
        SmtpClient::with_runtime(R::default(), settings)
    }
}

impl<R: Runtime + Default> SmtpClient<R> {
    /// Starts a builder for the server at `host:port` (`[v6]:port` for
    /// IPv6). Defaults: STARTTLS required, certificates verified against
    /// the webpki roots, hello name `localhost`, connect timeout 30 s.
    pub fn builder(server: impl Into<String>) -> SmtpClientBuilder<SmtpClient<R>> {
        SmtpClientBuilder::new(server)
    }
}

impl<R: Runtime> SmtpClient<R> {
    /// A client on `rt` with settings from an
    /// [`SmtpClientBuilder<SmtpSettings>`](SmtpClientBuilder).
    pub fn with_runtime(rt: R, settings: SmtpSettings) -> SmtpClient<R> {
        SmtpClient {
            rt,
            settings: Arc::new(settings),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    /// Connects, runs the TLS handshake for [`Security::Tls`], then the
    /// greeting, EHLO, STARTTLS and AUTH as core decides, and resolves once
    /// the session is ready for a message.
    pub async fn connect(&self) -> Result<SmtpConnection<R>, Error> {
        let s = &*self.settings;
        let by = Instant::now() + s.connect_timeout();
        let tcp = connect_host(&self.rt, s.host(), s.port(), by)
            .await
            .map_err(Error::from_connect)?;
        let io = match s.config().security() {
            Security::Tls => {
                let tls = s.tls_for("implicit TLS without a TLS configuration")?;
                let by = Instant::now() + tls.handshake_timeout();
                let t = client_handshake(&self.rt, tcp, tls, s.tls_name(), by)
                    .await
                    .map_err(Error::from_tls)?;
                Conn::Tls(Box::new(t))
            }
            _ => Conn::Plain(tcp),
        };
        let mut conn = SmtpConnection {
            session: Session::new(s.config().clone(), Instant::now()),
            drv: Some(Driver::new(self.rt.clone(), io)),
            rt: self.rt.clone(),
            settings: Arc::clone(&self.settings),
            batches: 0,
        };
        conn.drive_until(Session::is_ready).await?;
        Ok(conn)
    }

    /// Connects, sends one MIME message (see
    /// [`SmtpConnection::send_message`]) and quits.
    pub async fn send_message(&self, message: &Message) -> Result<Delivery, Error> {
        let mut conn = self.connect().await?;
        let result = conn.send_message(message).await;
        conn.quit_after(result).await
    }

    /// Connects, sends one message and quits.
    pub async fn send(
        &self,
        envelope: &Envelope,
        message: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        let message = message.into();
        let mut conn = self.connect().await?;
        let result = conn.send(envelope, message).await;
        conn.quit_after(result).await
    }
}

/// One SMTP session, ready for messages. Dropping it without
/// [`quit`](SmtpConnection::quit) closes the transport without QUIT.
pub struct SmtpConnection<R: Runtime> {
    session: Session,
    /// `None` once the transport is closed.
    drv: Option<Driver<R, Conn<R::Tcp>>>,
    rt: R,
    settings: Arc<SmtpSettings>,
    /// Batches written by transports already replaced (STARTTLS) or closed.
    batches: u64,
}

impl<R: Runtime> fmt::Debug for SmtpConnection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConnection")
            .field("session", &self.session)
            .field("open", &self.drv.is_some())
            .finish()
    }
}

impl<R: Runtime> SmtpConnection<R> {
    /// Sends one message (any line endings; core normalises them to CRLF
    /// and dot-stuffs). `Ok` when the server accepted it for at least one
    /// recipient: check [`Delivery::recipients`] for refused ones.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        let message = message.into();
        let info = MessageInfo::of(&message);
        self.send_stream(envelope, info, Iter(Some(Ok(message)).into_iter()))
            .await
    }

    /// Sends a message produced in pieces. `info` declares what core needs
    /// before MAIL FROM (size estimate, 8-bit content); a piece with 8-bit
    /// octets in a message declared 7-bit is a fatal
    /// [`UndeclaredEightBit`](crate::smtp::UsageError::UndeclaredEightBit).
    /// A stream error abandons the session (the server never sees the end
    /// of data, so discards the message) and is returned as [`Error::Io`].
    /// Pieces are pulled one ahead of the server: the one after next is
    /// taken only once the server is ready for data, so memory stays
    /// bounded.
    pub async fn send_stream<S>(
        &mut self,
        envelope: &Envelope,
        info: MessageInfo,
        chunks: S,
    ) -> Result<Delivery, Error>
    where
        S: Stream<Item = io::Result<Bytes>>,
    {
        self.drive_until(Session::is_ready).await?;
        let started = self.session.start_message(Instant::now(), envelope, info);
        if let Err(e) = started {
            return Err(self.usage(e).await);
        }
        let mut chunks = pin!(chunks);
        let mut next = poll_fn(|cx| chunks.as_mut().poll_next(cx)).await;
        while let Some(chunk) = next {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    self.session.abort();
                    self.close_transport().await;
                    return Err(Error::Io(e));
                }
            };
            if let Err(e) = self.session.send_piece(Instant::now(), chunk) {
                return Err(self.usage(e).await);
            }
            next = poll_fn(|cx| chunks.as_mut().poll_next(cx)).await;
            if next.is_none() {
                // The end of data goes out with the last piece.
                break;
            }
            self.drive_until(Session::piece_taken).await?;
            if self.session.has_outcome() {
                // Refused before the end: the rest of the body is not needed.
                break;
            }
        }
        if let Err(e) = self.session.finish_message(Instant::now()) {
            return Err(self.usage(e).await);
        }
        self.drive_until(Session::has_outcome).await?;
        self.session.take_outcome()
    }

    /// Sends a message built with the core MIME builder: its envelope (From
    /// or Sender; To, Cc and Bcc), its size and 8-bit flag for MAIL FROM,
    /// and its rendered pieces streamed as the server takes them.
    ///
    /// A message without a Message-ID whose builder did not opt out gets one
    /// from the OS random source and the client's `message_id_host`
    /// ([`SmtpSettings::with_message_id`]).
    pub async fn send_message(&mut self, message: &Message) -> Result<Delivery, Error> {
        let message = self.settings.with_message_id(message);
        let pieces = Iter(message.render().map(Ok));
        self.send_stream(&message.envelope(), message.info(), pieces)
            .await
    }

    /// [`send_stream`](Self::send_stream) reading the message from a
    /// `futures-io` reader in 64 KiB pieces.
    pub async fn send_reader(
        &mut self,
        envelope: &Envelope,
        info: MessageInfo,
        reader: impl AsyncRead + Send + Unpin + 'static,
    ) -> Result<Delivery, Error> {
        self.send_stream(envelope, info, reader_stream(reader))
            .await
    }

    /// Sends NOOP and returns the reply (checks that the session is alive).
    pub async fn noop(&mut self) -> Result<Reply, Error> {
        self.drive_until(Session::is_ready).await?;
        if let Err(e) = self.session.start_noop(Instant::now()) {
            return Err(self.usage(e).await);
        }
        self.drive_until(Session::has_noop_reply).await?;
        self.session.take_noop_reply()
    }

    /// Sends QUIT, waits for the reply and closes the connection. A session
    /// that already ended returns `Ok`.
    pub async fn quit(mut self) -> Result<(), Error> {
        if self.session.is_closed() || self.drv.is_none() {
            self.close_transport().await;
            return Ok(());
        }
        self.drive_until(Session::is_ready).await?;
        if let Err(e) = self.session.quit(Instant::now()) {
            return Err(self.usage(e).await);
        }
        self.drive_until(Session::is_closed).await?;
        self.close_transport().await;
        self.session.quit_result()
    }

    /// QUIT after one message; after a refusal too. Once the server took
    /// the message, a failing QUIT is no error.
    async fn quit_after(self, result: Result<Delivery, Error>) -> Result<Delivery, Error> {
        let _ = self.quit().await;
        result
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Reply> {
        self.session.greeting()
    }

    /// The capabilities from the last EHLO (after STARTTLS, the second one).
    pub fn extensions(&self) -> &Extensions {
        self.session.client().extensions()
    }

    /// True when the session runs over TLS (implicit or after STARTTLS).
    pub fn is_secure(&self) -> bool {
        self.session.client().is_secure()
    }

    /// The mechanism AUTH succeeded with, if any.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.session.authenticated()
    }

    /// How many batches of commands and data were written so far (with
    /// PIPELINING, MAIL, every RCPT and DATA go out as one batch).
    pub fn write_batches(&self) -> u64 {
        self.batches + self.drv.as_ref().map_or(0, Driver::write_batches)
    }

    /// A usage error from core; when it was fatal the transport is closed.
    async fn usage(&mut self, e: crate::smtp::UsageError) -> Error {
        if self.session.is_closed() {
            self.close_transport().await;
        }
        Error::Usage(e)
    }

    /// Runs the dialogue (write, read, timers, events) until `done` or the
    /// session ends.
    async fn drive_until(&mut self, done: impl Fn(&Session) -> bool) -> Result<(), Error> {
        loop {
            self.flush().await?;
            match self.session.step(&done, self.drv.is_some()) {
                Step::StartTls => self.start_tls().await?,
                Step::Done => return Ok(()),
                Step::Ended(e) => {
                    self.close_transport().await;
                    return Err(e);
                }
                Step::Wait => self.read().await?,
            }
        }
    }

    /// Writes what core queued, each batch within RFC 5321's data-block
    /// time.
    async fn flush(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Ok(());
        };
        let by = Instant::now() + self.settings.config().timeouts.data_block;
        let client = self.session.client_mut();
        let err = match poll_until(&self.rt, Some(by), |cx| drv.poll_flush(cx, client)).await {
            Some(Ok(())) => return Ok(()),
            Some(Err(e)) => Error::from_write(e),
            None => Error::Timeout(Timeout::Write),
        };
        self.session.abort();
        self.close_transport().await;
        Err(err)
    }

    /// Waits for input or core's timer (or the idle safety net).
    async fn read(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Err(Error::Closed);
        };
        let idle = self.session.idle_deadline(Instant::now());
        let client = self.session.client_mut();
        match poll_until(&self.rt, idle, |cx| drv.poll_wait(cx, client)).await {
            Some(Ok(_)) => {
                self.session.reset_idle();
                Ok(())
            }
            Some(Err(e)) => {
                // The driver already told core (handle_eof).
                self.close_transport().await;
                Err(Error::Io(e))
            }
            None => {
                self.session.reset_idle();
                self.session.abort();
                self.close_transport().await;
                Err(Error::Timeout(Timeout::Idle))
            }
        }
    }

    /// Core accepted STARTTLS: take the plaintext transport back, wrap it
    /// in TLS and let the dialogue go on. Bytes read past the 220 are
    /// dropped with the old driver (core already discarded what it was
    /// given): the TLS session only sees what arrives from now on.
    async fn start_tls(&mut self) -> Result<(), Error> {
        self.flush().await?;
        let plain = self.drv.take().map(|d| {
            self.batches += d.write_batches();
            d.into_parts().0
        });
        let Some(Conn::Plain(tcp)) = plain else {
            self.session.abort();
            return Err(Error::Closed);
        };
        let tls = match self
            .settings
            .tls_for("STARTTLS without a TLS configuration")
        {
            Ok(tls) => tls,
            Err(e) => {
                self.session.abort();
                return Err(e);
            }
        };
        let by = Instant::now() + tls.handshake_timeout();
        match client_handshake(&self.rt, tcp, tls, self.settings.tls_name(), by).await {
            Ok(t) => self.drv = Some(Driver::new(self.rt.clone(), Conn::Tls(Box::new(t)))),
            Err(e) => {
                self.session.abort();
                return Err(Error::from_tls(e));
            }
        }
        self.session.tls_established(Instant::now())
    }

    /// Writes what is left and closes the transport (bounded).
    async fn close_transport(&mut self) {
        let Some(mut drv) = self.drv.take() else {
            return;
        };
        let client = self.session.client_mut();
        let closing = async {
            let _ = drv.flush(client).await;
            let _ = drv.close().await;
        };
        let _ = until(&self.rt, Some(Instant::now() + CLOSE_TIMEOUT), closing).await;
        self.batches += drv.write_batches();
    }
}

/// An iterator as a stream that is always ready.
struct Iter<I>(I);

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;
    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.get_mut().0.next())
    }
}
