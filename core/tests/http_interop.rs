//! Round trips through the `http` crate's types: a wireloom head converted
//! to `http` and back serialises to the same bytes (names keep their
//! spelling, fields their order, the target and reason phrase their bytes).

#![cfg(feature = "http")]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wireloom_core::http::serialize::{write_request_head, write_response_head};
use wireloom_core::http::{HeaderValue, Method, RequestHead, ResponseHead, StatusCode, Version};

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::DELETE),
        Just(Method::OPTIONS),
        "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,11}"
            .prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn target() -> impl Strategy<Value = String> {
    let path = "(/[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,8}){1,4}".prop_filter("valid %", |p| {
        // No stray `%`: keep only well-formed escapes.
        !p.contains('%')
    });
    let query = proptest::option::of("[A-Za-z0-9=&/?+._-]{0,12}");
    let origin = (path.clone(), query.clone()).prop_map(|(p, q)| match q {
        Some(q) => format!("{p}?{q}"),
        None => p,
    });
    let absolute = (
        prop_oneof![Just("http"), Just("https"), Just("HTTP")],
        "[a-zA-Z0-9.-]{1,12}(:[0-9]{1,5})?",
        proptest::option::of(path),
        query,
    )
        .prop_map(|(s, h, p, q)| {
            let mut t = format!("{s}://{h}{}", p.unwrap_or_default());
            if let Some(q) = q {
                t.push('?');
                t.push_str(&q);
            }
            t
        });
    prop_oneof![4 => origin, 1 => absolute]
}

/// Names from a small pool (so repeats in other spellings are common),
/// spelled in random case, and arbitrary tokens.
fn name() -> impl Strategy<Value = String> {
    let pooled = (
        prop_oneof![
            Just("host"),
            Just("x-a"),
            Just("set-cookie"),
            Just("content-type"),
            Just("accept"),
        ],
        proptest::collection::vec(any::<bool>(), 16),
    )
        .prop_map(|(n, up)| {
            n.chars()
                .zip(up)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect::<String>()
        });
    prop_oneof![3 => pooled, 1 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}"]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Field characters (obs-text included), no surrounding whitespace.
    proptest::collection::vec(
        prop_oneof![0x21u8..=0x7e, Just(b' '), Just(b'\t'), 0x80u8..=0xff],
        0..24,
    )
    .prop_map(|mut v| {
        while v.first().is_some_and(|c| *c == b' ' || *c == b'\t') {
            v.remove(0);
        }
        while v.last().is_some_and(|c| *c == b' ' || *c == b'\t') {
            v.pop();
        }
        v
    })
}

fn fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((name(), value()), 0..12)
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Http11), Just(Version::Http10)]
}

fn request_wire(h: &RequestHead) -> BytesMut {
    let mut out = BytesMut::new();
    write_request_head(&mut out, h);
    out
}

fn response_wire(h: &ResponseHead) -> BytesMut {
    let mut out = BytesMut::new();
    write_response_head(&mut out, h);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_head_round_trip(m in method(), t in target(), v in version(), f in fields()) {
        let Ok(mut head) = RequestHead::new(m, &t) else {
            return Ok(());
        };
        head.version = v;
        for (n, val) in &f {
            head.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(val)).unwrap())
                .unwrap();
        }
        let before = request_wire(&head);
        let req = http::Request::try_from(head.clone()).unwrap();
        prop_assert_eq!(req.headers().len(), f.len());
        let back = RequestHead::try_from(req).unwrap();
        prop_assert_eq!(&back, &head);
        prop_assert_eq!(request_wire(&back), before);

        // Parts by reference, and the `Request<B>` form, agree.
        let parts = http::request::Parts::try_from(head.clone()).unwrap();
        let req = http::Request::from_parts(parts, "body");
        let back = RequestHead::try_from(&req).unwrap();
        prop_assert_eq!(request_wire(&back), request_wire(&head));
    }

    #[test]
    fn response_head_round_trip(
        code in 100u16..=999,
        reason in proptest::option::of("[A-Za-z0-9 ]{0,16}"),
        v in version(),
        f in fields(),
    ) {
        let mut head = ResponseHead::new(StatusCode::from_u16(code).unwrap());
        if let Some(r) = reason {
            head.reason = Bytes::from(r);
        }
        head.version = v;
        for (n, val) in &f {
            head.header(n.as_str(), HeaderValue::from_shared(Bytes::copy_from_slice(val)).unwrap())
                .unwrap();
        }
        let before = response_wire(&head);
        let res = http::Response::try_from(head.clone()).unwrap();
        prop_assert_eq!(res.status().as_u16(), code);
        let back = ResponseHead::try_from(res).unwrap();
        prop_assert_eq!(&back, &head);
        prop_assert_eq!(response_wire(&back), before);
    }
}
