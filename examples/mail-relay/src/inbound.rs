//! SMTP in: one thread per connection runs core's server dialogue
//! ([`wireloom_core::smtp::server::Server`]) through wireloom-blocking's
//! generic [`Driver`]. Core decides every reply (limits: 552 over
//! `--max-size`, 452 over `--max-recipients`; strict DATA: only
//! `CRLF.CRLF` ends it, bare CR/LF refused with 554, dot-unstuffing); this
//! module answers the questions core asks (AUTH credentials, MAIL, RCPT,
//! end of data) and streams the data into the spool.
//!
//! ```text
//! accept ─> 220 ─> EHLO ─> [STARTTLS: TLS handshake, EHLO] ─> [AUTH: users file]
//!   MAIL ──> accept (421 once shutting down)
//!   RCPT ──> accept
//!   DATA ──> MessageStart: temp file in SPOOL/tmp, our Received header
//!            Data(bytes)... appended (never the whole message in memory)
//!            MessageEnd: Spool::commit (fsync, rename, fsync dir) ──ok──> 250
//!                                                              └─err──> 451
//!   SIGTERM ─> Server::handle_shutdown: 421 at once when idle, else after
//!              the open transaction's end of data is answered
//! ```

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wireloom_blocking::driver::{Driver, Progress};
use wireloom_blocking::tls::{ServerTlsConfig, TlsStream, Transport};
use wireloom_core::mime::header::format_date;
use wireloom_core::smtp::auth::Mechanism;
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};

use crate::spool::{Incoming, Record, Spool};
use crate::Log;

/// Default for [`Listener::max_hops`].
pub const DEFAULT_MAX_HOPS: usize = 30;

/// The most octets of a header section searched for `Received:` lines.
const MAX_HEAD_SCAN: usize = 64 * 1024;

/// How often an idle connection looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(200);

/// One listener's settings.
#[derive(Clone)]
pub struct Listener {
    /// Core's server configuration (limits, STARTTLS, AUTH).
    pub config: ServerConfig,
    /// Certificate for STARTTLS, when offered.
    pub tls: Option<Arc<ServerTlsConfig>>,
    /// `user -> password` for AUTH (submission).
    pub users: Arc<HashMap<String, String>>,
    /// Most `Received:` headers a message may carry (554 5.4.6 beyond:
    /// a mail loop, RFC 5321 §6.3).
    pub max_hops: usize,
}

impl Listener {
    /// The plain (port 25 style) listener: STARTTLS offered when there is a
    /// certificate, no AUTH. Meant for trusted networks: it relays for
    /// anyone who can connect.
    pub fn relay(mut config: ServerConfig, tls: Option<Arc<ServerTlsConfig>>) -> Listener {
        config.starttls = tls.is_some();
        Listener {
            config,
            tls,
            users: Arc::new(HashMap::new()),
            max_hops: DEFAULT_MAX_HOPS,
        }
    }

