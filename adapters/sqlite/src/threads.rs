//! The threads that own the connections.
//!
//! One writer thread owns the only write connection. Reader threads each own
//! a read-only connection and take read jobs from one shared queue, each in
//! its own snapshot (`BEGIN DEFERRED … ROLLBACK`), so reads proceed while a
//! write runs (WAL). Jobs arrive over `crossbeam_channel` queues (the read
//! queue has one consumer per reader) and their results go back
//! over a `futures-channel` oneshot, which any executor can await: nothing
//! here depends on an async runtime, and no blocking work runs on the
//! caller's executor — except short reads (a profile, a few relationships),
//! which the store may run on the caller's thread on a connection of its
//! small inline pool ([`run_read`], `Options::inline_readers`, ADR 0012).
//!
//! **Group commit.** The writer takes every write job already waiting (up to
//! [`MAX_BATCH`]) and runs them one after another in ONE `BEGIN IMMEDIATE`
//! transaction, each inside its own savepoint: a job that fails (or panics)
//! is rolled back to its savepoint and gets its error, the others are
//! unaffected (a batch of one job runs without a savepoint: rolling the
//! whole transaction back undoes exactly that job). One `COMMIT` — one fsync under `synchronous=FULL` — then makes
//! the whole batch durable, and only after it does any job of the batch get
//! its `Ok`. If the commit fails, every job of the batch gets `Err` and
//! nothing of it persists. Jobs still run strictly one at a time, in arrival
//! order, so writes stay serialisable.
//!
//! A job that panics is rolled back (to its savepoint) and its caller gets
//! [`Error::job_panicked`]; the thread keeps serving and the other jobs of
//! the batch are unaffected (the port's panic policy).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};
use futures_channel::oneshot;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use kinfolk::{Error, Result};
use rusqlite::Connection;

use crate::error::map;
use crate::sql;
use crate::tx::Tx;

/// The most write jobs committed together.
const MAX_BATCH: usize = 64;

/// What a job hands back: its result, or the payload of its panic.
pub(crate) type Outcome = std::result::Result<Result<Boxed>, Box<dyn Any + Send>>;

/// Where a job's outcome goes.
pub(crate) type Reply = oneshot::Sender<Outcome>;

/// A job for a connection thread, with the channel for its outcome.
pub(crate) enum Job {
    /// Runs on a snapshot.
    Read(ReadJob, Reply),
    /// Runs in the write transaction (only ever sent to the writer).
    Write(WriteJob, Reply),
}

/// Starts the writer thread. It also serves read jobs when the store has no
/// readers, each between two write transactions.
pub(crate) fn spawn_writer(conn: Connection, jobs: Receiver<Job>) -> Result<JoinHandle<()>> {
    spawn("kinfolk-sql-wr".to_owned(), move || {
        let mut next: Option<Job> = None;
        loop {
            let job = match next.take() {
                Some(job) => job,
                None => match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => break, // the store was dropped
                },
            };
            match job {
                Job::Read(job, reply) => serve_read(&conn, job, reply),
                Job::Write(job, reply) => {
                    let mut batch = vec![(job, reply)];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(Job::Write(job, reply)) => batch.push((job, reply)),
                            Ok(read) => {
                                next = Some(read);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    run_writes(&conn, batch);
                }
            }
        }
    })
}

/// Starts a reader thread taking jobs from the shared queue.
pub(crate) fn spawn_reader(
    n: usize,
    conn: Connection,
    jobs: Receiver<Job>,
) -> Result<JoinHandle<()>> {
    spawn(format!("kinfolk-sql-rd{n}"), move || {
        loop {
            // Every idle reader waits on the same queue; a job wakes one of them.
            match jobs.recv() {
                Ok(Job::Read(job, reply)) => serve_read(&conn, job, reply),
                // Never sent to readers; refuse rather than write on a reader.
                Ok(Job::Write(_, reply)) => {
                    let _ = reply.send(Ok(Err(Error::storage("write job sent to a reader"))));
                }
                Err(_) => break, // the store was dropped
            }
        }
    })
}

/// Names stay within the 15 bytes Linux keeps per thread (`/proc/*/task/*/comm`),
/// so tools — and the writers bench, which measures the writer's CPU — can
/// tell the writer from the readers.
fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| Error::storage(format!("cannot start a SQLite thread: {e}")))
}

fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(map)
}

/// Ends whatever transaction is open (after an error or a panic).
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        // If even ROLLBACK fails, the next BEGIN reports the broken connection.
        let _ = exec(conn, sql::ROLLBACK);
    }
}

fn serve_read(conn: &Connection, job: ReadJob, reply: Reply) {
    // A caller that stopped waiting before its job started gets nothing run.
    if reply.is_canceled() {
        return;
    }
    let outcome = run_read(conn, job);
    // The receiver may be gone by now; then nobody wants the outcome.
    let _ = reply.send(outcome);
}

