//! FileCache behaviour: hits, misses, zero-copy sharing, invalidation,
//! LRU eviction, limits, errors, concurrency.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wireloom_blocking::cache::{CacheConfig, CacheStats, CachedFile, FileCache, ServeError};
use wireloom_blocking::core::http::file::{plan, Segment};
use wireloom_blocking::core::http::{Method, RequestHead, StatusCode};
use wireloom_testkit::fs::TempDir;

/// Writes `data` and backdates the mtime, so that a later write in the same
/// timestamp tick still changes it (as for any file not written just now).
fn write_old(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap();
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(1_600_000_000))
        .unwrap();
}

fn filled(len: usize, b: u8) -> Vec<u8> {
    vec![b; len]
}

fn stats(c: &FileCache) -> (usize, u64, u64, u64, u64) {
    let CacheStats {
        entries,
        bytes,
        hits,
        misses,
        evictions,
        ..
    } = c.stats();
    (entries, bytes, hits, misses, evictions)
}

#[test]
fn hits_misses_and_stats() {
    let d = TempDir::new("stats");
    let (a, b) = (d.join("a.html"), d.join("b.bin"));
    write_old(&a, b"<p>hi</p>");
    write_old(&b, &filled(100_000, 7));
    let c = FileCache::default();
    assert_eq!(stats(&c), (0, 0, 0, 0, 0));

    let fa = c.get(&a).unwrap();
    assert_eq!(stats(&c), (1, 9, 0, 1, 0));
    let fb = c.get(&b).unwrap();
    assert_eq!(stats(&c), (2, 100_009, 0, 2, 0));
    c.get(&a).unwrap();
    c.get(&b).unwrap();
    assert_eq!(stats(&c), (2, 100_009, 2, 2, 0));

    assert_eq!(fa.len(), 9);
    assert_eq!(&fa.bytes()[..], b"<p>hi</p>");
    assert_eq!(fa.content_type(), "text/html; charset=utf-8");
    assert_eq!(fb.content_type(), "application/octet-stream");
    assert!(!fa.is_mapped() && fa.file().is_none());
    assert!(fb.is_mapped() && fb.file().is_some());
    assert_eq!(fa.path(), a.as_path());

    let meta = fs::metadata(&a).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fa.inode(), meta.ino());
    assert_eq!(fa.modified(), Some(meta.modified().unwrap()));
    assert_eq!(
        fa.etag(),
        wireloom_blocking::core::http::file::etag(9, meta.modified().ok(), meta.ino())
    );
    assert_eq!(fa.meta().etag, fa.etag());

    assert!(c.remove(&a));
    assert!(!c.remove(&a));
    assert_eq!(stats(&c).0, 1);
    c.clear();
    assert_eq!(stats(&c), (0, 0, 2, 2, 0));
    // Handles stay valid after removal.
    assert_eq!(&fa.bytes()[..], b"<p>hi</p>");
}

#[test]
fn zero_copy_sharing() {
    let d = TempDir::new("zc");
    let (small, big) = (d.join("s.txt"), d.join("big.bin"));
    write_old(&small, b"small");
    write_old(&big, &filled(1 << 20, 1));
    let c = FileCache::default();
    let clone = c.clone();
    for p in [&small, &big] {
        let x = c.get(p).unwrap();
        let y = clone.get(p).unwrap();
        assert_eq!(x.bytes().as_ptr(), y.bytes().as_ptr(), "{p:?}");
        assert_eq!(x.bytes().len() as u64, x.len());
    }
    // Slices of a range point into the same memory too.
    let f = c.get(&big).unwrap();
    let mut cur = f.cursor(4096..8192, 4096).unwrap();
    let chunk = cur.next_chunk().unwrap().unwrap();
    // The final chunk of a mapped file is a checked copy; others are not.
    assert_ne!(chunk.as_ptr(), f.bytes()[4096..].as_ptr());
    let mut cur = f.cursor(4096..65536, 4096).unwrap();
    let chunk = cur.next_chunk().unwrap().unwrap();
    assert_eq!(chunk.as_ptr(), f.bytes()[4096..].as_ptr());
    assert_eq!(c.stats().hits, 3);

    // A whole mapped file: slices of the mapping, then the held-back last
    // 16 KiB as a checked copy.
    let mut cur = f.cursor(0..f.len(), 256 * 1024).unwrap();
    let mut chunks = Vec::new();
    while let Some(chunk) = cur.next_chunk().unwrap() {
        cur.advance(chunk.len());
        chunks.push(chunk);
    }
    let base = f.bytes().as_ptr() as usize;
    let (last, mapped) = chunks.split_last().unwrap();
    let mut off = 0;
    for ch in mapped {
        assert_eq!(ch.as_ptr() as usize, base + off);
        off += ch.len();
    }
    assert_eq!(off as u64, f.len() - wireloom_blocking::cache::HELD_BACK);
    assert_eq!(last.len() as u64, wireloom_blocking::cache::HELD_BACK);
    assert_ne!(last.as_ptr() as usize, base + off);
    assert_eq!(&last[..], &filled(1 << 20, 1)[off..]);
}

