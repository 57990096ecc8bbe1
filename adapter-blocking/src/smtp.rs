//! A blocking SMTP client on `std::net`, with implicit TLS or STARTTLS
//! through [`crate::tls`]: a thin driver of the core
//! [`Client`] dialogue.
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
//! private CA; the body is rendered and streamed chunk by chunk, and since
//! the message sets no Message-ID, `send_message` adds one made from the OS
//! random source and the machine's [host name](host_name):
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

use std::fmt;
use std::io::{self, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::mime::Message;
use wireloom_core::smtp::auth::{Credentials, Mechanism};
use wireloom_core::smtp::client::{
    Client, ClientConfig, ClientError, ClientEvent, ClientTimeouts, Stage, UsageError,
};
use wireloom_core::smtp::extensions::Extensions;
use wireloom_core::smtp::reply::Reply;
use wireloom_core::Dialogue;

use crate::driver::{Driver, ReadOutcome};
use crate::tls::{client_handshake, ClientTlsConfig, TlsError, Transport};

pub use wireloom_core::smtp::client::{
    Delivery, Envelope, MessageInfo, RecipientResult, Security, StartTls, TransactionFailure,
};

/// What took too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Establishing the TCP connection ([`SmtpClientBuilder::connect_timeout`]).
    Connect,
    /// The TLS handshake (the [`ClientTlsConfig`] handshake timeout).
    TlsHandshake,
    /// Writing to the server (bounded by
    /// [`ClientTimeouts::data_block`], RFC 5321's time for each send).
    Write,
    /// The server's reply to a command (core's per-command timeouts,
    /// [`ClientTimeouts`]).
    Reply(Stage),
    /// Waiting on the server while core had no reply timer armed, for
    /// longer than [`ClientTimeouts::command`] (a safety net: core arms a
    /// timer whenever it waits for a reply).
    Idle,
}

/// Everything that can go wrong. After any variant except [`Error::Rejected`]
/// and [`Error::Usage`] (unless the usage error was fatal, see
/// [`UsageError::UndeclaredEightBit`]) the connection is closed and further
/// calls return [`Error::Closed`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server address is not `host:port`.
    InvalidServer(String),
    /// Resolving or connecting failed (refused, unreachable).
    Connect(io::Error),
    /// Reading or writing failed, or the source of a streamed body failed.
    Io(io::Error),
    /// TLS configuration or handshake failed (certificate not trusted, wrong
    /// host name, alert...).
    Tls(TlsError),
    /// A timeout fired.
    Timeout(Timeout),
    /// The session failed as core reports it: greeting or EHLO refused,
    /// STARTTLS required but not offered or refused, no usable AUTH
    /// mechanism, credentials refused ([`ClientError::AuthFailed`]),
    /// 421, a malformed reply, or the server closed the connection.
    Protocol(ClientError),
    /// The server refused this message (MAIL, every RCPT, DATA or the end
    /// of data), with the per-recipient results so far. The connection
    /// stays usable for the next message.
    Rejected(TransactionFailure),
    /// The message or envelope cannot be sent as given (invalid address,
    /// too large for the server's SIZE, needs SMTPUTF8 or 8BITMIME the
    /// server lacks...); nothing was sent for it.
    Usage(UsageError),
    /// The connection is already closed (after an earlier error).
    Closed,
}

impl Error {
    fn from_core(e: ClientError) -> Error {
        match e {
            ClientError::Timeout(stage) => Error::Timeout(Timeout::Reply(stage)),
            e => Error::Protocol(e),
        }
    }

    fn from_tls(e: TlsError) -> Error {
        match e {
            TlsError::HandshakeTimeout => Error::Timeout(Timeout::TlsHandshake),
            e => Error::Tls(e),
        }
    }

