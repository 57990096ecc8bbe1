//! Content-Transfer-Encodings (RFC 2045 §6): which one a part gets, base64
//! in 76-column lines, and quoted-printable.
//!
//! The encoders here are incremental: they write into a caller's buffer up
//! to a limit and remember where they stopped, so the
//! [`Renderer`](super::Renderer) can encode a large attachment while it is
//! written, one bounded chunk at a time.

use bytes::BytesMut;

/// Input octets per base64 line (57 octets become 76 characters).
pub const BASE64_LINE_INPUT: usize = 57;
/// Characters per base64 line, without the CRLF.
pub const BASE64_LINE_CHARS: usize = 76;
/// Longest line allowed by RFC 5322 §2.1.1, without the CRLF.
pub const MAX_LINE: usize = 998;
/// Longest quoted-printable line content before the soft break `=`
/// (so that a line is at most 76 characters, RFC 2045 §6.7 rule 5).
const QP_MAX: usize = 75;

/// A Content-Transfer-Encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferEncoding {
    /// ASCII lines of at most 998 octets, written as they are.
    SevenBit,
    /// Lines of at most 998 octets with octets above 127 (needs 8BITMIME).
    EightBit,
    /// Quoted-printable (RFC 2045 §6.7).
    QuotedPrintable,
    /// Base64 in 76-column lines (RFC 2045 §6.8).
    Base64,
}

impl TransferEncoding {
    /// The header value (`7bit`, `8bit`, `quoted-printable`, `base64`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
        }
    }
}

/// Converts every bare CR, bare LF and CRLF to CRLF.
pub fn normalize_crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32 + 2);
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b'\r', b'\n', &text[i..]) {
        let at = i + off;
        out.extend_from_slice(&text[i..at]);
        out.extend_from_slice(b"\r\n");
        i = if text[at] == b'\r' && text.get(at + 1) == Some(&b'\n') {
            at + 2
        } else {
            at + 1
        };
    }
    out.extend_from_slice(&text[i..]);
    out
}

/// Picks the encoding of a text body that is already CRLF-normalised:
/// 7bit when every octet is ASCII (no NUL) and every line is at most 998
/// octets; 8bit when `allow_8bit` and the lines are short enough;
/// quoted-printable when at most about a sixth of the octets are non-ASCII
/// (where it is shorter than base64); base64 otherwise.
pub fn choose_text_encoding(text: &[u8], allow_8bit: bool) -> TransferEncoding {
    let mut non_ascii = 0usize;
    let mut nul = false;
    for &b in text {
        non_ascii += usize::from(b >= 0x80);
        nul |= b == 0;
    }
    let mut long_line = false;
    let mut start = 0;
    for at in memchr::memchr_iter(b'\n', text) {
        // Normalised, every LF ends a CRLF; a bare LF (the input is not
        // checked) ends a line too.
        let end = if at > start && text[at - 1] == b'\r' {
            at - 1
        } else {
            at
        };
        if end - start > MAX_LINE {
            long_line = true;
            break;
        }
        start = at + 1;
    }
    long_line |= text.len() - start > MAX_LINE;
    if !nul && !long_line {
        if non_ascii == 0 {
            return TransferEncoding::SevenBit;
        }
        if allow_8bit {
            return TransferEncoding::EightBit;
        }
    }
    // QP costs 2 extra octets per non-ASCII octet; base64 about 37% overall.
    if non_ascii * 100 <= text.len() * 17 {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Base64
    }
}

/// Length of the base64 encoding of `n` octets in 76-column lines joined by
/// CRLF (no CRLF after the last line).
pub fn base64_encoded_len(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let chars = n.div_ceil(3) * 4;
    let lines = chars.div_ceil(BASE64_LINE_CHARS);
    chars + (lines - 1) * 2
}

/// Encodes `input` as base64 in 76-column lines joined by CRLF (no CRLF
/// after the last line).
pub fn encode_base64_lines(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base64_encoded_len(input.len()));
    Base64Lines::default().write(input, &mut out, usize::MAX);
    out
}

/// An output buffer the encoders append to: `Vec<u8>` (for
/// [`Message::to_bytes`](super::Message::to_bytes) and the
/// [`Renderer`](super::Renderer)'s chunks, encoded straight into spare
/// capacity) or `BytesMut` (an adapter's own buffer, through
/// [`Renderer::write_into`](super::Renderer::write_into)).
pub(crate) trait Sink {
    fn len(&self) -> usize;
    fn reserve(&mut self, additional: usize);
    fn extend_from_slice(&mut self, s: &[u8]);
    /// Appends whole base64 lines: `src` is a multiple of 57 octets, each
    /// 57 become 76 characters and a CRLF.
    fn base64_lines(&mut self, src: &[u8]);
    /// Appends the base64 of `src` (at most one line) with no line break.
    fn base64_tail(&mut self, src: &[u8]);
}

