//! The durable spool: every accepted message is on disk before its 250.
//!
//! ```text
//! SPOOL/tmp/            files being written; whatever is here at start is
//!                       debris of a crash and is deleted
//! SPOOL/msg/ID.eml      the message, as received (CRLF, dot-unstuffed),
//!                       behind our Received header
//! SPOOL/msg/ID.json     its envelope record (Record): sender, each
//!                       recipient's state, attempts, next attempt time
//! ```
//!
//! A message is queued exactly when `ID.json` exists. Every file is
//! written the same way: into `tmp/`, `fsync`, `rename` into `msg/`, then
//! `fsync` of `msg/` itself so the new directory entry survives a power
//! cut. A new message: data file renamed first, then its record, then the
//! one directory `fsync` that makes both durable; only then does the
//! caller answer 250. So after a crash:
//!
//! | found at start               | meaning                       | action  |
//! |------------------------------|-------------------------------|---------|
//! | anything in `tmp/`           | write interrupted             | delete  |
//! | `ID.eml` without `ID.json`   | crash before the record: no 250 was sent | delete |
//! | `ID.json` without `ID.eml`   | impossible unless the disk lies | drop record, log |
//! | both                         | queued                        | resume  |
//!
//! A record update (a recipient delivered, the next retry time) is a whole
//! new record written the same way (temp, fsync, rename, fsync dir): a
//! crash leaves the old record or the new one, never a torn one. A
//! finished message loses its record first, then its data.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Where one recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RcptState {
    /// Not delivered yet (never tried, or a temporary failure).
    Pending,
    /// The smarthost answered 250 to the end of data with this recipient
    /// accepted.
    Delivered,
    /// Refused for good (5xx, or expired): bounced to the sender.
    Failed,
}

/// One recipient of a spooled message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rcpt {
    /// The forward path.
    pub addr: String,
    /// Its delivery state.
    pub state: RcptState,
    /// The last reply the smarthost gave about it (or why it failed).
    #[serde(default)]
    pub reply: Option<String>,
    /// Failed and its bounce is queued (or the sender is `<>`).
    #[serde(default)]
    pub bounced: bool,
}

/// The envelope record of a spooled message (`ID.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The spool id (file names).
    pub id: String,
    /// The reverse path; empty for the null sender `<>`.
    pub from: String,
    /// The recipients.
    pub rcpts: Vec<Rcpt>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Unix time in milliseconds of the next attempt.
    pub next_attempt_ms: u64,
    /// Unix time in milliseconds it was accepted.
    pub created_ms: u64,
    /// The message is a bounce we made (never bounced itself).
    #[serde(default)]
    pub bounce: bool,
    /// The data has octets above 127 (sent with BODY=8BITMIME).
    #[serde(default)]
    pub eight_bit: bool,
}

impl Record {
    /// A new record: every recipient pending, first attempt now.
    pub fn new(id: String, from: String, rcpts: Vec<String>, bounce: bool) -> Record {
        let now = unix_ms();
        Record {
            id,
            from,
            rcpts: rcpts
                .into_iter()
                .map(|addr| Rcpt {
                    addr,
                    state: RcptState::Pending,
                    reply: None,
                    bounced: false,
                })
                .collect(),
            attempts: 0,
            next_attempt_ms: now,
            created_ms: now,
            bounce,
            eight_bit: false,
        }
    }

    /// True while some recipient is pending.
    pub fn has_pending(&self) -> bool {
        self.rcpts.iter().any(|r| r.state == RcptState::Pending)
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What [`Spool::open`] found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Queued messages to resume.
    pub records: Vec<Record>,
    /// Files deleted from `tmp/` (interrupted writes).
    pub temp_deleted: usize,
    /// Data files without a record (crash before the 250), deleted.
    pub orphans_deleted: usize,
    /// Records that could not be used (no data, unreadable), dropped.
    pub records_dropped: usize,
}

/// Counters of the time spent in `fsync` (for the benchmark).
#[derive(Debug, Default)]
pub struct FsyncStats {
    /// `fsync` calls (files and directories).
    pub calls: AtomicU64,
    /// Total nanoseconds spent in them.
    pub nanos: AtomicU64,
}

/// The spool directory. Shared by every connection and the queue runner.
#[derive(Debug)]
pub struct Spool {
    tmp: PathBuf,
    msg: PathBuf,
    fsync: bool,
    counter: AtomicU64,
    /// Time spent in `fsync`.
    pub stats: FsyncStats,
}

impl Spool {
    /// Opens (creating) the spool at `root` and recovers it after a crash
    /// (see the module docs). `fsync: false` skips every `fsync`: unsafe,
    /// for measuring what durability costs.
    pub fn open(root: &Path, fsync: bool) -> io::Result<(Spool, Recovery)> {
        let spool = Spool {
            tmp: root.join("tmp"),
            msg: root.join("msg"),
            fsync,
            counter: AtomicU64::new(0),
            stats: FsyncStats::default(),
        };
        fs::create_dir_all(&spool.tmp)?;
        fs::create_dir_all(&spool.msg)?;
        let mut rec = Recovery::default();
        for entry in fs::read_dir(&spool.tmp)? {
            let path = entry?.path();
            if fs::remove_file(&path).is_ok() {
                rec.temp_deleted += 1;
            }
        }
        let mut data = HashMap::new();
        let mut records = Vec::new();
        for entry in fs::read_dir(&spool.msg)? {
            let path = entry?.path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match path.extension().and_then(|s| s.to_str()) {
                Some("eml") => {
                    data.insert(stem.to_string(), path.clone());
                }
                Some("json") => records.push(path.clone()),
                _ => {}
            }
        }
        for path in records {
            let parsed = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok());
            match parsed {
                Some(r) if data.remove(&r.id).is_some() => rec.records.push(r),
                _ => {
                    eprintln!(
                        "mail-relay: dropping unusable record {} (no data or unreadable)",
                        path.display()
                    );
                    let _ = fs::remove_file(&path);
                    rec.records_dropped += 1;
                }
            }
        }
        for (_, path) in data {
            if fs::remove_file(&path).is_ok() {
                rec.orphans_deleted += 1;
            }
        }
        spool.sync_dir(&spool.msg)?;
        rec.records.sort_by_key(|a| a.created_ms);
        Ok((spool, rec))
    }

