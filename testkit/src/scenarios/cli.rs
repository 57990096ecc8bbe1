//! The client examples every adapter ships, `fetch` and `send-mail`, run
//! as a user runs them: the same flags and output everywhere (the command
//! line is one shared file, `adapter-blocking/examples/cli/`), checked
//! once here against nginx and aiosmtpd for each adapter's binaries.

use std::path::Path;

use crate::examples::run_example;
use crate::fs::temp_dir;
use crate::net::free_port;
use crate::peers::start_nginx;
use crate::pki;
use crate::smtp::{data, Aiosmtpd};

/// The `fetch` example at `fetch` with each of its flags against nginx over
/// TLS (a test CA): `--ca`, `-i`, `--follow`/`-L`, `-d`, `-H`, `-X`; exit
/// 1 on TLS and connection errors, 2 on bad flags, 0 for `--help`.
pub fn fetch_flags(fetch: &Path) {
    let (ca_pem, leaf) = pki::localhost();
    let dir = temp_dir("fetch");
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    let (_nginx, port) = start_nginx(
        "ssl",
        &format!(
            r#"ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem; root {d};
        location = /moved {{ return 302 /hello.txt; }}
        location = /probe {{ return 200 "$request_method $http_x_probe $http_content_type $content_length"; }}"#,
            d = dir.display()
        ),
    );
    let url = format!("https://localhost:{port}");
    let ca = ca.to_str().unwrap();
    let (code, out, err) = run_example(fetch, &[&format!("{url}/hello.txt"), "--ca", ca]);
    assert_eq!((code, out.as_str()), (Some(0), "hello\n"), "{err}");
    let (code, out, _) = run_example(fetch, &[&format!("{url}/hello.txt"), "--ca", ca, "-i"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nhello\n"),
        "{out}"
    );
    // Not followed without --follow, followed with it (-L too).
    let (_, out, _) = run_example(fetch, &[&format!("{url}/moved"), "--ca", ca, "-i"]);
    assert!(out.starts_with("HTTP/1.1 302"), "{out}");
    for follow in ["--follow", "-L"] {
        let (_, out, _) = run_example(fetch, &[&format!("{url}/moved"), "--ca", ca, follow]);
        assert_eq!(out, "hello\n");
    }
    // -d posts a form unless -H sets the type; -X overrides the method.
    let probe = format!("{url}/probe");
    let (_, out, _) = run_example(
        fetch,
        &[&probe, "--ca", ca, "-d", "x=1", "-H", "X-Probe: 42"],
    );
    assert_eq!(out, "POST 42 application/x-www-form-urlencoded 3");
    let (_, out, _) = run_example(
        fetch,
        &[
            &probe,
            "--ca",
            ca,
            "-X",
            "PUT",
            "-d",
            "abcd",
            "-H",
            "Content-Type: text/x",
        ],
    );
    assert_eq!(out, "PUT  text/x 4");
    // Errors: without our CA (TLS, 1), refused (1), bad flags (2).
    let (code, _, err) = run_example(fetch, &[&format!("{url}/hello.txt")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("TLS"), "{err}");
    let (code, _, _) = run_example(fetch, &[&format!("http://127.0.0.1:{}/", free_port())]);
    assert_eq!(code, Some(1));
    for bad in [&["--bogus"][..], &[], &["-X"], &["u", "-H", "no colon"]] {
        assert_eq!(run_example(fetch, bad).0, Some(2), "{bad:?}");
    }
    assert_eq!(run_example(fetch, &["--help"]).0, Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

/// The `send-mail` example at `send_mail` with each of its flags against
/// aiosmtpd over STARTTLS with AUTH: recipients, cc, subject, text and an
/// attachment; one line per recipient and exit 1 when one is refused;
/// exit 1 on a wrong password, 2 on bad flags.
pub fn send_mail_flags(send_mail: &Path) {
    let mut server = Aiosmtpd::start("starttls", true);
    let dir = temp_dir("send-mail");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "line one\n.line two\n").unwrap();
    let addr = format!("localhost:{}", server.port);
    let ca = server.ca_file.to_str().unwrap().to_string();
    let (code, out, err) = run_example(
        send_mail,
        &[
            "--server",
            &addr,
            "--starttls",
            "--ca",
            &ca,
            "--user",
            "alice",
            "--password",
            "secret",
            "--from",
            "Alice <alice@example.org>",
            "--to",
            "bob@example.com",
            "nobody@example.com",
            "--cc",
            "carol@example.net",
            "--subject",
            "hi",
            "--text",
            "Hello\n",
            "--attach",
            notes.to_str().unwrap(),
        ],
    );
    // One recipient refused: printed, exit status 1, the others got it.
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("accepted bob@example.com: 250"), "{out}");
    assert!(out.contains("refused nobody@example.com: 550"), "{out}");
    assert!(out.contains("accepted carol@example.net: 250"), "{out}");
    assert!(out.contains("sent: 250"), "{out}");
    let got = server.delivered();
    assert_eq!(
        (&got["tls"], &got["authenticated"]),
        (&true.into(), &true.into())
    );
    let text = String::from_utf8_lossy(&data(&got)).into_owned();
    assert!(
        text.contains("Subject: hi") && text.contains("notes.txt"),
        "{text}"
    );
    // A wrong password: 1; bad arguments: 2.
    let (code, _, err) = run_example(
        send_mail,
        &[
            "--server",
            &addr,
            "--starttls",
            "--ca",
            &ca,
            "--user",
            "alice",
            "--password",
            "wrong",
            "--from",
            "a@example.org",
            "--to",
            "b@example.com",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("535"), "{err}");
    for bad in [
        &["--server", "x:25", "--from", "a@b"][..],
        &[
            "--server",
            "x:25",
            "--from",
            "a@b",
            "--to",
            "c@d",
            "--tls",
            "--starttls",
        ],
        &[
            "--server", "x:25", "--from", "a@b", "--to", "c@d", "--user", "u",
        ],
        &["--frobnicate"],
    ] {
        assert_eq!(run_example(send_mail, bad).0, Some(2), "{bad:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
