//! Errors: what the peer got wrong ([`Error`]) apart from what the caller got
//! wrong ([`UsageError`]).

use std::fmt;

use super::StatusCode;

/// What the peer did wrong, or which limit or timer fired.
///
/// Each kind maps to the status a server answers with ([`ErrorKind::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request line or status line is malformed (400).
    InvalidStartLine,
    /// The method is not a token (400).
    InvalidMethod,
    /// The request-target has a bad character or the wrong form (400).
    InvalidTarget,
    /// The version is not `HTTP/` DIGIT `.` DIGIT (400).
    InvalidVersion,
    /// A version other than 1.0 and 1.1 (505). Judged at the first digit
    /// that rules both out, whatever follows: `HTTP/2.0`, `HTTP/1.2`, and
    /// `HTTP/5` followed by anything.
    UnsupportedVersion,
    /// The status code is not three digits from 100 (a response error).
    InvalidStatus,
    /// The reason phrase holds a control character.
    InvalidReason,
    /// A field name is empty or holds a non-token byte (400).
    InvalidHeaderName,
    /// A field value holds a control character (400).
    InvalidHeaderValue,
    /// Whitespace between a field name and the colon (400; RFC 9112 §5.1).
    SpaceBeforeColon,
    /// A field line continued with obs-fold (400 in requests; RFC 9112 §5.2).
    ObsFold,
    /// Whitespace at the start of the first field line (400; RFC 9112 §2.2).
    LeadingWhitespace,
    /// A line ended with a bare LF or bare CR (400).
    InvalidNewline,
    /// The request line is longer than the limit (414).
    RequestLineTooLong,
    /// A field line is longer than the limit (431).
    HeaderLineTooLong,
    /// The head (start line and fields) is larger than the limit (431).
    HeadTooLarge,
    /// More fields than the limit (431).
    TooManyHeaders,
    /// An HTTP/1.1 request without Host, or with several (400; RFC 9112 §3.2).
    InvalidHost,
    /// Content-Length is not plain digits or overflows (400). In a request
    /// head, reported as soon as the field line is complete.
    InvalidContentLength,
    /// Several Content-Length values that differ (400). In a request head,
    /// reported as soon as the second field line is complete.
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding in a request (400).
    ContentLengthWithTransferEncoding,
    /// A request Transfer-Encoding that does not end in chunked, names chunked
    /// twice, or appears in HTTP/1.0 (400).
    InvalidTransferEncoding,
    /// A CONNECT request with Content-Length or Transfer-Encoding (400): a
    /// CONNECT carries no content (RFC 9110 §9.3.6), and the bytes after its
    /// head belong to the tunnel, never to a body.
    ConnectWithContent,
    /// A transfer coding other than chunked (501).
    UnknownTransferCoding,
    /// A chunk-size line that is not hex digits (400).
    InvalidChunkSize,
    /// A chunk size that does not fit in 64 bits (400).
    ChunkSizeOverflow,
    /// A malformed chunk extension (400).
    InvalidChunkExtension,
    /// Chunk extensions larger than the limit (400).
    ChunkExtensionTooLong,
    /// Something other than CRLF where CRLF is due in a chunked body (400).
    InvalidChunkDelimiter,
    /// A body larger than the limit (413).
    BodyTooLarge,
    /// An `Expect` other than `100-continue` (417).
    UnsupportedExpectation,
    /// The peer closed the connection in the middle of a message.
    IncompleteMessage,
    /// The peer closed a reused connection before any byte of the response;
    /// an idempotent request may be retried on a new connection.
    ClosedBeforeResponse,
    /// The head did not arrive in time (408).
    HeadTimeout,
    /// The body stalled longer than the limit (408).
    BodyTimeout,
    /// The response did not start in time.
    ResponseTimeout,
    /// A response arrived that no request asked for.
    UnexpectedResponse,
}

