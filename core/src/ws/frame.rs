//! Frames (RFC 6455 §5.2): the header codec, the incremental decoder, and
//! pre-encoded server frames for broadcasting.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Every byte rule is in [`decode_header`]: it refuses a header as soon as
//! the bytes that decide it are there (a reserved opcode or RSV bit at the
//! first byte, a wrong MASK bit or an over-long control frame at the
//! second, a non-minimal or over-limit length when the length is complete),
//! so the verdict never depends on how the input was split.

use bytes::{BufMut, Bytes, BytesMut};

use super::mask::apply_mask;

/// A frame opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value; `None` for the reserved ones (3-7, B-F).
    pub const fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// RSV1 ("per-message compressed" under permessage-deflate).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// Longest possible header: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// What the decoder is allowed to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// Frames must be masked (a server reading a client) or must not be
    /// (a client reading a server).
    pub masked: bool,
    /// RSV1 may be set (permessage-deflate negotiated); only on a data
    /// frame that starts a message.
    pub rsv1: bool,
    /// Largest accepted payload of one frame.
    pub max_frame: u64,
}

/// Why a header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Opcode 3-7 or B-F.
    ReservedOpcode(u8),
    /// RSV2/RSV3 set, or RSV1 without a negotiated extension (or on a
    /// control or continuation frame).
    ReservedBits,
    /// A client frame without a mask, or a server frame with one.
    Mask,
    /// A control frame with FIN clear.
    FragmentedControl,
    /// A control frame payload over 125 bytes.
    ControlTooLong,
    /// A 16- or 64-bit length that fits a shorter form, or a 64-bit
    /// length with its top bit set.
    NonMinimalLength,
    /// A payload over the configured frame limit (1009).
    TooBig(u64),
}

impl FrameError {
    /// The close code this error answers with (1002, or 1009 for size).
    pub fn close_code(self) -> super::CloseCode {
        match self {
            FrameError::TooBig(_) => super::CloseCode::TOO_BIG,
            _ => super::CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::ReservedOpcode(o) => write!(f, "reserved opcode {o:#x}"),
            FrameError::ReservedBits => f.write_str("reserved bits set"),
            FrameError::Mask => f.write_str("wrong masking for this direction"),
            FrameError::FragmentedControl => f.write_str("fragmented control frame"),
            FrameError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            FrameError::NonMinimalLength => f.write_str("payload length not minimally encoded"),
            FrameError::TooBig(n) => write!(f, "frame payload of {n} bytes over the limit"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Decodes a frame header from the start of `buf`.
///
/// `Ok(None)`: more bytes are needed (and none seen so far is wrong).
/// `Ok(Some((header, n)))`: the header is the first `n` bytes.
///
/// ```
/// use wireloom_core::ws::{decode_header, DecodeRules, OpCode};
/// let rules = DecodeRules { masked: false, rsv1: false, max_frame: 1 << 20 };
/// let (h, n) = decode_header(b"\x81\x05Hello", rules).unwrap().unwrap();
/// assert_eq!((h.opcode, h.fin, h.payload_len, n), (OpCode::Text, true, 5, 2));
/// assert!(decode_header(b"\x83", rules).is_err()); // reserved opcode, at once
/// assert_eq!(decode_header(b"\x81", rules), Ok(None));
/// ```
pub fn decode_header(
    buf: &[u8],
    rules: DecodeRules,
) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if b0 & 0x30 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(FrameError::ReservedOpcode(b0 & 0x0f))?;
    if rsv1 && (!rules.rsv1 || opcode.is_control() || opcode == OpCode::Continuation) {
        return Err(FrameError::ReservedBits);
    }
    if opcode.is_control() && !fin {
        return Err(FrameError::FragmentedControl);
    }
    let Some(&b1) = buf.get(1) else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    if masked != rules.masked {
        return Err(FrameError::Mask);
    }
    let len7 = b1 & 0x7f;
    if opcode.is_control() && len7 > 125 {
        return Err(FrameError::ControlTooLong);
    }
    let (payload_len, mut at) = match len7 {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            let n = u16::from_be_bytes([b[0], b[1]]) as u64;
            if n < 126 {
                return Err(FrameError::NonMinimalLength);
            }
            (n, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                // The most significant bit is known from the first byte.
                if buf.len() > 2 && buf[2] & 0x80 != 0 {
                    return Err(FrameError::NonMinimalLength);
                }
                return Ok(None);
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            let n = u64::from_be_bytes(a);
            if n >> 63 != 0 || n <= 0xffff {
                return Err(FrameError::NonMinimalLength);
            }
            (n, 10)
        }
        n => (n as u64, 2),
    };
    if payload_len > rules.max_frame {
        return Err(FrameError::TooBig(payload_len));
    }
    let mask = if masked {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len,
        },
        at,
    )))
}

