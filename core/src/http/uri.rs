//! Request targets (RFC 9112 §3.2), percent-encoding per URI component, and
//! `application/x-www-form-urlencoded` queries.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use percent_encoding::{AsciiSet, CONTROLS};

use super::chars::{find_non_uri, is_vchar};
use super::Method;

/// Which of the four forms of RFC 9112 §3.2 a request-target has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query` (§3.2.1), the usual form.
    Origin,
    /// `http://host/path?query` (§3.2.2), sent to proxies.
    Absolute,
    /// `host:port` (§3.2.3), only for CONNECT.
    Authority,
    /// `*` (§3.2.4), only for a server-wide OPTIONS.
    Asterisk,
}

/// A validated request-target; keeps the exact bytes and where its parts are.
///
/// ```
/// use wireloom_core::http::{RequestTarget, TargetForm, Method};
/// let t = RequestTarget::parse(b"/search?q=a+b&lang=en", &Method::GET).unwrap();
/// assert_eq!(t.form(), TargetForm::Origin);
/// assert_eq!(t.path(), "/search");
/// assert_eq!(t.query(), Some("q=a+b&lang=en"));
/// let pairs: Vec<_> = t.query_pairs().collect();
/// assert_eq!(pairs[0], ("q".into(), "a b".into()));
///
/// let p = RequestTarget::parse(b"http://example.com:8080/x?y", &Method::GET).unwrap();
/// assert_eq!((p.scheme(), p.authority(), p.path()), (Some("http"), Some("example.com:8080"), "/x"));
/// assert!(RequestTarget::parse(b"example.com:443", &Method::GET).is_err());
/// assert!(RequestTarget::parse(b"example.com:443", &Method::CONNECT).is_ok());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RequestTarget {
    raw: Bytes,
    form: TargetForm,
    /// End of `scheme` (absolute-form), exclusive.
    scheme_end: u16,
    /// Authority range (absolute- and authority-form).
    auth: (u16, u16),
    /// Path range; empty path in absolute-form means "/".
    path: (u16, u16),
    /// Start of the query (after `?`), or `u16::MAX`.
    query: u16,
}

/// The request-target is not valid for the method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidTarget {
    /// A byte outside the allowed set, or a `%` not followed by two hex digits.
    Character,
    /// Not one of the four forms, or a form the method may not use.
    Form,
    /// Longer than 65535 bytes.
    TooLong,
}

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidTarget::Character => "invalid character in request-target",
            InvalidTarget::Form => "request-target form not allowed for this method",
            InvalidTarget::TooLong => "request-target too long",
        })
    }
}

impl std::error::Error for InvalidTarget {}

const NONE: u16 = u16::MAX;

impl RequestTarget {
    /// Parses and validates a target strictly (RFC 3986 characters only).
    pub fn parse(raw: &[u8], method: &Method) -> Result<RequestTarget, InvalidTarget> {
        Self::parse_shared(Bytes::copy_from_slice(raw), method, false)
    }

    /// Parses a target over shared bytes. With `lenient_chars`, any visible
    /// ASCII character is accepted (still no `#`, no space, no control).
    pub fn parse_shared(
        raw: Bytes,
        method: &Method,
        lenient_chars: bool,
    ) -> Result<RequestTarget, InvalidTarget> {
        if raw.len() >= NONE as usize {
            return Err(InvalidTarget::TooLong);
        }
        check_chars(&raw, lenient_chars)?;
        Ok(Layout::of(&raw, method, None)?.with(raw))
    }

    /// The layout of the target `b`, whose characters the head scan already
    /// checked (`query`: where its first `?` is, if any): only the form is
    /// judged here. [`RequestTarget::from_layout`] then makes the target,
    /// so that the caller slices its buffer only for a valid one and builds
    /// the target where it is kept.
    #[inline]
    pub(crate) fn scanned_layout(
        b: &[u8],
        query: Option<usize>,
        method: &Method,
    ) -> Result<Layout, InvalidTarget> {
        if b.len() >= NONE as usize {
            return Err(InvalidTarget::TooLong);
        }
        if b.is_empty() {
            return Err(InvalidTarget::Form);
        }
        Layout::of(b, method, Some(query))
    }

    /// The target with the bytes `raw` laid out as `layout` says.
    #[inline]
    pub(crate) fn from_layout(raw: Bytes, layout: Layout) -> RequestTarget {
        layout.with(raw)
    }

    /// The form of this target.
    pub fn form(&self) -> TargetForm {
        self.form
    }

    /// The exact bytes as received (or given).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The shared bytes.
    pub fn as_shared(&self) -> &Bytes {
        &self.raw
    }

