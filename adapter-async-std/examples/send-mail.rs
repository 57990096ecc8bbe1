//! Sends one email with the async SMTP client on smol and the core MIME
//! builder. The same flags and output as `wireloom-blocking`'s `send-mail`.
//!
//! ```text
//! cargo run -p wireloom-async-std --example send-mail -- --server HOST:PORT
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
//! The client runs on smol's global executor (the default
//! [`AsyncRuntime`]). The command line is every adapter's
//! (`adapter-blocking/examples/cli/send_mail.rs`), the sending the async
//! adapters' (`cli/async_send_mail.rs` there): this file picks the
//! runtime.

#[path = "../../adapter-blocking/examples/cli/send_mail.rs"]
mod cli;

#[path = "../../adapter-blocking/examples/cli/async_send_mail.rs"]
mod app;

use std::process::ExitCode;

use wireloom_async_std::AsyncRuntime;

fn main() -> ExitCode {
    let rt = AsyncRuntime::default();
    app::main(rt.clone(), |run| Ok(rt.block_on(run)))
}
