//! Conversions between wireloom's HTTP types and those of the [`http`]
//! crate (1.x), the types tower, axum, hyper and reqwest speak (feature
//! `http`, on by default).
//!
//! | wireloom | `http` | to `http` | from `http` |
//! | --- | --- | --- | --- |
//! | [`Method`] | [`http::Method`] | `From` | `From` |
//! | [`StatusCode`] | [`http::StatusCode`] | `From` | `From` |
//! | [`Version`] | [`http::Version`] | `From` | `TryFrom` (1.0 and 1.1 only) |
//! | [`HeaderName`] | [`http::HeaderName`] | `TryFrom` (64 KiB at most) | `From` |
//! | [`HeaderValue`] | [`http::HeaderValue`] | `From` | `TryFrom` (surrounding whitespace trimmed) |
//! | [`HeaderMap`] | [`http::HeaderMap`] | `TryFrom` | `TryFrom` |
//! | [`RequestHead`] | [`http::Request<()>`], [`http::request::Parts`] | `TryFrom` | `TryFrom` |
//! | [`ResponseHead`] | [`http::Response<()>`], [`http::response::Parts`] | `TryFrom` | `TryFrom` |
//!
//! The `From` conversions cannot fail: both sides accept the same
//! characters and ranges (each is checked against every byte or number by
//! this module's tests).
//!
//! # What `http` does not keep, and how it comes back
//!
//! wireloom keeps each field name as it was spelled and the fields in the
//! order they came; [`http::HeaderMap`] lowercases names and groups the
//! values of one name together. A head converted to `http` therefore
//! carries its original fields in the message's extensions as a
//! [`HeaderCase`] (what hyper does with its header-case map) whenever the
//! `http` map loses something: a name not written in lowercase, or a field
//! whose name came earlier but not right before it. Only a head whose
//! names are all lowercase, with the fields of each name next to each
//! other, goes without one: converting it back without a `HeaderCase`
//! gives the same fields in the same order and spelling, and the message
//! is spared the extensions map's allocations (clients that write
//! lowercase names; read it as `Option<HeaderCase>`). The message also
//! carries its request-target or reason phrase as an [`OriginalTarget`]
//! or a [`ReasonPhrase`]. Converting back restores the spelling and order of
//! every field still present, then appends the fields added on the `http`
//! side; a request-target is kept byte for byte unless the `Uri` was
//! changed. A proxy built on `http` types thus writes the names as it
//! received them.
//!
//! ```
//! use wireloom_core::http::{Method, RequestHead};
//! use bytes::BytesMut;
//! use wireloom_core::http::serialize::write_request_head;
//!
//! let mut head = RequestHead::new(Method::GET, "/a?b=1").unwrap();
//! head.header("Host", "example.com").unwrap();
//! head.header("X-Trace-ID", "7").unwrap();
//! head.header("accept", "*/*").unwrap();
//!
//! let mut req = http::Request::try_from(head.clone()).unwrap();
//! assert_eq!(req.uri().path(), "/a");
//! assert_eq!(req.headers()["x-trace-id"], "7");
//! req.headers_mut().insert("x-added", "1".parse().unwrap());
//!
//! let back = RequestHead::try_from(req).unwrap();
//! let mut wire = BytesMut::new();
//! write_request_head(&mut wire, &back);
//! assert_eq!(
//!     &wire[..],
//!     b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Trace-ID: 7\r\naccept: */*\r\nx-added: 1\r\n\r\n"
//! );
//! ```

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;

use super::header::{HeaderMap, HeaderName, HeaderValue, InvalidHeader};
use super::message::{RequestHead, ResponseHead};
use super::method::{InvalidMethod, Method};
use super::status::StatusCode;
use super::uri::{InvalidTarget, RequestTarget, TargetForm};
use super::version::Version;

/// Why a conversion from or to an [`http`] type failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InteropError {
    /// A method that is not a token.
    Method(InvalidMethod),
    /// A version other than HTTP/1.0 and HTTP/1.1 (this wire has no other).
    Version(http::Version),
    /// A field name or value wireloom (or `http`) refuses: a control
    /// character in a value, a name longer than `http` allows.
    Header(InvalidHeader),
    /// A request-target that is not valid for the method.
    Target(InvalidTarget),
    /// A request-target the `http` crate's `Uri` refuses.
    Uri,
}

impl fmt::Display for InteropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InteropError::Method(e) => fmt::Display::fmt(e, f),
            InteropError::Version(v) => write!(f, "{v:?} cannot be sent as HTTP/1.x"),
            InteropError::Header(e) => fmt::Display::fmt(e, f),
            InteropError::Target(e) => fmt::Display::fmt(e, f),
            InteropError::Uri => f.write_str("request-target refused by http::Uri"),
        }
    }
}

impl std::error::Error for InteropError {}