    fn from_io(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(Timeout::Write),
            _ => Error::Io(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidServer(s) => write!(f, "server address {s:?} is not host:port"),
            Error::Connect(e) => write!(f, "connect failed: {e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Tls(e) => write!(f, "TLS: {e}"),
            Error::Timeout(Timeout::Connect) => f.write_str("connect timed out"),
            Error::Timeout(Timeout::TlsHandshake) => f.write_str("TLS handshake timed out"),
            Error::Timeout(Timeout::Write) => f.write_str("write timed out"),
            Error::Timeout(Timeout::Idle) => f.write_str("timed out waiting on the server"),
            Error::Timeout(Timeout::Reply(stage)) => {
                write!(f, "timed out waiting for the {stage:?} reply")
            }
            Error::Protocol(e) => write!(f, "SMTP session failed: {e}"),
            Error::Rejected(t) => match &t.reply {
                Some(r) => write!(f, "message refused at {:?}: {r}", t.stage),
                None => write!(f, "message refused: no recipient accepted"),
            },
            Error::Usage(e) => write!(f, "cannot send: {e}"),
            Error::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) | Error::Io(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Usage(e) => Some(e),
            _ => None,
        }
    }
}

/// Builds an [`SmtpClient`]. Defaults: STARTTLS required, certificates
/// verified against the webpki roots for the server's host name, hello name
/// `localhost`, connect timeout 30 s, RFC 5321 reply timeouts.
#[derive(Clone, Debug)]
pub struct SmtpClientBuilder {
    server: String,
    config: ClientConfig,
    tls: Option<ClientTlsConfig>,
    ca_pem: Vec<Vec<u8>>,
    ca_files: Vec<PathBuf>,
    tls_name: Option<String>,
    connect_timeout: Duration,
    message_id_host: Option<String>,
}

impl SmtpClientBuilder {
    /// The name sent in EHLO/HELO (a domain or address literal such as
    /// `[192.0.2.1]`).
    pub fn hello_name(mut self, name: impl Into<String>) -> Self {
        self.config.hello_name = name.into();
        self
    }

    /// Implicit TLS, STARTTLS (required or opportunistic) or plaintext.
    pub fn security(mut self, security: Security) -> Self {
        self.config.set_security(security);
        self
    }

    /// A complete TLS configuration (e.g. [`ClientTlsConfig::from_rustls`]
    /// with a hand-built rustls `ClientConfig`, or a custom root store from
    /// [`ClientTlsConfig::builder`]). Replaces [`ca_pem`](Self::ca_pem).
    pub fn tls_config(mut self, config: ClientTlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Trusts the CA certificates in `pem` instead of the webpki roots
    /// (may be called several times).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem.push(pem.into());
        self
    }

    /// Trusts the CA certificates in a PEM file instead of the webpki roots
    /// (read by [`build`](Self::build)).
    pub fn ca_pem_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_files.push(path.as_ref().to_path_buf());
        self
    }

    /// The name the server certificate must carry (default: the host part
    /// of the server address).
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_name = Some(name.into());
        self
    }

    /// Authenticates with these credentials; core picks the strongest
    /// mechanism both sides support, never one that sends the secret in
    /// plaintext unless allowed.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Forces one AUTH mechanism.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.config.mechanism = Some(mechanism);
        self
    }

    /// Time allowed to establish the TCP connection (per address tried).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Per-command reply timeouts (core's; the socket read timeout follows
    /// the deadline core asks for). `data_block` also bounds each write.
    pub fn timeouts(mut self, timeouts: ClientTimeouts) -> Self {
        self.config.timeouts = timeouts;
        self
    }

    /// Adjusts the core configuration directly (PIPELINING, CHUNKING,
    /// `all_recipients_required`, `allow_insecure_auth`, reply limits...).
    /// [`security`](Self::security) sets the `tls` and `transport_secure` fields.
    pub fn configure(mut self, f: impl FnOnce(&mut ClientConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// The host name in the Message-ID that
    /// [`send_message`](SmtpConnection::send_message) adds to a message
    /// without one (default: [`host_name`], read when the client is built;
    /// an invalid name becomes `localhost`).
    pub fn message_id_host(mut self, host: impl Into<String>) -> Self {
        self.message_id_host = Some(host.into());
        self
    }

    /// Checks the address and loads the TLS configuration.
    pub fn build(self) -> Result<SmtpClient, Error> {
        let (host, _) = split_host_port(&self.server)
            .ok_or_else(|| Error::InvalidServer(self.server.clone()))?;
        let tls = match (self.config.security(), self.tls) {
            (Security::None, _) => None,
            (_, Some(tls)) => Some(tls),
            (_, None) => {
                // SMTP offers no ALPN protocol.
                let mut b = ClientTlsConfig::builder().alpn_protocols(Vec::<Vec<u8>>::new());
                if !self.ca_pem.is_empty() || !self.ca_files.is_empty() {
                    b = b.only_custom_roots();
                }
                for pem in &self.ca_pem {
                    b = b.add_root_pem(pem).map_err(Error::Tls)?;
                }
                for path in &self.ca_files {
                    b = b.add_root_pem_file(path).map_err(Error::Tls)?;
                }
                Some(b.build().map_err(Error::Tls)?)
            }
        };
        Ok(SmtpClient {
            inner: Arc::new(Inner {
                tls_name: self.tls_name.unwrap_or(host),
                server: self.server,
                config: self.config,
                tls,
                connect_timeout: self.connect_timeout,
                message_id_host: self.message_id_host.unwrap_or_else(host_name),
            }),
        })
    }
}

/// `host:port` or `[v6]:port` → (host without brackets, port).
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let bracketed = s.starts_with('[');
    let ok = !host.is_empty() && (bracketed || !host.contains(':'));
    ok.then(|| (host.to_string(), port))
}

