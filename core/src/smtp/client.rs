//! The SMTP client dialogue. See the [module docs](super) for the state graph.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::address::{validate_forward_path, validate_mailbox, AddressError};
use super::auth::{self, Credentials, Mechanism};
use super::dot::BodyEncoder;
use super::extensions::Extensions;
use super::reply::{Reply, ReplyError, ReplyLimits, ReplyParser};
use crate::Dialogue;

/// When to use STARTTLS (RFC 3207).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Upgrade, or fail the session when the server cannot.
    Required,
    /// Upgrade when the server offers STARTTLS; go on in plaintext when it
    /// does not offer it or refuses the command.
    Opportunistic,
    /// Never send STARTTLS.
    None,
}

/// How a connection is protected: what the adapter does before the
/// dialogue starts, and what the dialogue does about STARTTLS. Set with
/// [`ClientConfig::set_security`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Security {
    /// Implicit TLS ("SMTPS", RFC 8314, port 465): the adapter completes
    /// the TLS handshake first; the dialogue starts with the greeting inside
    /// TLS and never sends STARTTLS.
    Tls,
    /// STARTTLS (RFC 3207) on a plaintext connection (ports 587 and 25).
    StartTls(StartTls),
    /// Plaintext only; STARTTLS is never sent.
    None,
}

/// Whether STARTTLS must succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    /// Fail the session ([`ClientError::TlsUnavailable`],
    /// [`ClientError::StartTlsRefused`]) when the server cannot upgrade.
    Required,
    /// Upgrade when offered, go on in plaintext otherwise.
    Opportunistic,
}

/// Per-command reply timeouts (RFC 5321 §4.5.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// Initial 220 greeting (5 min).
    pub greeting: Duration,
    /// EHLO, HELO, STARTTLS, AUTH, RSET, QUIT (5 min).
    pub command: Duration,
    /// MAIL (5 min).
    pub mail: Duration,
    /// Each RCPT (5 min).
    pub rcpt: Duration,
    /// The 354 after DATA (2 min).
    pub data_init: Duration,
    /// The reply to each non-last BDAT chunk (3 min).
    pub data_block: Duration,
    /// The reply after the final `.` or the last BDAT chunk (10 min).
    pub data_termination: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        ClientTimeouts {
            greeting: min(5),
            command: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_termination: min(10),
        }
    }
}

/// Client configuration. Build with [`ClientConfig::new`] and adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name sent in EHLO/HELO (a domain or address literal). A name
    /// with other characters (spaces, CR, LF...) is replaced by `[127.0.0.1]`.
    pub hello_name: String,
    /// STARTTLS policy. Default [`TlsPolicy::Opportunistic`].
    pub tls: TlsPolicy,
    /// The transport is already encrypted (implicit TLS, "SMTPS", port 465):
    /// no STARTTLS is attempted and AUTH may send secrets.
    pub transport_secure: bool,
    /// Credentials for AUTH; `None` skips AUTH.
    pub credentials: Option<Credentials>,
    /// Force one mechanism instead of the strongest common one.
    pub mechanism: Option<Mechanism>,
    /// Allow mechanisms that send the secret (PLAIN, LOGIN, XOAUTH2) over an
    /// unencrypted transport. Default false.
    pub allow_insecure_auth: bool,
    /// Batch commands when the server offers PIPELINING. Default true.
    pub use_pipelining: bool,
    /// Use BDAT when the server offers CHUNKING. Default true.
    pub use_chunking: bool,
    /// Give up the transaction (RSET) when any recipient is refused, instead
    /// of delivering to the accepted ones. Default false.
    pub all_recipients_required: bool,
    /// Reply timeouts.
    pub timeouts: ClientTimeouts,
    /// Reply parser limits.
    pub reply_limits: ReplyLimits,
}

impl ClientConfig {
    /// A configuration with safe defaults.
    pub fn new(hello_name: impl Into<String>) -> Self {
        ClientConfig {
            hello_name: hello_name.into(),
            tls: TlsPolicy::Opportunistic,
            transport_secure: false,
            credentials: None,
            mechanism: None,
            allow_insecure_auth: false,
            use_pipelining: true,
            use_chunking: true,
            all_recipients_required: false,
            timeouts: ClientTimeouts::default(),
            reply_limits: ReplyLimits::default(),
        }
    }
}

impl ClientConfig {
    /// Sets [`tls`](ClientConfig::tls) and
    /// [`transport_secure`](ClientConfig::transport_secure) together.
    pub fn set_security(&mut self, security: Security) {
        let (policy, secure) = match security {
            Security::Tls => (TlsPolicy::None, true),
            Security::StartTls(StartTls::Required) => (TlsPolicy::Required, false),
            Security::StartTls(StartTls::Opportunistic) => (TlsPolicy::Opportunistic, false),
            Security::None => (TlsPolicy::None, false),
        };
        self.tls = policy;
        self.transport_secure = secure;
    }

    /// The protection these settings describe. [`Security::Tls`] tells the
    /// adapter to complete a TLS handshake before the dialogue starts.
    pub fn security(&self) -> Security {
        match (self.transport_secure, self.tls) {
            (true, _) => Security::Tls,
            (false, TlsPolicy::Required) => Security::StartTls(StartTls::Required),
            (false, TlsPolicy::Opportunistic) => Security::StartTls(StartTls::Opportunistic),
            (false, TlsPolicy::None) => Security::None,
        }
    }
}

