//! The tokens already used (`iss`, `jti`), each kept until its `exp` (with the leeway) has
//! passed, so that a token is accepted once.
//!
//! The store is bounded: it holds at most its capacity of unexpired tokens, and when it is full a
//! new token is refused rather than an unexpired one forgotten (forgetting one would let it be
//! replayed). With a token lifetime of minutes, only a flood of validly signed tokens fills it.
//!
//! On disk it is an append-only file of JSON lines (`{"iss":..,"jti":..,"exp":..}`), each synced
//! before the request it admits goes on, read back at start so that a restart (or a crash) does
//! not reopen a replay. Lines are synced in groups: while one request writes and syncs, the lines
//! of the requests that come meanwhile wait, and the next of them writes and syncs them all at
//! once (group commit), so concurrent requests share a sync instead of queueing for one each. A line torn by a crash is skipped. When the file holds many more lines
//! than unexpired tokens it is compacted: the live tokens are written to a new file, synced, and
//! renamed over the old one.

use std::collections::VecDeque;
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The unexpired tokens held at most, by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The longest `jti` accepted, in bytes: a token id is an id, not a payload.
pub const MAX_JTI_BYTES: usize = 256;

/// The file is compacted once it holds this many lines and twice the live tokens.
const COMPACT_AFTER_LINES: usize = 1024;

/// Why a token was not recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Already used.
    Replayed,
    /// The store holds its capacity of unexpired tokens.
    Full,
    /// The store could not be written.
    Io(String),
}

/// The tokens used, in memory and (optionally) on disk.
#[derive(Debug)]
pub(crate) struct ReplayStore {
    memory: Mutex<Memory>,
    /// The file and its line count; written after the memory was updated, so a concurrent
    /// replay is refused while the write is synced.
    file: Option<Mutex<Journal>>,
    /// The lines waiting to be written, and which are synced.
    group: Mutex<Group>,
    /// Woken when a group has been synced (or failed).
    synced: Condvar,
    capacity: usize,
    leeway: u64,
}

#[derive(Debug, Default)]
struct Memory {
    seen: HashSet<Arc<str>>,
    /// `(exp, key)`, to evict by expiry.
    by_expiry: BTreeSet<(u64, Arc<str>)>,
}

/// Group commit: lines are numbered as they are queued; a request returns once its number is
/// synced.
#[derive(Debug, Default)]
struct Group {
    /// The lines queued and not yet taken by a writer.
    pending: Vec<u8>,
    /// How many lines were ever queued.
    queued: u64,
    /// Lines `..= synced` are written and synced (or failed).
    synced: u64,
    /// Whether a request is writing a group now.
    writing: bool,
    /// The recent groups that failed: `(first, last, why)`.
    failed: VecDeque<(u64, u64, String)>,
}

/// Failed groups remembered for their waiters.
const FAILED_GROUPS_KEPT: usize = 64;

#[derive(Debug)]
struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
    /// [`COMPACT_AFTER_LINES`], lower in tests.
    compact_after: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    iss: String,
    jti: String,
    exp: u64,
}

/// One key for `(iss, jti)`; a newline cannot be in an issuer that is allowed.
fn key(iss: &str, jti: &str) -> Arc<str> {
    Arc::from(format!("{iss}\n{jti}"))
}

impl Memory {
    /// Forgets the tokens whose `exp` plus `leeway` is before `now`.
    fn evict(&mut self, now: u64, leeway: u64) {
        while let Some((exp, _)) = self.by_expiry.first() {
            if exp.saturating_add(leeway) >= now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.seen.remove(&key);
            }
        }
    }

    fn insert(&mut self, key: Arc<str>, exp: u64) {
        if self.seen.insert(key.clone()) {
            self.by_expiry.insert((exp, key));
        }
    }
}

impl ReplayStore {
    /// A store in memory only: a restart forgets it.
    pub(crate) fn in_memory(capacity: usize, leeway: u64) -> ReplayStore {
        ReplayStore {
            memory: Mutex::new(Memory::default()),
            file: None,
            group: Mutex::new(Group::default()),
            synced: Condvar::new(),
            capacity,
            leeway,
        }
    }

