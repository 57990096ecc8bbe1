//! Request and response heads.

use bytes::Bytes;

use super::header::{HeaderMap, IntoHeaderName, IntoHeaderValue, InvalidHeader};
use super::uri::{InvalidTarget, RequestTarget};
use super::{Method, StatusCode, Version};

/// A request's start line and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request-target, exactly as sent.
    pub target: RequestTarget,
    /// The protocol version.
    pub version: Version,
    /// The fields, in order, with their spelling.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// A head for `method` and `target` (validated for that method), HTTP/1.1,
    /// no fields.
    ///
    /// ```
    /// use wireloom_core::http::{Method, RequestHead};
    /// let mut req = RequestHead::new(Method::GET, "/").unwrap();
    /// req.header("Host", "example.com").unwrap();
    /// assert_eq!(req.headers.get("host").unwrap(), "example.com");
    /// ```
    pub fn new(method: Method, target: &str) -> Result<RequestHead, InvalidTarget> {
        let target = RequestTarget::parse(target.as_bytes(), &method)?;
        Ok(RequestHead {
            method,
            target,
            version: Version::Http11,
            headers: HeaderMap::new(),
        })
    }

    /// Appends a field; returns `self` for chaining.
    pub fn header(
        &mut self,
        name: impl IntoHeaderName,
        value: impl IntoHeaderValue,
    ) -> Result<&mut Self, InvalidHeader> {
        self.headers.append(name, value)?;
        Ok(self)
    }
}

/// A response's status line and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as sent (may be empty; informational only).
    pub reason: Bytes,
    /// The fields, in order, with their spelling.
    pub headers: HeaderMap,
}

impl ResponseHead {
    /// A head with `status`, its registered reason phrase, HTTP/1.1, no fields.
    ///
    /// ```
    /// use wireloom_core::http::{ResponseHead, StatusCode};
    /// let res = ResponseHead::new(StatusCode::NOT_FOUND);
    /// assert_eq!(&res.reason[..], b"Not Found");
    /// ```
    pub fn new(status: StatusCode) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: Bytes::from_static(status.reason().unwrap_or("").as_bytes()),
            headers: HeaderMap::new(),
        }
    }

    /// Appends a field; returns `self` for chaining.
    pub fn header(
        &mut self,
        name: impl IntoHeaderName,
        value: impl IntoHeaderValue,
    ) -> Result<&mut Self, InvalidHeader> {
        self.headers.append(name, value)?;
        Ok(self)
    }
}