#[test]
fn invalidation_on_rewrite_truncate_rename_touch() {
    let d = TempDir::new("inval");
    for (size, mapped) in [(1000usize, false), (200_000, true)] {
        let p = d.join("f.bin");
        write_old(&p, &filled(size, b'a'));
        let c = FileCache::default();
        let v1 = c.get(&p).unwrap();
        assert_eq!(v1.is_mapped(), mapped);

        // Rewrite in place, same size, different bytes.
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .write_all_at(&filled(size, b'b'), 0)
            .unwrap();
        assert!(!v1.is_unchanged().unwrap() || !mapped);
        let v2 = c.get(&p).unwrap();
        assert_ne!(v2.bytes().as_ptr(), v1.bytes().as_ptr());
        assert_ne!(v2.etag(), v1.etag());
        assert_eq!(
            v2.read_range_checked(0..size as u64).unwrap(),
            filled(size, b'b')
        );
        assert_eq!(c.stats().invalidations, 1);

        // Truncation.
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(size as u64 / 2)
            .unwrap();
        let v3 = c.get(&p).unwrap();
        assert_eq!(v3.len(), size as u64 / 2);
        assert_eq!(c.stats().invalidations, 2);

        // Replace by rename: new inode.
        let tmp = d.join("f.tmp");
        write_old(&tmp, &filled(size, b'c'));
        fs::rename(&tmp, &p).unwrap();
        let v4 = c.get(&p).unwrap();
        assert_ne!(v4.inode(), v3.inode());
        assert_eq!(v4.read_range_checked(0..3).unwrap(), &b"ccc"[..]);
        // The old version is intact and unchanged: its inode lives on.
        assert!(v3.is_unchanged().unwrap());
        assert_eq!(v3.read_range_checked(0..3).unwrap(), &b"bbb"[..]);
        assert_eq!(c.stats().invalidations, 3);

        // Touch: only the mtime changes.
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now()).unwrap();
        let v5 = c.get(&p).unwrap();
        assert_ne!(v5.etag(), v4.etag());
        assert_ne!(v5.modified(), v4.modified());
        assert_eq!(c.stats().invalidations, 4);
        assert_eq!(c.stats().misses, 5);
        assert_eq!(c.stats().entries, 1);

        // Unchanged now: a hit.
        let v6 = c.get(&p).unwrap();
        assert_eq!(v6.bytes().as_ptr(), v5.bytes().as_ptr());
        assert_eq!(c.stats().hits, 1);
    }
}

#[test]
fn lru_eviction_by_budget() {
    let d = TempDir::new("lru");
    let mut cfg = CacheConfig::default();
    cfg.max_bytes = 30_000;
    cfg.small_file_threshold = 5_000; // half in memory, half mapped
    let c = FileCache::new(cfg);
    let sizes = [("a", 10_000), ("b", 4_000), ("c", 10_000), ("d", 6_000)];
    for (n, s) in sizes {
        write_old(&d.join(n), &filled(s, n.as_bytes()[0]));
    }
    let p = |n: &str| d.join(n);
    c.get(p("a")).unwrap();
    c.get(p("b")).unwrap();
    c.get(p("c")).unwrap();
    assert_eq!(stats(&c), (3, 24_000, 0, 3, 0));
    c.get(p("a")).unwrap(); // a is now the most recently used; b the least
    c.get(p("d")).unwrap(); // 30_000: fits exactly
    assert_eq!(stats(&c), (4, 30_000, 1, 4, 0));
    write_old(&d.join("e"), &filled(9_000, b'e'));
    c.get(p("e")).unwrap(); // evicts b (4k), c (10k)
    assert_eq!(stats(&c), (3, 25_000, 1, 5, 2));
    c.get(p("a")).unwrap();
    c.get(p("d")).unwrap();
    c.get(p("e")).unwrap();
    assert_eq!(stats(&c).2, 4);
    c.get(p("b")).unwrap(); // a miss again
    assert_eq!(stats(&c).3, 6);

    // Larger than the whole budget: served, not cached.
    write_old(&d.join("huge"), &filled(40_000, b'h'));
    let h = c.get(p("huge")).unwrap();
    assert_eq!(h.read_range_checked(39_999..40_000).unwrap(), &b"h"[..]);
    assert!(c.stats().bytes <= 30_000);
    let h2 = c.get(p("huge")).unwrap();
    assert_ne!(h.bytes().as_ptr(), h2.bytes().as_ptr());
}

#[test]
fn entry_limit_and_disabled() {
    let d = TempDir::new("limits");
    for i in 0..5 {
        write_old(&d.join(i.to_string()), &filled(10, b'x'));
    }
    let mut cfg = CacheConfig::default();
    cfg.max_entries = 2;
    let c = FileCache::new(cfg);
    for i in 0..5 {
        c.get(d.join(i.to_string())).unwrap();
    }
    assert_eq!(stats(&c), (2, 20, 0, 5, 3));

    let mut cfg = CacheConfig::default();
    cfg.enabled = false;
    let c = FileCache::new(cfg);
    let a = c.get(d.join("0")).unwrap();
    let b = c.get(d.join("0")).unwrap();
    assert_ne!(a.bytes().as_ptr(), b.bytes().as_ptr());
    assert_eq!(stats(&c), (0, 0, 0, 2, 0));
}

