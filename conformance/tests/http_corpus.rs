//! Runs every case of `corpus/http/cases.json` through wireloom's HTTP
//! connections whole, one byte at a time, and split at every position; the
//! transcripts must be identical, match the case's expected summary, and
//! match the insta snapshot of the transcript. A case's `note` (why it
//! behaves as it does, and what changed when its verdict did) is the
//! snapshot's description.

use serde_json::Value;
use wireloom_conformance::http::{run, Options, Role};
use wireloom_core::http::{Lenient, Method};

struct Case {
    name: String,
    opts: Options,
    expect: String,
    note: Option<String>,
    data: Vec<u8>,
}

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/http")
}

fn load() -> Vec<Case> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus_dir().join("cases.json")).unwrap()).unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let role = match c["role"].as_str().unwrap() {
                "server" => Role::Server,
                "client" => Role::Client,
                r => panic!("bad role {r}"),
            };
            let mut opts = Options::new(role);
            if let Some(m) = c.get("method").and_then(Value::as_str) {
                opts.request_method = m.parse::<Method>().unwrap();
            }
            if let Some(l) = c.get("lenient").and_then(Value::as_array) {
                let list: Vec<&str> = l.iter().map(|f| f.as_str().unwrap()).collect();
                opts.lenient = Lenient::parse_list(&list.join(",")).unwrap();
            }
            let data = std::fs::read(corpus_dir().join(format!("{name}.http"))).unwrap();
            Case {
                expect: c["expect"].as_str().unwrap().to_string(),
                note: c.get("note").and_then(Value::as_str).map(str::to_string),
                name,
                opts,
                data,
            }
        })
        .collect()
}

fn summary(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "error" => format!("error:{}", e["kind"].as_str().unwrap()),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn render(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn corpus_transcripts() {
    let cases = load();
    assert!(cases.len() >= 100, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let whole = run(&case.opts, [&case.data[..]]);
        let bytewise = run(&case.opts, case.data.chunks(1));
        assert_eq!(whole, bytewise, "{}: byte-at-a-time differs", case.name);
        // Split at every position (every 7th for the few very long inputs).
        let stride = if case.data.len() > 2048 { 7 } else { 1 };
        for at in (0..=case.data.len()).step_by(stride) {
            let (a, b) = case.data.split_at(at);
            let split = run(&case.opts, [a, b]);
            assert_eq!(whole, split, "{}: split at {at} differs", case.name);
        }
        let got = summary(&whole);
        if got != case.expect {
            failures.push(format!(
                "{}: expected `{}`, got `{}`",
                case.name, case.expect, got
            ));
        }
        match &case.note {
            Some(note) => insta::with_settings!({ description => note.as_str() }, {
                insta::assert_snapshot!(case.name.clone(), render(&whole));
            }),
            None => insta::assert_snapshot!(case.name.clone(), render(&whole)),
        }
    }
    assert!(
        failures.is_empty(),
        "summary mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cli_matches_library() {
    // The command-line program prints the same transcript as the library.
    let exe = env!("CARGO_BIN_EXE_wireloom-conformance");
    for case in load().iter().step_by(5) {
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("http").arg("--role").arg(match case.opts.role {
            Role::Server => "server",
            Role::Client => "client",
        });
        cmd.arg("--request-method")
            .arg(case.opts.request_method.as_str());
        let flags: Vec<&str> = Lenient::names()
            .filter(|n| case.opts.lenient.contains(Lenient::parse_list(n).unwrap()))
            .collect();
        if !flags.is_empty() {
            cmd.arg("--lenient").arg(flags.join(","));
        }
        cmd.arg(corpus_dir().join(format!("{}.http", case.name)));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}: exit {:?}", case.name, out.status);
        let printed = String::from_utf8(out.stdout).unwrap();
        let expected = render(&run(&case.opts, [&case.data[..]]));
        assert_eq!(printed.trim_end(), expected, "{}", case.name);
    }
}

#[test]
fn cli_usage_errors() {
    let exe = env!("CARGO_BIN_EXE_wireloom-conformance");
    let out = std::process::Command::new(exe)
        .args(["http", "--role", "proxy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(exe)
        .args(["http", "--role", "server", "--lenient", "everything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("everything"));
    let out = std::process::Command::new(exe)
        .args(["http", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--request-method"));
}

#[test]
fn cli_shows_the_issue_7_behaviours() {
    let exe = env!("CARGO_BIN_EXE_wireloom-conformance");
    let cli = |role: &str, input: &[u8]| {
        use std::io::Write;
        let mut child = std::process::Command::new(exe)
            .args(["http", "--role", role, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    // The client unfolds obs-fold and accepts a missing reason, no flag needed.
    let out = cli(
        "client",
        b"HTTP/1.1 200\r\nX-Long: first\r\n  second\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        out.starts_with(r#"{"event":"response","status":200,"reason":"","version":"HTTP/1.1","headers":[["X-Long","first second"]"#),
        "{out}"
    );
    // The server still refuses obs-fold.
    let out = cli("server", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n");
    assert_eq!(
        out.trim_end(),
        r#"{"event":"error","kind":"obs_fold","status":400}"#
    );
    // Fail fast: an unfinished head that can no longer be valid is an error,
    // not an incomplete message.
    for (input, kind) in [
        (&b"GET / HTTP/5."[..], "unsupported_version"),
        (b"\x16\x03\x01\x00", "invalid_method"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
            "conflicting_content_length",
        ),
        (
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n",
            "connect_with_content",
        ),
    ] {
        let out = cli("server", input);
        assert!(out.contains(&format!(r#""kind":"{kind}""#)), "{out}");
    }
    let out = cli(
        "server",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    );
    assert!(
        out.ends_with(
            "{\"event\":\"error\",\"kind\":\"invalid_chunk_extension\",\"status\":400}\n"
        ),
        "{out}"
    );
}
