//! The file cache: static files as [`Bytes`], memory-mapped without copying
//! (small files read into memory), revalidated by `stat` on every lookup,
//! bounded by a byte budget with least-recently-used eviction.
//!
//! [`FileCache`] is runtime-neutral (a `Mutex` held only for map updates,
//! never across IO): the blocking, tokio and async-std adapters all use it.
//! Its calls are blocking filesystem syscalls: a hit costs one `stat`, a
//! miss an `open` plus a read or `mmap`, [`CachedFile::read_range_checked`]
//! a `pread` (which waits for the disk if the pages are not in the page
//! cache). Async adapters run misses and cold reads on their blocking pool
//! (`spawn_blocking`, `blocking::unblock`). Unix only (it relies on `stat`
//! fields and `pread`).
//!
//! ```
//! use wireloom_io::cache::{CacheConfig, FileCache};
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join(format!("wireloom-cache-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("hello.txt");
//! std::fs::write(&path, "hello, world")?;
//!
//! let cache = FileCache::new(CacheConfig::default());
//! let f = cache.get(&path)?; // miss: loaded
//! assert_eq!(f.len(), 12);
//! assert_eq!(f.content_type(), "text/plain; charset=utf-8");
//! assert!(!f.is_mapped()); // below the small-file threshold: a private copy
//! let again = cache.get(&path)?; // hit: the same memory, no copy
//! assert_eq!(again.bytes().as_ptr(), f.bytes().as_ptr());
//! assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
//!
//! // Serving bytes 7..12 of it to a socket (here a file stands in for one):
//! let mut out = std::fs::File::create(dir.join("out"))?;
//! let sent = f.write_range(7..12, &mut out, 256 * 1024).expect("unchanged file");
//! assert_eq!(sent, 5);
//! assert_eq!(std::fs::read(dir.join("out"))?, b"world");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Files that change while they are served
//!
//! A mapped file is the page cache itself: if another process truncates the
//! file, the pages past the new end disappear from the mapping and **reading
//! them from userspace raises `SIGBUS`, which kills the process**; if it
//! rewrites the file in place, the mapped bytes change under the reader.
//! The kernel, however, never raises `SIGBUS` on its own accesses: a
//! `write(2)`/`send(2)` whose source buffer is a vanished mapped page returns
//! `EFAULT` or a short count (tested in `tests/cache_sigbus.rs`). So the
//! rule is: **mapped bytes are only ever handed to the kernel, never read by
//! Rust code**, and every change is detected with `fstat` on the descriptor
//! the mapping came from ([`CachedFile::is_unchanged`]: size and mtime as
//! at load time).
//!
//! Files below [`CacheConfig::small_file_threshold`] are read into memory
//! (and checked unchanged across the read) and are immune: their
//! [`Bytes`] are a private snapshot.
//!
//! ## Which path each adapter must use
//!
//! | Transport | Use | On `FileChanged` |
//! |---|---|---|
//! | plain socket, blocking (`wireloom-blocking`) | [`CachedFile::write_range`] with the `TcpStream` itself | close the connection |
//! | plain socket, async (`wireloom-tokio`, `wireloom-async-std`) | [`RangeCursor`]: each [`next_chunk`](RangeCursor::next_chunk) goes straight to the socket's own write (`TcpStream::try_write` / `poll_write` on tokio's `TcpStream`, `Async<TcpStream>`), never through a buffering wrapper | close the connection |
//! | TLS, compression, hashing, anything that touches the bytes | [`CachedFile::read_range_checked`] chunk by chunk (`pread` from the held descriptor, then checked), then hand the returned `Bytes` to rustls | close the connection |
//!
//! In every case a change cuts the response short: the peer sees fewer body
//! bytes than Content-Length announced (or no last chunk) followed by the
//! connection closing, and knows the response is incomplete. Never pad it,
//! never keep the connection alive after it.
//!
//! What each path guarantees:
//! - A response that **completes** carries exactly the bytes the file had when
//!   it was loaded, on every path: `write_range`/`RangeCursor` hold the last
//!   16 KiB ([`HELD_BACK`]) back until all else is written, copy them with
//!   `pread`, and check the file *after* that copy. The kernel updates a
//!   file's mtime before it changes any byte, so a check that passes after
//!   every byte has been copied proves that none of them was changed.
//! - A response that is **cut** by `write_range`/`RangeCursor` may end with
//!   up to one write call (at most `chunk_size` bytes) taken from the mapping
//!   while the change was happening: new bytes for an in-place rewrite,
//!   zeroes for the tail of a page cut by truncation. The check before the
//!   next chunk sees the change and the connection is closed, so these bytes
//!   never end a complete response. If even a cut response must hold only
//!   original bytes, use `read_range_checked` on plain sockets too (one more
//!   copy per byte).
//! - `read_range_checked` never returns a byte that was not the file's at
//!   load time: it checks after reading.
//!
//! [`CachedFile::bytes`] of a mapped file is the mapping itself: reading it in
//! userspace (indexing, `to_vec`, a `BufWriter`, rustls, a hasher) is safe
//! only for files nobody truncates. Check [`CachedFile::is_mapped`].
//!
//! ## Limits of `stat` validation
//!
//! A change is seen through the size or mtime it leaves behind (and ctime,
//! inode and device for [`FileCache::get`]). The kernel updates the mtime
//! before it copies a write's data, which is what makes checking after a
//! copy sound. A rewrite that keeps the size and lands within the same
//! timestamp tick as the previous write is invisible to any `stat`-based
//! check (Linux 6.13+ makes this unlikely with fine-grained timestamps once
//! a timestamp has been queried), and so are stores made through another
//! process's shared writable mapping after its first write fault, and an
//! in-place rewrite whose mtime is restored (`rsync --inplace -t`) if it
//! happens entirely between two checks. Replace files by writing a
//! new one and renaming it over the old (the mapping keeps the old inode
//! alive and intact, and the next [`FileCache::get`] loads the new one): that
//! is always safe.

#![cfg(unix)]

mod file;
mod serve;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use bytes::Bytes;
pub use file::CachedFile;
pub use serve::{DirectWrite, RangeCursor, ServeError, HELD_BACK};

use file::Stamp;

/// [`FileCache`] settings. Start from [`CacheConfig::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Total size of the cached files, in bytes (default 256 MiB). A file
    /// larger than this is served but not cached.
    pub max_bytes: u64,
    /// Most files held at once (default 1024). Every cached mapped file keeps
    /// one descriptor open; in-memory files keep none.
    pub max_entries: usize,
    /// Files shorter than this many bytes are read into memory instead of
    /// mapped (default 64 KiB). Empty files are always read.
    pub small_file_threshold: u64,
    /// Whether to cache at all (default true). When false every
    /// [`FileCache::get`] loads the file afresh.
    pub enabled: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 256 * 1024 * 1024,
            max_entries: 1024,
            small_file_threshold: 64 * 1024,
            enabled: true,
        }
    }
}

