//! The search index follows the change feed in the background (ADR 0010).
//!
//! A write ends at its commit: [`Kinfolk::wr`](crate::Kinfolk) only wakes
//! the [`Follower`], a thread the service owns, which applies the feed to
//! the index in batches (every wake-up since the last pass is one pass).
//! Between wake-ups it polls the feed every [`DEFAULT_POLL`] (configurable
//! with [`KinfolkBuilder::search_poll`](crate::KinfolkBuilder::search_poll)),
//! so events committed by another process on the same database (another app
//! instance on PostgreSQL) are found too. [`SearchSync`] holds what catching
//! up needs; every catch-up — background, `refresh_search`, a rebuild — runs
//! under its one lock, so an older state of a user never overwrites a newer
//! one. Core has no async runtime: the thread drives the store's futures
//! with `futures_executor::block_on` (every store runs its jobs on its own
//! threads or inline, never on the caller's executor).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::lock::Mutex as AsyncMutex;

use crate::config::Retry;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::profile::User;
use crate::search::{IndexBatch, RebuildMark, RebuildProgress, SearchDoc, SearchIndex};
use crate::store::{self, ReadTx, Store};

/// Feed events (or users, in a rebuild) read per step.
pub(crate) const SYNC_BATCH: usize = 1000;
/// Users counted per read job for a rebuild's progress total.
const COUNT_BATCH: usize = 10_000;
/// How often the follower looks at the feed when nothing woke it.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(250);
/// Shortest poll interval used.
pub(crate) const MIN_POLL: Duration = Duration::from_millis(10);
/// The gauge of how many feed events the index is behind.
pub const LAG_GAUGE: &str = "kinfolk_search_index_lag_events";

pub(crate) fn doc(u: &User) -> SearchDoc {
    SearchDoc {
        id: u.id,
        username: u.username.as_str().to_string(),
        name: u.name.as_str().to_string(),
        followers_count: u.counts.followers,
    }
}

/// A progress callback, as the rebuild takes it.
pub(crate) type ProgressFn<'a> = &'a (dyn Fn(RebuildProgress) + Send + Sync);

/// What keeping the index in step needs, shared by the service and its
/// follower thread.
pub(crate) struct SearchSync {
    store: Arc<dyn Store>,
    index: Arc<dyn SearchIndex>,
    retry: Retry,
    /// Serialises every catch-up and rebuild.
    lock: AsyncMutex<()>,
    /// The index has been caught up once (at build, or by the first
    /// `refresh_search` or rebuild of a service built with
    /// `defer_search_catch_up`); until then the follower leaves it alone.
    ready: AtomicBool,
}

impl SearchSync {
    pub(crate) fn new(store: Arc<dyn Store>, index: Arc<dyn SearchIndex>, retry: Retry) -> Self {
        Self {
            store,
            index,
            retry,
            lock: AsyncMutex::new(()),
            ready: AtomicBool::new(false),
        }
    }

    async fn rd<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
    {
        store::read_retrying(self.store.as_ref(), self.retry, f).await
    }

    /// Catches the index up: the first time as on open (a rebuild when it
    /// has applied nothing, is in the middle of a rebuild, or claims a feed
    /// position the store has not reached), then from its applied sequence.
    /// Returns when everything committed before the call is applied.
    pub(crate) async fn catch_up(&self) -> Result<()> {
        let _guard = self.lock.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return self.sync_locked().await;
        }
        let applied = self.index.applied_seq().await?;
        let last = self.rd(|tx| tx.last_seq()).await?;
        let mid_rebuild = self.index.rebuild_mark().await?.is_some();
        if applied == 0 || applied > last || mid_rebuild {
            self.rebuild_locked(None).await?;
        }
        self.sync_locked().await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// One background pass: nothing until the index was caught up once.
    fn follow_step(&self) -> Result<()> {
        if !self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        futures_executor::block_on(async {
            let _guard = self.lock.lock().await;
            self.sync_locked().await
        })
    }

    /// Applies every feed event the index has not seen (idempotent).
    async fn sync_locked(&self) -> Result<()> {
        let index = &self.index;
        loop {
            let after = index.applied_seq().await?;
            // The batch may reflect commits the store has not made durable
            // yet; the index must not persist them before the store does.
            let batch = self.rd(move |tx| read_batch(tx, after)).await?;
            self.store.await_durable().await?;
            match batch {
                Some((b, last)) => {
                    let upto = b.upto_seq;
                    index.apply(b).await?;
                    set_lag(last.saturating_sub(upto));
                }
                None => {
                    set_lag(0);
                    return Ok(());
                }
            }
        }
    }

