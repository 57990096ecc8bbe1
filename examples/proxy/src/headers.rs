//! What a proxy changes in the heads it forwards (RFC 9110 §7.6): the
//! hop-by-hop fields go (the fixed list and every field the `Connection`
//! field names), `Via` and `X-Forwarded-For` are added, and everything
//! else keeps its spelling and its place.
//!
//! The framing fields (`Content-Length`, `Transfer-Encoding`) stay where
//! they are: the connections re-frame each body with them as they are
//! (a request's `Transfer-Encoding` can only be `chunked`: core refuses
//! any other coding with 501).

use std::net::IpAddr;

use wireloom_core::http::{
    names, HeaderMap, HeaderName, HeaderValue, InvalidHeader, RequestHead, ResponseHead, Version,
};

const VIA: HeaderName = HeaderName::from_static("Via");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("X-Forwarded-For");

/// Fields that describe one connection and never travel past it.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "expect",
];

/// Whether `name` is in [`HOP_BY_HOP`] (lengths compared first).
fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h.as_bytes()))
}

/// The `Via` values this proxy adds (`1.0 <name>` or `1.1 <name>`: the
/// version the message was received with), made once.
#[derive(Debug, Clone)]
pub struct Via {
    v10: HeaderValue,
    v11: HeaderValue,
}

impl Via {
    /// The values for pseudonym `name`; an error if it cannot be a field
    /// value.
    pub fn new(name: &str) -> Result<Via, InvalidHeader> {
        Ok(Via {
            v10: HeaderValue::try_from(format!("1.0 {name}"))?,
            v11: HeaderValue::try_from(format!("1.1 {name}"))?,
        })
    }

    fn of(&self, v: Version) -> HeaderValue {
        match v {
            Version::Http10 => self.v10.clone(),
            _ => self.v11.clone(),
        }
    }
}

