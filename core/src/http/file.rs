//! Static file responses: every decision between 200, 206, 304, 412 and 416
//! (RFC 9110 §13 conditional requests, §14 range requests), made once here so
//! that every adapter serves files identically.
//!
//! The adapter looks the file up, hands its [`FileMeta`] and the request to
//! [`plan`], sends the head of the returned [`FilePlan`] and then its body
//! [`Segment`]s, mapping each [`Segment::File`] range to a slice of the
//! (cached, memory-mapped) file bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::header::HeaderMap;
use super::message::{RequestHead, ResponseHead};
use super::{Method, StatusCode};

/// What the planner needs to know about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub len: u64,
    /// Last modification time, if known.
    pub modified: Option<SystemTime>,
    /// Strong entity tag, quotes included (see [`etag`]).
    pub etag: String,
    /// Media type for Content-Type (see [`content_type`]).
    pub content_type: String,
}

/// A strong entity tag from the file's identity: length, modification time
/// (nanoseconds) and inode; any rewrite changes it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wireloom_core::http::file::etag;
/// assert_eq!(etag(10, Some(UNIX_EPOCH + Duration::from_secs(1)), 7), "\"a-3b9aca00-7\"");
/// ```
pub fn etag(len: u64, modified: Option<SystemTime>, inode: u64) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{len:x}-{nanos:x}-{inode:x}\"")
}

/// The media type for a path, from its extension; text types get
/// `charset=utf-8`; unknown types are `application/octet-stream`.
///
/// ```
/// use wireloom_core::http::file::content_type;
/// assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
/// assert_eq!(content_type("a/b.png"), "image/png");
/// assert_eq!(content_type("noext"), "application/octet-stream");
/// ```
pub fn content_type(path: &str) -> String {
    let m = mime_guess::from_path(path).first_or_octet_stream();
    let s = m.essence_str();
    if m.type_() == mime_guess::mime::TEXT
        || s == "application/javascript"
        || s == "application/json"
        || s == "image/svg+xml"
    {
        format!("{s}; charset=utf-8")
    } else {
        s.to_string()
    }
}

/// One piece of a planned body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal bytes (multipart boundaries and part heads).
    Bytes(Bytes),
    /// The file's bytes `start..end` (end exclusive).
    File(u64, u64),
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    /// The response head, with Content-Length, validators and, for ranges,
    /// Content-Range or the multipart Content-Type.
    pub head: ResponseHead,
    /// The body (empty for HEAD, 304, 412); the adapter writes these in order.
    pub body: Vec<Segment>,
}

impl FilePlan {
    /// Total body length (what Content-Length says, except for HEAD).
    pub fn body_len(&self) -> u64 {
        self.body
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len() as u64,
                Segment::File(a, b) => b - a,
            })
            .sum()
    }
}

/// Most ranges served in one multipart response; more and the whole file is
/// sent instead (RFC 9110 §14.2 lets a server ignore Range).
pub const MAX_RANGES: usize = 16;

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn parse_date(v: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(v).ok()?).ok()
}

/// Truncates to whole seconds, the resolution of HTTP dates.
fn secs(t: SystemTime) -> SystemTime {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(d.as_secs())
}

/// Entity-tag list matching (RFC 9110 §8.8.3.2): `*` matches anything.
fn etag_matches(list: &[&[u8]], etag: &str, weak: bool) -> bool {
    let strip = |t: &[u8]| -> Option<Vec<u8>> {
        if let Some(rest) = t.strip_prefix(b"W/") {
            // A weak tag never matches strongly.
            if !weak {
                return None;
            }
            Some(rest.to_vec())
        } else {
            Some(t.to_vec())
        }
    };
    let ours = etag.as_bytes();
    list.iter()
        .any(|t| *t == b"*" || strip(t).is_some_and(|t| t == ours))
}

