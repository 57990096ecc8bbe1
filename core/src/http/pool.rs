//! Which idle client connection to reuse: the pool's bookkeeping, generic
//! over the key (origin) and the connection, so every adapter pools alike.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::Method;

/// Pool limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// How long a connection may sit idle before it is closed. Default 30 s.
    pub idle_timeout: Duration,
    /// Idle connections kept per key; extra ones are closed. Default 8.
    pub max_idle_per_key: usize,
    /// Idle connections kept in all. Default 128.
    pub max_idle: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            idle_timeout: Duration::from_secs(30),
            max_idle_per_key: 8,
            max_idle: 128,
        }
    }
}

/// Idle connections by key. Checkout takes the most recently used one
/// (its socket is the least likely to have been closed by the server).
///
/// ```
/// use std::time::{Duration, Instant};
/// use wireloom_core::http::pool::{Pool, PoolConfig};
/// let t0 = Instant::now();
/// let mut pool = Pool::new(PoolConfig { max_idle_per_key: 1, ..PoolConfig::default() });
/// assert!(pool.checkin("a", 1, t0).is_empty());
/// assert_eq!(pool.checkin("a", 2, t0), vec![1]); // over the per-key limit: oldest closed
/// assert_eq!(pool.checkout(&"a", t0), Some(2));
/// assert_eq!(pool.checkout(&"a", t0), None);
/// pool.checkin("b", 3, t0);
/// assert_eq!(pool.checkout(&"b", t0 + Duration::from_secs(31)), None); // expired
/// ```
#[derive(Debug)]
pub struct Pool<K, C> {
    config: PoolConfig,
    idle: HashMap<K, VecDeque<(C, Instant)>>,
    count: usize,
}

impl<K: Hash + Eq + Clone, C> Pool<K, C> {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Pool<K, C> {
        Pool {
            config,
            idle: HashMap::new(),
            count: 0,
        }
    }

    /// Idle connections held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no connection is idle.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A connection for `key` idle for less than the timeout, if any.
    /// Expired ones found on the way are dropped.
    pub fn checkout(&mut self, key: &K, now: Instant) -> Option<C> {
        let list = self.idle.get_mut(key)?;
        let mut found = None;
        while let Some((c, since)) = list.pop_back() {
            self.count -= 1;
            if now.saturating_duration_since(since) < self.config.idle_timeout {
                found = Some(c);
                break;
            }
        }
        if list.is_empty() {
            self.idle.remove(key);
        }
        found
    }

    /// Returns a reusable connection; returns the connections that must be
    /// closed to stay within the limits.
    pub fn checkin(&mut self, key: K, conn: C, now: Instant) -> Vec<C> {
        let mut evicted = self.expire(now);
        if self.config.max_idle_per_key == 0 || self.config.max_idle == 0 {
            evicted.push(conn);
            return evicted;
        }
        let list = self.idle.entry(key).or_default();
        list.push_back((conn, now));
        self.count += 1;
        while list.len() > self.config.max_idle_per_key {
            if let Some((c, _)) = list.pop_front() {
                self.count -= 1;
                evicted.push(c);
            }
        }
        while self.count > self.config.max_idle {
            // Close the globally oldest.
            let oldest = self
                .idle
                .iter()
                .filter_map(|(k, l)| l.front().map(|(_, t)| (k.clone(), *t)))
                .min_by_key(|(_, t)| *t)
                .map(|(k, _)| k);
            let Some(k) = oldest else { break };
            if let Some(l) = self.idle.get_mut(&k) {
                if let Some((c, _)) = l.pop_front() {
                    self.count -= 1;
                    evicted.push(c);
                }
                if l.is_empty() {
                    self.idle.remove(&k);
                }
            }
        }
        evicted
    }

    /// Removes and returns every connection idle past the timeout.
    pub fn expire(&mut self, now: Instant) -> Vec<C> {
        let timeout = self.config.idle_timeout;
        let mut out = Vec::new();
        self.idle.retain(|_, list| {
            while list
                .front()
                .is_some_and(|(_, t)| now.saturating_duration_since(*t) >= timeout)
            {
                if let Some((c, _)) = list.pop_front() {
                    out.push(c);
                }
            }
            !list.is_empty()
        });
        self.count -= out.len();
        out
    }

