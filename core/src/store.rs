//! The storage port: what a backend MUST provide.
//!
//! kinfolk's rules live in the service; a store only stores, fetches and
//! commits. A command runs as one closure (a *job*) over a [`WriteTx`]: the
//! store MUST run it inside one transaction, isolated from every other write
//! as if the writes ran one after another (serialisable), commit it if the
//! job returns `Ok` and roll it back — leaving no trace, no feed event
//! included — if it returns `Err`. That is what makes every command atomic,
//! every counter exact and every uniqueness rule race-free, without a rule
//! ever moving into an adapter (`docs/adr/0001-transaction-closures.md`).
//!
//! Reads run as a job over a [`ReadTx`]: a consistent snapshot that MUST
//! NOT wait for a running write (or, for simple stores, waits only for as long
//! as one write takes). List reads are set-oriented: one range scan of edges,
//! then one batch fetch of users and one batch fetch of the edges between the
//! viewer and the page's users — never a point lookup per row.
//!
//! # Contract for implementors
//! - **Errors.** Every method of [`ReadTx`] and [`WriteTx`] returns
//!   [`Error::Storage`] for engine failures and for stored data it cannot
//!   decode, and [`Error::Transient`] for a failure that may pass when the
//!   whole job runs again (a serialization failure or deadlock — PostgreSQL
//!   SQLSTATE 40001/40P01 —, a lost connection, a busy timeout) — never a
//!   panic. After a method returned `Transient` the job's transaction is
//!   doomed: the store MUST NOT commit it, and [`Store::write`] MUST return
//!   `Transient` (the job may have turned the method's error into another
//!   one; the store's own knowledge wins). A store maps its engine's errors
//!   into these categories in one place.
//! - **Jobs run more than once.** Jobs are [`Fn`]: the service runs a job
//!   again, in a fresh transaction, when a store reports `Transient`
//!   ([`Retry`], `docs/adr/0006-rerunnable-jobs-transient-errors-panics.md`).
//!   A store MAY also rerun a job itself before it answers (for example
//!   after a failed commit it knows did not apply). A job has no effect
//!   outside its transaction, so running it again is safe.
//! - **Panics.** A job that panics MUST be treated as a job that returned
//!   an error: the store rolls back everything it did, answers
//!   [`Error::job_panicked`] (a [`Error::Storage`]) to the caller — never
//!   re-raising the panic in the caller's task — and keeps serving the next
//!   job with the same guarantees (no poisoned lock, no dead thread, no
//!   half-applied write). Reads likewise. The conformance suite's `port`
//!   section checks this on every store.
//! - **Threads.** Jobs are synchronous and may block: a store MUST run them
//!   off the async executor (a dedicated thread or a blocking pool) when
//!   they touch disk or network.
//! - **Executors.** The futures returned by [`Store::read`] and
//!   [`Store::write`] MUST complete when polled by any executor (no
//!   dependence on a specific runtime), so the search indexer can drive them
//!   from its own thread.
//! - **Durability.** Writes MUST be durable when they return `Ok`, unless
//!   the store was opened in an explicitly documented faster mode.
//! - The conformance suite (`kinfolk-conformance`) is the executable form of
//!   this contract; a store is done when it passes every case.

use async_trait::async_trait;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::config::Retry;
use crate::error::{Error, Result};
use crate::feed::{Change, ChangeEvent};
use crate::graph::{Anchor, Edge, EdgeKind};
use crate::id::{RoomId, UserId};
use crate::profile::{ConnectedAccount, User, UsernameClaim};
use crate::rooms::{Membership, Room};

/// A value passed out of a transaction closure.
pub type Boxed = Box<dyn Any + Send>;
/// A read job: runs against a consistent snapshot; may run more than once.
pub type ReadJob = Arc<dyn Fn(&dyn ReadTx) -> Result<Boxed> + Send + Sync>;
/// A write job: runs inside one write transaction; may run more than once,
/// each time in a fresh transaction.
pub type WriteJob = Arc<dyn Fn(&mut dyn WriteTx) -> Result<Boxed> + Send + Sync>;

