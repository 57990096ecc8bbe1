//! The `demo` example's command line and console output, shared by every
//! adapter's `demo` (included with `#[path]`), so the flags, the messages
//! and the exit codes are the same everywhere:
//!
//! ```text
//! demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]
//! ```
//!
//! An adapter may add flags of its own (`wireloom-async-std`'s
//! `--executor`). Exit codes: 0 after `--help`, 2 on bad flags or files
//! named by them, 1 when the server cannot start or fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use wireloom_io::tls::ServerTlsConfig;

/// The usage line of the flags every demo has.
pub const USAGE: &str =
    "usage: demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]";

/// A flag of the adapter's own: called with a flag the shared ones are
/// not, and a way to take its value; `None` when the adapter does not
/// know it either.
pub type Extra<'a> =
    dyn FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Option<Result<(), String>> + 'a;

/// What the command line asks for.
pub struct Args {
    /// `--addr` (default `127.0.0.1:8080`).
    pub addr: String,
    /// `--root` (default: the sample site).
    pub root: PathBuf,
    cert: Option<String>,
    key: Option<String>,
    /// `--threads`, if given.
    pub threads: Option<usize>,
    usage: String,
}

impl Args {
    /// Parses the process arguments. `site`: the default root;
    /// `extra_usage`: the adapter's own flags for the usage line (after
    /// `USAGE`); `min_threads`: the least `--threads` accepted; `extra`:
    /// the adapter's own flags. `Err` is the exit code after `--help` (0)
    /// or a usage error (2, message printed).
    pub fn parse(
        site: &str,
        extra_usage: &str,
        min_threads: usize,
        extra: &mut Extra<'_>,
    ) -> Result<Args, ExitCode> {
        let usage = format!("{USAGE}{extra_usage}");
        let mut a = Args {
            addr: "127.0.0.1:8080".to_string(),
            root: PathBuf::from(site),
            cert: None,
            key: None,
            threads: None,
            usage: String::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let r: Result<(), String> = match flag.as_str() {
                "--addr" => value().map(|v| a.addr = v),
                "--root" => value().map(|v| a.root = PathBuf::from(v)),
                "--tls-cert" => value().map(|v| a.cert = Some(v)),
                "--tls-key" => value().map(|v| a.key = Some(v)),
                "--threads" => value().and_then(|v| match v.parse::<usize>() {
                    Ok(n) if n >= min_threads => {
                        a.threads = Some(n);
                        Ok(())
                    }
                    _ => Err(format!("bad --threads {v}")),
                }),
                "-h" | "--help" => {
                    println!("{usage}");
                    return Err(ExitCode::SUCCESS);
                }
                other => extra(other, &mut value)
                    .unwrap_or_else(|| Err(format!("unknown argument {other}"))),
            };
            if let Err(e) = r {
                return Err(exit(2, format!("{e}\n{usage}")));
            }
        }
        a.usage = usage;
        Ok(a)
    }

    /// The TLS configuration from `--tls-cert` and `--tls-key` (`None`:
    /// plain HTTP). `Err`: the exit code after a usage error (one without
    /// the other) or unreadable files (2, message printed).
    pub fn tls(&self) -> Result<Option<ServerTlsConfig>, ExitCode> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => match ServerTlsConfig::from_pem_files(c, k) {
                Ok(tls) => Ok(Some(tls)),
                Err(e) => Err(exit(2, format!("TLS: {e}"))),
            },
            (None, None) => Ok(None),
            _ => Err(self.usage_error("--tls-cert and --tls-key go together")),
        }
    }

    /// Prints `demo: MESSAGE` and the usage line; exit code 2.
    pub fn usage_error(&self, message: &str) -> ExitCode {
        exit(2, format!("{message}\n{}", self.usage))
    }
}

/// Prints `demo: MESSAGE` on stderr; the exit code `code`.
pub fn exit(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("demo: {message}");
    ExitCode::from(code)
}

/// Prints where the server listens (the line scripts and tests read the
/// URL from), one line per address.
pub fn listening(tls: bool, addrs: &[SocketAddr], root: &Path) {
    let scheme = if tls { "https" } else { "http" };
    for a in addrs {
        println!(
            "wireloom demo listening on {scheme}://{a}/ (root {})",
            root.display()
        );
    }
}

/// The request log: one line on stderr per request, with the time it
/// took, unless `WIRELOOM_QUIET` is set.
pub fn log(line: &str, status: u16, started: Instant) {
    if std::env::var_os("WIRELOOM_QUIET").is_none() {
        eprintln!("{line} -> {status} ({:?})", started.elapsed());
    }
}