    /// A store kept in `path`, with the unexpired tokens it already holds (as of `now`).
    pub(crate) fn open(
        path: &Path,
        capacity: usize,
        leeway: u64,
        now: u64,
    ) -> std::io::Result<ReplayStore> {
        let mut memory = Memory::default();
        let mut lines = 0;
        match File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    lines += 1;
                    // A line torn by a crash, or not ours, is skipped.
                    if let Ok(line) = serde_json::from_slice::<Line>(&line?) {
                        memory.insert(key(&line.iss, &line.jti), line.exp);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        memory.evict(now, leeway);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            lines,
            compact_after: COMPACT_AFTER_LINES,
        };
        journal.compact_if_due(&memory)?;
        Ok(ReplayStore {
            memory: Mutex::new(memory),
            file: Some(Mutex::new(journal)),
            group: Mutex::new(Group::default()),
            synced: Condvar::new(),
            capacity,
            leeway,
        })
    }

    /// Whether recording a token writes and syncs a file (and so blocks).
    pub(crate) fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// Records a token's first use, or says why it is refused.
    pub(crate) fn record(&self, iss: &str, jti: &str, exp: u64, now: u64) -> Result<(), Refused> {
        let key = key(iss, jti);
        {
            let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            memory.evict(now, self.leeway);
            if memory.seen.contains(&key) {
                return Err(Refused::Replayed);
            }
            if memory.seen.len() >= self.capacity {
                return Err(Refused::Full);
            }
            memory.insert(key, exp);
        }
        let Some(journal) = &self.file else {
            return Ok(());
        };
        let line = Line {
            iss: iss.to_string(),
            jti: jti.to_string(),
            exp,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| Refused::Io(e.to_string()))?;
        bytes.push(b'\n');
        // Unwritten, the token stays in memory (refused if it comes again) and this request is
        // refused: nothing is admitted that a restart could forget.
        self.commit(journal, &bytes)
    }

    /// Queues a line and returns once it is synced: written by this request with the lines
    /// queued before it, or by another request's group.
    fn commit(&self, journal: &Mutex<Journal>, line: &[u8]) -> Result<(), Refused> {
        let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.pending.extend_from_slice(line);
        group.queued += 1;
        let mine = group.queued;
        loop {
            if group.synced >= mine {
                let failed = group
                    .failed
                    .iter()
                    .find(|(a, b, _)| (*a..=*b).contains(&mine));
                return match failed {
                    Some((_, _, why)) => Err(Refused::Io(why.clone())),
                    None => Ok(()),
                };
            }
            if group.writing {
                group = self
                    .synced
                    .wait(group)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // This request writes the group: every line queued so far.
            group.writing = true;
            let lines = std::mem::take(&mut group.pending);
            let (first, last) = (group.synced + 1, group.queued);
            drop(group);
            let written = self.write_group(journal, &lines, last - first + 1);
            group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
            group.writing = false;
            group.synced = last;
            if let Err(why) = written {
                group.failed.push_back((first, last, why));
                if group.failed.len() > FAILED_GROUPS_KEPT {
                    group.failed.pop_front();
                }
            }
            self.synced.notify_all();
        }
    }

    fn write_group(
        &self,
        journal: &Mutex<Journal>,
        lines: &[u8],
        count: u64,
    ) -> Result<(), String> {
        let mut journal = journal.lock().unwrap_or_else(PoisonError::into_inner);
        journal.append(lines, count).map_err(|e| e.to_string())?;
        let memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        journal.compact_if_due(&memory).map_err(|e| e.to_string())
    }

    /// The unexpired tokens held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }
}

impl Journal {
    /// Appends `count` lines and syncs them.
    fn append(&mut self, lines: &[u8], count: u64) -> std::io::Result<()> {
        self.file.write_all(lines)?;
        self.file.sync_data()?;
        self.lines += usize::try_from(count).unwrap_or(usize::MAX);
        Ok(())
    }

    /// Rewrites the file with the live tokens only, when it has grown to hold many more lines.
    fn compact_if_due(&mut self, memory: &Memory) -> std::io::Result<()> {
        let live = memory.seen.len();
        if self.lines < self.compact_after || self.lines < live.saturating_mul(2) {
            return Ok(());
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".compacting");
        let fresh = self.path.with_file_name(name);
        let mut out = std::io::BufWriter::new(File::create(&fresh)?);
        for (exp, key) in &memory.by_expiry {
            let (iss, jti) = key.split_once('\n').unwrap_or((key, ""));
            let line = Line {
                iss: iss.to_string(),
                jti: jti.to_string(),
                exp: *exp,
            };
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&fresh, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself must survive a crash; not every platform can sync a folder.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = live;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rxguard-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path).unwrap().lines().count()
    }

