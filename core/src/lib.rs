//! wireloom-core: the sans-IO protocol core of wireloom.
//!
//! Placeholder crate docs; replaced when the HTTP core lands.

#![forbid(unsafe_code)]

mod dialogue;
pub mod http;
pub mod mime;
pub mod smtp;

pub use dialogue::Dialogue;
