//! The zero-copy head parser.
//!
//! [`parse_request`] and [`parse_response`] work over a borrowed `&[u8]` and
//! return offsets, like httparse: nothing is allocated but the caller's
//! reusable `Vec<RawHeader>`. Running out of input is [`Status::Partial`],
//! never an error. [`RequestHead::from_raw`] and [`ResponseHead::from_raw`]
//! then freeze the head into shared [`Bytes`] slices without copying.
//!
//! Strict RFC 9112 by default; [`Lenient`] flags opt in to what real peers
//! send ([`ParseConfig::client`] turns on those a user agent must accept).
//!
//! Fail fast: every byte is judged as soon as it is in, so a prefix of the
//! input gives [`Status::Partial`] or the very error the whole input gives.
//! A TLS record, a NUL, a bare CR, `HTTP/5.`, or (in a request) a complete
//! `Content-Length` line that is invalid or contradicts an earlier one are
//! errors at once, whatever follows. Each line is judged within its length
//! limit and the head within `max_head`, so bytes past a limit never change
//! the verdict either.

use bytes::Bytes;

use super::chars::{
    find_ctl, find_target_stop, is_field_char, is_host_char, is_vchar, skip_tchars,
};
use super::error::{Error, ErrorKind};
use super::framing::add_content_length;
use super::header::{HeaderMap, Spans};
use super::message::{RequestHead, ResponseHead};
use super::uri::{check_chars as check_target_chars, RequestTarget};
use super::{Method, StatusCode, Version};

/// Result of parsing possibly incomplete input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Parsed; the value says how much input was used.
    Complete(T),
    /// More input is needed.
    Partial,
}

impl<T> Status<T> {
    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Opt-in leniency flags, each named after what it allows.
///
/// ```
/// use wireloom_core::http::parse::Lenient;
/// let l = Lenient::parse_list("bare-lf,missing-reason").unwrap();
/// assert!(l.contains(Lenient::BARE_LF) && !l.contains(Lenient::OBS_FOLD));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lenient(u8);

impl Lenient {
    /// Nothing lenient: strict RFC 9112.
    pub const NONE: Lenient = Lenient(0);
    /// Accept a bare LF as a line ending (in heads and chunked framing).
    pub const BARE_LF: Lenient = Lenient(1);
    /// Accept obs-fold line continuations in response heads (each fold,
    /// with the whitespace around it, becomes one SP). Requests (and
    /// trailers) with obs-fold are always rejected. On in
    /// [`ParseConfig::client`].
    pub const OBS_FOLD: Lenient = Lenient(2);
    /// Accept a status line without the space and reason phrase
    /// (`HTTP/1.1 200`; the reason is then empty). On in
    /// [`ParseConfig::client`].
    pub const MISSING_REASON: Lenient = Lenient(4);
    /// Accept whitespace between a field name and the colon in responses.
    /// Requests with it are always rejected (RFC 9112 §5.1).
    pub const SPACE_BEFORE_COLON: Lenient = Lenient(8);
    /// Accept any visible ASCII in a request-target (`|`, `{`, `\` ...).
    pub const TARGET_CHARS: Lenient = Lenient(16);

    const NAMES: [(&'static str, Lenient); 5] = [
        ("bare-lf", Lenient::BARE_LF),
        ("obs-fold", Lenient::OBS_FOLD),
        ("missing-reason", Lenient::MISSING_REASON),
        ("space-before-colon", Lenient::SPACE_BEFORE_COLON),
        ("target-chars", Lenient::TARGET_CHARS),
    ];

    /// The flag names accepted by [`parse_list`](Self::parse_list).
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::NAMES.iter().map(|(n, _)| *n)
    }

    /// Parses a comma-separated list of flag names; `Err` names the unknown one.
    pub fn parse_list(s: &str) -> Result<Lenient, String> {
        let mut l = Lenient::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match Self::NAMES.iter().find(|(n, _)| *n == part) {
                Some((_, f)) => l = l | *f,
                None => return Err(part.to_string()),
            }
        }
        Ok(l)
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Lenient) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Lenient {
    type Output = Lenient;
    fn bitor(self, rhs: Lenient) -> Lenient {
        Lenient(self.0 | rhs.0)
    }
}

/// Limits and leniency for head parsing. Defaults are safe for a server
/// facing the Internet (strict: no [`Lenient`] flag); [`ParseConfig::client`]
/// is the client's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseConfig {
    /// Longest request line (414 beyond). Default 8 KiB.
    pub max_request_line: usize,
    /// Longest single field line (431 beyond). Default 8 KiB.
    pub max_header_line: usize,
    /// Largest head, start line and fields together (431 beyond). Default 64 KiB.
    pub max_head: usize,
    /// Most fields in one head (431 beyond). Default 100.
    pub max_headers: usize,
    /// Opt-in leniency.
    pub lenient: Lenient,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig {
            max_request_line: 8 * 1024,
            max_header_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: 100,
            lenient: Lenient::NONE,
        }
    }
}

impl ParseConfig {
    /// The defaults of a client reading responses
    /// ([`ClientConfig::default`](super::ClientConfig) uses them): the same
    /// limits, plus what a user agent must or may accept and that cannot
    /// change where a message ends:
    /// - [`Lenient::OBS_FOLD`]: RFC 9112 §5.2, a user agent that receives
    ///   obs-fold in a response replaces each fold with SP before
    ///   interpreting the value;
    /// - [`Lenient::MISSING_REASON`]: `HTTP/1.1 200` with no SP and reason,
    ///   as real servers send (RFC 9112 §4: the reason is to be ignored).
    ///
    /// Neither flag affects requests, so a server given this configuration
    /// still rejects obs-fold.
    ///
    /// ```
    /// use wireloom_core::http::parse::{parse_response, ParseConfig, Status};
    /// use wireloom_core::http::ResponseHead;
    /// let buf = bytes::Bytes::from_static(b"HTTP/1.1 200\r\nX-Long: a\r\n  b\r\n\r\n");
    /// let mut raw = Vec::new();
    /// assert!(parse_response(&buf, &ParseConfig::default(), &mut raw).is_err());
    /// let Status::Complete(r) = parse_response(&buf, &ParseConfig::client(), &mut raw).unwrap()
    /// else { panic!() };
    /// let head = ResponseHead::from_raw(&buf, &r, &raw);
    /// assert_eq!((head.status.as_u16(), &head.reason[..]), (200, &b""[..]));
    /// assert_eq!(head.headers.get("x-long").unwrap(), "a b");
    /// ```
    pub fn client() -> ParseConfig {
        ParseConfig {
            lenient: Lenient::OBS_FOLD | Lenient::MISSING_REASON,
            ..ParseConfig::default()
        }
    }
}

