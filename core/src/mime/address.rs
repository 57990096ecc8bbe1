//! Header addresses (RFC 5322 §3.4): mailboxes `Name <local@domain>`,
//! groups `Team: a@x, b@y;`, display names with RFC 2047 encoded-words,
//! quoted local parts `"john doe"@x`.
//!
//! Parsing is strict about what could smuggle a header (CR and LF are
//! [`MimeError::HeaderInjection`]) and about the address itself (the
//! addr-spec must also pass the SMTP envelope check,
//! [`crate::smtp::address::validate_mailbox`], so that
//! whatever is in a header can be used in the envelope). Display names are
//! decoded: `=?utf-8?q?J=C3=B6rg?= <j@x>` parses to the name `Jörg`.

use std::fmt;
use std::str::FromStr;

use super::header::{check_text, decode_phrase, encode_words};
use super::MimeError;
use crate::smtp::address::validate_mailbox;

/// A mailbox: an optional display name and an address `local@domain`.
///
/// The local part is kept unquoted (`john doe` for `"john doe"@x`); it is
/// quoted again when formatted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    local: String,
    domain: String,
}

/// A group: a display name and zero or more mailboxes (`Team: a@x, b@y;`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    name: String,
    members: Vec<Mailbox>,
}

/// One entry of an address list: a mailbox or a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// A named group of mailboxes.
    Group(Group),
}

fn invalid(input: &str, reason: &'static str) -> MimeError {
    MimeError::InvalidAddress {
        input: input.to_owned(),
        reason,
    }
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.bytes().all(is_atext))
}

impl Mailbox {
    /// A mailbox from an optional display name and an address
    /// (`local@domain`, the local part possibly quoted: `"john doe"@x`).
    /// The display name may be any text without control characters.
    pub fn new(name: Option<&str>, address: &str) -> Result<Mailbox, MimeError> {
        if let Some(n) = name {
            check_text("display name", n)?;
        }
        check_text("address", address)?;
        let mut p = Parser::new(address);
        let (local, domain) = p.addr_spec()?;
        p.skip_cfws()?;
        if !p.at_end() {
            return Err(invalid(address, "unexpected text after the address"));
        }
        Mailbox::from_parts(
            name.filter(|n| !n.is_empty()).map(str::to_owned),
            local,
            domain,
            address,
        )
    }

    fn from_parts(
        name: Option<String>,
        local: String,
        domain: String,
        input: &str,
    ) -> Result<Mailbox, MimeError> {
        if local.is_empty() {
            return Err(invalid(input, "empty local part"));
        }
        if !local.is_ascii() || !domain.is_ascii() {
            return Err(invalid(input, "non-ASCII addresses are not supported"));
        }
        if let Some(c) = local.chars().find(|&c| c.is_ascii_control() && c != '\t') {
            let _ = c;
            return Err(invalid(input, "control character in the local part"));
        }
        let m = Mailbox {
            name,
            local,
            domain,
        };
        validate_mailbox(&m.addr_spec(), false).map_err(|e| MimeError::InvalidAddress {
            input: input.to_owned(),
            reason: match e {
                crate::smtp::address::AddressError::TooLong => "address too long",
                crate::smtp::address::AddressError::InvalidCharacter(_) => {
                    "invalid character in the address"
                }
                _ => "malformed address",
            },
        })?;
        Ok(m)
    }

    /// Parses `Name <local@domain>`, `<local@domain>` or `local@domain`
    /// (comments allowed, encoded-words in the name decoded).
    pub fn parse(s: &str) -> Result<Mailbox, MimeError> {
        match Address::parse(s)? {
            Address::Mailbox(m) => Ok(m),
            Address::Group(_) => Err(invalid(s, "a group where a mailbox was expected")),
        }
    }

    /// The display name, decoded.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The local part, unquoted.
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `local@domain`, with the local part quoted when it is not a
    /// dot-atom. This is the form for the SMTP envelope.
    pub fn addr_spec(&self) -> String {
        let mut s = String::with_capacity(self.local.len() + self.domain.len() + 3);
        if is_dot_atom(&self.local) {
            s.push_str(&self.local);
        } else {
            push_quoted(&mut s, &self.local);
        }
        s.push('@');
        s.push_str(&self.domain);
        s
    }

    /// The header form, ASCII only: `Name <local@domain>` with the name as
    /// atoms, a quoted-string or encoded-words; `local@domain` when there
    /// is no name.
    pub fn to_header_value(&self) -> String {
        match &self.name {
            None => self.addr_spec(),
            Some(n) => format!("{} <{}>", format_phrase(n), self.addr_spec()),
        }
    }
}

