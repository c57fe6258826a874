//! # kinfolk-postgres
//!
//! A kinfolk [`Store`] on PostgreSQL 15+, for running several stateless app
//! instances on one database.
//!
//! ```no_run
//! # fn main() -> kinfolk::Result<()> {
//! use kinfolk::{FollowAction, Kinfolk, NewUser};
//!
//! futures::executor::block_on(async {
//!     // Or open_with(url, Options::default().pool_size(16)).
//!     let store = kinfolk_postgres::open("postgresql://kinfolk@db.internal/kinfolk")?;
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
//! - **Client and threads**: the synchronous `postgres` crate on a pool of
//!   [`Options::pool_size`] worker threads, each owning one connection
//!   (opened on first use, reopened after it broke). Jobs and results travel
//!   over channels; the futures need no particular async runtime.
//! - **Isolation**: every write job runs in one `SERIALIZABLE` transaction,
//!   every read job in a `REPEATABLE READ READ ONLY` snapshot. Counters stay
//!   exact and a follow never survives a block committed at the same time,
//!   across any number of app instances: PostgreSQL aborts one of two
//!   conflicting transactions with SQLSTATE 40001 and core runs its job
//!   again ([`kinfolk::config::Retry`]).
//! - **Uniqueness** is the database's: primary keys on the folded username,
//!   on `(kind, from, to)` of edges and on `(provider, external_id)` of
//!   connected accounts.
//! - **The feed** never hands out an event while an event with a smaller
//!   sequence number can still commit: sequence numbers are ordered by
//!   transaction id, and readers see only events of transactions below the
//!   oldest one still in flight (`docs/adr/0009-postgres-store.md`).
//! - **Schema**: numbered migrations in `migrations/`, applied in one
//!   transaction under an advisory lock; the version is in `kinfolk_schema`.
//!   A database written by a newer version is refused with
//!   [`kinfolk::Error::Storage`].
//! - **Errors**: engine errors map to kinfolk's categories in one place
//!   (`src/error.rs`): 40001/40P01 and a connection lost before the commit
//!   are [`kinfolk::Error::Transient`]; a connection lost during `COMMIT`
//!   (outcome unknown) and everything else are [`kinfolk::Error::Storage`].
//! - **Durability**: a write returns `Ok` once PostgreSQL acknowledged its
//!   `COMMIT`, durable as the server's `synchronous_commit` makes it (`on`
//!   by default: flushed to the WAL on disk).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod error;
mod known;
mod pool;
mod schema;
#[doc(hidden)]
pub mod sql;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod testing;
mod tx;

use std::fmt;
use std::str::FromStr;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use async_trait::async_trait;
use crossbeam_channel::Sender;
use kinfolk::store::{Boxed, ReadJob, Store, WriteJob};
use kinfolk::{Error, Result};

use crate::pool::Job;

/// How feed sequence numbers are taken (`docs/adr/0009-postgres-store.md`).
/// Chosen when the database is created and stored in it; every app instance
/// on the database must open it with the same order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FeedOrder {
    /// The default: numbers come from one sequence under a lock each writing
    /// transaction holds from its first feed event to its commit, so commit
    /// order is sequence order and numbers are dense (gaps only where a
    /// transaction rolled back). Writers that append events queue for the
    /// lock: durable write throughput does not grow with concurrent clients.
    #[default]
    Commit,
    /// Numbers are `xid8 << 16 | n` (the writing transaction's id, the
    /// event's index in it) and readers return only events below the oldest
    /// transaction still in flight: writers never wait for each other, at the
    /// cost of sparse numbers and a feed that a long-running write
    /// transaction holds back until it ends.
    TransactionId,
}

impl FeedOrder {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FeedOrder::Commit => "commit",
            FeedOrder::TransactionId => "xid",
        }
    }
}

static ROUND_TRIPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts one request/answer exchange with the server.
pub(crate) fn round_trip() {
    ROUND_TRIPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many round trips to the server every store of this process has made
/// (statements, `BEGIN`/`COMMIT` batches, prepares; not connects). For the
/// round-trip count in BENCHMARKS.md.
#[doc(hidden)]
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(std::sync::atomic::Ordering::Relaxed)
}

static CONFLICTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ESCALATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts a write attempt that failed with 40001/40P01, and whether the
/// store then runs the job again alone (holding the writers' lock exclusively).
pub(crate) fn conflict(escalated: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    CONFLICTS.fetch_add(1, Relaxed);
    if escalated {
        ESCALATIONS.fetch_add(1, Relaxed);
    }
}

/// Write attempts every store of this process lost to a serialization
/// failure or deadlock (SQLSTATE 40001/40P01), and how many of them the
/// store ran again alone among writers (ADR 0009 "Hot spots"). For the
/// throughput counters in BENCHMARKS.md.
#[doc(hidden)]
pub fn conflicts() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (CONFLICTS.load(Relaxed), ESCALATIONS.load(Relaxed))
}

/// The advisory lock key of the feed (feed order `commit`): "kinf" "feed".
pub(crate) const FEED_LOCK: i64 = 0x6b69_6e66_6665_6564;