impl From<InvalidHeader> for InteropError {
    fn from(e: InvalidHeader) -> Self {
        InteropError::Header(e)
    }
}

impl From<InvalidMethod> for InteropError {
    fn from(e: InvalidMethod) -> Self {
        InteropError::Method(e)
    }
}

impl From<InvalidTarget> for InteropError {
    fn from(e: InvalidTarget) -> Self {
        InteropError::Target(e)
    }
}

// ---- methods ----

impl From<Method> for http::Method {
    fn from(m: Method) -> http::Method {
        http::Method::from(&m)
    }
}

impl From<&Method> for http::Method {
    fn from(m: &Method) -> http::Method {
        match m.as_str() {
            "GET" => http::Method::GET,
            "HEAD" => http::Method::HEAD,
            "POST" => http::Method::POST,
            "PUT" => http::Method::PUT,
            "DELETE" => http::Method::DELETE,
            "CONNECT" => http::Method::CONNECT,
            "OPTIONS" => http::Method::OPTIONS,
            "TRACE" => http::Method::TRACE,
            "PATCH" => http::Method::PATCH,
            // Both accept exactly the tokens (a test checks every byte):
            // the fallback is never taken.
            other => http::Method::from_bytes(other.as_bytes()).unwrap_or_default(),
        }
    }
}

impl From<http::Method> for Method {
    fn from(m: http::Method) -> Method {
        Method::from(&m)
    }
}

impl From<&http::Method> for Method {
    fn from(m: &http::Method) -> Method {
        // Registered methods are matched without allocating; both crates
        // accept exactly the tokens (a test checks every byte), so the
        // fallback is never taken.
        Method::from_bytes(m.as_str().as_bytes()).unwrap_or(Method::GET)
    }
}

// ---- status codes and versions ----

