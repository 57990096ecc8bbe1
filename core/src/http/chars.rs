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

/// A byte of a Host field value: uri-host [ ":" port ] (RFC 9112 §3.2), i.e.
/// unreserved, sub-delims, `:`, `[`, `]` (IP literals) and `%` (escapes).
const fn host_char(c: u8) -> bool {
    matches!(c,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' |
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' |
        b':' | b'[' | b']' | b'%')
}

static TCHAR: [bool; 256] = make_table!(tchar);
static HOST: [bool; 256] = make_table!(host_char);
static URI: [bool; 256] = make_table!(uri_char);
static VCHAR: [bool; 256] = make_table!(vchar);
static FIELD: [bool; 256] = make_table!(field_char);

/// A token character (RFC 9110 §5.6.2).
#[inline(always)]
pub(crate) fn is_tchar(c: u8) -> bool {
    TCHAR[c as usize]
}

/// A byte allowed in a Host field value.
#[inline(always)]
pub(crate) fn is_host_char(c: u8) -> bool {
    HOST[c as usize]
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

/// Eight bytes with ASCII capitals made small, all at once: a byte gets
/// 0x20 added when it is `A` to `Z` (the high bit of `b + 0x3F` and not of
/// `b + 0x25`, computed on the low seven bits so no carry crosses bytes,
/// and only for ASCII bytes).
#[inline(always)]
fn lower8(w: u64) -> u64 {
    const L: u64 = 0x0101_0101_0101_0101;
    let low = w & (0x7f * L);
    let upper = (low + 0x3f * L) & !(low + 0x25 * L) & !w & (0x80 * L);
    w | (upper >> 2)
}

#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        None => 0,
    }
}

/// `a.eq_ignore_ascii_case(b)`: the lengths inline (most names differ in
/// length from the one looked up), the bytes eight per step.
#[inline(always)]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_ignoring_case(a, b)
}

/// Equal-length `a` and `b` compared ignoring ASCII case: SWAR lowering of
/// whole words, the last word read overlapping the one before.
#[inline(never)]
fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n < 8 {
        return a.eq_ignore_ascii_case(b);
    }
    let mut i = 0;
    while i + 8 < n {
        if lower8(word(a, i)) != lower8(word(b, i)) {
            return false;
        }
        i += 8;
    }
    lower8(word(a, n - 8)) == lower8(word(b, n - 8))
}

/// Index of the first byte in `s[from..]` that is not a token character;
/// `s.len()` when there is none. Eight table lookups per step without bounds
/// checks (tokens are short: the early exit matters more than the width).
#[inline(always)]
pub(crate) fn skip_tchars(s: &[u8], mut i: usize) -> usize {
    while let Some(block) = s.get(i..i + 8) {
        let Ok(block) = <&[u8; 8]>::try_from(block) else {
            break;
        };
        for (k, &c) in block.iter().enumerate() {
            if !is_tchar(c) {
                return i + k;
            }
        }
        i += 8;
    }
    while i < s.len() && is_tchar(s[i]) {
        i += 1;
    }
    i
}

/// Bytes scanned per block by [`find_ctl`] and [`find_non_uri`].
const BLOCK: usize = 16;

