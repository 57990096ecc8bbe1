//! Finding a head at the front of the read buffer, for both connections.
//!
//! A head trickling in is not re-parsed for every byte: the whole head is
//! parsed only when a line may have completed; between line endings only
//! the unfinished line is new, and it alone is checked (fail fast, at the
//! cost of that one line). The error is the same however the bytes are
//! split.

use bytes::{Bytes, BytesMut};

use super::error::Error;
use super::parse::{check_unfinished, ParseConfig, RawHeader, RawRequest, RawResponse, Status};

/// A parsed start line and fields, with the length of the head.
pub(crate) trait RawHead {
    /// Bytes of the head, empty line included.
    fn head_len(&self) -> usize;
}

impl RawHead for RawRequest {
    fn head_len(&self) -> usize {
        self.head_len
    }
}

impl RawHead for RawResponse {
    fn head_len(&self) -> usize {
        self.head_len
    }
}

/// A head parser (`parse_request` or `parse_response`).
pub(crate) type Parse<T> = fn(&[u8], &ParseConfig, &mut Vec<RawHeader>) -> Result<Status<T>, Error>;

/// Where the scan of the next head stands.
#[derive(Debug)]
pub(crate) struct HeadReader {
    /// The field ranges of the last parse (valid for the head returned by
    /// [`read`](HeadReader::read)).
    pub(crate) raw: Vec<RawHeader>,
    /// How much of the buffer the last scan saw.
    scanned: usize,
    /// The last LF seen in it.
    last_newline: Option<usize>,
    /// Whether any byte of the next head arrived.
    started: bool,
}

impl HeadReader {
    /// A reader expecting up to `max_headers` fields (capacity only).
    pub(crate) fn new(max_headers: usize) -> HeadReader {
        HeadReader {
            raw: Vec::with_capacity(max_headers.min(64)),
            scanned: 0,
            last_newline: None,
            started: false,
        }
    }

    /// Whether bytes of a head arrived that do not form a whole head yet.
    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    /// Notes that bytes of the next head are in; true on the first call
    /// for this head (a server arms its head timer then).
    pub(crate) fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.started, true)
    }

    /// Looks for a whole head at the front of `input`: splits it off and
    /// returns it with what `parse` made of it (its fields in
    /// [`raw`](HeadReader::raw)), or `Ok(None)` when more input is needed.
    /// `response` says which start line to check in an unfinished line.
    /// Once a head is returned, the next one starts afresh.
    pub(crate) fn read<T: RawHead>(
        &mut self,
        input: &mut BytesMut,
        config: &ParseConfig,
        response: bool,
        parse: Parse<T>,
    ) -> Result<Option<(Bytes, T)>, Error> {
        self.start();
        let from = self.scanned.min(input.len());
        let new_nl = memchr::memrchr(b'\n', &input[from..]).map(|p| from + p);
        self.scanned = input.len();
        match new_nl {
            Some(p) => self.last_newline = Some(p),
            None => {
                check_unfinished(input, config, &mut self.raw, self.last_newline, response)?;
                return Ok(None);
            }
        }
        match parse(input, config, &mut self.raw)? {
            Status::Partial => Ok(None),
            Status::Complete(r) => {
                let bytes = input.split_to(r.head_len()).freeze();
                self.scanned = 0;
                self.last_newline = None;
                self.started = false;
                Ok(Some((bytes, r)))
            }
        }
    }
}
