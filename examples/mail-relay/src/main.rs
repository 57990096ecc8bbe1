//! `mail-relay`: SMTP in, SMTP out, nothing lost.
//!
//! Accepts mail on a relay listener (`--listen`, for trusted networks) and
//! a submission listener (`--submission`: STARTTLS, then AUTH PLAIN/LOGIN
//! against `--users`), stores each message durably in `--spool` before
//! answering 250, and delivers it to `--smarthost` with retries and
//! bounces. Built on wireloom-blocking: core's SMTP server dialogue for
//! the listeners, core's SMTP client for delivery.
//!
//! ```text
//!  senders ──SMTP──> listener threads ──fsync'd spool──> queue runner ──SMTP──> smarthost
//!   (relay, submission)   (inbound)        (spool)         (outbound)       (PIPELINING)
//!                                                             │ 5xx
//!                                                             └──> bounce to the sender
//! ```
//!
//! Run: `mail-relay --listen 127.0.0.1:2525 --spool /var/spool/relay
//! --smarthost mx.example:25`. On start it prints `listening relay ADDR` /
//! `listening submission ADDR` and `ready`; SIGTERM or ctrl-c ends it
//! gracefully (open transactions finish, the message being delivered is
//! finished and recorded).

#![forbid(unsafe_code)]

mod bounce;
mod inbound;
mod outbound;
mod spool;

use std::collections::HashMap;
use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::Parser;
use wireloom_blocking::core::smtp::auth::Credentials;
use wireloom_blocking::core::smtp::server::ServerConfig;
use wireloom_blocking::smtp::{Security, SmtpClient, StartTls};
use wireloom_blocking::tls::ServerTlsConfig;

use inbound::{Listener, Shared};
use outbound::{Retry, Runner};
use spool::Spool;

/// A mail relay that loses nothing: SMTP in (STARTTLS, AUTH, limits), a
/// durable spool, SMTP out to a smarthost with retries and bounces.
#[derive(Parser, Debug)]
#[command(name = "mail-relay", version)]
struct Args {
    /// Relay listener (no AUTH; STARTTLS offered with --tls-cert). Relays
    /// for anyone who can connect: bind it to a trusted network.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Submission listener: STARTTLS, then AUTH PLAIN/LOGIN required
    /// (needs --tls-cert, --tls-key and --users or --user).
    #[arg(long, value_name = "ADDR")]
    submission: Option<SocketAddr>,
    /// Certificate chain (PEM) for STARTTLS.
    #[arg(long, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for STARTTLS.
    #[arg(long, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Submission users: a file of `user:password` lines (`#` comments).
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// A submission user, `user:password` (repeatable). Visible to every
    /// local user in the process list: for tests; use --users in
    /// production.
    #[arg(long, value_name = "USER:PASS")]
    user: Vec<String>,
    /// Spool directory (created if missing).
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
    /// Where every message goes.
    #[arg(long, value_name = "HOST:PORT")]
    smarthost: String,
    /// Require STARTTLS to the smarthost.
    #[arg(long)]
    smarthost_starttls: bool,
    /// CA certificates (PEM) the smarthost's certificate must chain to
    /// (default: the webpki roots).
    #[arg(long, value_name = "PEM")]
    smarthost_ca: Option<PathBuf>,
    /// Name the smarthost's certificate must carry (default: its host).
    #[arg(long, value_name = "NAME")]
    smarthost_tls_name: Option<String>,
    /// AUTH to the smarthost, `user:password`. Prefer the environment
    /// variable MAIL_RELAY_SMARTHOST_AUTH: a command line is visible to
    /// every local user in the process list.
    #[arg(
        long,
        value_name = "USER:PASS",
        env = "MAIL_RELAY_SMARTHOST_AUTH",
        hide_env_values = true
    )]
    smarthost_auth: Option<String>,
    /// Our host name (greeting, Received, bounces).
    #[arg(long, default_value = "localhost")]
    hostname: String,
    /// Largest message accepted, octets (552 beyond; advertised as SIZE).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_size: u64,
    /// Most recipients per message (452 beyond).
    #[arg(long, default_value_t = 100)]
    max_recipients: usize,
    /// Most `Received:` headers a message may carry (554 5.4.6 beyond: a
    /// mail loop).
    #[arg(long, default_value_t = inbound::DEFAULT_MAX_HOPS)]
    max_hops: usize,
    /// Most connections served at once (further ones are closed at once).
    #[arg(long, default_value_t = 100)]
    max_connections: usize,
    /// Seconds to wait after the first failed delivery attempt (doubles).
    #[arg(long, default_value_t = 60.0)]
    retry_initial: f64,
    /// Longest wait between attempts, seconds.
    #[arg(long, default_value_t = 3600.0)]
    retry_max: f64,
    /// Bounce recipients still undelivered after this many seconds.
    #[arg(long, default_value_t = 5.0 * 86400.0)]
    max_age: f64,
    /// Messages per smarthost connection before QUIT.
    #[arg(long, default_value_t = 100)]
    messages_per_connection: usize,
    /// UNSAFE: skip every fsync (only to measure what durability costs).
    #[arg(long)]
    no_fsync: bool,
    /// Log only errors.
    #[arg(long)]
    quiet: bool,
}

