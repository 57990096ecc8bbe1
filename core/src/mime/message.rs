//! The message builder, the built [`Message`], and its streaming
//! [`Renderer`].

use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

use super::address::{format_address_list, Address, Group, Mailbox};
use super::encoding::{
    base64_encoded_len, choose_text_encoding, normalize_crlf, Base64Lines, QpEncoder, Sink,
    TransferEncoding, MAX_LINE,
};
use super::header::{
    check_text, format_date, format_parameter, format_unstructured, validate_header_name,
    write_folded, write_folded_text,
};
use super::part::{check_id, Body, DispositionKind, Part};
use super::MimeError;
use crate::smtp::client::{Envelope, MessageInfo};

/// Default largest chunk produced by the [`Renderer`].
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Header names the builder writes itself; [`MessageBuilder::header`]
/// refuses them ([`MimeError::ReservedHeader`]), so a custom header can
/// never duplicate one or leak Bcc.
const MESSAGE_RESERVED: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
];

/// Anything that can be turned into address-list entries: a `&str` or
/// `String` (parsed as a list), a [`Mailbox`], a [`Group`], an [`Address`],
/// or a `Vec` of these.
pub trait IntoAddresses {
    /// The conversion.
    fn into_addresses(self) -> Result<Vec<Address>, MimeError>;
}

impl IntoAddresses for &str {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Address::parse_list(self)
    }
}
impl IntoAddresses for String {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Address::parse_list(&self)
    }
}
impl IntoAddresses for &String {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Address::parse_list(self)
    }
}
impl IntoAddresses for Mailbox {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Ok(vec![Address::Mailbox(self)])
    }
}
impl IntoAddresses for Group {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Ok(vec![Address::Group(self)])
    }
}
impl IntoAddresses for Address {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        Ok(vec![self])
    }
}
impl<T: IntoAddresses> IntoAddresses for Vec<T> {
    fn into_addresses(self) -> Result<Vec<Address>, MimeError> {
        let mut out = Vec::new();
        for t in self {
            out.extend(t.into_addresses()?);
        }
        Ok(out)
    }
}

/// Builds a [`Message`]. Setters never fail; the first error is kept and
/// returned by [`build`](MessageBuilder::build).
///
/// The conveniences [`text`](MessageBuilder::text),
/// [`html`](MessageBuilder::html), [`inline`](MessageBuilder::inline) and
/// [`attachment`](MessageBuilder::attachment) produce the usual shape
/// `mixed(related(alternative(text, html), inline...), attachment...)`,
/// leaving out every level that has a single child. For any other shape,
/// give a [`Part`] tree to [`body`](MessageBuilder::body).
#[derive(Debug, Default)]
#[must_use]
pub struct MessageBuilder {
    from: Vec<Address>,
    sender: Option<Mailbox>,
    reply_to: Vec<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    subject: Option<String>,
    date: Option<SystemTime>,
    message_id: IdChoice,
    /// The Message-ID from [`MessageBuilder::message_id_from`], written
    /// when `message_id` is [`IdChoice::Default`].
    default_message_id: Option<String>,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    body: Option<Part>,
    inlines: Vec<Part>,
    attachments: Vec<Part>,
    allow_8bit: bool,
    boundary_seed: Option<u64>,
    error: Option<MimeError>,
}

