//! The value of the `Date` header field, formatted at most once per second
//! per thread. The core stamps it on every response head that lacks one
//! (it reads no clock itself); adapters hand it this value.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime};

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

/// The `Date` value at `now`, without reading the wall clock while the
/// value formatted last is still the right one (until the next second
/// starts): a server that already read a monotonic `now` for its timers
/// gets its `Date` for free on the hot path.
///
/// ```
/// use std::time::Instant;
/// let now = Instant::now();
/// assert_eq!(wireloom_io::date::at(now), wireloom_io::date::at(now));
/// ```
pub fn at(now: Instant) -> HeaderValue {
    thread_local! {
        static CACHE: RefCell<Option<(Instant, HeaderValue)>> = const { RefCell::new(None) };
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((until, v)) = &*cache {
            if now < *until {
                return v.clone();
            }
        }
        let wall = SystemTime::now();
        let into_second = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(Duration::ZERO, |d| {
                Duration::from_nanos(u64::from(d.subsec_nanos()))
            });
        let v = http_date(wall);
        // `now` was read a little before `wall`: the value holds until the
        // wall clock's next second, measured from `now` (so it errs early).
        let until = now + (Duration::from_secs(1) - into_second);
        *cache = Some((until, v.clone()));
        v
    })
}