// The base64 kernel is `encodify` (the one mail-builder uses): SIMD (AVX2 or
// SSSE3 on x86-64, NEON on aarch64, chosen at run time) with the CRLF of each
// 76-column line written by the kernel itself, and a scalar fallback
// elsewhere. Core stays free of `unsafe`: the crate's own (documented)
// unsafe code writes into the `Vec`'s spare capacity.
const MIME_LINES: encodify::base64::Base64 = encodify::base64::MIME;
const B64: encodify::base64::Base64 = encodify::base64::STANDARD;

impl Sink for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
    #[inline]
    fn extend_from_slice(&mut self, s: &[u8]) {
        Vec::extend_from_slice(self, s);
    }
    #[inline]
    fn base64_lines(&mut self, src: &[u8]) {
        debug_assert_eq!(src.len() % BASE64_LINE_INPUT, 0);
        MIME_LINES.encode_append(src, self);
    }
    #[inline]
    fn base64_tail(&mut self, src: &[u8]) {
        debug_assert!(src.len() <= BASE64_LINE_INPUT);
        B64.encode_append(src, self);
    }
}

impl Sink for BytesMut {
    #[inline]
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        BytesMut::reserve(self, additional);
    }
    #[inline]
    fn extend_from_slice(&mut self, s: &[u8]) {
        BytesMut::extend_from_slice(self, s);
    }
    fn base64_lines(&mut self, src: &[u8]) {
        debug_assert_eq!(src.len() % BASE64_LINE_INPUT, 0);
        // Safe code cannot hand out uninitialised memory: each batch is
        // zero-filled and encoded over while it is still in L1 (16 lines,
        // 1.2 KiB, so the memset stays small).
        for batch in src.chunks(16 * BASE64_LINE_INPUT) {
            let n = batch.len() / BASE64_LINE_INPUT * LINE_WITH_BREAK;
            let start = BytesMut::len(self);
            self.resize(start + n, 0);
            let written = MIME_LINES
                .encode_slice(batch, &mut self[start..])
                .expect("sized for the lines");
            debug_assert_eq!(written, n);
        }
    }
    fn base64_tail(&mut self, src: &[u8]) {
        debug_assert!(src.len() <= BASE64_LINE_INPUT);
        let mut line = [0u8; BASE64_LINE_CHARS];
        let n = B64.encode_slice(src, &mut line).expect("one line");
        BytesMut::extend_from_slice(self, &line[..n]);
    }
}

/// Output of one line with the CRLF after it.
const LINE_WITH_BREAK: usize = BASE64_LINE_CHARS + 2;

/// Incremental base64-with-line-breaks encoder: remembers how much input it
/// has consumed (always a whole number of lines until the end).
///
/// Every line but the last of the input is written with its CRLF; the last
/// one without (the message writes what follows: a CRLF and a boundary).
#[derive(Clone, Debug, Default)]
pub(crate) struct Base64Lines {
    pos: usize,
}

impl Base64Lines {
    /// Encodes whole lines of `input` into `out` while `out` stays within
    /// `limit` octets. Returns true when all of `input` has been written.
    pub(crate) fn write<O: Sink>(&mut self, input: &[u8], out: &mut O, limit: usize) -> bool {
        let rest = &input[self.pos..];
        if rest.is_empty() {
            return true;
        }
        let room = limit.saturating_sub(out.len());
        // The last line: up to 57 octets, written without a CRLF.
        let last_len = match rest.len() % BASE64_LINE_INPUT {
            0 => BASE64_LINE_INPUT,
            n => n,
        };
        let (body, last) = rest.split_at(rest.len() - last_len);
        let all = body.len() / BASE64_LINE_INPUT * LINE_WITH_BREAK + base64_encoded_len(last_len);
        if all <= room {
            out.reserve(all);
            out.base64_lines(body);
            out.base64_tail(last);
            self.pos = input.len();
            return true;
        }
        // Not all of it: as many whole lines (each with its CRLF) as fit,
        // never the last one.
        let lines = (room / LINE_WITH_BREAK).min(body.len() / BASE64_LINE_INPUT);
        if lines > 0 {
            let take = lines * BASE64_LINE_INPUT;
            out.reserve(lines * LINE_WITH_BREAK);
            out.base64_lines(&body[..take]);
            self.pos += take;
        }
        false
    }
}

