//! Header fields: validated names that keep their original spelling, values,
//! and an ordered multimap.

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use bytes::Bytes;

use super::chars::{eq_ignore_case, is_field_value, is_token};
use super::parse::RawHeader;

/// A field name (RFC 9110 §5.1): a token, compared case-insensitively, written
/// back exactly as it was received or given.
///
/// ```
/// use wireloom_core::http::HeaderName;
/// let n = HeaderName::try_from("X-Request-ID").unwrap();
/// assert_eq!(n.as_str(), "X-Request-ID");
/// assert_eq!(n, HeaderName::try_from("x-request-id").unwrap());
/// assert!(HeaderName::try_from("Bad Name").is_err());
/// ```
#[derive(Clone)]
pub struct HeaderName(Bytes);

/// A field value (RFC 9110 §5.5): any bytes but CTLs other than HTAB, with no
/// leading or trailing whitespace.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(Bytes);

/// A header name or value given by the caller was not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The name is empty or holds a byte that is not a token character.
    Name,
    /// The value holds CR, LF, NUL or another control character, or starts or
    /// ends with whitespace.
    Value,
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidHeader::Name => f.write_str("invalid header name: not a token"),
            InvalidHeader::Value => {
                f.write_str("invalid header value: control character or surrounding whitespace")
            }
        }
    }
}

impl std::error::Error for InvalidHeader {}

impl HeaderName {
    /// A name from a static string. Panics at compile time (in a const) or at
    /// run time if it is not a token; meant for literals.
    pub const fn from_static(s: &'static str) -> HeaderName {
        let b = s.as_bytes();
        assert!(!b.is_empty(), "empty header name");
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let ok = matches!(c,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
                b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
            assert!(ok, "header name is not a token");
            i += 1;
        }
        HeaderName(Bytes::from_static(b))
    }

    /// A name from shared bytes, validated, without copying.
    pub fn from_shared(b: Bytes) -> Result<HeaderName, InvalidHeader> {
        if is_token(&b) {
            Ok(HeaderName(b))
        } else {
            Err(InvalidHeader::Name)
        }
    }

    /// Trusted constructor for bytes the parser already validated.
    pub(crate) fn from_validated(b: Bytes) -> HeaderName {
        debug_assert!(is_token(&b));
        HeaderName(b)
    }

    /// The name with its original spelling.
    pub fn as_str(&self) -> &str {
        // Tokens are ASCII.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The name's bytes with its original spelling.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Case-insensitive comparison with another spelling.
    pub fn matches(&self, other: &str) -> bool {
        eq_ignore_case(&self.0, other.as_bytes())
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        eq_ignore_case(&self.0, &other.0)
    }
}

impl Eq for HeaderName {}

impl PartialEq<str> for HeaderName {
    fn eq(&self, other: &str) -> bool {
        self.matches(other)
    }
}

impl PartialEq<&str> for HeaderName {
    fn eq(&self, other: &&str) -> bool {
        self.matches(other)
    }
}

impl std::hash::Hash for HeaderName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for HeaderName {
    type Error = InvalidHeader;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        HeaderName::from_shared(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<String> for HeaderName {
    type Error = InvalidHeader;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        HeaderName::from_shared(Bytes::from(s))
    }
}

impl TryFrom<&[u8]> for HeaderName {
    type Error = InvalidHeader;
    fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
        HeaderName::from_shared(Bytes::copy_from_slice(s))
    }
}

impl AsRef<str> for HeaderName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl HeaderValue {
    /// A value from a static string; panics if it is not valid. Meant for literals.
    pub fn from_static(s: &'static str) -> HeaderValue {
        match HeaderValue::from_shared(Bytes::from_static(s.as_bytes())) {
            Ok(v) => v,
            Err(_) => panic!("invalid static header value"),
        }
    }

    /// A value from shared bytes, validated, without copying.
    pub fn from_shared(b: Bytes) -> Result<HeaderValue, InvalidHeader> {
        let ws = |c: &u8| *c == b' ' || *c == b'\t';
        if !is_field_value(&b) || b.first().is_some_and(ws) || b.last().is_some_and(ws) {
            return Err(InvalidHeader::Value);
        }
        Ok(HeaderValue(b))
    }

    /// Trusted constructor for bytes the parser already validated.
    pub(crate) fn from_validated(b: Bytes) -> HeaderValue {
        HeaderValue(b)
    }