impl MessageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn keep<T>(&mut self, r: Result<T, MimeError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Adds author mailboxes (From; groups are refused).
    pub fn from(mut self, a: impl IntoAddresses) -> Self {
        if let Some(list) = self.keep(a.into_addresses()) {
            self.from.extend(list);
        }
        self
    }

    /// Sets Sender (one mailbox; required when From has several).
    pub fn sender(mut self, a: impl IntoAddresses) -> Self {
        if let Some(mut list) = self.keep(a.into_addresses()) {
            let r = match (list.len(), list.pop()) {
                (1, Some(Address::Mailbox(m))) => Ok(m),
                _ => Err(MimeError::InvalidAddress {
                    input: format_address_list(&list),
                    reason: "Sender must be exactly one mailbox",
                }),
            };
            self.sender = self.keep(r);
        }
        self
    }

    /// Adds Reply-To addresses.
    pub fn reply_to(mut self, a: impl IntoAddresses) -> Self {
        if let Some(list) = self.keep(a.into_addresses()) {
            self.reply_to.extend(list);
        }
        self
    }

    /// Adds To recipients.
    pub fn to(mut self, a: impl IntoAddresses) -> Self {
        if let Some(list) = self.keep(a.into_addresses()) {
            self.to.extend(list);
        }
        self
    }

    /// Adds Cc recipients.
    pub fn cc(mut self, a: impl IntoAddresses) -> Self {
        if let Some(list) = self.keep(a.into_addresses()) {
            self.cc.extend(list);
        }
        self
    }

    /// Adds Bcc recipients: they are in the [`envelope`](Message::envelope)
    /// but never in the rendered message.
    pub fn bcc(mut self, a: impl IntoAddresses) -> Self {
        if let Some(list) = self.keep(a.into_addresses()) {
            self.bcc.extend(list);
        }
        self
    }

    /// Sets the Subject (any text; non-ASCII becomes encoded-words).
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        let s = s.into();
        if self.keep(check_text("Subject", &s)).is_some() {
            self.subject = Some(s);
        }
        self
    }

    /// Sets the Date (required): the caller passes the time, in the years
    /// 0 to 9999 ([`MimeError::DateOutOfRange`] otherwise).
    pub fn date(mut self, t: SystemTime) -> Self {
        if self.keep(format_date(t)).is_some() {
            self.date = Some(t);
        }
        self
    }

    /// Sets the Message-ID (with or without angle brackets). A Message-ID
    /// set here (or by [`generate_message_id`](Self::generate_message_id))
    /// wins over [`message_id_from`](Self::message_id_from) and over the
    /// one an adapter adds when sending; the last of `message_id`,
    /// `generate_message_id` and [`no_message_id`](Self::no_message_id)
    /// counts.
    pub fn message_id(mut self, id: &str) -> Self {
        if let Some(id) = self.keep(check_id("Message-ID", id, true)) {
            self.message_id = IdChoice::Set(id);
        }
        self
    }

    /// Gives the Message-ID to write when the caller sets none: one made by
    /// [`generate_message_id`](super::generate_message_id) from 128 random
    /// bits and a host name (an invalid host becomes `localhost`). A
    /// Message-ID set with [`message_id`](Self::message_id) wins, and
    /// [`no_message_id`](Self::no_message_id) leaves it out.
    ///
    /// Core reads no random source: without this call (and without an
    /// explicit Message-ID) [`build`](Self::build) writes no Message-ID and
    /// the message reports [`Message::needs_message_id`]; the adapters'
    /// send paths (`wireloom-blocking`'s `send_message`) and the CLI
    /// `mail-render` then add one from the OS random source. Unlike
    /// [`generate_message_id`](Self::generate_message_id) this does not
    /// seed the MIME boundaries.
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use wireloom_core::mime::Message;
    ///
    /// let random = [7u8; 16]; // in an adapter: 16 octets from the OS
    /// let m = Message::builder()
    ///     .from("a@example.org")
    ///     .date(UNIX_EPOCH)
    ///     .message_id_from(random, "mail.example.org")
    ///     .text("hi")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(m.message_id(), Some("a4dqobyha4dqobyha4dqobyha4@mail.example.org"));
    /// assert!(!m.needs_message_id());
    /// ```
    pub fn message_id_from(mut self, random: [u8; 16], host: &str) -> Self {
        let id = generate_message_id(random, host);
        self.default_message_id = Some(id[1..id.len() - 1].to_owned());
        self
    }

    /// Writes no Message-ID, explicitly: neither the one from
    /// [`message_id_from`](Self::message_id_from) nor one an adapter would
    /// add when sending ([`Message::needs_message_id`] is false). RFC 5322
    /// §3.6.4 says every message SHOULD have one; leave it out only when
    /// something downstream (a submission server) adds it.
    pub fn no_message_id(mut self) -> Self {
        self.message_id = IdChoice::OptOut;
        self
    }

    /// Generates a Message-ID `<hex.hex@host>` from 128 bits of the
    /// caller's random source (as if given to
    /// [`message_id`](Self::message_id): it wins over defaults, and an
    /// invalid host is [`MimeError::InvalidId`]); the same source also
    /// seeds the MIME boundaries (unless
    /// [`boundary_seed`](Self::boundary_seed) is set).
    pub fn generate_message_id(mut self, host: &str, random: &mut impl FnMut() -> u64) -> Self {
        let (a, b) = (random(), random());
        let id = format!("{a:016x}.{b:016x}@{host}");
        if let Some(id) = self.keep(check_id("Message-ID", &id, true)) {
            self.message_id = IdChoice::Set(id);
        }
        self.boundary_seed.get_or_insert_with(random);
        self
    }

    /// Adds a Message-ID to In-Reply-To.
    pub fn in_reply_to(mut self, id: &str) -> Self {
        if let Some(id) = self.keep(check_id("In-Reply-To", id, true)) {
            self.in_reply_to.push(id);
        }
        self
    }

    /// Adds a Message-ID to References.
    pub fn references(mut self, id: &str) -> Self {
        if let Some(id) = self.keep(check_id("References", id, true)) {
            self.references.push(id);
        }
        self
    }

    /// Adds a custom header. The name must be RFC 5322 `ftext` (at most 76
    /// characters) and not one the builder writes; non-ASCII values become
    /// encoded-words; CR/LF are refused.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let r = validate_header_name(name).and_then(|()| {
            if name.len() > 76 {
                return Err(MimeError::InvalidHeaderName(name.to_owned()));
            }
            if MESSAGE_RESERVED
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            {
                return Err(MimeError::ReservedHeader(name.to_owned()));
            }
            check_text(name, value)
        });
        if self.keep(r).is_some() {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the HTML body (with a text body: multipart/alternative).
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Sets the whole body tree (instead of `text`/`html`; inline parts and
    /// attachments still wrap it).
    pub fn body(mut self, part: Part) -> Self {
        self.body = Some(part);
        self
    }

    /// Adds an inline part (multipart/related with the body).
    pub fn inline(mut self, content_type: &str, content_id: &str, data: impl Into<Bytes>) -> Self {
        if let Some(p) = self.keep(Part::inline(content_type, content_id, data)) {
            self.inlines.push(p);
        }
        self
    }

    /// Adds an attachment (multipart/mixed with the body).
    pub fn attachment(
        mut self,
        content_type: &str,
        filename: &str,
        data: impl Into<Bytes>,
    ) -> Self {
        if let Some(p) = self.keep(Part::attachment(content_type, filename, data)) {
            self.attachments.push(p);
        }
        self
    }

    /// Adds a prepared part as an attachment (any part, e.g. a nested
    /// multipart).
    pub fn attach_part(mut self, part: Part) -> Self {
        self.attachments.push(part);
        self
    }

    /// Allows 8bit transfer encoding for text with non-ASCII characters
    /// (only for servers that advertise 8BITMIME).
    pub fn allow_8bit(mut self, allow: bool) -> Self {
        self.allow_8bit = allow;
        self
    }

    /// Seeds boundary generation. Without it, the seed comes from the
    /// random source of [`generate_message_id`](Self::generate_message_id),
    /// or else from a hash of the headers: rendering is deterministic.
    pub fn boundary_seed(mut self, seed: u64) -> Self {
        self.boundary_seed = Some(seed);
        self
    }

    /// Checks everything and prepares the message for rendering.
    pub fn build(self) -> Result<Message, MimeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut from = Vec::new();
        for a in &self.from {
            match a {
                Address::Mailbox(m) => from.push(m.clone()),
                Address::Group(g) => {
                    return Err(MimeError::InvalidAddress {
                        input: g.to_header_value(),
                        reason: "groups are not allowed in From",
                    })
                }
            }
        }
        if from.is_empty() {
            return Err(MimeError::MissingHeader("From"));
        }
        if from.len() > 1 && self.sender.is_none() {
            return Err(MimeError::MissingHeader("Sender"));
        }
        let date = self.date.ok_or(MimeError::MissingHeader("Date"))?;

        // Body tree.
        let mut root = match (self.body, self.text, self.html) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(MimeError::ConflictingBody)
            }
            (Some(b), None, None) => b,
            (None, Some(t), Some(h)) => Part::alternative(vec![Part::text(t), Part::html(h)])?,
            (None, Some(t), None) => Part::text(t),
            (None, None, Some(h)) => Part::html(h),
            (None, None, None) => Part::text(String::new()),
        };
        if !self.inlines.is_empty() {
            let mut parts = vec![root];
            parts.extend(self.inlines);
            root = Part::related(parts)?;
        }
        if !self.attachments.is_empty() {
            let mut parts = vec![root];
            parts.extend(self.attachments);
            root = Part::mixed(parts)?;
        }

        // Headers.
        let mut h = String::new();
        write_folded(&mut h, "Date", &format_date(date)?);
        write_folded(&mut h, "From", &format_address_list(&self.from));
        if let Some(s) = &self.sender {
            write_folded(&mut h, "Sender", &s.to_header_value());
        }
        for (name, list) in [
            ("Reply-To", &self.reply_to),
            ("To", &self.to),
            ("Cc", &self.cc),
        ] {
            if !list.is_empty() {
                write_folded(&mut h, name, &format_address_list(list));
            }
        }
        if let Some(s) = &self.subject {
            write_folded_text(&mut h, "Subject", &format_unstructured("Subject".len(), s));
        }
        let opted_out = self.message_id == IdChoice::OptOut;
        let message_id = match self.message_id {
            IdChoice::Set(id) => Some(id),
            IdChoice::OptOut => None,
            IdChoice::Default => self.default_message_id,
        };
        // Where a Message-ID line goes when the message has none and the
        // caller did not opt out (see `Message::with_message_id_from`).
        let mut id_at = None;
        match &message_id {
            Some(id) => write_folded(&mut h, "Message-ID", &format!("<{id}>")),
            None if !opted_out => id_at = Some(h.len()),
            None => {}
        }
        for (name, ids) in [
            ("In-Reply-To", &self.in_reply_to),
            ("References", &self.references),
        ] {
            if !ids.is_empty() {
                let v: Vec<String> = ids.iter().map(|i| format!("<{i}>")).collect();
                write_folded(&mut h, name, &v.join(" "));
            }
        }
        for (n, v) in &self.headers {
            write_folded_text(&mut h, n, &format_unstructured(n.len(), v));
        }
        write_folded(&mut h, "MIME-Version", "1.0");

        let seed = self.boundary_seed.unwrap_or_else(|| fnv1a(h.as_bytes()));
        let mut ctx = PlanCtx {
            allow_8bit: self.allow_8bit,
            seed,
            counter: 0,
        };
        let mut segs = Vec::new();
        let eight_bit = ctx.plan(&root, h, &mut segs)?;
        // The end of the message: a final CRLF where it does not change
        // the content.
        match segs.last() {
            Some(Seg::Base64(b)) if !b.is_empty() => {
                segs.push(Seg::Static(Bytes::from_static(b"\r\n")))
            }
            Some(Seg::Qp(b)) if !b.is_empty() && !b.ends_with(b"\r\n") => {
                segs.push(Seg::Static(Bytes::from_static(b"=\r\n")))
            }
            Some(Seg::Raw(b)) if !b.is_empty() && !b.ends_with(b"\r\n") => {
                segs.push(Seg::Static(Bytes::from_static(b"\r\n")))
            }
            Some(Seg::Static(_)) if matches!(root.body, Body::Multipart(_)) => {
                segs.push(Seg::Static(Bytes::from_static(b"\r\n")))
            }
            _ => {}
        }
        let segs = coalesce(segs);
        check_header_lines(&segs)?;
        let len = segs.iter().map(Seg::encoded_len).sum();

        let mut rcpts: Vec<String> = Vec::new();
        for a in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            for m in a.mailboxes() {
                let s = m.addr_spec();
                if !rcpts.contains(&s) {
                    rcpts.push(s);
                }
            }
        }
        let envelope = Envelope {
            from: Some(self.sender.as_ref().unwrap_or(&from[0]).addr_spec()),
            to: rcpts,
        };
        Ok(Message {
            segs: segs.into(),
            len,
            eight_bit,
            envelope,
            root: Arc::new(root),
            message_id,
            id_at,
        })
    }
}