impl Group {
    /// A group (an empty member list is allowed:
    /// `undisclosed-recipients:;`).
    pub fn new(name: &str, members: Vec<Mailbox>) -> Result<Group, MimeError> {
        check_text("group name", name)?;
        if name.trim().is_empty() {
            return Err(invalid(name, "empty group name"));
        }
        Ok(Group {
            name: name.to_owned(),
            members,
        })
    }

    /// The group's display name, decoded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members.
    pub fn members(&self) -> &[Mailbox] {
        &self.members
    }

    /// The header form: `Name: a@x, B <b@y>;`.
    pub fn to_header_value(&self) -> String {
        let mut s = format_phrase(&self.name);
        // RFC 2047 §5: an encoded-word is separated from a special by
        // whitespace.
        if s.ends_with("?=") {
            s.push(' ');
        }
        s.push(':');
        for (i, m) in self.members.iter().enumerate() {
            s.push_str(if i == 0 { " " } else { ", " });
            s.push_str(&m.to_header_value());
        }
        s.push(';');
        s
    }
}

impl Address {
    /// Parses one address (mailbox or group).
    pub fn parse(s: &str) -> Result<Address, MimeError> {
        let mut list = Address::parse_list(s)?;
        if list.len() != 1 {
            return Err(invalid(s, "expected exactly one address"));
        }
        Ok(list.remove(0))
    }

    /// Parses an address list (`a@x, B <b@y>, Team: c@z;`). The input must
    /// be unfolded: CR and LF are refused.
    pub fn parse_list(s: &str) -> Result<Vec<Address>, MimeError> {
        check_text("address", s)?;
        let mut p = Parser::new(s);
        let mut out = Vec::new();
        loop {
            p.skip_cfws()?;
            if p.at_end() {
                break;
            }
            if p.eat(b',') {
                continue;
            }
            out.push(p.address()?);
            p.skip_cfws()?;
            if !p.at_end() && !p.eat(b',') {
                return Err(invalid(s, "expected `,` between addresses"));
            }
        }
        if out.is_empty() {
            return Err(invalid(s, "no address"));
        }
        Ok(out)
    }

    /// The mailboxes: itself, or a group's members.
    pub fn mailboxes(&self) -> &[Mailbox] {
        match self {
            Address::Mailbox(m) => std::slice::from_ref(m),
            Address::Group(g) => &g.members,
        }
    }

    /// The header form (ASCII).
    pub fn to_header_value(&self) -> String {
        match self {
            Address::Mailbox(m) => m.to_header_value(),
            Address::Group(g) => g.to_header_value(),
        }
    }
}

/// Formats an address list for a header value: entries joined by `, `.
pub fn format_address_list(list: &[Address]) -> String {
    let mut s = String::new();
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&a.to_header_value());
    }
    s
}

fn push_quoted(s: &mut String, text: &str) {
    s.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
}

/// Longest atom or quoted-string written as is in a display name: a
/// quoted-string cannot be folded inside, so a longer one (or a longer
/// atom) is sent as encoded-words, which fold between words.
const MAX_RAW_PHRASE_WORD: usize = 70;

/// A display name as a phrase: atoms when possible, a quoted-string for
/// other printable ASCII, encoded-words for anything else or when an atom
/// or the quoted-string would be longer than 70 characters.
fn format_phrase(name: &str) -> String {
    let ascii = name.bytes().all(|b| (32..=126).contains(&b));
    if ascii && !name.contains("=?") {
        let atoms = name
            .split(' ')
            .all(|w| !w.is_empty() && w.len() <= MAX_RAW_PHRASE_WORD && w.bytes().all(is_atext));
        if atoms {
            return name.to_owned();
        }
        let mut s = String::new();
        push_quoted(&mut s, name);
        if s.len() <= MAX_RAW_PHRASE_WORD {
            return s;
        }
    }
    encode_words(name, 60, 60).join(" ")
}

/// A parsed display name, decoded, with every control character (which
/// an encoded-word or quoted-pair can carry: CR, LF, NUL, TAB...) replaced
/// by U+FFFD (TAB by a space), so that it is as safe as one given to [`Mailbox::new`].
fn display_name(words: &[(String, bool)]) -> String {
    decode_phrase(words)
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

impl fmt::Display for Mailbox {
    /// The header form (see [`Mailbox::to_header_value`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl FromStr for Mailbox {
    type Err = MimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mailbox::parse(s)
    }
}

