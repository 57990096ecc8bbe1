//! SMTP commands (RFC 5321 §4.1): parsing on the server side.
//!
//! Verbs are case-insensitive. Paths must be in angle brackets with no space
//! after the colon (`MAIL FROM:<a@b> SIZE=10`), parameters are
//! `KEYWORD[=VALUE]` separated by single or multiple spaces.

use std::fmt;

/// A parsed command line (without its CRLF).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> params`; an empty path is the null sender `<>`.
    Mail {
        /// The reverse path without brackets (source route removed).
        from: String,
        /// `KEYWORD[=VALUE]` parameters; keywords upper-cased.
        params: Vec<(String, Option<String>)>,
    },
    /// `RCPT TO:<path> params`.
    Rcpt {
        /// The forward path without brackets (source route removed).
        to: String,
        /// `KEYWORD[=VALUE]` parameters; keywords upper-cased.
        params: Vec<(String, Option<String>)>,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// Octets of data that follow the command line.
        size: u64,
        /// This is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `VRFY string`.
    Vrfy(String),
    /// `EXPN string`.
    Expn(String),
    /// `HELP [string]`.
    Help,
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The initial response (`=` means empty), if given.
        initial: Option<String>,
    },
}

/// Why a command line was refused; each maps to a reply code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// Unknown verb (500 5.5.1).
    Unrecognized,
    /// Known verb with bad arguments (501 5.5.4), with a reason.
    Syntax(&'static str),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unrecognized => f.write_str("command unrecognized"),
            CommandError::Syntax(s) => write!(f, "syntax error: {s}"),
        }
    }
}

impl std::error::Error for CommandError {}

/// Parses one command line (without CRLF).
pub fn parse_command(line: &str) -> Result<Command, CommandError> {
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let upper = verb.to_ascii_uppercase();
    let no_args = |c: Command| {
        if rest.trim().is_empty() {
            Ok(c)
        } else {
            Err(CommandError::Syntax("no parameters allowed"))
        }
    };
    match upper.as_str() {
        "EHLO" | "HELO" => {
            let domain = rest.trim();
            if domain.is_empty() || domain.contains(char::is_whitespace) {
                return Err(CommandError::Syntax(
                    "expected one domain or address literal",
                ));
            }
            Ok(if upper == "EHLO" {
                Command::Ehlo(domain.to_string())
            } else {
                Command::Helo(domain.to_string())
            })
        }
        "MAIL" => {
            let (from, params) = parse_path_and_params(rest, "FROM:")?;
            Ok(Command::Mail { from, params })
        }
        "RCPT" => {
            let (to, params) = parse_path_and_params(rest, "TO:")?;
            if to.is_empty() {
                return Err(CommandError::Syntax("empty forward path"));
            }
            Ok(Command::Rcpt { to, params })
        }
        "DATA" => no_args(Command::Data),
        "RSET" => no_args(Command::Rset),
        "QUIT" => no_args(Command::Quit),
        "STARTTLS" => no_args(Command::StartTls),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" | "EXPN" => {
            let arg = rest.trim();
            if arg.is_empty() {
                return Err(CommandError::Syntax("argument required"));
            }
            Ok(if upper == "VRFY" {
                Command::Vrfy(arg.to_string())
            } else {
                Command::Expn(arg.to_string())
            })
        }
        "BDAT" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let size = words
                .next()
                .filter(|w| !w.is_empty() && w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|w| w.parse::<u64>().ok())
                .ok_or(CommandError::Syntax("BDAT needs a chunk size"))?;
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(CommandError::Syntax("expected LAST")),
            };
            if words.next().is_some() {
                return Err(CommandError::Syntax("too many BDAT parameters"));
            }
            Ok(Command::Bdat { size, last })
        }
        "AUTH" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let mechanism = words
                .next()
                .ok_or(CommandError::Syntax("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(CommandError::Syntax("too many AUTH parameters"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => Err(CommandError::Unrecognized),
    }
}

type Params = Vec<(String, Option<String>)>;

fn parse_path_and_params(rest: &str, prefix: &str) -> Result<(String, Params), CommandError> {
    // `get`, not indexing: the line may hold multi-byte characters.
    if !rest
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    {
        return Err(CommandError::Syntax("expected FROM:<path> / TO:<path>"));
    }
    let rest = &rest[prefix.len()..];
    let inner = rest
        .strip_prefix('<')
        .ok_or(CommandError::Syntax("path must be in angle brackets"))?;
    let close = inner
        .find('>')
        .ok_or(CommandError::Syntax("unterminated path"))?;
    let mut path = &inner[..close];
    let after = &inner[close + 1..];
    // Drop an RFC 5321 source route `@a,@b:`.
    if path.starts_with('@') {
        let colon = path
            .find(':')
            .ok_or(CommandError::Syntax("bad source route"))?;
        path = &path[colon + 1..];
    }
    if !after.is_empty() && !after.starts_with(' ') {
        return Err(CommandError::Syntax("junk after path"));
    }
    let mut params = Vec::new();
    for word in after.split(' ').filter(|w| !w.is_empty()) {
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (word, None),
        };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CommandError::Syntax("bad parameter keyword"));
        }
        params.push((k.to_ascii_uppercase(), v));
    }
    Ok((path.to_string(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_case_insensitively() {
        assert_eq!(
            parse_command("ehlo client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(
            parse_command("mail from:<a@b> size=100 BODY=8BITMIME smtputf8"),
            Ok(Command::Mail {
                from: "a@b".into(),
                params: vec![
                    ("SIZE".into(), Some("100".into())),
                    ("BODY".into(), Some("8BITMIME".into())),
                    ("SMTPUTF8".into(), None)
                ]
            })
        );
        assert_eq!(
            parse_command("MAIL FROM:<>"),
            Ok(Command::Mail {
                from: "".into(),
                params: vec![]
            })
        );
        assert_eq!(
            parse_command("RCPT TO:<@relay.example,@r2.example:u@d.example>"),
            Ok(Command::Rcpt {
                to: "u@d.example".into(),
                params: vec![]
            })
        );
        assert_eq!(
            parse_command("BDAT 100 last"),
            Ok(Command::Bdat {
                size: 100,
                last: true
            })
        );
        assert_eq!(
            parse_command("AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            })
        );
        assert_eq!(parse_command("QuIt"), Ok(Command::Quit));
    }

    #[test]
    fn refuses_bad_syntax() {
        assert_eq!(parse_command("FOO"), Err(CommandError::Unrecognized));
        assert_eq!(parse_command(""), Err(CommandError::Unrecognized));
        for bad in [
            "MAIL FROM:a@b",
            "MAIL FROM: <a@b>",
            "MAIL TO:<a@b>",
            "MAIL FROM:<a@b",
            "MAIL FROM:<a@b>x",
            "RCPT TO:<>",
            "DATA now",
            "EHLO",
            "BDAT",
            "BDAT x",
            "BDAT 1 FIRST",
            "AUTH",
            "VRFY",
            "MAIL FROM:<a@b> =x",
            "MAIL FROM\u{f6}:<a@b>",
            "RCPT T\u{f6}:<a@b>",
        ] {
            assert!(
                matches!(parse_command(bad), Err(CommandError::Syntax(_))),
                "{bad}"
            );
        }
    }
}