/// A message ready to render; cheap to render several times.
#[derive(Clone, Debug)]
pub struct Message {
    segs: Arc<[Seg]>,
    len: u64,
    eight_bit: bool,
    envelope: Envelope,
    root: Arc<Part>,
    /// The Message-ID written, without angle brackets.
    message_id: Option<String>,
    /// When no Message-ID is written and the caller did not opt out: the
    /// offset in the first segment (the top-level header block, which
    /// starts it) where [`Message::with_message_id_from`] inserts one.
    id_at: Option<usize>,
}

/// What the caller chose for the Message-ID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum IdChoice {
    /// Nothing: the default from `message_id_from`, if given, else none
    /// (and the message needs one).
    #[default]
    Default,
    /// This one (without angle brackets).
    Set(String),
    /// None, explicitly.
    OptOut,
}

/// Makes a Message-ID `<ID@HOST>` (RFC 5322 §3.6.4 `msg-id`) from 128 bits
/// of caller randomness: ID is the 26 lowercase base32 digits (RFC 4648
/// alphabet, no padding) of `random`, with no timestamp or counter in it.
///
/// HOST is `host` when it is a host name: ASCII labels of letters, digits
/// and `-` (1 to 63 octets each, not starting or ending with `-`) joined by
/// dots, at most 253 octets, one trailing dot dropped. Anything else
/// (empty, an IP literal, a non-ASCII name, a space) becomes `localhost`, so
/// the result is always a valid `msg-id` of at most 282 octets.
///
/// ```
/// use wireloom_core::mime::generate_message_id;
///
/// assert_eq!(
///     generate_message_id([0; 16], "mail.example.org"),
///     "<aaaaaaaaaaaaaaaaaaaaaaaaaa@mail.example.org>"
/// );
/// assert_eq!(generate_message_id([0xff; 16], "bad host"), "<77777777777777777777777774@localhost>");
/// ```
pub fn generate_message_id(random: [u8; 16], host: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let n = u128::from_be_bytes(random);
    let host = host.strip_suffix('.').unwrap_or(host);
    let host = if is_host_name(host) {
        host
    } else {
        "localhost"
    };
    let mut id = String::with_capacity(26 + host.len() + 3);
    id.push('<');
    // 25 digits of 5 bits, most significant first, then the last 3 bits
    // shifted up as RFC 4648 pads the final group.
    for k in 0..25 {
        id.push(ALPHABET[(n >> (123 - 5 * k)) as usize & 31] as char);
    }
    id.push(ALPHABET[(n as usize & 7) << 2] as char);
    id.push('@');
    id.push_str(host);
    id.push('>');
    id
}

