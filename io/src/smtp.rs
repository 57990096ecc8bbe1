//! What every wireloom SMTP client shares apart from IO: the builder and
//! its settings (server address, TLS configuration, timeouts), the typed
//! [`Error`], and a [`Session`] that keeps what core's client dialogue
//! reported (greeting, AUTH mechanism, each message's outcome, NOOP
//! replies) and the idle safety net.
//!
//! The blocking client (`wireloom-blocking`) and the async one
//! ([`crate::aio::smtp`]) are drivers around these: they connect, run TLS
//! and move bytes; every decision is core's
//! [`wireloom_core::smtp::client::Client`].
//!
//! ```
//! use wireloom_io::smtp::{split_host_port, Security, SmtpClientBuilder, SmtpSettings, StartTls};
//!
//! assert_eq!(split_host_port("[::1]:587"), Some(("::1".to_string(), 587)));
//! // Any client type that can be made from settings has this builder.
//! let settings: SmtpSettings = SmtpClientBuilder::new("mx.example:25")
//!     .security(Security::StartTls(StartTls::Opportunistic))
//!     .hello_name("client.example")
//!     .build()
//!     .unwrap();
//! assert_eq!(settings.tls_name(), "mx.example");
//! assert!(settings.tls().is_some());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::mime::Message;
use wireloom_core::smtp::client::{Client, ClientEvent};
use wireloom_core::smtp::reply::Reply;
use wireloom_core::Dialogue;

use crate::tls::{ClientTlsConfig, TlsError};

pub use wireloom_core::smtp::auth::{Credentials, Mechanism};
pub use wireloom_core::smtp::client::{
    ClientConfig, ClientError, ClientTimeouts, Delivery, Envelope, MessageInfo, RecipientResult,
    Security, Stage, StartTls, TransactionFailure, UsageError,
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

/// Everything that can go wrong with an SMTP client (blocking or async;
/// HTTP requests report [`HttpError`](crate::http_client::HttpError)). A
/// session failure core reported is inside, as [`ClientError`] (core's SMTP
/// client dialogue error, not the blocking HTTP agent's `ClientError`).
/// After any variant except [`Error::Rejected`]
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
    /// A session failure core reported (its reply timers become
    /// [`Timeout::Reply`]).
    pub fn from_core(e: ClientError) -> Error {
        match e {
            ClientError::Timeout(stage) => Error::Timeout(Timeout::Reply(stage)),
            e => Error::Protocol(e),
        }
    }

    /// A TLS failure (its handshake deadline becomes
    /// [`Timeout::TlsHandshake`]).
    pub fn from_tls(e: TlsError) -> Error {
        match e {
            TlsError::HandshakeTimeout => Error::Timeout(Timeout::TlsHandshake),
            e => Error::Tls(e),
        }
    }

    /// A failed write (a socket write timeout becomes [`Timeout::Write`]).
    pub fn from_write(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(Timeout::Write),
            _ => Error::Io(e),
        }
    }

    /// A failed connect (a timeout becomes [`Timeout::Connect`]).
    pub fn from_connect(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::TimedOut => Error::Timeout(Timeout::Connect),
            _ => Error::Connect(e),
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

/// A client type an [`SmtpClientBuilder`] can finish into: each adapter's
/// `SmtpClient` (and [`SmtpSettings`] itself).
pub trait FromSettings: Sized {
    /// The client for these checked settings.
    fn from_settings(settings: SmtpSettings) -> Self;
}

/// Checked client settings: the server, the TLS configuration (built once),
/// the name the certificate must carry, core's configuration and the
/// connect timeout.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    server: String,
    host: String,
    port: u16,
    tls_name: String,
    config: ClientConfig,
    tls: Option<ClientTlsConfig>,
    connect_timeout: Duration,
    message_id_host: String,
}

impl FromSettings for SmtpSettings {
    fn from_settings(settings: SmtpSettings) -> Self {
        settings
    }
}