/// The envelope of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Reverse path; `None` is the null sender `<>` (bounces).
    pub from: Option<String>,
    /// Forward paths, at least one.
    pub to: Vec<String>,
}

impl Envelope {
    /// An envelope from `from` to `to`.
    pub fn new(from: impl Into<String>, to: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Envelope {
            from: Some(from.into()),
            to: to.into_iter().map(Into::into).collect(),
        }
    }
}

/// What the client must know about a message before sending MAIL FROM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageInfo {
    /// Size estimate for the SIZE parameter.
    pub size: Option<u64>,
    /// The message contains octets above 127 (needs BODY=8BITMIME).
    pub eight_bit: bool,
}

impl MessageInfo {
    /// Scans a whole message. The size is that of the message after line
    /// endings are normalised to CRLF (what the server will count).
    pub fn of(body: &[u8]) -> Self {
        let mut size = body.len() as u64;
        let mut i = 0;
        while let Some(off) = memchr::memchr2(b'\r', b'\n', &body[i..]) {
            let at = i + off;
            if body[at] == b'\r' && body.get(at + 1) == Some(&b'\n') {
                i = at + 2;
            } else {
                size += 1;
                i = at + 1;
            }
        }
        if !body.is_empty() && !matches!(body.last(), Some(b'\r' | b'\n')) {
            size += 2;
        }
        MessageInfo {
            size: Some(size),
            eight_bit: !body.is_ascii(),
        }
    }
}

/// The step a reply or failure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The 220 greeting.
    Greeting,
    /// EHLO or HELO.
    Hello,
    /// STARTTLS.
    StartTls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (waiting for 354).
    Data,
    /// After the final `.`.
    DataEnd,
    /// A BDAT chunk.
    Bdat,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
}

/// The answer to one RCPT TO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// Index in [`Envelope::to`].
    pub index: usize,
    /// The address.
    pub address: String,
    /// The server's reply.
    pub reply: Reply,
}

impl RecipientResult {
    /// The server accepted this recipient (2xx).
    pub fn accepted(&self) -> bool {
        self.reply.is_positive()
    }
}

/// A message the server took responsibility for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The reply to the end of data.
    pub reply: Reply,
    /// Every recipient's result; some may have been refused, the caller
    /// decides whether partial acceptance counts as success.
    pub recipients: Vec<RecipientResult>,
}

/// A message the server did not take. The session stays usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionFailure {
    /// Where it failed.
    pub stage: Stage,
    /// The refusing reply (`None` when every recipient was refused, or one
    /// was and [`ClientConfig::all_recipients_required`] is set).
    pub reply: Option<Reply>,
    /// Recipient results received so far.
    pub recipients: Vec<RecipientResult>,
}

/// What the client dialogue reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's 220 greeting.
    Greeting(Reply),
    /// The EHLO (or HELO) answer, parsed.
    Capabilities(Extensions),
    /// STARTTLS was accepted: flush `poll_transmit`, start the TLS handshake
    /// on the transport now, then call
    /// [`Client::handle_tls_established`]. Plaintext received after the
    /// 220 was discarded.
    StartTls,
    /// AUTH succeeded.
    Authenticated(Mechanism),
    /// The session is idle: [`Client::start_message`] or [`Client::quit`].
    Ready,
    /// One RCPT TO was answered.
    Recipient(RecipientResult),
    /// A message was accepted.
    MessageSent(Delivery),
    /// A message was refused; the client resets the transaction.
    MessageFailed(TransactionFailure),
    /// The answer to [`Client::noop`].
    NoopReply(Reply),
    /// The session failed; the client sends QUIT when it still can.
    Failed(ClientError),
    /// The session is over; close the transport.
    Closed,
}

