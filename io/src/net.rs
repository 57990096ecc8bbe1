//! Socket set-up shared by every adapter.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// A listening TCP socket on `addr` with `SO_REUSEADDR` and `backlog`.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    Ok(TcpListener::from(s))
}