/// A DNS host name (letters, digits, hyphens; see [`generate_message_id`]).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Message {
    /// A new [`MessageBuilder`].
    pub fn builder() -> MessageBuilder {
        MessageBuilder::new()
    }

    /// The SMTP envelope: the Sender (else the first From) and every To,
    /// Cc and Bcc mailbox (group members included), without duplicates.
    pub fn envelope(&self) -> Envelope {
        self.envelope.clone()
    }

    /// Exact length in octets of the rendered message (for SMTP SIZE).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the rendered message is empty (never: headers are required).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some part is sent 8bit (needs `BODY=8BITMIME`).
    pub fn is_8bit(&self) -> bool {
        self.eight_bit
    }

    /// What the SMTP client needs before MAIL FROM (size, 8bit).
    pub fn info(&self) -> MessageInfo {
        MessageInfo {
            size: Some(self.len),
            eight_bit: self.eight_bit,
        }
    }

    /// The body tree as built (after the conveniences were assembled).
    pub fn root(&self) -> &Part {
        &self.root
    }

    /// The Message-ID written in the header, without angle brackets.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// True when the message has no Message-ID and the caller did not opt
    /// out with [`MessageBuilder::no_message_id`]: core had no random
    /// source (see [`MessageBuilder::message_id_from`]). A sender adds one
    /// with [`with_message_id_from`](Self::with_message_id_from), as the
    /// blocking adapter's `send_message` does.
    pub fn needs_message_id(&self) -> bool {
        self.id_at.is_some()
    }

    /// This message with a Message-ID made by
    /// [`generate_message_id`](super::generate_message_id) from `random`
    /// and `host`, if it [needs one](Self::needs_message_id); otherwise an
    /// unchanged copy. The line goes where the builder writes Message-ID
    /// (after Subject); the boundaries and the rest of the octets stay as
    /// they were. Cheap: the body is shared, not copied.
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use wireloom_core::mime::Message;
    ///
    /// let m = Message::builder().from("a@example.org").date(UNIX_EPOCH).text("hi").build().unwrap();
    /// assert!(m.needs_message_id());
    /// let sent = m.with_message_id_from([1; 16], "mail.example.org");
    /// assert_eq!(sent.message_id(), Some("aeaqcaibaeaqcaibaeaqcaibae@mail.example.org"));
    /// assert!(String::from_utf8(sent.to_bytes()).unwrap().contains(
    ///     "\r\nMessage-ID: <aeaqcaibaeaqcaibaeaqcaibae@mail.example.org>\r\nMIME-Version: 1.0\r\n"));
    /// assert_eq!(sent.len(), sent.to_bytes().len() as u64);
    /// ```
    pub fn with_message_id_from(&self, random: [u8; 16], host: &str) -> Message {
        let (Some(at), Some(Seg::Static(first))) = (self.id_at, self.segs.first()) else {
            return self.clone();
        };
        let id = generate_message_id(random, host);
        let mut line = String::new();
        write_folded(&mut line, "Message-ID", &id);
        let mut head = BytesMut::with_capacity(first.len() + line.len());
        head.extend_from_slice(&first[..at]);
        head.extend_from_slice(line.as_bytes());
        head.extend_from_slice(&first[at..]);
        let mut segs = self.segs.to_vec();
        segs[0] = Seg::Static(head.freeze());
        Message {
            segs: segs.into(),
            len: self.len + line.len() as u64,
            eight_bit: self.eight_bit,
            envelope: self.envelope.clone(),
            root: Arc::clone(&self.root),
            message_id: Some(id[1..id.len() - 1].to_owned()),
            id_at: None,
        }
    }

    /// A streaming renderer producing chunks of at most 64 KiB.
    pub fn render(&self) -> Renderer {
        Renderer::new(self.segs.clone(), DEFAULT_CHUNK_SIZE)
    }

    /// A streaming renderer producing chunks of at most `chunk_size`
    /// octets (at least 1024).
    pub fn render_with_chunk_size(&self, chunk_size: usize) -> Renderer {
        Renderer::new(self.segs.clone(), chunk_size.max(1024))
    }

    /// Renders the whole message into one buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        // One exact allocation, encoded in place (no intermediate chunks)
        // and handed out as it is (`Vec::from(BytesMut)` would move the
        // whole message onto itself).
        let mut out = Vec::with_capacity(self.len as usize);
        let done = self.render().write_to(&mut out, usize::MAX);
        debug_assert!(done);
        debug_assert_eq!(out.len() as u64, self.len);
        out
    }
}

