//! wireloom-core: the sans-IO protocol core of wireloom.
//!
//! Every protocol decision lives here (parsing, framing, keep-alive, what to
//! send next, when a timer should fire); nothing here does IO or reads a
//! clock. Adapters (`wireloom-blocking`, `wireloom-tokio`,
//! `wireloom-async-std`) only move bytes between sockets and these state
//! machines, all of which share the [`Dialogue`] shape.
//!
//! ```
//! use std::time::Instant;
//! use bytes::BytesMut;
//! use wireloom_core::Dialogue;
//! use wireloom_core::http::{BodyLength, ResponseHead, ServerConfig, ServerConnection,
//!     ServerEvent, StatusCode};
//!
//! let now = Instant::now();
//! let mut conn = ServerConnection::new(ServerConfig::default(), now);
//!
//! // Bytes from the socket go in...
//! let mut input = BytesMut::from(&b"POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"[..]);
//! conn.handle_input(now, &mut input);
//!
//! // ...events come out...
//! let mut body = Vec::new();
//! while let Some(event) = conn.poll_event() {
//!     match event {
//!         ServerEvent::Request(req) => assert_eq!(req.head.target.path(), "/echo"),
//!         ServerEvent::Data(chunk) => body.extend_from_slice(&chunk),
//!         ServerEvent::End(_trailers) => {}
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//!
//! // ...the application answers, and bytes for the socket come out.
//! conn.send_response(now, ResponseHead::new(StatusCode::OK), BodyLength::Known(body.len() as u64)).unwrap();
//! conn.send_data(body.into()).unwrap();
//! conn.send_end(now, None).unwrap();
//! let mut wire = Vec::new();
//! while let Some(bytes) = conn.poll_transmit() {
//!     wire.extend_from_slice(&bytes);
//! }
//! assert_eq!(wire, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
//! ```
//!
//! Modules:
//! - [`http`]: HTTP/1.1 messages, the zero-copy parser, body codecs, and the
//!   server and client connections.
//! - [`mime`]: MIME messages.
//! - [`smtp`]: SMTP client and server dialogues.
//! - [`ws`]: WebSocket (RFC 6455) with permessage-deflate (RFC 7692).

#![forbid(unsafe_code)]

mod dialogue;
pub mod http;
pub mod mime;
pub mod smtp;
pub mod ws;

pub use dialogue::Dialogue;

/// The code blocks of README.md, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
