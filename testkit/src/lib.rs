//! Test support shared by the adapters' integration tests: finding an
//! example binary of one crate when several crates have an example of the
//! same name (`demo`, `fetch`, `send-mail`), which share
//! `target/<profile>/examples/<name>`.
//!
//! ```no_run
//! let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
//! assert!(demo.exists());
//! ```

use std::path::{Path, PathBuf};

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
