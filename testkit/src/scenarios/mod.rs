//! Scenarios shared by the adapters' tests: the async HTTP and SMTP
//! clients against real peers, written once over
//! [`Runtime`](wireloom_io::rt::Runtime) (the engine in `wireloom-io` is
//! written once too, so each async adapter runs the same scenarios on its
//! own runtime), the client examples' command lines, and the client side
//! of the server tests ([`server`]: each adapter starts its own server).
//!
//! ```no_run
//! # fn run<R: wireloom_io::rt::Runtime>(rt: R) -> impl std::future::Future<Output = ()> {
//! // In an adapter's test, on its runtime:
//! wireloom_testkit::scenarios::client::agent_against_nginx(rt)
//! # }
//! ```

pub mod cli;
pub mod client;
pub mod flags;
pub mod server;
pub mod smtp;
pub mod static_files;
pub mod ws;
