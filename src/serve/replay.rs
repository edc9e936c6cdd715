//! The tokens already used (`iss`, `jti`), each kept until its `exp` (with the leeway) has
//! passed, so that a token is accepted once.
//!
//! The store is bounded: it holds at most its capacity of unexpired tokens, and when it is full a
//! new token is refused rather than an unexpired one forgotten (forgetting one would let it be
//! replayed). With a token lifetime of minutes, only a flood of validly signed tokens fills it.
//!
//! A token is recorded in memory at once, so a concurrent replay is refused while the first use
//! is still being written. On disk the store is an append-only file of JSON lines
//! (`{"iss":..,"jti":..,"exp":..}`), read back at start so that a restart (or a crash) does not
//! reopen a replay. One writer thread owns the file: it takes every line queued since its last
//! sync and those that arrive within [`GROUP_WINDOW`], writes them and syncs once (group
//! commit), then tells each waiting request whether its line is on disk. A request waits for that answer ([`Pending`]) before it goes on, without
//! holding a thread: the wait is a future, or a blocking call for callers outside async code. A
//! line torn by a crash is skipped. When the file holds many more lines than unexpired tokens it
//! is compacted: the live tokens are written to a new file, synced, and renamed over the old one.

use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// The unexpired tokens held at most, by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The longest `jti` accepted, in bytes: a token id is an id, not a payload.
pub const MAX_JTI_BYTES: usize = 256;

/// How long the writer waits for more lines before it syncs a group, and the most lines in one.
const GROUP_WINDOW: std::time::Duration = std::time::Duration::from_micros(1000);
const GROUP_MAX: usize = 1024;

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
    memory: Arc<Mutex<Memory>>,
    /// The thread that writes and syncs the file, when there is one.
    writer: Option<Writer>,
    capacity: usize,
    leeway: u64,
}

#[derive(Debug, Default)]
struct Memory {
    seen: HashSet<Arc<str>>,
    /// `(exp, key)`, to evict by expiry.
    by_expiry: BTreeSet<(u64, Arc<str>)>,
}

/// A line to write, and where to say whether it is on disk.
struct Job {
    line: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Debug)]
struct Writer {
    /// `None` once the store is dropped, which ends the thread.
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("bytes", &self.line.len())
            .finish()
    }
}

/// A token recorded in memory whose line may still be on its way to disk: the request it admits
/// waits for it before going on.
#[must_use = "a token is admitted only once its line is on disk"]
#[derive(Debug)]
pub(crate) struct Pending(Option<oneshot::Receiver<Result<(), String>>>);

impl Pending {
    /// Waits, as a future, until the line is synced.
    pub(crate) async fn durable(self) -> Result<(), Refused> {
        match self.0 {
            None => Ok(()),
            Some(synced) => settle(synced.await),
        }
    }

    /// Waits, blocking the thread, until the line is synced. Not for async code.
    pub(crate) fn wait(self) -> Result<(), Refused> {
        match self.0 {
            None => Ok(()),
            Some(synced) => settle(synced.blocking_recv()),
        }
    }
}

fn settle(answer: Result<Result<(), String>, oneshot::error::RecvError>) -> Result<(), Refused> {
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(Refused::Io(why)),
        Err(_) => Err(Refused::Io("the replay store's writer has stopped".into())),
    }
}