/// A kinfolk store. Object safe; used as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Runs `job` against a consistent read snapshot and returns its result.
    ///
    /// MUST return the job's error unchanged; MUST NOT observe a write that
    /// has not committed.
    ///
    /// # Errors
    /// The job's error; [`Error::Storage`] when the store cannot start the
    /// snapshot or the job panicked ([`Error::job_panicked`]);
    /// [`Error::Transient`] when it failed in a way a new attempt may not.
    async fn read(&self, job: ReadJob) -> Result<Boxed>;

    /// Runs a *short* read job: a bounded handful of point lookups (one
    /// profile, the caller's own profile, the relationships to a few users),
    /// never a range scan, a page or a whole-store pass. Same contract as
    /// [`Store::read`] (consistent snapshot, the job's error unchanged, a
    /// panic answered as [`Error::job_panicked`], retried on
    /// [`Error::Transient`] by the service).
    ///
    /// A store whose point reads finish in microseconds, waiting at most for
    /// its own page cache or the operating system's, MAY run such a job on
    /// the caller's thread while the future is polled — saving the hop to a
    /// reader thread and back, which is a large part of a point read's cost
    /// — instead of off the executor as the *Threads* rule above asks of
    /// other jobs; it MUST let its user turn that off
    /// (`docs/adr/0012-short-reads-on-the-callers-thread.md`). The default
    /// runs it as [`Store::read`] does.
    ///
    /// # Errors
    /// As [`Store::read`].
    async fn read_short(&self, job: ReadJob) -> Result<Boxed> {
        self.read(job).await
    }

    /// Runs `job` inside one write transaction, serialisable with every
    /// other write. MUST commit exactly when the job returns `Ok` and roll
    /// back everything the job did when it returns `Err` or panics. A failed
    /// commit MUST return `Err` and leave no partial state; if the store
    /// cannot tell whether a commit applied, it MUST NOT report `Transient`
    /// (a retry could apply the job twice) but [`Error::Storage`].
    ///
    /// # Errors
    /// The job's error (after rollback); [`Error::Transient`] when the
    /// attempt failed for a reason that may pass (serialization failure,
    /// deadlock, lost connection before the commit) — the service then runs
    /// the job again; [`Error::Storage`] for any other engine failure and
    /// for a job that panicked ([`Error::job_panicked`]).
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

    /// Runs the storage engine's own consistency check (SQLite's
    /// `PRAGMA integrity_check`, for example) on the live store and returns
    /// what it found, one line per problem: empty when the engine is sound.
    /// Optional (ADR 0004 style): the default answers
    /// [`Error::Unsupported`]. MUST NOT change stored data and MUST NOT block
    /// the executor; it MAY take as long as reading the whole store.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the store has no such check or cannot run
    /// it while open; [`Error::Storage`] when the check itself fails to run.
    async fn check_engine(&self) -> Result<Vec<String>> {
        Err(Error::Unsupported {
            what: "an engine integrity check on a live store",
        })
    }

    /// Writes a consistent copy of the store — every write committed before
    /// the copy began, none after — to a new file at `dest`, while the store
    /// keeps serving reads and writes. The copy opens as a store of the same
    /// kind. MUST refuse (with [`Error::Validation`], field `dest`) a `dest`
    /// that exists, and MUST NOT leave a partial file at `dest` when it
    /// fails ([`write_backup_file`] does both for a store that copies itself
    /// into one file). Optional: the default answers [`Error::Unsupported`].
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the store cannot copy itself (an
    /// in-memory or server store); [`Error::Validation`] for an existing
    /// `dest`; [`Error::Storage`] when reading or writing fails.
    async fn backup_to(&self, dest: &std::path::Path) -> Result<()> {
        let _ = dest;
        Err(Error::Unsupported {
            what: "backup (copy the store with its engine's own tools)",
        })
    }

    /// How many jobs wait in the store's queues and have not started yet,
    /// when the store queues jobs; `None` (the default) when it does not
    /// know. Cheap: it is sampled for the `kinfolk_store_queue_depth`
    /// gauge.
    fn queue_depth(&self) -> Option<u64> {
        None
    }

    /// Whether the store runs its write jobs one at a time, in one order,
    /// each job seeing every job committed before it (one writer thread or
    /// one write lock; no two write transactions in flight at once). Then a
    /// write job that finds [`ReadTx::last_seq`] where an earlier job left
    /// it knows that nothing was written in between (every write takes a
    /// sequence number), and [`Kinfolk::bulk_import`](crate::Kinfolk::bulk_import)
    /// keeps what its batches read of the users (status, counters, whether
    /// they block anyone) across batches instead of reading it again in
    /// each. A store whose write transactions can overlap (PostgreSQL) MUST
    /// answer `false`, the default.
    fn serial_writes(&self) -> bool {
        false
    }
}

