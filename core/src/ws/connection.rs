//! [`WebSocket`]: one connection after the handshake, either role.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sha1::{Digest, Sha1};

use super::close::{BadClose, CloseCode, CloseFrame};
use super::deflate::{DeflateConfig, DeflateParams, Deflater, InflateError, Inflater};
use super::frame::{
    encode_frame_into, encode_header, DecodeRules, FrameDecoder, FrameError, FrameHeader,
    FrameItem, OpCode,
};
use super::message::{Message, MessageKind, Utf8Bytes};
use super::utf8::Utf8Validator;
use crate::Dialogue;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks what it sends; reads unmasked frames.
    Client,
    /// Sends unmasked frames; reads masked ones.
    Server,
}

/// Connection settings. The defaults are safe for a public server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest payload of one received frame (1009 beyond). Default 16 MiB.
    pub max_frame_size: usize,
    /// Largest received message, after decompression (1009 beyond; a
    /// compressed message is checked while it inflates, so a
    /// decompression bomb stops at this size). Applies in streaming mode
    /// too. Default 16 MiB.
    pub max_message_size: usize,
    /// Deliver messages in pieces ([`Event::MessageStart`],
    /// [`Event::MessageData`], [`Event::MessageEnd`]) as they arrive
    /// instead of whole ([`Event::Message`]). Default false.
    pub streaming: bool,
    /// Largest payload of one frame this endpoint sends; longer messages
    /// go out in several frames so a pong can slip in between. Default
    /// 256 KiB.
    pub max_send_frame_size: usize,
    /// Answer every ping with a pong (only the latest, when several pings
    /// arrive before the pong could leave). Default true.
    pub auto_pong: bool,
    /// Send a ping after this long without receiving anything. Default 30 s.
    pub ping_interval: Option<Duration>,
    /// Give up on a peer silent this long (the connection fails with
    /// [`WsError::DeadPeer`], code 1006, without a close frame). Default 60 s.
    pub dead_peer_timeout: Option<Duration>,
    /// After sending a close frame, how long to wait for the peer's close
    /// (and, for a client, for the server to close the transport).
    /// Default 5 s.
    pub close_timeout: Duration,
    /// Compression settings used by this connection (threshold, level);
    /// the negotiated parameters come from the handshake.
    pub compression: DeflateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            streaming: false,
            max_send_frame_size: 256 << 10,
            auto_pong: true,
            ping_interval: Some(Duration::from_secs(30)),
            dead_peer_timeout: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(5),
            compression: DeflateConfig::default(),
        }
    }
}

/// What a connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole message (the default delivery).
    Message(Message),
    /// Streaming delivery: a message begins.
    MessageStart(MessageKind),
    /// Streaming delivery: the next piece of the message (decompressed).
    /// Text pieces are validated as they arrive and each is whole UTF-8
    /// (a code point cut by a frame or read boundary is held back until it
    /// is complete), so `std::str::from_utf8` on a piece always succeeds.
    MessageData(Bytes),
    /// Streaming delivery: the message is complete (and valid).
    MessageEnd,
    /// A ping arrived (already answered when `auto_pong` is on).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The peer sent a close frame. Unless this endpoint had already sent
    /// one, the connection answers with the same code; no more messages
    /// can be sent.
    Closing(CloseFrame),
    /// The connection is over (always the last event).
    Closed(CloseInfo),
    /// The peer broke the protocol, a limit or a timer fired, or the
    /// transport ended without a close. A close frame with
    /// [`WsError::close_code`] is queued when one can still be sent;
    /// [`Event::Closed`] follows.
    Error(WsError),
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloseInfo {
    /// The peer's close frame, if one arrived.
    pub received: Option<CloseFrame>,
    /// The close frame this endpoint sent (or queued), if any.
    pub sent: Option<CloseFrame>,
}

impl CloseInfo {
    /// The connection close code (RFC 6455 §7.1.5): the peer's code,
    /// 1005 if its close frame had none, 1006 if no close frame arrived.
    pub fn code(&self) -> CloseCode {
        self.received
            .as_ref()
            .map_or(CloseCode::ABNORMAL, |f| f.code)
    }

