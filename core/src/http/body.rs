//! Body decoding (Content-Length, chunked, close-delimited) and chunked
//! encoding. Decoders take any split of their input and hand data out as
//! `Bytes` split off the read buffer, without copying.

use bytes::{Bytes, BytesMut};

use super::chars::is_tchar;
use super::error::{Error, ErrorKind, UsageError};
use super::framing::Framing;
use super::header::HeaderMap;
use super::outbox::Outbox;
use super::parse::{headers_from_raw, parse_fields, Lenient, ParseConfig, Status};

/// What a body decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyItem {
    /// A piece of the body (chunk framing removed).
    Data(Bytes),
    /// The body is complete; trailer fields, if the body was chunked and had any.
    End(HeaderMap),
}

/// Limits for body decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body accepted (413 beyond); `None` for no limit. Default 16 MiB.
    pub max_body: Option<u64>,
    /// Largest chunk-extension section of one chunk-size line. Default 4 KiB.
    pub max_chunk_ext: usize,
    /// Largest total of chunk-extension bytes over one body. Default 64 KiB.
    pub max_chunk_ext_total: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_body: Some(16 * 1024 * 1024),
            max_chunk_ext: 4096,
            max_chunk_ext_total: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CState {
    /// Reading hex digits.
    Size,
    /// Whitespace after the digits (BWS before `;`).
    SizeWs,
    /// After `;`: BWS, then a chunk-ext-name (a token) is due.
    ExtPreName,
    /// Inside a chunk-ext-name.
    ExtName,
    /// After `=`: BWS, then a token or a quoted string is due.
    ExtPreValue,
    /// Inside a token chunk-ext-val.
    ExtValue,
    /// After an extension name (`name`) or value: BWS, then `;`, `=` (after a
    /// name), or the line end (only with no whitespace before it: `ws`).
    ExtAfter { name: bool, ws: bool },
    /// Inside a quoted extension value.
    ExtQuote,
    /// After a backslash inside quotes.
    ExtEscape,
    /// Saw CR of the size line; LF is due.
    SizeLf,
    /// Reading chunk data.
    Data,
    /// CR after data is due.
    DataCr,
    /// LF after data is due.
    DataLf,
    /// Reading the trailer section (kept in the input until complete).
    Trailers,
    /// Done.
    Done,
}

/// A streaming decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Chunk extensions are checked against their grammar and dropped: `;` is
/// followed by a token name, optionally `=` and a token or quoted-string
/// value, with whitespace only around `;` and `=`; `5;` or a bare CR, LF or
/// other CTL in an extension is [`ErrorKind::InvalidChunkExtension`].
///
/// ```
/// use bytes::BytesMut;
/// use wireloom_core::http::body::{BodyItem, ChunkedDecoder};
/// let mut d = ChunkedDecoder::default();
/// let mut input = BytesMut::from(&b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"[..]);
/// assert_eq!(d.decode(&mut input).unwrap(), Some(BodyItem::Data("hello".into())));
/// let Some(BodyItem::End(trailers)) = d.decode(&mut input).unwrap() else { panic!() };
/// assert_eq!(trailers.get("x-sum").unwrap(), "1");
/// assert!(input.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: CState,
    size: u64,
    digits: u32,
    ext_len: usize,
    ext_total: usize,
    /// How far the trailer section has been scanned for a newline.
    trailer_scanned: usize,
    limits: BodyLimits,
    head_cfg: ParseConfig,
    total: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new(BodyLimits::default(), ParseConfig::default())
    }
}

fn err<T>(kind: ErrorKind) -> Result<T, Error> {
    Err(Error::new(kind))
}

