//! # kinfolk-search
//!
//! [`TantivyIndex`]: kinfolk's user search ([`kinfolk::SearchIndex`]) on
//! [tantivy](https://docs.rs/tantivy) 0.27, kept in step with the store's
//! change feed by the service.
//!
//! ```
//! use kinfolk::search::{IndexBatch, MatchTier, SearchDoc};
//! use kinfolk::{SearchIndex, SearchQuery, UserId};
//! use kinfolk_search::TantivyIndex;
//!
//! # futures_executor(async {
//! let index = TantivyIndex::open_in_ram()?;
//! let id = UserId::new();
//! let doc = SearchDoc { id, username: "jose_a".into(), name: "José Álvarez".into(), followers_count: 3 };
//! index.apply(IndexBatch { upserts: vec![doc], removals: vec![], upto_seq: 1 }).await?;
//! index.refresh().await?;
//! let hits = index.top(&SearchQuery::parse("alv")?, &Default::default(), 20).await?;
//! assert_eq!(hits[0].id, id);
//! assert_eq!(hits[0].tier, MatchTier::NamePrefix);
//! # Ok::<(), kinfolk::Error>(()) });
//! # fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! ## What comes from the index, what from the store
//!
//! The index holds, per user, only what finds and orders candidates:
//! the **username** (ASCII-lower-cased), the **display name** and
//! **followers_count**, keyed by the user id. It answers "which users match
//! this query, and in which [`MatchTier`](kinfolk::search::MatchTier)", and
//! orders them by [`RankKey`](kinfolk::search::RankKey) (tier, relationship
//! boost given by the caller, followers_count, id).
//!
//! Everything that decides whether a viewer may *see* a candidate is checked
//! by the service against the store at query time, never here: account
//! status (deactivated users), `discoverable`, `allow_mentions`,
//! `allow_room_invites`, blocks in both directions, mutes, room memberships
//! and list visibility. So a setting or a block changed a moment ago is
//! honoured even while the index is a little behind; a stale username, name
//! or followers_count only moves a user within the ranking until the index
//! catches up (within a second).
//!
//! ## Matching
//!
//! The index agrees exactly with core's reference
//! [`match_tier`](kinfolk::search::match_tier): each tier has a candidate
//! query built in code (user text is never parsed as query syntax) that
//! matches exactly the users of that tier or a better one, so a candidate's
//! tier is known from the query alone (no stored-field read):
//!
//! - exact username: one term of the lower-cased username;
//! - username prefix: the username's edge n-grams (every prefix, by char);
//! - name prefix: every prefix (up to 20 chars, then the whole word) of every
//!   word of the name folded with [`kinfolk::fold::fold`] and split with
//!   [`kinfolk::fold::name_words`] (in Han, kana and Hangul every suffix of
//!   a word too); all query words must match;
//! - fuzzy (terms of 4+ chars): a word or the username has a prefix within
//!   one edit of a term of n chars iff one of its prefixes of n-1..=n+1
//!   chars is, so a Levenshtein-1 match of the whole term over the prefix
//!   n-grams finds exactly those users. Split by the first char, so that no
//!   walk visits every first char of the term dictionary: prefixes that
//!   keep the term's first char are found by a Levenshtein automaton that
//!   stays in that char's branch; an edit on the first char is an exact
//!   lookup (a substitution or an insertion before it in a field of every
//!   prefix minus its first char; a deletion in the prefix n-grams).
//!
//! A term longer than the n-gram caps (over 20 chars for a name word, 19
//! for fuzzy, 32 for the username) makes its tier's query a superset; those
//! candidates are verified with `match_tier` on the stored username and
//! name (the fuzzy fallback is a prefix-Levenshtein automaton over whole
//! name words and the username).
//!
//! ## Ranking: true top-k
//!
//! Tier queries run best tier first. Their matches are read in full (a
//! 1-char prefix is one term whose postings are every matching user; no
//! "first 50 terms" expansion limit), each scored from fast fields into a
//! bounded heap of `k` [`RankKey`](kinfolk::search::RankKey)s. Once the heap
//! holds `k` users of tier `t` or better, later tiers cannot enter and are
//! skipped.
//!
//! ## Freshness and durability
//!
//! [`apply`](kinfolk::SearchIndex::apply) adds and deletes documents in a
//! tantivy `IndexWriter` (replace by user id, so re-applying is harmless).
//! A background thread commits pending changes every
//! [`IndexOptions::commit_interval`] (250 ms by default), which makes them
//! searchable well within a second;
//! [`refresh`](kinfolk::SearchIndex::refresh) commits and reloads at once.
//! Each commit stores the feed sequence it covers as the tantivy commit
//! payload; after a crash or a drop without refresh, reopening reports the
//! last committed sequence and the service re-applies the feed from there.
//! A missing, damaged or incompatible index directory is rebuilt empty
//! (`applied_seq` 0), which makes the service rebuild it from the store.
//! Incompatible includes an index whose documents were folded with another
//! version of core's folding rule: the commit payload records
//! [`kinfolk::fold::FOLD_VERSION`], and an index built with another one
//! (or before the version was recorded) is rebuilt from the store on open.
//!
//! Every write — `apply`, `refresh`, `clear`, the background commit — runs on
//! the index's own writer thread (it owns the tantivy `IndexWriter`); the
//! async methods send it a command and await its answer, so no tantivy write
//! blocks the caller's executor and no runtime is assumed. Searches
//! ([`top`](kinfolk::SearchIndex::top)) read a tantivy `Searcher` inline.
//!
//! ## Rebuilds that continue
//!
//! While the service rebuilds the index, it records a
//! [`RebuildMark`](kinfolk::search::RebuildMark) after every batch; the
//! mark is committed in the payload with the documents applied before it,
//! so an interrupted rebuild continues from the last committed batch.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod conj;
mod rank;
mod schema;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_channel::oneshot;
use kinfolk::search::{Boosts, IndexBatch, RebuildMark, SearchHit};
use kinfolk::{Error, Result, SearchIndex, SearchQuery, UserId};
use tantivy::directory::error::LockError;
use tantivy::indexer::LogMergePolicy;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError};