impl SmtpSettings {
    /// The server as given (`host:port`).
    pub fn server(&self) -> &str {
        &self.server
    }
    /// The server's host (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The name the server certificate must carry.
    pub fn tls_name(&self) -> &str {
        &self.tls_name
    }
    /// Core's client configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }
    /// The TLS configuration (`None` for [`Security::None`]).
    pub fn tls(&self) -> Option<&ClientTlsConfig> {
        self.tls.as_ref()
    }
    /// Time allowed to establish the TCP connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The TLS configuration for implicit TLS or STARTTLS; a usage error
    /// when there is none (never a silent fall back to plaintext).
    pub fn tls_for(&self, what: &'static str) -> Result<&ClientTlsConfig, Error> {
        self.tls.as_ref().ok_or(Error::Tls(TlsError::Usage(what)))
    }
}

/// Builds an SMTP client of type `C`. Defaults: STARTTLS required,
/// certificates verified against the webpki roots for the server's host
/// name, hello name `localhost`, connect timeout 30 s, RFC 5321 reply
/// timeouts.
#[derive(Clone, Debug)]
pub struct SmtpClientBuilder<C = SmtpSettings> {
    server: String,
    config: ClientConfig,
    tls: Option<ClientTlsConfig>,
    ca_pem: Vec<Vec<u8>>,
    ca_files: Vec<PathBuf>,
    tls_name: Option<String>,
    connect_timeout: Duration,
    message_id_host: Option<String>,
    client: PhantomData<fn() -> C>,
}

impl<C: FromSettings> SmtpClientBuilder<C> {
    /// A builder for the server at `host:port` (`[v6]:port` for IPv6).
    pub fn new(server: impl Into<String>) -> Self {
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
            client: PhantomData,
        }
    }

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

    /// Time allowed to establish the TCP connection (all addresses
    /// together).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Per-command reply timeouts (core's; the driver waits until the
    /// deadline core asks for). `data_block` also bounds each write.
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

    /// Checks the address and loads the TLS configuration.
    /// The host part of the Message-ID that `send_message` gives a message
    /// without one (default: this machine's [`host_name`]).
    pub fn message_id_host(mut self, host: impl Into<String>) -> Self {
        self.message_id_host = Some(host.into());
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<C, Error> {
        let (host, port) = split_host_port(&self.server)
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
        Ok(C::from_settings(SmtpSettings {
            tls_name: self.tls_name.unwrap_or_else(|| host.clone()),
            host,
            port,
            server: self.server,
            config: self.config,
            tls,
            connect_timeout: self.connect_timeout,
            message_id_host: self.message_id_host.unwrap_or_else(host_name),
        }))
    }
}

/// `host:port` or `[v6]:port` → (host without brackets, port).
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
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

/// Core's client dialogue plus what it reported, as every driver keeps it,
/// and the steps of every session operation, so that a driver only moves
/// bytes and waits.
///
/// A driver's loop, to a condition `done` on the session: write what core
/// queued, then [`step`](Session::step): [`Step::StartTls`] (run the TLS
/// handshake and call [`tls_established`](Session::tls_established)),
/// [`Step::Done`], [`Step::Ended`] (close the transport), or
/// [`Step::Wait`] (wait for input until core's timer or
/// [`idle_deadline`](Session::idle_deadline)).
///
/// A message: wait for [`is_ready`](Session::is_ready),
/// [`start_message`](Session::start_message), then for each piece
/// [`send_piece`](Session::send_piece) and, unless it was the last, drive
/// to [`piece_taken`](Session::piece_taken) (stop early when
/// [`has_outcome`](Session::has_outcome): the server refused the message);
/// [`finish_message`](Session::finish_message), drive to `has_outcome`,
/// [`take_outcome`](Session::take_outcome).
#[derive(Debug)]
pub struct Session {
    client: Client,
    greeting: Option<Reply>,
    mechanism: Option<Mechanism>,
    outcome: Option<Result<Delivery, TransactionFailure>>,
    noop: Option<Reply>,
    /// When waiting with no core timer armed gives up (see [`Timeout::Idle`]).
    idle_deadline: Option<Instant>,
}

impl Session {
    /// A session on a fresh connection (the greeting timer starts at `now`).
    pub fn new(config: ClientConfig, now: Instant) -> Session {
        let mut client = Client::new(config, now);
        if crate::trace::smtp_enabled() {
            client.record_replies(true);
        }
        Session {
            client,
            greeting: None,
            mechanism: None,
            outcome: None,
            noop: None,
            idle_deadline: None,
        }
    }

