//! The SMTP reply parser on arbitrary bytes, strict and lenient: it never
//! panics, gives the same replies and the same error whole, one byte at a
//! time and split at a position chosen by the input, and every reply it
//! returns survives `to_wire` and parsing again unchanged.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wireloom_core::smtp::reply::{Reply, ReplyError, ReplyLimits, ReplyParser};

/// Replies parsed from `pieces` fed in turn, and the error that stopped it.
fn run(limits: &ReplyLimits, pieces: &[&[u8]]) -> (Vec<Reply>, Option<ReplyError>) {
    let mut parser = ReplyParser::new(limits.clone());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let [flags, split, input @ ..] = data else {
        return;
    };
    let limits = ReplyLimits {
        max_line_len: if flags & 1 != 0 { 32 } else { 4096 },
        max_lines: if flags & 2 != 0 { 3 } else { 128 },
        allow_bare_lf: flags & 4 != 0,
    };
    let whole = run(&limits, &[input]);
    let at = (*split as usize * input.len()) / 255;
    let (a, b) = input.split_at(at.min(input.len()));
    assert_eq!(run(&limits, &[a, b]), whole, "split at {at}");
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&limits, &bytes), whole, "byte by byte");
    }
    for r in &whole.0 {
        let wire = r.to_wire();
        let again = run(&ReplyLimits::default(), &[&wire]);
        assert_eq!(
            again,
            (vec![r.clone()], None),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
    }
});
