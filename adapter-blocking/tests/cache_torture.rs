//! Torture: a 32 MiB mapped file is served over loopback TCP while another
//! thread truncates it or rewrites it in place at a random moment. The
//! process must never die of SIGBUS; a response that completes must be the
//! whole original; a cut response must be a prefix of the original, except
//! (for the zero-copy `write_range` path) its last write call, at most one
//! chunk, which the kernel may have copied from pages the writer had already
//! changed (bytes of the new content, or zeroes of a page cut by truncation).
//! The `read_range_checked` path must give a strict prefix.
//!
//! Some rounds synchronise the mutation with the reader (it pauses after a
//! random number of bytes, so the server is blocked inside `send` when the
//! file changes); the others mutate after a random delay.
#![cfg(target_os = "linux")]

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wireloom_blocking::cache::{CachedFile, FileCache, ServeError};
use wireloom_testkit::data::{pattern, Rng};
use wireloom_testkit::fs::TempDir;

const LEN: usize = 32 << 20;
const CHUNK: usize = 256 << 10;
const TIMEOUT: Duration = Duration::from_secs(20);

fn original() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| pattern(0x1234_5678_9abc_def1, LEN))
}

fn replacement() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| pattern(0x0fed_cba9_8765_4321, LEN))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mutation {
    /// Truncate to this length.
    Truncate(u64),
    /// Overwrite the whole file in place with `replacement()`, 1 MiB per write.
    Rewrite,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    /// `CachedFile::write_range`: mapped slices straight to send(2).
    WriteRange,
    /// `read_range_checked` chunks, then `write_all` (the TLS path).
    Checked,
}

#[derive(Clone, Copy, Debug)]
enum When {
    /// After the reader has received this many bytes (it pauses meanwhile).
    AfterReceived(usize),
    /// After this delay from the start of the response.
    After(Duration),
}

#[derive(Default, Debug)]
struct Tally {
    complete: usize,
    cut: usize,
    /// Cut rounds whose last window held bytes not in the original.
    mixed_tail: usize,
}

fn serve(file: &CachedFile, sock: &mut TcpStream, path: Path) -> Result<u64, ServeError> {
    match path {
        Path::WriteRange => file.write_range(0..LEN as u64, sock, CHUNK),
        Path::Checked => {
            let mut pos = 0u64;
            while pos < LEN as u64 {
                let end = (pos + CHUNK as u64).min(LEN as u64);
                let chunk = file.read_range_checked(pos..end).map_err(|e| {
                    if ServeError::is_file_changed(&e) {
                        ServeError::FileChanged
                    } else {
                        ServeError::Io(e)
                    }
                })?;
                sock.write_all(&chunk)?;
                pos = end;
            }
            Ok(pos)
        }
    }
}

