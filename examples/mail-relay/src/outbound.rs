//! SMTP out: the queue runner. One thread delivers spooled messages to the
//! smarthost with wireloom-blocking's SMTP client (core decides PIPELINING,
//! STARTTLS, AUTH), several messages per connection.
//!
//! ```text
//!            ┌──────────── new message (channel) / retry time due
//!            v
//!   due messages ──connect──> send(msg 1) ─> record updated ─> send(msg 2) ... QUIT
//!        │        │ fails                   (temp, fsync, rename, fsync dir)
//!        │        v
//!        │   every due message: attempt +1, retry later
//!        │
//!   per recipient, after each transaction:
//!     250 to the end of data, recipient accepted ──> Delivered
//!     5xx (RCPT, or MAIL/DATA/end of data)        ──> Failed ─> bounce queued to
//!                                                     the sender (not for <>)
//!     4xx, connection lost, timeout               ──> Pending: retry after
//!                                                     initial·2^(attempts-1), at most
//!                                                     --retry-max; older than
//!                                                     --max-age ──> Failed (4.4.7), bounce
//!   no recipient pending ──> record and data removed
//! ```
//!
//! # How close to exactly-once
//!
//! A recipient is marked delivered only after the smarthost's 250 to the
//! end of data, and the mark is durable (record rewritten and fsynced)
//! before the next message is sent on that connection. The one window is
//! between the smarthost's 250 and our durable mark (a few hundred
//! microseconds, one fsync): a crash there sends the message again after
//! restart. So at most one message per delivery connection (there is one)
//! can arrive twice per crash; every other message arrives exactly once.
//! A bounce is queued (durably) before the failed recipients are marked,
//! so a crash between the two can likewise duplicate a bounce, never lose
//! one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use wireloom_blocking::smtp::{Delivery, Envelope, Error, MessageInfo, SmtpClient, SmtpConnection};
use wireloom_core::smtp::client::UsageError;

use crate::spool::{unix_ms, Rcpt, RcptState, Record, Spool};
use crate::{bounce, Log};

/// Retry policy.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Wait after the first failed attempt; doubles each time.
    pub initial: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Give up (bounce) on recipients still pending after this long.
    pub max_age: Duration,
}

impl Retry {
    /// The wait after `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// The queue runner.
pub struct Runner {
    /// The spool.
    pub spool: Arc<Spool>,
    /// The smarthost client (settings; connects per run).
    pub client: SmtpClient,
    /// Retry policy.
    pub retry: Retry,
    /// Most messages sent on one connection before QUIT.
    pub per_connection: usize,
    /// Our host name (bounces).
    pub hostname: String,
    /// Set on SIGTERM / ctrl-c.
    pub shutdown: Arc<AtomicBool>,
    /// Logging.
    pub log: Log,
    /// Messages queued, by id.
    pub queue: HashMap<String, Record>,
}

/// What one transaction did to the message as a whole.
enum Outcome {
    /// The smarthost answered (per recipient, or for the transaction).
    Answered,
    /// The connection is gone (or never came): try again later.
    ConnectionLost(String),
    /// The message was refused before anything was sent for it (a usage
    /// error core may treat as fatal): use a fresh connection.
    Reconnect,
}

impl Runner {
    /// Runs until shutdown: takes new messages from `incoming`, delivers
    /// what is due. The message being sent when shutdown comes is finished
    /// (and its state recorded) first.
    pub fn run(mut self, incoming: Receiver<Record>) {
        // Bounded: every turn waits (at most 1 s) or makes a delivery run.
        while !self.shutdown.load(Ordering::Relaxed) {
            while let Ok(r) = incoming.try_recv() {
                self.queue.insert(r.id.clone(), r);
            }
            let now = unix_ms();
            let mut due: Vec<(u64, String)> = self
                .queue
                .values()
                .filter(|r| r.next_attempt_ms <= now)
                .map(|r| (r.created_ms, r.id.clone()))
                .collect();
            if due.is_empty() {
                let next = self.queue.values().map(|r| r.next_attempt_ms).min();
                let wait = next.map_or(1000, |t| t.saturating_sub(now)).clamp(1, 1000);
                match incoming.recv_timeout(Duration::from_millis(wait)) {
                    Ok(r) => {
                        self.queue.insert(r.id.clone(), r);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // Every listener is gone: deliver what is left, then stop.
                    Err(RecvTimeoutError::Disconnected) if self.queue.is_empty() => return,
                    Err(RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(Duration::from_millis(wait))
                    }
                }
                continue;
            }
            due.sort();
            let ids: Vec<String> = due.into_iter().map(|(_, id)| id).collect();
            self.delivery_run(&ids);
        }
    }

    /// Delivers the due messages, `per_connection` per connection; after a
    /// lost connection it reconnects, but after the third lost one in a
    /// run the rest wait for their retry time.
    fn delivery_run(&mut self, ids: &[String]) {
        let mut conn: Option<SmtpConnection> = None;
        let mut lost = 0;
        let mut sent = 0;
        for (i, id) in ids.iter().enumerate() {
            if self.shutdown.load(Ordering::Relaxed) {
                break;
            }
            if conn.is_none() || sent >= self.per_connection {
                if let Some(c) = conn.take() {
                    let _ = c.quit();
                }
                if lost == 3 {
                    let why = "three connections to the smarthost lost in one run";
                    self.log
                        .info(format_args!("{why}; {} message(s) wait", ids.len() - i));
                    self.all_retry(&ids[i..], why);
                    return;
                }
                sent = 0;
                match self.client.connect() {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        let why = format!("smarthost unavailable: {e}");
                        self.log.info(format_args!("{why}"));
                        self.all_retry(&ids[i..], &why);
                        return;
                    }
                }
            }
            let c = conn.as_mut().expect("connected");
            sent += 1;
            match self.deliver(c, id) {
                Outcome::Answered => {}
                Outcome::Reconnect => {
                    if let Some(c) = conn.take() {
                        let _ = c.quit();
                    }
                }
                Outcome::ConnectionLost(why) => {
                    self.log.info(format_args!("{id}: connection lost: {why}"));
                    lost += 1;
                    conn = None;
                }
            }
        }
        if let Some(c) = conn {
            let _ = c.quit();
        }
    }