impl ChunkedDecoder {
    /// A decoder with body limits; `head_cfg` bounds and parses the trailers
    /// (and its `BARE_LF` flag allows bare LF in the chunk framing).
    pub fn new(limits: BodyLimits, head_cfg: ParseConfig) -> ChunkedDecoder {
        ChunkedDecoder {
            state: CState::Size,
            size: 0,
            digits: 0,
            ext_len: 0,
            ext_total: 0,
            trailer_scanned: 0,
            limits,
            head_cfg,
            total: 0,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == CState::Done
    }

    fn bare_lf(&self) -> bool {
        self.head_cfg.lenient.contains(Lenient::BARE_LF)
    }

    fn ext_byte(&mut self) -> Result<(), Error> {
        self.ext_len += 1;
        self.ext_total += 1;
        if self.ext_len > self.limits.max_chunk_ext
            || self.ext_total > self.limits.max_chunk_ext_total
        {
            return err(ErrorKind::ChunkExtensionTooLong);
        }
        Ok(())
    }

    /// The byte after a complete extension name or value that is neither
    /// `;`, `=` nor whitespace: only a line ending may come.
    fn ext_line_end(&mut self, c: u8) -> Result<(), Error> {
        match c {
            b'\r' => self.state = CState::SizeLf,
            b'\n' if self.bare_lf() => self.end_size_line()?,
            _ => return err(ErrorKind::InvalidChunkExtension),
        }
        Ok(())
    }

    fn end_size_line(&mut self) -> Result<(), Error> {
        if self.digits == 0 {
            return err(ErrorKind::InvalidChunkSize);
        }
        if self.size == 0 {
            self.state = CState::Trailers;
            self.trailer_scanned = 0;
        } else {
            if let Some(max) = self.limits.max_body {
                if self.total.saturating_add(self.size) > max {
                    return err(ErrorKind::BodyTooLarge);
                }
            }
            self.total += self.size;
            self.state = CState::Data;
        }
        Ok(())
    }

    /// Decodes what it can from the front of `input`, consuming it. Returns
    /// `Ok(None)` when more input is needed.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<BodyItem>, Error> {
        let mut i = 0;
        let item = loop {
            if self.state == CState::Data {
                input.advance_to(i);
                if input.is_empty() {
                    return Ok(None);
                }
                let n = (input.len() as u64).min(self.size) as usize;
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = CState::DataCr;
                }
                return Ok(Some(BodyItem::Data(input.split_to(n).freeze())));
            }
            if self.state == CState::Trailers {
                input.advance_to(i);
                return self.decode_trailers(input);
            }
            if self.state == CState::Done {
                break None;
            }
            let Some(&c) = input.get(i) else {
                break None;
            };
            i += 1;
            match self.state {
                CState::Size => match c {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
                        if self.size > (u64::MAX >> 4) {
                            return err(ErrorKind::ChunkSizeOverflow);
                        }
                        self.digits += 1;
                        if self.digits > 64 {
                            return err(ErrorKind::InvalidChunkSize);
                        }
                        self.size = (self.size << 4) | d;
                    }
                    _ if self.digits == 0 => return err(ErrorKind::InvalidChunkSize),
                    b' ' | b'\t' => self.state = CState::SizeWs,
                    b';' => {
                        self.ext_byte()?;
                        self.state = CState::ExtPreName;
                    }
                    b'\r' => self.state = CState::SizeLf,
                    b'\n' if self.bare_lf() => self.end_size_line()?,
                    b'\n' => return err(ErrorKind::InvalidChunkDelimiter),
                    _ => return err(ErrorKind::InvalidChunkSize),
                },
                CState::SizeWs => match c {
                    b' ' | b'\t' => self.ext_byte()?,
                    b';' => {
                        self.ext_byte()?;
                        self.state = CState::ExtPreName;
                    }
                    _ => return err(ErrorKind::InvalidChunkSize),
                },
                // chunk-ext = *( BWS ";" BWS chunk-ext-name
                //                [ BWS "=" BWS chunk-ext-val ] )
                CState::ExtPreName => {
                    self.ext_byte()?;
                    match c {
                        b' ' | b'\t' => {}
                        c if is_tchar(c) => self.state = CState::ExtName,
                        _ => return err(ErrorKind::InvalidChunkExtension),
                    }
                }
                CState::ExtName => {
                    self.ext_byte()?;
                    match c {
                        c if is_tchar(c) => {}
                        b'=' => self.state = CState::ExtPreValue,
                        b';' => self.state = CState::ExtPreName,
                        b' ' | b'\t' => {
                            self.state = CState::ExtAfter {
                                name: true,
                                ws: true,
                            }
                        }
                        c => self.ext_line_end(c)?,
                    }
                }
                CState::ExtPreValue => {
                    self.ext_byte()?;
                    match c {
                        b' ' | b'\t' => {}
                        b'"' => self.state = CState::ExtQuote,
                        c if is_tchar(c) => self.state = CState::ExtValue,
                        _ => return err(ErrorKind::InvalidChunkExtension),
                    }
                }
                CState::ExtValue => {
                    self.ext_byte()?;
                    match c {
                        c if is_tchar(c) => {}
                        b';' => self.state = CState::ExtPreName,
                        b' ' | b'\t' => {
                            self.state = CState::ExtAfter {
                                name: false,
                                ws: true,
                            }
                        }
                        c => self.ext_line_end(c)?,
                    }
                }
                CState::ExtAfter { name, ws } => {
                    self.ext_byte()?;
                    match c {
                        b' ' | b'\t' => self.state = CState::ExtAfter { name, ws: true },
                        b';' => self.state = CState::ExtPreName,
                        b'=' if name => self.state = CState::ExtPreValue,
                        b'\r' | b'\n' if !ws => self.ext_line_end(c)?,
                        _ => return err(ErrorKind::InvalidChunkExtension),
                    }
                }
                CState::ExtQuote => {
                    self.ext_byte()?;
                    match c {
                        b'"' => {
                            self.state = CState::ExtAfter {
                                name: false,
                                ws: false,
                            }
                        }
                        b'\\' => self.state = CState::ExtEscape,
                        c if c == b'\t' || (c >= 0x20 && c != 0x7f) => {}
                        _ => return err(ErrorKind::InvalidChunkExtension),
                    }
                }
                CState::ExtEscape => {
                    self.ext_byte()?;
                    if c == b'\t' || (c >= 0x20 && c != 0x7f) {
                        self.state = CState::ExtQuote;
                    } else {
                        return err(ErrorKind::InvalidChunkExtension);
                    }
                }
                CState::SizeLf => {
                    if c != b'\n' {
                        return err(ErrorKind::InvalidChunkDelimiter);
                    }
                    self.end_size_line()?;
                }
                CState::DataCr => match c {
                    b'\r' => self.state = CState::DataLf,
                    b'\n' if self.bare_lf() => self.next_chunk(),
                    _ => return err(ErrorKind::InvalidChunkDelimiter),
                },
                CState::DataLf => {
                    if c != b'\n' {
                        return err(ErrorKind::InvalidChunkDelimiter);
                    }
                    self.next_chunk();
                }
                CState::Data | CState::Trailers | CState::Done => {}
            }
        };
        input.advance_to(i);
        Ok(item)
    }

    fn next_chunk(&mut self) {
        self.state = CState::Size;
        self.size = 0;
        self.digits = 0;
        self.ext_len = 0;
    }

    fn decode_trailers(&mut self, input: &mut BytesMut) -> Result<Option<BodyItem>, Error> {
        // Only re-parse when a new line ending has arrived.
        let from = self.trailer_scanned;
        self.trailer_scanned = input.len();
        if memchr::memchr(b'\n', &input[from.min(input.len())..]).is_none() {
            if input.len() > self.head_cfg.max_head {
                return err(ErrorKind::HeadTooLarge);
            }
            return Ok(None);
        }
        // Only the complete lines are parsed, so that the answer depends on
        // the bytes received, never on how they were split: a broken line is
        // reported once its line ending arrives, whole input or not.
        let lines = memchr::memrchr(b'\n', input).map_or(0, |lf| lf + 1);
        let mut raw = Vec::new();
        match parse_fields(&input[..lines], 0, &self.head_cfg, &mut raw, false)? {
            Status::Partial if input.len() > self.head_cfg.max_head => err(ErrorKind::HeadTooLarge),
            Status::Partial => Ok(None),
            Status::Complete(end) => {
                let block = input.split_to(end).freeze();
                self.state = CState::Done;
                Ok(Some(BodyItem::End(headers_from_raw(&block, &raw))))
            }
        }
    }
}