/// Copies `headers` without the hop-by-hop fields (the fixed list and
/// those named in `Connection`), keeping `Upgrade` and sending
/// `Connection: upgrade` when the head switches protocols, and merging
/// `X-Forwarded-For` into one field (at the place of the first, with its
/// spelling) that ends with `forwarded_for` when given.
///
/// The copy starts as the parsed map (one shared buffer and positions);
/// only a head that has something to drop or merge becomes a list of
/// fields, once.
fn rewrite(
    headers: &HeaderMap,
    upgrade: bool,
    forwarded_for: Option<&HeaderValue>,
    via: HeaderValue,
) -> HeaderMap {
    let mut out = headers.clone();
    // The fields `Connection` names (rare: usually none).
    let named: Vec<String> = headers
        .get_list("connection")
        .filter_map(|t| std::str::from_utf8(t).ok())
        .map(str::to_string)
        .collect();
    let keep = |name: &[u8]| upgrade && name.eq_ignore_ascii_case(b"upgrade");
    // One pass over the parsed fields (compared by bytes, the cheap walk)
    // finds the ones to drop; only they are removed (the first removal
    // turns the copy into a list of fields).
    let mut drop: Vec<&str> = Vec::new();
    for (n, _) in headers.iter_bytes() {
        let hop = is_hop_by_hop(n) || named.iter().any(|m| n.eq_ignore_ascii_case(m.as_bytes()));
        if hop && !keep(n) {
            if let Ok(name) = std::str::from_utf8(n) {
                if !drop.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                    drop.push(name);
                }
            }
        }
    }
    for name in drop {
        out.remove(name);
    }
    if upgrade {
        out.append_field(names::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    out.append_field(VIA, via);
    if let Some(ip) = forwarded_for {
        let spelling = out
            .iter_bytes()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-for"))
            .and_then(|(n, _)| HeaderName::try_from(n).ok());
        match spelling {
            None => out.append_field(X_FORWARDED_FOR, ip.clone()),
            Some(name) => {
                // All the client's X-Forwarded-For values, then ours.
                let mut list: Vec<&str> = headers
                    .get_all_bytes("x-forwarded-for")
                    .filter_map(|v| std::str::from_utf8(v).ok())
                    .collect();
                list.push(ip.to_str().unwrap_or(""));
                if let Ok(v) = HeaderValue::try_from(list.join(", ")) {
                    let _ = out.insert(name, v);
                }
            }
        }
    }
    out
}

/// The client's address as an `X-Forwarded-For` element (made once per
/// connection).
pub fn forwarded_for(client: IpAddr) -> HeaderValue {
    HeaderValue::try_from(client.to_string()).unwrap_or(HeaderValue::from_static("unknown"))
}

/// The head sent upstream for a request from `client` (see
/// [`forwarded_for`]): hop-by-hop fields
/// removed, `Via: <version> <name>` and `X-Forwarded-For` added, sent as
/// HTTP/1.1 (with `Host: fallback_host` if the client, speaking
/// HTTP/1.0, sent none).
pub fn request(
    head: &RequestHead,
    client: &HeaderValue,
    upgrade: bool,
    via: &Via,
    fallback_host: &str,
) -> RequestHead {
    let mut headers = rewrite(&head.headers, upgrade, Some(client), via.of(head.version));
    if !headers.contains("host") {
        let _ = headers.append("Host", fallback_host);
    }
    RequestHead {
        method: head.method.clone(),
        target: head.target.clone(),
        version: Version::Http11,
        headers,
    }
}

/// The head sent to the client for an upstream response: hop-by-hop
/// fields removed (`Upgrade` kept on a 101), `Via` added.
pub fn response(head: ResponseHead, upgrade: bool, via: &Via) -> ResponseHead {
    let headers = rewrite(&head.headers, upgrade, None, via.of(head.version));
    ResponseHead { headers, ..head }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wireloom_core::http::Method;

    fn names(h: &HeaderMap) -> Vec<String> {
        h.iter()
            .map(|(n, v)| format!("{}: {}", n.as_str(), v.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn request_keeps_case_and_order_drops_hop_by_hop() {
        let mut h = RequestHead::new(Method::GET, "/x").unwrap();
        for (n, v) in [
            ("HOST", "a"),
            ("x-Custom", "1"),
            ("Connection", "keep-alive, X-Secret"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("x-secret", "s"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("accept", "*/*"),
        ] {
            h.header(n, v).unwrap();
        }
        let out = request(
            &h,
            &forwarded_for("127.0.0.9".parse().unwrap()),
            false,
            &Via::new("wireloom").unwrap(),
            "up:1",
        );
        assert_eq!(
            names(&out.headers),
            [
                "HOST: a",
                "x-Custom: 1",
                "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.9",
                "accept: */*",
                "Via: 1.1 wireloom",
            ]
        );
    }

    #[test]
    fn a_head_with_nothing_to_drop_gets_via_and_forwarded_for_appended() {
        use bytes::Bytes;
        use wireloom_core::http::parse::{parse_request, ParseConfig, Status};
        let buf = Bytes::from_static(b"GET / HTTP/1.1\r\nhost: a\r\nX-One: 1\r\n\r\n");
        let cfg = ParseConfig::default();
        let mut raw = Vec::new();
        let Status::Complete(r) = parse_request(&buf, &cfg, &mut raw).unwrap() else {
            panic!("complete")
        };
        let h = RequestHead::from_raw(&buf, &r, &raw, &cfg).unwrap();
        let out = request(
            &h,
            &forwarded_for("10.1.2.3".parse().unwrap()),
            false,
            &Via::new("w").unwrap(),
            "up:1",
        );
        assert_eq!(
            names(&out.headers),
            [
                "host: a",
                "X-One: 1",
                "Via: 1.1 w",
                "X-Forwarded-For: 10.1.2.3"
            ]
        );
        let res = response(
            ResponseHead::new(wireloom_core::http::StatusCode::OK),
            false,
            &Via::new("w").unwrap(),
        );
        assert_eq!(names(&res.headers), ["Via: 1.1 w"]);
    }

    #[test]
    fn upgrade_keeps_upgrade_and_http10_gets_host() {
        let mut h = RequestHead::new(Method::GET, "/ws").unwrap();
        h.version = Version::Http10;
        h.header("Upgrade", "websocket").unwrap();
        h.header("Connection", "Upgrade").unwrap();
        let out = request(
            &h,
            &forwarded_for("::1".parse().unwrap()),
            true,
            &Via::new("p").unwrap(),
            "up:1",
        );
        assert_eq!(out.version, Version::Http11);
        assert_eq!(
            names(&out.headers),
            [
                "Upgrade: websocket",
                "Connection: upgrade",
                "Via: 1.0 p",
                "X-Forwarded-For: ::1",
                "Host: up:1"
            ]
        );
    }
}