/// Whether an octet is written as itself by quoted-printable (RFC 2045
/// §6.7 rule 2: `!` through `~` except `=`). Space and tab are handled
/// apart (literal unless they end a line).
const fn qp_literal_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 33;
    while b <= 126 {
        t[b] = b != b'=' as usize;
        b += 1;
    }
    t
}
static QP_LITERAL: [bool; 256] = qp_literal_table();
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Encodes `input` as quoted-printable. CRLF pairs in `input` are hard
/// line breaks; any other CR or LF is encoded as `=0D` / `=0A`.
pub fn encode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut enc = QpEncoder::default();
    let mut out = BytesMut::with_capacity(input.len() + input.len() / 8 + 8);
    enc.write(input, &mut out, usize::MAX);
    out.to_vec()
}

/// Incremental quoted-printable encoder.
#[derive(Clone, Debug, Default)]
pub(crate) struct QpEncoder {
    pos: usize,
    col: usize,
}

impl QpEncoder {
    /// Encodes `input` into `out` while `out` stays within `limit` octets.
    /// Returns true when all of `input` has been written.
    pub(crate) fn write<O: Sink>(&mut self, input: &[u8], out: &mut O, limit: usize) -> bool {
        let n = input.len();
        // A step writes at most 3 (soft break) + 3 (=XX) octets.
        while self.pos < n && out.len().saturating_add(6) <= limit {
            let b = input[self.pos];
            if QP_LITERAL[b as usize] {
                if self.col >= QP_MAX {
                    out.extend_from_slice(b"=\r\n");
                    self.col = 0;
                }
                let max = (QP_MAX - self.col).min(limit - out.len());
                let mut end = self.pos + 1;
                let stop = (self.pos + max).min(n);
                while end < stop && QP_LITERAL[input[end] as usize] {
                    end += 1;
                }
                out.extend_from_slice(&input[self.pos..end]);
                self.col += end - self.pos;
                self.pos = end;
                continue;
            }
            if b == b'\r' && input.get(self.pos + 1) == Some(&b'\n') {
                out.extend_from_slice(b"\r\n");
                self.col = 0;
                self.pos += 2;
                continue;
            }
            let line_end = matches!(&input[self.pos + 1..], [] | [b'\r', b'\n', ..]);
            let literal = (b == b' ' || b == b'\t') && !line_end;
            let width = if literal { 1 } else { 3 };
            if self.col + width > QP_MAX {
                out.extend_from_slice(b"=\r\n");
                self.col = 0;
            }
            if literal {
                out.extend_from_slice(&[b]);
            } else {
                out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            self.col += width;
            self.pos += 1;
        }
        self.pos == n
    }
}

/// Decodes quoted-printable (lenient: an `=` not followed by two hex digits
/// or a line break is kept as it is; trailing whitespace before a line break
/// is dropped, RFC 2045 §6.7 rule 3).
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut lines = input.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let line = &line[..end];
        let mut soft = false;
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'=' {
                if i + 1 == line.len() {
                    soft = true;
                    break;
                }
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(h), Some(l)) = (
                    line.get(i + 1).and_then(|&c| hex(c)),
                    line.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(line[i]);
            i += 1;
        }
        if !soft && !last {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn base64_lines_are_76_columns() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in [0, 1, 2, 3, 56, 57, 58, 114, 115, 999, 1000] {
            let enc = encode_base64_lines(&data[..n]);
            assert_eq!(enc.len(), base64_encoded_len(n), "n={n}");
            let lines: Vec<&[u8]> = enc.split(|&b| b == b'\n').collect();
            for (i, l) in lines.iter().enumerate() {
                if i + 1 < lines.len() {
                    assert_eq!(l.len(), 77);
                    assert_eq!(l[76], b'\r');
                } else {
                    assert!(l.len() <= 76);
                }
            }
            let joined: Vec<u8> = enc
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            assert_eq!(STANDARD.decode(joined).unwrap(), &data[..n]);
        }
    }

    /// The reference: the `base64` crate's STANDARD engine, broken into
    /// 76-column lines joined by CRLF.
    fn reference_lines(data: &[u8]) -> Vec<u8> {
        let flat = STANDARD.encode(data);
        flat.as_bytes()
            .chunks(BASE64_LINE_CHARS)
            .collect::<Vec<_>>()
            .join(&b"\r\n"[..])
    }

