//! The SMTP server dialogue. See the [module docs](super) for the state graph.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::address::{validate_forward_path, validate_mailbox, AddressError};
use super::auth::{self, AuthAttempt, Mechanism};
use super::command::{parse_command, Command, CommandError};
use super::dot::{DataDecoder, DataViolation};
use crate::Dialogue;

/// What to do when message data contains a bare CR or bare LF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BareLineEndingPolicy {
    /// Read to the real end (`CRLF.CRLF`), then refuse the message with 554.
    Reject,
    /// Answer 521 at once and close the connection.
    Disconnect,
}

/// Server timeouts (RFC 5321 §4.5.3.2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTimeouts {
    /// Waiting for the next command (5 min).
    pub command: Duration,
    /// Waiting for more message data (3 min).
    pub data_block: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        ServerTimeouts {
            command: Duration::from_secs(300),
            data_block: Duration::from_secs(180),
        }
    }
}

/// Server configuration. Build with [`ServerConfig::new`], adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Host name in the greeting and EHLO reply.
    pub hostname: String,
    /// Text after the host name in the 220 greeting.
    pub greeting: String,
    /// Longest command line, including CRLF (500 beyond). Default 4096
    /// (RFC 5321 says at least 512; AUTH needs more).
    pub max_command_line: usize,
    /// Longest message text line including CRLF; `None` for no limit.
    /// Default `Some(1000)` (RFC 5321 §4.5.3.1.6). Beyond: 500 at the end.
    pub max_data_line: Option<usize>,
    /// Largest message in octets (advertised as `SIZE n`; 552 beyond).
    /// Default 10 MiB; `None` for no limit (advertised as plain `SIZE`).
    pub max_message_size: Option<u64>,
    /// Most recipients per message (452 beyond). Default 100.
    pub max_recipients: usize,
    /// Most erroneous commands before 421 and closing. Default 20.
    pub max_errors: usize,
    /// Most buffered input while waiting for the application. Default 64 KiB.
    pub max_buffered: usize,
    /// Advertise and allow PIPELINING. Default true.
    pub pipelining: bool,
    /// Advertise 8BITMIME. Default true.
    pub eight_bit_mime: bool,
    /// Advertise SMTPUTF8. Default true.
    pub smtputf8: bool,
    /// Advertise CHUNKING (BDAT). Default true.
    pub chunking: bool,
    /// Advertise ENHANCEDSTATUSCODES. Default true.
    pub enhanced_status_codes: bool,
    /// Advertise DSN and accept its parameters. Default false.
    pub dsn: bool,
    /// Advertise STARTTLS (the adapter can do TLS). Default false.
    pub starttls: bool,
    /// The transport is already encrypted (implicit TLS).
    pub transport_secure: bool,
    /// AUTH mechanisms to offer; empty disables AUTH. Default empty.
    pub auth_mechanisms: Vec<Mechanism>,
    /// Offer AUTH only over an encrypted transport. Default true.
    pub auth_requires_tls: bool,
    /// Refuse MAIL before AUTH (530). Default false.
    pub require_auth: bool,
    /// Refuse MAIL before STARTTLS (530). Default false.
    pub require_tls: bool,
    /// Bare CR/LF handling in DATA. Default [`BareLineEndingPolicy::Reject`].
    pub bare_line_ending: BareLineEndingPolicy,
    /// Unique, unpredictable text for the CRAM-MD5 challenge, set per
    /// connection by the adapter (core has no randomness). CRAM-MD5 is
    /// neither offered nor accepted while this is `None` (the default): a
    /// predictable challenge would let a captured answer be replayed.
    pub cram_md5_nonce: Option<String>,
    /// Answer EHLO (ESMTP). Default true; false answers EHLO with 502 like
    /// an RFC 821 server, so clients fall back to HELO.
    pub esmtp: bool,
    /// Refuse service (RFC 5321 §3.1): greet with `554 <text>`, answer
    /// every command but QUIT with 503. Default `None`.
    pub refuse_service: Option<String>,
    /// Accept command lines ending in a bare LF (leniency for old clients;
    /// DATA stays strict). Default false: 500.
    pub allow_bare_lf_commands: bool,
    /// Timeouts.
    pub timeouts: ServerTimeouts,
}

impl ServerConfig {
    /// A configuration with safe defaults.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            greeting: "ESMTP wireloom".into(),
            max_command_line: 4096,
            max_data_line: Some(1000),
            max_message_size: Some(10 * 1024 * 1024),
            max_recipients: 100,
            max_errors: 20,
            max_buffered: 64 * 1024,
            pipelining: true,
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            enhanced_status_codes: true,
            dsn: false,
            starttls: false,
            transport_secure: false,
            auth_mechanisms: Vec::new(),
            auth_requires_tls: true,
            require_auth: false,
            require_tls: false,
            bare_line_ending: BareLineEndingPolicy::Reject,
            cram_md5_nonce: None,
            allow_bare_lf_commands: false,
            refuse_service: None,
            esmtp: true,
            timeouts: ServerTimeouts::default(),
        }
    }
}