/// Reads available inside any transaction.
///
/// Every method sees the transaction's snapshot, including the writes the
/// same write transaction made before it. Lists are newest first by `seq`
/// and are keyset paged: `before: Some(s)` returns only rows with `seq < s`.
/// Batch methods return rows in any order and skip ids that do not exist.
///
/// # Errors (every method)
/// [`Error::Storage`] when the engine fails or a stored value cannot be
/// decoded (a record MUST decode to a value its type's validation accepts,
/// or the method fails — it never returns a half-decoded record);
/// [`Error::Transient`] when the failure may pass on a new attempt of the
/// whole job (see the [module contract](self)). No method returns any other
/// error, and none returns an error for a missing row: that is `None` or a
/// shorter list.
pub trait ReadTx {
    /// The user with this id. MUST return `None` when there is none.
    fn user(&self, id: UserId) -> Result<Option<User>>;
    /// The users with these ids: one record per id that exists, missing ids
    /// skipped, duplicates in `ids` returned once or more, any order. SHOULD
    /// be one query, not one per id.
    fn users(&self, ids: &[UserId]) -> Result<Vec<User>>;
    /// Up to `limit` users with id greater than `after` (all when `None`), in
    /// ascending id order (for rebuilding derived data such as the search
    /// index). MUST be a range scan.
    fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>>;

    /// The claim on a case-folded username, expired holds included (the
    /// service decides whether a hold has ended). `folded` is the key exactly
    /// as the service stored it; the store MUST NOT fold it again.
    fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>>;
    /// Every claim a user holds (current name and held previous names), any
    /// order.
    fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>>;

    /// The edge `(kind, from, to)`, or `None`.
    fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>>;
    /// Up to `limit` edges of `kind` at `anchor`, newest (highest `seq`) first,
    /// only those with `seq < before` when `before` is given. MUST be one range
    /// scan on an index ordered by `(kind, anchor, seq)`.
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
    /// other end SHOULD answer from the index alone, without reading the
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
    /// makes one point lookup per id; a store SHOULD answer with one query.
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
    /// direction, any order, each once. Used to compute relationships and
    /// block filters for a whole page at once; SHOULD be one query (or one
    /// per direction), never one per id.
    fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>>;
    /// The edges among `probes` — each the `(kind, from, to)` key of an
    /// edge with `user` at one end — that exist, any order, each once: the
    /// form of [`ReadTx::edges_between`] for a read that knows which keys it
    /// needs (core leaves out the keys no rule reads and those the exact
    /// counters rule out). A probe without `user` at either end finds
    /// nothing. The default answers with one [`ReadTx::edges_between`] of
    /// the probes' other ends, filtered to the probes; a store whose point
    /// gets are cheaper than its batch (the redb store) SHOULD get just the
    /// probed keys.
    fn edges_probed(
        &self,
        user: UserId,
        probes: &[(EdgeKind, UserId, UserId)],
    ) -> Result<Vec<Edge>> {
        let mut others: Vec<UserId> = probes
            .iter()
            .filter_map(|&(_, from, to)| match (from == user, to == user) {
                (true, false) => Some(to),
                (false, true) => Some(from),
                _ => None,
            })
            .collect();
        if others.is_empty() {
            return Ok(Vec::new());
        }
        others.sort_unstable();
        others.dedup();
        // A page probes hundreds of keys: look each edge up in a sorted
        // copy rather than scanning the probes per edge.
        let mut wanted = probes.to_vec();
        wanted.sort_unstable();
        Ok(self
            .edges_between(user, &others)?
            .into_iter()
            .filter(|e| wanted.binary_search(&(e.kind, e.from, e.to)).is_ok())
            .collect())
    }

