//! WebSocket (RFC 6455) with permessage-deflate (RFC 7692), sans IO.
//!
//! - [`accept`] / [`ClientHandshake`]: the opening handshake over core's
//!   HTTP heads ([`is_upgrade_request`] spots one in a server request).
//! - [`WebSocket`]: the connection after the handshake, either [`Role`],
//!   a [`Dialogue`](crate::Dialogue) like every other connection in core.
//! - [`encode_server_frame`] + [`WebSocket::send_raw_frame`]: one frame
//!   encoded once and shared by many server connections (broadcast).
//! - The codecs underneath: [`decode_header`] / [`FrameDecoder`],
//!   [`apply_mask`], [`Utf8Validator`], the deflate negotiation.
//!
//! # State graph
//!
//! ```text
//!                    close() queued                 peer's Close
//!        ┌──────┐  ───────────────►  ┌───────────┐ ──────────────► Closed (server)
//!        │ Open │                    │ CloseSent │ ──────────────► AwaitEof (client)
//!        └──┬───┘                    └─────┬─────┘  close_timeout ► Closed (1006,
//!           │ peer's Close:                │ EOF / error          CloseTimeout)
//!           │ echo queued, Closing event   ▼
//!           ├──────────────► Closed (server: close the transport after the echo)
//!           ├──────────────► AwaitEof (client: the server closes first)
//!           │                   │ EOF, or close_timeout
//!           │                   ▼
//!           │                 Closed (clean)
//!           │ protocol error / limit: Error event, close frame 1002/1007/1009 queued
//!           │ EOF without close / dead peer: Error event, nothing sent
//!           └──────────────► Closed
//! ```
//!
//! Every path ends with exactly one [`Event::Closed`] (after an
//! [`Event::Error`] when it was not a clean close) and then
//! [`is_closed`](crate::Dialogue::is_closed) is true. Data frames are read
//! in `Open` and `CloseSent`; nothing is read after the peer's close.
//!
//! Receiving, per frame: the header is checked byte by byte as it arrives
//! ([`decode_header`]: masking per role, RSV bits only with deflate and
//! RSV1 only on a message's first frame, reserved opcodes, control frames
//! ≤ 125 bytes and never fragmented, minimal length encoding, the frame
//! limit); payload is unmasked in place, inflated in bounded steps when
//! compressed (the message limit counts inflated bytes), and text is
//! UTF-8-checked as it streams, failing on the first bad byte (1007).
//! Control frames may come between the fragments of a message.
//!
//! # Driving a WebSocket (for adapter authors)
//!
//! The connection is one state machine owned by one loop (a thread or a
//! task). Nothing else touches it: other threads/tasks that want to send
//! put commands (a message, a close, a shared broadcast frame) on a
//! channel that the loop drains; the "reader half" and "writer half" an
//! application sees are handles onto that loop, not two owners of the
//! connection.
//!
//! 1. **Handshake.** Server: on an HTTP request with
//!    [`is_upgrade_request`], call [`accept`]; on `Err(refusal)` send
//!    `refusal.response` with `refusal.body()`; on `Ok(accepted)` send
//!    `accepted.response` through the HTTP `ServerConnection` (body length
//!    `Known(0)`), wait for its `ServerEvent::Upgrade`, then create
//!    [`WebSocket::server`]`(config, accepted.negotiated.deflate, now)`.
//!    Client: [`ClientHandshake::new`]`(16 random bytes, options)`, send
//!    [`ClientHandshake::request`] with the HTTP `ClientConnection`, on the
//!    101 call [`ClientHandshake::check_response`], then
//!    [`WebSocket::client`]`(config, negotiated.deflate, 32 random bytes, now)`.
//!    In both cases the bytes left in the HTTP read buffer after the switch
//!    are the first WebSocket bytes: feed that same buffer to `handle_input`.
//! 2. **Reading.** While [`wants_input`](crate::Dialogue::wants_input),
//!    read into a `BytesMut` and call `handle_input(now, &mut buf)` (it
//!    splits off what it used; payloads are `Bytes` slices of that buffer,
//!    so reuse it with `reserve`, no copy happens). On EOF call
//!    `handle_eof`. Then drain [`poll_event`](crate::Dialogue::poll_event)
//!    to the application. `wants_input` goes false when 64 events wait,
//!    when a server received the peer's close, and once closed (a client
//!    that finished the close handshake keeps reading: it waits for the
//!    server's EOF, and discards anything else).
//! 3. **Writing.** After every `handle_*` call and every application call
//!    (`send_text`, `send_binary`, `start_message`/`continue_message`/
//!    `finish_message`, `send_ping`, `send_raw_frame`, `close`), pull
//!    [`poll_transmit`](crate::Dialogue::poll_transmit) *when the
//!    transport can take bytes* and write them in order (vectored writes
//!    are welcome; a large server payload comes as its own `Bytes`, no
//!    copy). Pull lazily: pongs and pings are handed out ahead of data
//!    frames still queued (never inside a frame), so a pong is never stuck
//!    behind a large queued write. Backpressure: stop accepting
//!    application sends while [`WebSocket::buffered_amount`] is above a
//!    high-water mark; large messages go out as frames of at most
//!    `max_send_frame_size` so control frames can slip between them.
//! 4. **Timers.** Sleep until [`poll_timeout`](crate::Dialogue::poll_timeout)
//!    (re-arm when it changes; it moves after every input) and call
//!    `handle_timeout(now)`: it sends keep-alive pings, fails a dead peer,
//!    and ends a close handshake the peer does not finish.
//! 5. **Closing.** When [`is_closed`](crate::Dialogue::is_closed) is true
//!    and `poll_transmit` returned `None`, close the transport (a server
//!    closes first, as RFC 6455 §7.1.1 asks; a client waits for the
//!    server's EOF via `AwaitEof`, bounded by `close_timeout`). After an
//!    error the peer may still be sending (a message over the limit):
//!    shut down the write half and read and discard for a short bounded
//!    time before closing (a lingering close), or the kernel answers the
//!    unread bytes with a reset and the peer may never read the close
//!    frame with its 1009.
//!
//! Broadcast: encode once with [`encode_server_frame`] (an uncompressed
//! frame is valid whatever each connection negotiated), and give each
//! connection's loop a clone of the `Bytes` for
//! [`WebSocket::send_raw_frame`]; the hub's per-connection queue and its
//! overflow policy are the adapter's (the core refuses a raw frame while a
//! streamed message is being sent, so the loop holds it until
//! `finish_message`).
//!
//! ```
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use wireloom_core::Dialogue;
//! use wireloom_core::ws::{Config, Event, Message, WebSocket, CloseCode};
//!
//! let now = Instant::now();
//! let mut server = WebSocket::server(Config::default(), None, now);
//! let mut client = WebSocket::client(Config::default(), None, [9; 32], now);
//! client.send_text("Hello").unwrap();
//! let mut wire = BytesMut::new();
//! while let Some(b) = client.poll_transmit() { wire.extend_from_slice(&b); }
//! server.handle_input(now, &mut wire);
//! let Some(Event::Message(Message::Text(t))) = server.poll_event() else { panic!() };
//! assert_eq!(t, "Hello");
//! server.send_text(t).unwrap(); // echo, no copy, no re-validation
//! assert_eq!(&server.poll_transmit().unwrap()[..], b"\x81\x05Hello");
//!
//! server.close(now, CloseCode::NORMAL, "bye").unwrap();
//! let mut wire = BytesMut::new();
//! while let Some(b) = server.poll_transmit() { wire.extend_from_slice(&b); }
//! client.handle_input(now, &mut wire);
//! assert!(matches!(client.poll_event(), Some(Event::Closing(f)) if f.code == CloseCode::NORMAL));
//! client.handle_eof(now); // the server closed the transport
//! assert!(matches!(client.poll_event(), Some(Event::Closed(c)) if c.is_clean()));
//! ```

mod close;
mod connection;
mod deflate;
mod frame;
mod handshake;
mod mask;
mod message;
mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use connection::{CloseInfo, Config, Event, Role, UsageError, WebSocket, WsError};
pub use deflate::{
    client_offer, negotiate_client, negotiate_server, parse_extensions, DeflateConfig,
    DeflateParams, ExtensionOffer,
};
pub use frame::{
    decode_header, encode_header, encode_server_frame, DecodeRules, FrameDecoder, FrameError,
    FrameHeader, FrameItem, OpCode, MAX_HEADER_LEN,
};
pub use handshake::{
    accept, accept_key, is_upgrade_request, Accepted, ClientHandshake, ClientOptions,
    HandshakeError, Negotiated, OriginCheck, OriginPolicy, Refusal, ServerOptions,
};
pub use mask::{apply_mask, apply_mask_bytewise};
pub use message::{Message, MessageKind, Utf8Bytes};
pub use utf8::{InvalidUtf8, Utf8Validator};

#[cfg(test)]
mod tests;