#[test]
fn non_regular_files_are_errors() {
    let d = TempDir::new("nonreg");
    let c = FileCache::default();
    assert_eq!(
        c.get(d.path()).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        c.get(d.join("missing")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        c.get("/dev/null").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    // A FIFO must be refused without being opened (opening one blocks).
    let fifo = d.join("fifo");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        assert_eq!(
            c.get(&fifo).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
    assert_eq!(c.stats().misses, 0);
}

#[test]
fn empty_file_and_ranges() {
    let d = TempDir::new("ranges");
    let mut cfg = CacheConfig::default();
    cfg.small_file_threshold = 0; // map everything that is not empty
    let c = FileCache::new(cfg);
    write_old(&d.join("empty"), b"");
    let e = c.get(d.join("empty")).unwrap();
    assert!(e.is_empty() && !e.is_mapped());
    assert_eq!(e.read_range_checked(0..0).unwrap().len(), 0);

    write_old(&d.join("ten"), b"0123456789");
    let t = c.get(d.join("ten")).unwrap();
    assert!(t.is_mapped());
    assert_eq!(t.read_range_checked(2..5).unwrap(), &b"234"[..]);
    let err = t.read_range_checked(5..11).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(matches!(
        t.write_range(
            std::ops::Range { start: 8, end: 4 },
            &mut File::create(d.join("out")).unwrap(),
            4
        ),
        Err(ServeError::InvalidRange {
            start: 8,
            end: 4,
            len: 10
        })
    ));
    let mut out = File::create(d.join("out")).unwrap();
    assert_eq!(t.write_range(0..10, &mut out, 3).unwrap(), 10);
    assert_eq!(t.write_range(3..3, &mut out, 3).unwrap(), 0);
    assert_eq!(fs::read(d.join("out")).unwrap(), b"0123456789");
}

/// What an adapter does: plan the response in core, send each file segment
/// with write_range.
#[test]
fn serves_a_planned_multipart_response() {
    let d = TempDir::new("plan");
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    write_old(&d.join("data.bin"), &body);
    let c = FileCache::default();
    let f = c.get(d.join("data.bin")).unwrap();
    assert!(f.is_mapped());
    let mut req = RequestHead::new(Method::GET, "/data.bin").unwrap();
    req.header("Host", "h")
        .unwrap()
        .header("Range", "bytes=0-9, 150000-")
        .unwrap();
    let p = plan(&req, &f.meta(), 42);
    assert_eq!(p.head.status, StatusCode::PARTIAL_CONTENT);
    let out_path = d.join("wire");
    let mut out = File::create(&out_path).unwrap();
    let mut expect = Vec::new();
    for seg in &p.body {
        match seg {
            Segment::Bytes(b) => {
                std::io::Write::write_all(&mut out, b).unwrap();
                expect.extend_from_slice(b);
            }
            Segment::File(a, b) => {
                f.write_range(*a..*b, &mut out, 16 * 1024).unwrap();
                expect.extend_from_slice(&body[*a as usize..*b as usize]);
            }
        }
    }
    assert_eq!(fs::read(&out_path).unwrap(), expect);
    assert_eq!(expect.len() as u64, p.body_len());
}

#[test]
fn concurrent_get_evict_remove() {
    let d = TempDir::new("conc");
    const FILES: usize = 24;
    let content = |i: usize| filled(1000 + i * 700, i as u8);
    for i in 0..FILES {
        write_old(&d.join(format!("{i}.bin")), &content(i));
    }
    let mut cfg = CacheConfig::default();
    cfg.max_bytes = 40_000; // room for a handful: constant eviction
    cfg.max_entries = 8;
    cfg.small_file_threshold = 8_000; // a mix of in-memory and mapped
    let c = FileCache::new(cfg);
    let d = Arc::new(d);
    const THREADS: usize = 4;
    const ITERS: usize = 2_000;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (c, d) = (c.clone(), Arc::clone(&d));
            std::thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t as u64;
                for n in 0..ITERS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % FILES as u64) as usize;
                    let p = d.join(format!("{i}.bin"));
                    if t == 0 && n % 97 == 0 {
                        c.remove(&p);
                    } else if t == 0 && n % 499 == 0 {
                        c.clear();
                    }
                    let f: CachedFile = c.get(&p).unwrap();
                    assert_eq!(f.len() as usize, content(i).len());
                    // Nobody truncates these files: reading them is safe.
                    assert_eq!(&f.bytes()[..], &content(i)[..]);
                    let s = c.stats();
                    assert!(s.bytes <= 40_000 && s.entries <= 8);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = c.stats();
    assert_eq!(s.hits + s.misses, (THREADS * ITERS) as u64);
    assert!(s.evictions > 0 && s.hits > 0, "{s:?}");
    assert_eq!(s.invalidations, 0);
}
