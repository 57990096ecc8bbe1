//! The opening handshake (RFC 6455 §4), both roles, over core's HTTP heads.
//!
//! Server: the HTTP server connection reports a request with
//! `wants_upgrade`; [`is_upgrade_request`] tells whether it asks for a
//! WebSocket; [`accept`] checks it and returns either the 101 head to send
//! (with `ServerConnection::send_response(now, head, BodyLength::Known(0))`:
//! after it the HTTP connection reports `ServerEvent::Upgrade` and the
//! bytes left in the read buffer belong to the WebSocket) or a
//! [`Refusal`] with the 4xx head and a short body to send instead.
//!
//! Client: [`ClientHandshake::new`] takes 16 random bytes from the caller
//! (core reads no random source), [`ClientHandshake::request`] builds the
//! GET head, and [`ClientHandshake::check_response`] validates the 101.
//!
//! ```
//! use wireloom_core::ws::{accept, ClientHandshake, ClientOptions, ServerOptions};
//! use wireloom_core::http::{ResponseHead, StatusCode};
//!
//! let client = ClientHandshake::new([7; 16], ClientOptions::default());
//! let req = client.request("/chat", "example.com").unwrap();
//! let accepted = accept(&req, &ServerOptions::default()).unwrap();
//! assert_eq!(accepted.response.status, StatusCode::SWITCHING_PROTOCOLS);
//! let negotiated = client.check_response(&accepted.response).unwrap();
//! assert!(negotiated.deflate.is_some()); // on by default when offered
//! assert_eq!(negotiated, accepted.negotiated);
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::deflate::{self, DeflateConfig, DeflateParams};
use crate::http::{InvalidTarget, Method, RequestHead, ResponseHead, StatusCode, Version};

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` value.
///
/// ```
/// // RFC 6455 §1.3
/// assert_eq!(wireloom_core::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether a request asks to become a WebSocket: `Upgrade: websocket`
/// (any case) with `Connection: upgrade`. The other rules (GET, HTTP/1.1,
/// version, key) are [`accept`]'s to check, so that a malformed WebSocket
/// request gets a WebSocket refusal rather than a page.
pub fn is_upgrade_request(req: &RequestHead) -> bool {
    req.headers.contains_token("upgrade", "websocket")
        && req.headers.contains_token("connection", "upgrade")
}

/// The application's origin check: given the `Origin` value (if any) and
/// the request, whether to accept.
pub type OriginCheck = Arc<dyn Fn(Option<&str>, &RequestHead) -> bool + Send + Sync>;

/// A hook deciding whether a browser's `Origin` may open a WebSocket
/// (cross-site WebSocket hijacking defence: browsers send cookies with a
/// cross-origin WebSocket request, so a server using cookie
/// authentication must check the origin).
#[derive(Clone, Default)]
pub enum OriginPolicy {
    /// Any origin, or none (non-browser clients send none). The default:
    /// right for servers without ambient (cookie) authentication.
    #[default]
    Any,
    /// No `Origin`, or one whose host (and port) equals the `Host` field.
    SameHost,
    /// No `Origin`, or one of these exact origins (`https://example.com`).
    List(Vec<String>),
    /// The application decides, given the `Origin` value (if any) and the
    /// request.
    Custom(OriginCheck),
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPolicy::Any => f.write_str("Any"),
            OriginPolicy::SameHost => f.write_str("SameHost"),
            OriginPolicy::List(l) => f.debug_tuple("List").field(l).finish(),
            OriginPolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl OriginPolicy {
    fn allows(&self, req: &RequestHead) -> bool {
        let origin = req.headers.get_str("origin");
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::Custom(f) => f(origin, req),
            OriginPolicy::List(l) => {
                origin.is_none_or(|o| l.iter().any(|a| a.eq_ignore_ascii_case(o)))
            }
            OriginPolicy::SameHost => {
                let Some(o) = origin else { return true };
                let host = req.headers.get_str("host").unwrap_or("");
                let o_host = o.split_once("://").map_or("", |(_, h)| h);
                !host.is_empty() && o_host.eq_ignore_ascii_case(host)
            }
        }
    }
}

/// What a server accepts.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Subprotocols the server speaks, in its order of preference; the
    /// first one the client also offered is selected. Empty: none is
    /// selected (a client offering some then decides whether to go on).
    pub protocols: Vec<String>,
    /// permessage-deflate settings (on by default when offered).
    pub deflate: DeflateConfig,
    /// Who may connect from a browser.
    pub origin: OriginPolicy,
}

