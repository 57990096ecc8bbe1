//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463).
//!
//! A reply is one or more lines `ddd-text` ... `ddd text`, all with the same
//! three-digit code. [`ReplyParser`] reads them incrementally from a byte
//! stream with bounded line length and line count.

use std::fmt;

use bytes::{Buf, BytesMut};

/// An enhanced mail system status code (RFC 3463): `class.subject.detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// Subject, 0..=999.
    pub subject: u16,
    /// Detail, 0..=999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code; `class` must be 2, 4 or 5.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses `c.s.d` at the start of `text`, followed by a space or the end.
    /// Returns the code and the length consumed (including one space).
    pub fn parse_prefix(text: &str) -> Option<(EnhancedCode, usize)> {
        let end = text.find(' ').unwrap_or(text.len());
        let mut parts = text[..end].split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let num = |s: &str, max_len: usize| -> Option<u16> {
            if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let class = num(class, 1)? as u8;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        let subject = num(subject, 3)?;
        let detail = num(detail, 3)?;
        let used = if end < text.len() { end + 1 } else { end };
        Some((EnhancedCode::new(class, subject, detail), used))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One complete SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (200..=599).
    pub code: u16,
    /// The enhanced status code at the start of the first line, if any.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line, without the code, separator and CRLF. When the
    /// first line carries an enhanced code, it is left in the text.
    pub lines: Vec<String>,
}

impl Reply {
    /// Builds a single-line reply. An enhanced code at the start of `text`
    /// is recognised.
    pub fn new(code: u16, text: &str) -> Reply {
        let enhanced = EnhancedCode::parse_prefix(text)
            .filter(|(e, _)| u16::from(e.class) == code / 100)
            .map(|(e, _)| e);
        Reply {
            code,
            enhanced,
            lines: vec![text.to_string()],
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx (more input expected: 334, 354).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The first line's text after the enhanced code, if any.
    pub fn message(&self) -> &str {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        match EnhancedCode::parse_prefix(first) {
            Some((_, used)) if self.enhanced.is_some() => &first[used..],
            _ => first,
        }
    }

    /// Serialises the reply onto the wire (`ddd-...CRLF ddd ...CRLF`).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 == n { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, text).as_bytes());
        }
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// Why a reply could not be parsed. Always a remote error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line is longer than [`ReplyLimits::max_line_len`].
    LineTooLong,
    /// The reply has more lines than [`ReplyLimits::max_lines`].
    TooManyLines,
    /// A line does not start with a valid three-digit code (2xx-5xx).
    BadCode,
    /// The character after the code is neither space, `-` nor CRLF.
    BadSeparator,
    /// The lines of a multi-line reply carry different codes.
    CodeMismatch,
    /// A line ends in a bare LF, or contains a bare CR.
    BareLineEnding,
    /// The text is not UTF-8.
    NotUtf8,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ReplyError::LineTooLong => "reply line too long",
            ReplyError::TooManyLines => "reply has too many lines",
            ReplyError::BadCode => "reply line does not start with a valid code",
            ReplyError::BadSeparator => "invalid separator after the reply code",
            ReplyError::CodeMismatch => "lines of a multi-line reply carry different codes",
            ReplyError::BareLineEnding => "bare CR or LF in a reply",
            ReplyError::NotUtf8 => "reply text is not UTF-8",
        };
        f.write_str(s)
    }
}

impl std::error::Error for ReplyError {}

/// Limits and leniency for [`ReplyParser`].
#[derive(Clone, Debug)]
pub struct ReplyLimits {
    /// Longest accepted line, including CRLF. RFC 5321 says 512; default 4096.
    pub max_line_len: usize,
    /// Most lines in one reply. Default 128.
    pub max_lines: usize,
    /// Accept lines ending in a bare LF (some old servers). Default false.
    pub allow_bare_lf: bool,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_line_len: 4096,
            max_lines: 128,
            allow_bare_lf: false,
        }
    }
}