/// Why a message was dropped after its data started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// Over [`ServerConfig::max_message_size`] (552).
    TooLarge,
    /// Bare CR or LF, or a line over the limit.
    Data(DataViolation),
    /// The client disconnected or the timer fired mid-message.
    Disconnected,
    /// RSET or a BDAT error.
    Reset,
}

/// What the server dialogue reports. Events marked *answer* wait for
/// [`Server::accept`] or [`Server::reject`]; input is not processed further
/// until then.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// HELO or EHLO (informational; any transaction was reset).
    Hello {
        /// The client's domain.
        domain: String,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// STARTTLS accepted: flush `poll_transmit`, start the TLS handshake on
    /// the transport, then call [`Server::handle_tls_established`].
    /// `discarded` plaintext bytes pipelined after STARTTLS were dropped.
    StartTls {
        /// Plaintext octets dropped.
        discarded: usize,
    },
    /// *Answer*: credentials to verify.
    Auth {
        /// The mechanism.
        mechanism: Mechanism,
        /// What the client presented (`Debug` redacts secrets).
        attempt: AuthAttempt,
    },
    /// *Answer*: accept this sender? Empty `from` is the null sender.
    MailFrom {
        /// Reverse path.
        from: String,
        /// Parameters (upper-cased keywords).
        params: Vec<(String, Option<String>)>,
    },
    /// *Answer*: accept this recipient?
    RcptTo {
        /// Forward path.
        to: String,
        /// Parameters.
        params: Vec<(String, Option<String>)>,
    },
    /// Message data begins (DATA 354 sent, or first BDAT).
    MessageStart,
    /// A piece of message data, un-stuffed, in order.
    Data(Bytes),
    /// *Answer*: the whole message arrived; accept (250) or reject.
    MessageEnd {
        /// Octets of message data.
        size: u64,
    },
    /// The message being received was dropped (the server already answered
    /// or will answer the client); discard the data received so far.
    MessageAborted(AbortReason),
    /// The transaction (sender, recipients) was reset.
    Reset,
    /// The client said QUIT.
    Quit,
    /// The client broke the protocol (fatal): the server queued its last
    /// reply and closes. The dialogue's one error channel; reported once.
    Error(ServerError),
}

/// A fatal protocol violation by the client. Sticky.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// Bare CR/LF in data with [`BareLineEndingPolicy::Disconnect`].
    BareLineEnding,
    /// More than [`ServerConfig::max_errors`] bad commands.
    TooManyErrors,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::BareLineEnding => f.write_str("bare CR or LF in message data"),
            ServerError::TooManyErrors => f.write_str("too many erroneous commands"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Misuse of the server API.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerUsageError {
    /// No event is waiting for an answer.
    NothingToAnswer,
    /// The reply code is not 4xx/5xx, or the text contains CR/LF.
    InvalidReply,
    /// `handle_tls_established` without a pending STARTTLS.
    NoTlsPending,
}

impl fmt::Display for ServerUsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerUsageError::NothingToAnswer => f.write_str("no event waits for an answer"),
            ServerUsageError::InvalidReply => f.write_str("reply must be 4xx/5xx without CR/LF"),
            ServerUsageError::NoTlsPending => f.write_str("no STARTTLS pending"),
        }
    }
}

impl std::error::Error for ServerUsageError {}

/// A command line, or the reply refusing it.
type Line = Result<String, (u16, &'static str)>;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Awaiting {
    Auth,
    Mail,
    Rcpt,
    DataEnd,
}

#[derive(Clone, Debug)]
enum AuthState {
    Plain,
    LoginUser,
    LoginPass(String),
    Cram(String),
    XOAuth2,
}

#[derive(Debug)]
enum State {
    Command,
    Auth(AuthState),
    Data(DataDecoder),
    Bdat {
        remaining: u64,
        last: bool,
        /// Consume and drop the chunk, then send this reply.
        discard: Option<(u16, &'static str)>,
    },
    WaitTls,
    Closed,
}

#[derive(Debug, Default)]
struct Txn {
    smtputf8: bool,
    rcpts: usize,
    size: u64,
    started: bool,
    bdat: bool,
    aborted: Option<AbortReason>,
}

/// The SMTP server dialogue. Implements [`Dialogue`]; see the
/// [module docs](super).
///
/// # Contract
///
/// - [`Server::new`] queues the greeting: flush
///   [`poll_transmit`](Dialogue::poll_transmit) first.
/// - Feed client bytes to [`handle_input`](Dialogue::handle_input), end of
///   stream to [`handle_eof`](Dialogue::handle_eof), expired timers to
///   [`handle_timeout`](Dialogue::handle_timeout); after each call, write
///   out `poll_transmit` and drain [`poll_event`](Dialogue::poll_event).
/// - Events marked *answer* ([`ServerEvent::Auth`], [`ServerEvent::MailFrom`],
///   [`ServerEvent::RcptTo`], [`ServerEvent::MessageEnd`]) must be answered
///   with [`accept`](Server::accept) or [`reject`](Server::reject); until
///   then no further command is read (pipelined input waits, so replies
///   stay in order) and no timer runs.
/// - Message data is never buffered whole: it arrives as
///   [`ServerEvent::Data`] slices, between [`ServerEvent::MessageStart`] and
///   `MessageEnd` (or [`ServerEvent::MessageAborted`]).
/// - On [`ServerEvent::StartTls`], flush `poll_transmit` (the 220), then
///   run the TLS handshake and call
///   [`handle_tls_established`](Server::handle_tls_established).
/// - [`ServerError`]s are fatal and sticky, and reported once, as
///   [`ServerEvent::Error`] (the dialogue's one error channel); the
///   connection is closed (`is_closed`) after the final reply is flushed.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    state: State,
    rbuf: BytesMut,
    skip_line: bool,
    helo: Option<String>,
    extended: bool,
    secure: bool,
    authenticated: bool,
    txn: Option<Txn>,
    pending_mail: Option<bool>,
    awaiting: Option<Awaiting>,
    errors: usize,
    challenges: u64,
    deadline: Option<Instant>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ServerEvent>,
    error: Option<ServerError>,
    /// [`Server::handle_shutdown`] was called: 421 at the next point
    /// between transactions.
    draining: bool,
}