/// An SMTP session failure of the [`Client`] dialogue (the server refused
/// something essential or broke the protocol). Sticky. (SMTP only: the
/// HTTP clients report their own errors, `HttpError` in `wireloom-io` and
/// the blocking agent's `client::ClientError`; the adapters' SMTP clients
/// wrap this one in their `smtp::Error`.)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A reply could not be parsed (remote protocol error).
    Reply(ReplyError),
    /// A reply arrived when no command was outstanding (remote protocol error).
    UnexpectedReply(Reply),
    /// The server sent 421 (service not available, closing the channel).
    ServiceClosing(Reply),
    /// The server refused the greeting or EHLO/HELO.
    Rejected {
        /// Where.
        stage: Stage,
        /// The reply.
        reply: Reply,
    },
    /// TLS is required but the server does not offer STARTTLS.
    TlsUnavailable,
    /// TLS is required but the server refused STARTTLS.
    StartTlsRefused(Reply),
    /// No AUTH mechanism both sides support (or only ones that would send the
    /// secret in plaintext).
    AuthUnavailable,
    /// The server refused the credentials.
    AuthFailed(Reply),
    /// A reply did not arrive in time.
    Timeout(Stage),
    /// The connection closed before QUIT.
    ConnectionClosed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Reply(e) => write!(f, "malformed reply: {e}"),
            ClientError::UnexpectedReply(r) => write!(f, "unexpected reply: {r}"),
            ClientError::ServiceClosing(r) => write!(f, "server closing: {r}"),
            ClientError::Rejected { stage, reply } => write!(f, "{stage:?} refused: {reply}"),
            ClientError::TlsUnavailable => f.write_str("TLS required but STARTTLS not offered"),
            ClientError::StartTlsRefused(r) => write!(f, "STARTTLS refused: {r}"),
            ClientError::AuthUnavailable => f.write_str("no usable AUTH mechanism"),
            ClientError::AuthFailed(r) => write!(f, "authentication failed: {r}"),
            ClientError::Timeout(s) => write!(f, "timed out waiting for the {s:?} reply"),
            ClientError::ConnectionClosed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Misuse of the client API (a local error; nothing was sent).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The session is not idle (setup, another message, or closed).
    NotReady,
    /// No message body is open.
    NoMessageInProgress,
    /// The envelope has no recipients.
    NoRecipients,
    /// An envelope address is invalid.
    InvalidAddress {
        /// The address.
        address: String,
        /// Why.
        error: AddressError,
    },
    /// The message needs an extension the server does not offer
    /// (`"8BITMIME"` or `"SMTPUTF8"`).
    NeedsExtension(&'static str),
    /// The declared size exceeds the server's SIZE limit.
    MessageTooLarge {
        /// Declared size.
        size: u64,
        /// Server limit.
        limit: u64,
    },
    /// An 8-bit octet in a body declared 7-bit. Fatal: the session is
    /// closed without ending the data, so the server discards the message.
    UndeclaredEightBit,
    /// `handle_tls_established` without a pending STARTTLS.
    NoTlsPending,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotReady => f.write_str("session not ready"),
            UsageError::NoMessageInProgress => f.write_str("no message in progress"),
            UsageError::NoRecipients => f.write_str("no recipients"),
            UsageError::InvalidAddress { address, error } => write!(f, "{address:?}: {error}"),
            UsageError::NeedsExtension(e) => write!(f, "message needs {e}, which the server lacks"),
            UsageError::MessageTooLarge { size, limit } => {
                write!(
                    f,
                    "message of {size} octets exceeds the server limit of {limit}"
                )
            }
            UsageError::UndeclaredEightBit => f.write_str("8-bit data in a message declared 7-bit"),
            UsageError::NoTlsPending => f.write_str("no STARTTLS pending"),
        }
    }
}

impl std::error::Error for UsageError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStep {
    Final,
    XOAuth2,
    LoginUser,
    LoginPass,
    Cram,
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth(Mechanism, AuthStep),
    Mail,
    Rcpt(usize),
    Data,
    DataEnd,
    Bdat { last: bool },
    Rset,
    Noop,
    Quit,
}

impl Expect {
    fn stage(self) -> Stage {
        match self {
            Expect::Greeting => Stage::Greeting,
            Expect::Ehlo | Expect::Helo => Stage::Hello,
            Expect::StartTls => Stage::StartTls,
            Expect::Auth(..) => Stage::Auth,
            Expect::Mail => Stage::Mail,
            Expect::Rcpt(_) => Stage::Rcpt,
            Expect::Data => Stage::Data,
            Expect::DataEnd => Stage::DataEnd,
            Expect::Bdat { .. } => Stage::Bdat,
            Expect::Rset => Stage::Rset,
            Expect::Noop => Stage::Noop,
            Expect::Quit => Stage::Quit,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Setup,
    TlsHandshake,
    Idle,
    Transaction,
    /// RSET or NOOP outstanding.
    Waiting,
    Quitting,
    Closed,
}

#[derive(Debug)]
struct Txn {
    envelope: Envelope,
    info: MessageInfo,
    bdat: bool,
    pipelined: bool,
    results: Vec<RecipientResult>,
    failed: Option<(Stage, Option<Reply>)>,
    data_sent: bool,
    body_open: bool,
    encoder: BodyEncoder,
    queue: VecDeque<Bytes>,
    caller_open: bool,
    finish_sent: bool,
    bdat_inflight: usize,
}

/// The SMTP client dialogue (RFC 5321, 3207, 4954, 2920, 3030, 1870, 6152,
/// 6531). Implements [`Dialogue`]; see the [module docs](super).
///
/// # Contract
///
/// - Feed every byte read from the server to
///   [`handle_input`](Dialogue::handle_input) (it consumes all of it), end of
///   stream to [`handle_eof`](Dialogue::handle_eof), and call
///   [`handle_timeout`](Dialogue::handle_timeout) once
///   [`poll_timeout`](Dialogue::poll_timeout) has passed.
/// - After each `handle_*` call and each application call
///   ([`start_message`](Client::start_message), [`send_body`](Client::send_body),
///   [`finish_body`](Client::finish_body), [`quit`](Client::quit),
///   [`handle_tls_established`](Client::handle_tls_established)), write out
///   every [`poll_transmit`](Dialogue::poll_transmit) and drain
///   [`poll_event`](Dialogue::poll_event).
/// - Messages are sent when [`ClientEvent::Ready`] says the session is idle;
///   the outcome is [`ClientEvent::MessageSent`] or
///   [`ClientEvent::MessageFailed`], after which `Ready` comes again.
/// - Every session failure arrives once, as [`ClientEvent::Failed`] (the
///   dialogue's one error channel; [`Client::error`] keeps it): a
///   malformed or unexpected reply ends the session at once; other
///   failures are followed by QUIT when the server can still hear it.
///   Either way [`ClientEvent::Closed`] comes last.
/// - Nothing on the wire ever holds a bare CR or LF, and no envelope
///   address or EHLO name can inject a command.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    phase: Phase,
    secure: bool,
    ext: Extensions,
    parser: ReplyParser,
    pending: VecDeque<Expect>,
    deadline: Option<Instant>,
    txn: Option<Txn>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
    error: Option<ClientError>,
    /// The caller is still streaming the body of a message that failed.
    discarding_body: bool,
    /// The (stage, code) of each reply, while [`Client::record_replies`]
    /// is on; at most [`REPLY_RECORD`] kept (the oldest dropped).
    replies: Option<VecDeque<(Stage, u16)>>,
}

/// How many replies [`Client::record_replies`] keeps undrained.
pub const REPLY_RECORD: usize = 64;

impl Client {
    /// A client on a fresh connection; it waits for the greeting (the
    /// greeting timer starts at `now`).
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let secure = config.transport_secure;
        let mut c = Client {
            parser: ReplyParser::new(config.reply_limits.clone()),
            config,
            phase: Phase::Setup,
            secure,
            ext: Extensions::default(),
            pending: VecDeque::new(),
            deadline: None,
            txn: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            discarding_body: false,
            replies: None,
        };
        c.pending.push_back(Expect::Greeting);
        c.rearm(now);
        c
    }

