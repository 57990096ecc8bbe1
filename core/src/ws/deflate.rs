//! permessage-deflate (RFC 7692): negotiation and the per-message codec.
//!
//! # Negotiation
//!
//! [`DeflateConfig`] says what this endpoint wants; the handshake turns it
//! into an offer (client) or picks the first acceptable offer (server),
//! and both sides end with the same [`DeflateParams`].
//!
//! A server declines an offer (and tries the next one) when a parameter is
//! unknown, repeated, has a value where none is allowed, or a window size
//! outside 8..=15. A client fails the handshake when the response names an
//! extension it did not offer, repeats or misspells a parameter, grants
//! `client_max_window_bits` it did not offer, or leaves out the
//! `server_max_window_bits` it asked for (or answers with a larger one).
//!
//! # Window size 8
//!
//! zlib cannot produce a raw deflate stream with a 256-byte window (it
//! silently uses 512). So a window of 8 bits is accepted in negotiation, the
//! inflater uses 9 bits (a superset: it reads any stream with a smaller
//! window), and the compressor of a side limited to 8 bits does not compress
//! at all: its messages go uncompressed (RSV1 clear), which RFC 7692
//! always allows. The peer's messages are still decompressed.
//!
//! # Codec
//!
//! A message is compressed with a sync flush and its trailing
//! `00 00 ff ff` is removed; the receiver appends it back before
//! inflating. With `*_no_context_takeover` the sender's compressor (and the
//! receiver's inflater) is reset after every message. Compressors and
//! inflaters are created on first use, so an idle connection that never
//! sent or received a compressed message holds none (zlib's state is
//! about 256 KiB for a compressor with a 15-bit window, 40 KiB for an
//! inflater).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The trailer a sync flush ends with; stripped on send, appended on receive.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What an endpoint wants from permessage-deflate, and how it compresses.
///
/// The defaults: enabled, context takeover both ways, 15-bit windows,
/// level 1 (fast; small chat-sized messages compress about as well at
/// level 1 as at 6), messages under 128 bytes sent uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Offer (client) / accept (server) permessage-deflate at all.
    pub enabled: bool,
    /// Client: offer `client_no_context_takeover` (the client resets its
    /// compressor after each message). Server: demand it in the response.
    pub client_no_context_takeover: bool,
    /// Client: ask for `server_no_context_takeover`. Server: use it (and
    /// say so) even if the client did not ask.
    pub server_no_context_takeover: bool,
    /// Client: offered as `client_max_window_bits` (a bare parameter when
    /// 15). Server: the largest window the client may use, granted when
    /// the client offered the parameter. 8..=15.
    pub client_max_window_bits: u8,
    /// Client: when below 15, asks `server_max_window_bits=N`. Server: the
    /// largest window the server compresses with. 8..=15.
    pub server_max_window_bits: u8,
    /// zlib level 0-9 for messages this endpoint sends.
    pub level: u32,
    /// Messages (or, for streamed messages, first fragments) shorter than
    /// this go uncompressed.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: true,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            level: 1,
            threshold: 128,
        }
    }
}

/// The negotiated parameters (both sides agree on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, 8..=15.
    pub server_max_window_bits: u8,
    /// The client's LZ77 window, 8..=15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value a server answers with.
    pub fn response_value(&self, echo_server_bits: bool, echo_client_bits: bool) -> String {
        let mut s = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if echo_server_bits {
            s.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if echo_client_bits {
            s.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        s
    }
}

/// One extension element of a `Sec-WebSocket-Extensions` list: a name and
/// its parameters (value unquoted), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, lowercase.
    pub name: String,
    /// `(name lowercase, value)` pairs.
    pub params: Vec<(String, Option<String>)>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Parses the values of every `Sec-WebSocket-Extensions` field (already
/// joined or as separate items) into elements. `None` when the syntax is
/// broken (RFC 6455 §9.1: tokens, `;` parameters, token or quoted-string
/// values whose content is a token).
///
/// ```
/// use wireloom_core::ws::parse_extensions;
/// let e = parse_extensions(["permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\""]).unwrap();
/// assert_eq!(e.len(), 2);
/// assert_eq!(e[1].params[0], ("server_max_window_bits".into(), Some("10".into())));
/// ```
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<ExtensionOffer>> {
    let mut out = Vec::new();
    for value in values {
        for element in split_outside_quotes(value, b',')? {
            let element = element.trim_matches([' ', '\t']);
            if element.is_empty() {
                continue; // empty list elements are allowed (RFC 9110 §5.6.1)
            }
            let mut parts = split_outside_quotes(element, b';')?.into_iter();
            let name = parts.next()?.trim_matches([' ', '\t']);
            if !is_token(name) {
                return None;
            }
            let mut params = Vec::new();
            for p in parts {
                let p = p.trim_matches([' ', '\t']);
                let (k, v) = match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim_matches([' ', '\t']),
                        Some(v.trim_matches([' ', '\t'])),
                    ),
                    None => (p, None),
                };
                if !is_token(k) {
                    return None;
                }
                let v = match v {
                    None => None,
                    Some(v) => {
                        let v = if let Some(q) = v.strip_prefix('"') {
                            let q = q.strip_suffix('"')?;
                            // quoted-pair: drop the backslashes
                            let mut s = String::new();
                            let mut esc = false;
                            for c in q.chars() {
                                if esc || c != '\\' {
                                    s.push(c);
                                    esc = false;
                                } else {
                                    esc = true;
                                }
                            }
                            s
                        } else {
                            v.to_owned()
                        };
                        if !is_token(&v) {
                            return None;
                        }
                        Some(v)
                    }
                };
                params.push((k.to_ascii_lowercase(), v));
            }
            out.push(ExtensionOffer {
                name: name.to_ascii_lowercase(),
                params,
            });
        }
    }
    Some(out)
}

