//! TLS with rustls for blocking sockets: the runtime-neutral configuration
//! and byte pump from [`wireloom_io::tls`], plus a blocking stream.
//!
//! See [`wireloom_io::tls`] for an example of the pump without any socket.
//!
//! ```
//! let _ = wireloom_blocking::tls::DEFAULT_HANDSHAKE_TIMEOUT;
//! ```

mod stream;

pub use stream::{SocketTimeouts, TlsStream, Transport};
pub use wireloom_io::tls::*;
mod glue;

pub use glue::acceptor;
pub(crate) use glue::client_handshake;
