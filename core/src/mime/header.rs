//! Header field building blocks: name and value validation (the injection
//! guard), RFC 2047 encoded-words, RFC 2231 parameters, folding at 78
//! columns, RFC 5322 dates, and media types.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::MimeError;

/// Preferred longest header line, without the CRLF (RFC 5322 §2.1.1).
pub const FOLD_WIDTH: usize = 78;
/// Longest encoded-word (RFC 2047 §2).
pub const MAX_ENCODED_WORD: usize = 75;
/// `=?utf-8?X?` + `?=`.
const WORD_OVERHEAD: usize = 12;
/// Longest content-type parameter name accepted by
/// [`MediaType::set_param`] (RFC 2231 continuations add `*NN*` to it and
/// must still fit a folded line).
pub const MAX_PARAM_NAME: usize = 40;
/// Longest type or subtype of a media type (RFC 6838 §4.2).
pub const MAX_TYPE_NAME: usize = 127;
/// Longest whitespace run written as is in an unstructured header value:
/// a longer run (which no fold point can split without leaving a
/// whitespace-only line) is sent as encoded-words.
const MAX_RAW_WHITESPACE: usize = 32;

/// Checks a header field name: one or more printable ASCII characters except
/// `:` (RFC 5322 §3.6.8 `ftext`).
pub fn validate_header_name(name: &str) -> Result<(), MimeError> {
    if name.contains(['\r', '\n']) {
        return Err(MimeError::HeaderInjection {
            field: name.to_owned(),
        });
    }
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(MimeError::InvalidHeaderName(name.to_owned()));
    }
    Ok(())
}

/// The injection guard for every caller-given header text: CR or LF is
/// [`MimeError::HeaderInjection`], any other control character except TAB
/// is [`MimeError::InvalidCharacter`].
pub(crate) fn check_text(field: &str, value: &str) -> Result<(), MimeError> {
    if value.contains(['\r', '\n']) {
        return Err(MimeError::HeaderInjection {
            field: field.to_owned(),
        });
    }
    if let Some(ch) = value.chars().find(|&c| c.is_control() && c != '\t') {
        return Err(MimeError::InvalidCharacter {
            field: field.to_owned(),
            ch,
        });
    }
    Ok(())
}

/// Characters written as themselves in a Q encoded-word. This is the set
/// allowed in every context, phrases included (RFC 2047 §5 rule 3).
fn q_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(b: u8) -> usize {
    if q_safe(b) || b == b' ' {
        1
    } else {
        3
    }
}

/// Encodes `text` as RFC 2047 encoded-words in UTF-8, choosing whichever of
/// B and Q is shorter. Every word is at most `max_len` characters
/// (clamped to 24..=75), except that the first is at most `first_len`
/// (same clamp), so that it fits after a header name. No UTF-8 sequence is
/// split across words. Adjacent words are meant to be joined by a space,
/// which decoders drop (RFC 2047 §6.2), so spaces in `text` are encoded.
pub fn encode_words(text: &str, first_len: usize, max_len: usize) -> Vec<String> {
    let clamp = |n: usize| n.clamp(24, MAX_ENCODED_WORD);
    let (first_len, max_len) = (clamp(first_len), clamp(max_len));
    let bytes = text.as_bytes();
    let q_total: usize = bytes.iter().map(|&b| q_len(b)).sum();
    let b_total = bytes.len().div_ceil(3) * 4;
    let use_b = b_total < q_total;
    let mut words = Vec::new();
    let mut start = 0;
    let mut budget = first_len - WORD_OVERHEAD;
    if text.is_empty() {
        return vec!["=?utf-8?q??=".to_owned()];
    }
    while start < bytes.len() {
        // Take whole characters while the encoding fits the budget.
        let mut end = start;
        let mut used = 0;
        for (i, c) in text[start..].char_indices() {
            let at = start + i;
            let clen = c.len_utf8();
            let cost = if use_b {
                (at + clen - start).div_ceil(3) * 4 - used
            } else {
                bytes[at..at + clen].iter().map(|&b| q_len(b)).sum()
            };
            if used + cost > budget && end > start {
                break;
            }
            used += cost;
            end = at + clen;
        }
        let chunk = &bytes[start..end];
        let mut w = String::with_capacity(used + WORD_OVERHEAD);
        if use_b {
            w.push_str("=?utf-8?b?");
            STANDARD.encode_string(chunk, &mut w);
        } else {
            w.push_str("=?utf-8?q?");
            for &b in chunk {
                if q_safe(b) {
                    w.push(b as char);
                } else if b == b' ' {
                    w.push('_');
                } else {
                    let _ = write!(w, "={b:02X}");
                }
            }
        }
        w.push_str("?=");
        words.push(w);
        start = end;
        budget = max_len - WORD_OVERHEAD;
    }
    words
}

