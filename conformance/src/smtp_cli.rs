//! `wireloom-conformance smtp-server` and `smtp-reply`.
//!
//! `smtp-server` runs the core server dialogue on stdin/stdout so real
//! clients can drive it over a pipe (`swaks --pipe`, Python smtplib over a
//! socketpair). Every accepted message is written as one JSON line
//! `{"mail_from":..,"rcpt_to":[..],"data_base64":..}` to stderr, or, with
//! `--maildir DIR`, as `DIR/<id>.json` (the same JSON) plus `DIR/<id>.eml`
//! (the raw message).
//!
//! `smtp-reply` parses SMTP replies and prints each as a JSON line.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::BytesMut;
use serde_json::json;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::reply::{ReplyLimits, ReplyParser};
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

/// Details shown after the flags by `smtp-server --help`.
const SERVER_DETAILS: &str = "\
Runs wireloom's SMTP server dialogue on stdin/stdout. Accepted messages are
written as JSON lines {\"mail_from\",\"rcpt_to\",\"data_base64\"} to stderr, or
into DIR as <id>.json and <id>.eml. With --auth, AUTH PLAIN, LOGIN and
CRAM-MD5 are offered (over the plaintext pipe) and required before MAIL.
--max-size defaults to 10485760 (advertised as SIZE); 0 means no limit.
";

/// Details shown after the flags by `smtp-reply --help`.
const REPLY_DETAILS: &str = "\
Parses SMTP replies and prints each as a JSON line
{\"code\":250,\"enhanced\":\"2.1.0\",\"lines\":[..]}; a parse error prints
{\"error\":..} and exits 1.
";

/// `wireloom-conformance smtp-server`.
#[derive(clap::Args)]
#[command(after_help = SERVER_DETAILS)]
pub struct ServerArgs {
    /// Write each accepted message into DIR (as <id>.json and <id>.eml).
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// Offer AUTH and require it, with this user and password.
    #[arg(long, value_name = "USER:PASS", value_parser = parse_auth)]
    auth: Option<(String, String)>,
    /// The message size limit (default 10485760; 0: none).
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
}

fn parse_auth(v: &str) -> Result<(String, String), String> {
    let (u, p) = v.split_once(':').ok_or("takes USER:PASS")?;
    Ok((u.to_string(), p.to_string()))
}

/// `wireloom-conformance smtp-reply`.
#[derive(clap::Args)]
#[command(after_help = REPLY_DETAILS)]
pub struct ReplyArgs {
    /// The replies (`-` or none: standard input).
    #[arg(value_name = "FILE|-")]
    file: Option<String>,
}

/// `smtp-server`.
pub fn run_server(args: ServerArgs) -> ExitCode {
    if let Some(dir) = &args.maildir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("smtp-server: cannot create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut config = ServerConfig::new("wireloom.invalid");
    // Without --max-size the core default (10 MiB) applies; 0 lifts it.
    if let Some(max) = args.max_size {
        config.max_message_size = (max > 0).then_some(max);
    }
    config.cram_md5_nonce = Some(format!("{}.{}", std::process::id(), nanos));
    if args.auth.is_some() {
        config.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];
        config.auth_requires_tls = false;
        config.require_auth = true;
    }

    // Reader thread: stdin has no portable non-blocking read; the timer
    // runs on recv_timeout.
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let mut stdout = std::io::stdout().lock();
    let mut server = Server::new(config, Instant::now());
    let mut app = App {
        args,
        mail_from: None,
        rcpt_to: Vec::new(),
        data: Vec::new(),
        delivered: 0,
    };
    let mut input = BytesMut::new();
    let mut eof = false;
    loop {
        // Drain until quiet: events may queue more output and vice versa.
        loop {
            let mut moved = false;
            while let Some(b) = server.poll_transmit() {
                if stdout.write_all(&b).and_then(|_| stdout.flush()).is_err() {
                    return ExitCode::from(1);
                }
                moved = true;
            }
            while let Some(e) = server.poll_event() {
                app.on_event(&mut server, e);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        if server.is_closed() || eof {
            break;
        }
        let msg = match server.poll_timeout() {
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(m) => Some(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        server.handle_timeout(Instant::now());
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                }
            }
            None => rx.recv().ok(),
        };
        match msg.flatten() {
            Some(bytes) => {
                input.extend_from_slice(&bytes);
                server.handle_input(Instant::now(), &mut input);
            }
            None => {
                server.handle_eof(Instant::now());
                eof = true;
            }
        }
    }
    ExitCode::SUCCESS
}

struct App {
    args: ServerArgs,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
    delivered: u64,
}

impl App {
    fn on_event(&mut self, server: &mut Server, e: ServerEvent) {
        let now = Instant::now();
        match e {
            ServerEvent::Auth { attempt, .. } => {
                let ok = self
                    .args
                    .auth
                    .as_ref()
                    .is_some_and(|(u, p)| attempt.user() == u && attempt.verify_password(p));
                let _ = if ok {
                    server.accept(now)
                } else {
                    server.reject(now, 535, "5.7.8 Authentication credentials invalid")
                };
            }
            ServerEvent::MailFrom { from, .. } => {
                self.mail_from = Some(from);
                self.rcpt_to.clear();
                let _ = server.accept(now);
            }
            ServerEvent::RcptTo { to, .. } => {
                self.rcpt_to.push(to);
                let _ = server.accept(now);
            }
            ServerEvent::MessageStart | ServerEvent::MessageAborted(_) => self.data.clear(),
            ServerEvent::Data(b) => self.data.extend_from_slice(&b),
            ServerEvent::MessageEnd { .. } => {
                match self.deliver() {
                    Ok(()) => {
                        let _ = server.accept(now);
                    }
                    Err(err) => {
                        eprintln!("smtp-server: cannot store message: {err}");
                        let _ = server.reject(now, 451, "4.3.0 Cannot store message");
                    }
                }
                self.mail_from = None;
                self.rcpt_to.clear();
                self.data.clear();
            }
            ServerEvent::Reset => {
                self.mail_from = None;
                self.rcpt_to.clear();
                self.data.clear();
            }
            ServerEvent::Error(e) => eprintln!("smtp-server: {e}"),
            _ => {}
        }
    }

    fn deliver(&mut self) -> std::io::Result<()> {
        let line = json!({
            "mail_from": self.mail_from.clone().unwrap_or_default(),
            "rcpt_to": self.rcpt_to,
            "data_base64": B64.encode(&self.data),
        })
        .to_string();
        self.delivered += 1;
        match &self.args.maildir {
            None => {
                let mut err = std::io::stderr().lock();
                writeln!(err, "{line}")?;
                err.flush()
            }
            Some(dir) => {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let id = format!("{nanos}.{}.{}", std::process::id(), self.delivered);
                std::fs::write(dir.join(format!("{id}.eml")), &self.data)?;
                // Write the JSON last, via a rename, so readers never see a
                // partial file.
                let tmp = dir.join(format!(".{id}.json.tmp"));
                std::fs::write(&tmp, format!("{line}\n"))?;
                std::fs::rename(tmp, dir.join(format!("{id}.json")))
            }
        }
    }
}

/// `smtp-reply`.
pub fn run_reply(args: ReplyArgs) -> ExitCode {
    let mut raw = Vec::new();
    let read = match args.file.as_deref() {
        None | Some("-") => std::io::stdin().read_to_end(&mut raw).map(|_| ()),
        Some(path) => std::fs::read(path).map(|b| raw = b),
    };
    if let Err(e) = read {
        eprintln!("smtp-reply: {e}");
        return ExitCode::from(2);
    }
    let mut out = std::io::stdout().lock();
    let mut parser = ReplyParser::new(ReplyLimits::default());
    let mut buf = BytesMut::from(&raw[..]);
    loop {
        match parser.parse(&mut buf) {
            Ok(Some(r)) => {
                let v = json!({
                    "code": r.code,
                    "enhanced": r.enhanced.map(|e| e.to_string()),
                    "lines": r.lines,
                });
                let _ = writeln!(out, "{v}");
            }
            Ok(None) => {
                if buf.is_empty() && !parser.is_partial() {
                    return ExitCode::SUCCESS;
                }
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"error": "incomplete reply at end of input"})
                );
                return ExitCode::from(1);
            }
            Err(e) => {
                let _ = writeln!(out, "{}", json!({"error": e.to_string()}));
                return ExitCode::from(1);
            }
        }
    }
}