    #[test]
    fn a_token_is_recorded_once_and_forgotten_after_it_expires() {
        let store = ReplayStore::in_memory(10, 30);
        assert_eq!(store.record("iss", "a", 1_000, 900), Ok(()));
        assert_eq!(store.record("iss", "a", 1_000, 950), Err(Refused::Replayed));
        assert_eq!(store.record("other", "a", 1_000, 950), Ok(()));
        // Within the leeway it is still remembered; after it, forgotten.
        assert_eq!(
            store.record("iss", "a", 1_000, 1_030),
            Err(Refused::Replayed)
        );
        assert_eq!(store.record("iss", "b", 2_000, 1_031), Ok(()));
        assert_eq!(store.len(), 1, "a and other/a expired");
    }

    #[test]
    fn an_exp_near_two_to_the_64_is_remembered_not_wrapped_around() {
        let store = ReplayStore::in_memory(10, 30);
        assert_eq!(store.record("iss", "a", u64::MAX - 1, 1_000), Ok(()));
        assert_eq!(
            store.record("iss", "a", u64::MAX - 1, 1_001),
            Err(Refused::Replayed)
        );
        assert_eq!(
            store.record("iss", "a", u64::MAX - 1, u64::MAX),
            Err(Refused::Replayed)
        );
    }

    #[test]
    fn a_full_store_refuses_new_tokens_until_old_ones_expire() {
        let store = ReplayStore::in_memory(3, 0);
        for jti in ["a", "b", "c"] {
            assert_eq!(store.record("iss", jti, 100, 10), Ok(()));
        }
        assert_eq!(store.record("iss", "d", 100, 10), Err(Refused::Full));
        assert_eq!(store.record("iss", "a", 100, 10), Err(Refused::Replayed));
        assert_eq!(store.record("iss", "d", 200, 101), Ok(()));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn concurrent_tokens_are_all_on_disk_when_they_are_admitted() {
        let path = temp("group.replay");
        let store = Arc::new(ReplayStore::open(&path, 10_000, 0, 0).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        assert_eq!(store.record("iss", &format!("t{t}-{i}"), 1_000, 0), Ok(()));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(lines(&path), 400, "every admitted token has its line");
        drop(store);
        let store = ReplayStore::open(&path, 10_000, 0, 10).unwrap();
        assert_eq!(
            store.record("iss", "t7-49", 1_000, 10),
            Err(Refused::Replayed)
        );
        assert_eq!(store.len(), 400);
    }

    #[test]
    fn the_file_survives_a_restart_skips_a_torn_line_and_stays_compact() {
        let path = temp("restart.replay");
        let store = ReplayStore::open(&path, 100, 0, 10).unwrap();
        store.record("iss", "a", 100, 10).unwrap();
        store.record("iss", "old", 20, 10).unwrap();
        drop(store);
        // A crash in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"iss\":\"iss\",\"jt")
            .unwrap();
        let store = ReplayStore::open(&path, 100, 0, 50).unwrap();
        assert_eq!(store.record("iss", "a", 100, 50), Err(Refused::Replayed));
        assert_eq!(
            store.record("iss", "old", 100, 50),
            Ok(()),
            "it had expired"
        );

        // A flood of short-lived tokens: the file is compacted to the live ones.
        let path = temp("flood.replay");
        let store = ReplayStore::open(&path, 100, 0, 0).unwrap();
        if let Some(journal) = &store.file {
            journal.lock().unwrap().compact_after = 64;
        }
        for i in 0..500u64 {
            store.record("iss", &format!("j{i}"), i + 10, i).unwrap();
        }
        assert!(store.len() <= 11, "{}", store.len());
        let held = lines(&path);
        assert!(held <= 64, "{held} lines");
        drop(store);
        let store = ReplayStore::open(&path, 100, 0, 500).unwrap();
        assert_eq!(
            store.record("iss", "j499", 509, 500),
            Err(Refused::Replayed)
        );
    }
}