    /// Core's dialogue.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Core's dialogue, to drive it and call its application methods.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Takes core's events; true when core accepted STARTTLS and waits for
    /// the TLS handshake (the remaining events are taken on the next call).
    pub fn process_events(&mut self) -> bool {
        while let Some((stage, code)) = self.client.poll_reply_record() {
            crate::trace::smtp_reply(stage, code);
        }
        while let Some(event) = self.client.poll_event() {
            match event {
                ClientEvent::Greeting(r) => self.greeting = Some(r),
                ClientEvent::StartTls => return true,
                ClientEvent::Authenticated(m) => self.mechanism = Some(m),
                ClientEvent::MessageSent(d) => self.outcome = Some(Ok(d)),
                ClientEvent::MessageFailed(f) => self.outcome = Some(Err(f)),
                ClientEvent::NoopReply(r) => self.noop = Some(r),
                _ => {}
            }
        }
        false
    }

    /// What the driver does next on its way to `done` (after writing what
    /// core queued): takes core's events first.
    pub fn step(&mut self, done: impl Fn(&Session) -> bool, transport_open: bool) -> Step {
        if self.process_events() {
            return Step::StartTls;
        }
        if done(self) {
            return Step::Done;
        }
        if self.client.is_closed() || !transport_open {
            return Step::Ended(self.closed_error());
        }
        Step::Wait
    }

    /// Whether the session is idle and a message (or NOOP, or QUIT) can
    /// start.
    pub fn is_ready(&self) -> bool {
        self.client.is_ready()
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Starts a message on a ready session (forgets the previous outcome).
    pub fn start_message(
        &mut self,
        now: Instant,
        envelope: &Envelope,
        info: MessageInfo,
    ) -> Result<(), UsageError> {
        self.outcome = None;
        self.client.start_message(now, envelope.clone(), info)
    }

    /// Hands core the next piece of the message.
    pub fn send_piece(&mut self, now: Instant, piece: Bytes) -> Result<(), UsageError> {
        self.client.send_body(now, piece)
    }

    /// Whether the driver may take the next piece: core has encoded all it
    /// was given for the wire, or the message's outcome is in (a refusal
    /// before the end: the rest is not needed). Pieces are so pulled one
    /// ahead of the server, and memory stays bounded.
    pub fn piece_taken(&self) -> bool {
        self.has_outcome() || self.client.queued_body_len() == 0
    }

    /// The message's last piece was given.
    pub fn finish_message(&mut self, now: Instant) -> Result<(), UsageError> {
        self.client.finish_body(now)
    }

    /// Sends NOOP on a ready session (forgets the previous reply).
    pub fn start_noop(&mut self, now: Instant) -> Result<(), UsageError> {
        self.noop = None;
        self.client.noop(now)
    }

    /// Sends QUIT on a ready session.
    pub fn quit(&mut self, now: Instant) -> Result<(), UsageError> {
        self.client.quit(now)
    }

    /// Abandons the session at once (a body source or the transport
    /// failed): no QUIT; the server discards a message it did not see end.
    pub fn abort(&mut self) {
        self.client.abort();
    }

    /// The TLS handshake after STARTTLS completed: core sends EHLO again.
    pub fn tls_established(&mut self, now: Instant) -> Result<(), Error> {
        self.client
            .handle_tls_established(now)
            .map_err(Error::Usage)
    }

    /// Whether the current message's outcome is in.
    pub fn has_outcome(&self) -> bool {
        self.outcome.is_some()
    }

    /// The current message's outcome: the delivery, [`Error::Rejected`],
    /// or [`Error::Closed`] when the session ended first.
    pub fn take_outcome(&mut self) -> Result<Delivery, Error> {
        match self.outcome.take() {
            Some(Ok(delivery)) => Ok(delivery),
            Some(Err(failure)) => Err(Error::Rejected(failure)),
            None => Err(Error::Closed),
        }
    }

    /// Whether the NOOP reply is in.
    pub fn has_noop_reply(&self) -> bool {
        self.noop.is_some()
    }

    /// The NOOP reply, or [`Error::Closed`].
    pub fn take_noop_reply(&mut self) -> Result<Reply, Error> {
        self.noop.take().ok_or(Error::Closed)
    }

    /// Why the session ended: core's error, or [`Error::Closed`].
    pub fn closed_error(&self) -> Error {
        self.client
            .error()
            .cloned()
            .map_or(Error::Closed, Error::from_core)
    }

    /// The result of QUIT once the session closed: core's error, if any.
    pub fn quit_result(&self) -> Result<(), Error> {
        match self.client.error() {
            Some(e) => Err(Error::from_core(e.clone())),
            None => Ok(()),
        }
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// The mechanism AUTH succeeded with, if any.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.mechanism
    }

    /// The safety net while waiting on the server: `None` when core has a
    /// reply timer armed (its timer bounds the wait); otherwise the instant
    /// at which waiting gives up with [`Timeout::Idle`], fixed when the
    /// first such wait began and kept until input or core's timer returns.
    pub fn idle_deadline(&mut self, now: Instant) -> Option<Instant> {
        if self.client.poll_timeout().is_some() {
            self.idle_deadline = None;
            return None;
        }
        Some(
            *self
                .idle_deadline
                .get_or_insert(now + self.client_timeouts().command),
        )
    }

    /// Input arrived (or core's timer ran): the idle wait starts over.
    pub fn reset_idle(&mut self) {
        self.idle_deadline = None;
    }

    fn client_timeouts(&self) -> &ClientTimeouts {
        &self.config().timeouts
    }

    fn config(&self) -> &ClientConfig {
        self.client.config()
    }
}

impl SmtpSettings {
    /// A message ready for `send_message`: `message` itself, or, when it
    /// has no Message-ID and its builder did not opt out
    /// ([`Message::needs_message_id`]), a copy with one made from
    /// [`random_128`] and the client's
    /// [`message_id_host`](SmtpClientBuilder::message_id_host). A
    /// Message-ID the caller set is kept; raw `send` paths are untouched.
    pub fn with_message_id<'m>(&self, message: &'m Message) -> Cow<'m, Message> {
        if message.needs_message_id() {
            Cow::Owned(message.with_message_id_from(random_128(), &self.message_id_host))
        } else {
            Cow::Borrowed(message)
        }
    }
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
pub fn new_message_id(host: &str) -> String {
    wireloom_core::mime::generate_message_id(random_128(), host)
}