/// Decodes one encoded-word `=?charset?enc?text?=` to octets and charset.
fn decode_word(word: &str) -> Option<(String, Vec<u8>)> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut it = inner.splitn(3, '?');
    let charset = it.next()?;
    let enc = it.next()?;
    let text = it.next()?;
    if text.contains('?') || text.contains(' ') {
        return None;
    }
    // RFC 2231 §5: charset*language.
    let charset = charset.split('*').next()?.to_ascii_lowercase();
    let bytes = match enc {
        "b" | "B" => STANDARD.decode(text).ok()?,
        "q" | "Q" => {
            let mut out = Vec::with_capacity(text.len());
            let t = text.as_bytes();
            let mut i = 0;
            while i < t.len() {
                match t[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let h = std::str::from_utf8(t.get(i + 1..i + 3)?).ok()?;
                        out.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    Some((charset, bytes))
}

fn charset_to_string(charset: &str, bytes: &[u8]) -> Option<String> {
    match charset {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => String::from_utf8(bytes.to_vec()).ok(),
        "iso-8859-1" | "latin1" | "latin-1" => Some(bytes.iter().map(|&b| b as char).collect()),
        _ => None,
    }
}

/// Decodes RFC 2047 encoded-words in `words` (whitespace-separated tokens
/// with the whitespace kept as separate items). Whitespace between two
/// encoded-words is dropped; the octets of adjacent words in the same
/// charset are joined before charset decoding, so a character split across
/// words by another encoder still decodes. Words in an unknown charset or
/// malformed are kept as they are.
fn decode_tokens<'a>(tokens: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>, String)> = None; // charset, octets, raw
    let mut pending_ws = String::new();
    let flush = |out: &mut String, pending: &mut Option<(String, Vec<u8>, String)>| {
        if let Some((cs, bytes, raw)) = pending.take() {
            match charset_to_string(&cs, &bytes) {
                Some(s) => out.push_str(&s),
                None => out.push_str(&raw),
            }
        }
    };
    for tok in tokens {
        if tok.trim().is_empty() {
            pending_ws.push_str(tok);
            continue;
        }
        match decode_word(tok) {
            Some((cs, bytes)) => {
                match &mut pending {
                    Some((pcs, pbytes, praw)) if *pcs == cs => {
                        pbytes.extend_from_slice(&bytes);
                        praw.push_str(&pending_ws);
                        praw.push_str(tok);
                    }
                    Some(_) => {
                        flush(&mut out, &mut pending);
                        pending = Some((cs, bytes, tok.to_owned()));
                    }
                    None => {
                        out.push_str(&pending_ws);
                        pending = Some((cs, bytes, tok.to_owned()));
                    }
                }
                pending_ws.clear();
            }
            None => {
                flush(&mut out, &mut pending);
                out.push_str(&pending_ws);
                pending_ws.clear();
                out.push_str(tok);
            }
        }
    }
    flush(&mut out, &mut pending);
    out.push_str(&pending_ws);
    out
}

/// Decodes the RFC 2047 encoded-words of an unstructured header value
/// (such as Subject), after unfolding (CRLF before whitespace is removed).
pub fn decode_unstructured(value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let mut tokens = Vec::new();
    let b = unfolded.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ws = b[i] == b' ' || b[i] == b'\t';
        let mut j = i + 1;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') == ws {
            j += 1;
        }
        tokens.push(&unfolded[i..j]);
        i = j;
    }
    decode_tokens(tokens.into_iter())
}

