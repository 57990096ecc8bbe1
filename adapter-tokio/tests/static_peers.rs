//! Static files through the cache on the tokio server, under curl, Python
//! http.client and raw sockets: types, validators, conditional GET, ranges,
//! index files, escapes from the root, and files truncated or rewritten
//! while they are being served, over plain TCP (zero-copy from the mapping)
//! and TLS (checked copies). A read of a vanished mapped page in userspace
//! would kill this whole test process with SIGBUS: passing proves none
//! happens.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{start, Flavor, Running, FLAVORS};
use wireloom_testkit::data::{pattern, Rng};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::http::Client;
use wireloom_testkit::net::connect;
use wireloom_testkit::pki;
use wireloom_testkit::scenarios::static_files;
use wireloom_tokio::cache::{CacheConfig, FileCache};
use wireloom_tokio::server::{Server, StaticFiles};
use wireloom_tokio::static_files::StaticDir;
use wireloom_tokio::tls::ServerTlsConfig;
use wireloom_tokio::TokioRuntime;

/// The server's piece size for file bodies (io/src/aio/server.rs).
const CHUNK: usize = 256 * 1024;

fn serve(flavor: Flavor, root: &Path, tls: Option<ServerTlsConfig>) -> (Running, FileCache) {
    let cache = FileCache::new(CacheConfig::default());
    let dir = StaticDir::new(root, cache.clone()).unwrap();
    let mut b = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .handler(StaticFiles::new(TokioRuntime, dir));
    if let Some(tls) = tls {
        b = b.tls(tls);
    }
    (start(flavor, b), cache)
}

#[test]
fn types_validators_ranges_and_index() {
    let root = temp_dir("static");
    let big = static_files::site(&root);
    for flavor in FLAVORS {
        let (srv, cache) = serve(flavor, &root, None);
        static_files::types_validators_ranges_and_index(srv.addr, &big, &cache);
        srv.shutdown();
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn no_escape_from_the_root() {
    let base_dir = temp_dir("jail");
    let (srv, _) = serve(Flavor::Multi, &static_files::jail(&base_dir), None);
    static_files::no_escape_from_the_root(srv.addr);
    srv.shutdown();
    std::fs::remove_dir_all(&base_dir).ok();
}

const LEN: usize = 8 << 20;

/// Serves a file that is truncated or rewritten in place after the client
/// has read a random amount; checks every byte the client got.
fn torture(flavor: Flavor, tls: bool, rounds: usize) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{flavor:?} tls={tls} seed {seed:#x}");
    let mut rng = Rng(seed);
    let root = temp_dir("torture");
    let p = pki::pki();
    let cfg = tls.then(|| pki::server_config(&p, Duration::from_secs(5)));
    let (srv, _) = serve(flavor, &root, cfg);
    let orig = pattern(0x1234_5678_9abc_def1, LEN);
    let new = pattern(0x0fed_cba9_8765_4321, LEN);
    let path = root.join("f.bin");
    let (mut cut, mut complete) = (0, 0);
    for round in 0..rounds {
        std::fs::write(&path, &orig).unwrap();
        // Backdated: a rewrite in the same timestamp tick still shows.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_secs(1_600_000_000 + round as u64))
            .unwrap();
        let truncate = round % 2 == 0;
        let pause_at = 64 * 1024 + rng.below(LEN as u64 / 3) as usize;
        let mut stream: Box<dyn Read> = if tls {
            let mut s = pki::rustls_client(&p, srv.addr, "localhost");
            s.write_all(b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            Box::new(s)
        } else {
            let mut s = connect(srv.addr);
            s.write_all(b"GET /f.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .unwrap();
            Box::new(s)
        };
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut mutated = false;
        loop {
            if !mutated && got.len() >= pause_at {
                mutated = true;
                // The server is blocked on a full socket here.
                std::thread::sleep(Duration::from_millis(20));
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                if truncate {
                    f.set_len(rng.below(LEN as u64)).unwrap();
                } else {
                    for (i, piece) in new.chunks(1 << 20).enumerate() {
                        f.write_all_at(piece, (i << 20) as u64).unwrap();
                    }
                }
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let split = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head")
            + 4;
        let head = String::from_utf8_lossy(&got[..split]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {LEN}\r\n")),
            "{head}"
        );
        let body = &got[split..];
        let ctx = format!(
            "{flavor:?} tls={tls} round {round} truncate={truncate} pause {pause_at}: got {}",
            body.len()
        );
        assert!(body.len() <= LEN, "{ctx}");
        if body.len() == LEN {
            assert!(
                body == &orig[..],
                "{ctx}: a complete response with foreign bytes"
            );
            complete += 1;
            continue;
        }
        cut += 1;
        // Cut: a prefix of the original. Over plain TCP the kernel copies
        // straight from the mapping, so the piece being written when the
        // file changed may hold new bytes (or zeroes of a truncated page);
        // over TLS every piece is a checked copy: a strict prefix.
        let strict = if tls {
            body.len()
        } else {
            body.len().saturating_sub(CHUNK)
        };
        assert!(
            body[..strict] == orig[..strict],
            "{ctx}: bytes before {strict} differ"
        );
        for i in strict..body.len() {
            let ok = body[i] == orig[i]
                || (!truncate && body[i] == new[i])
                || (truncate && body[i] == 0);
            assert!(ok, "{ctx}: byte {i} is {} (original {})", body[i], orig[i]);
        }
    }
    eprintln!("{flavor:?} tls={tls}: {cut} cut, {complete} complete");
    assert!(cut > 0, "no round was cut: the test did not test");
    // The server is alive and serves the current file whole.
    std::fs::write(&path, &new[..1 << 20]).unwrap();
    let r = if tls {
        let mut s = pki::rustls_client(&p, srv.addr, "localhost");
        s.write_all(b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        all
    } else {
        let mut c = Client::new(srv.addr);
        c.send(b"GET /f.bin HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 200);
        r.body
    };
    assert!(
        r.ends_with(&new[(1 << 20) - 1000..1 << 20]),
        "{flavor:?} tls={tls}: stale after the change"
    );
    srv.shutdown();
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn file_changed_while_served_zero_copy() {
    for flavor in FLAVORS {
        torture(flavor, false, 8);
    }
}

#[test]
fn file_changed_while_served_over_tls() {
    torture(Flavor::Multi, true, 4);
}
