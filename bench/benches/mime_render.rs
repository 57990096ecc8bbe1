//! Renders the same message (text + HTML + a 10 MiB pseudo-random binary
//! attachment, base64 in 76-column lines) with wireloom-core, lettre and
//! mail-builder, building the message and producing all its bytes in each
//! iteration. Throughput is counted in attachment octets.
//!
//! ```text
//! cd bench && cargo bench --bench mime_render -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! Notes on fairness: lettre takes the attachment as an owned `Vec<u8>`, so
//! its iterations include a 10 MiB copy (its API needs one per message);
//! mail-builder borrows a slice; wireloom takes a `Bytes` (a refcount).
//! `wireloom` produces one `Vec` (`Message::to_bytes`), as the others do;
//! `wireloom_streamed` pulls 64 KiB chunks from the `Renderer` and drops
//! them (what an adapter writing to a socket does): the encoded message is
//! never held whole.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const SIZE: usize = 10 * 1024 * 1024;
const TEXT: &str = "Hello Bob,\n\nplease find the quarterly report attached.\n\nAlice\n";
const HTML: &str = "<p>Hello Bob,</p><p>please find the quarterly report attached.</p><p>Alice</p>";

fn data() -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The benchmark message, built with wireloom (the same for both modes).
fn wireloom_message(data: &Bytes) -> wireloom_core::mime::Message {
    wireloom_core::mime::Message::builder()
        .from("Alice <alice@example.org>")
        .to("Bob <bob@example.net>")
        .subject("Quarterly report")
        .date(UNIX_EPOCH + Duration::from_secs(1_764_630_303))
        .message_id("<bench@example.org>")
        .text(TEXT)
        .html(HTML)
        .attachment("application/octet-stream", "report.bin", data.clone())
        .build()
        .unwrap()
}

fn wireloom(data: &Bytes) -> Vec<u8> {
    wireloom_message(data).to_bytes()
}

fn wireloom_streamed(data: &Bytes) -> usize {
    wireloom_message(data)
        .render()
        .map(|c| black_box(c).len())
        .sum()
}

fn lettre(data: &[u8]) -> Vec<u8> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, MultiPart};
    let m = lettre::Message::builder()
        .from("Alice <alice@example.org>".parse().unwrap())
        .to("Bob <bob@example.net>".parse().unwrap())
        .subject("Quarterly report")
        .date(UNIX_EPOCH + Duration::from_secs(1_764_630_303))
        .message_id(Some("<bench@example.org>".into()))
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(
                    TEXT.to_string(),
                    HTML.to_string(),
                ))
                .singlepart(Attachment::new("report.bin".into()).body(
                    data.to_vec(),
                    ContentType::parse("application/octet-stream").unwrap(),
                )),
        )
        .unwrap();
    m.formatted()
}

fn mail_builder(data: &[u8]) -> Vec<u8> {
    mail_builder::MessageBuilder::new()
        .from(("Alice", "alice@example.org"))
        .to(("Bob", "bob@example.net"))
        .subject("Quarterly report")
        .date(1_764_630_303i64)
        .message_id("bench@example.org")
        .text_body(TEXT)
        .html_body(HTML)
        .attachment("application/octet-stream", "report.bin", data)
        .write_to_vec()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let raw = data();
    let bytes = Bytes::from(raw.clone());
    // Sanity: every contestant produced a message of plausible size.
    for (name, len) in [
        ("wireloom", wireloom(&bytes).len()),
        ("lettre", lettre(&raw).len()),
        ("mail-builder", mail_builder(&raw).len()),
    ] {
        assert!(len > SIZE * 4 / 3, "{name}: {len}");
        eprintln!("{name}: {len} octets rendered");
    }
    let mut g = c.benchmark_group("mime_render_10MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(20);
    g.bench_function("wireloom", |b| b.iter(|| black_box(wireloom(&bytes))));
    g.bench_function("wireloom_streamed", |b| {
        b.iter(|| black_box(wireloom_streamed(&bytes)))
    });
    g.bench_function("lettre", |b| b.iter(|| black_box(lettre(&raw))));
    g.bench_function("mail_builder", |b| b.iter(|| black_box(mail_builder(&raw))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