/// Decodes a phrase (display name) given as its words; see
/// [`decode_unstructured`].
pub(crate) fn decode_phrase(words: &[(String, bool)]) -> String {
    // (text, was_atom): only atoms may be encoded-words.
    let mut out = String::new();
    let mut prev_encoded = false;
    let mut run: Vec<&str> = Vec::new();
    let mut first = true;
    for (w, atom) in words {
        let encoded = *atom && decode_word(w).is_some();
        if encoded && prev_encoded {
            run.push(w);
            continue;
        }
        if !run.is_empty() {
            out.push_str(&decode_tokens(run.drain(..)));
        }
        if !first {
            out.push(' ');
        }
        first = false;
        if encoded {
            run.push(w);
        } else {
            out.push_str(w);
        }
        prev_encoded = encoded;
    }
    if !run.is_empty() {
        out.push_str(&decode_tokens(run.drain(..)));
    }
    out
}

/// Formats an unstructured header value (Subject, custom headers): as it
/// is when it is printable ASCII that no decoder would mistake for
/// encoded-words, else as encoded-words. `name_len` is the length of the
/// header name, so that the first word fits the first line.
pub(crate) fn format_unstructured(name_len: usize, value: &str) -> String {
    let raw_ok = value.bytes().all(|b| (32..=126).contains(&b) || b == b'\t')
        && !value.contains("=?")
        // Trailing whitespace would end up alone on a folded line.
        && !value.ends_with([' ', '\t'])
        && value
            .split(|c: char| c != ' ' && c != '\t')
            .all(|run| run.len() <= MAX_RAW_WHITESPACE)
        && value
            .split([' ', '\t'])
            .all(|w| w.len() + name_len + 2 <= 900);
    if raw_ok {
        return value.to_owned();
    }
    encode_words(
        value,
        FOLD_WIDTH.saturating_sub(name_len + 2),
        MAX_ENCODED_WORD,
    )
    .join(" ")
}

/// Writes `Name: value` of a structured header (addresses, parameters)
/// folded at 78 columns, with its CRLF. Lines are broken only before
/// whitespace outside quoted strings (so unfolding gives back `value`
/// exactly), and never so that a line holds only whitespace; a line longer
/// than 78 columns is left only when no such whitespace exists (the
/// message builder refuses lines over 998 octets).
pub(crate) fn write_folded(out: &mut String, name: &str, value: &str) {
    fold(out, name, value, true);
}

/// [`write_folded`] for an unstructured header (Subject, custom headers):
/// a `"` is an ordinary character there, not the start of a quoted string.
pub(crate) fn write_folded_text(out: &mut String, name: &str, value: &str) {
    fold(out, name, value, false);
}

fn fold(out: &mut String, name: &str, value: &str, structured: bool) {
    out.push_str(name);
    out.push(':');
    let mut col = name.len() + 1;
    // Segments: leading whitespace + a run of non-whitespace.
    let b = value.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    let mut first = true;
    if !value.starts_with([' ', '\t']) {
        out.push(' ');
        col += 1;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' if !in_quote => break,
                b'"' if structured => in_quote = !in_quote,
                b'\\' if in_quote => i += 1,
                _ => {}
            }
            i += 1;
        }
        let i_end = i.min(b.len());
        let seg = &value[start..i_end];
        i = i_end;
        // A fold before trailing whitespace would leave a whitespace-only
        // line (RFC 5322 §3.2.2).
        let has_text = !seg.trim_start_matches([' ', '\t']).is_empty();
        if !first && has_text && col + seg.len() > FOLD_WIDTH && seg.starts_with([' ', '\t']) {
            out.push_str("\r\n");
            col = 0;
        }
        first = false;
        out.push_str(seg);
        col += seg.len();
    }
    out.push_str("\r\n");
}