    /// Rebuilds the index from the store (resuming an interrupted rebuild
    /// the index recorded), then applies the feed after it.
    pub(crate) async fn rebuild(&self, progress: Option<ProgressFn<'_>>) -> Result<()> {
        let _guard = self.lock.lock().await;
        self.rebuild_locked(progress).await?;
        self.sync_locked().await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn rebuild_locked(&self, progress: Option<ProgressFn<'_>>) -> Result<()> {
        let index = &self.index;
        let last = self.rd(|tx| tx.last_seq()).await?;
        let (upto, mut after, mut done, resumed) = match index.rebuild_mark().await? {
            // A mark beyond the store's feed means the store lost commits
            // the rebuild had seen (a non-durable store): start over.
            Some(m) if m.upto_seq <= last => (m.upto_seq, m.after, m.done, true),
            _ => {
                index.clear().await?;
                // The position first: events after it are re-applied by the
                // sync that follows, which is harmless (apply is idempotent).
                (last, None, 0, false)
            }
        };
        index
            .set_rebuild_mark(Some(RebuildMark {
                upto_seq: upto,
                after,
                done,
            }))
            .await?;
        let total = match progress {
            Some(_) => self.count_users().await?,
            None => 0,
        };
        let report = |done: u64, finished: bool| {
            if let Some(p) = progress {
                p(RebuildProgress {
                    done,
                    total: total.max(done),
                    resumed,
                    finished,
                });
            }
        };
        report(done, false);
        loop {
            let users = self.rd(move |tx| tx.users_after(after, SYNC_BATCH)).await?;
            let Some(last_id) = users.last().map(|u| u.id) else {
                break;
            };
            let (active, inactive): (Vec<&User>, Vec<&User>) =
                users.iter().partition(|u| u.is_active());
            index
                .apply(IndexBatch {
                    upserts: active.into_iter().map(doc).collect(),
                    removals: inactive.into_iter().map(|u| u.id).collect(),
                    upto_seq: 0,
                })
                .await?;
            after = Some(last_id);
            done += users.len() as u64;
            // Recorded after the documents: a commit that holds the mark
            // holds every document before it.
            index
                .set_rebuild_mark(Some(RebuildMark {
                    upto_seq: upto,
                    after,
                    done,
                }))
                .await?;
            report(done, false);
        }
        // The documents the index is about to claim must be durable in the
        // store first. The mark goes before the position: a crash in
        // between leaves neither (a rebuild on open), never both.
        self.store.await_durable().await?;
        index.set_rebuild_mark(None).await?;
        index
            .apply(IndexBatch {
                upto_seq: upto,
                ..Default::default()
            })
            .await?;
        index.refresh().await?;
        report(done, true);
        Ok(())
    }

    /// How many users the store holds (the progress total).
    async fn count_users(&self) -> Result<u64> {
        let mut after: Option<UserId> = None;
        let mut n = 0u64;
        loop {
            let (count, last) = self
                .rd(move |tx| {
                    let page = tx.users_after(after, COUNT_BATCH)?;
                    Ok((page.len(), page.last().map(|u| u.id)))
                })
                .await?;
            n += count as u64;
            match last {
                Some(id) if count == COUNT_BATCH => after = Some(id),
                _ => return Ok(n),
            }
        }
    }
}

/// The next batch after `after`, and the feed's last sequence (for the lag).
fn read_batch(tx: &dyn ReadTx, after: u64) -> Result<Option<(IndexBatch, u64)>> {
    let events = tx.changes_since(after, SYNC_BATCH)?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(None);
    };
    let head = tx.last_seq()?.max(last);
    let mut touched: Vec<UserId> = events
        .iter()
        .flat_map(|e| e.change.users_touched())
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let users: HashMap<UserId, User> = tx.users(&touched)?.into_iter().map(|u| (u.id, u)).collect();
    let mut batch = IndexBatch {
        upto_seq: last,
        ..Default::default()
    };
    for id in touched {
        match users.get(&id) {
            Some(u) if u.is_active() => batch.upserts.push(doc(u)),
            _ => batch.removals.push(id),
        }
    }
    Ok(Some((batch, head)))
}

fn set_lag(events: u64) {
    metrics::gauge!(LAG_GAUGE).set(events as f64);
}

// ------------------------------------------------------------- the thread

#[derive(Default)]
struct WakeState {
    pending: bool,
    stop: bool,
}

#[derive(Default)]
struct Signal {
    state: Mutex<WakeState>,
    cv: Condvar,
}

/// The follower thread. Dropped with the service's last clone: it stops the
/// thread and waits for it (at most the end of the batch it is applying).
pub(crate) struct Follower {
    signal: Arc<Signal>,
    handle: Option<JoinHandle<()>>,
}

impl Follower {
    /// Starts the thread.
    ///
    /// # Errors
    /// `Storage` when the thread cannot be spawned.
    pub(crate) fn start(sync: Arc<SearchSync>, poll: Duration) -> Result<Self> {
        let signal = Arc::new(Signal::default());
        let sig = Arc::clone(&signal);
        let handle = std::thread::Builder::new()
            .name("kinfolk-follow".into())
            .spawn(move || follow(&sync, &sig, poll))
            .map_err(Error::storage)?;
        Ok(Self {
            signal,
            handle: Some(handle),
        })
    }

    /// Tells the thread the feed has grown (cheap; wake-ups coalesce).
    pub(crate) fn notify(&self) {
        let mut st = self
            .signal
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.pending = true;
        self.signal.cv.notify_one();
    }
}

fn follow(sync: &SearchSync, sig: &Signal, poll: Duration) {
    loop {
        {
            let mut st = sig.state.lock().unwrap_or_else(PoisonError::into_inner);
            if !st.pending && !st.stop {
                st = sig
                    .cv
                    .wait_timeout(st, poll)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if st.stop {
                return;
            }
            st.pending = false;
        }
        if let Err(e) = sync.follow_step() {
            tracing::warn!(error = %e, "search index lags the store; the follower retries");
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        {
            let mut st = self
                .signal
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            st.stop = true;
            self.signal.cv.notify_one();
        }
        if let Some(handle) = self.handle.take()
            && handle.thread().id() != std::thread::current().id()
            && handle.join().is_err()
        {
            tracing::warn!("search follower thread panicked");
        }
    }
}