fn split_outside_quotes(s: &str, sep: u8) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut esc = false;
    for (i, b) in s.bytes().enumerate() {
        if quoted {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

fn window_bits(v: &str) -> Option<u8> {
    // 1*DIGIT without leading zeros, 8..=15
    if v.is_empty() || v.len() > 2 || v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u8 = v.parse().ok()?;
    (8..=15).contains(&n).then_some(n)
}

/// A client's permessage-deflate offer, as parsed by a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ClientOffer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_client_offer(e: &ExtensionOffer) -> Option<ClientOffer> {
    let mut o = ClientOffer::default();
    let mut seen = [false; 4];
    for (k, v) in &e.params {
        let idx = match k.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[idx], true) {
            return None;
        }
        match idx {
            0 | 1 if v.is_some() => return None,
            0 => o.server_no_context_takeover = true,
            1 => o.client_no_context_takeover = true,
            2 => o.server_max_window_bits = Some(window_bits(v.as_deref()?)?),
            _ => {
                o.client_max_window_bits = Some(match v {
                    None => None,
                    Some(v) => Some(window_bits(v)?),
                })
            }
        }
    }
    Some(o)
}

/// Server side: picks the first acceptable permessage-deflate offer among
/// `offers` and returns the parameters and the response field value.
/// `None`: no offer acceptable (or compression disabled): answer without
/// the extension.
pub fn negotiate_server(
    config: &DeflateConfig,
    offers: &[ExtensionOffer],
) -> Option<(DeflateParams, String)> {
    if !config.enabled {
        return None;
    }
    for e in offers.iter().filter(|e| e.name == "permessage-deflate") {
        let Some(o) = parse_client_offer(e) else {
            continue;
        };
        let ours_s = config.server_max_window_bits.clamp(8, 15);
        let server_bits = o.server_max_window_bits.map_or(ours_s, |n| n.min(ours_s));
        let echo_server_bits = o.server_max_window_bits.is_some() || ours_s < 15;
        let (client_bits, echo_client_bits) = match o.client_max_window_bits {
            None => (15, false), // the client may not be limited
            Some(offered) => {
                let limit = config.client_max_window_bits.clamp(8, 15);
                let n = offered.unwrap_or(15).min(limit);
                (n, n < 15 || offered.is_some())
            }
        };
        let params = DeflateParams {
            server_no_context_takeover: o.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: o.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let value = params.response_value(echo_server_bits, echo_client_bits);
        return Some((params, value));
    }
    None
}

/// Client side: the `Sec-WebSocket-Extensions` offer for `config`, or
/// `None` when disabled.
///
/// ```
/// use wireloom_core::ws::{client_offer, DeflateConfig};
/// assert_eq!(client_offer(&DeflateConfig::default()).unwrap(),
///     "permessage-deflate; client_max_window_bits");
/// ```
pub fn client_offer(config: &DeflateConfig) -> Option<String> {
    if !config.enabled {
        return None;
    }
    let mut s = String::from("permessage-deflate");
    if config.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    let sb = config.server_max_window_bits.clamp(8, 15);
    if sb < 15 {
        s.push_str(&format!("; server_max_window_bits={sb}"));
    }
    let cb = config.client_max_window_bits.clamp(8, 15);
    if cb < 15 {
        s.push_str(&format!("; client_max_window_bits={cb}"));
    } else {
        s.push_str("; client_max_window_bits");
    }
    Some(s)
}

/// Client side: checks the server's answer to [`client_offer`]. `Ok(None)`:
/// the server did not accept the extension. `Err`: the answer is not one
/// the offer allows (fail the connection).
pub fn negotiate_client(
    config: &DeflateConfig,
    answer: &[ExtensionOffer],
) -> Result<Option<DeflateParams>, &'static str> {
    let Some(e) = answer.first() else {
        return Ok(None);
    };
    if !config.enabled {
        return Err("the server answered with an extension that was not offered");
    }
    if answer.len() > 1 {
        return Err("the server answered with more than one extension");
    }
    if e.name != "permessage-deflate" {
        return Err("the server answered with an extension that was not offered");
    }
    let mut p = DeflateParams::default();
    let mut seen = [false; 4];
    for (k, v) in &e.params {
        let idx = match k.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return Err("unknown permessage-deflate parameter in the answer"),
        };
        if std::mem::replace(&mut seen[idx], true) {
            return Err("repeated permessage-deflate parameter in the answer");
        }
        match (idx, v) {
            (0, None) => p.server_no_context_takeover = true,
            (1, None) => p.client_no_context_takeover = true,
            (2, Some(v)) => {
                p.server_max_window_bits =
                    window_bits(v).ok_or("bad server_max_window_bits in the answer")?
            }
            (3, Some(v)) => {
                p.client_max_window_bits =
                    window_bits(v).ok_or("bad client_max_window_bits in the answer")?
            }
            _ => return Err("bad permessage-deflate parameter value in the answer"),
        }
    }
    let asked_s = config.server_max_window_bits.clamp(8, 15);
    if asked_s < 15 && (!seen[2] || p.server_max_window_bits > asked_s) {
        return Err("the server did not honour server_max_window_bits");
    }
    if config.server_no_context_takeover && !p.server_no_context_takeover {
        return Err("the server did not honour server_no_context_takeover");
    }
    let offered_c = config.client_max_window_bits.clamp(8, 15);
    if seen[3] && p.client_max_window_bits > offered_c {
        return Err("client_max_window_bits larger than offered");
    }
    if !seen[3] && offered_c < 15 {
        // we limit ourselves anyway
        p.client_max_window_bits = offered_c;
    }
    if config.client_no_context_takeover {
        p.client_no_context_takeover = true;
    }
    Ok(Some(p))
}