/// Appends the encoding of `h` (shortest length form) to `out`.
///
/// ```
/// use bytes::BytesMut;
/// use wireloom_core::ws::{encode_header, FrameHeader, OpCode};
/// let mut out = BytesMut::new();
/// encode_header(&FrameHeader { fin: true, rsv1: false, opcode: OpCode::Binary,
///     mask: None, payload_len: 256 }, &mut out);
/// assert_eq!(&out[..], b"\x82\x7e\x01\x00"); // RFC 6455 §5.7, 256-byte binary
/// ```
pub fn encode_header(h: &FrameHeader, out: &mut BytesMut) {
    let b0 = (h.fin as u8) << 7 | (h.rsv1 as u8) << 6 | h.opcode.as_u8();
    let m = if h.mask.is_some() { 0x80 } else { 0 };
    out.reserve(MAX_HEADER_LEN);
    out.put_u8(b0);
    if h.payload_len < 126 {
        out.put_u8(m | h.payload_len as u8);
    } else if h.payload_len <= 0xffff {
        out.put_u8(m | 126);
        out.put_u16(h.payload_len as u16);
    } else {
        out.put_u8(m | 127);
        out.put_u64(h.payload_len);
    }
    if let Some(k) = h.mask {
        out.put_slice(&k);
    }
}

/// Encodes one complete unmasked (server-to-client) frame with FIN set:
/// the bytes can be shared by any number of server connections (see
/// [`WebSocket::send_raw_frame`](super::WebSocket::send_raw_frame)), which
/// is how a broadcast hub sends one message to many clients without
/// copying its payload per connection. The frame is not compressed (RSV1
/// clear), which is valid whatever each connection negotiated.
///
/// `opcode` is a message opcode (text or binary) or a control opcode
/// (ping, pong, close; payload at most 125 bytes). For text the caller
/// guarantees UTF-8 (use [`Utf8Bytes`](super::Utf8Bytes) to be sure).
///
/// ```
/// use bytes::Bytes;
/// use wireloom_core::ws::{encode_server_frame, OpCode};
/// let f = encode_server_frame(OpCode::Text, Bytes::from_static(b"Hello")).unwrap();
/// assert_eq!(&f[..], b"\x81\x05Hello"); // RFC 6455 §5.7
/// ```
pub fn encode_server_frame(opcode: OpCode, payload: Bytes) -> Result<Bytes, UsageError> {
    if opcode == OpCode::Continuation {
        return Err(UsageError::BadOpcode);
    }
    if opcode.is_control() && payload.len() > 125 {
        return Err(UsageError::ControlTooLong);
    }
    let mut out = BytesMut::with_capacity(MAX_HEADER_LEN + payload.len());
    encode_header(
        &FrameHeader {
            fin: true,
            rsv1: false,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        },
        &mut out,
    );
    out.put_slice(&payload);
    Ok(out.freeze())
}

/// Appends a complete frame to `out`, masking the payload with `mask` if
/// given (a client frame).
pub(crate) fn encode_frame_into(
    out: &mut BytesMut,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    encode_header(
        &FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        },
        out,
    );
    let start = out.len();
    out.put_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut out[start..], k, 0);
    }
}

pub use super::connection::UsageError;

/// One step of [`FrameDecoder`] output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameItem {
    /// A frame begins.
    Header(FrameHeader),
    /// A piece of the current frame's payload, unmasked; `last` is true on
    /// the piece that completes the frame (a frame with an empty payload
    /// gives one empty piece).
    Payload {
        /// The bytes.
        data: Bytes,
        /// Completes the frame.
        last: bool,
    },
}

/// An incremental frame decoder over the caller's read buffer.
///
/// Payload bytes are handed out as they arrive (split off the buffer, no
/// copy), unmasked in place; a header is only consumed once complete.
///
/// ```
/// use bytes::BytesMut;
/// use wireloom_core::ws::{DecodeRules, FrameDecoder, FrameItem};
/// let rules = DecodeRules { masked: true, rsv1: false, max_frame: 1 << 20 };
/// let mut dec = FrameDecoder::new(rules);
/// // RFC 6455 §5.7: a masked "Hello"
/// let mut buf = BytesMut::from(&b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"[..]);
/// assert!(matches!(dec.decode(&mut buf), Ok(Some(FrameItem::Header(_)))));
/// let Ok(Some(FrameItem::Payload { data, last: true })) = dec.decode(&mut buf) else { panic!() };
/// assert_eq!(&data[..], b"Hello");
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    rules: DecodeRules,
    /// Payload bytes still to come for the current frame, with its mask
    /// and how far into it we are; `None` between frames.
    payload: Option<PayloadState>,
}

