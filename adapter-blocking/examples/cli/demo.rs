//! The `demo` example's command line and console output, shared by every
//! adapter's `demo` (included with `#[path]`), so the flags, the messages
//! and the exit codes are the same everywhere:
//!
//! ```text
//! demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]
//! ```
//!
//! The flags are parsed with clap (`--help`, `--version`); an adapter may
//! add flags of its own as a `clap::Args` struct (`wireloom-async-std`'s
//! `--executor`). Exit codes: 0 after `--help` or `--version`, 2 on bad
//! flags or files named by them, 1 when the server cannot start or fails.
//!
//! Logs go through `tracing` ([`init_logging`]): by default one access line
//! per request on stderr (`GET /plaintext -> 200 (41.2µs)`), none with
//! `WIRELOOM_QUIET` set; `RUST_LOG` (an `EnvFilter`, such as
//! `RUST_LOG=info,wireloom=debug`) chooses instead, wireloom's own spans and
//! events included.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, FromArgMatches, Parser};
use wireloom_io::tls::ServerTlsConfig;

/// The usage line of the flags every demo has (without `usage: `).
pub const USAGE: &str =
    "demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]";

/// The flags every demo has.
#[derive(clap::Args)]
struct Flags {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Directory of the files to serve [default: the sample site].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM; needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<String>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<String>,
    /// Worker threads.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// No flags of the adapter's own.
#[derive(clap::Args)]
pub struct NoExtra {}

/// The demo server: static files from a directory (through the mmap file
/// cache) plus a small JSON API (`GET /plaintext`, `POST /api/echo`,
/// `GET /api/headers`).
#[derive(Parser)]
#[command(
    name = "demo",
    bin_name = "demo",
    version,
    args_override_self = true,
    help_template = "usage: {usage}\n\n{about}\n\n{all-args}{after-help}",
    after_help = "Logs: one access line per request on stderr (none with WIRELOOM_QUIET set);\n\
                  RUST_LOG=FILTER chooses instead (e.g. RUST_LOG=info,wireloom=debug)."
)]
struct Cli<E: clap::Args> {
    #[command(flatten)]
    flags: Flags,
    #[command(flatten)]
    extra: E,
}

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
}

impl Args {
    /// Parses the process arguments: the flags every demo has. `site`:
    /// the default root; `min_threads`: the least `--threads` accepted.
    /// `Err` is the exit code after `--help`/`--version` (0) or a usage
    /// error (2, message printed).
    #[allow(dead_code)] // wireloom-async-std's demo has a flag of its own
    pub fn parse(site: &str, min_threads: usize) -> Result<Args, ExitCode> {
        Self::parse_with::<NoExtra>(site, "", min_threads).map(|(a, _)| a)
    }

    /// [`parse`](Args::parse), with the adapter's own flags `E`
    /// (`extra_usage`: them on the usage line, after [`USAGE`]).
    pub fn parse_with<E: clap::Args>(
        site: &str,
        extra_usage: &str,
        min_threads: usize,
    ) -> Result<(Args, E), ExitCode> {
        let mut cmd = Cli::<E>::command().override_usage(format!("{USAGE}{extra_usage}"));
        let cli = cmd
            .try_get_matches_from_mut(std::env::args_os())
            .and_then(|m| Cli::<E>::from_arg_matches(&m))
            .map_err(|e| e.format(&mut cmd))
            .map_err(clap_exit)?;
        let Flags {
            addr,
            root,
            tls_cert,
            tls_key,
            threads,
        } = cli.flags;
        if threads.is_some_and(|n| n < min_threads) {
            let e = cmd.error(
                clap::error::ErrorKind::ValueValidation,
                format!("--threads must be at least {min_threads}"),
            );
            return Err(clap_exit(e));
        }
        let args = Args {
            addr,
            root: root.unwrap_or_else(|| PathBuf::from(site)),
            cert: tls_cert,
            key: tls_key,
            threads,
        };
        Ok((args, cli.extra))
    }

    /// The TLS configuration from `--tls-cert` and `--tls-key` (`None`:
    /// plain HTTP). `Err`: the exit code after unreadable files (2,
    /// message printed).
    pub fn tls(&self) -> Result<Option<ServerTlsConfig>, ExitCode> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => match ServerTlsConfig::from_pem_files(c, k) {
                Ok(tls) => Ok(Some(tls)),
                Err(e) => Err(exit(2, format!("TLS: {e}"))),
            },
            // clap makes them go together.
            _ => Ok(None),
        }
    }
}

/// Prints clap's message (help on stdout; errors on stderr, as
/// `demo: MESSAGE` like the others) and gives its exit code: 0 for
/// `--help` and `--version`, 2 for usage errors.
fn clap_exit(e: clap::Error) -> ExitCode {
    if e.use_stderr() {
        let text = e.render().to_string();
        eprint!("demo: {}", text.strip_prefix("error: ").unwrap_or(&text));
    } else {
        let _ = e.print();
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
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

/// The target of the access lines.
const ACCESS: &str = "demo::access";

/// Installs the demo's `tracing` subscriber, writing to stderr: with
/// `RUST_LOG` set, its filter; otherwise the access lines only, or nothing
/// when `WIRELOOM_QUIET` is set. Access lines are written as they always
/// were (`GET /path -> 200 (1.2ms)`), every other event in
/// `tracing-subscriber`'s usual format.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) => EnvFilter::new(f),
        Err(_) if std::env::var_os("WIRELOOM_QUIET").is_some() => return,
        Err(_) => EnvFilter::new(format!("{ACCESS}=info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(AccessFormat(tracing_subscriber::fmt::format()))
        .try_init();
}

/// The request log: one access line per request, with the time it took
/// (an INFO event of target `demo::access`).
pub fn log(line: &str, status: u16, started: Instant) {
    tracing::info!(target: ACCESS, "{line} -> {status} ({:?})", started.elapsed());
}

/// Access lines as the bare message; other events as `inner` has them.
struct AccessFormat<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for AccessFormat<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if event.metadata().target() != ACCESS {
            return self.0.format_event(ctx, writer, event);
        }
        let mut message = Message(&mut writer, Ok(()));
        event.record(&mut message);
        message.1?;
        writeln!(writer)
    }
}

/// Writes an event's `message` field as it was formatted.
struct Message<'a, 'w>(
    &'a mut tracing_subscriber::fmt::format::Writer<'w>,
    std::fmt::Result,
);

impl tracing::field::Visit for Message<'_, '_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.1 = write!(self.0, "{value:?}");
        }
    }
}