/// Why an inflate failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The compressed data is corrupt.
    Corrupt,
    /// The output passed the limit.
    TooBig,
}

/// Output grows in steps of at most this much, so the limit is checked
/// while inflating (a decompression bomb stops at limit + one step).
const INFLATE_STEP: usize = 32 * 1024;

/// The receiving half: the peer's compressed messages.
pub(crate) struct Inflater {
    window_bits: u8,
    no_context_takeover: bool,
    inner: Option<Decompress>,
    /// The current message's deflate stream ended (a BFINAL block): the
    /// rest of the message (padding of an empty stored block) is ignored.
    stream_ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("window_bits", &self.window_bits)
            .field("allocated", &self.inner.is_some())
            .finish()
    }
}

impl Inflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            inner: None,
            stream_ended: false,
        }
    }

    /// Inflates `input` (a piece of a compressed message), appending to
    /// `out`; `out` may not grow past `limit`. `end`: the message is
    /// complete (the 4-byte tail is fed after `input`).
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        end: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.stream_ended {
            if end {
                self.stream_ended = false;
            }
            return Ok(());
        }
        let bits = self.window_bits;
        let d = self
            .inner
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut tail: &[u8] = if end { &TAIL } else { &[] };
        loop {
            let (src, is_tail) = if !input.is_empty() {
                (input, false)
            } else if !tail.is_empty() {
                (tail, true)
            } else {
                // Everything fed; drain what zlib still holds.
                (&[][..], false)
            };
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(InflateError::TooBig);
                }
                let step = INFLATE_STEP.min(limit + 1 - out.len()).max(1);
                out.reserve_exact(step);
            }
            let before_in = d.total_in();
            let before_out = d.total_out();
            let status = d
                .decompress_vec(src, out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            let used = (d.total_in() - before_in) as usize;
            let produced = (d.total_out() - before_out) as usize;
            if is_tail {
                tail = &tail[used..];
            } else {
                input = &input[used..];
            }
            if status == Status::StreamEnd {
                // A final block (BFINAL) ends the stream: allowed (RFC 7692
                // §7.2.3.6); what follows in this message is the padding
                // of an empty stored block, and the next message starts
                // a new stream.
                d.reset(false);
                self.stream_ended = !end;
                return Ok(());
            }
            let all_fed = input.is_empty() && tail.is_empty();
            if all_fed && used == 0 && produced == 0 && out.len() < out.capacity() {
                break;
            }
            if !all_fed && used == 0 && produced == 0 && out.len() < out.capacity() {
                return Err(InflateError::Corrupt);
            }
        }
        if end && self.no_context_takeover {
            self.inner = None;
        }
        Ok(())
    }
}

