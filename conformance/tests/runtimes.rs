//! Same bytes on every runtime: one set of scenarios
//! (`corpus/runtimes/scenarios.json`) is played over real loopback sockets
//! against the same application on each adapter's server (blocking,
//! tokio, wireloom-async-std under smol and under async-std), and the bytes each server puts on the wire must be identical;
//! they are also snapshotted (insta).
//!
//! Normalised before comparing: the `Date` value, the multipart boundary
//! (random per response) and the `ETag` value (it holds the file's inode,
//! which differs between checkouts). Nothing else.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use wireloom_core::http::{Method, StatusCode};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/runtimes")
}

/// A static root holding `file.txt` with a fixed modification time.
fn site() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wireloom-runtimes-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("file.txt");
    std::fs::copy(corpus().join("file.txt"), &path).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_630_303))
        .unwrap();
    dir
}

mod blocking_app {
    use super::*;
    use wireloom_blocking::cache::{CacheConfig, FileCache};
    use wireloom_blocking::router::Router;
    use wireloom_blocking::server::{Request, Response, Server, ServerHandle};
    use wireloom_blocking::static_files::StaticFiles;

    pub fn start(root: &Path) -> (SocketAddr, ServerHandle) {
        let mut r = Router::new();
        r.route(
            Method::GET,
            "/plaintext",
            Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
        )
        .unwrap();
        r.route(
            Method::POST,
            "/echo",
            Server::handler(|req: &mut Request<'_>| match req.read_body(1 << 20) {
                Ok(b) => Response::bytes(StatusCode::OK, "text/plain", b),
                Err(_) => Response::new(StatusCode::BAD_REQUEST),
            }),
        )
        .unwrap();
        let files = StaticFiles::new(root, FileCache::new(CacheConfig::default())).unwrap();
        r.route(Method::GET, "/{*path}", Server::handler(files))
            .unwrap();
        let server = Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .threads(4)
            .router(r)
            .build()
            .unwrap();
        let addr = server.local_addrs()[0];
        (addr, server.spawn().unwrap())
    }
}

/// The application on the async engine (`wireloom_io::aio`), written once
/// over its `Runtime`: wireloom-tokio and wireloom-async-std serve it with
/// the same server, each on its own runtime.
mod aio_app {
    use super::*;
    use wireloom_io::aio::server::{handler, BoxHandler, Request, Response, Server, StaticFiles};
    use wireloom_io::cache::{CacheConfig, FileCache};
    use wireloom_io::router::Router;
    use wireloom_io::rt::Runtime;
    use wireloom_io::static_files::StaticDir;

    /// The application on `rt`, bound to an ephemeral port, not yet running.
    pub fn build<R: Runtime>(root: &Path, rt: R) -> Server<R> {
        let mut r: Router<BoxHandler> = Router::new();
        r.route(
            Method::GET,
            "/plaintext",
            handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
        )
        .unwrap();
        r.route(
            Method::POST,
            "/echo",
            handler(|mut req: Request| async move {
                match req.read_body(1 << 20).await {
                    Ok(b) => Response::bytes(StatusCode::OK, "text/plain", b),
                    Err(_) => Response::new(StatusCode::BAD_REQUEST),
                }
            }),
        )
        .unwrap();
        let dir = StaticDir::new(root, FileCache::new(CacheConfig::default())).unwrap();
        r.route(
            Method::GET,
            "/{*path}",
            handler(StaticFiles::new(rt.clone(), dir)),
        )
        .unwrap();
        Server::builder_on(rt)
            .bind("127.0.0.1:0")
            .unwrap()
            .router(r)
            .build()
            .unwrap()
    }
}

mod tokio_app {
    use super::*;
    use wireloom_tokio::server::ServerHandle;
    use wireloom_tokio::TokioRuntime;

    /// The application on a current-thread tokio runtime of its own.
    pub fn start(root: &Path) -> (SocketAddr, ServerHandle) {
        let server = aio_app::build(root, TokioRuntime);
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = rt.block_on(server.run());
        });
        (addr, handle)
    }
}

