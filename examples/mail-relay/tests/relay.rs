//! mail-relay against real peers: Python smtplib and swaks as senders,
//! aiosmtpd as the smarthost. Accept, spool, deliver; STARTTLS + AUTH on
//! submission; limits; retry on 4xx; bounce on 5xx; strict DATA;
//! graceful SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn submission_starttls_auth_with_smtplib_and_swaks() {
    let d = dir("relay-submission");
    let certs = certs(d.path());
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let users = d.join("users");
    std::fs::write(&users, "# test users\nalice:secret\n").unwrap();
    let mut relay = Relay::start(
        &spool,
        &host.addr(),
        &[
            "--submission",
            "127.0.0.1:0",
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
        ],
    );
    let ca = certs.ca.to_str().unwrap();

    // smtplib: STARTTLS (certificate verified), AUTH, two messages.
    let sent = smtplib(
        relay.submission_port,
        &format!("submission:alice:secret:{ca}"),
        "alice@x.test",
        "bob@y.test",
        2,
        0,
    );
    assert!(sent.iter().all(|s| s.ok), "{sent:?}");
    // Wrong password: 535.
    let bad = smtplib(
        relay.submission_port,
        &format!("submission:alice:wrong:{ca}"),
        "alice@x.test",
        "bob@y.test",
        1,
        0,
    );
    assert_eq!(
        (bad.len(), bad[0].ok, bad[0].code),
        (1, false, 535),
        "{bad:?}"
    );
    // No AUTH: MAIL refused with 530.
    let anon = smtplib(
        relay.submission_port,
        &format!("nologin:{ca}"),
        "eve@x.test",
        "bob@y.test",
        1,
        0,
    );
    assert_eq!((anon[0].ok, anon[0].code), (false, 530), "{anon:?}");

    // swaks: STARTTLS and AUTH LOGIN.
    let port = relay.submission_port.to_string();
    let (ok, transcript) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
        "--from",
        "carol@x.test",
        "--to",
        "dave@y.test",
        "--header",
        "X-Test-Id: 99",
        "--helo",
        "swaks.test",
    ]);
    assert!(ok, "{transcript}");
    assert!(transcript.contains("235 2.7.0"), "{transcript}");

    let got = host.wait_messages(WAIT, |m| m.len() >= 3);
    assert_eq!(got.len(), 3, "{got:?}");
    let swaks_msg = got
        .iter()
        .find(|m| test_id(m) == Some(99))
        .expect("swaks message");
    assert_eq!(swaks_msg["mail_from"], "carol@x.test");
    assert_eq!(swaks_msg["rcpt_to"][0], "dave@y.test");
    let first = got
        .iter()
        .find(|m| test_id(m) == Some(0))
        .expect("smtplib message");
    let text = data(first);
    // Our trace header first, authenticated over TLS; the dot unstuffed
    // by us and stuffed again by the client on the way out.
    assert!(
        text.starts_with("Received: from sender.test ([127.0.0.1])"),
        "{text}"
    );
    assert!(text.contains("with ESMTPSA id"), "{text}");
    assert!(text.contains("\r\n.leading dot\r\n"), "{text}");

    // SIGTERM: a clean exit, and the spool is empty once all is delivered.
    let (clean, lines) = relay.terminate(WAIT);
    assert!(clean, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("fsync calls")),
        "{lines:?}"
    );
    assert_eq!(spool_files(&spool), 0);
}

