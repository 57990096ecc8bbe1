//! WebSocket masking throughput (the hot path of every client frame sent
//! and every frame a server reads), 16 KiB payloads:
//!
//! - `mask/wide`: [`apply_mask`], u64-wide safe code;
//! - `mask/bytewise`: the byte-by-byte loop it replaces;
//! - `mask/memcpy`: `copy_from_slice` of the same 16 KiB, the machine's
//!   memory-speed ceiling for one pass over the bytes;
//! - `frame/server_decode_16k`: a masked 16 KiB binary frame through a
//!   server [`WebSocket`] (header, unmask, message event);
//! - `frame/client_encode_16k`: a 16 KiB binary message through a client
//!   [`WebSocket`] (header, mask key, masked copy).
//!
//! `cargo bench -p wireloom-core --bench ws_mask` (criterion; the
//! throughput lines are GiB/s). Figures in BENCHMARKS.md.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wireloom_core::ws::{apply_mask, apply_mask_bytewise, Config, Event, WebSocket};
use wireloom_core::Dialogue;

const LEN: usize = 16 * 1024;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mask(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    g.throughput(Throughput::Bytes(LEN as u64));
    let mut buf = vec![0x5au8; LEN];
    let src = vec![0xa5u8; LEN];
    g.bench_function("wide", |b| {
        b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0))
    });
    g.bench_function("bytewise", |b| {
        b.iter(|| apply_mask_bytewise(black_box(&mut buf), black_box(KEY), 0))
    });
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
    });
    g.finish();
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(LEN as u64));
    let now = Instant::now();
    let config = Config {
        ping_interval: None,
        dead_peer_timeout: None,
        ..Config::default()
    };
    // One masked frame, as a client sends it.
    let mut client = WebSocket::client(config.clone(), None, [1; 32], now);
    client.send_binary(vec![7u8; LEN]).unwrap();
    let mut wire = Vec::new();
    while let Some(b) = client.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    let mut server = WebSocket::server(config.clone(), None, now);
    let mut buf = BytesMut::with_capacity(wire.len() * 2);
    g.bench_function("server_decode_16k", |b| {
        b.iter(|| {
            buf.extend_from_slice(&wire);
            server.handle_input(now, &mut buf);
            let Some(Event::Message(m)) = server.poll_event() else {
                panic!("no message")
            };
            black_box(m);
        })
    });
    let payload = Bytes::from(vec![7u8; LEN]);
    g.bench_function("client_encode_16k", |b| {
        b.iter(|| {
            client.send_binary(payload.clone()).unwrap();
            while let Some(out) = client.poll_transmit() {
                black_box(out);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, mask, frames);
criterion_main!(benches);
