//! The store's own threads: one writer and a small pool of readers.
//!
//! Jobs reach them over channels (`std::sync::mpsc` to the writer, a
//! multi-consumer `crossbeam_channel` to the readers); each answer goes back
//! over a `futures_channel::oneshot`, whose receiver is a plain future that
//! completes under any executor. No async runtime is used or assumed, and no
//! blocking call runs on the caller's executor except a short read's few
//! page-cache lookups when the store runs short reads inline (ADR 0012).
//!
//! - The **writer** runs each write job in its own `WriteTransaction`: commit
//!   when the job returns `Ok`, abort when it returns `Err` or panics. Being
//!   the only thread that writes, it serialises writes without waiting on a
//!   lock. With [`Durability::Immediate`] it group-commits: the jobs that
//!   queued up meanwhile share one sync to disk (see [`run_group`]); none is
//!   answered before it is durable. A read may see such a job's writes a
//!   moment before they are durable, and a crash in that moment loses them;
//!   readers that keep what they saw wait with
//!   [`kinfolk::Store::await_durable`] (ADR 0005).
//! - A **reader** runs each read job on a fresh `ReadTransaction` (an MVCC
//!   snapshot), so reads never wait for the writer. Short reads may run the
//!   same way on the caller's thread instead ([`Workers::read_here`], ADR 0012).
//!
//! [`Workers`] owns the threads. Dropping it closes the channels, joins every
//! thread (each finishes the job it is running) and then closes the
//! database, so the file can be opened again as soon as the last store handle
//! is gone.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use futures_channel::oneshot;
use kinfolk::Result;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use redb::{Database, ReadableDatabase};

use crate::Durability;
use crate::error::{EngineResult, job_panicked, worker_gone};
use crate::tx::{Reading, Tables};

/// A message to the writer.
enum WriteMsg {
    /// Run a job in one write transaction.
    Job(WriteJob, oneshot::Sender<Result<Boxed>>),
    /// Make every commit so far durable (an empty `Immediate` commit).
    Sync(oneshot::Sender<Result<()>>),
}

/// A message to a reader.
type ReadMsg = (ReadJob, oneshot::Sender<Result<Boxed>>);

/// The writer and reader threads of one open database.
pub(crate) struct Workers {
    writer: Option<Sender<WriteMsg>>,
    /// Set by the writer while a group has commits that are visible but not
    /// yet durable (see [`run_group`]).
    in_flight: Arc<AtomicBool>,
    readers: Option<crossbeam_channel::Sender<ReadMsg>>,
    threads: Vec<JoinHandle<()>>,
    db: Option<Arc<Database>>,
}

impl Workers {
    /// Starts the writer and `read_threads` readers (at least one) over `db`.
    pub(crate) fn start(db: Database, durability: Durability, read_threads: usize) -> Result<Self> {
        let db = Arc::new(db);
        let mut workers = Workers {
            writer: None,
            readers: None,
            threads: Vec::new(),
            db: Some(db.clone()),
            in_flight: Arc::new(AtomicBool::new(false)),
        };

        let (write_tx, write_rx) = mpsc::channel();
        let writer_db = db.clone();
        let in_flight = workers.in_flight.clone();
        workers.threads.push(spawn("kinfolk-redb-writer", move || {
            writer_loop(&writer_db, durability, &write_rx, &in_flight)
        })?);
        workers.writer = Some(write_tx);

        let (read_tx, read_rx) = crossbeam_channel::unbounded();
        for i in 0..read_threads.max(1) {
            let (reader_db, rx) = (db.clone(), read_rx.clone());
            workers
                .threads
                .push(spawn(&format!("kinfolk-redb-reader-{i}"), move || {
                    reader_loop(&reader_db, &rx)
                })?);
        }
        workers.readers = Some(read_tx);
        Ok(workers)
    }