/// Produces a [`Message`]'s octets in bounded chunks, encoding each part
/// as it goes: a 10 MiB attachment is never held encoded, only the current
/// chunk is. Large 7bit/8bit bodies are handed out as zero-copy slices.
///
/// Drain with [`poll_chunk`](Renderer::poll_chunk) (or iterate) until
/// `None`; the lines are CRLF-terminated, ready for an SMTP client's
/// `send_body` (which still dot-stuffs).
#[derive(Debug)]
pub struct Renderer {
    segs: Arc<[Seg]>,
    idx: usize,
    pos: usize,
    b64: Base64Lines,
    qp: QpEncoder,
    chunk_size: usize,
}

impl Renderer {
    fn new(segs: Arc<[Seg]>, chunk_size: usize) -> Self {
        Renderer {
            segs,
            idx: 0,
            pos: 0,
            b64: Base64Lines::default(),
            qp: QpEncoder::default(),
            chunk_size,
        }
    }

    fn advance(&mut self) {
        self.idx += 1;
        self.pos = 0;
        self.b64 = Base64Lines::default();
        self.qp = QpEncoder::default();
    }

    /// The next chunk of at most the chunk size, or `None` at the end.
    pub fn poll_chunk(&mut self) -> Option<Bytes> {
        let limit = self.chunk_size;
        if let Some(Seg::Static(b) | Seg::Raw(b)) = self.segs.get(self.idx) {
            let rest = b.len() - self.pos;
            if rest >= limit / 2 {
                // Zero-copy slice of a large body.
                let take = rest.min(limit);
                let chunk = b.slice(self.pos..self.pos + take);
                self.pos += take;
                if self.pos == b.len() {
                    self.advance();
                }
                return Some(chunk);
            }
        }
        // A `Vec` sink: base64 is encoded straight into its spare capacity
        // (no zero-fill), and `Bytes::from` takes it over without a copy.
        let mut out = Vec::with_capacity(limit.min(self.remaining_hint()));
        self.write_to(&mut out, limit);
        if out.is_empty() {
            None
        } else {
            Some(Bytes::from(out))
        }
    }