    /// Turns the reply record on or off (off by default). While on, the
    /// stage and code of every reply to a command are kept for
    /// [`poll_reply_record`](Client::poll_reply_record) (for logs: only
    /// the command's stage and the reply code, never its text, so no
    /// credentials or message data). Not drained, it keeps the last
    /// [`REPLY_RECORD`].
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::BytesMut;
    /// use wireloom_core::smtp::client::{Client, ClientConfig, Stage};
    /// use wireloom_core::Dialogue;
    ///
    /// let mut c = Client::new(ClientConfig::new("client.example"), Instant::now());
    /// c.record_replies(true);
    /// c.handle_input(Instant::now(), &mut BytesMut::from(&b"220 mx ready\r\n"[..]));
    /// assert_eq!(c.poll_reply_record(), Some((Stage::Greeting, 220)));
    /// assert_eq!(c.poll_reply_record(), None);
    /// ```
    pub fn record_replies(&mut self, on: bool) {
        self.replies = on.then(VecDeque::new);
    }

    /// The next recorded reply: the stage of the command it answers and
    /// its code (see [`record_replies`](Client::record_replies)).
    pub fn poll_reply_record(&mut self) -> Option<(Stage, u16)> {
        self.replies.as_mut()?.pop_front()
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The capabilities from the last EHLO/HELO.
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// True when the transport is encrypted (STARTTLS done or implicit TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// True when the session is idle and a message can be started.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Idle && self.txn.is_none()
    }

    /// True when the server is ready for message data (after 354, or once
    /// the recipients are in for BDAT): chunks given to
    /// [`send_body`](Client::send_body) go out at once instead of queueing.
    /// Streaming callers can wait for this before producing more.
    pub fn wants_body(&self) -> bool {
        self.txn
            .as_ref()
            .is_some_and(|t| t.caller_open && t.body_open && t.failed.is_none())
    }

    /// Octets of body handed to [`send_body`](Client::send_body) and not
    /// yet encoded for the wire (queued while the server is not ready).
    pub fn queued_body_len(&self) -> usize {
        self.txn
            .as_ref()
            .map_or(0, |t| t.queue.iter().map(Bytes::len).sum())
    }

    /// The sticky session error, if any.
    pub fn error(&self) -> Option<&ClientError> {
        self.error.as_ref()
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] completed; the
    /// client sends EHLO again over the secure transport.
    pub fn handle_tls_established(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.phase != Phase::TlsHandshake {
            return Err(UsageError::NoTlsPending);
        }
        self.secure = true;
        self.ext = Extensions::default();
        self.phase = Phase::Setup;
        self.send_ehlo(now);
        Ok(())
    }

    /// Starts a message: validates the envelope against the server's
    /// capabilities and sends MAIL FROM (and, with PIPELINING, the RCPTs and
    /// DATA in the same batch). Then hand the body with
    /// [`send_body`](Client::send_body) and [`finish_body`](Client::finish_body);
    /// chunks are queued until the server is ready for data.
    pub fn start_message(
        &mut self,
        now: Instant,
        envelope: Envelope,
        info: MessageInfo,
    ) -> Result<(), UsageError> {
        if !self.is_ready() {
            return Err(UsageError::NotReady);
        }
        if envelope.to.is_empty() {
            return Err(UsageError::NoRecipients);
        }
        self.discarding_body = false;
        let addrs = envelope.from.iter().chain(envelope.to.iter());
        let utf8 = addrs.clone().any(|a| !a.is_ascii());
        let invalid = |address: &String, error| UsageError::InvalidAddress {
            address: address.clone(),
            error,
        };
        // Syntax first (CR/LF/<> are refused before anything else).
        if let Some(from) = &envelope.from {
            validate_mailbox(from, true).map_err(|e| invalid(from, e))?;
        }
        for to in &envelope.to {
            validate_forward_path(to, true).map_err(|e| invalid(to, e))?;
        }
        if utf8 && !self.ext.smtputf8 {
            return Err(UsageError::NeedsExtension("SMTPUTF8"));
        }
        if info.eight_bit && !self.ext.eight_bit_mime {
            return Err(UsageError::NeedsExtension("8BITMIME"));
        }
        if let (Some(Some(limit)), Some(size)) = (self.ext.size, info.size) {
            if size > limit {
                return Err(UsageError::MessageTooLarge { size, limit });
            }
        }
        let mut mail = format!("MAIL FROM:<{}>", envelope.from.as_deref().unwrap_or(""));
        if let (Some(_), Some(size)) = (self.ext.size, info.size) {
            mail.push_str(&format!(" SIZE={size}"));
        }
        if info.eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let bdat = self.config.use_chunking && self.ext.chunking;
        let pipelined = self.config.use_pipelining && self.ext.pipelining;
        let mut out = mail.into_bytes();
        self.pending.push_back(Expect::Mail);
        let mut data_sent = false;
        if pipelined {
            for (i, to) in envelope.to.iter().enumerate() {
                out.extend_from_slice(format!("RCPT TO:<{to}>\r\n").as_bytes());
                self.pending.push_back(Expect::Rcpt(i));
            }
            if !bdat && !self.config.all_recipients_required {
                out.extend_from_slice(b"DATA\r\n");
                self.pending.push_back(Expect::Data);
                data_sent = true;
            }
        }
        self.transmit.push_back(out.into());
        self.phase = Phase::Transaction;
        self.txn = Some(Txn {
            envelope,
            info,
            bdat,
            pipelined,
            results: Vec::new(),
            failed: None,
            data_sent,
            body_open: false,
            encoder: BodyEncoder::new(!bdat),
            queue: VecDeque::new(),
            caller_open: true,
            finish_sent: false,
            bdat_inflight: 0,
        });
        self.rearm_if_unarmed(now);
        Ok(())
    }

