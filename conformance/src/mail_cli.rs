//! `wireloom-conformance mail-render SPEC.json`: builds a message with
//! wireloom-core's MIME builder from a JSON description and writes the
//! rendered bytes to stdout (streamed, chunk by chunk).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};
use wireloom_core::mime::header::days_from_civil;
use wireloom_core::mime::{generate_message_id, Message, MessageBuilder};

/// Details shown after the flags by `mail-render --help`.
const DETAILS: &str = "\
Builds a message from a JSON description and writes the rendered bytes
(CRLF line endings) to stdout. SPEC.json may be `-` for stdin. Keys:

  from, sender, reply_to, to, cc, bcc
                 an address list as a string (\"A <a@x>, Team: b@y;\"),
                 or an array of such strings. from is required; bcc only
                 feeds the envelope and is never written.
  subject        string (non-ASCII is encoded as RFC 2047 words)
  date           RFC 3339 string (\"2026-12-02T01:40:17Z\", offsets allowed)
                 or unix seconds (integer); default: now
  message_id     string, with or without <>; or false for no Message-ID.
                 default: <RANDOM@HOST>, 128 bits from the OS random
                 source and this machine's host name (set message_id for
                 reproducible output)
  message_id_host
                 the HOST of the default Message-ID instead
  text, html     strings (both: multipart/alternative)
  attachments    array of {\"path\" | \"base64\", \"content_type\", \"filename\"};
                 content_type defaults to application/octet-stream and
                 filename to the path's file name
  inline         array of {\"content_id\", \"path\" | \"base64\", \"content_type\"}
  headers        array of [name, value]
  allow_8bit     bool (default false)
  boundary_seed  integer, for reproducible boundaries (default: derived
                 from the headers, so the output is deterministic when
                 date and message_id are given)

Unknown keys, a malformed value, or a CR/LF in any header text (header
injection) print an error to stderr and exit 1; usage errors exit 2.
";

/// `wireloom-conformance mail-render`.
#[derive(clap::Args)]
#[command(after_help = DETAILS)]
pub struct Args {
    /// The message description (`-`: standard input); the keys are below.
    #[arg(value_name = "SPEC.json")]
    spec: String,
}

/// `mail-render`.
pub fn run(args: Args) -> ExitCode {
    let path = &args.spec;
    let spec = if path == "-" {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read(path)
    };
    let spec = match spec {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mail-render: cannot read {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let message = match serde_json::from_slice::<Value>(&spec)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(|v| build(&v))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mail-render: {e}");
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for chunk in message.render() {
        if let Err(e) = out.write_all(&chunk) {
            eprintln!("mail-render: write error: {e}");
            return ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

const KEYS: &[&str] = &[
    "from",
    "sender",
    "reply_to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message_id",
    "message_id_host",
    "text",
    "html",
    "attachments",
    "inline",
    "headers",
    "allow_8bit",
    "boundary_seed",
];

fn str_of<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("{what} must be a string"))
}

fn address_lists(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| str_of(x, key).map(str::to_owned))
            .collect(),
        _ => Err(format!("{key} must be a string or an array of strings")),
    }
}

fn content(obj: &Map<String, Value>, what: &str) -> Result<Bytes, String> {
    match (obj.get("path"), obj.get("base64")) {
        (Some(p), None) => {
            let p = str_of(p, "path")?;
            std::fs::read(p)
                .map(Bytes::from)
                .map_err(|e| format!("{what}: cannot read {p}: {e}"))
        }
        (None, Some(b)) => B64
            .decode(str_of(b, "base64")?)
            .map(Bytes::from)
            .map_err(|e| format!("{what}: invalid base64: {e}")),
        _ => Err(format!(
            "{what}: give exactly one of \"path\" and \"base64\""
        )),
    }
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown key {k:?} in {what}")),
        None => Ok(()),
    }
}

fn build(spec: &Value) -> Result<Message, String> {
    let obj = spec.as_object().ok_or("the spec must be a JSON object")?;
    check_keys(obj, KEYS, "the spec")?;
    let mut b = MessageBuilder::new();
    let date = match obj.get("date") {
        None => SystemTime::now(),
        Some(Value::Number(n)) => {
            let secs = n.as_i64().ok_or("date: unix seconds must be an integer")?;
            from_unix(secs)?
        }
        Some(Value::String(s)) => {
            from_unix(parse_rfc3339(s).ok_or_else(|| format!("date: not RFC 3339: {s:?}"))?)?
        }
        Some(_) => return Err("date must be an RFC 3339 string or unix seconds".into()),
    };
    b = b.date(date);
    for key in ["from", "sender", "reply_to", "to", "cc", "bcc"] {
        if let Some(v) = obj.get(key) {
            for list in address_lists(v, key)? {
                b = match key {
                    "from" => b.from(list),
                    "sender" => b.sender(list),
                    "reply_to" => b.reply_to(list),
                    "to" => b.to(list),
                    "cc" => b.cc(list),
                    _ => b.bcc(list),
                };
            }
        }
    }
    if let Some(v) = obj.get("subject") {
        b = b.subject(str_of(v, "subject")?);
    }
    match obj.get("message_id") {
        None => {}
        Some(Value::Bool(false)) => b = b.no_message_id(),
        Some(Value::String(id)) => b = b.message_id(id),
        Some(_) => return Err("message_id must be a string or false".into()),
    }
    // The default Message-ID (a set one or `false` wins in the builder).
    let random = wireloom_io::smtp::random_128();
    match obj.get("message_id_host") {
        Some(v) => {
            let host = str_of(v, "message_id_host")?;
            let id = generate_message_id(random, host);
            if !id.ends_with(&format!("@{}>", host.strip_suffix('.').unwrap_or(host))) {
                return Err(format!("message_id_host: {host:?} is not a host name"));
            }
            b = b.message_id_from(random, host);
        }
        None => b = b.message_id_from(random, &wireloom_io::smtp::host_name()),
    }
    if let Some(v) = obj.get("text") {
        b = b.text(str_of(v, "text")?);
    }
    if let Some(v) = obj.get("html") {
        b = b.html(str_of(v, "html")?);
    }
    if let Some(v) = obj.get("attachments") {
        for (i, a) in v
            .as_array()
            .ok_or("attachments must be an array")?
            .iter()
            .enumerate()
        {
            let what = format!("attachments[{i}]");
            let a = a
                .as_object()
                .ok_or_else(|| format!("{what} must be an object"))?;
            check_keys(a, &["path", "base64", "content_type", "filename"], &what)?;
            let data = content(a, &what)?;
            let ct = match a.get("content_type") {
                Some(v) => str_of(v, "content_type")?,
                None => "application/octet-stream",
            };
            let filename = match (a.get("filename"), a.get("path")) {
                (Some(f), _) => str_of(f, "filename")?.to_owned(),
                (None, Some(p)) => std::path::Path::new(str_of(p, "path")?)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{what}: no filename"))?,
                (None, None) => return Err(format!("{what}: filename is required with base64")),
            };
            b = b.attachment(ct, &filename, data);
        }
    }
    if let Some(v) = obj.get("inline") {
        for (i, a) in v
            .as_array()
            .ok_or("inline must be an array")?
            .iter()
            .enumerate()
        {
            let what = format!("inline[{i}]");
            let a = a
                .as_object()
                .ok_or_else(|| format!("{what} must be an object"))?;
            check_keys(a, &["path", "base64", "content_type", "content_id"], &what)?;
            let data = content(a, &what)?;
            let ct = match a.get("content_type") {
                Some(v) => str_of(v, "content_type")?,
                None => "application/octet-stream",
            };
            let id = str_of(
                a.get("content_id")
                    .ok_or_else(|| format!("{what}: content_id is required"))?,
                "content_id",
            )?;
            b = b.inline(ct, id, data);
        }
    }
    if let Some(v) = obj.get("headers") {
        for h in v
            .as_array()
            .ok_or("headers must be an array of [name, value]")?
        {
            match h.as_array().map(Vec::as_slice) {
                Some([Value::String(n), Value::String(v)]) => b = b.header(n, v),
                _ => return Err("headers must be an array of [name, value] string pairs".into()),
            }
        }
    }
    if let Some(v) = obj.get("allow_8bit") {
        b = b.allow_8bit(v.as_bool().ok_or("allow_8bit must be a boolean")?);
    }
    if let Some(v) = obj.get("boundary_seed") {
        b = b.boundary_seed(
            v.as_u64()
                .ok_or("boundary_seed must be a non-negative integer")?,
        );
    }
    b.build().map_err(|e| e.to_string())
}

/// Unix seconds to a time; one the platform cannot represent is an error
/// (the builder then refuses years outside 0 to 9999).
fn from_unix(secs: i64) -> Result<SystemTime, String> {
    let d = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    }
    .ok_or_else(|| format!("date: {secs} is out of range"))
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` (`t`, `z` and a space
/// instead of `T` accepted) to unix seconds; fractions are dropped.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-12-01T23:05:03Z"), Some(1_764_630_303));
        assert_eq!(
            parse_rfc3339("2025-12-02T01:05:03.123+02:00"),
            Some(1_764_630_303)
        );
        assert_eq!(
            parse_rfc3339("2025-12-01T18:05:03-05:00"),
            Some(1_764_630_303)
        );
        assert_eq!(parse_rfc3339("2000-02-29 00:00:00z"), Some(951_782_400));
        for bad in [
            "",
            "2025-12-01",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-12-01T00:00:00",
            "2025-12-01T00:00:00+0200",
            "2025-12-01T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
