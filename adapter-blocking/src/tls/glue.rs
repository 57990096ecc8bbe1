//! How the HTTP server, the HTTP client and the SMTP client use TLS: the
//! [`Socket`] implementation for TLS streams, the server [`acceptor`], and
//! [`ClientTlsConfig`] as a [`TlsConnector`].

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ClientTlsConfig, ServerTlsConfig, TlsError, TlsStream, Transport};
use crate::driver::{Socket, TlsConnector};

impl Socket for TlsStream<TcpStream> {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_read_timeout(d)
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_write_timeout(d)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        let _ = self.shutdown();
        match self.get_ref().shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
    fn is_tls(&self) -> bool {
        true
    }
    fn server_name(&self) -> Option<&str> {
        TlsStream::server_name(self)
    }
}

impl Socket for Transport {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        Transport::set_read_timeout(self, d)
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        Transport::set_write_timeout(self, d)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Transport::shutdown_write(self)
    }
    fn zero_copy(&self) -> bool {
        !self.is_tls()
    }
    fn is_tls(&self) -> bool {
        Transport::is_tls(self)
    }
    fn server_name(&self) -> Option<&str> {
        match self {
            Transport::Tls(s) => s.server_name(),
            Transport::Plain(_) => None,
        }
    }
}

/// A server [`Acceptor`](crate::server::Acceptor) that completes the TLS
/// handshake within the configuration's handshake timeout. A peer that ends
/// without close_notify is treated as a plain EOF, as HTTP clients commonly do.
pub fn acceptor(config: ServerTlsConfig) -> crate::server::Acceptor {
    let config = Arc::new(config);
    Arc::new(move |tcp: TcpStream| {
        let mut s = TlsStream::server(tcp, &config).map_err(io::Error::from)?;
        s.handshake(Instant::now() + config.handshake_timeout())
            .map_err(io::Error::from)?;
        s.set_accept_truncation(true);
        Ok(Box::new(s) as Box<dyn Socket>)
    })
}

/// The client handshake both clients run on a connected TCP stream (HTTPS
/// from the start; SMTP at connect or after STARTTLS): certificate checked
/// for `server_name`, within the configuration's handshake timeout. A server
/// that ends without close_notify reads as a plain EOF (the protocols above
/// frame their own data).
pub(crate) fn client_handshake(
    config: &ClientTlsConfig,
    tcp: TcpStream,
    server_name: &str,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let mut s = TlsStream::client(tcp, config, server_name)?;
    s.handshake(Instant::now() + config.handshake_timeout())?;
    s.set_accept_truncation(true);
    Ok(s)
}

impl TlsConnector for ClientTlsConfig {
    fn connect(&self, tcp: TcpStream, server_name: &str) -> io::Result<Box<dyn Socket>> {
        let s = client_handshake(self, tcp, server_name).map_err(io::Error::from)?;
        Ok(Box::new(s))
    }
}
