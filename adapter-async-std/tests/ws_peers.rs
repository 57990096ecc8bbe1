//! WebSocket on async-std and smol against real peers: the demo's
//! `/ws/echo` and `/ws/chat` with the Python `websockets` clients (sync and
//! asyncio, with and without permessage-deflate, plain and TLS) and
//! headless Chromium (`chat.html`); the client against the Python
//! `websockets` server; split halves and a handle. The scenarios are
//! `wireloom_testkit::scenarios::ws`, shared by every adapter.

mod common;

use std::sync::Arc;

use wireloom_async_std::AsyncRuntime;
use wireloom_testkit::scenarios::ws;

#[test]
fn demo_with_python_and_chromium_on_smol() {
    let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
    ws::demo_all(&demo, &["--executor", "smol", "--threads", "1"]);
}

#[test]
fn demo_with_python_on_async_std() {
    let demo = wireloom_testkit::example_binary(env!("CARGO_MANIFEST_DIR"), "demo");
    let (_demo, base) =
        wireloom_testkit::examples::serve(&demo, &["--executor", "async-std", "--threads", "2"]);
    ws::demo_with_python(&base, None);
}

#[test]
fn client_against_python_on_one_thread_smol_executor() {
    let rt = AsyncRuntime::shared(Arc::new(smol::Executor::new()));
    rt.block_on(ws::client_against_python(rt.clone()));
}

#[test]
fn client_against_python_on_async_std() {
    let rt = AsyncRuntime::async_std();
    rt.block_on(ws::client_against_python(rt.clone()));
}

#[test]
fn client_split_halves_and_handle() {
    common::each_executor(ws::client_split_and_handle);
}