/// Parses `bytes=a-b, c-, -n` into absolute half-open ranges. `None` when
/// the header is malformed or not in bytes (then it is ignored); `Some(vec![])`
/// when no range is satisfiable.
fn parse_ranges(v: &[u8], len: u64) -> Option<Vec<(u64, u64)>> {
    let s = std::str::from_utf8(v).ok()?;
    let (unit, set) = s.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let num = |t: &str| -> Option<u64> {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let mut out = Vec::new();
    let mut count = 0;
    for spec in set.split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        if spec.is_empty() {
            continue;
        }
        count += 1;
        let (a, b) = spec.split_once('-')?;
        if a.is_empty() {
            let n = num(b)?;
            if n > 0 && len > 0 {
                out.push((len.saturating_sub(n), len));
            }
        } else {
            let start = num(a)?;
            let end = if b.is_empty() { None } else { Some(num(b)?) };
            if end.is_some_and(|e| e < start) {
                return None;
            }
            if start < len {
                let end = end.map_or(len, |e| (e + 1).min(len));
                out.push((start, end));
            }
        }
    }
    if count == 0 {
        return None;
    }
    Some(out)
}

/// Decides the response to a GET or HEAD of a file.
///
/// `boundary_seed` makes the multipart boundary (pass a random number).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wireloom_core::http::{Method, RequestHead, StatusCode};
/// use wireloom_core::http::file::{plan, FileMeta, Segment};
/// let meta = FileMeta { len: 100, modified: Some(UNIX_EPOCH + Duration::from_secs(1_000_000)),
///     etag: "\"abc\"".into(), content_type: "text/plain".into() };
/// let mut req = RequestHead::new(Method::GET, "/f.txt").unwrap();
/// req.header("Host", "h").unwrap().header("Range", "bytes=10-19").unwrap();
/// let p = plan(&req, &meta, 1);
/// assert_eq!(p.head.status, StatusCode::PARTIAL_CONTENT);
/// assert_eq!(p.head.headers.get("content-range").unwrap(), "bytes 10-19/100");
/// assert_eq!(p.body, vec![Segment::File(10, 20)]);
///
/// let mut req = RequestHead::new(Method::GET, "/f.txt").unwrap();
/// req.header("Host", "h").unwrap().header("If-None-Match", "\"abc\"").unwrap();
/// assert_eq!(plan(&req, &meta, 1).head.status, StatusCode::NOT_MODIFIED);
/// ```
pub fn plan(req: &RequestHead, meta: &FileMeta, boundary_seed: u64) -> FilePlan {
    let h = &req.headers;
    let is_get_head = req.method == Method::GET || req.method == Method::HEAD;
    let modified = meta.modified.map(secs);

    let mut validators = HeaderMap::new();
    let _ = validators.append("ETag", meta.etag.as_str());
    if let Some(m) = modified {
        let _ = validators.append("Last-Modified", http_date(m));
    }

    let status_only = |status: StatusCode, extra: &HeaderMap| {
        let mut head = ResponseHead::new(status);
        for (n, v) in extra {
            head.headers.append_field(n.clone(), v.clone());
        }
        FilePlan {
            head,
            body: Vec::new(),
        }
    };

    // 1. If-Match / 2. If-Unmodified-Since
    if h.contains("if-match") {
        let list: Vec<&[u8]> = h.get_list("if-match").collect();
        if !etag_matches(&list, &meta.etag, false) {
            return status_only(StatusCode::PRECONDITION_FAILED, &HeaderMap::new());
        }
    } else if let Some(d) = h.get_bytes("if-unmodified-since").and_then(parse_date) {
        if modified.is_none_or(|m| m > d) {
            return status_only(StatusCode::PRECONDITION_FAILED, &HeaderMap::new());
        }
    }
    // 3. If-None-Match / 4. If-Modified-Since
    if h.contains("if-none-match") {
        let list: Vec<&[u8]> = h.get_list("if-none-match").collect();
        if etag_matches(&list, &meta.etag, true) {
            return if is_get_head {
                status_only(StatusCode::NOT_MODIFIED, &validators)
            } else {
                status_only(StatusCode::PRECONDITION_FAILED, &HeaderMap::new())
            };
        }
    } else if is_get_head {
        if let (Some(d), Some(m)) = (
            h.get_bytes("if-modified-since").and_then(parse_date),
            modified,
        ) {
            if m <= d {
                return status_only(StatusCode::NOT_MODIFIED, &validators);
            }
        }
    }

    let mut head = ResponseHead::new(StatusCode::OK);
    let _ = head
        .headers
        .append("Content-Type", meta.content_type.as_str());
    for (n, v) in &validators {
        head.headers.append_field(n.clone(), v.clone());
    }
    let _ = head.headers.append("Accept-Ranges", "bytes");

    // 5. Range, honoured for GET only, and only if If-Range still holds.
    let mut ranges = None;
    if req.method == Method::GET {
        if let Some(r) = h.get_bytes("range") {
            let if_range_ok = match h.get_bytes("if-range") {
                None => true,
                Some(v) if v.starts_with(b"\"") => v == meta.etag.as_bytes(),
                Some(v) if v.starts_with(b"W/") => false,
                Some(v) => parse_date(v).is_some_and(|d| Some(d) == modified),
            };
            if if_range_ok {
                ranges = parse_ranges(r, meta.len);
            }
        }
    }
    let len = meta.len;
    let body = match ranges {
        Some(r) if r.is_empty() => {
            let mut extra = HeaderMap::new();
            let _ = extra.append("Content-Range", format!("bytes */{len}"));
            return status_only(StatusCode::RANGE_NOT_SATISFIABLE, &extra);
        }
        Some(mut r) if r.len() <= MAX_RANGES && !overlapping(&mut r.clone()) => {
            head.status = StatusCode::PARTIAL_CONTENT;
            head.reason = Bytes::from_static(b"Partial Content");
            if r.len() == 1 {
                let (a, b) = r[0];
                let _ = head
                    .headers
                    .append("Content-Range", format!("bytes {}-{}/{len}", a, b - 1));
                vec![Segment::File(a, b)]
            } else {
                let boundary = format!("wireloom-{boundary_seed:016x}");
                let _ = head.headers.insert(
                    "Content-Type",
                    format!("multipart/byteranges; boundary={boundary}"),
                );
                let mut body = Vec::new();
                for (i, (a, b)) in r.drain(..).enumerate() {
                    let lead = if i == 0 { "" } else { "\r\n" };
                    body.push(Segment::Bytes(Bytes::from(format!(
                        "{lead}--{boundary}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                        meta.content_type,
                        a,
                        b - 1
                    ))));
                    body.push(Segment::File(a, b));
                }
                body.push(Segment::Bytes(Bytes::from(format!(
                    "\r\n--{boundary}--\r\n"
                ))));
                body
            }
        }
        _ => {
            if len == 0 {
                Vec::new()
            } else {
                vec![Segment::File(0, len)]
            }
        }
    };
    let mut plan = FilePlan { head, body };
    let n = plan.body_len();
    let _ = plan.head.headers.append("Content-Length", n);
    if req.method == Method::HEAD {
        plan.body.clear();
    }
    plan
}