trait AdvanceTo {
    fn advance_to(&mut self, n: usize);
}

impl AdvanceTo for BytesMut {
    #[inline]
    fn advance_to(&mut self, n: usize) {
        if n > 0 {
            bytes::Buf::advance(self, n);
        }
    }
}

/// Decodes one message body under any framing.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Length { remaining: u64 },
    Chunked(Box<ChunkedDecoder>),
    Close { total: u64, max: Option<u64> },
    Done,
}

impl BodyDecoder {
    /// A decoder for `framing`. A Content-Length above `limits.max_body` is
    /// rejected here, before any byte is read.
    pub fn new(
        framing: Framing,
        limits: &BodyLimits,
        head_cfg: &ParseConfig,
    ) -> Result<BodyDecoder, Error> {
        let kind = match framing {
            Framing::Empty | Framing::Tunnel | Framing::Length(0) => Kind::Done,
            Framing::Length(n) => {
                if limits.max_body.is_some_and(|m| n > m) {
                    return err(ErrorKind::BodyTooLarge);
                }
                Kind::Length { remaining: n }
            }
            Framing::Chunked => Kind::Chunked(Box::new(ChunkedDecoder::new(
                limits.clone(),
                head_cfg.clone(),
            ))),
            Framing::CloseDelimited => Kind::Close {
                total: 0,
                max: limits.max_body,
            },
        };
        Ok(BodyDecoder { kind })
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    /// Body bytes still expected under Content-Length framing.
    pub fn remaining(&self) -> Option<u64> {
        match self.kind {
            Kind::Length { remaining } => Some(remaining),
            Kind::Done => Some(0),
            _ => None,
        }
    }

    /// Decodes from the front of `input`; `Ok(None)` when more is needed. For
    /// an empty body the first call returns `End` at once.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<BodyItem>, Error> {
        match &mut self.kind {
            Kind::Done => Ok(None),
            Kind::Length { remaining } => {
                if input.is_empty() {
                    return Ok(None);
                }
                let n = (input.len() as u64).min(*remaining) as usize;
                *remaining -= n as u64;
                let data = input.split_to(n).freeze();
                Ok(Some(BodyItem::Data(data)))
            }
            Kind::Chunked(d) => {
                let r = d.decode(input)?;
                if d.is_done() {
                    self.kind = Kind::Done;
                }
                Ok(r)
            }
            Kind::Close { total, max } => {
                if input.is_empty() {
                    return Ok(None);
                }
                *total += input.len() as u64;
                if max.is_some_and(|m| *total > m) {
                    return err(ErrorKind::BodyTooLarge);
                }
                Ok(Some(BodyItem::Data(input.split().freeze())))
            }
        }
    }

