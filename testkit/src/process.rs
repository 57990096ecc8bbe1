//! Child processes: a guard that kills and reaps its child when dropped,
//! bounded runs of a command (pipes drained on threads, so a chatty child
//! never blocks), and the peers most tests call: curl and Python.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use wireloom_testkit::process;
//!
//! let out = process::run(Command::new("true").arg("x"), Duration::from_secs(5));
//! assert!(out.status.success());
//! let (body, errors) = process::curl(&["http://127.0.0.1:8080/plaintext"]);
//! process::python_ok("print('ok')", &[]);
//! ```

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped (by its own handle,
/// never by name).
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion with stdin closed and stdout and stderr
/// captured; panics (after killing it) if it takes longer than `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut guard = ChildGuard(child);
    // Drain the pipes on threads so a chatty child cannot block.
    let mut so = guard.0.stdout.take().expect("stdout");
    let mut se = guard.0.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            drop(guard);
            panic!("{cmd:?} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    }
}

/// The first line `out` (a child's stdout, say) gives, read on a thread of
/// its own; `None` if none comes within `limit`. For peers that print
/// their port or URL once they listen.
pub fn first_line(out: impl Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(limit).ok()
}

/// Whether `program --version` runs and succeeds.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs curl (`-sS --max-time 20`, killed after 25 s) with `args`; returns
/// its whole output.
pub fn curl_raw(args: &[&str]) -> Output {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .args(args),
        Duration::from_secs(25),
    )
}

/// [`curl_raw`]; returns stdout and stderr as text.
pub fn curl(args: &[&str]) -> (String, String) {
    let out = curl_raw(args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`curl_raw`]; asserts that curl succeeded and returns stdout.
pub fn curl_ok(args: &[&str]) -> Vec<u8> {
    let out = curl_raw(args);
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `python3 -c script args...` (killed after 60 s); asserts that it
/// printed `ok` and nothing else.
pub fn python_ok(script: &str, args: &[&str]) {
    let out = run(
        Command::new("python3").arg("-c").arg(script).args(args),
        Duration::from_secs(60),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
