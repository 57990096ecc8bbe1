//! SASL mechanisms for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN,
//! CRAM-MD5 (RFC 2195) and XOAUTH2.
//!
//! Secrets never appear in `Debug` output: [`Credentials`] and
//! [`AuthAttempt`] redact them.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;

/// A SASL mechanism wireloom implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN`: user and password in one base64 blob.
    Plain,
    /// `LOGIN`: user and password in two base64 steps.
    Login,
    /// `CRAM-MD5`: HMAC-MD5 over a server challenge; the password is not sent.
    CramMd5,
    /// `XOAUTH2`: an OAuth 2.0 bearer token.
    XOAuth2,
}

impl Mechanism {
    /// The SASL name (`PLAIN`, `LOGIN`, `CRAM-MD5`, `XOAUTH2`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// Parses a SASL name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// True when the mechanism sends the secret itself (so it needs TLS).
    pub fn sends_secret(self) -> bool {
        !matches!(self, Mechanism::CramMd5)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Client credentials. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// User name and password (PLAIN, LOGIN, CRAM-MD5).
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// User name and OAuth 2.0 access token (XOAUTH2).
    OAuth2 {
        /// The user name (mail address).
        user: String,
        /// The bearer token.
        token: String,
    },
}

impl Credentials {
    /// Password credentials.
    pub fn password(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Password {
            user: user.into(),
            password: password.into(),
        }
    }

    /// OAuth 2.0 credentials.
    pub fn oauth2(user: impl Into<String>, token: impl Into<String>) -> Self {
        Credentials::OAuth2 {
            user: user.into(),
            token: token.into(),
        }
    }

    /// Mechanisms these credentials can drive, strongest first.
    pub fn mechanisms(&self) -> &'static [Mechanism] {
        match self {
            Credentials::Password { .. } => {
                &[Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login]
            }
            Credentials::OAuth2 { .. } => &[Mechanism::XOAuth2],
        }
    }

    fn user(&self) -> &str {
        match self {
            Credentials::Password { user, .. } | Credentials::OAuth2 { user, .. } => user,
        }
    }

