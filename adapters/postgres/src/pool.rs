//! The worker threads that own the connections (the pool).
//!
//! [`crate::Options::pool_size`] threads each own at most one connection and
//! take jobs — reads and writes alike — from one shared queue, so a job waits
//! only when every connection is busy. A thread connects on its first job
//! and again after its connection broke (the pool reconnects by itself after
//! a server restart). Jobs and results travel over channels; the returned
//! futures need no particular async runtime and never block the executor
//! (the `postgres` client blocks only these threads).
//!
//! Each job runs in its own transaction: writes `SERIALIZABLE`, reads
//! `REPEATABLE READ READ ONLY` (a consistent snapshot that never waits for a
//! writer and never fails a serialization check). A job that returns `Err`,
//! panics, or met an engine error (which aborts the PostgreSQL transaction)
//! is rolled back; only a job that returned `Ok` with no engine error is
//! committed. A panic becomes [`Error::job_panicked`] and the thread keeps
//! serving.
//!
//! **Hot spots.** Every write holds the writers' advisory lock *shared*
//! (a session lock taken in the same round trip as `BEGIN`, released in the
//! same round trip as `COMMIT`), so writers run in parallel. A write that
//! loses a serialization race (40001/40P01) is run again at once by the
//! store itself (the port allows it) holding that lock *exclusively*, taken
//! before its transaction and snapshot start: it waits for the writers in
//! flight, then runs alone and cannot lose again. Without it, 32 tasks
//! toggling follows among 10 users (the conformance race case) exhaust
//! core's retries: every toggle rewrites two of ten user rows. Only if the
//! rerun fails too does the job answer `Transient`, and core retries.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};
use futures_channel::oneshot;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use kinfolk::{Error, Result};
use postgres::Config;

use crate::FeedOrder;
use crate::error::{Kind, Stage, is_conflict, map};
use crate::schema;
use crate::sql;
use crate::tx::{Conn, Tx};

/// What a job hands back: its result, or the payload of its panic.
pub(crate) type Outcome = std::result::Result<Result<Boxed>, Box<dyn Any + Send>>;

/// Where a job's outcome goes.
pub(crate) type Reply = oneshot::Sender<Outcome>;

/// A job for a worker, with the channel for its outcome.
pub(crate) enum Job {
    /// Runs on a read snapshot.
    Read(ReadJob, Reply),
    /// Runs in a write transaction.
    Write(WriteJob, Reply),
}

/// Starts worker `n`, with `client` as its first connection if given.
pub(crate) fn spawn_worker(
    n: usize,
    config: Config,
    order: FeedOrder,
    batching: bool,
    jobs: Receiver<Job>,
    client: Option<postgres::Client>,
) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("kinfolk-postgres-{n}"))
        .spawn(move || {
            let mut slot: Option<Conn> = client.map(|c| Conn::new(c, order, batching));
            while let Ok(job) = jobs.recv() {
                serve(&mut slot, &config, order, batching, job);
            }
        })
        .map_err(|e| Error::storage(format!("cannot start a PostgreSQL worker thread: {e}")))
}

fn serve(slot: &mut Option<Conn>, config: &Config, order: FeedOrder, batching: bool, job: Job) {
    let reply_canceled = match &job {
        Job::Read(_, r) | Job::Write(_, r) => r.is_canceled(),
    };
    // A caller that stopped waiting before its job started gets nothing run.
    if reply_canceled {
        return;
    }
    if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
        *slot = None;
    }
    let conn = match slot {
        Some(conn) => conn,
        None => match schema::connect(config) {
            Ok(client) => slot.insert(Conn::new(client, order, batching)),
            Err(e) => {
                let reply = match job {
                    Job::Read(_, r) | Job::Write(_, r) => r,
                };
                let _ = reply.send(Ok(Err(e)));
                return;
            }
        },
    };
    let (outcome, reply) = match job {
        Job::Read(job, reply) => (run(conn, &READ, |tx| job(tx)).0, reply),
        Job::Write(job, reply) => {
            let (outcome, conflict) = run(conn, &WRITE, |tx| job(tx));
            // Lost a race (40001/40P01): run it again at once, alone among
            // writers, so that a hot spot cannot starve it.
            let outcome = if conflict && !conn.client.is_closed() {
                crate::conflict(true);
                let (outcome, again) = run(conn, &ALONE, |tx| job(tx));
                if again {
                    crate::conflict(false);
                }
                outcome
            } else {
                if conflict {
                    crate::conflict(false);
                }
                outcome
            };
            (outcome, reply)
        }
    };
    if conn.client.is_closed() {
        *slot = None;
    }
    // The receiver may be gone by now; then nobody wants the outcome.
    let _ = reply.send(outcome);
}

