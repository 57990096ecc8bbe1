//! Envelope addresses (RFC 5321 §4.1.2 `Mailbox`, RFC 6531 for UTF-8).
//!
//! Both dialogues validate every address before it reaches the wire or the
//! application: CR, LF, `<`, `>`, controls, spaces outside a quoted local
//! part and other characters the grammar does not allow are refused.

use std::fmt;

/// Why an envelope address was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// Empty address, or no `@`.
    Malformed,
    /// A character the grammar does not allow (CR, LF, `<`, `>`, controls...).
    InvalidCharacter(char),
    /// Local part over 64 octets or path over 256 octets.
    TooLong,
    /// Non-ASCII characters while SMTPUTF8 is not in use.
    NeedsSmtputf8,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Malformed => f.write_str("malformed address"),
            AddressError::InvalidCharacter(c) => write!(f, "invalid character {c:?} in address"),
            AddressError::TooLong => f.write_str("address too long"),
            AddressError::NeedsSmtputf8 => f.write_str("non-ASCII address needs SMTPUTF8"),
        }
    }
}

impl std::error::Error for AddressError {}

fn is_atext(c: char, utf8: bool) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (utf8 && !c.is_ascii() && !c.is_control())
}

/// Validates a mailbox `local@domain` (without angle brackets). With
/// `allow_utf8` false, any non-ASCII character gives
/// [`AddressError::NeedsSmtputf8`].
pub fn validate_mailbox(addr: &str, allow_utf8: bool) -> Result<(), AddressError> {
    // Characters that are never allowed anywhere, checked first so the
    // error names them.
    for c in addr.chars() {
        if c == '\r' || c == '\n' || c == '<' || c == '>' || c.is_control() {
            return Err(AddressError::InvalidCharacter(c));
        }
    }
    if !allow_utf8 && !addr.is_ascii() {
        return Err(AddressError::NeedsSmtputf8);
    }
    if addr.len() > 254 {
        return Err(AddressError::TooLong);
    }
    let at = addr.rfind('@').ok_or(AddressError::Malformed)?;
    let (local, domain) = (&addr[..at], &addr[at + 1..]);
    if local.is_empty() || domain.is_empty() {
        return Err(AddressError::Malformed);
    }
    if local.len() > 64 {
        return Err(AddressError::TooLong);
    }
    validate_local(local, allow_utf8)?;
    validate_domain(domain, allow_utf8)
}

fn validate_local(local: &str, utf8: bool) -> Result<(), AddressError> {
    if let Some(inner) = local.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or(AddressError::Malformed)?;
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) if (' '..='~').contains(&e) => {}
                    Some(e) => return Err(AddressError::InvalidCharacter(e)),
                    None => return Err(AddressError::Malformed),
                },
                '"' => return Err(AddressError::InvalidCharacter('"')),
                c if (' '..='~').contains(&c) || (utf8 && !c.is_ascii()) => {}
                c => return Err(AddressError::InvalidCharacter(c)),
            }
        }
        return Ok(());
    }
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err(AddressError::Malformed);
        }
        if let Some(c) = atom.chars().find(|&c| !is_atext(c, utf8)) {
            return Err(AddressError::InvalidCharacter(c));
        }
    }
    Ok(())
}

fn validate_domain(domain: &str, utf8: bool) -> Result<(), AddressError> {
    if let Some(lit) = domain.strip_prefix('[') {
        let lit = lit.strip_suffix(']').ok_or(AddressError::Malformed)?;
        if lit.is_empty() {
            return Err(AddressError::Malformed);
        }
        if let Some(c) = lit
            .chars()
            .find(|&c| !(('!'..='~').contains(&c) && c != '[' && c != ']' && c != '\\'))
        {
            return Err(AddressError::InvalidCharacter(c));
        }
        return Ok(());
    }
    if domain.len() > 253 {
        return Err(AddressError::TooLong);
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(AddressError::Malformed);
        }
        if let Some(c) = label.chars().find(|&c| {
            !(c.is_ascii_alphanumeric() || c == '-' || (utf8 && !c.is_ascii() && !c.is_control()))
        }) {
            return Err(AddressError::InvalidCharacter(c));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::InvalidCharacter('-'));
        }
    }
    Ok(())
}

/// Validates a forward path for RCPT TO: a mailbox, or the special
/// `postmaster` (any case) without a domain.
pub fn validate_forward_path(addr: &str, allow_utf8: bool) -> Result<(), AddressError> {
    if addr.eq_ignore_ascii_case("postmaster") {
        return Ok(());
    }
    validate_mailbox(addr, allow_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for a in [
            "a@b.example",
            "first.last+tag@sub.example.org",
            "\"quoted local\"@example.com",
            "\"a\\\"b\"@example.com",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "x!#$%&'*+-/=?^_`{|}~@d-1.example",
        ] {
            assert_eq!(validate_mailbox(a, false), Ok(()), "{a}");
        }
        assert_eq!(validate_mailbox("jörg@bücher.example", true), Ok(()));
        assert_eq!(validate_forward_path("Postmaster", false), Ok(()));
    }

    #[test]
    fn refuses_injection_and_garbage() {
        use AddressError::*;
        let cases: &[(&str, AddressError)] = &[
            ("a@b\r\nRCPT TO:<x@y>", InvalidCharacter('\r')),
            ("a@b\nDATA", InvalidCharacter('\n')),
            ("a@b>", InvalidCharacter('>')),
            ("<a@b", InvalidCharacter('<')),
            ("a b@c", InvalidCharacter(' ')),
            ("a@b c", InvalidCharacter(' ')),
            ("a@b\0", InvalidCharacter('\0')),
            ("ab", Malformed),
            ("@b", Malformed),
            ("a@", Malformed),
            ("a..b@c", Malformed),
            ("a@b..c", Malformed),
            ("a@-b", InvalidCharacter('-')),
            ("a@b_c", InvalidCharacter('_')),
            ("a,b@c", InvalidCharacter(',')),
            ("jörg@example.com", NeedsSmtputf8),
            ("\"a\"b\"@c", InvalidCharacter('"')),
            ("a@[1.2\\]", InvalidCharacter('\\')),
        ];
        for (a, e) in cases {
            assert_eq!(validate_mailbox(a, false).as_ref(), Err(e), "{a:?}");
        }
        let long_local = format!("{}@b", "a".repeat(65));
        assert_eq!(validate_mailbox(&long_local, false), Err(TooLong));
    }
}
