//! The `send-mail` example's command line, message and report, shared by
//! every adapter's `send-mail` (included with `#[path]`), so the flags and
//! the output are the same everywhere:
//!
//! ```text
//! send-mail --server HOST:PORT [--tls | --starttls] [--ca PEM] [--user U --password P]
//!     --from ADDR --to ADDR... [--cc ADDR]... [--subject S] [--text T] [--html H]
//!     [--attach FILE]...
//! ```

use std::process::ExitCode;
use std::time::SystemTime;

use wireloom_core::http::file::content_type;
use wireloom_core::mime::Message;
use wireloom_io::smtp::{
    Credentials, Delivery, Error, FromSettings, RecipientResult, Security, SmtpClientBuilder,
    StartTls,
};

pub const USAGE: &str = "usage: send-mail --server HOST:PORT [--tls | --starttls] [--ca PEM] \
[--user U --password P] --from ADDR --to ADDR... [--cc ADDR]... [--subject S] [--text T] \
[--html H] [--attach FILE]...";

/// What the command line asks for.
#[derive(Default)]
pub struct Args {
    server: Option<String>,
    security: Option<Security>,
    ca: Option<String>,
    user: Option<String>,
    password: Option<String>,
    from: Option<String>,
    to: Vec<String>,
    cc: Vec<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attach: Vec<String>,
}

fn parse(argv: Vec<String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = argv.into_iter().peekable();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => a.server = Some(value()?),
            "--tls" | "--starttls" => {
                let s = if flag == "--tls" {
                    Security::Tls
                } else {
                    Security::StartTls(StartTls::Required)
                };
                if a.security.replace(s).is_some() {
                    return Err("--tls and --starttls exclude each other".into());
                }
            }
            "--ca" => a.ca = Some(value()?),
            "--user" => a.user = Some(value()?),
            "--password" => a.password = Some(value()?),
            "--from" => a.from = Some(value()?),
            "--to" => {
                a.to.push(value()?);
                while let Some(more) = it.next_if(|v| !v.starts_with("--")) {
                    a.to.push(more);
                }
            }
            "--cc" => a.cc.push(value()?),
            "--subject" => a.subject = Some(value()?),
            "--text" => a.text = Some(value()?),
            "--html" => a.html = Some(value()?),
            "--attach" => a.attach.push(value()?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.server.is_none() || a.from.is_none() || a.to.is_empty() {
        return Err("--server, --from and --to are required".into());
    }
    if a.user.is_some() != a.password.is_some() {
        return Err("--user and --password go together".into());
    }
    Ok(Some(a))
}

fn build_message(a: &Args) -> Result<Message, String> {
    // No Message-ID here: `send_message` adds one made from the OS random
    // source and this machine's host name.
    let mut b = Message::builder()
        .from(a.from.as_deref().unwrap_or_default())
        .to(a.to.clone())
        .date(SystemTime::now());
    if !a.cc.is_empty() {
        b = b.cc(a.cc.clone());
    }
    if let Some(s) = &a.subject {
        b = b.subject(s.as_str());
    }
    if let Some(t) = &a.text {
        b = b.text(t.as_str());
    }
    if let Some(h) = &a.html {
        b = b.html(h.as_str());
    }
    if a.text.is_none() && a.html.is_none() {
        b = b.text("");
    }
    for path in &a.attach {
        let data = std::fs::read(path).map_err(|e| format!("--attach {path}: {e}"))?;
        let name = std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
        b = b.attachment(&content_type(path), &name, data);
    }
    b.build().map_err(|e| format!("message: {e}"))
}

fn print_recipients(recipients: &[RecipientResult]) {
    for r in recipients {
        let verdict = if r.accepted() { "accepted" } else { "refused" };
        println!("{verdict} {}: {}", r.address, r.reply);
    }
}

/// Parses the process arguments and builds the message; `Err` is the exit
/// code after `--help` (0) or a usage error (2, message printed).
pub fn setup() -> Result<(Args, Message), ExitCode> {
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return Err(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("send-mail: {e}\n{USAGE}");
            return Err(ExitCode::from(2));
        }
    };
    match build_message(&args) {
        Ok(m) => Ok((args, m)),
        Err(e) => {
            eprintln!("send-mail: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// The client builder the flags describe (any adapter's client type).
pub fn builder<C: FromSettings>(args: &Args) -> SmtpClientBuilder<C> {
    let mut builder = SmtpClientBuilder::<C>::new(args.server.clone().unwrap_or_default())
        .hello_name("localhost")
        .security(
            args.security
                .unwrap_or(Security::StartTls(StartTls::Opportunistic)),
        );
    if let Some(ca) = &args.ca {
        builder = builder.ca_pem_file(ca);
    }
    if let (Some(u), Some(p)) = (&args.user, &args.password) {
        builder = builder.credentials(Credentials::password(u.as_str(), p.as_str()));
    }
    builder
}

/// Prints the outcome and gives the exit code.
pub fn report(result: Result<Delivery, Error>) -> ExitCode {
    match result {
        Ok(delivery) => {
            print_recipients(&delivery.recipients);
            println!("sent: {}", delivery.reply);
            if delivery.recipients.iter().all(RecipientResult::accepted) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(Error::Rejected(failure)) => {
            print_recipients(&failure.recipients);
            eprintln!("send-mail: {}", Error::Rejected(failure));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("send-mail: {e}");
            ExitCode::FAILURE
        }
    }
}
