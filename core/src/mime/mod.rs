//! MIME messages (RFC 5322, 2045-2049, 2047, 2231): compose an email and
//! render it as a stream of bounded chunks, ready for the SMTP client.
//!
//! | file | concern |
//! |------|---------|
//! | [`address`] | mailboxes, groups, display names, quoted local parts |
//! | [`header`] | injection guard, encoded-words, RFC 2231 parameters, folding, dates, media types |
//! | [`encoding`] | transfer-encoding choice, base64 lines, quoted-printable |
//! | [`part`] | the body tree ([`Part`], [`Body`]) |
//! | `message` | [`MessageBuilder`], [`Message`], the streaming [`Renderer`] |
//!
//! Nothing here reads a clock or a random source: the caller passes the
//! Date and, to generate a Message-ID, a host name and a random source.
//! Rendering is deterministic for a given input.
//!
//! # Message-ID
//!
//! RFC 5322 §3.6.4 says every message SHOULD have a Message-ID. Which one
//! the builder writes, first match wins:
//!
//! 1. one the caller set ([`MessageBuilder::message_id`] or
//!    [`MessageBuilder::generate_message_id`]), or none after
//!    [`MessageBuilder::no_message_id`] (the last of these three counts);
//! 2. the default made from caller randomness and a host name
//!    ([`MessageBuilder::message_id_from`], using [`generate_message_id`]);
//! 3. none: core has no random source of its own. The built message then
//!    [needs one](Message::needs_message_id), and
//!    [`Message::with_message_id_from`] adds it. The blocking adapter's
//!    `send_message` paths and the CLI `mail-render` do that by default
//!    with 128 bits from the OS random source and the machine's host name,
//!    so a message sent through them always carries one unless the caller
//!    opted out.
//!
//! Every caller-given header text (names, values, addresses, filenames,
//! IDs) is checked: a CR or LF is [`MimeError::HeaderInjection`], never
//! written. Header lines are folded at 78 columns; no line exceeds 998
//! octets (a header that cannot be folded to fit is
//! [`MimeError::LineTooLong`]); every line ends with CRLF.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use wireloom_core::mime::Message;
//!
//! let mut counter = 0u64;
//! let mut random = move || { counter += 1; counter.wrapping_mul(0x9e37_79b9_7f4a_7c15) };
//! let message = Message::builder()
//!     .from("Jörg Müller <joerg@example.org>")
//!     .to("Team: a@example.net, \"john doe\"@example.net;")
//!     .bcc("audit@example.org")
//!     .subject("Grüße")
//!     .date(UNIX_EPOCH + Duration::from_secs(1_764_630_303))
//!     .generate_message_id("mail.example.org", &mut random)
//!     .text("Hello,\nsee the attachment.\n")
//!     .html("<p>Hello,<br>see the attachment.</p>")
//!     .attachment("application/pdf", "résumé.pdf", &b"%PDF-1.7 ..."[..])
//!     .build()
//!     .unwrap();
//!
//! // Bcc feeds the envelope only.
//! let envelope = message.envelope();
//! assert_eq!(envelope.from.as_deref(), Some("joerg@example.org"));
//! assert_eq!(envelope.to, ["a@example.net", "\"john doe\"@example.net", "audit@example.org"]);
//!
//! // Render as a stream of chunks (each at most 64 KiB)...
//! let mut wire = Vec::new();
//! for chunk in message.render() {
//!     wire.extend_from_slice(&chunk);
//! }
//! assert_eq!(wire.len() as u64, message.len());
//! let text = String::from_utf8(wire).unwrap();
//! assert!(text.starts_with("Date: Mon, 01 Dec 2025 23:05:03 +0000\r\n\
//!     From: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <joerg@example.org>\r\n\
//!     To: Team: a@example.net, \"john doe\"@example.net;\r\n\
//!     Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n"));
//! assert!(!text.contains("audit@"));
//! assert!(text.contains("filename*=utf-8''r%C3%A9sum%C3%A9.pdf"));
//! ```