    /// A value holding the decimal form of `n`.
    pub fn from_u64(n: u64) -> HeaderValue {
        HeaderValue(Bytes::from(n.to_string()))
    }

    /// The raw bytes (may include obs-text above 0x7F).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared bytes.
    pub fn as_shared(&self) -> &Bytes {
        &self.0
    }

    /// The value as text, if it is visible ASCII.
    pub fn to_str(&self) -> Option<&str> {
        if self.0.is_ascii() {
            std::str::from_utf8(&self.0).ok()
        } else {
            None
        }
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => fmt::Debug::fmt(&self.0, f),
        }
    }
}

impl TryFrom<&str> for HeaderValue {
    type Error = InvalidHeader;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        HeaderValue::from_shared(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<String> for HeaderValue {
    type Error = InvalidHeader;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        HeaderValue::from_shared(Bytes::from(s))
    }
}

impl TryFrom<&[u8]> for HeaderValue {
    type Error = InvalidHeader;
    fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
        HeaderValue::from_shared(Bytes::copy_from_slice(s))
    }
}

impl PartialEq<str> for HeaderValue {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for HeaderValue {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// An ordered header multimap: keeps the order fields arrived in, keeps
/// duplicates, keeps each name's spelling; lookups ignore case.
///
/// ```
/// use wireloom_core::http::HeaderMap;
/// let mut h = HeaderMap::new();
/// h.append("Set-Cookie", "a=1").unwrap();
/// h.append("set-cookie", "b=2").unwrap();
/// h.insert("Content-Type", "text/plain").unwrap();
/// assert_eq!(h.get_all("SET-COOKIE").count(), 2);
/// assert_eq!(h.get("content-type").unwrap(), "text/plain");
/// h.insert("CONTENT-TYPE", "text/html").unwrap();
/// assert_eq!(h.len(), 3);
/// let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["Set-Cookie", "set-cookie", "CONTENT-TYPE"]);
/// ```
///
/// # Representation
///
/// A map built by the parser ([`headers_from_raw`](super::parse::headers_from_raw),
/// `RequestHead::from_raw`, `ResponseHead::from_raw`) holds one shared
/// [`Bytes`] of the head and the position of each name and value in it,
/// not one `Bytes` per name and per value: one reference to the head, and
/// no allocation at all for up to eight fields of a head under 64 KiB (their
/// positions are kept inline; larger heads keep them in one `Vec`). The
/// byte-level readers ([`get_bytes`](Self::get_bytes),
/// [`get_all_bytes`](Self::get_all_bytes), [`get_str`](Self::get_str),
/// [`get_list`](Self::get_list), [`contains`](Self::contains),
/// [`contains_token`](Self::contains_token), [`iter_bytes`](Self::iter_bytes))
/// read those positions directly. The readers that hand out a
/// `&HeaderName` or `&HeaderValue` ([`get`](Self::get),
/// [`get_all`](Self::get_all), [`iter`](Self::iter), `for (n, v) in &map`,
/// `Debug`) build every field's `HeaderName`/`HeaderValue` (shared slices of
/// the head) the first time one of them is called, and keep them. The first
/// change ([`append`](Self::append), [`insert`](Self::insert),
/// [`remove`](Self::remove) of a present field, [`carry_over`](Self::carry_over))
/// turns the map into a plain list of owned fields. None of this shows in
/// the results: a parsed map and an owned one with the same fields are
/// equal and print the same.
#[derive(Clone)]
pub struct HeaderMap {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Fields given (or changed) by the caller.
    Owned(Vec<(HeaderName, HeaderValue)>),
    /// Fields of a parsed head, as positions in one buffer.
    Parsed(Parsed),
}

/// The fields of a parsed head.
#[derive(Clone)]
struct Parsed {
    /// The head the positions point into.
    buf: Bytes,
    /// Every field's name and value range in `buf`, in order.
    spans: Spans,
    /// Every field as `HeaderName`/`HeaderValue` slices of `buf`, built on
    /// the first call of a reader that returns references to them.
    fields: OnceLock<Box<[(HeaderName, HeaderValue)]>>,
}

impl Parsed {
    fn fields(&self) -> &[(HeaderName, HeaderValue)] {
        self.fields
            .get_or_init(|| self.spans.iter().map(|at| field(&self.buf, at)).collect())
    }

