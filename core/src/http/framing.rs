//! Message body framing (RFC 9112 §6), keep-alive (§9.3) and expectations:
//! every decision about where a message ends, in one place: for incoming
//! messages ([`request_framing`], [`response_framing`]) and for outgoing
//! ones ([`outgoing`], used by both connections).

use super::body::BodyEncoder;
use super::error::{Error, ErrorKind, UsageError};
use super::header::{trim_ows, HeaderMap};
use super::message::{RequestHead, ResponseHead};
use super::serialize::Extra;
use super::{Method, StatusCode, Version};

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes (responses only).
    CloseDelimited,
    /// The connection leaves HTTP after this head (101, or 2xx to CONNECT).
    Tunnel,
}

fn err<T>(kind: ErrorKind) -> Result<T, Error> {
    Err(Error::new(kind))
}

/// The Content-Length of a message: `Ok(None)` if absent. Identical repeated
/// values (as separate fields or a list) are accepted as one; differing
/// values, non-digits, signs and overflow are errors.
pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    let mut found: Option<u64> = None;
    for v in headers.get_all_bytes("content-length") {
        add_content_length(v, &mut found)?;
    }
    Ok(found)
}

/// Adds one Content-Length field value (a list of decimal lengths) to the
/// length `found` so far: [`ErrorKind::InvalidContentLength`] for anything
/// but 1 to 19 digits, [`ErrorKind::ConflictingContentLength`] for a length
/// that differs from an earlier one. The head parser calls it for each
/// request field line as it completes.
pub(crate) fn add_content_length(v: &[u8], found: &mut Option<u64>) -> Result<(), Error> {
    for part in v.split(|&c| c == b',') {
        let part = trim_ows(part);
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return err(ErrorKind::InvalidContentLength);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64);
        match *found {
            Some(prev) if prev != n => return err(ErrorKind::ConflictingContentLength),
            _ => *found = Some(n),
        }
    }
    Ok(())
}

/// What the Transfer-Encoding field says.
enum Te {
    Absent,
    /// Final coding is chunked.
    Chunked,
    /// Present but the final coding is not chunked.
    NotChunked,
}

fn transfer_encoding(headers: &HeaderMap, request: bool) -> Result<Te, Error> {
    if !headers.contains("transfer-encoding") {
        return Ok(Te::Absent);
    }
    let mut codings = 0usize;
    let mut chunked_at = None;
    let mut last_is_chunked = false;
    for v in headers.get_all_bytes("transfer-encoding") {
        for part in v.split(|&c| c == b',') {
            let part = trim_ows(part);
            if part.is_empty() {
                continue;
            }
            // Drop transfer-parameters (";q=..."); codings are tokens.
            let name = trim_ows(part.split(|&c| c == b';').next().unwrap_or(b""));
            let is_chunked = name.eq_ignore_ascii_case(b"chunked");
            if is_chunked {
                if chunked_at.is_some() {
                    return err(ErrorKind::InvalidTransferEncoding);
                }
                chunked_at = Some(codings);
            } else if request {
                // nginx's rule: a server decodes chunked only; anything else is 501.
                return err(ErrorKind::UnknownTransferCoding);
            }
            last_is_chunked = is_chunked;
            codings += 1;
        }
    }
    if codings == 0 {
        return err(ErrorKind::InvalidTransferEncoding);
    }
    if last_is_chunked {
        Ok(Te::Chunked)
    } else if request {
        err(ErrorKind::InvalidTransferEncoding)
    } else {
        Ok(Te::NotChunked)
    }
}

/// Framing of a request body (RFC 9112 §6.3 rules 3-6, strict). A CONNECT
/// request has no body: Content-Length or Transfer-Encoding on one is
/// [`ErrorKind::ConnectWithContent`].
pub fn request_framing(head: &RequestHead) -> Result<Framing, Error> {
    if head.method == Method::CONNECT
        && (head.headers.contains("content-length") || head.headers.contains("transfer-encoding"))
    {
        return err(ErrorKind::ConnectWithContent);
    }
    let te = transfer_encoding(&head.headers, true)?;
    let cl = content_length(&head.headers)?;
    match te {
        Te::Absent => Ok(match cl {
            Some(0) | None => Framing::Empty,
            Some(n) => Framing::Length(n),
        }),
        _ if head.version == Version::Http10 => err(ErrorKind::InvalidTransferEncoding),
        _ if cl.is_some() || head.headers.contains("content-length") => {
            err(ErrorKind::ContentLengthWithTransferEncoding)
        }
        Te::Chunked => Ok(Framing::Chunked),
        Te::NotChunked => err(ErrorKind::InvalidTransferEncoding),
    }
}