/// One field line's position in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawHeader {
    /// Name range (start, end).
    pub name: (u32, u32),
    /// Value range, OWS trimmed; with obs-fold it spans the raw fold.
    pub value: (u32, u32),
    /// Whether the value holds an obs-fold (lenient responses only).
    pub folded: bool,
}

/// The request line's position in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRequest {
    /// Method range.
    pub method: (u32, u32),
    /// Target range.
    pub target: (u32, u32),
    /// Position of the first `?` in the target, if any: the query follows
    /// it (RFC 9112 §3.2). Lets the head builder skip looking for it again.
    pub query: Option<u32>,
    /// Protocol version.
    pub version: Version,
    /// Bytes of input the head used, including the empty line.
    pub head_len: usize,
}

/// The status line's position in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawResponse {
    /// Protocol version.
    pub version: Version,
    /// Status code, 100 to 999.
    pub status: u16,
    /// Reason phrase range (may be empty).
    pub reason: (u32, u32),
    /// Bytes of input the head used, including the empty line.
    pub head_len: usize,
}

#[inline(always)]
fn err<T>(kind: ErrorKind) -> Result<T, Error> {
    Err(Error::new(kind))
}

/// Where a line ending starts at `i`: `Some(Some(len))` for CRLF (2) or an
/// allowed bare LF (1), `Some(None)` when input ends inside it, `None` when
/// there is no line ending at `i`. A bare LF when not allowed, or a CR not
/// followed by LF, is an error.
#[inline(always)]
fn newline(buf: &[u8], i: usize, lenient: Lenient) -> Result<Option<Option<usize>>, Error> {
    match buf.get(i) {
        Some(b'\r') => match buf.get(i + 1) {
            Some(b'\n') => Ok(Some(Some(2))),
            Some(_) => err(ErrorKind::InvalidNewline),
            None => Ok(Some(None)),
        },
        Some(b'\n') if lenient.contains(Lenient::BARE_LF) => Ok(Some(Some(1))),
        Some(b'\n') => err(ErrorKind::InvalidNewline),
        Some(_) => Ok(None),
        None => Ok(Some(None)),
    }
}

/// The end of what a scan may look at: a line's scan stops at the line's own
/// limit (`line_limit`, an offset) and every scan at the head limit, so that
/// the verdict depends only on the bytes inside those windows, never on how
/// many more were received.
#[inline(always)]
fn window(buf: &[u8], line_limit: usize) -> &[u8] {
    &buf[..buf.len().min(line_limit)]
}

/// A scan ran out of its window `line` (see [`window`]): the line is too
/// long if the window is full, the head too large if the head window is
/// full, and otherwise more input is needed.
#[cold]
fn ran_out<T>(
    line: &[u8],
    line_limit: usize,
    too_long: ErrorKind,
    cfg: &ParseConfig,
) -> Result<Status<T>, Error> {
    if line.len() >= line_limit {
        err(too_long)
    } else if line.len() >= cfg.max_head {
        err(ErrorKind::HeadTooLarge)
    } else {
        Ok(Status::Partial)
    }
}

/// Parses a request head from the start of `buf`.
///
/// An error is returned as soon as the bytes given decide it: a prefix of a
/// head gives [`Status::Partial`] or the very error the whole head gives.
///
/// ```
/// use wireloom_core::http::parse::{parse_request, ParseConfig, Status};
/// use wireloom_core::http::ErrorKind;
/// let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\nrest";
/// let mut headers = Vec::new();
/// let Status::Complete(req) = parse_request(buf, &ParseConfig::default(), &mut headers).unwrap()
/// else { panic!() };
/// assert_eq!(req.head_len, buf.len() - 4);
/// assert_eq!(headers.len(), 1);
/// assert_eq!(parse_request(&buf[..10], &ParseConfig::default(), &mut headers).unwrap(), Status::Partial);
/// // A TLS ClientHello is no request, whatever follows its first byte.
/// let tls = parse_request(b"\x16\x03\x01", &ParseConfig::default(), &mut headers);
/// assert_eq!(tls.unwrap_err().kind(), ErrorKind::InvalidMethod);
/// ```
pub fn parse_request(
    buf: &[u8],
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
) -> Result<Status<RawRequest>, Error> {
    headers.clear();
    if buf.is_empty() {
        return Ok(Status::Partial);
    }
    let buf = window(buf, cfg.max_head);
    let lenient = cfg.lenient;
    let mut i = 0;
    // RFC 9112 §2.2: ignore empty lines before the request line (a few).
    for _ in 0..4 {
        match newline(buf, i, lenient)? {
            Some(Some(n)) => i += n,
            Some(None) => return ran_out(buf, usize::MAX, ErrorKind::RequestLineTooLong, cfg),
            None => break,
        }
    }
    let line_limit = i.saturating_add(cfg.max_request_line);
    let line = window(buf, line_limit);
    let out = |line: &[u8]| ran_out(line, line_limit, ErrorKind::RequestLineTooLong, cfg);

    // method SP
    let m_start = i;
    i = skip_tchars(line, i);
    if i == line.len() {
        return out(line);
    }
    if line[i] != b' ' || i == m_start {
        return err(ErrorKind::InvalidMethod);
    }
    let method = (m_start as u32, i as u32);
    i += 1;

    // request-target SP, noting where the first `?` is (the query).
    let t_start = i;
    let mut query = None;
    if lenient.contains(Lenient::TARGET_CHARS) {
        while i < line.len() && is_vchar(line[i]) && line[i] != b'#' {
            if line[i] == b'?' && query.is_none() {
                query = Some(i as u32);
            }
            i += 1;
        }
    } else {
        loop {
            // Runs of plain target characters, sixteen at a time; stops at
            // anything else, `%` and `?` included.
            i = find_target_stop(line, i);
            match line.get(i) {
                Some(b'?') => {
                    if query.is_none() {
                        query = Some(i as u32);
                    }
                    i += 1;
                }
                Some(b'%') => {
                    // pct-encoded = "%" HEXDIG HEXDIG
                    for k in 1..3 {
                        match line.get(i + k) {
                            Some(h) if h.is_ascii_hexdigit() => {}
                            Some(_) => return err(ErrorKind::InvalidTarget),
                            None => return out(line),
                        }
                    }
                    i += 3;
                }
                _ => break,
            }
        }
    }
    if i >= line.len() {
        return out(line);
    }
    if i == t_start {
        return err(ErrorKind::InvalidTarget);
    }
    match line[i] {
        b' ' => {}
        b'\r' | b'\n' => return err(ErrorKind::InvalidStartLine),
        _ => return err(ErrorKind::InvalidTarget),
    }
    let target = (t_start as u32, i as u32);
    i += 1;

    // HTTP-version CRLF
    let version = match parse_version(line, i)? {
        Some(v) => v,
        None => return out(line),
    };
    i += 8;
    match newline(line, i, lenient)? {
        Some(Some(n)) => i += n,
        Some(None) => return out(line),
        None => return err(ErrorKind::InvalidStartLine),
    }
    match fields(buf, i, cfg, headers, Fields::Request)? {
        Status::Complete(head_len) => Ok(Status::Complete(RawRequest {
            method,
            target,
            query,
            version,
            head_len,
        })),
        Status::Partial => Ok(Status::Partial),
    }
}

