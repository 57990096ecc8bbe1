//! Limits of the MIME builder found in review: caller input never panics,
//! never smuggles a header, never yields a header line over 998 octets or
//! a whitespace-only folded line.

use std::time::{Duration, UNIX_EPOCH};

use wireloom_core::mime::encoding::{choose_text_encoding, TransferEncoding};
use wireloom_core::mime::header::{decode_unstructured, format_date, format_parameter};
use wireloom_core::mime::{Address, Mailbox, MediaType, Message, MessageBuilder, MimeError, Part};

fn base() -> MessageBuilder {
    Message::builder()
        .from("a@example.org")
        .to("b@example.org")
        .date(UNIX_EPOCH)
}

fn render(b: MessageBuilder) -> String {
    String::from_utf8(b.build().unwrap().to_bytes()).unwrap()
}

/// The header block's physical lines (without CRLF).
fn header_lines(wire: &str) -> Vec<&str> {
    wire.split("\r\n").take_while(|l| !l.is_empty()).collect()
}

/// The unfolded value of the first header `name`.
fn header(wire: &str, name: &str) -> String {
    let head = wire.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let prefix = format!("{name}: ");
    unfolded
        .split("\r\n")
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
        .to_owned()
}

/// Every header line is at most 78 octets (all these values can fold) and
/// none holds only whitespace.
fn assert_well_folded(wire: &str) {
    for l in header_lines(wire) {
        assert!(l.len() <= 78, "line of {}: {l:?}", l.len());
        assert!(!l.trim().is_empty(), "whitespace-only line {l:?}");
    }
}

#[test]
fn subject_with_a_long_whitespace_run_is_encoded_and_round_trips() {
    let s = format!("a{}b", " ".repeat(2000));
    let wire = render(base().subject(&s));
    assert_well_folded(&wire);
    assert_eq!(decode_unstructured(&header(&wire, "Subject")), s);
}

#[test]
fn subject_with_an_unbalanced_quote_still_folds() {
    let s = format!("\"{}", "word ".repeat(300).trim_end());
    let wire = render(base().subject(&s));
    assert_well_folded(&wire);
    assert_eq!(header(&wire, "Subject"), s);
}

#[test]
fn custom_header_quotes_do_not_stop_folding() {
    let v = format!("say \"{}", "x y ".repeat(100).trim_end());
    let wire = render(base().header("X-Note", &v));
    assert_well_folded(&wire);
    assert_eq!(header(&wire, "X-Note"), v);
}

#[test]
fn subject_with_trailing_whitespace_never_leaves_a_whitespace_only_line() {
    for s in [
        format!("a{}", " ".repeat(100)),
        format!("{} ", "word ".repeat(30)),
    ] {
        let wire = render(base().subject(&s));
        assert_well_folded(&wire);
        assert_eq!(decode_unstructured(&header(&wire, "Subject")), s);
    }
}

#[test]
fn long_quoted_display_name_becomes_encoded_words() {
    let name = "Doe, John ".repeat(120);
    let mb = Mailbox::new(Some(&name), "j@example.org").unwrap();
    let wire = render(Message::builder().from(mb).date(UNIX_EPOCH));
    assert_well_folded(&wire);
    let back = Mailbox::parse(&header(&wire, "From")).unwrap();
    assert_eq!(back.name(), Some(name.as_str()));
    // Short ones stay quoted-strings.
    let mb = Mailbox::new(Some("Doe, John"), "j@example.org").unwrap();
    assert_eq!(mb.to_header_value(), "\"Doe, John\" <j@example.org>");
}

#[test]
fn long_atom_display_name_becomes_encoded_words() {
    let name = "x".repeat(2000);
    let mb = Mailbox::new(Some(&name), "j@example.org").unwrap();
    let wire = render(base().cc(Address::Mailbox(mb)));
    assert_well_folded(&wire);
    assert_eq!(
        Mailbox::parse(&header(&wire, "Cc")).unwrap().name(),
        Some(name.as_str())
    );
}

#[test]
fn parameter_names_over_40_characters_are_refused() {
    for len in [41, 51, 2000] {
        let name = "x".repeat(len);
        assert_eq!(
            Part::text("hi").with_content_type_param(&name, "éé"),
            Err(MimeError::InvalidParameterName(name.clone()))
        );
        let parsed = MediaType::parse(&format!("text/plain; {name}=v"));
        assert_eq!(parsed, Err(MimeError::InvalidParameterName(name)));
    }
    // 40 characters with a value needing RFC 2231 continuations fit.
    let name = "x".repeat(40);
    let p = Part::text("hi")
        .with_content_type_param(&name, &"é".repeat(100))
        .unwrap();
    assert_well_folded(&render(base().body(p)));
}

#[test]
fn format_parameter_never_underflows_on_long_names() {
    for len in [49, 50, 51, 60, 200] {
        let items = format_parameter(&"n".repeat(len), &"é".repeat(40));
        assert!(items.len() > 1);
        assert!(items.iter().all(|i| i.contains('%')), "{items:?}");
    }
}

