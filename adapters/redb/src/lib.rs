//! # kinfolk-redb
//!
//! A [`kinfolk::Store`] on [redb](https://www.redb.org), the pure-Rust
//! embedded key-value store: one file, ACID transactions, MVCC reads.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("kinfolk.redb");
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! use kinfolk::{Kinfolk, NewUser};
//!
//! let svc = Kinfolk::builder(kinfolk_redb::open(&path)?).build().await?;
//! let ada = svc.register(NewUser::new("ada", "Ada Lovelace")?).await?;
//! assert_eq!(svc.me(ada.id).await?.username.as_str(), "ada");
//! # Ok::<(), kinfolk::Error>(())
//! # })?;
//! # Ok(())
//! # }
//! ```
//!
//! [`open`] opens (or creates) a file, [`open_in_memory`] a store that lives
//! in memory only (redb's `InMemoryBackend`), and [`open_with`] /
//! [`open_in_memory_with`] take [`Options`].
//!
//! ## How it works
//! - **Threads.** One writer thread runs every write job in its own redb
//!   `WriteTransaction` (commit on `Ok`, abort on `Err` or panic — nothing of
//!   a failed job is kept, feed events included). A few reader threads run
//!   read jobs on `ReadTransaction` snapshots, which never wait for the
//!   writer. Results come back over a oneshot channel, so the futures
//!   complete under any executor. The one exception: *short* reads (a
//!   profile, a few relationships: [`kinfolk::Store::read_short`]) run on
//!   the caller's thread, a few microseconds from redb's cache, unless
//!   [`Options::short_reads_inline`] is off (ADR 0012).
//!   Dropping the last handle joins the threads and closes the file.
//! - **Layout.** Every port method is a point get or a range scan: records by
//!   their id, order indexes keyed `(kind, anchor, seq, other)` so that a page
//!   of followers is one reverse range scan, and the change feed keyed by its
//!   sequence number. The highest sequence number ever assigned lives in a
//!   meta table beside the schema version, so it survives trimming.
//! - **Encoding.** A value is one format byte and a body: postcard for
//!   records (compact; core's record types only use what a
//!   non-self-describing format supports) and JSON for change events
//!   (`Change` is an internally tagged enum, which needs a self-describing
//!   format). Anything that does not decode is [`kinfolk::Error::Storage`].
//! - **Schema.** A version number in the meta table; a store written by a
//!   newer version, a file that is not a redb database, or a redb database
//!   that is not a kinfolk store are refused with [`kinfolk::Error::Storage`].
//! - **Durability.** [`Durability::Immediate`] by default: a write that
//!   returned `Ok` is on disk. Write jobs that queue up while one commits are
//!   group-committed: each still commits or rolls back on its own, but one
//!   sync to disk covers them all, and none is answered before it is durable
//!   (about 8× the throughput of one sync per job with 8 concurrent writers).
//!   [`Durability::None`] is faster still and documented below.
//! - **Panics.** A panic in a job — or in redb, reading a damaged file — is
//!   caught on the store's thread and becomes [`kinfolk::Error::Storage`];
//!   the job's transaction is rolled back and the store carries on.
//! - **Errors.** redb's errors become [`kinfolk::Error::Storage`] in one
//!   place; uniqueness violations are the port's domain errors
//!   ([`kinfolk::Error::UsernameTaken`], [`kinfolk::Error::Conflict`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod error;
mod ops;
mod tables;
mod threads;
mod tx;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use async_trait::async_trait;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use kinfolk::{Error, Result, Store};
use redb::backends::InMemoryBackend;
use redb::{Builder, Database};

use crate::error::EngineResult;
use crate::threads::Workers;

pub use crate::ops::check_file;

/// When a committed write reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Every write is on disk when it returns `Ok` (redb's
    /// `Durability::Immediate`: the commit is flushed and synced). The default.
    #[default]
    Immediate,
    /// Writes are committed — visible to every later read — but not synced
    /// (redb's `Durability::None`). They are **lost on crash until the next
    /// durable commit**: a process kill or power loss rolls the store back to
    /// the last durable point. A durable point is made by
    /// [`RedbStore::sync`] and by closing the store (dropping its last
    /// handle). Much faster for bulk loads and tests.
    None,
}

/// The default [`Options::cache_size`]: 128 MiB. With it a store of 1M users
/// and 20M follows was opened and queried in 150 MiB of resident memory
/// (BENCHMARKS.md); redb's own default cache grows to 1 GiB.
pub const DEFAULT_CACHE_SIZE: usize = 128 << 20;

