//! The async adapters' `send-mail`, written once over
//! `wireloom_io::rt::Runtime` and included with `#[path]` by the tokio and
//! async-std examples (next to the shared command line,
//! `cli/send_mail.rs`, which it expects as the sibling module `cli`):
//! each example only picks its runtime.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use wireloom_core::mime::Message;
use wireloom_io::aio::smtp::SmtpClient;
use wireloom_io::rt::Runtime;
use wireloom_io::smtp::SmtpSettings;

use crate::cli;

/// The whole program on `rt`: the command line and the message, then the
/// sending, run to completion by `block_on` (the example's way of running
/// a future on its runtime, started only once the flags are good; an
/// error starting the runtime exits 1); the exit code.
pub fn main<R: Runtime>(
    rt: R,
    block_on: impl FnOnce(Pin<Box<dyn Future<Output = ExitCode> + '_>>) -> std::io::Result<ExitCode>,
) -> ExitCode {
    match cli::setup() {
        Ok((args, message)) => block_on(Box::pin(async move { send(rt, &args, &message).await }))
            .unwrap_or_else(|e| {
                eprintln!("send-mail: {e}");
                ExitCode::FAILURE
            }),
        Err(code) => code,
    }
}

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
