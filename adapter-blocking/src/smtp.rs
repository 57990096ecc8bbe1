//! A blocking SMTP client on `std::net`, with implicit TLS or STARTTLS
//! through [`crate::tls`]: a thin driver of the core
//! [`Client`](wireloom_core::smtp::client::Client) dialogue.
//!
//! Every protocol decision (EHLO/HELO, when to send STARTTLS, which AUTH
//! mechanism, PIPELINING, BDAT or DATA, dot-stuffing, RSET after a refused
//! message, QUIT, per-command reply timeouts) is taken by core. This module
//! moves bytes, sets socket read timeouts to the deadline core asks for,
//! runs the TLS handshake (at connect for [`Security::Tls`], or when core
//! reports the STARTTLS go-ahead) and turns core's events into return values.
//!
//! ```text
//! SmtpClient::builder("host:port") ─build()─> SmtpClient ─connect()─> SmtpConnection
//!     .security(..) .credentials(..)                     greeting, EHLO, [STARTTLS, EHLO], [AUTH]
//!                                          send(&Envelope, message) -> Delivery (per recipient)
//!                                          send(..) ... (RSET by core after a refusal)
//!                                          quit()
//! ```
//!
//! # Examples
//!
//! Raw message bytes, STARTTLS and AUTH:
//!
//! ```no_run
//! use wireloom_blocking::smtp::{Envelope, Security, SmtpClient, StartTls};
//! use wireloom_blocking::core::smtp::auth::Credentials;
//!
//! # fn main() -> Result<(), wireloom_blocking::smtp::Error> {
//! let client = SmtpClient::builder("mail.example.com:587")
//!     .hello_name("client.example.com")
//!     .security(Security::StartTls(StartTls::Required))
//!     .credentials(Credentials::password("alice", "secret"))
//!     .build()?;
//! let mut conn = client.connect()?;
//! let envelope = Envelope::new("alice@example.com", ["bob@example.org", "carol@example.net"]);
//! let delivery = conn.send(
//!     &envelope,
//!     "From: alice@example.com\r\nSubject: hi\r\n\r\nHello!\r\n",
//! )?;
//! for r in &delivery.recipients {
//!     println!("{}: {}", r.address, r.reply);
//! }
//! conn.quit()?;
//! # Ok(())
//! # }
//! ```
//!
//! A message from the core MIME builder over implicit TLS, trusting a
//! private CA; the body is rendered and streamed chunk by chunk:
//!
//! ```no_run
//! use std::time::SystemTime;
//! use wireloom_blocking::core::mime::Message;
//! use wireloom_blocking::smtp::{Security, SmtpClient};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let message = Message::builder()
//!     .from("Alice <alice@example.com>")
//!     .to("bob@example.org")
//!     .subject("Report")
//!     .date(SystemTime::now())
//!     .text("See the attachment.\n")
//!     .attachment("application/pdf", "report.pdf", std::fs::read("report.pdf")?)
//!     .build()?;
//! let client = SmtpClient::builder("smtp.example.com:465")
//!     .security(Security::Tls)
//!     .ca_pem_file("ca.pem")
//!     .build()?;
//! let delivery = client.send_message(&message)?;
//! assert!(delivery.recipients.iter().all(|r| r.accepted()));
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use wireloom_core::mime::Message;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::extensions::Extensions;
use wireloom_core::smtp::reply::Reply;
use wireloom_core::Dialogue;
use wireloom_io::smtp::{FromSettings, Session, Step, UsageError};

use crate::driver::{Driver, ReadOutcome};
use crate::tls::{client_handshake, Transport};

pub use wireloom_core::smtp::client::{
    Delivery, Envelope, MessageInfo, RecipientResult, Security, StartTls, TransactionFailure,
};
pub use wireloom_io::smtp::{host_name, new_message_id, random_128, Error, SmtpSettings, Timeout};

/// Builds an [`SmtpClient`] (the builder shared with the async clients,
/// [`wireloom_io::smtp::SmtpClientBuilder`]). Defaults: STARTTLS required,
/// certificates verified against the webpki roots for the server's host
/// name, hello name `localhost`, connect timeout 30 s, RFC 5321 reply
/// timeouts.
pub type SmtpClientBuilder = wireloom_io::smtp::SmtpClientBuilder<SmtpClient>;

/// A configured SMTP client: cheap to clone, opens [`SmtpConnection`]s.
#[derive(Clone, Debug)]
pub struct SmtpClient {
    inner: Arc<SmtpSettings>,
}

impl FromSettings for SmtpClient {
    fn from_settings(settings: SmtpSettings) -> Self {
        SmtpClient {
            inner: Arc::new(settings),
        }
    }
}

impl SmtpClient {
    /// Starts a builder for the server at `host:port` (`[v6]:port` for IPv6).
    pub fn builder(server: impl Into<String>) -> SmtpClientBuilder {
        SmtpClientBuilder::new(server)
    }

    /// The settings.
    pub fn settings(&self) -> &SmtpSettings {
        &self.inner
    }