impl From<StatusCode> for http::StatusCode {
    fn from(s: StatusCode) -> http::StatusCode {
        // Both are 100 to 999 (a test checks every number).
        http::StatusCode::from_u16(s.as_u16()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<http::StatusCode> for StatusCode {
    fn from(s: http::StatusCode) -> StatusCode {
        StatusCode::from_u16(s.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Version> for http::Version {
    fn from(v: Version) -> http::Version {
        match v {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        }
    }
}

impl TryFrom<http::Version> for Version {
    type Error = InteropError;
    fn try_from(v: http::Version) -> Result<Version, InteropError> {
        match v {
            http::Version::HTTP_10 => Ok(Version::Http10),
            http::Version::HTTP_11 => Ok(Version::Http11),
            other => Err(InteropError::Version(other)),
        }
    }
}

// ---- field names and values ----

impl TryFrom<&HeaderName> for http::HeaderName {
    type Error = InteropError;
    /// Lowercases the name; `http` refuses names of 64 KiB or more.
    fn try_from(n: &HeaderName) -> Result<http::HeaderName, InteropError> {
        http::HeaderName::from_bytes(n.as_bytes()).map_err(|_| InvalidHeader::Name.into())
    }
}

impl TryFrom<HeaderName> for http::HeaderName {
    type Error = InteropError;
    fn try_from(n: HeaderName) -> Result<http::HeaderName, InteropError> {
        http::HeaderName::try_from(&n)
    }
}

impl From<&http::HeaderName> for HeaderName {
    /// The lowercase name; the common response fields without an
    /// allocation.
    fn from(n: &http::HeaderName) -> HeaderName {
        const COMMON: [&str; 16] = [
            "content-type",
            "content-length",
            "date",
            "server",
            "cache-control",
            "connection",
            "location",
            "set-cookie",
            "etag",
            "last-modified",
            "vary",
            "content-encoding",
            "transfer-encoding",
            "access-control-allow-origin",
            "x-content-type-options",
            "www-authenticate",
        ];
        let s = n.as_str();
        match COMMON.iter().find(|c| **c == s) {
            Some(c) => HeaderName::from_validated(Bytes::from_static(c.as_bytes())),
            // `http` names are lowercase tokens (a test checks every byte).
            None => HeaderName::from_validated(Bytes::copy_from_slice(s.as_bytes())),
        }
    }
}

impl From<http::HeaderName> for HeaderName {
    fn from(n: http::HeaderName) -> HeaderName {
        HeaderName::from(&n)
    }
}

impl From<HeaderValue> for http::HeaderValue {
    /// Without a copy: the value's `Bytes` are shared.
    fn from(v: HeaderValue) -> http::HeaderValue {
        // Both refuse exactly the controls but HTAB (a test checks every
        // byte): the fallback is never taken.
        http::HeaderValue::from_maybe_shared(v.as_shared().clone())
            .unwrap_or_else(|_| http::HeaderValue::from_static(""))
    }
}

impl From<&HeaderValue> for http::HeaderValue {
    fn from(v: &HeaderValue) -> http::HeaderValue {
        http::HeaderValue::from(v.clone())
    }
}

impl TryFrom<&http::HeaderValue> for HeaderValue {
    type Error = InteropError;
    /// Leading and trailing spaces and tabs are trimmed: `http` keeps
    /// them, but RFC 9110 §5.5 makes them no part of a field value (so an
    /// application's `" text/plain"` is sent as `text/plain`, not refused
    /// with a 500). Refused: what no field value may hold (control
    /// characters).
    fn try_from(v: &http::HeaderValue) -> Result<HeaderValue, InteropError> {
        // Common values are shared statics, not copies.
        const COMMON: [&str; 8] = [
            "text/plain; charset=utf-8",
            "application/json",
            "text/html; charset=utf-8",
            "text/event-stream",
            "application/octet-stream",
            "no-cache",
            "close",
            "keep-alive",
        ];
        let mut b = v.as_bytes();
        while let [b' ' | b'\t', rest @ ..] = b {
            b = rest;
        }
        while let [rest @ .., b' ' | b'\t'] = b {
            b = rest;
        }
        if let Some(c) = COMMON.iter().find(|c| c.as_bytes() == b) {
            return Ok(HeaderValue::from_validated(Bytes::from_static(
                c.as_bytes(),
            )));
        }
        HeaderValue::from_shared(Bytes::copy_from_slice(b)).map_err(Into::into)
    }
}

impl TryFrom<http::HeaderValue> for HeaderValue {
    type Error = InteropError;
    fn try_from(v: http::HeaderValue) -> Result<HeaderValue, InteropError> {
        HeaderValue::try_from(&v)
    }
}

// ---- header maps ----

/// The fields of a head as wireloom had them (spelling and order), kept in
/// the extensions of an `http` message made from a wireloom head, so that
/// converting back writes the names as received. Absent when the `http`
/// map keeps them anyway (every name lowercase, each name's fields next to
/// each other; see the [module docs](self#what-http-does-not-keep-and-how-it-comes-back)).
/// Put it in the extensions
/// of an `http` message yourself to choose how its names are spelled.
///
/// ```
/// use wireloom_core::http::interop::{HeaderCase, headers_from_http};
/// use wireloom_core::http::HeaderMap;
/// let mut original = HeaderMap::new();
/// original.append("X-API-Key", "k").unwrap();
/// let case = HeaderCase::new(original);
/// let mut map = http::HeaderMap::new();
/// map.insert("x-api-key", "k".parse().unwrap());
/// map.insert("x-new", "n".parse().unwrap());
/// let back = headers_from_http(&map, Some(&case)).unwrap();
/// let names: Vec<_> = back.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["X-API-Key", "x-new"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderCase(HeaderMap);

impl HeaderCase {
    /// The spelling and order of `fields`' names (their values are only
    /// kept alongside, they are not restored from here).
    pub fn new(fields: HeaderMap) -> HeaderCase {
        HeaderCase(fields)
    }

    /// The names in their original spelling and order.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.0.iter_bytes().map(|(n, _)| n)
    }

    /// The original fields.
    pub fn fields(&self) -> &HeaderMap {
        &self.0
    }
}

/// The request-target exactly as wireloom had it, kept in the extensions of
/// an `http` request made from a wireloom head: `http::Uri` normalises some
/// forms (`HTTP://A` becomes `http://A/`). Used when converting back as long
/// as the `Uri` still means the same target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalTarget(pub RequestTarget);

/// A response's reason phrase, kept in the extensions of an `http`
/// response when it is not the registered phrase of its status (`http` has
/// no place for it). Set it yourself to send a phrase of your own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonPhrase(pub Bytes);

/// `map` as an [`http::HeaderMap`] (names lowercased; values shared, not
/// copied). Keep a [`HeaderCase`] of the original map to get the spelling
/// and order back with [`headers_from_http`].
pub fn headers_to_http(map: &HeaderMap) -> Result<http::HeaderMap, InteropError> {
    headers_to_http_keeping(map).map(|(out, _)| out)
}

/// `map` as an [`http::HeaderMap`], and whether that map loses anything
/// [`headers_from_http`] without a [`HeaderCase`] could not give back: a
/// name not written in lowercase, or a field whose name came before but
/// not right before it (`http` groups the values of a name together).
/// When false, converting back without a `HeaderCase` gives exactly
/// `map`'s fields, spelling and order.
fn headers_to_http_keeping(map: &HeaderMap) -> Result<(http::HeaderMap, bool), InteropError> {
    let mut out = http::HeaderMap::with_capacity(map.len());
    let mut loses = false;
    // The previous field's name, while nothing is lost yet (all names so
    // far lowercase: comparing the bytes compares the names).
    let mut prev: &[u8] = &[];
    map.try_for_each_shared(|n, v| {
        let name = http::HeaderName::from_bytes(n).map_err(|_| InvalidHeader::Name)?;
        // Validated on entry into `map`, with the same rule `http` has.
        let value = http::HeaderValue::from_maybe_shared(v).map_err(|_| InvalidHeader::Value)?;
        // `append` is true for a name already present.
        let seen = out.append(name, value);
        if !loses {
            loses = n.iter().any(u8::is_ascii_uppercase) || (seen && prev != n);
            prev = n;
        }
        Ok::<_, InteropError>(())
    })?;
    Ok((out, loses))
}

/// `map` as a wireloom [`HeaderMap`]. With `case`, the fields named there
/// come first, in its order and spelling (the k-th field of a name takes
/// the k-th value `map` has for it; names `map` no longer has are
/// skipped), then every other field of `map` in its order, spelled as
/// `case` spells the name if it does, else lowercase. Without `case`,
/// `map`'s order, lowercase.
pub fn headers_from_http(
    map: &http::HeaderMap,
    case: Option<&HeaderCase>,
) -> Result<HeaderMap, InteropError> {
    headers_from_http_skipping(map, case, None)
}

/// [`headers_from_http`]; without `case`, the one `content-length` of
/// `map` is left out when it is exactly the digits of `skip_length`.
fn headers_from_http_skipping(
    map: &http::HeaderMap,
    case: Option<&HeaderCase>,
    skip_length: Option<u64>,
) -> Result<HeaderMap, InteropError> {
    // Room for one field more: the `Date` a server adds to a response.
    let mut out = HeaderMap::with_capacity(map.len() + 1);
    let value = |v: &http::HeaderValue| HeaderValue::try_from(v);
    let Some(case) = case.filter(|c| !c.0.is_empty()) else {
        let mut digits = [0u8; 20];
        let skip = skip_length.map(|n| decimal(n, &mut digits));
        // A `content-length` held back; put back when another follows
        // (`http` yields the values of a name one after the other).
        let mut held = None;
        let mut length_seen = false;
        for (n, v) in map {
            if let Some(skip) = skip {
                if n == http::header::CONTENT_LENGTH {
                    if !length_seen && v.as_bytes() == skip {
                        length_seen = true;
                        held = Some(v);
                        continue;
                    }
                    length_seen = true;
                    if let Some(h) = held.take() {
                        out.append_field(HeaderName::from(n), value(h)?);
                    }
                }
            }
            out.append_field(HeaderName::from(n), value(v)?);
        }
        return Ok(out);
    };
    // Per lowercase name: how many of its values were taken, and the
    // spelling to use for the rest.
    let mut taken: HashMap<http::HeaderName, (usize, HeaderName)> = HashMap::new();
    for (n, _) in case.0.iter() {
        let Ok(key) = http::HeaderName::from_bytes(n.as_bytes()) else {
            continue;
        };
        let entry = taken.entry(key.clone()).or_insert_with(|| (0, n.clone()));
        let k = entry.0;
        entry.0 += 1;
        if let Some(v) = map.get_all(&key).iter().nth(k) {
            out.append_field(n.clone(), value(v)?);
        }
    }
    for key in map.keys() {
        let (skip, name) = match taken.get(key) {
            Some((k, n)) => (*k, n.clone()),
            None => (0, HeaderName::from(key)),
        };
        for v in map.get_all(key).iter().skip(skip) {
            out.append_field(name.clone(), value(v)?);
        }
    }
    Ok(out)
}

impl TryFrom<&HeaderMap> for http::HeaderMap {
    type Error = InteropError;
    fn try_from(map: &HeaderMap) -> Result<http::HeaderMap, InteropError> {
        headers_to_http(map)
    }
}

impl TryFrom<HeaderMap> for http::HeaderMap {
    type Error = InteropError;
    fn try_from(map: HeaderMap) -> Result<http::HeaderMap, InteropError> {
        headers_to_http(&map)
    }
}

impl TryFrom<&http::HeaderMap> for HeaderMap {
    type Error = InteropError;
    /// Lowercase names, `http`'s order (see [`headers_from_http`] to restore
    /// a [`HeaderCase`]).
    fn try_from(map: &http::HeaderMap) -> Result<HeaderMap, InteropError> {
        headers_from_http(map, None)
    }
}

impl TryFrom<http::HeaderMap> for HeaderMap {
    type Error = InteropError;
    fn try_from(map: http::HeaderMap) -> Result<HeaderMap, InteropError> {
        headers_from_http(&map, None)
    }
}

// ---- request heads ----

/// The target as an `http::Uri`, sharing its bytes.
pub fn target_to_uri(target: &RequestTarget) -> Result<http::Uri, InteropError> {
    http::Uri::from_maybe_shared(target.as_shared().clone()).map_err(|_| InteropError::Uri)
}

/// `head` as the parts of an `http` request: method, target as `Uri`,
/// version, fields (lowercased), with a [`HeaderCase`] in the extensions
/// when the `http` map alone would lose the fields' spelling or order (see
/// the [module docs](self#what-http-does-not-keep-and-how-it-comes-back)),
/// and an [`OriginalTarget`] for a target not in origin form (an
/// origin-form target is the `Uri`'s path and query, byte for byte).
pub fn request_to_http(head: RequestHead) -> Result<http::request::Parts, InteropError> {
    let uri = target_to_uri(&head.target)?;
    let (headers, loses) = headers_to_http_keeping(&head.headers)?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = http::Method::from(&head.method);
    parts.uri = uri;
    parts.version = head.version.into();
    parts.headers = headers;
    if loses {
        parts.extensions.insert(HeaderCase(head.headers));
    }
    // An origin-form target comes back byte for byte from the `Uri`'s
    // path and query: only the other forms need their original kept.
    if head.target.form() != TargetForm::Origin {
        parts.extensions.insert(OriginalTarget(head.target));
    }
    Ok(parts)
}

/// An `http` request's head as a wireloom head: fields in the spelling and
/// order of a [`HeaderCase`] in its extensions (see [`headers_from_http`]),
/// the target of an [`OriginalTarget`] there if the `Uri` still means it.
pub fn request_from_http(parts: &http::request::Parts) -> Result<RequestHead, InteropError> {
    let method = Method::from(&parts.method);
    let original = parts
        .extensions
        .get::<OriginalTarget>()
        .filter(|t| target_to_uri(&t.0).is_ok_and(|u| u == parts.uri));
    let target = match original {
        Some(t) => t.0.clone(),
        None => {
            let text = match parts.uri.path_and_query() {
                Some(pq) if parts.uri.scheme().is_none() && parts.uri.authority().is_none() => {
                    pq.as_str().to_string()
                }
                _ => parts.uri.to_string(),
            };
            RequestTarget::parse(text.as_bytes(), &method)?
        }
    };
    Ok(RequestHead {
        method,
        target,
        version: parts.version.try_into()?,
        headers: headers_from_http(&parts.headers, parts.extensions.get::<HeaderCase>())?,
    })
}

impl TryFrom<RequestHead> for http::request::Parts {
    type Error = InteropError;
    fn try_from(head: RequestHead) -> Result<Self, InteropError> {
        request_to_http(head)
    }
}

impl TryFrom<RequestHead> for http::Request<()> {
    type Error = InteropError;
    fn try_from(head: RequestHead) -> Result<Self, InteropError> {
        Ok(http::Request::from_parts(request_to_http(head)?, ()))
    }
}

impl TryFrom<&http::request::Parts> for RequestHead {
    type Error = InteropError;
    fn try_from(parts: &http::request::Parts) -> Result<Self, InteropError> {
        request_from_http(parts)
    }
}

impl TryFrom<http::request::Parts> for RequestHead {
    type Error = InteropError;
    fn try_from(parts: http::request::Parts) -> Result<Self, InteropError> {
        request_from_http(&parts)
    }
}

impl<B> TryFrom<&http::Request<B>> for RequestHead {
    type Error = InteropError;
    /// The head; the body is left where it is.
    fn try_from(req: &http::Request<B>) -> Result<Self, InteropError> {
        let mut parts = http::Request::new(()).into_parts().0;
        parts.method = req.method().clone();
        parts.uri = req.uri().clone();
        parts.version = req.version();
        parts.headers = req.headers().clone();
        if let Some(c) = req.extensions().get::<HeaderCase>() {
            parts.extensions.insert(c.clone());
        }
        if let Some(t) = req.extensions().get::<OriginalTarget>() {
            parts.extensions.insert(t.clone());
        }
        request_from_http(&parts)
    }
}

impl TryFrom<http::Request<()>> for RequestHead {
    type Error = InteropError;
    fn try_from(req: http::Request<()>) -> Result<Self, InteropError> {
        request_from_http(&req.into_parts().0)
    }
}

// ---- response heads ----

/// `head` as the parts of an `http` response: status, version, fields
/// (lowercased), with a [`HeaderCase`] in the extensions when the `http`
/// map alone would lose their spelling or order (see the
/// [module docs](self#what-http-does-not-keep-and-how-it-comes-back)), and a
/// [`ReasonPhrase`] when the phrase is not the registered one.
pub fn response_to_http(head: ResponseHead) -> Result<http::response::Parts, InteropError> {
    let (headers, loses) = headers_to_http_keeping(&head.headers)?;
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = head.status.into();
    parts.version = head.version.into();
    parts.headers = headers;
    if head.reason[..] != *head.status.reason().unwrap_or("").as_bytes() {
        parts.extensions.insert(ReasonPhrase(head.reason));
    }
    if loses {
        parts.extensions.insert(HeaderCase(head.headers));
    }
    Ok(parts)
}

/// An `http` response's head as a wireloom head: the [`ReasonPhrase`] of
/// its extensions or the registered one, fields in the spelling and order
/// of a [`HeaderCase`] there (see [`headers_from_http`]).
pub fn response_from_http(parts: &http::response::Parts) -> Result<ResponseHead, InteropError> {
    response_from_http_sized(parts, None)
}

/// [`response_from_http`] for a response whose whole body, of
/// `body_length` bytes, is at hand: a server connection writes the
/// `Content-Length` of such a body itself, so a `content-length` field
/// that says exactly that (the only one, its value the plain digits) is
/// left out of the head instead of being copied, unless a [`HeaderCase`]
/// asks for its spelling. Any other `content-length` is kept (and checked
/// against the body by the connection).
///
/// ```
/// use wireloom_core::http::interop::response_from_http_sized;
/// let res = http::Response::builder()
///     .header("content-type", "text/plain")
///     .header("content-length", "5")
///     .body(())
///     .unwrap();
/// let (parts, ()) = res.into_parts();
/// let head = response_from_http_sized(&parts, Some(5)).unwrap();
/// assert!(!head.headers.contains("content-length"));
/// let head = response_from_http_sized(&parts, Some(6)).unwrap();
/// assert_eq!(head.headers.get_str("content-length"), Some("5"));
/// ```
pub fn response_from_http_sized(
    parts: &http::response::Parts,
    body_length: Option<u64>,
) -> Result<ResponseHead, InteropError> {
    let mut head = ResponseHead::new(parts.status.into());
    if let Some(ReasonPhrase(r)) = parts.extensions.get::<ReasonPhrase>() {
        head.reason = r.clone();
    }
    head.version = parts.version.try_into()?;
    head.headers = headers_from_http_skipping(
        &parts.headers,
        parts.extensions.get::<HeaderCase>(),
        body_length,
    )?;
    Ok(head)
}

/// The decimal digits of `n`, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

impl TryFrom<ResponseHead> for http::response::Parts {
    type Error = InteropError;
    fn try_from(head: ResponseHead) -> Result<Self, InteropError> {
        response_to_http(head)
    }
}

impl TryFrom<ResponseHead> for http::Response<()> {
    type Error = InteropError;
    fn try_from(head: ResponseHead) -> Result<Self, InteropError> {
        Ok(http::Response::from_parts(response_to_http(head)?, ()))
    }
}

impl TryFrom<&http::response::Parts> for ResponseHead {
    type Error = InteropError;
    fn try_from(parts: &http::response::Parts) -> Result<Self, InteropError> {
        response_from_http(parts)
    }
}

impl TryFrom<http::response::Parts> for ResponseHead {
    type Error = InteropError;
    fn try_from(parts: http::response::Parts) -> Result<Self, InteropError> {
        response_from_http(&parts)
    }
}

impl TryFrom<http::Response<()>> for ResponseHead {
    type Error = InteropError;
    fn try_from(res: http::Response<()>) -> Result<Self, InteropError> {
        response_from_http(&res.into_parts().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::chars::{is_field_char, is_tchar};
    use crate::Dialogue;

    #[test]
    fn from_conversions_cannot_fail() {
        // Methods and names: `http` accepts exactly the token characters.
        for b in 0..=255u8 {
            let one = [b];
            assert_eq!(
                http::Method::from_bytes(&one).is_ok(),
                is_tchar(b),
                "method byte {b:#x}"
            );
            // `http` lowercases names: the check is on the lowercase byte.
            assert_eq!(
                http::HeaderName::from_bytes(&one).is_ok(),
                is_tchar(b),
                "name byte {b:#x}"
            );
            let ok = http::HeaderName::from_bytes(&one).is_ok();
            if ok {
                let n = http::HeaderName::from_bytes(&one).unwrap();
                assert!(n.as_str().bytes().all(is_tchar));
            }
            let v = [b'a', b, b'a'];
            assert_eq!(
                http::HeaderValue::from_bytes(&v).is_ok(),
                is_field_char(b),
                "value byte {b:#x}"
            );
        }
        for code in 0..=u16::MAX {
            assert_eq!(
                http::StatusCode::from_u16(code).is_ok(),
                StatusCode::from_u16(code).is_ok(),
                "{code}"
            );
        }
    }

    #[test]
    fn scalars_both_ways() {
        for m in ["GET", "POST", "PURGE", "get", "M-SEARCH"] {
            let ours = Method::from_bytes(m.as_bytes()).unwrap();
            let theirs = http::Method::from(&ours);
            assert_eq!(theirs.as_str(), m);
            assert_eq!(Method::from(theirs), ours);
        }
        assert_eq!(http::Method::from(Method::GET), http::Method::GET);
        let s: http::StatusCode = StatusCode::from_u16(299).unwrap().into();
        assert_eq!(s.as_u16(), 299);
        assert_eq!(
            StatusCode::from(http::StatusCode::IM_A_TEAPOT).as_u16(),
            418
        );
        assert_eq!(http::Version::from(Version::Http10), http::Version::HTTP_10);
        assert_eq!(
            Version::try_from(http::Version::HTTP_2),
            Err(InteropError::Version(http::Version::HTTP_2))
        );
        let n = HeaderName::try_from("X-Mixed-Case").unwrap();
        assert_eq!(
            http::HeaderName::try_from(&n).unwrap().as_str(),
            "x-mixed-case"
        );
        let long = HeaderName::try_from("a".repeat(70_000)).unwrap();
        assert_eq!(
            http::HeaderName::try_from(long),
            Err(InteropError::Header(InvalidHeader::Name))
        );
        let v = HeaderValue::try_from("caf\u{e9}").unwrap();
        assert_eq!(
            http::HeaderValue::from(&v).as_bytes(),
            "caf\u{e9}".as_bytes()
        );
        assert_eq!(
            HeaderValue::try_from(http::HeaderValue::from_static(" padded"))
                .unwrap()
                .as_bytes(),
            b"padded"
        );
    }

    #[test]
    fn requests_keep_case_order_and_target() {
        let raw = b"OPTIONS HTTP://Example.com HTTP/1.0\r\nHost: Example.com\r\nX-A: 1\r\nContent-Type: a\r\nx-a: 2\r\n\r\n";
        let mut buf = bytes::BytesMut::from(&raw[..]);
        let mut conn =
            crate::http::ServerConnection::new(Default::default(), std::time::Instant::now());
        conn.handle_input(std::time::Instant::now(), &mut buf);
        let Some(crate::http::ServerEvent::Request(req)) = conn.poll_event() else {
            panic!("no request")
        };
        let head = req.head;
        let parts = http::request::Parts::try_from(head.clone()).unwrap();
        assert_eq!(parts.uri.host(), Some("Example.com"));
        assert_eq!(parts.version, http::Version::HTTP_10);
        let all: Vec<_> = parts.headers.get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "2"]);
        let back = RequestHead::try_from(&parts).unwrap();
        let mut wire = bytes::BytesMut::new();
        crate::http::serialize::write_request_head(&mut wire, &back);
        assert_eq!(&wire[..], &raw[..]);

        // A changed Uri wins over the original target; removed fields go,
        // added ones come last; without a HeaderCase, lowercase.
        let mut parts = parts;
        parts.uri = "/other?q".parse().unwrap();
        parts.headers.remove("content-type");
        parts
            .headers
            .append("x-a", http::HeaderValue::from_static("3"));
        let back = RequestHead::try_from(&parts).unwrap();
        assert_eq!(back.target.as_str(), "/other?q");
        let fields: Vec<_> = back
            .headers
            .iter()
            .map(|(n, v)| format!("{}={}", n, v.to_str().unwrap()))
            .collect();
        assert_eq!(fields, ["Host=Example.com", "X-A=1", "x-a=2", "X-A=3"]);
        parts.extensions.clear();
        let back = RequestHead::try_from(&parts).unwrap();
        let names: Vec<_> = back.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "x-a", "x-a", "x-a"]);
        parts.version = http::Version::HTTP_3;
        assert!(matches!(
            RequestHead::try_from(&parts),
            Err(InteropError::Version(_))
        ));
    }

    /// Serialises `head` as converted to `http` and back.
    fn round_trip(raw: &[u8]) -> (Vec<u8>, bool) {
        let mut buf = bytes::BytesMut::from(raw);
        let now = std::time::Instant::now();
        let mut conn = crate::http::ServerConnection::new(Default::default(), now);
        conn.handle_input(now, &mut buf);
        let Some(crate::http::ServerEvent::Request(req)) = conn.poll_event() else {
            panic!("no request")
        };
        let parts = http::request::Parts::try_from(req.head).unwrap();
        let has_case = parts.extensions.get::<HeaderCase>().is_some();
        let back = RequestHead::try_from(&parts).unwrap();
        let mut wire = bytes::BytesMut::new();
        crate::http::serialize::write_request_head(&mut wire, &back);
        (wire.to_vec(), has_case)
    }

    #[test]
    fn header_case_only_when_http_loses_something() {
        // All lowercase, each name's fields together: nothing to keep, and
        // the round trip is exact without a HeaderCase.
        let raw = b"GET /a HTTP/1.1\r\nhost: a\r\nx-a: 1\r\nx-a: 2\r\naccept: */*\r\n\r\n";
        assert_eq!(round_trip(raw), (raw.to_vec(), false));
        // One capital letter, or a name coming back after another one:
        // kept, and the round trip is exact with it.
        for raw in [
            &b"GET /a HTTP/1.1\r\nHost: a\r\nx-a: 1\r\n\r\n"[..],
            b"GET /a HTTP/1.1\r\nhost: a\r\nx-a: 1\r\naccept: */*\r\nx-a: 2\r\n\r\n",
            b"GET /a HTTP/1.1\r\nhost: a\r\nx-a: 1\r\nX-A: 2\r\n\r\n",
        ] {
            assert_eq!(round_trip(raw), (raw.to_vec(), true));
        }
        // Responses follow the same rule.
        let mut head = ResponseHead::new(StatusCode::OK);
        head.header("content-type", "text/plain").unwrap();
        head.header("set-cookie", "a=1").unwrap();
        head.header("set-cookie", "b=2").unwrap();
        let res = http::Response::try_from(head.clone()).unwrap();
        assert!(res.extensions().get::<HeaderCase>().is_none());
        assert_eq!(ResponseHead::try_from(res).unwrap(), head);
        head.header("vary", "x").unwrap();
        head.header("content-type", "text/html").unwrap();
        let res = http::Response::try_from(head.clone()).unwrap();
        assert!(res.extensions().get::<HeaderCase>().is_some());
        let back = ResponseHead::try_from(res).unwrap();
        let names: Vec<_> = back.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "set-cookie",
                "set-cookie",
                "vary",
                "content-type"
            ]
        );
    }

    #[test]
    fn sized_responses_leave_out_only_a_sole_matching_length() {
        let head = |lengths: &[&str], case: bool| {
            let mut b = http::Response::builder().header("x-a", "1");
            for l in lengths {
                b = b.header("content-length", *l);
            }
            let mut parts = b.header("x-b", "2").body(()).unwrap().into_parts().0;
            if case {
                let mut c = HeaderMap::new();
                c.append("Content-Length", "13").unwrap();
                parts.extensions.insert(HeaderCase::new(c));
            }
            let h = response_from_http_sized(&parts, Some(13)).unwrap();
            h.headers
                .iter()
                .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(head(&["13"], false), ["x-a=1", "x-b=2"]);
        // Not the plain digits, not the body's length, or not the only one:
        // kept, in order, for the connection to check.
        assert_eq!(
            head(&["+13"], false),
            ["x-a=1", "content-length=+13", "x-b=2"]
        );
        assert_eq!(
            head(&["14"], false),
            ["x-a=1", "content-length=14", "x-b=2"]
        );
        assert_eq!(
            head(&["13", "14"], false),
            ["x-a=1", "content-length=13", "content-length=14", "x-b=2"]
        );
        assert_eq!(
            head(&["14", "13"], false),
            ["x-a=1", "content-length=14", "content-length=13", "x-b=2"]
        );
        assert_eq!(
            head(&["13", "13"], false),
            ["x-a=1", "content-length=13", "content-length=13", "x-b=2"]
        );
        // A HeaderCase keeps it, spelled as it says.
        assert_eq!(head(&["13"], true), ["Content-Length=13", "x-a=1", "x-b=2"]);
    }

    #[test]
    fn responses_keep_reason() {
        let mut head = ResponseHead::new(StatusCode::OK);
        head.reason = Bytes::from_static(b"Fine Thanks");
        head.header("Set-Cookie", "a=1").unwrap();
        head.header("ETag", "\"x\"").unwrap();
        head.header("set-cookie", "b=2").unwrap();
        let res = http::Response::try_from(head.clone()).unwrap();
        assert_eq!(res.status(), http::StatusCode::OK);
        assert_eq!(
            res.extensions().get::<ReasonPhrase>(),
            Some(&ReasonPhrase(Bytes::from_static(b"Fine Thanks")))
        );
        let back = ResponseHead::try_from(res).unwrap();
        assert_eq!(back, head);
        let names: Vec<_> = back.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Set-Cookie", "ETag", "set-cookie"]);
        // A registered phrase is not stored.
        let res = http::Response::try_from(ResponseHead::new(StatusCode::NOT_FOUND)).unwrap();
        assert!(res.extensions().get::<ReasonPhrase>().is_none());
        let plain = http::Response::builder().status(418).body(()).unwrap();
        let back = ResponseHead::try_from(plain).unwrap();
        assert_eq!(back.status.as_u16(), 418);
    }

    #[test]
    fn values_from_http_are_trimmed_not_refused() {
        for (raw, want) in [
            (" text/plain", "text/plain"),
            ("gzip \t", "gzip"),
            ("\t a b \t", "a b"),
            ("   ", ""),
        ] {
            let v = http::HeaderValue::from_str(raw).unwrap();
            let ours = HeaderValue::try_from(&v).unwrap();
            assert_eq!(ours.as_bytes(), want.as_bytes(), "{raw:?}");
        }
    }
}
