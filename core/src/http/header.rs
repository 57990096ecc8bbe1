//! Header fields: validated names that keep their original spelling, values,
//! and an ordered multimap.

use std::fmt;

use bytes::Bytes;

use super::chars::{is_field_value, is_token};

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
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
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
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(HeaderName, HeaderValue)>,
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
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of fields (duplicates counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.entries
            .iter()
            .find(|(n, _)| n.matches(name))
            .map(|(_, v)| v)
    }

    /// The first value of `name` as text, if it is ASCII.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(HeaderValue::to_str)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.matches(name))
            .map(|(_, v)| v)
    }

    /// The comma-separated list elements of every `name` field (RFC 9110
    /// §5.6.1), trimmed, empty elements skipped.
    pub fn get_list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).flat_map(|v| {
            v.as_bytes()
                .split(|&c| c == b',')
                .map(trim_ows)
                .filter(|e| !e.is_empty())
        })
    }

    /// Whether the `name` list holds `token` (case-insensitively), e.g.
    /// `contains_token("connection", "close")`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.get_list(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// Whether any field is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Copies onto `self` the fields of `other` that still hold when the
    /// body they came with is replaced by another (a server's custom error
    /// page standing in for a handler's empty 401): every instance of each
    /// field, in order, except the fields that describe or frame one
    /// particular body ([`describes_content`]) and those `self` already has.
    pub fn carry_over(&mut self, other: &HeaderMap) {
        let before = self.entries.len();
        for (name, value) in other {
            if describes_content(name.as_str())
                || self.entries[..before].iter().any(|(n, _)| n == name)
            {
                continue;
            }
            self.append_field(name.clone(), value.clone());
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
        self.entries.push((name, value));
        Ok(())
    }

    /// Adds an already validated field at the end.
    pub fn append_field(&mut self, name: HeaderName, value: HeaderValue) {
        self.entries.push((name, value));
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
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                let mut j = i + 1;
                while j < self.entries.len() {
                    if self.entries[j].0 == name {
                        self.entries.remove(j);
                    } else {
                        j += 1;
                    }
                }
                self.entries[i] = (name, value);
            }
            None => self.entries.push((name, value)),
        }
        Ok(())
    }

    /// Removes every field named `name`; returns the first removed value.
    pub fn remove(&mut self, name: &str) -> Option<HeaderValue> {
        let mut first = None;
        self.entries.retain(|(n, v)| {
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
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

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
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(n, v)| (n, v))
    }
}

impl FromIterator<(HeaderName, HeaderValue)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (HeaderName, HeaderValue)>>(iter: T) -> Self {
        HeaderMap {
            entries: iter.into_iter().collect(),
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
}
