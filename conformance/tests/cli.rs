//! The `wireloom-conformance` command line (clap): `--help` and
//! `--version` for the tool and each subcommand, every flag the README and
//! the scripts use still parses, and a bad flag next to them is a usage
//! error (exit 2, message on stderr).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use wireloom_testkit::fs::temp_dir;

/// Runs the CLI with `args` and `stdin` as its standard input.
fn cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wireloom-conformance"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A usage error ends it before it reads: a broken pipe then.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

/// `args` run (exit 0), and the same with `--bogus` added is a usage
/// error naming it.
fn parses(args: &[&str], stdin: &[u8]) -> Output {
    let out = cli(args, stdin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bad = args.to_vec();
    bad.push("--bogus");
    let err = cli(&bad, stdin);
    assert_eq!(err.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&err.stderr).contains("--bogus"));
    out
}

#[test]
fn help_and_version() {
    let out = cli(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["http", "smtp-server", "mail-render", "smtp-reply"] {
        assert!(help.contains(sub), "{help}");
        let out = cli(&[sub, "--help"], b"");
        assert_eq!(out.status.code(), Some(0), "{sub}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: wireloom-conformance"));
        let out = cli(&["help", sub], b"");
        assert_eq!(out.status.code(), Some(0), "help {sub}");
    }
    let out = cli(&["--version"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        concat!("wireloom-conformance ", env!("CARGO_PKG_VERSION"))
    );
    // No subcommand, or an unknown one: usage errors.
    assert_eq!(cli(&[], b"").status.code(), Some(2));
    assert_eq!(cli(&["frobnicate"], b"").status.code(), Some(2));
}

#[test]
fn documented_flags_parse() {
    let smuggle =
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    // README: `http --role server` on standard input.
    let out = parses(&["http", "--role", "server"], smuggle);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"event\":\"error\",\"kind\":\"content_length_with_transfer_encoding\",\"status\":400}\n"
    );
    let dir = temp_dir("cli-flags");
    let file = dir.join("response.bin");
    std::fs::write(&file, b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").unwrap();
    let file = file.to_str().unwrap();
    parses(
        &[
            "http",
            "--role",
            "client",
            "--request-method",
            "HEAD",
            "--lenient",
            "bare-lf,obs-fold",
            "--lenient",
            "missing-reason",
            file,
        ],
        b"",
    );
    parses(&["http", "--role", "server", "-"], b"");
    // mail-render SPEC.json, and `-` for stdin.
    let spec = dir.join("spec.json");
    std::fs::write(
        &spec,
        r#"{"from": "a@example.org", "to": "b@example.org", "date": 0, "message_id": "x@y", "text": "hi"}"#,
    )
    .unwrap();
    let out = parses(&["mail-render", spec.to_str().unwrap()], b"");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Message-ID: <x@y>"));
    parses(
        &["mail-render", "-"],
        br#"{"from": "a@example.org", "text": "hi"}"#,
    );
    // smtp-server with every flag (stdin closed: it greets and ends).
    let maildir = dir.join("mail");
    let out = parses(
        &[
            "smtp-server",
            "--maildir",
            maildir.to_str().unwrap(),
            "--auth",
            "alice:secret",
            "--max-size",
            "1000",
        ],
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("220 "));
    parses(&["smtp-reply"], b"250 ok\r\n");
    parses(&["smtp-reply", "-"], b"250 ok\r\n");
    // Values checked: a bad role, leniency flag, size or auth.
    for bad in [
        &["http", "--role", "proxy"][..],
        &["http", "--role", "server", "--lenient", "everything"],
        &["http", "--role", "server", "--request-method", "G T"],
        &["http"],
        &["smtp-server", "--max-size", "lots"],
        &["smtp-server", "--auth", "nocolon"],
        &["mail-render"],
        &["smtp-reply", "a", "b"],
    ] {
        let out = cli(bad, b"");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error:"),
            "{bad:?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
