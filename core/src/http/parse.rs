//! The zero-copy head parser.
//!
//! [`parse_request`] and [`parse_response`] work over a borrowed `&[u8]` and
//! return offsets, like httparse: nothing is allocated but the caller's
//! reusable `Vec<RawHeader>`. Running out of input is [`Status::Partial`],
//! never an error. [`RequestHead::from_raw`] and [`ResponseHead::from_raw`]
//! then freeze the head into shared [`Bytes`] slices without copying.
//!
//! Strict RFC 9112 by default; [`Lenient`] flags opt in to what real peers send.

use bytes::Bytes;

use super::chars::{find_ctl, find_non_uri, is_field_char, is_vchar, skip_tchars};
use super::error::{Error, ErrorKind};
use super::header::{HeaderMap, HeaderName, HeaderValue};
use super::message::{RequestHead, ResponseHead};
use super::uri::RequestTarget;
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
    /// Accept obs-fold line continuations in responses (replaced by one SP).
    /// Requests with obs-fold are always rejected.
    pub const OBS_FOLD: Lenient = Lenient(2);
    /// Accept a status line without the space and reason phrase.
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
/// facing the Internet.
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

/// Parses a request head from the start of `buf`.
///
/// ```
/// use wireloom_core::http::parse::{parse_request, ParseConfig, Status};
/// let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\nrest";
/// let mut headers = Vec::new();
/// let Status::Complete(req) = parse_request(buf, &ParseConfig::default(), &mut headers).unwrap()
/// else { panic!() };
/// assert_eq!(req.head_len, buf.len() - 4);
/// assert_eq!(headers.len(), 1);
/// assert_eq!(parse_request(&buf[..10], &ParseConfig::default(), &mut headers).unwrap(), Status::Partial);
/// ```
pub fn parse_request(
    buf: &[u8],
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
) -> Result<Status<RawRequest>, Error> {
    headers.clear();
    let lenient = cfg.lenient;
    let mut i = 0;
    // RFC 9112 §2.2: ignore empty lines before the request line (a few).
    for _ in 0..4 {
        match newline(buf, i, lenient)? {
            Some(Some(n)) => i += n,
            Some(None) => return partial_head(buf, cfg),
            None => break,
        }
    }
    let line_start = i;
    let too_long = |i: usize| i - line_start > cfg.max_request_line;

    // method SP
    let m_start = i;
    i = skip_tchars(buf, i);
    if i == buf.len() {
        return partial_line(too_long(i), ErrorKind::RequestLineTooLong, buf, cfg);
    }
    if buf[i] != b' ' || i == m_start {
        return err(ErrorKind::InvalidMethod);
    }
    let method = (m_start as u32, i as u32);
    i += 1;

    // request-target SP
    let t_start = i;
    if lenient.contains(Lenient::TARGET_CHARS) {
        while i < buf.len() && is_vchar(buf[i]) && buf[i] != b'#' {
            i += 1;
        }
    } else {
        loop {
            // Runs of plain target characters, sixteen at a time; stops at
            // anything else, `%` included.
            i = find_non_uri(buf, i);
            if buf.get(i) != Some(&b'%') {
                break;
            }
            // pct-encoded = "%" HEXDIG HEXDIG
            for k in 1..3 {
                match buf.get(i + k) {
                    Some(h) if h.is_ascii_hexdigit() => {}
                    Some(_) => return err(ErrorKind::InvalidTarget),
                    None => {
                        return partial_line(too_long(i), ErrorKind::RequestLineTooLong, buf, cfg)
                    }
                }
            }
            i += 3;
        }
    }
    if i >= buf.len() {
        return partial_line(too_long(i), ErrorKind::RequestLineTooLong, buf, cfg);
    }
    if too_long(i) {
        return err(ErrorKind::RequestLineTooLong);
    }
    if i == t_start {
        return err(ErrorKind::InvalidTarget);
    }
    match buf[i] {
        b' ' => {}
        b'\r' | b'\n' => return err(ErrorKind::InvalidStartLine),
        _ => return err(ErrorKind::InvalidTarget),
    }
    let target = (t_start as u32, i as u32);
    i += 1;

    // HTTP-version CRLF
    let version = match parse_version(buf, i)? {
        Some(v) => v,
        None => return partial_line(too_long(buf.len()), ErrorKind::RequestLineTooLong, buf, cfg),
    };
    i += 8;
    match newline(buf, i, lenient)? {
        Some(Some(n)) => i += n,
        Some(None) => return partial_head(buf, cfg),
        None => return err(ErrorKind::InvalidStartLine),
    }
    if too_long(i) {
        return err(ErrorKind::RequestLineTooLong);
    }
    match parse_fields(buf, i, cfg, headers, false)? {
        Status::Complete(head_len) => Ok(Status::Complete(RawRequest {
            method,
            target,
            version,
            head_len,
        })),
        Status::Partial => Ok(Status::Partial),
    }
}

