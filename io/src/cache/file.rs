//! One loaded file: its bytes, identity and the descriptor behind a mapping.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use memmap2::MmapOptions;

use crate::core::http::file::{content_type, etag, FileMeta};

use super::serve::ServeError;

/// How many times a small file is re-read when it changes during the read.
const READ_ATTEMPTS: usize = 3;

pub(super) fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// What `stat` says about a file version. Two stamps are equal when nothing
/// visible to `stat` changed: size, mtime, ctime (which no user can set, so
/// a rewrite that restores the mtime is still seen), inode and device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl Stamp {
    pub(super) fn of(m: &Metadata) -> Stamp {
        Stamp {
            len: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        }
    }

    /// Whether an open descriptor's `fstat` still shows the bytes as loaded:
    /// same size and mtime. Not ctime: renaming another file over this one
    /// or unlinking it changes the ctime (link count) but not a byte, and
    /// replacing by rename is exactly how files should be updated.
    fn same_bytes(&self, now: &Stamp) -> bool {
        self.len == now.len && self.mtime == now.mtime
    }
}

/// A cached file: its bytes and what a response needs to describe them.
/// Cloning is cheap (one `Arc`).
///
/// Either **in memory** (below the small-file threshold: a private snapshot,
/// immune to later changes of the file) or **mapped** (the bytes are the
/// page cache; see the [module docs](super) for how to send them safely).
#[derive(Clone)]
pub struct CachedFile {
    inner: Arc<Loaded>,
}

struct Loaded {
    path: PathBuf,
    /// The whole file as loaded: a mapping (`Bytes::from_owner(Mmap)`) or a
    /// private copy. For a mapping, never read in userspace (see the module
    /// docs): only slices of it are handed to `write(2)`.
    bytes: Bytes,
    /// The descriptor the mapping was made from; `None` for in-memory files
    /// (they need no checks and so keep no descriptor open).
    file: Option<Arc<File>>,
    stamp: Stamp,
    modified: Option<SystemTime>,
    etag: String,
    content_type: String,
}

impl fmt::Debug for CachedFile {
    // Never prints the bytes: reading a mapping in userspace can fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedFile")
            .field("path", &self.inner.path)
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .field("etag", &self.inner.etag)
            .finish()
    }
}