    /// Connects, runs the TLS handshake for [`Security::Tls`], then the
    /// greeting, EHLO, STARTTLS and AUTH as core decides, and returns once
    /// the session is ready for a message.
    pub fn connect(&self) -> Result<SmtpConnection, Error> {
        let inner = &self.inner;
        let tcp = tcp_connect(inner)?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(inner.config().timeouts.data_block))
            .map_err(Error::Io)?;
        let transport = match inner.config().security() {
            Security::Tls => {
                let tls = inner.tls_for("implicit TLS without a TLS configuration")?;
                Transport::from(
                    client_handshake(tls, tcp, inner.tls_name()).map_err(Error::from_tls)?,
                )
            }
            _ => Transport::Plain(tcp),
        };
        let mut conn = SmtpConnection {
            session: Session::new(inner.config().clone(), Instant::now()),
            drv: Some(Driver::new(transport)),
            inner: Arc::clone(inner),
        };
        conn.drive_until(Session::is_ready)?;
        Ok(conn)
    }

    /// Connects, sends one MIME message (see
    /// [`SmtpConnection::send_message`]) and quits.
    pub fn send_message(&self, message: &Message) -> Result<Delivery, Error> {
        self.once(|conn| conn.send_message(message))
    }

    /// Connects, sends one message and quits.
    pub fn send(&self, envelope: &Envelope, message: impl Into<Bytes>) -> Result<Delivery, Error> {
        let message = message.into();
        self.once(|conn| conn.send(envelope, message))
    }

    /// One message on a fresh connection. QUIT is sent after a refusal too;
    /// once the server took the message, a failing QUIT is no error.
    fn once(
        &self,
        f: impl FnOnce(&mut SmtpConnection) -> Result<Delivery, Error>,
    ) -> Result<Delivery, Error> {
        let mut conn = self.connect()?;
        let result = f(&mut conn);
        let _ = conn.quit();
        result
    }
}

fn tcp_connect(s: &SmtpSettings) -> Result<TcpStream, Error> {
    crate::driver::connect_tcp(s.host(), s.port(), s.connect_timeout(), None)
        .map_err(Error::from_connect)
}

/// One SMTP session, ready for messages. Dropping it without
/// [`quit`](SmtpConnection::quit) closes the socket without QUIT.
#[derive(Debug)]
pub struct SmtpConnection {
    session: Session,
    /// `None` once the transport is closed.
    drv: Option<Driver<Transport>>,
    inner: Arc<SmtpSettings>,
}

impl SmtpConnection {
    /// Sends one message (any line endings; core normalises them to CRLF
    /// and dot-stuffs). `Ok` when the server accepted it for at least one
    /// recipient: check [`Delivery::recipients`] for refused ones.
    pub fn send(
        &mut self,
        envelope: &Envelope,
        message: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        let message = message.into();
        let info = MessageInfo::of(&message);
        self.send_stream(envelope, info, std::iter::once(Ok(message)))
    }