/// How to open a store. `Options::default()` is what [`open`] uses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// When writes reach the disk; [`Durability::Immediate`] by default.
    pub durability: Durability,
    /// How many threads run read jobs (at least one); default: the number of
    /// CPUs, between 2 and 8.
    pub read_threads: usize,
    /// redb's page cache (read cache and write buffer together) in bytes;
    /// [`DEFAULT_CACHE_SIZE`] (128 MiB) by default, so that a store of a
    /// million users stays within a few hundred MiB of resident memory (the
    /// operating system's page cache still holds the file). `None` keeps
    /// redb's own default, which grows to 1 GiB.
    pub cache_size: Option<usize>,
    /// Verify every page's checksum when opening (reads the whole file). Off
    /// by default; turn it on to turn damage done to the file outside redb
    /// into an error at open rather than at first use.
    pub check_integrity_on_open: bool,
    /// Run *short* read jobs ([`kinfolk::Store::read_short`]: a profile, the
    /// caller's own profile, a few relationships — a handful of point
    /// lookups) on the caller's thread instead of a reader thread: on by
    /// default. Such a read takes a few microseconds from redb's page cache
    /// (a cache miss reads a few pages from the operating system), less than
    /// the hop to a reader thread and back; it does block the polling thread
    /// for that long, like any synchronous call. Turn it off when even that
    /// must not happen on the executor (a file on a slow or network disk):
    /// every read then goes to a reader thread. Ranges, pages and scans
    /// always run on the reader threads. ADR 0012.
    pub short_reads_inline: bool,
}

impl Default for Options {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            durability: Durability::Immediate,
            read_threads: cpus.clamp(2, 8),
            cache_size: Some(DEFAULT_CACHE_SIZE),
            check_integrity_on_open: false,
            short_reads_inline: true,
        }
    }
}

impl Options {
    /// Sets [`Options::durability`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
    /// Sets [`Options::read_threads`].
    pub fn read_threads(mut self, n: usize) -> Self {
        self.read_threads = n.max(1);
        self
    }
    /// Sets [`Options::cache_size`].
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }
    /// Sets [`Options::short_reads_inline`].
    ///
    /// ```
    /// let options = kinfolk_redb::Options::default().short_reads_inline(false);
    /// assert!(!options.short_reads_inline);
    /// ```
    pub fn short_reads_inline(mut self, on: bool) -> Self {
        self.short_reads_inline = on;
        self
    }
    /// Sets [`Options::check_integrity_on_open`].
    pub fn check_integrity_on_open(mut self, on: bool) -> Self {
        self.check_integrity_on_open = on;
        self
    }

    fn builder(&self) -> Builder {
        let mut b = Builder::new();
        if let Some(bytes) = self.cache_size {
            b.set_cache_size(bytes);
        }
        b.set_check_integrity_on_open(self.check_integrity_on_open);
        b
    }
}

/// Opens the store in the file at `path`, creating it if it does not exist,
/// with the default [`Options`] (durable writes).
///
/// Blocking (it reads the file header and may recover after a crash): call it
/// at start-up, not from inside an async task that must not block.
///
/// # Errors
/// [`Error::Storage`] when the file cannot be opened or locked (a file is
/// opened by one store at a time: open it again only after every handle of
/// the previous store was dropped), is not a redb database, is a redb
/// database that is not a kinfolk store, or was written by a newer version.
pub fn open(path: impl AsRef<Path>) -> Result<RedbStore> {
    open_with(path, Options::default())
}

/// [`open`] with options.
///
/// # Errors
/// As [`open`].
pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<RedbStore> {
    let path = path.as_ref();
    let builder = options.builder();
    if !path.exists() {
        create_atomically(path, &builder)?;
    }
    let db = guard_open(|| builder.create(path))?;
    RedbStore::start(db, &options)
}

/// Creates a new store file whole or not at all: the file is made, given its
/// schema and closed under a temporary name beside `path`, synced, and only
/// then renamed to `path` (and the directory synced). A process killed while
/// creating leaves at most the temporary file, which the next open replaces
/// — never a file at `path` that redb cannot open (the kill test found one:
/// "Not a redb database: magic number mismatch" after a SIGKILL during the
/// first open).
fn create_atomically(path: &Path, builder: &Builder) -> Result<()> {
    let io = |what: &str, e: std::io::Error| Error::storage(format!("{what}: {e}"));
    let mut name = path
        .file_name()
        .ok_or_else(|| Error::storage("the store path names no file"))?
        .to_os_string();
    name.push(".creating");
    let tmp = path.with_file_name(name);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove an unfinished store file", e)),
    }
    let db = guard_open(|| builder.create(&tmp))?;
    let made = guard_schema(&db);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
    made?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("sync the new store file", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("move the new store file into place", e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync the store's directory", e))?;
    }
    Ok(())
}

