//! The SMTP envelope address validator on arbitrary text: it never panics,
//! what it accepts can never inject a command (no CR, LF, `<`, `>`, control
//! or unquoted space) and has an `@` with both sides non-empty (or is
//! `postmaster`), what it accepts without SMTPUTF8 is ASCII and is also
//! accepted with it, and the size limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wireloom_core::smtp::address::{validate_forward_path, validate_mailbox, AddressError};

fuzz_target!(|data: &[u8]| {
    let Ok(addr) = std::str::from_utf8(data) else {
        return;
    };
    for utf8 in [false, true] {
        let mailbox = validate_mailbox(addr, utf8);
        let forward = validate_forward_path(addr, utf8);
        if mailbox.is_ok() {
            assert!(forward.is_ok());
            assert!(
                !addr.chars().any(|c| c.is_control() || c == '<' || c == '>'),
                "{addr:?}"
            );
            let (local, domain) = addr.rsplit_once('@').expect("an @");
            assert!(!local.is_empty() && !domain.is_empty(), "{addr:?}");
            assert!(local.len() <= 64 && addr.len() <= 254, "{addr:?}");
            if !local.starts_with('"') {
                assert!(!local.contains(' '), "{addr:?}");
            }
            assert!(!domain.contains(' '), "{addr:?}");
            if !utf8 {
                assert!(addr.is_ascii());
                assert_eq!(validate_mailbox(addr, true), Ok(()));
            }
        } else if forward.is_ok() {
            assert!(addr.eq_ignore_ascii_case("postmaster"), "{addr:?}");
        }
        if let Err(AddressError::InvalidCharacter(c)) = mailbox {
            assert!(addr.contains(c));
        }
    }
});