    /// The room with this id, or `None`.
    fn room(&self, id: RoomId) -> Result<Option<Room>>;
    /// The rooms with these ids (missing ones skipped, any order).
    fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>>;
    /// A user's membership of a room, or `None`.
    fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>>;
    /// Up to `limit` memberships of `user`, most recently joined (highest
    /// `seq`) first, only `seq < before` when given. MUST be one range scan.
    fn memberships_of(
        &self,
        user: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Membership>>;
    /// Up to `limit` members of `room`, longest-standing (lowest `seq`) first,
    /// only `seq > after` when given. MUST be one range scan.
    fn members(&self, room: RoomId, after: Option<u64>, limit: usize) -> Result<Vec<Membership>>;
    /// The memberships of `room` held by any of `users` (any order).
    fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>>;

    /// The connected account `(provider, external_id)`, compared byte for
    /// byte, or `None`.
    fn connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>>;
    /// Every connected account of a user, oldest first (ties by provider,
    /// then external id).
    fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>>;

    /// Up to `limit` feed events with `seq > after`, in ascending sequence
    /// order. MUST NOT return an event while an event with a smaller
    /// sequence number can still commit (a reader that remembers the last
    /// sequence it saw would skip that one for ever): a store whose
    /// concurrent transactions take sequence numbers out of commit order
    /// returns only the events below the oldest one still in flight.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>>;
    /// The highest sequence number ever assigned and committed (0 for a new
    /// store), also when the feed has been trimmed past it. Under the same
    /// rule as [`ReadTx::changes_since`]: every event at or below it that
    /// exists is visible.
    fn last_seq(&self) -> Result<u64>;

    /// For each `(from, to)` pair, in order, whether the edge `(kind, from,
    /// to)` exists. Set-oriented form of [`ReadTx::edge`] for bulk imports;
    /// the default makes one point lookup per pair, a store SHOULD answer
    /// the whole list with one query (the SQLite store does).
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
/// A write is visible to later reads of the same transaction at once, and
/// to anyone else only after the commit.
///
/// # Errors (every method)
/// As for [`ReadTx`]: [`Error::Storage`] for engine failures,
/// [`Error::Transient`] for failures a new attempt may not meet; plus the
/// uniqueness errors each method names. A method that fails MUST leave the
/// transaction as it was before the call, or doomed (the store then rolls the
/// whole job back whatever the job returns).
pub trait WriteTx: ReadTx {
    /// Appends an event and returns its sequence number, strictly greater than
    /// every number assigned before (trimmed ones included) and than every
    /// number of a transaction that committed before this one.
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
    /// Deletes feed events with `seq <= upto` and returns how many went. MUST
    /// keep [`ReadTx::last_seq`] unchanged.
    fn trim_changes(&mut self, upto: u64) -> Result<u64>;

    /// Inserts or replaces the user record with `user.id`.
    fn put_user(&mut self, user: &User) -> Result<()>;
    /// Deletes a user record if it exists (not its edges, claims or
    /// memberships: the service removes those explicitly).
    fn delete_user(&mut self, id: UserId) -> Result<()>;

    /// Inserts a username claim.
    ///
    /// # Errors
    /// MUST fail with [`Error::UsernameTaken`] if a claim on the same folded
    /// name exists — an atomic check inside the store (a unique index or
    /// key), so that two concurrent transactions cannot both pass it.
    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()>;
    /// Replaces the existing claim on the same folded name (used to turn a
    /// current name into a held one and back). Does nothing when there is
    /// none.
    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()>;
    /// Deletes the claim on a folded name, if any.
    fn delete_username_claim(&mut self, folded: &str) -> Result<()>;

    /// Inserts an edge.
    ///
    /// # Errors
    /// MUST fail with [`Error::Conflict`] if `(kind, from, to)` exists
    /// already (an atomic unique check, as for usernames).
    fn insert_edge(&mut self, edge: &Edge) -> Result<()>;
    /// Inserts several edges, as [`WriteTx::insert_edge`] does each. Callers
    /// pass the edges sorted by `(kind, from, to)` for b-tree locality; the
    /// default calls [`WriteTx::insert_edge`] once per edge.
    ///
    /// # Errors
    /// [`Error::Conflict`] if any `(kind, from, to)` exists already (the
    /// error rolls the whole transaction back, so edges inserted before the
    /// conflict do not stay).
    fn insert_edges(&mut self, edges: &[Edge]) -> Result<()> {
        edges.iter().try_for_each(|e| self.insert_edge(e))
    }
    /// Inserts edges during a bulk load (between [`BulkLoad::Start`] and
    /// [`BulkLoad::Finish`]) that the store does not hold, sorted by
    /// `(kind, from, to)` within a call (an import of a whole store also
    /// across calls). A store MAY defer their order-index entries
    /// ([`ReadTx::edges`], [`ReadTx::edge_keys`]) to `Finish`; outside a bulk
    /// load it MUST insert them as [`WriteTx::insert_edges`] does. The
    /// default calls [`WriteTx::insert_edges`].
    ///
    /// # Errors
    /// As [`WriteTx::insert_edges`].
    fn load_edges(&mut self, edges: &[Edge]) -> Result<()> {
        self.insert_edges(edges)
    }
    /// Inserts or replaces several user records, as [`WriteTx::put_user`]
    /// does each. The default calls it once per user.
    fn put_users(&mut self, users: &[User]) -> Result<()> {
        users.iter().try_for_each(|u| self.put_user(u))
    }
    /// Inserts several username claims, as [`WriteTx::insert_username_claim`]
    /// does each (callers pass them sorted by `folded`). The default calls it
    /// once per claim.
    ///
    /// # Errors
    /// [`Error::UsernameTaken`] if any folded name is claimed already.
    fn insert_username_claims(&mut self, claims: &[UsernameClaim]) -> Result<()> {
        claims
            .iter()
            .try_for_each(|c| self.insert_username_claim(c))
    }
    /// Inserts or replaces several room records, as [`WriteTx::put_room`]
    /// does each. The default calls it once per room.
    fn put_rooms(&mut self, rooms: &[Room]) -> Result<()> {
        rooms.iter().try_for_each(|r| self.put_room(r))
    }
    /// Inserts or replaces several memberships, as
    /// [`WriteTx::put_membership`] does each (callers pass them sorted by
    /// `(room, user)`). The default calls it once per membership.
    fn put_memberships(&mut self, memberships: &[Membership]) -> Result<()> {
        memberships.iter().try_for_each(|m| self.put_membership(m))
    }
    /// Inserts several connected accounts, as
    /// [`WriteTx::insert_connected_account`] does each. The default calls it
    /// once per account.
    ///
    /// # Errors
    /// [`Error::Conflict`] if any `(provider, external_id)` is linked already.
    fn insert_connected_accounts(&mut self, accounts: &[ConnectedAccount]) -> Result<()> {
        accounts
            .iter()
            .try_for_each(|a| self.insert_connected_account(a))
    }
    /// Raises the feed sequence so that [`ReadTx::last_seq`] is at least
    /// `upto` and every number assigned later is greater: a bulk load that
    /// keeps the sequence numbers its edges and memberships carry calls it
    /// first, so no later event reuses one of them. Does nothing when
    /// `last_seq >= upto`.
    ///
    /// A store SHOULD override it to move its counter without events. The
    /// default appends [`Change::Imported`] events with no users (which every
    /// consumer ignores), at `at`, until the sequence reaches `upto` — correct
    /// on any store, one event per skipped number.
    fn raise_seq(&mut self, at: Timestamp, upto: u64) -> Result<()> {
        let mut last = self.last_seq()?;
        while last < upto {
            let n = usize::try_from((upto - last).min(4096)).unwrap_or(4096);
            let changes = (0..n)
                .map(|_| Change::Imported { users: Vec::new() })
                .collect();
            last = self
                .append_changes(at, changes)?
                .last()
                .copied()
                .ok_or_else(|| Error::storage("append_changes answered no sequence number"))?;
        }
        Ok(())
    }
    /// Takes `n` sequence numbers for records that a bulk import writes
    /// without an event each (the edges of an
    /// [`import_follows`](crate::Kinfolk::import_follows) batch, which
    /// appends one [`Change::Imported`] event for the batch): numbers greater
    /// than every number assigned before, that no event and no other
    /// transaction will get; returned in increasing order, `n` of them.
    ///
    /// A store SHOULD override it to move its counter by `n`. The default
    /// appends `n` empty [`Change::Imported`] events (which every consumer
    /// ignores) at `at` and returns their numbers — correct on any store,
    /// one event per number.
    fn reserve_seqs(&mut self, at: Timestamp, n: usize) -> Result<Vec<u64>> {
        let changes = (0..n)
            .map(|_| Change::Imported { users: Vec::new() })
            .collect();
        let seqs = self.append_changes(at, changes)?;
        if seqs.len() != n {
            return Err(Error::storage(
                "append_changes answered another number of sequence numbers",
            ));
        }
        Ok(seqs)
    }
    /// A hint that a bulk load into this store starts ([`BulkLoad::Start`])
    /// or has ended ([`BulkLoad::Finish`]), each in its own transaction.
    /// Between the two the store MAY, for speed, drop secondary indexes
    /// (reads stay correct but may be slow) and defer the order-index
    /// entries of [`WriteTx::load_edges`] (lists may miss those edges until
    /// `Finish`; point reads, [`ReadTx::edge`] and
    /// [`ReadTx::edges_exist`], MUST see them); `Finish` MUST leave the store
    /// exactly as if no hint had been given (indexes rebuilt) and MUST be
    /// safe to call without a `Start` or twice. The default does nothing.
    fn bulk_load(&mut self, step: BulkLoad) -> Result<()> {
        let _ = step;
        Ok(())
    }
    /// Deletes the edge `(kind, from, to)` and returns it, if it existed.
    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>>;

    /// Inserts or replaces the room record with `room.id`.
    fn put_room(&mut self, room: &Room) -> Result<()>;
    /// Deletes a room record if it exists (memberships are removed by the
    /// service first).
    fn delete_room(&mut self, id: RoomId) -> Result<()>;
    /// Inserts or replaces the membership `(room, user)`.
    fn put_membership(&mut self, membership: &Membership) -> Result<()>;
    /// Deletes the membership `(room, user)` and returns it, if it existed.
    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>>;

    /// Inserts a connected account.
    ///
    /// # Errors
    /// MUST fail with [`Error::Conflict`] if `(provider, external_id)` is
    /// linked already (an atomic unique check).
    fn insert_connected_account(&mut self, account: &ConnectedAccount) -> Result<()>;
    /// Deletes `(provider, external_id)` and returns it, if it existed.
    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>>;
}

/// The steps of a bulk load, for [`WriteTx::bulk_load`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkLoad {
    /// A bulk load begins (into an empty store:
    /// [`Kinfolk::import_transfer`](crate::Kinfolk::import_transfer); or into
    /// any store: [`Kinfolk::bulk_import`](crate::Kinfolk::bulk_import)).
    Start,
    /// The bulk load ended (or is abandoned): restore every index.
    Finish,
}

/// Runs a typed read job on a store, retried by the default [`Retry`]
/// policy: the closure's result comes back as its own type.
///
/// # Errors
/// The job's error, or `Storage`/`Transient` when the store fails.
pub async fn read<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    read_retrying(store, Retry::default(), f).await
}