    /// An upper bound of what is left, to size buffers (exact for all but
    /// the current segment's progress).
    fn remaining_hint(&self) -> usize {
        self.segs[self.idx.min(self.segs.len())..]
            .iter()
            .map(|s| s.encoded_len_upper())
            .fold(0usize, usize::saturating_add)
    }

    /// Appends the next octets of the message to `out` while `out.len()`
    /// stays within `limit` (at least 80 octets above `out.len()` are needed
    /// for progress). Returns true when the whole message has been written.
    /// For an adapter that owns its output buffer.
    pub fn write_into(&mut self, out: &mut BytesMut, limit: usize) -> bool {
        self.write_to(out, limit)
    }

    fn write_to<O: Sink>(&mut self, out: &mut O, limit: usize) -> bool {
        while self.idx < self.segs.len() {
            let segs = Arc::clone(&self.segs);
            let done = match &segs[self.idx] {
                Seg::Static(b) | Seg::Raw(b) => {
                    let take = (b.len() - self.pos).min(limit.saturating_sub(out.len()));
                    out.extend_from_slice(&b[self.pos..self.pos + take]);
                    self.pos += take;
                    self.pos == b.len()
                }
                Seg::Base64(b) => self.b64.write(b, out, limit),
                Seg::Qp(b) => self.qp.write(b, out, limit),
            };
            if !done {
                return false;
            }
            self.advance();
        }
        true
    }
}

impl Iterator for Renderer {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        self.poll_chunk()
    }
}

