//! The `send-mail` example's command line, message and report, shared by
//! every adapter's `send-mail` (included with `#[path]`), so the flags and
//! the output are the same everywhere (parsed with clap: `--help`,
//! `--version`, exit 2 on bad flags):
//!
//! ```text
//! send-mail --server HOST:PORT [--tls | --starttls] [--ca PEM] [--user U --password P]
//!     --from ADDR --to ADDR... [--cc ADDR]... [--subject S] [--text T] [--html H]
//!     [--attach FILE]...
//! ```

use std::process::ExitCode;
use std::time::SystemTime;

use clap::Parser;
use wireloom_core::http::file::content_type;
use wireloom_core::mime::Message;
use wireloom_io::smtp::{
    Credentials, Delivery, Error, FromSettings, RecipientResult, Security, SmtpClientBuilder,
    StartTls,
};

/// Sends one email. Prints one line per recipient (`accepted ADDR: REPLY`
/// or `refused ADDR: REPLY`), then the server's final reply. Exit status:
/// 0 when every recipient accepted the message, 1 when the message was not
/// sent or a recipient refused it, 2 on bad arguments.
#[derive(Parser)]
#[command(
    name = "send-mail",
    bin_name = "send-mail",
    version,
    args_override_self = true
)]
pub struct Args {
    /// The SMTP server.
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// Implicit TLS (port 465 style).
    #[arg(long, conflicts_with = "starttls")]
    tls: bool,
    /// STARTTLS required [default: STARTTLS when offered, else plain text].
    #[arg(long)]
    starttls: bool,
    /// Trust this CA (PEM) instead of the webpki roots.
    #[arg(long, value_name = "PEM")]
    ca: Option<String>,
    /// AUTH as this user (with --password).
    #[arg(long, value_name = "U", requires = "password")]
    user: Option<String>,
    /// The password of --user.
    #[arg(long, value_name = "P", requires = "user")]
    password: Option<String>,
    /// The sender.
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// Recipients: one or more addresses; repeatable.
    #[arg(long, value_name = "ADDR", required = true, num_args = 1.., action = clap::ArgAction::Append)]
    to: Vec<String>,
    /// Copy recipients; repeatable.
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// The subject.
    #[arg(long, value_name = "S")]
    subject: Option<String>,
    /// A plain-text body.
    #[arg(long, value_name = "T")]
    text: Option<String>,
    /// An HTML body (with --text: multipart/alternative).
    #[arg(long, value_name = "H")]
    html: Option<String>,
    /// Attach a file (its content type from its extension); repeatable.
    #[arg(long, value_name = "FILE")]
    attach: Vec<String>,
}

impl Args {
    /// The security the flags ask for.
    fn security(&self) -> Security {
        if self.tls {
            Security::Tls
        } else if self.starttls {
            Security::StartTls(StartTls::Required)
        } else {
            Security::StartTls(StartTls::Opportunistic)
        }
    }
}

fn build_message(a: &Args) -> Result<Message, String> {
    // No Message-ID here: `send_message` adds one made from the OS random
    // source and this machine's host name.
    let mut b = Message::builder()
        .from(a.from.as_str())
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
/// code after `--help` or `--version` (0) or a usage error (2, message
/// printed).
pub fn setup() -> Result<(Args, Message), ExitCode> {
    let args = Args::try_parse().map_err(clap_exit)?;
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
    let mut builder = SmtpClientBuilder::<C>::new(args.server.clone())
        .hello_name("localhost")
        .security(args.security());
    if let Some(ca) = &args.ca {
        builder = builder.ca_pem_file(ca);
    }
    if let (Some(u), Some(p)) = (&args.user, &args.password) {
        builder = builder.credentials(Credentials::password(u.as_str(), p.as_str()));
    }
    builder
}

/// Prints clap's message (help on stdout; errors on stderr, as
/// `send-mail: MESSAGE` like the others) and gives its exit code: 0 for
/// `--help` and `--version`, 2 for usage errors.
fn clap_exit(e: clap::Error) -> ExitCode {
    if e.use_stderr() {
        let text = e.render().to_string();
        eprint!(
            "send-mail: {}",
            text.strip_prefix("error: ").unwrap_or(&text)
        );
    } else {
        let _ = e.print();
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
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