    /// Marks every message in `ids` as having failed an attempt.
    fn all_retry(&mut self, ids: &[String], why: &str) {
        for id in ids {
            if let Some(mut r) = self.queue.remove(id) {
                for rc in r
                    .rcpts
                    .iter_mut()
                    .filter(|rc| rc.state == RcptState::Pending)
                {
                    rc.reply = Some(why.to_string());
                }
                self.finish(r);
            }
        }
    }

    /// One transaction for one message, then its record updated.
    fn deliver(&mut self, conn: &mut SmtpConnection, id: &str) -> Outcome {
        let Some(mut record) = self.queue.remove(id) else {
            return Outcome::Answered;
        };
        let (data, size) = match self.spool.open_data(id) {
            Ok(d) => d,
            Err(e) => {
                // Retried like any temporary failure, so it also expires
                // (and bounces) after --max-age instead of being retried
                // for ever.
                self.log
                    .error(format_args!("{id}: cannot read spooled data: {e}; kept"));
                let why = format!("451 4.3.0 spooled data unreadable: {e}");
                for rc in record
                    .rcpts
                    .iter_mut()
                    .filter(|r| r.state == RcptState::Pending)
                {
                    rc.reply = Some(why.clone());
                }
                self.finish(record);
                return Outcome::Answered;
            }
        };
        // Only the recipients still pending go into this envelope.
        let pending: Vec<usize> = (0..record.rcpts.len())
            .filter(|&i| record.rcpts[i].state == RcptState::Pending)
            .collect();
        let envelope = Envelope {
            from: (!record.from.is_empty()).then(|| record.from.clone()),
            to: pending
                .iter()
                .map(|&i| record.rcpts[i].addr.clone())
                .collect(),
        };
        // Streamed from the spool file in 64 KiB chunks: memory stays
        // bounded whatever the message size.
        let info = MessageInfo {
            size: Some(size),
            eight_bit: record.eight_bit,
        };
        let result = conn.send_reader(&envelope, info, std::io::BufReader::new(data));
        let mut outcome = Outcome::Answered;
        match result {
            Ok(Delivery { reply, recipients }) => {
                for rr in recipients {
                    let rc = &mut record.rcpts[pending[rr.index]];
                    if rr.accepted() {
                        rc.state = RcptState::Delivered;
                        rc.reply = Some(reply.to_string());
                    } else {
                        mark(rc, rr.reply.is_permanent(), rr.reply.to_string());
                    }
                }
            }
            Err(Error::Rejected(f)) => {
                let mut answered = vec![false; pending.len()];
                for rr in &f.recipients {
                    if !rr.accepted() {
                        answered[rr.index] = true;
                        mark(
                            &mut record.rcpts[pending[rr.index]],
                            rr.reply.is_permanent(),
                            rr.reply.to_string(),
                        );
                    }
                }
                // The rest shares the transaction's fate.
                if let Some(r) = &f.reply {
                    for (k, &i) in pending.iter().enumerate() {
                        if !answered[k] {
                            mark(&mut record.rcpts[i], r.is_permanent(), r.to_string());
                        }
                    }
                }
            }
            Err(Error::Usage(UsageError::NotReady)) => {
                outcome = Outcome::ConnectionLost("session not ready".into());
            }
            Err(Error::Usage(e)) => {
                // The smarthost cannot take this message as it is (too
                // large for its SIZE, needs an extension it lacks): final,
                // with the enhanced status code (RFC 3463) that says why.
                let status = match &e {
                    UsageError::MessageTooLarge { .. } => "5.3.4",
                    UsageError::NeedsExtension("SMTPUTF8") => "5.6.7",
                    UsageError::NeedsExtension(_) | UsageError::UndeclaredEightBit => "5.6.3",
                    UsageError::InvalidAddress { .. } => "5.1.3",
                    _ => "5.3.0",
                };
                let text = format!("554 {status} {e}");
                for &i in &pending {
                    mark(&mut record.rcpts[i], true, text.clone());
                }
                outcome = Outcome::Reconnect;
            }
            Err(e) => outcome = Outcome::ConnectionLost(e.to_string()),
        }
        if let Outcome::ConnectionLost(why) = &outcome {
            for &i in &pending {
                let rc = &mut record.rcpts[i];
                if rc.state == RcptState::Pending {
                    rc.reply = Some(why.clone());
                }
            }
        }
        self.finish(record);
        outcome
    }

