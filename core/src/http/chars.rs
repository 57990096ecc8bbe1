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

/// Bytes scanned per block by the `find_*` and `skip_*` scanners.
const BLOCK: usize = 16;

/// Index of the first byte in `s[i..]` (absolute index) for which `hit`
/// holds, or `s.len()`: sixteen bytes per step while sixteen remain, then
/// byte by byte. `hit_one` is the same predicate, for the tail.
///
/// Written so that the compiler turns each block into SIMD without
/// `unsafe`: the predicate is applied to all sixteen bytes branch-free into
/// a mask of 0x00/0xFF bytes (SSE2 compares on x86-64, NEON on aarch64);
/// an OR over the mask (a move-mask test) tells whether the block has a
/// hit, and the same mask read as one `u128` gives its position from the
/// trailing zeros.
#[inline(always)]
fn find_first(
    s: &[u8],
    mut i: usize,
    hit: impl Fn(u8) -> bool + Copy,
    hit_one: impl Fn(u8) -> bool,
) -> usize {
    while let Some(block) = s.get(i..i + BLOCK) {
        let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
            break;
        };
        let mut m = [0u8; BLOCK];
        for (o, &c) in m.iter_mut().zip(block) {
            *o = if hit(c) { 0xff } else { 0 };
        }
        if m.iter().fold(0, |a, &x| a | x) != 0 {
            return i + (u128::from_le_bytes(m).trailing_zeros() / 8) as usize;
        }
        i += BLOCK;
    }
    while i < s.len() && !hit_one(s[i]) {
        i += 1;
    }
    i
}

/// A CTL: below 0x20 (HTAB included) or 0x7F.
#[inline(always)]
fn ctl(c: u8) -> bool {
    (c < 0x20) | (c == 0x7f)
}

/// Outside the strict request-target set, or `%` (which needs its two hex
/// digits checked): the block form of `!is_uri_char(c) || c == b'%'`.
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

/// Index of the first byte in `s[from..]` (absolute index) that is below 0x20
/// or equal to 0x7F, scanning sixteen bytes at a time. HTAB counts as such a
/// byte; the caller decides. `None` when there is none.
#[inline(always)]
pub(crate) fn find_ctl(s: &[u8], i: usize) -> Option<usize> {
    let j = find_first(s, i, ctl, ctl);
    (j < s.len()).then_some(j)
}

/// Like [`find_non_uri`], stopping at `?` too (where the query starts).
#[inline(always)]
pub(crate) fn find_target_stop(s: &[u8], i: usize) -> usize {
    let stop = |c: u8| non_uri(c) | (c == b'?');
    find_first(s, i, stop, stop)
}

/// Index of the first byte in `s[from..]` that is not a strict
/// request-target character or is a `%`; `s.len()` when there is none.
#[inline(always)]
pub(crate) fn find_non_uri(s: &[u8], i: usize) -> usize {
    find_first(s, i, non_uri, |c| !is_uri_char(c) || c == b'%')
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
            let is_ctl = c < 0x20 || c == 0x7f;
            assert_eq!(ctl(c), is_ctl, "{c:#x}");
            let is_non_uri = !is_uri_char(c) || c == b'%';
            assert_eq!(non_uri(c), is_non_uri, "{c:#x}");
            // One odd byte among good ones, at every position, in two blocks
            // and a tail.
            for pos in 0..40 {
                let mut v = vec![b'a'; 40];
                v[pos] = c;
                let ctl = (c < 0x20 || c == 0x7f).then_some(pos);
                assert_eq!(find_ctl(&v, 0), ctl);
                let stop = if is_uri_char(c) && c != b'%' { 40 } else { pos };
                assert_eq!(find_non_uri(&v, 0), stop);
                let stop = if is_tchar(c) { 40 } else { pos };
                assert_eq!(skip_tchars(&v, 0), stop);
            }
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
