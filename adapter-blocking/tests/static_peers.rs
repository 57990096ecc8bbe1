//! Static files through the cache, under curl and Python http.client:
//! validators, conditional GET, ranges, index files, escapes from the root,
//! and a file rewritten while it is being served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Server, ServerHandle};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::http::header;
use wireloom_testkit::process::curl_ok as curl;

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
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(root.join("a.txt"), "0123456789abcdefghij").unwrap();
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/index.html"), "<p>index</p>").unwrap();
    let (h, addr, cache) = serve(&root);
    let base = format!("http://{addr}");

    let head = String::from_utf8(curl(&["-sI", &format!("{base}/a.txt")])).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&head, "content-length"), Some("20"));
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    let etag = header(&head, "etag").unwrap();
    let lm = header(&head, "last-modified").unwrap();

    // Conditional GET: If-None-Match and If-Modified-Since give 304.
    let r = String::from_utf8(curl(&[
        "-si",
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{base}/a.txt"),
    ]))
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 304 Not Modified"), "{r}");
    let r = String::from_utf8(curl(&[
        "-si",
        "-H",
        &format!("If-Modified-Since: {lm}"),
        &format!("{base}/a.txt"),
    ]))
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 304"), "{r}");
    let r = String::from_utf8(curl(&[
        "-si",
        "-H",
        "If-Match: \"other\"",
        &format!("{base}/a.txt"),
    ]))
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 412"), "{r}");

    // Ranges: one, several (multipart/byteranges, parsed by Python's email), none satisfiable.
    assert_eq!(curl(&["-r", "10-14", &format!("{base}/a.txt")]), b"abcde");
    assert_eq!(curl(&["-r", "-3", &format!("{base}/a.txt")]), b"hij");
    assert_eq!(
        curl(&["-r", "100000-", &format!("{base}/big.bin")]),
        &big[100_000..]
    );
    let r = String::from_utf8(curl(&["-si", "-r", "50-60", &format!("{base}/a.txt")])).unwrap();
    assert!(r.starts_with("HTTP/1.1 416"), "{r}");
    assert_eq!(header(&r, "content-range"), Some("bytes */20"));
    let script = format!(
        r#"
import http.client, email
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
c.request("GET", "/big.bin", headers={{"Range": "bytes=0-9,200000-200009"}})
r = c.getresponse(); body = r.read()
assert r.status == 206, r.status
ct = r.getheader("Content-Type"); assert ct.startswith("multipart/byteranges; boundary="), ct
msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + body)
parts = msg.get_payload()
assert [p["Content-Range"] for p in parts] == ["bytes 0-9/300000", "bytes 200000-200009/300000"], [p["Content-Range"] for p in parts]
assert parts[0].get_payload(decode=True) == bytes(range(10))
assert parts[1].get_payload(decode=True) == bytes((200000 + i) % 256 for i in range(10))
# If-Range with a stale validator: the whole file.
c.request("GET", "/big.bin", headers={{"Range": "bytes=0-9", "If-Range": '"stale"'}})
r = c.getresponse(); assert r.status == 200 and len(r.read()) == 300000
print("ok")
"#,
        port = addr.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Directory index and the slash redirect.
    assert_eq!(curl(&["-L", &format!("{base}/dir")]), b"<p>index</p>");
    // Served from the cache the second time.
    let before = cache.stats().hits;
    assert_eq!(curl(&[&format!("{base}/big.bin")]), big);
    assert_eq!(curl(&[&format!("{base}/big.bin")]), big);
    assert!(cache.stats().hits > before);
    h.shutdown();
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn no_escape_from_the_root() {
    let base_dir = temp_dir("jail");
    let root = base_dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base_dir.join("secret.txt"), "top secret").unwrap();
    std::fs::write(root.join("ok.txt"), "fine").unwrap();
    std::os::unix::fs::symlink(base_dir.join("secret.txt"), root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("self")).unwrap();
    let (h, addr, _) = serve(&root);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/link.txt",
        "/./../secret.txt",
        "/ok.txt%00",
    ] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(!out.contains("top secret"), "{path}: {out}");
        let status: u16 = out[9..12].parse().unwrap();
        assert!(matches!(status, 400 | 403 | 404), "{path}: {out}");
    }
    // A symlink inside the root is fine.
    assert_eq!(curl(&[&format!("http://{addr}/self/ok.txt")]), b"fine");
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