    /// Hands the next piece of the message body (any chunking; line endings
    /// are normalised and dots stuffed across chunk boundaries).
    ///
    /// After [`ClientEvent::MessageFailed`] for this message, further chunks
    /// and the final `finish_body` are accepted and dropped.
    pub fn send_body(&mut self, now: Instant, chunk: Bytes) -> Result<(), UsageError> {
        if self.discarding_body {
            return Ok(());
        }
        let Some(txn) = self.txn.as_mut().filter(|t| t.caller_open) else {
            return Err(UsageError::NoMessageInProgress);
        };
        if !txn.info.eight_bit && !chunk.is_ascii() {
            self.fail_local();
            return Err(UsageError::UndeclaredEightBit);
        }
        if txn.failed.is_none() {
            txn.queue.push_back(chunk);
            self.pump_body(now);
        }
        Ok(())
    }

    /// Ends the message body.
    pub fn finish_body(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.discarding_body {
            self.discarding_body = false;
            return Ok(());
        }
        let Some(txn) = self.txn.as_mut().filter(|t| t.caller_open) else {
            return Err(UsageError::NoMessageInProgress);
        };
        txn.caller_open = false;
        self.pump_body(now);
        self.maybe_finish_failed(now);
        Ok(())
    }

    /// [`start_message`](Client::start_message) + [`send_body`](Client::send_body)
    /// + [`finish_body`](Client::finish_body) for a whole message.
    pub fn send_message(
        &mut self,
        now: Instant,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<(), UsageError> {
        self.start_message(now, envelope, MessageInfo::of(&message))?;
        self.send_body(now, message)?;
        self.finish_body(now)
    }

    /// Sends NOOP (only when idle), e.g. to check a pooled connection;
    /// [`ClientEvent::NoopReply`] and [`ClientEvent::Ready`] follow.
    pub fn noop(&mut self, now: Instant) -> Result<(), UsageError> {
        if !self.is_ready() {
            return Err(UsageError::NotReady);
        }
        self.phase = Phase::Waiting;
        self.send(now, "NOOP\r\n".into(), Expect::Noop);
        Ok(())
    }

    /// Sends QUIT (only when idle); [`ClientEvent::Closed`] follows the 221.
    pub fn quit(&mut self, now: Instant) -> Result<(), UsageError> {
        if !self.is_ready() {
            return Err(UsageError::NotReady);
        }
        self.send_quit(now);
        Ok(())
    }

    /// Abandons the session at once, e.g. because the source of a streamed
    /// body failed: unsent output is dropped, no QUIT is sent, and
    /// [`ClientEvent::Closed`] follows. The caller closes the transport
    /// without ending the data, so the server discards the message. Does
    /// nothing once the session is closed.
    pub fn abort(&mut self) {
        if self.phase != Phase::Closed {
            self.fail_local();
        }
    }

    /// Abandons the session at once (no QUIT, unsent output dropped): the
    /// server sees the connection close mid-message and discards it.
    fn fail_local(&mut self) {
        self.transmit.clear();
        self.phase = Phase::Closed;
        self.pending.clear();
        self.deadline = None;
        self.txn = None;
        self.events.push_back(ClientEvent::Closed);
    }

    fn send(&mut self, now: Instant, line: String, expect: Expect) {
        self.transmit.push_back(Bytes::from(line.into_bytes()));
        self.pending.push_back(expect);
        self.rearm_if_unarmed(now);
    }

    /// The EHLO/HELO argument: `hello_name` when it is a plain domain or
    /// address literal, else `[127.0.0.1]` (never CR, LF or spaces).
    fn hello_name(&self) -> String {
        let name = &self.config.hello_name;
        let ok = !name.is_empty()
            && name.len() <= 255
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if ok {
            name.clone()
        } else {
            "[127.0.0.1]".into()
        }
    }

    fn send_ehlo(&mut self, now: Instant) {
        let line = format!("EHLO {}\r\n", self.hello_name());
        self.send(now, line, Expect::Ehlo);
    }

    fn send_quit(&mut self, now: Instant) {
        self.phase = Phase::Quitting;
        self.send(now, "QUIT\r\n".into(), Expect::Quit);
    }

    fn timeout_for(&self, e: Expect) -> Duration {
        let t = &self.config.timeouts;
        match e {
            Expect::Greeting => t.greeting,
            Expect::Mail => t.mail,
            Expect::Rcpt(_) => t.rcpt,
            Expect::Data => t.data_init,
            Expect::Bdat { last: false } => t.data_block,
            Expect::Bdat { last: true } | Expect::DataEnd => t.data_termination,
            _ => t.command,
        }
    }

    fn rearm(&mut self, now: Instant) {
        self.deadline = self.pending.front().map(|&e| now + self.timeout_for(e));
    }

    fn rearm_if_unarmed(&mut self, now: Instant) {
        if self.deadline.is_none() {
            self.rearm(now);
        }
    }

    /// A fatal session failure: report it, then QUIT if the server is still
    /// listening.
    /// Records a session failure: the first one is sticky and reported
    /// once ([`ClientEvent::Failed`]); a later one (the QUIT sent after a
    /// failure timing out, or answered with garbage) only ends the session.
    fn record_failure(&mut self, err: ClientError) {
        if self.error.is_none() {
            self.events.push_back(ClientEvent::Failed(err.clone()));
            self.error = Some(err);
        }
    }

    fn fail(&mut self, now: Instant, err: ClientError, can_quit: bool) {
        self.record_failure(err);
        self.txn = None;
        self.pending.clear();
        self.deadline = None;
        if can_quit {
            self.send_quit(now);
        } else {
            self.phase = Phase::Closed;
            self.events.push_back(ClientEvent::Closed);
        }
    }

    fn ready(&mut self) {
        self.phase = Phase::Idle;
        self.events.push_back(ClientEvent::Ready);
    }

    fn after_hello(&mut self, now: Instant) {
        if !self.secure && self.config.tls != TlsPolicy::None && self.ext.starttls {
            self.send(now, "STARTTLS\r\n".into(), Expect::StartTls);
        } else if !self.secure && self.config.tls == TlsPolicy::Required {
            self.fail(now, ClientError::TlsUnavailable, true);
        } else {
            self.auth_or_ready(now);
        }
    }

    fn auth_or_ready(&mut self, now: Instant) {
        let Some(creds) = self.config.credentials.clone() else {
            self.ready();
            return;
        };
        let usable = |m: Mechanism| {
            self.ext.auth.contains(&m)
                && creds.mechanisms().contains(&m)
                && (self.secure || self.config.allow_insecure_auth || !m.sends_secret())
        };
        let mech = match self.config.mechanism {
            Some(m) => Some(m).filter(|&m| usable(m)),
            None => creds.mechanisms().iter().copied().find(|&m| usable(m)),
        };
        let Some(mech) = mech else {
            self.fail(now, ClientError::AuthUnavailable, true);
            return;
        };
        let (line, step) = match mech {
            Mechanism::Plain => (
                format!("AUTH PLAIN {}\r\n", auth::plain_response(&creds)),
                AuthStep::Final,
            ),
            Mechanism::XOAuth2 => (
                format!("AUTH XOAUTH2 {}\r\n", auth::xoauth2_response(&creds)),
                AuthStep::XOAuth2,
            ),
            Mechanism::Login => ("AUTH LOGIN\r\n".into(), AuthStep::LoginUser),
            Mechanism::CramMd5 => ("AUTH CRAM-MD5\r\n".into(), AuthStep::Cram),
        };
        self.send(now, line, Expect::Auth(mech, step));
    }

    fn on_auth(&mut self, now: Instant, mech: Mechanism, step: AuthStep, reply: Reply) {
        let Some(creds) = self.config.credentials.clone() else {
            return;
        };
        if reply.code == 235 && step != AuthStep::Cancelled {
            self.events.push_back(ClientEvent::Authenticated(mech));
            self.ready();
            return;
        }
        if reply.code != 334 || step == AuthStep::Cancelled {
            self.fail(now, ClientError::AuthFailed(reply), true);
            return;
        }
        let (user, secret) = match &creds {
            Credentials::Password { user, password } => (user.as_str(), password.as_str()),
            Credentials::OAuth2 { user, token } => (user.as_str(), token.as_str()),
        };
        let (line, next) = match step {
            AuthStep::LoginUser => (format!("{}\r\n", auth::b64(user)), AuthStep::LoginPass),
            AuthStep::LoginPass => (format!("{}\r\n", auth::b64(secret)), AuthStep::Final),
            AuthStep::Cram => match auth::cram_md5_response(
                &creds,
                reply.lines.first().map(String::as_str).unwrap_or(""),
            ) {
                Some(r) => (format!("{r}\r\n"), AuthStep::Final),
                None => ("*\r\n".into(), AuthStep::Cancelled),
            },
            // XOAUTH2 error challenge: acknowledge with an empty line, the
            // server then sends the final 5xx.
            AuthStep::XOAuth2 => ("\r\n".into(), AuthStep::Cancelled),
            AuthStep::Final | AuthStep::Cancelled => ("*\r\n".into(), AuthStep::Cancelled),
        };
        self.send(now, line, Expect::Auth(mech, next));
    }

    fn on_reply(&mut self, now: Instant, reply: Reply) -> Result<(), ClientError> {
        let Some(expect) = self.pending.pop_front() else {
            // RFC 5321 §3.8: a server may send 421 at any time and close.
            if reply.code == 421 {
                self.fail(now, ClientError::ServiceClosing(reply), false);
                return Ok(());
            }
            return Err(ClientError::UnexpectedReply(reply));
        };
        self.deadline = None;
        self.rearm(now);
        if let Some(log) = &mut self.replies {
            if log.len() == REPLY_RECORD {
                log.pop_front();
            }
            log.push_back((expect.stage(), reply.code));
        }
        // 421: the server is closing the channel, whatever we asked.
        if reply.code == 421 && expect != Expect::Quit {
            self.fail(now, ClientError::ServiceClosing(reply), false);
            return Ok(());
        }
        match expect {
            Expect::Greeting => {
                if reply.code == 220 {
                    self.events.push_back(ClientEvent::Greeting(reply));
                    self.send_ehlo(now);
                } else {
                    self.fail(
                        now,
                        ClientError::Rejected {
                            stage: Stage::Greeting,
                            reply,
                        },
                        true,
                    );
                }
            }
            Expect::Ehlo => {
                if reply.is_positive() {
                    self.ext = Extensions::from_ehlo(&reply);
                    self.events
                        .push_back(ClientEvent::Capabilities(self.ext.clone()));
                    self.after_hello(now);
                } else if reply.is_permanent() {
                    let line = format!("HELO {}\r\n", self.hello_name());
                    self.send(now, line, Expect::Helo);
                } else {
                    self.fail(
                        now,
                        ClientError::Rejected {
                            stage: Stage::Hello,
                            reply,
                        },
                        true,
                    );
                }
            }
            Expect::Helo => {
                if reply.is_positive() {
                    self.ext = Extensions {
                        domain: reply.lines[0].split(' ').next().unwrap_or("").to_string(),
                        ..Extensions::default()
                    };
                    self.events
                        .push_back(ClientEvent::Capabilities(self.ext.clone()));
                    self.after_hello(now);
                } else {
                    self.fail(
                        now,
                        ClientError::Rejected {
                            stage: Stage::Hello,
                            reply,
                        },
                        true,
                    );
                }
            }
            Expect::StartTls => {
                if reply.code == 220 {
                    self.phase = Phase::TlsHandshake;
                    self.events.push_back(ClientEvent::StartTls);
                } else if self.config.tls == TlsPolicy::Required {
                    self.fail(now, ClientError::StartTlsRefused(reply), true);
                } else {
                    self.auth_or_ready(now);
                }
            }
            Expect::Auth(mech, step) => self.on_auth(now, mech, step, reply),
            Expect::Rset => {
                // Whatever the answer, the transaction state is gone.
                self.ready();
            }
            Expect::Noop => {
                self.events.push_back(ClientEvent::NoopReply(reply));
                self.ready();
            }
            Expect::Quit => {
                self.phase = Phase::Closed;
                self.deadline = None;
                self.events.push_back(ClientEvent::Closed);
            }
            Expect::Mail
            | Expect::Rcpt(_)
            | Expect::Data
            | Expect::DataEnd
            | Expect::Bdat { .. } => {
                self.on_txn_reply(now, expect, reply);
            }
        }
        Ok(())
    }

    fn on_txn_reply(&mut self, now: Instant, expect: Expect, reply: Reply) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let n = txn.envelope.to.len();
        match expect {
            Expect::Mail => {
                if !reply.is_positive() {
                    txn.failed = Some((Stage::Mail, Some(reply)));
                } else if !txn.pipelined {
                    let line = format!("RCPT TO:<{}>\r\n", txn.envelope.to[0]);
                    self.send(now, line, Expect::Rcpt(0));
                }
            }
            Expect::Rcpt(i) => {
                if txn.failed.is_none() {
                    let r = RecipientResult {
                        index: i,
                        address: txn.envelope.to[i].clone(),
                        reply,
                    };
                    txn.results.push(r.clone());
                    self.events.push_back(ClientEvent::Recipient(r));
                }
                let txn = self.txn.as_mut().expect("checked above");
                if txn.failed.is_none() {
                    if i + 1 < n {
                        if !txn.pipelined {
                            let line = format!("RCPT TO:<{}>\r\n", txn.envelope.to[i + 1]);
                            self.send(now, line, Expect::Rcpt(i + 1));
                        }
                    } else {
                        let accepted = txn.results.iter().filter(|r| r.accepted()).count();
                        if accepted == 0 || (self.config.all_recipients_required && accepted < n) {
                            txn.failed = Some((Stage::Rcpt, None));
                        } else if txn.bdat {
                            txn.body_open = true;
                            self.pump_body(now);
                        } else if !txn.data_sent {
                            txn.data_sent = true;
                            self.send(now, "DATA\r\n".into(), Expect::Data);
                        }
                    }
                }
            }
            Expect::Data => {
                if reply.code == 354 {
                    if txn.failed.is_some() {
                        // RFC 2920 §3.1: DATA accepted although no recipient
                        // was: send an empty message terminator.
                        self.send(now, ".\r\n".into(), Expect::DataEnd);
                    } else {
                        txn.body_open = true;
                        self.pump_body(now);
                    }
                } else if txn.failed.is_none() {
                    txn.failed = Some((Stage::Data, Some(reply)));
                }
            }
            Expect::DataEnd if txn.failed.is_none() => {
                if reply.is_positive() {
                    self.complete_ok(reply);
                    return;
                }
                txn.failed = Some((Stage::DataEnd, Some(reply)));
            }
            Expect::Bdat { last } => {
                txn.bdat_inflight = txn.bdat_inflight.saturating_sub(1);
                if txn.failed.is_none() {
                    if !reply.is_positive() {
                        txn.failed = Some((Stage::Bdat, Some(reply)));
                    } else if last {
                        self.complete_ok(reply);
                        return;
                    } else {
                        self.pump_body(now);
                    }
                }
            }
            _ => {}
        }
        self.maybe_finish_failed(now);
    }