//!
//! # Sending with the SMTP client
//!
//! [`Message::envelope`] gives the SMTP envelope (Bcc included),
//! [`Message::info`] the SIZE and 8BITMIME needs, and [`Message::render`]
//! the body in bounded chunks, encoded as they are produced:
//!
//! ```
//! use std::time::Instant;
//! use wireloom_core::mime::Message;
//! use wireloom_core::smtp::client::{Client, UsageError};
//!
//! fn send(client: &mut Client, now: Instant, message: &Message) -> Result<(), UsageError> {
//!     client.start_message(now, message.envelope(), message.info())?;
//!     for chunk in message.render() {
//!         // In an adapter: drain client.poll_transmit() to the socket
//!         // between chunks, so at most one chunk is buffered.
//!         client.send_body(now, chunk)?;
//!     }
//!     client.finish_body(now)
//! }
//! ```

pub mod address;
pub mod encoding;
pub mod header;
mod message;
pub mod part;

use std::fmt;

pub use address::{Address, Group, Mailbox};
pub use encoding::TransferEncoding;
pub use header::MediaType;
pub use message::{
    generate_message_id, IntoAddresses, Message, MessageBuilder, Renderer, DEFAULT_CHUNK_SIZE,
};
pub use part::{Body, DispositionKind, Part};

/// Why a message (or one of its pieces) was refused. These are all local
/// errors: what the caller gave cannot be written safely.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MimeError {
    /// A CR or LF in a caller-given header name, value, address, filename
    /// or ID (`field` names where).
    HeaderInjection {
        /// The header or item that held the line break.
        field: String,
    },
    /// A control character (other than TAB) in a caller-given header text.
    InvalidCharacter {
        /// The header or item that held it.
        field: String,
        /// The character.
        ch: char,
    },
    /// A header name that is not RFC 5322 `ftext` (or is too long).
    InvalidHeaderName(String),
    /// A custom header the builder writes itself (From, Bcc, Content-Type...).
    ReservedHeader(String),
    /// An address that does not parse or cannot be used.
    InvalidAddress {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A malformed Message-ID, Content-ID, In-Reply-To or References entry.
    InvalidId {
        /// The header.
        field: String,
        /// The ID given.
        id: String,
    },
    /// A malformed content type.
    InvalidContentType(String),
    /// An empty filename.
    InvalidFilename(String),
    /// A required header is missing (`From`, `Date`, or `Sender` when
    /// there are several From mailboxes).
    MissingHeader(&'static str),
    /// Both a body tree and `text`/`html` were given.
    ConflictingBody,
    /// A multipart without parts.
    EmptyMultipart,
    /// A content-type parameter name that is not an RFC 2045 token of at
    /// most [`header::MAX_PARAM_NAME`] characters.
    InvalidParameterName(String),
    /// A date outside the years 0 to 9999 (RFC 5322 §3.3 has four-digit
    /// years).
    DateOutOfRange,
    /// A header line would exceed 998 octets (RFC 5322 §2.1.1) even when
    /// folded (`field` names the header).
    LineTooLong {
        /// The header.
        field: String,
    },
}

impl fmt::Display for MimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MimeError::HeaderInjection { field } => {
                write!(f, "CR or LF in {field} (header injection refused)")
            }
            MimeError::InvalidCharacter { field, ch } => {
                write!(f, "control character {ch:?} in {field}")
            }
            MimeError::InvalidHeaderName(n) => write!(f, "invalid header name {n:?}"),
            MimeError::ReservedHeader(n) => write!(
                f,
                "header {n:?} is written by the builder, not as a custom header"
            ),
            MimeError::InvalidAddress { input, reason } => {
                write!(f, "invalid address {input:?}: {reason}")
            }
            MimeError::InvalidId { field, id } => write!(f, "invalid {field} {id:?}"),
            MimeError::InvalidContentType(t) => write!(f, "invalid content type {t:?}"),
            MimeError::InvalidFilename(n) => write!(f, "invalid filename {n:?}"),
            MimeError::MissingHeader(h) => write!(f, "missing {h}"),
            MimeError::ConflictingBody => f.write_str("both a body tree and text/html were given"),
            MimeError::EmptyMultipart => f.write_str("multipart without parts"),
            MimeError::InvalidParameterName(n) => write!(f, "invalid parameter name {n:?}"),
            MimeError::DateOutOfRange => f.write_str("date outside the years 0 to 9999"),
            MimeError::LineTooLong { field } => {
                write!(f, "{field} header line would exceed 998 octets")
            }
        }
    }
}

impl std::error::Error for MimeError {}

#[cfg(test)]
mod tests;