/// RFC 2045 `token` characters.
pub(crate) fn is_token_char(b: u8) -> bool {
    (33..=126).contains(&b) && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// RFC 2231 `attribute-char`s, which need no percent-encoding.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// Formats a parameter `name=value` for a Content-Type or
/// Content-Disposition header, as one or more `;`-separated items (without
/// the leading `; `): a token, a quoted-string, or for non-ASCII or long
/// values RFC 2231 `name*=utf-8''...`, split into `name*0*=`, `name*1*=`...
/// continuations of at most about 60 characters (never splitting a UTF-8
/// sequence).
pub fn format_parameter(name: &str, value: &str) -> Vec<String> {
    const MAX: usize = 60;
    let printable = value.bytes().all(|b| (32..=126).contains(&b));
    if !value.is_empty() && value.len() <= MAX && value.bytes().all(is_token_char) {
        return vec![format!("{name}={value}")];
    }
    if printable && value.len() + name.len() <= MAX {
        let mut s = format!("{name}=\"");
        for c in value.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        return vec![s];
    }
    let pct = |c: char, s: &mut String| {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            if is_attr_char(b) {
                s.push(b as char);
            } else {
                let _ = write!(s, "%{b:02X}");
            }
        }
    };
    let mut whole = String::new();
    for c in value.chars() {
        pct(c, &mut whole);
    }
    if name.len() + whole.len() + 9 <= MAX {
        return vec![format!("{name}*=utf-8''{whole}")];
    }
    let mut items = Vec::new();
    let mut cur = String::new();
    for c in value.chars() {
        let mut enc = String::new();
        pct(c, &mut enc);
        if !cur.is_empty() && cur.len() + enc.len() > MAX.saturating_sub(name.len() + 10) {
            items.push(std::mem::take(&mut cur));
        }
        cur.push_str(&enc);
    }
    items.push(cur);
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 {
                format!("{name}*0*=utf-8''{v}")
            } else {
                format!("{name}*{i}*={v}")
            }
        })
        .collect()
}

/// Seconds from 1970 to 0000-01-01T00:00:00Z.
const MIN_DATE_SECS: i64 = -62_167_219_200;
/// Seconds from 1970 to 9999-12-31T23:59:59Z.
const MAX_DATE_SECS: i64 = 253_402_300_799;