/// Parses a response head from the start of `buf`. Like [`parse_request`],
/// it fails as soon as the bytes given decide it. The status line is bounded
/// by `max_header_line`.
pub fn parse_response(
    buf: &[u8],
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
) -> Result<Status<RawResponse>, Error> {
    headers.clear();
    if buf.is_empty() {
        return Ok(Status::Partial);
    }
    let buf = window(buf, cfg.max_head);
    let lenient = cfg.lenient;
    let line_limit = cfg.max_header_line;
    let line = window(buf, line_limit);
    let out = |line: &[u8]| ran_out(line, line_limit, ErrorKind::HeaderLineTooLong, cfg);
    let version = match parse_version(line, 0)? {
        Some(v) => v,
        None => return out(line),
    };
    let mut i = 8;
    // SP 3DIGIT, each byte judged as it arrives.
    match line.get(i) {
        None => return out(line),
        Some(b' ') => i += 1,
        Some(_) => return err(ErrorKind::InvalidStartLine),
    }
    let mut status = 0u16;
    for k in 0..3 {
        match line.get(i + k) {
            None => return out(line),
            // A status below 100 is no status.
            Some(b'0') if k == 0 => return err(ErrorKind::InvalidStatus),
            Some(&d) if d.is_ascii_digit() => status = status * 10 + (d - b'0') as u16,
            Some(_) => return err(ErrorKind::InvalidStatus),
        }
    }
    i += 3;
    // SP reason-phrase CRLF
    let reason;
    match line.get(i) {
        None => return out(line),
        Some(b' ') => {
            i += 1;
            let r_start = i;
            while i < line.len() && is_field_char(line[i]) {
                i += 1;
            }
            reason = (r_start as u32, i as u32);
            match newline(line, i, lenient)? {
                Some(Some(n)) => i += n,
                Some(None) => return out(line),
                None => return err(ErrorKind::InvalidReason),
            }
        }
        Some(b'\r' | b'\n') if lenient.contains(Lenient::MISSING_REASON) => {
            reason = (i as u32, i as u32);
            match newline(line, i, lenient)? {
                Some(Some(n)) => i += n,
                Some(None) => return out(line),
                None => return err(ErrorKind::InvalidStartLine),
            }
        }
        Some(_) => return err(ErrorKind::InvalidStartLine),
    }
    match fields(buf, i, cfg, headers, Fields::Response)? {
        Status::Complete(head_len) => Ok(Status::Complete(RawResponse {
            version,
            status,
            reason,
            head_len,
        })),
        Status::Partial => Ok(Status::Partial),
    }
}

/// `HTTP/1.1` or `HTTP/1.0` at `i`; `None` when input ends first.
#[inline(always)]
fn parse_version(buf: &[u8], i: usize) -> Result<Option<Version>, Error> {
    match buf.get(i..i + 8) {
        Some(b"HTTP/1.1") => Ok(Some(Version::Http11)),
        Some(b"HTTP/1.0") => Ok(Some(Version::Http10)),
        _ => version_bytes(buf, i),
    }
}

/// Judges the version bytes present at `i` one at a time, so that the first
/// byte that rules out `HTTP/1.0` and `HTTP/1.1` decides, however many
/// follow: a byte that fits no `HTTP/` DIGIT `.` DIGIT is
/// [`ErrorKind::InvalidVersion`] (400), a digit that names another version
/// [`ErrorKind::UnsupportedVersion`] (505). `HTTP/5.` is refused as soon as
/// the `5` is in.
#[cold]
fn version_bytes(buf: &[u8], i: usize) -> Result<Option<Version>, Error> {
    let have = buf.get(i..).unwrap_or_default();
    for (k, &c) in have.iter().take(8).enumerate() {
        let fits = match k {
            0..=4 => c == b"HTTP/"[k],
            6 => c == b'.',
            // Major 1, minor 0 or 1.
            _ if !c.is_ascii_digit() => false,
            5 if c != b'1' => return err(ErrorKind::UnsupportedVersion),
            7 if c > b'1' => return err(ErrorKind::UnsupportedVersion),
            _ => true,
        };
        if !fits {
            return err(ErrorKind::InvalidVersion);
        }
    }
    // Eight fitting bytes are HTTP/1.0 or HTTP/1.1, matched by the caller.
    Ok(None)
}

/// Parses field lines from `start` up to and including the empty line; returns
/// the offset just past it. Used for heads and for chunked trailers
/// (`response` allows the response-only leniency flags). Like the head
/// parsers, it fails as soon as the bytes given decide it.
pub fn parse_fields(
    buf: &[u8],
    start: usize,
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
    response: bool,
) -> Result<Status<usize>, Error> {
    let kind = if response {
        Fields::Response
    } else {
        Fields::Trailer
    };
    fields(window(buf, cfg.max_head), start, cfg, headers, kind)
}

/// Which field section is parsed: the leniency flags for responses apply to
/// response heads only, and a request head's `Content-Length` lines are
/// judged as each one completes (a server refuses them before the rest of
/// the head arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    Request,
    Response,
    Trailer,
}