impl ErrorKind {
    /// The status a server answers this error with, if it answers at all.
    pub fn status(self) -> Option<StatusCode> {
        use ErrorKind::*;
        Some(match self {
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HeaderLineTooLong | HeadTooLarge | TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            UnknownTransferCoding => StatusCode::NOT_IMPLEMENTED,
            BodyTooLarge => StatusCode::CONTENT_TOO_LARGE,
            UnsupportedExpectation => StatusCode::EXPECTATION_FAILED,
            HeadTimeout | BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            IncompleteMessage | ClosedBeforeResponse | ResponseTimeout | UnexpectedResponse => {
                return None
            }
            _ => StatusCode::BAD_REQUEST,
        })
    }

    /// A stable snake_case name (used by the conformance CLI).
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            InvalidStartLine => "invalid_start_line",
            InvalidMethod => "invalid_method",
            InvalidTarget => "invalid_target",
            InvalidVersion => "invalid_version",
            UnsupportedVersion => "unsupported_version",
            InvalidStatus => "invalid_status",
            InvalidReason => "invalid_reason",
            InvalidHeaderName => "invalid_header_name",
            InvalidHeaderValue => "invalid_header_value",
            SpaceBeforeColon => "space_before_colon",
            ObsFold => "obs_fold",
            LeadingWhitespace => "leading_whitespace",
            InvalidNewline => "invalid_newline",
            RequestLineTooLong => "request_line_too_long",
            HeaderLineTooLong => "header_line_too_long",
            HeadTooLarge => "head_too_large",
            TooManyHeaders => "too_many_headers",
            InvalidHost => "invalid_host",
            InvalidContentLength => "invalid_content_length",
            ConflictingContentLength => "conflicting_content_length",
            ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
            InvalidTransferEncoding => "invalid_transfer_encoding",
            ConnectWithContent => "connect_with_content",
            UnknownTransferCoding => "unknown_transfer_coding",
            InvalidChunkSize => "invalid_chunk_size",
            ChunkSizeOverflow => "chunk_size_overflow",
            InvalidChunkExtension => "invalid_chunk_extension",
            ChunkExtensionTooLong => "chunk_extension_too_long",
            InvalidChunkDelimiter => "invalid_chunk_delimiter",
            BodyTooLarge => "body_too_large",
            UnsupportedExpectation => "unsupported_expectation",
            IncompleteMessage => "incomplete_message",
            ClosedBeforeResponse => "closed_before_response",
            HeadTimeout => "head_timeout",
            BodyTimeout => "body_timeout",
            ResponseTimeout => "response_timeout",
            UnexpectedResponse => "unexpected_response",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A remote error: the peer broke the protocol, or a limit or timer fired.
/// Fatal for the connection and sticky.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status a server answers with, if any.
    pub fn status(&self) -> Option<StatusCode> {
        self.kind.status()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            Some(s) => write!(f, "HTTP protocol error: {} ({})", self.kind, s),
            None => write!(f, "HTTP protocol error: {}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

/// A local error: the caller used the connection API out of turn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// No request is waiting for a response, or a response is already under way.
    NotExpectingResponse,
    /// No message body is open for data.
    NoBodyInProgress,
    /// More body bytes than the declared Content-Length.
    BodyTooLong,
    /// The body ended before the declared Content-Length.
    BodyTooShort,
    /// The connection is closed or closing; nothing more can be sent.
    Closed,
    /// A request cannot be sent now (a previous body is still open, or the
    /// connection was handed off).
    NotReady,
    /// The head is not valid for this use (e.g. a 1xx given as final response).
    InvalidHead(&'static str),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotExpectingResponse => {
                f.write_str("no request is waiting for this response")
            }
            UsageError::NoBodyInProgress => f.write_str("no message body is open"),
            UsageError::BodyTooLong => f.write_str("body longer than its Content-Length"),
            UsageError::BodyTooShort => f.write_str("body shorter than its Content-Length"),
            UsageError::Closed => f.write_str("connection is closed"),
            UsageError::NotReady => f.write_str("connection cannot send a request now"),
            UsageError::InvalidHead(why) => write!(f, "invalid head: {why}"),
        }
    }
}

impl std::error::Error for UsageError {}