/// Framing of a response body to a request with `method` (RFC 9112 §6.3
/// rules 1-7). `upgrade_requested` says whether the request asked to switch
/// protocols (only then is a 101 a tunnel).
pub fn response_framing(
    method: &Method,
    upgrade_requested: bool,
    head: &ResponseHead,
) -> Result<Framing, Error> {
    let status = head.status;
    if status == StatusCode::SWITCHING_PROTOCOLS && upgrade_requested {
        return Ok(Framing::Tunnel);
    }
    if *method == Method::CONNECT && status.is_success() {
        return Ok(Framing::Tunnel);
    }
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    match transfer_encoding(&head.headers, false)? {
        // HTTP/1.0 with Transfer-Encoding: framing is faulty (§6.1); read to close.
        Te::Chunked if head.version == Version::Http10 => Ok(Framing::CloseDelimited),
        Te::Chunked => Ok(Framing::Chunked),
        Te::NotChunked => Ok(Framing::CloseDelimited),
        Te::Absent => Ok(match content_length(&head.headers)? {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::CloseDelimited,
        }),
    }
}

/// How the body length of an outgoing message is known when its head is
/// sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many bytes (0 for none).
    Known(u64),
    /// Streamed: chunked for HTTP/1.1, close-delimited for a response to
    /// an HTTP/1.0 client (a request to HTTP/1.0 needs a known length).
    Unknown,
}

/// An outgoing message whose body framing [`outgoing`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing<'a> {
    /// A request with this method, sent as `version`.
    Request {
        /// The request method.
        method: &'a Method,
        /// The request's version.
        version: Version,
    },
    /// A final response (not 1xx, and not the 101 or 2xx to CONNECT that
    /// opens a tunnel) with `status`, to a request with `method` from a
    /// client that spoke `peer`.
    Response {
        /// The response status.
        status: StatusCode,
        /// The method of the request answered.
        method: &'a Method,
        /// The version of the request answered.
        peer: Version,
    },
}