    /// Sends a message produced in chunks. `info` declares what core needs
    /// before MAIL FROM (size estimate, 8-bit content); a chunk with 8-bit
    /// octets in a message declared 7-bit is a fatal
    /// [`UsageError::UndeclaredEightBit`]. A chunk source error abandons the
    /// session (the server never sees the end of data, so discards the
    /// message) and is returned as [`Error::Io`]. Chunks are pulled one
    /// ahead of the server: the one after next is taken only once the server
    /// is ready for data, so memory stays bounded.
    pub fn send_stream<I>(
        &mut self,
        envelope: &Envelope,
        info: MessageInfo,
        chunks: I,
    ) -> Result<Delivery, Error>
    where
        I: IntoIterator<Item = io::Result<Bytes>>,
    {
        self.drive_until(Session::is_ready)?;
        let started = self.session.start_message(Instant::now(), envelope, info);
        started.map_err(|e| self.usage(e))?;
        let mut chunks = chunks.into_iter().peekable();
        while let Some(chunk) = chunks.next() {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    self.session.abort();
                    self.close_transport();
                    return Err(Error::Io(e));
                }
            };
            let sent = self.session.send_piece(Instant::now(), chunk);
            sent.map_err(|e| self.usage(e))?;
            if chunks.peek().is_none() {
                // The end of data goes out with the last chunk.
                break;
            }
            self.drive_until(Session::piece_taken)?;
            if self.session.has_outcome() {
                // Refused before the end: the rest of the body is not needed.
                break;
            }
        }
        let finished = self.session.finish_message(Instant::now());
        finished.map_err(|e| self.usage(e))?;
        self.drive_until(Session::has_outcome)?;
        self.session.take_outcome()
    }

    /// Sends a message built with the core MIME builder: its envelope (From
    /// or Sender; To, Cc and Bcc), its size and 8-bit flag for MAIL FROM,
    /// and its rendered chunks streamed as the server takes them.
    ///
    /// A message without a Message-ID whose builder did not opt out gets one
    /// from the OS random source and the client's
    /// [`message_id_host`](SmtpClientBuilder::message_id_host)
    /// ([`SmtpSettings::with_message_id`]; the caller's `message` is not
    /// changed). Raw [`send`](Self::send) sends the caller's octets as they are.
    pub fn send_message(&mut self, message: &Message) -> Result<Delivery, Error> {
        let message = self.inner.with_message_id(message);
        self.send_stream(
            &message.envelope(),
            message.info(),
            message.render().map(Ok),
        )
    }

    /// [`send_stream`](Self::send_stream) reading the message from `reader`
    /// in 64 KiB chunks.
    pub fn send_reader(
        &mut self,
        envelope: &Envelope,
        info: MessageInfo,
        mut reader: impl Read,
    ) -> Result<Delivery, Error> {
        let mut buf = vec![0u8; 64 * 1024];
        let chunks = std::iter::from_fn(move || loop {
            match reader.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => return Some(Ok(Bytes::copy_from_slice(&buf[..n]))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            }
        });
        self.send_stream(envelope, info, chunks)
    }

    /// Sends NOOP and returns the reply (checks that the session is alive).
    pub fn noop(&mut self) -> Result<Reply, Error> {
        self.drive_until(Session::is_ready)?;
        let sent = self.session.start_noop(Instant::now());
        sent.map_err(|e| self.usage(e))?;
        self.drive_until(Session::has_noop_reply)?;
        self.session.take_noop_reply()
    }

    /// Sends QUIT, waits for the reply and closes the connection. A session
    /// that already ended returns `Ok`.
    pub fn quit(mut self) -> Result<(), Error> {
        if self.session.is_closed() || self.drv.is_none() {
            self.close_transport();
            return Ok(());
        }
        self.drive_until(Session::is_ready)?;
        let sent = self.session.quit(Instant::now());
        sent.map_err(|e| self.usage(e))?;
        self.drive_until(Session::is_closed)?;
        self.close_transport();
        self.session.quit_result()
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

    /// How many batches of commands and data were written to the socket so
    /// far (with PIPELINING, MAIL, every RCPT and DATA go out as one batch).
    pub fn write_batches(&self) -> u64 {
        self.drv.as_ref().map_or(0, Driver::write_batches)
    }

    /// A usage error from core; when it was fatal the transport is closed.
    fn usage(&mut self, e: UsageError) -> Error {
        if self.session.is_closed() {
            self.close_transport();
        }
        Error::Usage(e)
    }

    /// Runs the dialogue (write, read, timers, events) until `done` or the
    /// session ends.
    fn drive_until(&mut self, done: impl Fn(&Session) -> bool) -> Result<(), Error> {
        loop {
            self.flush()?;
            match self.session.step(&done, self.drv.is_some()) {
                Step::StartTls => self.start_tls()?,
                Step::Done => return Ok(()),
                Step::Ended(e) => {
                    self.close_transport();
                    return Err(e);
                }
                Step::Wait => self.read()?,
            }
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Ok(());
        };
        if let Err(e) = drv.flush(self.session.client_mut()) {
            self.session.abort();
            self.close_transport();
            return Err(Error::from_write(e));
        }
        Ok(())
    }

    fn read(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Err(Error::Closed);
        };
        // Core arms a reply timer whenever it waits for the server; the
        // idle net only guards against waiting with none armed.
        let idle = self.session.idle_deadline(Instant::now());
        let poll = idle.map(|at| at.saturating_duration_since(Instant::now()));
        match drv.read_once(self.session.client_mut(), poll) {
            // The driver may wake before the interval asked for.
            Ok(ReadOutcome::Idle) if idle.is_some_and(|at| Instant::now() < at) => Ok(()),
            Ok(ReadOutcome::Idle) if idle.is_some() => {
                self.session.reset_idle();
                self.session.abort();
                self.close_transport();
                Err(Error::Timeout(Timeout::Idle))
            }
            Ok(_) => {
                self.session.reset_idle();
                Ok(())
            }
            Err(e) => {
                self.session.client_mut().handle_eof(Instant::now());
                self.close_transport();
                Err(Error::Io(e))
            }
        }
    }

    /// Core accepted STARTTLS: hand the TCP stream to the TLS layer. Bytes
    /// read past the 220 stay in the old driver's buffer (core already
    /// discarded what it was given) and are dropped with it: the TLS
    /// session only sees what the socket delivers from now on.
    fn start_tls(&mut self) -> Result<(), Error> {
        self.flush()?;
        let tcp = match self.drv.take().map(|d| d.sock) {
            Some(Transport::Plain(tcp)) => tcp,
            _ => {
                self.session.abort();
                return Err(Error::Closed);
            }
        };
        let tls = match self.inner.tls_for("STARTTLS without a TLS configuration") {
            Ok(tls) => tls,
            Err(e) => {
                self.session.abort();
                return Err(e);
            }
        };
        match client_handshake(tls, tcp, self.inner.tls_name()) {
            Ok(stream) => self.drv = Some(Driver::new(Transport::from(stream))),
            Err(e) => {
                self.session.abort();
                return Err(Error::from_tls(e));
            }
        }
        self.session.tls_established(Instant::now())
    }

    fn close_transport(&mut self) {
        if let Some(mut drv) = self.drv.take() {
            let _ = drv.flush(self.session.client_mut());
            let _ = drv.sock.shutdown_write();
        }
    }
}
