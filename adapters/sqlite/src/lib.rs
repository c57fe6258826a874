//! # kinfolk-sqlite
//!
//! The embedded default [`Store`] for kinfolk: one SQLite file (bundled
//! SQLite through rusqlite), in WAL mode, durable by default.
//!
//! ```
//! # fn main() -> kinfolk::Result<()> {
//! # let dir = tempfile::tempdir().map_err(kinfolk::Error::storage)?;
//! # let path = dir.path().join("kinfolk.db");
//! use kinfolk::{FollowAction, Kinfolk, NewUser};
//!
//! // Any executor works; the store runs SQLite on its own threads.
//! futures::executor::block_on(async {
//!     let store = kinfolk_sqlite::open(&path)?; // or open_with(path, Options), open_in_memory()
//!     let kinfolk = Kinfolk::builder(store).build().await?;
//!     let alice = kinfolk.register(NewUser::new("alice", "Alice")?).await?;
//!     let bob = kinfolk.register(NewUser::new("bob", "Bob")?).await?;
//!     kinfolk.toggle_follow(alice.id, bob.id, Some(FollowAction::Follow)).await?;
//!     assert_eq!(kinfolk.me(bob.id).await?.stats.followers_count, 1);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! ## How it works
//! - **Schema**: numbered migrations in `migrations/` (`STRICT` tables), applied
//!   in one transaction; the version is `PRAGMA user_version`. A database
//!   written by a newer version is refused with [`kinfolk::Error::Storage`].
//!   Every operation of the store port is an index lookup or a range scan.
//! - **Threads**: one writer thread owns the only write connection and runs
//!   write jobs one at a time inside `BEGIN IMMEDIATE … COMMIT`, each job in
//!   its own savepoint (rolled back alone when it fails). Jobs that queue up
//!   while a commit is being synced share the next commit (group commit: one
//!   fsync for many writes); each gets its answer only once that commit is
//!   durable. [`Options::readers`] reader threads own read-only connections,
//!   so reads run on their own snapshot while a write is in progress. Jobs
//!   and results travel over channels; the returned futures need no
//!   particular async runtime and block the executor only for *short* reads
//!   (a profile, a few relationships), which run on the caller's thread on
//!   one of [`Options::inline_readers`] connections (ADR 0012; 0 turns it off).
//! - **Durability**: `synchronous=FULL` by default — a write is on disk when
//!   it returns `Ok`. [`Synchronous::Normal`] is faster and may lose the last
//!   commits on power loss (never on a process crash, never corrupting).
//! - **Errors**: engine errors map to kinfolk's categories in one place: a
//!   taken username is [`kinfolk::Error::UsernameTaken`], a duplicate edge or
//!   connected account [`kinfolk::Error::Conflict`], everything else
//!   (busy, corrupt, I/O) [`kinfolk::Error::Storage`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bulk;
mod codec;
mod error;
mod ops;
mod schema;
#[doc(hidden)]
pub mod sql;
mod threads;
mod tx;

use std::fmt;
use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use std::sync::Mutex;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use async_trait::async_trait;
use kinfolk::store::{Boxed, ReadJob, Store, WriteJob};
use kinfolk::{Error, Result};

use crate::threads::Job;

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Synchronous {
    /// `FULL` (the default): a write is on disk when it returns `Ok`; it
    /// survives a process kill and a power loss.
    #[default]
    Full,
    /// `NORMAL`: faster commits; **may lose the last commits on power loss**
    /// (or an OS crash). A process crash loses nothing, and the database is
    /// never corrupted.
    Normal,
}

