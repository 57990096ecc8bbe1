//! The example programs' command lines (clap) as a user runs them: `--help`,
//! `--version`, every flag the README documents, bad flags (exit 2), the
//! demo's access line and `RUST_LOG`, and `fetch`'s progress bar on a
//! terminal only (`wireloom_testkit::scenarios::flags`, the same checks
//! for every adapter).

use std::path::PathBuf;

use wireloom_testkit::scenarios::flags;

/// This crate's build of example `name` (the other adapters have examples
/// of the same names).
fn example(name: &str) -> PathBuf {
    wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), name)
}

#[test]
fn demo_flags() {
    flags::demo(&example("demo"), DEMO_EXTRA);
}

#[test]
fn fetch_flags_and_progress() {
    flags::fetch(&example("fetch"), &example("demo"));
}

#[test]
fn send_mail_flags() {
    flags::send_mail(&example("send-mail"));
}

/// The demo flags of this adapter's own.
const DEMO_EXTRA: &[&str] = &["--executor", "smol", "--executor", "async-std"];