#[derive(Debug, Clone, Copy)]
struct PayloadState {
    remaining: u64,
    mask: Option<[u8; 4]>,
    offset: usize,
}

impl FrameDecoder {
    /// A decoder applying `rules`.
    pub fn new(rules: DecodeRules) -> FrameDecoder {
        FrameDecoder {
            rules,
            payload: None,
        }
    }

    /// Changes the rules (takes effect at the next header).
    pub fn set_rules(&mut self, rules: DecodeRules) {
        self.rules = rules;
    }

    /// Whether the decoder is between frames.
    pub fn between_frames(&self) -> bool {
        self.payload.is_none()
    }

    /// Decodes the next item from the front of `buf`, splitting off what
    /// it consumes. `Ok(None)`: more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrameItem>, FrameError> {
        self.decode_max(buf, usize::MAX)
    }

    /// Like [`decode`](Self::decode), handing out at most `max` payload
    /// bytes at a time.
    pub fn decode_max(
        &mut self,
        buf: &mut BytesMut,
        max: usize,
    ) -> Result<Option<FrameItem>, FrameError> {
        match &mut self.payload {
            None => {
                let Some((h, n)) = decode_header(buf, self.rules)? else {
                    return Ok(None);
                };
                let _ = buf.split_to(n);
                self.payload = Some(PayloadState {
                    remaining: h.payload_len,
                    mask: h.mask,
                    offset: 0,
                });
                Ok(Some(FrameItem::Header(h)))
            }
            Some(p) => {
                if p.remaining > 0 && buf.is_empty() {
                    return Ok(None);
                }
                let take = (p.remaining.min(buf.len() as u64) as usize).min(max.max(1));
                let mut data = buf.split_to(take);
                if let Some(k) = p.mask {
                    apply_mask(&mut data, k, p.offset);
                }
                p.offset += take;
                p.remaining -= take as u64;
                let last = p.remaining == 0;
                if last {
                    self.payload = None;
                }
                Ok(Some(FrameItem::Payload {
                    data: data.freeze(),
                    last,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER_READS: DecodeRules = DecodeRules {
        masked: true,
        rsv1: false,
        max_frame: 1 << 20,
    };
    const CLIENT_READS: DecodeRules = DecodeRules {
        masked: false,
        rsv1: false,
        max_frame: 1 << 20,
    };

    /// Decodes `wire` fed in pieces cut at `cuts`, returning the
    /// (header, payload) pairs or the first error.
    fn run(
        wire: &[u8],
        rules: DecodeRules,
        pieces: &[&[u8]],
    ) -> Result<Vec<(FrameHeader, Vec<u8>)>, FrameError> {
        let _ = wire;
        let mut dec = FrameDecoder::new(rules);
        let mut buf = BytesMut::new();
        let mut out: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
        for p in pieces {
            buf.extend_from_slice(p);
            while let Some(item) = dec.decode(&mut buf)? {
                match item {
                    FrameItem::Header(h) => out.push((h, Vec::new())),
                    FrameItem::Payload { data, .. } => {
                        out.last_mut().unwrap().1.extend_from_slice(&data)
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every split must give the same result as the whole input.
    fn all_splits(
        wire: &[u8],
        rules: DecodeRules,
    ) -> Result<Vec<(FrameHeader, Vec<u8>)>, FrameError> {
        let whole = run(wire, rules, &[wire]);
        let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(run(wire, rules, &bytewise), whole, "byte at a time");
        for i in 0..=wire.len() {
            let (a, b) = wire.split_at(i);
            assert_eq!(run(wire, rules, &[a, b]), whole, "split at {i}");
        }
        whole
    }

    #[test]
    fn rfc6455_5_7_examples() {
        // A single-frame unmasked text message
        let f = all_splits(b"\x81\x05\x48\x65\x6c\x6c\x6f", CLIENT_READS).unwrap();
        assert_eq!(f[0].1, b"Hello");
        // A single-frame masked text message
        let f = all_splits(
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
            SERVER_READS,
        )
        .unwrap();
        assert_eq!(f[0].1, b"Hello");
        // A fragmented unmasked text message
        let f = all_splits(b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", CLIENT_READS).unwrap();
        assert_eq!(
            (f[0].0.fin, f[0].0.opcode, &f[0].1[..]),
            (false, OpCode::Text, &b"Hel"[..])
        );
        assert_eq!(
            (f[1].0.fin, f[1].0.opcode, &f[1].1[..]),
            (true, OpCode::Continuation, &b"lo"[..])
        );
        // Unmasked ping and masked pong
        let f = all_splits(b"\x89\x05\x48\x65\x6c\x6c\x6f", CLIENT_READS).unwrap();
        assert_eq!((f[0].0.opcode, &f[0].1[..]), (OpCode::Ping, &b"Hello"[..]));
        let f = all_splits(
            b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
            SERVER_READS,
        )
        .unwrap();
        assert_eq!((f[0].0.opcode, &f[0].1[..]), (OpCode::Pong, &b"Hello"[..]));
        // 256 bytes and 64 KiB binary messages in a single unmasked frame
        let mut w = b"\x82\x7e\x01\x00".to_vec();
        w.extend(std::iter::repeat_n(7u8, 256));
        let f = run(&w, CLIENT_READS, &[&w]).unwrap();
        assert_eq!(f[0].1.len(), 256);
        let mut w = b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00".to_vec();
        w.extend(std::iter::repeat_n(7u8, 65536));
        let f = run(&w, CLIENT_READS, &[&w]).unwrap();
        assert_eq!(f[0].1.len(), 65536);
    }

    #[test]
    fn refusals_are_split_independent() {
        let cases: &[(&[u8], DecodeRules, FrameError)] = &[
            (b"\x83\x00", CLIENT_READS, FrameError::ReservedOpcode(3)),
            (b"\x8b\x00", CLIENT_READS, FrameError::ReservedOpcode(0xb)),
            (b"\xa1\x00", CLIENT_READS, FrameError::ReservedBits),
            (b"\xc1\x00", CLIENT_READS, FrameError::ReservedBits),
            (b"\x81\x05Hello", SERVER_READS, FrameError::Mask),
            (b"\x81\x85abcdHello", CLIENT_READS, FrameError::Mask),
            (b"\x09\x00", CLIENT_READS, FrameError::FragmentedControl),
            (
                b"\x89\x7e\x00\x7e",
                CLIENT_READS,
                FrameError::ControlTooLong,
            ),
            (
                b"\x82\x7e\x00\x05hello",
                CLIENT_READS,
                FrameError::NonMinimalLength,
            ),
            (
                b"\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff",
                CLIENT_READS,
                FrameError::NonMinimalLength,
            ),
            (
                b"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00",
                CLIENT_READS,
                FrameError::NonMinimalLength,
            ),
            (
                b"\x82\x7f\x00\x00\x00\x00\x01\x00\x00\x00",
                CLIENT_READS,
                FrameError::TooBig(1 << 24),
            ),
        ];
        for (wire, rules, err) in cases {
            assert_eq!(all_splits(wire, *rules), Err(*err), "{wire:?}");
        }
        let deflate = DecodeRules {
            rsv1: true,
            ..CLIENT_READS
        };
        assert!(all_splits(b"\xc1\x00", deflate).is_ok());
        assert_eq!(
            all_splits(b"\xc0\x00", deflate),
            Err(FrameError::ReservedBits)
        );
        assert_eq!(
            all_splits(b"\xc9\x00", deflate),
            Err(FrameError::ReservedBits)
        );
    }

    #[test]
    fn encode_round_trips_every_length_form() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = BytesMut::new();
                encode_frame_into(&mut out, true, false, OpCode::Binary, mask, &payload);
                let rules = DecodeRules {
                    masked: mask.is_some(),
                    rsv1: false,
                    max_frame: u64::MAX,
                };
                let f = run(&out, rules, &[&out]).unwrap();
                assert_eq!(f.len(), 1);
                assert_eq!(f[0].1, payload, "len {len}");
                assert_eq!(f[0].0.payload_len, len as u64);
            }
        }
    }

    #[test]
    fn encode_server_frame_refuses_bad_use() {
        assert!(encode_server_frame(OpCode::Continuation, Bytes::new()).is_err());
        assert!(encode_server_frame(OpCode::Ping, Bytes::from(vec![0; 126])).is_err());
        assert_eq!(
            &encode_server_frame(OpCode::Close, Bytes::from_static(b"\x03\xe8")).unwrap()[..],
            b"\x88\x02\x03\xe8"
        );
    }
}
