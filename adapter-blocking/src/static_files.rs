//! Serving a directory through the [`FileCache`]:
//! the blocking face of the shared [`StaticDir`] (every decision comes from
//! [`wireloom_core::http::file::plan`]; the lookup rules live in
//! [`wireloom_io::static_files`]).

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
pub use wireloom_io::static_files::{Lookup, Pieces, StaticDir};

use crate::cache::{CachedFile, FileCache};
use crate::server::{Body, FileChunks, FileSource, Handler, Request, Response};

/// A handler serving files under a root directory.
///
/// Paths are decoded segment by segment; `..` in any encoding, separators
/// inside a segment, and symbolic links that lead outside the root are
/// refused. A directory is served through its index file (`index.html`);
/// a directory path without a trailing slash is redirected to one.
pub struct StaticFiles(StaticDir);

impl StaticFiles {
    /// Serves `root` (which must exist) through `cache`.
    pub fn new(root: impl AsRef<Path>, cache: FileCache) -> io::Result<StaticFiles> {
        StaticDir::new(root, cache).map(StaticFiles)
    }

    /// Removes `prefix` from request paths first (when mounted at
    /// `/static/{*path}`, pass `/static`).
    pub fn strip_prefix(self, prefix: &str) -> StaticFiles {
        StaticFiles(self.0.strip_prefix(prefix))
    }

    /// The index file name for directories (default `index.html`).
    pub fn index(self, name: &str) -> StaticFiles {
        StaticFiles(self.0.index(name))
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        self.0.root()
    }
}

struct Source(CachedFile);

struct Chunks<'a>(Pieces<'a>);

impl FileChunks for Chunks<'_> {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        self.0.next_piece()
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
        Ok(Box::new(Chunks(Pieces::new(
            &self.0, start, end, chunk, zero_copy,
        )?)))
    }
}

impl Handler for StaticFiles {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self.0
            .lookup(req.head())
            .into_response(|file, segs| Body::File(Arc::new(Source(file)), segs))
    }
}