/// What a client offers.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Subprotocols offered (`Sec-WebSocket-Protocol`), in preference order.
    pub protocols: Vec<String>,
    /// permessage-deflate offer (on by default).
    pub deflate: DeflateConfig,
    /// An `Origin` field to send (browsers always do; other clients may).
    pub origin: Option<String>,
}

/// What both sides agreed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The selected subprotocol.
    pub protocol: Option<String>,
    /// permessage-deflate parameters, if it was negotiated.
    pub deflate: Option<DeflateParams>,
}

/// A request the server takes: the 101 to send and what was negotiated.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The 101 head (`Upgrade`, `Connection`, `Sec-WebSocket-Accept`, and
    /// the selected protocol and extension).
    pub response: ResponseHead,
    /// What the connection must be created with.
    pub negotiated: Negotiated,
}

/// A request the server refuses, with the answer to send.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub error: HandshakeError,
    /// The head to answer with (400, 403, 405 with `Allow: GET`, or 426
    /// with `Sec-WebSocket-Version: 13`). The HTTP connection adds the
    /// framing fields.
    pub response: ResponseHead,
}

impl Refusal {
    /// A one-line text body describing the refusal.
    pub fn body(&self) -> String {
        format!("{}\n", self.error)
    }
}

/// Why a handshake failed (either role).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Server: the method is not GET (405).
    NotGet,
    /// Server: not HTTP/1.1 (400).
    NotHttp11,
    /// `Upgrade: websocket` missing (400; client: the 101 lacks it).
    NoUpgrade,
    /// `Connection: upgrade` missing (400; client: the 101 lacks it).
    NoConnectionUpgrade,
    /// Server: `Sec-WebSocket-Key` missing, repeated, or not 16 bytes of
    /// base64 (400).
    BadKey,
    /// Server: `Sec-WebSocket-Version` missing or repeated (400).
    NoVersion,
    /// Server: a version other than 13 (426 with `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// Server: the origin policy refused the request (403).
    OriginRefused,
    /// Server: a malformed `Sec-WebSocket-Extensions` or
    /// `Sec-WebSocket-Protocol` field (400).
    BadField(&'static str),
    /// Client: the answer is not 101.
    NotSwitching(StatusCode),
    /// Client: `Sec-WebSocket-Accept` missing or wrong.
    BadAccept,
    /// Client: the extension answer is not one the offer allows.
    Extension(&'static str),
    /// Client: a subprotocol that was not offered, or several.
    Protocol,
}

impl HandshakeError {
    /// The status a server answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::OriginRefused => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::NotGet => f.write_str("a WebSocket handshake must be a GET"),
            HandshakeError::NotHttp11 => f.write_str("a WebSocket handshake must be HTTP/1.1"),
            HandshakeError::NoUpgrade => f.write_str("missing Upgrade: websocket"),
            HandshakeError::NoConnectionUpgrade => f.write_str("missing Connection: upgrade"),
            HandshakeError::BadKey => f.write_str("missing or invalid Sec-WebSocket-Key"),
            HandshakeError::NoVersion => f.write_str("missing Sec-WebSocket-Version"),
            HandshakeError::UnsupportedVersion => f.write_str("unsupported Sec-WebSocket-Version"),
            HandshakeError::OriginRefused => f.write_str("origin not allowed"),
            HandshakeError::BadField(w) => write!(f, "malformed {w}"),
            HandshakeError::NotSwitching(s) => write!(f, "the server answered {}", s.as_u16()),
            HandshakeError::BadAccept => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            HandshakeError::Extension(w) => f.write_str(w),
            HandshakeError::Protocol => {
                f.write_str("the server selected a subprotocol that was not offered")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

fn refuse(error: HandshakeError) -> Box<Refusal> {
    let mut response = ResponseHead::new(error.status());
    let _ = match error {
        HandshakeError::UnsupportedVersion => response.header("Sec-WebSocket-Version", "13"),
        HandshakeError::NotGet => response.header("Allow", "GET"),
        _ => Ok(&mut response),
    };
    Box::new(Refusal { error, response })
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Server side: checks a WebSocket request and answers it.
///
/// ```
/// use wireloom_core::http::{Method, RequestHead, StatusCode};
/// use wireloom_core::ws::{accept, ServerOptions};
/// let mut req = RequestHead::new(Method::GET, "/chat").unwrap();
/// for (n, v) in [("Host", "server.example.com"), ("Upgrade", "websocket"),
///     ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
///     ("Sec-WebSocket-Version", "13")] { req.header(n, v).unwrap(); }
/// let ok = accept(&req, &ServerOptions::default()).unwrap();
/// assert_eq!(ok.response.headers.get_str("sec-websocket-accept"),
///     Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")); // RFC 6455 §1.3
///
/// req.headers.insert("Sec-WebSocket-Version", "8").unwrap();
/// let no = accept(&req, &ServerOptions::default()).unwrap_err();
/// assert_eq!(no.response.status, StatusCode::UPGRADE_REQUIRED);
/// assert_eq!(no.response.headers.get_str("sec-websocket-version"), Some("13"));
/// ```
pub fn accept(req: &RequestHead, options: &ServerOptions) -> Result<Accepted, Box<Refusal>> {
    if req.method != Method::GET {
        return Err(refuse(HandshakeError::NotGet));
    }
    if req.version != Version::Http11 {
        return Err(refuse(HandshakeError::NotHttp11));
    }
    if !req.headers.contains_token("upgrade", "websocket") {
        return Err(refuse(HandshakeError::NoUpgrade));
    }
    if !req.headers.contains_token("connection", "upgrade") {
        return Err(refuse(HandshakeError::NoConnectionUpgrade));
    }
    let mut versions = req.headers.get_all_bytes("sec-websocket-version");
    let (Some(version), None) = (versions.next(), versions.next()) else {
        return Err(refuse(HandshakeError::NoVersion));
    };
    if version.trim_ascii() != b"13" {
        return Err(refuse(HandshakeError::UnsupportedVersion));
    }
    let mut keys = req.headers.get_all_bytes("sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(refuse(HandshakeError::BadKey));
    };
    let key = key.trim_ascii();
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if key.len() != 24 || !matches!(decoded, Ok(ref k) if k.len() == 16) {
        return Err(refuse(HandshakeError::BadKey));
    }
    if !options.origin.allows(req) {
        return Err(refuse(HandshakeError::OriginRefused));
    }
    // Subprotocol: the server's first preference the client offered.
    let mut offered = Vec::new();
    for p in req.headers.get_list("sec-websocket-protocol") {
        if !is_token(p) {
            return Err(refuse(HandshakeError::BadField("Sec-WebSocket-Protocol")));
        }
        offered.push(p);
    }
    let protocol = options
        .protocols
        .iter()
        .find(|ours| offered.contains(&ours.as_bytes()))
        .cloned();
    // Extensions
    let mut ext_values = Vec::new();
    for v in req.headers.get_all_bytes("sec-websocket-extensions") {
        let Ok(v) = std::str::from_utf8(v) else {
            return Err(refuse(HandshakeError::BadField("Sec-WebSocket-Extensions")));
        };
        ext_values.push(v);
    }
    let Some(offers) = deflate::parse_extensions(ext_values) else {
        return Err(refuse(HandshakeError::BadField("Sec-WebSocket-Extensions")));
    };
    let deflate = deflate::negotiate_server(&options.deflate, &offers);

    let mut response = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS);
    let accept = accept_key(key);
    let _ = response.header("Upgrade", "websocket");
    let _ = response.header("Connection", "Upgrade");
    let _ = response.header("Sec-WebSocket-Accept", accept.as_str());
    if let Some(p) = &protocol {
        let _ = response.header("Sec-WebSocket-Protocol", p.as_str());
    }
    if let Some((_, value)) = &deflate {
        let _ = response.header("Sec-WebSocket-Extensions", value.as_str());
    }
    Ok(Accepted {
        response,
        negotiated: Negotiated {
            protocol,
            deflate: deflate.map(|(p, _)| p),
        },
    })
}

/// The client side of the handshake: the request to send and the check
/// of the answer.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    options: ClientOptions,
}

impl ClientHandshake {
    /// A handshake whose `Sec-WebSocket-Key` is `nonce` in base64. The
    /// nonce must be fresh random bytes (the adapter reads them from the OS).
    pub fn new(nonce: [u8; 16], options: ClientOptions) -> ClientHandshake {
        ClientHandshake {
            key: base64::engine::general_purpose::STANDARD.encode(nonce),
            options,
        }
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The GET request head for `target` (path and query) on `host` (the
    /// `Host` value, with the port when not the default).
    ///
    /// ```
    /// use wireloom_core::ws::{ClientHandshake, ClientOptions};
    /// let hs = ClientHandshake::new(*b"the sample nonce", ClientOptions::default());
    /// let req = hs.request("/chat", "server.example.com").unwrap();
    /// let mut wire = bytes::BytesMut::new();
    /// wireloom_core::http::serialize::write_request_head(&mut wire, &req);
    /// assert_eq!(String::from_utf8(wire.to_vec()).unwrap(), "GET /chat HTTP/1.1\r\n\
    ///     Host: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
    /// ```
    pub fn request(&self, target: &str, host: &str) -> Result<RequestHead, InvalidTarget> {
        let mut req = RequestHead::new(Method::GET, target)?;
        let _ = req.header("Host", host);
        let _ = req.header("Upgrade", "websocket");
        let _ = req.header("Connection", "Upgrade");
        let _ = req.header("Sec-WebSocket-Key", self.key.as_str());
        let _ = req.header("Sec-WebSocket-Version", "13");
        if let Some(o) = &self.options.origin {
            let _ = req.header("Origin", o.as_str());
        }
        if !self.options.protocols.is_empty() {
            let _ = req.header("Sec-WebSocket-Protocol", self.options.protocols.join(", "));
        }
        if let Some(offer) = deflate::client_offer(&self.options.deflate) {
            let _ = req.header("Sec-WebSocket-Extensions", offer);
        }
        Ok(req)
    }

    /// Checks the server's answer: 101, `Upgrade: websocket`,
    /// `Connection: upgrade`, the right `Sec-WebSocket-Accept`, a
    /// subprotocol among those offered (or none), and an extension answer
    /// the offer allows.
    pub fn check_response(&self, res: &ResponseHead) -> Result<Negotiated, HandshakeError> {
        if res.status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(HandshakeError::NotSwitching(res.status));
        }
        if !res.headers.contains_token("upgrade", "websocket") {
            return Err(HandshakeError::NoUpgrade);
        }
        if !res.headers.contains_token("connection", "upgrade") {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        let mut accepts = res.headers.get_all_bytes("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (Some(a), None) if a.trim_ascii() == accept_key(self.key.as_bytes()).as_bytes() => {}
            _ => return Err(HandshakeError::BadAccept),
        }
        let mut protos = res.headers.get_list("sec-websocket-protocol");
        let protocol = match (protos.next(), protos.next()) {
            (None, _) => None,
            (Some(p), None) => {
                let Some(p) = self.options.protocols.iter().find(|o| o.as_bytes() == p) else {
                    return Err(HandshakeError::Protocol);
                };
                Some(p.clone())
            }
            _ => return Err(HandshakeError::Protocol),
        };
        let mut ext_values = Vec::new();
        for v in res.headers.get_all_bytes("sec-websocket-extensions") {
            ext_values
                .push(std::str::from_utf8(v).map_err(|_| {
                    HandshakeError::Extension("malformed Sec-WebSocket-Extensions")
                })?);
        }
        let answer = deflate::parse_extensions(ext_values).ok_or(HandshakeError::Extension(
            "malformed Sec-WebSocket-Extensions",
        ))?;
        let deflate = deflate::negotiate_client(&self.options.deflate, &answer)
            .map_err(HandshakeError::Extension)?;
        Ok(Negotiated { protocol, deflate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fields: &[(&str, &str)]) -> RequestHead {
        let mut req = RequestHead::new(Method::GET, "/chat").unwrap();
        for (n, v) in fields {
            req.header(*n, *v).unwrap();
        }
        req
    }

    const GOOD: &[(&str, &str)] = &[
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        GOOD.iter().filter(|(n, _)| *n != name).copied().collect()
    }

    fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        let mut v = without(name);
        let n = GOOD
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("X", |(n, _)| n);
        v.push((n, value));
        v
    }

    #[test]
    fn rfc6455_1_3_example() {
        let ok = accept(&request(GOOD), &ServerOptions::default()).unwrap();
        let mut wire = bytes::BytesMut::new();
        crate::http::serialize::write_response_head(&mut wire, &ok.response);
        assert_eq!(
            String::from_utf8(wire.to_vec()).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert_eq!(ok.negotiated, Negotiated::default());
    }

    #[test]
    fn tokens_are_case_insensitive() {
        let mut f = with("Upgrade", "WebSocket");
        f.retain(|(n, _)| *n != "Connection");
        f.push(("Connection", "keep-alive, UPGRADE"));
        assert!(accept(&request(&f), &ServerOptions::default()).is_ok());
    }

    #[test]
    fn refusals() {
        let o = ServerOptions::default();
        let code = |f: &[(&str, &str)]| {
            accept(&request(f), &o)
                .map(|_| ())
                .unwrap_err()
                .response
                .status
                .as_u16()
        };
        assert_eq!(code(&without("Upgrade")), 400);
        assert_eq!(code(&with("Upgrade", "h2c")), 400);
        assert_eq!(code(&without("Connection")), 400);
        assert_eq!(code(&without("Sec-WebSocket-Key")), 400);
        assert_eq!(code(&with("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==")), 400); // 10 bytes
        assert_eq!(
            code(&with("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==")),
            400
        );
        assert_eq!(code(&without("Sec-WebSocket-Version")), 400);
        assert_eq!(code(&with("Sec-WebSocket-Version", "8")), 426);
        let mut twice = GOOD.to_vec();
        twice.push(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(code(&twice), 400);
        let mut post = request(GOOD);
        post.method = Method::POST;
        let r = accept(&post, &o).unwrap_err();
        assert_eq!(r.response.status.as_u16(), 405);
        assert_eq!(r.response.headers.get_str("allow"), Some("GET"));
        let mut old = request(GOOD);
        old.version = Version::Http10;
        assert_eq!(
            accept(&old, &o).unwrap_err().error,
            HandshakeError::NotHttp11
        );
        let mut bad_ext = GOOD.to_vec();
        bad_ext.push((
            "Sec-WebSocket-Extensions",
            "permessage-deflate; x=\"unterminated",
        ));
        assert_eq!(code(&bad_ext), 400);
    }

    #[test]
    fn origin_policies() {
        let mut f = GOOD.to_vec();
        f.push(("Origin", "http://evil.example"));
        let same = ServerOptions {
            origin: OriginPolicy::SameHost,
            ..Default::default()
        };
        assert_eq!(
            accept(&request(&f), &same)
                .unwrap_err()
                .response
                .status
                .as_u16(),
            403
        );
        assert!(accept(&request(GOOD), &same).is_ok());
        let mut f2 = GOOD.to_vec();
        f2.push(("Origin", "https://server.example.com"));
        assert!(accept(&request(&f2), &same).is_ok());
        let list = ServerOptions {
            origin: OriginPolicy::List(vec!["http://evil.example".into()]),
            ..Default::default()
        };
        assert!(accept(&request(&f), &list).is_ok());
        assert!(accept(&request(&f2), &list).is_err());
        let custom = ServerOptions {
            origin: OriginPolicy::Custom(Arc::new(|o, _| o.is_some())),
            ..Default::default()
        };
        assert!(accept(&request(GOOD), &custom).is_err());
        assert!(accept(&request(&f), &custom).is_ok());
    }

    #[test]
    fn subprotocols_and_client_checks() {
        let client = ClientHandshake::new(
            [1; 16],
            ClientOptions {
                protocols: vec!["chat".into(), "superchat".into()],
                ..Default::default()
            },
        );
        let req = client.request("/", "h").unwrap();
        let server = ServerOptions {
            protocols: vec!["superchat".into(), "chat".into()],
            ..Default::default()
        };
        let ok = accept(&req, &server).unwrap();
        assert_eq!(ok.negotiated.protocol.as_deref(), Some("superchat"));
        assert_eq!(client.check_response(&ok.response).unwrap(), ok.negotiated);

        // A protocol not offered, a wrong accept key, an unoffered extension.
        let mut r = ok.response.clone();
        r.headers.insert("Sec-WebSocket-Protocol", "other").unwrap();
        assert_eq!(client.check_response(&r), Err(HandshakeError::Protocol));
        let mut r = ok.response.clone();
        r.headers
            .insert("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .unwrap();
        assert_eq!(client.check_response(&r), Err(HandshakeError::BadAccept));
        let no_deflate = ClientHandshake::new(
            [1; 16],
            ClientOptions {
                deflate: DeflateConfig {
                    enabled: false,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let ok = accept(
            &no_deflate.request("/", "h").unwrap(),
            &ServerOptions::default(),
        )
        .unwrap();
        assert_eq!(ok.negotiated.deflate, None);
        let mut r = ok.response.clone();
        r.headers
            .append("Sec-WebSocket-Extensions", "permessage-deflate")
            .unwrap();
        assert!(matches!(
            no_deflate.check_response(&r),
            Err(HandshakeError::Extension(_))
        ));
        let mut r = ok.response.clone();
        r.status = StatusCode::OK;
        assert_eq!(
            no_deflate.check_response(&r),
            Err(HandshakeError::NotSwitching(StatusCode::OK))
        );
    }
}
