//! Static files through the mmap cache under real clients (curl, Python's
//! `http.client` and `email`, raw sockets), written once: each adapter's
//! test serves [`site`] (or [`jail`]) with its own server and static files
//! handler at `/{*path}` and hands the address here.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use wireloom_io::cache::FileCache;

use crate::http::{header, request};
use crate::net::connect;
use crate::process::{curl_ok as curl, python_ok};

/// Writes the test site into `root`: `a.txt` (20 bytes), `big.bin`
/// (300,000 bytes `i % 256`, returned), `style.css`, `data.json`,
/// `dir/index.html` and an empty directory `empty-dir`.
pub fn site(root: &Path) -> Vec<u8> {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(root.join("a.txt"), "0123456789abcdefghij").unwrap();
    std::fs::write(root.join("style.css"), "p { color: red }").unwrap();
    std::fs::write(root.join("data.json"), "{}").unwrap();
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/index.html"), "<p>index</p>").unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    big
}

/// The [`site`] served at `addr` (its files cached in `cache`): content
/// types, validators and conditional GET (304, 412), ranges (one, suffix,
/// open-ended, 416, several as multipart/byteranges parsed by Python's
/// `email`, a stale If-Range), HEAD, 405 with `Allow`, the directory
/// index and its slash redirect, 404s, and the second read of a file
/// served from the cache.
pub fn types_validators_ranges_and_index(addr: SocketAddr, big: &[u8], cache: &FileCache) {
    let base = format!("http://{addr}");
    let head = String::from_utf8(curl(&["-sI", &format!("{base}/a.txt")])).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&head, "content-length"), Some("20"));
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    assert!(header(&head, "date").is_some(), "{head}");
    let etag = header(&head, "etag").unwrap();
    let lm = header(&head, "last-modified").unwrap();
    for (file, ty) in [
        ("style.css", "text/css"),
        ("data.json", "application/json"),
        ("dir/index.html", "text/html"),
        ("big.bin", "application/octet-stream"),
    ] {
        let h = String::from_utf8(curl(&["-sI", &format!("{base}/{file}")])).unwrap();
        let got = header(&h, "content-type").unwrap_or_default();
        assert!(got.starts_with(ty), "{file}: {got}");
    }

    // Conditional GET: If-None-Match and If-Modified-Since give 304.
    let r = String::from_utf8(curl(&[
        "-si",
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{base}/a.txt"),
    ]))
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 304 Not Modified"), "{r}");
    assert!(r.ends_with("\r\n\r\n"), "a 304 has no body: {r}");
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

    // Ranges: one, suffix, open-ended over a mapped file, none satisfiable.
    assert_eq!(curl(&["-r", "10-14", &format!("{base}/a.txt")]), b"abcde");
    assert_eq!(curl(&["-r", "-3", &format!("{base}/a.txt")]), b"hij");
    assert!(curl(&["-r", "100000-", &format!("{base}/big.bin")]) == big[100_000..]);
    let r = String::from_utf8(curl(&["-si", "-r", "50-60", &format!("{base}/a.txt")])).unwrap();
    assert!(r.starts_with("HTTP/1.1 416"), "{r}");
    assert_eq!(header(&r, "content-range"), Some("bytes */20"));
    // Several ranges: multipart/byteranges, parsed by Python's email.
    let script = r#"
import http.client, email, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/big.bin", headers={"Range": "bytes=0-9,200000-200009"})
r = c.getresponse(); body = r.read()
assert r.status == 206, r.status
ct = r.getheader("Content-Type"); assert ct.startswith("multipart/byteranges; boundary="), ct
msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + body)
parts = msg.get_payload()
assert [p["Content-Range"] for p in parts] == ["bytes 0-9/300000", "bytes 200000-200009/300000"], [p["Content-Range"] for p in parts]
assert parts[0].get_payload(decode=True) == bytes(range(10))
assert parts[1].get_payload(decode=True) == bytes((200000 + i) % 256 for i in range(10))
# If-Range with a stale validator: the whole file.
c.request("GET", "/big.bin", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
r = c.getresponse(); assert r.status == 200 and len(r.read()) == 300000
# HEAD of the big file: the length, no body, and the connection goes on.
c.request("HEAD", "/big.bin")
r = c.getresponse(); assert r.getheader("Content-Length") == "300000"; assert r.read() == b""
c.request("GET", "/a.txt")
r = c.getresponse(); assert r.read() == b"0123456789abcdefghij"
# Other methods: 405 with Allow.
c.request("DELETE", "/a.txt")
r = c.getresponse(); r.read(); assert r.status == 405 and r.getheader("Allow") == "GET, HEAD", r.status
print("ok")
"#;
    python_ok(script, &[&addr.port().to_string()]);

    // Directory index and the slash redirect.
    let r = request(addr, b"GET /dir HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/dir/"));
    assert_eq!(curl(&["-L", &format!("{base}/dir")]), b"<p>index</p>");
    assert_eq!(curl(&[&format!("{base}/dir/")]), b"<p>index</p>");
    let r = request(addr, b"GET /empty-dir/ HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = request(addr, b"GET /nope.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 404);
    // Served from the cache the second time.
    let before = cache.stats().hits;
    assert!(curl(&[&format!("{base}/big.bin")]) == big);
    assert!(curl(&[&format!("{base}/big.bin")]) == big);
    assert!(cache.stats().hits > before);
}

/// A root `<base_dir>/www` to serve, with `ok.txt`, a symlink to itself
/// (`self`), and ways out: `<base_dir>/secret.txt` next to it, a symlink
/// to that file (`link.txt`) and one to the parent (`up`). Returns the
/// root.
pub fn jail(base_dir: &Path) -> PathBuf {
    let root = base_dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base_dir.join("secret.txt"), "top secret").unwrap();
    std::fs::write(root.join("ok.txt"), "fine").unwrap();
    std::os::unix::fs::symlink(base_dir.join("secret.txt"), root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(base_dir, root.join("up")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("self")).unwrap();
    root
}

/// The [`jail`] served at `addr`: no encoding of `..`, symlink out of
/// the root or NUL byte reaches the secret (400, 403 or 404); a symlink
/// inside the root is fine.
pub fn no_escape_from_the_root(addr: SocketAddr) {
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/%2e%2e%2Fsecret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/./../secret.txt",
        "/ok.txt%00",
        "/..%5csecret.txt",
    ] {
        let mut s = connect(addr);
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
}
