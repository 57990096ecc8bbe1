//! `wireloom-conformance mail-render`.
use std::process::ExitCode;

pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("mail-render: not built yet");
    ExitCode::from(2)
}