/// The field-line loop of [`parse_fields`]; `buf` is already cut to the head
/// limit.
#[inline(always)]
fn fields(
    buf: &[u8],
    start: usize,
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
    kind: Fields,
) -> Result<Status<usize>, Error> {
    let lenient = cfg.lenient;
    let mut content_length = None;
    let mut i = start;
    loop {
        let line_start = i;
        let line_limit = line_start.saturating_add(cfg.max_header_line);
        let line = window(buf, line_limit);
        let out = |line: &[u8]| ran_out(line, line_limit, ErrorKind::HeaderLineTooLong, cfg);
        // End of head?
        match newline(line, i, lenient)? {
            Some(Some(n)) => return Ok(Status::Complete(i + n)),
            Some(None) => return out(line),
            None => {}
        }
        let c = line[i];
        if c == b' ' || c == b'\t' {
            // obs-fold: continues the previous field's value.
            let Some(last) = headers.last_mut() else {
                return err(ErrorKind::LeadingWhitespace);
            };
            if !(kind == Fields::Response && lenient.contains(Lenient::OBS_FOLD)) {
                return err(ErrorKind::ObsFold);
            }
            let (end, next) = match scan_value(line, i, lenient)? {
                Some(x) => x,
                None => return out(line),
            };
            let mut e = end;
            while e > i && matches!(line[e - 1], b' ' | b'\t') {
                e -= 1;
            }
            // Only extend when the continuation carries text.
            if e > i && !line[i..e].iter().all(|&c| c == b' ' || c == b'\t') {
                if last.value.0 == last.value.1 {
                    let s = i + line[i..e]
                        .iter()
                        .take_while(|&&c| c == b' ' || c == b'\t')
                        .count();
                    last.value = (s as u32, e as u32);
                } else {
                    last.value.1 = e as u32;
                    last.folded = true;
                }
            }
            i = next;
            continue;
        }
        // field-name
        let n_start = i;
        i = skip_tchars(line, i);
        if i == line.len() {
            return out(line);
        }
        let n_end = i;
        match line[i] {
            b':' if i > n_start => {}
            b' ' | b'\t' if i > n_start => {
                while i < line.len() && matches!(line[i], b' ' | b'\t') {
                    i += 1;
                }
                match line.get(i) {
                    None => return out(line),
                    Some(b':')
                        if kind == Fields::Response
                            && lenient.contains(Lenient::SPACE_BEFORE_COLON) => {}
                    Some(b':') => return err(ErrorKind::SpaceBeforeColon),
                    Some(_) => return err(ErrorKind::InvalidHeaderName),
                }
            }
            _ => return err(ErrorKind::InvalidHeaderName),
        }
        i += 1;
        // OWS field-value OWS
        while i < line.len() && matches!(line[i], b' ' | b'\t') {
            i += 1;
        }
        let v_start = i;
        let (mut v_end, next) = match scan_value(line, i, lenient)? {
            Some(x) => x,
            None => return out(line),
        };
        while v_end > v_start && matches!(line[v_end - 1], b' ' | b'\t') {
            v_end -= 1;
        }
        if headers.len() >= cfg.max_headers {
            return err(ErrorKind::TooManyHeaders);
        }
        if kind == Fields::Request
            && n_end - n_start == 14
            && line[n_start..n_end].eq_ignore_ascii_case(b"content-length")
        {
            add_content_length(&line[v_start..v_end], &mut content_length)?;
        }
        headers.push(RawHeader {
            name: (n_start as u32, n_end as u32),
            value: (v_start as u32, v_end as u32),
            folded: false,
        });
        i = next;
    }
}

/// Fail-fast check of a head that is still incomplete, for a connection
/// that parses a head only when a line ending arrives: between two such
/// parses, only the unfinished last line is new, and it alone is checked,
/// with the verdict the full parse would give (so the error never depends
/// on how the input was split).
///
/// `last_lf` is the offset of the last LF in `buf` (`None` if there is none);
/// `headers` holds what the last full parse (of a prefix of `buf` holding
/// that LF) left in it. Cost: the unfinished line, at most one line limit.
pub(crate) fn check_unfinished(
    buf: &[u8],
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
    last_lf: Option<usize>,
    response: bool,
) -> Result<(), Error> {
    // Whether the start line is complete; a request may follow empty lines
    // (RFC 9112 §2.2).
    let fields_from = match last_lf {
        Some(p) if response || buf.iter().take(p).any(|&c| c != b'\r' && c != b'\n') => p + 1,
        _ => {
            // Still in the start line, bounded by its limit.
            if response {
                parse_response(buf, cfg, headers)?;
            } else {
                parse_request(buf, cfg, headers)?;
            }
            return Ok(());
        }
    };
    let kind = if response {
        Fields::Response
    } else {
        Fields::Request
    };
    fields(window(buf, cfg.max_head), fields_from, cfg, headers, kind)?;
    Ok(())
}

/// Scans a field value from `i`: returns (end of value, start of next line),
/// or `None` when the input ends first.
#[inline(always)]
fn scan_value(buf: &[u8], mut i: usize, lenient: Lenient) -> Result<Option<(usize, usize)>, Error> {
    loop {
        let Some(j) = find_ctl(buf, i) else {
            return Ok(None);
        };
        match buf[j] {
            b'\t' => i = j + 1,
            b'\r' => {
                return match buf.get(j + 1) {
                    Some(b'\n') => Ok(Some((j, j + 2))),
                    Some(_) => err(ErrorKind::InvalidNewline),
                    None => Ok(None),
                }
            }
            b'\n' if lenient.contains(Lenient::BARE_LF) => return Ok(Some((j, j + 1))),
            b'\n' => return err(ErrorKind::InvalidNewline),
            _ => return err(ErrorKind::InvalidHeaderValue),
        }
    }
}

/// Builds a [`HeaderMap`] over `buf` from parsed positions: one shared
/// `buf` plus the positions, nothing copied (see [`HeaderMap`]). Folded
/// values are unfolded (each fold becomes one SP). Panics if a position
/// lies outside `buf`.
pub fn headers_from_raw(buf: &Bytes, raw: &[RawHeader]) -> HeaderMap {
    headers_at(buf.clone(), raw)
}