/// Runs a typed read job, running it again after a
/// [transient](Error::Transient) failure as `retry` says.
///
/// # Errors
/// The job's error, or `Storage`/`Transient` when the store fails (the
/// last attempt's error).
pub async fn read_retrying<R, F>(store: &dyn Store, retry: Retry, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    typed_read(store, retry, false, f).await
}

/// Runs a typed *short* read job ([`Store::read_short`]: a handful of point
/// lookups, no scan), running it again after a
/// [transient](Error::Transient) failure as `retry` says. The service uses it
/// for profile reads; a store may run such a job on the caller's thread.
///
/// # Errors
/// As [`read_retrying`].
pub(crate) async fn read_short_retrying<R, F>(store: &dyn Store, retry: Retry, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    typed_read(store, retry, true, f).await
}

/// The one typed read of [`read_retrying`] and [`read_short_retrying`]:
/// boxes the job, runs it through [`Store::read`] or (`short`)
/// [`Store::read_short`] with retries, and unboxes the answer.
async fn typed_read<R, F>(store: &dyn Store, retry: Retry, short: bool, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    let job: ReadJob = Arc::new(move |tx| f(tx).map(|r| Box::new(r) as Boxed));
    let out = retrying(retry, "read", || {
        let job = Arc::clone(&job);
        async move {
            if short {
                store.read_short(job).await
            } else {
                store.read(job).await
            }
        }
    })
    .await?;
    unbox(out)
}