fn round(dir: &TempDir, cache: &FileCache, n: usize, path: Path, m: Mutation, when: When) -> Tally {
    let file_path = dir.join(format!("round-{n}.bin"));
    fs::write(&file_path, original()).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&file_path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(1_600_000_000))
        .unwrap();
    let file = cache.get(&file_path).unwrap();
    assert!(file.is_mapped());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (mutated_tx, mutated_rx) = mpsc::channel::<()>();
    let start = Instant::now();

    let server = {
        let file = file.clone();
        std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_write_timeout(Some(TIMEOUT)).unwrap();
            let r = serve(&file, &mut sock, path);
            // Cut or complete, the connection closes here.
            drop(sock);
            r
        })
    };
    let reader = std::thread::spawn(move || {
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut got = Vec::with_capacity(LEN);
        let mut buf = vec![0u8; 64 * 1024];
        let pause_at = match when {
            When::AfterReceived(k) => Some(k),
            When::After(_) => None,
        };
        let mut paused = false;
        loop {
            if !paused && pause_at.is_some_and(|k| got.len() >= k) {
                paused = true;
                reached_tx.send(()).unwrap();
                mutated_rx.recv_timeout(TIMEOUT).unwrap();
            }
            let k = sock.read(&mut buf).expect("reader: read failed");
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        got
    });
    let mutator = {
        let file_path = file_path.clone();
        std::thread::spawn(move || {
            match when {
                // The reader may see the connection end before it reaches
                // the mark only if the server failed; then go on anyway.
                When::AfterReceived(_) => drop(reached_rx.recv_timeout(TIMEOUT)),
                When::After(d) => std::thread::sleep(d.saturating_sub(start.elapsed())),
            }
            let f = OpenOptions::new().write(true).open(&file_path).unwrap();
            match m {
                Mutation::Truncate(len) => f.set_len(len).unwrap(),
                Mutation::Rewrite => {
                    for (i, piece) in replacement().chunks(1 << 20).enumerate() {
                        f.write_all_at(piece, (i << 20) as u64).unwrap();
                    }
                }
            }
            let _ = mutated_tx.send(());
        })
    };
    mutator.join().unwrap();
    let got = reader.join().unwrap();
    let served = server.join().unwrap();
    let took = start.elapsed();
    assert!(took < TIMEOUT, "round {n} took {took:?}");

    let orig = original();
    let ctx = format!(
        "round {n} {path:?} {m:?} {when:?}: received {} in {took:?}",
        got.len()
    );
    let mut t = Tally::default();
    match served {
        Ok(sent) => {
            assert_eq!(sent, LEN as u64, "{ctx}");
            assert!(
                got == orig,
                "{ctx}: complete response differs from the original"
            );
            t.complete = 1;
        }
        Err(ServeError::FileChanged) => {
            assert!(got.len() < LEN, "{ctx}: FileChanged after the whole body");
            t.cut = 1;
            let strict = match path {
                Path::Checked => got.len(),
                Path::WriteRange => got.len().saturating_sub(CHUNK),
            };
            assert!(
                got[..strict] == orig[..strict],
                "{ctx}: bytes before {strict} differ from the original"
            );
            let new = replacement();
            for i in strict..got.len() {
                let ok = got[i] == orig[i]
                    || (m == Mutation::Rewrite && got[i] == new[i])
                    || (matches!(m, Mutation::Truncate(_)) && got[i] == 0);
                assert!(ok, "{ctx}: byte {i} is {} (original {})", got[i], orig[i]);
            }
            if got[strict..] != orig[strict..got.len()] {
                t.mixed_tail = 1;
            }
        }
        Err(e) => panic!("{ctx}: server failed: {e}"),
    }
    if std::env::var_os("WIRELOOM_TORTURE_VERBOSE").is_some() {
        eprintln!("{ctx}: {t:?}");
    }

    // The cache notices and loads the new version.
    let now = cache.get(&file_path).unwrap();
    assert_ne!(now.etag(), file.etag(), "{ctx}");
    match m {
        Mutation::Truncate(len) => assert_eq!(now.len(), len, "{ctx}"),
        Mutation::Rewrite => assert_eq!(
            now.read_range_checked(0..4096).unwrap(),
            replacement()[..4096],
            "{ctx}"
        ),
    }
    cache.remove(&file_path);
    fs::remove_file(&file_path).unwrap();
    t
}

fn torture(path: Path, rewrite: bool, rounds: usize) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed:#x}");
    let mut rng = Rng(seed);
    let dir = TempDir::new("torture");
    let cache = FileCache::default();
    let mut total = Tally::default();
    for n in 0..rounds {
        let m = if rewrite {
            Mutation::Rewrite
        } else if rng.below(3) == 0 {
            // Not page aligned: the page holding the new end keeps its
            // head and reads as zeroes past it.
            Mutation::Truncate(rng.below(LEN as u64))
        } else {
            Mutation::Truncate(LEN as u64 / 2)
        };
        let when = if n % 2 == 0 {
            When::AfterReceived(rng.below(LEN as u64 / 4) as usize)
        } else {
            When::After(Duration::from_micros(rng.below(150_000)))
        };
        let t = round(&dir, &cache, n, path, m, when);
        total.complete += t.complete;
        total.cut += t.cut;
        total.mixed_tail += t.mixed_tail;
    }
    eprintln!("{path:?} rewrite={rewrite}: {total:?}");
    assert!(total.cut > 0, "no round was cut: the test did not test");
}

#[test]
fn torture_write_range_truncate() {
    torture(Path::WriteRange, false, 20);
}

#[test]
fn torture_write_range_rewrite() {
    torture(Path::WriteRange, true, 20);
}

#[test]
fn torture_checked_truncate() {
    torture(Path::Checked, false, 10);
}

#[test]
fn torture_checked_rewrite() {
    torture(Path::Checked, true, 10);
}
