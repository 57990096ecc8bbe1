//! Throughput figures for the SMTP data path (printed, never asserted):
//!
//! ```text
//! cargo test --release -p wireloom-conformance --test smtp_throughput -- --ignored --nocapture
//! ```

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use wireloom_core::smtp::client::{Client, ClientConfig, ClientEvent, Envelope};
use wireloom_core::smtp::dot::{BodyEncoder, DataDecoder};
use wireloom_core::smtp::server::{Server, ServerConfig, ServerEvent};
use wireloom_core::Dialogue;

/// A 64 MiB body of 76-octet lines, every 10th starting with a dot.
fn body() -> Vec<u8> {
    let mut b = Vec::with_capacity(64 << 20);
    let mut i = 0u64;
    while b.len() < 64 << 20 {
        if i % 10 == 0 {
            b.push(b'.');
        }
        b.extend_from_slice(format!("{i:074}\r\n").as_bytes());
        i += 1;
    }
    b
}

fn mib_s(bytes: usize, t: std::time::Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / t.as_secs_f64()
}

#[test]
#[ignore]
fn data_path_throughput() {
    let body = body();
    // Client: dot-stuffing + normalisation, 64 KiB chunks.
    let t = Instant::now();
    let mut enc = BodyEncoder::new(true);
    let mut wire = BytesMut::with_capacity(body.len() + body.len() / 50);
    for c in body.chunks(64 << 10) {
        enc.encode(c, &mut wire);
    }
    enc.finish(&mut wire);
    let e = t.elapsed();
    println!("BodyEncoder (stuff):  {:8.0} MiB/s", mib_s(body.len(), e));

    // Server: un-stuffing, 64 KiB reads.
    let wire = wire.freeze();
    let t = Instant::now();
    let mut dec = DataDecoder::new(Some(1000));
    let mut out = 0usize;
    let mut buf = BytesMut::new();
    for c in wire.chunks(64 << 10) {
        buf.extend_from_slice(c);
        let d = dec.decode(&mut buf);
        out += d.chunks.iter().map(Bytes::len).sum::<usize>();
    }
    let e = t.elapsed();
    assert_eq!(out, body.len());
    println!("DataDecoder (unstuff): {:8.0} MiB/s", mib_s(wire.len(), e));

    // Whole dialogues in memory: client -> server, DATA and BDAT.
    for chunking in [false, true] {
        let now = Instant::now();
        let mut sc = ServerConfig::new("mx");
        sc.chunking = chunking;
        sc.max_message_size = None;
        let mut server = Server::new(sc, now);
        let mut client = Client::new(ClientConfig::new("c"), now);
        let message = Bytes::from(body.clone());
        let t = Instant::now();
        let mut received = 0usize;
        let mut sent = false;
        while !client.is_closed() {
            let mut b = BytesMut::new();
            while let Some(x) = client.poll_transmit() {
                b.extend_from_slice(&x);
            }
            while !b.is_empty() {
                let mut piece = b.split_to(b.len().min(64 << 10));
                server.handle_input(now, &mut piece).unwrap();
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
            client.handle_input(now, &mut b).unwrap();
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
        let e = t.elapsed();
        assert_eq!(received, body.len());
        let mode = if chunking { "BDAT" } else { "DATA" };
        println!("client+server {mode}:   {:8.0} MiB/s", mib_s(body.len(), e));
    }
}