mod async_app {
    use super::*;
    use wireloom_async_std::server::ServerHandle;
    use wireloom_async_std::AsyncRuntime;

    /// The same application on `rt` (smol or async-std).
    pub fn start(root: &Path, rt: AsyncRuntime) -> (SocketAddr, ServerHandle) {
        let server = aio_app::build(root, rt.clone());
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        std::thread::spawn(move || {
            let _ = rt.block_on(server.run());
        });
        (addr, handle)
    }
}

/// Plays one scenario; returns everything the server sent until it closed.
fn play(addr: SocketAddr, steps: &[Value]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut closed = false;
    let mut read_some =
        |s: &mut TcpStream, out: &mut Vec<u8>, closed: &mut bool| match s.read(&mut buf) {
            Ok(0) => *closed = true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // A reset after the server's last answer: what was read stands.
            Err(_) => *closed = true,
        };
    for step in steps {
        if let Some(data) = step.get("send").and_then(Value::as_str) {
            // The server may close early (an error answer); keep reading.
            let _ = s.write_all(data.as_bytes());
        } else if let Some(want) = step.get("wait").and_then(Value::as_str) {
            while !contains(&out, want.as_bytes()) && !closed {
                assert!(Instant::now() < deadline, "waiting for {want:?}");
                read_some(&mut s, &mut out, &mut closed);
            }
        }
    }
    while !closed {
        assert!(Instant::now() < deadline, "the server did not close");
        read_some(&mut s, &mut out, &mut closed);
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Replaces the values that legitimately differ between runs.
fn normalise(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut boundary = None;
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("date: ") {
            out.push_str("Date: <date>\r\n");
        } else if lower.starts_with("etag: ") {
            out.push_str("ETag: <etag>\r\n");
        } else if lower.starts_with("content-type: multipart/byteranges; boundary=") {
            boundary = Some(
                line["content-type: multipart/byteranges; boundary=".len()..]
                    .trim()
                    .to_string(),
            );
            out.push_str("Content-Type: multipart/byteranges; boundary=<boundary>\r\n");
        } else {
            out.push_str(line);
        }
    }
    match boundary {
        Some(b) if !b.is_empty() => out.replace(&b, "<boundary>"),
        _ => out,
    }
}

#[test]
fn every_runtime_puts_the_same_bytes_on_the_wire() {
    let root = site();
    let scenarios: Value =
        serde_json::from_slice(&std::fs::read(corpus().join("scenarios.json")).unwrap()).unwrap();
    let (blocking, bh) = blocking_app::start(&root);
    let (tokio, th) = tokio_app::start(&root);
    let (smol, sh) = async_app::start(&root, wireloom_async_std::AsyncRuntime::smol());
    let (async_std, ah) = async_app::start(&root, wireloom_async_std::AsyncRuntime::async_std());
    let servers = [
        ("blocking", blocking),
        ("tokio", tokio),
        ("smol", smol),
        ("async-std", async_std),
    ];
    for sc in scenarios.as_array().unwrap() {
        let name = sc["name"].as_str().unwrap();
        let steps = sc["steps"].as_array().unwrap();
        let mut first: Option<(&str, String)> = None;
        for (runtime, addr) in servers {
            let got = normalise(&play(addr, steps));
            match &first {
                None => {
                    let note = sc["note"].as_str().unwrap_or("").to_string();
                    insta::with_settings!({description => note, omit_expression => true}, {
                        insta::assert_snapshot!(name, got);
                    });
                    first = Some((runtime, got));
                }
                Some((r0, want)) => {
                    assert_eq!(&got, want, "scenario {name}: {runtime} differs from {r0}")
                }
            }
        }
    }
    th.shutdown();
    sh.shutdown();
    ah.shutdown();
    bh.shutdown();
    let _ = std::fs::remove_dir_all(root);
}