    /// The peer's reason (empty if none).
    pub fn reason(&self) -> &str {
        self.received.as_ref().map_or("", |f| f.reason.as_str())
    }

    /// Both close frames were exchanged.
    pub fn is_clean(&self) -> bool {
        self.received.is_some() && self.sent.is_some()
    }
}

/// A remote error: what the peer (or the network) did wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsError {
    /// A frame header broke RFC 6455 §5 (1002), or was over the frame
    /// limit (1009).
    Frame(FrameError),
    /// A continuation frame with no message in progress (1002).
    UnexpectedContinuation,
    /// A new text/binary frame while a message was in progress (1002).
    ExpectedContinuation,
    /// A text message (or close reason) that is not UTF-8 (1007).
    InvalidUtf8,
    /// A message over `max_message_size` (1009).
    MessageTooBig,
    /// A close frame with one byte or a code not allowed on the wire (1002).
    BadClose,
    /// A compressed message that does not inflate (1002).
    Decompression,
    /// The transport ended without a close handshake (1006; nothing sent).
    UnexpectedEof,
    /// Nothing received for `dead_peer_timeout` (1006; nothing sent).
    DeadPeer,
    /// The peer did not answer our close in `close_timeout` (1006).
    CloseTimeout,
}

impl WsError {
    /// The close code sent for this error (1002, 1007, 1009), or 1006 for
    /// those that end the connection without a close frame.
    pub fn close_code(&self) -> CloseCode {
        match self {
            WsError::Frame(e) => e.close_code(),
            WsError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            WsError::MessageTooBig => CloseCode::TOO_BIG,
            WsError::UnexpectedEof | WsError::DeadPeer | WsError::CloseTimeout => {
                CloseCode::ABNORMAL
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Frame(e) => write!(f, "bad frame: {e}"),
            WsError::UnexpectedContinuation => f.write_str("continuation frame without a message"),
            WsError::ExpectedContinuation => f.write_str("new message before the last one ended"),
            WsError::InvalidUtf8 => f.write_str("invalid UTF-8"),
            WsError::MessageTooBig => f.write_str("message too big"),
            WsError::BadClose => f.write_str("invalid close frame"),
            WsError::Decompression => f.write_str("compressed message does not inflate"),
            WsError::UnexpectedEof => f.write_str("connection ended without a close frame"),
            WsError::DeadPeer => f.write_str("peer silent for too long"),
            WsError::CloseTimeout => f.write_str("no close answer in time"),
        }
    }
}

impl std::error::Error for WsError {}

/// A local error: the application called the API out of turn. Nothing
/// was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A close frame was sent or received: no more messages.
    Closing,
    /// A streamed message is in progress: finish it first.
    MessageInProgress,
    /// `continue_message`/`finish_message` without `start_message`.
    NoMessageInProgress,
    /// A control payload over 125 bytes.
    ControlTooLong,
    /// A close reason over 123 bytes.
    ReasonTooLong,
    /// A close code that may not be sent (1005, 1006, 1015, reserved).
    InvalidCloseCode,
    /// A streamed text message that is not UTF-8.
    InvalidUtf8,
    /// A raw frame on a client connection (frames must be masked per
    /// connection there).
    NotServer,
    /// Continuation is not an opcode a whole frame can have; a raw close
    /// frame is refused (use `close`, which tracks the handshake).
    BadOpcode,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsageError::Closing => "the connection is closing",
            UsageError::MessageInProgress => "a streamed message is in progress",
            UsageError::NoMessageInProgress => "no streamed message in progress",
            UsageError::ControlTooLong => "control frame payload over 125 bytes",
            UsageError::ReasonTooLong => "close reason over 123 bytes",
            UsageError::InvalidCloseCode => "close code not allowed on the wire",
            UsageError::InvalidUtf8 => "text is not UTF-8",
            UsageError::NotServer => "raw frames are for server connections",
            UsageError::BadOpcode => "continuation is not a frame opcode on its own",
        })
    }
}

impl std::error::Error for UsageError {}

/// The lifecycle (see the module doc's graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// We sent (queued) a close; waiting for the peer's.
    CloseSent,
    /// Close frames exchanged; a client waits for the server to end the
    /// transport.
    AwaitEof,
    Closed,
}

