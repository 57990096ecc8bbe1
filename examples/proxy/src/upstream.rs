//! The upstream servers: round-robin choice, a failed server skipped for
//! a while, and a pool of idle keep-alive connections (core's
//! [`Pool`] decides which to reuse and when one has idled too long).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use wireloom_core::http::pool::{Pool, PoolConfig};
use wireloom_core::http::{ClientConfig, ClientConnection};

use crate::transport::Side;

/// A connection to an upstream server: the socket and the core client
/// connection that speaks HTTP on it.
#[derive(Debug)]
pub struct UpConn {
    /// Which upstream (index into the list given on the command line).
    pub index: usize,
    /// The socket.
    pub side: Side,
    /// The HTTP/1.1 client dialogue.
    pub http: ClientConnection,
}

/// Why no upstream connection could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Every server refused or failed (502).
    Refused,
    /// The last attempt timed out (504).
    TimedOut,
}

#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    /// Text for a `Host` field when the client sent none.
    host: String,
    /// Skipped until then after a failed connect.
    down_until: Mutex<Option<Instant>>,
}

/// The upstream servers and their idle connections, shared by every
/// client connection.
#[derive(Debug)]
pub struct Upstreams {
    servers: Vec<Server>,
    next: AtomicUsize,
    pool: Mutex<Pool<usize, Box<UpConn>>>,
    client: ClientConfig,
    connect_timeout: Duration,
    retry_after: Duration,
}

impl Upstreams {
    /// The servers at `addrs`, tried in turn.
    pub fn new(
        addrs: Vec<SocketAddr>,
        client: ClientConfig,
        pool: PoolConfig,
        connect_timeout: Duration,
        retry_after: Duration,
    ) -> Upstreams {
        Upstreams {
            servers: addrs
                .into_iter()
                .map(|addr| Server {
                    addr,
                    host: addr.to_string(),
                    down_until: Mutex::new(None),
                })
                .collect(),
            next: AtomicUsize::new(0),
            pool: Mutex::new(Pool::new(pool)),
            client,
            connect_timeout,
            retry_after,
        }
    }

    /// The `Host` value for a request that has none, to upstream `index`.
    pub fn host(&self, index: usize) -> &str {
        &self.servers[index].host
    }

    /// The next server in turn that is not marked down, preferring an
    /// idle pooled connection to it; a server that fails to connect is
    /// marked down for `retry_after` and the next one is tried. When all
    /// are down, each is tried once anyway (one may be back). Returns the
    /// connection and whether it was reused.
    pub async fn acquire(&self, now: Instant) -> Result<(Box<UpConn>, bool), ConnectFailure> {
        let n = self.servers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut failure = ConnectFailure::Refused;
        for pass in 0..2 {
            let mut tried = false;
            for k in 0..n {
                let i = (start + k) % n;
                let down = self.servers[i]
                    .down_until
                    .lock()
                    .expect("lock")
                    .is_some_and(|t| t > now);
                if down && pass == 0 {
                    continue;
                }
                tried = true;
                if let Some(c) = self.checkout(i, now) {
                    return Ok((c, true));
                }
                match self.connect(i).await {
                    Ok(c) => return Ok((c, false)),
                    Err(e) => {
                        failure = e;
                        *self.servers[i].down_until.lock().expect("lock") =
                            Some(Instant::now() + self.retry_after);
                    }
                }
            }
            if tried {
                break;
            }
        }
        Err(failure)
    }

    /// A fresh connection to server `index` (never from the pool: for a
    /// retry after a pooled one turned out dead).
    pub async fn connect(&self, index: usize) -> Result<Box<UpConn>, ConnectFailure> {
        let addr = self.servers[index].addr;
        match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                *self.servers[index].down_until.lock().expect("lock") = None;
                Ok(Box::new(UpConn {
                    index,
                    side: Side::plain(tcp),
                    http: ClientConnection::new(self.client.clone()),
                }))
            }
            Ok(Err(_)) => Err(ConnectFailure::Refused),
            Err(_) => Err(ConnectFailure::TimedOut),
        }
    }

    fn checkout(&self, index: usize, now: Instant) -> Option<Box<UpConn>> {
        loop {
            let c = self.pool.lock().expect("lock").checkout(&index, now)?;
            if c.side.idle_and_open() {
                return Some(c);
            }
        }
    }

    /// Gives back a connection whose exchange ended: pooled if core says
    /// it may carry another request, closed otherwise.
    pub fn release(&self, c: Box<UpConn>, now: Instant) {
        if !c.http.can_pool(&c.side.buf) || c.side.pending() > 0 || c.side.is_eof() {
            return;
        }
        let evicted = self.pool.lock().expect("lock").checkin(c.index, c, now);
        drop(evicted);
    }
}

/// Resolves `HOST:PORT` (the first address).
pub fn resolve(s: &str) -> io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{s}: no address")))
}
