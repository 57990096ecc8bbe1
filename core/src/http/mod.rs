//! HTTP/1.1 (RFC 9110, RFC 9112).

/// placeholder
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// GET
    GET,
}