/// Counters returned by [`FileCache::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Files cached now.
    pub entries: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that loaded the file (including reloads of stale entries).
    pub misses: u64,
    /// Entries dropped to stay within the byte budget or entry limit.
    pub evictions: u64,
    /// Entries dropped because the file changed (size, mtime, ctime, inode
    /// or device differed from the `stat` of the path).
    pub invalidations: u64,
}

/// A thread-safe cache of files as [`Bytes`]; cloning it is cheap and the
/// clones share one cache.
///
/// Entries are keyed by the path exactly as given (no canonicalisation: the
/// caller resolves request paths against its root first).
#[derive(Clone, Debug)]
pub struct FileCache {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: CacheConfig,
    state: Mutex<State>,
}

/// Everything behind the lock. Invariants: `lru` holds exactly one tick per
/// entry of `map` (the entry's `tick`), and `bytes` is the sum of the
/// entries' lengths.
#[derive(Debug, Default)]
struct State {
    map: HashMap<PathBuf, Slot>,
    lru: BTreeMap<u64, PathBuf>,
    tick: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
    invalidations: u64,
}

#[derive(Debug)]
struct Slot {
    file: CachedFile,
    tick: u64,
}

impl State {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn touch(&mut self, path: &Path) {
        let tick = self.next_tick();
        if let Some(slot) = self.map.get_mut(path) {
            if let Some(p) = self.lru.remove(&slot.tick) {
                self.lru.insert(tick, p);
            }
            slot.tick = tick;
        }
    }

    fn remove(&mut self, path: &Path) -> Option<CachedFile> {
        let slot = self.map.remove(path)?;
        self.lru.remove(&slot.tick);
        self.bytes -= slot.file.len();
        Some(slot.file)
    }

    fn insert(&mut self, path: PathBuf, file: CachedFile) {
        self.remove(&path);
        let tick = self.next_tick();
        self.bytes += file.len();
        self.lru.insert(tick, path.clone());
        self.map.insert(path, Slot { file, tick });
    }