    fn complete_ok(&mut self, reply: Reply) {
        if let Some(txn) = self.txn.take() {
            self.events.push_back(ClientEvent::MessageSent(Delivery {
                reply,
                recipients: txn.results,
            }));
        }
        self.ready();
    }

    /// A failed transaction ends once every outstanding reply is in: report
    /// it and RSET.
    fn maybe_finish_failed(&mut self, now: Instant) {
        let Some(txn) = self.txn.as_ref() else { return };
        if txn.failed.is_none() || !self.pending.is_empty() || self.phase != Phase::Transaction {
            return;
        }
        let txn = self.txn.take().expect("checked");
        self.discarding_body = txn.caller_open;
        let (stage, reply) = txn.failed.expect("checked");
        self.events
            .push_back(ClientEvent::MessageFailed(TransactionFailure {
                stage,
                reply,
                recipients: txn.results,
            }));
        self.phase = Phase::Waiting;
        self.send(now, "RSET\r\n".into(), Expect::Rset);
    }

    fn pump_body(&mut self, now: Instant) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.body_open || txn.failed.is_some() || txn.finish_sent {
            return;
        }
        let mut sends: Vec<(Bytes, Expect)> = Vec::new();
        if !txn.bdat {
            let mut out = BytesMut::new();
            while let Some(chunk) = txn.queue.pop_front() {
                txn.encoder.encode(&chunk, &mut out);
            }
            if !txn.caller_open {
                txn.encoder.finish(&mut out);
                txn.finish_sent = true;
            }
            if !out.is_empty() {
                self.transmit.push_back(out.freeze());
            }
            if txn.finish_sent {
                self.pending.push_back(Expect::DataEnd);
                self.rearm_if_unarmed(now);
            }
            return;
        }
        loop {
            if !txn.pipelined && txn.bdat_inflight > 0 {
                break;
            }
            if !txn.caller_open && txn.queue.len() <= 1 {
                // The final piece goes into the LAST chunk.
                let mut out = BytesMut::new();
                while let Some(chunk) = txn.queue.pop_front() {
                    txn.encoder.encode(&chunk, &mut out);
                }
                txn.encoder.finish(&mut out);
                let mut wire = BytesMut::from(format!("BDAT {} LAST\r\n", out.len()).as_bytes());
                wire.extend_from_slice(&out);
                sends.push((wire.freeze(), Expect::Bdat { last: true }));
                txn.finish_sent = true;
                txn.bdat_inflight += 1;
                break;
            }
            let Some(chunk) = txn.queue.pop_front() else {
                break;
            };
            let mut out = BytesMut::new();
            txn.encoder.encode(&chunk, &mut out);
            if out.is_empty() {
                continue;
            }
            let mut wire = BytesMut::from(format!("BDAT {}\r\n", out.len()).as_bytes());
            wire.extend_from_slice(&out);
            sends.push((wire.freeze(), Expect::Bdat { last: false }));
            txn.bdat_inflight += 1;
        }
        for (bytes, expect) in sends {
            self.transmit.push_back(bytes);
            self.pending.push_back(expect);
        }
        self.rearm_if_unarmed(now);
    }
}