/// Options for [`open_with`].
///
/// ```
/// let options = kinfolk_sqlite::Options::default().readers(2);
/// assert_eq!(options.synchronous, kinfolk_sqlite::Synchronous::Full);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Durability of commits; [`Synchronous::Full`] by default.
    pub synchronous: Synchronous,
    /// Reader connections (each on its own thread); 4 by default. With 0,
    /// reads run on the writer thread, between writes.
    pub readers: usize,
    /// How long a statement waits for a lock held by another process before
    /// failing with [`Error::Storage`]; 5 seconds by default.
    pub busy_timeout: Duration,
    /// Page cache of the writer connection in bytes (`PRAGMA cache_size`);
    /// 256 MiB by default. It is an upper bound that fills only with pages
    /// the writes touch, so a store with light writes stays small; bulk
    /// imports touch index pages all over the edge table and need it (with
    /// SQLite's default of 2 MB, an import batch spills and re-reads pages
    /// many times). Reader connections keep SQLite's default.
    pub writer_cache: usize,
    /// Read-only connections that run *short* read jobs
    /// ([`kinfolk::Store::read_short`]: a profile, the caller's own profile,
    /// a few relationships — a handful of indexed point lookups) on the
    /// caller's thread, saving the hop to a reader thread and back; 2 by
    /// default. A short read that finds every one of them busy goes to a
    /// reader thread. Such a read blocks the polling thread for its few
    /// page lookups (tens of microseconds when the file is in the operating
    /// system's cache); set 0 when even that must not happen on the executor
    /// (a file on a slow or network disk): every read then goes to a reader
    /// thread. Pages, scans and every other read always do. ADR 0012.
    pub inline_readers: usize,
}

/// The default [`Options::writer_cache`]: 256 MiB.
pub const DEFAULT_WRITER_CACHE: usize = 256 << 20;

impl Default for Options {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            writer_cache: DEFAULT_WRITER_CACHE,
            inline_readers: 2,
        }
    }
}

impl Options {
    /// Sets [`Options::synchronous`].
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
    /// Sets [`Options::readers`].
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers;
        self
    }
    /// Sets [`Options::writer_cache`] (bytes).
    pub fn writer_cache(mut self, bytes: usize) -> Self {
        self.writer_cache = bytes;
        self
    }
    /// Sets [`Options::inline_readers`] (0: every read on a reader thread).
    ///
    /// ```
    /// let options = kinfolk_sqlite::Options::default().inline_readers(0);
    /// assert_eq!(options.inline_readers, 0);
    /// ```
    pub fn inline_readers(mut self, connections: usize) -> Self {
        self.inline_readers = connections;
        self
    }
    /// Sets [`Options::busy_timeout`].
    pub fn busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }
}

/// Opens (creating if needed) the kinfolk database at `path` with default
/// [`Options`]: durable commits, 4 readers.
///
/// Blocks while it opens the file and migrates the schema; call it at start-up.
///
/// # Errors
/// [`Error::Storage`] when the file cannot be opened, is not a SQLite or not a
/// kinfolk database, or holds a schema newer than this crate knows.
pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
    open_with(path, Options::default())
}

/// Opens (creating if needed) the kinfolk database at `path`.
///
/// # Errors
/// As [`open`].
pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<SqliteStore> {
    let path = path.as_ref();
    let writer = schema::open_writer(
        path,
        options.synchronous,
        options.busy_timeout,
        options.writer_cache,
    )?;
    let readers = (0..options.readers)
        .map(|_| schema::open_reader(path, options.busy_timeout))
        .collect::<Result<Vec<_>>>()?;
    let inline = (0..options.inline_readers)
        .map(|_| schema::open_reader(path, options.busy_timeout))
        .collect::<Result<Vec<_>>>()?;
    let mut store = SqliteStore::start(writer, readers, Some(path.to_owned()))?;
    store.inline = Mutex::new(inline);
    Ok(store)
}

/// Opens a new, private in-memory database, for tests.
///
/// It has one connection, so reads run on the writer thread between writes;
/// it is gone when the last handle is dropped.
///
/// # Errors
/// [`Error::Storage`] if SQLite cannot allocate it.
pub fn open_in_memory() -> Result<SqliteStore> {
    SqliteStore::start(schema::open_memory()?, Vec::new(), None)
}