/// Pieces of a whole message being assembled.
#[derive(Debug, Default)]
enum Assembly {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Assembly {
    fn push(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        *self = match std::mem::take(self) {
            Assembly::Empty => Assembly::One(b),
            Assembly::One(a) => {
                let mut m = BytesMut::with_capacity(a.len() + b.len());
                m.extend_from_slice(&a);
                m.extend_from_slice(&b);
                Assembly::Many(m)
            }
            Assembly::Many(mut m) => {
                m.extend_from_slice(&b);
                Assembly::Many(m)
            }
        }
    }

    fn take(&mut self) -> Bytes {
        match std::mem::take(self) {
            Assembly::Empty => Bytes::new(),
            Assembly::One(b) => b,
            Assembly::Many(m) => m.freeze(),
        }
    }
}

/// The data message being received.
#[derive(Debug)]
struct InMessage {
    kind: MessageKind,
    compressed: bool,
    utf8: Utf8Validator,
    /// Bytes delivered so far (after inflating).
    size: usize,
    parts: Assembly,
    /// Streaming text: the start of a code point cut at the end of the
    /// last piece, held back until the next piece completes it.
    carry: Bytes,
}

/// The frame being received.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
}

/// The streamed message being sent.
#[derive(Debug, Clone, Copy)]
struct OutMessage {
    kind: MessageKind,
    compressed: bool,
}

/// Masking keys for a client: SHA-1 over a caller-supplied seed and a
/// counter (five keys per digest), so they are unpredictable to anyone
/// who does not know the seed (RFC 6455 §10.3).
struct MaskKeys {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 20],
    used: usize,
}

impl MaskKeys {
    fn new(seed: [u8; 32]) -> MaskKeys {
        MaskKeys {
            seed,
            counter: 0,
            block: [0; 20],
            used: 20,
        }
    }

    fn next(&mut self) -> [u8; 4] {
        if self.used == 20 {
            let mut h = Sha1::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.counter += 1;
            self.block.copy_from_slice(&h.finalize());
            self.used = 0;
        }
        let k = [
            self.block[self.used],
            self.block[self.used + 1],
            self.block[self.used + 2],
            self.block[self.used + 3],
        ];
        self.used += 4;
        k
    }
}

impl fmt::Debug for MaskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskKeys(..)")
    }
}

/// A frame queued for the peer: its head (or the whole frame) and, for a
/// large server payload, the payload kept zero-copy.
#[derive(Debug)]
struct OutFrame {
    head: Bytes,
    body: Bytes,
    /// A close frame: nothing may follow it.
    close: bool,
}

/// Server payloads up to this size are copied next to their header (one
/// `Bytes` per frame); larger ones leave as their own `Bytes`.
const COPY_MAX: usize = 1024;

/// Stop reading when this many events wait for the application.
const EVENT_HIGH: usize = 64;

/// One WebSocket connection, sans IO. See the [module doc](super) for the
/// state graph and how an adapter drives it.
#[derive(Debug)]
pub struct WebSocket {
    role: Role,
    config: Config,
    state: State,
    decoder: FrameDecoder,
    frame: Option<InFrame>,
    /// Payload of the control frame being received (at most 125 bytes).
    control: BytesMut,
    message: Option<InMessage>,
    inflater: Option<Inflater>,
    deflater: Option<Deflater>,
    masks: Option<MaskKeys>,
    sending: Option<OutMessage>,
    /// The streamed text being sent is checked piece by piece.
    utf8_out: Utf8Validator,
    /// The streamed message's first frame is queued.
    sent_first: bool,
    /// Frames in order (data, and close which must follow the data).
    data: VecDeque<OutFrame>,
    /// The body of a frame whose head already left: goes before anything.
    half: Option<Bytes>,
    /// Control frames that may overtake data (pings), encoded.
    urgent: VecDeque<Bytes>,
    /// The latest ping's payload still to answer.
    pong: Option<Bytes>,
    /// Bytes queued and not yet returned by `poll_transmit`.
    buffered: usize,
    events: VecDeque<Event>,
    close: CloseInfo,
    /// A close frame has left through `poll_transmit`: nothing more may.
    close_flushed: bool,
    last_rx: Instant,
    last_ping: Option<Instant>,
    close_deadline: Option<Instant>,
}