impl Dialogue for Client {
    type Event = ClientEvent;

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) {
        loop {
            match self.phase {
                // Closed (a protocol error is sticky: nothing more is read).
                Phase::Closed => {
                    input.clear();
                    return;
                }
                // Plaintext after the STARTTLS 220 is never trusted.
                Phase::TlsHandshake => {
                    input.clear();
                    return;
                }
                _ => {}
            }
            let reply = match self.parser.parse(input) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => return self.protocol_error(ClientError::Reply(e)),
            };
            if let Err(e) = self.on_reply(now, reply) {
                return self.protocol_error(e);
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        match self.phase {
            Phase::Closed => {}
            Phase::Quitting => {
                self.phase = Phase::Closed;
                self.events.push_back(ClientEvent::Closed);
            }
            _ => {
                self.record_failure(ClientError::ConnectionClosed);
                self.phase = Phase::Closed;
                self.txn = None;
                self.events.push_back(ClientEvent::Closed);
            }
        }
        self.pending.clear();
        self.deadline = None;
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        let stage = self
            .pending
            .front()
            .map(|e| e.stage())
            .unwrap_or(Stage::Quit);
        self.fail(now, ClientError::Timeout(stage), false);
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// True until the session is over, except during the TLS handshake
    /// after STARTTLS (plaintext then is never trusted). Every reply is
    /// consumed as it arrives, so reading never piles up input.
    fn wants_input(&self) -> bool {
        !matches!(self.phase, Phase::Closed | Phase::TlsHandshake)
    }

    fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }
}

impl Client {
    /// A malformed or unexpected reply: reported once (the fuzz-found rule:
    /// a failure after a failure neither repeats [`ClientEvent::Failed`]
    /// nor replaces the sticky error), then [`ClientEvent::Closed`]; the
    /// session ends without QUIT and reads nothing more.
    fn protocol_error(&mut self, e: ClientError) {
        self.record_failure(e);
        self.events.push_back(ClientEvent::Closed);
        self.phase = Phase::Closed;
        self.pending.clear();
        self.deadline = None;
        self.txn = None;
    }
}
