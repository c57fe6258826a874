//! The service facade: every operation of SPEC §3–§10.
//!
//! [`Kinfolk`] is cheap to clone (one `Arc`) and shareable across tasks. Each
//! command is one store transaction: it reads what its rule needs, decides,
//! writes, and appends its change-feed events, all atomically.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::profile::{User, skeleton};
use crate::search::SearchIndex;
use crate::search::follow::{DEFAULT_POLL, Follower, MIN_POLL, SearchSync};
use crate::store::{self, ReadTx, Store, WriteTx};

/// The kinfolk service: clone it freely; every clone shares the same store,
/// clock, configuration and search index.
///
/// ```
/// # async fn demo(store: std::sync::Arc<dyn kinfolk::Store>) -> kinfolk::Result<()> {
/// use kinfolk::{Kinfolk, NewUser, FollowAction, PageRequest};
/// let svc = Kinfolk::builder(store).build().await?;
/// let ada = svc.register(NewUser::new("ada", "Ada Lovelace")?).await?;
/// let bob = svc.register(NewUser::new("bob", "Bob")?).await?;
/// svc.toggle_follow(bob.id, ada.id, Some(FollowAction::Follow)).await?;
/// let page = svc.followers(Some(ada.id), ada.id, PageRequest::first()).await?;
/// assert_eq!(page.items.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Kinfolk {
    pub(crate) inner: Arc<Inner>,
    /// Set on the service a [`Kinfolk::bulk_import`] session hands its load:
    /// the counter changes its imports defer to the session's end.
    pub(crate) bulk: Option<Arc<crate::accounts::BulkSession>>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// Reserved names, look-alike folded.
    pub(crate) reserved: Vec<String>,
    pub(crate) search: Option<Arc<dyn SearchIndex>>,
    /// Keeps the index in step with the feed (with an index).
    pub(crate) search_sync: Option<Arc<SearchSync>>,
    /// The thread that does it in the background; stopped and joined when
    /// the last clone of the service drops.
    pub(crate) follower: Option<Follower>,
}

impl fmt::Debug for Kinfolk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kinfolk")
            .field("store", &self.inner.store)
            .field("search", &self.inner.search.is_some())
            .finish_non_exhaustive()
    }
}

/// Something the builder can share: a store, search index or clock given
/// as the value its constructor returns — every kinfolk store and index
/// constructor returns the bare value (`MemoryStore::new()`,
/// `kinfolk_sqlite::open(path)?`, `TantivyIndex::open_in_ram()?`,
/// `ManualClock::starting_at_epoch()`) — or as an `Arc` of one when the host
/// keeps a handle too (an `Arc<SqliteStore>`, an `Arc<dyn Store>`). Implemented for
/// every `T` implementing the trait (wrapped in a new `Arc`), every `Arc<T>`
/// and `Arc<dyn Trait>`; hosts never implement it.
///
/// ```
/// # async fn demo() -> kinfolk::Result<()> {
/// # #[derive(Debug)] struct S;
/// # #[async_trait::async_trait] impl kinfolk::Store for S {
/// #   async fn read(&self, _: kinfolk::store::ReadJob) -> kinfolk::Result<kinfolk::store::Boxed> { unimplemented!() }
/// #   async fn write(&self, _: kinfolk::store::WriteJob) -> kinfolk::Result<kinfolk::store::Boxed> { unimplemented!() } }
/// use std::sync::Arc;
/// use kinfolk::{Kinfolk, ManualClock, Store};
/// let bare = Kinfolk::builder(S).clock(ManualClock::starting_at_epoch()).build().await?;
/// let shared: Arc<dyn Store> = Arc::new(S);
/// let again = Kinfolk::builder(shared.clone()).build().await?;
/// # Ok(()) }
/// ```
pub trait Shared<T: ?Sized> {
    /// The value as a shared handle.
    fn shared(self) -> Arc<T>;
}

macro_rules! shared_for {
    ($($tr:ident),*) => {$(
        impl<S: $tr + 'static> Shared<dyn $tr> for S {
            fn shared(self) -> Arc<dyn $tr> {
                Arc::new(self)
            }
        }
        impl<S: $tr + 'static> Shared<dyn $tr> for Arc<S> {
            fn shared(self) -> Arc<dyn $tr> {
                self
            }
        }
        impl Shared<dyn $tr> for Arc<dyn $tr> {
            fn shared(self) -> Arc<dyn $tr> {
                self
            }
        }
    )*};
}
shared_for!(Store, SearchIndex, Clock);

/// Builds a [`Kinfolk`] service over a store.
#[derive(Debug)]
pub struct KinfolkBuilder {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Config,
    search: Option<Arc<dyn SearchIndex>>,
    search_poll: Duration,
    catch_up: bool,
}

