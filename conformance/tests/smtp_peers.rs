//! `wireloom-conformance smtp-server` driven by real SMTP clients: swaks
//! (`--pipe`) and Python's smtplib (over a socketpair). The delivered JSON is
//! checked byte for byte.

use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wireloom-conformance");

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The JSON lines a server wrote to stderr (other stderr lines ignored).
fn deliveries(stderr: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn data(v: &Value) -> String {
    String::from_utf8(B64.decode(v["data_base64"].as_str().unwrap()).unwrap()).unwrap()
}

fn swaks(server_args: &str, extra: &[&str]) -> Output {
    assert!(
        have("swaks"),
        "swaks is required (apt-get install swaks; .ci/run installs it)"
    );
    Command::new("swaks")
        .arg("--pipe")
        .arg(format!("{BIN} smtp-server {server_args}"))
        .args(["--from", "sender@example.org", "--to", "rcpt@example.com"])
        .args(["--helo", "swaks.example", "--suppress-data"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn swaks_delivers_unstuffed_message() {
    let out = swaks("", &["--body", "line one\n.dot line\n..two dots\nend"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let d = deliveries(&out.stderr);
    assert_eq!(d.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(d[0]["mail_from"], "sender@example.org");
    assert_eq!(d[0]["rcpt_to"], serde_json::json!(["rcpt@example.com"]));
    let body = data(&d[0]);
    assert!(
        body.contains("\r\n\r\nline one\r\n.dot line\r\n..two dots\r\nend"),
        "{body:?}"
    );
    assert!(body.ends_with("\r\n"));
}

#[test]
fn swaks_pipelining_and_several_recipients() {
    let out = swaks(
        "",
        &[
            "--pipeline",
            "--to",
            "a@example.com,b@example.com",
            "--body",
            "x",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(transcript.contains("PIPELINING"));
    let d = deliveries(&out.stderr);
    assert_eq!(
        d[0]["rcpt_to"],
        serde_json::json!(["a@example.com", "b@example.com"])
    );
}

#[test]
fn swaks_auth_plain_login_cram_md5() {
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let out = swaks(
            "--auth alice:s3cret",
            &[
                "--auth",
                mech,
                "--auth-user",
                "alice",
                "--auth-password",
                "s3cret",
                "--body",
                "authed",
            ],
        );
        let transcript = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{mech}: {transcript}");
        assert!(transcript.contains("235 2.7.0"), "{mech}: {transcript}");
        assert_eq!(deliveries(&out.stderr).len(), 1, "{mech}");

        let out = swaks(
            "--auth alice:s3cret",
            &[
                "--auth",
                mech,
                "--auth-user",
                "alice",
                "--auth-password",
                "wrong",
                "--body",
                "x",
            ],
        );
        let transcript = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{mech}: {transcript}");
        assert!(transcript.contains("535 5.7.8"), "{mech}: {transcript}");
        assert!(deliveries(&out.stderr).is_empty());
    }
    // Without AUTH the server refuses MAIL.
    let out = swaks("--auth alice:s3cret", &["--body", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("530 5.7.0"));
}

#[test]
fn swaks_oversize_message_refused() {
    let big = format!("{}\n", "y".repeat(99)).repeat(30);
    let out = swaks("--max-size 1000", &["--body", &big]);
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{transcript}");
    assert!(transcript.contains("552 5.3.4"), "{transcript}");
    assert!(transcript.contains("SIZE 1000"), "{transcript}");
    assert!(deliveries(&out.stderr).is_empty());
    // A small one still goes through.
    let out = swaks("--max-size 1000", &["--body", "small"]);
    assert!(out.status.success());
    assert_eq!(deliveries(&out.stderr).len(), 1);
}

#[test]
fn swaks_maildir() {
    let dir = std::env::temp_dir().join(format!("wireloom-smtp-maildir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = swaks(
        &format!("--maildir {}", dir.display()),
        &["--body", "to a file"],
    );
    assert!(out.status.success());
    assert!(deliveries(&out.stderr).is_empty());
    let mut json = Vec::new();
    let mut eml = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("json") => json.push(std::fs::read_to_string(&p).unwrap()),
            Some("eml") => eml.push(std::fs::read_to_string(&p).unwrap()),
            _ => {}
        }
    }
    assert_eq!((json.len(), eml.len()), (1, 1));
    let v: Value = serde_json::from_str(json[0].trim()).unwrap();
    assert_eq!(data(&v), eml[0]);
    assert!(eml[0].contains("to a file\r\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Python smtplib connected to the server through a socketpair.
const SMTPLIB: &str = r#"
import json, smtplib, socket, subprocess, sys
bin_path, mode = sys.argv[1], sys.argv[2]
extra = sys.argv[3:]
parent, child = socket.socketpair()
proc = subprocess.Popen([bin_path, "smtp-server"] + extra, stdin=child, stdout=child)
child.close()
s = smtplib.SMTP()
s.sock = parent
out = {"greeting": s.getreply()[0]}
s.ehlo("py.example")
out["esmtp"] = sorted(s.esmtp_features)
if mode == "auth":
    for mech in ["CRAM-MD5", "PLAIN", "LOGIN"]:
        s.user, s.password = "bob", "pw"
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")))
        out.setdefault("auth", []).append(code)
        break
    body = b"Subject: auth\r\n\r\nok\r\n"
    out["refused"] = s.sendmail("bob@example.org", ["x@example.com"], body)
elif mode == "send":
    body = b"Subject: py\r\n\r\n.starts with dot\r\n8bit \xc3\xa9\r\n"
    out["refused"] = s.sendmail("py@example.org", ["a@example.com", "b@example.com"], body, mail_options=["BODY=8BITMIME"])
    # A second message on the same connection, SMTPUTF8 addresses.
    # smtplib sends bytes as given: a bare LF goes on the wire, and the
    # server must refuse the message (554), not deliver it.
    try:
        s.sendmail("py@example.org", ["a@example.com"], b"Subject: lf\n\nbare LF\n")
        out["bare_lf"] = 250
    except smtplib.SMTPDataError as e:
        out["bare_lf"] = e.smtp_code
    out["refused2"] = s.sendmail("j\u00f6rg@example.org", ["b\u00fccher@example.com"], "Subject: utf8\r\n\r\nhi\r\n".encode(), mail_options=["SMTPUTF8"])
elif mode == "smuggle":
    s.docmd("MAIL FROM:<py@example.org>")
    s.docmd("RCPT TO:<a@example.com>")
    out["data"] = s.docmd("DATA")[0]
    s.send(b"Subject: legit\r\n\r\nhello\n.\r\nMAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\n.\r\n")
    out["end"] = s.getreply()
    out["end"] = [out["end"][0], out["end"][1].decode()]
elif mode == "rset":
    s.docmd("MAIL FROM:<py@example.org>")
    out["nested"] = s.docmd("MAIL FROM:<py@example.org>")[0]
    out["rset"] = s.rset()[0]
    out["rcpt_first"] = s.docmd("RCPT TO:<a@example.com>")[0]
    out["noop"] = s.noop()[0]
    out["vrfy"] = s.verify("a")[0]
    out["bogus"] = s.docmd("BOGUS")[0]
out["quit"] = s.quit()[0]
proc.wait(timeout=10)
print(json.dumps(out))
"#;

fn smtplib(mode: &str, server_args: &[&str]) -> (Value, Vec<Value>) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(SMTPLIB)
        .arg(BIN)
        .arg(mode)
        .args(server_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    (result, deliveries(&out.stderr))
}

#[test]
fn smtplib_sends_two_messages_8bit_and_smtputf8() {
    let (r, d) = smtplib("send", &[]);
    assert_eq!(r["greeting"], 220);
    for ext in [
        "8bitmime",
        "pipelining",
        "size",
        "smtputf8",
        "chunking",
        "enhancedstatuscodes",
    ] {
        assert!(
            r["esmtp"].as_array().unwrap().iter().any(|v| v == ext),
            "{ext} missing: {r}"
        );
    }
    assert_eq!(r["refused"], serde_json::json!({}));
    assert_eq!(r["quit"], 221);
    assert_eq!(d.len(), 2);
    assert_eq!(
        d[0]["rcpt_to"],
        serde_json::json!(["a@example.com", "b@example.com"])
    );
    assert_eq!(
        data(&d[0]),
        "Subject: py\r\n\r\n.starts with dot\r\n8bit \u{e9}\r\n"
    );
    assert_eq!(r["bare_lf"], 554);
    assert_eq!(d[1]["mail_from"], "j\u{f6}rg@example.org");
    assert_eq!(
        d[1]["rcpt_to"],
        serde_json::json!(["b\u{fc}cher@example.com"])
    );
}

#[test]
fn smtplib_auth() {
    let (r, d) = smtplib("auth", &["--auth", "bob:pw"]);
    assert_eq!(r["auth"], serde_json::json!([235]));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["mail_from"], "bob@example.org");
}

#[test]
fn smtplib_smuggling_attempt_is_refused() {
    let (r, d) = smtplib("smuggle", &[]);
    assert_eq!(r["data"], 354);
    assert_eq!(r["end"][0], 554, "{r}");
    assert!(d.is_empty(), "nothing may be delivered: {d:?}");
}

#[test]
fn smtplib_sequencing_replies() {
    let (r, _) = smtplib("rset", &[]);
    assert_eq!(r["nested"], 503);
    assert_eq!(r["rset"], 250);
    assert_eq!(r["rcpt_first"], 503);
    assert_eq!(r["noop"], 250);
    assert_eq!(r["vrfy"], 252);
    assert_eq!(r["bogus"], 500);
}

#[test]
fn smtp_reply_cli() {
    let dir = std::env::temp_dir().join(format!("wireloom-smtp-reply-{}", std::process::id()));
    std::fs::write(
        &dir,
        b"220 mx ready\r\n250-mx\r\n250 SIZE 10\r\n550 5.1.1 no such user\r\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("smtp-reply")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"code": 220, "enhanced": null, "lines": ["mx ready"]}),
            serde_json::json!({"code": 250, "enhanced": null, "lines": ["mx", "SIZE 10"]}),
            serde_json::json!({"code": 550, "enhanced": "5.1.1", "lines": ["5.1.1 no such user"]}),
        ]
    );
    std::fs::write(&dir, b"250-a\r\n251 b\r\n").unwrap();
    let out = Command::new(BIN)
        .arg("smtp-reply")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("different codes"));
    let _ = std::fs::remove_file(&dir);
}
