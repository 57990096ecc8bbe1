//! Streaming UTF-8 validation across fragment and read boundaries.
//!
//! A text message arrives in pieces (frames, and reads inside a frame);
//! a code point may be cut anywhere. [`Utf8Validator`] checks each piece
//! with `std::str::from_utf8`, carrying the at most 3 bytes of a
//! code point cut at the end of a piece, and fails on the first byte that
//! cannot start or continue valid UTF-8 (not at the end of the message).

use std::str::Utf8Error;

/// A streaming UTF-8 checker.
///
/// ```
/// use wireloom_core::ws::Utf8Validator;
/// let mut v = Utf8Validator::default();
/// let euro = "€".as_bytes(); // e2 82 ac
/// assert!(v.feed(&euro[..1]).is_ok());
/// assert!(v.feed(&euro[1..]).is_ok());
/// assert!(v.finish().is_ok());
/// let mut v = Utf8Validator::default();
/// assert!(v.feed(b"ok \xc3").is_ok());   // may still complete
/// assert!(v.feed(b"\x28").is_err());     // cannot: fails now
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of a code point cut at the end of the last piece.
    tail: [u8; 4],
    tail_len: u8,
}

/// Text that is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl std::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid UTF-8 in a text message")
    }
}

impl std::error::Error for InvalidUtf8 {}

impl Utf8Validator {
    /// Checks the next piece. Fails as soon as the bytes so far cannot be
    /// the start of valid UTF-8.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        // Complete a code point carried from the last piece.
        while self.tail_len > 0 {
            let Some((&b, rest)) = piece.split_first() else {
                return Ok(());
            };
            self.tail[self.tail_len as usize] = b;
            self.tail_len += 1;
            piece = rest;
            match std::str::from_utf8(&self.tail[..self.tail_len as usize]) {
                Ok(_) => self.tail_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {} // still incomplete (needs more bytes)
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) => self.keep_tail(piece, e),
        }
    }

    fn keep_tail(&mut self, piece: &[u8], e: Utf8Error) -> Result<(), InvalidUtf8> {
        if e.error_len().is_some() {
            return Err(InvalidUtf8);
        }
        let rest = &piece[e.valid_up_to()..];
        // An incomplete sequence at the end is at most 3 bytes.
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len() as u8;
        Ok(())
    }

    /// How many bytes of the last piece(s) are an incomplete code point
    /// (0 when everything fed so far is complete text).
    pub fn pending(&self) -> usize {
        self.tail_len as usize
    }

    /// The message ended: fails if it stopped inside a code point.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let pending = self.tail_len;
        self.tail_len = 0;
        if pending == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_all_splits(bytes: &[u8]) -> Option<usize> {
        // Returns the index of the piece that failed, for a 3-way split,
        // and asserts the verdict is the same for every split.
        let whole = std::str::from_utf8(bytes).is_ok();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut v = Utf8Validator::default();
                let ok = v.feed(&bytes[..i]).is_ok()
                    && v.feed(&bytes[i..j]).is_ok()
                    && v.feed(&bytes[j..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, whole, "{bytes:?} split {i} {j}");
            }
        }
        None
    }

    #[test]
    fn verdict_independent_of_splits() {
        for s in [
            &b"hello"[..],
            "κόσμε".as_bytes(),
            "€𐍈a".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"ab\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xff",
        ] {
            check_all_splits(s);
        }
    }

    #[test]
    fn fails_fast_on_first_bad_byte() {
        let mut v = Utf8Validator::default();
        // 0xed 0xa0 is a surrogate start: invalid already at the 2nd byte.
        assert!(v.feed(b"abc\xed").is_ok());
        assert!(v.feed(b"\xa0").is_err());
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xf4").is_ok());
        assert!(v.feed(b"\x90").is_err());
    }

    #[test]
    fn byte_at_a_time() {
        let s = "ĀāĂ€𐍈 mixed ascii".as_bytes();
        let mut v = Utf8Validator::default();
        for b in s {
            v.feed(std::slice::from_ref(b)).unwrap();
        }
        v.finish().unwrap();
    }
}