/// Parses a response head from the start of `buf`.
pub fn parse_response(
    buf: &[u8],
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
) -> Result<Status<RawResponse>, Error> {
    headers.clear();
    let lenient = cfg.lenient;
    let mut i = 0;
    let version = match parse_version(buf, 0)? {
        Some(v) => v,
        None => return partial_head(buf, cfg),
    };
    i += 8;
    // SP 3DIGIT
    if buf.len() < i + 4 {
        if buf.len() > i && buf[i] != b' ' {
            return err(ErrorKind::InvalidStartLine);
        }
        return partial_head(buf, cfg);
    }
    if buf[i] != b' ' {
        return err(ErrorKind::InvalidStartLine);
    }
    let d = &buf[i + 1..i + 4];
    if !d.iter().all(u8::is_ascii_digit) {
        return err(ErrorKind::InvalidStatus);
    }
    let status = (d[0] - b'0') as u16 * 100 + (d[1] - b'0') as u16 * 10 + (d[2] - b'0') as u16;
    if status < 100 {
        return err(ErrorKind::InvalidStatus);
    }
    i += 4;
    // SP reason-phrase CRLF
    let reason;
    match buf.get(i) {
        None => return partial_head(buf, cfg),
        Some(b' ') => {
            i += 1;
            let r_start = i;
            while i < buf.len() && is_field_char(buf[i]) {
                i += 1;
            }
            reason = (r_start as u32, i as u32);
            match newline(buf, i, lenient)? {
                Some(Some(n)) => i += n,
                Some(None) => return partial_head(buf, cfg),
                None => return err(ErrorKind::InvalidReason),
            }
        }
        Some(b'\r' | b'\n') if lenient.contains(Lenient::MISSING_REASON) => {
            reason = (i as u32, i as u32);
            match newline(buf, i, lenient)? {
                Some(Some(n)) => i += n,
                Some(None) => return partial_head(buf, cfg),
                None => unreachable_start_line()?,
            }
        }
        Some(_) => return err(ErrorKind::InvalidStartLine),
    }
    if i > cfg.max_header_line {
        return err(ErrorKind::HeaderLineTooLong);
    }
    match parse_fields(buf, i, cfg, headers, true)? {
        Status::Complete(head_len) => Ok(Status::Complete(RawResponse {
            version,
            status,
            reason,
            head_len,
        })),
        Status::Partial => Ok(Status::Partial),
    }
}

fn unreachable_start_line() -> Result<(), Error> {
    err(ErrorKind::InvalidStartLine)
}

/// `HTTP/1.1` or `HTTP/1.0` at `i`; `None` when input ends first.
#[inline(always)]
fn parse_version(buf: &[u8], i: usize) -> Result<Option<Version>, Error> {
    let Some(v) = buf.get(i..i + 8) else {
        let have = &buf[i.min(buf.len())..];
        let proto = b"HTTP/";
        let n = have.len().min(5);
        if have[..n] != proto[..n] {
            return err(ErrorKind::InvalidVersion);
        }
        return Ok(None);
    };
    match v {
        b"HTTP/1.1" => Ok(Some(Version::Http11)),
        b"HTTP/1.0" => Ok(Some(Version::Http10)),
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            err(ErrorKind::UnsupportedVersion)
        }
        _ => err(ErrorKind::InvalidVersion),
    }
}

