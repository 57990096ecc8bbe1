//! Scenarios shared by the adapters' tests: the async HTTP and SMTP
//! clients against real peers, written once over
//! [`Runtime`](wireloom_io::rt::Runtime) (the engine in `wireloom-io` is
//! written once too, so each async adapter runs the same scenarios on its
//! own runtime), and the client examples' command lines.
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
pub mod smtp;
pub mod ws;
