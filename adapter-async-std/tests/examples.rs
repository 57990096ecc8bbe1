//! The `demo` example as a user runs it, on each `--executor` (cargo
//! builds example binaries before it runs integration tests).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use wireloom_testkit::examples::serve;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki;
use wireloom_testkit::process::{curl_ok, run, ChildGuard};

/// This crate's build of example `name` (the other adapters have examples
/// of the same names, which share `target/<profile>/examples/<name>`).
fn example(name: &str) -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), name)
}

/// Starts the demo on an ephemeral port; returns it and its base URL.
fn demo(args: &[&str]) -> (ChildGuard, String) {
    serve(&example("demo"), args)
}

/// curl; asserts that it succeeded and returns its output as text.
fn curl(args: &[&str]) -> String {
    String::from_utf8_lossy(&curl_ok(args)).into_owned()
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
        let out = run(
            Command::new(example("demo")).args(args),
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn demo_serves_tls_with_cert_and_key_flags() {
    let dir = temp_dir("demo-tls");
    pki::write_files(&pki::pki(), &dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
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