    /// The target as text (it is ASCII by construction).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.raw).unwrap_or("")
    }

    fn range(&self, (s, e): (u16, u16)) -> &str {
        &self.as_str()[s as usize..e as usize]
    }

    /// The path, still percent-encoded: `/` for an absolute-form target with an
    /// empty path and for `*`; empty for authority-form.
    pub fn path(&self) -> &str {
        let p = self.range(self.path);
        match self.form {
            TargetForm::Absolute if p.is_empty() => "/",
            TargetForm::Asterisk => "*",
            _ => p,
        }
    }

    /// The query without `?`, still encoded.
    pub fn query(&self) -> Option<&str> {
        if self.query == NONE {
            None
        } else {
            Some(&self.as_str()[self.query as usize..])
        }
    }

    /// The scheme of an absolute-form target.
    pub fn scheme(&self) -> Option<&str> {
        (self.form == TargetForm::Absolute).then(|| &self.as_str()[..self.scheme_end as usize])
    }

    /// The authority (`host[:port]`) of an absolute- or authority-form target.
    pub fn authority(&self) -> Option<&str> {
        matches!(self.form, TargetForm::Absolute | TargetForm::Authority)
            .then(|| self.range(self.auth))
    }

    /// The path a router matches this target against: the path for the
    /// origin, absolute and asterisk forms, and `/host:port` for CONNECT's
    /// authority form (so `/{*authority}` routes catch tunnels).
    ///
    /// ```
    /// use wireloom_core::http::{Method, RequestTarget};
    /// let t = RequestTarget::parse(b"example.com:443", &Method::CONNECT).unwrap();
    /// assert_eq!(t.route_path(), "/example.com:443");
    /// let t = RequestTarget::parse(b"/a/b?c", &Method::GET).unwrap();
    /// assert_eq!(t.route_path(), "/a/b");
    /// ```
    pub fn route_path(&self) -> Cow<'_, str> {
        match (self.form, self.authority()) {
            (TargetForm::Authority, Some(a)) => Cow::Owned(format!("/{a}")),
            _ => Cow::Borrowed(self.path()),
        }
    }

    /// The path percent-decoded (as UTF-8, lossily).
    pub fn decoded_path(&self) -> Cow<'_, str> {
        percent_decode(self.path())
    }

    /// The path's segments, each percent-decoded on its own (as UTF-8,
    /// lossily), so that an encoded `%2F` stays inside its segment instead of
    /// splitting it: the decoding that matches [`encode_path_segment`]. Empty
    /// for authority-form and `*`.
    ///
    /// ```
    /// use wireloom_core::http::{Method, RequestTarget};
    /// let t = RequestTarget::parse(b"/files/a%2Fb/caf%C3%A9?x", &Method::GET).unwrap();
    /// let segs: Vec<_> = t.path_segments().collect();
    /// assert_eq!(segs, ["files", "a/b", "caf\u{e9}"]);
    /// assert_eq!(t.decoded_path(), "/files/a/b/caf\u{e9}");
    /// ```
    pub fn path_segments(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let p = match self.form {
            TargetForm::Origin | TargetForm::Absolute => self.path(),
            TargetForm::Authority | TargetForm::Asterisk => "",
        };
        let p = p.strip_prefix('/').unwrap_or(p);
        let mut segs = p.split('/');
        if p.is_empty() {
            // `/` has no segments, not one empty one.
            segs.next();
        }
        segs.map(percent_decode)
    }

    /// The query parsed as `application/x-www-form-urlencoded` pairs.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        parse_form(self.query().unwrap_or("").as_bytes())
    }
}

/// Where the parts of a target are (everything of [`RequestTarget`] but
/// its bytes).
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    form: TargetForm,
    scheme_end: u16,
    auth: (u16, u16),
    path: (u16, u16),
    query: u16,
}