/// Formats a time as an RFC 5322 §3.3 date-time in UTC, e.g.
/// `Tue, 01 Dec 2026 09:05:03 +0000`. Times before 1970 work too; times
/// outside the years 0 to 9999 are [`MimeError::DateOutOfRange`].
pub fn format_date(time: SystemTime) -> Result<String, MimeError> {
    let secs: i64 = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs())
            .ok()
            .filter(|&s| s <= MAX_DATE_SECS)
            .ok_or(MimeError::DateOutOfRange)?,
        Err(e) => {
            let d = e.duration();
            let before = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
            i64::try_from(before)
                .ok()
                .filter(|&s| s <= -MIN_DATE_SECS)
                .map(|s| -s)
                .ok_or(MimeError::DateOutOfRange)?
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    Ok(format!(
        "{wd}, {d:02} {mon} {y:04} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of `civil_from_days`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A media type such as `text/plain; charset=utf-8` (RFC 2045 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    type_: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype` with optional `; name=value` parameters
    /// (values as tokens or quoted-strings). Type, subtype and parameter
    /// names are lowercased.
    pub fn parse(s: &str) -> Result<MediaType, MimeError> {
        check_text("Content-Type", s)?;
        let bad = || MimeError::InvalidContentType(s.to_owned());
        let mut rest = s.trim();
        let end = rest.find(';').unwrap_or(rest.len());
        let (ty, sub) = rest[..end].trim().split_once('/').ok_or_else(bad)?;
        let (ty, sub) = (ty.trim(), sub.trim());
        for t in [ty, sub] {
            if t.is_empty() || t.len() > MAX_TYPE_NAME || !t.bytes().all(is_token_char) {
                return Err(bad());
            }
        }
        let mut mt = MediaType::new_unchecked(ty, sub);
        rest = &rest[end..];
        while let Some(r) = rest.strip_prefix(';') {
            let r = r.trim_start();
            if r.is_empty() {
                break;
            }
            let eq = r.find('=').ok_or_else(bad)?;
            let name = r[..eq].trim();
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(bad());
            }
            let v = r[eq + 1..].trim_start();
            let (value, after) = if let Some(q) = v.strip_prefix('"') {
                let mut val = String::new();
                let mut chars = q.char_indices();
                let mut close = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => val.push(chars.next().ok_or_else(bad)?.1),
                        '"' => {
                            close = Some(i);
                            break;
                        }
                        c => val.push(c),
                    }
                }
                let close = close.ok_or_else(bad)?;
                (val, q[close + 1..].trim_start())
            } else {
                let e = v.find(';').unwrap_or(v.len());
                let tok = v[..e].trim();
                if tok.is_empty() || !tok.bytes().all(is_token_char) {
                    return Err(bad());
                }
                (tok.to_owned(), &v[e..])
            };
            if !(after.is_empty() || after.starts_with(';')) {
                return Err(bad());
            }
            mt.set_param(name, &value)?;
            rest = after;
        }
        Ok(mt)
    }

    pub(crate) fn new_unchecked(ty: &str, sub: &str) -> MediaType {
        MediaType {
            type_: ty.to_ascii_lowercase(),
            subtype: sub.to_ascii_lowercase(),
            params: Vec::new(),
        }
    }

    /// `text/plain; charset=utf-8`.
    pub fn text_plain() -> MediaType {
        let mut m = MediaType::new_unchecked("text", "plain");
        m.set_param_unchecked("charset", "utf-8");
        m
    }

    /// `text/html; charset=utf-8`.
    pub fn text_html() -> MediaType {
        let mut m = MediaType::new_unchecked("text", "html");
        m.set_param_unchecked("charset", "utf-8");
        m
    }

    /// The top-level type, lowercase (`text`).
    pub fn type_(&self) -> &str {
        &self.type_
    }

    /// The subtype, lowercase (`plain`).
    pub fn subtype(&self) -> &str {
        &self.subtype
    }

    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.type_, self.subtype)
    }

    /// A parameter's value (name compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) a parameter. The name must be an RFC 2045 token
    /// of at most [`MAX_PARAM_NAME`] characters
    /// ([`MimeError::InvalidParameterName`]); the value may be any text
    /// without control characters (non-ASCII and long values are written
    /// as RFC 2231 parameters).
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<(), MimeError> {
        check_text(name, name)?;
        if name.is_empty() || name.len() > MAX_PARAM_NAME || !name.bytes().all(is_token_char) {
            return Err(MimeError::InvalidParameterName(name.to_owned()));
        }
        check_text(name, value)?;
        self.set_param_unchecked(name, value);
        Ok(())
    }

    /// [`set_param`](Self::set_param) for names and values known good.
    pub(crate) fn set_param_unchecked(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        match self.params.iter_mut().find(|(n, _)| *n == name) {
            Some(p) => p.1 = value.to_owned(),
            None => self.params.push((name, value.to_owned())),
        }
    }

    pub(crate) fn remove_param(&mut self, name: &str) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The header value: `type/subtype; a=b; c="d e"`.
    pub fn to_header_value(&self) -> String {
        let mut s = self.essence();
        for (n, v) in &self.params {
            for item in format_parameter(n, v) {
                s.push_str("; ");
                s.push_str(&item);
            }
        }
        s
    }
}

impl std::str::FromStr for MediaType {
    type Err = MimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaType::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn header_names() {
        assert!(validate_header_name("X-Custom").is_ok());
        assert_eq!(
            validate_header_name("X-A\r\nBcc"),
            Err(MimeError::HeaderInjection {
                field: "X-A\r\nBcc".into()
            })
        );
        for bad in ["", "X A", "X:A", "Ünï"] {
            assert!(matches!(
                validate_header_name(bad),
                Err(MimeError::InvalidHeaderName(_))
            ));
        }
    }