    /// Decodes everything `input` holds, handing each piece to `on_data`.
    /// Returns whether any byte was decoded, and the trailers once the body
    /// is complete (empty for non-chunked bodies).
    pub fn decode_available(
        &mut self,
        input: &mut BytesMut,
        mut on_data: impl FnMut(Bytes),
    ) -> Result<(bool, Option<HeaderMap>), Error> {
        let mut progressed = false;
        loop {
            match self.decode(input)? {
                Some(BodyItem::Data(b)) => {
                    progressed = true;
                    on_data(b);
                    if self.finished_by_length() {
                        return Ok((true, Some(HeaderMap::new())));
                    }
                }
                Some(BodyItem::End(t)) => return Ok((true, Some(t))),
                None => return Ok((progressed, None)),
            }
        }
    }

    /// Whether the body ends by itself now (Content-Length reached); the
    /// caller then emits `End` with no trailers.
    pub fn finished_by_length(&mut self) -> bool {
        if let Kind::Length { remaining: 0 } = self.kind {
            self.kind = Kind::Done;
            return true;
        }
        false
    }

    /// The peer closed: completes a close-delimited body, otherwise the body
    /// is incomplete.
    pub fn decode_eof(&mut self) -> Result<BodyItem, Error> {
        match self.kind {
            Kind::Close { .. } => {
                self.kind = Kind::Done;
                Ok(BodyItem::End(HeaderMap::new()))
            }
            Kind::Done => Ok(BodyItem::End(HeaderMap::new())),
            _ => err(ErrorKind::IncompleteMessage),
        }
    }
}

