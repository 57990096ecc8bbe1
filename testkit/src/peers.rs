//! HTTP servers the clients are tested against, each started on 127.0.0.1
//! with its configuration in a temp dir of its own (never the system
//! services) and stopped when its [`ChildGuard`] drops.
//!
//! ```no_run
//! use wireloom_testkit::{fs, peers};
//!
//! let root = fs::temp_dir("doc-root");
//! std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
//! let (_nginx, port) = peers::start_nginx("", &format!("root {};", root.display()));
//! let (_python, py_port) = peers::python_http_server(&root);
//! ```

use std::path::Path;
use std::process::{Command, Stdio};

use crate::fs::temp_dir;
use crate::net::{free_port, wait_port};
use crate::process::ChildGuard;

fn nginx_binary() -> &'static str {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("nginx must be installed (apt-get install nginx)");
}

/// Starts nginx (one worker, foreground, its own temp dir) with one
/// `server { listen 127.0.0.1:PORT <listen_extra>; <server_body> }` on a
/// free port; returns once it listens.
pub fn start_nginx(listen_extra: &str, server_body: &str) -> (ChildGuard, u16) {
    let port = free_port();
    let dir = temp_dir("nginx");
    let conf = format!(
        r#"
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000;
    server {{
        listen 127.0.0.1:{port} {listen_extra};
        {server_body}
    }}
}}
"#,
        d = dir.display()
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(nginx_binary())
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    wait_port(port);
    (guard, port)
}

/// Python's `http.server` (HTTP/1.0: every response closes) serving
/// `root` on a free port; returns once it listens.
pub fn python_http_server(root: &Path) -> (ChildGuard, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    wait_port(port);
    (guard, port)
}
