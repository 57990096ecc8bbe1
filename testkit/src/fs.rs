//! Fresh directories under the system temp dir, one per call, named after
//! the test, the process and a counter (tests of one binary run in
//! parallel; several binaries run at once).
//!
//! ```
//! let d = wireloom_testkit::fs::TempDir::new("doc");
//! std::fs::write(d.join("a.txt"), "a").unwrap();
//! let kept = wireloom_testkit::fs::temp_dir("doc");
//! assert!(kept.is_dir() && kept != d.path());
//! # std::fs::remove_dir_all(kept).unwrap();
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory `$TMP/wireloom-<tag>-<pid>-<n>` (anything left
/// there by an earlier process of the same pid is removed first). The
/// caller removes it when done, if it likes.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("wireloom-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A [`temp_dir`] removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory for `tag`.
    pub fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }

    /// Takes over an existing directory (say, one a parent process made
    /// for a child): removed when dropped like any other.
    pub fn adopt(path: PathBuf) -> TempDir {
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
