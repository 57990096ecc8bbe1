//! Which idle client connection to reuse: the pool's bookkeeping, generic
//! over the key (origin) and the connection, so every adapter pools alike.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

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
