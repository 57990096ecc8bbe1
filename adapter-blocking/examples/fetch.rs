//! A small curl: fetches a URL with the blocking client.
//!
//! ```text
//! cargo run -p wireloom-blocking --example fetch -- URL [-X METHOD] [-H 'Name: value']...
//!     [-d DATA] [--follow] [--ca PEM] [-i]
//! ```
//!
//! Prints the body (with `-i`, the status line and headers first). Exits 1
//! on transport errors, 2 on usage errors.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use wireloom_blocking::client::{Agent, AgentConfig};
use wireloom_blocking::tls::ClientTlsConfig;
use wireloom_core::http::Method;

const USAGE: &str =
    "usage: fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [--follow] [--ca PEM] [-i]";

fn main() -> ExitCode {
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
                return ExitCode::SUCCESS;
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
            return ExitCode::from(2);
        }
    }
    let Some(url) = url else {
        eprintln!("fetch: no URL\n{USAGE}");
        return ExitCode::from(2);
    };
    let mut tls = ClientTlsConfig::builder();
    if let Some(ca) = &ca {
        tls = match tls.add_root_pem_file(ca) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("fetch: --ca {ca}: {e}");
                return ExitCode::from(2);
            }
        };
    }
    let tls = match tls.build() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fetch: TLS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let agent = Agent::with_config(AgentConfig {
        max_redirects: if follow { 10 } else { 0 },
        tls: Some(Arc::new(tls)),
        ..AgentConfig::default()
    });
    let method = method.unwrap_or(if data.is_some() {
        Method::POST
    } else {
        Method::GET
    });
    let mut req = agent.request(method, &url);
    for (n, v) in &headers {
        req = req.header(n, v);
    }
    if let Some(d) = data {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("Content-Type", "application/x-www-form-urlencoded");
        }
        req = req.body(d);
    }
    let mut res = match req.send() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fetch: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if include {
        let h = res.head();
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
    loop {
        match res.read_chunk() {
            Ok(Some(c)) => {
                if out.write_all(&c).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                eprintln!("fetch: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}
