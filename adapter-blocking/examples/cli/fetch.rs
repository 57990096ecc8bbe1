//! The `fetch` example's command line, shared by every adapter's `fetch`
//! (included with `#[path]`), so the flags are the same everywhere:
//!
//! ```text
//! fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [--follow] [--ca PEM] [-i]
//! ```

use std::io::Write;
use std::process::ExitCode;

use wireloom_core::http::{Method, ResponseHead};
use wireloom_io::tls::ClientTlsConfig;

pub const USAGE: &str =
    "usage: fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [--follow] [--ca PEM] [-i]";

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
}

impl Args {
    /// Parses the process arguments; `Err` is the exit code after `--help`
    /// (0) or a usage error (2, message printed).
    pub fn from_env() -> Result<Args, ExitCode> {
        let mut url = None;
        let mut method = None;
        let mut headers = Vec::new();
        let mut data = None;
        let mut follow = false;
        let mut ca = None;
        let mut include = false;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
            let r: Result<(), String> = match a.as_str() {
                "-X" | "--request" => value().and_then(|m| {
                    m.parse::<Method>()
                        .map(|m| method = Some(m))
                        .map_err(|e| e.to_string())
                }),
                "-H" | "--header" => value().and_then(|h| match h.split_once(':') {
                    Some((n, v)) => {
                        headers.push((n.trim().to_string(), v.trim().to_string()));
                        Ok(())
                    }
                    None => Err(format!("header `{h}` is not `Name: value`")),
                }),
                "-d" | "--data" => value().map(|d| data = Some(d)),
                "--follow" | "-L" => {
                    follow = true;
                    Ok(())
                }
                "--ca" => value().map(|c| ca = Some(c)),
                "-i" | "--include" => {
                    include = true;
                    Ok(())
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Err(ExitCode::SUCCESS);
                }
                s if s.starts_with('-') => Err(format!("unknown flag {s}")),
                s => {
                    if url.replace(s.to_string()).is_some() {
                        Err("only one URL".into())
                    } else {
                        Ok(())
                    }
                }
            };
            if let Err(e) = r {
                eprintln!("fetch: {e}\n{USAGE}");
                return Err(ExitCode::from(2));
            }
        }
        let Some(url) = url else {
            eprintln!("fetch: no URL\n{USAGE}");
            return Err(ExitCode::from(2));
        };
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

/// Standard output for the response: the head first with `-i`, then the
/// body piece by piece.
pub struct Output(std::io::StdoutLock<'static>);

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
        Output(out)
    }

    /// Writes the next read of the body: `None` to go on, or the exit code
    /// once the body ended (0) or failed (1, message printed).
    pub fn piece<E: std::fmt::Display>(
        &mut self,
        read: Result<Option<impl AsRef<[u8]>>, E>,
    ) -> Option<ExitCode> {
        match read {
            Ok(Some(c)) if self.0.write_all(c.as_ref()).is_ok() => None,
            Ok(Some(_)) => Some(ExitCode::FAILURE),
            Ok(None) => {
                let _ = self.0.flush();
                Some(ExitCode::SUCCESS)
            }
            Err(e) => {
                let _ = self.0.flush();
                Some(failed(e))
            }
        }
    }
}

/// Prints the error and gives the exit code of a failed request.
pub fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("fetch: {e}");
    ExitCode::FAILURE
}
