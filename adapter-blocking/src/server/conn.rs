//! One connection on a worker thread: the socket (TLS through the
//! acceptor) under the generic [`Driver`], and the loop on
//! [`Driver::advance`]: core's events in, the handler called for each
//! request ([`dispatch`]), the batched answers written only when the
//! connection needs new input.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::{ServerConnection, ServerEvent};
use wireloom_core::Dialogue;

use super::api::BodySource;
use super::builder::Shared;
use super::dispatch::dispatch;
use crate::driver::{Driver, Progress, ReadOutcome, Socket};
use wireloom_io::trace;

/// How often a worker waiting on an idle connection (or a request body)
/// looks at the shutdown flag and refreshes the `Date`.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// The transport a connection runs on.
pub(super) type ConnDriver = Driver<Box<dyn Socket>>;

/// Serves one accepted connection to its end.
pub(super) fn serve_connection(shared: &Shared, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().ok();
    let sock: Box<dyn Socket> = match &shared.acceptor {
        Some(acc) => match acc(tcp) {
            Ok(s) => s,
            Err(e) => return trace::tls_failed(peer, &e),
        },
        None => Box::new(tcp),
    };
    trace::conn_accepted(peer, sock.is_tls(), sock.server_name());
    let mut drv = Driver::new(sock);
    let _ = drv.sock.set_write_timeout(Some(shared.write_timeout));
    let graceful = drive_connection(shared, &mut drv, peer);
    // Counted before the socket closes, so a client that has seen the close
    // also sees this connection's batches in `ServerHandle::write_batches`.
    shared
        .write_batches
        .fetch_add(drv.write_batches(), Ordering::SeqCst);
    if graceful {
        let _ = drv.sock.shutdown_write();
    }
}

/// The connection loop: [`Driver::advance`] writes the batched answers only
/// when the connection needs new input, so pipelined requests already read
/// are all answered before one vectored write. True when the connection
/// ended cleanly (closed with everything written): the caller shuts the
/// socket down; false to just drop it.
fn drive_connection(shared: &Shared, drv: &mut ConnDriver, peer: Option<SocketAddr>) -> bool {
    let mut conn = ServerConnection::new(shared.config.clone(), Instant::now());
    let graceful = drive_loop(shared, drv, &mut conn, peer);
    trace::conn_closed(peer, conn.close_reason());
    graceful
}

/// [`drive_connection`]'s loop on `conn`.
fn drive_loop(
    shared: &Shared,
    drv: &mut ConnDriver,
    conn: &mut ServerConnection,
    peer: Option<SocketAddr>,
) -> bool {
    loop {
        if shared.shutdown.load(Ordering::Relaxed) {
            conn.close_after_response();
        }
        // Core may answer what it reads (or its head timer) with its own
        // error response: hand it the current Date first.
        conn.set_date(wireloom_io::date::now());
        match drv.advance(conn, Some(POLL)) {
            Err(e) => {
                trace::transport_failed(peer, &e);
                return false;
            }
            Ok(Progress::Closed) => return true,
            Ok(Progress::Event(ServerEvent::Request(req))) => {
                if !dispatch(shared, conn, drv, req, peer) {
                    return false;
                }
            }
            Ok(Progress::Event(ServerEvent::Error(e))) => trace::protocol_error(peer, e.kind()),
            Ok(Progress::Event(_)) => {}
            // Nothing can arrive any more and nothing is pending.
            Ok(Progress::Read(ReadOutcome::Eof))
                if !conn.is_closed() && conn.poll_timeout().is_none() =>
            {
                return false;
            }
            // Connections wait for a worker: free this one if it is an
            // idle keep-alive connection.
            Ok(Progress::Read(ReadOutcome::Idle))
                if shared.active.load(Ordering::Relaxed) > shared.threads =>
            {
                conn.close_if_idle();
            }
            Ok(Progress::Read(_)) => {}
        }
    }
}

/// The connection, seen as a body source by the handler.
pub(super) struct ConnBody<'c> {
    conn: &'c mut ServerConnection,
    drv: &'c mut ConnDriver,
    accepted: bool,
    ended: bool,
}

impl<'c> ConnBody<'c> {
    /// The body of the request just read from `conn` (`has_body` false:
    /// ended already).
    pub(super) fn new(
        conn: &'c mut ServerConnection,
        drv: &'c mut ConnDriver,
        has_body: bool,
    ) -> ConnBody<'c> {
        ConnBody {
            conn,
            drv,
            accepted: false,
            ended: !has_body,
        }
    }
}

impl BodySource for ConnBody<'_> {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.ended {
            return Ok(None);
        }
        if !self.accepted {
            self.accepted = true;
            self.conn.accept_body(Instant::now());
        }
        loop {
            // Answers batched so far (and a 100 Continue) go out before the
            // driver blocks on a read for the body. A read may end in core's
            // own 400/408/413: keep its Date current (waking every POLL).
            self.conn.set_date(wireloom_io::date::now());
            match self.drv.advance(self.conn, Some(POLL))? {
                Progress::Event(ServerEvent::Data(b)) => return Ok(Some(b)),
                Progress::Event(ServerEvent::End(_)) => {
                    self.ended = true;
                    return Ok(None);
                }
                Progress::Event(ServerEvent::Error(e)) => {
                    self.ended = true;
                    // Send the answer core queued (408, 400, 413) before
                    // the handler's own response is refused.
                    let _ = self.drv.flush(self.conn);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                Progress::Event(_) | Progress::Read(_) => {}
                Progress::Closed => {
                    self.ended = true;
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    }
}