/// A kinfolk [`Store`] on SQLite. Made by [`open`], [`open_with`] or
/// [`open_in_memory`], which return it bare like every kinfolk store and
/// index: hand it to [`kinfolk::Kinfolk::builder`] as is, or wrap it in an
/// `Arc` first when you keep a handle of your own.
///
/// A job whose caller stopped waiting (dropped the future) before the job
/// started is not run. Dropping the last handle stops the threads (after
/// their current job) and closes the database; it waits for them, so drop it
/// outside hot async paths.
pub struct SqliteStore {
    path: Option<PathBuf>,
    writes: Option<Sender<Job>>,
    reads: Option<Sender<Job>>,
    readers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    /// Idle connections for short reads on the caller's thread (ADR 0012);
    /// a read takes one out and puts it back.
    inline: Mutex<Vec<rusqlite::Connection>>,
}

impl SqliteStore {
    fn start(
        writer: rusqlite::Connection,
        readers: Vec<rusqlite::Connection>,
        path: Option<PathBuf>,
    ) -> Result<Self> {
        let (writes, write_queue) = crossbeam_channel::unbounded();
        let mut store = Self {
            path,
            writes: Some(writes.clone()),
            reads: None,
            readers: Vec::new(),
            writer: Some(threads::spawn_writer(writer, write_queue)?),
            inline: Mutex::new(Vec::new()),
        };
        if readers.is_empty() {
            store.reads = Some(writes);
        } else {
            let (reads, read_queue) = crossbeam_channel::unbounded();
            store.reads = Some(reads);
            for (n, conn) in readers.into_iter().enumerate() {
                // On an error `store` drops here, which stops the threads started so far.
                store
                    .readers
                    .push(threads::spawn_reader(n, conn, read_queue.clone())?);
            }
        }
        Ok(store)
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

fn queue(q: &Option<Sender<Job>>) -> Result<&Sender<Job>> {
    q.as_ref()
        .ok_or_else(|| Error::storage("the SQLite store is closed"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self, job: ReadJob) -> Result<Boxed> {
        threads::submit(queue(&self.reads)?, "read", |reply| Job::Read(job, reply)).await
    }

    /// On the caller's thread when one of the [`Options::inline_readers`]
    /// connections is free (ADR 0012), else on a reader thread.
    async fn read_short(&self, job: ReadJob) -> Result<Boxed> {
        let conn = self.inline.lock().ok().and_then(|mut idle| idle.pop());
        let Some(conn) = conn else {
            return self.read(job).await;
        };
        let outcome = threads::run_read(&conn, job);
        if let Ok(mut idle) = self.inline.lock() {
            idle.push(conn);
        }
        match outcome {
            Ok(result) => result,
            Err(_panic) => Err(Error::job_panicked("read")),
        }
    }

    async fn write(&self, job: WriteJob) -> Result<Boxed> {
        threads::submit(queue(&self.writes)?, "write", |reply| {
            Job::Write(job, reply)
        })
        .await
    }

    /// `PRAGMA integrity_check` on a connection of its own (`ops.rs`).
    async fn check_engine(&self) -> Result<Vec<String>> {
        ops::check_engine(self).await
    }

    /// SQLite's online backup API on a connection of its own (`ops.rs`).
    async fn backup_to(&self, dest: &Path) -> Result<()> {
        ops::backup_to(self, dest).await
    }

    fn queue_depth(&self) -> Option<u64> {
        Some(ops::queue_depth(self))
    }
    /// Write jobs run on one writer thread, one after another.
    fn serial_writes(&self) -> bool {
        true
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Readers close first, so the writer is the last connection and
        // checkpoints the WAL into the database file when it closes.
        self.reads = None;
        join(self.readers.drain(..));
        if let Ok(mut idle) = self.inline.lock() {
            idle.clear();
        }
        self.writes = None;
        join(self.writer.take());
    }
}

fn join(handles: impl IntoIterator<Item = JoinHandle<()>>) {
    for handle in handles {
        // A job holding the last handle would otherwise wait for its own thread.
        if handle.thread().id() != thread::current().id() {
            let _ = handle.join();
        }
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}