impl CachedFile {
    /// Opens and loads `path`: read into memory below `small` bytes, mapped
    /// otherwise.
    pub(super) fn load(path: &Path, small: u64) -> io::Result<CachedFile> {
        let mut attempts = 0;
        loop {
            let file = File::open(path)?;
            let meta = file.metadata()?;
            if !meta.file_type().is_file() {
                return Err(not_regular());
            }
            let stamp = Stamp::of(&meta);
            let len = stamp.len;
            let (bytes, file) = if len < small || len == 0 {
                let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                (&file).take(len.saturating_add(1)).read_to_end(&mut buf)?;
                // A read that raced with a writer is thrown away: the
                // snapshot must be exactly the version `stamp` describes.
                if buf.len() as u64 != len || Stamp::of(&file.metadata()?) != stamp {
                    attempts += 1;
                    if attempts < READ_ATTEMPTS {
                        continue;
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "file kept changing while it was read",
                    ));
                }
                (Bytes::from(buf), None)
            } else {
                let map_len = usize::try_from(len).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "file too large to map")
                })?;
                // SAFETY: `Mmap::map` is unsafe because another process may
                // truncate or modify the file while it is mapped: Rust code
                // reading a page past a new end of file gets SIGBUS, and the
                // bytes behind a `&[u8]` may change, which Rust assumes they
                // never do. It is sound here because:
                // - the file is a regular file (checked with fstat on this
                //   very descriptor just above), mapped read-only with the
                //   length fstat reported;
                // - no code in this crate ever reads the mapped bytes in
                //   userspace: `write_range`/`RangeCursor` only pass their
                //   address to write(2)/send(2) (through the sealed
                //   `DirectWrite` writers, whose `write` is that one
                //   syscall), and the kernel copies with fault fixups, so a
                //   vanished page yields EFAULT or a short write, never
                //   SIGBUS, and no Rust code observes the content changing;
                //   userspace consumers get `read_range_checked`, which uses
                //   pread(2) on the descriptor, not the mapping;
                // - every chunk is preceded by an fstat check of this
                //   descriptor and the held-back last bytes are sent from a
                //   checked pread copy, so a change cuts the response
                //   instead of completing it with wrong bytes;
                // - `Bytes::from_owner` only takes the mapping's address and
                //   length, and the `Debug` impl never prints the bytes.
                // What remains is the contract documented on
                // `CachedFile::bytes`: a caller who reads a mapped file's
                // bytes in userspace must know that nobody truncates it.
                #[allow(unsafe_code)]
                let map = unsafe { MmapOptions::new().len(map_len).map(&file)? };
                (Bytes::from_owner(map), Some(Arc::new(file)))
            };
            let modified = meta.modified().ok();
            return Ok(CachedFile {
                inner: Arc::new(Loaded {
                    path: path.to_path_buf(),
                    etag: etag(len, modified, stamp.ino),
                    content_type: content_type(&path.to_string_lossy()),
                    bytes,
                    file,
                    stamp,
                    modified,
                }),
            });
        }
    }

    pub(super) fn stamp(&self) -> &Stamp {
        &self.inner.stamp
    }

    /// The whole file, without copying: the mapped region for a mapped file,
    /// a private copy for an in-memory one. Clones share the same memory.
    ///
    /// **For a mapped file ([`is_mapped`](Self::is_mapped)), do not read
    /// these bytes in userspace** (index them, copy them, hash them, give
    /// them to rustls or a `BufWriter`) unless nobody can truncate the file:
    /// reading a page past a new end of file raises `SIGBUS` and kills the
    /// process, and an in-place rewrite changes them under you. Send them
    /// with [`write_range`](Self::write_range) or a
    /// [`RangeCursor`](super::RangeCursor), or read them with
    /// [`read_range_checked`](Self::read_range_checked).
    pub fn bytes(&self) -> &Bytes {
        &self.inner.bytes
    }

    /// Whether the bytes are a memory mapping (else a private in-memory copy).
    pub fn is_mapped(&self) -> bool {
        self.inner.file.is_some()
    }

    /// The path it was loaded from, as given to [`FileCache::get`](super::FileCache::get).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Size in bytes at load time.
    pub fn len(&self) -> u64 {
        self.inner.stamp.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Modification time at load time.
    pub fn modified(&self) -> Option<SystemTime> {
        self.inner.modified
    }

    /// Inode number.
    pub fn inode(&self) -> u64 {
        self.inner.stamp.ino
    }

    /// Strong entity tag, quotes included (from
    /// [`etag`](crate::core::http::file::etag)).
    pub fn etag(&self) -> &str {
        &self.inner.etag
    }

    /// Media type for Content-Type (from
    /// [`content_type`](crate::core::http::file::content_type)).
    pub fn content_type(&self) -> &str {
        &self.inner.content_type
    }

    /// The open descriptor a mapped file was mapped from (`None` for an
    /// in-memory file, which keeps no descriptor open).
    pub fn file(&self) -> Option<&Arc<File>> {
        self.inner.file.as_ref()
    }

    /// What [`plan`](crate::core::http::file::plan) needs to decide the
    /// response.
    pub fn meta(&self) -> FileMeta {
        FileMeta {
            len: self.len(),
            modified: self.modified(),
            etag: self.inner.etag.clone(),
            content_type: self.inner.content_type.clone(),
        }
    }

    /// Whether the bytes are still the file's as loaded: for a mapped file,
    /// `fstat` of the held descriptor shows the same size and mtime (a
    /// truncation or write changes them); an in-memory file is a private
    /// snapshot and always answers true.
    ///
    /// This does not look at the path: a file replaced by rename keeps its
    /// old inode alive and unchanged, so responses in flight complete
    /// ([`FileCache::get`](super::FileCache::get) sees the replacement).
    pub fn is_unchanged(&self) -> io::Result<bool> {
        match &self.inner.file {
            None => Ok(true),
            Some(f) => Ok(self.inner.stamp.same_bytes(&Stamp::of(&f.metadata()?))),
        }
    }

    pub(super) fn check_range(&self, range: &Range<u64>) -> Result<(), ServeError> {
        if range.start > range.end || range.end > self.len() {
            return Err(ServeError::InvalidRange {
                start: range.start,
                end: range.end,
                len: self.len(),
            });
        }
        Ok(())
    }

    /// The bytes `range` (end exclusive) as a `Bytes` that is safe to read in
    /// userspace (for TLS, compression, hashing).
    ///
    /// In-memory file: a slice of the snapshot. Mapped file: read with
    /// `pread` from the held descriptor (never through the mapping), then
    /// checked with [`is_unchanged`](Self::is_unchanged), so every returned
    /// byte is the file's as loaded. Ask for chunk-sized ranges: this
    /// allocates the whole range.
    ///
    /// Errors: [`io::ErrorKind::InvalidInput`] for a range outside the file;
    /// an error wrapping [`ServeError::FileChanged`] (see
    /// [`ServeError::is_file_changed`]) when the file was truncated or
    /// modified since it was loaded; read and `fstat` errors.
    pub fn read_range_checked(&self, range: Range<u64>) -> io::Result<Bytes> {
        self.check_range(&range).map_err(io::Error::from)?;
        let Some(file) = &self.inner.file else {
            // In memory: indices fit usize since the whole file does.
            return Ok(self
                .inner
                .bytes
                .slice(range.start as usize..range.end as usize));
        };
        let n = usize::try_from(range.end - range.start)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range too large"))?;
        let mut buf = vec![0u8; n];
        let mut filled = 0;
        while filled < n {
            match file.read_at(&mut buf[filled..], range.start + filled as u64) {
                // End of file before the end of the range: truncated.
                Ok(0) => return Err(ServeError::FileChanged.into()),
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // After the copy: a write that changed any byte we read had already
        // updated the timestamps (the kernel does that before copying data).
        if !self.is_unchanged()? {
            return Err(ServeError::FileChanged.into());
        }
        Ok(Bytes::from(buf))
    }
}
