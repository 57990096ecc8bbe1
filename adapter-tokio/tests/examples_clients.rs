//! The `fetch` and `send-mail` examples as a user runs them (cargo builds
//! the example binaries before running integration tests): the flags of
//! `wireloom-blocking`'s examples, against nginx and aiosmtpd. The checks
//! are the ones every adapter's client examples pass
//! (`wireloom_testkit::scenarios::cli`).

use std::path::PathBuf;

use wireloom_testkit::scenarios::cli;

/// This crate's build of example `name` (the other adapters have examples
/// of the same names).
fn example(name: &str) -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), name)
}

#[test]
fn fetch_flags() {
    cli::fetch_flags(&example("fetch"));
}

#[test]
fn send_mail_flags() {
    cli::send_mail_flags(&example("send-mail"));
}
