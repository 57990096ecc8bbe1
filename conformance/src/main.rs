//! `wireloom-conformance`: point it at raw bytes to see what wireloom makes of
//! them. Run with `--help` for the subcommands.

use std::process::ExitCode;

mod http_cli;
mod mail_cli;
mod smtp_cli;

const USAGE: &str = "\
wireloom-conformance: show what wireloom's sans-IO core makes of raw bytes

USAGE:
    wireloom-conformance http --role server|client [--request-method METHOD]
                              [--lenient FLAG[,FLAG...]] [FILE|-]
    wireloom-conformance smtp-server [--maildir DIR] [--auth USER:PASS] [--max-size BYTES]
    wireloom-conformance mail-render SPEC.json
    wireloom-conformance smtp-reply [FILE|-]

Run `wireloom-conformance <SUBCOMMAND> --help` for the flags of one subcommand.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    match cmd.as_str() {
        "http" => http_cli::run_cli(rest),
        "smtp-server" => smtp_cli::run_server(rest),
        "smtp-reply" => smtp_cli::run_reply(rest),
        "mail-render" => mail_cli::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("wireloom-conformance: unknown subcommand `{other}`\n");
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