    /// The submission (port 587 style) listener: STARTTLS, then AUTH PLAIN
    /// or LOGIN required before MAIL (AUTH is offered only over TLS).
    pub fn submission(
        mut config: ServerConfig,
        tls: Arc<ServerTlsConfig>,
        users: Arc<HashMap<String, String>>,
    ) -> Listener {
        config.starttls = true;
        config.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        config.auth_requires_tls = true;
        config.require_auth = true;
        config.require_tls = true;
        Listener {
            config,
            tls: Some(tls),
            users,
            max_hops: DEFAULT_MAX_HOPS,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    /// The spool.
    pub spool: Arc<Spool>,
    /// Hands each spooled message to the queue runner.
    pub queued: Sender<Record>,
    /// Set on SIGTERM / ctrl-c.
    pub shutdown: Arc<AtomicBool>,
    /// Logging.
    pub log: Log,
}

/// The open transaction.
#[derive(Default)]
struct Txn {
    from: Option<String>,
    rcpts: Vec<String>,
    incoming: Option<Incoming>,
    /// Writing the data failed: answer 451 at the end.
    failed: bool,
    /// Some data octet is above 127.
    eight_bit: bool,
    /// The start of the data, until the end of its header section (at most
    /// `MAX_HEAD_SCAN`), to count `Received:` lines.
    head: Vec<u8>,
    /// `head` holds the whole header section (or the scan limit).
    head_done: bool,
}

/// Serves one connection to the end (QUIT, EOF, timeout, error, shutdown).
pub fn serve(tcp: TcpStream, listener: &Listener, shared: &Shared) {
    let peer = tcp
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let _ = tcp.set_nodelay(true);
    // A client that stops reading cannot hold the thread for ever.
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(60)));
    let mut drv = Driver::new(Transport::Plain(tcp));
    let mut server = Server::new(listener.config.clone(), Instant::now());
    let mut txn = Txn::default();
    let mut helo = String::from("unknown");
    // Bounded: every turn either handles an event, reads (bounded by POLL
    // and core's timers: 5 min per command, 3 min per data block) or ends.
    loop {
        if shared.shutdown.load(Ordering::Relaxed) && !server.is_draining() {
            server.handle_shutdown(Instant::now());
        }
        let ev = match drv.advance(&mut server, Some(POLL)) {
            Ok(Progress::Event(ev)) => ev,
            Ok(Progress::Read(_)) => continue,
            Ok(Progress::Closed) | Err(_) => break,
        };
        let now = Instant::now();
        match ev {
            ServerEvent::Hello { domain, .. } => {
                helo = domain;
                txn = Txn::default();
            }
            ServerEvent::StartTls { .. } => {
                let Some(tls) = &listener.tls else { break };
                if drv.flush(&mut server).is_err() {
                    break;
                }
                match upgrade(drv, tls) {
                    Ok(d) => drv = d,
                    Err(e) => {
                        shared
                            .log
                            .info(format_args!("{peer}: STARTTLS failed: {e}"));
                        return;
                    }
                }
                if server.handle_tls_established(Instant::now()).is_err() {
                    break;
                }
            }
            ServerEvent::Auth { attempt, .. } => {
                let ok = listener
                    .users
                    .get(attempt.user())
                    .is_some_and(|p| attempt.verify_password(p));
                let _ = if ok {
                    server.accept(now)
                } else {
                    shared
                        .log
                        .info(format_args!("{peer}: AUTH failed for {:?}", attempt.user()));
                    server.reject(now, 535, "5.7.8 Authentication credentials invalid")
                };
            }
            ServerEvent::MailFrom { from, .. } => {
                if server.is_draining() {
                    let _ = server.reject(now, 421, "4.3.2 Service shutting down");
                } else {
                    txn = Txn {
                        from: Some(from),
                        ..Txn::default()
                    };
                    let _ = server.accept(now);
                }
            }
            ServerEvent::RcptTo { to, .. } => {
                txn.rcpts.push(to);
                let _ = server.accept(now);
            }
            ServerEvent::MessageStart => {
                txn.failed = false;
                txn.eight_bit = false;
                txn.head.clear();
                txn.head_done = false;
                txn.incoming = match shared.spool.incoming() {
                    Ok(mut inc) => {
                        let received = received_header(
                            &helo,
                            &peer,
                            &listener.config.hostname,
                            &inc.id,
                            server.is_secure(),
                            server.is_authenticated(),
                        );
                        // The client's EHLO name may be 8-bit (SMTPUTF8).
                        txn.eight_bit = !received.is_ascii();
                        txn.failed = inc.write(received.as_bytes()).is_err();
                        Some(inc)
                    }
                    Err(e) => {
                        shared
                            .log
                            .error(format_args!("cannot open spool file: {e}"));
                        txn.failed = true;
                        None
                    }
                };
            }
            ServerEvent::Data(bytes) => {
                txn.eight_bit |= !bytes.is_ascii();
                if !txn.head_done {
                    // Only the new octets (and 3 before) are searched: linear
                    // however the data is split.
                    let from = txn.head.len().saturating_sub(3);
                    let take = bytes.len().min(MAX_HEAD_SCAN - txn.head.len());
                    txn.head.extend_from_slice(&bytes[..take]);
                    txn.head_done = txn.head.len() >= MAX_HEAD_SCAN
                        || txn.head[from..].windows(4).any(|w| w == b"\r\n\r\n")
                        || txn.head.starts_with(b"\r\n");
                }
                if let Some(inc) = txn.incoming.as_mut() {
                    if let Err(e) = inc.write(&bytes) {
                        shared
                            .log
                            .error(format_args!("cannot write spool file: {e}"));
                        txn.failed = true;
                        txn.incoming = None;
                    }
                }
            }
            ServerEvent::MessageEnd { size } => {
                let hops = received_count(&txn.head);
                if hops >= listener.max_hops {
                    shared.log.info(format_args!(
                        "{peer}: refused a message with {hops} Received headers (loop?)"
                    ));
                    txn = Txn::default();
                    let _ = server.reject(now, 554, "5.4.6 Too many hops, mail loop?");
                    continue;
                }
                let incoming = txn.incoming.take();
                let stored = match (incoming, txn.failed) {
                    (Some(inc), false) => {
                        let mut record = Record::new(
                            inc.id.clone(),
                            txn.from.clone().unwrap_or_default(),
                            std::mem::take(&mut txn.rcpts),
                            false,
                        );
                        record.eight_bit = txn.eight_bit;
                        match shared.spool.commit(inc, &record) {
                            Ok(()) => Some(record),
                            Err(e) => {
                                shared.log.error(format_args!("cannot spool message: {e}"));
                                None
                            }
                        }
                    }
                    _ => None,
                };
                txn = Txn::default();
                match stored {
                    Some(record) => {
                        shared.log.info(format_args!(
                            "{peer}: queued {} from <{}> to {} recipient(s), {size} octets",
                            record.id,
                            record.from,
                            record.rcpts.len()
                        ));
                        // Durable: now the 250. The runner may be gone
                        // (shutting down): the message waits in the spool.
                        let _ = server.accept(now);
                        let _ = shared.queued.send(record);
                    }
                    None => {
                        let _ = server.reject(now, 451, "4.3.0 Cannot store message, try later");
                    }
                }
            }
            ServerEvent::MessageAborted(_) | ServerEvent::Reset => {
                txn = Txn::default();
            }
            ServerEvent::Error(e) => shared.log.info(format_args!("{peer}: {e}")),
            _ => {}
        }
    }
    let _ = drv.flush(&mut server);
    let _ = wireloom_blocking::driver::Socket::shutdown_write(&mut drv.sock);
}

