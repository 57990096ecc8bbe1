//! aiosmtpd for the blocking client's tests (the peer itself is shared by
//! every adapter: `common/smtp_peers.rs`).
#![allow(dead_code)]

use wireloom_blocking::smtp::{Security, SmtpClientBuilder};

pub use crate::common::smtp_peers::{data, Aiosmtpd};

impl Aiosmtpd {
    /// A builder for this server, trusting the test CA, certificate checked
    /// for `localhost`.
    pub fn client(&self, security: Security) -> SmtpClientBuilder {
        self.builder(security)
    }
}