    #[test]
    fn encoded_words_round_trip_and_limits() {
        for text in [
            "héllo wörld",
            "日本語のテキストがここにあります。とても長い件名です。日本語のテキストがここにあります。",
            "a",
            "emoji 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 end",
            "Grüße aus Köln, wie geht es dir heute? Ich hoffe, alles ist gut bei dir und deiner Familie.",
        ] {
            let words = encode_words(text, 60, 75);
            for (i, w) in words.iter().enumerate() {
                assert!(w.len() <= if i == 0 { 60 } else { 75 }, "{w}");
                assert!(w.is_ascii());
            }
            assert_eq!(decode_unstructured(&words.join(" ")), text);
            assert_eq!(decode_unstructured(&words.join("\r\n ")), text);
        }
        // Q for mostly-ASCII, B for mostly not.
        assert!(encode_words("café au lait", 75, 75)[0].starts_with("=?utf-8?q?"));
        assert!(encode_words("привет", 75, 75)[0].starts_with("=?utf-8?b?"));
    }

    #[test]
    fn decodes_foreign_words() {
        assert_eq!(decode_unstructured("=?ISO-8859-1?Q?a=E9?= b"), "aé b");
        assert_eq!(decode_unstructured("=?utf-8?B?w6k=?= =?utf-8?Q?x?="), "éx");
        assert_eq!(
            decode_unstructured("plain =?x-unknown?Q?a?= text"),
            "plain =?x-unknown?Q?a?= text"
        );
        // A character split across two words by another encoder.
        assert_eq!(decode_unstructured("=?utf-8?Q?=C3?= =?utf-8?Q?=A9?="), "é");
    }

    #[test]
    fn folding() {
        let mut s = String::new();
        let value = "word ".repeat(40);
        write_folded(&mut s, "Subject", value.trim_end());
        for line in s.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert_eq!(
            s.replace("\r\n ", " "),
            format!("Subject: {}\r\n", value.trim_end())
        );
        // Never inside a quoted string.
        let mut s = String::new();
        let q = format!("\"{}\" <a@b>", "x y ".repeat(30));
        write_folded(&mut s, "To", &q);
        assert!(s.starts_with(&format!("To: {}\r\n <a@b>", &q[..q.len() - 6])));
    }

    #[test]
    fn parameters() {
        assert_eq!(format_parameter("filename", "a.pdf"), ["filename=a.pdf"]);
        assert_eq!(
            format_parameter("filename", "my file.pdf"),
            ["filename=\"my file.pdf\""]
        );
        assert_eq!(
            format_parameter("filename", "a\"b"),
            ["filename=\"a\\\"b\""]
        );
        assert_eq!(
            format_parameter("filename", "résumé.pdf"),
            ["filename*=utf-8''r%C3%A9sum%C3%A9.pdf"]
        );
        let long = "日本語のファイル名".repeat(4);
        let items = format_parameter("filename", &long);
        assert!(items.len() > 1);
        assert!(items[0].starts_with("filename*0*=utf-8''"));
        assert!(items[1].starts_with("filename*1*="));
        for it in &items {
            assert!(it.len() <= 62, "{it}");
        }
    }

    #[test]
    fn dates() {
        let format_date = |t| format_date(t).unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_764_630_303);
        assert_eq!(format_date(t), "Mon, 01 Dec 2025 23:05:03 +0000");
        assert_eq!(format_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            format_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            format_date(UNIX_EPOCH - Duration::from_secs(86_400)),
            "Wed, 31 Dec 1969 00:00:00 +0000"
        );
        for days in [-800_000i64, -1, 0, 59, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn media_types() {
        let m = MediaType::parse("Text/Plain; charset=\"UTF-8\"; format=flowed").unwrap();
        assert_eq!(m.essence(), "text/plain");
        assert_eq!(m.param("CHARSET"), Some("UTF-8"));
        assert_eq!(
            m.to_header_value(),
            "text/plain; charset=UTF-8; format=flowed"
        );
        for bad in [
            "text",
            "text/",
            "a b/c",
            "text/plain; x",
            "text/plain; x=\"y",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            MediaType::parse("text/plain\r\nBcc: x"),
            Err(MimeError::HeaderInjection { .. })
        ));
    }
}