    /// Records an attempt's result: expiry, bounce of newly failed
    /// recipients, then the record updated (or removed when done).
    fn finish(&mut self, mut record: Record) {
        let now = unix_ms();
        record.attempts += 1;
        if record.has_pending() {
            record.next_attempt_ms = now + self.retry.backoff(record.attempts).as_millis() as u64;
        }
        if record.has_pending()
            && now.saturating_sub(record.created_ms) > self.retry.max_age.as_millis() as u64
        {
            for rc in record
                .rcpts
                .iter_mut()
                .filter(|r| r.state == RcptState::Pending)
            {
                let last = rc.reply.take().unwrap_or_default();
                rc.state = RcptState::Failed;
                rc.reply = Some(format!("4.4.7 delivery time expired (last: {last})"));
            }
        }
        let newly_failed: Vec<Rcpt> = record
            .rcpts
            .iter()
            .filter(|r| r.state == RcptState::Failed && !r.bounced)
            .cloned()
            .collect();
        if !newly_failed.is_empty() {
            if record.bounce || record.from.is_empty() {
                self.log.info(format_args!(
                    "{}: {} recipient(s) failed; no bounce for the null sender",
                    record.id,
                    newly_failed.len()
                ));
            } else if let Err(e) = self.queue_bounce(&record, &newly_failed) {
                // Not marked: retried (and bounced) on the next attempt.
                self.log
                    .error(format_args!("{}: cannot queue bounce: {e}", record.id));
                for rc in record.rcpts.iter_mut() {
                    if rc.state == RcptState::Failed && !rc.bounced {
                        rc.state = RcptState::Pending;
                    }
                }
            }
            for rc in record.rcpts.iter_mut() {
                if rc.state == RcptState::Failed && !rc.bounced {
                    self.log.info(format_args!(
                        "{}: <{}> failed: {}",
                        record.id,
                        rc.addr,
                        rc.reply.as_deref().unwrap_or("")
                    ));
                    rc.bounced = true;
                }
            }
        }
        let result = if record.has_pending() {
            let r = self.spool.update(&record);
            self.queue.insert(record.id.clone(), record.clone());
            r
        } else {
            self.log.info(format_args!(
                "{}: done ({} delivered)",
                record.id,
                record
                    .rcpts
                    .iter()
                    .filter(|r| r.state == RcptState::Delivered)
                    .count()
            ));
            self.spool.remove(&record.id)
        };
        if let Err(e) = result {
            self.log
                .error(format_args!("{}: cannot update the spool: {e}", record.id));
        }
    }

    /// Queues (durably) the bounce for `failed` recipients of `record`.
    fn queue_bounce(&mut self, record: &Record, failed: &[Rcpt]) -> std::io::Result<()> {
        let original = self
            .spool
            .read_head(&record.id, bounce::MAX_QUOTED_HEADERS as u64 + 4)
            .unwrap_or_default();
        let text = bounce::compose(&self.hostname, &record.id, &record.from, failed, &original);
        let mut inc = self.spool.incoming()?;
        inc.write(&text)?;
        let mut bounce = Record::new(
            inc.id.clone(),
            String::new(),
            vec![record.from.clone()],
            true,
        );
        bounce.eight_bit = !text.is_ascii();
        self.spool.commit(inc, &bounce)?;
        self.log.info(format_args!(
            "{}: bounce {} queued to <{}>",
            record.id, bounce.id, record.from
        ));
        self.queue.insert(bounce.id.clone(), bounce);
        Ok(())
    }
}

/// A refused recipient: failed for good on 5xx, else still pending.
fn mark(rc: &mut Rcpt, permanent: bool, reply: String) {
    rc.state = if permanent {
        RcptState::Failed
    } else {
        RcptState::Pending
    };
    rc.reply = Some(reply);
}