#[derive(Debug)]
struct Inner {
    server: String,
    tls_name: String,
    config: ClientConfig,
    tls: Option<ClientTlsConfig>,
    connect_timeout: Duration,
    message_id_host: String,
}

/// 128 bits from the OS random source (`getrandom`). Should the OS refuse
/// (it does not on supported platforms), std's per-process hasher keys
/// (themselves from the OS source) mixed with the time and a counter.
pub fn random_128() -> [u8; 16] {
    let mut out = [0u8; 16];
    if getrandom::getrandom(&mut out).is_err() {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let state = std::collections::hash_map::RandomState::new();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, half) in out.chunks_exact_mut(8).enumerate() {
            let mut h = state.build_hasher();
            h.write_u128(now);
            h.write_u64(n);
            h.write_usize(i);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    out
}

/// This machine's host name, for Message-IDs: `/proc/sys/kernel/hostname`
/// or `/etc/hostname`, else `localhost` (core's
/// [`generate_message_id`](wireloom_core::mime::generate_message_id) also
/// turns a name that is not a valid host name into `localhost`).
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            let name = std::fs::read_to_string(p).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A new Message-ID `<RANDOM@HOST>` from [`random_128`] and `host` (see
/// [`generate_message_id`](wireloom_core::mime::generate_message_id)).
/// For a message built with the core builder, pass the same sources to
/// [`MessageBuilder::message_id_from`](wireloom_core::mime::MessageBuilder::message_id_from),
/// or let [`SmtpConnection::send_message`] add one.
pub fn new_message_id(host: &str) -> String {
    wireloom_core::mime::generate_message_id(random_128(), host)
}

/// A configured SMTP client: cheap to clone, opens [`SmtpConnection`]s.
#[derive(Clone, Debug)]
pub struct SmtpClient {
    inner: Arc<Inner>,
}

impl SmtpClient {
    /// Starts a builder for the server at `host:port` (`[v6]:port` for IPv6).
    pub fn builder(server: impl Into<String>) -> SmtpClientBuilder {
        SmtpClientBuilder {
            server: server.into(),
            config: {
                let mut c = ClientConfig::new("localhost");
                c.set_security(Security::StartTls(StartTls::Required));
                c
            },
            tls: None,
            ca_pem: Vec::new(),
            ca_files: Vec::new(),
            tls_name: None,
            connect_timeout: Duration::from_secs(30),
            message_id_host: None,
        }
    }

    /// Connects, runs the TLS handshake for [`Security::Tls`], then the
    /// greeting, EHLO, STARTTLS and AUTH as core decides, and returns once
    /// the session is ready for a message.
    pub fn connect(&self) -> Result<SmtpConnection, Error> {
        let inner = &self.inner;
        let tcp = tcp_connect(&inner.server, inner.connect_timeout)?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(inner.config.timeouts.data_block))
            .map_err(Error::Io)?;
        let transport = match (inner.config.security(), &inner.tls) {
            (Security::Tls, Some(tls)) => Transport::from(
                client_handshake(tls, tcp, &inner.tls_name).map_err(Error::from_tls)?,
            ),
            (Security::Tls, None) => {
                return Err(Error::Tls(TlsError::Usage(
                    "implicit TLS without a TLS configuration",
                )))
            }
            _ => Transport::Plain(tcp),
        };
        let mut conn = SmtpConnection {
            client: Client::new(inner.config.clone(), Instant::now()),
            drv: Some(Driver::new(transport)),
            inner: Arc::clone(inner),
            greeting: None,
            mechanism: None,
            outcome: None,
            noop: None,
            idle_deadline: None,
        };
        conn.drive_until(|c| c.client.is_ready())?;
        Ok(conn)
    }

    /// Connects, sends one MIME message (see
    /// [`SmtpConnection::send_message`], which adds a Message-ID when the
    /// message needs one) and quits.
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

fn tcp_connect(server: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let (host, port) =
        split_host_port(server).ok_or_else(|| Error::InvalidServer(server.to_string()))?;
    crate::driver::connect_tcp(&host, port, timeout, None).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => Error::Timeout(Timeout::Connect),
        _ => Error::Connect(e),
    })
}

