//! The storage port: what a backend MUST provide.
//!
//! kinfolk's rules live in the service; a store only stores, fetches and
//! commits. A command runs as one closure over a [`WriteTx`] on the store's
//! writer: the store MUST run it inside one transaction, exclusive with every
//! other write (serialisable), commit it if the closure returns `Ok` and roll
//! it back — leaving no trace, no feed event included — if it returns `Err`.
//! That is what makes every command atomic, every counter exact and every
//! uniqueness rule race-free, without a rule ever moving into an adapter
//! (see `docs/adr/0001-transaction-closures.md`).
//!
//! Reads run as a closure over a [`ReadTx`]: a consistent snapshot that MUST
//! NOT wait for a running write (or, for simple stores, waits only for as long
//! as one write takes). List reads are set-oriented: one range scan of edges,
//! then one batch fetch of users and one batch fetch of the edges between the
//! viewer and the page's users — never a point lookup per row.
//!
//! # Contract for implementors
//! - Every method of [`ReadTx`] and [`WriteTx`] returns `Err(Error::Storage)`
//!   for engine failures and for stored data it cannot decode — never panics.
//! - The closures are synchronous and may block: a store MUST run them off the
//!   async executor (a dedicated thread or a blocking pool) when they touch disk.
//! - The futures returned by [`Store::read`] and [`Store::write`] MUST complete
//!   when polled by any executor (no dependence on a specific runtime), so the
//!   search indexer can drive them from its own thread.
//! - Writes MUST be durable when they return `Ok`, unless the store was opened
//!   in an explicitly documented faster mode.
//! - The conformance suite (`kinfolk-conformance`) is the executable form of
//!   this contract; a store is done when it passes every case.

use async_trait::async_trait;
use std::any::Any;
use std::fmt;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::{Change, ChangeEvent};
use crate::follow::{Anchor, Edge, EdgeKind};
use crate::id::{RoomId, UserId};
use crate::room::{Membership, Room};
use crate::user::{ConnectedAccount, User, UsernameClaim};

/// A value passed out of a transaction closure.
pub type Boxed = Box<dyn Any + Send>;
/// A read job: runs against a consistent snapshot.
pub type ReadJob = Box<dyn FnOnce(&dyn ReadTx) -> Result<Boxed> + Send>;
/// A write job: runs inside one exclusive write transaction.
pub type WriteJob = Box<dyn FnOnce(&mut dyn WriteTx) -> Result<Boxed> + Send>;

/// A kinfolk store. Object safe; used as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Runs `job` against a consistent read snapshot and returns its result.
    ///
    /// MUST return the job's error unchanged; MUST NOT observe a write that
    /// has not committed.
    async fn read(&self, job: ReadJob) -> Result<Boxed>;

    /// Runs `job` inside one write transaction, exclusive with every other
    /// write. MUST commit exactly when the job returns `Ok` and roll back
    /// everything the job did when it returns `Err` (returning that error).
    /// A failed commit MUST return `Err` and leave no partial state.
    async fn write(&self, job: WriteJob) -> Result<Boxed>;

    /// Waits until every write that a read may already have observed is
    /// durable.
    ///
    /// A store whose commits become visible only once they are durable (the
    /// SQLite store, the memory store) has nothing to wait for: the default
    /// returns at once. A store that lets readers see a commit before it is
    /// synced — the redb store's group commit does, for the jobs of a group
    /// before its last — MUST wait here for that sync. The search index
    /// calls this before it applies what it read, so that it never persists
    /// a state that a crash can still take back from the store (after which
    /// the store would reuse those feed sequences for other events, and the
    /// index, claiming to be caught up, would keep the lost state).
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot make those writes durable.
    async fn await_durable(&self) -> Result<()> {
        Ok(())
    }
}

/// Reads available inside any transaction.
///
/// Lists are newest first by `seq` and are keyset paged: `before: Some(s)`
/// returns only rows with `seq < s`. Batch methods return rows in any order
/// and skip ids that do not exist.
pub trait ReadTx {
    /// The user with this id.
    fn user(&self, id: UserId) -> Result<Option<User>>;
    /// The users with these ids (missing ones skipped, any order).
    fn users(&self, ids: &[UserId]) -> Result<Vec<User>>;
    /// Up to `limit` users with id greater than `after`, in id order (for
    /// rebuilding derived data such as the search index).
    fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>>;