use crate::schema::Fields;

/// Maps any engine error to [`Error::Storage`].
pub(crate) fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::storage(e)
}

/// The commit payload: a format tag, the folding version the documents
/// were folded with ([`kinfolk::fold::FOLD_VERSION`]) and the feed sequence.
/// Format 1 (`kinfolk-search/1 seq=N`) had no folding version: it was
/// folding version 1.
const PAYLOAD_PREFIX: &str = "kinfolk-search/2 fold=";
const PAYLOAD_PREFIX_V1: &str = "kinfolk-search/1 seq=";

/// The mark of a rebuild in progress follows the sequence:
/// ` rebuild=UPTO,AFTER,DONE` (`AFTER` a user id or `-`).
const MARK_PREFIX: &str = " rebuild=";

fn encode_payload(seq: u64, mark: Option<&RebuildMark>) -> String {
    let mut out = format!("{PAYLOAD_PREFIX}{} seq={seq}", kinfolk::fold::FOLD_VERSION);
    if let Some(m) = mark {
        let after = m.after.map_or_else(|| "-".to_string(), |id| id.to_string());
        out.push_str(&format!("{MARK_PREFIX}{},{after},{}", m.upto_seq, m.done));
    }
    out
}

/// What a commit payload says.
#[derive(Debug, PartialEq, Eq)]
enum Payload {
    /// Built with `fold`, covering the feed up to `seq`, maybe in the middle
    /// of a rebuild.
    Known {
        fold: u32,
        seq: u64,
        mark: Option<RebuildMark>,
    },
    /// Not a payload this crate writes.
    Unknown,
}