/// Logging to stderr (stdout carries the `listening`/`ready` lines).
#[derive(Clone, Copy, Debug)]
pub struct Log {
    quiet: bool,
}

impl Log {
    /// Normal operation.
    pub fn info(&self, args: fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("mail-relay: {args}");
        }
    }
    /// Something needs attention.
    pub fn error(&self, args: fmt::Arguments<'_>) {
        eprintln!("mail-relay: error: {args}");
    }
}

fn seconds(name: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("--{name}: {s} is not a duration"))
}

fn users(args: &Args) -> Result<HashMap<String, String>, String> {
    let mut lines: Vec<String> = args.user.clone();
    if let Some(path) = &args.users {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--users {}: {e}", path.display()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    lines
        .iter()
        .map(|l| {
            l.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .ok_or_else(|| "a user is `user:password`".to_string())
        })
        .collect()
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mail-relay: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let log = Log { quiet: args.quiet };
    if args.listen.is_none() && args.submission.is_none() {
        return Err("give --listen and/or --submission".into());
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(Arc::new(
            ServerTlsConfig::from_pem_files(c, k).map_err(|e| format!("TLS: {e}"))?,
        )),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let retry = Retry {
        initial: seconds("retry-initial", args.retry_initial)?,
        max: seconds("retry-max", args.retry_max)?,
        max_age: seconds("max-age", args.max_age)?,
    };

    let mut builder = SmtpClient::builder(args.smarthost.clone())
        .hello_name(args.hostname.clone())
        .security(if args.smarthost_starttls {
            Security::StartTls(StartTls::Required)
        } else {
            Security::None
        });
    if let Some(ca) = &args.smarthost_ca {
        builder = builder.ca_pem_file(ca);
    }
    if let Some(name) = &args.smarthost_tls_name {
        builder = builder.tls_server_name(name.clone());
    }
    if let Some(auth) = &args.smarthost_auth {
        let (u, p) = auth
            .split_once(':')
            .ok_or("--smarthost-auth takes user:password")?;
        builder = builder.credentials(Credentials::password(u, p));
    }
    let client = builder.build().map_err(|e| format!("--smarthost: {e}"))?;

    let (spool, recovery) =
        Spool::open(&args.spool, !args.no_fsync).map_err(|e| format!("spool: {e}"))?;
    let spool = Arc::new(spool);
    log.info(format_args!(
        "spool {}: {} queued message(s) resumed, {} interrupted write(s) and {} unacknowledged message(s) deleted",
        args.spool.display(),
        recovery.records.len(),
        recovery.temp_deleted,
        recovery.orphans_deleted
    ));
    if args.no_fsync {
        log.error(format_args!(
            "--no-fsync: a crash can lose acknowledged mail"
        ));
    }

    let mut config = ServerConfig::new(args.hostname.clone());
    config.greeting = "ESMTP wireloom mail-relay".into();
    config.max_message_size = Some(args.max_size);
    config.max_recipients = args.max_recipients;
    let mut listeners = Vec::new();
    if let Some(addr) = args.listen {
        listeners.push(("relay", addr, Listener::relay(config.clone(), tls.clone())));
    }
    if let Some(addr) = args.submission {
        let tls = tls
            .clone()
            .ok_or("--submission needs --tls-cert and --tls-key")?;
        let users = users(&args)?;
        if users.is_empty() {
            return Err("--submission needs --users or --user".into());
        }
        listeners.push((
            "submission",
            addr,
            Listener::submission(config.clone(), tls, Arc::new(users)),
        ));
    }

    let shutdown = Arc::new(AtomicBool::new(false));
    let (queued_tx, queued_rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        spool: Arc::clone(&spool),
        queued: queued_tx,
        shutdown: Arc::clone(&shutdown),
        log,
    });
    let active = Arc::new(AtomicUsize::new(0));

    let mut bound = Vec::new();
    let mut threads = Vec::new();
    for (kind, addr, listener) in listeners {
        let tcp = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let local = tcp.local_addr().map_err(|e| e.to_string())?;
        println!("listening {kind} {local}");
        bound.push(local);
        let shared = Arc::clone(&shared);
        let active = Arc::clone(&active);
        let max = args.max_connections;
        let listener = Arc::new(Listener {
            max_hops: args.max_hops,
            ..listener
        });
        threads.push(std::thread::spawn(move || {
            accept_loop(tcp, listener, shared, active, max)
        }));
    }

    let runner = Runner {
        spool: Arc::clone(&spool),
        client,
        retry,
        per_connection: args.messages_per_connection.max(1),
        hostname: args.hostname.clone(),
        shutdown: Arc::clone(&shutdown),
        log,
        queue: recovery
            .records
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect(),
    };
    let runner = std::thread::spawn(move || runner.run(queued_rx));
    drop(shared);

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| format!("signals: {e}"))?;
    println!("ready");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let sig = signals.forever().next();
    log.info(format_args!("signal {sig:?}: shutting down"));
    shutdown.store(true, Ordering::SeqCst);
    // Wake each accept loop so it sees the flag.
    for addr in bound {
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
    for t in threads {
        let _ = t.join();
    }
    // Open connections finish their transaction (bounded by core's
    // timeouts); give them up to 60 s.
    let until = Instant::now() + Duration::from_secs(60);
    while active.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = runner.join();
    let calls = spool.stats.calls.load(Ordering::Relaxed);
    let nanos = spool.stats.nanos.load(Ordering::Relaxed);
    println!(
        "fsync calls {calls} total_ms {:.1} mean_us {:.1}",
        nanos as f64 / 1e6,
        if calls > 0 {
            nanos as f64 / calls as f64 / 1e3
        } else {
            0.0
        }
    );
    log.info(format_args!("stopped"));
    Ok(())
}

/// Accepts until shutdown; one thread per connection, at most `max`.
fn accept_loop(
    tcp: TcpListener,
    listener: Arc<Listener>,
    shared: Arc<Shared>,
    active: Arc<AtomicUsize>,
    max: usize,
) {
    for stream in tcp.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off briefly instead of spinning.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if active.load(Ordering::SeqCst) >= max {
            shared
                .log
                .info(format_args!("too many connections; a new one gets 421"));
            inbound::busy(stream, &listener);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (listener, shared, active) = (
            Arc::clone(&listener),
            Arc::clone(&shared),
            Arc::clone(&active),
        );
        std::thread::spawn(move || {
            // Released however the thread ends, a panic included.
            let _slot = Slot(active);
            inbound::serve(stream, &listener, &shared);
        });
    }
}

/// One connection slot under --max-connections, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
