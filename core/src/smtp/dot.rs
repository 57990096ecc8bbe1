//! Message data transparency (RFC 5321 §4.5.2): dot-stuffing on the client,
//! un-stuffing on the server, both streaming across chunk boundaries.
//!
//! # Client: [`BodyEncoder`]
//!
//! Every line ending is normalised to CRLF (a bare CR, a bare LF and a CRLF
//! each become one CRLF), a `.` at the start of any line is doubled, and
//! [`finish`](BodyEncoder::finish) adds a final CRLF when the message does not
//! end in one, then the terminator `.CRLF`. So the encoder never emits a bare
//! CR or LF, and never emits `CRLF.CRLF` before the end.
//!
//! # Server: [`DataDecoder`]
//!
//! Data ends only on `CRLF.CRLF` (the CRLF before the dot belongs to the
//! message). A bare CR or bare LF anywhere is a violation: the decoder keeps
//! reading to the real end (so `\n.\r\n`, `\r.\r\n` and `\n.\n` never end the
//! data; this is the defence against the 2023 "SMTP smuggling" attacks) and
//! reports it, so the message can be refused as a whole.

use bytes::{BufMut, Bytes, BytesMut};

/// Streaming dot-stuffer and line-ending normaliser for outgoing data.
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    stuff: bool,
    at_line_start: bool,
    pending_cr: bool,
    empty: bool,
}

impl BodyEncoder {
    /// `stuff`: true for DATA (dot-stuffing and terminator), false for BDAT
    /// (line endings normalised only).
    pub fn new(stuff: bool) -> Self {
        BodyEncoder {
            stuff,
            at_line_start: true,
            pending_cr: false,
            empty: true,
        }
    }

    /// Encodes one chunk, appending to `out`. A trailing CR is held back
    /// until the next chunk shows whether an LF follows.
    pub fn encode(&mut self, mut input: &[u8], out: &mut BytesMut) {
        out.reserve(input.len() + 8);
        if !input.is_empty() {
            self.empty = false;
        }
        while !input.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                out.put_slice(b"\r\n");
                self.at_line_start = true;
                if input[0] == b'\n' {
                    input = &input[1..];
                    continue;
                }
            }
            if self.at_line_start && self.stuff && input[0] == b'.' {
                out.put_u8(b'.');
            }
            match memchr::memchr2(b'\r', b'\n', input) {
                None => {
                    out.put_slice(input);
                    self.at_line_start = false;
                    return;
                }
                Some(i) => {
                    out.put_slice(&input[..i]);
                    if input[i] == b'\r' {
                        self.pending_cr = true;
                    } else {
                        out.put_slice(b"\r\n");
                        self.at_line_start = true;
                    }
                    input = &input[i + 1..];
                }
            }
        }
    }

    /// Ends the data: flushes a held CR, adds a final CRLF when the data did
    /// not end in one, and (when stuffing) the `.CRLF` terminator.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.pending_cr {
            self.pending_cr = false;
            out.put_slice(b"\r\n");
            self.at_line_start = true;
        }
        if !self.at_line_start {
            out.put_slice(b"\r\n");
            self.at_line_start = true;
        }
        if self.stuff {
            out.put_slice(b".\r\n");
        }
    }

    /// True when nothing has been encoded yet.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// A problem found in received message data (the message must be refused;
/// the data is still read up to its real end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataViolation {
    /// A CR not followed by LF.
    BareCr,
    /// An LF not preceded by CR.
    BareLf,
    /// A line longer than the configured limit.
    LineTooLong,
}

/// What one [`DataDecoder::decode`] call found.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Un-stuffed message bytes, in order (slices of the input).
    pub chunks: Vec<Bytes>,
    /// True when the terminating `CRLF.CRLF` was consumed.
    pub end: bool,
    /// A violation seen in this call, if any (a bare CR/LF is reported in
    /// preference to a long line).
    pub violation: Option<DataViolation>,
}