/// What a driver does next ([`Session::step`]).
#[derive(Debug)]
pub enum Step {
    /// Core accepted STARTTLS: write what it queued, run the TLS handshake
    /// on the transport, then [`Session::tls_established`].
    StartTls,
    /// The condition holds.
    Done,
    /// The session ended (or the transport is gone) before it held: close
    /// the transport and return this error.
    Ended(Error),
    /// Wait for input (or core's timer, or the idle deadline).
    Wait,
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
        let err = SmtpClientBuilder::<SmtpSettings>::new("no-port")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidServer(s) if s == "no-port"));
    }

    #[test]
    fn security_reaches_core_and_tls_is_built_only_when_needed() {
        let b = SmtpClientBuilder::<SmtpSettings>::new;
        let c = b("localhost:25").security(Security::None).build().unwrap();
        assert_eq!(c.config().security(), Security::None);
        assert!(c.tls().is_none());
        assert!(matches!(
            c.tls_for("x"),
            Err(Error::Tls(TlsError::Usage("x")))
        ));
        let c = b("localhost:465").security(Security::Tls).build().unwrap();
        assert!(c.config().transport_secure);
        // SMTP offers no ALPN protocol.
        let tls = c.tls().unwrap();
        assert!(tls.rustls_config().alpn_protocols.is_empty());
        assert_eq!(
            (c.tls_name(), c.host(), c.port()),
            ("localhost", "localhost", 465)
        );
        let err = b("localhost:465")
            .ca_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
    }

    #[test]
    fn idle_net_only_without_a_core_timer() {
        let t0 = Instant::now();
        let mut s = Session::new(ClientConfig::new("x"), t0);
        // Core waits for the greeting with its own timer.
        assert_eq!(s.idle_deadline(t0), None);
        assert!(!s.process_events());
        assert!(matches!(s.take_outcome(), Err(Error::Closed)));
        assert!(matches!(s.take_noop_reply(), Err(Error::Closed)));
        assert!(s.quit_result().is_ok());
    }
}