/// Runs a typed write job on a store, in one transaction, retried by the
/// default [`Retry`] policy. Bypasses every rule of the service: for
/// adapters' own tests, bulk tools and checks, not for application code.
///
/// # Errors
/// The job's error (after rollback), or `Storage`/`Transient` when the store
/// fails.
pub async fn write<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&mut dyn WriteTx) -> Result<R> + Send + Sync + 'static,
{
    write_retrying(store, Retry::default(), f).await
}

/// Runs a typed write job, in a fresh transaction for every attempt, running
/// it again after a [transient](Error::Transient) failure as `retry` says.
/// Every retry is logged (`tracing`, level WARN) with the attempt number and
/// the error. A job that still fails returns the last error; nothing of any
/// failed attempt is kept (the store's rollback guarantee).
///
/// # Errors
/// The job's error (after rollback), or `Storage`/`Transient` when the store
/// fails.
pub async fn write_retrying<R, F>(store: &dyn Store, retry: Retry, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&mut dyn WriteTx) -> Result<R> + Send + Sync + 'static,
{
    let job: WriteJob = Arc::new(move |tx| f(tx).map(|r| Box::new(r) as Boxed));
    let out = retrying(retry, "write", || store.write(Arc::clone(&job))).await?;
    unbox(out)
}

