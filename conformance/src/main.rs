//! `wireloom-conformance`: point it at raw bytes to see what wireloom makes of
//! them. Run with `--help` for the subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod http_cli;
mod mail_cli;
mod smtp_cli;

/// Show what wireloom's sans-IO core makes of raw bytes.
#[derive(Parser)]
#[command(
    name = "wireloom-conformance",
    version,
    args_override_self = true,
    arg_required_else_help = true,
    after_help = "Run `wireloom-conformance <SUBCOMMAND> --help` for the flags of one subcommand."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse raw HTTP/1.1 bytes and print one JSON object per event.
    Http(http_cli::Args),
    /// Run wireloom's SMTP server dialogue on stdin/stdout.
    SmtpServer(smtp_cli::ServerArgs),
    /// Build a message from a JSON description and write its bytes.
    MailRender(mail_cli::Args),
    /// Parse SMTP replies and print each as a JSON line.
    SmtpReply(smtp_cli::ReplyArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's code), `--help` and `--version` 0.
    match Cli::parse().command {
        Command::Http(a) => http_cli::run_cli(a),
        Command::SmtpServer(a) => smtp_cli::run_server(a),
        Command::SmtpReply(a) => smtp_cli::run_reply(a),
        Command::MailRender(a) => mail_cli::run(a),
    }
}
