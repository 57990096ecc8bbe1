//! The async adapters' `send-mail`, written once over
//! `wireloom_io::rt::Runtime` and included with `#[path]` by the tokio and
//! async-std examples (next to the shared command line,
//! `cli/send_mail.rs`, which it expects as the sibling module `cli`):
//! each example only picks its runtime.

use std::process::ExitCode;

use wireloom_core::mime::Message;
use wireloom_io::aio::smtp::SmtpClient;
use wireloom_io::rt::Runtime;
use wireloom_io::smtp::SmtpSettings;

use crate::cli;

/// Sends `message` as `args` ask with a client on `rt`, prints the
/// outcome; the exit code.
pub async fn send<R: Runtime>(rt: R, args: &cli::Args, message: &Message) -> ExitCode {
    let settings = match cli::builder::<SmtpSettings>(args).build() {
        Ok(s) => s,
        Err(e) => return cli::report(Err(e)),
    };
    let client = SmtpClient::with_runtime(rt, settings);
    cli::report(client.send_message(message).await)
}
