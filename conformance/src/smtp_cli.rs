//! `wireloom-conformance smtp-server` and `smtp-reply`.
use std::process::ExitCode;

pub fn run_server(_args: &[String]) -> ExitCode {
    eprintln!("smtp-server: not built yet");
    ExitCode::from(2)
}

pub fn run_reply(_args: &[String]) -> ExitCode {
    eprintln!("smtp-reply: not built yet");
    ExitCode::from(2)
}