/// One SMTP session, ready for messages. Dropping it without
/// [`quit`](SmtpConnection::quit) closes the socket without QUIT.
#[derive(Debug)]
pub struct SmtpConnection {
    client: Client,
    /// `None` once the transport is closed.
    drv: Option<Driver<Transport>>,
    inner: Arc<Inner>,
    greeting: Option<Reply>,
    mechanism: Option<Mechanism>,
    outcome: Option<Result<Delivery, TransactionFailure>>,
    noop: Option<Reply>,
    /// When waiting with no core timer armed gives up (see [`Timeout::Idle`]).
    idle_deadline: Option<Instant>,
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
        self.drive_until(|c| c.client.is_ready())?;
        self.outcome = None;
        self.client
            .start_message(Instant::now(), envelope.clone(), info)
            .map_err(|e| self.usage(e))?;
        let mut chunks = chunks.into_iter().peekable();
        while let Some(chunk) = chunks.next() {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    self.client.abort();
                    self.close_transport();
                    return Err(Error::Io(e));
                }
            };
            self.client
                .send_body(Instant::now(), chunk)
                .map_err(|e| self.usage(e))?;
            if chunks.peek().is_none() {
                // The end of data goes out with the last chunk.
                break;
            }
            self.drive_until(|c| c.outcome.is_some() || c.client.queued_body_len() == 0)?;
            if self.outcome.is_some() {
                // Refused before the end: the rest of the body is not needed.
                break;
            }
        }
        self.client
            .finish_body(Instant::now())
            .map_err(|e| self.usage(e))?;
        self.drive_until(|c| c.outcome.is_some())?;
        match self.outcome.take() {
            Some(Ok(delivery)) => Ok(delivery),
            Some(Err(failure)) => Err(Error::Rejected(failure)),
            None => Err(Error::Closed),
        }
    }

    /// Sends a message built with the core MIME builder: its envelope (From
    /// or Sender; To, Cc and Bcc), its size and 8-bit flag for MAIL FROM,
    /// and its rendered chunks streamed as the server takes them.
    ///
    /// A message without a Message-ID whose builder did not opt out
    /// ([`Message::needs_message_id`]) is sent with one made from
    /// [`random_128`] and the client's
    /// [`message_id_host`](SmtpClientBuilder::message_id_host) (the
    /// caller's `message` itself is not changed). A Message-ID the caller
    /// set is sent as it is; after
    /// [`no_message_id`](wireloom_core::mime::MessageBuilder::no_message_id)
    /// none is added. [`send`](Self::send) and the other raw paths send
    /// the caller's octets untouched.
    pub fn send_message(&mut self, message: &Message) -> Result<Delivery, Error> {
        let with_id;
        let message = if message.needs_message_id() {
            with_id = message.with_message_id_from(random_128(), &self.inner.message_id_host);
            &with_id
        } else {
            message
        };
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
        self.drive_until(|c| c.client.is_ready())?;
        self.noop = None;
        self.client
            .noop(Instant::now())
            .map_err(|e| self.usage(e))?;
        self.drive_until(|c| c.noop.is_some())?;
        self.noop.take().ok_or(Error::Closed)
    }

    /// Sends QUIT, waits for the reply and closes the connection. A session
    /// that already ended returns `Ok`.
    pub fn quit(mut self) -> Result<(), Error> {
        if self.client.is_closed() || self.drv.is_none() {
            self.close_transport();
            return Ok(());
        }
        self.drive_until(|c| c.client.is_ready())?;
        self.client
            .quit(Instant::now())
            .map_err(|e| self.usage(e))?;
        self.drive_until(|c| c.client.is_closed())?;
        self.close_transport();
        match self.client.error() {
            Some(e) => Err(Error::from_core(e.clone())),
            None => Ok(()),
        }
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last EHLO (after STARTTLS, the second one).
    pub fn extensions(&self) -> &Extensions {
        self.client.extensions()
    }

    /// True when the session runs over TLS (implicit or after STARTTLS).
    pub fn is_secure(&self) -> bool {
        self.client.is_secure()
    }

    /// The mechanism AUTH succeeded with, if any.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.mechanism
    }

    /// How many batches of commands and data were written to the socket so
    /// far (with PIPELINING, MAIL, every RCPT and DATA go out as one batch).
    pub fn write_batches(&self) -> u64 {
        self.drv.as_ref().map_or(0, Driver::write_batches)
    }

    /// A usage error from core; when it was fatal the transport is closed.
    fn usage(&mut self, e: UsageError) -> Error {
        if self.client.is_closed() {
            self.close_transport();
        }
        Error::Usage(e)
    }

    /// Runs the dialogue (write, read, timers, events) until `done` or the
    /// session ends.
    fn drive_until(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), Error> {
        loop {
            self.process_events()?;
            self.flush()?;
            if done(self) {
                return Ok(());
            }
            if self.client.is_closed() || self.drv.is_none() {
                self.close_transport();
                return Err(self
                    .client
                    .error()
                    .cloned()
                    .map_or(Error::Closed, Error::from_core));
            }
            self.read()?;
        }
    }

    fn process_events(&mut self) -> Result<(), Error> {
        while let Some(event) = self.client.poll_event() {
            match event {
                ClientEvent::Greeting(r) => self.greeting = Some(r),
                ClientEvent::StartTls => self.start_tls()?,
                ClientEvent::Authenticated(m) => self.mechanism = Some(m),
                ClientEvent::MessageSent(d) => self.outcome = Some(Ok(d)),
                ClientEvent::MessageFailed(f) => self.outcome = Some(Err(f)),
                ClientEvent::NoopReply(r) => self.noop = Some(r),
                _ => {}
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Ok(());
        };
        if let Err(e) = drv.flush(&mut self.client) {
            self.client.abort();
            self.close_transport();
            return Err(Error::from_io(e));
        }
        Ok(())
    }

    fn read(&mut self) -> Result<(), Error> {
        let Some(drv) = self.drv.as_mut() else {
            return Err(Error::Closed);
        };
        // Core arms a reply timer whenever it waits for the server; the
        // fallback only guards against waiting with none armed.
        let now = Instant::now();
        let deadline = if self.client.poll_timeout().is_none() {
            *self
                .idle_deadline
                .get_or_insert(now + self.inner.config.timeouts.command)
        } else {
            self.idle_deadline = None;
            now
        };
        let poll = self
            .idle_deadline
            .map(|at| at.saturating_duration_since(now));
        match drv.read_once(&mut self.client, poll) {
            // The driver may wake before the interval asked for.
            Ok(ReadOutcome::Idle) if self.idle_deadline.is_some() => {
                if Instant::now() < deadline {
                    return Ok(());
                }
                self.idle_deadline = None;
                self.client.abort();
                self.close_transport();
                Err(Error::Timeout(Timeout::Idle))
            }
            Ok(_) => {
                self.idle_deadline = None;
                Ok(())
            }
            Err(e) => {
                self.client.handle_eof(Instant::now());
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
                self.client.abort();
                return Err(Error::Closed);
            }
        };
        let Some(tls) = self.inner.tls.as_ref() else {
            self.client.abort();
            return Err(Error::Tls(TlsError::Usage(
                "STARTTLS without a TLS configuration",
            )));
        };
        match client_handshake(tls, tcp, &self.inner.tls_name) {
            Ok(stream) => self.drv = Some(Driver::new(Transport::from(stream))),
            Err(e) => {
                self.client.abort();
                return Err(Error::from_tls(e));
            }
        }
        self.client
            .handle_tls_established(Instant::now())
            .map_err(Error::Usage)
    }

    fn close_transport(&mut self) {
        if let Some(mut drv) = self.drv.take() {
            let _ = drv.flush(&mut self.client);
            let _ = drv.sock.shutdown_write();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let ok = split_host_port;
        assert_eq!(ok("mx.example:25"), Some(("mx.example".into(), 25)));
        assert_eq!(ok("127.0.0.1:465"), Some(("127.0.0.1".into(), 465)));
        assert_eq!(ok("[::1]:587"), Some(("::1".into(), 587)));
        for bad in ["mx.example", ":25", "mx.example:", "mx:99999", "::1:25"] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        let err = SmtpClient::builder("no-port").build().unwrap_err();
        assert!(matches!(err, Error::InvalidServer(s) if s == "no-port"));
    }

    #[test]
    fn security_reaches_core_and_tls_is_built_only_when_needed() {
        let c = SmtpClient::builder("localhost:25")
            .security(Security::None)
            .build()
            .unwrap();
        assert_eq!(c.inner.config.security(), Security::None);
        assert!(c.inner.tls.is_none());
        let c = SmtpClient::builder("localhost:465")
            .security(Security::Tls)
            .build()
            .unwrap();
        assert!(c.inner.config.transport_secure);
        // SMTP offers no ALPN protocol.
        let tls = c.inner.tls.as_ref().unwrap();
        assert!(tls.rustls_config().alpn_protocols.is_empty());
        assert_eq!(c.inner.tls_name, "localhost");
        let err = SmtpClient::builder("localhost:465")
            .ca_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
    }
}
