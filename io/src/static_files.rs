//! Serving a directory through the [`FileCache`], for every adapter: every
//! decision (200, 206, 304, 412, 416, multipart ranges) comes from
//! [`wireloom_core::http::file::plan`]; this module finds the file safely
//! under the root, maps planned ranges to checked pieces of cached bytes,
//! and turns the outcome into a [`Response`] of the adapter's body type.
//!
//! Its calls touch the file system: async adapters run
//! [`StaticDir::lookup`] on their blocking pool.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use wireloom_core::http::file::{plan, safe_segments, FilePlan, Segment};
use wireloom_core::http::{Method, RequestHead, StatusCode};

use crate::cache::{CachedFile, FileCache, RangeCursor};
use crate::http::{Response, ResponseBody};

/// What a request for a file comes to.
#[derive(Debug)]
pub enum Lookup {
    /// Answer `status` with a short text body (and `Location` for a
    /// directory redirect; `Allow` for 405).
    Status {
        /// The status.
        status: StatusCode,
        /// The redirect target, for 301.
        location: Option<String>,
    },
    /// Serve the planned answer from the cached file.
    File {
        /// The file.
        file: CachedFile,
        /// Head and body segments (empty for HEAD, 304, 412).
        plan: FilePlan,
    },
}

impl Lookup {
    fn status(status: StatusCode) -> Lookup {
        Lookup::Status {
            status,
            location: None,
        }
    }

    /// The response, with `file_body` making the adapter's body for
    /// planned segments of a file (it is called only when there are some).
    pub fn into_response<B: ResponseBody>(
        self,
        file_body: impl FnOnce(CachedFile, Vec<Segment>) -> B,
    ) -> Response<B> {
        match self {
            Lookup::Status {
                status,
                location: Some(loc),
            } => Response::new(status).header("Location", loc),
            Lookup::Status {
                status: StatusCode::METHOD_NOT_ALLOWED,
                ..
            } => Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
                .header("Allow", "GET, HEAD"),
            Lookup::Status { status, .. } => {
                let text = match status {
                    StatusCode::FORBIDDEN => "forbidden\n",
                    StatusCode::NOT_FOUND => "not found\n",
                    _ => status.reason().unwrap_or(""),
                };
                Response::text(status, text)
            }
            Lookup::File { file, plan } => {
                let body = if plan.body.is_empty() {
                    B::empty()
                } else {
                    file_body(file, plan.body)
                };
                Response::from_parts(plan.head, body)
            }
        }
    }
}

/// A directory served through the [`FileCache`]: finds the file for a
/// request safely under the root and plans the answer.
///
/// Paths are decoded segment by segment; `..` in any encoding, separators
/// inside a segment, and symbolic links that lead outside the root are
/// refused. A directory is served through its index file (`index.html`);
/// a directory path without a trailing slash is redirected to one.
pub struct StaticDir {
    root: PathBuf,
    cache: FileCache,
    index: String,
    strip_prefix: String,
    seed: AtomicU64,
}

