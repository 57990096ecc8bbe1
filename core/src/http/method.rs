//! Request methods (RFC 9110 §9).

use std::fmt;

use bytes::Bytes;

use super::chars::is_tchar;

/// An HTTP request method: one of the registered methods or any valid token.
///
/// Methods are case-sensitive (RFC 9110 §9.1): `get` is an extension method,
/// not [`Method::GET`].
///
/// ```
/// use wireloom_core::http::Method;
/// assert_eq!(Method::from_bytes(b"GET").unwrap(), Method::GET);
/// assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
/// assert!(Method::from_bytes(b"BAD METHOD").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    Extension(Bytes),
}

/// The method is not a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMethod;

impl fmt::Display for InvalidMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid HTTP method: not a token")
    }
}

impl std::error::Error for InvalidMethod {}

impl Method {
    /// `GET` (RFC 9110 §9.3.1).
    pub const GET: Method = Method(Inner::Get);
    /// `HEAD` (RFC 9110 §9.3.2).
    pub const HEAD: Method = Method(Inner::Head);
    /// `POST` (RFC 9110 §9.3.3).
    pub const POST: Method = Method(Inner::Post);
    /// `PUT` (RFC 9110 §9.3.4).
    pub const PUT: Method = Method(Inner::Put);
    /// `DELETE` (RFC 9110 §9.3.5).
    pub const DELETE: Method = Method(Inner::Delete);
    /// `CONNECT` (RFC 9110 §9.3.6).
    pub const CONNECT: Method = Method(Inner::Connect);
    /// `OPTIONS` (RFC 9110 §9.3.7).
    pub const OPTIONS: Method = Method(Inner::Options);
    /// `TRACE` (RFC 9110 §9.3.8).
    pub const TRACE: Method = Method(Inner::Trace);
    /// `PATCH` (RFC 5789).
    pub const PATCH: Method = Method(Inner::Patch);

    /// Parses a method from its wire form; any token (RFC 9110 §5.6.2) is accepted.
    pub fn from_bytes(b: &[u8]) -> Result<Method, InvalidMethod> {
        Self::from_wire(b, || Bytes::copy_from_slice(b))
    }

    /// Like [`from_bytes`](Self::from_bytes), but an extension method keeps a
    /// slice of `b` instead of copying.
    pub fn from_bytes_shared(b: Bytes) -> Result<Method, InvalidMethod> {
        let slice: &[u8] = &b;
        Self::from_wire(slice, || b.clone())
    }

    /// A method from its wire bytes `b`; `own` gives the bytes to keep for an
    /// extension method (called only then).
    #[inline]
    pub(crate) fn from_wire(
        b: &[u8],
        own: impl FnOnce() -> Bytes,
    ) -> Result<Method, InvalidMethod> {
        let inner = match b {
            b"GET" => Inner::Get,
            b"HEAD" => Inner::Head,
            b"POST" => Inner::Post,
            b"PUT" => Inner::Put,
            b"DELETE" => Inner::Delete,
            b"CONNECT" => Inner::Connect,
            b"OPTIONS" => Inner::Options,
            b"TRACE" => Inner::Trace,
            b"PATCH" => Inner::Patch,
            _ => {
                if b.is_empty() || !b.iter().all(|&c| is_tchar(c)) {
                    return Err(InvalidMethod);
                }
                Inner::Extension(own())
            }
        };
        Ok(Method(inner))
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Inner::Get => "GET",
            Inner::Head => "HEAD",
            Inner::Post => "POST",
            Inner::Put => "PUT",
            Inner::Delete => "DELETE",
            Inner::Connect => "CONNECT",
            Inner::Options => "OPTIONS",
            Inner::Trace => "TRACE",
            Inner::Patch => "PATCH",
            // Validated as tchar, which is ASCII.
            Inner::Extension(b) => std::str::from_utf8(b).unwrap_or(""),
        }
    }

    /// Safe methods (RFC 9110 §9.2.1): GET, HEAD, OPTIONS, TRACE.
    pub fn is_safe(&self) -> bool {
        matches!(
            self.0,
            Inner::Get | Inner::Head | Inner::Options | Inner::Trace
        )
    }

    /// Idempotent methods (RFC 9110 §9.2.2): the safe ones plus PUT and DELETE.
    /// A client may retry these on a fresh connection.
    pub fn is_idempotent(&self) -> bool {
        self.is_safe() || matches!(self.0, Inner::Put | Inner::Delete)
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = InvalidMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_bytes(s.as_bytes())
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_and_extension() {
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let parsed: Method = m.parse().unwrap();
            assert_eq!(parsed.as_str(), m);
            assert!(!matches!(parsed.0, Inner::Extension(_)));
        }
        assert_eq!(Method::from_bytes(b"get").unwrap().as_str(), "get");
        assert_ne!(Method::from_bytes(b"get").unwrap(), Method::GET);
        assert!(Method::from_bytes(b"").is_err());
        assert!(Method::from_bytes(b"GE(T").is_err());
        assert!(Method::from_bytes(b"G\xffT").is_err());
        assert!(Method::PUT.is_idempotent() && !Method::POST.is_idempotent());
        assert!(Method::HEAD.is_safe() && !Method::DELETE.is_safe());
    }
}
