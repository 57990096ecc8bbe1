//! The `demo` and `fetch` examples as a user runs them (cargo builds the
//! example binaries before running integration tests).

mod tls_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let p = dir.join(name);
    assert!(p.exists(), "example {name} not built at {}", p.display());
    p
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
    let mut child = Command::new(example("demo"))
        .args(["--addr", "127.0.0.1:0", "--threads", "4"])
        .args(args)
        .env("WIRELOOM_QUIET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("demo prints its URL")
        .trim_end_matches('/')
        .to_string();
    (Running(child), url)
}

fn fetch(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(example("fetch")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_and_fetch() {
    let (_demo, url) = demo(&[]);
    let (code, out, _) = fetch(&[&format!("{url}/plaintext")]);
    assert_eq!((code, out.as_str()), (Some(0), "Hello, World!"));
    let (code, out, _) = fetch(&[&format!("{url}/plaintext"), "-i"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nHello, World!"),
        "{out}"
    );
    let (_, out, _) = fetch(&[
        &format!("{url}/api/echo"),
        "-d",
        "payload=1",
        "-H",
        "Content-Type: text/x-demo",
        "-i",
    ]);
    assert!(
        out.contains("Content-Type: text/x-demo\r\n") && out.ends_with("payload=1"),
        "{out}"
    );
    let (_, out, _) = fetch(&[&format!("{url}/api/headers"), "-H", "X-Probe: 42"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "X-Probe" && h[1] == "42"),
        "{out}"
    );
    let (_, out, _) = fetch(&[&format!("{url}/")]);
    assert!(out.contains("<h1>wireloom</h1>"));
    let (_, out, _) = fetch(&[&format!("{url}/docs"), "-i"]);
    assert!(out.starts_with("HTTP/1.1 301"), "{out}");
    let (_, out, _) = fetch(&[&format!("{url}/docs"), "--follow"]);
    assert!(out.contains("Directory index"), "{out}");
    // Transport errors: nonzero exit.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, err) = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, _) = fetch(&["--bogus"]);
    assert_eq!(code, Some(2));
}

#[test]
fn demo_over_tls() {
    let p = tls_support::pki();
    let dir = tls_support::temp_dir("demo-tls");
    let (cert, key, ca) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&cert, &p.localhost.cert_pem).unwrap();
    std::fs::write(&key, &p.localhost.key_pem).unwrap();
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let (_demo, url) = demo(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(url.starts_with("https://"), "{url}");
    let url = url.replace("127.0.0.1", "localhost");
    let (code, out, err) = fetch(&[&format!("{url}/plaintext"), "--ca", ca.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(0), "Hello, World!"), "{err}");
    // Without our CA the certificate is refused.
    let (code, _, err) = fetch(&[&format!("{url}/plaintext")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("TLS"), "{err}");
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            ca.to_str().unwrap(),
            &format!("{url}/css/site.css"),
            "-r",
            "0-3",
        ])
        .output()
        .expect("curl must be installed");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "body");
}
