//! The accept loop survives running out of file descriptors: with the
//! process's descriptor limit lowered (`prlimit`) so that only two
//! connections fit, eight clients connecting at once are all served as
//! earlier connections close. (Alone in its test binary: the limit is the
//! whole process's.)

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{start, Flavor};
use wireloom_testkit::process::ChildGuard;
use wireloom_tokio::core::http::StatusCode;
use wireloom_tokio::server::{Request, Response, Server};

const CLIENT: &str = r#"
import socket, sys
port = int(sys.argv[1])
sys.stdin.readline()
socks = []
for i in range(8):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /n HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    socks.append(s)
ok = 0
for s in socks:
    data = b""
    try:
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
    except OSError as e:
        print("error", e, flush=True)
    if data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"served"):
        ok += 1
print("ok" if ok == 8 else "served %d of 8" % ok, flush=True)
"#;

fn open_fds() -> HashSet<u32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn accept_goes_on_after_running_out_of_descriptors() {
    let mut srv = start(
        Flavor::Current,
        Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .handler(|_: Request| async { Response::text(StatusCode::OK, "served") }),
    );
    // The client starts now (spawning needs descriptors) and waits for "go".
    let mut child = ChildGuard(
        Command::new("python3")
            .arg("-c")
            .arg(CLIENT)
            .arg(srv.addr.port().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    // The lowest limit that leaves exactly two descriptor numbers free.
    let open = open_fds();
    let mut free = 0;
    let mut limit = 0u32;
    while free < 2 {
        if !open.contains(&limit) {
            free += 1;
        }
        limit += 1;
    }
    let status = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={limit}:"))
        .status()
        .expect("prlimit (util-linux)");
    assert!(status.success());
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the clients were not all answered: the server stopped accepting");
    assert_eq!(line, "ok");
    srv.shutdown_within(Duration::from_secs(5));
}