#[derive(Debug)]
struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
    /// [`COMPACT_AFTER_LINES`], lower in tests.
    compact_after: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    iss: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    jti: std::borrow::Cow<'a, str>,
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
            memory: Arc::default(),
            writer: None,
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
        ReplayStore::open_compacting_after(path, capacity, leeway, now, COMPACT_AFTER_LINES)
    }

    fn open_compacting_after(
        path: &Path,
        capacity: usize,
        leeway: u64,
        now: u64,
        compact_after: usize,
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
            compact_after,
        };
        journal.compact_if_due(&memory)?;
        let memory = Arc::new(Mutex::new(memory));
        let (jobs, queue) = mpsc::channel();
        let shared = memory.clone();
        let thread = std::thread::Builder::new()
            .name("rxguard-replay".into())
            .spawn(move || journal.write_until_closed(&queue, &shared))?;
        Ok(ReplayStore {
            memory,
            writer: Some(Writer {
                jobs: Some(jobs),
                thread: Some(thread),
            }),
            capacity,
            leeway,
        })
    }

    /// Records a token's first use, or says why it is refused. The token is refused from now on;
    /// the request it admits waits for the [`Pending`] before going on.
    pub(crate) fn record(
        &self,
        iss: &str,
        jti: &str,
        exp: u64,
        now: u64,
    ) -> Result<Pending, Refused> {
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
        let Some(jobs) = self.writer.as_ref().and_then(|w| w.jobs.as_ref()) else {
            return Ok(Pending(None));
        };
        let line = Line {
            iss: iss.into(),
            jti: jti.into(),
            exp,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| Refused::Io(e.to_string()))?;
        bytes.push(b'\n');
        // Unwritten, the token stays in memory (refused if it comes again) and this request is
        // refused: nothing is admitted that a restart could forget.
        let (done, synced) = oneshot::channel();
        jobs.send(Job { line: bytes, done })
            .map_err(|_| Refused::Io("the replay store's writer has stopped".into()))?;
        Ok(Pending(Some(synced)))
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

impl Drop for Writer {
    /// Closes the queue and waits for the lines already queued to be written.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Journal {
    /// The writer thread: every line queued since the last sync is written and synced at once,
    /// and each waiter told the outcome; ends when the store is dropped.
    fn write_until_closed(mut self, queue: &mpsc::Receiver<Job>, memory: &Mutex<Memory>) {
        let mut lines = Vec::new();
        let mut waiting = Vec::new();
        while let Ok(first) = queue.recv() {
            // The lines that come within a short window share the sync: fewer syncs under load,
            // at a cost in latency the request hides by computing its answer meanwhile.
            let until = std::time::Instant::now() + GROUP_WINDOW;
            let mut job = Some(first);
            while let Some(Job { line, done }) = job.take() {
                lines.extend_from_slice(&line);
                waiting.push(done);
                if waiting.len() >= GROUP_MAX {
                    break;
                }
                let left = until.saturating_duration_since(std::time::Instant::now());
                job = queue.recv_timeout(left).ok();
            }
            let written = self
                .append(&lines, waiting.len())
                .map_err(|e| e.to_string());
            for done in waiting.drain(..) {
                // A waiter that has gone (its connection closed) needs no answer.
                let _ = done.send(written.clone());
            }
            lines.clear();
            if written.is_ok() {
                let memory = memory.lock().unwrap_or_else(PoisonError::into_inner);
                if let Err(e) = self.compact_if_due(&memory) {
                    // The old file is still whole and still appended to: nothing admitted is
                    // lost, the file only stays longer.
                    tracing::warn!(error = %e, "the replay store could not be compacted");
                }
            }
        }
    }

    /// Appends `count` lines and syncs them.
    fn append(&mut self, lines: &[u8], count: usize) -> std::io::Result<()> {
        self.file.write_all(lines)?;
        self.file.sync_data()?;
        self.lines += count;
        Ok(())
    }

    /// Rewrites the file with the live tokens only, when it has grown to hold many more lines.
    /// The new file is synced before it is renamed over the old one, and the handle written
    /// from then on is the new file's own, so a failure at any step leaves a whole file.
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
                iss: iss.into(),
                jti: jti.into(),
                exp: *exp,
            };
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&fresh, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself must survive a crash; not every platform can sync a folder.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        self.file = file;
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

    impl ReplayStore {
        /// Records a token and waits for it to be on disk.
        fn use_once(&self, iss: &str, jti: &str, exp: u64, now: u64) -> Result<(), Refused> {
            self.record(iss, jti, exp, now)?.wait()
        }
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path).unwrap().lines().count()
    }

    #[test]
    fn a_token_is_recorded_once_and_forgotten_after_it_expires() {
        let store = ReplayStore::in_memory(10, 30);
        assert_eq!(store.use_once("iss", "a", 1_000, 900), Ok(()));
        assert_eq!(
            store.use_once("iss", "a", 1_000, 950),
            Err(Refused::Replayed)
        );
        assert_eq!(store.use_once("other", "a", 1_000, 950), Ok(()));
        // Within the leeway it is still remembered; after it, forgotten.
        assert_eq!(
            store.use_once("iss", "a", 1_000, 1_030),
            Err(Refused::Replayed)
        );
        assert_eq!(store.use_once("iss", "b", 2_000, 1_031), Ok(()));
        assert_eq!(store.len(), 1, "a and other/a expired");
    }

    #[test]
    fn an_exp_near_two_to_the_64_is_remembered_not_wrapped_around() {
        let store = ReplayStore::in_memory(10, 30);
        assert_eq!(store.use_once("iss", "a", u64::MAX - 1, 1_000), Ok(()));
        assert_eq!(
            store.use_once("iss", "a", u64::MAX - 1, 1_001),
            Err(Refused::Replayed)
        );
        assert_eq!(
            store.use_once("iss", "a", u64::MAX - 1, u64::MAX),
            Err(Refused::Replayed)
        );
    }

    #[test]
    fn a_full_store_refuses_new_tokens_until_old_ones_expire() {
        let store = ReplayStore::in_memory(3, 0);
        for jti in ["a", "b", "c"] {
            assert_eq!(store.use_once("iss", jti, 100, 10), Ok(()));
        }
        assert_eq!(store.use_once("iss", "d", 100, 10), Err(Refused::Full));
        assert_eq!(store.use_once("iss", "a", 100, 10), Err(Refused::Replayed));
        assert_eq!(store.use_once("iss", "d", 200, 101), Ok(()));
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
                        assert_eq!(
                            store.use_once("iss", &format!("t{t}-{i}"), 1_000, 0),
                            Ok(())
                        );
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
            store.use_once("iss", "t7-49", 1_000, 10),
            Err(Refused::Replayed)
        );
        assert_eq!(store.len(), 400);
    }

    #[test]
    fn a_replay_is_refused_while_the_first_use_is_still_being_synced() {
        let path = temp("pending.replay");
        let store = ReplayStore::open(&path, 10, 0, 0).unwrap();
        let first = store.record("iss", "a", 1_000, 0).unwrap();
        assert_eq!(
            store.record("iss", "a", 1_000, 0).map(|_| ()),
            Err(Refused::Replayed)
        );
        assert_eq!(first.wait(), Ok(()));
        assert_eq!(lines(&path), 1, "the replay wrote nothing");
    }

    #[test]
    fn the_file_survives_a_restart_skips_a_torn_line_and_stays_compact() {
        let path = temp("restart.replay");
        let store = ReplayStore::open(&path, 100, 0, 10).unwrap();
        store.use_once("iss", "a", 100, 10).unwrap();
        store.use_once("iss", "old", 20, 10).unwrap();
        drop(store);
        // A crash in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"iss\":\"iss\",\"jt")
            .unwrap();
        let store = ReplayStore::open(&path, 100, 0, 50).unwrap();
        assert_eq!(store.use_once("iss", "a", 100, 50), Err(Refused::Replayed));
        assert_eq!(
            store.use_once("iss", "old", 100, 50),
            Ok(()),
            "it had expired"
        );

        // A flood of short-lived tokens: the file is compacted to the live ones.
        let path = temp("flood.replay");
        let store = ReplayStore::open_compacting_after(&path, 100, 0, 0, 64).unwrap();
        for i in 0..500u64 {
            store.use_once("iss", &format!("j{i}"), i + 10, i).unwrap();
        }
        assert!(store.len() <= 11, "{}", store.len());
        let held = lines(&path);
        assert!(held <= 64, "{held} lines");
        drop(store);
        let store = ReplayStore::open(&path, 100, 0, 500).unwrap();
        assert_eq!(
            store.use_once("iss", "j499", 509, 500),
            Err(Refused::Replayed)
        );
    }
}
