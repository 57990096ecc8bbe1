//! wireloom-blocking's SMTP client against lettre's `SmtpTransport`, end
//! to end over loopback to Postfix `smtp-sink`: 1,000 small messages, then
//! 20 messages with a 5 MiB attachment, each batch over one connection,
//! alternated over several rounds.
//!
//! ```text
//! smtp_bench [--rounds 5] [--small 1000] [--large 20] [--large-mib 5]
//!            [--sink HOST:PORT] [--sink-cpu 0] [--only NAME]
//! ```
//!
//! `--only` runs the contestants whose name contains NAME (for profiling).
//!
//! Without `--sink`, starts `/usr/sbin/smtp-sink` on a free loopback port
//! (`-u nobody` when run as root), pinned with `taskset` to `--sink-cpu`
//! when taskset is installed; run this binary pinned to the other core
//! (`taskset -c 1`). smtp-sink answers every command at once, advertises
//! PIPELINING (not CHUNKING) and discards the mail.
//!
//! Contestants, each timed from connect to the QUIT reply (one connection
//! per batch, so the handshake is amortised):
//!
//! - `wireloom-blocking`: `SmtpConnection::send` in a loop (PIPELINING on,
//!   its default: MAIL, RCPT and DATA go out in one write);
//! - `lettre SmtpTransport`: lettre 0.11's `SmtpTransport` with its pool
//!   limited to one connection, `send_raw` in a loop: what a lettre user
//!   who reuses a connection writes. lettre does not pipeline, and the pool
//!   checks the connection with a NOOP before every message;
//! - `lettre SmtpConnection`: lettre's lower-level connection, `send` in a
//!   loop: no pool, so no NOOP (to show what the NOOP costs);
//! - `wireloom, no PIPELINING`: wireloom-blocking with `use_pipelining`
//!   off (one command per round trip, as lettre), to show what PIPELINING
//!   buys.
//!
//! Every contestant sends the same octets: messages built once with the
//! wireloom MIME builder and rendered (a ~500-octet text message; a
//! message with a 5 MiB pseudo-random attachment, ~6.9 MB base64), with the
//! same envelope. Every send must succeed. Prints one line per batch and a
//! Markdown table of medians (messages/s) with the ratios to lettre.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use lettre::address::Envelope as LettreEnvelope;
use lettre::transport::smtp::client::SmtpConnection as LettreConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{SmtpTransport, Transport};
use wireloom_blocking::smtp::{Envelope, Security, SmtpClient};
use wireloom_core::mime::Message;

struct Opts {
    rounds: usize,
    small: usize,
    large: usize,
    large_mib: usize,
    sink: Option<String>,
    sink_cpu: usize,
    only: Option<String>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        rounds: 5,
        small: 1000,
        large: 20,
        large_mib: 5,
        sink: None,
        sink_cpu: 0,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|_| format!("bad {a} {v}"));
        match a.as_str() {
            "--rounds" => o.rounds = num(&v)?.clamp(1, 100),
            "--small" => o.small = num(&v)?.clamp(1, 1_000_000),
            "--large" => o.large = num(&v)?.clamp(0, 10_000),
            "--large-mib" => o.large_mib = num(&v)?.clamp(1, 100),
            "--sink" => o.sink = Some(v),
            "--sink-cpu" => o.sink_cpu = num(&v)?,
            "--only" => o.only = Some(v),
            _ => return Err(format!("unknown argument {a} {v}")),
        }
    }
    Ok(o)
}

const FROM: &str = "sender@example.org";
const TO: &str = "rcpt@example.net";

/// One client under test: sends `n` copies of `message` over one
/// connection, connect to QUIT.
trait Contestant {
    fn name(&self) -> &'static str;
    fn run(&self, addr: SocketAddr, message: &Bytes, n: usize) -> Result<(), String>;
}

/// wireloom-blocking, with PIPELINING (its default) or without.
struct Wireloom {
    pipelining: bool,
}