/// The sending half: compresses this endpoint's messages.
pub(crate) struct Deflater {
    window_bits: u8,
    level: u32,
    no_context_takeover: bool,
    inner: Option<Compress>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("allocated", &self.inner.is_some())
            .finish()
    }
}

impl Deflater {
    /// `None` when this side may not compress (window 8, see the module doc).
    pub(crate) fn new(window_bits: u8, level: u32, no_context_takeover: bool) -> Option<Deflater> {
        (window_bits >= 9).then_some(Deflater {
            window_bits: window_bits.min(15),
            level: level.min(9),
            no_context_takeover,
            inner: None,
        })
    }

    /// Compresses a piece of a message, appending to `out`. `end`: the
    /// message ends with this piece (the 4-byte tail is stripped).
    pub(crate) fn deflate(&mut self, mut input: &[u8], end: bool, out: &mut Vec<u8>) {
        let start = out.len();
        let (bits, level) = (self.window_bits, self.level);
        let c = self.inner.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(input.len() / 2 + 256);
            }
            let before_in = c.total_in();
            let res = c.compress_vec(input, out, FlushCompress::Sync);
            let used = (c.total_in() - before_in) as usize;
            input = &input[used..];
            // Done when all input is in and zlib left room (the flush is
            // complete).
            if res.is_err() || (input.is_empty() && out.len() < out.capacity()) {
                break;
            }
        }
        if end {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - 4);
            } else if out.len() == start {
                // Nothing new since the last piece's sync flush (zlib
                // refuses a second flush in a row): that flush's tail
                // already left in an earlier frame, so the receiver's
                // appended tail must not end up in the middle of a stored
                // block header. One zero byte makes `00 00 00 ff ff`, an
                // empty stored block, at the byte boundary the flush left.
                out.push(0x00);
            }
            if self.no_context_takeover {
                self.inner = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions([s]).unwrap()
    }

    #[test]
    fn rfc7692_7_2_3_hello() {
        // 7.2.3.1: "Hello" compressed
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        i.inflate(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
        // 7.2.3.2: the same message again with context takeover
        out.clear();
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut out, 100)
            .unwrap();
        assert_eq!(out, b"Hello");
        // 7.2.3.3: a stored (uncompressed) deflate block
        let mut i = Inflater::new(15, false);
        out.clear();
        i.inflate(
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
        // 7.2.3.5: two deflate blocks in one message
        let mut i = Inflater::new(15, false);
        out.clear();
        i.inflate(
            &[
                0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
            ],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
        // 7.2.3.6: BFINAL set
        let mut i = Inflater::new(15, false);
        out.clear();
        i.inflate(
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn deflate_hello_matches_rfc() {
        let mut d = Deflater::new(15, 6, false).unwrap();
        let mut out = Vec::new();
        d.deflate(b"Hello", true, &mut out);
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        out.clear();
        d.deflate(b"Hello", true, &mut out);
        assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    }

    #[test]
    fn inflate_split_anywhere_and_bomb_limit() {
        let data: Vec<u8> = (0..20000u32).map(|i| (i % 251) as u8).collect();
        let mut d = Deflater::new(15, 6, false).unwrap();
        let mut z = Vec::new();
        d.deflate(&data, true, &mut z);
        for cut in [0, 1, z.len() / 2, z.len() - 1, z.len()] {
            let mut i = Inflater::new(15, false);
            let mut out = Vec::new();
            i.inflate(&z[..cut], false, &mut out, 1 << 20).unwrap();
            i.inflate(&z[cut..], true, &mut out, 1 << 20).unwrap();
            assert_eq!(out, data);
        }
        // A bomb: 10 MB of zeros compresses to ~10 KB; limit 64 KiB.
        let zeros = vec![0u8; 10_000_000];
        let mut z = Vec::new();
        Deflater::new(15, 9, false)
            .unwrap()
            .deflate(&zeros, true, &mut z);
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&z, true, &mut out, 65536),
            Err(InflateError::TooBig)
        );
        assert!(out.capacity() <= 65536 + INFLATE_STEP + 1);
        // corrupt data
        let mut i = Inflater::new(15, false);
        assert_eq!(
            i.inflate(&[0xff, 0xff, 0xff], true, &mut Vec::new(), 100),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn server_negotiation() {
        let cfg = DeflateConfig::default();
        let (p, v) =
            negotiate_server(&cfg, &offers("permessage-deflate; client_max_window_bits")).unwrap();
        assert_eq!(p, DeflateParams::default());
        assert_eq!(v, "permessage-deflate");
        let (p, v) = negotiate_server(&cfg, &offers("permessage-deflate")).unwrap();
        assert_eq!(
            (p, v.as_str()),
            (DeflateParams::default(), "permessage-deflate")
        );
        // first acceptable offer wins; bad ones are skipped
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=20",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "x-other",
        ] {
            assert_eq!(negotiate_server(&cfg, &offers(bad)), None, "{bad}");
            let two = format!(
                "{bad}, permessage-deflate; server_max_window_bits=10; server_no_context_takeover"
            );
            let (p, v) = negotiate_server(&cfg, &offers(&two)).unwrap();
            assert_eq!(p.server_max_window_bits, 10);
            assert!(p.server_no_context_takeover);
            assert_eq!(
                v,
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
            );
        }
        let (p, _) = negotiate_server(
            &cfg,
            &offers("permessage-deflate; client_max_window_bits=\"9\"; client_no_context_takeover"),
        )
        .unwrap();
        assert_eq!(
            (p.client_max_window_bits, p.client_no_context_takeover),
            (9, true)
        );
        assert_eq!(
            negotiate_server(
                &DeflateConfig {
                    enabled: false,
                    ..cfg
                },
                &offers("permessage-deflate")
            ),
            None
        );
    }

    #[test]
    fn client_negotiation() {
        let cfg = DeflateConfig {
            server_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        assert_eq!(
            client_offer(&cfg).unwrap(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
        );
        let ok = negotiate_client(
            &cfg,
            &offers("permessage-deflate; server_max_window_bits=9"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.server_max_window_bits, 9);
        for bad in [
            "permessage-deflate", // ignored our server_max_window_bits
            "permessage-deflate; server_max_window_bits=12", // larger than asked
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; x=1",
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
            "x-other",
        ] {
            assert!(negotiate_client(&cfg, &offers(bad)).is_err(), "{bad}");
        }
        assert_eq!(negotiate_client(&cfg, &[]), Ok(None));
        let cfg = DeflateConfig {
            client_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        assert!(negotiate_client(
            &cfg,
            &offers("permessage-deflate; client_max_window_bits=13")
        )
        .is_err());
        let p = negotiate_client(&cfg, &offers("permessage-deflate"))
            .unwrap()
            .unwrap();
        assert_eq!(p.client_max_window_bits, 12);
    }

    #[test]
    fn streamed_message_ending_with_an_empty_piece() {
        for first in [&b""[..], b"abc", &[7u8; 5000]] {
            let mut d = Deflater::new(9, 6, false).unwrap();
            let mut i = Inflater::new(9, false);
            for round in 0..3 {
                let mut a = Vec::new();
                d.deflate(first, false, &mut a);
                let mut b = Vec::new();
                d.deflate(b"", true, &mut b);
                let mut out = Vec::new();
                i.inflate(&a, false, &mut out, 1 << 20).unwrap();
                i.inflate(&b, true, &mut out, 1 << 20).unwrap();
                assert_eq!(out, first, "round {round}");
                // and the context still works for the next message
                let mut z = Vec::new();
                d.deflate(b"next message", true, &mut z);
                out.clear();
                i.inflate(&z, true, &mut out, 1 << 20).unwrap();
                assert_eq!(out, b"next message");
            }
        }
    }

    #[test]
    fn window_8_does_not_compress() {
        assert!(Deflater::new(8, 6, false).is_none());
        let mut d = Deflater::new(9, 6, true).unwrap();
        let mut z = Vec::new();
        d.deflate(b"abcabcabcabc", true, &mut z);
        let mut i = Inflater::new(8, true);
        let mut out = Vec::new();
        i.inflate(&z, true, &mut out, 100).unwrap();
        assert_eq!(out, b"abcabcabcabc");
    }
}
