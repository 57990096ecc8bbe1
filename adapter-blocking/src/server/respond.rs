//! The response writer: core starts the response (the shared
//! [`start_response`]: framing, `Date`, a 500 in place of a head core
//! refuses, no body produced for HEAD/204/304), then the body goes out in
//! pieces, each written before the next is produced (a slow client slows
//! the producer down instead of growing a buffer).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wireloom_core::http::file::Segment;
use wireloom_core::http::{ServerConnection, UsageError};
use wireloom_io::http::start_response;

use super::api::{Body, Response, Upgraded};
use super::conn::ConnDriver;
use crate::driver::Socket;

/// Largest piece of a streamed or file body handed to the socket at once.
const CHUNK: usize = 256 * 1024;

fn io_err(e: UsageError) -> io::Error {
    io::Error::other(e)
}

/// Writes a response; `Ok(false)` when the connection ends (upgrade, or a
/// body source that failed: the client sees the body cut).
pub(super) fn write_response(
    conn: &mut ServerConnection,
    drv: &mut ConnDriver,
    resp: Response,
) -> io::Result<bool> {
    let Response { head, body, .. } = resp;
    let body = match start_response(conn, Instant::now(), head, body).map_err(io_err)? {
        Some(body) => body,
        // Core refused the head and sent a 500 in its place.
        None => return Ok(true),
    };
    match body {
        Body::Empty => {}
        Body::Full(b) => conn.send_data(b).map_err(io_err)?,
        Body::Stream(mut r) => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Ok(false), // cut: the client sees an incomplete body
                };
                conn.send_data(Bytes::copy_from_slice(&buf[..n]))
                    .map_err(io_err)?;
                drv.flush(conn)?;
            }
        }
        Body::File(src, segments) => {
            let zero_copy = drv.sock.zero_copy();
            for seg in segments {
                match seg {
                    Segment::Bytes(b) => conn.send_data(b).map_err(io_err)?,
                    Segment::File(a, b) => {
                        let Ok(mut chunks) = src.chunks(a, b, CHUNK, zero_copy) else {
                            return Ok(false);
                        };
                        loop {
                            match chunks.next_chunk() {
                                Ok(Some(data)) => {
                                    conn.send_data(data).map_err(io_err)?;
                                    drv.flush(conn)?;
                                }
                                Ok(None) => break,
                                // Changed or unreadable: cut the response.
                                Err(_) => return Ok(false),
                            }
                        }
                    }
                }
            }
        }
        Body::Upgrade(f) => {
            drv.flush(conn)?;
            if conn.is_switched() {
                let io = std::mem::replace(&mut drv.sock, Box::new(ClosedSocket));
                let read_ahead = drv.buf.split().freeze();
                f(Upgraded { io, read_ahead });
                return Ok(false);
            }
        }
    }
    conn.send_end(Instant::now(), None).map_err(io_err)?;
    Ok(true)
}

/// Placeholder left in a driver whose socket was handed off.
struct ClosedSocket;

impl Read for ClosedSocket {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for ClosedSocket {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket for ClosedSocket {
    fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}