impl Contestant for Wireloom {
    fn name(&self) -> &'static str {
        if self.pipelining {
            "wireloom-blocking"
        } else {
            "wireloom, no PIPELINING"
        }
    }
    fn run(&self, addr: SocketAddr, message: &Bytes, n: usize) -> Result<(), String> {
        let pipelining = self.pipelining;
        let client = SmtpClient::builder(addr.to_string())
            .hello_name("bench.example.org")
            .security(Security::None)
            .configure(|c| c.use_pipelining = pipelining)
            .build()
            .map_err(|e| e.to_string())?;
        let mut conn = client.connect().map_err(|e| e.to_string())?;
        let envelope = Envelope::new(FROM, [TO]);
        for _ in 0..n {
            let d = conn
                .send(&envelope, message.clone())
                .map_err(|e| e.to_string())?;
            if !d.recipients.iter().all(|r| r.accepted()) {
                return Err(format!("refused: {d:?}"));
            }
        }
        conn.quit().map_err(|e| e.to_string())
    }
}

fn lettre_envelope() -> LettreEnvelope {
    LettreEnvelope::new(Some(FROM.parse().unwrap()), vec![TO.parse().unwrap()]).unwrap()
}

/// lettre writes `\r\n.\r\n` after the message: it gets the message
/// without its final CRLF, so the server receives the same octets.
fn for_lettre(message: &[u8]) -> &[u8] {
    message.strip_suffix(b"\r\n").unwrap_or(message)
}

struct LettreTransport;

impl Contestant for LettreTransport {
    fn name(&self) -> &'static str {
        "lettre SmtpTransport"
    }
    fn run(&self, addr: SocketAddr, message: &Bytes, n: usize) -> Result<(), String> {
        let transport = SmtpTransport::builder_dangerous(addr.ip().to_string())
            .port(addr.port())
            .hello_name(ClientId::Domain("bench.example.org".into()))
            .pool_config(PoolConfig::new().max_size(1))
            .build();
        let envelope = lettre_envelope();
        let message = for_lettre(message);
        for _ in 0..n {
            let r = transport
                .send_raw(&envelope, message)
                .map_err(|e| e.to_string())?;
            if !r.is_positive() {
                return Err(format!("refused: {r:?}"));
            }
        }
        // Dropping the transport closes the pooled connection with QUIT.
        transport.shutdown();
        Ok(())
    }
}

struct LettreConn;

impl Contestant for LettreConn {
    fn name(&self) -> &'static str {
        "lettre SmtpConnection"
    }
    fn run(&self, addr: SocketAddr, message: &Bytes, n: usize) -> Result<(), String> {
        let mut conn = LettreConnection::connect(
            addr,
            Some(Duration::from_secs(60)),
            &ClientId::Domain("bench.example.org".into()),
            None,
            None,
        )
        .map_err(|e| e.to_string())?;
        let envelope = lettre_envelope();
        let message = for_lettre(message);
        for _ in 0..n {
            let r = conn.send(&envelope, message).map_err(|e| e.to_string())?;
            if !r.is_positive() {
                return Err(format!("refused: {r:?}"));
            }
        }
        conn.quit().map(drop).map_err(|e| e.to_string())
    }
}

