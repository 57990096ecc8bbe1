//! Writing heads. Names keep their spelling; values were validated when they
//! entered a [`HeaderMap`], so nothing written here can inject a line.

use bytes::{BufMut, BytesMut};

use super::header::HeaderMap;
use super::message::{RequestHead, ResponseHead};

/// Appends `name: value\r\n` for every field.
pub fn write_fields(out: &mut BytesMut, headers: &HeaderMap) {
    for (n, v) in headers.iter_bytes() {
        out.reserve(n.len() + v.len() + 4);
        out.put_slice(n);
        out.put_slice(b": ");
        out.put_slice(v);
        out.put_slice(b"\r\n");
    }
}

/// Appends a request head, ending with the empty line.
///
/// ```
/// use bytes::BytesMut;
/// use wireloom_core::http::{Method, RequestHead, serialize::write_request_head};
/// let mut req = RequestHead::new(Method::GET, "/a?b").unwrap();
/// req.header("Host", "x").unwrap();
/// let mut out = BytesMut::new();
/// write_request_head(&mut out, &req);
/// assert_eq!(&out[..], b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n");
/// ```
pub fn write_request_head(out: &mut BytesMut, head: &RequestHead) {
    write_request_head_with(out, head, &Extra::default());
}

/// Like [`write_request_head`], with `extra` fields after the head's own.
pub fn write_request_head_with(out: &mut BytesMut, head: &RequestHead, extra: &Extra) {
    out.reserve(32 + head.target.as_bytes().len() + head.headers.len() * 32);
    out.put_slice(head.method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.target.as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.version.as_str().as_bytes());
    out.put_slice(b"\r\n");
    write_fields(out, &head.headers);
    write_extra(out, extra);
    out.put_slice(b"\r\n");
}

/// Appends the `extra` framing fields.
pub fn write_extra(out: &mut BytesMut, extra: &Extra) {
    if let Some(n) = extra.content_length {
        out.put_slice(b"Content-Length: ");
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.put_slice(&digits[i..]);
        out.put_slice(b"\r\n");
    }
    if extra.chunked {
        out.put_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if let Some(c) = extra.connection {
        out.put_slice(b"Connection: ");
        out.put_slice(c);
        out.put_slice(b"\r\n");
    }
}

/// Appends a response head, ending with the empty line. A reason phrase with
/// a control character is replaced by the registered one.
pub fn write_response_head(out: &mut BytesMut, head: &ResponseHead) {
    write_response_head_with(out, head, &Extra::default());
}

/// Framing fields a connection adds after the head's own, written straight
/// to the wire (no map entry, no allocation).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extra {
    /// `Content-Length: n`.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Connection: close` or `keep-alive`.
    pub connection: Option<&'static [u8]>,
}

/// Like [`write_response_head`], with `extra` fields after the head's own.
pub fn write_response_head_with(out: &mut BytesMut, head: &ResponseHead, extra: &Extra) {
    write_response_head_dated(out, head, None, extra);
}

/// Like [`write_response_head_with`], with a `Date: date` field right
/// after the head's own (where appending it to the map would put it),
/// written without touching the map: a parsed map stays as parsed, and no
/// field is added to be dropped again.
pub(crate) fn write_response_head_dated(
    out: &mut BytesMut,
    head: &ResponseHead,
    date: Option<&[u8]>,
    extra: &Extra,
) {
    out.reserve(64 + head.headers.len() * 32);
    out.put_slice(head.version.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(&head.status.as_digits());
    out.put_u8(b' ');
    if head.reason.iter().all(|&c| super::chars::is_field_char(c)) {
        out.put_slice(&head.reason);
    } else {
        out.put_slice(head.status.reason().unwrap_or("").as_bytes());
    }
    out.put_slice(b"\r\n");
    write_fields(out, &head.headers);
    if let Some(d) = date {
        out.reserve(d.len() + 8);
        out.put_slice(b"Date: ");
        out.put_slice(d);
        out.put_slice(b"\r\n");
    }
    write_extra(out, extra);
    out.put_slice(b"\r\n");
}