    /// The owned fields, reusing those already built.
    fn into_owned(self) -> Vec<(HeaderName, HeaderValue)> {
        let Parsed { buf, spans, fields } = self;
        match fields.into_inner() {
            Some(f) => f.into_vec(),
            None => spans.iter().map(|at| field(&buf, at)).collect(),
        }
    }
}

/// The field at `at` (name start, name end, value start, value end) as
/// owned slices of `buf`.
fn field(buf: &Bytes, [ns, ne, vs, ve]: [usize; 4]) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_validated(buf.slice(ns..ne)),
        HeaderValue::from_validated(buf.slice(vs..ve)),
    )
}

/// Most fields whose positions a parsed map keeps inline, without an
/// allocation: eight, one cache line of positions.
const INLINE: usize = 8;

/// The positions of a parsed head's fields (name start, name end, value
/// start, value end), each in bounds and in order.
#[derive(Clone)]
pub(crate) enum Spans {
    /// Up to [`INLINE`] fields of a head shorter than 64 KiB, each as four
    /// `u16` packed in a `u64`.
    Inline { len: u8, at: [u64; INLINE] },
    /// Any other head.
    Heap(Vec<RawHeader>),
}

impl Spans {
    /// The positions `raw` found in a head of `buf_len` bytes, calling `each`
    /// with every field's name and value range as it is copied; `None`
    /// (the map is then built the slow way) when one is folded, reversed
    /// or beyond `buf_len`.
    #[inline(always)]
    pub(crate) fn new(
        buf_len: usize,
        raw: &[RawHeader],
        mut each: impl FnMut(Range<usize>, Range<usize>),
    ) -> Option<Spans> {
        let odd = |h: &RawHeader| {
            (h.name.0 > h.name.1)
                | (h.value.0 > h.value.1)
                | (h.name.1 as usize > buf_len)
                | (h.value.1 as usize > buf_len)
                | h.folded
        };
        let ranges = |h: &RawHeader| {
            (
                h.name.0 as usize..h.name.1 as usize,
                h.value.0 as usize..h.value.1 as usize,
            )
        };
        if raw.len() <= INLINE && buf_len <= u16::MAX as usize {
            let mut at = [0u64; INLINE];
            for (o, h) in at.iter_mut().zip(raw) {
                if odd(h) {
                    return None;
                }
                let (n, v) = ranges(h);
                each(n, v);
                // In bounds of a head below 64 KiB: each fits a u16.
                *o = h.name.0 as u64
                    | (h.name.1 as u64) << 16
                    | (h.value.0 as u64) << 32
                    | (h.value.1 as u64) << 48;
            }
            return Some(Spans::Inline {
                len: raw.len() as u8,
                at,
            });
        }
        for h in raw {
            if odd(h) {
                return None;
            }
            let (n, v) = ranges(h);
            each(n, v);
        }
        Some(Spans::Heap(raw.to_vec()))
    }

    fn len(&self) -> usize {
        match self {
            Spans::Inline { len, .. } => *len as usize,
            Spans::Heap(v) => v.len(),
        }
    }

    fn iter(&self) -> SpansIter<'_> {
        match self {
            Spans::Inline { len, at } => SpansIter::Inline(at[..*len as usize].iter()),
            Spans::Heap(v) => SpansIter::Heap(v.iter()),
        }
    }
}