/// Runs a read job on its own snapshot (`BEGIN DEFERRED … ROLLBACK`) on
/// `conn`, on whichever thread calls it: a reader thread, or the caller's for
/// a short read (ADR 0012).
pub(crate) fn run_read(conn: &Connection, job: ReadJob) -> Outcome {
    rollback(conn);
    match exec(conn, sql::BEGIN_READ) {
        Ok(()) => {
            let tx = Tx::new(conn);
            let out = catch_unwind(AssertUnwindSafe(|| job(&tx)));
            rollback(conn);
            out
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Runs a batch of write jobs in one transaction, one savepoint each, and
/// replies to all of them once the transaction has committed or failed.
fn run_writes(conn: &Connection, batch: Vec<(WriteJob, Reply)>) {
    let batch: Vec<_> = batch
        .into_iter()
        .filter(|(_, r)| !r.is_canceled())
        .collect();
    if batch.is_empty() {
        return;
    }
    rollback(conn);
    if let Err(e) = exec(conn, sql::BEGIN_WRITE) {
        let why = e.to_string();
        let mut first = Some(e);
        for (_, reply) in batch {
            let err = first.take().unwrap_or_else(|| Error::storage(why.clone()));
            let _ = reply.send(Ok(Err(err)));
        }
        return;
    }
    if batch.len() == 1 {
        if let Some((job, reply)) = batch.into_iter().next() {
            let out = run_alone(conn, job);
            // The receiver may be gone by now; then nobody wants the outcome.
            let _ = reply.send(out);
        }
        return;
    }
    let mut done: Vec<(Outcome, Reply)> = Vec::with_capacity(batch.len());
    let mut aborted: Option<String> = None;
    for (job, reply) in batch {
        if let Some(why) = &aborted {
            done.push((Ok(Err(Error::storage(why.clone()))), reply));
            continue;
        }
        let (out, intact) = run_in_savepoint(conn, job);
        done.push((out, reply));
        if !intact {
            let why = "the write transaction was aborted by an engine error; nothing was written"
                .to_owned();
            rollback(conn);
            fail_successes(&mut done, &why);
            aborted = Some(why);
        }
    }
    if aborted.is_none()
        && let Err(e) = exec(conn, sql::COMMIT)
    {
        rollback(conn);
        fail_successes(
            &mut done,
            &format!("commit failed; nothing was written: {e}"),
        );
    }
    for (out, reply) in done {
        // The receiver may be gone by now; then nobody wants the outcome.
        let _ = reply.send(out);
    }
}

/// Runs the only job of a batch in the open write transaction, without a
/// savepoint: the transaction holds nothing else, so rolling all of it back
/// undoes exactly the job, and committing it commits exactly the job. Same
/// outcomes as [`run_in_savepoint`] followed by the batch's commit, two
/// statements fewer (issue 18: one task's toggles come one per batch).
fn run_alone(conn: &Connection, job: WriteJob) -> Outcome {
    let mut tx = Tx::new(conn);
    let out = catch_unwind(AssertUnwindSafe(|| job(&mut tx)));
    if conn.is_autocommit() {
        // SQLite ended the transaction (I/O error, disk full, …): nothing of
        // the job persists, so it cannot succeed.
        return match out {
            Ok(Ok(_)) => Ok(Err(Error::storage(
                "the write transaction was aborted by an engine error; nothing was written",
            ))),
            failed => failed,
        };
    }
    match out {
        Ok(Ok(value)) => match exec(conn, sql::COMMIT) {
            Ok(()) => Ok(Ok(value)),
            Err(e) => {
                rollback(conn);
                Ok(Err(Error::storage(format!(
                    "commit failed; nothing was written: {e}"
                ))))
            }
        },
        failed => {
            rollback(conn);
            failed
        }
    }
}

/// Runs one job in a savepoint. Returns its outcome and whether the batch's
/// transaction is still intact (false when SQLite rolled it back itself or
/// the savepoint could not be undone).
fn run_in_savepoint(conn: &Connection, job: WriteJob) -> (Outcome, bool) {
    if let Err(e) = exec(conn, sql::SAVEPOINT) {
        return (Ok(Err(e)), false);
    }
    let mut tx = Tx::new(conn);
    let out = catch_unwind(AssertUnwindSafe(|| job(&mut tx)));
    if conn.is_autocommit() {
        // SQLite ended the transaction (I/O error, disk full, …).
        return (out, false);
    }
    let end = match &out {
        Ok(Ok(_)) => exec(conn, sql::RELEASE),
        _ => exec(conn, sql::ROLLBACK_TO).and_then(|()| exec(conn, sql::RELEASE)),
    };
    match end {
        Ok(()) => (out, true),
        Err(e) => match out {
            Ok(Ok(_)) => (Ok(Err(e)), false),
            failed => (failed, false),
        },
    }
}

/// Turns every successful outcome of a batch into a storage error.
fn fail_successes(done: &mut [(Outcome, Reply)], why: &str) {
    for (out, _) in done.iter_mut() {
        if matches!(out, Ok(Ok(_))) {
            *out = Ok(Err(Error::storage(why.to_owned())));
        }
    }
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
        .map_err(|_| Error::storage("the SQLite store is closed"))?;
    match rx.await {
        Ok(Ok(result)) => result,
        Ok(Err(_panic)) => Err(Error::job_panicked(what)),
        Err(oneshot::Canceled) => Err(Error::storage("a SQLite connection thread stopped")),
    }
}