/// A piece of the rendered message.
#[derive(Clone, Debug)]
enum Seg {
    /// Header blocks and boundary lines.
    Static(Bytes),
    /// A 7bit/8bit body (CRLF-normalised text).
    Raw(Bytes),
    /// Content to encode as base64 lines.
    Base64(Bytes),
    /// CRLF-normalised text to encode as quoted-printable.
    Qp(Bytes),
}

impl Seg {
    fn encoded_len(&self) -> u64 {
        match self {
            Seg::Static(b) | Seg::Raw(b) => b.len() as u64,
            Seg::Base64(b) => base64_encoded_len(b.len()) as u64,
            Seg::Qp(b) => {
                let mut enc = QpEncoder::default();
                let mut total = 0u64;
                let mut buf = BytesMut::with_capacity(DEFAULT_CHUNK_SIZE);
                loop {
                    buf.clear();
                    let done = enc.write(b, &mut buf, DEFAULT_CHUNK_SIZE);
                    total += buf.len() as u64;
                    if done {
                        return total;
                    }
                }
            }
        }
    }

    /// Cheap upper bound of [`encoded_len`](Seg::encoded_len) (QP at
    /// most triples).
    fn encoded_len_upper(&self) -> usize {
        match self {
            Seg::Static(b) | Seg::Raw(b) => b.len(),
            Seg::Base64(b) => base64_encoded_len(b.len()),
            Seg::Qp(b) => b.len().saturating_mul(4),
        }
    }

    /// The octets of this segment's output that could hold a delimiter
    /// line `--=_wl...`, if any.
    ///
    /// Base64 and quoted-printable output never contain one: the base64
    /// alphabet has no `-` (nor `_`), and in quoted-printable every `=` is
    /// followed by two hex digits or a line break, never by `_`. So only
    /// 7bit/8bit bodies and header text need scanning.
    fn scannable(&self) -> Option<&[u8]> {
        match self {
            Seg::Static(b) | Seg::Raw(b) => Some(b),
            Seg::Base64(_) | Seg::Qp(_) => None,
        }
    }
}

/// What every boundary delimiter starts with (`--` and the `=_wl` of
/// [`PlanCtx::next_boundary`]).
const BOUNDARY_PREFIX: &[u8] = b"--=_wl";
/// The hex digits after the prefix.
const BOUNDARY_SUFFIX_LEN: usize = 16;

/// The 16 octets following each `--=_wl` in `segs` (one pass over the
/// scannable octets): a candidate boundary whose hex digits are not in the
/// set occurs nowhere in them.
fn taken_boundary_suffixes<'a>(
    segs: impl Iterator<Item = &'a Seg>,
) -> std::collections::HashSet<&'a [u8]> {
    let mut taken = std::collections::HashSet::new();
    for b in segs.filter_map(Seg::scannable) {
        #[cfg(test)]
        tests::SCANNED.with(|n| n.set(n.get() + b.len()));
        for at in memchr::memmem::find_iter(b, BOUNDARY_PREFIX) {
            let start = at + BOUNDARY_PREFIX.len();
            if let Some(s) = b.get(start..start + BOUNDARY_SUFFIX_LEN) {
                taken.insert(s);
            }
        }
    }
    taken
}

/// The backstop for RFC 5322 §2.1.1: no header line (in the header blocks
/// and boundary lines, the `Static` segments) exceeds [`MAX_LINE`] octets.
fn check_header_lines(segs: &[Seg]) -> Result<(), MimeError> {
    for seg in segs {
        if let Seg::Static(b) = seg {
            if let Some(line) = b.split(|&c| c == b'\n').find(|l| l.len() > MAX_LINE + 1) {
                let name = line.split(|&c| c == b':').next().unwrap_or_default();
                let name = String::from_utf8_lossy(&name[..name.len().min(76)]).into_owned();
                return Err(MimeError::LineTooLong { field: name });
            }
        }
    }
    Ok(())
}

fn coalesce(segs: Vec<Seg>) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::with_capacity(segs.len());
    let mut pending = BytesMut::new();
    for s in segs {
        match s {
            Seg::Static(b) => pending.extend_from_slice(&b),
            other => {
                if !pending.is_empty() {
                    out.push(Seg::Static(pending.split().freeze()));
                }
                if !matches!(&other, Seg::Raw(b) | Seg::Base64(b) | Seg::Qp(b) if b.is_empty()) {
                    out.push(other);
                }
            }
        }
    }
    if !pending.is_empty() {
        out.push(Seg::Static(pending.freeze()));
    }
    out
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct PlanCtx {
    allow_8bit: bool,
    seed: u64,
    counter: u64,
}

