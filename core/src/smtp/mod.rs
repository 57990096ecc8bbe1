//! SMTP client and server dialogues (RFC 5321).
