//! `wireloom-conformance mail-render SPEC.json`, run as a process on specs,
//! its output parsed back with Python's `email` package (the parser script
//! is shared with core's `mime_python` test).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

const PARSER: &str = include_str!("../../core/tests/mime_parse.py");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wireloom-mail-render-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn render(dir: &Path, spec: &Value) -> Output {
    let path = dir.join("spec.json");
    std::fs::write(&path, serde_json::to_vec(spec).unwrap()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_wireloom-conformance"))
        .arg("mail-render")
        .arg(&path)
        .output()
        .unwrap()
}

fn python_parse(wire: &[u8]) -> Value {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PARSER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(wire).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn full_spec_renders_and_parses() {
    let dir = temp_dir("full");
    let file = dir.join("report.bin");
    let blob: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&file, &blob).unwrap();
    let spec = json!({
        "from": "Jörg Müller <joerg@example.org>",
        "sender": "relay@example.org",
        "reply_to": ["replies@example.org"],
        "to": ["Team: a@example.net, \"john doe\"@example.net;", "b@example.net"],
        "cc": "c@example.net",
        "bcc": ["hidden@example.com"],
        "subject": "Quartalsbericht — Übersicht 😀",
        "date": "2025-12-02T01:05:03+02:00",
        "message_id": "<id-1@example.org>",
        "text": "Hallo,\nanbei der Bericht.\n",
        "html": "<p>Hallo, <img src=\"cid:logo@example.org\"></p>",
        "attachments": [
            {"path": file.to_str().unwrap(), "content_type": "application/octet-stream"},
            {"base64": STANDARD.encode(b"%PDF-1.7"), "content_type": "application/pdf", "filename": "résumé.pdf"}
        ],
        "inline": [{"content_id": "logo@example.org", "base64": STANDARD.encode(b"\x89PNG\r\n"), "content_type": "image/png"}],
        "headers": [["X-Mailer", "wireloom mail-render"], ["X-Tag", "café"]],
        "allow_8bit": false,
        "boundary_seed": 5
    });
    let out = render(&dir, &spec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wire = out.stdout;
    assert!(wire.is_ascii());
    assert!(!String::from_utf8_lossy(&wire).contains("hidden"));
    let v = python_parse(&wire);
    assert_eq!(v["defects"], json!([]));
    assert_eq!(v["subject"], "Quartalsbericht — Übersicht 😀");
    assert_eq!(v["date"], "Mon, 01 Dec 2025 23:05:03 +0000");
    assert_eq!(v["message_id"], "<id-1@example.org>");
    assert_eq!(v["from"][0]["members"][0]["name"], "Jörg Müller");
    assert_eq!(v["sender"][0]["members"][0]["addr"], "relay@example.org");
    assert_eq!(v["to"][0]["group"], "Team");
    assert_eq!(v["to"][0]["members"][1]["local"], "john doe");
    assert_eq!(v["to"][1]["members"][0]["addr"], "b@example.net");
    assert_eq!(v["cc"][0]["members"][0]["addr"], "c@example.net");
    assert_eq!(v["bcc"], Value::Null);
    assert_eq!(v["custom"]["X-Tag"], "café");
    let t = &v["tree"];
    assert_eq!(t["type"], "multipart/mixed");
    assert_eq!(t["parts"][0]["type"], "multipart/related");
    assert_eq!(t["parts"][0]["parts"][0]["type"], "multipart/alternative");
    assert_eq!(
        t["parts"][0]["parts"][1]["content_id"],
        "<logo@example.org>"
    );
    assert_eq!(t["parts"][1]["filename"], "report.bin");
    assert_eq!(t["parts"][1]["data_b64"], STANDARD.encode(&blob));
    assert_eq!(t["parts"][2]["filename"], "résumé.pdf");

    // Deterministic: the same spec renders the same bytes.
    assert_eq!(render(&dir, &spec).stdout, wire);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unix_date_and_8bit() {
    let dir = temp_dir("8bit");
    let spec = json!({"from": "a@example.org", "to": "b@example.org", "date": 0,
                      "text": "Grüße\n", "allow_8bit": true});
    let out = render(&dir, &spec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_ascii());
    let v = python_parse(&out.stdout);
    assert_eq!(v["date"], "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_eq!(v["tree"]["cte"], "8bit");
    assert_eq!(
        v["tree"]["text"].as_str().unwrap().replace("\r\n", "\n"),
        "Grüße\n"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn rejected_specs() {
    let dir = temp_dir("bad");
    let base = json!({"from": "a@example.org", "to": "b@example.org", "date": 0, "text": "x"});
    let with = |k: &str, v: Value| {
        let mut s = base.clone();
        s[k] = v;
        s
    };
    let cases = [
        (
            with("subject", json!("hi\r\nBcc: evil@example.com")),
            "header injection",
        ),
        (
            with("to", json!("b@example.org\r\nBcc: evil@example.com")),
            "header injection",
        ),
        (
            with("headers", json!([["X-A", "1\nBcc: evil@example.com"]])),
            "header injection",
        ),
        (
            with("headers", json!([["X-A\r\nBcc", "1"]])),
            "header injection",
        ),
        (
            with(
                "attachments",
                json!([{"base64": "AAAA", "filename": "a\r\n.txt"}]),
            ),
            "header injection",
        ),
        (
            with("headers", json!([["Bcc", "x@example.com"]])),
            "written by the builder",
        ),
        (with("to", json!("not an address")), "invalid address"),
        (with("date", json!("yesterday")), "RFC 3339"),
        // The earliest i64 second (once a debug-build overflow panic) and
        // years past 9999 are refused cleanly.
        (with("date", json!(i64::MIN)), "date"),
        (with("date", json!(-62_167_219_201i64)), "years 0 to 9999"),
        (with("date", json!(253_402_300_800i64)), "years 0 to 9999"),
        (with("colour", json!("blue")), "unknown key"),
        (
            with("attachments", json!([{"base64": "!!", "filename": "a"}])),
            "invalid base64",
        ),
        (json!({"to": "b@example.org", "date": 0}), "missing From"),
        (with("message_id", json!(true)), "string or false"),
        (
            with("message_id", json!("no-at-sign")),
            "invalid Message-ID",
        ),
        (
            with("message_id_host", json!("bad host")),
            "not a host name",
        ),
    ];
    for (spec, want) in cases {
        let out = render(&dir, &spec);
        assert_eq!(out.status.code(), Some(1), "{spec}");
        assert!(out.stdout.is_empty(), "nothing written for {spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{spec}: stderr {err:?} lacks {want:?}");
    }
    // Invalid JSON and usage errors.
    std::fs::write(dir.join("bad.json"), "{").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wireloom-conformance"))
        .args(["mail-render", dir.join("bad.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid JSON"));
    let out = Command::new(env!("CARGO_BIN_EXE_wireloom-conformance"))
        .arg("mail-render")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_wireloom-conformance"))
        .args(["mail-render", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("allow_8bit"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn message_id_by_default() {
    let dir = temp_dir("msgid");
    let base = json!({"from": "a@example.org", "to": "b@example.org", "date": 0, "text": "x"});
    let with = |k: &str, v: Value| {
        let mut s = base.clone();
        s[k] = v;
        s
    };
    let id_of = |spec: &Value| {
        let out = render(&dir, spec);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = python_parse(&out.stdout);
        assert_eq!(v["defects"], json!([]), "{v}");
        if !v["message_id"].is_null() {
            assert_eq!(v["message_id_syntax"], json!(["msg-id"]), "{v}");
        }
        (v["message_id"].as_str().map(str::to_owned), out.stdout)
    };
    // Default: <26 base32 digits @ this machine's host name>, new each run.
    let (a, wire_a) = id_of(&base);
    let (b, wire_b) = id_of(&base);
    let (a, b) = (a.expect("a Message-ID"), b.expect("a Message-ID"));
    assert_ne!(a, b);
    assert_ne!(wire_a, wire_b);
    let random = a.strip_prefix('<').unwrap().split_once('@').unwrap().0;
    assert_eq!(random.len(), 26, "{a}");
    assert!(random
        .bytes()
        .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
    // Its host: message_id_host.
    let (c, _) = id_of(&with("message_id_host", json!("mail.example.org")));
    assert!(c.unwrap().ends_with("@mail.example.org>"));
    // A set one wins (and the output is reproducible); false opts out.
    let mut fixed = with("message_id", json!("fixed@example.org"));
    fixed["message_id_host"] = json!("mail.example.org");
    let (d, wire_d) = id_of(&fixed);
    assert_eq!(d.as_deref(), Some("<fixed@example.org>"));
    assert_eq!(id_of(&fixed).1, wire_d);
    let (e, wire_e) = id_of(&with("message_id", json!(false)));
    assert_eq!(e, None);
    assert!(!String::from_utf8_lossy(&wire_e).contains("Message-ID"));
    assert_eq!(id_of(&with("message_id", json!(false))).1, wire_e);
    std::fs::remove_dir_all(dir).ok();
}
