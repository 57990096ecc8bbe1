//! The async HTTP client on async-std and smol against real servers
//! started here on 127.0.0.1: nginx (plain and TLS) and Python's
//! http.server. The scenarios are the ones every async adapter runs
//! (`wireloom_testkit::scenarios::client`), each under every executor.

mod common;

use common::each_executor;
use wireloom_testkit::scenarios::client as scenarios;

#[test]
fn agent_against_nginx() {
    each_executor(scenarios::agent_against_nginx);
}

#[test]
fn agent_against_nginx_tls() {
    each_executor(scenarios::agent_against_nginx_tls);
}

#[test]
fn agent_against_python_http_server() {
    each_executor(scenarios::agent_against_python_http_server);
}