    fn random_bytes(n: usize, seed: &mut u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (*seed >> 24) as u8
            })
            .collect()
    }

    /// `data` encoded by [`Base64Lines`] into chunks of at most `limit`
    /// octets of sink `O`, joined.
    fn chunked<O: Sink + Default + AsRef<[u8]>>(data: &[u8], limit: usize) -> Vec<u8> {
        let mut enc = Base64Lines::default();
        let mut got = Vec::new();
        loop {
            let mut chunk = O::default();
            let done = enc.write(data, &mut chunk, limit);
            assert!(chunk.len() <= limit);
            assert!(done || chunk.len() + 78 > limit, "a chunk with room left");
            got.extend_from_slice(chunk.as_ref());
            if done {
                return got;
            }
        }
    }

    #[test]
    fn base64_matches_base64_crate() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let large = [4095, 4096, 65_536, 65_537, 1 << 20, (1 << 20) + 55];
        for n in (0..=600).chain(large) {
            let data = random_bytes(n, &mut seed);
            let want = reference_lines(&data);
            assert_eq!(encode_base64_lines(&data), want, "n={n}");
            assert_eq!(base64_encoded_len(n), want.len(), "n={n}");
            // Incrementally into small chunks, into both sinks.
            if n <= 600 || n == 65_537 {
                for limit in [80, 157, 1000, 5000] {
                    let got = chunked::<BytesMut>(&data, limit);
                    assert_eq!(got, want, "BytesMut n={n} limit={limit}");
                    let got = chunked::<Vec<u8>>(&data, limit);
                    assert_eq!(got, want, "Vec n={n} limit={limit}");
                }
            }
        }
        // Every octet value in every position of a 3-octet group.
        let all: Vec<u8> = (0..=255u8)
            .flat_map(|b| [b, b.rotate_left(3), !b])
            .collect();
        assert_eq!(encode_base64_lines(&all), reference_lines(&all));
    }

    #[test]
    fn base64_incremental_matches_whole() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        let whole = encode_base64_lines(&data);
        let mut enc = Base64Lines::default();
        let mut out = Vec::new();
        loop {
            let mut buf = BytesMut::new();
            let done = enc.write(&data, &mut buf, 200);
            assert!(buf.len() <= 200);
            out.extend_from_slice(&buf);
            if done {
                break;
            }
        }
        assert_eq!(out, whole);
    }

    #[test]
    fn qp_examples() {
        assert_eq!(encode_quoted_printable(b"a=b"), b"a=3Db");
        assert_eq!(encode_quoted_printable(b"end \r\nx\t"), b"end=20\r\nx=09");
        assert_eq!(encode_quoted_printable("café".as_bytes()), b"caf=C3=A9");
        assert_eq!(encode_quoted_printable(b"a\nb\rc"), b"a=0Ab=0Dc");
        let long = "x".repeat(200);
        let enc = encode_quoted_printable(long.as_bytes());
        for line in enc.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", line.len());
        }
        assert_eq!(decode_quoted_printable(&enc), long.as_bytes());
    }

    #[test]
    fn qp_incremental_matches_whole() {
        let text = "Grüße, long line with = signs and spaces   \r\n".repeat(300);
        let whole = encode_quoted_printable(text.as_bytes());
        let mut enc = QpEncoder::default();
        let mut out = Vec::new();
        loop {
            let mut buf = BytesMut::new();
            let done = enc.write(text.as_bytes(), &mut buf, 100);
            assert!(buf.len() <= 100);
            out.extend_from_slice(&buf);
            if done {
                break;
            }
        }
        assert_eq!(out, whole);
        assert_eq!(decode_quoted_printable(&whole), text.as_bytes());
    }

    #[test]
    fn normalises_line_endings() {
        assert_eq!(normalize_crlf(b"a\nb\r\nc\rd\r"), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(normalize_crlf(b"\n\n"), b"\r\n\r\n");
    }

    #[test]
    fn chooses_encodings() {
        use TransferEncoding::*;
        assert_eq!(choose_text_encoding(b"hello\r\nworld", false), SevenBit);
        assert_eq!(choose_text_encoding("héllo".as_bytes(), true), EightBit);
        assert_eq!(
            choose_text_encoding("héllo wörld, this is mostly ascii".as_bytes(), false),
            QuotedPrintable
        );
        assert_eq!(choose_text_encoding("привет мир".as_bytes(), false), Base64);
        let long = "a".repeat(999);
        assert_eq!(
            choose_text_encoding(long.as_bytes(), false),
            QuotedPrintable
        );
        assert_eq!(choose_text_encoding(long.as_bytes(), true), QuotedPrintable);
        assert_eq!(
            choose_text_encoding(&long.as_bytes()[..998], false),
            SevenBit
        );
        assert_eq!(choose_text_encoding(b"a\0b", true), QuotedPrintable);
    }
}