/// Options for [`open_with`].
///
/// ```
/// let options = kinfolk_postgres::Options::default().pool_size(16);
/// assert_eq!(options.pool_size, 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Connections (each on its own worker thread); 8 by default. Jobs beyond
    /// it wait in a queue. Every app instance has its own pool, so the server's
    /// `max_connections` must cover the sum over instances.
    pub pool_size: usize,
    /// How long opening a connection may take before it fails (unless the
    /// connection string sets `connect_timeout`); 5 seconds by default.
    pub connect_timeout: Duration,
    /// The feed order a new database is created with; [`FeedOrder::Commit`]
    /// by default. Opening a database created with another order fails.
    pub feed_order: FeedOrder,
    /// Whether a transaction answers repeated point reads from what it read
    /// or wrote and sends its user writes with the next statement or its
    /// `COMMIT` (`src/known.rs`); on by default. Off only to measure the
    /// difference (BENCHMARKS.md).
    #[doc(hidden)]
    pub batching: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            feed_order: FeedOrder::Commit,
            batching: true,
        }
    }
}

impl Options {
    /// Sets [`Options::pool_size`] (at least 1).
    pub fn pool_size(mut self, pool_size: usize) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }
    /// Sets [`Options::feed_order`].
    pub fn feed_order(mut self, order: FeedOrder) -> Self {
        self.feed_order = order;
        self
    }
    /// Sets `Options::batching` (for benchmarks).
    #[doc(hidden)]
    pub fn batching(mut self, on: bool) -> Self {
        self.batching = on;
        self
    }
    /// Sets [`Options::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Opens the kinfolk database at `url` with default [`Options`], creating or
/// migrating the schema.
///
/// `url` is a libpq connection string, as a URL
/// (`postgresql://user:password@host:5432/dbname`) or as `key=value` pairs
/// (`host=/run/postgresql dbname=kinfolk`; a host starting with `/` is a
/// Unix socket directory). TLS is not supported: connect over a private
/// network or a socket.
///
/// Blocks while it connects and migrates; call it at start-up.
///
/// # Errors
/// [`Error::Validation`] when `url` cannot be parsed; [`Error::Transient`]
/// when the server cannot be reached; [`Error::Storage`] when the database
/// holds a schema newer than this crate knows, holds tables kinfolk did not
/// create, was created with another [`FeedOrder`], or the migration fails.
pub fn open(url: &str) -> Result<PostgresStore> {
    open_with(url, Options::default())
}

/// Opens the kinfolk database at `url` with `options`.
///
/// # Errors
/// As [`open`].
pub fn open_with(url: &str, options: Options) -> Result<PostgresStore> {
    let mut config = postgres::Config::from_str(url).map_err(|e| {
        Error::validation("url", format!("not a PostgreSQL connection string: {e}"))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("kinfolk");
    }
    // The client runs its own runtime, which must not start inside the
    // caller's (an async `main` calling `open`): connect on a plain thread.
    let migrate_config = config.clone();
    let order = options.feed_order;
    // The connection that migrated becomes the first worker's connection
    // (one connection set up fewer per open).
    let client = thread::Builder::new()
        .name("kinfolk-postgres-open".to_owned())
        .spawn(move || {
            let mut client = schema::connect(&migrate_config)?;
            schema::migrate(&mut client, order).map(|_| client)
        })
        .map_err(|e| Error::storage(format!("cannot start a thread: {e}")))?
        .join()
        .map_err(|_| Error::storage("opening the PostgreSQL store panicked"))??;
    PostgresStore::start(
        config,
        options.pool_size.max(1),
        order,
        options.batching,
        client,
    )
}

/// A kinfolk [`Store`] on PostgreSQL. Made by [`open`] or [`open_with`],
/// which return it bare like every kinfolk store and index: hand it to
/// [`kinfolk::Kinfolk::builder`] as is, or wrap it in an `Arc` first when you
/// keep a handle of your own.
///
/// A job whose caller stopped waiting before the job started is not run.
/// Dropping the last handle stops the worker threads (after their current
/// job) and closes the connections; it waits for them.
pub struct PostgresStore {
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    target: String,
}

impl PostgresStore {
    fn start(
        config: postgres::Config,
        pool_size: usize,
        order: FeedOrder,
        batching: bool,
        first: postgres::Client,
    ) -> Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded();
        let target = format!(
            "{:?}/{}",
            config.get_hosts(),
            config.get_dbname().unwrap_or("")
        );
        let mut store = Self {
            jobs: Some(jobs),
            workers: Vec::with_capacity(pool_size),
            target,
        };
        let mut first = Some(first);
        for n in 0..pool_size {
            // On an error `store` drops here, which stops the threads started so far.
            store.workers.push(pool::spawn_worker(
                n,
                config.clone(),
                order,
                batching,
                queue.clone(),
                first.take(),
            )?);
        }
        Ok(store)
    }

    /// The number of connections (worker threads) of the pool.
    pub fn pool_size(&self) -> usize {
        self.workers.len()
    }

    fn queue(&self) -> Result<&Sender<Job>> {
        self.jobs
            .as_ref()
            .ok_or_else(|| Error::storage("the PostgreSQL store is closed"))
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn read(&self, job: ReadJob) -> Result<Boxed> {
        pool::submit(self.queue()?, "read", |reply| Job::Read(job, reply)).await
    }

    async fn write(&self, job: WriteJob) -> Result<Boxed> {
        pool::submit(self.queue()?, "write", |reply| Job::Write(job, reply)).await
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.jobs = None;
        for handle in self.workers.drain(..) {
            // A job holding the last handle would otherwise wait for its own thread.
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the connection string: it may hold a password.
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("pool_size", &self.workers.len())
            .finish_non_exhaustive()
    }
}