/// Postfix smtp-sink, killed on drop.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(cpu: usize) -> Result<(Sink, SocketAddr), String> {
    let sink = "/usr/sbin/smtp-sink";
    if !Path::new(sink).exists() {
        return Err("smtp-sink not found (apt-get install postfix)".into());
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let taskset = Path::new("/usr/bin/taskset").exists();
    let mut cmd = if taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", &cpu.to_string(), sink]);
        c
    } else {
        Command::new(sink)
    };
    if root {
        cmd.args(["-u", "nobody"]);
    }
    let child = cmd
        .arg(format!("127.0.0.1:{port}"))
        .arg("100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let sink = Sink(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > until {
            return Err("smtp-sink did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((sink, addr))
}

fn messages(large_mib: usize) -> (Bytes, Bytes) {
    let base = || {
        Message::builder()
            .from(format!("Sender <{FROM}>").as_str())
            .to(format!("Recipient <{TO}>").as_str())
            .subject("Quarterly report")
            .date(UNIX_EPOCH + Duration::from_secs(1_764_630_303))
            .message_id("<bench@example.org>")
    };
    let small = base()
        .text("Hello,\n\nthe figures for the quarter are in, see the usual place.\n\n-- \nSender\n")
        .build()
        .expect("small message");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..large_mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let large = base()
        .text("The report is attached.\n")
        .attachment("application/octet-stream", "report.bin", data)
        .build()
        .expect("large message");
    (small.to_bytes().into(), large.to_bytes().into())
}

/// CPU time this thread has used so far (`/proc/thread-self/schedstat`).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
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
                "smtp_bench: {e}\nusage: smtp_bench [--rounds N] [--small N] [--large N] [--large-mib N] [--sink HOST:PORT] [--sink-cpu N] [--only NAME]"
            );
            return ExitCode::from(2);
        }
    };
    let (_sink, addr) = match &o.sink {
        Some(s) => match s.parse() {
            Ok(a) => (None, a),
            Err(_) => {
                eprintln!("smtp_bench: --sink wants IP:PORT");
                return ExitCode::from(2);
            }
        },
        None => match start_sink(o.sink_cpu) {
            Ok((s, a)) => (Some(s), a),
            Err(e) => {
                eprintln!("smtp_bench: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let (small, large) = messages(o.large_mib);
    let contestants: [Box<dyn Contestant>; 4] = [
        Box::new(Wireloom { pipelining: true }),
        Box::new(LettreTransport),
        Box::new(LettreConn),
        Box::new(Wireloom { pipelining: false }),
    ];
    let mut workloads = vec![(
        format!("{} small ({} octets)", o.small, small.len()),
        &small,
        o.small,
    )];
    if o.large > 0 {
        workloads.push((
            format!(
                "{} with {} MiB attached ({} octets)",
                o.large,
                o.large_mib,
                large.len()
            ),
            &large,
            o.large,
        ));
    }
    println!(
        "smtp_bench: smtp-sink at {addr}, {} rounds, contestants alternated",
        o.rounds
    );
    // Warm-up: a few messages each.
    for c in &contestants {
        if let Err(e) = c.run(addr, &small, 20) {
            eprintln!("smtp_bench: {} warm-up failed: {e}", c.name());
            return ExitCode::FAILURE;
        }
    }
    for (label, message, n) in &workloads {
        let k = contestants.len();
        let mut rates = vec![Vec::new(); k];
        let mut cpus = vec![Vec::new(); k];
        println!("\n{label}:");
        for round in 0..o.rounds {
            // Rotate who goes first.
            for j in 0..k {
                let i = (round + j) % k;
                let c = &contestants[i];
                if o.only
                    .as_ref()
                    .is_some_and(|n| !c.name().contains(n.as_str()))
                {
                    continue;
                }
                let cpu0 = thread_cpu();
                let t0 = Instant::now();
                if let Err(e) = c.run(addr, message, *n) {
                    eprintln!("smtp_bench: {} failed: {e}", c.name());
                    return ExitCode::FAILURE;
                }
                let dt = t0.elapsed();
                let cpu = match (cpu0, thread_cpu()) {
                    (Some(a), Some(b)) => (b - a).as_secs_f64() * 1e6 / *n as f64,
                    _ => f64::NAN,
                };
                let rate = *n as f64 / dt.as_secs_f64();
                println!(
                    "round {} {:<22} {:>9.1} ms {:>9.1} msg/s {:>9.1} us client CPU/msg",
                    round + 1,
                    c.name(),
                    dt.as_secs_f64() * 1e3,
                    rate,
                    cpu
                );
                rates[i].push(rate);
                cpus[i].push(cpu);
            }
        }
        println!();
        println!("| {label} | median msg/s | median client CPU per message (us) | msg/s, all rounds | ratio (msg/s) to lettre SmtpTransport |");
        println!("|---|---:|---:|---|---:|");
        let lettre = median(&rates[1]);
        for i in (0..k).filter(|&i| !rates[i].is_empty()) {
            let mut all = rates[i].clone();
            all.sort_by(f64::total_cmp);
            let all: Vec<String> = all.iter().map(|r| format!("{r:.1}")).collect();
            println!(
                "| {} | {:.1} | {:.1} | {} | {:.2}x |",
                contestants[i].name(),
                median(&rates[i]),
                median(&cpus[i]),
                all.join(", "),
                median(&rates[i]) / lettre
            );
        }
    }
    ExitCode::SUCCESS
}
