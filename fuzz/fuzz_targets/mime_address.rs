//! The MIME address parser (RFC 5322 mailbox, group and address-list) on
//! arbitrary text: it never panics, and whatever it accepts is written
//! back by the builder's formatter as text that parses to the same
//! addresses, with no CR, LF or other control character in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wireloom_core::mime::address::format_address_list;
use wireloom_core::mime::{Address, Mailbox};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = Address::parse_list(text) {
        let written = format_address_list(&list);
        assert!(!written.chars().any(|c| c.is_control()), "{written:?}");
        let again = Address::parse_list(&written)
            .unwrap_or_else(|e| panic!("{text:?} wrote {written:?}, which fails: {e}"));
        assert_eq!(again, list, "{text:?} -> {written:?}");
    }
    if let Ok(a) = Address::parse(text) {
        let written = a.to_header_value();
        assert_eq!(
            Address::parse(&written).as_ref(),
            Ok(&a),
            "{text:?} -> {written:?}"
        );
    }
    if let Ok(m) = Mailbox::parse(text) {
        let written = m.to_header_value();
        assert_eq!(
            Mailbox::parse(&written).as_ref(),
            Ok(&m),
            "{text:?} -> {written:?}"
        );
        // The addr-spec is what goes into the SMTP envelope.
        let spec = m.addr_spec();
        assert!(
            !spec.chars().any(|c| c.is_control() || c == '<' || c == '>'),
            "{spec:?}"
        );
    }
});