#[inline]
fn partial_line<T>(
    too_long: bool,
    kind: ErrorKind,
    buf: &[u8],
    cfg: &ParseConfig,
) -> Result<Status<T>, Error> {
    if too_long {
        return err(kind);
    }
    partial_head(buf, cfg)
}

#[inline]
fn partial_head<T>(buf: &[u8], cfg: &ParseConfig) -> Result<Status<T>, Error> {
    if buf.len() > cfg.max_head {
        err(ErrorKind::HeadTooLarge)
    } else {
        Ok(Status::Partial)
    }
}

/// Parses field lines from `start` up to and including the empty line; returns
/// the offset just past it. Used for heads and for chunked trailers.
pub fn parse_fields(
    buf: &[u8],
    start: usize,
    cfg: &ParseConfig,
    headers: &mut Vec<RawHeader>,
    response: bool,
) -> Result<Status<usize>, Error> {
    let lenient = cfg.lenient;
    let mut i = start;
    loop {
        // End of head?
        match newline(buf, i, lenient)? {
            Some(Some(n)) => {
                let end = i + n;
                if end > cfg.max_head {
                    return err(ErrorKind::HeadTooLarge);
                }
                return Ok(Status::Complete(end));
            }
            Some(None) => return partial_head(buf, cfg),
            None => {}
        }
        let line_start = i;
        let c = buf[i];
        if c == b' ' || c == b'\t' {
            // obs-fold: continues the previous field's value.
            let Some(last) = headers.last_mut() else {
                return err(ErrorKind::LeadingWhitespace);
            };
            if !(response && lenient.contains(Lenient::OBS_FOLD)) {
                return err(ErrorKind::ObsFold);
            }
            let (end, next) = match scan_value(buf, i, lenient)? {
                Some(x) => x,
                None => return partial_fields(buf, line_start, cfg),
            };
            let mut e = end;
            while e > i && matches!(buf[e - 1], b' ' | b'\t') {
                e -= 1;
            }
            if e > i {
                // Only extend when the continuation carries text.
                let all_ws = buf[i..e].iter().all(|&c| c == b' ' || c == b'\t');
                if !all_ws {
                    if last.value.0 == last.value.1 {
                        let s = i + buf[i..e]
                            .iter()
                            .take_while(|&&c| c == b' ' || c == b'\t')
                            .count();
                        last.value = (s as u32, e as u32);
                    } else {
                        last.value.1 = e as u32;
                        last.folded = true;
                    }
                }
            }
            if next - line_start > cfg.max_header_line {
                return err(ErrorKind::HeaderLineTooLong);
            }
            i = next;
            continue;
        }
        // field-name
        let n_start = i;
        i = skip_tchars(buf, i);
        if i == buf.len() {
            return partial_fields(buf, line_start, cfg);
        }
        let n_end = i;
        match buf[i] {
            b':' if i > n_start => {}
            b' ' | b'\t' if i > n_start => {
                while i < buf.len() && matches!(buf[i], b' ' | b'\t') {
                    i += 1;
                }
                match buf.get(i) {
                    None => return partial_fields(buf, line_start, cfg),
                    Some(b':') if response && lenient.contains(Lenient::SPACE_BEFORE_COLON) => {}
                    Some(b':') => return err(ErrorKind::SpaceBeforeColon),
                    Some(_) => return err(ErrorKind::InvalidHeaderName),
                }
            }
            _ => return err(ErrorKind::InvalidHeaderName),
        }
        i += 1;
        // OWS field-value OWS
        while i < buf.len() && matches!(buf[i], b' ' | b'\t') {
            i += 1;
        }
        let v_start = i;
        let (mut v_end, next) = match scan_value(buf, i, lenient)? {
            Some(x) => x,
            None => return partial_fields(buf, line_start, cfg),
        };
        while v_end > v_start && matches!(buf[v_end - 1], b' ' | b'\t') {
            v_end -= 1;
        }
        if next - line_start > cfg.max_header_line {
            return err(ErrorKind::HeaderLineTooLong);
        }
        if headers.len() >= cfg.max_headers {
            return err(ErrorKind::TooManyHeaders);
        }
        headers.push(RawHeader {
            name: (n_start as u32, n_end as u32),
            value: (v_start as u32, v_end as u32),
            folded: false,
        });
        i = next;
    }
}