impl Layout {
    /// Finds the form and parts of `b` (non-empty, shorter than
    /// `u16::MAX`, characters already checked) for `method`. `query` is the
    /// position of the first `?` when the caller knows it (`Some(None)`:
    /// there is none).
    #[inline]
    fn of(
        b: &[u8],
        method: &Method,
        query: Option<Option<usize>>,
    ) -> Result<Layout, InvalidTarget> {
        let len = b.len() as u16;
        let mut t = Layout {
            form: TargetForm::Origin,
            scheme_end: 0,
            auth: (0, 0),
            path: (0, len),
            query: NONE,
        };
        if *method == Method::CONNECT {
            // authority-form: uri-host ":" port, nothing else.
            if !is_authority_form(b) {
                return Err(InvalidTarget::Form);
            }
            t.form = TargetForm::Authority;
            t.auth = (0, len);
            t.path = (len, len);
            return Ok(t);
        }
        if b[0] == b'/' {
            t.form = TargetForm::Origin;
        } else if b == b"*" {
            if *method != Method::OPTIONS {
                return Err(InvalidTarget::Form);
            }
            t.form = TargetForm::Asterisk;
            t.path = (0, 0);
            return Ok(t);
        } else {
            // absolute-form: scheme "://" authority path-abempty [ "?" query ]
            let colon = memchr::memchr(b':', b).ok_or(InvalidTarget::Form)?;
            let scheme = &b[..colon];
            let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
            if !scheme_ok || !b[colon..].starts_with(b"://") {
                return Err(InvalidTarget::Form);
            }
            let a_start = colon + 3;
            let a_end = b[a_start..]
                .iter()
                .position(|&c| c == b'/' || c == b'?')
                .map_or(b.len(), |p| p + a_start);
            let authority = &b[a_start..a_end];
            if authority.is_empty() || authority.contains(&b'@') {
                // userinfo is deprecated in http(s) URIs (RFC 9110 §4.2.4).
                return Err(InvalidTarget::Form);
            }
            t.form = TargetForm::Absolute;
            t.scheme_end = colon as u16;
            t.auth = (a_start as u16, a_end as u16);
            t.path = (a_end as u16, len);
        }
        // Origin or absolute form: the query starts after the first `?`
        // (which is in the path part: the authority stops at `?`).
        let (ps, pe) = t.path;
        let q = match query {
            Some(q) => q,
            None => find_question(&b[ps as usize..pe as usize]).map(|q| ps as usize + q),
        };
        if let Some(q) = q {
            t.path = (ps, q as u16);
            t.query = q as u16 + 1;
        }
        Ok(t)
    }

    fn with(self, raw: Bytes) -> RequestTarget {
        RequestTarget {
            raw,
            form: self.form,
            scheme_end: self.scheme_end,
            auth: self.auth,
            path: self.path,
            query: self.query,
        }
    }
}

/// The first `?` in `b`: a plain loop for the short paths most targets
/// have (memchr's set-up costs more than it saves there), memchr beyond.
#[inline]
fn find_question(b: &[u8]) -> Option<usize> {
    if b.len() < 32 {
        b.iter().position(|&c| c == b'?')
    } else {
        memchr::memchr(b'?', b)
    }
}

impl fmt::Debug for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn check_chars(b: &[u8], lenient: bool) -> Result<(), InvalidTarget> {
    if b.is_empty() {
        return Err(InvalidTarget::Form);
    }
    if !lenient {
        // Runs of plain characters sixteen at a time; stop at `%` or a bad byte.
        let mut i = 0;
        loop {
            i = find_non_uri(b, i);
            match b.get(i) {
                None => return Ok(()),
                Some(b'%') => {
                    let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                    if !hex(i + 1) || !hex(i + 2) {
                        return Err(InvalidTarget::Character);
                    }
                    i += 3;
                }
                Some(_) => return Err(InvalidTarget::Character),
            }
        }
    }
    // Lenient: any visible ASCII but `#`.
    if b.iter().all(|&c| is_vchar(c) && c != b'#') {
        Ok(())
    } else {
        Err(InvalidTarget::Character)
    }
}

fn is_authority_form(b: &[u8]) -> bool {
    // host ":" port; host may be an IP-literal in brackets.
    let Some(colon) = memchr::memrchr(b':', b) else {
        return false;
    };
    let (host, port) = (&b[..colon], &b[colon + 1..]);
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if host.is_empty() {
        return false;
    }
    if host[0] == b'[' {
        return host.len() > 2
            && host[host.len() - 1] == b']'
            && host[1..host.len() - 1]
                .iter()
                .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
    }
    host.iter()
        .all(|&c| !matches!(c, b'/' | b'?' | b'@' | b':' | b'[' | b']'))
}

/// Characters percent-encoded in a path segment: controls, space, and
/// everything that is not `pchar` (RFC 3986 §3.3), including `/`.
pub const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Characters percent-encoded in a path (like [`PATH_SEGMENT`] but `/` kept).
pub const PATH: &AsciiSet = &PATH_SEGMENT.remove(b'/');

/// Characters percent-encoded in a query component (a key or value): like
/// [`PATH_SEGMENT`] plus `&`, `=`, `+` so the result survives form parsing.
pub const QUERY_COMPONENT: &AsciiSet = &PATH_SEGMENT.add(b'&').add(b'=').add(b'+');

