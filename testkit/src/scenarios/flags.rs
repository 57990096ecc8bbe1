//! The examples' clap command lines, the same checks for every adapter's
//! `demo`, `fetch` and `send-mail`: `--help` and `--version` work; every
//! flag the README documents still parses, and a bad flag next to them is
//! a usage error (exit 2); the demo's access line keeps its format (and
//! `RUST_LOG` turns on wireloom's own events); `fetch` draws a progress
//! bar for a body over 1 MiB only when stderr is a terminal (a pty from
//! `script`) and not with `-s`/`--silent`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::examples::{run_example, serve};
use crate::fs::temp_dir;
use crate::process::{curl, first_line, have, run, ChildGuard};

/// `bin --help` exits 0 with its usage on stdout, and `bin --version`
/// prints `NAME VERSION`.
pub fn help_and_version(bin: &Path, name: &str) {
    let (code, out, err) = run_example(bin, &["--help"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.to_lowercase().contains(&format!("usage: {name}")),
        "{out}"
    );
    let (code, out, _) = run_example(bin, &["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(&format!("{name} ")), "{out}");
}

/// `bin` with `args` and then `--bogus`: a usage error naming the flag.
pub fn bad_flag_after(bin: &Path, args: &[&str]) {
    let mut bad = args.to_vec();
    bad.push("--bogus");
    let (code, _, err) = run_example(bin, &bad);
    assert_eq!(code, Some(2), "{bad:?}: {err}");
    assert!(err.contains("--bogus"), "{err}");
}

/// The demo `demo` with each documented flag (`extra`: the adapter's own,
/// such as `--executor smol`): it serves over TLS, prints one access line
/// per request in the usual format on stderr, and with `RUST_LOG` logs
/// wireloom's own events; a bad flag after them is a usage error.
pub fn demo(demo: &Path, extra: &[&str]) {
    help_and_version(demo, "demo");
    let dir = temp_dir("demo-flags");
    let p = crate::pki::pki();
    crate::pki::write_files(&p, &dir);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(dir.join("index.html"), "<html>hi</html>").unwrap();
    let mut args = vec![
        "--root",
        dir.to_str().unwrap(),
        "--threads",
        "2",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (_demo, url) = serve(demo, &args);
    assert!(url.starts_with("https://"), "{url}");
    let mut full = vec!["--addr", "127.0.0.1:0"];
    full.extend_from_slice(&args);
    bad_flag_after(demo, &full);
    // The access line, as it always was, and RUST_LOG.
    for rust_log in [None, Some("info,wireloom=debug")] {
        let mut cmd = Command::new(demo);
        cmd.args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .env_remove("WIRELOOM_QUIET")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = rust_log {
            cmd.env("RUST_LOG", f);
        }
        let mut child = ChildGuard(cmd.spawn().expect("demo"));
        let stdout = child.0.stdout.take().unwrap();
        let line = first_line(stdout, Duration::from_secs(20)).expect("listening line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let (out, _) = curl(&[&format!("{base}/plaintext?x=1")]);
        assert_eq!(out, "Hello, World!");
        let _ = child.0.kill();
        let _ = child.0.wait();
        let mut err = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let access = err
            .lines()
            .find(|l| l.starts_with("GET /plaintext?x=1 -> 200 ("))
            .unwrap_or_else(|| panic!("no access line in {err:?}"));
        assert!(access.ends_with(')'), "{access}");
        match rust_log {
            None => assert_eq!(err.lines().count(), 1, "{err}"),
            Some(_) => assert!(
                err.contains("wireloom::conn") && err.contains("connection accepted"),
                "{err}"
            ),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `fetch` with each documented flag against the demo `demo`, then its
/// progress bar: none when stderr is a pipe, one on a terminal (a pty
/// from `script`, stdout to a file), none there with `-s` or `--silent`.
pub fn fetch(fetch: &Path, demo: &Path) {
    help_and_version(fetch, "fetch");
    let dir = temp_dir("fetch-progress");
    let big: Vec<u8> = (0..3 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let (_demo, url) = serve(demo, &["--root", dir.to_str().unwrap()]);
    let big_url = format!("{url}/big.bin");
    let flags = [
        &big_url,
        "-X",
        "GET",
        "--request",
        "GET",
        "-H",
        "X-A: 1",
        "--header",
        "X-B: 2",
        "-L",
        "--follow",
        "-i",
        "--include",
        "-s",
        "--silent",
    ];
    let (code, out, err) = run_example(fetch, &flags);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("HTTP/1.1 200"));
    bad_flag_after(fetch, &flags);
    let echo = format!("{url}/api/echo");
    let (_, out, _) = run_example(fetch, &[&echo, "-d", "a=1", "--data", "b=2"]);
    assert_eq!(out, "b=2");
    // stderr a pipe: no bar.
    let (code, out, err) = run_example(fetch, &[&big_url]);
    assert_eq!((code, out.len()), (Some(0), big.len()));
    assert_eq!(err, "");
    if !have("script") {
        eprintln!("SKIPPED the terminal part: no `script` (util-linux)");
        return;
    }
    // stderr a terminal: the bar is drawn (indicatif writes the sizes).
    let on_tty = |extra: &str| {
        let body = dir.join("body.out");
        let cmdline = format!(
            "'{}' '{big_url}' {extra} > '{}'",
            fetch.display(),
            body.display()
        );
        let out = run(
            Command::new("script").args(["-qec", &cmdline, "/dev/null"]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read(&body).unwrap().len(), big.len());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let drawn = on_tty("");
    assert!(drawn.contains("MiB"), "{drawn:?}");
    for silent in ["-s", "--silent"] {
        let drawn = on_tty(silent);
        assert!(!drawn.contains("MiB"), "{silent}: {drawn:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `send-mail`: `--help`, `--version`, and the README's command with a bad
/// flag after it is a usage error (the flags themselves are checked
/// against aiosmtpd by [`super::cli::send_mail_flags`]).
pub fn send_mail(send_mail: &Path) {
    help_and_version(send_mail, "send-mail");
    bad_flag_after(
        send_mail,
        &[
            "--server",
            "smtp.example.com:587",
            "--starttls",
            "--user",
            "alice",
            "--password",
            "secret",
            "--from",
            "alice@example.com",
            "--to",
            "bob@example.org",
            "--subject",
            "hi",
            "--text",
            "Hello!",
            "--attach",
            "report.pdf",
            "--cc",
            "c@example.org",
            "--html",
            "<p>hi</p>",
            "--ca",
            "ca.pem",
        ],
    );
    for exclusive in [&["--tls", "--starttls"][..], &["--user", "u"]] {
        let mut args = vec!["--server", "x:25", "--from", "a@b", "--to", "c@d"];
        args.extend_from_slice(exclusive);
        assert_eq!(run_example(send_mail, &args).0, Some(2), "{args:?}");
    }
}