fn decode_mark(text: &str) -> Option<RebuildMark> {
    let mut parts = text.split(',');
    let upto_seq = parts.next()?.parse().ok()?;
    let after = match parts.next()? {
        "-" => None,
        id => Some(id.parse::<UserId>().ok()?),
    };
    let done = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(RebuildMark {
        upto_seq,
        after,
        done,
    })
}

fn decode_payload(payload: Option<&str>) -> Payload {
    let parsed = match payload {
        None => Some((kinfolk::fold::FOLD_VERSION, 0, None)),
        Some(p) => match p.strip_prefix(PAYLOAD_PREFIX) {
            Some(rest) => rest.split_once(" seq=").and_then(|(fold, rest)| {
                let (seq, mark) = match rest.split_once(MARK_PREFIX) {
                    Some((seq, mark)) => (seq, Some(decode_mark(mark)?)),
                    None => (rest, None),
                };
                Some((fold.parse().ok()?, seq.parse().ok()?, mark))
            }),
            None => p
                .strip_prefix(PAYLOAD_PREFIX_V1)
                .and_then(|seq| Some((1, seq.parse().ok()?, None))),
        },
    };
    match parsed {
        Some((fold, seq, mark)) => Payload::Known { fold, seq, mark },
        None => Payload::Unknown,
    }
}

/// Tuning of a [`TantivyIndex`].
#[derive(Clone, Debug)]
pub struct IndexOptions {
    commit_interval: Duration,
    writer_memory: usize,
    background_nice: i32,
    followers_order: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            commit_interval: Duration::from_millis(250),
            writer_memory: 32_000_000,
            background_nice: 0,
            followers_order: true,
        }
    }
}

impl IndexOptions {
    /// Smallest writer memory budget tantivy accepts.
    pub const MIN_WRITER_MEMORY: usize = 15_000_000;
    /// Largest writer memory budget used.
    pub const MAX_WRITER_MEMORY: usize = 3_000_000_000;
    /// Shortest commit interval used.
    pub const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(10);

    /// How often the background thread commits pending changes (default
    /// 250 ms; at least 10 ms). The freshness contract (searchable within
    /// 1 s of `apply`) needs it well below a second; a longer one is for
    /// tests that want changes to stay uncommitted.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval.max(Self::MIN_COMMIT_INTERVAL);
        self
    }

    /// The indexing memory budget in bytes (default 32 MB, clamped to
    /// [`Self::MIN_WRITER_MEMORY`]..=[`Self::MAX_WRITER_MEMORY`]).
    pub fn writer_memory(mut self, bytes: usize) -> Self {
        self.writer_memory = bytes.clamp(Self::MIN_WRITER_MEMORY, Self::MAX_WRITER_MEMORY);
        self
    }

    /// How much nicer than the thread that opens the index its background
    /// threads run (default 0: the opener's priority; clamped to 0..=19,
    /// the result capped at nice 19): the writer thread, and tantivy's
    /// indexing, merge and segment-updater threads, which inherit it from
    /// the thread that creates them. Index upkeep then yields the CPU to
    /// the store's writer and readers on a busy machine, at the price of
    /// freshness: measured on 2 busy vCPUs (BENCHMARKS.md, "Search, session
    /// 8"), nice 5 or 10 raised the time until a change is searchable from
    /// ≈ 0.35 s to ≈ 0.4–0.9 s at p50 and past 1 s at p99 in some runs,
    /// which is why it is off by default. Linux only (nice is per thread
    /// there); elsewhere it is ignored.
    ///
    /// ```
    /// let opts = kinfolk_search::IndexOptions::default().background_nice(10);
    /// # let _ = opts;
    /// ```
    pub fn background_nice(mut self, increment: i32) -> Self {
        self.background_nice = increment.clamp(0, 19);
        self
    }
}