/// The TLS handshake after STARTTLS's 220, on the same TCP stream. Bytes
/// the client pipelined after STARTTLS were already dropped by core.
fn upgrade(
    drv: Driver<Transport>,
    tls: &ServerTlsConfig,
) -> Result<Driver<Transport>, wireloom_blocking::tls::TlsError> {
    let Transport::Plain(tcp) = drv.sock else {
        return Err(wireloom_blocking::tls::TlsError::from_io(
            std::io::Error::other("STARTTLS twice"),
        ));
    };
    let mut stream = TlsStream::server(tcp, tls)?;
    stream.handshake(Instant::now() + tls.handshake_timeout())?;
    // SMTP frames its own end (QUIT): a missing close_notify is no
    // truncation attack.
    stream.set_accept_truncation(true);
    Ok(Driver::new(Transport::from(stream)))
}

/// `Received:` header lines in a header section (case-insensitive).
fn received_count(head: &[u8]) -> usize {
    if head.starts_with(b"\r\n") {
        return 0; // no header section
    }
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(head.len(), |p| p + 2);
    head[..end]
        .split(|&b| b == b'\n')
        .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

/// Our trace header (RFC 5321 §4.4), first line of the spooled message.
fn received_header(
    helo: &str,
    peer: &str,
    hostname: &str,
    id: &str,
    tls: bool,
    auth: bool,
) -> String {
    let with = match (tls, auth) {
        (true, true) => "ESMTPSA",
        (true, false) => "ESMTPS",
        (false, true) => "ESMTPA",
        (false, false) => "ESMTP",
    };
    let date = format_date(SystemTime::now()).unwrap_or_default();
    format!(
        "Received: from {helo} ([{peer}])\r\n\tby {hostname} (wireloom mail-relay) with {with} id {id};\r\n\t{date}\r\n"
    )
}

/// Answers a connection over the connection limit with core's
/// `421 4.3.2` greeting ([`Server::busy`]) and closes it. The write goes
/// to a fresh socket's empty send buffer, bounded by a short timeout, so
/// the accept loop never waits on a slow client.
pub fn busy(mut stream: TcpStream, listener: &Listener) {
    use std::io::Write;
    let mut server = Server::busy(listener.config.clone(), Instant::now());
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(1)));
    while let Some(b) = wireloom_core::Dialogue::poll_transmit(&mut server) {
        if stream.write_all(&b).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::received_count;

    #[test]
    fn counts_received_lines_of_the_header_section_only() {
        let m = b"Received: a\r\nRECEIVED: b\r\n\tfolded\r\nSubject: x\r\n\r\nReceived: body\r\n";
        assert_eq!(received_count(m), 2);
        assert_eq!(received_count(b"\r\nReceived: body\r\n"), 0);
        assert_eq!(received_count(b"Received: partial"), 1);
    }
}