/// The framing of an outgoing message, decided once for both
/// connections: the encoder its body goes through, and the framing fields
/// written after the head's own ([`Extra`]: `Content-Length` or
/// `Transfer-Encoding: chunked`, no map entry). `headers` are the fields
/// the application set, adjusted where the rules require.
///
/// - A `Transfer-Encoding` in `headers` must end in chunked (RFC 9112
///   §6.1); a request must not carry `Content-Length` with it, and a
///   response drops its `Content-Length`. A response to an HTTP/1.0 client
///   never uses it: the field is removed and the body framed without it.
/// - Otherwise a `Content-Length` in `headers` must agree with a known
///   `body` length (except where no body is sent).
/// - Otherwise [`BodyLength::Known`] adds `Content-Length` (a request
///   with no body adds it only for POST, PUT and PATCH), and
///   [`BodyLength::Unknown`] adds chunked, or, for a response to an
///   HTTP/1.0 client, delimits the body by closing the connection
///   ([`BodyEncoder::Close`]); an HTTP/1.0 request needs a known length.
/// - No body is sent for HEAD, 204 and 304 ([`BodyEncoder::Discard`]):
///   204 loses `Content-Length` and `Transfer-Encoding`, 304 its
///   `Transfer-Encoding` (it may carry the GET's length, RFC 9110 §8.6),
///   and HEAD keeps the length the GET would have.
///
/// ```
/// use wireloom_core::http::framing::{outgoing, BodyLength, Outgoing};
/// use wireloom_core::http::body::BodyEncoder;
/// use wireloom_core::http::{HeaderMap, Method, StatusCode, Version};
/// let get = Method::GET;
/// let to = |peer| Outgoing::Response { status: StatusCode::OK, method: &get, peer };
/// let (enc, extra) = outgoing(to(Version::Http11), &mut HeaderMap::new(), BodyLength::Unknown).unwrap();
/// assert_eq!((enc, extra.chunked), (BodyEncoder::Chunked, true));
/// let (enc, extra) = outgoing(to(Version::Http10), &mut HeaderMap::new(), BodyLength::Unknown).unwrap();
/// assert_eq!((enc, extra.chunked), (BodyEncoder::Close, false));
/// let post = Method::POST;
/// let req = Outgoing::Request { method: &post, version: Version::Http11 };
/// let (enc, extra) = outgoing(req, &mut HeaderMap::new(), BodyLength::Known(0)).unwrap();
/// assert_eq!((enc, extra.content_length), (BodyEncoder::Length(0), Some(0)));
/// ```
pub fn outgoing(
    msg: Outgoing<'_>,
    headers: &mut HeaderMap,
    body: BodyLength,
) -> Result<(BodyEncoder, Extra), UsageError> {
    let mut extra = Extra::default();
    // `v10`: framed for HTTP/1.0 (a request sent as 1.0, a response to a
    // 1.0 client).
    let (request_method, no_body, v10) = match msg {
        Outgoing::Request { method, version } => (Some(method), false, version == Version::Http10),
        Outgoing::Response {
            status,
            method,
            peer,
        } => {
            if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
                if status == StatusCode::NO_CONTENT {
                    headers.remove("content-length");
                }
                headers.remove("transfer-encoding");
                return Ok((BodyEncoder::Discard, extra));
            }
            (None, *method == Method::HEAD, peer == Version::Http10)
        }
    };
    let body_or_none = |enc| if no_body { BodyEncoder::Discard } else { enc };
    let declared =
        content_length(headers).map_err(|_| UsageError::InvalidHead("invalid Content-Length"))?;
    if headers.contains("transfer-encoding") {
        if request_method.is_none() && v10 {
            // Never chunked to an HTTP/1.0 client: framed without it.
            headers.remove("transfer-encoding");
        } else {
            let chunked = headers
                .get_list("transfer-encoding")
                .last()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
            if request_method.is_some() {
                if !chunked || declared.is_some() {
                    return Err(UsageError::InvalidHead(
                        "Transfer-Encoding must be chunked, without Content-Length",
                    ));
                }
                if v10 {
                    return Err(UsageError::InvalidHead("chunked is not HTTP/1.0"));
                }
            } else {
                if !chunked {
                    return Err(UsageError::InvalidHead(
                        "Transfer-Encoding must end in chunked",
                    ));
                }
                headers.remove("content-length");
            }
            return Ok((body_or_none(BodyEncoder::Chunked), extra));
        }
    }
    let enc = if let Some(n) = declared {
        if matches!(body, BodyLength::Known(k) if k != n) && !no_body {
            return Err(UsageError::InvalidHead(
                "Content-Length differs from the body length",
            ));
        }
        BodyEncoder::Length(n)
    } else {
        match (body, request_method) {
            // A request without content names no length, unless its
            // method is one that has content.
            (BodyLength::Known(0), Some(m))
                if !matches!(*m, Method::POST | Method::PUT | Method::PATCH) =>
            {
                BodyEncoder::Length(0)
            }
            (BodyLength::Known(n), _) => {
                extra.content_length = Some(n);
                BodyEncoder::Length(n)
            }
            (BodyLength::Unknown, _) if no_body => BodyEncoder::Discard,
            (BodyLength::Unknown, Some(_)) if v10 => {
                return Err(UsageError::InvalidHead(
                    "HTTP/1.0 needs a known body length",
                ));
            }
            (BodyLength::Unknown, None) if v10 => BodyEncoder::Close,
            (BodyLength::Unknown, _) => {
                extra.chunked = true;
                BodyEncoder::Chunked
            }
        }
    };
    Ok((body_or_none(enc), extra))
}

/// Whether the sender of `headers` with `version` wants the connection kept
/// open after this message (RFC 9112 §9.3).
pub fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    if headers.contains_token("connection", "close") {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => headers.contains_token("connection", "keep-alive"),
    }
}