#[test]
fn media_type_set_param_validates_the_name() {
    let mut m = MediaType::parse("text/plain").unwrap();
    assert!(matches!(
        m.set_param("x\r\nBcc: victim@example.org\r\nX-A", "v"),
        Err(MimeError::HeaderInjection { .. })
    ));
    for bad in ["", "a b", "a=b", "a;b", "é"] {
        assert_eq!(
            m.set_param(bad, "v"),
            Err(MimeError::InvalidParameterName(bad.to_owned()))
        );
    }
    assert!(matches!(
        m.set_param("format", "a\nb"),
        Err(MimeError::HeaderInjection { .. })
    ));
    assert_eq!(m.to_header_value(), "text/plain");
    m.set_param("Format", "flowed").unwrap();
    assert_eq!(m.to_header_value(), "text/plain; format=flowed");
}

#[test]
fn overlong_types_and_subtypes_are_refused() {
    let long = "y".repeat(128);
    for ct in [format!("text/{long}"), format!("{long}/plain")] {
        assert!(matches!(
            MediaType::parse(&ct),
            Err(MimeError::InvalidContentType(_))
        ));
    }
    assert!(MediaType::parse(&format!("text/{}", "y".repeat(127))).is_ok());
    assert!(matches!(
        Part::multipart(&long, vec![Part::text("x")]),
        Err(MimeError::InvalidContentType(_))
    ));
}

#[test]
fn leaf_parts_refuse_multipart_and_message_types() {
    for ct in [
        "multipart/mixed",
        "Multipart/Alternative",
        "message/rfc822",
        "message/partial",
    ] {
        assert!(
            matches!(
                Part::text_of_type(ct, "hi"),
                Err(MimeError::InvalidContentType(_))
            ),
            "{ct}"
        );
        assert!(
            matches!(
                Part::binary(ct, &b"hi"[..]),
                Err(MimeError::InvalidContentType(_))
            ),
            "{ct}"
        );
        assert!(Part::attachment(ct, "a.eml", &b"hi"[..]).is_err(), "{ct}");
    }
    assert!(Part::text_of_type("text/csv", "a,b").is_ok());
    assert!(Part::binary("application/octet-stream", &b"x"[..]).is_ok());
}

#[test]
fn dates_outside_years_0_to_9999_are_refused() {
    let first = UNIX_EPOCH - Duration::from_secs(62_167_219_200);
    let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    assert_eq!(
        format_date(first).unwrap(),
        "Sat, 01 Jan 0000 00:00:00 +0000"
    );
    assert_eq!(
        format_date(last).unwrap(),
        "Fri, 31 Dec 9999 23:59:59 +0000"
    );
    for t in [
        first - Duration::from_nanos(1),
        last + Duration::from_secs(1),
        // The earliest SystemTime on Unix (once an overflow panic).
        UNIX_EPOCH - Duration::from_secs(1 << 63),
        UNIX_EPOCH + Duration::from_secs(u64::MAX >> 2),
    ] {
        assert_eq!(format_date(t), Err(MimeError::DateOutOfRange));
        assert_eq!(
            base().date(t).build().unwrap_err(),
            MimeError::DateOutOfRange
        );
    }
}

#[test]
fn choose_text_encoding_accepts_bare_line_feeds() {
    use TransferEncoding::*;
    assert_eq!(choose_text_encoding(b"\nabc", false), SevenBit);
    assert_eq!(choose_text_encoding(b"\n\n\r\n", false), SevenBit);
    let long = format!("\n{}\n", "a".repeat(999));
    assert_eq!(
        choose_text_encoding(long.as_bytes(), false),
        QuotedPrintable
    );
    let ok = format!("\n{}\n", "a".repeat(998));
    assert_eq!(choose_text_encoding(ok.as_bytes(), false), SevenBit);
}

#[test]
fn parsed_display_names_carry_no_control_characters() {
    let m = Mailbox::parse("=?utf-8?q?Eve=0D=0ABcc=3A_x=00=09y?= <e@example.org>").unwrap();
    assert_eq!(m.name(), Some("Eve\u{FFFD}\u{FFFD}Bcc: x\u{FFFD} y"));
    assert!(Mailbox::new(m.name(), "e@example.org").is_ok());
    assert!(!m.to_header_value().contains(['\r', '\n']));
    // Group names and members too (raw control characters are refused).
    let a = Address::parse("=?utf-8?b?VGVhbQ0K?=: =?utf-8?q?a=07b?= <a@example.org>;").unwrap();
    let Address::Group(g) = a else { panic!() };
    assert_eq!(g.name(), "Team\u{FFFD}\u{FFFD}");
    assert_eq!(g.members()[0].name(), Some("a\u{FFFD}b"));
    assert!(Mailbox::parse("\"a\u{7}b\" <a@example.org>").is_err());
}

/// The splitmix64 candidates of `seed`, as the builder draws them.
fn candidate(seed: u64, counter: u64) -> String {
    let mut z = seed.wrapping_add(counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("=_wl{:016x}", z ^ (z >> 31))
}

#[test]
fn planted_boundary_candidates_are_skipped() {
    let seed = 42u64;
    let k = 1000u64;
    let mut body: String = (1..=k)
        .map(|c| format!("--{}\n", candidate(seed, c)))
        .collect();
    body.push_str("end\n");
    let wire = render(base().boundary_seed(seed).text(body).attachment(
        "application/octet-stream",
        "a.bin",
        &b"x"[..],
    ));
    // The first candidate not in the body, used for exactly the delimiters.
    let b = candidate(seed, k + 1);
    assert!(header(&wire, "Content-Type").contains(&format!("boundary=\"{b}\"")));
    assert_eq!(wire.matches(&format!("--{b}")).count(), 3);
}
