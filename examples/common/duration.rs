//! The duration flags of the example programs (`--read-timeout 2s`),
//! written once and included with `#[path]` by each program that has them
//! (`microservices`, `proxy`).

use std::time::Duration;

/// `250ms`, `5s`, `2m`, or plain seconds. A value too large for a
/// [`Duration`] is an error, not a panic.
pub fn duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unit must be ms, s or m: {s}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration out of range: {s}"))
}