impl StaticDir {
    /// Serves `root` (which must exist) through `cache`.
    pub fn new(root: impl AsRef<Path>, cache: FileCache) -> io::Result<StaticDir> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "static root is not a directory",
            ));
        }
        Ok(StaticDir {
            root,
            cache,
            index: "index.html".into(),
            strip_prefix: String::new(),
            seed: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        })
    }

    /// Removes `prefix` from request paths first (when mounted at
    /// `/static/{*path}`, pass `/static`).
    pub fn strip_prefix(mut self, prefix: &str) -> StaticDir {
        self.strip_prefix = prefix.trim_end_matches('/').to_string();
        self
    }

    /// The index file name for directories (default `index.html`).
    pub fn index(mut self, name: &str) -> StaticDir {
        self.index = name.to_string();
        self
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a request path to a file under the root (with its metadata
    /// when the lookup already has it), or the status to answer with.
    // Only `Lookup::Status` is ever the error here; the large variant
    // (a planned file) never travels through these results.
    #[allow(clippy::result_large_err)]
    fn resolve(&self, path: &str) -> Result<(PathBuf, Option<Metadata>), Lookup> {
        let path = path
            .strip_prefix(self.strip_prefix.as_str())
            .unwrap_or(path);
        let segs = safe_segments(path).map_err(|_| Lookup::status(StatusCode::FORBIDDEN))?;
        let (real, meta) = self.locate(&segs)?;
        if meta
            .as_ref()
            .map_or_else(|| real.is_dir(), Metadata::is_dir)
        {
            if !path.ends_with('/') && !path.is_empty() {
                let mut loc = format!("{}{}/", self.strip_prefix, path);
                if !loc.starts_with('/') {
                    loc.insert(0, '/');
                }
                return Err(Lookup::Status {
                    status: StatusCode::MOVED_PERMANENTLY,
                    location: Some(loc),
                });
            }
            let index = real.join(&self.index);
            let index_real = index
                .canonicalize()
                .map_err(|_| Lookup::status(StatusCode::NOT_FOUND))?;
            if !index_real.starts_with(&self.root) {
                return Err(Lookup::status(StatusCode::FORBIDDEN));
            }
            return Ok((index_real, None));
        }
        Ok((real, meta))
    }

    /// The path of `segs` under the root, with its metadata unless a link
    /// was followed.
    ///
    /// The root is canonical and the segments hold no `.`, `..` nor
    /// separator, so the joined path is canonical unless one of its
    /// components is a symbolic link: one `lstat` per segment checks that
    /// (instead of `realpath`, which reads every component from `/`). On a
    /// link the whole path is canonicalised and must stay under the root.
    #[allow(clippy::result_large_err)]
    fn locate(&self, segs: &[String]) -> Result<(PathBuf, Option<Metadata>), Lookup> {
        let not_found = || Lookup::status(StatusCode::NOT_FOUND);
        let mut p = self.root.clone();
        let mut last = None;
        for (i, s) in segs.iter().enumerate() {
            p.push(s);
            let meta = std::fs::symlink_metadata(&p).map_err(|_| not_found())?;
            if meta.file_type().is_symlink() {
                for rest in &segs[i + 1..] {
                    p.push(rest);
                }
                let real = p.canonicalize().map_err(|_| not_found())?;
                if !real.starts_with(&self.root) {
                    // A symbolic link pointing outside the root.
                    return Err(Lookup::status(StatusCode::FORBIDDEN));
                }
                return Ok((real, None));
            }
            last = Some(meta);
        }
        Ok((p, last))
    }

    /// Finds and plans the answer to `req` (GET and HEAD; other methods
    /// get 405). Blocking: it may stat, open and map files.
    pub fn lookup(&self, req: &RequestHead) -> Lookup {
        if req.method != Method::GET && req.method != Method::HEAD {
            return Lookup::status(StatusCode::METHOD_NOT_ALLOWED);
        }
        let (path, meta) = match self.resolve(req.target.path()) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let found = match &meta {
            Some(m) => self.cache.get_with_metadata(&path, m),
            None => self.cache.get(&path),
        };
        let file = match found {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Lookup::status(StatusCode::FORBIDDEN)
            }
            Err(_) => return Lookup::status(StatusCode::NOT_FOUND),
        };
        let seed = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let plan = plan(req, &file.meta(), seed);
        Lookup::File { file, plan }
    }

    /// [`lookup`](StaticDir::lookup) for what needs no file to be opened:
    /// a refusal (405, 403, 404, 301) or a file the cache already holds,
    /// unchanged; `None` when the answer needs the file opened or mapped
    /// (a cache miss, a changed file, a path through a link or to a
    /// directory's index), for which the caller runs `lookup` on a
    /// blocking pool. It still looks at the path's metadata (`lstat`).
    pub fn lookup_cached(&self, req: &RequestHead) -> Option<Lookup> {
        if req.method != Method::GET && req.method != Method::HEAD {
            return Some(Lookup::status(StatusCode::METHOD_NOT_ALLOWED));
        }
        let (path, meta) = match self.resolve(req.target.path()) {
            Ok(p) => p,
            Err(r) => return Some(r),
        };
        let file = self.cache.get_cached(&path, meta.as_ref()?)?;
        let seed = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let plan = plan(req, &file.meta(), seed);
        Some(Lookup::File { file, plan })
    }
}

/// Checked pieces of a file range, ready for the socket.
#[derive(Debug)]
pub enum Pieces<'a> {
    /// Zero-copy pieces from the cache's cursor (it checks before each
    /// piece; the tail is copied and checked last). Only for a transport
    /// where the kernel reads the bytes (plain TCP).
    Direct(RangeCursor),
    /// Copied pieces (`pread`, then checked), for TLS.
    Copied {
        /// The file.
        file: &'a CachedFile,
        /// Next offset.
        at: u64,
        /// End of the range.
        end: u64,
        /// Piece size.
        chunk: u64,
    },
}

impl<'a> Pieces<'a> {
    /// The bytes `start..end` of `file` in pieces of at most `chunk` bytes.
    /// With `zero_copy`, pieces may be slices of a memory map that only the
    /// kernel may read; otherwise they are safe copies.
    pub fn new(
        file: &'a CachedFile,
        start: u64,
        end: u64,
        chunk: usize,
        zero_copy: bool,
    ) -> io::Result<Pieces<'a>> {
        if zero_copy {
            return Ok(Pieces::Direct(file.cursor(start..end, chunk)?));
        }
        if end > file.len() || start > end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range outside the file",
            ));
        }
        Ok(Pieces::Copied {
            file,
            at: start,
            end,
            chunk: chunk.max(1) as u64,
        })
    }

    /// The next piece; `None` at the end. An error means the file changed
    /// or could not be read: cut the response.
    pub fn next_piece(&mut self) -> io::Result<Option<Bytes>> {
        match self {
            Pieces::Direct(cur) => match cur.next_chunk()? {
                Some(b) => {
                    cur.advance(b.len());
                    Ok(Some(b))
                }
                None => Ok(None),
            },
            Pieces::Copied {
                file,
                at,
                end,
                chunk,
            } => {
                if *at >= *end {
                    return Ok(None);
                }
                let stop = (*at + *chunk).min(*end);
                let b = if file.is_mapped() {
                    file.read_range_checked(*at..stop)?
                } else {
                    file.bytes().slice(*at as usize..stop as usize)
                };
                *at = stop;
                Ok(Some(b))
            }
        }
    }
}
