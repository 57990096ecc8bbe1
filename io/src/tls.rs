//! TLS with rustls: configuration loading and a sans-IO byte pump.
//!
//! Everything here is runtime-neutral: every adapter builds the same
//! [`ServerTlsConfig`] / [`ClientTlsConfig`] and drives the same [`TlsPump`].
//!
//! ```text
//!  socket bytes ──► TlsPump::handle_ciphertext ──► plaintext BytesMut ──► Dialogue::handle_input
//!  socket bytes ◄── TlsPump::poll_ciphertext   ◄── TlsPump::write_plaintext ◄── Dialogue::poll_transmit
//! ```
//!
//! # Example
//!
//! A server configuration from PEM bytes, a client that trusts only a custom
//! CA, and a complete handshake plus one message between two pumps, with
//! no socket at all (certificates made by rcgen for the example):
//!
//! ```
//! use bytes::BytesMut;
//! use wireloom_io::tls::{ClientTlsConfig, ServerTlsConfig, TlsPump};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
//! # let ca_key = KeyPair::generate()?;
//! # let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
//! # ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! # let ca_cert = ca_params.self_signed(&ca_key)?;
//! # let issuer = Issuer::new(ca_params, ca_key);
//! # let leaf_key = KeyPair::generate()?;
//! # let leaf = CertificateParams::new(vec!["localhost".to_string()])?
//! #     .signed_by(&leaf_key, &issuer)?;
//! // PEM text, as read from files (`ServerTlsConfig::from_pem_files` reads paths).
//! let (ca_pem, cert_pem, key_pem) = (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem());
//!
//! let server = ServerTlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
//! let client = ClientTlsConfig::builder()
//!     .only_custom_roots()
//!     .add_root_pem(ca_pem.as_bytes())?
//!     .build()?;
//!
//! let mut c: TlsPump = client.connect("localhost")?;
//! let mut s: TlsPump = server.accept()?;
//! c.write_plaintext(b"hello")?; // buffered until the handshake completes
//!
//! let (mut c_plain, mut s_plain) = (BytesMut::new(), BytesMut::new());
//! for _ in 0..10 {
//!     // Shuttle ciphertext both ways, as a driver does with a socket.
//!     while let Some(mut wire) = c.poll_ciphertext().map(BytesMut::from) {
//!         s.handle_ciphertext(&mut wire, &mut s_plain)?;
//!     }
//!     while let Some(mut wire) = s.poll_ciphertext().map(BytesMut::from) {
//!         c.handle_ciphertext(&mut wire, &mut c_plain)?;
//!     }
//! }
//! assert!(!c.is_handshaking() && !s.is_handshaking());
//! assert_eq!(&s_plain[..], b"hello");
//! assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
//! assert_eq!(s.server_name(), Some("localhost"));
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod pump;

pub use config::{
    certificates_from_pem, crypto_provider, private_key_from_pem, server_name, CertResolver,
    ClientTlsConfig, ClientTlsConfigBuilder, Identity, ServerTlsConfig, ServerTlsConfigBuilder,
    ALPN_HTTP11, DEFAULT_HANDSHAKE_TIMEOUT,
};
pub use error::TlsError;
pub use pump::{PeerClose, TlsPump};
