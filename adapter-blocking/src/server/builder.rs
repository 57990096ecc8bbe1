//! The builder, the bound [`Server`] and the running [`ServerHandle`]:
//! listeners, the worker pool's size, limits, routes, middleware, error
//! pages and TLS, then [`Server::spawn`] starts the accept loops and the
//! workers ([`super::accept`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wireloom_core::http::ServerConfig;
use wireloom_io::http::{ErrorPages, ServerOptions};

use super::accept::{accept_loop, worker};
use super::api::{Acceptor, Body, BoxHandler, Handler, Middleware, Response};
#[cfg(doc)]
use crate::driver::Driver;
use crate::router::Router;

/// What every accept loop and worker of one server shares.
pub(super) struct Shared {
    pub(super) config: ServerConfig,
    pub(super) router: Router<BoxHandler>,
    pub(super) middleware: Vec<Arc<dyn Middleware>>,
    pub(super) error_pages: ErrorPages<Body>,
    pub(super) acceptor: Option<Acceptor>,
    pub(super) write_timeout: Duration,
    pub(super) shutdown: AtomicBool,
    pub(super) active: AtomicUsize,
    pub(super) max_connections: usize,
    /// Worker threads: more active connections than this means some wait.
    pub(super) threads: usize,
    /// Write batches of the connections that have ended.
    pub(super) write_batches: AtomicU64,
}

/// Configures a [`Server`].
pub struct ServerBuilder {
    opts: ServerOptions<BoxHandler, Arc<dyn Middleware>, Body>,
    threads: usize,
    acceptor: Option<Acceptor>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServerBuilder {
            opts: ServerOptions::new(1024),
            threads: (cores * 8).max(16),
            acceptor: None,
        }
    }
}

impl ServerBuilder {
    wireloom_io::server_builder_methods!(opts);

    /// Worker threads: the number of connections served at once (default
    /// 8 per core, at least 16). While connections wait for a worker, idle
    /// keep-alive connections are closed to make room.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Connections accepted at once, served or queued (default 1024); more
    /// are answered 503 and closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.opts.max_connections = n.max(1);
        self
    }

    /// Wraps each accepted connection (TLS): see [`crate::tls`].
    pub fn acceptor(mut self, acceptor: Acceptor) -> Self {
        self.acceptor = Some(acceptor);
        self
    }

    /// Binds the listeners.
    pub fn build(self) -> io::Result<Server> {
        let listeners = self.opts.listen()?;
        let o = self.opts;
        Ok(Server {
            listeners,
            threads: self.threads,
            shared: Arc::new(Shared {
                config: o.config,
                router: o.router,
                middleware: o.middleware,
                error_pages: o.pages,
                acceptor: self.acceptor,
                write_timeout: o.write_timeout,
                shutdown: AtomicBool::new(false),
                active: AtomicUsize::new(0),
                max_connections: o.max_connections,
                threads: self.threads,
                write_batches: AtomicU64::new(0),
            }),
        })
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listeners: Vec<TcpListener>,
    threads: usize,
    shared: Arc<Shared>,
}

/// A running server; [`ServerHandle::shutdown`] stops it gracefully.
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Boxes a closure (or any handler) for a router.
    pub fn handler(h: impl Handler) -> BoxHandler {
        Arc::new(h)
    }

    /// The addresses listened on (with the real port when bound to port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until the process ends.
    pub fn run(self) -> io::Result<()> {
        let handle = self.spawn()?;
        for a in handle.acceptors {
            let _ = a.join();
        }
        Ok(())
    }

    /// Serves on background threads.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let addrs = self.local_addrs();
        let (tx, rx) = sync_channel::<TcpStream>(self.shared.max_connections);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::new();
        for i in 0..self.threads {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(&self.shared);
            workers.push(
                std::thread::Builder::new()
                    .name(format!("wireloom-worker-{i}"))
                    .spawn(move || worker(&shared, &rx))?,
            );
        }
        let mut acceptors = Vec::new();
        for l in self.listeners {
            let tx = tx.clone();
            let shared = Arc::clone(&self.shared);
            acceptors.push(
                std::thread::Builder::new()
                    .name("wireloom-accept".into())
                    .spawn(move || accept_loop(&shared, &l, &tx))?,
            );
        }
        Ok(ServerHandle {
            addrs,
            shared: self.shared,
            acceptors,
            workers,
        })
    }
}

impl ServerHandle {
    /// The addresses listened on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Connections being served or queued now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Write batches handed to the sockets by the connections that have
    /// ended: each batch is everything the connection had to send when it
    /// flushed, in vectored writes (see [`Driver::write_batches`]; pipelined
    /// requests read together are answered in one batch). Counted when a
    /// connection ends, before its socket closes.
    pub fn write_batches(&self) -> u64 {
        self.shared.write_batches.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets in-flight requests finish (their responses
    /// carry `Connection: close`), closes idle connections, and waits for
    /// the workers.
    pub fn shutdown(self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for a in &self.addrs {
            // Wake the blocking accept.
            let _ = TcpStream::connect_timeout(a, Duration::from_millis(200));
        }
        for a in self.acceptors {
            let _ = a.join();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}