/// Whether a request asks to switch protocols (Upgrade listed in Connection).
pub fn wants_upgrade(head: &RequestHead) -> bool {
    head.headers.contains("upgrade") && head.headers.contains_token("connection", "upgrade")
}

/// Whether trailer fields may be sent in the response to this request: an
/// HTTP/1.1 request whose `TE` lists `trailers` (RFC 9110 §10.1.4; hyper
/// asks the same). Without it a server drops the trailer section of a
/// chunked response, as a recipient that never asked may fail on it.
///
/// ```
/// use wireloom_core::http::{framing::accepts_trailers, Method, RequestHead};
/// let mut head = RequestHead::new(Method::GET, "/").unwrap();
/// assert!(!accepts_trailers(&head));
/// head.header("TE", "gzip, Trailers").unwrap();
/// assert!(accepts_trailers(&head));
/// ```
pub fn accepts_trailers(head: &RequestHead) -> bool {
    head.version == Version::Http11 && head.headers.contains_token("te", "trailers")
}

/// What a request's Expect field asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// No expectation (or one that HTTP/1.0 makes us ignore).
    None,
    /// `100-continue`: the client waits for a 100 before sending its body.
    Continue,
}

/// The expectation of a request; anything but `100-continue` is 417.
pub fn expectation(head: &RequestHead) -> Result<Expectation, Error> {
    if !head.headers.contains("expect") {
        return Ok(Expectation::None);
    }
    let mut cont = false;
    for e in head.headers.get_list("expect") {
        if e.eq_ignore_ascii_case(b"100-continue") {
            cont = true;
        } else {
            return err(ErrorKind::UnsupportedExpectation);
        }
    }
    // RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
    Ok(if cont && head.version == Version::Http11 {
        Expectation::Continue
    } else {
        Expectation::None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(fields: &[(&str, &str)], version: Version) -> RequestHead {
        let mut r = RequestHead::new(Method::POST, "/").unwrap();
        r.version = version;
        for (n, v) in fields {
            r.headers.append(*n, *v).unwrap();
        }
        r
    }

    #[test]
    fn request_rules() {
        use Version::*;
        let f = |h: &[(&str, &str)]| request_framing(&req(h, Http11)).map_err(|e| e.kind());
        assert_eq!(f(&[]), Ok(Framing::Empty));
        assert_eq!(f(&[("Content-Length", "5")]), Ok(Framing::Length(5)));
        assert_eq!(f(&[("Content-Length", "5, 5")]), Ok(Framing::Length(5)));
        assert_eq!(
            f(&[("Content-Length", "5"), ("content-length", "5")]),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            f(&[("Content-Length", "5"), ("content-length", "6")]),
            Err(ErrorKind::ConflictingContentLength)
        );
        assert_eq!(
            f(&[("Content-Length", "+5")]),
            Err(ErrorKind::InvalidContentLength)
        );
        assert_eq!(
            f(&[("Content-Length", "0x5")]),
            Err(ErrorKind::InvalidContentLength)
        );
        assert_eq!(
            f(&[("Content-Length", "99999999999999999999")]),
            Err(ErrorKind::InvalidContentLength)
        );
        assert_eq!(f(&[("Transfer-Encoding", "chunked")]), Ok(Framing::Chunked));
        assert_eq!(f(&[("Transfer-Encoding", "Chunked")]), Ok(Framing::Chunked));
        assert_eq!(
            f(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]),
            Err(ErrorKind::ContentLengthWithTransferEncoding)
        );
        assert_eq!(
            f(&[("Transfer-Encoding", "chunked, chunked")]),
            Err(ErrorKind::InvalidTransferEncoding)
        );
        assert_eq!(
            f(&[("Transfer-Encoding", "gzip, chunked")]),
            Err(ErrorKind::UnknownTransferCoding)
        );
        assert_eq!(
            f(&[("Transfer-Encoding", "identity")]),
            Err(ErrorKind::UnknownTransferCoding)
        );
        assert_eq!(
            f(&[("Transfer-Encoding", "")]),
            Err(ErrorKind::InvalidTransferEncoding)
        );
        assert_eq!(
            request_framing(&req(&[("Transfer-Encoding", "chunked")], Http10))
                .map_err(|e| e.kind()),
            Err(ErrorKind::InvalidTransferEncoding)
        );
    }

    #[test]
    fn connect_carries_no_content() {
        let connect = |h: &[(&str, &str)], version| {
            let mut r = RequestHead::new(Method::CONNECT, "example.com:443").unwrap();
            r.version = version;
            for (n, v) in h {
                r.headers.append(*n, *v).unwrap();
            }
            request_framing(&r).map_err(|e| e.kind())
        };
        use Version::*;
        assert_eq!(connect(&[], Http11), Ok(Framing::Empty));
        assert_eq!(
            connect(&[("Host", "example.com:443")], Http10),
            Ok(Framing::Empty)
        );
        for h in [
            &[("Content-Length", "5")][..],
            &[("Content-Length", "0")],
            &[("Transfer-Encoding", "chunked")],
            &[("Transfer-Encoding", "gzip")],
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        ] {
            for v in [Http11, Http10] {
                assert_eq!(connect(h, v), Err(ErrorKind::ConnectWithContent), "{h:?}");
            }
        }
        assert_eq!(
            ErrorKind::ConnectWithContent.status(),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn response_rules() {
        let res = |status: u16, h: &[(&str, &str)]| {
            let mut r = ResponseHead::new(StatusCode::from_u16(status).unwrap());
            for (n, v) in h {
                r.headers.append(*n, *v).unwrap();
            }
            r
        };
        let cl = [("Content-Length", "10")];
        assert_eq!(
            response_framing(&Method::HEAD, false, &res(200, &cl)),
            Ok(Framing::Empty)
        );
        assert_eq!(
            response_framing(&Method::GET, false, &res(204, &cl)),
            Ok(Framing::Empty)
        );
        assert_eq!(
            response_framing(&Method::GET, false, &res(304, &cl)),
            Ok(Framing::Empty)
        );
        assert_eq!(
            response_framing(&Method::GET, false, &res(200, &cl)),
            Ok(Framing::Length(10))
        );
        assert_eq!(
            response_framing(&Method::GET, false, &res(200, &[])),
            Ok(Framing::CloseDelimited)
        );
        assert_eq!(
            response_framing(&Method::CONNECT, false, &res(200, &[])),
            Ok(Framing::Tunnel)
        );
        assert_eq!(
            response_framing(&Method::CONNECT, false, &res(407, &cl)),
            Ok(Framing::Length(10))
        );
        assert_eq!(
            response_framing(&Method::GET, true, &res(101, &[])),
            Ok(Framing::Tunnel)
        );
        assert_eq!(
            response_framing(
                &Method::GET,
                false,
                &res(200, &[("Transfer-Encoding", "gzip")])
            ),
            Ok(Framing::CloseDelimited)
        );
        assert_eq!(
            response_framing(
                &Method::GET,
                false,
                &res(
                    200,
                    &[
                        ("Transfer-Encoding", "gzip, chunked"),
                        ("Content-Length", "3")
                    ]
                )
            ),
            Ok(Framing::Chunked)
        );
    }

    #[test]
    fn outgoing_rules() {
        use super::super::body::BodyEncoder as E;
        use BodyLength::{Known, Unknown};
        let fields = |h: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (n, v) in h {
                m.append(*n, *v).unwrap();
            }
            m
        };
        // (encoder, extra Content-Length, extra chunked, fields left) or the error.
        let run = |msg: Outgoing<'_>, h: &[(&str, &str)], body| {
            let mut m = fields(h);
            outgoing(msg, &mut m, body).map(|(e, x)| {
                let left: Vec<String> = m.iter().map(|(n, _)| n.to_string()).collect();
                (e, x.content_length, x.chunked, left)
            })
        };
        let (get, head, post, connect) = (Method::GET, Method::HEAD, Method::POST, Method::CONNECT);
        let res = |status: u16, method, peer| Outgoing::Response {
            status: StatusCode::from_u16(status).unwrap(),
            method,
            peer,
        };
        let req = |method, version| Outgoing::Request { method, version };
        use Version::{Http10, Http11};
        let none: Vec<String> = Vec::new();
        // Responses.
        assert_eq!(
            run(res(200, &get, Http11), &[], Known(3)),
            Ok((E::Length(3), Some(3), false, none.clone()))
        );
        assert_eq!(
            run(res(200, &get, Http11), &[], Unknown),
            Ok((E::Chunked, None, true, none.clone()))
        );
        assert_eq!(
            run(res(200, &get, Http10), &[], Unknown),
            Ok((E::Close, None, false, none.clone()))
        );
        assert_eq!(
            run(res(200, &head, Http11), &[], Known(3)),
            Ok((E::Discard, Some(3), false, none.clone()))
        );
        assert_eq!(
            run(res(200, &head, Http11), &[], Unknown),
            Ok((E::Discard, None, false, none.clone()))
        );
        assert_eq!(
            run(
                res(204, &get, Http11),
                &[("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
                Known(3)
            ),
            Ok((E::Discard, None, false, none.clone()))
        );
        assert_eq!(
            run(
                res(304, &get, Http11),
                &[("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
                Known(0)
            ),
            Ok((E::Discard, None, false, vec!["Content-Length".to_string()]))
        );
        let te = [("Transfer-Encoding", "chunked"), ("Content-Length", "3")];
        assert_eq!(
            run(res(200, &get, Http11), &te, Unknown),
            Ok((
                E::Chunked,
                None,
                false,
                vec!["Transfer-Encoding".to_string()]
            ))
        );
        // Never chunked to HTTP/1.0: framed by its Content-Length.
        assert_eq!(
            run(res(200, &get, Http10), &te, Known(3)),
            Ok((
                E::Length(3),
                None,
                false,
                vec!["Content-Length".to_string()]
            ))
        );
        assert!(run(
            res(200, &get, Http11),
            &[("Transfer-Encoding", "gzip")],
            Unknown
        )
        .is_err());
        assert!(run(res(200, &get, Http11), &[("Content-Length", "4")], Known(3)).is_err());
        assert!(run(
            res(200, &head, Http11),
            &[("Content-Length", "4")],
            Known(3)
        )
        .is_ok());
        assert!(run(res(200, &get, Http11), &[("Content-Length", "x")], Known(3)).is_err());
        // Requests.
        assert_eq!(
            run(req(&get, Http11), &[], Known(0)),
            Ok((E::Length(0), None, false, none.clone()))
        );
        assert_eq!(
            run(req(&post, Http11), &[], Known(0)),
            Ok((E::Length(0), Some(0), false, none.clone()))
        );
        assert_eq!(
            run(req(&post, Http11), &[], Known(5)),
            Ok((E::Length(5), Some(5), false, none.clone()))
        );
        assert_eq!(
            run(req(&post, Http11), &[], Unknown),
            Ok((E::Chunked, None, true, none.clone()))
        );
        assert!(run(req(&post, Http10), &[], Unknown).is_err());
        assert!(run(
            req(&post, Http10),
            &[("Transfer-Encoding", "chunked")],
            Unknown
        )
        .is_err());
        assert!(run(req(&post, Http11), &te, Unknown).is_err());
        assert!(run(req(&post, Http11), &[("Content-Length", "4")], Known(3)).is_err());
        assert_eq!(
            run(req(&connect, Http11), &[], Known(0)),
            Ok((E::Length(0), None, false, none))
        );
    }

    #[test]
    fn keep_alive_and_expect() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.append("Connection", v).unwrap();
            m
        };
        assert!(wants_keep_alive(Version::Http11, &HeaderMap::new()));
        assert!(!wants_keep_alive(Version::Http11, &h("Close")));
        assert!(!wants_keep_alive(Version::Http10, &HeaderMap::new()));
        assert!(wants_keep_alive(Version::Http10, &h("keep-alive")));
        let e = |v: &str, ver| expectation(&req(&[("Expect", v)], ver)).map_err(|e| e.kind());
        assert_eq!(
            e("100-continue", Version::Http11),
            Ok(Expectation::Continue)
        );
        assert_eq!(e("100-Continue", Version::Http10), Ok(Expectation::None));
        assert_eq!(
            e("200-ok", Version::Http11),
            Err(ErrorKind::UnsupportedExpectation)
        );
    }
}
