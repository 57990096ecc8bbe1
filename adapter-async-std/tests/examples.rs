//! The `demo` example as a user runs it, on each `--executor` (cargo
//! builds example binaries before it runs integration tests).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::run_blocking;

/// This crate's build of example `name` (the other adapters have examples
/// of the same names, which share `target/<profile>/examples/<name>`).
fn example(name: &str) -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), name)
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo on an ephemeral port; returns it and its base URL.
fn demo(args: &[&str]) -> (Running, String) {
    let mut child = Running(
        Command::new(example("demo"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("WIRELOOM_QUIET", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap_or_else(|| panic!("demo prints its URL: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

fn curl(args: &[&str]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10"]).args(args);
    let out = run_blocking(cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn demo_serves_on_each_executor() {
    for args in [
        &["--executor", "smol", "--threads", "2"][..],
        &["--executor", "smol", "--threads", "1"][..],
        &["--executor", "async-std", "--threads", "2"][..],
        &[][..],
    ] {
        let (_demo, base) = demo(args);
        assert_eq!(curl(&[&format!("{base}/plaintext")]), "Hello, World!");
        let echoed = curl(&[
            "-H",
            "Content-Type: text/x-demo",
            "--data-binary",
            "echo me",
            &format!("{base}/api/echo"),
        ]);
        assert_eq!(echoed, "echo me", "{args:?}");
        let headers = curl(&["-H", "X-Demo: yes", &format!("{base}/api/headers")]);
        assert!(headers.contains(r#"["X-Demo","yes"]"#), "{headers}");
        let index = curl(&[&format!("{base}/")]);
        assert!(
            index.contains("<html") || index.contains("<!doctype"),
            "{index}"
        );
    }
}

#[test]
fn demo_rejects_bad_flags() {
    for args in [
        &["--executor", "tokio"][..],
        &["--threads", "0"][..],
        &["--tls-cert", "x.pem"][..],
    ] {
        let mut cmd = Command::new(example("demo"));
        cmd.args(args);
        let out = run_blocking(cmd, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn demo_serves_tls_with_cert_and_key_flags() {
    let dir = common::temp_dir("demo-tls");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    for executor in ["smol", "async-std"] {
        let (_demo, base) = demo(&[
            "--executor",
            executor,
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ]);
        assert!(base.starts_with("https://"), "{base}");
        // The flags are what is tested here; tls_peers.rs verifies chains.
        assert_eq!(curl(&["-k", &format!("{base}/plaintext")]), "Hello, World!");
    }
}
