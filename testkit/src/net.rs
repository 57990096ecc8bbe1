//! Loopback plumbing: free ports, waiting for a listener, bounded polling,
//! blocking client sockets with timeouts, and scripted servers for the
//! clients' failure paths.
//!
//! ```
//! use std::time::Duration;
//! use wireloom_testkit::net;
//!
//! let (h, addr) = net::silent_server();
//! let s = net::connect(addr);
//! assert!(net::wait_until(Duration::from_secs(1), || true));
//! drop(s);
//! h.join().unwrap();
//! ```

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1 (for peers that must be
/// told their port up front).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Waits (at most 10 s) until something listens on 127.0.0.1:`port`;
/// panics otherwise.
pub fn wait_port(port: u16) {
    let ready = wait_until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ready, "nothing listens on {port}");
}

/// Polls `f` every 10 ms until it is true, for at most `limit`; whether it
/// became true.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A connected blocking client socket with 10 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A listener whose one connection is accepted and read (for at most 10 s,
/// or until the client closes) but never answered: no greeting, no
/// response, no TLS handshake. Join the handle after the client is done.
pub fn silent_server() -> (JoinHandle<()>, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("local addr");
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    (h, addr)
}

/// What keeps a [`full_listener`]'s accept queue full.
pub type FullQueue = (TcpListener, Vec<TcpStream>);

/// A listener with backlog 0 whose accept queue is filled: connecting to
/// it hangs (new SYNs are dropped), for connect timeouts. Returns its
/// address and what keeps it full (drop it to release).
pub fn full_listener() -> (SocketAddr, FullQueue) {
    let l = wireloom_io::net::listen("127.0.0.1:0".parse().unwrap(), 0).expect("listen");
    let full = l.local_addr().expect("local addr");
    let queued: Vec<TcpStream> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&full, Duration::from_millis(200)).ok())
        .collect();
    (full, (l, queued))
}
