//! wireloom-blocking's client against ureq 3: N keep-alive `GET /plaintext`
//! in a row through one reused agent each, alternated over several rounds.
//!
//! ```text
//! client_bench [--url URL] [--requests 10000] [--rounds 5] [--warmup 500]
//!              [--server hyper|wireloom]
//! ```
//!
//! With `--url`, the server is whatever answers there (`bench/load.sh`
//! starts `hyper_server` pinned to core 0 and runs this pinned to core 1).
//! Without it, a server is started in-process on 127.0.0.1 (hyper on a
//! current-thread tokio runtime, or wireloom-blocking's server) on a thread
//! of its own, unpinned.
//!
//! Every response is checked (status 200, body `Hello, World!`). Prints one
//! line per round and a Markdown table of medians.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, World!";

struct Opts {
    url: Option<String>,
    requests: usize,
    rounds: usize,
    warmup: usize,
    server: String,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        url: None,
        requests: 10_000,
        rounds: 5,
        warmup: 500,
        server: "hyper".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|_| format!("bad {a} {v}"));
        match a.as_str() {
            "--url" => o.url = Some(v),
            "--requests" => o.requests = num(&v)?.clamp(1, 10_000_000),
            "--rounds" => o.rounds = num(&v)?.clamp(1, 100),
            "--warmup" => o.warmup = num(&v)?.min(1_000_000),
            "--server" if v == "hyper" || v == "wireloom" => o.server = v,
            _ => return Err(format!("unknown argument {a} {v}")),
        }
    }
    Ok(o)
}

/// One client under test: runs `n` requests, checking each.
trait Client {
    fn name(&self) -> &'static str;
    fn run(&self, url: &str, n: usize) -> Result<(), String>;
}

struct Wireloom(wireloom_blocking::client::Agent);

impl Client for Wireloom {
    fn name(&self) -> &'static str {
        "wireloom-blocking"
    }
    fn run(&self, url: &str, n: usize) -> Result<(), String> {
        for _ in 0..n {
            let res = self.0.get(url).send().map_err(|e| e.to_string())?;
            if res.status().as_u16() != 200 {
                return Err(format!("status {}", res.status().as_u16()));
            }
            let body = res.into_bytes(1 << 20).map_err(|e| e.to_string())?;
            if body != BODY {
                return Err(format!("unexpected body {body:?}"));
            }
        }
        Ok(())
    }
}

struct Ureq(ureq::Agent);

impl Client for Ureq {
    fn name(&self) -> &'static str {
        "ureq 3"
    }
    fn run(&self, url: &str, n: usize) -> Result<(), String> {
        for _ in 0..n {
            let mut res = self.0.get(url).call().map_err(|e| e.to_string())?;
            if res.status() != 200 {
                return Err(format!("status {}", res.status()));
            }
            let body = res.body_mut().read_to_vec().map_err(|e| e.to_string())?;
            if body != BODY {
                return Err(format!("unexpected body {body:?}"));
            }
        }
        Ok(())
    }
}

/// Starts the in-process server; returns its `/plaintext` URL.
fn start_server(kind: &str) -> Result<String, String> {
    if kind == "wireloom" {
        use wireloom_blocking::router::Router;
        use wireloom_blocking::server::{Request, Response, Server};
        use wireloom_core::http::{Method, StatusCode};
        let mut router = Router::new();
        router
            .route(
                Method::GET,
                "/plaintext",
                Server::handler(|_: &mut Request<'_>| {
                    Response::text(StatusCode::OK, "Hello, World!")
                }),
            )
            .map_err(|e| e.to_string())?;
        let handle = Server::builder()
            .bind("127.0.0.1:0")
            .and_then(|b| b.threads(4).router(router).build())
            .and_then(|s| s.spawn())
            .map_err(|e| e.to_string())?;
        let addr = handle.local_addrs()[0];
        // Serves until the process ends.
        std::mem::forget(handle);
        return Ok(format!("http://{addr}/plaintext"));
    }
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
    let state = Arc::new(
        wireloom_bench::hyper_peer::State::new(None, wireloom_bench::hyper_peer::Files::Memory)
            .map_err(|e| e.to_string())?,
    );
    std::thread::Builder::new()
        .name("hyper-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                wireloom_bench::hyper_peer::serve(l, state).await;
            });
        })
        .map_err(|e| e.to_string())?;
    Ok(format!("http://{addr}/plaintext"))
}

/// CPU time this thread has used so far (from `/proc/thread-self/schedstat`,
/// nanoseconds on CPU), when the kernel reports it.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "client_bench: {e}\nusage: client_bench [--url URL] [--requests N] [--rounds N] [--warmup N] [--server hyper|wireloom]"
            );
            return ExitCode::from(2);
        }
    };
    let url = match &o.url {
        Some(u) => u.clone(),
        None => match start_server(&o.server) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("client_bench: server: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let clients: [Box<dyn Client>; 2] = [
        Box::new(Wireloom(wireloom_blocking::client::Agent::new())),
        Box::new(Ureq(ureq::Agent::new_with_defaults())),
    ];
    println!(
        "client_bench: {} keep-alive GETs of {url} per client per round, {} rounds, {} warm-up",
        o.requests, o.rounds, o.warmup
    );
    for c in &clients {
        if let Err(e) = c.run(&url, o.warmup.max(1)) {
            eprintln!("client_bench: {} warm-up failed: {e}", c.name());
            return ExitCode::FAILURE;
        }
    }
    let mut rates = [Vec::new(), Vec::new()];
    let mut times = [Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        // Alternate which client goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let c = &clients[i];
            let cpu0 = thread_cpu();
            let t0 = Instant::now();
            if let Err(e) = c.run(&url, o.requests) {
                eprintln!("client_bench: {} failed: {e}", c.name());
                return ExitCode::FAILURE;
            }
            let dt = t0.elapsed();
            let cpu = match (cpu0, thread_cpu()) {
                (Some(a), Some(b)) => (b - a).as_secs_f64() * 1e6 / o.requests as f64,
                _ => f64::NAN,
            };
            let rate = o.requests as f64 / dt.as_secs_f64();
            println!(
                "round {} {:<18} {:>8.1} ms {:>10.0} req/s {:>7.2} us CPU/request",
                round + 1,
                c.name(),
                ms(dt),
                rate,
                cpu
            );
            rates[i].push(rate);
            times[i].push(ms(dt));
            cpus[i].push(cpu);
        }
    }
    let med_rate = [median(&mut rates[0]), median(&mut rates[1])];
    let med_time = [median(&mut times[0]), median(&mut times[1])];
    let med_cpu = [median(&mut cpus[0]), median(&mut cpus[1])];
    println!();
    println!(
        "| client | median total for {} GETs (ms) | median req/s | median client CPU per request (us) | req/s, all rounds |",
        o.requests
    );
    println!("|---|---:|---:|---:|---|");
    for i in 0..2 {
        let mut all = rates[i].clone();
        all.sort_by(f64::total_cmp);
        let all: Vec<String> = all.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {} | {:.1} | {:.0} | {:.2} | {} |",
            clients[i].name(),
            med_time[i],
            med_rate[i],
            med_cpu[i],
            all.join(", ")
        );
    }
    println!();
    println!(
        "ratio wireloom-blocking / ureq (median req/s): {:.2}; (median client CPU per request): {:.2}",
        med_rate[0] / med_rate[1],
        med_cpu[0] / med_cpu[1]
    );
    ExitCode::SUCCESS
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
