//! The `demo`, `fetch` and `send-mail` examples as a user runs them (cargo
//! builds the example binaries before running integration tests).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use wireloom_testkit::examples::{run_example, serve};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::net::free_port;
use wireloom_testkit::pki::{pki, write_files};
use wireloom_testkit::process::{curl_raw, ChildGuard};
use wireloom_testkit::smtp::{data, Aiosmtpd};

/// This crate's build of example `name` (the async adapters have examples
/// of the same names).
fn example(name: &str) -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), name)
}

/// Starts the demo (4 threads) on an ephemeral port; returns it and its
/// base URL.
fn demo(args: &[&str]) -> (ChildGuard, String) {
    serve(&example("demo"), &[&["--threads", "4"][..], args].concat())
}

fn fetch(args: &[&str]) -> (Option<i32>, String, String) {
    run_example(&example("fetch"), args)
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
    let port = free_port();
    let (code, _, err) = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, _) = fetch(&["--bogus"]);
    assert_eq!(code, Some(2));
}

#[test]
fn demo_root_flag_and_fetch_methods() {
    let root = temp_dir("demo-root");
    std::fs::write(root.join("index.html"), "<p>my own root</p>").unwrap();
    std::fs::write(root.join("notes.txt"), "plain notes\n").unwrap();
    let (_demo, url) = demo(&["--root", root.to_str().unwrap()]);
    let (code, out, _) = fetch(&[&format!("{url}/")]);
    assert_eq!((code, out.as_str()), (Some(0), "<p>my own root</p>"));
    let (_, out, _) = fetch(&[&format!("{url}/notes.txt"), "-i"]);
    assert!(
        out.contains("Content-Type: text/plain") && out.ends_with("\r\n\r\nplain notes\n"),
        "{out}"
    );
    // The bundled sample site is not served any more.
    let (_, out, _) = fetch(&[&format!("{url}/css/site.css"), "-i"]);
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    // -X: PUT on a GET route is 405 (an HTTP answer, exit code 0); HEAD
    // prints no body.
    let (code, out, _) = fetch(&[&format!("{url}/plaintext"), "-X", "PUT", "-i"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    let (code, out, _) = fetch(&[&format!("{url}/plaintext"), "-X", "HEAD", "-i"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"),
        "{out}"
    );
    // -X POST with -d on the echo route.
    let (_, out, _) = fetch(&[&format!("{url}/api/echo"), "-X", "POST", "-d", "x=1"]);
    assert_eq!(out, "x=1");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn demo_over_tls() {
    let p = pki();
    let dir = temp_dir("demo-tls");
    let (cert, key, ca) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    write_files(&p, &dir);
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
    let out = curl_raw(&[
        "--cacert",
        ca.to_str().unwrap(),
        &format!("{url}/css/site.css"),
        "-r",
        "0-3",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "body");
}

fn send_mail(args: &[&str]) -> (Option<i32>, String, String) {
    run_example(&example("send-mail"), args)
}

/// Parses a delivered message with Python's `email` package.
fn python_email(raw: &[u8]) -> serde_json::Value {
    const PARSE: &str = r#"
import base64, email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
def text(kind):
    p = m.get_body(preferencelist=(kind,))
    # Content as a reader sees it (line endings as Python's str: LF).
    return p.get_content().replace("\r\n", "\n") if p is not None else None
print(json.dumps({
    "subject": m["subject"], "from": m["from"], "to": m["to"], "cc": m["cc"],
    "bcc": m["bcc"], "message_id": m["message-id"], "date": m["date"],
    "content_type": m.get_content_type(),
    "defects": [str(d) for part in m.walk() for d in part.defects],
    "text": text("plain"), "html": text("html"),
    "attachments": [{
        "filename": a.get_filename(), "type": a.get_content_type(),
        "data_base64": base64.b64encode(a.get_payload(decode=True)).decode(),
    } for a in m.iter_attachments()],
}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), raw).unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn send_mail_over_starttls_with_auth_and_attachments() {
    let mut server = Aiosmtpd::start("starttls", true);
    let dir = temp_dir("send-mail");
    let pdf = dir.join("r\u{e9}sum\u{e9}.pdf");
    let pdf_bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    std::fs::write(&pdf, &pdf_bytes).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "line one\n.line two\n").unwrap();
    let server_addr = format!("localhost:{}", server.port);
    let ca = server.ca_file.to_str().unwrap().to_string();
    // STARTTLS with our CA, as alice; `rest` starts with the password.
    let as_alice = |rest: &[&str]| {
        let head = [
            "--server",
            server_addr.as_str(),
            "--starttls",
            "--ca",
            ca.as_str(),
            "--user",
            "alice",
            "--password",
        ];
        send_mail(&[&head[..], rest].concat())
    };
    let (code, out, err) = as_alice(&[
        "secret",
        "--from",
        "Alice <alice@example.org>",
        "--to",
        "bob@example.com",
        "nobody@example.com",
        "--cc",
        "carol@example.net",
        "--subject",
        "Gr\u{fc}\u{df}e from send-mail",
        "--text",
        "Hello Bob,\n.see attached\n",
        "--html",
        "<p>Hello Bob</p>",
        "--attach",
        pdf.to_str().unwrap(),
        "--attach",
        notes.to_str().unwrap(),
    ]);
    // One recipient refused: printed, exit status 1, the others got it.
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("accepted bob@example.com: 250"), "{out}");
    assert!(out.contains("refused nobody@example.com: 550"), "{out}");
    assert!(out.contains("accepted carol@example.net: 250"), "{out}");
    assert!(out.contains("sent: 250"), "{out}");

    let got = server.delivered();
    assert_eq!(got["tls"], true);
    assert_eq!(got["authenticated"], true);
    assert_eq!(got["mail_from"], "alice@example.org");
    assert_eq!(
        got["rcpt_to"],
        serde_json::json!(["bob@example.com", "carol@example.net"])
    );
    let m = python_email(&data(&got));
    assert_eq!(m["defects"], serde_json::json!([]), "{m}");
    assert_eq!(m["subject"], "Gr\u{fc}\u{df}e from send-mail");
    assert_eq!(m["from"], "Alice <alice@example.org>");
    assert_eq!(m["to"], "bob@example.com, nobody@example.com");
    assert_eq!(m["cc"], "carol@example.net");
    assert_eq!(m["content_type"], "multipart/mixed");
    // Added by send_message: 26 base32 digits of OS randomness and the
    // machine's host name (as core validates it).
    let host = wireloom_blocking::smtp::new_message_id(&wireloom_blocking::smtp::host_name());
    let host = host.split_once('@').unwrap().1;
    let id = m["message_id"].as_str().unwrap();
    let random = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix(&format!("@{host}")))
        .unwrap_or_else(|| panic!("{id} for host {host}"));
    assert_eq!(random.len(), 26, "{id}");
    assert!(random
        .bytes()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    assert!(m["date"].as_str().is_some());
    assert_eq!(m["text"], "Hello Bob,\n.see attached\n");
    assert_eq!(m["html"].as_str().unwrap().trim_end(), "<p>Hello Bob</p>");
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{m}");
    assert_eq!(atts[0]["filename"], "r\u{e9}sum\u{e9}.pdf");
    assert_eq!(atts[0]["type"], "application/pdf");
    assert_eq!(data(&atts[0]), pdf_bytes);
    assert_eq!(atts[1]["filename"], "notes.txt");
    assert_eq!(atts[1]["type"], "text/plain");
    assert_eq!(data(&atts[1]), b"line one\n.line two\n".to_vec());

    // Every recipient accepted: exit status 0.
    let (code, out, err) = as_alice(&[
        "secret",
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.com",
        "--subject",
        "plain",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        server.delivered()["rcpt_to"],
        serde_json::json!(["bob@example.com"])
    );

    // Wrong password, untrusted CA, bad flags: nonzero.
    let (code, _, err) = as_alice(&[
        "wrong",
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.com",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("authentication failed"), "{err}");
    let (code, _, err) = send_mail(&[
        "--server",
        &server_addr,
        "--starttls",
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.com",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("TLS"), "{err}");
    let (code, _, _) = send_mail(&["--server", &server_addr, "--tls", "--starttls"]);
    assert_eq!(code, Some(2));
}

#[test]
fn send_mail_over_implicit_tls() {
    let mut server = Aiosmtpd::start("implicit", false);
    let (code, out, err) = send_mail(&[
        "--server",
        &format!("localhost:{}", server.port),
        "--tls",
        "--ca",
        server.ca_file.to_str().unwrap(),
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.com",
        "carol@example.com",
        "--text",
        "over SMTPS",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let got = server.delivered();
    assert_eq!(got["tls"], true);
    assert_eq!(
        got["rcpt_to"],
        serde_json::json!(["bob@example.com", "carol@example.com"])
    );
    let m = python_email(&data(&got));
    assert_eq!(m["text"], "over SMTPS\n");
    assert_eq!(m["defects"], serde_json::json!([]));
}
