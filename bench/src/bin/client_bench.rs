//! The wireloom HTTP clients against the crates a user would otherwise
//! pick, N keep-alive `GET /plaintext` per contestant per round, alternated
//! over several rounds. Three groups (`--groups`, default all three):
//!
//! - `blocking`: wireloom-blocking's `Agent` vs ureq 3, requests in a row
//!   through one reused agent each;
//! - `async`: wireloom-tokio's `Agent` vs reqwest's `Client` (HTTP/1.1
//!   only, no TLS), requests in a row from one task, both on one
//!   current-thread tokio runtime (the same runtime for both);
//! - `async-concurrent`: the same two agents, the N requests shared by
//!   `--concurrency` (64) tasks spawned on that runtime (each takes the
//!   next request until N are done), so each agent keeps up to 64
//!   connections in its pool. wireloom's per-host idle limit (core
//!   `PoolConfig::max_idle_per_key`, default 8) is raised to the
//!   concurrency; reqwest keeps any number by default.
//!
//! ```text
//! client_bench [--url URL] [--requests 10000] [--rounds 5] [--warmup 500]
//!              [--server hyper|wireloom] [--groups blocking,async,async-concurrent]
//!              [--concurrency 64] [--only NAME]
//! ```
//!
//! `--only NAME` runs only the contestants whose name contains NAME (for a
//! profiler: `perf record -g client_bench --groups async --only wireloom`);
//! no ratio is printed then.
//!
//! With `--url`, the server is whatever answers there (`bench/load.sh`
//! starts `hyper_server` pinned to core 0 and runs this pinned to core 1).
//! Without it, a server is started in-process on 127.0.0.1 (hyper on a
//! current-thread tokio runtime, or wireloom-blocking's server) on a thread
//! of its own, unpinned.
//!
//! Every response is checked (status 200, body `Hello, World!`) and read to
//! its end. Prints one line per round and, per group, a Markdown table of
//! medians and the ratios wireloom / peer. Client CPU time is the calling
//! thread's (`/proc/thread-self/schedstat`): the tokio runtime is
//! current-thread, so every task of both async clients runs there (the URLs
//! are IP literals: no resolver thread), and an in-process server's
//! threads are left out.

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, World!";

struct Opts {
    url: Option<String>,
    requests: usize,
    rounds: usize,
    warmup: usize,
    server: String,
    groups: Vec<String>,
    concurrency: usize,
    only: Option<String>,
}

const GROUPS: [&str; 3] = ["blocking", "async", "async-concurrent"];

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        url: None,
        requests: 10_000,
        rounds: 5,
        warmup: 500,
        server: "hyper".into(),
        groups: GROUPS.iter().map(|g| g.to_string()).collect(),
        concurrency: 64,
        only: None,
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
            "--concurrency" => o.concurrency = num(&v)?.clamp(1, 10_000),
            "--only" => o.only = Some(v),
            "--groups" => {
                o.groups = v.split(',').map(str::to_string).collect();
                if let Some(g) = o.groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                    return Err(format!("unknown group {g} ({})", GROUPS.join(", ")));
                }
            }
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

/// Runs `n` requests made by `one`: in a row from this task when `tasks`
/// is 1, else from `tasks` tasks spawned on the current runtime, each
/// taking the next request until `n` are done.
async fn fan_out<F, Fut>(tasks: usize, n: usize, one: F) -> Result<(), String>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    if tasks <= 1 {
        for _ in 0..n {
            one().await?;
        }
        return Ok(());
    }
    let left = Arc::new(AtomicUsize::new(n));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks.min(n) {
        let left = Arc::clone(&left);
        let one = one.clone();
        set.spawn(async move {
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |k| k.checked_sub(1))
                .is_ok()
            {
                one().await?;
            }
            Ok::<(), String>(())
        });
    }
    let mut first_error = Ok(());
    while let Some(r) = set.join_next().await {
        let r = r.map_err(|e| format!("task: {e}")).and_then(|r| r);
        if first_error.is_ok() {
            first_error = r;
        }
    }
    first_error
}

/// wireloom-tokio's agent on the shared current-thread runtime.
struct WireloomTokio {
    rt: Arc<tokio::runtime::Runtime>,
    agent: wireloom_tokio::client::Agent,
    tasks: usize,
}

impl WireloomTokio {
    fn new(rt: Arc<tokio::runtime::Runtime>, tasks: usize) -> WireloomTokio {
        use wireloom_tokio::client::{Agent, AgentConfig, PoolConfig};
        // Room in the pool for every task's connection (default 8 per
        // host: more would be closed and reopened all the time).
        let pool = PoolConfig {
            max_idle_per_key: tasks.max(PoolConfig::default().max_idle_per_key),
            max_idle: tasks.max(PoolConfig::default().max_idle),
            ..PoolConfig::default()
        };
        let agent = Agent::with_config(AgentConfig {
            pool,
            ..AgentConfig::default()
        });
        WireloomTokio { rt, agent, tasks }
    }
}

impl Client for WireloomTokio {
    fn name(&self) -> &'static str {
        "wireloom-tokio"
    }
    fn run(&self, url: &str, n: usize) -> Result<(), String> {
        let agent = self.agent.clone();
        let url: Arc<str> = url.into();
        self.rt.block_on(fan_out(self.tasks, n, move || {
            let agent = agent.clone();
            let url = Arc::clone(&url);
            async move {
                let res = agent.get(&url).send().await.map_err(|e| e.to_string())?;
                if res.status().as_u16() != 200 {
                    return Err(format!("status {}", res.status().as_u16()));
                }
                let body = res.bytes(1 << 20).await.map_err(|e| e.to_string())?;
                if body != BODY {
                    return Err(format!("unexpected body {body:?}"));
                }
                Ok(())
            }
        }))
    }
}