impl IndexOptions {
    /// Whether each segment of 65,536 docs or more keeps its docs in
    /// followers order (default true; 4 bytes per doc, built by the
    /// index's writer thread after each commit that adds such a segment,
    /// else by the first search that needs it). A short prefix matches
    /// tens of thousands of users at 1M: with the order, the search looks
    /// at the most-followed matches first and stops once no further one can
    /// enter the top `k`, instead of ranking every match. Results are the
    /// same either way; false saves the memory.
    ///
    /// ```
    /// let opts = kinfolk_search::IndexOptions::default().followers_order(false);
    /// # let _ = opts;
    /// ```
    pub fn followers_order(mut self, keep: bool) -> Self {
        self.followers_order = keep;
        self
    }
}

/// Raises the calling thread's nice value by `increment` (capped at 19).
/// Threads it creates afterwards start with the new value. A failure only
/// leaves the priority as it was.
fn lower_priority(increment: i32) {
    #[cfg(target_os = "linux")]
    if increment > 0 {
        use rustix::process::{getpriority_process, setpriority_process};
        let tid = rustix::thread::gettid();
        let lowered = getpriority_process(Some(tid))
            .and_then(|now| setpriority_process(Some(tid), now.saturating_add(increment).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "could not lower the search index threads' priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = increment;
}

/// Runs `f` on a short-lived thread whose priority was lowered by
/// `increment`, so that the threads `f` creates inherit it.
fn on_lowered_thread<T: Send>(increment: i32, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("kinfolk-search-open".into())
            .spawn_scoped(s, || {
                lower_priority(increment);
                f()
            })
            .map_err(storage)?
            .join()
            .map_err(|_| storage("the search index's opening thread panicked"))
    })
}

/// What searches, callers and the writer thread share.
struct Shared {
    fields: Fields,
    reader: IndexReader,
    /// Highest `upto_seq` applied, pending included (set by the writer thread).
    applied_seq: AtomicU64,
    /// The mark of a rebuild in progress, pending included.
    mark: Mutex<Option<RebuildMark>>,
    /// Per segment: the fast-field columns and the followers order.
    columns: rank::ColumnCache,
}

impl Shared {
    fn mark(&self) -> MutexGuard<'_, Option<RebuildMark>> {
        // A plain value: a panic elsewhere cannot leave it half-written.
        self.mark.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn closed() -> Error {
    Error::storage("search index is closed")
}

/// The answer to a command.
type Reply = oneshot::Sender<Result<()>>;

/// Work for the writer thread: every tantivy write happens there, never on
/// the caller's executor.
enum Command {
    Apply(IndexBatch, Reply),
    SetMark(Option<RebuildMark>, Reply),
    Refresh(Reply),
    Clear(Reply),
}

/// The writer thread's state: it owns the `IndexWriter`.
struct WriterThread {
    shared: Arc<Shared>,
    writer: IndexWriter,
    interval: Duration,
    /// When pending changes are to be committed (`None`: nothing pending).
    due: Option<Instant>,
    /// [`IndexOptions::followers_order`].
    ordered: bool,
}

impl WriterThread {
    fn run(mut self, commands: Receiver<Command>) {
        self.warm();
        loop {
            let next = match self.due {
                Some(due) => {
                    let now = Instant::now();
                    if now >= due {
                        self.background_commit();
                        continue;
                    }
                    commands.recv_timeout(due - now)
                }
                None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => self.background_commit(),
                // The index was dropped; pending changes stay uncommitted
                // (the service re-applies them from the feed on reopen).
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Joins tantivy's indexing and merge threads, so the directory is
        // free for the next open when the index's drop returns.
        if let Err(e) = self.writer.wait_merging_threads() {
            tracing::warn!(error = %e, "search index writer did not shut down cleanly");
        }
    }

    fn handle(&mut self, command: Command) {
        let (reply, out) = match command {
            Command::Apply(batch, reply) => (reply, self.apply(&batch)),
            Command::SetMark(mark, reply) => {
                *self.shared.mark() = mark;
                self.pending();
                (reply, Ok(()))
            }
            Command::Refresh(reply) => (
                reply,
                if self.due.is_some() {
                    self.commit()
                } else {
                    self.shared.reader.reload().map_err(storage)
                },
            ),
            Command::Clear(reply) => (reply, self.clear()),
        };
        // The caller may have gone away (a dropped future): nothing to tell.
        let _ = reply.send(out);
    }

    fn pending(&mut self) {
        if self.due.is_none() {
            self.due = Some(Instant::now() + self.interval);
        }
    }

    fn apply(&mut self, batch: &IndexBatch) -> Result<()> {
        // Any change counts as pending from here on, even if a later one fails.
        self.pending();
        let fields = &self.shared.fields;
        for doc in &batch.upserts {
            self.writer.delete_term(fields.id_term(doc.id));
            self.writer
                .add_document(fields.document(doc))
                .map_err(storage)?;
        }
        for id in &batch.removals {
            self.writer.delete_term(fields.id_term(*id));
        }
        self.shared
            .applied_seq
            .fetch_max(batch.upto_seq, Ordering::AcqRel);
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let seq = self.shared.applied_seq.load(Ordering::Acquire);
        let mark = *self.shared.mark();
        let mut prepared = self.writer.prepare_commit().map_err(storage)?;
        prepared.set_payload(&encode_payload(seq, mark.as_ref()));
        prepared.commit().map_err(storage)?;
        self.due = None;
        self.shared.reader.reload().map_err(storage)?;
        self.warm();
        Ok(())
    }

    /// Builds the followers order of new large segments here rather than
    /// in a search (a failure leaves it to the search that needs it).
    fn warm(&self) {
        let searcher = self.shared.reader.searcher();
        if let Err(e) = self.shared.columns.warm(&searcher, self.ordered) {
            tracing::warn!(error = %e, "search index: could not prepare the followers order");
        }
    }

    fn background_commit(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!(error = %e, "search index background commit failed; will retry");
            self.due = Some(Instant::now() + self.interval);
        }
    }

    fn clear(&mut self) -> Result<()> {
        // Drop what is pending first, so no queued document survives.
        self.writer.rollback().map_err(storage)?;
        self.writer.delete_all_documents().map_err(storage)?;
        self.shared.applied_seq.store(0, Ordering::Release);
        *self.shared.mark() = None;
        self.commit()
    }
}

struct Worker {
    commands: Sender<Command>,
    handle: JoinHandle<()>,
}

/// kinfolk's user search on tantivy; see the [crate docs](crate).
///
/// In a batch, upserts are applied before removals, so a user listed in
/// both ends up removed.
///
/// Cheap to share behind an `Arc`; all methods take `&self`. Every write
/// (apply, commit, clear) runs on the index's own writer thread, which also
/// commits pending changes in the background; dropping the index stops that
/// thread and releases the index directory.
/// Changes applied since the last commit are not committed on drop (call
/// [`refresh`](SearchIndex::refresh) first to keep them); the service
/// re-applies them from the change feed on the next open.
pub struct TantivyIndex {
    shared: Arc<Shared>,
    worker: Option<Worker>,
    location: Option<PathBuf>,
    options: IndexOptions,
}

impl fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TantivyIndex")
            .field(
                "location",
                &self
                    .location
                    .as_deref()
                    .map_or("ram".into(), Path::to_string_lossy),
            )
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// An index ready to be wrapped, and its committed sequence.
struct Opened {
    writer: IndexWriter,
    reader: IndexReader,
    committed_seq: u64,
    committed_mark: Option<RebuildMark>,
}

enum OpenFailure {
    /// Another writer holds the directory (or no thread could be started):
    /// an error, never a rebuild.
    Busy(Error),
    /// Unreadable, inconsistent or incompatible: rebuild empty.
    Damaged(String),
}

impl TantivyIndex {
    /// An empty index in memory, with default options (tests, small hosts).
    ///
    /// # Errors
    /// [`Error::Storage`] if tantivy cannot start its writer.
    pub fn open_in_ram() -> Result<Self> {
        Self::open_in_ram_with(IndexOptions::default())
    }

    /// [`Self::open_in_ram`] with options.
    ///
    /// # Errors
    /// [`Error::Storage`] if tantivy cannot start its writer.
    pub fn open_in_ram_with(options: IndexOptions) -> Result<Self> {
        let (schema, fields) = Fields::build();
        let index = Index::builder()
            .schema(schema)
            .create_in_ram()
            .map_err(storage)?;
        let opened = finish_open(index, &options, 0, None).map_err(|f| match f {
            OpenFailure::Busy(e) => e,
            OpenFailure::Damaged(m) => storage(m),
        })?;
        Self::start(opened, fields, options, None)
    }

    /// Opens the index in `dir` with default options, creating the directory
    /// if missing. The directory belongs to the index.
    ///
    /// A missing index, or a damaged or incompatible one (unreadable meta
    /// or segment files, another schema or payload format), is rebuilt
    /// empty, with `applied_seq` 0, so the service re-applies the whole feed
    /// or rebuilds from the store; that is not an error. Rebuilding removes
    /// the tantivy files of the old index (`meta.json`, `.managed.json`,
    /// segment files) and leaves other files alone.
    ///
    /// # Errors
    /// [`Error::Storage`] when the directory cannot be created or written,
    /// or another `TantivyIndex` (in this or another process) has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, IndexOptions::default())
    }

    /// Whether `dir` holds an index (of any version: [`Self::open`] may
    /// still rebuild it empty).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("kinfolk-no-index-here");
    /// assert!(!kinfolk_search::TantivyIndex::exists_in(&dir));
    /// ```
    pub fn exists_in(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join("meta.json").is_file()
    }

    /// [`Self::open`] with options.
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_with(dir: impl AsRef<Path>, options: IndexOptions) -> Result<Self> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(storage)?;
        let (schema, fields) = Fields::build();
        let opened = match open_existing(dir, &schema, &options) {
            Ok(Some(opened)) => opened,
            Ok(None) => create_fresh(dir, schema, &options)?,
            Err(OpenFailure::Busy(e)) => return Err(e),
            Err(OpenFailure::Damaged(why)) => {
                tracing::warn!(dir = %dir.display(), %why, "search index damaged; rebuilding it empty");
                create_fresh(dir, schema, &options)?
            }
        };
        Self::start(opened, fields, options, Some(dir.to_path_buf()))
    }

    fn start(
        opened: Opened,
        fields: Fields,
        options: IndexOptions,
        location: Option<PathBuf>,
    ) -> Result<Self> {
        let Opened {
            writer,
            reader,
            committed_seq,
            committed_mark,
        } = opened;
        let shared = Arc::new(Shared {
            fields,
            reader,
            applied_seq: AtomicU64::new(committed_seq),
            mark: Mutex::new(committed_mark),
            columns: rank::ColumnCache::default(),
        });
        let (commands, received) = mpsc::channel::<Command>();
        let thread = WriterThread {
            shared: Arc::clone(&shared),
            writer,
            interval: options.commit_interval,
            due: None,
            ordered: options.followers_order,
        };
        // Lowered like tantivy's threads: each commit respawns tantivy's
        // indexing worker from this thread.
        let nice = options.background_nice;
        let handle = std::thread::Builder::new()
            .name("kinfolk-search-writer".into())
            .spawn(move || {
                lower_priority(nice);
                thread.run(received)
            })
            .map_err(storage)?;
        Ok(Self {
            shared,
            worker: Some(Worker { commands, handle }),
            location,
            options,
        })
    }

    /// Sends a command to the writer thread and waits for its answer
    /// without blocking the caller's executor.
    async fn call(&self, command: impl FnOnce(Reply) -> Command) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.worker
            .as_ref()
            .ok_or_else(closed)?
            .commands
            .send(command(reply))
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

impl Drop for TantivyIndex {
    fn drop(&mut self) {
        if let Some(Worker { commands, handle }) = self.worker.take() {
            drop(commands);
            if handle.join().is_err() {
                tracing::warn!("search index writer thread panicked");
            }
        }
    }
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    async fn apply(&self, batch: IndexBatch) -> Result<()> {
        self.call(|reply| Command::Apply(batch, reply)).await
    }

    async fn applied_seq(&self) -> Result<u64> {
        Ok(self.shared.applied_seq.load(Ordering::Acquire))
    }

    async fn refresh(&self) -> Result<()> {
        self.call(Command::Refresh).await
    }

    async fn clear(&self) -> Result<()> {
        self.call(Command::Clear).await
    }

    async fn top(&self, query: &SearchQuery, boosts: &Boosts, k: usize) -> Result<Vec<SearchHit>> {
        let searcher = self.shared.reader.searcher();
        rank::top(
            &searcher,
            &self.shared.columns,
            &self.shared.fields,
            query,
            boosts,
            k,
            if self.options.followers_order {
                rank::Walk::WhenItPays
            } else {
                rank::Walk::Never
            },
        )
    }

    async fn rebuild_mark(&self) -> Result<Option<RebuildMark>> {
        Ok(*self.shared.mark())
    }

    async fn set_rebuild_mark(&self, mark: Option<RebuildMark>) -> Result<()> {
        self.call(|reply| Command::SetMark(mark, reply)).await
    }
}

// ------------------------------------------------------------- opening

fn finish_open(
    index: Index,
    options: &IndexOptions,
    committed_seq: u64,
    committed_mark: Option<RebuildMark>,
) -> std::result::Result<Opened, OpenFailure> {
    // Created on a thread of lowered priority: tantivy's indexing, merge
    // and segment-updater threads (and the reader's reload watcher) are
    // spawned here and inherit it.
    let (writer, reader) = on_lowered_thread(options.background_nice, || {
        let writer: IndexWriter = index
            .writer_with_num_threads(1, options.writer_memory)
            .map_err(classify)?;
        writer.set_merge_policy(Box::new(merge_policy()));
        // Reloads on our commits (refresh also reloads at once) and when a
        // background merge lands, so searches see the merged segments.
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(classify)?;
        Ok((writer, reader))
    })
    // No thread to open on: an error, never a rebuild.
    .map_err(OpenFailure::Busy)??;
    Ok(Opened {
        writer,
        reader,
        committed_seq,
        committed_mark,
    })
}

/// Every query walks each segment's term dictionary (the typo tier walks it
/// with an automaton), so fewer segments mean faster searches: merge as soon
/// as two segments of a size level exist (tantivy's default waits for 8).
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(2);
    policy
}

fn classify(e: TantivyError) -> OpenFailure {
    match e {
        TantivyError::LockFailure(LockError::LockBusy, _) => OpenFailure::Busy(Error::storage(
            "search index directory is in use by another writer",
        )),
        other => OpenFailure::Damaged(other.to_string()),
    }
}

/// `Ok(None)` when `dir` holds no index.
fn open_existing(
    dir: &Path,
    schema: &Schema,
    options: &IndexOptions,
) -> std::result::Result<Option<Opened>, OpenFailure> {
    if !dir.join("meta.json").exists() {
        return Ok(None);
    }
    let index = Index::open_in_dir(dir).map_err(classify)?;
    if index.schema() != *schema {
        return Err(OpenFailure::Damaged("the index has another schema".into()));
    }
    let metas = index.load_metas().map_err(classify)?;
    let (seq, mark) = match decode_payload(metas.payload.as_deref()) {
        Payload::Known { fold, seq, mark } if fold == kinfolk::fold::FOLD_VERSION => (seq, mark),
        Payload::Known { fold, .. } => {
            return Err(OpenFailure::Damaged(format!(
                "built with folding version {fold}, this build folds with version {}",
                kinfolk::fold::FOLD_VERSION
            )));
        }
        Payload::Unknown => {
            return Err(OpenFailure::Damaged(format!(
                "unknown commit payload {:?}",
                metas.payload
            )));
        }
    };
    finish_open(index, options, seq, mark).map(Some)
}

fn create_fresh(dir: &Path, schema: Schema, options: &IndexOptions) -> Result<Opened> {
    remove_index_files(dir)?;
    let index = Index::create_in_dir(dir, schema).map_err(storage)?;
    let mut opened = finish_open(index, options, 0, None).map_err(|f| match f {
        OpenFailure::Busy(e) => e,
        OpenFailure::Damaged(m) => storage(m),
    })?;
    // Record the format and sequence 0 at once.
    let mut prepared = opened.writer.prepare_commit().map_err(storage)?;
    prepared.set_payload(&encode_payload(0, None));
    prepared.commit().map_err(storage)?;
    opened.reader.reload().map_err(storage)?;
    Ok(opened)
}

/// Removes the files a tantivy index consists of.
fn remove_index_files(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(storage)? {
        let entry = entry.map_err(storage)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_index_file(name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        fs::remove_file(&path).map_err(storage)?;
    }
    Ok(())
}

/// `meta.json`, `.managed.json`, and segment files (`<32 hex>.<ext>`).
fn is_index_file(name: &str) -> bool {
    if name == "meta.json" || name == ".managed.json" {
        return true;
    }
    let bytes = name.as_bytes();
    bytes.len() > 33 && bytes[..32].iter().all(u8::is_ascii_hexdigit) && bytes[32] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let current = kinfolk::fold::FOLD_VERSION;
        let known = |fold, seq, mark| Payload::Known { fold, seq, mark };
        assert_eq!(
            decode_payload(Some(&encode_payload(42, None))),
            known(current, 42, None)
        );
        let mark = RebuildMark {
            upto_seq: 9,
            after: Some(UserId::new()),
            done: 1000,
        };
        assert_eq!(
            decode_payload(Some(&encode_payload(0, Some(&mark)))),
            known(current, 0, Some(mark))
        );
        let first = RebuildMark {
            after: None,
            ..mark
        };
        assert_eq!(
            decode_payload(Some(&encode_payload(0, Some(&first)))),
            known(current, 0, Some(first))
        );
        assert_eq!(decode_payload(None), known(current, 0, None));
        assert_eq!(decode_payload(Some("garbage")), Payload::Unknown);
        assert_eq!(
            decode_payload(Some("kinfolk-search/1 seq=-1")),
            Payload::Unknown
        );
        assert_eq!(
            decode_payload(Some("kinfolk-search/2 fold=x seq=1")),
            Payload::Unknown
        );
        assert_eq!(
            decode_payload(Some("kinfolk-search/2 fold=1 seq=0 rebuild=1,nope,3")),
            Payload::Unknown
        );
        assert_eq!(
            decode_payload(Some("kinfolk-search/2 fold=1 seq=0 rebuild=1,-,3,4")),
            Payload::Unknown
        );
        // The first format predates the folding version: it was version 1.
        assert_eq!(
            decode_payload(Some("kinfolk-search/1 seq=7")),
            known(1, 7, None)
        );
        assert_eq!(
            decode_payload(Some("kinfolk-search/2 fold=9 seq=3")),
            known(9, 3, None)
        );
    }

    #[test]
    fn index_file_names() {
        assert!(is_index_file("meta.json"));
        assert!(is_index_file(".managed.json"));
        assert!(is_index_file("0123456789abcdef0123456789abcdef.idx"));
        assert!(is_index_file("0123456789abcdef0123456789abcdef.12.del"));
        assert!(!is_index_file(".tantivy-writer.lock"));
        assert!(!is_index_file("notes.txt"));
    }
}