/// Percent-encodes `s` for use as one path segment.
///
/// ```
/// use wireloom_core::http::uri::encode_path_segment;
/// assert_eq!(encode_path_segment("a b/c%"), "a%20b%2Fc%25");
/// ```
pub fn encode_path_segment(s: &str) -> Cow<'_, str> {
    percent_encoding::utf8_percent_encode(s, PATH_SEGMENT).into()
}

/// Percent-encodes `s` for use as a path (slashes kept).
pub fn encode_path(s: &str) -> Cow<'_, str> {
    percent_encoding::utf8_percent_encode(s, PATH).into()
}

/// Percent-encodes `s` for use as a query key or value.
pub fn encode_query_component(s: &str) -> Cow<'_, str> {
    percent_encoding::utf8_percent_encode(s, QUERY_COMPONENT).into()
}

/// Decodes `%XX` escapes (a `+` stays a `+`); invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

/// Parses `application/x-www-form-urlencoded` bytes into pairs (`+` is a space).
///
/// ```
/// use wireloom_core::http::uri::parse_form;
/// let v: Vec<_> = parse_form(b"a=1&b=x+y&c=%C3%A9&d").collect();
/// assert_eq!(v, [("a".into(), "1".into()), ("b".into(), "x y".into()),
///                ("c".into(), "\u{e9}".into()), ("d".into(), "".into())]);
/// ```
pub fn parse_form(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(input)
}

/// Builds an `application/x-www-form-urlencoded` string from pairs.
///
/// ```
/// use wireloom_core::http::uri::build_form;
/// assert_eq!(build_form([("q", "a b"), ("x", "&=")]), "q=a+b&x=%26%3D");
/// ```
pub fn build_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = RequestTarget::parse(b"*", &Method::OPTIONS).unwrap();
        assert_eq!(t.form(), TargetForm::Asterisk);
        assert!(RequestTarget::parse(b"*", &Method::GET).is_err());
        let c = RequestTarget::parse(b"[::1]:443", &Method::CONNECT).unwrap();
        assert_eq!(c.authority(), Some("[::1]:443"));
        assert!(RequestTarget::parse(b"/x", &Method::CONNECT).is_err());
        assert!(RequestTarget::parse(b"host", &Method::CONNECT).is_err());
        assert!(RequestTarget::parse(b"http://a@b/", &Method::GET).is_err());
        assert!(RequestTarget::parse(b"/a#frag", &Method::GET).is_err());
        assert!(RequestTarget::parse(b"/a%zz", &Method::GET).is_err());
        assert!(RequestTarget::parse(b"/a\\b", &Method::GET).is_err());
        assert!(
            RequestTarget::parse_shared(Bytes::from_static(b"/a\\b|"), &Method::GET, true).is_ok()
        );
        let a = RequestTarget::parse(b"https://h?x=1", &Method::GET).unwrap();
        assert_eq!((a.path(), a.query()), ("/", Some("x=1")));
        let d = RequestTarget::parse(b"/caf%C3%A9%20x", &Method::GET).unwrap();
        assert_eq!(d.decoded_path(), "/caf\u{e9} x");
    }

    #[test]
    fn path_segments_decode_per_segment() {
        let seg = |t: &[u8], m: &Method| -> Vec<String> {
            let t = RequestTarget::parse(t, m).unwrap();
            t.path_segments().map(|s| s.into_owned()).collect()
        };
        assert_eq!(seg(b"/", &Method::GET), Vec::<String>::new());
        assert_eq!(seg(b"/a//b/", &Method::GET), ["a", "", "b", ""]);
        assert_eq!(seg(b"/a%2F%20b", &Method::GET), ["a/ b"]);
        assert_eq!(seg(b"http://h", &Method::GET), Vec::<String>::new());
        assert_eq!(seg(b"http://h/x%3Fy?q", &Method::GET), ["x?y"]);
        assert_eq!(seg(b"h:1", &Method::CONNECT), Vec::<String>::new());
        assert_eq!(seg(b"*", &Method::OPTIONS), Vec::<String>::new());
        // Round trip with the per-segment encoder.
        for parts in [&["a/b", "c d", "%", "\u{e9}?#"][..], &["x"]] {
            let path: String = parts
                .iter()
                .map(|p| format!("/{}", encode_path_segment(p)))
                .collect();
            assert_eq!(seg(path.as_bytes(), &Method::GET), parts);
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        for s in ["a b", "é/ü?&=+#%", "", "plain"] {
            assert_eq!(percent_decode(&encode_path_segment(s)), s);
            let q = build_form([("k", s)]);
            let back: Vec<_> = parse_form(q.as_bytes()).collect();
            assert_eq!(back[0].1, s);
        }
    }
}