    /// Evicts least recently used entries until within both limits.
    fn shrink(&mut self, max_bytes: u64, max_entries: usize) {
        while self.bytes > max_bytes || self.map.len() > max_entries {
            let Some((_, path)) = self.lru.pop_first() else {
                break;
            };
            if let Some(slot) = self.map.remove(&path) {
                self.bytes -= slot.file.len();
                self.evictions += 1;
            }
        }
    }
}

impl Default for FileCache {
    fn default() -> Self {
        FileCache::new(CacheConfig::default())
    }
}

impl FileCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        FileCache {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The settings this cache was made with.
    pub fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock half-way through an update,
        // so the state is consistent even if a holder panicked.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file at `path`, from the cache if it is unchanged, else loaded
    /// (and cached if it fits).
    ///
    /// Every call `stat`s the path: an entry whose size, modification time,
    /// change time, inode or device differ is dropped and the file reloaded.
    /// Errors: those of `stat`/`open`/`read`/`mmap`, and
    /// [`io::ErrorKind::InvalidInput`] for a directory or any other
    /// non-regular file (checked before opening, so a FIFO is never opened).
    pub fn get(&self, path: impl AsRef<Path>) -> io::Result<CachedFile> {
        let path = path.as_ref();
        let meta = fs::metadata(path)?;
        self.get_with_metadata(path, &meta)
    }

    /// [`FileCache::get`] with the `stat` already done by the caller: `meta`
    /// must be the metadata of `path` (following links) taken just before,
    /// e.g. an `lstat` that found a regular file. Saves one system call per
    /// request for a caller that had to look at the path anyway.
    pub fn get_with_metadata(
        &self,
        path: impl AsRef<Path>,
        meta: &fs::Metadata,
    ) -> io::Result<CachedFile> {
        let path = path.as_ref();
        if !meta.file_type().is_file() {
            return Err(file::not_regular());
        }
        let stamp = Stamp::of(meta);
        let config = &self.shared.config;
        {
            let mut st = self.lock();
            if let Some(slot) = st.map.get(path) {
                if slot.file.stamp() == &stamp {
                    let file = slot.file.clone();
                    st.hits += 1;
                    st.touch(path);
                    return Ok(file);
                }
                st.remove(path);
                st.invalidations += 1;
            }
            st.misses += 1;
        }
        // Loading happens outside the lock: other lookups go on meanwhile.
        let loaded = CachedFile::load(path, config.small_file_threshold)?;
        if !config.enabled || config.max_entries == 0 || loaded.len() > config.max_bytes {
            return Ok(loaded);
        }
        let mut st = self.lock();
        if let Some(slot) = st.map.get(path) {
            // Another thread loaded it meanwhile: share its bytes if it is
            // the same version.
            if slot.file.stamp() == loaded.stamp() {
                let file = slot.file.clone();
                st.touch(path);
                return Ok(file);
            }
        }
        st.insert(path.to_path_buf(), loaded.clone());
        st.shrink(config.max_bytes, config.max_entries);
        Ok(loaded)
    }

    /// The cached entry for `path` if it is there and still matches `meta`
    /// (as [`get_with_metadata`](FileCache::get_with_metadata) would return
    /// it), without ever opening, reading or mapping the file: an async
    /// server answers cache hits on its executor and sends only misses to
    /// its blocking pool.
    pub fn get_cached(&self, path: impl AsRef<Path>, meta: &fs::Metadata) -> Option<CachedFile> {
        let path = path.as_ref();
        if !meta.file_type().is_file() {
            return None;
        }
        let stamp = Stamp::of(meta);
        let mut st = self.lock();
        let slot = st.map.get(path)?;
        if slot.file.stamp() != &stamp {
            return None;
        }
        let file = slot.file.clone();
        st.hits += 1;
        st.touch(path);
        Some(file)
    }

    /// Drops the entry for `path`; true if there was one. Handles already
    /// returned stay valid.
    pub fn remove(&self, path: impl AsRef<Path>) -> bool {
        self.lock().remove(path.as_ref()).is_some()
    }

    /// Drops every entry (the counters are kept).
    pub fn clear(&self) {
        let mut st = self.lock();
        st.map.clear();
        st.lru.clear();
        st.bytes = 0;
    }

    /// The current counters.
    pub fn stats(&self) -> CacheStats {
        let st = self.lock();
        CacheStats {
            entries: st.map.len(),
            bytes: st.bytes,
            hits: st.hits,
            misses: st.misses,
            evictions: st.evictions,
            invalidations: st.invalidations,
        }
    }
}