impl KinfolkBuilder {
    /// Uses `clock` instead of the system clock (tests use
    /// [`ManualClock`](crate::ManualClock)); a clock value or an `Arc` of one.
    pub fn clock(mut self, clock: impl Shared<dyn Clock>) -> Self {
        self.clock = clock.shared();
        self
    }
    /// Uses `config` instead of [`Config::default`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// Enables [`Kinfolk::search_users`] with this index (an index value or
    /// an `Arc` of one).
    pub fn search(mut self, index: impl Shared<dyn SearchIndex>) -> Self {
        self.search = Some(index.shared());
        self
    }
    /// How often the search index's follower reads the change feed when no
    /// write of this service woke it (default 250 ms, at least 10 ms). It
    /// is how an index finds changes made by *another* process on the same
    /// database (several app instances on PostgreSQL); writes through this
    /// service wake it at once. With the index's own commit interval it
    /// bounds how stale another instance's changes can be.
    pub fn search_poll(mut self, interval: Duration) -> Self {
        self.search_poll = interval.max(MIN_POLL);
        self
    }
    /// Builds without catching the search index up: it neither follows the
    /// feed nor rebuilds until the first [`Kinfolk::refresh_search`],
    /// [`Kinfolk::rebuild_search_index`] or
    /// [`Kinfolk::rebuild_search_with`] (for a host that wants to show a
    /// rebuild's progress, as `kinfolk reindex` does).
    pub fn defer_search_catch_up(mut self) -> Self {
        self.catch_up = false;
        self
    }
    /// Builds the service. With a search index, first catches the index up
    /// with the store: from its last applied feed sequence, or by a
    /// rebuild when the index is empty (or was interrupted in a rebuild,
    /// which continues), unless [`Self::defer_search_catch_up`]; then
    /// starts the thread that keeps it following the feed (see
    /// [`Kinfolk::refresh_search`]).
    ///
    /// # Errors
    /// [`Error::Storage`](crate::Error::Storage) when the store or index
    /// fails, or the follower thread cannot start.
    pub async fn build(self) -> Result<Kinfolk> {
        let mut reserved: Vec<String> = crate::profile::RESERVED_USERNAMES
            .iter()
            .map(|s| skeleton(s))
            .collect();
        reserved.extend(self.config.reserved_usernames.iter().map(|s| skeleton(s)));
        let search_sync = self.search.as_ref().map(|index| {
            Arc::new(SearchSync::new(
                Arc::clone(&self.store),
                Arc::clone(index),
                self.config.retry,
            ))
        });
        if let Some(sync) = &search_sync
            && self.catch_up
        {
            sync.catch_up().await?;
        }
        let follower = search_sync
            .as_ref()
            .map(|sync| Follower::start(Arc::clone(sync), self.search_poll))
            .transpose()?;
        Ok(Kinfolk {
            inner: Arc::new(Inner {
                store: self.store,
                clock: self.clock,
                config: self.config,
                reserved,
                search: self.search,
                search_sync,
                follower,
            }),
            bulk: None,
        })
    }
}

impl Kinfolk {
    /// Starts building a service over `store` (the store value its
    /// constructor returns, or an `Arc` of one), with the system clock, the
    /// default configuration and no search index.
    pub fn builder(store: impl Shared<dyn Store>) -> KinfolkBuilder {
        KinfolkBuilder {
            store: store.shared(),
            clock: Arc::new(SystemClock),
            config: Config::default(),
            search: None,
            search_poll: DEFAULT_POLL,
            catch_up: true,
        }
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The clock's reading, checked against the supported time range
    /// ([`crate::clock`]): a clock outside it fails the command before
    /// anything is stored.
    pub(crate) fn now(&self) -> Result<Timestamp> {
        crate::clock::check_time("clock", self.inner.clock.now())
    }

    /// Runs a read job (again after a transient failure, as
    /// [`Config::retry`] says).
    pub(crate) async fn rd<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
    {
        store::read_retrying(self.inner.store.as_ref(), self.inner.config.retry, f).await
    }

    /// Runs a short read job — a handful of point lookups, no scan or page —
    /// which the store may run on the caller's thread
    /// ([`Store::read_short`](crate::Store::read_short), ADR 0012); retried
    /// like [`Kinfolk::rd`].
    pub(crate) async fn rd_short<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
    {
        store::read_short_retrying(self.inner.store.as_ref(), self.inner.config.retry, f).await
    }

    /// Runs a read job whose answer outlives the store's memory (the search
    /// index persists it, a host keeps a feed position): waits until
    /// everything the read may have seen is durable
    /// ([`Store::await_durable`](crate::Store::await_durable)), so that a
    /// crash cannot take back what was handed out. ADR 0005.
    pub(crate) async fn rd_durable<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
    {
        let out = self.rd(f).await?;
        self.inner.store.await_durable().await?;
        Ok(out)
    }

    /// Runs a write job — again, in a fresh transaction, after a transient
    /// failure, as [`Config::retry`] says — and returns at its commit; the
    /// search index's follower is woken to apply it in the background (ADR
    /// 0010). The job is `Fn`: it clones what it consumes.
    pub(crate) async fn wr<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: Fn(&mut dyn WriteTx) -> Result<R> + Send + Sync + 'static,
    {
        let out =
            store::write_retrying(self.inner.store.as_ref(), self.inner.config.retry, f).await?;
        if let Some(follower) = &self.inner.follower {
            follower.notify();
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- callers
//
// Who is calling (lib.rs: "Callers"): every command checks its actor, every
// read its viewer, with these.

/// The acting user, who must exist and be active.
///
/// # Errors
/// `Unauthenticated` for an unknown id, `Deactivated` for a deactivated account.
pub(crate) fn active_actor(tx: &dyn ReadTx, actor: UserId) -> Result<User> {
    let user = any_actor(tx, actor)?;
    if !user.is_active() {
        return Err(Error::Deactivated);
    }
    Ok(user)
}

/// The acting user, who must exist (deactivated allowed).
pub(crate) fn any_actor(tx: &dyn ReadTx, actor: UserId) -> Result<User> {
    tx.user(actor)?.ok_or(Error::Unauthenticated)
}

/// Checks an optional viewer for a read of someone else's data.
pub(crate) fn check_viewer(tx: &dyn ReadTx, viewer: Option<UserId>) -> Result<Option<User>> {
    viewer.map(|v| active_actor(tx, v)).transpose()
}
