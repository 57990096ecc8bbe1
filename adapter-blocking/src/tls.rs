//! TLS with rustls: configuration loading and the byte pump (in progress).