/// The positions of [`Spans`], in order.
#[derive(Clone)]
enum SpansIter<'a> {
    Inline(std::slice::Iter<'a, u64>),
    Heap(std::slice::Iter<'a, RawHeader>),
}

impl Iterator for SpansIter<'_> {
    type Item = [usize; 4];

    #[inline]
    fn next(&mut self) -> Option<[usize; 4]> {
        match self {
            SpansIter::Inline(it) => it.next().map(|&w| {
                let p = |k: u32| (w >> (16 * k)) as u16 as usize;
                [p(0), p(1), p(2), p(3)]
            }),
            SpansIter::Heap(it) => it.next().map(|h| {
                [
                    h.name.0 as usize,
                    h.name.1 as usize,
                    h.value.0 as usize,
                    h.value.1 as usize,
                ]
            }),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            SpansIter::Inline(it) => it.len(),
            SpansIter::Heap(it) => it.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for SpansIter<'_> {}

impl Default for HeaderMap {
    fn default() -> HeaderMap {
        HeaderMap {
            repr: Repr::Owned(Vec::new()),
        }
    }
}

/// Every field of a [`HeaderMap`] as `(name, value)` byte slices, in order
/// (see [`HeaderMap::iter_bytes`]).
#[derive(Clone)]
pub struct IterBytes<'a>(IterBytesInner<'a>);

#[derive(Clone)]
enum IterBytesInner<'a> {
    Owned(std::slice::Iter<'a, (HeaderName, HeaderValue)>),
    Parsed(&'a [u8], SpansIter<'a>),
}

impl<'a> Iterator for IterBytes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterBytesInner::Owned(it) => it.next().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            IterBytesInner::Parsed(buf, it) => {
                let buf: &'a [u8] = buf;
                it.next()
                    .map(|[ns, ne, vs, ve]| (&buf[ns..ne], &buf[vs..ve]))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            IterBytesInner::Owned(it) => it.len(),
            IterBytesInner::Parsed(_, it) => it.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for IterBytes<'_> {}

/// The values of the fields called `name`, in order (the loop over fields
/// runs inside one representation).
struct Named<'a, 'n> {
    fields: IterBytes<'a>,
    name: &'n [u8],
}

impl<'a> Iterator for Named<'a, '_> {
    type Item = &'a [u8];

    #[inline(always)]
    fn next(&mut self) -> Option<&'a [u8]> {
        let name = self.name;
        match &mut self.fields.0 {
            IterBytesInner::Owned(it) => it
                .find(|(n, _)| eq_ignore_case(n.as_bytes(), name))
                .map(|(_, v)| v.as_bytes()),
            IterBytesInner::Parsed(buf, it) => {
                let buf: &'a [u8] = buf;
                it.find(|&[ns, ne, _, _]| eq_ignore_case(&buf[ns..ne], name))
                    .map(|[_, _, vs, ve]| &buf[vs..ve])
            }
        }
    }
}

/// Conversion into a [`HeaderName`] for the `HeaderMap` writers.
pub trait IntoHeaderName {
    /// Converts, validating.
    fn into_header_name(self) -> Result<HeaderName, InvalidHeader>;
}

impl IntoHeaderName for HeaderName {
    fn into_header_name(self) -> Result<HeaderName, InvalidHeader> {
        Ok(self)
    }
}

impl IntoHeaderName for &HeaderName {
    fn into_header_name(self) -> Result<HeaderName, InvalidHeader> {
        Ok(self.clone())
    }
}

impl IntoHeaderName for &str {
    fn into_header_name(self) -> Result<HeaderName, InvalidHeader> {
        HeaderName::try_from(self)
    }
}

impl IntoHeaderName for String {
    fn into_header_name(self) -> Result<HeaderName, InvalidHeader> {
        HeaderName::try_from(self)
    }
}

/// Conversion into a [`HeaderValue`] for the `HeaderMap` writers.
pub trait IntoHeaderValue {
    /// Converts, validating.
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader>;
}

impl IntoHeaderValue for HeaderValue {
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader> {
        Ok(self)
    }
}

impl IntoHeaderValue for &HeaderValue {
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader> {
        Ok(self.clone())
    }
}

impl IntoHeaderValue for &str {
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader> {
        HeaderValue::try_from(self)
    }
}

impl IntoHeaderValue for String {
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader> {
        HeaderValue::try_from(self)
    }
}

impl IntoHeaderValue for u64 {
    fn into_header_value(self) -> Result<HeaderValue, InvalidHeader> {
        Ok(HeaderValue::from_u64(self))
    }
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> HeaderMap {
        HeaderMap {
            repr: Repr::Owned(Vec::with_capacity(n)),
        }
    }

    /// A map over the fields a parser found in `buf`, without copying: one
    /// shared `buf` and the positions.
    #[inline]
    pub(crate) fn from_spans(buf: Bytes, spans: Spans) -> HeaderMap {
        HeaderMap {
            repr: Repr::Parsed(Parsed {
                buf,
                spans,
                fields: OnceLock::new(),
            }),
        }
    }

    /// A map of owned fields at the positions `raw` of `buf`: folded values
    /// are unfolded (each fold becomes one SP). Panics if a position is out
    /// of `buf` or reversed.
    #[cold]
    pub(crate) fn from_raw_slow(buf: &Bytes, raw: &[RawHeader]) -> HeaderMap {
        let slice = |(s, e): (u32, u32)| buf.slice(s as usize..e as usize);
        raw.iter()
            .map(|h| {
                let name = HeaderName::from_validated(slice(h.name));
                let value = if h.folded {
                    unfold(&slice(h.value))
                } else {
                    slice(h.value)
                };
                (name, HeaderValue::from_validated(value))
            })
            .collect()
    }

