//! `proxy`: a streaming HTTP/1.1 reverse proxy (see the crate docs of
//! `wireloom_proxy` for how it is built).
//!
//! ```text
//! proxy --listen 127.0.0.1:8080 --upstream 127.0.0.1:9001,127.0.0.1:9002
//! ```

#[path = "../../common/duration.rs"]
mod duration_flag;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wireloom_core::http::pool::PoolConfig;
use wireloom_core::http::{ClientConfig, ServerConfig};
use wireloom_io::tls::ServerTlsConfig;
use wireloom_proxy::headers::Via;
use wireloom_proxy::upstream::{resolve, Upstreams};
use wireloom_proxy::{Settings, Shared};

use duration_flag::duration;

/// A streaming HTTP/1.1 reverse proxy on wireloom-core's connections.
#[derive(Debug, Parser)]
#[command(name = "proxy", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: String,
    /// Upstream servers, tried round-robin; one that fails is skipped
    /// for --upstream-retry.
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    upstream: Vec<String>,
    /// Certificate chain (PEM) for TLS on the listening side.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<String>,
    /// Private key (PEM) for TLS on the listening side.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<String>,
    /// Worker threads (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Time allowed to connect to an upstream (504 past it).
    #[arg(long, default_value = "5s", value_parser = duration)]
    connect_timeout: Duration,
    /// Time an upstream may take to answer, and longest pause inside its
    /// response body (504 past it, before the response head).
    #[arg(long, default_value = "60s", value_parser = duration)]
    upstream_timeout: Duration,
    /// How long a failed upstream is skipped.
    #[arg(long, default_value = "10s", value_parser = duration)]
    upstream_retry: Duration,
    /// Idle keep-alive connections kept per upstream.
    #[arg(long, default_value_t = 32)]
    keepalive: usize,
    /// How long an idle upstream connection is kept.
    #[arg(long, default_value = "30s", value_parser = duration)]
    keepalive_timeout: Duration,
    /// Time a client has to send a request head (408 past it).
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_timeout: Duration,
    /// Longest pause inside a request body (408 past it).
    #[arg(long, default_value = "30s", value_parser = duration)]
    body_timeout: Duration,
    /// How long an idle client keep-alive connection stays open.
    #[arg(long, default_value = "60s", value_parser = duration)]
    idle_timeout: Duration,
    /// A tunnel (after 101 Switching Protocols) closes after this long
    /// without traffic.
    #[arg(long, default_value = "300s", value_parser = duration)]
    tunnel_timeout: Duration,
    /// A client that reads none of the bytes queued for it for this long
    /// is disconnected.
    #[arg(long, default_value = "30s", value_parser = duration)]
    send_timeout: Duration,
    /// Largest request body in bytes (413 past it); 0 for no limit.
    #[arg(long, default_value_t = 16 << 20)]
    max_body: u64,
    /// Client connections served at once (503 past it).
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// The pseudonym in the Via field.
    #[arg(long, default_value = "wireloom")]
    via: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut addrs = Vec::new();
    for u in &args.upstream {
        match resolve(u) {
            Ok(a) => addrs.push(a),
            Err(e) => {
                eprintln!("proxy: --upstream {u}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => match ServerTlsConfig::from_pem_files(c, k) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("proxy: TLS: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let mut server = ServerConfig {
        head_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        idle_timeout: args.idle_timeout,
        ..ServerConfig::default()
    };
    server.body.max_body = (args.max_body > 0).then_some(args.max_body);
    let client = ClientConfig {
        response_timeout: args.upstream_timeout,
        body_timeout: args.upstream_timeout,
        ..ClientConfig::default()
    };
    let pool = PoolConfig {
        idle_timeout: args.keepalive_timeout,
        max_idle_per_key: args.keepalive,
        max_idle: args.keepalive.saturating_mul(addrs.len()),
    };
    let upstreams = Upstreams::new(
        addrs,
        client,
        pool,
        args.connect_timeout,
        args.upstream_retry,
    );
    let https = tls.is_some();
    let via = match Via::new(&args.via) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("proxy: --via {}: {e}", args.via);
            return ExitCode::from(2);
        }
    };
    let settings = Settings {
        server,
        via,
        tunnel_timeout: args.tunnel_timeout,
        send_timeout: args.send_timeout,
        tls,
        max_connections: args.max_connections,
    };
    let shared = Shared::new(settings, upstreams);

    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.threads);
        b
    }
    .enable_all()
    .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("proxy: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("proxy: cannot listen on {}: {e}", args.listen);
                return ExitCode::from(2);
            }
        };
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let scheme = if https { "https" } else { "http" };
        println!(
            "proxy listening on {scheme}://{local} -> {}",
            args.upstream.join(",")
        );
        wireloom_proxy::run(listener, shared).await;
        ExitCode::SUCCESS
    })
}
