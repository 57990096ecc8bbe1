//! WebSocket peers for every adapter's tests, all on 127.0.0.1: a Python
//! `websockets` echo server (sync or asyncio API, permessage-deflate on or
//! off, plain or TLS) for the clients, the Python `websockets` client
//! scenarios for the servers, and headless Chromium loading a page (the
//! demo's `chat.html`) whose DOM is read back with `--dump-dom`.
//!
//! ```no_run
//! use wireloom_testkit::ws::{chromium_dump_dom, python_client, Api, PyWsServer};
//!
//! // A client test: the echo server, compression on, plain TCP.
//! let server = PyWsServer::start(Api::Asyncio, true, false);
//! let url = server.url("/");
//! // ... connect any adapter's client to `url`, send "extensions?" ...
//!
//! // A server test: the Python client's "echo" scenario, sync API, no
//! // compression offered.
//! python_client(Api::Sync, "echo", "ws://127.0.0.1:8080/ws/echo", false, None);
//!
//! // A browser test.
//! let dom = chromium_dump_dom("http://127.0.0.1:8080/chat.html?auto=alice");
//! assert!(dom.contains("hello from alice"));
//! # drop(server);
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fs::{temp_dir, TempDir};
use crate::pki;
use crate::process::run;

const SERVER: &str = include_str!("ws_server.py");
const CLIENT: &str = include_str!("ws_client.py");

/// Which API of Python `websockets` a peer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `websockets.sync.server` / `websockets.sync.client` (threads).
    Sync,
    /// `websockets.asyncio.server` / `websockets.asyncio.client`.
    Asyncio,
}

impl Api {
    /// Both, for tests that run every scenario through each.
    pub const ALL: [Api; 2] = [Api::Sync, Api::Asyncio];

    fn arg(self) -> &'static str {
        match self {
            Api::Sync => "sync",
            Api::Asyncio => "asyncio",
        }
    }
}

/// The Python `websockets` echo server (see `ws_server.py` next to this
/// file for its commands: `close CODE REASON`, `extensions?`, `ping-me`,
/// `send-fragmented N`, `send-big N`), stopped when dropped (stdin closed,
/// then killed if it lingers). Its message size limit is 64 MiB.
pub struct PyWsServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Whether it serves TLS (`wss://`, a certificate for `localhost` from
    /// [`PyWsServer::ca_pem`]).
    pub tls: bool,
    /// The test CA its certificate comes from, PEM (TLS only; a CA made
    /// for nothing otherwise).
    pub ca_pem: String,
    /// [`PyWsServer::ca_pem`] as a file.
    pub ca_file: PathBuf,
}

impl PyWsServer {
    /// Starts it and waits (at most 30 s) until it listens. `compression`:
    /// whether it accepts permessage-deflate; `tls`: wss with a
    /// certificate for `localhost` from a fresh test CA.
    pub fn start(api: Api, compression: bool, tls: bool) -> PyWsServer {
        let (ca_pem, leaf) = pki::localhost();
        let dir = temp_dir("py-ws");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg("-c")
            .arg(SERVER)
            .arg(api.arg())
            .arg(if compression { "deflate" } else { "none" });
        if tls {
            cmd.arg(&cert).arg(&key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let first = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let port = serde_json::from_str::<Value>(&first)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the websockets server did not start (pip install websockets): {first:?}")
            }) as u16;
        PyWsServer {
            child,
            port,
            tls,
            ca_pem,
            ca_file,
        }
    }

    /// `ws://127.0.0.1:PORT{path}`, or `wss://localhost:PORT{path}` with
    /// TLS (the name its certificate is for).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("wss://localhost:{}{path}", self.port)
        } else {
            format!("ws://127.0.0.1:{}{path}", self.port)
        }
    }
}

impl Drop for PyWsServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let until = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one Python `websockets` client scenario (see `ws_client.py` next
/// to this file: `echo`, `close-code`, `too-big`, `chat:N`,
/// `raw-unmasked`, `raw-bad-utf8`) against `url` (killed after 120 s);
/// panics with its output unless it printed `ok`. `compression`: whether
/// the client offers permessage-deflate (and so whether the server must
/// accept it); `ca_file`: the CA to trust for `wss://`.
pub fn python_client(
    api: Api,
    scenario: &str,
    url: &str,
    compression: bool,
    ca_file: Option<&Path>,
) {
    let out = python_client_output(api, scenario, url, compression, ca_file);
    assert_eq!(
        out.0.trim(),
        "ok",
        "websockets {api:?} client, scenario {scenario} against {url} (compression {compression}):\n{}",
        out.1
    );
}

/// [`python_client`] without the verdict: its stdout and stderr.
pub fn python_client_output(
    api: Api,
    scenario: &str,
    url: &str,
    compression: bool,
    ca_file: Option<&Path>,
) -> (String, String) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(CLIENT).args([
        api.arg(),
        scenario,
        url,
        if compression { "deflate" } else { "none" },
    ]);
    if let Some(ca) = ca_file {
        cmd.arg(ca);
    }
    let out = run(&mut cmd, Duration::from_secs(120));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The Chromium binary (Debian's `chromium`), if installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Loads `url` in headless Chromium (`--headless --no-sandbox
/// --disable-gpu --virtual-time-budget=5000 --dump-dom`, a fresh profile
/// dir; killed after 60 s) and returns the DOM after the page's scripts
/// ran. Panics if Chromium is missing (`apt-get install chromium`;
/// `.ci/run` installs it) or fails.
pub fn chromium_dump_dom(url: &str) -> String {
    let bin = chromium().expect("chromium is required (apt-get install chromium)");
    let profile = TempDir::new("chromium");
    let out = run(
        Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(url),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The texts of the `<li class="msg">` items of a dumped `chat.html`, in
/// page order.
pub fn chat_messages(dom: &str) -> Vec<String> {
    dom.split("<li class=\"msg\">")
        .skip(1)
        .filter_map(|s| s.split("</li>").next())
        .map(|s| {
            s.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .collect()
}
