//! Application-level messages and their text type.

use std::fmt;

use bytes::Bytes;

use super::utf8::InvalidUtf8;

/// Bytes known to be UTF-8: a received text message, or text to send.
///
/// Validated once when built; [`as_str`](Utf8Bytes::as_str) checks again
/// (core has no `unsafe`, so it cannot skip that; it runs at several GB/s),
/// while [`as_bytes`](Utf8Bytes::as_bytes) and
/// [`into_bytes`](Utf8Bytes::into_bytes) are free. Echoing a received text
/// message (`send_text(text)`) does not validate again.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps static text.
    pub const fn from_static(s: &'static str) -> Utf8Bytes {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `b` if it is UTF-8.
    pub fn try_from_bytes(b: Bytes) -> Result<Utf8Bytes, InvalidUtf8> {
        std::str::from_utf8(&b).map_err(|_| InvalidUtf8)?;
        Ok(Utf8Bytes(b))
    }

    /// Wraps bytes the caller validated (crate-internal).
    pub(crate) fn from_validated(b: Bytes) -> Utf8Bytes {
        debug_assert!(std::str::from_utf8(&b).is_ok());
        Utf8Bytes(b)
    }

    /// The text (validates again; see the type's doc).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying `Bytes` (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Utf8Bytes {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Utf8Bytes {
        Utf8Bytes::from_static(s)
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;
    fn try_from(b: Bytes) -> Result<Utf8Bytes, InvalidUtf8> {
        Utf8Bytes::try_from_bytes(b)
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(u: Utf8Bytes) -> Bytes {
        u.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (validated UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload (no copy).
    pub fn into_bytes(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }
}

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Opcode 0x1, UTF-8.
    Text,
    /// Opcode 0x2.
    Binary,
}