/// Records a violation; a bare line ending outranks a long line (it is the
/// one that may close the connection).
fn note(slot: &mut Option<DataViolation>, v: DataViolation) {
    match slot {
        None | Some(DataViolation::LineTooLong) => *slot = Some(v),
        _ => {}
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    LineStart,
    Mid,
    Cr,
}

/// Streaming un-stuffer for received DATA.
#[derive(Clone, Debug)]
pub struct DataDecoder {
    st: St,
    line_len: usize,
    max_line_len: Option<usize>,
}

impl DataDecoder {
    /// A decoder; `max_line_len` counts the octets of a line including CRLF.
    pub fn new(max_line_len: Option<usize>) -> Self {
        DataDecoder {
            st: St::LineStart,
            line_len: 0,
            max_line_len,
        }
    }

    /// Consumes bytes from the front of `buf` up to and including the
    /// terminator (or as far as can be decided), returning the un-stuffed
    /// data. A dot at the start of a line is only consumed once the next
    /// two bytes show whether it starts the terminator.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Decoded {
        let mut out = Decoded::default();
        let data = &buf[..];
        let mut i = 0;
        let mut seg_start = 0;
        let mut segs: Vec<(usize, usize)> = Vec::new();
        let mut violation = None;
        while i < data.len() {
            match self.st {
                St::LineStart if data[i] == b'.' => {
                    let rest = &data[i..];
                    if rest.len() < 2 || (rest[1] == b'\r' && rest.len() < 3) {
                        break;
                    }
                    segs.push((seg_start, i));
                    if rest[1] == b'\r' && rest[2] == b'\n' {
                        i += 3;
                        seg_start = i;
                        out.end = true;
                        self.line_len = 0;
                        break;
                    }
                    i += 1;
                    seg_start = i;
                    self.line_len = 1;
                    self.st = St::Mid;
                }
                St::Cr => {
                    if data[i] == b'\n' {
                        self.line_len += 1;
                        self.st = St::LineStart;
                        i += 1;
                        self.check_len(&mut violation);
                        self.line_len = 0;
                    } else {
                        note(&mut violation, DataViolation::BareCr);
                        self.st = St::Mid;
                    }
                }
                St::LineStart | St::Mid => match memchr::memchr2(b'\r', b'\n', &data[i..]) {
                    None => {
                        self.line_len += data.len() - i;
                        i = data.len();
                        self.st = St::Mid;
                        self.check_len(&mut violation);
                    }
                    Some(off) => {
                        self.line_len += off + 1;
                        i += off;
                        if data[i] == b'\n' {
                            // A bare LF never starts a line: `\n.\r\n` must
                            // not end the data (SMTP smuggling).
                            note(&mut violation, DataViolation::BareLf);
                            self.check_len(&mut violation);
                            self.line_len = 0;
                            self.st = St::Mid;
                        } else {
                            self.st = St::Cr;
                        }
                        i += 1;
                    }
                },
            }
        }
        if !out.end {
            segs.push((seg_start, i));
        }
        let taken = buf.split_to(i).freeze();
        out.chunks = segs
            .into_iter()
            .filter(|(a, b)| b > a)
            .map(|(a, b)| taken.slice(a..b))
            .collect();
        out.violation = violation;
        out
    }

    fn check_len(&self, violation: &mut Option<DataViolation>) {
        if let Some(max) = self.max_line_len {
            if self.line_len > max {
                note(violation, DataViolation::LineTooLong);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_chunks(chunks: &[&[u8]], stuff: bool) -> Vec<u8> {
        let mut e = BodyEncoder::new(stuff);
        let mut out = BytesMut::new();
        for c in chunks {
            e.encode(c, &mut out);
        }
        e.finish(&mut out);
        out.to_vec()
    }

    fn decode_all(input: &[u8]) -> (Vec<u8>, bool, Option<DataViolation>, usize) {
        let mut d = DataDecoder::new(Some(1000));
        let mut buf = BytesMut::from(input);
        let r = d.decode(&mut buf);
        (r.chunks.concat(), r.end, r.violation, buf.len())
    }

    #[test]
    fn encoder_normalises_and_stuffs() {
        assert_eq!(
            encode_chunks(&[b"a\nb\rc\r\nd"], true),
            b"a\r\nb\r\nc\r\nd\r\n.\r\n"
        );
        assert_eq!(
            encode_chunks(&[b".x\n.\n..\n"], true),
            b"..x\r\n..\r\n...\r\n.\r\n"
        );
        assert_eq!(encode_chunks(&[b""], true), b".\r\n");
        assert_eq!(encode_chunks(&[b"a\r", b"\nb"], true), b"a\r\nb\r\n.\r\n");
        assert_eq!(
            encode_chunks(&[b"a\r", b"", b".b"], true),
            b"a\r\n..b\r\n.\r\n"
        );
        assert_eq!(encode_chunks(&[b"a\r"], false), b"a\r\n");
        assert_eq!(encode_chunks(&[b".a\n\r"], false), b".a\r\n\r\n");
        // The smuggling payloads a caller might pass through.
        assert_eq!(
            encode_chunks(&[b"x\n.\r\nMAIL FROM:<e@vil>\r\n"], true),
            b"x\r\n..\r\nMAIL FROM:<e@vil>\r\n.\r\n"
        );
        assert_eq!(encode_chunks(&[b"x\r.\r\n"], true), b"x\r\n..\r\n.\r\n");
        assert_eq!(encode_chunks(&[b"x\n.\n"], true), b"x\r\n..\r\n.\r\n");
    }

    #[test]
    fn decoder_unstuffs_and_ends_on_crlf_dot_crlf_only() {
        assert_eq!(
            decode_all(b"a\r\n..b\r\n.\r\nNEXT"),
            (b"a\r\n.b\r\n".to_vec(), true, None, 4)
        );
        assert_eq!(decode_all(b".\r\n"), (vec![], true, None, 0));
        assert_eq!(decode_all(b"a\r\n"), (b"a\r\n".to_vec(), false, None, 0));
        for (input, v) in [
            (&b"a\n.\r\nQUIT\r\n"[..], DataViolation::BareLf),
            (b"a\r.\r\nQUIT\r\n", DataViolation::BareCr),
            (b"a\n.\nQUIT\r\n", DataViolation::BareLf),
            (b"a\r\n.\nQUIT\r\n", DataViolation::BareLf),
            (b"a\r\n.\rQUIT\r\n", DataViolation::BareCr),
        ] {
            let (_, end, viol, rest) = decode_all(input);
            assert!(!end, "{input:?} must not end the data");
            assert_eq!(viol, Some(v), "{input:?}");
            assert_eq!(rest, 0);
        }
    }

    #[test]
    fn decoder_line_limit() {
        let mut long = vec![b'x'; 1001];
        long.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(decode_all(&long).2, Some(DataViolation::LineTooLong));
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(decode_all(&ok).2, None);
    }

    #[test]
    fn decoder_every_split() {
        let input = b"Subject: x\r\n\r\n..dot\r\n.\r\n..\r\nend\r\n.\r\n";
        let whole = decode_all(input);
        assert_eq!(whole.0, b"Subject: x\r\n\r\n.dot\r\n");
        for split in 0..input.len() {
            let mut d = DataDecoder::new(None);
            let mut buf = BytesMut::from(&input[..split]);
            let mut got = Vec::new();
            let r = d.decode(&mut buf);
            got.extend(r.chunks.concat());
            let mut end = r.end;
            if !end {
                buf.extend_from_slice(&input[split..]);
                let r = d.decode(&mut buf);
                got.extend(r.chunks.concat());
                end = r.end;
            }
            assert!(end);
            assert_eq!(got, whole.0, "split {split}");
        }
    }
}
