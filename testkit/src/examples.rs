//! An adapter's example binaries, as a user runs them: finding this
//! crate's build of an example when several crates have examples of the
//! same name (`demo`, `fetch`, `send-mail` share
//! `target/<profile>/examples/<name>`), starting a server example on an
//! ephemeral port, and running a client example with a time limit.
//!
//! ```no_run
//! use wireloom_testkit::examples::{example_binary, run_example, serve};
//!
//! let demo = example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
//! let (_demo, url) = serve(&demo, &["--threads", "2"]);
//! let fetch = example_binary(env!("CARGO_MANIFEST_DIR"), "fetch");
//! let (code, out, _err) = run_example(&fetch, &[&format!("{url}/plaintext")]);
//! assert_eq!((code, out.as_str()), (Some(0), "Hello, World!"));
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{first_line, run, ChildGuard};

/// The newest build of example `name` of the crate at `manifest_dir`, found
/// through the dep-info files cargo writes next to the hashed binaries
/// (`examples/<name>-<hash>.d` names the example's source file). Call it
/// from an integration test: cargo builds a crate's examples before its
/// integration tests.
pub fn example_binary(manifest_dir: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples");
    let manifest = Path::new(manifest_dir);
    let abs = manifest
        .join(format!("examples/{name}.rs"))
        .display()
        .to_string();
    let rel = format!(
        "{}/examples/{name}.rs",
        manifest.file_name().unwrap_or_default().to_string_lossy()
    );
    // Hashed builds spell `-` in the name as `_`.
    let prefix = format!("{}-", name.replace('-', "_"));
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            let file = p.file_name().unwrap_or_default().to_string_lossy();
            file.starts_with(&prefix) && file.ends_with(".d")
        })
        .filter(|d| {
            std::fs::read_to_string(d)
                .is_ok_and(|t| t.split_whitespace().any(|w| w == rel || w == abs))
        })
        .filter_map(|d| {
            let bin = d.with_extension("");
            let t = std::fs::metadata(&bin).ok()?.modified().ok()?;
            Some((t, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "example {name} of {} is not built in {}",
            manifest.display(),
            dir.display()
        ),
    }
}

/// Starts the server example `bin` with `--addr 127.0.0.1:0` and `args`
/// (quiet: `WIRELOOM_QUIET=1`), waits (at most 20 s) for the line where it
/// prints its URL, and returns the running process and that URL without a
/// trailing slash (`http://127.0.0.1:PORT`).
pub fn serve(bin: &Path, args: &[&str]) -> (ChildGuard, String) {
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("WIRELOOM_QUIET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let line = first_line(stdout, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{} did not print its address", bin.display()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap_or_else(|| panic!("{} prints its URL: {line:?}", bin.display()))
        .trim_end_matches('/')
        .to_string();
    (guard, url)
}

/// Runs the example `bin` with `args` to completion (killed after 60 s):
/// its exit code, stdout and stderr.
pub fn run_example(bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = run(Command::new(bin).args(args), Duration::from_secs(60));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