/// Writes the chunk-size line for a chunk of `len` bytes (`len > 0`).
pub fn chunk_header(len: usize) -> Bytes {
    Bytes::from(format!("{len:X}\r\n"))
}

/// CRLF after chunk data.
pub const CRLF: Bytes = Bytes::from_static(b"\r\n");

/// The last chunk and trailer section.
pub fn last_chunk(trailers: &HeaderMap) -> Bytes {
    if trailers.is_empty() {
        return Bytes::from_static(b"0\r\n\r\n");
    }
    let mut out = BytesMut::with_capacity(64);
    out.extend_from_slice(b"0\r\n");
    super::serialize::write_fields(&mut out, trailers);
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// Writes one outgoing message body under the framing chosen for its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoder {
    /// Content-Length: this many bytes still due.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Close-delimited: bytes as they are; the connection closes after.
    Close,
    /// The message has no body (HEAD, 204, 304): data is dropped.
    Discard,
}

impl BodyEncoder {
    /// Queues `data` in wire form onto `out` (zero-copy for large data).
    pub fn encode(&mut self, data: Bytes, out: &mut Outbox) -> Result<(), UsageError> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            BodyEncoder::Discard => {}
            BodyEncoder::Length(rem) => {
                if data.len() as u64 > *rem {
                    return Err(UsageError::BodyTooLong);
                }
                *rem -= data.len() as u64;
                out.push(data);
            }
            BodyEncoder::Chunked => {
                write_chunk_header(out.buf_mut(), data.len());
                out.push(data);
                out.put_slice(b"\r\n");
            }
            BodyEncoder::Close => out.push(data),
        }
        Ok(())
    }

    /// Ends the body: the last chunk and trailers for chunked; an error if a
    /// Content-Length body is short.
    pub fn finish(self, trailers: Option<HeaderMap>, out: &mut Outbox) -> Result<(), UsageError> {
        match self {
            BodyEncoder::Length(rem) if rem > 0 => Err(UsageError::BodyTooShort),
            BodyEncoder::Chunked => {
                let buf = out.buf_mut();
                buf.extend_from_slice(b"0\r\n");
                if let Some(t) = &trailers {
                    super::serialize::write_fields(buf, t);
                }
                buf.extend_from_slice(b"\r\n");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Appends the chunk-size line for a chunk of `len` bytes.
fn write_chunk_header(out: &mut BytesMut, len: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b"0123456789ABCDEF"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` with every split pattern and returns the concatenated
    /// body and trailers, or the error kind.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, HeaderMap), ErrorKind> {
        let mut d = ChunkedDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match d.decode(&mut buf).map_err(|e| e.kind())? {
                    Some(BodyItem::Data(b)) => out.extend_from_slice(&b),
                    Some(BodyItem::End(t)) => return Ok((out, t)),
                    None => break,
                }
            }
        }
        Err(ErrorKind::IncompleteMessage)
    }

    fn every_split(input: &[u8]) -> Result<(Vec<u8>, HeaderMap), ErrorKind> {
        let whole = decode_all(input, input.len());
        for step in 1..input.len().min(16) {
            assert_eq!(decode_all(input, step), whole, "step {step}");
        }
        whole
    }

    #[test]
    fn valid() {
        let (b, t) = every_split(b"4\r\nWiki\r\n5;ext=\"q\\\"v\"\r\npedia\r\n0\r\n\r\n").unwrap();
        assert_eq!(b, b"Wikipedia");
        assert!(t.is_empty());
        let (b, t) = every_split(b"A \t;a=b\r\n0123456789\r\n0\r\nT: x\r\nU: y\r\n\r\n").unwrap();
        assert_eq!(b, b"0123456789");
        assert_eq!(t.get("u").unwrap(), "y");
        let (b, _) = every_split(b"000003\r\nabc\r\n0000\r\n\r\n").unwrap();
        assert_eq!(b, b"abc");
    }

    #[test]
    fn invalid() {
        use ErrorKind::*;
        assert_eq!(every_split(b"x\r\n").unwrap_err(), InvalidChunkSize);
        assert_eq!(every_split(b"\r\n").unwrap_err(), InvalidChunkSize);
        assert_eq!(every_split(b"-1\r\n").unwrap_err(), InvalidChunkSize);
        assert_eq!(every_split(b"1 1\r\n").unwrap_err(), InvalidChunkSize);
        assert_eq!(
            every_split(b"10000000000000000\r\n").unwrap_err(),
            ChunkSizeOverflow
        );
        assert_eq!(
            every_split(b"3\nabc\r\n0\r\n\r\n").unwrap_err(),
            InvalidChunkDelimiter
        );
        assert_eq!(
            every_split(b"3\r\nabcX0\r\n\r\n").unwrap_err(),
            InvalidChunkDelimiter
        );
        assert_eq!(
            every_split(b"3\r\nabc\r0\r\n\r\n").unwrap_err(),
            InvalidChunkDelimiter
        );
        assert_eq!(
            every_split(b"3;\x01\r\nabc\r\n").unwrap_err(),
            InvalidChunkExtension
        );
        let long = format!("1;{}\r\na\r\n0\r\n\r\n", "a".repeat(5000));
        assert_eq!(
            every_split(long.as_bytes()).unwrap_err(),
            ChunkExtensionTooLong
        );
        assert_eq!(
            every_split(b"0\r\nBad Trailer: x\r\n\r\n").unwrap_err(),
            InvalidHeaderName
        );
        assert_eq!(every_split(b"5\r\nab").unwrap_err(), IncompleteMessage);
    }

    /// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ):
    /// `;` is always followed by a token; a value is a token or a quoted
    /// string; whitespace only before `;` and `=` and after them; a bare CR,
    /// a bare LF or any other CTL is refused wherever it appears. Every
    /// verdict is the same whole, byte by byte and at every split.
    #[test]
    fn chunk_extension_grammar() {
        use ErrorKind::*;
        for ext in [
            ";a",
            ";a=b",
            ";a=\"\"",
            ";a=\"x y;z=\\\"\"",
            " ;a",
            "\t; \ta \t= \tb",
            ";a;b;c=d",
            ";a ;b",
            ";a=b ;c",
            ";a=\"q\" ;b",
            ";!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz",
        ] {
            let input = format!("3{ext}\r\nabc\r\n0\r\n\r\n");
            assert_eq!(
                every_split(input.as_bytes()).map(|(b, _)| b),
                Ok(b"abc".to_vec()),
                "{input:?}"
            );
        }
        for (ext, kind) in [
            (";", InvalidChunkExtension),
            ("; ", InvalidChunkExtension),
            (";;a", InvalidChunkExtension),
            (";=a", InvalidChunkExtension),
            ("; =a", InvalidChunkExtension),
            (";a=", InvalidChunkExtension),
            (";a= ", InvalidChunkExtension),
            (";a=;b", InvalidChunkExtension),
            (";a=b=c", InvalidChunkExtension),
            (";a==b", InvalidChunkExtension),
            (";a ", InvalidChunkExtension),
            (";a=b ", InvalidChunkExtension),
            (";a=\"b\" ", InvalidChunkExtension),
            (";a=\"b\"c", InvalidChunkExtension),
            (";a b", InvalidChunkExtension),
            (";a=b c", InvalidChunkExtension),
            (";(a)", InvalidChunkExtension),
            (";a=(b)", InvalidChunkExtension),
            (";a\n", InvalidChunkExtension),
            (";\n", InvalidChunkExtension),
            (";a=\"b\rc\"", InvalidChunkExtension),
            (";a=\"b\nc\"", InvalidChunkExtension),
            (";a=\"b\x00c\"", InvalidChunkExtension),
            (";a\x7f", InvalidChunkExtension),
            (";a=\x01", InvalidChunkExtension),
            (";a=\"b\\\x01\"", InvalidChunkExtension),
            // A CR ends the line; LF must follow.
            (";a\rX", InvalidChunkDelimiter),
            (";a=b\rx", InvalidChunkDelimiter),
        ] {
            let input = format!("3{ext}\r\nabc\r\n0\r\n\r\n");
            assert_eq!(every_split(input.as_bytes()), Err(kind), "{input:?}");
        }
        // `5;` is refused as soon as the line ends, before any data.
        let mut d = ChunkedDecoder::default();
        assert_eq!(
            d.decode(&mut BytesMut::from(&b"5;\r"[..]))
                .unwrap_err()
                .kind(),
            InvalidChunkExtension
        );
        // With bare LF allowed, a bare LF ends an extension, but only
        // right after a name or value.
        let lenient = ParseConfig {
            lenient: Lenient::BARE_LF,
            ..ParseConfig::default()
        };
        for (input, ok) in [
            (&b"3;a\nabc\n0\n\n"[..], true),
            (b"3;a=\"b\"\nabc\n0\n\n", true),
            (b"3;\nabc\n0\n\n", false),
            (b"3;a \nabc\n0\n\n", false),
        ] {
            let mut d = ChunkedDecoder::new(BodyLimits::default(), lenient.clone());
            let mut b = BytesMut::from(input);
            let r = d.decode(&mut b);
            assert_eq!(r.is_ok(), ok, "{input:?}: {r:?}");
        }
    }

    /// Found by the `chunked_decoder` fuzz target: a trailer line that is
    /// already invalid before its line ending was reported when the input
    /// came whole, but waited for more input when it came split.
    #[test]
    fn trailer_errors_do_not_depend_on_the_split() {
        let input: &[u8] = b"0\r\nA: b\r\nBad name";
        let whole = decode_all(input, input.len());
        for step in 1..input.len() {
            assert_eq!(decode_all(input, step), whole, "step {step}");
        }
        assert_eq!(whole, Err(ErrorKind::IncompleteMessage));
        assert_eq!(
            every_split(b"0\r\nA: b\r\nBad name: x\r\n").unwrap_err(),
            ErrorKind::InvalidHeaderName
        );
        // The head-size limit still bounds an unfinished trailer line.
        let long = format!("0\r\nA: {}", "b".repeat(70 * 1024));
        assert_eq!(
            decode_all(long.as_bytes(), 1000).unwrap_err(),
            ErrorKind::HeadTooLarge
        );
    }

    #[test]
    fn body_limit() {
        let limits = BodyLimits {
            max_body: Some(4),
            ..BodyLimits::default()
        };
        let mut d = ChunkedDecoder::new(limits.clone(), ParseConfig::default());
        let mut b = BytesMut::from(&b"3\r\nabc\r\n2\r\nde\r\n"[..]);
        assert!(matches!(d.decode(&mut b), Ok(Some(BodyItem::Data(_)))));
        assert_eq!(
            d.decode(&mut b).unwrap_err().kind(),
            ErrorKind::BodyTooLarge
        );
        assert_eq!(
            BodyDecoder::new(Framing::Length(5), &limits, &ParseConfig::default())
                .unwrap_err()
                .kind(),
            ErrorKind::BodyTooLarge
        );
    }
}
