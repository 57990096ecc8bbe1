//! Rough figures, not a benchmark suite and never an assertion. Run with
//! `cargo test --release -p wireloom-blocking --test cache_timing -- --ignored --nocapture`.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use wireloom_blocking::cache::FileCache;

fn dir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("wireloom-timing-{}", std::process::id()));
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
    let d = dir();
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