/// [`headers_from_raw`] taking the buffer by value.
#[inline]
fn headers_at(buf: Bytes, raw: &[RawHeader]) -> HeaderMap {
    match Spans::new(buf.len(), raw, |_, _| {}) {
        Some(spans) => HeaderMap::from_spans(buf, spans),
        None => HeaderMap::from_raw_slow(&buf, raw),
    }
}

impl RequestHead {
    /// Freezes a parsed request into shared slices of `buf` (the bytes given to
    /// [`parse_request`]) and checks what the line scan does not: the
    /// target's form for the method and the Host rule of RFC 9112 §3.2.
    ///
    /// `raw` and `headers` are what [`parse_request`] returned for `buf`
    /// under the same `cfg`: the scan already checked every byte (the
    /// target's characters and `%HH` escapes by `cfg`'s rule, the method and
    /// names as tokens, the values), and none of that is done again. The
    /// head holds `buf` once (in its [`HeaderMap`]) plus a slice of it for
    /// the target.
    #[inline]
    pub fn from_raw(
        buf: &Bytes,
        raw: &RawRequest,
        headers: &[RawHeader],
        cfg: &ParseConfig,
    ) -> Result<RequestHead, Error> {
        request_head(buf.clone(), raw, headers, cfg)
    }
}

/// [`RequestHead::from_raw`] taking the buffer by value, so that a
/// connection hands over the head it split off without one more reference.
#[inline]
pub(crate) fn request_head(
    buf: Bytes,
    raw: &RawRequest,
    headers: &[RawHeader],
    cfg: &ParseConfig,
) -> Result<RequestHead, Error> {
    let m = raw.method.0 as usize..raw.method.1 as usize;
    let method = Method::from_wire(&buf[m.clone()], || buf.slice(m))
        .map_err(|_| Error::new(ErrorKind::InvalidMethod))?;
    let t = raw.target.0 as usize..raw.target.1 as usize;
    let query = raw.query.map(|q| q as usize);
    debug_assert!(
        check_target_chars(&buf[t.clone()], cfg.lenient.contains(Lenient::TARGET_CHARS)).is_ok(),
        "from_raw: the target was not scanned under this configuration"
    );
    debug_assert_eq!(
        query,
        memchr::memchr(b'?', &buf[t.clone()]).map(|q| q + t.start)
    );
    let layout =
        match RequestTarget::scanned_layout(&buf[t.clone()], query.map(|q| q - t.start), &method) {
            Ok(l) => l,
            Err(_) => return err(ErrorKind::InvalidTarget),
        };
    // The Host rule (RFC 9112 §3.2), on the positions while they are
    // copied: HTTP/1.1 needs exactly one valid Host, HTTP/1.0 at most one.
    let mut hosts = 0u32;
    let mut hosts_valid = true;
    let mut count_host = |name: &[u8], value: &[u8]| {
        if name.len() == 4 && name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            hosts_valid &= valid_host(value);
        }
    };
    let fields = match Spans::new(buf.len(), headers, |n, v| count_host(&buf[n], &buf[v])) {
        Some(spans) => Ok(spans),
        None => {
            // Positions not from the scan, or a folded value: the slow map
            // checks them (and unfolds); Host is counted on it.
            let map = HeaderMap::from_raw_slow(&buf, headers);
            (hosts, hosts_valid) = (0, true);
            for (n, v) in map.iter_bytes() {
                if n.eq_ignore_ascii_case(b"host") {
                    hosts += 1;
                    hosts_valid &= valid_host(v);
                }
            }
            Err(map)
        }
    };
    let host_ok = match raw.version {
        Version::Http11 => hosts == 1 && hosts_valid,
        Version::Http10 => hosts <= 1,
    };
    if !host_ok {
        return err(ErrorKind::InvalidHost);
    }
    let target = RequestTarget::from_layout(buf.slice(t), layout);
    Ok(RequestHead {
        method,
        target,
        version: raw.version,
        headers: match fields {
            Ok(spans) => HeaderMap::from_spans(buf, spans),
            Err(map) => map,
        },
    })
}

/// Host = uri-host [ ":" port ]; empty is allowed (RFC 9112 §3.2).
#[inline]
fn valid_host(h: &[u8]) -> bool {
    // Branch-free: host values are short and nearly always valid.
    h.iter().fold(true, |ok, &c| ok & is_host_char(c))
}

impl ResponseHead {
    /// Freezes a parsed response into shared slices of `buf`.
    #[inline]
    pub fn from_raw(buf: &Bytes, raw: &RawResponse, headers: &[RawHeader]) -> ResponseHead {
        response_head(buf.clone(), raw, headers)
    }
}