    /// Runs a read job on a reader thread.
    pub(crate) async fn read(&self, job: ReadJob) -> Result<Boxed> {
        let (tx, rx) = oneshot::channel();
        let sent = self.readers.as_ref().map(|s| s.send((job, tx)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(worker_gone());
        }
        rx.await.unwrap_or_else(|_| Err(worker_gone()))
    }

    /// Runs a read job on the calling thread, on its own snapshot, a panic
    /// caught as on a reader thread (short reads, ADR 0012).
    pub(crate) fn read_here(&self, job: ReadJob) -> Result<Boxed> {
        match &self.db {
            Some(db) => guarded("read", || run_read(db, job)),
            None => Err(worker_gone()),
        }
    }

    /// Runs a write job on the writer thread.
    pub(crate) async fn write(&self, job: WriteJob) -> Result<Boxed> {
        let (tx, rx) = oneshot::channel();
        self.send_write(WriteMsg::Job(job, tx))?;
        rx.await.unwrap_or_else(|_| Err(worker_gone()))
    }

    /// Whether a group commit has visible commits that are not durable yet.
    pub(crate) fn group_in_flight(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Makes every commit so far durable.
    pub(crate) async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send_write(WriteMsg::Sync(tx))?;
        rx.await.unwrap_or_else(|_| Err(worker_gone()))
    }

    /// The database, for operations that are not jobs (`ops.rs`: backup).
    pub(crate) fn database(&self) -> Option<Arc<Database>> {
        self.db.clone()
    }

    /// Read jobs waiting for a reader thread.
    pub(crate) fn read_queue_len(&self) -> usize {
        self.readers.as_ref().map_or(0, |q| q.len())
    }

    fn send_write(&self, msg: WriteMsg) -> Result<()> {
        match self.writer.as_ref().map(|s| s.send(msg)) {
            Some(Ok(())) => Ok(()),
            _ => Err(worker_gone()),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the channels ends each thread's loop once the jobs already
        // queued (sent by futures dropped since) are done.
        self.writer = None;
        self.readers = None;
        let me = thread::current().id();
        for handle in self.threads.drain(..) {
            // Never join ourselves (a job that dropped the last store handle).
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        // Every thread released its handle: close the file now, not whenever
        // the last Arc happens to go. Durability::None commits become durable
        // here. A close error cannot be reported from drop; redb recovers on
        // the next open.
        if let Some(db) = self.db.take().and_then(|db| Arc::try_unwrap(db).ok()) {
            let _ = db.close();
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| kinfolk::Error::storage(format!("cannot start a redb store thread: {e}")))
}

/// The most write jobs one durable commit covers (see [`run_group`]).
const MAX_GROUP: usize = 64;

fn writer_loop(
    db: &Database,
    durability: Durability,
    rx: &Receiver<WriteMsg>,
    in_flight: &AtomicBool,
) {
    while let Ok(first) = rx.recv() {
        // Whatever else is already waiting joins the group; nothing waits for more.
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(msg) => group.push(msg),
                Err(_) => break,
            }
        }
        match durability {
            Durability::Immediate => run_group(db, group, in_flight),
            Durability::None => {
                for msg in group {
                    match msg {
                        WriteMsg::Job(job, reply) => {
                            let out =
                                guarded("write", || run_write(db, redb::Durability::None, job));
                            let _ = reply.send(out);
                        }
                        WriteMsg::Sync(reply) => {
                            let _ = reply.send(guarded("sync", || sync(db)));
                        }
                    }
                }
            }
        }
    }
}

/// Group commit: the jobs that queued up while the previous group ran, each
/// in its own transaction, made durable by one sync instead of one each.
///
/// Every job but the last commits with redb's `Durability::None`, the last
/// with `Durability::Immediate`, which makes the whole group durable (or, if
/// the last job fails, an empty durable commit does). Answers are held back
/// until then, so no job is acknowledged before it is on disk; a crash
/// before that point loses only unacknowledged jobs. Each job still commits
/// or rolls back on its own, so a failing job takes none of the others with it.
///
/// Readers can see a job's commit before the group's sync; `in_flight` says
/// so from before the first such commit until the sync is done, so that
/// [`kinfolk::Store::await_durable`] knows when to wait.
fn run_group(db: &Database, group: Vec<WriteMsg>, in_flight: &AtomicBool) {
    let last_job = group.iter().rposition(|m| matches!(m, WriteMsg::Job(..)));
    let jobs = group
        .iter()
        .filter(|m| matches!(m, WriteMsg::Job(..)))
        .count();
    if jobs > 1 {
        in_flight.store(true, Ordering::SeqCst);
    }
    let mut answers = Vec::with_capacity(group.len());
    // Whether a commit is not yet covered by a durable one.
    let mut pending = false;
    for (i, msg) in group.into_iter().enumerate() {
        match msg {
            WriteMsg::Job(job, reply) => {
                let last = Some(i) == last_job;
                let mode = if last {
                    redb::Durability::Immediate
                } else {
                    redb::Durability::None
                };
                let out = guarded("write", || run_write(db, mode, job));
                if out.is_ok() {
                    pending = !last;
                }
                answers.push(Answer::Job(reply, out));
            }
            WriteMsg::Sync(reply) => answers.push(Answer::Sync(reply)),
        }
    }
    let durable = if pending {
        guarded("sync", || sync(db)).map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    in_flight.store(false, Ordering::SeqCst);
    for answer in answers {
        match (answer, &durable) {
            (Answer::Job(reply, out), Ok(())) => {
                let _ = reply.send(out);
            }
            (Answer::Job(reply, out), Err(why)) => {
                let _ = reply.send(out.and_then(|_| Err(not_durable(why))));
            }
            (Answer::Sync(reply), durable) => {
                let _ = reply.send(durable.clone().map_err(|why| not_durable(&why)));
            }
        }
    }
}

/// An answer held back until its group is durable.
enum Answer {
    Job(oneshot::Sender<Result<Boxed>>, Result<Boxed>),
    Sync(oneshot::Sender<Result<()>>),
}

fn not_durable(why: &str) -> kinfolk::Error {
    kinfolk::Error::storage(format!(
        "the write committed but could not be made durable: {why}"
    ))
}

fn reader_loop(db: &Database, rx: &crossbeam_channel::Receiver<ReadMsg>) {
    // Every idle reader waits on the same queue; a job wakes one of them.
    // The loop ends when the store drops the sending side.
    while let Ok((job, reply)) = rx.recv() {
        let _ = reply.send(guarded("read", || run_read(db, job)));
    }
}

/// Runs `f`, turning a panic — in a job, or in redb on a damaged file — into
/// [`kinfolk::Error::Storage`], so the thread lives on to answer the next job.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(job_panicked(what)))
}

/// One write job in one write transaction; commits exactly on `Ok`.
fn run_write(db: &Database, durability: redb::Durability, job: WriteJob) -> Result<Boxed> {
    let mut txn = db.begin_write().engine()?;
    txn.set_durability(durability).engine()?;
    let out = {
        let mut tables = Tables::new(&txn);
        // Caught here too, so that the transaction is aborted, not unwound.
        guarded("write", || job(&mut tables))
    };
    match out {
        Ok(value) => {
            txn.commit().engine()?;
            Ok(value)
        }
        Err(e) => {
            // The job's error is the answer; an abort failure leaves nothing
            // committed either (redb repairs on the next open).
            let _ = txn.abort();
            Err(e)
        }
    }
}

/// One read job on one read snapshot.
fn run_read(db: &Database, job: ReadJob) -> Result<Boxed> {
    let txn = db.begin_read().engine()?;
    let tables = Tables::<Reading>::new(&txn);
    guarded("read", || job(&tables))
}

/// An empty durable commit: makes every earlier `Durability::None` commit durable.
fn sync(db: &Database) -> Result<()> {
    let mut txn = db.begin_write().engine()?;
    txn.set_durability(redb::Durability::Immediate).engine()?;
    txn.commit().engine()
}
