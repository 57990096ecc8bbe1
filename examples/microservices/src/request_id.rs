//! The request-id rule both servings apply in their middleware: keep the
//! caller's `X-Request-Id` when it is a sane token, otherwise make one;
//! send it back on the response and on every call to another service.

/// The field name.
pub const HEADER: &str = "X-Request-Id";

/// Longest id accepted from a caller.
pub const MAX_LEN: usize = 64;

/// The caller's id if it is 1 to 64 characters of `A-Z a-z 0-9 . _ -`,
/// else a new random one (32 hex digits).
///
/// ```
/// use wireloom_microservices::request_id::accept_or_new;
/// assert_eq!(accept_or_new(Some("abc-1")), "abc-1");
/// assert_eq!(accept_or_new(Some("bad id\u{7f}")).len(), 32);
/// assert_eq!(accept_or_new(None).len(), 32);
/// ```
pub fn accept_or_new(value: Option<&str>) -> String {
    match value {
        Some(v)
            if !v.is_empty()
                && v.len() <= MAX_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
        {
            v.to_string()
        }
        _ => wireloom_io::smtp::random_128()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    }
}