/// Whether any byte of the block is a CTL: below 0x20, or 0x7F; HTAB
/// included. Written branch-free over a fixed-size array so that the compiler
/// turns it into SIMD compares and a move-mask (SSE2 on x86-64, NEON on
/// aarch64) without `unsafe`.
#[inline(always)]
fn block_has_ctl(b: &[u8; BLOCK]) -> bool {
    let mut acc = false;
    for &c in b {
        acc |= (c < 0x20) | (c == 0x7f);
    }
    acc
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first CTL byte among eight (as in [`block_has_ctl`]), found
/// with word arithmetic: the lowest flagged byte is exact (borrows only
/// propagate upwards), for bytes below 0x20 and for 0x7F alike.
#[inline(always)]
fn swar_ctl_index(eight: &[u8]) -> Option<usize> {
    let w = u64::from_le_bytes(eight.try_into().ok()?);
    let lt = w.wrapping_sub(LO * 0x20) & !w & HI;
    let x = w ^ (LO * 0x7f);
    let del = x.wrapping_sub(LO) & !x & HI;
    let m = lt | del;
    (m != 0).then(|| (m.trailing_zeros() / 8) as usize)
}

/// Index of the first byte in `s[from..]` (absolute index) that is below 0x20
/// or equal to 0x7F, scanning sixteen bytes at a time. HTAB counts as such a
/// byte; the caller decides. `None` when there is none.
#[inline(always)]
pub(crate) fn find_ctl(s: &[u8], mut i: usize) -> Option<usize> {
    while let Some(block) = s.get(i..i + BLOCK) {
        let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
            break;
        };
        if block_has_ctl(block) {
            // The hit is in this block: locate it eight bytes at a time.
            let (lo, hi) = block.split_at(8);
            let k = match swar_ctl_index(lo) {
                Some(k) => k,
                None => 8 + swar_ctl_index(hi).unwrap_or(0),
            };
            return Some(i + k);
        }
        i += BLOCK;
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

/// Whether any byte of the block is outside the strict request-target set or
/// is a `%` (which needs its two hex digits checked). Branch-free range and
/// equality compares, like [`block_has_ctl`], so that it vectorises.
#[inline(always)]
fn block_has_non_uri(b: &[u8; BLOCK]) -> bool {
    let mut acc = false;
    for &c in b {
        acc |= non_uri(c);
    }
    acc
}

/// Outside the strict request-target set, or `%` (which needs its two hex
/// digits checked): the branch-free form of `!is_uri_char(c) || c == b'%'`.
#[inline(always)]
fn non_uri(c: u8) -> bool {
    (c <= 0x20)
        | (c >= 0x7f)
        | (c == b'"')
        | (c == b'#')
        | (c == b'%')
        | (c == b'<')
        | (c == b'>')
        | (c == b'\\')
        | (c == b'^')
        | (c == b'`')
        | (c == b'{')
        | (c == b'|')
        | (c == b'}')
}

/// Whether any byte of the block is where a target scan stops: what
/// [`block_has_non_uri`] flags, or a `?` (where the query starts).
#[inline(always)]
fn block_has_target_stop(b: &[u8; BLOCK]) -> bool {
    let mut acc = false;
    for &c in b {
        acc |= (c == b'?') | non_uri(c);
    }
    acc
}

/// Like [`find_non_uri`], stopping at `?` too.
#[inline(always)]
pub(crate) fn find_target_stop(s: &[u8], mut i: usize) -> usize {
    while let Some(block) = s.get(i..i + BLOCK) {
        let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
            break;
        };
        if block_has_target_stop(block) {
            break;
        }
        i += BLOCK;
    }
    while i < s.len() && is_uri_char(s[i]) && s[i] != b'%' && s[i] != b'?' {
        i += 1;
    }
    i
}

/// Index of the first byte in `s[from..]` that is not a strict
/// request-target character or is a `%`; `s.len()` when there is none.
#[inline(always)]
pub(crate) fn find_non_uri(s: &[u8], mut i: usize) -> usize {
    while let Some(block) = s.get(i..i + BLOCK) {
        let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
            break;
        };
        if block_has_non_uri(block) {
            break;
        }
        i += BLOCK;
    }
    while i < s.len() && is_uri_char(s[i]) && s[i] != b'%' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_ctl_agrees_with_bytewise_scan() {
        // Every position and every byte value, with neighbours that could
        // cause borrow artefacts.
        for len in 0..40usize {
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
                .position(|&c| !is_uri_char(c) || c == b'%')
                .map_or(all.len(), |p| p + start);
            assert_eq!(find_non_uri(&all, start), expect);
            let expect = all[start..]
                .iter()
                .position(|&c| c < 0x20 || c == 0x7f)
                .map(|p| p + start);
            assert_eq!(find_ctl(&all, start), expect);
        }
    }

    #[test]
    fn block_rules_match_the_tables() {
        for c in 0..=255u8 {
            let b = [c; BLOCK];
            let ctl = c < 0x20 || c == 0x7f;
            assert_eq!(block_has_ctl(&b), ctl, "{c:#x}");
            let non_uri = !is_uri_char(c) || c == b'%';
            assert_eq!(block_has_non_uri(&b), non_uri, "{c:#x}");
            assert_eq!(block_has_target_stop(&b), non_uri || c == b'?', "{c:#x}");
            assert_eq!(
                is_host_char(c),
                !non_uri && !b"/?@".contains(&c) || c == b'%'
            );
            // One odd byte among good ones, at every position, in two blocks
            // and a tail.
            for pos in 0..40 {
                let mut v = vec![b'a'; 40];
                v[pos] = c;
                let ctl = (c < 0x20 || c == 0x7f).then_some(pos);
                assert_eq!(find_ctl(&v, 0), ctl);
                let stop = if is_uri_char(c) && c != b'%' { 40 } else { pos };
                assert_eq!(find_non_uri(&v, 0), stop);
                let stop = if is_uri_char(c) && c != b'%' && c != b'?' {
                    40
                } else {
                    pos
                };
                assert_eq!(find_target_stop(&v, 0), stop);
                let stop = if is_tchar(c) { 40 } else { pos };
                assert_eq!(skip_tchars(&v, 0), stop);
            }
        }
    }

    #[test]
    fn eq_ignore_case_agrees_with_std() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for len in 0..20 {
            for start in 0..=(256 - len) {
                let a = &bytes[start..start + len];
                let upper: Vec<u8> = a.to_ascii_uppercase();
                let lower: Vec<u8> = a.to_ascii_lowercase();
                assert!(eq_ignore_case(a, &upper) && eq_ignore_case(&lower, a));
                // One byte off, at every position.
                for k in 0..len {
                    let mut b = a.to_vec();
                    for d in [1u8, 0x20, 0x80] {
                        b[k] = a[k] ^ d;
                        assert_eq!(
                            eq_ignore_case(a, &b),
                            a.eq_ignore_ascii_case(&b),
                            "{a:?} {b:?}"
                        );
                    }
                }
            }
        }
        assert!(eq_ignore_case(b"Content-Length", b"content-length"));
        assert!(!eq_ignore_case(b"Content-Length", b"content-lengtH "));
    }

    #[test]
    fn tables() {
        assert!(is_tchar(b'~') && !is_tchar(b'(') && !is_tchar(b' '));
        assert!(is_uri_char(b'%') && !is_uri_char(b'#') && !is_uri_char(b'\\'));
        assert!(is_field_char(b'\t') && is_field_char(0x80) && !is_field_char(0x7f));
        assert!(!is_field_char(b'\r') && !is_field_char(0));
    }
}
