//! `proxy`: a streaming HTTP/1.1 reverse proxy built directly on
//! wireloom-core's two connection dialogues, with its own small event loop
//! on tokio. It is the model of "reuse the codecs": core makes every HTTP
//! decision (parsing, smuggling refusals, framing, keep-alive, timers,
//! which pooled connection may be reused, whether a failed request may be
//! retried); this crate only moves bytes and rewrites heads.
//!
//! One task per client connection runs this loop ([`conn`]):
//!
//! ```text
//!   client socket                                          upstream socket
//!   (plain or TLS:                                         (from the pool,
//!    TlsPump)                                               or connected)
//!        │ read                                                 ▲ write
//!        ▼                                                      │
//!   ServerConnection ──ServerEvent──► rewrite head ──► ClientConnection
//!   handle_input        Request        (hop-by-hop out,   send_request
//!                       Data / End      Via, X-Forwarded-  send_data / send_end
//!                       Error: core     For in)            poll_transmit ──► upstream
//!                       already queued
//!                       its 400; nothing
//!                       goes upstream
//!
//!   ServerConnection ◄── rewrite head ◄──ClientEvent── ClientConnection
//!   send_response        (hop-by-hop out,  Response     handle_input ◄── upstream read
//!   send_data / send_end  Via in)          Data / End
//!   poll_transmit ──► client               Error: 502 / 504 before the head,
//!                                          a cut connection after it
//!
//!   wait: client readable  (if the server dialogue wants input and the
//!                           upstream's write queue is under the mark)
//!         upstream readable (if a response is due and the client's write
//!                           queue is under the mark)
//!         either writable   (while bytes are queued)
//!         the earliest timer of the two dialogues (head, idle, body,
//!                           response timeouts) -> handle_timeout
//!
//!   response ended: the upstream connection goes back to the pool if core
//!   says it can (`can_pool`); a 101 turns both sockets into a tunnel.
//! ```
//!
//! Bodies stream both ways: each read is handed on as `Bytes` slices of
//! the read buffer, and a side whose write queue is above 256 KiB stops
//! the other side from being read, so memory stays flat whatever the body
//! size.

pub mod conn;
pub mod headers;
pub mod transport;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use wireloom_core::http::ServerConfig;
use wireloom_io::tls::ServerTlsConfig;

use transport::Side;
use upstream::Upstreams;

/// The proxy's settings besides the upstreams.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server dialogue's limits and timers (client side).
    pub server: ServerConfig,
    /// The `Via` values added (`Via: 1.1 <pseudonym>`).
    pub via: headers::Via,
    /// A tunnel (after a 101) closes after this long without a byte.
    pub tunnel_timeout: Duration,
    /// A client that takes no byte of what is queued for it for this long
    /// is dropped (it stopped reading: without this its connection, and
    /// its slot under `max_connections`, would be held forever).
    pub send_timeout: Duration,
    /// TLS on the listening side.
    pub tls: Option<ServerTlsConfig>,
    /// Client connections served at once; more are answered 503.
    pub max_connections: usize,
}

/// What every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// Settings.
    pub settings: Settings,
    /// The upstream servers and their pool.
    pub upstreams: Upstreams,
    active: AtomicUsize,
}

impl Shared {
    /// Settings and upstreams, shared.
    pub fn new(settings: Settings, upstreams: Upstreams) -> Arc<Shared> {
        Arc::new(Shared {
            settings,
            upstreams,
            active: AtomicUsize::new(0),
        })
    }
}

struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections on `listener` and serves each on its own task,
/// forever (accept errors such as running out of descriptors pause the
/// loop for 50 ms).
pub async fn run(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, peer): (_, SocketAddr) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let side = match &shared.settings.tls {
            None => Side::plain(tcp),
            Some(tls) => match tls.accept() {
                Ok(pump) => Side::tls(tcp, pump),
                Err(_) => continue,
            },
        };
        let n = shared.active.fetch_add(1, Ordering::Relaxed);
        let guard = Active(shared.clone());
        if n >= shared.settings.max_connections {
            tokio::spawn(async move {
                conn::refuse(side, guard.0.clone()).await;
            });
            continue;
        }
        tokio::spawn(async move {
            conn::serve(side, peer, guard.0.clone()).await;
            drop(guard);
        });
    }
}