    /// The claim on a case-folded username, expired holds included (the
    /// service decides whether a hold has ended).
    fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>>;
    /// Every claim a user holds (current name and held previous names).
    fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>>;

    /// The edge `(kind, from, to)`.
    fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>>;
    /// Up to `limit` edges of `kind` at `anchor`, newest (highest `seq`) first,
    /// only those with `seq < before` when `before` is given. MUST be one range
    /// scan on an index ordered by `(anchor, seq)`.
    fn edges(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Edge>>;
    /// The `(seq, other end)` of the edges [`ReadTx::edges`] returns for the
    /// same arguments, in the same order: all a list page needs. The default
    /// maps [`ReadTx::edges`]; a store whose `(anchor, seq)` index holds the
    /// other end should answer from the index alone, without reading the
    /// edge records.
    fn edge_keys(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, UserId)>> {
        Ok(self
            .edges(kind, anchor, before, limit)?
            .into_iter()
            .map(|e| {
                let other = match anchor {
                    Anchor::From(_) => e.to,
                    Anchor::To(_) => e.from,
                };
                (e.seq, other)
            })
            .collect())
    }
    /// The edges `(kind, from, to)` that exist for `from` in `froms` (any
    /// order): "which of these users follow `to`", set-oriented. The default
    /// makes one point lookup per id; a store may answer with one query.
    fn edges_into(&self, kind: EdgeKind, froms: &[UserId], to: UserId) -> Result<Vec<Edge>> {
        let mut out = Vec::new();
        for &from in froms {
            if let Some(e) = self.edge(kind, from, to)? {
                out.push(e);
            }
        }
        Ok(out)
    }
    /// Every edge of any kind between `user` and any of `others`, in either
    /// direction. Used to compute relationships and block filters for a whole
    /// page at once.
    fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>>;

    /// The room with this id.
    fn room(&self, id: RoomId) -> Result<Option<Room>>;
    /// The rooms with these ids (missing ones skipped, any order).
    fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>>;
    /// A user's membership of a room.
    fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>>;
    /// Up to `limit` memberships of `user`, most recently joined (highest
    /// `seq`) first, only `seq < before` when given.
    fn memberships_of(
        &self,
        user: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Membership>>;
    /// Up to `limit` members of `room`, longest-standing (lowest `seq`) first,
    /// only `seq > after` when given.
    fn members(&self, room: RoomId, after: Option<u64>, limit: usize) -> Result<Vec<Membership>>;
    /// The memberships of `room` held by any of `users` (any order).
    fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>>;

    /// The connected account `(provider, external_id)`.
    fn connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>>;
    /// Every connected account of a user, oldest first (ties by provider,
    /// then external id).
    fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>>;

    /// Up to `limit` feed events with `seq > after`, in sequence order.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>>;
    /// The highest sequence number ever assigned (0 for a new store), also
    /// when the feed has been trimmed past it.
    fn last_seq(&self) -> Result<u64>;

    /// For each `(from, to)` pair, in order, whether the edge `(kind, from,
    /// to)` exists. Set-oriented form of [`ReadTx::edge`] for bulk imports;
    /// the default makes one point lookup per pair, a store may answer the
    /// whole list with one query (the SQLite store does).
    fn edges_exist(&self, kind: EdgeKind, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>> {
        pairs
            .iter()
            .map(|&(from, to)| self.edge(kind, from, to).map(|e| e.is_some()))
            .collect()
    }
}

/// Writes available inside a write transaction. Every method changes only
/// what it names; the service keeps related records (counters, indexes of
/// other kinds) consistent by calling several methods in one transaction.
pub trait WriteTx: ReadTx {
    /// Appends an event and returns its sequence number, strictly greater than
    /// every number assigned before (trimmed ones included).
    fn append_change(&mut self, at: Timestamp, change: Change) -> Result<u64>;
    /// Appends several events with the same timestamp, in order, and returns
    /// their sequence numbers (each strictly greater than the one before, as
    /// [`WriteTx::append_change`] assigns them). Set-oriented form for bulk
    /// imports; the default calls [`WriteTx::append_change`] once per event.
    fn append_changes(&mut self, at: Timestamp, changes: Vec<Change>) -> Result<Vec<u64>> {
        changes
            .into_iter()
            .map(|change| self.append_change(at, change))
            .collect()
    }
    /// Deletes feed events with `seq <= upto`; returns how many went.
    fn trim_changes(&mut self, upto: u64) -> Result<u64>;

    /// Inserts or replaces a user record.
    fn put_user(&mut self, user: &User) -> Result<()>;
    /// Deletes a user record (not its edges, claims or memberships: the
    /// service removes those explicitly).
    fn delete_user(&mut self, id: UserId) -> Result<()>;

    /// Inserts a username claim. MUST fail with [`Error::UsernameTaken`] if a
    /// claim on the same folded name exists (an atomic unique check inside
    /// the store, e.g. a unique index).
    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()>;
    /// Replaces an existing claim on the same folded name (used to turn a
    /// current name into a held one and back).
    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()>;
    /// Deletes the claim on a folded name, if any.
    fn delete_username_claim(&mut self, folded: &str) -> Result<()>;

    /// Inserts an edge. MUST fail with [`Error::Conflict`] if `(kind, from,
    /// to)` exists already.
    fn insert_edge(&mut self, edge: &Edge) -> Result<()>;
    /// Inserts several edges, as [`WriteTx::insert_edge`] does each: fails
    /// with [`Error::Conflict`] if any `(kind, from, to)` exists already (the
    /// error rolls the whole transaction back, so edges inserted before the
    /// conflict do not stay). Set-oriented form for bulk imports; the
    /// default calls [`WriteTx::insert_edge`] once per edge. Callers pass the
    /// edges sorted by `(kind, from, to)` for b-tree locality.
    fn insert_edges(&mut self, edges: &[Edge]) -> Result<()> {
        edges.iter().try_for_each(|e| self.insert_edge(e))
    }
    /// Inserts or replaces several user records, as [`WriteTx::put_user`]
    /// does each. The default calls it once per user.
    fn put_users(&mut self, users: &[User]) -> Result<()> {
        users.iter().try_for_each(|u| self.put_user(u))
    }
    /// Deletes the edge `(kind, from, to)` and returns it, if it existed.
    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>>;

    /// Inserts or replaces a room record.
    fn put_room(&mut self, room: &Room) -> Result<()>;
    /// Deletes a room record (memberships are removed by the service first).
    fn delete_room(&mut self, id: RoomId) -> Result<()>;
    /// Inserts or replaces the membership `(room, user)`.
    fn put_membership(&mut self, membership: &Membership) -> Result<()>;
    /// Deletes the membership `(room, user)` and returns it, if it existed.
    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>>;

    /// Inserts a connected account. MUST fail with [`Error::Conflict`] if
    /// `(provider, external_id)` is linked already.
    fn insert_connected_account(&mut self, account: &ConnectedAccount) -> Result<()>;
    /// Deletes `(provider, external_id)` and returns it, if it existed.
    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>>;
}

/// Runs a typed read job on a store: the closure's result comes back as
/// its own type.
///
/// # Errors
/// The job's error, or `Storage` when the store fails.
pub async fn read<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce(&dyn ReadTx) -> Result<R> + Send + 'static,
{
    let out = store
        .read(Box::new(move |tx| f(tx).map(|r| Box::new(r) as Boxed)))
        .await?;
    unbox(out)
}

/// Runs a typed write job on a store, in one transaction. Bypasses every
/// rule of the service: for adapters' own tests, bulk tools and checks, not
/// for application code.
///
/// # Errors
/// The job's error (after rollback), or `Storage` when the store fails.
pub async fn write<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn WriteTx) -> Result<R> + Send + 'static,
{
    let out = store
        .write(Box::new(move |tx| f(tx).map(|r| Box::new(r) as Boxed)))
        .await?;
    unbox(out)
}

fn unbox<R: 'static>(out: Boxed) -> Result<R> {
    out.downcast::<R>()
        .map(|b| *b)
        .map_err(|_| Error::storage("store returned a value of another type than its job produced"))
}