impl FromStr for Address {
    type Err = MimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl From<Mailbox> for Address {
    fn from(m: Mailbox) -> Self {
        Address::Mailbox(m)
    }
}

impl From<Group> for Address {
    fn from(g: Group) -> Self {
        Address::Group(g)
    }
}

/// Recursive-descent parser over the RFC 5322 address grammar (with the
/// obsolete dots in phrases).
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn err(&self, reason: &'static str) -> MimeError {
        invalid(self.s, reason)
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace and (nested) comments.
    fn skip_cfws(&mut self) -> Result<(), MimeError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.i += 1,
                Some(b'(') => {
                    let mut depth = 0;
                    loop {
                        match self.peek() {
                            None => return Err(self.err("unterminated comment")),
                            Some(b'\\') => self.i += 2,
                            Some(b'(') => {
                                depth += 1;
                                self.i += 1;
                            }
                            Some(b')') => {
                                depth -= 1;
                                self.i += 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn quoted_string(&mut self) -> Result<String, MimeError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = String::new();
        let start = self.i;
        let mut seg = start;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => {
                    out.push_str(&self.s[seg..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.s[seg..self.i]);
                    self.i += 1;
                    let c = self.s[self.i..]
                        .chars()
                        .next()
                        .ok_or_else(|| self.err("unterminated quoted string"))?;
                    out.push(c);
                    self.i += c.len_utf8();
                    seg = self.i;
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// atext (non-ASCII allowed, RFC 6532) and, when `dots`, `.`.
    fn atom(&mut self, dots: bool) -> &'a str {
        let start = self.i;
        while let Some(b) = self.peek() {
            if is_atext(b) || b >= 0x80 || (dots && b == b'.') {
                self.i += 1;
            } else {
                break;
            }
        }
        &self.s[start..self.i]
    }

    /// Words of a phrase: (text, was an atom).
    fn phrase(&mut self) -> Result<Vec<(String, bool)>, MimeError> {
        let mut words = Vec::new();
        loop {
            self.skip_cfws()?;
            match self.peek() {
                Some(b'"') => words.push((self.quoted_string()?, false)),
                Some(b) if is_atext(b) || b >= 0x80 || b == b'.' => {
                    words.push((self.atom(true).to_owned(), true));
                }
                _ => return Ok(words),
            }
        }
    }

    fn addr_spec(&mut self) -> Result<(String, String), MimeError> {
        self.skip_cfws()?;
        let local = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            let a = self.atom(true);
            if !is_dot_atom(a) {
                return Err(self.err("malformed local part"));
            }
            a.to_owned()
        };
        self.skip_cfws()?;
        if !self.eat(b'@') {
            return Err(self.err("missing `@`"));
        }
        self.skip_cfws()?;
        let domain = if self.peek() == Some(b'[') {
            let start = self.i;
            while let Some(b) = self.peek() {
                self.i += 1;
                if b == b']' {
                    break;
                }
            }
            if !self.s[start..self.i].ends_with(']') {
                return Err(self.err("unterminated domain literal"));
            }
            self.s[start..self.i].to_owned()
        } else {
            let d = self.atom(true);
            if !is_dot_atom(d) {
                return Err(self.err("malformed domain"));
            }
            d.to_owned()
        };
        Ok((local, domain))
    }

    fn angle_addr(&mut self, name: Option<String>) -> Result<Mailbox, MimeError> {
        debug_assert_eq!(self.peek(), Some(b'<'));
        self.i += 1;
        let (local, domain) = self.addr_spec()?;
        self.skip_cfws()?;
        if !self.eat(b'>') {
            return Err(self.err("missing `>`"));
        }
        Mailbox::from_parts(name.filter(|n| !n.is_empty()), local, domain, self.s)
    }

    fn mailbox(&mut self) -> Result<Mailbox, MimeError> {
        self.skip_cfws()?;
        let start = self.i;
        let words = self.phrase()?;
        self.skip_cfws()?;
        if self.peek() == Some(b'<') {
            return self.angle_addr(Some(display_name(&words)));
        }
        self.i = start;
        let (local, domain) = self.addr_spec()?;
        Mailbox::from_parts(None, local, domain, self.s)
    }

    fn address(&mut self) -> Result<Address, MimeError> {
        let start = self.i;
        let words = self.phrase()?;
        self.skip_cfws()?;
        match self.peek() {
            Some(b'<') => Ok(Address::Mailbox(
                self.angle_addr(Some(display_name(&words)))?,
            )),
            Some(b':') if !words.is_empty() => {
                self.i += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_cfws()?;
                    match self.peek() {
                        Some(b';') => {
                            self.i += 1;
                            break;
                        }
                        Some(b',') => self.i += 1,
                        None => return Err(self.err("group without `;`")),
                        Some(_) => members.push(self.mailbox()?),
                    }
                }
                Ok(Address::Group(Group {
                    name: display_name(&words),
                    members,
                }))
            }
            _ => {
                self.i = start;
                self.mailbox().map(Address::Mailbox)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(s: &str) -> Mailbox {
        Mailbox::parse(s).unwrap()
    }

    #[test]
    fn parses_mailboxes() {
        let m = mb("John Smith <john.smith@example.com>");
        assert_eq!(m.name(), Some("John Smith"));
        assert_eq!(m.addr_spec(), "john.smith@example.com");
        let m = mb("  <a@b.example> ");
        assert_eq!(m.name(), None);
        let m = mb("a@b.example (comment)");
        assert_eq!((m.local_part(), m.domain()), ("a", "b.example"));
        let m = mb("\"Smith, John\" <j@x.example>");
        assert_eq!(m.name(), Some("Smith, John"));
        let m = mb("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?= <j@x.example>");
        assert_eq!(m.name(), Some("Jörg Müller"));
        let m = mb("Mr. J. Doe <d@x.example>");
        assert_eq!(m.name(), Some("Mr. J. Doe"));
        let m = mb("\"john doe\"@x.example");
        assert_eq!(m.local_part(), "john doe");
        assert_eq!(m.addr_spec(), "\"john doe\"@x.example");
        let m = mb("x@[192.0.2.1]");
        assert_eq!(m.domain(), "[192.0.2.1]");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "a",
            "a@",
            "@b",
            "a..b@c",
            "a@b..c",
            "<a@b",
            "a@b>",
            "a b@c",
            "Name <a@b> x",
            "ä@b.example",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Mailbox::parse("a@b\r\nBcc: evil@x"),
            Err(MimeError::HeaderInjection {
                field: "address".into()
            })
        );
        assert!(matches!(
            Mailbox::new(Some("Eve\nBcc: x@y"), "a@b.example"),
            Err(MimeError::HeaderInjection { .. })
        ));
    }

    #[test]
    fn formats_mailboxes() {
        let m = Mailbox::new(Some("John Smith"), "j@x.example").unwrap();
        assert_eq!(m.to_header_value(), "John Smith <j@x.example>");
        let m = Mailbox::new(Some("Smith, John"), "j@x.example").unwrap();
        assert_eq!(m.to_header_value(), "\"Smith, John\" <j@x.example>");
        let m = Mailbox::new(Some("a \"q\" \\"), "j@x.example").unwrap();
        assert_eq!(m.to_header_value(), r#""a \"q\" \\" <j@x.example>"#);
        let m = Mailbox::new(Some("Jörg"), "\"john doe\"@x.example").unwrap();
        assert_eq!(
            m.to_header_value(),
            "=?utf-8?b?SsO2cmc=?= <\"john doe\"@x.example>"
        );
        assert_eq!(
            Mailbox::new(None, "a@b.example").unwrap().to_header_value(),
            "a@b.example"
        );
        // Round trips.
        for name in [
            "Jörg Müller",
            "Smith, John",
            "a \"q\" \\",
            "=?not encoded?=",
            "日本 語",
        ] {
            let m = Mailbox::new(Some(name), "\"x y\"@b.example").unwrap();
            assert_eq!(Mailbox::parse(&m.to_header_value()).unwrap(), m, "{name}");
        }
    }

    #[test]
    fn groups() {
        let list = Address::parse_list("Team: a@x.example, B <b@y.example>;, c@z.example, Empty:;")
            .unwrap();
        assert_eq!(list.len(), 3);
        match &list[0] {
            Address::Group(g) => {
                assert_eq!(g.name(), "Team");
                assert_eq!(g.members().len(), 2);
                assert_eq!(g.members()[1].name(), Some("B"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(list[1].mailboxes()[0].addr_spec(), "c@z.example");
        let g = Group::new("Équipe", list[0].mailboxes().to_vec()).unwrap();
        let text = g.to_header_value();
        assert_eq!(
            text,
            "=?utf-8?q?=C3=89quipe?= : a@x.example, B <b@y.example>;"
        );
        assert_eq!(Address::parse(&text).unwrap(), Address::Group(g));
        assert_eq!(
            format_address_list(&list),
            "Team: a@x.example, B <b@y.example>;, c@z.example, Empty:;"
        );
        assert!(Address::parse_list("Team: a@x.example").is_err());
    }
}
