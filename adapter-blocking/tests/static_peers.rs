//! Static files through the cache, under curl and Python http.client:
//! validators, conditional GET, ranges, index files, escapes from the root,
//! and a file rewritten while it is being served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Server, ServerHandle};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::scenarios::static_files;

fn serve(root: &std::path::Path) -> (ServerHandle, SocketAddr, FileCache) {
    let cache = FileCache::new(CacheConfig::default());
    let mut r = Router::new();
    r.any(
        "/{*path}",
        Server::handler(StaticFiles::new(root, cache.clone()).unwrap()),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(4)
        .router(r)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    (server.spawn().unwrap(), addr, cache)
}

#[test]
fn conditional_get_ranges_and_index() {
    let root = temp_dir("static");
    let big = static_files::site(&root);
    let (h, addr, cache) = serve(&root);
    static_files::types_validators_ranges_and_index(addr, &big, &cache);
    h.shutdown();
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn no_escape_from_the_root() {
    let base_dir = temp_dir("jail");
    let (h, addr, _) = serve(&static_files::jail(&base_dir));
    static_files::no_escape_from_the_root(addr);
    h.shutdown();
    std::fs::remove_dir_all(&base_dir).ok();
}

#[test]
fn file_rewritten_while_served_is_never_mixed() {
    let root = temp_dir("rewrite");
    let path = root.join("f.bin");
    let size = 8 * 1024 * 1024;
    let v1 = vec![b'a'; size];
    std::fs::write(&path, &v1).unwrap();
    let (h, addr, _) = serve(&root);
    for round in 0..6 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /f.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        // Read the head and a little body, then change the file in place.
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() < 200_000 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            if round % 2 == 0 {
                f.set_len((size / 2) as u64).unwrap();
            } else {
                f.write_all_at(&vec![b'b'; size], 0).unwrap();
            }
        }
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let split = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &got[split..];
        // Either the complete original (sent before the change landed) or
        // cut short; never a complete response of other bytes.
        let complete = body.len() == size;
        if complete {
            assert!(
                body.iter().all(|&c| c == b'a'),
                "round {round}: complete response with foreign bytes"
            );
        } else {
            assert!(body.len() < size, "round {round}");
        }
        std::fs::write(&path, &v1).unwrap();
    }
    // The server is alive and serves the current file whole.
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /f.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(all.ends_with(&v1[size - 100..]) && all.len() > size);
    h.shutdown();
    std::fs::remove_dir_all(&root).ok();
}
