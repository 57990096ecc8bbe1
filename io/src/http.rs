//! The runtime-neutral HTTP application surface every adapter's server
//! shares: a response generic over its body type, error pages, and the
//! dispatch decisions around a handler (404/405 from the router, 500 for a
//! panic or an invalid header, custom pages for empty error responses).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use wireloom_core::http::{names, HeaderValue, Method, RequestHead, ResponseHead, StatusCode};

/// Content types used often enough to be kept as static values.
const KNOWN_TYPES: [&str; 6] = [
    "text/plain; charset=utf-8",
    "text/html; charset=utf-8",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "text/event-stream",
];

/// What a response body type must offer the shared code.
pub trait ResponseBody {
    /// No body.
    fn empty() -> Self;
    /// The whole body at once.
    fn full(bytes: Bytes) -> Self;
    /// True for [`empty`](ResponseBody::empty).
    fn is_empty(&self) -> bool;
}

/// A response: a head and a body of the adapter's body type `B`.
pub struct Response<B> {
    /// Status line and fields.
    pub head: ResponseHead,
    /// The body.
    pub body: B,
    invalid_header: bool,
}

impl<B: ResponseBody> Response<B> {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Response::from_parts(ResponseHead::new(status), B::empty())
    }

    /// A response from a head and a body.
    pub fn from_parts(head: ResponseHead, body: B) -> Self {
        Response {
            head,
            body,
            invalid_header: false,
        }
    }

    /// `text/plain; charset=utf-8`.
    pub fn text(status: StatusCode, text: impl Into<String>) -> Self {
        Self::bytes(
            status,
            "text/plain; charset=utf-8",
            Bytes::from(text.into()),
        )
    }

    /// `text/html; charset=utf-8`.
    pub fn html(status: StatusCode, html: impl Into<String>) -> Self {
        Self::bytes(status, "text/html; charset=utf-8", Bytes::from(html.into()))
    }

    /// `application/json` from already serialised JSON text.
    pub fn json(status: StatusCode, json: impl Into<String>) -> Self {
        Self::bytes(status, "application/json", Bytes::from(json.into()))
    }

    /// Bytes with a content type.
    pub fn bytes(status: StatusCode, content_type: &str, body: Bytes) -> Self {
        let mut r = Self::new(status).with_body(B::full(body));
        // The common types need no validation nor copy.
        match KNOWN_TYPES.iter().find(|k| **k == content_type) {
            Some(k) => {
                r.head
                    .headers
                    .append_field(names::CONTENT_TYPE, HeaderValue::from_static(k));
                r
            }
            None => r.header("Content-Type", content_type),
        }
    }

    /// A streamed body (an `impl Read` for the blocking adapter, a
    /// `Stream` of `Bytes` for the async ones) with a content type.
    pub fn stream(status: StatusCode, content_type: &str, body: impl Into<B>) -> Self {
        Self::new(status)
            .header("Content-Type", content_type)
            .with_body(body.into())
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: B) -> Self {
        self.body = body;
        self
    }

    /// Appends a header. An invalid name or value (e.g. a CR or LF) is never
    /// written: the server answers 500 instead.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        if self.head.headers.append(name, value.as_ref()).is_err() {
            self.invalid_header = true;
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// Whether [`header`](Response::header) was given an invalid field.
    pub fn has_invalid_header(&self) -> bool {
        self.invalid_header
    }
}

/// A custom page for one status.
pub type ErrorPage<B> = Arc<dyn Fn(&RequestHead) -> Response<B> + Send + Sync>;

/// Custom error pages by status, and the answers the server makes itself.
pub struct ErrorPages<B> {
    pages: HashMap<u16, ErrorPage<B>>,
}

impl<B> Default for ErrorPages<B> {
    fn default() -> Self {
        ErrorPages {
            pages: HashMap::new(),
        }
    }
}

impl<B: ResponseBody> ErrorPages<B> {
    /// Sets the page for `status`.
    pub fn insert(&mut self, status: StatusCode, page: ErrorPage<B>) {
        self.pages.insert(status.as_u16(), page);
    }

    /// Whether no custom page is set.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Whether a custom page exists for `status`.
    pub fn has(&self, status: StatusCode) -> bool {
        self.pages.contains_key(&status.as_u16())
    }

    /// The answer for `status`: the custom page (its status and reason
    /// phrase forced to `status`) or a short text.
    pub fn page(&self, status: StatusCode, head: &RequestHead) -> Response<B> {
        match self.pages.get(&status.as_u16()) {
            Some(page) => {
                let mut r = page(head);
                let ResponseHead { status, reason, .. } = ResponseHead::new(status);
                r.head.status = status;
                r.head.reason = reason;
                r
            }
            None => Response::text(status, format!("{status}\n")),
        }
    }

    /// The router found no route: 404.
    pub fn not_found(&self, head: &RequestHead) -> Response<B> {
        self.page(StatusCode::NOT_FOUND, head)
    }

    /// The path exists for other methods: 405 with `Allow`.
    pub fn method_not_allowed(&self, head: &RequestHead, allowed: &[Method]) -> Response<B> {
        let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        self.page(StatusCode::METHOD_NOT_ALLOWED, head)
            .header("Allow", list.join(", "))
    }

    /// The handler panicked: 500.
    pub fn panicked(&self, head: &RequestHead) -> Response<B> {
        self.page(StatusCode::INTERNAL_SERVER_ERROR, head)
    }

    /// What is sent for a handler's `resp`: a 500 when it carries an
    /// invalid header; the custom page when it is an error with no body
    /// (the fields the handler set, such as `WWW-Authenticate`, stay; those
    /// of the replaced body do not); otherwise `resp` itself.
    pub fn finish(&self, resp: Response<B>, head: &RequestHead) -> Response<B> {
        if resp.invalid_header {
            return self.page(StatusCode::INTERNAL_SERVER_ERROR, head);
        }
        if resp.body.is_empty() && !resp.head.status.is_success() && self.has(resp.head.status) {
            let mut page = self.page(resp.head.status, head);
            page.head.headers.carry_over(&resp.head.headers);
            return page;
        }
        resp
    }
}