#[test]
fn plain_listener_limits_and_swaks() {
    let d = dir("relay-limits");
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let relay = Relay::start(
        &spool,
        &host.addr(),
        &["--max-size", "4000", "--max-recipients", "2"],
    );
    // Too large: 552 (declared with SIZE at MAIL, or at the end of data).
    let big = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", 1, 10_000);
    assert_eq!((big[0].ok, big[0].code), (false, 552), "{big:?}");
    // Three recipients, limit two: the third gets 452, the message goes
    // to the first two.
    let many = smtplib(
        relay.relay_port,
        "plain",
        "a@x.test",
        "r1@y.test,r2@y.test,r3@y.test",
        1,
        0,
    );
    assert!(many[0].ok, "{many:?}");
    assert_eq!(many[0].refused["r3@y.test"], 452, "{many:?}");
    // swaks, plain.
    let port = relay.relay_port.to_string();
    let (ok, transcript) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "s@x.test",
        "--to",
        "t@y.test",
        "--header",
        "X-Test-Id: 7",
    ]);
    assert!(ok, "{transcript}");

    let got = host.wait_messages(WAIT, |m| m.len() >= 2);
    assert_eq!(got.len(), 2, "{got:?}");
    let multi = got.iter().find(|m| test_id(m) == Some(0)).unwrap();
    assert_eq!(
        multi["rcpt_to"],
        serde_json::json!(["r1@y.test", "r2@y.test"])
    );
    assert!(data(got.iter().find(|m| test_id(m) == Some(7)).unwrap()).contains("with ESMTP id"));
}

#[test]
fn temporary_failure_is_retried_until_delivered() {
    let d = dir("relay-retry");
    let host = Smarthost::start(d.path(), 0.0);
    let relay = Relay::start(&d.join("spool"), &host.addr(), &["--retry-initial", "0.2"]);
    let sent = smtplib(
        relay.relay_port,
        "plain",
        "a@x.test",
        "tempfail2@y.test,ok@y.test",
        1,
        0,
    );
    assert!(sent[0].ok, "{sent:?}");
    // ok@ is delivered at once; tempfail2@ after two 451s.
    let got = host.wait_messages(WAIT, |m| {
        m.iter()
            .any(|m| m["rcpt_to"] == serde_json::json!(["tempfail2@y.test"]))
    });
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["rcpt_to"], serde_json::json!(["ok@y.test"]));
    assert_eq!(got[1]["rcpt_to"], serde_json::json!(["tempfail2@y.test"]));
    let refusals = host
        .events()
        .iter()
        .filter(|e| e["event"] == "rcpt_refused" && e["code"] == 451)
        .count();
    assert_eq!(refusals, 2);
}

#[test]
fn permanent_failure_bounces_only_the_failed_recipients() {
    let d = dir("relay-bounce");
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let relay = Relay::start(&spool, &host.addr(), &[]);
    // From the null sender first: its failure must not bounce.
    let null = smtplib(
        relay.relay_port,
        "plain",
        "",
        "reject-null@y.test,n@y.test",
        1,
        0,
    );
    assert!(null[0].ok, "{null:?}");
    let sent = smtplib(
        relay.relay_port,
        "plain",
        "alice@x.test",
        "good@y.test,reject-me@y.test",
        1,
        0,
    );
    assert!(sent[0].ok, "{sent:?}");
    // Delivered: n@, good@, then the bounce to alice@ (one runner, in
    // order of arrival: the null sender's message was handled before).
    let got = host.wait_messages(WAIT, |m| {
        m.iter()
            .any(|m| m["rcpt_to"] == serde_json::json!(["alice@x.test"]))
    });
    assert_eq!(got.len(), 3, "{got:?}");
    let bounce = &got[2];
    assert_eq!(bounce["mail_from"], "<>");
    let text = data(bounce);
    assert!(
        text.contains("Content-Type: multipart/report; report-type=delivery-status"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; reject-me@y.test"),
        "{text}"
    );
    assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1"), "{text}");
    assert!(
        !text.contains("Final-Recipient: rfc822; good@y.test"),
        "{text}"
    );
    assert!(
        text.contains("X-Test-Id: 0"),
        "original headers quoted: {text}"
    );
    let bounces = got
        .iter()
        .filter(|m| data(m).contains("Subject: Undelivered Mail"))
        .count();
    assert_eq!(
        bounces, 1,
        "no bounce for the null sender's message: {got:?}"
    );
    // Everything finished: the spool is empty (bounded wait: the runner
    // removes a message right after its last recipient is settled).
    let until = std::time::Instant::now() + WAIT;
    while spool_files(&spool) > 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spool_files(&spool), 0);
}

/// Reads one SMTP reply (multi-line aware); its last line.
fn reply(r: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line;
        }
    }
}

