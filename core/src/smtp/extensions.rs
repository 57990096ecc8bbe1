//! EHLO capabilities (RFC 5321 §4.1.1.1 and the extension RFCs).

use super::auth::Mechanism;
use super::reply::Reply;

/// What a server advertised in its EHLO reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// The domain on the first line of the EHLO reply.
    pub domain: String,
    /// `SIZE` (RFC 1870): `Some(None)` without a limit (or `SIZE 0`),
    /// `Some(Some(n))` with a limit of `n` octets.
    pub size: Option<Option<u64>>,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `AUTH` mechanisms (RFC 4954) that wireloom knows, in advertised order.
    pub auth: Vec<Mechanism>,
    /// `AUTH` mechanism names wireloom does not implement.
    pub auth_other: Vec<String>,
    /// `CHUNKING` (RFC 3030).
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030).
    pub binary_mime: bool,
    /// `DSN` (RFC 3461).
    pub dsn: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// Every other keyword line, verbatim.
    pub other: Vec<String>,
}

impl Extensions {
    /// Parses a positive EHLO reply.
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        let mut lines = reply.lines.iter();
        if let Some(first) = lines.next() {
            ext.domain = first.split(' ').next().unwrap_or("").to_string();
        }
        for line in lines {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            // Old servers advertise `AUTH=PLAIN LOGIN`.
            let (keyword, first_param) = match keyword.split_once('=') {
                Some((k, p)) if k.eq_ignore_ascii_case("AUTH") => (k, Some(p)),
                _ => (keyword, None),
            };
            match keyword.to_ascii_uppercase().as_str() {
                "SIZE" => {
                    ext.size = Some(match words.next().and_then(|w| w.parse::<u64>().ok()) {
                        Some(0) | None => None,
                        Some(n) => Some(n),
                    })
                }
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "STARTTLS" => ext.starttls = true,
                "CHUNKING" => ext.chunking = true,
                "BINARYMIME" => ext.binary_mime = true,
                "DSN" => ext.dsn = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "AUTH" => {
                    for name in first_param.into_iter().chain(words) {
                        match Mechanism::from_name(name) {
                            Some(m) if !ext.auth.contains(&m) => ext.auth.push(m),
                            Some(_) => {}
                            None => ext.auth_other.push(name.to_string()),
                        }
                    }
                }
                _ => ext.other.push(line.clone()),
            }
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::ReplyParser;
    use bytes::BytesMut;

    #[test]
    fn parses_every_common_extension() {
        let mut buf = BytesMut::from(
            &b"250-mx.example greets you\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-PIPELINING\r\n\
250-AUTH LOGIN PLAIN XOAUTH2 CRAM-MD5 GSSAPI\r\n250-AUTH=LOGIN\r\n250-STARTTLS\r\n250-CHUNKING\r\n\
250-BINARYMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250-X-CUSTOM thing\r\n250 ENHANCEDSTATUSCODES\r\n"[..],
        );
        let reply = ReplyParser::default().parse(&mut buf).unwrap().unwrap();
        let e = Extensions::from_ehlo(&reply);
        assert_eq!(e.domain, "mx.example");
        assert_eq!(e.size, Some(Some(35882577)));
        assert!(e.eight_bit_mime && e.pipelining && e.starttls && e.chunking);
        assert!(e.binary_mime && e.dsn && e.smtputf8 && e.enhanced_status_codes);
        assert_eq!(
            e.auth,
            [
                Mechanism::Login,
                Mechanism::Plain,
                Mechanism::XOAuth2,
                Mechanism::CramMd5
            ]
        );
        assert_eq!(e.auth_other, ["GSSAPI"]);
        assert_eq!(e.other, ["X-CUSTOM thing"]);
    }

    #[test]
    fn size_without_limit_and_case() {
        let r = Reply {
            code: 250,
            enhanced: None,
            lines: vec![
                "d".into(),
                "size".into(),
                "pipelining".into(),
                "auth=plain".into(),
            ],
        };
        let e = Extensions::from_ehlo(&r);
        assert_eq!(e.size, Some(None));
        assert!(e.pipelining);
        assert_eq!(e.auth, [Mechanism::Plain]);
        assert!(!e.starttls);
    }
}