/// How a transaction starts and ends.
struct Mode {
    /// Sent first, on its own (before the transaction and its snapshot).
    before: Option<&'static str>,
    begin: &'static str,
    commit: &'static str,
    rollback: &'static str,
}

const READ: Mode = Mode {
    before: None,
    begin: sql::BEGIN_READ,
    commit: sql::COMMIT,
    rollback: sql::ROLLBACK,
};

const WRITE: Mode = Mode {
    before: None,
    begin: sql::BEGIN_WRITE,
    commit: sql::COMMIT_WRITE,
    rollback: sql::ROLLBACK_WRITE,
};

const ALONE: Mode = Mode {
    before: Some(sql::LOCK_ALONE),
    begin: sql::BEGIN_ALONE,
    commit: sql::COMMIT_ALONE,
    rollback: sql::ROLLBACK_ALONE,
};

fn rollback(conn: &mut Conn, mode: &Mode) {
    // If even ROLLBACK fails, the connection is broken (and its session
    // locks are gone with it); the next job reconnects. Outside a
    // transaction ROLLBACK only warns, and so does releasing a lock not held.
    crate::round_trip();
    let _ = conn.client.batch_execute(mode.rollback);
}

/// Commits, sending the transaction's queued user writes in the same round
/// trip (`crate::known`).
fn commit(
    conn: &mut Conn,
    mode: &Mode,
    pending: &[(uuid::Uuid, String)],
) -> std::result::Result<(), postgres::Error> {
    crate::round_trip();
    if pending.is_empty() {
        conn.client.batch_execute(mode.commit)
    } else {
        conn.client
            .batch_execute(&sql::put_users_then(pending, mode.commit))
    }
}

/// Runs one job in one transaction. Returns its outcome and whether it
/// failed with a serialization failure or deadlock.
fn run(
    conn: &mut Conn,
    mode: &Mode,
    job: impl FnOnce(&mut Tx<'_>) -> Result<Boxed>,
) -> (Outcome, bool) {
    let started = match mode.before {
        Some(sql) => {
            crate::round_trip();
            conn.client.batch_execute(sql)
        }
        None => Ok(()),
    }
    .and_then(|()| {
        crate::round_trip();
        conn.client.batch_execute(mode.begin)
    });
    if let Err(e) = started {
        rollback(conn, mode);
        return (Ok(Err(map(&e, Stage::Statement))), is_conflict(&e));
    }
    let (out, failure, pending) = {
        let mut tx = Tx::new(conn);
        let out = catch_unwind(AssertUnwindSafe(|| job(&mut tx)));
        (out, tx.failure(), tx.take_pending())
    };
    let conflict = failure.as_ref().is_some_and(|f| f.conflict);
    let outcome = match (out, failure) {
        // The store's own knowledge wins: a transient failure is reported
        // as such whatever the job made of it.
        (_, Some(f)) if f.kind == Kind::Transient => {
            rollback(conn, mode);
            Ok(Err(f.to_error()))
        }
        (Err(panic), _) => {
            rollback(conn, mode);
            Err(panic)
        }
        (Ok(Err(e)), _) => {
            rollback(conn, mode);
            Ok(Err(e))
        }
        // The job swallowed an engine error: PostgreSQL aborted the
        // transaction, so nothing of it can commit.
        (Ok(Ok(_)), Some(f)) => {
            rollback(conn, mode);
            Ok(Err(f.to_error()))
        }
        (Ok(Ok(value)), None) => match commit(conn, mode, &pending) {
            Ok(()) => Ok(Ok(value)),
            Err(e) => {
                rollback(conn, mode);
                return (Ok(Err(map(&e, Stage::Commit))), is_conflict(&e));
            }
        },
    };
    (outcome, conflict)
}

/// Sends a job and waits for its outcome without blocking the executor.
pub(crate) async fn submit(
    queue: &Sender<Job>,
    what: &str,
    make: impl FnOnce(Reply) -> Job,
) -> Result<Boxed> {
    let (tx, rx) = oneshot::channel();
    queue
        .send(make(tx))
        .map_err(|_| Error::storage("the PostgreSQL store is closed"))?;
    match rx.await {
        Ok(Ok(result)) => result,
        Ok(Err(_panic)) => Err(Error::job_panicked(what)),
        Err(oneshot::Canceled) => Err(Error::storage("a PostgreSQL worker thread stopped")),
    }
}
