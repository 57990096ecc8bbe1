//! SMTP client and server dialogues (RFC 5321 and extensions), sans-IO.
//!
//! Both sides implement [`Dialogue`](crate::Dialogue): the adapter feeds
//! received bytes to `handle_input`, writes out `poll_transmit`, hands
//! `poll_event` to the application and calls `handle_timeout` when
//! `poll_timeout` has passed. Nothing here reads a clock or touches a socket.
//!
//! | file | concern |
//! |------|---------|
//! | [`reply`] | reply parser (multi-line, RFC 3463 enhanced codes, bounded) |
//! | [`command`] | command-line parser (server side) |
//! | [`extensions`] | EHLO capability parsing |
//! | [`address`] | envelope address validation (CR/LF/`<>` injection refused) |
//! | [`auth`] | SASL PLAIN, LOGIN, CRAM-MD5, XOAUTH2; redacting `Debug` |
//! | [`dot`] | streaming dot-stuffing / un-stuffing, CRLF normalisation |
//! | [`client`] | the client dialogue |
//! | [`server`] | the server dialogue |
//!
//! # Client state graph
//!
//! ```text
//!  new ──> Greeting ──220──> EHLO ──5xx──> HELO
//!                             │ 2xx         │ 2xx
//!                             v             v
//!              ┌──── STARTTLS offered and policy != None ────┐
//!              │                                             │ (not offered:
//!              v                                             │  Required => Failed)
//!          STARTTLS ──220──> [event StartTls] TLS handshake  │
//!              │ 4xx/5xx       (plaintext input discarded)   │
//!              │ (Required => Failed)    │ handle_tls_established
//!              │                         v                   │
//!              │                       EHLO again            │
//!              v                         │                   │
//!             AUTH (if credentials) <────┴───────────────────┘
//!              │ 235         (PLAIN | LOGIN 334,334 | CRAM-MD5 334 | XOAUTH2)
//!              v
//!   ┌──────> Ready ──quit()──> QUIT ──221──> Closed
//!   │          │ start_message()
//!   │          v
//!   │        MAIL ──> RCPT × n ──> DATA ──354──> body ... "." ──> 250: MessageSent
//!   │          (with PIPELINING: MAIL+RCPTs+DATA in one write)  \
//!   │          (with CHUNKING:   MAIL+RCPTs, then BDAT n ... BDAT n LAST)
//!   │                                                            \ 4xx/5xx anywhere:
//!   └──────────── RSET <──────────────────── MessageFailed <─────/
//!
//!  any state: 421 / EOF / timeout / malformed reply ──> Failed ──> Closed
//! ```
//!
//! # Server state graph
//!
//! ```text
//!  new: 220 queued
//!    │
//!    v
//!  Command ──EHLO/HELO──> (reset txn) 250 ─────────────────────────┐
//!    │ STARTTLS ──220──> [event StartTls] WaitTls (pipelined       │
//!    │                    plaintext dropped) ──handle_tls_established──> Command (fresh)
//!    │ AUTH ──334...──> [event Auth: accept 235 | reject 535]      │
//!    │ MAIL ──> [event MailFrom: accept 250 | reject] ──> txn open │
//!    │ RCPT ──> [event RcptTo: accept 250 | reject]  (needs txn: 503)
//!    │ DATA ──354──> Data: [MessageStart, Data(Bytes)...] until CRLF.CRLF only
//!    │                  │  bare CR/LF: Reject => 554 at the end | Disconnect => 521, close
//!    │                  │  over max size: 552 at the end; long line: 500 at the end
//!    │                  v
//!    │               [event MessageEnd: accept 250 | reject] ──> Command
//!    │ BDAT n [LAST] ──> exactly n octets as Data(Bytes) ──> 250 | (LAST) MessageEnd
//!    │ RSET 250 | NOOP 250 | VRFY 252 | HELP 214 | EXPN 502 | unknown 500 | syntax 501
//!    │ QUIT ──221──> Closed
//!  idle timeout / data timeout ──421──> Closed
//!  handle_shutdown ──421 4.3.2──> Closed  (at once between transactions;
//!                   an open transaction first gets its end-of-data answer)
//! ```
//!
//! While an event waits for `accept`/`reject`, the server reads no further
//! commands (pipelined input stays buffered, up to
//! [`ServerConfig::max_buffered`](server::ServerConfig::max_buffered)), so
//! pipelined commands are answered strictly in order.
//!
//! # Example: our client against our server, in memory
//!
//! ```
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use wireloom_core::Dialogue;
//! use wireloom_core::smtp::client::{Client, ClientConfig, ClientEvent, Envelope};
//! use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
//!
//! let now = Instant::now();
//! let mut server_config = ServerConfig::new("mx.example");
//! server_config.chunking = false; // use DATA, to show the dot-stuffing
//! let mut server = Server::new(server_config, now);
//! let mut client = Client::new(ClientConfig::new("client.example"), now);
//! let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
//! let mut delivered = Vec::new();
//! let mut sent = false;
//!
//! while !client.is_closed() {
//!     // Client -> server.
//!     let mut buf = BytesMut::new();
//!     while let Some(b) = client.poll_transmit() {
//!         c2s.extend_from_slice(&b);
//!         buf.extend_from_slice(&b);
//!     }
//!     server.handle_input(now, &mut buf);
//!     while let Some(event) = server.poll_event() {
//!         match event {
//!             ServerEvent::Data(bytes) => delivered.extend_from_slice(&bytes),
//!             ServerEvent::MailFrom { .. }
//!             | ServerEvent::RcptTo { .. }
//!             | ServerEvent::MessageEnd { .. } => server.accept(now).unwrap(),
//!             _ => {}
//!         }
//!     }
//!     // Server -> client.
//!     let mut buf = BytesMut::new();
//!     while let Some(b) = server.poll_transmit() {
//!         s2c.extend_from_slice(&b);
//!         buf.extend_from_slice(&b);
//!     }
//!     client.handle_input(now, &mut buf);
//!     while let Some(event) = client.poll_event() {
//!         if event == ClientEvent::Ready {
//!             if !sent {
//!                 let envelope = Envelope::new("a@example.org", ["b@example.net"]);
//!                 let body = Bytes::from_static(b"Subject: hi\n\n.leading dot\nend");
//!                 client.send_message(now, envelope, body).unwrap();
//!                 sent = true;
//!             } else {
//!                 client.quit(now).unwrap();
//!             }
//!         }
//!     }
//! }
//!
//! assert_eq!(
//!     String::from_utf8(c2s).unwrap(),
//!     "EHLO client.example\r\n\
//!      MAIL FROM:<a@example.org> SIZE=34\r\n\
//!      RCPT TO:<b@example.net>\r\n\
//!      DATA\r\n\
//!      Subject: hi\r\n\r\n..leading dot\r\nend\r\n.\r\n\
//!      QUIT\r\n"
//! );
//! assert!(String::from_utf8(s2c).unwrap().ends_with("221 2.0.0 Bye\r\n"));
//! assert_eq!(delivered, b"Subject: hi\r\n\r\n.leading dot\r\nend\r\n");
//! ```

pub mod address;
pub mod auth;
pub mod client;
pub mod command;
pub mod dot;
pub mod extensions;
pub mod reply;
pub mod server;