/// Incremental reply parser. Feed it the receive buffer; it consumes whole
/// lines only.
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: ReplyLimits,
    code: Option<u16>,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(limits: ReplyLimits) -> Self {
        ReplyParser {
            limits,
            ..Default::default()
        }
    }

    /// True when lines of an unfinished multi-line reply were consumed.
    pub fn is_partial(&self) -> bool {
        self.code.is_some()
    }

    /// Parses the next complete reply from the front of `buf`, consuming the
    /// lines it used. `Ok(None)` means more input is needed (partial lines
    /// stay in `buf`; complete lines of an unfinished multi-line reply are
    /// consumed and remembered).
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(lf) = memchr::memchr(b'\n', buf) else {
                if buf.len() >= self.limits.max_line_len {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(None);
            };
            if lf + 1 > self.limits.max_line_len {
                return Err(ReplyError::LineTooLong);
            }
            let line = &buf[..lf];
            let line = match line.last() {
                Some(b'\r') => &line[..line.len() - 1],
                _ if self.limits.allow_bare_lf => line,
                _ => return Err(ReplyError::BareLineEnding),
            };
            if memchr::memchr(b'\r', line).is_some() {
                return Err(ReplyError::BareLineEnding);
            }
            if line.len() < 3 {
                return Err(ReplyError::BadCode);
            }
            let d = &line[..3];
            if !(b'2'..=b'5').contains(&d[0]) || !d[1].is_ascii_digit() || !d[2].is_ascii_digit() {
                return Err(ReplyError::BadCode);
            }
            let code =
                u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
            let (last, text) = match line.get(3) {
                None => (true, &[][..]),
                Some(b' ') => (true, &line[4..]),
                Some(b'-') => (false, &line[4..]),
                Some(_) => return Err(ReplyError::BadSeparator),
            };
            let text = std::str::from_utf8(text).map_err(|_| ReplyError::NotUtf8)?;
            match self.code {
                Some(c) if c != code => return Err(ReplyError::CodeMismatch),
                _ => {}
            }
            if self.lines.len() >= self.limits.max_lines {
                return Err(ReplyError::TooManyLines);
            }
            if self.code.is_none() {
                self.code = Some(code);
                self.enhanced = EnhancedCode::parse_prefix(text)
                    .filter(|(e, _)| u16::from(e.class) == code / 100)
                    .map(|(e, _)| e);
            }
            self.lines.push(text.to_string());
            buf.advance(lf + 1);
            if last {
                let reply = Reply {
                    code,
                    enhanced: self.enhanced.take(),
                    lines: std::mem::take(&mut self.lines),
                };
                self.code = None;
                return Ok(Some(reply));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut p = ReplyParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = p.parse(&mut buf)? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn multi_line_with_enhanced_code() {
        let r = parse_all(b"250-mx.example Hello\r\n250-SIZE 1000\r\n250 2.0.0 OK\r\n").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, 250);
        assert_eq!(r[0].lines, ["mx.example Hello", "SIZE 1000", "2.0.0 OK"]);
        assert_eq!(
            r[0].enhanced, None,
            "enhanced code only taken from the first line"
        );
        let r = parse_all(b"550 5.1.1 No such user\r\n").unwrap();
        assert_eq!(r[0].enhanced, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(r[0].message(), "No such user");
        assert_eq!(r[0].enhanced.unwrap().to_string(), "5.1.1");
    }

    #[test]
    fn enhanced_code_class_must_match() {
        let r = parse_all(b"250 5.1.1 odd\r\n").unwrap();
        assert_eq!(r[0].enhanced, None);
        assert_eq!(r[0].message(), "5.1.1 odd");
    }

    #[test]
    fn code_only_line() {
        let r = parse_all(b"354\r\n").unwrap();
        assert_eq!(r[0].code, 354);
        assert_eq!(r[0].lines, [""]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::CodeMismatch)
        );
        assert_eq!(parse_all(b"25x ok\r\n"), Err(ReplyError::BadCode));
        assert_eq!(parse_all(b"650 ok\r\n"), Err(ReplyError::BadCode));
        assert_eq!(parse_all(b"250 ok\n"), Err(ReplyError::BareLineEnding));
        assert_eq!(parse_all(b"250 o\rk\r\n"), Err(ReplyError::BareLineEnding));
        assert_eq!(parse_all(b"250_ok\r\n"), Err(ReplyError::BadSeparator));
        let long = format!("250 {}\r\n", "x".repeat(5000));
        assert_eq!(parse_all(long.as_bytes()), Err(ReplyError::LineTooLong));
        // Without a newline the limit still applies.
        let mut p = ReplyParser::default();
        let mut b = BytesMut::from(&[b'2'; 5000][..]);
        assert_eq!(p.parse(&mut b), Err(ReplyError::LineTooLong));
        let many: String = (0..200).map(|_| "250-x\r\n").collect();
        assert_eq!(parse_all(many.as_bytes()), Err(ReplyError::TooManyLines));
    }

    #[test]
    fn bare_lf_leniency() {
        let mut p = ReplyParser::new(ReplyLimits {
            allow_bare_lf: true,
            ..Default::default()
        });
        let mut b = BytesMut::from(&b"220 hi\n"[..]);
        assert_eq!(p.parse(&mut b).unwrap().unwrap().code, 220);
    }

    #[test]
    fn split_at_every_position() {
        let input = b"220 ready\r\n250-a\r\n250-PIPELINING\r\n250 2.0.0 ok\r\n354 go\r\n";
        let whole = parse_all(input).unwrap();
        for split in 0..=input.len() {
            let mut p = ReplyParser::default();
            let mut buf = BytesMut::from(&input[..split]);
            let mut got = Vec::new();
            while let Some(r) = p.parse(&mut buf).unwrap() {
                got.push(r);
            }
            buf.extend_from_slice(&input[split..]);
            while let Some(r) = p.parse(&mut buf).unwrap() {
                got.push(r);
            }
            assert_eq!(got, whole, "split at {split}");
        }
        // One byte at a time.
        let mut p = ReplyParser::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Some(r) = p.parse(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, whole);
    }

    #[test]
    fn wire_round_trip() {
        let r = Reply {
            code: 250,
            enhanced: None,
            lines: vec!["a".into(), "b".into()],
        };
        assert_eq!(r.to_wire(), b"250-a\r\n250 b\r\n");
        assert_eq!(parse_all(&r.to_wire()).unwrap(), vec![r]);
    }
}