    fn secret(&self) -> &str {
        match self {
            Credentials::Password { password, .. } => password,
            Credentials::OAuth2 { token, .. } => token,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::OAuth2 { user, .. } => f
                .debug_struct("OAuth2")
                .field("user", user)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// Base64 of `\0user\0password` (PLAIN initial response).
pub(crate) fn plain_response(c: &Credentials) -> String {
    B64.encode(format!("\0{}\0{}", c.user(), c.secret()))
}

/// Base64 of the XOAUTH2 initial response.
pub(crate) fn xoauth2_response(c: &Credentials) -> String {
    B64.encode(format!(
        "user={}\x01auth=Bearer {}\x01\x01",
        c.user(),
        c.secret()
    ))
}

pub(crate) fn b64(s: &str) -> String {
    B64.encode(s)
}

fn cram_digest(secret: &str, challenge: &[u8]) -> String {
    let mut mac =
        <Hmac<Md5> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(challenge);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// CRAM-MD5 answer to a base64 challenge, or `None` if the challenge is not
/// base64.
pub(crate) fn cram_md5_response(c: &Credentials, challenge_b64: &str) -> Option<String> {
    let challenge = B64.decode(challenge_b64.trim()).ok()?;
    Some(B64.encode(format!(
        "{} {}",
        c.user(),
        cram_digest(c.secret(), &challenge)
    )))
}

/// What a client presented to the server, for the application to verify.
/// `Debug` redacts secrets.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthAttempt {
    /// PLAIN or LOGIN: the password in clear.
    Password {
        /// Authorization identity (PLAIN only; empty when absent).
        authzid: String,
        /// Authentication identity (user name).
        user: String,
        /// The password.
        password: String,
    },
    /// CRAM-MD5: verify with [`AuthAttempt::verify_password`].
    CramMd5 {
        /// User name.
        user: String,
        /// The challenge the server sent (decoded).
        challenge: String,
        /// Lowercase hex HMAC-MD5 digest from the client.
        digest: String,
    },
    /// XOAUTH2: user and bearer token.
    OAuth2 {
        /// User name.
        user: String,
        /// Bearer token.
        token: String,
    },
}

impl AuthAttempt {
    /// The user name presented.
    pub fn user(&self) -> &str {
        match self {
            AuthAttempt::Password { user, .. }
            | AuthAttempt::CramMd5 { user, .. }
            | AuthAttempt::OAuth2 { user, .. } => user,
        }
    }

    /// True when this attempt proves knowledge of `password` (PLAIN, LOGIN,
    /// CRAM-MD5). Always false for XOAUTH2.
    pub fn verify_password(&self, password: &str) -> bool {
        match self {
            AuthAttempt::Password { password: p, .. } => ct_eq(p.as_bytes(), password.as_bytes()),
            AuthAttempt::CramMd5 {
                challenge, digest, ..
            } => ct_eq(
                cram_digest(password, challenge.as_bytes()).as_bytes(),
                digest.as_bytes(),
            ),
            AuthAttempt::OAuth2 { .. } => false,
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl fmt::Debug for AuthAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthAttempt::Password { authzid, user, .. } => f
                .debug_struct("Password")
                .field("authzid", authzid)
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            AuthAttempt::CramMd5 { user, .. } => f
                .debug_struct("CramMd5")
                .field("user", user)
                .field("digest", &"<redacted>")
                .finish(),
            AuthAttempt::OAuth2 { user, .. } => f
                .debug_struct("OAuth2")
                .field("user", user)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

pub(crate) fn decode_b64_utf8(s: &str) -> Option<String> {
    String::from_utf8(B64.decode(s.trim()).ok()?).ok()
}

/// Decodes a PLAIN response `authzid\0user\0password`.
pub(crate) fn decode_plain(s: &str) -> Option<AuthAttempt> {
    let raw = decode_b64_utf8(s)?;
    let mut parts = raw.split('\0');
    let authzid = parts.next()?.to_string();
    let user = parts.next()?.to_string();
    let password = parts.next()?.to_string();
    if parts.next().is_some() || user.is_empty() {
        return None;
    }
    Some(AuthAttempt::Password {
        authzid,
        user,
        password,
    })
}

/// Decodes an XOAUTH2 response.
pub(crate) fn decode_xoauth2(s: &str) -> Option<AuthAttempt> {
    let raw = decode_b64_utf8(s)?;
    let mut user = None;
    let mut token = None;
    for field in raw.split('\x01') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(a) = field.strip_prefix("auth=") {
            token = a
                .strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
                .map(str::to_string);
        }
    }
    Some(AuthAttempt::OAuth2 {
        user: user?,
        token: token?,
    })
}

/// Decodes a CRAM-MD5 response `user digest`.
pub(crate) fn decode_cram(s: &str, challenge: &str) -> Option<AuthAttempt> {
    let raw = decode_b64_utf8(s)?;
    let (user, digest) = raw.rsplit_once(' ')?;
    if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(AuthAttempt::CramMd5 {
        user: user.to_string(),
        challenge: challenge.to_string(),
        digest: digest.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials::password("alice", "hunter2");
        let d = format!("{c:?}");
        assert!(d.contains("alice") && !d.contains("hunter2"), "{d}");
        let t = Credentials::oauth2("alice", "ya29.secret");
        assert!(!format!("{t:?}").contains("ya29"));
        let a = decode_plain(&plain_response(&c)).unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(a.verify_password("hunter2"));
        assert!(!a.verify_password("hunter3"));
    }

    #[test]
    fn cram_md5_rfc2195_vector() {
        // RFC 2195 section 2 example.
        let c = Credentials::password("tim", "tanstaaftanstaaf");
        let challenge = B64.encode("<1896.697170952@postoffice.reston.mci.net>");
        let resp = cram_md5_response(&c, &challenge).unwrap();
        assert_eq!(
            decode_b64_utf8(&resp).unwrap(),
            "tim b913a602c7eda7a495b4e6e7334d3890"
        );
        let a = decode_cram(&resp, "<1896.697170952@postoffice.reston.mci.net>").unwrap();
        assert!(a.verify_password("tanstaaftanstaaf"));
        assert!(!a.verify_password("wrong"));
    }

    #[test]
    fn xoauth2_round_trip() {
        let c = Credentials::oauth2(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        let r = xoauth2_response(&c);
        assert_eq!(
            decode_b64_utf8(&r).unwrap(),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        match decode_xoauth2(&r).unwrap() {
            AuthAttempt::OAuth2 { user, token } => {
                assert_eq!(user, "someuser@example.com");
                assert!(token.starts_with("ya29."));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_rejects_garbage() {
        assert!(decode_plain("!!!").is_none());
        assert!(decode_plain(&B64.encode("no-nul")).is_none());
        assert!(decode_plain(&B64.encode("\0\0pw")).is_none());
        assert_eq!(Mechanism::from_name("cram-md5"), Some(Mechanism::CramMd5));
    }
}