/// Runs `attempt` until it succeeds, fails for good, or `retry` is spent.
async fn retrying<Fut>(retry: Retry, what: &str, mut attempt: impl FnMut() -> Fut) -> Result<Boxed>
where
    Fut: Future<Output = Result<Boxed>>,
{
    let attempts = retry.attempts.max(1);
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && n < attempts => {
                n += 1;
                let wait = retry.backoff(n, fastrand::f64());
                tracing::warn!(
                    job = what,
                    attempt = n,
                    attempts,
                    wait_us = wait.as_micros() as u64,
                    error = %e,
                    "transient store failure; running the job again"
                );
                futures_timer::Delay::new(wait).await;
            }
            out => {
                if n > 1 {
                    tracing::info!(
                        job = what,
                        attempts = n,
                        ok = out.is_ok(),
                        "retried job ended"
                    );
                }
                return out;
            }
        }
    }
}

fn unbox<R: 'static>(out: Boxed) -> Result<R> {
    out.downcast::<R>()
        .map(|b| *b)
        .map_err(|_| Error::storage("store returned a value of another type than its job produced"))
}

/// Runs `f` on a new thread named `name` and awaits its answer without
/// blocking the caller's executor — for a store's one-off operations that
/// must not occupy one of its job threads (an engine check, a backup: see
/// [`Store::check_engine`], [`Store::backup_to`]). A panic in `f` ends the
/// thread and is answered as an error, not propagated.
///
/// # Errors
/// [`Error::Storage`] when the thread cannot start or stops without an
/// answer; otherwise what `f` answers.
///
/// ```
/// # futures_executor::block_on(async {
/// let n = kinfolk::store::on_new_thread("demo", || Ok(6 * 7)).await?;
/// assert_eq!(n, 42);
/// # Ok::<(), kinfolk::Error>(()) }).unwrap();
/// ```
pub async fn on_new_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::storage(format!("cannot start a thread: {e}")))?;
    rx.await
        .unwrap_or_else(|_| Err(Error::storage(format!("the {name} thread stopped"))))
}

