//! The chunked decoder on arbitrary bytes, fed whole and split at a point
//! chosen by the input: it never panics, and both feedings give the same
//! body, the same trailers and the same error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wireloom_core::http::body::{BodyItem, ChunkedDecoder};
use wireloom_core::http::{ErrorKind, HeaderMap};

#[derive(Debug, PartialEq)]
struct Outcome {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    error: Option<ErrorKind>,
}

fn decode(chunks: &[&[u8]]) -> Outcome {
    let mut d = ChunkedDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        data: Vec::new(),
        trailers: None,
        error: None,
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(BodyItem::Data(b))) => out.data.extend_from_slice(&b),
                Ok(Some(BodyItem::End(t))) => {
                    assert!(d.is_done());
                    out.trailers = Some(t);
                    return out;
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e.kind());
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let cut = (cut as usize).min(input.len());
    let whole = decode(&[input]);
    let split = decode(&[&input[..cut], &input[cut..]]);
    assert_eq!(whole, split);
});
