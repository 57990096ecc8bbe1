//! WebSocket on tokio against real peers: the demo's `/ws/echo` and
//! `/ws/chat` with the Python `websockets` clients (sync and asyncio, with
//! and without permessage-deflate, plain and TLS) and headless Chromium
//! (`chat.html`); the client against the Python `websockets` server, on a
//! current-thread and a multi-thread runtime; split halves and a handle.
//! The scenarios are `wireloom_testkit::scenarios::ws`, shared by every
//! adapter.

mod common;

use common::{runtime, Flavor};
use wireloom_testkit::scenarios::ws;
use wireloom_tokio::TokioRuntime;

#[test]
fn demo_with_python_and_chromium() {
    let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
    ws::demo_all(&demo, &["--threads", "1"]);
}

#[test]
fn client_against_python_current_thread() {
    runtime(Flavor::Current).block_on(ws::client_against_python(TokioRuntime));
}

#[test]
fn client_against_python_multi_thread() {
    runtime(Flavor::Multi).block_on(ws::client_against_python(TokioRuntime));
}

#[test]
fn client_split_halves_and_handle() {
    runtime(Flavor::Multi).block_on(ws::client_split_and_handle(TokioRuntime));
}
