//! A mapped file truncated or rewritten under the cache: the kernel copying
//! from a vanished page returns EFAULT (never SIGBUS), and every checked path
//! reports the change instead of crashing or serving wrong bytes.
//!
//! If any of these tests read a vanished page in userspace the whole test
//! process would die of SIGBUS: passing is the proof that it does not.
#![cfg(target_os = "linux")]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use wireloom_blocking::cache::{CachedFile, FileCache, ServeError};
use wireloom_testkit::fs::TempDir;

const EFAULT: i32 = 14;
const LEN: usize = 1 << 20;
const HALF: usize = LEN / 2;

fn content() -> Vec<u8> {
    (0..LEN).map(|i| (i % 253) as u8 + 1).collect()
}

/// A 1 MiB mapped file in a fresh directory (mtime backdated, so a rewrite
/// in the same timestamp tick still changes it).
fn mapped(d: &TempDir, cache: &FileCache) -> (PathBuf, CachedFile) {
    let p = d.join("f.bin");
    fs::write(&p, content()).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(1_600_000_000))
        .unwrap();
    let f = cache.get(&p).unwrap();
    assert!(f.is_mapped());
    (p, f)
}

fn truncate(p: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn rewrite(p: &Path) {
    OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .write_all_at(&vec![0xEE; LEN], 0)
        .unwrap();
}

/// A connected loopback pair; the peer drains everything into a thread.
fn socket_pair() -> (TcpStream, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let h = std::thread::spawn(move || {
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v
    });
    (c, h)
}

/// The empirical fact everything rests on: send(2) and write(2) from a
/// mapped page past a new end of file fail with EFAULT (or stop short at
/// the first missing page); no signal is raised.
#[test]
fn kernel_copy_from_truncated_mapping_is_efault_not_sigbus() {
    let d = TempDir::new("efault");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    truncate(&p, HALF as u64);
    // Slicing and taking the address reads nothing.
    let mapping: &[u8] = f.bytes();

    let (mut sock, peer) = socket_pair();
    // Wholly past the new end: EFAULT.
    let e = sock.write(&mapping[HALF..HALF + 8192]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EFAULT), "{e}");
    // Straddling it: a short count (at most the bytes before the end) or,
    // when the kernel copies the valid and vanished pages in one go, EFAULT.
    match sock.write(&mapping[HALF - 4096..HALF + 8192]) {
        Ok(n) => assert!(n <= 4096, "{n}"),
        Err(e) => assert_eq!(e.raw_os_error(), Some(EFAULT), "{e}"),
    }
    drop(sock);
    let got = peer.join().unwrap();
    assert_eq!(got, content()[HALF - 4096..HALF - 4096 + got.len()]);

    // Same for write(2) to a regular file.
    let mut out = File::create(d.join("out")).unwrap();
    let e = out.write(&mapping[HALF..]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EFAULT), "{e}");

    // And to a pipe.
    let mut cat = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let e = cat
        .stdin
        .as_mut()
        .unwrap()
        .write(&mapping[LEN - 4096..])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EFAULT), "{e}");
    drop(cat.stdin.take());
    cat.wait().unwrap();
}

#[test]
fn read_range_checked_on_truncated_file_is_an_error() {
    let d = TempDir::new("rrc-trunc");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    assert_eq!(f.read_range_checked(0..LEN as u64).unwrap(), content());
    truncate(&p, HALF as u64);
    assert!(!f.is_unchanged().unwrap());
    // Past the new end, straddling it, and wholly before it (the file is
    // no longer the version its validators describe).
    for r in [HALF as u64 + 1..LEN as u64, 0..LEN as u64, 0..16] {
        let e = f.read_range_checked(r.clone()).unwrap_err();
        assert!(ServeError::is_file_changed(&e), "{r:?}: {e}");
    }
    // The cache reloads the truncated version.
    let g = cache.get(&p).unwrap();
    assert_eq!(g.len(), HALF as u64);
    assert_eq!(
        g.read_range_checked(0..HALF as u64).unwrap(),
        content()[..HALF]
    );
}

#[test]
fn read_range_checked_on_rewritten_file_is_an_error() {
    let d = TempDir::new("rrc-rewrite");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    rewrite(&p);
    let e = f.read_range_checked(0..100).unwrap_err();
    assert!(ServeError::is_file_changed(&e), "{e}");
    assert_eq!(
        cache.get(&p).unwrap().read_range_checked(0..2).unwrap(),
        &[0xEE, 0xEE][..]
    );
}