impl WebSocket {
    /// A server-side connection, after [`accept`](super::accept): pass
    /// `accepted.negotiated.deflate`.
    pub fn server(config: Config, deflate: Option<DeflateParams>, now: Instant) -> WebSocket {
        WebSocket::new(Role::Server, config, deflate, None, now)
    }

    /// A client-side connection, after
    /// [`ClientHandshake::check_response`](super::ClientHandshake::check_response).
    /// `mask_seed`: 32 random bytes from the OS; the masking keys of
    /// every frame derive from them.
    pub fn client(
        config: Config,
        deflate: Option<DeflateParams>,
        mask_seed: [u8; 32],
        now: Instant,
    ) -> WebSocket {
        WebSocket::new(Role::Client, config, deflate, Some(mask_seed), now)
    }

    fn new(
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
        seed: Option<[u8; 32]>,
        now: Instant,
    ) -> WebSocket {
        let (inflater, deflater) = match deflate {
            None => (None, None),
            Some(p) => {
                let (ours, theirs) = match role {
                    Role::Server => (
                        (p.server_max_window_bits, p.server_no_context_takeover),
                        (p.client_max_window_bits, p.client_no_context_takeover),
                    ),
                    Role::Client => (
                        (p.client_max_window_bits, p.client_no_context_takeover),
                        (p.server_max_window_bits, p.server_no_context_takeover),
                    ),
                };
                (
                    Some(Inflater::new(theirs.0, theirs.1)),
                    Deflater::new(ours.0, config.compression.level, ours.1),
                )
            }
        };
        let rules = DecodeRules {
            masked: role == Role::Server,
            rsv1: inflater.is_some(),
            max_frame: config.max_frame_size as u64,
        };
        WebSocket {
            role,
            state: State::Open,
            decoder: FrameDecoder::new(rules),
            frame: None,
            control: BytesMut::new(),
            message: None,
            inflater,
            deflater,
            masks: seed.map(MaskKeys::new),
            sending: None,
            utf8_out: Utf8Validator::default(),
            sent_first: false,
            data: VecDeque::new(),
            half: None,
            urgent: VecDeque::new(),
            pong: None,
            buffered: 0,
            events: VecDeque::new(),
            close: CloseInfo::default(),
            close_flushed: false,
            last_rx: now,
            last_ping: None,
            close_deadline: None,
            config,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether permessage-deflate is in use (this endpoint may receive
    /// compressed messages).
    pub fn is_compressed(&self) -> bool {
        self.inflater.is_some()
    }

    /// Whether messages can still be sent (no close sent or received).
    pub fn can_send(&self) -> bool {
        self.state == State::Open && self.close.received.is_none()
    }

    /// Bytes queued for the peer that `poll_transmit` has not returned
    /// yet. An adapter stops taking application messages while this is
    /// above its high-water mark (backpressure), and pulls
    /// `poll_transmit` only when it can write, so that pongs and pings
    /// overtake queued data.
    pub fn buffered_amount(&self) -> usize {
        self.buffered
    }

    /// How the connection ended so far (complete once [`Event::Closed`]
    /// was reported).
    pub fn close_info(&self) -> &CloseInfo {
        &self.close
    }

    // ---- sending ------------------------------------------------------

    /// Sends a whole text message.
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), UsageError> {
        self.send_message(MessageKind::Text, text.into().into_bytes())
    }

    /// Sends a whole binary message.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_message(MessageKind::Binary, data.into())
    }

    /// Sends a whole message.
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        match message {
            Message::Text(t) => self.send_message(MessageKind::Text, t.into_bytes()),
            Message::Binary(b) => self.send_message(MessageKind::Binary, b),
        }
    }

    fn check_can_send(&self) -> Result<(), UsageError> {
        if !self.can_send() {
            return Err(UsageError::Closing);
        }
        if self.sending.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        Ok(())
    }

