//! aiosmtpd as a real SMTP peer for the blocking client's tests: plain,
//! STARTTLS or implicit TLS (certificate from an rcgen CA), optional AUTH
//! PLAIN/LOGIN for alice/secret; refuses recipients starting with `nobody`;
//! prints each delivered message as a JSON line.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use wireloom_blocking::smtp::{Security, SmtpClient, SmtpClientBuilder};

use crate::{common, tls_support};

const AIOSMTPD: &str = r#"
import base64, json, logging, socket, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# Quiet: deprecation notices from aiosmtpd itself, and the tracebacks of
# handshakes our tests make fail on purpose.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
mode, auth, cert, key = sys.argv[1], sys.argv[2] == "auth", sys.argv[3], sys.argv[4]

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
            # session.ssl: STARTTLS; the transport's ssl_object: implicit TLS.
            "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "data_base64": base64.b64encode(envelope.original_content).decode(),
        }), flush=True)
        return "250 2.0.0 queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alice" and auth_data.password == b"secret"
    # handled=False: aiosmtpd answers 535 itself on failure.
    return AuthResult(success=ok, handled=False)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
kwargs = {}
if mode == "starttls":
    kwargs = dict(tls_context=ctx, require_starttls=True)
elif mode == "implicit":
    kwargs = dict(ssl_context=ctx)
if auth:
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls (not an
    # ssl_context): with implicit TLS the check is off, the transport is TLS.
    kwargs.update(authenticator=authenticator, auth_require_tls=(mode == "starttls"))
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
c.start()
print(json.dumps({"port": port}), flush=True)
sys.stdin.read()
c.stop()
"#;

/// aiosmtpd in a child process; stopped (stdin closed, killed if it
/// lingers) when dropped. Its stdout is read by a thread, so a large
/// delivery never blocks the server's handler on a full pipe.
pub struct Aiosmtpd {
    child: Child,
    lines: Receiver<String>,
    pub port: u16,
    pub ca_pem: String,
    /// The CA certificate as a PEM file.
    pub ca_file: PathBuf,
}

impl Aiosmtpd {
    /// `mode`: "plain", "starttls" or "implicit".
    pub fn start(mode: &str, auth: bool) -> Aiosmtpd {
        let pki = tls_support::pki();
        let dir = common::temp_dir("aiosmtpd");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &pki.localhost.cert_pem).unwrap();
        std::fs::write(&key, &pki.localhost.key_pem).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &pki.ca_pem).unwrap();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(AIOSMTPD)
            .arg(mode)
            .arg(if auth { "auth" } else { "noauth" })
            .arg(&cert)
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&first)
            .unwrap_or_else(|_| panic!("aiosmtpd did not start (pip install aiosmtpd): {first:?}"));
        Aiosmtpd {
            child,
            lines,
            port: v["port"].as_u64().unwrap() as u16,
            ca_pem: pki.ca_pem,
            ca_file,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A builder for this server, trusting the test CA, certificate checked
    /// for `localhost`.
    pub fn client(&self, security: Security) -> SmtpClientBuilder {
        SmtpClient::builder(self.addr())
            .hello_name("wireloom.test")
            .security(security)
            .ca_pem(self.ca_pem.as_bytes())
            .tls_server_name("localhost")
    }

    /// The next delivered message, as the handler printed it.
    pub fn delivered(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("no delivery within 30 s");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("no delivery: {line:?}"))
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let until = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn data(v: &Value) -> Vec<u8> {
    B64.decode(v["data_base64"].as_str().unwrap()).unwrap()
}
