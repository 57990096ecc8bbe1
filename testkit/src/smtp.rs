//! Real SMTP peers for every adapter's client tests, started on
//! 127.0.0.1: aiosmtpd (plain, STARTTLS or implicit TLS with a certificate
//! from a test CA, optional AUTH PLAIN/LOGIN for alice/secret; refuses
//! recipients starting with `nobody`; prints each delivered message as a
//! JSON line) and Postfix `smtp-sink` (PIPELINING, transactions dumped to a
//! file).
//!
//! ```no_run
//! use wireloom_io::smtp::{Security, SmtpSettings, StartTls};
//! use wireloom_testkit::smtp::{data, Aiosmtpd};
//!
//! let mut server = Aiosmtpd::start("starttls", true);
//! let settings = server
//!     .builder::<SmtpSettings>(Security::StartTls(StartTls::Required))
//!     .build()
//!     .unwrap();
//! // ... send a message with any adapter's client ...
//! let got = server.delivered();
//! assert_eq!(got["tls"], true);
//! let bytes = data(&got);
//! # let _ = (settings, bytes);
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use wireloom_io::smtp::{FromSettings, Security, SmtpClientBuilder};

use crate::fs::temp_dir;
use crate::net::{free_port, wait_port};
use crate::pki;
use crate::process::ChildGuard;

const AIOSMTPD: &str = include_str!("aiosmtpd.py");

/// aiosmtpd in a child process; stopped (stdin closed, killed if it
/// lingers) when dropped. Its stdout is read by a thread, so a large
/// delivery never blocks the server's handler on a full pipe.
pub struct Aiosmtpd {
    child: Child,
    lines: Receiver<String>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The test CA its certificate (for `localhost`) comes from, PEM.
    pub ca_pem: String,
    /// The CA certificate as a PEM file.
    pub ca_file: PathBuf,
}

impl Aiosmtpd {
    /// Starts it and waits (at most 30 s) until it listens. `mode`:
    /// "plain", "starttls" or "implicit"; `auth`: AUTH PLAIN and LOGIN
    /// offered (alice/secret).
    pub fn start(mode: &str, auth: bool) -> Aiosmtpd {
        let (ca_pem, leaf) = pki::localhost();
        let dir = temp_dir("aiosmtpd");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).unwrap();
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
            ca_pem,
            ca_file,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A builder of any adapter's client for this server, trusting the
    /// test CA, certificate checked for `localhost`.
    pub fn builder<C: FromSettings>(&self, security: Security) -> SmtpClientBuilder<C> {
        SmtpClientBuilder::new(self.addr())
            .hello_name("wireloom.test")
            .security(security)
            .ca_pem(self.ca_pem.as_bytes())
            .tls_server_name("localhost")
    }

    /// The next delivered message (at most 30 s away), as the handler
    /// printed it: `mail_from`, `rcpt_to`, `mail_options`, `tls`,
    /// `authenticated`, `data_base64`.
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

/// The message bytes of a delivery (or of anything with a
/// `data_base64` field).
pub fn data(v: &Value) -> Vec<u8> {
    B64.decode(v["data_base64"].as_str().unwrap()).unwrap()
}

/// Postfix smtp-sink on a free port, capturing every transaction into
/// `dump` (run as root it must drop to `nobody`); `extra` flags (`-p`:
/// no PIPELINING).
pub fn smtp_sink(extra: &[&str], dump: &Path) -> (ChildGuard, String) {
    let sink = "/usr/sbin/smtp-sink";
    assert!(
        Path::new(sink).exists(),
        "smtp-sink is required (apt-get install postfix; .ci/run installs it)"
    );
    let port = free_port();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut cmd = Command::new(sink);
    if is_root {
        cmd.args(["-u", "nobody"]);
    }
    let child = cmd
        .args(extra)
        .arg("-D")
        .arg(dump)
        .arg(format!("127.0.0.1:{port}"))
        .arg("100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = ChildGuard(child);
    wait_port(port);
    (peer, format!("127.0.0.1:{port}"))
}

/// A directory smtp-sink (running as `nobody`) can write its dumps into.
pub fn sink_dir() -> PathBuf {
    let dir = temp_dir("smtp-sink");
    Command::new("chmod").arg("777").arg(&dir).status().unwrap();
    dir
}

/// Waits (at most 5 s) until the dump file holds `n` transactions.
pub fn dumped(dump: &Path, n: usize) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(dump).unwrap_or_default();
        if text.matches("X-Client-Addr:").count() >= n || Instant::now() > until {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A large message to stream (about 1.6 MB): 60,000 lines of 8-bit text, a
/// third of them starting with a dot, every other one ending in a bare
/// LF; and the bytes a server must receive for it (CRLF everywhere, the
/// dots unstuffed again).
pub fn big_message() -> (Vec<u8>, Vec<u8>) {
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    let mut expected = message.clone();
    for i in 0..60_000 {
        let line = format!(
            "{}line {i} of a big message\u{e9}",
            if i % 3 == 0 { "." } else { "" }
        );
        message.extend_from_slice(line.as_bytes());
        message.extend_from_slice(if i % 2 == 0 { b"\n" } else { b"\r\n" });
        expected.extend_from_slice(line.as_bytes());
        expected.extend_from_slice(b"\r\n");
    }
    (message, expected)
}