/// Writes a backup file whole or not at all — the file contract of
/// [`Store::backup_to`], in one place for every store that copies itself to
/// a file: a `dest` that exists is refused ([`Error::Validation`], field
/// `dest`); `write` fills a file at `DEST.partial` (an unfinished one from an
/// earlier attempt is removed first) and closes it; then the file is synced,
/// renamed to `dest` and its directory synced. When `write` or a step after
/// it fails, the partial file is removed and nothing is left at `dest`.
///
/// # Errors
/// [`Error::Validation`] (`dest`) for an existing `dest` or one naming no
/// file; what `write` answers; [`Error::Storage`] when a file step fails.
pub fn write_backup_file(
    dest: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> Result<()>,
) -> Result<()> {
    let io = |what: &str, e: std::io::Error| Error::storage(format!("{what}: {e}"));
    if dest.exists() {
        return Err(Error::validation(
            "dest",
            "the file exists; a backup never overwrites",
        ));
    }
    let mut name = dest
        .file_name()
        .ok_or_else(|| Error::validation("dest", "names no file"))?
        .to_os_string();
    name.push(".partial");
    let tmp = dest.with_file_name(name);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove an unfinished backup", e)),
    }
    let written = write(&tmp).and_then(|()| {
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("sync the backup", e))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(|e| io("move the backup into place", e))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync the backup's directory", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod backup_file_tests {
    use super::write_backup_file;
    use crate::Error;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kinfolk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        d
    }

    #[test]
    fn a_backup_file_appears_whole_or_not_at_all() {
        let d = dir("backup-file");
        let dest = d.join("copy.db");
        // A failing copy leaves nothing, neither at dest nor partial.
        let failed = write_backup_file(&dest, |tmp| {
            std::fs::write(tmp, b"half").map_err(|e| Error::storage(e.to_string()))?;
            Err(Error::storage("engine failed"))
        });
        assert!(matches!(failed, Err(Error::Storage(_))), "{failed:?}");
        assert!(!dest.exists());
        assert!(!d.join("copy.db.partial").exists());
        // A good copy lands at dest, with nothing partial left.
        let done = write_backup_file(&dest, |tmp| {
            std::fs::write(tmp, b"whole").map_err(|e| Error::storage(e.to_string()))
        });
        assert!(done.is_ok(), "{done:?}");
        assert_eq!(std::fs::read(&dest).ok().as_deref(), Some(&b"whole"[..]));
        assert!(!d.join("copy.db.partial").exists());
        // An existing dest is refused and kept as it was.
        let again = write_backup_file(&dest, |_| Ok(()));
        assert!(
            matches!(&again, Err(Error::Validation { field, .. }) if *field == "dest"),
            "{again:?}"
        );
        assert_eq!(std::fs::read(&dest).ok().as_deref(), Some(&b"whole"[..]));
        let _ = std::fs::remove_dir_all(&d);
    }
}
