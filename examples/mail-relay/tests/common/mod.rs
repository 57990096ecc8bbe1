//! Real peers for mail-relay's tests: aiosmtpd as the smarthost
//! (`smarthost.py`), the relay binary itself, Python smtplib
//! (`send.py`) and swaks as senders. Everything on 127.0.0.1, ephemeral
//! ports, stopped on drop; every wait bounded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use wireloom_testkit::fs::TempDir;
use wireloom_testkit::pki;
use wireloom_testkit::process::run;

const SMARTHOST: &str = include_str!("../smarthost.py");
const SEND: &str = include_str!("../send.py");

/// Lines of a child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// aiosmtpd recording every delivery to a file.
pub struct Smarthost {
    child: Child,
    _stdin: ChildStdin,
    /// Its port.
    pub port: u16,
    /// The record file (JSON lines).
    pub record: PathBuf,
}

impl Smarthost {
    /// Starts it; every DATA waits `delay` seconds before its 250.
    pub fn start(dir: &Path, delay: f64) -> Smarthost {
        Smarthost::start_on(dir, delay, None)
    }

    /// [`Smarthost::start`] on a given port.
    pub fn start_on(dir: &Path, delay: f64, port: Option<u16>) -> Smarthost {
        Smarthost::start_with(dir, delay, port, 0)
    }

    /// [`Smarthost::start_on`] advertising `SIZE size_limit` (0: none).
    pub fn start_with(dir: &Path, delay: f64, port: Option<u16>, size_limit: u64) -> Smarthost {
        let record = dir.join("smarthost.jsonl");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SMARTHOST)
            .arg(&record)
            .arg(delay.to_string())
            .arg(port.unwrap_or(0).to_string())
            .arg(size_limit.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let lines = lines_of(&mut child);
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&first).unwrap_or_else(|_| {
            panic!("smarthost did not start (pip install aiosmtpd): {first:?}")
        });
        Smarthost {
            child,
            _stdin: stdin,
            port: v["port"].as_u64().unwrap() as u16,
            record,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every event recorded so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "data")
            .collect()
    }

    /// Waits (at most `limit`) until `f` holds for the messages received.
    pub fn wait_messages(&self, limit: Duration, f: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = Instant::now() + limit;
        loop {
            let m = self.messages();
            if f(&m) || Instant::now() > until {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smarthost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's bytes as the smarthost received them.
pub fn data(v: &Value) -> String {
    let b = base64::engine::general_purpose::STANDARD
        .decode(v["data_base64"].as_str().unwrap())
        .unwrap();
    String::from_utf8_lossy(&b).into_owned()
}

/// The `X-Test-Id` of a received message.
pub fn test_id(v: &Value) -> Option<u64> {
    data(v)
        .lines()
        .find_map(|l| l.strip_prefix("X-Test-Id: "))
        .and_then(|s| s.trim().parse().ok())
}

/// Test certificates: a CA and a `localhost` leaf, as files.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certs(dir: &Path) -> Certs {
    let (ca_pem, leaf) = pki::localhost();
    let c = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&c.ca, ca_pem).unwrap();
    std::fs::write(&c.cert, &leaf.cert_pem).unwrap();
    std::fs::write(&c.key, &leaf.key_pem).unwrap();
    c
}

/// The relay binary, running.
pub struct Relay {
    child: Option<Child>,
    lines: Receiver<String>,
    /// The relay listener's port.
    pub relay_port: u16,
    /// The submission listener's port (0 when not asked for).
    pub submission_port: u16,
}

/// A fresh temp directory.
pub fn dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

impl Relay {
    /// Starts `mail-relay --listen 127.0.0.1:0 --spool SPOOL --smarthost
    /// ADDR ARGS...` and waits (at most 20 s) for `ready`.
    pub fn start(spool: &Path, smarthost: &str, args: &[&str]) -> Relay {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mail-relay"))
            .args(["--listen", "127.0.0.1:0", "--hostname", "relay.test"])
            .arg("--spool")
            .arg(spool)
            .args(["--smarthost", smarthost])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("RELAY_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("mail-relay");
        let lines = lines_of(&mut child);
        let (mut relay_port, mut submission_port) = (0, 0);
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .expect("mail-relay did not get ready");
            let port = || line.rsplit(':').next().unwrap().parse::<u16>().unwrap();
            if line.starts_with("listening relay ") {
                relay_port = port();
            } else if line.starts_with("listening submission ") {
                submission_port = port();
            } else if line == "ready" {
                break;
            }
        }
        Relay {
            child: Some(child),
            lines,
            relay_port,
            submission_port,
        }
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM (without waiting).
    pub fn sigterm(&self) {
        let c = self.child.as_ref().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }

    /// SIGTERM, then waits (at most `limit`) for it to exit: its exit
    /// status success and the lines it printed meanwhile.
    pub fn terminate(&mut self, limit: Duration) -> (bool, Vec<String>) {
        self.sigterm();
        self.wait_exit(limit)
    }

    /// Waits (at most `limit`, then SIGKILL) for it to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> (bool, Vec<String>) {
        let mut c = self.child.take().expect("running");
        let until = Instant::now() + limit;
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > until {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let lines = self.lines.try_iter().collect();
        (status.is_some_and(|s| s.success()), lines)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One smtplib send result.
#[derive(Debug)]
pub struct Sent {
    pub i: i64,
    pub ok: bool,
    pub code: u64,
    pub refused: Value,
}

/// Runs `send.py PORT MODE FROM TOS COUNT [SIZE]` (at most 120 s).
pub fn smtplib(
    port: u16,
    mode: &str,
    from: &str,
    to: &str,
    count: usize,
    size: usize,
) -> Vec<Sent> {
    let out = run(
        Command::new("python3")
            .arg("-c")
            .arg(SEND)
            .arg(port.to_string())
            .arg(mode)
            .arg(from)
            .arg(to)
            .arg(count.to_string())
            .arg(size.to_string()),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "send.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Sent {
                i: v["i"].as_i64().unwrap(),
                ok: v["ok"].as_bool().unwrap(),
                code: v["code"].as_u64().unwrap(),
                refused: v["refused"].clone(),
            }
        })
        .collect()
}

/// Runs swaks (at most 60 s): exit success and its transcript.
pub fn swaks(args: &[&str]) -> (bool, String) {
    let out = run(Command::new("swaks").args(args), Duration::from_secs(60));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Files in the spool's `msg/` directory.
pub fn spool_files(spool: &Path) -> usize {
    std::fs::read_dir(spool.join("msg")).map_or(0, |d| d.count())
}
