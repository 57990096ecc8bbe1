//! SMTP client and server dialogues (RFC 5321).

pub mod address;
pub mod auth;
pub mod dot;
pub mod extensions;
pub mod reply;
pub mod client;
pub mod command;
pub mod server;