    /// A fresh, unique spool id (time, process, counter).
    pub fn new_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        format!("{micros:x}-{:x}-{n:x}", std::process::id())
    }

    /// Starts a new message: a temporary data file in `tmp/`.
    pub fn incoming(&self) -> io::Result<Incoming> {
        let id = self.new_id();
        let path = self.tmp.join(format!("{id}.eml"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Incoming {
            id,
            file: io::BufWriter::with_capacity(64 * 1024, file),
            path: Some(path),
        })
    }

    /// Makes a received message durable: data and record on disk, renamed
    /// into `msg/`, directory synced. Answer 250 only after `Ok`.
    pub fn commit(&self, incoming: Incoming, record: &Record) -> io::Result<()> {
        let mut incoming = incoming;
        let tmp_path = incoming.path.take().expect("uncommitted");
        let result = (|| {
            incoming.file.flush()?;
            self.sync_file(incoming.file.get_ref())?;
            drop(incoming);
            fs::rename(&tmp_path, self.data_path(&record.id))?;
            self.write_record_unsynced(record)?;
            self.sync_dir(&self.msg)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
            let _ = fs::remove_file(self.data_path(&record.id));
            let _ = fs::remove_file(self.record_path(&record.id));
        }
        result
    }

    /// Replaces a message's record atomically and durably.
    pub fn update(&self, record: &Record) -> io::Result<()> {
        self.write_record_unsynced(record)?;
        self.sync_dir(&self.msg)
    }

    /// Removes a finished message: record first, then data.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        fs::remove_file(self.record_path(id))?;
        self.sync_dir(&self.msg)?;
        fs::remove_file(self.data_path(id))
    }

    /// A message's data, opened for streaming, and its size.
    pub fn open_data(&self, id: &str) -> io::Result<(File, u64)> {
        let f = File::open(self.data_path(id))?;
        let len = f.metadata()?.len();
        Ok((f, len))
    }

    /// At most the first `max` octets of a message's data.
    pub fn read_head(&self, id: &str, max: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        io::Read::read_to_end(
            &mut io::Read::take(File::open(self.data_path(id))?, max),
            &mut out,
        )?;
        Ok(out)
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.msg.join(format!("{id}.eml"))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.msg.join(format!("{id}.json"))
    }

    /// Temp file, fsync, rename over `msg/ID.json` (the directory sync is
    /// the caller's).
    fn write_record_unsynced(&self, record: &Record) -> io::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.tmp.join(format!("{}.json.{n:x}", record.id));
        let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&bytes)?;
            self.sync_file(&f)?;
            drop(f);
            fs::rename(&tmp, self.record_path(&record.id))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn sync_file(&self, f: &File) -> io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let start = Instant::now();
        let r = f.sync_all();
        self.count(start);
        r
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let start = Instant::now();
        let r = File::open(dir).and_then(|d| d.sync_all());
        self.count(start);
        r
    }

    fn count(&self, start: Instant) {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats
            .nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A message being received into `tmp/`. Dropped without
/// [`Spool::commit`], its file is deleted.
#[derive(Debug)]
pub struct Incoming {
    /// The id it will have in the spool.
    pub id: String,
    file: io::BufWriter<File>,
    path: Option<PathBuf>,
}

impl Incoming {
    /// Appends message bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mail-relay-spool-{tag}-{}-{}",
            std::process::id(),
            unix_ms()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn commit_update_remove_and_recovery() {
        let root = temp("cycle");
        let (spool, rec) = Spool::open(&root, true).unwrap();
        assert!(rec.records.is_empty());
        let mut inc = spool.incoming().unwrap();
        inc.write(b"Subject: x\r\n\r\nhi\r\n").unwrap();
        let id = inc.id.clone();
        let mut record = Record::new(
            id.clone(),
            "a@x.test".into(),
            vec!["b@y.test".into()],
            false,
        );
        spool.commit(inc, &record).unwrap();
        record.attempts = 3;
        spool.update(&record).unwrap();
        // Debris a crash can leave: a temp file and data without a record.
        fs::write(root.join("tmp/junk.eml"), b"partial").unwrap();
        fs::write(root.join("msg/orphan.eml"), b"no record").unwrap();
        drop(spool);
        let (spool, rec) = Spool::open(&root, true).unwrap();
        assert_eq!(rec.records, vec![record.clone()]);
        assert_eq!((rec.temp_deleted, rec.orphans_deleted), (1, 1));
        assert_eq!(
            spool.read_head(&id, 1 << 20).unwrap(),
            b"Subject: x\r\n\r\nhi\r\n"
        );
        assert_eq!(spool.read_head(&id, 7).unwrap(), b"Subject");
        spool.remove(&id).unwrap();
        let (_, rec) = Spool::open(&root, true).unwrap();
        assert!(rec.records.is_empty());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn dropped_incoming_leaves_nothing() {
        let root = temp("drop");
        let (spool, _) = Spool::open(&root, false).unwrap();
        let mut inc = spool.incoming().unwrap();
        inc.write(b"x").unwrap();
        drop(inc);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        let _ = fs::remove_dir_all(&root);
    }
}
