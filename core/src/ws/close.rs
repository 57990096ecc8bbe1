//! Close codes (RFC 6455 §7.4) and close frame payloads.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// A close status code (RFC 6455 §7.4, IANA "WebSocket Close Code Number
/// Registry").
///
/// Not every code may travel in a close frame: 1005, 1006 and 1015 are
/// reported locally only (no status, abnormal closure, TLS failure), and
/// 1004, 1016-2999 are reserved. [`CloseCode::is_valid_on_wire`] is the
/// check the connection applies to received codes (a bad one is a 1002).
///
/// ```
/// use wireloom_core::ws::CloseCode;
/// assert!(CloseCode::NORMAL.is_valid_on_wire());
/// assert!(CloseCode(4000).is_valid_on_wire());
/// assert!(!CloseCode::ABNORMAL.is_valid_on_wire());
/// assert!(!CloseCode(2000).is_valid_on_wire());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away (server shutting down, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: the close frame carried no code (local only, never sent).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection ended without a close frame (local only).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (bad UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure (local only).
    pub const TLS: CloseCode = CloseCode(1015);

    /// Whether the code may appear in a close frame: 1000-1003, 1007-1014
    /// and the application/private ranges 3000-4999.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<CloseCode> for u16 {
    fn from(c: CloseCode) -> u16 {
        c.0
    }
}

/// A close frame's content: a code and a UTF-8 reason (at most 123 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code; [`CloseCode::NO_STATUS`] when the frame had an empty payload.
    pub code: CloseCode,
    /// The reason text (may be empty).
    pub reason: String,
}

/// Why a received close payload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadClose {
    /// One byte, or a code not valid on the wire (1002).
    Protocol,
    /// The reason is not UTF-8 (1007).
    Utf8,
}

impl CloseFrame {
    /// Parses a received close payload.
    pub(crate) fn parse(payload: &[u8]) -> Result<CloseFrame, BadClose> {
        match payload.len() {
            0 => Ok(CloseFrame {
                code: CloseCode::NO_STATUS,
                reason: String::new(),
            }),
            1 => Err(BadClose::Protocol),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_valid_on_wire() {
                    return Err(BadClose::Protocol);
                }
                let reason = std::str::from_utf8(&payload[2..]).map_err(|_| BadClose::Utf8)?;
                Ok(CloseFrame {
                    code,
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// The payload for this frame: empty for [`CloseCode::NO_STATUS`],
    /// else the code and the reason.
    pub(crate) fn payload(code: CloseCode, reason: &str) -> Bytes {
        if code == CloseCode::NO_STATUS {
            return Bytes::new();
        }
        let mut b = BytesMut::with_capacity(2 + reason.len());
        b.put_u16(code.0);
        b.put_slice(reason.as_bytes());
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_validity() {
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(c).is_valid_on_wire(), "{c}");
        }
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(CloseCode(c).is_valid_on_wire(), "{c}");
        }
    }

    #[test]
    fn parse_payloads() {
        assert_eq!(CloseFrame::parse(b"").unwrap().code, CloseCode::NO_STATUS);
        assert_eq!(CloseFrame::parse(b"\x03"), Err(BadClose::Protocol));
        assert_eq!(CloseFrame::parse(b"\x03\xe8\xff"), Err(BadClose::Utf8));
        assert_eq!(CloseFrame::parse(b"\x03\xed"), Err(BadClose::Protocol));
        let f = CloseFrame::parse(b"\x03\xe8bye").unwrap();
        assert_eq!((f.code, f.reason.as_str()), (CloseCode::NORMAL, "bye"));
        assert_eq!(
            &CloseFrame::payload(CloseCode::NORMAL, "bye")[..],
            b"\x03\xe8bye"
        );
    }
}
