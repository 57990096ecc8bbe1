//! The `tracing` output of the code under test, captured in memory: a
//! global `tracing-subscriber` (installed once per test binary, filter
//! `wireloom=debug`, plain text, no colours) whose lines tests search.
//! Servers log from their own threads and tasks, so the subscriber is the
//! global one; a test binary that captures should hold its checks in one
//! `#[test]` (or search only for what its own test produced).
//!
//! ```no_run
//! let logs = wireloom_testkit::trace::capture();
//! // ... run a server and a client ...
//! let line = logs.wait_for(&["connection accepted", "tls=true"]);
//! assert!(line.contains("sni=localhost"), "{line}");
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// What the global subscriber wrote so far.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// The first line that holds every one of `needles`, waiting for it at
    /// most 10 s (servers log from their own threads). Panics with the log
    /// when none comes.
    pub fn wait_for(&self, needles: &[&str]) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text();
            if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return line.to_string();
            }
            assert!(
                Instant::now() < until,
                "no log line with {needles:?} in:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One writer per event, appending to the buffer.
pub struct Writer(Captured);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
             .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Writer;
    fn make_writer(&'a self) -> Writer {
        Writer(self.clone())
    }
}

/// Installs the capturing subscriber (the first call in a test binary)
/// and returns its buffer.
pub fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new("wireloom=debug"))
                .with_writer(captured.clone())
                .with_ansi(false)
                .init();
            captured
        })
        .clone()
}
