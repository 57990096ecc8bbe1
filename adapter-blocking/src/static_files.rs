//! Serving a directory through the [`FileCache`]: every decision (200, 206,
//! 304, 412, 416, multipart ranges) comes from
//! [`wireloom_core::http::file::plan`]; this module only finds the file
//! safely under the root and maps planned ranges to cached bytes.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use wireloom_core::http::file::{plan, safe_segments};
use wireloom_core::http::{Method, StatusCode};

use crate::cache::{CachedFile, FileCache, RangeCursor};
use crate::server::{Body, FileChunks, FileSource, Handler, Request, Response};

/// A handler serving files under a root directory.
///
/// Paths are decoded segment by segment; `..` in any encoding, separators
/// inside a segment, and symbolic links that lead outside the root are
/// refused. A directory is served through its index file (`index.html`);
/// a directory path without a trailing slash is redirected to one.
pub struct StaticFiles {
    root: PathBuf,
    cache: FileCache,
    index: String,
    strip_prefix: String,
    seed: AtomicU64,
}

impl StaticFiles {
    /// Serves `root` (which must exist) through `cache`.
    pub fn new(root: impl AsRef<Path>, cache: FileCache) -> io::Result<StaticFiles> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "static root is not a directory",
            ));
        }
        Ok(StaticFiles {
            root,
            cache,
            index: "index.html".into(),
            strip_prefix: String::new(),
            seed: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        })
    }

    /// Removes `prefix` from request paths first (when mounted at
    /// `/static/{*path}`, pass `/static`).
    pub fn strip_prefix(mut self, prefix: &str) -> StaticFiles {
        self.strip_prefix = prefix.trim_end_matches('/').to_string();
        self
    }

    /// The index file name for directories (default `index.html`).
    pub fn index(mut self, name: &str) -> StaticFiles {
        self.index = name.to_string();
        self
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a request path to a file under the root (with its metadata
    /// when the lookup already has it), or the status to answer with.
    fn resolve(&self, path: &str) -> Result<(PathBuf, Option<Metadata>), Response> {
        let path = path
            .strip_prefix(self.strip_prefix.as_str())
            .unwrap_or(path);
        let segs = safe_segments(path)
            .map_err(|_| Response::text(StatusCode::FORBIDDEN, "forbidden\n"))?;
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
                return Err(Response::new(StatusCode::MOVED_PERMANENTLY).header("Location", loc));
            }
            let index = real.join(&self.index);
            let index_real = index
                .canonicalize()
                .map_err(|_| Response::text(StatusCode::NOT_FOUND, "not found\n"))?;
            if !index_real.starts_with(&self.root) {
                return Err(Response::text(StatusCode::FORBIDDEN, "forbidden\n"));
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
    fn locate(&self, segs: &[String]) -> Result<(PathBuf, Option<Metadata>), Response> {
        let not_found = || Response::text(StatusCode::NOT_FOUND, "not found\n");
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
                    return Err(Response::text(StatusCode::FORBIDDEN, "forbidden\n"));
                }
                return Ok((real, None));
            }
            last = Some(meta);
        }
        Ok((p, last))
    }
}

struct Source(CachedFile);

/// Zero-copy pieces: the cache's cursor (checks before each piece, and the
/// tail copied and checked last).
struct Direct(RangeCursor);

impl FileChunks for Direct {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        match self.0.next_chunk()? {
            Some(b) => {
                self.0.advance(b.len());
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }
}

/// Copied pieces for TLS: `pread`, then checked.
struct Copied<'a> {
    file: &'a CachedFile,
    at: u64,
    end: u64,
    chunk: u64,
}

impl FileChunks for Copied<'_> {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.at >= self.end {
            return Ok(None);
        }
        let stop = (self.at + self.chunk).min(self.end);
        let b = if self.file.is_mapped() {
            self.file.read_range_checked(self.at..stop)?
        } else {
            self.file.bytes().slice(self.at as usize..stop as usize)
        };
        self.at = stop;
        Ok(Some(b))
    }
}

impl FileSource for Source {
    fn chunks(
        &self,
        start: u64,
        end: u64,
        chunk: usize,
        zero_copy: bool,
    ) -> io::Result<Box<dyn FileChunks + '_>> {
        if zero_copy {
            Ok(Box::new(Direct(self.0.cursor(start..end, chunk)?)))
        } else {
            if end > self.0.len() || start > end {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "range outside the file",
                ));
            }
            Ok(Box::new(Copied {
                file: &self.0,
                at: start,
                end,
                chunk: chunk.max(1) as u64,
            }))
        }
    }
}

impl Handler for StaticFiles {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        if *req.method() != Method::GET && *req.method() != Method::HEAD {
            return Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
                .header("Allow", "GET, HEAD");
        }
        let (path, meta) = match self.resolve(req.path()) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let found = match &meta {
            Some(m) => self.cache.get_with_metadata(&path, m),
            None => self.cache.get(&path),
        };
        let file = match found {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Response::text(StatusCode::NOT_FOUND, "not found\n")
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Response::text(StatusCode::FORBIDDEN, "forbidden\n")
            }
            Err(_) => return Response::text(StatusCode::NOT_FOUND, "not found\n"),
        };
        let seed = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let planned = plan(req.head(), &file.meta(), seed);
        let body = if planned.body.is_empty() {
            Body::Empty
        } else {
            Body::File(Arc::new(Source(file)), planned.body)
        };
        Response::from_parts(planned.head, body)
    }
}
