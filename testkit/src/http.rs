//! A raw-socket HTTP/1.1 client for exact wire checks: it writes whatever
//! bytes it is given and reads responses one at a time (interim 1xx
//! responses, `Content-Length`, chunked with trailers, or delimited by the
//! close), keeping bytes read past a response for the next one, so
//! pipelined answers can be checked in order.
//!
//! ```no_run
//! use wireloom_testkit::http::{header, Client};
//!
//! # let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
//! let mut c = Client::new(addr);
//! c.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
//! let a = c.response(false).unwrap();
//! let b = c.response(false).unwrap();
//! assert_eq!((a.status, b.status), (200, 200));
//! assert!(c.leftover().is_empty());
//! let r = c.round_trip("GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
//! assert_eq!(header(&r.head, "content-length"), r.header("Content-Length"));
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::net::connect;

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status code.
    pub status: u16,
    /// The head as text: status line and fields, joined by CRLF, without
    /// the blank line.
    pub head: String,
    /// The fields, names and values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// The body (decoded from chunks).
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl Resp {
    /// The first value of `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the response announces `Connection: close`.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// The first value of field `name` (case-insensitive, trimmed) in a
/// response as text (a head, or curl's `-i` output).
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A client connection that reads responses one at a time.
#[derive(Debug)]
pub struct Client {
    /// The socket (10 s timeouts when made by [`Client::new`]).
    pub s: TcpStream,
    buf: Vec<u8>,
    /// Read calls that returned data.
    pub reads: usize,
}

impl Client {
    /// Connects to `addr` (see [`connect`]).
    pub fn new(addr: SocketAddr) -> Client {
        Client::from_stream(connect(addr))
    }

    /// Over an already connected socket.
    pub fn from_stream(s: TcpStream) -> Client {
        Client {
            s,
            buf: Vec::new(),
            reads: 0,
        }
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Sends `req` and reads its final response (with a body unless `req`
    /// is a HEAD request); panics on a read error or an early close.
    pub fn round_trip(&mut self, req: impl AsRef<[u8]>) -> Resp {
        let req = req.as_ref();
        self.send(req);
        self.response(req.starts_with(b"HEAD "))
            .expect("a response")
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.s.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        if n > 0 {
            self.reads += 1;
        }
        Ok(n)
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads one response head (interim ones included).
    pub fn head(&mut self) -> io::Result<Resp> {
        let status_line = self.line()?;
        let status = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.clone()))?;
        let mut head = status_line;
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            head.push_str("\r\n");
            head.push_str(&l);
            let (n, v) = l.split_once(':').unwrap_or((&l, ""));
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        Ok(Resp {
            status,
            head,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
        })
    }

    /// Reads one final response (skipping 1xx), with its body unless it
    /// answers a HEAD request (`head_request`).
    pub fn response(&mut self, head_request: bool) -> io::Result<Resp> {
        let mut r = self.head()?;
        while (100..200).contains(&r.status) && r.status != 101 {
            r = self.head()?;
        }
        if head_request || r.status == 204 || r.status == 304 || r.status == 101 {
            return Ok(r);
        }
        if r.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked"))
        {
            loop {
                let size_line = self.line()?;
                let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, size_line))?;
                if size == 0 {
                    loop {
                        let l = self.line()?;
                        if l.is_empty() {
                            break;
                        }
                        let (n, v) = l.split_once(':').unwrap_or((&l, ""));
                        r.trailers
                            .push((n.trim().to_string(), v.trim().to_string()));
                    }
                    break;
                }
                let data = self.exact(size)?;
                r.body.extend_from_slice(&data);
                self.exact(2)?;
            }
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().unwrap();
            r.body = self.exact(len)?;
        } else {
            // Delimited by the close.
            while self.fill()? > 0 {}
            r.body = std::mem::take(&mut self.buf);
        }
        Ok(r)
    }

    /// True when the server has closed the connection (EOF, or reset)
    /// within the read timeout, with no byte left unread.
    pub fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match self.fill() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ),
        }
    }

    /// Everything until the server closes: the bytes not yet parsed, then
    /// the rest; `Err` on a timeout or a reset.
    pub fn read_to_eof(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// Bytes read but not yet parsed.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}

/// One request on a new connection, its response.
pub fn request(addr: SocketAddr, req: &[u8]) -> Resp {
    Client::new(addr).round_trip(req)
}

/// Sends `req` on a new connection and reads until the server closes it;
/// everything it sent, as text (lossy).
pub fn exchange(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
