//! The `demo` example run as a user runs it (cargo builds the example
//! binaries before running integration tests), with each of its flags, on
//! a current-thread (`--threads 1`) and a multi-thread runtime.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use wireloom_testkit::examples::serve;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki;
use wireloom_testkit::process::{curl, curl_raw, run, ChildGuard};

/// This crate's `demo` binary. `target/debug/examples/demo` is shared by
/// every workspace member with an example of that name (the blocking and
/// async-std adapters have one too), so the binary is found by its
/// dep-info file, which names this crate's source.
fn demo_binary() -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo")
}

/// Starts the demo on an ephemeral port; returns it and its base URL.
fn demo(args: &[&str]) -> (ChildGuard, String) {
    serve(&demo_binary(), args)
}

#[test]
fn demo_routes_and_site_on_both_runtimes() {
    for threads in ["1", "4"] {
        let (_demo, url) = demo(&["--threads", threads]);
        let (out, err) = curl(&[&format!("{url}/plaintext")]);
        assert_eq!(out, "Hello, World!", "--threads {threads}: {err}");
        let (out, _) = curl(&["-i", &format!("{url}/plaintext")]);
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n")
                && out.contains("\r\nDate: ")
                && out.ends_with("\r\n\r\nHello, World!"),
            "{out}"
        );
        let (out, _) = curl(&[
            "-i",
            "-H",
            "Content-Type: text/x-demo",
            "--data-binary",
            "payload=1",
            &format!("{url}/api/echo"),
        ]);
        assert!(
            out.contains("Content-Type: text/x-demo\r\n") && out.ends_with("payload=1"),
            "{out}"
        );
        let (out, _) = curl(&["-H", "X-Probe: 42", &format!("{url}/api/headers")]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|h| h[0] == "X-Probe" && h[1] == "42"),
            "{out}"
        );
        let (out, _) = curl(&[&format!("{url}/")]);
        assert!(out.contains("<h1>wireloom</h1>"), "{out}");
        let (out, _) = curl(&["-i", &format!("{url}/docs")]);
        assert!(out.starts_with("HTTP/1.1 301"), "{out}");
        let (out, _) = curl(&["-L", &format!("{url}/docs")]);
        assert!(out.contains("Directory index"), "{out}");
        let (out, _) = curl(&["-r", "0-3", &format!("{url}/css/site.css")]);
        assert_eq!(out, "body");
        // PUT on a GET route: 405; HEAD: no body.
        let (out, _) = curl(&["-i", "-X", "PUT", &format!("{url}/plaintext")]);
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
        let (out, _) = curl(&["-I", &format!("{url}/plaintext")]);
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"),
            "{out}"
        );
        // Keep-alive: three requests, one connection.
        let (out, _) = curl(&[
            "-w",
            "%{num_connects}",
            "-o",
            "/dev/null",
            &format!("{url}/plaintext"),
            "-o",
            "/dev/null",
            &format!("{url}/css/site.css"),
            "-o",
            "/dev/null",
            &format!("{url}/api/headers"),
        ]);
        assert_eq!(out, "100", "--threads {threads}");
    }
}

#[test]
fn demo_root_flag() {
    let root = temp_dir("demo-root");
    std::fs::write(root.join("index.html"), "<p>my own root</p>").unwrap();
    std::fs::write(root.join("notes.txt"), "plain notes\n").unwrap();
    let (_demo, url) = demo(&["--root", root.to_str().unwrap(), "--threads", "2"]);
    let (out, _) = curl(&[&format!("{url}/")]);
    assert_eq!(out, "<p>my own root</p>");
    let (out, _) = curl(&["-i", &format!("{url}/notes.txt")]);
    assert!(
        out.contains("Content-Type: text/plain") && out.ends_with("\r\n\r\nplain notes\n"),
        "{out}"
    );
    // The bundled sample site is not served any more.
    let (out, _) = curl(&["-i", &format!("{url}/css/site.css")]);
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    // The API routes still answer.
    let (out, _) = curl(&["--data-binary", "x=1", &format!("{url}/api/echo")]);
    assert_eq!(out, "x=1");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn demo_over_tls() {
    let p = pki::pki();
    let dir = temp_dir("demo-tls");
    pki::write_files(&p, &dir);
    let (cert, key, ca) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    for threads in ["1", "3"] {
        let (_demo, url) = demo(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        assert!(url.starts_with("https://"), "{url}");
        let url = url.replace("127.0.0.1", "localhost");
        let (out, err) = curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            &format!("{url}/plaintext"),
        ]);
        assert_eq!(out, "Hello, World!", "{err}");
        // Without our CA the certificate is refused.
        let out = curl_raw(&[&format!("{url}/plaintext")]);
        assert_eq!(out.status.code(), Some(60));
        // A file range over TLS (copied, checked pieces).
        let (out, _) = curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            "-r",
            "0-3",
            &format!("{url}/css/site.css"),
        ]);
        assert_eq!(out, "body");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn demo_flags_are_checked() {
    let dir = temp_dir("demo-flags");
    let code = |args: &[&str]| {
        let out = run(
            Command::new(demo_binary())
                .args(args)
                .env("WIRELOOM_QUIET", "1"),
            Duration::from_secs(20),
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (c, _, out) = code(&["--help"]);
    assert_eq!(c, Some(0));
    assert!(out.starts_with("usage: demo"), "{out}");
    for bad in [
        &["--bogus"][..],
        &["--threads", "0"],
        &["--threads", "many"],
        &["--addr"],
        &["--tls-cert", "x.pem"],
        &["--root", "/nonexistent/wireloom"],
        &[
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ],
    ] {
        let (c, err, _) = code(bad);
        assert_eq!(c, Some(2), "{bad:?}: {err}");
        assert!(err.starts_with("demo: "), "{bad:?}: {err}");
    }
    // An address already in use: a failure, not a hang.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, err, _) = code(&["--addr", &taken.local_addr().unwrap().to_string()]);
    assert_eq!(c, Some(1), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
