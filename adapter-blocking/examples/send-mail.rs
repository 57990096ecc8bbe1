//! Sends one email with the blocking SMTP client and the core MIME builder.
//!
//! ```text
//! cargo run -p wireloom-blocking --example send-mail -- --server HOST:PORT
//!     [--tls | --starttls] [--ca PEM] [--user U --password P]
//!     --from ADDR --to ADDR... [--cc ADDR]... [--subject S] [--text T]
//!     [--html H] [--attach FILE]...
//! ```
//!
//! `--tls`: implicit TLS (port 465 style); `--starttls`: STARTTLS required;
//! neither: STARTTLS when the server offers it, plaintext otherwise.
//! `--ca PEM` trusts that CA instead of the webpki roots. `--to` takes one
//! or more addresses and may be repeated; `--cc` and `--attach` may be
//! repeated. An attachment's content type comes from its extension.
//!
//! Prints one line per recipient (`accepted ADDR: REPLY` or
//! `refused ADDR: REPLY`) and then the server's final reply. Exit status:
//! 0 when every recipient accepted the message, 1 when the message was not
//! sent or a recipient refused it, 2 on bad arguments.
//!
//! The command line is shared with the async adapters' `send-mail`
//! (`cli/send_mail.rs`).

#[path = "cli/send_mail.rs"]
mod cli;

use std::process::ExitCode;

use wireloom_blocking::smtp::SmtpClient;

fn main() -> ExitCode {
    let (args, message) = match cli::setup() {
        Ok(v) => v,
        Err(code) => return code,
    };
    let result = cli::builder::<SmtpClient>(&args)
        .build()
        .and_then(|client| client.send_message(&message));
    cli::report(result)
}