impl Server {
    /// A server on a fresh connection; the 220 greeting is queued.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let mut s = Server {
            secure: config.transport_secure,
            config,
            state: State::Command,
            rbuf: BytesMut::new(),
            skip_line: false,
            helo: None,
            extended: false,
            authenticated: false,
            txn: None,
            pending_mail: None,
            awaiting: None,
            errors: 0,
            challenges: 0,
            deadline: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            draining: false,
        };
        match &s.config.refuse_service {
            Some(text) => {
                let text = format!("{} {}", s.config.hostname, text.replace(['\r', '\n'], " "));
                s.reply(554, &text);
            }
            None => {
                let greeting = format!("{} {}", s.config.hostname, s.config.greeting);
                s.reply(220, &greeting);
            }
        }
        s.arm(now);
        s
    }

    /// A connection the server will not serve now (over its connection
    /// limit, RFC 5321 §3.1 and §4.2.5): the greeting is
    /// `421 4.3.2 <hostname> Too many connections, try again later` and
    /// the dialogue is closed at once, so a client retries later instead
    /// of seeing a bare reset. Flush `poll_transmit` and close.
    pub fn busy(config: ServerConfig, now: Instant) -> Self {
        let mut s = Server::new(config, now);
        s.transmit.clear();
        let text = format!(
            "4.3.2 {} Too many connections, try again later",
            s.config.hostname
        );
        s.reply(421, &text);
        s.close();
        s
    }

    /// True when the client authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True when the transport is encrypted.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The event waiting for an answer, if any (by kind).
    pub fn is_waiting(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Accepts what the last *answer* event asked about.
    ///
    /// While an answer was pending, `handle_input` may have left bytes in
    /// the caller's buffer (beyond [`ServerConfig::max_buffered`]); call
    /// `handle_input` again with that buffer after answering.
    pub fn accept(&mut self, now: Instant) -> Result<(), ServerUsageError> {
        let awaiting = self
            .awaiting
            .take()
            .ok_or(ServerUsageError::NothingToAnswer)?;
        match awaiting {
            Awaiting::Auth => {
                self.authenticated = true;
                self.reply(235, "2.7.0 Authentication successful");
            }
            Awaiting::Mail => {
                let smtputf8 = self.pending_mail.take().unwrap_or(false);
                self.txn = Some(Txn {
                    smtputf8,
                    ..Txn::default()
                });
                self.reply(250, "2.1.0 Sender OK");
            }
            Awaiting::Rcpt => {
                if let Some(t) = self.txn.as_mut() {
                    t.rcpts += 1;
                }
                self.reply(250, "2.1.5 Recipient OK");
            }
            Awaiting::DataEnd => {
                self.txn = None;
                self.reply(250, "2.0.0 Message accepted for delivery");
            }
        }
        self.resume(now);
        Ok(())
    }

    /// Refuses what the last *answer* event asked about with `code` (4xx or
    /// 5xx) and `text` (start it with an enhanced code, e.g. `5.7.1 ...`).
    /// 421 closes the connection.
    pub fn reject(&mut self, now: Instant, code: u16, text: &str) -> Result<(), ServerUsageError> {
        if !(400..600).contains(&code) || text.contains(['\r', '\n']) {
            return Err(ServerUsageError::InvalidReply);
        }
        let awaiting = self
            .awaiting
            .take()
            .ok_or(ServerUsageError::NothingToAnswer)?;
        match awaiting {
            Awaiting::Mail => self.pending_mail = None,
            Awaiting::DataEnd => self.txn = None,
            Awaiting::Auth | Awaiting::Rcpt => {}
        }
        self.reply(code, text);
        if code == 421 {
            self.close();
            return Ok(());
        }
        self.resume(now);
        Ok(())
    }

    /// The service is shutting down (RFC 5321 §3.8): answer `421 4.3.2`
    /// and close at the next point between transactions. At once when no
    /// transaction is open and nothing waits for an answer; otherwise the
    /// open transaction may finish (its data is read and its end answered
    /// as usual) and the 421 follows. A MAIL that arrives meanwhile
    /// (pipelined after the end of data) still reports
    /// [`ServerEvent::MailFrom`]: reject it with 421 to refuse it.
    /// Idempotent; the caller flushes `poll_transmit` as after any call.
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.draining = true;
        self.arm(now);
    }

    /// True once [`Server::handle_shutdown`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// The TLS handshake after [`ServerEvent::StartTls`] completed. The
    /// session starts over (RFC 3207 §4.2): the client must EHLO again.
    pub fn handle_tls_established(&mut self, now: Instant) -> Result<(), ServerUsageError> {
        if !matches!(self.state, State::WaitTls) {
            return Err(ServerUsageError::NoTlsPending);
        }
        self.secure = true;
        self.helo = None;
        self.extended = false;
        self.authenticated = false;
        self.txn = None;
        self.rbuf.clear();
        self.skip_line = false;
        self.state = State::Command;
        self.arm(now);
        Ok(())
    }

    fn reply(&mut self, code: u16, text: &str) {
        self.transmit
            .push_back(Bytes::from(format!("{code} {text}\r\n")));
    }

    fn reply_lines(&mut self, code: u16, lines: &[String]) {
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{code}{sep}{l}\r\n"));
        }
        self.transmit.push_back(Bytes::from(out));
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.deadline = None;
        self.rbuf.clear();
    }

    fn arm(&mut self, now: Instant) {
        if self.draining
            && self.awaiting.is_none()
            && self.txn.is_none()
            && self.error.is_none()
            && matches!(self.state, State::Command | State::Auth(_))
        {
            let text = format!("4.3.2 {} Service shutting down", self.config.hostname);
            self.reply(421, &text);
            self.close();
            return;
        }
        self.deadline = match self.state {
            _ if self.awaiting.is_some() => None,
            State::Command | State::Auth(_) => Some(now + self.config.timeouts.command),
            State::Data(_) | State::Bdat { .. } => Some(now + self.config.timeouts.data_block),
            State::WaitTls | State::Closed => None,
        };
    }

    fn resume(&mut self, now: Instant) {
        // Input held while the answer was pending may break the protocol.
        if let Err(e) = self.process(now) {
            self.fail(e);
        }
        self.arm(now);
    }

    /// A fatal protocol error: reported once, as an event (its reply is
    /// already queued and the state closed); sticky.
    fn fail(&mut self, e: ServerError) {
        self.events.push_back(ServerEvent::Error(e.clone()));
        self.error = Some(e);
    }

    fn reset_txn(&mut self) {
        if let Some(t) = self.txn.take() {
            if t.started && t.aborted.is_none() {
                self.events
                    .push_back(ServerEvent::MessageAborted(AbortReason::Reset));
            }
            self.events.push_back(ServerEvent::Reset);
        }
    }

    fn bad_command(&mut self, code: u16, text: &str) -> Result<(), ServerError> {
        self.errors += 1;
        if self.errors > self.config.max_errors {
            self.reply(421, "4.7.0 Too many errors, closing connection");
            self.close();
            return Err(ServerError::TooManyErrors);
        }
        self.reply(code, text);
        Ok(())
    }

    /// Takes one CRLF-terminated line from `rbuf`. `None`: need more.
    /// `Some(Err(reply))`: a bad line was consumed; answer with `reply`.
    fn take_line(&mut self) -> Option<Line> {
        let Some(lf) = memchr::memchr(b'\n', &self.rbuf) else {
            if self.skip_line || self.rbuf.len() >= self.config.max_command_line {
                // Too long: drop it as it arrives, answer 500 at its end.
                self.skip_line = true;
                self.rbuf.clear();
            }
            return None;
        };
        let line = self.rbuf.split_to(lf + 1);
        if self.skip_line {
            self.skip_line = false;
            return Some(Err((500, "5.5.6 Line too long")));
        }
        if line.len() > self.config.max_command_line {
            return Some(Err((500, "5.5.6 Line too long")));
        }
        let body = match line[..lf].strip_suffix(b"\r") {
            Some(body) => body,
            None if self.config.allow_bare_lf_commands => &line[..lf],
            None => return Some(Err((500, "5.5.2 Bare LF in command line"))),
        };
        if memchr::memchr(b'\r', body).is_some() {
            return Some(Err((500, "5.5.2 Bare CR in command line")));
        }
        Some(match std::str::from_utf8(body) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err((500, "5.5.2 Command is not UTF-8")),
        })
    }

    fn process(&mut self, now: Instant) -> Result<(), ServerError> {
        while self.awaiting.is_none() {
            match &mut self.state {
                State::Closed | State::WaitTls => return Ok(()),
                State::Command => {
                    let line = match self.take_line() {
                        None => return Ok(()),
                        Some(Err((code, text))) => {
                            self.bad_command(code, text)?;
                            continue;
                        }
                        Some(Ok(l)) => l,
                    };
                    self.command(now, &line)?;
                }
                State::Auth(_) => {
                    let line = match self.take_line() {
                        None => return Ok(()),
                        Some(Err((code, text))) => {
                            self.state = State::Command;
                            self.bad_command(code, text)?;
                            continue;
                        }
                        Some(Ok(l)) => l,
                    };
                    self.auth_line(&line);
                }
                State::Data(dec) => {
                    if self.rbuf.is_empty() {
                        return Ok(());
                    }
                    let before = self.rbuf.len();
                    let out = dec.decode(&mut self.rbuf);
                    let progressed = self.rbuf.len() != before;
                    self.on_data(out.chunks, out.violation)?;
                    if out.end {
                        self.state = State::Command;
                        self.end_message();
                    } else if !progressed {
                        return Ok(());
                    }
                }
                State::Bdat {
                    remaining,
                    last,
                    discard,
                } => {
                    let (last, discard) = (*last, *discard);
                    if *remaining > 0 {
                        if self.rbuf.is_empty() {
                            return Ok(());
                        }
                        let take = (*remaining).min(self.rbuf.len() as u64) as usize;
                        *remaining -= take as u64;
                        let chunk = self.rbuf.split_to(take).freeze();
                        if discard.is_none() {
                            self.on_data(vec![chunk], None)?;
                        }
                        continue;
                    }
                    self.state = State::Command;
                    if let Some((code, text)) = discard {
                        self.reply(code, text);
                        continue;
                    }
                    if last {
                        self.end_message();
                    } else {
                        match self.txn.as_ref().and_then(|t| t.aborted) {
                            Some(reason) => {
                                // RFC 3030: a failed chunk fails the message.
                                self.txn = None;
                                let (code, text) = abort_reply(reason);
                                self.reply(code, text);
                                self.events.push_back(ServerEvent::Reset);
                            }
                            None => {
                                let size = self.txn.as_ref().map_or(0, |t| t.size);
                                self.reply(250, &format!("2.0.0 {size} octets received"));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        chunks: Vec<Bytes>,
        violation: Option<DataViolation>,
    ) -> Result<(), ServerError> {
        let Some(txn) = self.txn.as_mut() else {
            return Ok(());
        };
        if let Some(v) = violation {
            let bare = matches!(v, DataViolation::BareCr | DataViolation::BareLf);
            let disconnect =
                bare && self.config.bare_line_ending == BareLineEndingPolicy::Disconnect;
            if txn.aborted.is_none() || disconnect {
                if disconnect {
                    let first = txn.aborted.is_none();
                    self.txn = None;
                    if first {
                        self.events
                            .push_back(ServerEvent::MessageAborted(AbortReason::Data(v)));
                    }
                    self.reply(
                        521,
                        "5.5.2 Bare CR or LF in message data, closing connection",
                    );
                    self.close();
                    return Err(ServerError::BareLineEnding);
                }
                txn.aborted = Some(AbortReason::Data(v));
                self.events
                    .push_back(ServerEvent::MessageAborted(AbortReason::Data(v)));
            }
        }
        let txn = self.txn.as_mut().expect("checked above");
        if txn.aborted.is_some() {
            return Ok(());
        }
        for chunk in chunks {
            txn.size += chunk.len() as u64;
            if let Some(max) = self.config.max_message_size {
                if txn.size > max {
                    txn.aborted = Some(AbortReason::TooLarge);
                    self.events
                        .push_back(ServerEvent::MessageAborted(AbortReason::TooLarge));
                    return Ok(());
                }
            }
            self.events.push_back(ServerEvent::Data(chunk));
        }
        Ok(())
    }

    fn end_message(&mut self) {
        let Some(txn) = self.txn.as_ref() else { return };
        match txn.aborted {
            Some(reason) => {
                self.txn = None;
                let (code, text) = abort_reply(reason);
                self.reply(code, text);
                self.events.push_back(ServerEvent::Reset);
            }
            None => {
                self.events
                    .push_back(ServerEvent::MessageEnd { size: txn.size });
                self.awaiting = Some(Awaiting::DataEnd);
            }
        }
    }

    fn ehlo_lines(&self, domain: &str) -> Vec<String> {
        let c = &self.config;
        let mut lines = vec![format!("{} greets {}", c.hostname, domain)];
        if c.pipelining {
            lines.push("PIPELINING".into());
        }
        match c.max_message_size {
            Some(n) => lines.push(format!("SIZE {n}")),
            None => lines.push("SIZE".into()),
        }
        if c.eight_bit_mime {
            lines.push("8BITMIME".into());
        }
        if c.smtputf8 {
            lines.push("SMTPUTF8".into());
        }
        if c.chunking {
            lines.push("CHUNKING".into());
        }
        if c.dsn {
            lines.push("DSN".into());
        }
        if c.starttls && !self.secure {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            let names: Vec<&str> = c
                .auth_mechanisms
                .iter()
                .filter(|m| self.mechanism_usable(**m))
                .map(|m| m.name())
                .collect();
            lines.push(format!("AUTH {}", names.join(" ")));
        }
        if c.enhanced_status_codes {
            lines.push("ENHANCEDSTATUSCODES".into());
        }
        lines
    }

    fn mechanism_usable(&self, m: Mechanism) -> bool {
        self.config.auth_mechanisms.contains(&m)
            && (m != Mechanism::CramMd5 || self.config.cram_md5_nonce.is_some())
    }

    fn auth_offered(&self) -> bool {
        self.config
            .auth_mechanisms
            .iter()
            .any(|m| self.mechanism_usable(*m))
            && !self.authenticated
            && (self.secure || !self.config.auth_requires_tls)
    }

    fn command(&mut self, now: Instant, line: &str) -> Result<(), ServerError> {
        let cmd = match parse_command(line) {
            Ok(c) => c,
            Err(CommandError::Unrecognized) => {
                return self.bad_command(500, "5.5.1 Command unrecognized")
            }
            Err(CommandError::Syntax(why)) => {
                return self.bad_command(501, &format!("5.5.4 Syntax error: {why}"));
            }
        };
        if self.config.refuse_service.is_some() && cmd != Command::Quit {
            if let Command::Bdat { size, last } = cmd {
                // Stay in sync: the chunk still has to be read.
                self.state = State::Bdat {
                    remaining: size,
                    last,
                    discard: Some((503, "5.5.1 No service")),
                };
                return Ok(());
            }
            return self.bad_command(503, "5.5.1 No service");
        }
        match cmd {
            Command::Ehlo(_) if !self.config.esmtp => {
                return self.bad_command(502, "5.5.1 EHLO not implemented")
            }
            Command::Ehlo(domain) => self.hello(domain, true),
            Command::Helo(domain) => self.hello(domain, false),
            Command::StartTls => {
                if !self.config.starttls {
                    return self.bad_command(502, "5.5.1 STARTTLS not available");
                }
                if self.secure {
                    return self.bad_command(503, "5.5.1 TLS already active");
                }
                if self.helo.is_none() {
                    return self.bad_command(503, "5.5.1 Send EHLO first");
                }
                self.reset_txn();
                self.reply(220, "2.0.0 Ready to start TLS");
                // Anything pipelined after STARTTLS is plaintext the client
                // sent before TLS: never act on it (RFC 3207 §4.2, CVE-2011-0411).
                let discarded = self.rbuf.len();
                self.rbuf.clear();
                self.state = State::WaitTls;
                self.events.push_back(ServerEvent::StartTls { discarded });
            }
            Command::Auth { mechanism, initial } => {
                return self.auth_start(now, &mechanism, initial)
            }
            Command::Mail { from, params } => return self.mail(from, params),
            Command::Rcpt { to, params } => return self.rcpt(to, params),
            Command::Data => {
                let Some(txn) = self.txn.as_mut() else {
                    return self.bad_command(503, "5.5.1 Need MAIL command");
                };
                if txn.bdat {
                    return self.bad_command(503, "5.5.1 DATA after BDAT");
                }
                if txn.rcpts == 0 {
                    return self.bad_command(554, "5.5.1 No valid recipients");
                }
                txn.started = true;
                self.reply(354, "End data with <CR><LF>.<CR><LF>");
                self.state = State::Data(DataDecoder::new(self.config.max_data_line));
                self.events.push_back(ServerEvent::MessageStart);
            }
            Command::Bdat { size, last } => {
                let discard = if !self.config.chunking {
                    Some((502, "5.5.1 BDAT not available"))
                } else {
                    match self.txn.as_mut() {
                        None => Some((503, "5.5.1 Need MAIL command")),
                        Some(t) if t.rcpts == 0 => Some((554, "5.5.1 No valid recipients")),
                        Some(t) => {
                            if !t.started {
                                t.started = true;
                                t.bdat = true;
                                self.events.push_back(ServerEvent::MessageStart);
                            }
                            None
                        }
                    }
                };
                if discard.is_some() {
                    self.errors += 1;
                }
                self.state = State::Bdat {
                    remaining: size,
                    last,
                    discard,
                };
            }
            Command::Rset => {
                self.reset_txn();
                self.reply(250, "2.0.0 OK");
            }
            Command::Noop => self.reply(250, "2.0.0 OK"),
            Command::Help => self.reply(214, "2.0.0 See RFC 5321"),
            Command::Vrfy(_) => self.reply(252, "2.5.0 Cannot VRFY user, but will accept message"),
            Command::Expn(_) => return self.bad_command(502, "5.5.1 EXPN not available"),
            Command::Quit => {
                self.reset_txn();
                self.reply(221, "2.0.0 Bye");
                self.events.push_back(ServerEvent::Quit);
                self.close();
            }
        }
        Ok(())
    }

    fn hello(&mut self, domain: String, extended: bool) {
        self.reset_txn();
        self.helo = Some(domain.clone());
        self.extended = extended;
        if extended {
            let lines = self.ehlo_lines(&domain);
            self.reply_lines(250, &lines);
        } else {
            let text = format!("{} greets {}", self.config.hostname, domain);
            self.reply(250, &text);
        }
        self.events
            .push_back(ServerEvent::Hello { domain, extended });
    }

    fn auth_start(
        &mut self,
        _now: Instant,
        mechanism: &str,
        initial: Option<String>,
    ) -> Result<(), ServerError> {
        if !self
            .config
            .auth_mechanisms
            .iter()
            .any(|m| self.mechanism_usable(*m))
        {
            return self.bad_command(502, "5.5.1 AUTH not available");
        }
        if self.helo.is_none() || !self.extended {
            return self.bad_command(503, "5.5.1 Send EHLO first");
        }
        if self.authenticated {
            return self.bad_command(503, "5.5.1 Already authenticated");
        }
        if self.txn.is_some() {
            return self.bad_command(503, "5.5.1 AUTH not allowed during a mail transaction");
        }
        if !self.secure && self.config.auth_requires_tls {
            return self.bad_command(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            );
        }
        let Some(mech) = Mechanism::from_name(mechanism).filter(|m| self.mechanism_usable(*m))
        else {
            return self.bad_command(504, "5.5.4 Unrecognized authentication type");
        };
        // "=" is an empty initial response (RFC 4954 §4).
        let initial = initial.map(|s| if s == "=" { String::new() } else { s });
        match (mech, initial) {
            (Mechanism::Plain, Some(ir)) => {
                self.state = State::Auth(AuthState::Plain);
                self.auth_line(&ir);
            }
            (Mechanism::Plain, None) => {
                self.state = State::Auth(AuthState::Plain);
                self.reply(334, "");
            }
            (Mechanism::XOAuth2, Some(ir)) => {
                self.state = State::Auth(AuthState::XOAuth2);
                self.auth_line(&ir);
            }
            (Mechanism::XOAuth2, None) => {
                self.state = State::Auth(AuthState::XOAuth2);
                self.reply(334, "");
            }
            (Mechanism::Login, Some(ir)) => {
                self.state = State::Auth(AuthState::LoginUser);
                self.auth_line(&ir);
            }
            (Mechanism::Login, None) => {
                self.state = State::Auth(AuthState::LoginUser);
                self.reply(334, "VXNlcm5hbWU6");
            }
            (Mechanism::CramMd5, _) => {
                self.challenges += 1;
                let nonce = self.config.cram_md5_nonce.as_deref().unwrap_or_default();
                let challenge = format!("<{}.{}@{}>", self.challenges, nonce, self.config.hostname);
                let text = auth::b64(&challenge);
                self.state = State::Auth(AuthState::Cram(challenge));
                self.reply(334, &text);
            }
        }
        Ok(())
    }

    fn auth_line(&mut self, line: &str) {
        let State::Auth(st) = std::mem::replace(&mut self.state, State::Command) else {
            return;
        };
        if line == "*" {
            self.reply(501, "5.7.0 Authentication cancelled");
            return;
        }
        let (mechanism, attempt) = match st {
            AuthState::Plain => (Mechanism::Plain, auth::decode_plain(line)),
            AuthState::XOAuth2 => (Mechanism::XOAuth2, auth::decode_xoauth2(line)),
            AuthState::Cram(challenge) => (Mechanism::CramMd5, auth::decode_cram(line, &challenge)),
            AuthState::LoginUser => match auth::decode_b64_utf8(line) {
                Some(user) if !user.is_empty() => {
                    self.state = State::Auth(AuthState::LoginPass(user));
                    self.reply(334, "UGFzc3dvcmQ6");
                    return;
                }
                _ => (Mechanism::Login, None),
            },
            AuthState::LoginPass(user) => (
                Mechanism::Login,
                auth::decode_b64_utf8(line).map(|password| AuthAttempt::Password {
                    authzid: String::new(),
                    user,
                    password,
                }),
            ),
        };
        match attempt {
            Some(attempt) => {
                self.events
                    .push_back(ServerEvent::Auth { mechanism, attempt });
                self.awaiting = Some(Awaiting::Auth);
            }
            None => self.reply(501, "5.5.2 Cannot decode response"),
        }
    }

    fn mail(
        &mut self,
        from: String,
        params: Vec<(String, Option<String>)>,
    ) -> Result<(), ServerError> {
        if self.helo.is_none() {
            return self.bad_command(503, "5.5.1 Send HELO/EHLO first");
        }
        if self.config.require_tls && !self.secure {
            return self.bad_command(530, "5.7.0 Must issue a STARTTLS command first");
        }
        if self.config.require_auth && !self.authenticated {
            return self.bad_command(530, "5.7.0 Authentication required");
        }
        if self.txn.is_some() {
            return self.bad_command(503, "5.5.1 Nested MAIL command");
        }
        if !params.is_empty() && !self.extended {
            return self.bad_command(555, "5.5.4 MAIL parameters need EHLO");
        }
        let mut smtputf8 = false;
        for (k, v) in &params {
            let ok = match (k.as_str(), v.as_deref()) {
                ("SIZE", Some(n)) => match n.parse::<u64>() {
                    Ok(n) => {
                        if self.config.max_message_size.is_some_and(|max| n > max) {
                            return self.bad_command(
                                552,
                                "5.3.4 Message size exceeds fixed maximum message size",
                            );
                        }
                        true
                    }
                    Err(_) => false,
                },
                ("BODY", Some(b)) => {
                    b.eq_ignore_ascii_case("7BIT")
                        || (b.eq_ignore_ascii_case("8BITMIME") && self.config.eight_bit_mime)
                }
                ("SMTPUTF8", None) if self.config.smtputf8 => {
                    smtputf8 = true;
                    true
                }
                ("AUTH", Some(_)) => !self.config.auth_mechanisms.is_empty(),
                ("RET" | "ENVID", Some(_)) => self.config.dsn,
                _ => false,
            };
            if !ok {
                return self.bad_command(
                    555,
                    "5.5.4 MAIL FROM parameters not recognized or not implemented",
                );
            }
        }
        if !from.is_empty() {
            match validate_mailbox(&from, smtputf8) {
                Ok(()) => {}
                Err(AddressError::NeedsSmtputf8) => {
                    return self.bad_command(553, "5.6.7 Non-ASCII address needs SMTPUTF8");
                }
                Err(_) => return self.bad_command(553, "5.1.7 Bad sender address syntax"),
            }
        }
        self.pending_mail = Some(smtputf8);
        self.events
            .push_back(ServerEvent::MailFrom { from, params });
        self.awaiting = Some(Awaiting::Mail);
        Ok(())
    }

    fn rcpt(
        &mut self,
        to: String,
        params: Vec<(String, Option<String>)>,
    ) -> Result<(), ServerError> {
        let Some(txn) = self.txn.as_ref() else {
            return self.bad_command(503, "5.5.1 Need MAIL command");
        };
        if txn.started {
            return self.bad_command(503, "5.5.1 RCPT after message data");
        }
        let smtputf8 = txn.smtputf8;
        if txn.rcpts >= self.config.max_recipients {
            self.reply(452, "4.5.3 Too many recipients");
            return Ok(());
        }
        for (k, v) in &params {
            let ok = matches!((k.as_str(), v), ("NOTIFY" | "ORCPT", Some(_))) && self.config.dsn;
            if !ok {
                return self.bad_command(
                    555,
                    "5.5.4 RCPT TO parameters not recognized or not implemented",
                );
            }
        }
        match validate_forward_path(&to, smtputf8) {
            Ok(()) => {}
            Err(AddressError::NeedsSmtputf8) => {
                return self.bad_command(553, "5.6.7 Non-ASCII address needs SMTPUTF8");
            }
            Err(_) => return self.bad_command(553, "5.1.3 Bad recipient address syntax"),
        }
        self.events.push_back(ServerEvent::RcptTo { to, params });
        self.awaiting = Some(Awaiting::Rcpt);
        Ok(())
    }
}

fn abort_reply(reason: AbortReason) -> (u16, &'static str) {
    match reason {
        AbortReason::TooLarge => (552, "5.3.4 Message size exceeds fixed maximum message size"),
        AbortReason::Data(DataViolation::LineTooLong) => (500, "5.5.6 Line too long"),
        AbortReason::Data(_) => (554, "5.6.0 Bare CR or LF in message data (RFC 5321 2.3.8)"),
        AbortReason::Disconnected | AbortReason::Reset => (451, "4.3.0 Message aborted"),
    }
}

impl Dialogue for Server {
    type Event = ServerEvent;

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) {
        if self.error.is_some() {
            input.clear();
            return;
        }
        loop {
            if matches!(self.state, State::Closed | State::WaitTls) {
                input.clear();
                return;
            }
            let room = self.config.max_buffered.saturating_sub(self.rbuf.len());
            let take = room.min(input.len());
            if take == 0 {
                break;
            }
            self.rbuf.extend_from_slice(&input.split_to(take));
            if let Err(e) = self.process(now) {
                self.fail(e);
                input.clear();
                self.arm(now);
                return;
            }
            if self.awaiting.is_some() {
                break;
            }
        }
        self.arm(now);
    }

    fn handle_eof(&mut self, _now: Instant) {
        if let Some(t) = self.txn.take() {
            if t.started
                && t.aborted.is_none()
                && matches!(self.state, State::Data(_) | State::Bdat { .. })
            {
                self.events
                    .push_back(ServerEvent::MessageAborted(AbortReason::Disconnected));
            }
        }
        self.awaiting = None;
        self.state = State::Closed;
        self.deadline = None;
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        if let Some(t) = self.txn.take() {
            if t.started
                && t.aborted.is_none()
                && matches!(self.state, State::Data(_) | State::Bdat { .. })
            {
                self.events
                    .push_back(ServerEvent::MessageAborted(AbortReason::Disconnected));
            }
        }
        let text = format!("4.4.2 {} Timeout, closing connection", self.config.hostname);
        self.reply(421, &text);
        self.close();
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// False while an *answer* event waits for [`Server::accept`] or
    /// [`Server::reject`] (pipelined commands wait in the caller's buffer),
    /// during the TLS handshake after STARTTLS, and once closed.
    fn wants_input(&self) -> bool {
        self.awaiting.is_none() && !matches!(self.state, State::Closed | State::WaitTls)
    }

    fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }
}