    /// Number of fields (duplicates counted).
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Owned(e) => e.len(),
            Repr::Parsed(p) => p.spans.len(),
        }
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every field as `HeaderName`/`HeaderValue`, built once for a parsed map.
    fn entries(&self) -> &[(HeaderName, HeaderValue)] {
        match &self.repr {
            Repr::Owned(e) => e,
            Repr::Parsed(p) => p.fields(),
        }
    }

    /// The owned list of fields, for a change; a parsed map becomes one.
    fn entries_mut(&mut self) -> &mut Vec<(HeaderName, HeaderValue)> {
        if let Repr::Parsed(p) = &mut self.repr {
            let p = std::mem::replace(
                p,
                Parsed {
                    buf: Bytes::new(),
                    spans: Spans::Heap(Vec::new()),
                    fields: OnceLock::new(),
                },
            );
            self.repr = Repr::Owned(p.into_owned());
        }
        match &mut self.repr {
            Repr::Owned(e) => e,
            Repr::Parsed(_) => unreachable!("just made owned"),
        }
    }

    /// Index of the first field named `name`.
    #[inline]
    fn position(&self, name: &str) -> Option<usize> {
        let name = name.as_bytes();
        match &self.repr {
            Repr::Owned(e) => e
                .iter()
                .position(|(n, _)| eq_ignore_case(n.as_bytes(), name)),
            Repr::Parsed(p) => p
                .spans
                .iter()
                .position(|[ns, ne, _, _]| eq_ignore_case(&p.buf[ns..ne], name)),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        let i = self.position(name)?;
        Some(&self.entries()[i].1)
    }

    /// The first value of `name` as bytes (no `HeaderValue` is built).
    ///
    /// ```
    /// use wireloom_core::http::HeaderMap;
    /// let mut h = HeaderMap::new();
    /// h.append("X-A", "caf\u{e9}").unwrap();
    /// assert_eq!(h.get_bytes("x-a"), Some("caf\u{e9}".as_bytes()));
    /// assert_eq!(h.get_str("x-a"), None);
    /// ```
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        Named {
            fields: self.iter_bytes(),
            name: name.as_bytes(),
        }
        .next()
    }

    /// The first value of `name` as text, if it is ASCII.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        let v = self.get_bytes(name)?;
        if v.is_ascii() {
            std::str::from_utf8(v).ok()
        } else {
            None
        }
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.entries()
            .iter()
            .filter(move |(n, _)| n.matches(name))
            .map(|(_, v)| v)
    }

    /// Every value of `name` as bytes, in order (no `HeaderValue` is built).
    pub fn get_all_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        Named {
            fields: self.iter_bytes(),
            name: name.as_bytes(),
        }
    }

    /// The comma-separated list elements of every `name` field (RFC 9110
    /// §5.6.1), trimmed, empty elements skipped.
    pub fn get_list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all_bytes(name).flat_map(|v| {
            v.split(|&c| c == b',')
                .map(trim_ows)
                .filter(|e| !e.is_empty())
        })
    }

    /// Whether the `name` list holds `token` (case-insensitively), e.g.
    /// `contains_token("connection", "close")`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        // Most heads lack the field: one plain scan says so, without the
        // list machinery.
        if self.position(name).is_none() {
            return false;
        }
        self.get_list(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// Whether any field is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Copies onto `self` the fields of `other` that still hold when the
    /// body they came with is replaced by another (a server's custom error
    /// page standing in for a handler's empty 401): every instance of each
    /// field, in order, except the fields that describe or frame one
    /// particular body ([`describes_content`]) and those `self` already has.
    pub fn carry_over(&mut self, other: &HeaderMap) {
        let entries = self.entries_mut();
        let before = entries.len();
        for (name, value) in other {
            if describes_content(name.as_str()) || entries[..before].iter().any(|(n, _)| n == name)
            {
                continue;
            }
            entries.push((name.clone(), value.clone()));
        }
    }

    /// Adds a field at the end, keeping existing ones of the same name.
    pub fn append(
        &mut self,
        name: impl IntoHeaderName,
        value: impl IntoHeaderValue,
    ) -> Result<(), InvalidHeader> {
        let name = name.into_header_name()?;
        let value = value.into_header_value()?;
        self.entries_mut().push((name, value));
        Ok(())
    }

    /// Adds an already validated field at the end.
    pub fn append_field(&mut self, name: HeaderName, value: HeaderValue) {
        self.entries_mut().push((name, value));
    }

    /// Sets `name` to `value`: the first field of that name is replaced in place
    /// (taking the new spelling), the others are removed; appended if absent.
    pub fn insert(
        &mut self,
        name: impl IntoHeaderName,
        value: impl IntoHeaderValue,
    ) -> Result<(), InvalidHeader> {
        let name = name.into_header_name()?;
        let value = value.into_header_value()?;
        let entries = self.entries_mut();
        match entries.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                let mut j = i + 1;
                while j < entries.len() {
                    if entries[j].0 == name {
                        entries.remove(j);
                    } else {
                        j += 1;
                    }
                }
                entries[i] = (name, value);
            }
            None => entries.push((name, value)),
        }
        Ok(())
    }

    /// Removes every field named `name`; returns the first removed value.
    pub fn remove(&mut self, name: &str) -> Option<HeaderValue> {
        if !self.contains(name) {
            return None;
        }
        let mut first = None;
        self.entries_mut().retain(|(n, v)| {
            if n.matches(name) {
                if first.is_none() {
                    first = Some(v.clone());
                }
                false
            } else {
                true
            }
        });
        first
    }

    /// Every field in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&HeaderName, &HeaderValue)> + '_ {
        self.entries().iter().map(|(n, v)| (n, v))
    }

    /// Every field in order as `(name, value)` bytes, without building a
    /// `HeaderName` or `HeaderValue` (the cheap way to walk a parsed head).
    ///
    /// ```
    /// use wireloom_core::http::HeaderMap;
    /// let mut h = HeaderMap::new();
    /// h.append("A", "1").unwrap();
    /// h.append("b", "2").unwrap();
    /// let v: Vec<_> = h.iter_bytes().collect();
    /// assert_eq!(v, [(&b"A"[..], &b"1"[..]), (b"b", b"2")]);
    /// ```
    pub fn iter_bytes(&self) -> IterBytes<'_> {
        IterBytes(match &self.repr {
            Repr::Owned(e) => IterBytesInner::Owned(e.iter()),
            Repr::Parsed(p) => IterBytesInner::Parsed(&p.buf, p.spans.iter()),
        })
    }

    /// Calls `f` with every field's name and its value as shared bytes
    /// (a slice of the parsed head, no copy), in order; stops at the first
    /// error.
    #[cfg(feature = "http")]
    pub(crate) fn try_for_each_shared<'a, E>(
        &'a self,
        mut f: impl FnMut(&'a [u8], Bytes) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.repr {
            Repr::Owned(e) => e.iter().try_for_each(|(n, v)| f(n.as_bytes(), v.0.clone())),
            Repr::Parsed(p) => p
                .spans
                .iter()
                .try_for_each(|[ns, ne, vs, ve]| f(&p.buf[ns..ne], p.buf.slice(vs..ve))),
        }
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        match &mut self.repr {
            Repr::Owned(e) => e.clear(),
            Repr::Parsed(_) => self.repr = Repr::Owned(Vec::new()),
        }
    }
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

