//! The head parser on arbitrary bytes, strict and with every leniency flag:
//! it never panics, every offset it returns lies inside the input, a
//! complete head stays complete (with the same result) when more bytes
//! follow, and freezing it into an owned head never panics.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wireloom_core::http::parse::{
    parse_request, parse_response, Lenient, ParseConfig, RawHeader, Status,
};
use wireloom_core::http::{RequestHead, ResponseHead};

fn in_bounds(r: (u32, u32), len: usize) -> bool {
    r.0 <= r.1 && r.1 as usize <= len
}

fn check_headers(h: &[RawHeader], len: usize) {
    for f in h {
        assert!(in_bounds(f.name, len) && in_bounds(f.value, len));
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the leniency flags, the rest is the input.
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let cfg = ParseConfig {
        lenient: Lenient::parse_list(
            &Lenient::names()
                .enumerate()
                .filter(|(i, _)| flags & (1 << i) != 0)
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
                .join(","),
        )
        .unwrap(),
        ..ParseConfig::default()
    };
    let buf = Bytes::copy_from_slice(input);
    let mut h = Vec::new();
    if let Ok(Status::Complete(raw)) = parse_request(&buf, &cfg, &mut h) {
        assert!(raw.head_len <= buf.len());
        assert!(in_bounds(raw.method, raw.head_len) && in_bounds(raw.target, raw.head_len));
        check_headers(&h, raw.head_len);
        let mut h2 = Vec::new();
        let again = parse_request(&buf[..raw.head_len], &cfg, &mut h2).unwrap();
        assert_eq!(again, Status::Complete(raw));
        assert_eq!(h, h2);
        let _ = RequestHead::from_raw(&buf, &raw, &h, &cfg);
    }
    if let Ok(Status::Complete(raw)) = parse_response(&buf, &cfg, &mut h) {
        assert!(raw.head_len <= buf.len());
        assert!((100..=999).contains(&raw.status));
        check_headers(&h, raw.head_len);
        let mut h2 = Vec::new();
        let again = parse_response(&buf[..raw.head_len], &cfg, &mut h2).unwrap();
        assert_eq!(again, Status::Complete(raw));
        assert_eq!(h, h2);
        let _ = ResponseHead::from_raw(&buf, &raw, &h);
    }
});