impl PlanCtx {
    /// The next boundary candidate: `=_wl` and 16 hex digits, all the same
    /// length (so none is a prefix of another) and distinct within a
    /// message (a bijection of distinct counter values).
    fn next_boundary(&mut self) -> String {
        self.counter += 1;
        let x = mix(self
            .seed
            .wrapping_add(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        format!("=_wl{x:016x}")
    }

    /// The first boundary candidate that occurs nowhere in `planned` (the
    /// children's segments). One scan for every candidate at once: what
    /// follows each `--=_wl` is collected, then candidates are tried
    /// against that set, so the work is O(n) however many candidates the
    /// content plants.
    fn pick_boundary(&mut self, planned: &[Vec<Seg>]) -> String {
        let taken = taken_boundary_suffixes(planned.iter().flatten());
        loop {
            let b = self.next_boundary();
            if !taken.contains(&b.as_bytes()[BOUNDARY_PREFIX.len() - 2..]) {
                return b;
            }
        }
    }

    /// Appends the segments of `part` (headers prefixed by `prefix`) to
    /// `out`. Returns whether some content is sent 8bit.
    fn plan(
        &mut self,
        part: &Part,
        mut head: String,
        out: &mut Vec<Seg>,
    ) -> Result<bool, MimeError> {
        let mut ct = part.content_type.clone();
        match &part.body {
            Body::Multipart(children) => {
                if children.is_empty() {
                    return Err(MimeError::EmptyMultipart);
                }
                let mut planned = Vec::with_capacity(children.len());
                let mut eight_bit = false;
                for c in children {
                    let mut segs = Vec::new();
                    eight_bit |= self.plan(c, String::new(), &mut segs)?;
                    planned.push(segs);
                }
                let boundary = self.pick_boundary(&planned);
                ct.set_param_unchecked("boundary", &boundary);
                write_folded(&mut head, "Content-Type", &ct.to_header_value());
                if eight_bit {
                    write_folded(&mut head, "Content-Transfer-Encoding", "8bit");
                }
                self.common_headers(part, &mut head);
                head.push_str("\r\n--");
                head.push_str(&boundary);
                head.push_str("\r\n");
                out.push(Seg::Static(head.into()));
                for (i, segs) in planned.into_iter().enumerate() {
                    if i > 0 {
                        out.push(Seg::Static(format!("\r\n--{boundary}\r\n").into()));
                    }
                    out.extend(segs);
                }
                out.push(Seg::Static(format!("\r\n--{boundary}--").into()));
                Ok(eight_bit)
            }
            Body::Text(text) => {
                let norm = Bytes::from(normalize_crlf(text.as_bytes()));
                let enc = choose_text_encoding(&norm, self.allow_8bit);
                ct.remove_param("boundary");
                ct.set_param_unchecked("charset", "utf-8");
                write_folded(&mut head, "Content-Type", &ct.to_header_value());
                write_folded(&mut head, "Content-Transfer-Encoding", enc.as_str());
                self.common_headers(part, &mut head);
                head.push_str("\r\n");
                out.push(Seg::Static(head.into()));
                out.push(match enc {
                    TransferEncoding::SevenBit | TransferEncoding::EightBit => Seg::Raw(norm),
                    TransferEncoding::QuotedPrintable => Seg::Qp(norm),
                    TransferEncoding::Base64 => Seg::Base64(norm),
                });
                Ok(enc == TransferEncoding::EightBit)
            }
            Body::Binary(data) => {
                ct.remove_param("boundary");
                write_folded(&mut head, "Content-Type", &ct.to_header_value());
                write_folded(&mut head, "Content-Transfer-Encoding", "base64");
                self.common_headers(part, &mut head);
                head.push_str("\r\n");
                out.push(Seg::Static(head.into()));
                out.push(Seg::Base64(data.clone()));
                Ok(false)
            }
        }
    }

    fn common_headers(&self, part: &Part, head: &mut String) {
        if part.disposition.is_some() || part.filename.is_some() {
            let mut v = String::from(match part.disposition {
                Some(DispositionKind::Inline) => "inline",
                _ => "attachment",
            });
            if let Some(f) = &part.filename {
                for item in format_parameter("filename", f) {
                    v.push_str("; ");
                    v.push_str(&item);
                }
            }
            write_folded(head, "Content-Disposition", &v);
        }
        if let Some(id) = &part.content_id {
            write_folded(head, "Content-ID", &format!("<{id}>"));
        }
        for (n, v) in &part.headers {
            write_folded_text(head, n, &format_unstructured(n.len(), v));
        }
    }
}

#[cfg(test)]
mod tests;
