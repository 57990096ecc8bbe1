//! The crash tests. `sigkill_while_accepting...`: SIGKILL while a sender
//! is mid-stream; every message it got 250 for is delivered after the
//! restart, at most one more (durable, its 250 cut off), nothing left in
//! the spool. The main one: SIGKILL the relay in the middle of a delivery run,
//! restart it on the same spool, and check that nothing acknowledged is
//! lost and that nothing the smarthost had acknowledged before the crash
//! is delivered again, except the one message that can be in the window
//! between the smarthost's 250 and our durable mark.
//!
//! What is asserted, and why it cannot flake:
//! - every message the sender got 250 for reaches the smarthost (at least
//!   once): strict;
//! - a message received twice is the last one the smarthost recorded
//!   before the kill (the relay sends the next message on a connection
//!   only after the previous one's mark is on disk, and it has one
//!   delivery connection), so at most one duplicate: strict, whatever the
//!   moment of the kill;
//! - the spool is empty once everything is delivered.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;

const N: usize = 50;

#[test]
fn sigkill_mid_delivery_loses_nothing_and_duplicates_at_most_the_message_in_flight() {
    let d = dir("relay-crash");
    // A slow smarthost: 100 ms per message, so the 50 take ~5 s to deliver.
    let host = Smarthost::start(d.path(), 0.1);
    let spool = d.join("spool");
    let args = ["--retry-initial", "0.2", "--quiet"];
    let mut relay = Relay::start(&spool, &host.addr(), &args);
    let sent = smtplib(relay.relay_port, "plain", "a@x.test", "b@y.test", N, 200);
    let acked: Vec<u64> = sent.iter().filter(|s| s.ok).map(|s| s.i as u64).collect();
    assert_eq!(acked.len(), N, "{sent:?}");

    // Kill it in the middle of the delivery run.
    eprintln!("crash test: 50 sent, {} delivered", host.messages().len());
    let got = host.wait_messages(Duration::from_secs(30), |m| m.len() >= 5);
    assert!(
        got.len() >= 5 && got.len() < N,
        "not mid-run: {}",
        got.len()
    );
    // Somewhere within the next two messages (100 ms each): during data,
    // while the smarthost waits, or between its 250 and our mark. The
    // assertions below hold wherever the kill lands.
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_micros()
        % 250;
    std::thread::sleep(Duration::from_millis(u64::from(jitter)));
    relay.kill();
    // Let the smarthost finish a transaction whose data had fully arrived
    // (bounded: stable for 1 s, at most 10 s).
    let until = Instant::now() + Duration::from_secs(10);
    let mut before = host.messages();
    let mut stable_since = Instant::now();
    while Instant::now() < until && stable_since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(100));
        let now = host.messages();
        if now.len() != before.len() {
            before = now;
            stable_since = Instant::now();
        }
    }
    let before_ids: Vec<u64> = before.iter().filter_map(test_id).collect();
    assert!(before_ids.len() < N, "the kill came after the run");
    let in_flight = *before_ids.last().unwrap();

    // Restart on the same spool: it resumes and delivers the rest.
    let mut relay = Relay::start(&spool, &host.addr(), &args);
    let all = host.wait_messages(Duration::from_secs(60), |m| {
        let ids: std::collections::HashSet<u64> = m.iter().filter_map(test_id).collect();
        acked.iter().all(|i| ids.contains(i))
    });
    let mut count: HashMap<u64, usize> = HashMap::new();
    for id in all.iter().filter_map(test_id) {
        *count.entry(id).or_default() += 1;
    }
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| !count.contains_key(i))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    let dups: Vec<u64> = count
        .iter()
        .filter(|(_, &c)| c > 1)
        .map(|(&i, _)| i)
        .collect();
    eprintln!(
        "crash test: {} delivered before the kill, {} duplicate(s) {dups:?} (in flight: {in_flight})",
        before_ids.len(),
        dups.len()
    );
    assert!(
        dups.iter().all(|&i| i == in_flight),
        "duplicated beyond the message in flight ({in_flight}): {dups:?}"
    );
    assert!(count.values().all(|&c| c <= 2));

    // Everything settled: the spool empties; SIGTERM ends it cleanly.
    let until = Instant::now() + Duration::from_secs(30);
    while spool_files(&spool) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spool_files(&spool), 0);
    let (clean, lines) = relay.terminate(Duration::from_secs(30));
    assert!(clean, "{lines:?}");
}

#[test]
fn sigkill_while_accepting_loses_nothing_acknowledged() {
    let d = dir("relay-crash-accept");
    let host = Smarthost::start(d.path(), 0.0);
    let spool = d.join("spool");
    let args = ["--retry-initial", "0.2", "--quiet"];
    let mut relay = Relay::start(&spool, &host.addr(), &args);
    let port = relay.relay_port;
    // 400 messages of 1 KiB from one sender while the relay is killed:
    // it stops at the first lost connection, and prints what was acked.
    let sender =
        std::thread::spawn(move || smtplib(port, "plain", "a@x.test", "b@y.test", 400, 900));
    let until = Instant::now() + Duration::from_secs(30);
    while host.messages().len() < 20 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    relay.kill();
    let sent = sender.join().unwrap();
    let acked: Vec<u64> = sent.iter().filter(|s| s.ok).map(|s| s.i as u64).collect();
    assert!(
        acked.len() >= 20 && acked.len() < 400,
        "not mid-run: {}",
        acked.len()
    );

    let mut relay = Relay::start(&spool, &host.addr(), &args);
    let all = host.wait_messages(Duration::from_secs(60), |m| {
        let ids: std::collections::HashSet<u64> = m.iter().filter_map(test_id).collect();
        acked.iter().all(|i| ids.contains(i))
    });
    let ids: std::collections::HashSet<u64> = all.iter().filter_map(test_id).collect();
    let lost: Vec<u64> = acked.iter().copied().filter(|i| !ids.contains(i)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    // At most one message beyond those acknowledged: the one whose 250 the
    // kill cut off after it was durable.
    let unacked: Vec<u64> = ids.iter().copied().filter(|i| !acked.contains(i)).collect();
    assert!(unacked.len() <= 1, "{unacked:?}");
    eprintln!(
        "crash while accepting: {} acknowledged, all delivered; {} durable but unacknowledged",
        acked.len(),
        unacked.len()
    );
    let until = Instant::now() + Duration::from_secs(30);
    while spool_files(&spool) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spool_files(&spool), 0, "no debris left in msg/");
    assert_eq!(
        std::fs::read_dir(spool.join("tmp")).unwrap().count(),
        0,
        "interrupted writes removed at start"
    );
    let (clean, lines) = relay.terminate(Duration::from_secs(30));
    assert!(clean, "{lines:?}");
}
