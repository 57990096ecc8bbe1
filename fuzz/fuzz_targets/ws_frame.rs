//! The WebSocket frame decoder on arbitrary bytes, for both directions and
//! with or without RSV1 allowed (first byte of input), fed whole and split
//! at a point chosen by the input: it never panics, and both feedings give
//! the same frames, payload bytes and error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wireloom_core::ws::{DecodeRules, FrameDecoder, FrameError, FrameHeader, FrameItem};

#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<(FrameHeader, Vec<u8>)>,
    error: Option<FrameError>,
}

fn decode(rules: DecodeRules, chunks: &[&[u8]]) -> Outcome {
    let mut d = FrameDecoder::new(rules);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(FrameItem::Header(h))) => {
                    assert!(h.payload_len <= rules.max_frame);
                    assert_eq!(h.mask.is_some(), rules.masked);
                    out.frames.push((h, Vec::new()))
                }
                Ok(Some(FrameItem::Payload { data, .. })) => {
                    out.frames.last_mut().unwrap().1.extend_from_slice(&data)
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, input)) = rest.split_first() else {
        return;
    };
    let rules = DecodeRules {
        masked: flags & 1 != 0,
        rsv1: flags & 2 != 0,
        max_frame: if flags & 4 != 0 { 64 } else { 1 << 20 },
    };
    let cut = (cut as usize).min(input.len());
    let whole = decode(rules, &[input]);
    let split = decode(rules, &[&input[..cut], &input[cut..]]);
    assert_eq!(whole, split);
});
