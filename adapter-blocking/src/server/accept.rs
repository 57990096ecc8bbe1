//! The accept loops and the worker pool: each accept loop hands
//! connections to a bounded queue (503 over the limit); each worker takes
//! one at a time and serves it ([`super::conn::serve_connection`]).

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::Duration;

use wireloom_core::http::ServerConfig;
use wireloom_core::Dialogue;
use wireloom_io::http::refused_connection;

use super::builder::Shared;
use super::conn::{serve_connection, POLL};

/// Accepts on `l` until shutdown; connections over the limit, or that no
/// worker queue slot can take, are refused.
pub(super) fn accept_loop(shared: &Shared, l: &TcpListener, tx: &SyncSender<TcpStream>) {
    loop {
        let (stream, peer) = match l.accept() {
            Ok((s, peer)) => (s, peer),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
                // EMFILE and friends: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        if shared.active.fetch_add(1, Ordering::SeqCst) >= shared.max_connections {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            wireloom_io::trace::conn_refused(Some(peer));
            refuse(stream, &shared.config);
            continue;
        }
        match tx.try_send(stream) {
            Ok(()) => {}
            Err(TrySendError::Full(s)) | Err(TrySendError::Disconnected(s)) => {
                shared.active.fetch_sub(1, Ordering::SeqCst);
                wireloom_io::trace::conn_refused(Some(peer));
                refuse(s, &shared.config);
            }
        }
    }
}

/// Core's 503 for a connection over the limit, written briefly.
fn refuse(mut s: TcpStream, config: &ServerConfig) {
    let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
    let mut conn = refused_connection(config);
    while let Some(b) = conn.poll_transmit() {
        if s.write_all(&b).is_err() {
            return;
        }
    }
}

/// One worker thread: serves queued connections one at a time until
/// shutdown.
pub(super) fn worker(shared: &Shared, rx: &Mutex<Receiver<TcpStream>>) {
    loop {
        let next = {
            let Ok(guard) = rx.lock() else { return };
            guard.recv_timeout(POLL)
        };
        match next {
            Ok(stream) => {
                serve_connection(shared, stream);
                shared.active.fetch_sub(1, Ordering::SeqCst);
            }
            Err(RecvTimeoutError::Timeout) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