/// Whether any two ranges overlap (a cheap defence against range amplification).
fn overlapping(r: &mut [(u64, u64)]) -> bool {
    r.sort_unstable();
    r.windows(2).any(|w| w[1].0 < w[0].1)
}

/// Why a request path cannot name a file under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// A `..` segment (also percent-encoded as `%2e%2e`).
    Traversal,
    /// A decoded segment holds `/`, a backslash, NUL, or is not UTF-8.
    BadSegment,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::Traversal => "path escapes the root",
            PathError::BadSegment => "path segment is not a plain file name",
        })
    }
}

impl std::error::Error for PathError {}

/// Splits a request path (still percent-encoded, as in
/// [`RequestTarget::path`](super::RequestTarget::path)) into decoded segments
/// safe to join under a root: no `..` (in any encoding), no separators or NUL
/// inside a segment; empty and `.` segments are dropped.
///
/// ```
/// use wireloom_core::http::file::{safe_segments, PathError};
/// assert_eq!(safe_segments("/a/./b%20c/").unwrap(), ["a", "b c"]);
/// assert_eq!(safe_segments("/a/%2e%2E/etc/passwd"), Err(PathError::Traversal));
/// assert_eq!(safe_segments("/a%2f..%2fb"), Err(PathError::BadSegment));
/// ```
pub fn safe_segments(path: &str) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(seg).collect();
        let s = String::from_utf8(decoded).map_err(|_| PathError::BadSegment)?;
        match s.as_str() {
            "" | "." => continue,
            ".." => return Err(PathError::Traversal),
            _ => {}
        }
        if s.contains(['/', '\\', '\0']) {
            return Err(PathError::BadSegment);
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> FileMeta {
        FileMeta {
            len: 1000,
            modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            etag: "\"v1\"".into(),
            content_type: "text/plain; charset=utf-8".into(),
        }
    }

    fn req(method: Method, fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(method, "/f").unwrap();
        r.header("Host", "h").unwrap();
        for (n, v) in fields {
            r.header(*n, *v).unwrap();
        }
        r
    }

    fn status(fields: &[(&str, &str)]) -> u16 {
        plan(&req(Method::GET, fields), &meta(), 7)
            .head
            .status
            .as_u16()
    }

    #[test]
    fn conditionals() {
        let lm = "Tue, 14 Nov 2023 22:13:20 GMT";
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        assert_eq!(status(&[]), 200);
        assert_eq!(status(&[("If-None-Match", "\"v1\"")]), 304);
        assert_eq!(status(&[("If-None-Match", "W/\"v1\"")]), 304);
        assert_eq!(status(&[("If-None-Match", "\"x\", \"v1\"")]), 304);
        assert_eq!(status(&[("If-None-Match", "*")]), 304);
        assert_eq!(status(&[("If-None-Match", "\"v0\"")]), 200);
        assert_eq!(status(&[("If-Modified-Since", lm)]), 304);
        assert_eq!(status(&[("If-Modified-Since", before)]), 200);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            status(&[("If-None-Match", "\"v0\""), ("If-Modified-Since", lm)]),
            200
        );
        assert_eq!(status(&[("If-Match", "\"v0\"")]), 412);
        assert_eq!(status(&[("If-Match", "W/\"v1\"")]), 412);
        assert_eq!(status(&[("If-Match", "\"v1\"")]), 200);
        assert_eq!(status(&[("If-Unmodified-Since", before)]), 412);
        assert_eq!(status(&[("If-Unmodified-Since", lm)]), 200);
        assert_eq!(status(&[("If-Modified-Since", "garbage")]), 200);
        let p = plan(
            &req(Method::GET, &[("If-None-Match", "\"v1\"")]),
            &meta(),
            7,
        );
        assert_eq!(p.head.headers.get("etag").unwrap(), "\"v1\"");
        assert!(p.body.is_empty());
    }

    #[test]
    fn ranges() {
        let p = |r: &str| plan(&req(Method::GET, &[("Range", r)]), &meta(), 7);
        assert_eq!(p("bytes=0-0").body, vec![Segment::File(0, 1)]);
        assert_eq!(p("bytes=-10").body, vec![Segment::File(990, 1000)]);
        assert_eq!(p("bytes=990-").body, vec![Segment::File(990, 1000)]);
        assert_eq!(
            p("bytes=990-5000")
                .head
                .headers
                .get("content-range")
                .unwrap(),
            "bytes 990-999/1000"
        );
        let r = p("bytes=1000-");
        assert_eq!(r.head.status.as_u16(), 416);
        assert_eq!(r.head.headers.get("content-range").unwrap(), "bytes */1000");
        assert_eq!(
            p("bytes=5-1").head.status.as_u16(),
            200,
            "malformed: ignored"
        );
        assert_eq!(p("items=0-1").head.status.as_u16(), 200);
        assert_eq!(
            p("bytes=0-10,5-20").head.status.as_u16(),
            200,
            "overlap: whole file"
        );
        let m = p("bytes=0-1,10-11");
        assert_eq!(m.head.status.as_u16(), 206);
        let ct = m.head.headers.get_str("content-type").unwrap();
        assert!(ct.starts_with("multipart/byteranges; boundary=wireloom-"));
        assert_eq!(m.body.len(), 5);
        assert_eq!(
            m.head
                .headers
                .get("content-length")
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            m.body_len()
        );
        // If-Range with a stale validator: full response.
        let stale = plan(
            &req(
                Method::GET,
                &[("Range", "bytes=0-1"), ("If-Range", "\"v0\"")],
            ),
            &meta(),
            7,
        );
        assert_eq!(stale.head.status.as_u16(), 200);
        let fresh = plan(
            &req(
                Method::GET,
                &[("Range", "bytes=0-1"), ("If-Range", "\"v1\"")],
            ),
            &meta(),
            7,
        );
        assert_eq!(fresh.head.status.as_u16(), 206);
        // HEAD: headers of the GET, no body.
        let h = plan(&req(Method::HEAD, &[]), &meta(), 7);
        assert_eq!(h.head.headers.get("content-length").unwrap(), "1000");
        assert!(h.body.is_empty());
    }
}