/// Names compare case-insensitively, values byte for byte, in order;
/// how each map is held does not matter.
impl PartialEq for HeaderMap {
    fn eq(&self, other: &HeaderMap) -> bool {
        self.len() == other.len()
            && self
                .iter_bytes()
                .zip(other.iter_bytes())
                .all(|((n, v), (m, w))| eq_ignore_case(n, m) && v == w)
    }
}

impl Eq for HeaderMap {}

/// Whether the field `name` (any case) describes or frames one particular
/// message body: its length and transfer coding (`Content-Length`,
/// `Transfer-Encoding`, `Trailer`), its representation metadata
/// (`Content-Type`, `Content-Encoding`, `Content-Language`,
/// `Content-Location`, `Content-Range`, `Content-Disposition`) or its
/// validators (`ETag`, `Last-Modified`). Such fields must not survive when
/// the body is swapped for another.
pub fn describes_content(name: &str) -> bool {
    const FIELDS: [&str; 11] = [
        "content-length",
        "transfer-encoding",
        "trailer",
        "content-type",
        "content-encoding",
        "content-language",
        "content-location",
        "content-range",
        "content-disposition",
        "etag",
        "last-modified",
    ];
    FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries().iter()).finish()
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries().iter().map(|(n, v)| (n, v))
    }
}

