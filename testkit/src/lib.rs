//! Test support shared by the wireloom adapters' integration tests (a
//! dev-dependency only; never published). Everything here is written once
//! for the three adapters, names none of them, and follows the same rules:
//! loopback only, ephemeral ports, every wait bounded, every process it
//! starts stopped by its own handle (never by a name pattern).
//!
//! Its main job, in one runnable example: a test CA and a `localhost` leaf
//! (rcgen), and a server configuration that trusts nothing else:
//!
//! ```
//! let pki = wireloom_testkit::pki::pki();
//! assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let tls = wireloom_io::tls::ServerTlsConfig::from_pem(
//!     pki.localhost.cert_pem.as_bytes(),
//!     pki.localhost.key_pem.as_bytes(),
//! );
//! assert!(tls.is_ok());
//! ```
//!
//! - [`fs`]: fresh temp dirs ([`fs::temp_dir`], [`fs::TempDir`]).
//! - [`net`]: free ports, waits for a listener, bounded polling, scripted
//!   loopback servers (silent, one-shot, a full accept queue).
//! - [`process`]: a child killed when dropped, bounded command runs, curl
//!   and Python.
//! - [`pki`]: a test CA and leaves made by rcgen, server and client TLS
//!   configurations, a blocking rustls client.
//! - [`http`]: a raw-socket HTTP/1.1 client that reads responses one at a
//!   time (pipelining, chunked bodies, trailers).
//! - [`peers`]: nginx and Python's `http.server`, started on 127.0.0.1.
//! - [`smtp`]: aiosmtpd and Postfix `smtp-sink`.
//! - [`ws`]: WebSocket peers: a Python `websockets` echo server, the
//!   Python client scenarios, headless Chromium with `--dump-dom`.
//! - [`data`]: reproducible pseudo-random bytes.
//! - [`examples`]: finding and running an adapter's example binaries.
//! - [`scenarios`]: peer scenarios of the async engine, written once over
//!   [`Runtime`](wireloom_io::rt::Runtime) and run by each async adapter on
//!   its own runtime(s).
//!
//! ```no_run
//! let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
//! let (_demo, url) = wireloom_testkit::examples::serve(&demo, &["--threads", "2"]);
//! let (body, _) = wireloom_testkit::process::curl(&[&format!("{url}/plaintext")]);
//! assert_eq!(body, "Hello, World!");
//! ```
//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | [wireloom-io](https://docs.rs/wireloom-io) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | [wireloom-blocking](https://docs.rs/wireloom-blocking) | the toolkit on `std::net` sockets and threads |
//! | [wireloom-tokio](https://docs.rs/wireloom-tokio) | the toolkit on tokio |
//! | [wireloom-async-std](https://docs.rs/wireloom-async-std) | the toolkit on async-std and smol |
//! | [wireloom-conformance](https://docs.rs/wireloom-conformance) | the conformance corpus and the `wireloom-conformance` CLI |
//! | **wireloom-testkit** (this one) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); each
//! re-exports the core as `core`.

pub mod data;
pub mod examples;
pub mod fs;
pub mod http;
pub mod net;
pub mod peers;
pub mod pki;
pub mod process;
pub mod scenarios;
pub mod smtp;
pub mod trace;
pub mod ws;

pub use examples::example_binary;
