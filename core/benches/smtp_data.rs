//! SMTP data path throughput (moved here from the `#[ignore]`d
//! `conformance/tests/smtp_throughput.rs`):
//!
//! - `encode`: [`BodyEncoder`] (dot-stuffing + line-ending normalisation),
//!   fed in 64 KiB chunks;
//! - `decode`: [`DataDecoder`] (un-stuffing), fed the encoded wire in 64 KiB
//!   reads;
//! - `dialogue_data` / `dialogue_bdat`: a whole client -> server dialogue in
//!   memory (EHLO .. QUIT), the message sent with DATA or with BDAT.
//!
//! Throughput is counted in body octets (8 MiB of 76-octet lines, every
//! 10th starting with a dot).
//!
//! No peer: lettre, the crate a user would otherwise pick, keeps its
//! dot-stuffing codec private (`ClientCodec` in
//! `lettre::transport::smtp::client` is a private struct; its only user is
//! `SmtpConnection::message`, which writes to a live network stream), and it
//! has no server-side decoder. So these figures are wireloom's alone.
//!
//! ```text
//! cargo bench -p wireloom-core --bench smtp_data -- --warm-up-time 1 --measurement-time 3
//! ```

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wireloom_core::smtp::client::{Client, ClientConfig, ClientEvent, Envelope};
use wireloom_core::smtp::dot::{BodyEncoder, DataDecoder};
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

const SIZE: usize = 8 << 20;
const CHUNK: usize = 64 << 10;

/// `SIZE` octets of 76-octet lines, every 10th starting with a dot.
fn body() -> Vec<u8> {
    let mut b = Vec::with_capacity(SIZE + 80);
    let mut i = 0u64;
    while b.len() < SIZE {
        if i.is_multiple_of(10) {
            b.push(b'.');
        }
        b.extend_from_slice(format!("{i:074}\r\n").as_bytes());
        i += 1;
    }
    b
}

fn encode(body: &[u8]) -> BytesMut {
    let mut enc = BodyEncoder::new(true);
    let mut wire = BytesMut::with_capacity(body.len() + body.len() / 50);
    for c in body.chunks(CHUNK) {
        enc.encode(c, &mut wire);
    }
    enc.finish(&mut wire);
    wire
}

fn decode(wire: &[u8]) -> usize {
    let mut dec = DataDecoder::new(Some(1000));
    let mut out = 0usize;
    let mut buf = BytesMut::new();
    for c in wire.chunks(CHUNK) {
        buf.extend_from_slice(c);
        let d = dec.decode(&mut buf);
        out += d.chunks.iter().map(Bytes::len).sum::<usize>();
    }
    out
}

/// One whole dialogue in memory; returns the body octets the server saw.
fn dialogue(message: &Bytes, chunking: bool) -> usize {
    let now = Instant::now();
    let mut sc = ServerConfig::new("mx");
    sc.chunking = chunking;
    sc.max_message_size = None;
    let mut server = Server::new(sc, now);
    let mut client = Client::new(ClientConfig::new("c"), now);
    let mut received = 0usize;
    let mut sent = false;
    while !client.is_closed() {
        let mut b = BytesMut::new();
        while let Some(x) = client.poll_transmit() {
            b.extend_from_slice(&x);
        }
        while !b.is_empty() {
            let mut piece = b.split_to(b.len().min(CHUNK));
            server.handle_input(now, &mut piece);
            while let Some(e) = server.poll_event() {
                match e {
                    ServerEvent::Data(d) => received += d.len(),
                    ServerEvent::MailFrom { .. }
                    | ServerEvent::RcptTo { .. }
                    | ServerEvent::MessageEnd { .. } => server.accept(now).unwrap(),
                    _ => {}
                }
            }
        }
        let mut b = BytesMut::new();
        while let Some(x) = server.poll_transmit() {
            b.extend_from_slice(&x);
        }
        client.handle_input(now, &mut b);
        while let Some(e) = client.poll_event() {
            if e == ClientEvent::Ready {
                if sent {
                    client.quit(now).unwrap();
                } else {
                    client
                        .send_message(
                            now,
                            Envelope::new("a@b.example", ["c@d.example"]),
                            message.clone(),
                        )
                        .unwrap();
                    sent = true;
                }
            }
        }
    }
    received
}

fn smtp_data(c: &mut Criterion) {
    let body = body();
    let wire = encode(&body).freeze();
    // Sanity checks (once, outside the timing): the round trip is lossless.
    assert_eq!(decode(&wire), body.len());
    let message = Bytes::from(body.clone());
    assert_eq!(dialogue(&message, false), body.len());
    assert_eq!(dialogue(&message, true), body.len());

    let mut g = c.benchmark_group("smtp_data");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(encode(black_box(&body)))));
    g.bench_function("decode", |b| b.iter(|| black_box(decode(black_box(&wire)))));
    g.bench_function("dialogue_data", |b| {
        b.iter(|| black_box(dialogue(&message, false)))
    });
    g.bench_function("dialogue_bdat", |b| {
        b.iter(|| black_box(dialogue(&message, true)))
    });
    g.finish();
}

criterion_group!(benches, smtp_data);
criterion_main!(benches);
