//! wireloom-blocking's file cache serving a file, against what a server
//! without one does per request (moved here from the `#[ignore]`d
//! `adapter-blocking/tests/cache_timing.rs`).
//!
//! `serve_4KiB` / `serve_8MiB`: one request = the whole file written to a
//! loopback TCP socket, drained by a reader thread. Contestants:
//!
//! - `wireloom_write_range`: `FileCache::get` (a hit: one `stat`) then
//!   `CachedFile::write_range` (mapped or in-memory bytes straight to
//!   `send(2)`, 256 KiB chunks, each checked against truncation);
//! - `wireloom_read_checked`: the same hit, then `read_range_checked` +
//!   `write_all` per 256 KiB (the copying path, for TLS);
//! - `std_fs_read`: `std::fs::read` + `write_all` (the naive server);
//! - `std_io_copy`: `File::open` + `std::io::copy` to the socket (on Linux
//!   std specialises this to `sendfile`/`splice`: a strong peer).
//!
//! `lookup`: the per-request cost before any byte is sent: a cache hit for a
//! 4 KiB (in memory) and an 8 MiB (mapped) file, `is_unchanged` (`fstat`),
//! an uncached `get`, against a bare `stat` and `std::fs::read` of 4 KiB.
//!
//! ```text
//! cd bench && cargo bench --bench file_cache -- --warm-up-time 1 --measurement-time 3
//! ```

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wireloom_blocking::cache::{CacheConfig, FileCache};

const CHUNK: usize = 256 * 1024;

fn dir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("wireloom-bench-cache-{}", std::process::id()));
    fs::create_dir_all(&p).unwrap();
    p
}

/// A connected loopback pair; the peer is drained (and counted) by a thread.
fn sink() -> (TcpStream, JoinHandle<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match client.read(&mut buf).unwrap() {
                0 => return n,
                k => n += k as u64,
            }
        }
    });
    (server, drain)
}

fn serve(c: &mut Criterion, name: &str, path: &Path, len: u64) {
    let cache = FileCache::default();
    let (mut sock, drain) = sink();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("wireloom_write_range", |b| {
        b.iter(|| {
            let f = cache.get(path).unwrap();
            assert_eq!(f.write_range(0..len, &mut sock, CHUNK).unwrap(), len);
        })
    });
    g.bench_function("wireloom_read_checked", |b| {
        b.iter(|| {
            let f = cache.get(path).unwrap();
            let mut pos = 0;
            while pos < len {
                let end = (pos + CHUNK as u64).min(len);
                sock.write_all(&f.read_range_checked(pos..end).unwrap())
                    .unwrap();
                pos = end;
            }
        })
    });
    g.bench_function("std_fs_read", |b| {
        b.iter(|| {
            let v = fs::read(path).unwrap();
            sock.write_all(&v).unwrap();
        })
    });
    g.bench_function("std_io_copy", |b| {
        b.iter(|| {
            let mut f = File::open(path).unwrap();
            assert_eq!(std::io::copy(&mut f, &mut sock).unwrap(), len);
        })
    });
    g.finish();
    drop(sock);
    let total = drain.join().unwrap();
    assert_eq!(total % len, 0, "every request sent whole");
}

fn file_cache(c: &mut Criterion) {
    let d = dir();
    let small = d.join("small.html");
    let big = d.join("big.bin");
    fs::write(&small, vec![b'x'; 4096]).unwrap();
    fs::write(&big, vec![b'y'; 8 << 20]).unwrap();

    serve(c, "serve_4KiB", &small, 4096);
    serve(c, "serve_8MiB", &big, 8 << 20);

    let cache = FileCache::default();
    let uncached = FileCache::new({
        let mut cfg = CacheConfig::default();
        cfg.enabled = false;
        cfg
    });
    let mut g = c.benchmark_group("lookup");
    g.bench_function("wireloom_get_hit_4KiB", |b| {
        b.iter(|| black_box(cache.get(&small).unwrap()))
    });
    g.bench_function("wireloom_get_hit_8MiB_mapped", |b| {
        b.iter(|| black_box(cache.get(&big).unwrap()))
    });
    let f = cache.get(&big).unwrap();
    g.bench_function("wireloom_is_unchanged", |b| {
        b.iter(|| black_box(f.is_unchanged().unwrap()))
    });
    g.bench_function("wireloom_uncached_get_4KiB", |b| {
        b.iter(|| black_box(uncached.get(&small).unwrap()))
    });
    g.bench_function("wireloom_uncached_get_8MiB", |b| {
        b.iter(|| black_box(uncached.get(&big).unwrap()))
    });
    g.bench_function("std_metadata", |b| {
        b.iter(|| black_box(fs::metadata(&small).unwrap()))
    });
    g.bench_function("std_fs_read_4KiB", |b| {
        b.iter(|| black_box(fs::read(&small).unwrap()))
    });
    g.finish();
    fs::remove_dir_all(&d).unwrap();
}

criterion_group!(benches, file_cache);
criterion_main!(benches);