#[test]
fn smuggled_end_of_data_is_refused_and_nothing_is_relayed() {
    let d = dir("relay-smuggle");
    let host = Smarthost::start(d.path(), 0.0);
    let relay = Relay::start(&d.join("spool"), &host.addr(), &[]);
    let s = TcpStream::connect(("127.0.0.1", relay.relay_port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    assert!(reply(&mut r).starts_with("220"));
    for (cmd, code) in [
        ("EHLO raw.test\r\n", "250"),
        ("MAIL FROM:<a@x.test>\r\n", "250"),
        ("RCPT TO:<b@y.test>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        assert!(reply(&mut r).starts_with(code), "{cmd}");
    }
    // A bare-LF "end of data" with a second transaction behind it: one
    // message to the strict reader, two to a lenient one.
    w.write_all(
        b"Subject: one\r\n\r\nhello\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n",
    )
    .unwrap();
    let end = reply(&mut r);
    assert!(end.starts_with("554"), "{end}");
    // A clean message after it on the same connection gets through.
    for (cmd, code) in [
        ("MAIL FROM:<a@x.test>\r\n", "250"),
        ("RCPT TO:<b@y.test>\r\n", "250"),
        ("DATA\r\n", "354"),
        ("X-Test-Id: 5\r\n\r\nclean caf\u{e9}\r\n.\r\n", "250"),
        ("QUIT\r\n", "221"),
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        assert!(reply(&mut r).starts_with(code), "{cmd}");
    }
    let got = host.wait_messages(WAIT, |m| !m.is_empty());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(test_id(&got[0]), Some(5));
    assert!(!data(&got[0]).contains("smuggled"));
    // 8-bit data is passed on declared as such.
    assert!(data(&got[0]).contains("clean caf\u{e9}\r\n"));
    let options = got[0]["mail_options"].as_array().unwrap();
    assert!(options.iter().any(|o| o == "BODY=8BITMIME"), "{options:?}");
}

#[test]
fn sigterm_finishes_the_open_transaction_then_421() {
    let d = dir("relay-sigterm");
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let mut relay = Relay::start(&spool, &host.addr(), &[]);
    let s = TcpStream::connect(("127.0.0.1", relay.relay_port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    assert!(reply(&mut r).starts_with("220"));
    for (cmd, code) in [
        ("EHLO raw.test\r\n", "250"),
        ("MAIL FROM:<a@x.test>\r\n", "250"),
        ("RCPT TO:<b@y.test>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        assert!(reply(&mut r).starts_with(code), "{cmd}");
    }
    w.write_all(b"X-Test-Id: 11\r\n\r\nfirst half\r\n").unwrap();
    relay.sigterm();
    // Give the relay time to see the signal (its connections look every
    // 200 ms); the outcome is the same if it has not yet.
    std::thread::sleep(Duration::from_millis(500));
    w.write_all(b"second half\r\n.\r\n").unwrap();
    let end = reply(&mut r);
    assert!(end.starts_with("250"), "{end}");
    let bye = reply(&mut r);
    assert!(bye.starts_with("421 4.3.2"), "{bye}");
    let (clean, lines) = relay.wait_exit(WAIT);
    assert!(clean, "{lines:?}");
    // Acknowledged, so spooled (data and record) and delivered by the
    // next run; or, had the runner not yet seen the signal, delivered
    // already.
    let left = spool_files(&spool);
    assert!(left == 2 || left == 0, "{left}");
    let _relay = (left > 0).then(|| Relay::start(&spool, &host.addr(), &[]));
    let got = host.wait_messages(WAIT, |m| !m.is_empty());
    assert_eq!(got.len(), 1);
    assert!(data(&got[0]).contains("first half\r\nsecond half\r\n"));
}

#[test]
fn several_messages_per_connection_and_reconnects_within_a_run() {
    let d = dir("relay-batch");
    // Slow enough that messages pile up while the first is delivered.
    let host = Smarthost::start(d.path(), 0.2);
    // A long retry time: a message wrongly held back would miss the wait.
    let relay = Relay::start(
        &d.join("spool"),
        &host.addr(),
        &["--messages-per-connection", "3", "--retry-initial", "600"],
    );
    let sent = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", 12, 0);
    assert!(sent.iter().all(|s| s.ok), "{sent:?}");
    let got = host.wait_messages(WAIT, |m| m.len() >= 12);
    assert_eq!(got.len(), 12, "every message delivered in the first run");
    let mut per_peer = std::collections::HashMap::<String, usize>::new();
    for m in &got {
        *per_peer
            .entry(m["peer"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(per_peer.values().all(|&n| n <= 3), "{per_peer:?}");
    assert!(per_peer.values().any(|&n| n > 1), "{per_peer:?}");
}

#[test]
fn delivers_over_starttls_with_auth_to_the_smarthost() {
    let d = dir("relay-out-tls");
    // testkit's aiosmtpd: STARTTLS required, AUTH PLAIN/LOGIN alice/secret.
    let mut host = wireloom_testkit::smtp::Aiosmtpd::start("starttls", true);
    let ca = host.ca_file.to_str().unwrap().to_string();
    let relay = Relay::start(
        &d.join("spool"),
        &host.addr(),
        &[
            "--smarthost-starttls",
            "--smarthost-ca",
            &ca,
            "--smarthost-tls-name",
            "localhost",
            "--smarthost-auth",
            "alice:secret",
        ],
    );
    let sent = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", 1, 0);
    assert!(sent[0].ok, "{sent:?}");
    let got = host.delivered();
    assert_eq!(got["tls"], true);
    assert_eq!(got["authenticated"], true);
    assert_eq!(got["rcpt_to"], serde_json::json!(["b@y.test"]));
}

#[test]
fn unreachable_smarthost_is_retried() {
    let d = dir("relay-unreachable");
    // Nothing listens there yet: connection refused.
    let port = wireloom_testkit::net::free_port();
    let relay = Relay::start(
        &d.join("spool"),
        &format!("127.0.0.1:{port}"),
        &["--retry-initial", "0.1", "--retry-max", "0.5"],
    );
    let sent = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", 3, 0);
    assert!(
        sent.iter().all(|s| s.ok),
        "acknowledged once spooled: {sent:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let host = Smarthost::start_on(d.path(), 0.0, Some(port));
    let got = host.wait_messages(WAIT, |m| m.len() >= 3);
    let mut ids: Vec<Option<u64>> = got.iter().map(test_id).collect();
    ids.sort();
    assert_eq!(ids, [Some(0), Some(1), Some(2)], "{got:?}");
}

#[test]
fn expiry_bounces_the_recipients_still_pending() {
    let d = dir("relay-expiry");
    let host = Smarthost::start(d.path(), 0.0);
    let relay = Relay::start(
        &d.join("spool"),
        &host.addr(),
        &[
            "--retry-initial",
            "0.1",
            "--retry-max",
            "0.3",
            "--max-age",
            "2",
        ],
    );
    // tempfail99: 451 on every attempt until the message expires.
    let sent = smtplib(
        relay.relay_port,
        "plain",
        "s@x.test",
        "tempfail99@y.test",
        1,
        0,
    );
    assert!(sent[0].ok, "{sent:?}");
    let got = host.wait_messages(WAIT, |m| !m.is_empty());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_to"], serde_json::json!(["s@x.test"]));
    let text = data(&got[0]);
    assert!(
        text.contains("Final-Recipient: rfc822; tempfail99@y.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.4.7"), "{text}");
    assert!(
        text.contains("delivery time expired (last: 451 4.7.1"),
        "{text}"
    );
    let tries = host
        .events()
        .iter()
        .filter(|e| e["event"] == "rcpt_refused")
        .count();
    assert!(tries >= 2, "retried before expiring: {tries}");
}

#[test]
fn a_mail_loop_is_refused() {
    let d = dir("relay-loop");
    let host = Smarthost::start(d.path(), 0.0);
    let relay = Relay::start(&d.join("spool"), &host.addr(), &["--max-hops", "3"]);
    let s = TcpStream::connect(("127.0.0.1", relay.relay_port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    assert!(reply(&mut r).starts_with("220"));
    let looped = "Received: from a\r\nReceived: from b\r\nreceived: from c\r\n\r\nbody\r\n.\r\n";
    let ok = "Received: from a\r\nReceived: from b\r\nX-Test-Id: 3\r\n\r\nbody\r\n.\r\n";
    for (cmd, code) in [
        ("EHLO raw.test\r\n", "250"),
        ("MAIL FROM:<a@x.test>\r\n", "250"),
        ("RCPT TO:<b@y.test>\r\n", "250"),
        ("DATA\r\n", "354"),
        (looped, "554 5.4.6"),
        ("MAIL FROM:<a@x.test>\r\n", "250"),
        ("RCPT TO:<b@y.test>\r\n", "250"),
        ("DATA\r\n", "354"),
        (ok, "250"),
        ("QUIT\r\n", "221"),
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        let got = reply(&mut r);
        assert!(got.starts_with(code), "{cmd}: {got}");
    }
    let got = host.wait_messages(WAIT, |m| !m.is_empty());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(test_id(&got[0]), Some(3));
}

#[test]
fn too_large_for_the_smarthost_bounces_and_the_next_message_goes_through() {
    let d = dir("relay-too-large");
    // The smarthost takes 3000 octets at most (SIZE 3000); the relay 10 MiB.
    let host = Smarthost::start_with(d.path(), 0.0, None, 3000);
    let relay = Relay::start(&d.join("spool"), &host.addr(), &[]);
    let big = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", 1, 900);
    assert!(big[0].ok, "{big:?}");
    let mut huge = String::new();
    for _ in 0..6 {
        huge.push_str(&"y".repeat(900));
        huge.push_str("\r\n");
    }
    // 6 lines of 900 octets: over the smarthost's SIZE.
    let port = relay.relay_port.to_string();
    let (ok, transcript) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "big@x.test",
        "--to",
        "c@y.test",
        "--body",
        &huge,
    ]);
    assert!(ok, "{transcript}");
    let small = smtplib(relay.relay_port, "plain", "a@x.test", "d@y.test", 1, 0);
    assert!(small[0].ok, "{small:?}");
    let got = host.wait_messages(WAIT, |m| m.len() >= 3);
    assert_eq!(got.len(), 3, "{got:?}");
    let bounce = got
        .iter()
        .find(|m| m["rcpt_to"] == serde_json::json!(["big@x.test"]))
        .expect("bounce to big@");
    let text = data(bounce);
    assert!(text.contains("Final-Recipient: rfc822; c@y.test"), "{text}");
    assert!(text.contains("Status: 5.3.4"), "{text}");
    assert!(got
        .iter()
        .any(|m| m["rcpt_to"] == serde_json::json!(["d@y.test"])));
}

#[test]
fn over_max_connections_a_new_client_gets_421_and_the_others_are_served() {
    let d = dir("relay-busy");
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let relay = Relay::start(&spool, &host.addr(), &["--max-connections", "1"]);
    let first = TcpStream::connect(("127.0.0.1", relay.relay_port)).unwrap();
    first.set_read_timeout(Some(WAIT)).unwrap();
    let mut first = BufReader::new(first);
    assert!(reply(&mut first).starts_with("220 "));
    // The second connection over the limit: a 421 greeting (RFC 5321
    // §3.1), then the relay closes it.
    let second = TcpStream::connect(("127.0.0.1", relay.relay_port)).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut second = BufReader::new(second);
    let busy = reply(&mut second);
    assert!(busy.starts_with("421 4.3.2 "), "{busy:?}");
    let mut rest = String::new();
    assert_eq!(second.read_line(&mut rest).unwrap(), 0, "closed: {rest:?}");
    // The first client is still served.
    first.get_mut().write_all(b"EHLO a.test\r\n").unwrap();
    assert!(reply(&mut first).starts_with("250"));
    first.get_mut().write_all(b"QUIT\r\n").unwrap();
    assert!(reply(&mut first).starts_with("221"));
}