/// reqwest's client on the same runtime.
struct Reqwest {
    rt: Arc<tokio::runtime::Runtime>,
    client: reqwest::Client,
    tasks: usize,
}

impl Client for Reqwest {
    fn name(&self) -> &'static str {
        "reqwest 0.13"
    }
    fn run(&self, url: &str, n: usize) -> Result<(), String> {
        let client = self.client.clone();
        let url: Arc<str> = url.into();
        self.rt.block_on(fan_out(self.tasks, n, move || {
            let client = client.clone();
            let url = Arc::clone(&url);
            async move {
                let res = client.get(&*url).send().await.map_err(|e| e.to_string())?;
                if res.status().as_u16() != 200 {
                    return Err(format!("status {}", res.status().as_u16()));
                }
                let body = res.bytes().await.map_err(|e| e.to_string())?;
                if body != BODY {
                    return Err(format!("unexpected body {body:?}"));
                }
                Ok(())
            }
        }))
    }
}

/// Starts the in-process server; returns its `/plaintext` URL.
/// (wireloom-blocking's is thread per connection: `threads` workers.)
fn start_server(kind: &str, threads: usize) -> Result<String, String> {
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
            .and_then(|b| b.threads(threads).router(router).build())
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
                "client_bench: {e}\nusage: client_bench [--url URL] [--requests N] [--rounds N] [--warmup N] [--server hyper|wireloom] [--groups blocking,async,async-concurrent] [--concurrency N] [--only NAME]"
            );
            return ExitCode::from(2);
        }
    };
    let url = match &o.url {
        Some(u) => u.clone(),
        None => match start_server(&o.server, o.concurrency + 8) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("client_bench: server: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    println!(
        "client_bench: {} keep-alive GETs of {url} per client per round, {} rounds, {} warm-up",
        o.requests, o.rounds, o.warmup
    );
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("client_bench: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    for group in &o.groups {
        let (title, clients): (String, [Box<dyn Client>; 2]) = match group.as_str() {
            "blocking" => (
                "blocking clients, requests in a row".into(),
                [
                    Box::new(Wireloom(wireloom_blocking::client::Agent::new())),
                    Box::new(Ureq(ureq::Agent::new_with_defaults())),
                ],
            ),
            _ => {
                let tasks = if group == "async" { 1 } else { o.concurrency };
                let client = match reqwest::Client::builder().build() {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("client_bench: reqwest: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let title = if tasks == 1 {
                    "async clients on one current-thread tokio runtime, requests in a row from one task".into()
                } else {
                    format!("async clients on one current-thread tokio runtime, from {tasks} concurrent tasks")
                };
                (
                    title,
                    [
                        Box::new(WireloomTokio::new(Arc::clone(&rt), tasks)),
                        Box::new(Reqwest {
                            rt: Arc::clone(&rt),
                            client,
                            tasks,
                        }),
                    ],
                )
            }
        };
        if let Err(e) = run_group(&o, &url, group, &title, &clients) {
            eprintln!("client_bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Warms both clients up, runs the alternating rounds and prints the
/// group's table and ratios.
fn run_group(
    o: &Opts,
    url: &str,
    group: &str,
    title: &str,
    clients: &[Box<dyn Client>; 2],
) -> Result<(), String> {
    println!();
    println!("== {group}: {title}");
    let runs: Vec<bool> = clients
        .iter()
        .map(|c| o.only.as_deref().is_none_or(|n| c.name().contains(n)))
        .collect();
    for c in clients
        .iter()
        .zip(&runs)
        .filter(|(_, r)| **r)
        .map(|(c, _)| c)
    {
        c.run(url, o.warmup.max(1))
            .map_err(|e| format!("{} warm-up failed: {e}", c.name()))?;
    }
    let mut rates = [Vec::new(), Vec::new()];
    let mut times = [Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        // Alternate which client goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            if !runs[i] {
                continue;
            }
            let c = &clients[i];
            let cpu0 = thread_cpu();
            let t0 = Instant::now();
            c.run(url, o.requests)
                .map_err(|e| format!("{} failed: {e}", c.name()))?;
            let dt = t0.elapsed();
            let cpu = match (cpu0, thread_cpu()) {
                (Some(a), Some(b)) => (b - a).as_secs_f64() * 1e6 / o.requests as f64,
                _ => f64::NAN,
            };
            let rate = o.requests as f64 / dt.as_secs_f64();
            println!(
                "round {} {group} {:<18} {:>8.1} ms {:>10.0} req/s {:>7.2} us CPU/request",
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
    if runs.contains(&false) {
        return Ok(());
    }
    let med_rate = [median(&mut rates[0]), median(&mut rates[1])];
    let med_time = [median(&mut times[0]), median(&mut times[1])];
    let med_cpu = [median(&mut cpus[0]), median(&mut cpus[1])];
    println!();
    println!(
        "| client ({group}) | median total for {} GETs (ms) | median req/s | median client CPU per request (us) | req/s, all rounds |",
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
        "ratio {} / {} ({group}): {:.2} in median req/s; {:.2} in median client CPU per request",
        clients[0].name(),
        clients[1].name(),
        med_rate[0] / med_rate[1],
        med_cpu[0] / med_cpu[1]
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
