//! Our client dialogue, driven over a std::net TcpStream, against a real
//! aiosmtpd server started on 127.0.0.1 with an ephemeral port
//! (`pip install aiosmtpd`; `.ci/run` installs it).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use wireloom_core::smtp::auth::{Credentials, Mechanism};
use wireloom_core::smtp::client::{Client, ClientConfig, ClientEvent, Envelope};
use wireloom_core::Dialogue;

const SERVER: &str = r#"
import asyncio, base64, json, socket, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "data_base64": base64.b64encode(envelope.original_content).decode(),
        }), flush=True)
        return "250 2.0.0 queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alice" and auth_data.password == b"secret"
    return AuthResult(success=ok, handled=False)

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
kwargs = {}
if sys.argv[1] == "auth":
    kwargs = dict(authenticator=authenticator, auth_require_tls=False)
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
c.start()
print(json.dumps({"port": port}), flush=True)
sys.stdin.read()
c.stop()
"#;

struct Aiosmtpd {
    child: Child,
    lines: BufReader<std::process::ChildStdout>,
    port: u16,
}

impl Aiosmtpd {
    fn start(mode: &str) -> Aiosmtpd {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let v: Value = serde_json::from_str(&first)
            .unwrap_or_else(|_| panic!("aiosmtpd did not start (pip install aiosmtpd): {first:?}"));
        Aiosmtpd {
            child,
            lines,
            port: v["port"].as_u64().unwrap() as u16,
        }
    }

    fn delivered(&mut self) -> Value {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The generic blocking driver: moves bytes, runs timers, hands events to
/// `on_event`.
fn drive(
    client: &mut Client,
    stream: &mut TcpStream,
    mut on_event: impl FnMut(&mut Client, &ClientEvent),
) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        loop {
            let mut moved = false;
            while let Some(b) = client.poll_transmit() {
                stream.write_all(&b).unwrap();
                moved = true;
            }
            while let Some(e) = client.poll_event() {
                on_event(client, &e);
                events.push(e);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        if client.is_closed() {
            return events;
        }
        let wait = client.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(wait).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => client.handle_eof(Instant::now()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                client.handle_input(Instant::now(), &mut buf).unwrap();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(Instant::now())
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn send_all(
    config: ClientConfig,
    port: u16,
    mut messages: Vec<(Envelope, &'static [u8])>,
) -> Vec<ClientEvent> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut client = Client::new(config, Instant::now());
    messages.reverse();
    drive(&mut client, &mut stream, |c, e| {
        if *e == ClientEvent::Ready {
            match messages.pop() {
                Some((env, body)) => c
                    .send_message(Instant::now(), env, Bytes::from_static(body))
                    .unwrap(),
                None => c.quit(Instant::now()).unwrap(),
            }
        }
    })
}

fn data(v: &Value) -> Vec<u8> {
    B64.decode(v["data_base64"].as_str().unwrap()).unwrap()
}

#[test]
fn client_against_aiosmtpd() {
    let mut server = Aiosmtpd::start("plain");
    let body: &[u8] =
        b"Subject: t\n\n.dot first\r\nbare CR\rbare LF\n..\n8bit \xc3\xa9 no final newline";
    let events = send_all(
        ClientConfig::new("wireloom.example"),
        server.port,
        vec![
            (
                Envelope::new("a@example.org", ["b@example.com", "nobody@example.com"]),
                body,
            ),
            (
                Envelope::new("j\u{f6}rg@example.org", ["b\u{fc}cher@example.com"]),
                b"Subject: u\r\n\r\nutf8\r\n",
            ),
        ],
    );
    let sent: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::MessageSent(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2, "{events:#?}");
    // Partial acceptance is reported per recipient.
    assert!(sent[0].recipients[0].accepted());
    assert!(!sent[0].recipients[1].accepted());
    assert_eq!(sent[0].recipients[1].reply.code, 550);
    assert_eq!(events.last(), Some(&ClientEvent::Closed));

    let first = server.delivered();
    assert_eq!(first["mail_from"], "a@example.org");
    assert_eq!(first["rcpt_to"], serde_json::json!(["b@example.com"]));
    assert!(
        first["mail_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "BODY=8BITMIME"),
        "{first}"
    );
    assert_eq!(
        data(&first),
        b"Subject: t\r\n\r\n.dot first\r\nbare CR\r\nbare LF\r\n..\r\n8bit \xc3\xa9 no final newline\r\n"
    );
    let second = server.delivered();
    assert_eq!(second["mail_from"], "j\u{f6}rg@example.org");
    assert!(second["mail_options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o == "SMTPUTF8"));
}

#[test]
fn client_auth_against_aiosmtpd() {
    let mut server = Aiosmtpd::start("auth");
    for forced in [None, Some(Mechanism::Login)] {
        let mut config = ClientConfig::new("wireloom.example");
        config.credentials = Some(Credentials::password("alice", "secret"));
        config.allow_insecure_auth = true;
        config.mechanism = forced;
        let events = send_all(
            config,
            server.port,
            vec![(
                Envelope::new("alice@example.org", ["b@example.com"]),
                b"hi\r\n",
            )],
        );
        let expected = forced.unwrap_or(Mechanism::Plain);
        assert!(
            events.contains(&ClientEvent::Authenticated(expected)),
            "{events:#?}"
        );
        assert_eq!(server.delivered()["mail_from"], "alice@example.org");
    }
    let mut config = ClientConfig::new("wireloom.example");
    config.credentials = Some(Credentials::password("alice", "wrong"));
    config.allow_insecure_auth = true;
    let events = send_all(config, server.port, vec![]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Failed(wireloom_core::smtp::client::ClientError::AuthFailed(r)) if r.code == 535)),
        "{events:#?}"
    );
    assert_eq!(events.last(), Some(&ClientEvent::Closed));
}