    fn send_message(&mut self, kind: MessageKind, payload: Bytes) -> Result<(), UsageError> {
        self.check_can_send()?;
        let opcode = opcode_of(kind);
        let threshold = self.config.compression.threshold;
        match &mut self.deflater {
            Some(d) if payload.len() >= threshold => {
                let mut z = Vec::with_capacity(payload.len() / 2 + 64);
                d.deflate(&payload, true, &mut z);
                self.queue_fragments(opcode, true, Bytes::from(z), true);
            }
            _ => self.queue_fragments(opcode, false, payload, true),
        }
        Ok(())
    }

    /// Starts a streamed message with its first piece (which may be
    /// empty). Compression (when negotiated) is decided on this piece's
    /// size against the threshold.
    pub fn start_message(&mut self, kind: MessageKind, first: Bytes) -> Result<(), UsageError> {
        self.check_can_send()?;
        let compressed =
            self.deflater.is_some() && first.len() >= self.config.compression.threshold;
        self.sending = Some(OutMessage { kind, compressed });
        self.utf8_out = Utf8Validator::default();
        match self.send_piece(first, false) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.sending = None;
                Err(e)
            }
        }
    }

    /// Sends the next piece of the streamed message.
    pub fn continue_message(&mut self, data: Bytes) -> Result<(), UsageError> {
        self.send_piece(data, false)
    }

    /// Sends the last piece (may be empty) and ends the streamed message.
    pub fn finish_message(&mut self, last: Bytes) -> Result<(), UsageError> {
        self.send_piece(last, true)?;
        self.sending = None;
        Ok(())
    }

    fn send_piece(&mut self, data: Bytes, fin: bool) -> Result<(), UsageError> {
        if !self.can_send() {
            return Err(UsageError::Closing);
        }
        let Some(out) = self.sending else {
            return Err(UsageError::NoMessageInProgress);
        };
        if out.kind == MessageKind::Text {
            let mut v = self.utf8_out.clone();
            v.feed(&data).map_err(|_| UsageError::InvalidUtf8)?;
            if fin {
                v.finish().map_err(|_| UsageError::InvalidUtf8)?;
            }
            self.utf8_out = v;
        }
        // The first frame carries the opcode and RSV1; later ones are
        // continuations.
        let first = !self.sent_first;
        let opcode = if first {
            opcode_of(out.kind)
        } else {
            OpCode::Continuation
        };
        let payload = match (&mut self.deflater, out.compressed) {
            (Some(d), true) => {
                let mut z = Vec::with_capacity(data.len() / 2 + 64);
                d.deflate(&data, fin, &mut z);
                Bytes::from(z)
            }
            _ => data,
        };
        self.queue_fragments(opcode, out.compressed && first, payload, fin);
        self.sent_first = !fin;
        Ok(())
    }

    /// Queues `payload` as one or more frames (split at
    /// `max_send_frame_size`); the first has `opcode` and `rsv1`, the
    /// last has FIN when `fin`.
    fn queue_fragments(&mut self, opcode: OpCode, rsv1: bool, payload: Bytes, fin: bool) {
        let max = self.config.max_send_frame_size.max(1);
        let mut rest = payload;
        let mut first = true;
        loop {
            let piece = rest.split_to(rest.len().min(max));
            let last = rest.is_empty();
            let op = if first { opcode } else { OpCode::Continuation };
            self.queue_frame(last && fin, first && rsv1, op, piece);
            first = false;
            if last {
                break;
            }
        }
    }

    fn queue_frame(&mut self, fin: bool, rsv1: bool, opcode: OpCode, payload: Bytes) {
        let frame = self.encode(fin, rsv1, opcode, payload);
        self.buffered += frame.head.len() + frame.body.len();
        self.data.push_back(frame);
    }

    fn encode(&mut self, fin: bool, rsv1: bool, opcode: OpCode, payload: Bytes) -> OutFrame {
        let mask = self.masks.as_mut().map(MaskKeys::next);
        let mut head = BytesMut::new();
        if mask.is_some() || payload.len() <= COPY_MAX {
            encode_frame_into(&mut head, fin, rsv1, opcode, mask, &payload);
            OutFrame {
                head: head.freeze(),
                body: Bytes::new(),
                close: opcode == OpCode::Close,
            }
        } else {
            encode_header(
                &FrameHeader {
                    fin,
                    rsv1,
                    opcode,
                    mask: None,
                    payload_len: payload.len() as u64,
                },
                &mut head,
            );
            OutFrame {
                head: head.freeze(),
                body: payload,
                close: false,
            }
        }
    }

    /// Queues a frame encoded by [`encode_server_frame`](super::encode_server_frame)
    /// (shared by many connections: the broadcast hub's path). Server
    /// role only, and only between messages.
    pub fn send_raw_frame(&mut self, frame: Bytes) -> Result<(), UsageError> {
        if self.role != Role::Server {
            return Err(UsageError::NotServer);
        }
        self.check_can_send()?;
        if frame
            .first()
            .is_some_and(|b| b & 0x0f == OpCode::Close.as_u8())
        {
            return Err(UsageError::BadOpcode); // use close(), which tracks the handshake
        }
        self.buffered += frame.len();
        self.data.push_back(OutFrame {
            head: frame,
            body: Bytes::new(),
            close: false,
        });
        Ok(())
    }

    /// Sends a ping (payload at most 125 bytes). It may overtake queued
    /// data frames.
    pub fn send_ping(&mut self, payload: Bytes) -> Result<(), UsageError> {
        if payload.len() > 125 {
            return Err(UsageError::ControlTooLong);
        }
        if self.state != State::Open {
            return Err(UsageError::Closing);
        }
        let f = self.encode(true, false, OpCode::Ping, payload);
        self.buffered += f.head.len();
        self.urgent.push_back(f.head);
        Ok(())
    }

    /// Sends a pong (unsolicited, or when `auto_pong` is off). Replaces a
    /// pong not yet sent.
    pub fn send_pong(&mut self, payload: Bytes) -> Result<(), UsageError> {
        if payload.len() > 125 {
            return Err(UsageError::ControlTooLong);
        }
        if self.close_flushed || self.state == State::Closed {
            return Err(UsageError::Closing);
        }
        self.set_pong(payload);
        Ok(())
    }

    fn set_pong(&mut self, payload: Bytes) {
        if let Some(old) = self.pong.replace(payload) {
            self.buffered -= pong_size(old.len(), self.masks.is_some());
        }
        self.buffered += pong_size(
            self.pong.as_ref().map_or(0, |p| p.len()),
            self.masks.is_some(),
        );
    }

    /// Starts the close handshake: queues a close frame after everything
    /// already queued, then waits (at most `close_timeout`) for the peer's.
    /// `code` must be allowed on the wire, or [`CloseCode::NO_STATUS`] for
    /// a close frame without a code (then `reason` must be empty). A
    /// streamed message in progress is abandoned.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if code != CloseCode::NO_STATUS && !code.is_valid_on_wire() {
            return Err(UsageError::InvalidCloseCode);
        }
        if code == CloseCode::NO_STATUS && !reason.is_empty() {
            return Err(UsageError::InvalidCloseCode);
        }
        if reason.len() > 123 {
            return Err(UsageError::ReasonTooLong);
        }
        if !self.can_send() {
            return Err(UsageError::Closing);
        }
        self.queue_close(code, reason);
        self.state = State::CloseSent;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        self.sending = None;
        let payload = CloseFrame::payload(code, reason);
        self.queue_frame(true, false, OpCode::Close, payload);
        self.close.sent = Some(CloseFrame {
            code,
            reason: reason.to_owned(),
        });
    }

    // ---- receiving ----------------------------------------------------

    fn reading(&self) -> bool {
        matches!(self.state, State::Open | State::CloseSent)
    }

    /// The connection failed: report, queue a close frame if one can
    /// still go, and end.
    fn fail(&mut self, err: WsError) {
        let code = err.close_code();
        self.events.push_back(Event::Error(err));
        if code != CloseCode::ABNORMAL && self.close.sent.is_none() {
            // Drop queued data (a frame already half out stays in `half`).
            for f in self.data.drain(..) {
                self.buffered -= f.head.len() + f.body.len();
            }
            self.queue_close(code, "");
        }
        self.finish();
    }

    /// Reports `Closed` and stops.
    fn finish(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.close_deadline = None;
        self.message = None;
        self.events.push_back(Event::Closed(self.close.clone()));
    }

    fn on_header(&mut self, h: FrameHeader) -> Result<(), WsError> {
        if h.opcode.is_control() {
            self.control.clear();
        } else {
            match (h.opcode, &self.message) {
                (OpCode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
                (OpCode::Continuation, Some(m)) => {
                    if !m.compressed
                        && m.size as u64 + h.payload_len > self.config.max_message_size as u64
                    {
                        return Err(WsError::MessageTooBig);
                    }
                }
                (_, Some(_)) => return Err(WsError::ExpectedContinuation),
                (op, None) => {
                    if !h.rsv1 && h.payload_len > self.config.max_message_size as u64 {
                        return Err(WsError::MessageTooBig);
                    }
                    let kind = if op == OpCode::Text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    self.message = Some(InMessage {
                        kind,
                        compressed: h.rsv1,
                        utf8: Utf8Validator::default(),
                        size: 0,
                        parts: Assembly::Empty,
                        carry: Bytes::new(),
                    });
                    if self.config.streaming {
                        self.events.push_back(Event::MessageStart(kind));
                    }
                }
            }
        }
        self.frame = Some(InFrame {
            opcode: h.opcode,
            fin: h.fin,
        });
        Ok(())
    }

    fn on_payload(&mut self, now: Instant, data: Bytes, last: bool) -> Result<(), WsError> {
        let Some(frame) = self.frame else {
            return Ok(());
        };
        if last {
            self.frame = None;
        }
        if frame.opcode.is_control() {
            self.control.extend_from_slice(&data);
            if last {
                let payload = std::mem::take(&mut self.control).freeze();
                self.on_control(now, frame.opcode, payload)?;
            }
            return Ok(());
        }
        let end = last && frame.fin;
        let max = self.config.max_message_size;
        let streaming = self.config.streaming;
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        let piece = if m.compressed {
            let inflater = self.inflater.as_mut().ok_or(WsError::Decompression)?;
            let mut out = Vec::new();
            inflater
                .inflate(&data, end, &mut out, max - m.size)
                .map_err(|e| match e {
                    InflateError::TooBig => WsError::MessageTooBig,
                    InflateError::Corrupt => WsError::Decompression,
                })?;
            Bytes::from(out)
        } else {
            data
        };
        m.size += piece.len();
        if m.size > max {
            return Err(WsError::MessageTooBig);
        }
        if m.kind == MessageKind::Text {
            m.utf8.feed(&piece).map_err(|_| WsError::InvalidUtf8)?;
            if end {
                m.utf8.finish().map_err(|_| WsError::InvalidUtf8)?;
            }
        }
        if streaming {
            let mut piece = piece;
            if m.kind == MessageKind::Text {
                // Hold back a code point cut at the end of this piece (at
                // most 3 bytes), so every text piece is whole UTF-8.
                if !m.carry.is_empty() {
                    let mut joined = BytesMut::with_capacity(m.carry.len() + piece.len());
                    joined.extend_from_slice(&m.carry);
                    joined.extend_from_slice(&piece);
                    piece = joined.freeze();
                }
                let keep = m.utf8.pending();
                m.carry = piece.split_off(piece.len() - keep);
            }
            if !piece.is_empty() {
                self.events.push_back(Event::MessageData(piece));
            }
        } else {
            m.parts.push(piece);
        }
        if end {
            let mut m = self.message.take().expect("message in progress");
            if streaming {
                self.events.push_back(Event::MessageEnd);
            } else {
                let payload = m.parts.take();
                self.events.push_back(Event::Message(match m.kind {
                    MessageKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
                    MessageKind::Binary => Message::Binary(payload),
                }));
            }
        }
        Ok(())
    }

    fn on_control(&mut self, now: Instant, opcode: OpCode, payload: Bytes) -> Result<(), WsError> {
        match opcode {
            OpCode::Ping => {
                if self.config.auto_pong && self.state == State::Open && !self.close_flushed {
                    self.set_pong(payload.clone());
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => self.events.push_back(Event::Pong(payload)),
            _ => {
                let frame = CloseFrame::parse(&payload).map_err(|e| match e {
                    BadClose::Protocol => WsError::BadClose,
                    BadClose::Utf8 => WsError::InvalidUtf8,
                })?;
                self.close.received = Some(frame.clone());
                self.message = None;
                self.events.push_back(Event::Closing(frame.clone()));
                if self.close.sent.is_none() {
                    // Echo the code (RFC 6455 §5.5.1), without the reason.
                    self.queue_close(frame.code, "");
                }
                match self.role {
                    Role::Server => self.finish(),
                    Role::Client => {
                        // Wait for the server to end the transport.
                        self.state = State::AwaitEof;
                        self.close_deadline = Some(now + self.config.close_timeout);
                    }
                }
            }
        }
        Ok(())
    }

    fn next_ping(&self) -> Option<Instant> {
        let interval = self.config.ping_interval?;
        let since = self.last_ping.map_or(self.last_rx, |p| p.max(self.last_rx));
        Some(since + interval)
    }
}

fn opcode_of(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

fn pong_size(len: usize, masked: bool) -> usize {
    2 + len + if masked { 4 } else { 0 }
}

impl Dialogue for WebSocket {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, input: &mut BytesMut) {
        if self.state == State::AwaitEof {
            // Nothing may follow the server's close; reading goes on only
            // to see the transport end.
            input.clear();
            return;
        }
        if !self.reading() || input.is_empty() {
            return;
        }
        self.last_rx = now;
        while self.reading() && self.events.len() < EVENT_HIGH {
            let item = match self.decoder.decode(input) {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    self.fail(WsError::Frame(e));
                    break;
                }
            };
            let r = match item {
                FrameItem::Header(h) => self.on_header(h),
                FrameItem::Payload { data, last } => self.on_payload(now, data, last),
            };
            if let Err(e) = r {
                self.fail(e);
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        match self.state {
            State::Closed => {}
            State::AwaitEof => self.finish(),
            _ => self.fail(WsError::UnexpectedEof),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.close_deadline {
            if now >= d {
                if self.state == State::AwaitEof {
                    self.finish();
                } else {
                    self.fail(WsError::CloseTimeout);
                }
                return;
            }
        }
        if self.state != State::Open {
            return;
        }
        if let Some(t) = self.config.dead_peer_timeout {
            if now >= self.last_rx + t {
                self.fail(WsError::DeadPeer);
                return;
            }
        }
        if let Some(at) = self.next_ping() {
            if now >= at {
                self.last_ping = Some(now);
                let _ = self.send_ping(Bytes::new());
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        let out = self.next_transmit()?;
        self.buffered -= out.len();
        Some(out)
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Open => {
                let dead = self.config.dead_peer_timeout.map(|t| self.last_rx + t);
                match (dead, self.next_ping()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            _ => self.close_deadline,
        }
    }

    fn wants_input(&self) -> bool {
        // A client that finished the close handshake still reads, to see
        // the server end the transport (the bytes are discarded).
        (self.reading() || self.state == State::AwaitEof) && self.events.len() < EVENT_HIGH
    }

    fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
}

impl WebSocket {
    fn next_transmit(&mut self) -> Option<Bytes> {
        if let Some(b) = self.half.take() {
            return Some(b);
        }
        if self.close_flushed {
            return None;
        }
        if let Some(p) = self.pong.take() {
            let f = self.encode(true, false, OpCode::Pong, p);
            return Some(f.head);
        }
        if let Some(b) = self.urgent.pop_front() {
            return Some(b);
        }
        let f = self.data.pop_front()?;
        if f.close {
            // The close frame is out: nothing else may follow.
            self.close_flushed = true;
            let pong = self
                .pong
                .take()
                .map_or(0, |p| pong_size(p.len(), self.masks.is_some()));
            let dropped: usize = self.urgent.drain(..).map(|b| b.len()).sum::<usize>()
                + self
                    .data
                    .drain(..)
                    .map(|f| f.head.len() + f.body.len())
                    .sum::<usize>();
            self.buffered -= dropped + pong;
        }
        if !f.body.is_empty() {
            self.half = Some(f.body);
        }
        Some(f.head)
    }
}