impl FromIterator<(HeaderName, HeaderValue)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (HeaderName, HeaderValue)>>(iter: T) -> Self {
        HeaderMap {
            repr: Repr::Owned(iter.into_iter().collect()),
        }
    }
}
/// Strips optional whitespace (SP, HTAB) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Well-known field names, spelled as they are usually written.
pub mod names {
    use super::HeaderName;

    macro_rules! names {
        ($($id:ident = $s:literal;)*) => {
            $(
                #[doc = concat!("`", $s, "`")]
                pub const $id: HeaderName = HeaderName::from_static($s);
            )*
        };
    }

    names! {
        ACCEPT = "Accept";
        ACCEPT_RANGES = "Accept-Ranges";
        AUTHORIZATION = "Authorization";
        CACHE_CONTROL = "Cache-Control";
        CONNECTION = "Connection";
        CONTENT_LENGTH = "Content-Length";
        CONTENT_RANGE = "Content-Range";
        CONTENT_TYPE = "Content-Type";
        COOKIE = "Cookie";
        DATE = "Date";
        ETAG = "ETag";
        EXPECT = "Expect";
        HOST = "Host";
        IF_MATCH = "If-Match";
        IF_MODIFIED_SINCE = "If-Modified-Since";
        IF_NONE_MATCH = "If-None-Match";
        IF_RANGE = "If-Range";
        IF_UNMODIFIED_SINCE = "If-Unmodified-Since";
        LAST_MODIFIED = "Last-Modified";
        LOCATION = "Location";
        RANGE = "Range";
        SERVER = "Server";
        TE = "TE";
        TRAILER = "Trailer";
        TRANSFER_ENCODING = "Transfer-Encoding";
        UPGRADE = "Upgrade";
        USER_AGENT = "User-Agent";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carry_over_keeps_repeats_and_drops_content_fields() {
        let mut handler = HeaderMap::new();
        for (n, v) in [
            ("WWW-Authenticate", "Basic realm=\"a\""),
            ("Content-Length", "0"),
            ("WWW-Authenticate", "Bearer"),
            ("ETag", "\"x\""),
            ("Set-Cookie", "a="),
            ("Set-Cookie", "b="),
            ("X-Page", "handler"),
        ] {
            handler.append(n, v).unwrap();
        }
        let mut page = HeaderMap::new();
        page.append("Content-Type", "text/html").unwrap();
        page.append("content-length", "12").unwrap();
        page.append("X-Page", "page").unwrap();
        page.carry_over(&handler);
        let got: Vec<(String, String)> = page
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let want = [
            ("Content-Type", "text/html"),
            ("content-length", "12"),
            ("X-Page", "page"),
            ("WWW-Authenticate", "Basic realm=\"a\""),
            ("WWW-Authenticate", "Bearer"),
            ("Set-Cookie", "a="),
            ("Set-Cookie", "b="),
        ];
        assert_eq!(got, want.map(|(n, v)| (n.to_owned(), v.to_owned())));
        assert!(describes_content("TRANSFER-ENCODING"));
        assert!(!describes_content("www-authenticate"));
    }

    #[test]
    fn values_reject_injection() {
        assert_eq!(HeaderValue::try_from("a\r\nb"), Err(InvalidHeader::Value));
        assert_eq!(HeaderValue::try_from("a\nb"), Err(InvalidHeader::Value));
        assert_eq!(HeaderValue::try_from(" a"), Err(InvalidHeader::Value));
        assert_eq!(HeaderValue::try_from("a\t"), Err(InvalidHeader::Value));
        assert!(HeaderValue::try_from("a\tb c").is_ok());
        assert!(HeaderValue::try_from("").is_ok());
        assert!(HeaderValue::try_from("caf\u{e9}").is_ok());
    }

    #[test]
    fn map_operations() {
        let mut h = HeaderMap::new();
        h.append("A", "1").unwrap();
        h.append("b", "2").unwrap();
        h.append("a", "3").unwrap();
        assert_eq!(h.get("a").unwrap(), "1");
        assert_eq!(
            h.get_all("A").map(|v| v.as_bytes()).collect::<Vec<_>>(),
            [b"1", b"3"]
        );
        assert_eq!(h.remove("A").unwrap(), "1");
        assert_eq!(h.len(), 1);
        assert!(h.get("a").is_none());
        h.append("Connection", "keep-alive, Upgrade").unwrap();
        assert!(h.contains_token("connection", "upgrade"));
        assert!(!h.contains_token("connection", "close"));
        assert!(h.append("bad name", "x").is_err());
    }

    /// A map over parsed positions (no fold) of `fields`, written as a head.
    fn parsed(fields: &[(&str, &str)], pad: usize) -> (Bytes, HeaderMap) {
        let mut head = vec![b'x'; pad];
        let mut raw = Vec::new();
        for (n, v) in fields {
            let ns = head.len() as u32;
            head.extend_from_slice(n.as_bytes());
            let ne = head.len() as u32;
            head.extend_from_slice(b": ");
            let vs = head.len() as u32;
            head.extend_from_slice(v.as_bytes());
            let ve = head.len() as u32;
            head.extend_from_slice(b"\r\n");
            raw.push(RawHeader {
                name: (ns, ne),
                value: (vs, ve),
                folded: false,
            });
        }
        let buf = Bytes::from(head);
        let map = crate::http::parse::headers_from_raw(&buf, &raw);
        (buf, map)
    }

    /// Parsed maps (inline positions, positions in a Vec, heads past 64 KiB)
    /// answer every reader as the owned map of the same fields does, and
    /// turn into one on the first change, keeping order and spelling.
    #[test]
    fn parsed_maps_behave_as_owned_ones() {
        let few = [("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("Empty", "")];
        let many: Vec<(String, String)> = (0..11)
            .map(|k| (format!("N{k}"), format!("v{k}")))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        for (fields, pad) in [
            (&few[..], 0),
            (&few[..], 70_000),
            (&many[..], 0),
            (&[][..], 0),
        ] {
            let (_, map) = parsed(fields, pad);
            let mut owned = HeaderMap::new();
            for (n, v) in fields {
                owned.append(*n, *v).unwrap();
            }
            assert_eq!(map, owned);
            assert_eq!(format!("{map:?}"), format!("{owned:?}"));
            assert_eq!(map.len(), fields.len());
            let bytes: Vec<_> = map.iter_bytes().collect();
            let want: Vec<_> = fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            assert_eq!(bytes, want);
            for name in ["host", "X-A", "empty", "N10", "missing"] {
                assert_eq!(map.get(name), owned.get(name), "{name}");
                assert_eq!(map.get_bytes(name), owned.get_bytes(name), "{name}");
                assert_eq!(map.get_str(name), owned.get_str(name), "{name}");
                assert_eq!(map.contains(name), owned.contains(name), "{name}");
                let all: Vec<_> = map.get_all(name).collect();
                assert_eq!(all, owned.get_all(name).collect::<Vec<_>>());
                let all: Vec<_> = map.get_all_bytes(name).collect();
                assert_eq!(all, owned.get_all_bytes(name).collect::<Vec<_>>());
            }
            let pairs: Vec<_> = (&map)
                .into_iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            assert_eq!(
                pairs,
                want.iter()
                    .map(|(n, v)| (std::str::from_utf8(n).unwrap(), *v))
                    .collect::<Vec<_>>()
            );
            // Changes: each turns the map into owned fields, same results.
            let mut a = map.clone();
            let mut b = owned.clone();
            assert_eq!(a.remove("missing"), None);
            assert_eq!(a.remove("x-a"), b.remove("x-a"));
            a.insert("HOST", "b").unwrap();
            b.insert("HOST", "b").unwrap();
            a.append("New", "n").unwrap();
            b.append("New", "n").unwrap();
            assert_eq!(a, b);
            let names: Vec<_> = a.iter().map(|(n, _)| n.as_str().to_owned()).collect();
            assert_eq!(
                names,
                b.iter()
                    .map(|(n, _)| n.as_str().to_owned())
                    .collect::<Vec<_>>()
            );
            let mut c = HeaderMap::new();
            c.carry_over(&map);
            assert_eq!(c.len(), fields.len());
            a.clear();
            assert!(a.is_empty());
        }
    }

    #[test]
    fn header_map_is_send_and_sync() {
        fn check<T: Send + Sync + Unpin + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        check::<HeaderMap>();
        check::<crate::http::RequestHead>();
        check::<crate::http::ResponseHead>();
    }
}