#[test]
fn write_range_on_changed_file_is_file_changed() {
    let d = TempDir::new("wr");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    truncate(&p, HALF as u64);
    let (mut sock, peer) = socket_pair();
    assert!(matches!(
        f.write_range(0..LEN as u64, &mut sock, 64 * 1024),
        Err(ServeError::FileChanged)
    ));
    drop(sock);
    assert!(peer.join().unwrap().is_empty());

    let (p2, f2) = {
        let d2 = TempDir::new("wr2");
        let r = mapped(&d2, &cache);
        std::mem::forget(d2); // removed below
        r
    };
    rewrite(&p2);
    let mut out = File::create(d.join("out")).unwrap();
    assert!(matches!(
        f2.write_range(0..10, &mut out, 4),
        Err(ServeError::FileChanged)
    ));
    fs::remove_dir_all(p2.parent().unwrap()).unwrap();
}

/// A change between two chunks stops the cursor; what was already taken is
/// a prefix of the original.
#[test]
fn cursor_stops_at_the_first_chunk_after_a_change() {
    let d = TempDir::new("cursor");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    let (mut sock, peer) = socket_pair();
    let mut cur = f.cursor(0..LEN as u64, 64 * 1024).unwrap();
    for _ in 0..3 {
        let chunk = cur.next_chunk().unwrap().unwrap();
        let n = sock.write(&chunk).unwrap();
        cur.advance(n);
    }
    let sent = cur.position() as usize;
    truncate(&p, HALF as u64);
    assert!(matches!(cur.next_chunk(), Err(ServeError::FileChanged)));
    drop(sock);
    assert_eq!(peer.join().unwrap(), content()[..sent]);
}

/// The held-back final chunk is a checked copy: once it has been taken, a
/// truncation cannot change what is left of it to send.
#[test]
fn final_chunk_survives_a_later_truncation() {
    let d = TempDir::new("tail");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    let mut cur = f
        .cursor(LEN as u64 - 10_000..LEN as u64, 64 * 1024)
        .unwrap();
    let tail = cur.next_chunk().unwrap().unwrap();
    truncate(&p, 0);
    cur.advance(4_000);
    let rest = cur.next_chunk().unwrap().unwrap();
    assert_eq!(rest, content()[LEN - 6_000..]);
    assert_eq!(tail, content()[LEN - 10_000..]);
    cur.advance(6_000);
    assert!(cur.next_chunk().unwrap().is_none());
}

/// Unlinking or renaming over a mapped file changes nothing in its bytes:
/// responses in flight complete.
#[test]
fn unlinked_or_replaced_file_still_serves_whole() {
    let d = TempDir::new("unlink");
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    let tmp = d.join("new");
    fs::write(&tmp, b"new").unwrap();
    fs::rename(&tmp, &p).unwrap();
    assert!(f.is_unchanged().unwrap());
    let (mut sock, peer) = socket_pair();
    assert_eq!(
        f.write_range(0..LEN as u64, &mut sock, 100_000).unwrap(),
        LEN as u64
    );
    drop(sock);
    assert_eq!(peer.join().unwrap(), content());
    fs::remove_file(&p).unwrap();
    assert!(f.is_unchanged().unwrap());
    assert_eq!(f.read_range_checked(0..5).unwrap(), content()[..5]);
    let e = cache.get(&p).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

/// The premise, shown in a child process: reading the same vanished page
/// from userspace kills the process with SIGBUS. (This is what the cache
/// never does, and what `CachedFile::bytes` warns about.)
#[test]
fn userspace_read_of_truncated_mapping_is_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    let d = TempDir::new("sigbus-child"); // the child dies before cleaning up
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigbus_child", "--ignored", "--test-threads=1"])
        .env("WIRELOOM_SIGBUS_CHILD", d.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(7), "{status:?}"); // SIGBUS
}

#[test]
#[ignore = "run by userspace_read_of_truncated_mapping_is_sigbus in a child process"]
fn sigbus_child() {
    let Some(dir) = std::env::var_os("WIRELOOM_SIGBUS_CHILD") else {
        return;
    };
    let d = std::mem::ManuallyDrop::new(TempDir::adopt(dir.into()));
    let cache = FileCache::default();
    let (p, f) = mapped(&d, &cache);
    truncate(&p, HALF as u64);
    let byte = std::hint::black_box(f.bytes()[HALF + 1]); // SIGBUS here
    panic!("read {byte} past the end without SIGBUS");
}
