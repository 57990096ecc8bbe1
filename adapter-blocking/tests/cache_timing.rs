//! Rough figures, not a benchmark suite and never an assertion. Run with
//! `cargo test --release -p wireloom-blocking --test cache_timing -- --ignored --nocapture`.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use wireloom_blocking::cache::FileCache;

fn dir(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("wireloom-timing-{tag}-{}", std::process::id()));
    fs::create_dir_all(&p).unwrap();
    p
}

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

#[test]
#[ignore = "prints timings; run explicitly"]
fn get_hit_timing() {
    let d = dir("get");
    let small = d.join("small.html");
    let big = d.join("big.bin");
    fs::write(&small, vec![b'x'; 4096]).unwrap();
    fs::write(&big, vec![b'y'; 8 << 20]).unwrap();
    let cache = FileCache::default();
    const N: u32 = 200_000;

    let stat = per_op(N, || {
        black_box(fs::metadata(&small).unwrap());
    });
    let hit_small = per_op(N, || {
        black_box(cache.get(&small).unwrap());
    });
    let hit_big = per_op(N, || {
        black_box(cache.get(&big).unwrap());
    });
    let unchanged = {
        let f = cache.get(&big).unwrap();
        per_op(N, || {
            black_box(f.is_unchanged().unwrap());
        })
    };
    // Two threads hitting the same cache (the lock is shared).
    let t = Instant::now();
    std::thread::scope(|s| {
        for p in [&small, &big] {
            let c = cache.clone();
            s.spawn(move || {
                for _ in 0..N {
                    black_box(c.get(p).unwrap());
                }
            });
        }
    });
    let two = t.elapsed().as_nanos() as f64 / f64::from(2 * N);
    let miss = {
        let mut cfg = wireloom_blocking::cache::CacheConfig::default();
        cfg.enabled = false;
        let c = FileCache::new(cfg);
        (
            per_op(20_000, || {
                black_box(c.get(&small).unwrap());
            }),
            per_op(20_000, || {
                black_box(c.get(&big).unwrap());
            }),
        )
    };
    eprintln!("stat(2) alone:              {stat:8.0} ns");
    eprintln!("get hit, 4 KiB in memory:   {hit_small:8.0} ns");
    eprintln!("get hit, 8 MiB mapped:      {hit_big:8.0} ns");
    eprintln!("is_unchanged (fstat):       {unchanged:8.0} ns");
    eprintln!("get hit, 2 threads:         {two:8.0} ns per get (wall / total gets)");
    eprintln!("uncached load, 4 KiB read:  {:8.0} ns", miss.0);
    eprintln!("uncached load, 8 MiB mmap:  {:8.0} ns", miss.1);
    fs::remove_dir_all(&d).unwrap();
}

/// Loopback throughput of the two serving paths (a 32 MiB mapped file sent
/// 8 times each, alternating).
#[test]
#[ignore = "prints timings; run explicitly"]
fn serve_path_throughput() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let d = dir("serve");
    let p = d.join("big.bin");
    const LEN: u64 = 32 << 20;
    fs::write(&p, vec![7u8; LEN as usize]).unwrap();
    let cache = FileCache::default();
    let f = cache.get(&p).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut server, _) = l.accept().unwrap();
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
    let (mut zero_copy, mut checked) = (0f64, 0f64);
    for _ in 0..8 {
        let t = Instant::now();
        f.write_range(0..LEN, &mut server, 256 * 1024).unwrap();
        zero_copy += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut pos = 0;
        while pos < LEN {
            let end = (pos + 256 * 1024).min(LEN);
            server
                .write_all(&f.read_range_checked(pos..end).unwrap())
                .unwrap();
            pos = end;
        }
        checked += t.elapsed().as_secs_f64();
    }
    drop(server);
    assert_eq!(drain.join().unwrap(), 16 * LEN);
    let mib = (8 * LEN) as f64 / (1 << 20) as f64;
    eprintln!(
        "write_range (mapping -> send):        {:6.0} MiB/s",
        mib / zero_copy
    );
    eprintln!(
        "read_range_checked + write_all:       {:6.0} MiB/s",
        mib / checked
    );
    fs::remove_dir_all(&d).unwrap();
}
