//! `microservices`: the classic three-service demo, wireloom style. A
//! `gateway` in front of a `catalogue` (products) and an `orders` service
//! (an in-memory store; it looks prices up in the catalogue), each its
//! own process, talking JSON over wireloom's HTTP client with keep-alive.
//!
//! The same application runs on two servings, picked with `--runtime`:
//! [`blocking`] (wireloom-blocking: a worker pool sized by `--threads`)
//! and [`on_tokio`] (wireloom-tokio). Everything but the serving glue is
//! shared: the routes (by method and path pattern, one regular-expression
//! route), the domain and store, the JSON in and out ([`app`]) and the
//! request-id rule ([`request_id`]) that a middleware applies on each
//! serving and propagates to every call to another service.
//!
//! ```text
//! catalogue --runtime tokio --listen 127.0.0.1:8081
//! orders    --runtime tokio --listen 127.0.0.1:8082 --catalogue http://127.0.0.1:8081
//! gateway   --runtime tokio --listen 127.0.0.1:8080 \
//!           --catalogue http://127.0.0.1:8081 --orders http://127.0.0.1:8082
//! curl -d '{"name":"loom","price_cents":1250}' http://127.0.0.1:8080/products
//! ```

pub mod app;
pub mod blocking;
pub mod on_tokio;
pub mod request_id;

#[path = "../../common/duration.rs"]
mod duration_flag;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use app::{App, Role, Service};
use duration_flag::duration;

/// Largest request or downstream answer body read (1 MiB).
pub const MAX_BODY: usize = 1 << 20;

/// Which serving runs the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// wireloom-blocking: a worker thread pool.
    Blocking,
    /// wireloom-tokio.
    Tokio,
}

/// The command line every program shares.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// Address to listen on (default: 127.0.0.1:8080 gateway, :8081
    /// catalogue, :8082 orders).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Which serving runs the application.
    #[arg(long, value_enum, default_value = "blocking")]
    pub runtime: Runtime,
    /// Worker threads: the blocking server's pool size (connections served
    /// at once); on tokio, runtime worker threads (1: current-thread).
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// The catalogue's base URL (gateway, orders).
    #[arg(long, default_value = "http://127.0.0.1:8081", value_name = "URL")]
    pub catalogue: String,
    /// The orders service's base URL (gateway).
    #[arg(long, default_value = "http://127.0.0.1:8082", value_name = "URL")]
    pub orders: String,
    /// Time allowed to connect to another service (503 past it).
    #[arg(long, default_value = "500ms", value_parser = duration)]
    pub connect_timeout: Duration,
    /// Time another service may take to answer (503 past it).
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub read_timeout: Duration,
}

/// What the servings need to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listening address.
    pub listen: String,
    /// Worker threads.
    pub threads: usize,
    /// The catalogue's base URL.
    pub catalogue: String,
    /// The orders service's base URL.
    pub orders: String,
    /// Connect timeout for calls to other services.
    pub connect_timeout: Duration,
    /// Read timeout for calls to other services.
    pub read_timeout: Duration,
}

impl Settings {
    /// The base URL of `service` (no trailing slash).
    pub fn base(&self, service: Service) -> &str {
        match service {
            Service::Catalogue => self.catalogue.trim_end_matches('/'),
            Service::Orders => self.orders.trim_end_matches('/'),
        }
    }

    /// The URL of `call`.
    pub fn url(&self, call: &app::Call) -> String {
        format!("{}{}", self.base(call.service), call.path)
    }

    /// The HTTP client settings for calls to the other services (either
    /// serving's agent): the timeouts, no redirects.
    pub fn agent_config<T>(&self) -> wireloom_io::http_client::AgentConfig<T> {
        wireloom_io::http_client::AgentConfig {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            write_timeout: self.read_timeout,
            max_redirects: 0,
            ..Default::default()
        }
    }
}

/// Prints the line that says where the program listens (the first line
/// of its output: `<role> (<runtime>) listening on http://ADDR`).
pub fn announce(role: Role, runtime: &str, addrs: &[SocketAddr]) {
    if let Some(a) = addrs.first() {
        println!("{} ({runtime}) listening on http://{a}", role.name());
    }
}

/// The whole program for `role`: flags, then the chosen serving.
pub fn main(role: Role) -> ExitCode {
    let args = Args::parse();
    let default_port = match role {
        Role::Gateway => 8080,
        Role::Catalogue => 8081,
        Role::Orders => 8082,
    };
    let settings = Arc::new(Settings {
        listen: args
            .listen
            .unwrap_or_else(|| format!("127.0.0.1:{default_port}")),
        threads: args.threads.max(1),
        catalogue: args.catalogue,
        orders: args.orders,
        connect_timeout: args.connect_timeout,
        read_timeout: args.read_timeout,
    });
    let app = Arc::new(App::new(role));
    let r = match args.runtime {
        Runtime::Blocking => blocking::serve(app, settings),
        Runtime::Tokio => on_tokio::serve(app, settings),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", role.name());
            ExitCode::FAILURE
        }
    }
}
