//! The `fetch` example's command line and output, shared by every
//! adapter's `fetch` (included with `#[path]`), so the flags are the same
//! everywhere (parsed with clap: `--help`, `--version`, exit 2 on bad
//! flags):
//!
//! ```text
//! fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [--follow] [--ca PEM] [-i] [-s]
//! ```
//!
//! While a body of more than 1 MiB downloads, a progress bar (indicatif)
//! runs on stderr when stderr is a terminal, as curl's does; `-s` turns it
//! off, and it never shows when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use wireloom_core::http::{Method, ResponseHead};
use wireloom_io::tls::ClientTlsConfig;

/// A small curl: fetches URL and prints the body (with -i, the status line
/// and headers first). Exits 1 on transport errors, 2 on usage errors.
#[derive(Parser)]
#[command(name = "fetch", bin_name = "fetch", version, args_override_self = true)]
struct Cli {
    /// The URL (http or https).
    url: String,
    /// The method [default: GET, or POST with -d].
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = parse_method)]
    method: Option<Method>,
    /// A field to send (repeatable).
    #[arg(short = 'H', long = "header", value_name = "Name: value", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// A body to send (as a form unless -H sets Content-Type).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Follow redirects (at most 10).
    #[arg(short = 'L', long)]
    follow: bool,
    /// Trust this CA (PEM) besides the webpki roots.
    #[arg(long, value_name = "PEM")]
    ca: Option<String>,
    /// Print the status line and the header fields first.
    #[arg(short = 'i', long)]
    include: bool,
    /// No progress bar.
    #[arg(short = 's', long)]
    silent: bool,
}

fn parse_method(m: &str) -> Result<Method, String> {
    m.parse::<Method>().map_err(|e| e.to_string())
}

fn parse_header(h: &str) -> Result<(String, String), String> {
    match h.split_once(':') {
        Some((n, v)) => Ok((n.trim().to_string(), v.trim().to_string())),
        None => Err(format!("header `{h}` is not `Name: value`")),
    }
}

/// What the command line asks for.
pub struct Args {
    pub url: String,
    pub method: Method,
    /// The fields to send, in order (`-d` adds the form content type
    /// unless a `Content-Type` is given).
    pub headers: Vec<(String, String)>,
    pub data: Option<String>,
    pub follow: bool,
    pub ca: Option<String>,
    pub include: bool,
    /// `-s`: no progress bar.
    pub silent: bool,
}

impl Args {
    /// Parses the process arguments; `Err` is the exit code after `--help`
    /// or `--version` (0) or a usage error (2, message printed).
    pub fn from_env() -> Result<Args, ExitCode> {
        let cli = Cli::try_parse().map_err(clap_exit)?;
        let Cli {
            url,
            method,
            mut headers,
            data,
            follow,
            ca,
            include,
            silent,
        } = cli;
        if data.is_some()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let method = method.unwrap_or(if data.is_some() {
            Method::POST
        } else {
            Method::GET
        });
        Ok(Args {
            url,
            method,
            headers,
            data,
            follow,
            ca,
            include,
            silent,
        })
    }

    /// Redirects to follow: 10 with `--follow`, none otherwise.
    pub fn max_redirects(&self) -> u32 {
        if self.follow {
            10
        } else {
            0
        }
    }

    /// TLS trusting the webpki roots and the `--ca` file; `Err` is the exit
    /// code (message printed).
    pub fn tls(&self) -> Result<ClientTlsConfig, ExitCode> {
        let mut tls = ClientTlsConfig::builder();
        if let Some(ca) = &self.ca {
            tls = tls.add_root_pem_file(ca).map_err(|e| {
                eprintln!("fetch: --ca {ca}: {e}");
                ExitCode::from(2)
            })?;
        }
        tls.build().map_err(|e| {
            eprintln!("fetch: TLS: {e}");
            ExitCode::FAILURE
        })
    }
}

/// Parses the process arguments and loads the TLS configuration they
/// ask for; `Err` is the exit code after `--help` (0) or a usage error (2,
/// message printed).
pub fn setup() -> Result<(Args, ClientTlsConfig), ExitCode> {
    let args = Args::from_env()?;
    let tls = args.tls()?;
    Ok((args, tls))
}

/// Bodies larger than this get a progress bar (on a terminal).
pub const PROGRESS_OVER: u64 = 1 << 20;

/// Standard output for the response: the head first with `-i`, then the
/// body piece by piece; the progress bar on stderr while a large body
/// downloads (see the module doc).
pub struct Output {
    out: std::io::StdoutLock<'static>,
    /// Whether a bar may show (`-s` not given, stderr a terminal).
    bar_allowed: bool,
    /// The body's length when the head says it.
    total: Option<u64>,
    received: u64,
    bar: Option<ProgressBar>,
}

impl Output {
    /// Starts the output of a response with head `h`.
    pub fn new(args: &Args, h: &ResponseHead) -> Output {
        let mut out = std::io::stdout().lock();
        if args.include {
            let _ = write!(
                out,
                "{} {} {}\r\n",
                h.version,
                h.status.as_u16(),
                String::from_utf8_lossy(&h.reason)
            );
            for (n, v) in &h.headers {
                let _ = write!(out, "{}: {}\r\n", n, String::from_utf8_lossy(v.as_bytes()));
            }
            let _ = write!(out, "\r\n");
        }
        let total = h
            .headers
            .get("content-length")
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()?.trim().parse().ok());
        Output {
            out,
            bar_allowed: !args.silent && std::io::stderr().is_terminal(),
            total,
            received: 0,
            bar: None,
        }
    }

    /// Counts `n` more body bytes; starts the bar once the body is known
    /// (or seen) to be larger than [`PROGRESS_OVER`].
    fn progress(&mut self, n: usize) {
        self.received += n as u64;
        if let Some(bar) = &self.bar {
            bar.set_position(self.received);
            return;
        }
        if !self.bar_allowed || self.total.unwrap_or(self.received) <= PROGRESS_OVER {
            return;
        }
        let bar = match self.total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{bytes:>10}/{total_bytes} [{wide_bar}] {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes:>10} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_position(self.received);
        bar.tick();
        self.bar = Some(bar);
    }

    /// Writes the next read of the body: `None` to go on, or the exit code
    /// once the body ended (0) or failed (1, message printed).
    pub fn piece<E: std::fmt::Display>(
        &mut self,
        read: Result<Option<impl AsRef<[u8]>>, E>,
    ) -> Option<ExitCode> {
        let code = match read {
            Ok(Some(c)) if self.out.write_all(c.as_ref()).is_ok() => {
                self.progress(c.as_ref().len());
                return None;
            }
            Ok(Some(_)) => ExitCode::FAILURE,
            Ok(None) => {
                let _ = self.out.flush();
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = self.out.flush();
                if let Some(bar) = self.bar.take() {
                    bar.abandon();
                }
                failed(e)
            }
        };
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        Some(code)
    }
}

/// Prints clap's message (help on stdout; errors on stderr, as
/// `fetch: MESSAGE` like the others) and gives its exit code: 0 for
/// `--help` and `--version`, 2 for usage errors.
fn clap_exit(e: clap::Error) -> ExitCode {
    if e.use_stderr() {
        let text = e.render().to_string();
        eprint!("fetch: {}", text.strip_prefix("error: ").unwrap_or(&text));
    } else {
        let _ = e.print();
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// Prints the error and gives the exit code of a failed request.
pub fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("fetch: {e}");
    ExitCode::FAILURE
}
