//! `wireloom-conformance http`.
use std::process::ExitCode;

pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("http: not built yet");
    ExitCode::from(2)
}
