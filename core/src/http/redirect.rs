//! Client redirect rules (RFC 9110 §15.4): whether a response is a redirect
//! to follow, with which method, and which request fields must not follow
//! it. URL resolution of `Location` is the caller's (it needs a URL parser).

use super::{Method, StatusCode};

/// How to follow one redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The method of the next request.
    pub method: Method,
    /// Whether the request body is sent again (307 and 308 only).
    pub keep_body: bool,
}

/// Whether `status` (answering `method`) is a redirect to follow, and how:
/// 303 becomes GET (HEAD stays HEAD); 301 and 302 turn POST into GET, as
/// every browser and HTTP library does; 307 and 308 repeat the request as is.
/// 300, 304 and 305 are not followed.
///
/// ```
/// use wireloom_core::http::{Method, StatusCode};
/// use wireloom_core::http::redirect::redirect;
/// assert_eq!(redirect(&Method::POST, StatusCode::SEE_OTHER).unwrap().method, Method::GET);
/// assert_eq!(redirect(&Method::PUT, StatusCode::TEMPORARY_REDIRECT).unwrap().method, Method::PUT);
/// assert!(redirect(&Method::GET, StatusCode::NOT_MODIFIED).is_none());
/// ```
pub fn redirect(method: &Method, status: StatusCode) -> Option<Redirect> {
    match status.as_u16() {
        303 => Some(Redirect {
            method: if *method == Method::HEAD {
                Method::HEAD
            } else {
                Method::GET
            },
            keep_body: false,
        }),
        301 | 302 if *method == Method::POST => Some(Redirect {
            method: Method::GET,
            keep_body: false,
        }),
        301 | 302 | 307 | 308 => Some(Redirect {
            method: method.clone(),
            keep_body: true,
        }),
        _ => None,
    }
}

/// Fields dropped when a redirect leaves the origin (scheme, host, port):
/// credentials must not leak to another site.
pub const CROSS_ORIGIN_STRIP: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Fields dropped when the body is not sent again.
pub const BODY_STRIP: &[&str] = &[
    "content-length",
    "content-type",
    "transfer-encoding",
    "content-encoding",
    "expect",
];

/// The fields to remove from the next request.
pub fn fields_to_strip(cross_origin: bool, keep_body: bool) -> Vec<&'static str> {
    let mut v = Vec::new();
    if cross_origin {
        v.extend_from_slice(CROSS_ORIGIN_STRIP);
    }
    if !keep_body {
        v.extend_from_slice(BODY_STRIP);
    }
    v
}
