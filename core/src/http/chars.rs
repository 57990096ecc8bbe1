//! Every byte rule of RFC 9110/9112/3986 in one place.

macro_rules! make_table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

const fn tchar(c: u8) -> bool {
    matches!(c,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RFC 3986 characters that may appear in a request-target: unreserved,
/// sub-delims, `:`, `@`, `/`, `?` and `%` (pct-encoding is checked apart).
const fn uri_char(c: u8) -> bool {
    matches!(c,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' |
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' |
        b':' | b'@' | b'/' | b'?' | b'%' | b'[' | b']')
}

/// Any visible ASCII character (for the lenient target rule).
const fn vchar(c: u8) -> bool {
    c > 0x20 && c < 0x7f
}

/// field-vchar / obs-text / SP / HTAB: allowed inside a field value.
const fn field_char(c: u8) -> bool {
    c == b'\t' || (c >= 0x20 && c != 0x7f)
}

static TCHAR: [bool; 256] = make_table!(tchar);
static URI: [bool; 256] = make_table!(uri_char);
static VCHAR: [bool; 256] = make_table!(vchar);
static FIELD: [bool; 256] = make_table!(field_char);

/// A token character (RFC 9110 §5.6.2).
#[inline(always)]
pub(crate) fn is_tchar(c: u8) -> bool {
    TCHAR[c as usize]
}

/// A request-target character under the strict RFC 3986 rule.
#[inline(always)]
pub(crate) fn is_uri_char(c: u8) -> bool {
    URI[c as usize]
}

/// A visible ASCII character.
#[inline(always)]
pub(crate) fn is_vchar(c: u8) -> bool {
    VCHAR[c as usize]
}

/// A byte allowed in a field value (or a reason phrase).
#[inline(always)]
pub(crate) fn is_field_char(c: u8) -> bool {
    FIELD[c as usize]
}

/// Whether `s` is a valid field value: no CTL but HTAB, no leading or trailing
/// whitespace is *not* checked here.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&c| is_field_char(c))
}

/// Whether `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| is_tchar(c))
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte in `s[from..]` (absolute index) that is below 0x20
/// or equal to 0x7F, scanning eight bytes at a time. HTAB counts as such a
/// byte; the caller decides. `None` when there is none.
#[inline]
pub(crate) fn find_ctl(s: &[u8], mut i: usize) -> Option<usize> {
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(word);
        // Bytes below 0x20: the lowest flagged byte is exact (borrows only
        // propagate upwards), and so is the lowest flagged 0x7F byte.
        let lt = w.wrapping_sub(LO * 0x20) & !w & HI;
        let x = w ^ (LO * 0x7f);
        let del = x.wrapping_sub(LO) & !x & HI;
        let m = lt | del;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < s.len() {
        let c = s[i];
        if c < 0x20 || c == 0x7f {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_ctl_agrees_with_bytewise_scan() {
        // Every position and every byte value, with neighbours that could
        // cause borrow artefacts.
        for len in 0..20usize {
            for pos in 0..len {
                for bad in [0u8, 1, 9, 10, 13, 0x1f, 0x7f] {
                    for fill in [b'a', 0x20, 0x7e, 0x80, 0xff, 0x21] {
                        let mut v = vec![fill; len];
                        v[pos] = bad;
                        if pos + 1 < len {
                            v[pos + 1] = 0;
                        }
                        assert_eq!(find_ctl(&v, 0), Some(pos), "{v:?}");
                    }
                }
            }
            for fill in [b'a', 0x20, 0x7e, 0x80, 0xff] {
                assert_eq!(find_ctl(&vec![fill; len], 0), None);
            }
        }
        let all: Vec<u8> = (0..=255u8).collect();
        for start in 0..256 {
            let expect = all[start..]
                .iter()
                .position(|&c| c < 0x20 || c == 0x7f)
                .map(|p| p + start);
            assert_eq!(find_ctl(&all, start), expect);
        }
    }

    #[test]
    fn tables() {
        assert!(is_tchar(b'~') && !is_tchar(b'(') && !is_tchar(b' '));
        assert!(is_uri_char(b'%') && !is_uri_char(b'#') && !is_uri_char(b'\\'));
        assert!(is_field_char(b'\t') && is_field_char(0x80) && !is_field_char(0x7f));
        assert!(!is_field_char(b'\r') && !is_field_char(0));
    }
}