/// [`ResponseHead::from_raw`] taking the buffer by value.
#[inline]
pub(crate) fn response_head(buf: Bytes, raw: &RawResponse, headers: &[RawHeader]) -> ResponseHead {
    let status = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::OK);
    let reason = raw.reason.0 as usize..raw.reason.1 as usize;
    // The registered phrase as sent (`200 OK`): the same bytes from a
    // static, no reference to the head.
    let reason = match status.reason() {
        Some(r) if r.as_bytes() == &buf[reason.clone()] => Bytes::from_static(r.as_bytes()),
        _ => buf.slice(reason),
    };
    ResponseHead {
        version: raw.version,
        status,
        reason,
        headers: headers_at(buf, headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every strict prefix of a complete head is Partial (or, for invalid
    /// input, the same error once the offending byte is in), and the whole
    /// head is Complete with the same result whatever came after it.
    fn check_request(input: &[u8]) -> Result<(RawRequest, Vec<RawHeader>), ErrorKind> {
        check_request_with(input, &ParseConfig::default())
    }

    fn check_request_with(
        input: &[u8],
        cfg: &ParseConfig,
    ) -> Result<(RawRequest, Vec<RawHeader>), ErrorKind> {
        let cfg = cfg.clone();
        let mut h = Vec::new();
        let whole = parse_request(input, &cfg, &mut h).map_err(|e| e.kind());
        let whole_headers = h.clone();
        for i in 0..input.len() {
            match parse_request(&input[..i], &cfg, &mut h) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(r)) => {
                    assert_eq!(whole, Ok(Status::Complete(r)), "prefix {i} completed early");
                    return Ok((r, h));
                }
                Err(e) => assert_eq!(whole, Err(e.kind()), "prefix {i}"),
            }
        }
        match whole? {
            Status::Complete(r) => Ok((r, whole_headers)),
            Status::Partial => Err(ErrorKind::IncompleteMessage),
        }
    }

    #[test]
    fn request_vectors() {
        let (r, h) =
            check_request(b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y:  v  w \t\r\n\r\nBODY").unwrap();
        assert_eq!(r.version, Version::Http11);
        assert_eq!(r.head_len, 44);
        assert_eq!((r.target.0, r.target.1), (4, 8));
        assert_eq!(h.len(), 2);
        let input = b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y:  v  w \t\r\n\r\n";
        assert_eq!(
            &input[h[1].value.0 as usize..h[1].value.1 as usize],
            b"v  w"
        );
        assert_eq!(
            check_request(b"GET / HTTP/1.1\r\nX-A: \x80\xff\r\n\r\n").map(|(_, h)| h.len()),
            Ok(1)
        );
        use ErrorKind::*;
        for (input, kind) in [
            (&b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"[..], ObsFold),
            (b"GET / HTTP/1.1\r\nA : b\r\n\r\n", SpaceBeforeColon),
            (b"GET / HTTP/1.1\nA: b\r\n\r\n", InvalidNewline),
            (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", InvalidNewline),
            (b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n", InvalidHeaderValue),
            (b"GET / HTTP/1.2\r\n\r\n", UnsupportedVersion),
            (b"GET / XTTP/1.1\r\n\r\n", InvalidVersion),
            (b"GET / HTTP/1.1 \r\n\r\n", InvalidStartLine),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", InvalidTarget),
            (b"GET /%4 HTTP/1.1\r\n\r\n", InvalidTarget),
            (b"G\x00T / HTTP/1.1\r\n\r\n", InvalidMethod),
            (b" GET / HTTP/1.1\r\n\r\n", InvalidMethod),
            (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", LeadingWhitespace),
            (b"GET / HTTP/1.1\r\n\x00: x\r\n\r\n", InvalidHeaderName),
        ] {
            assert_eq!(
                check_request(input).map(|_| ()),
                Err(kind),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits() {
        let cfg = ParseConfig {
            max_headers: 2,
            max_head: 60,
            max_header_line: 20,
            max_request_line: 20,
            ..ParseConfig::default()
        };
        let mut h = Vec::new();
        let kind = |input: &[u8], h: &mut Vec<RawHeader>| {
            parse_request(input, &cfg, h).map_err(|e| e.kind())
        };
        assert_eq!(
            kind(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &mut h),
            Err(ErrorKind::TooManyHeaders)
        );
        assert_eq!(
            kind(b"GET /aaaaaaaaaaaaaaaaaaaaaa", &mut h),
            Err(ErrorKind::RequestLineTooLong)
        );
        assert_eq!(
            kind(b"GET / HTTP/1.1\r\nA: 1111111111111111111", &mut h),
            Err(ErrorKind::HeaderLineTooLong)
        );
        assert_eq!(
            kind(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n", &mut h),
            Ok(Status::Partial)
        );
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b"\r\n", 1).flatten());
        assert!(kind(&big, &mut h).is_ok());
        let cfg2 = ParseConfig {
            max_head: 30,
            ..ParseConfig::default()
        };
        assert_eq!(
            parse_request(
                b"GET / HTTP/1.1\r\nA: 1\r\nB: 22222222\r\n\r\n",
                &cfg2,
                &mut h
            )
            .map_err(|e| e.kind()),
            Err(ErrorKind::HeadTooLarge)
        );
    }

    #[test]
    fn response_vectors_and_leniency() {
        let mut h = Vec::new();
        let strict = ParseConfig::default();
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n", &strict, &mut h)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((r.status, r.reason), (404, (13, 22)));
        let lenient = ParseConfig {
            lenient: Lenient::MISSING_REASON
                | Lenient::OBS_FOLD
                | Lenient::SPACE_BEFORE_COLON
                | Lenient::BARE_LF,
            ..ParseConfig::default()
        };
        let input = b"HTTP/1.1 200\nA : x\n  y\nB: z\n\n";
        assert!(parse_response(input, &strict, &mut h).is_err());
        let r = parse_response(input, &lenient, &mut h)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(r.head_len, input.len());
        let map = headers_from_raw(&Bytes::from_static(input), &h);
        assert_eq!(map.get("a").unwrap(), "x y");
        assert_eq!(map.get("b").unwrap(), "z");
        // Leniency for obs-fold never applies to requests.
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nA: x\r\n y\r\n\r\n", &lenient, &mut h)
                .unwrap_err()
                .kind(),
            ErrorKind::ObsFold
        );
    }

    /// The same prefix rule for responses.
    fn check_response_with(input: &[u8], cfg: &ParseConfig) -> Result<RawResponse, ErrorKind> {
        let mut h = Vec::new();
        let whole = parse_response(input, cfg, &mut h).map_err(|e| e.kind());
        for i in 0..input.len() {
            match parse_response(&input[..i], cfg, &mut h) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(r)) => {
                    assert_eq!(whole, Ok(Status::Complete(r)), "prefix {i} completed early");
                    return Ok(r);
                }
                Err(e) => assert_eq!(whole, Err(e.kind()), "prefix {i}"),
            }
        }
        match whole? {
            Status::Complete(r) => Ok(r),
            Status::Partial => Err(ErrorKind::IncompleteMessage),
        }
    }

    /// The shortest prefix of `input` that the request parser refuses.
    fn decided_at(input: &[u8], cfg: &ParseConfig) -> Option<usize> {
        let mut h = Vec::new();
        (0..=input.len()).find(|&i| parse_request(&input[..i], cfg, &mut h).is_err())
    }

    /// Fail fast: each input is refused as soon as the bytes named are in,
    /// with the error the whole input gives (and every prefix in between).
    #[test]
    fn requests_fail_fast() {
        use ErrorKind::*;
        let cfg = ParseConfig::default();
        for (input, kind, at) in [
            // Bytes that cannot start a request line.
            (&b"\x00GET / HTTP/1.1\r\n\r\n"[..], InvalidMethod, 1),
            (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                InvalidMethod,
                1,
            ),
            (b"(GET / HTTP/1.1\r\n", InvalidMethod, 1),
            (b" GET / HTTP/1.1\r\n", InvalidMethod, 1),
            (b"\r\n\x16\x03\x01", InvalidMethod, 3),
            (b"\r\n\r\n\x00", InvalidMethod, 5),
            // A bare CR, wherever it is.
            (b"\rX", InvalidNewline, 2),
            (b"\r\n\rGET", InvalidNewline, 4),
            (b"GET / HTTP/1.1\rX", InvalidNewline, 16),
            (
                b"GET / HTTP/1.1\r\nHost: a\rb: c\r\n\r\n",
                InvalidNewline,
                25,
            ),
            (b"GET / HTTP/1.1\r\nHo\rst: a\r\n", InvalidHeaderName, 19),
            (b"GET /a\rb HTTP/1.1\r\n", InvalidStartLine, 7),
            // Impossible versions, as soon as they are visible.
            (b"GET / HTTP/5.1\r\n", UnsupportedVersion, 12),
            (b"GET / HTTP/5.x\r\n", UnsupportedVersion, 12),
            (b"GET / HTTP/1.9\r\n", UnsupportedVersion, 14),
            (b"GET / HTTX/1.1\r\n", InvalidVersion, 10),
            (b"GET / http/1.1\r\n", InvalidVersion, 7),
            (b"GET / HTTP/x.1\r\n", InvalidVersion, 12),
            (b"GET / HTTP/11.1\r\n", InvalidVersion, 13),
            (b"GET / HTTP/1,1\r\n", InvalidVersion, 13),
            (b"GET / HTTP/1.1 \r\n", InvalidStartLine, 15),
            // A complete Content-Length line that is invalid, overflowing or
            // conflicting, before the rest of the head.
            (
                b"POST / HTTP/1.1\r\nContent-Length: abc\r\nHost: a\r\n\r\n",
                InvalidContentLength,
                38,
            ),
            (
                b"POST / HTTP/1.1\r\ncontent-length: -1\r\n",
                InvalidContentLength,
                37,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length:\r\n",
                InvalidContentLength,
                34,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n",
                InvalidContentLength,
                38,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n",
                InvalidContentLength,
                55,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nCONTENT-LENGTH: 6\r\n",
                ConflictingContentLength,
                55,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n",
                ConflictingContentLength,
                39,
            ),
        ] {
            let what = String::from_utf8_lossy(input);
            assert_eq!(check_request(input).map(|_| ()), Err(kind), "{what:?}");
            assert_eq!(decided_at(input, &cfg), Some(at), "{what:?}");
        }
        // Allowed: leading empty lines, repeated identical lengths, a
        // Content-Length in trailers is not the parser's business.
        for input in [
            &b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Lengths: x\r\nContent-Lengt: y\r\n\r\n",
        ] {
            assert!(
                check_request(input).is_ok(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let mut h = Vec::new();
        assert!(parse_fields(b"Content-Length: x\r\n\r\n", 0, &cfg, &mut h, false).is_ok());
    }

    /// The version is judged byte by byte: the first byte that rules out
    /// HTTP/1.0 and HTTP/1.1 decides between 400 and 505.
    #[test]
    fn version_verdicts() {
        use ErrorKind::*;
        for (v, kind) in [
            ("HTTP/1.1", None),
            ("HTTP/1.0", None),
            ("HTTP/1.2", Some(UnsupportedVersion)),
            ("HTTP/2.0", Some(UnsupportedVersion)),
            ("HTTP/0.9", Some(UnsupportedVersion)),
            ("HTTP/9.9", Some(UnsupportedVersion)),
            ("HTTP/2", Some(UnsupportedVersion)),
            ("HTTP/1.", None),
            ("HTTP/1.a", Some(InvalidVersion)),
            ("HTTP/a.1", Some(InvalidVersion)),
            ("HTTP/10", Some(InvalidVersion)),
            ("HTTPS/1.1", Some(InvalidVersion)),
            ("Http/1.1", Some(InvalidVersion)),
            ("HTTP1.1", Some(InvalidVersion)),
            ("", None),
        ] {
            let got = parse_version(v.as_bytes(), 0).err().map(|e| e.kind());
            assert_eq!(got, kind, "{v}");
        }
    }

    /// Bytes past a line limit or the head limit never change the verdict:
    /// an error beyond the limit is not seen, whole or split.
    #[test]
    fn limits_decide_the_same_whole_or_split() {
        use ErrorKind::*;
        let cfg = ParseConfig {
            max_request_line: 24,
            max_header_line: 16,
            max_head: 64,
            ..ParseConfig::default()
        };
        let long = |prefix: &str, n: usize, suffix: &str| {
            let mut v = prefix.as_bytes().to_vec();
            v.extend(std::iter::repeat_n(b'a', n));
            v.extend_from_slice(suffix.as_bytes());
            v
        };
        for (input, kind) in [
            // A bad byte past the request line limit: the line is too long.
            (
                long("GET /", 40, "\x7f HTTP/1.1\r\n\r\n"),
                RequestLineTooLong,
            ),
            (
                long("GET", 40, "\x00 / HTTP/1.1\r\n\r\n"),
                RequestLineTooLong,
            ),
            // ...but within it, the bad byte decides.
            (long("GET /", 4, "\x7f HTTP/1.1\r\n\r\n"), InvalidTarget),
            // The same for field lines: a CTL or bare CR past the limit.
            (
                long("GET / HTTP/1.1\r\nA: ", 20, "\x01\r\n\r\n"),
                HeaderLineTooLong,
            ),
            (
                long("GET / HTTP/1.1\r\nA: ", 20, "\rX\r\n\r\n"),
                HeaderLineTooLong,
            ),
            (
                long("GET / HTTP/1.1\r\nA", 20, "\x01: b\r\n\r\n"),
                HeaderLineTooLong,
            ),
            (
                long("GET / HTTP/1.1\r\nA: ", 4, "\x01\r\n\r\n"),
                InvalidHeaderValue,
            ),
            // A line whose CRLF straddles the limit is too long.
            (
                long("GET / HTTP/1.1\r\nA: ", 12, "\r\n\r\n"),
                HeaderLineTooLong,
            ),
            (
                long("GET / HTTP/1.1\r\nA: ", 11, "\r\nHost: b\r\n\r\n"),
                InvalidHost,
            ),
            // Past the head limit: too large, whatever comes after.
            (
                long(
                    &format!("GET / HTTP/1.1\r\n{}", "A: b\r\n".repeat(8)),
                    0,
                    "K\x01: l\r\n\r\n",
                ),
                HeadTooLarge,
            ),
            (
                long(
                    &format!("GET / HTTP/1.1\r\n{}", "A: b\r\n".repeat(7)),
                    0,
                    "K\x01: l\r\n\r\n",
                ),
                InvalidHeaderName,
            ),
        ] {
            let what = String::from_utf8_lossy(&input).into_owned();
            let got = check_request_with(&input, &cfg).map(|_| ());
            let got = match got {
                // Host is checked by from_raw, after the head: show it here.
                Ok(()) => Err(InvalidHost),
                e => e,
            };
            assert_eq!(got, Err(kind), "{what:?}");
        }
        // Status lines are bounded by max_header_line.
        let mut h = Vec::new();
        let status = long("HTTP/1.1 200 ", 10, "\x01\r\n\r\n");
        assert_eq!(check_response_with(&status, &cfg), Err(HeaderLineTooLong));
        assert_eq!(
            parse_response(&status[..16], &cfg, &mut h)
                .unwrap_err()
                .kind(),
            HeaderLineTooLong
        );
    }

    #[test]
    fn responses_fail_fast_and_client_defaults() {
        use ErrorKind::*;
        let strict = ParseConfig::default();
        let client = ParseConfig::client();
        for (input, kind) in [
            (&b"HTTX/1.1 200 OK\r\n\r\n"[..], InvalidVersion),
            (b"\x16\x03\x03\x00\x02\x02\x28", InvalidVersion),
            (b"HTTP/5.0 200 OK\r\n\r\n", UnsupportedVersion),
            (b"HTTP/1.1 099 Low\r\n\r\n", InvalidStatus),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", InvalidStatus),
            (b"HTTP/1.1 2000 OK\r\n\r\n", InvalidStartLine),
            (b"HTTP/1.1  200 OK\r\n\r\n", InvalidStatus),
            (b"HTTP/1.1 200 OK\rX\r\n\r\n", InvalidNewline),
            (b"HTTP/1.1 200 O\x00K\r\n\r\n", InvalidReason),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n\x00", InvalidHeaderName),
        ] {
            for cfg in [&strict, &client] {
                assert_eq!(
                    check_response_with(input, cfg).map(|_| ()),
                    Err(kind),
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        // A bare LF after the status code: not even a missing reason.
        let bare = b"HTTP/1.1 200\n\r\n";
        assert_eq!(check_response_with(bare, &strict), Err(InvalidStartLine));
        assert_eq!(check_response_with(bare, &client), Err(InvalidNewline));
        // Missing reason and obs-fold: refused by the strict default,
        // accepted by the client's.
        let buf = Bytes::from_static(
            b"HTTP/1.1 200\r\nA: x \t\r\n  y\r\n\t z \r\nB:\r\n w\r\nC: v\r\n\r\n",
        );
        assert_eq!(check_response_with(&buf, &strict), Err(InvalidStartLine));
        let r = check_response_with(&buf, &client).unwrap();
        assert_eq!(r.reason, (12, 12));
        let mut h = Vec::new();
        parse_response(&buf, &client, &mut h).unwrap();
        let head = ResponseHead::from_raw(&buf, &r, &h);
        assert!(head.reason.is_empty());
        let fields: Vec<(&str, &[u8])> = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        assert_eq!(fields, [("A", &b"x y z"[..]), ("B", b"w"), ("C", b"v")]);
        let folded = b"HTTP/1.1 200 OK\r\nA: x\r\n y\r\n\r\n";
        assert_eq!(check_response_with(folded, &strict), Err(ObsFold));
        // Requests and trailers keep refusing obs-fold and a space before
        // the colon, whatever the flags.
        let lenient = ParseConfig {
            lenient: Lenient::OBS_FOLD | Lenient::MISSING_REASON | Lenient::SPACE_BEFORE_COLON,
            ..ParseConfig::default()
        };
        assert_eq!(
            check_request_with(b"GET / HTTP/1.1\r\nA: x\r\n y\r\n\r\n", &lenient).map(|_| ()),
            Err(ObsFold)
        );
        assert_eq!(
            parse_fields(b"A: x\r\n y\r\n\r\n", 0, &lenient, &mut h, false)
                .unwrap_err()
                .kind(),
            ObsFold
        );
        // A fold never starts the head.
        assert_eq!(
            check_response_with(b"HTTP/1.1 200 OK\r\n A: x\r\n\r\n", &client).map(|_| ()),
            Err(LeadingWhitespace)
        );
    }

    /// `check_unfinished` gives, for the unfinished last line, the verdict of
    /// the full parse, with the headers the last full parse left.
    #[test]
    fn unfinished_line_check_matches_the_full_parse() {
        let cfg = ParseConfig::default();
        let inputs: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: a\r\nX: y\x01",
            b"GET / HTTP/1.1\r\nHost: a\r\n y",
            b"GET / HTTP/1.1\r\n y",
            b"GET / HTTP/1.1\r\nHost: a\r\nX\x00",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: ok",
            b"\r\n\r\nGET / HTTP/5",
            b"\r\n\r\nGET / HTTP/1",
            b"\r\n\r\n\x16",
            b"GET / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5",
        ];
        for input in inputs {
            let mut full = Vec::new();
            let want = parse_request(input, &cfg, &mut full)
                .map(|_| ())
                .map_err(|e| e.kind());
            let last_lf = input.iter().rposition(|&c| c == b'\n');
            let mut h = Vec::new();
            if let Some(p) = last_lf {
                let _ = parse_request(&input[..=p], &cfg, &mut h);
            }
            let got = check_unfinished(input, &cfg, &mut h, last_lf, false).map_err(|e| e.kind());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
        let inputs: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nA: b\r\n c\x01",
            b"HTTP/1.1 200 OK\r\n c",
            b"HTTP/1.1 200 OK\r\nA: b\r\n c",
            b"HTTP/1.1 2",
            b"HTTP/1.1 200\r\nX",
        ];
        let cfg = ParseConfig::client();
        for input in inputs {
            let mut full = Vec::new();
            let want = parse_response(input, &cfg, &mut full)
                .map(|_| ())
                .map_err(|e| e.kind());
            let last_lf = input.iter().rposition(|&c| c == b'\n');
            let mut h = Vec::new();
            if let Some(p) = last_lf {
                let _ = parse_response(&input[..=p], &cfg, &mut h);
            }
            let got = check_unfinished(input, &cfg, &mut h, last_lf, true).map_err(|e| e.kind());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
