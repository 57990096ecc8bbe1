//! The value of the `Date` header field, formatted at most once per second
//! per thread. The core stamps it on every response head that lacks one
//! (it reads no clock itself); adapters hand it this value.

use std::cell::RefCell;
use std::time::SystemTime;

use wireloom_core::http::{http_date, HeaderValue};

/// The `Date` value for now (IMF-fixdate), cached per thread per second.
///
/// ```
/// let d = wireloom_io::date::now();
/// assert!(d.to_str().unwrap().ends_with(" GMT"));
/// ```
pub fn now() -> HeaderValue {
    thread_local! {
        static LAST: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((s, v)) if *s == secs => v.clone(),
            _ => {
                let v = http_date(now);
                *last = Some((secs, v.clone()));
                v
            }
        }
    })
}
