//! The load client of `bench/ws.sh`, one client for every WebSocket echo
//! server: a current-thread tokio runtime (`bench/ws.sh` pins it to core
//! 1) speaking WebSocket itself over raw TCP, so that no contestant's
//! library sits on the client side.
//!
//! ```text
//! ws_load echo --addr 127.0.0.1:PORT [--path /] [--conns 100] [--size 20]
//!              [--duration 5] [--warmup 1]
//! ws_load idle --addr 127.0.0.1:PORT [--path /] [--conns 10000] [--go FILE]
//! ```
//!
//! `echo`: opens `--conns` connections (the opening handshake written and
//! checked here: `101`, no extension offered, so every contestant runs
//! uncompressed), then each connection sends one binary message of
//! `--size` bytes as one masked frame and waits for the whole echo before
//! sending the next: one message in flight per connection. Each
//! connection masks with its own key and builds its frame once (the
//! server unmasks every message all the same; rebuilding the same bytes
//! per message would only spend the client's core). After `--warmup`
//! seconds the count of echoes received starts, and it stops `--duration`
//! seconds later. Every echo is checked (opcode, length, the payload's
//! first and last byte); a mismatch or a closed connection counts as an
//! error and ends that connection. Prints
//! `messages N seconds S msgs_per_sec R errors E`.
//!
//! `idle`: opens `--conns` connections one after the other, each through
//! the handshake, then keeps them open and idle; prints
//! `ready OPEN FAILED FIRST_ERROR`, waits until the file `--go` exists (at
//! most 600 s), counts the connections the server has not closed
//! meanwhile and prints `open K`. For the memory part of `bench/ws.sh`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    mode: String,
    addr: String,
    path: String,
    conns: usize,
    size: usize,
    duration: f64,
    warmup: f64,
    go: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("missing mode (echo or idle)")?;
    if mode != "echo" && mode != "idle" {
        return Err(format!("unknown mode {mode}"));
    }
    let mut a = Args {
        conns: if mode == "echo" { 100 } else { 10_000 },
        mode,
        addr: String::new(),
        path: "/".into(),
        size: 20,
        duration: 5.0,
        warmup: 1.0,
        go: None,
    };
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let bad = |_| format!("bad {k} {v}");
        match k.as_str() {
            "--addr" => a.addr = v,
            "--path" => a.path = v,
            "--conns" => a.conns = v.parse().map_err(bad)?,
            "--size" => a.size = v.parse().map_err(bad)?,
            "--duration" => a.duration = v.parse().map_err(|_| format!("bad {k}"))?,
            "--warmup" => a.warmup = v.parse().map_err(|_| format!("bad {k}"))?,
            "--go" => a.go = Some(v),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.addr.is_empty() {
        return Err("--addr is required".into());
    }
    Ok(a)
}

/// A small xorshift for mask keys and payload bytes (reproducible).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// One masked binary frame (FIN set) carrying `payload`.
fn masked_frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x82);
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// Connects and runs the opening handshake; any bytes read past the
/// response head are returned with the stream.
async fn open(addr: &str, path: &str) -> Result<(TcpStream, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            if !head.starts_with("HTTP/1.1 101") {
                return Err(format!(
                    "no 101: {}",
                    head.lines().next().unwrap_or_default()
                ));
            }
            if !head
                .to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=")
            {
                return Err("wrong or missing Sec-WebSocket-Accept".into());
            }
            return Ok((s, buf.split_off(end + 4)));
        }
        if buf.len() > 16 * 1024 {
            return Err("response head too long".into());
        }
    }
}

/// The header length and payload length of the server frame at the start
/// of `b`, once enough of it is there.
fn frame_len(b: &[u8]) -> Option<(usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    match b[1] & 0x7f {
        126 if b.len() >= 4 => Some((4, u16::from_be_bytes([b[2], b[3]]) as usize)),
        127 if b.len() >= 10 => {
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            Some((10, u64::from_be_bytes(l) as usize))
        }
        126 | 127 => None,
        n => Some((2, n as usize)),
    }
}

async fn echo_conn(
    mut s: TcpStream,
    mut buf: Vec<u8>,
    payload: Vec<u8>,
    key: [u8; 4],
    count: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let frame = masked_frame(&payload, key);
    let (first, last) = (payload[0], payload[payload.len() - 1]);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if s.write_all(&frame).await.is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        loop {
            if let Some((h, n)) = frame_len(&buf) {
                if buf.len() >= h + n {
                    let ok = buf[0] == 0x82
                        && buf[1] & 0x80 == 0
                        && n == payload.len()
                        && buf[h] == first
                        && buf[h + n - 1] == last;
                    buf.drain(..h + n);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    break;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
    // A close frame (1000), masked; the answer is not awaited.
    let _ = s.write_all(&masked_frame_close(key)).await;
}

fn masked_frame_close(key: [u8; 4]) -> Vec<u8> {
    let mut f = masked_frame(&1000u16.to_be_bytes(), key);
    f[0] = 0x88;
    f
}

async fn echo(a: Args) -> Result<(), String> {
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let payload: Vec<u8> = (0..a.size.max(1)).map(|_| next(&mut rng) as u8).collect();
    let mut tasks = Vec::new();
    for _ in 0..a.conns {
        let (s, rest) = open(&a.addr, &a.path).await?;
        let key = (next(&mut rng) as u32).to_be_bytes();
        tasks.push(tokio::spawn(echo_conn(
            s,
            rest,
            payload.clone(),
            key,
            count.clone(),
            errors.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let (c0, t0) = (count.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    let (c1, secs) = (count.load(Ordering::Relaxed), t0.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    let n = c1 - c0;
    println!(
        "messages {n} seconds {secs:.3} msgs_per_sec {:.0} errors {}",
        n as f64 / secs,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn idle(a: Args) -> Result<(), String> {
    let mut socks = Vec::new();
    let (mut failed, mut first) = (0, String::new());
    for _ in 0..a.conns {
        match tokio::time::timeout(Duration::from_secs(30), open(&a.addr, &a.path)).await {
            Ok(Ok((s, _))) => socks.push(s),
            Ok(Err(e)) => {
                failed += 1;
                if first.is_empty() {
                    first = e;
                }
            }
            Err(_) => {
                failed += 1;
                if first.is_empty() {
                    first = "handshake timeout".into();
                }
            }
        }
    }
    println!("ready {} {failed} {}", socks.len(), first.replace(' ', "_"));
    let deadline = Instant::now() + Duration::from_secs(600);
    if let Some(go) = &a.go {
        while !std::path::Path::new(go).exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut open_count = 0;
    let mut b = [0u8; 1];
    for s in &socks {
        match s.try_read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open_count += 1,
            _ => {}
        }
    }
    println!("open {open_count}");
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ws_load: {e}\nusage: ws_load echo|idle --addr HOST:PORT [--path P] [--conns N] [--size BYTES] [--duration S] [--warmup S] [--go FILE]");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(async move {
        if a.mode == "echo" {
            echo(a).await
        } else {
            idle(a).await
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws_load: {e}");
            ExitCode::FAILURE
        }
    }
}
