//! Running out of file descriptors (`accept` fails with EMFILE) must not
//! stop the server: once descriptors are free again it accepts again.
//!
//! A test binary of its own: it lowers this process's descriptor limit
//! (with util-linux `prlimit`), which would disturb tests running beside it.

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::*;
use wireloom_async_std::core::http::StatusCode;
use wireloom_async_std::server::{Request, Response, Server};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Sets the soft descriptor limit (the hard one stays: raising it back
/// would need CAP_SYS_RESOURCE).
fn set_nofile(n: u64, hard: u64) {
    let out = wireloom_testkit::process::run(
        Command::new("prlimit")
            .arg("--pid")
            .arg(std::process::id().to_string())
            .arg(format!("--nofile={n}:{hard}")),
        Duration::from_secs(10),
    );
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (soft, hard) descriptor limits.
fn limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut v = line.split_whitespace().skip(3).map(|n| n.parse().unwrap());
    (v.next().unwrap(), v.next().unwrap())
}

#[test]
fn server_accepts_again_after_emfile() {
    let (soft, hard) = limits();
    each_executor(|rt| async move {
        let s = start(
            &rt,
            Server::builder_on(rt.clone())
                .handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
        );
        let addr = s.addr;
        // Warm up the blocking pool and the curl path first.
        let (out, _) = curl(&[&format!("{}/", s.base())]).await;
        assert_eq!(out, "Hello, World!");
        unblock(move || {
            let base = open_fds() as u64;
            set_nofile(base + 24, hard);
            // Clients take descriptors on both ends (one process): the
            // server's accepts run out first.
            let clients: Vec<TcpStream> = (0..16)
                .filter_map(|_| TcpStream::connect(addr).ok())
                .collect();
            std::thread::sleep(Duration::from_millis(300));
            drop(clients);
            std::thread::sleep(Duration::from_millis(300));
            set_nofile(soft, hard);
        })
        .await;
        // Served again (within the bounded curl time).
        let (out, err) = curl(&["--max-time", "5", &format!("{}/", s.base())]).await;
        assert_eq!(out, "Hello, World!", "{err}");
        s.stop().await;
    });
}