#[inline]
fn partial_fields<T>(buf: &[u8], line_start: usize, cfg: &ParseConfig) -> Result<Status<T>, Error> {
    if buf.len() - line_start > cfg.max_header_line {
        return err(ErrorKind::HeaderLineTooLong);
    }
    partial_head(buf, cfg)
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

/// Builds a [`HeaderMap`] of shared slices of `buf` from parsed positions.
pub fn headers_from_raw(buf: &Bytes, raw: &[RawHeader]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(raw.len());
    for h in raw {
        let name = HeaderName::from_validated(buf.slice(h.name.0 as usize..h.name.1 as usize));
        let value = if h.folded {
            HeaderValue::from_validated(unfold(&buf[h.value.0 as usize..h.value.1 as usize]))
        } else {
            HeaderValue::from_validated(buf.slice(h.value.0 as usize..h.value.1 as usize))
        };
        map.append_field(name, value);
    }
    map
}

/// Replaces each obs-fold (CRLF or LF followed by whitespace) with one SP.
fn unfold(v: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\r' | b'\n' => {
                while out.last().is_some_and(|&c| c == b' ' || c == b'\t') {
                    out.pop();
                }
                while i < v.len() && matches!(v[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Bytes::from(out)
}

impl RequestHead {
    /// Freezes a parsed request into shared slices of `buf` (the bytes given to
    /// [`parse_request`]) and checks what the line scan does not: the
    /// target's form for the method and the Host rule of RFC 9112 §3.2.
    pub fn from_raw(
        buf: &Bytes,
        raw: &RawRequest,
        headers: &[RawHeader],
        cfg: &ParseConfig,
    ) -> Result<RequestHead, Error> {
        let method =
            Method::from_bytes_shared(buf.slice(raw.method.0 as usize..raw.method.1 as usize))
                .map_err(|_| Error::new(ErrorKind::InvalidMethod))?;
        let target = RequestTarget::parse_shared(
            buf.slice(raw.target.0 as usize..raw.target.1 as usize),
            &method,
            cfg.lenient.contains(Lenient::TARGET_CHARS),
        )
        .map_err(|_| Error::new(ErrorKind::InvalidTarget))?;
        let headers = headers_from_raw(buf, headers);
        if raw.version == Version::Http11 {
            let mut hosts = headers.get_all("host");
            let ok =
                hosts.next().is_some_and(|h| valid_host(h.as_bytes())) && hosts.next().is_none();
            if !ok {
                return err(ErrorKind::InvalidHost);
            }
        } else if headers.get_all("host").count() > 1 {
            return err(ErrorKind::InvalidHost);
        }
        Ok(RequestHead {
            method,
            target,
            version: raw.version,
            headers,
        })
    }
}

/// Host = uri-host [ ":" port ]; empty is allowed (RFC 9112 §3.2).
fn valid_host(h: &[u8]) -> bool {
    h.iter().all(|&c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
            )
    })
}

impl ResponseHead {
    /// Freezes a parsed response into shared slices of `buf`.
    pub fn from_raw(buf: &Bytes, raw: &RawResponse, headers: &[RawHeader]) -> ResponseHead {
        ResponseHead {
            version: raw.version,
            status: StatusCode::from_u16(raw.status).unwrap_or(StatusCode::OK),
            reason: buf.slice(raw.reason.0 as usize..raw.reason.1 as usize),
            headers: headers_from_raw(buf, headers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every strict prefix of a complete head is Partial (or, for invalid
    /// input, the same error once the offending byte is in), and the whole
    /// head is Complete with the same result whatever came after it.
    fn check_request(input: &[u8]) -> Result<(RawRequest, Vec<RawHeader>), ErrorKind> {
        let cfg = ParseConfig::default();
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
}