/// Opens a new, empty store that lives in memory only (redb's
/// `InMemoryBackend`); its data goes with its last handle.
///
/// # Errors
/// [`Error::Storage`] if redb cannot set it up.
pub fn open_in_memory() -> Result<RedbStore> {
    open_in_memory_with(Options::default())
}

/// [`open_in_memory`] with options.
///
/// # Errors
/// As [`open_in_memory`].
pub fn open_in_memory_with(options: Options) -> Result<RedbStore> {
    let builder = options.builder();
    let db = guard_open(|| builder.create_with_backend(InMemoryBackend::new()))?;
    RedbStore::start(db, &options)
}

/// Runs a redb open, turning its error — or a panic on a damaged file, which
/// a plain redb open does not rule out — into [`Error::Storage`].
fn guard_open(
    open: impl FnOnce() -> std::result::Result<Database, redb::DatabaseError>,
) -> Result<Database> {
    match catch_unwind(AssertUnwindSafe(open)) {
        Ok(result) => result.engine(),
        Err(_) => Err(Error::storage("the file is not a readable redb database")),
    }
}

/// The redb store. [`open`] and its siblings return it bare like every
/// kinfolk store and index: hand it to [`kinfolk::Kinfolk::builder`] as is,
/// or wrap it in an `Arc` first when you keep a handle of your own.
///
/// Dropping the last handle finishes the jobs in flight, stops its threads and closes the
/// file (making [`Durability::None`] writes durable).
pub struct RedbStore {
    workers: Workers,
    durability: Durability,
    short_reads_inline: bool,
}

impl RedbStore {
    fn start(db: Database, options: &Options) -> Result<Self> {
        if let Err(e) = guard_schema(&db) {
            // Closing a damaged database may panic too; it is refused either way.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
            return Err(e);
        }
        Ok(RedbStore {
            workers: Workers::start(db, options.durability, options.read_threads)?,
            durability: options.durability,
            short_reads_inline: options.short_reads_inline,
        })
    }

    /// Makes every write committed so far durable (one empty durable commit).
    /// Needed only with [`Durability::None`]; harmless otherwise.
    ///
    /// # Errors
    /// [`Error::Storage`] if the commit fails.
    pub async fn sync(&self) -> Result<()> {
        self.workers.sync().await
    }

    /// The durability the store was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }
}

/// Checks (or creates) the schema, a panic on a damaged file included.
fn guard_schema(db: &Database) -> Result<()> {
    match catch_unwind(AssertUnwindSafe(|| tables::init_schema(db))) {
        Ok(result) => result,
        Err(_) => Err(Error::storage("the file is not a readable redb database")),
    }
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for RedbStore {
    async fn read(&self, job: ReadJob) -> Result<Boxed> {
        self.workers.read(job).await
    }

    /// On the caller's thread when [`Options::short_reads_inline`] is on
    /// (the default; ADR 0012), else on a reader thread like [`Store::read`].
    async fn read_short(&self, job: ReadJob) -> Result<Boxed> {
        if self.short_reads_inline {
            self.workers.read_here(job)
        } else {
            self.workers.read(job).await
        }
    }

    async fn write(&self, job: WriteJob) -> Result<Boxed> {
        self.workers.write(job).await
    }

    /// With [`Durability::Immediate`], waits for the group commit in flight,
    /// if any: its first jobs are visible before the group's one sync. Returns
    /// at once when no group is in flight (every visible commit is durable).
    /// With [`Durability::None`] nothing is durable before [`RedbStore::sync`];
    /// the store does not force a sync here (that would undo the mode).
    async fn await_durable(&self) -> Result<()> {
        if self.durability == Durability::Immediate && self.workers.group_in_flight() {
            self.workers.sync().await
        } else {
            Ok(())
        }
    }

    /// redb checks a file only through a handle no transaction uses: not on
    /// a live store. [`check_file`] checks the closed file.
    async fn check_engine(&self) -> Result<Vec<String>> {
        Err(Error::Unsupported {
            what: "redb checks its file only when no store has it open (kinfolk_redb::check_file)",
        })
    }

    /// Copies every table of one read transaction into a new file (`ops.rs`).
    async fn backup_to(&self, dest: &Path) -> Result<()> {
        ops::backup_to(self, dest).await
    }

    fn queue_depth(&self) -> Option<u64> {
        Some(ops::queue_depth(self))
    }
    /// Write jobs run on one write transaction at a time, one after another.
    fn serial_writes(&self) -> bool {
        true
    }
}