    /// When the next idle connection expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.idle
            .values()
            .filter_map(|l| l.front().map(|(_, t)| *t + self.config.idle_timeout))
            .min()
    }
}

/// How a request failed on a connection, as far as a retry is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Whether the connection came from the pool (rather than being fresh).
    pub reused: bool,
    /// Whether the request body can be sent again (none, or held in memory;
    /// not a stream already consumed).
    pub body_replayable: bool,
    /// Whether the server never began a response: the write failed, or the
    /// connection was closed or reset before any response byte.
    pub before_response: bool,
}

/// Whether a failed request is sent again on a fresh connection: once only
/// (`attempt` counts from 0), when the connection was a pooled one the
/// server may have closed while it sat idle (RFC 9112 §9.3.1), the method is
/// idempotent and the body replayable (RFC 9110 §9.2.2), and no response had
/// begun.
///
/// ```
/// use wireloom_core::http::Method;
/// use wireloom_core::http::pool::{retry_on_fresh_connection, Failure};
/// let dead = Failure { reused: true, body_replayable: true, before_response: true };
/// assert!(retry_on_fresh_connection(&Method::GET, 0, dead));
/// assert!(!retry_on_fresh_connection(&Method::GET, 1, dead)); // once only
/// assert!(!retry_on_fresh_connection(&Method::POST, 0, dead)); // not idempotent
/// ```
pub fn retry_on_fresh_connection(method: &Method, attempt: u32, failure: Failure) -> bool {
    attempt == 0
        && failure.reused
        && failure.body_replayable
        && failure.before_response
        && method.is_idempotent()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_rules() {
        let dead = Failure {
            reused: true,
            body_replayable: true,
            before_response: true,
        };
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(retry_on_fresh_connection(&m, 0, dead), "{m}");
        }
        assert!(!retry_on_fresh_connection(&Method::POST, 0, dead));
        assert!(!retry_on_fresh_connection(&Method::PATCH, 0, dead));
        assert!(!retry_on_fresh_connection(&Method::GET, 1, dead));
        // A fresh connection that fails is a real failure.
        let fresh = Failure {
            reused: false,
            ..dead
        };
        assert!(!retry_on_fresh_connection(&Method::GET, 0, fresh));
        // A streamed body cannot be sent twice.
        let streamed = Failure {
            body_replayable: false,
            ..dead
        };
        assert!(!retry_on_fresh_connection(&Method::PUT, 0, streamed));
        // Once a response began, the server acted on the request.
        let answered = Failure {
            before_response: false,
            ..dead
        };
        assert!(!retry_on_fresh_connection(&Method::GET, 0, answered));
    }

    #[test]
    fn per_key_limit_keeps_the_newest_and_expiry() {
        // The origin of the test's simulated time; the pool itself only
        // ever sees the instants it is given.
        let t0 = Instant::now();
        let mut pool = Pool::new(PoolConfig {
            max_idle_per_key: 2,
            max_idle: 3,
            idle_timeout: Duration::from_secs(10),
        });
        assert!(pool.checkin("a", 1, t0).is_empty());
        assert!(pool.checkin("a", 2, t0).is_empty());
        assert_eq!(pool.checkin("a", 3, t0), vec![1]);
        assert!(pool.checkin("b", 4, t0 + Duration::from_secs(1)).is_empty());
        // Over the global limit: the globally oldest goes.
        assert_eq!(pool.checkin("c", 5, t0 + Duration::from_secs(2)), vec![2]);
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(pool.expire(t0 + Duration::from_secs(10)), vec![3]);
        assert_eq!(pool.checkout(&"b", t0 + Duration::from_secs(5)), Some(4));
        assert_eq!(pool.checkout(&"c", t0 + Duration::from_secs(12)), None);
        assert!(pool.is_empty());
    }
}
