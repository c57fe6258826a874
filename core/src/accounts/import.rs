//! Bulk import: many registrations or follows in one transaction per batch,
//! for migrations and benchmark datasets. Same rules as the single commands,
//! all-or-nothing per batch, one [`Change::Imported`] feed event per batch;
//! [`Kinfolk::bulk_import`] runs batches with the store's bulk-load mode on
//! (indexes built after the load). `docs/adr/0011-transfer-format.md`.

use crate::meter::MeterExt;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::{Anchor, Edge, EdgeKind};
use crate::id::UserId;
use crate::profile::claims::{claim_new_username, ensure_skeletons};
use crate::profile::{AccountStatus, NewUser, User};
use crate::service::Kinfolk;
use crate::settings::Settings;
use crate::store::BulkLoad;

/// Most rows one import batch takes.
pub const MAX_IMPORT_BATCH: usize = 50_000;

/// A change of one user's follow counters, signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    followers: i64,
    following: i64,
    pending_requests: i64,
}

fn plus(n: u64, d: i64, what: &str, id: UserId) -> Result<u64> {
    n.checked_add_signed(d)
        .ok_or_else(|| Error::corrupt(format!("{what} counter of {id} out of range")))
}

fn signed(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::corrupt("counter out of range"))
}

impl Delta {
    /// `now - base`, field by field.
    fn between(base: &crate::profile::Counts, now: &crate::profile::Counts) -> Result<Delta> {
        Ok(Delta {
            followers: signed(now.followers)? - signed(base.followers)?,
            following: signed(now.following)? - signed(base.following)?,
            pending_requests: signed(now.pending_requests)? - signed(base.pending_requests)?,
        })
    }

    fn add(&mut self, o: &Delta) {
        self.followers += o.followers;
        self.following += o.following;
        self.pending_requests += o.pending_requests;
    }

    /// Adds the change to `user`'s counters.
    fn apply(&self, user: &mut User) -> Result<()> {
        let c = &mut user.counts;
        c.followers = plus(c.followers, self.followers, "followers", user.id)?;
        c.following = plus(c.following, self.following, "following", user.id)?;
        c.pending_requests = plus(
            c.pending_requests,
            self.pending_requests,
            "pending_requests",
            user.id,
        )?;
        Ok(())
    }
}

/// What the follow rules of an import need of a user: whether the account
/// is active, its counters as they stand (stored plus the session's
/// deferred changes), and whether it may block anyone (`false` only when
/// the store was asked and holds no block by it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known {
    active: bool,
    counts: crate::profile::Counts,
    blocks: bool,
}

/// Maps keyed by user id inside an import: foldhash (seeded per process)
/// instead of SipHash — a batch of 50,000 follows does a few hundred
/// thousand lookups, and SipHash was a tenth of the import's time.
type IdMap<V> = foldhash::HashMap<UserId, V>;

/// What a session holds of one user: the counter change of its committed
/// `import_follows` batches (written when it ends) and, on a store with
/// serial writes, what its batches know of the user.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    delta: Delta,
    known: Option<Known>,
}

/// The session's users. `known` entries are valid while the store's
/// `last_seq` is still `at` (the number the session's last batch left it
/// at): on a store with [`serial_writes`](crate::store::Store::serial_writes)
/// nothing else was written since.
#[derive(Debug, Default)]
struct Users {
    at: Option<u64>,
    users: IdMap<Entry>,
}

/// The state of one [`Kinfolk::bulk_import`] session: the counter changes
/// of its committed `import_follows` batches, written when it ends, and
/// (on a store with serial writes) what its batches know of the users —
/// one map, so a batch looks each of its users up once before and once
/// after.
#[derive(Debug, Default)]
pub(crate) struct BulkSession {
    users: std::sync::Mutex<Users>,
}

/// A batch's view of the session, aligned with the batch's sorted ids: the
/// `last_seq` the known entries are valid at, each user's deferred counter
/// change, and what the session knows of each.
struct Snapshot {
    at: Option<u64>,
    deferred: Vec<Delta>,
    known: Vec<Option<Known>>,
}

impl BulkSession {
    fn lock(&self) -> std::sync::MutexGuard<'_, Users> {
        // No update panics half-way (`Delta::add` does not panic), so a
        // poisoned lock is still good.
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entries of `ids`, in their order.
    fn snapshot(&self, ids: &[UserId]) -> Snapshot {
        let k = self.lock();
        let mut deferred = Vec::with_capacity(ids.len());
        let mut known = Vec::with_capacity(ids.len());
        for id in ids {
            let e = k.users.get(id).copied().unwrap_or_default();
            deferred.push(e.delta);
            known.push(e.known);
        }
        Snapshot {
            at: k.at,
            deferred,
            known,
        }
    }

    /// After a committed batch: adds each user's counter change and, when
    /// `at` is given, keeps what the batch knows of its users, valid at
    /// `at`; `stale` forgets every other known entry first (something else
    /// was written since the session's last batch).
    fn commit(&self, stale: bool, at: Option<u64>, users: Vec<(UserId, Delta, Option<Known>)>) {
        let mut k = self.lock();
        if at.is_some() && stale {
            for e in k.users.values_mut() {
                e.known = None;
            }
        }
        for (id, d, known) in users {
            if d == Delta::default() && known.is_none() {
                continue;
            }
            let e = k.users.entry(id).or_default();
            e.delta.add(&d);
            if known.is_some() {
                e.known = known;
            }
        }
        if at.is_some() {
            k.at = at;
        }
    }

    /// The `last_seq` the known entries are valid at.
    fn at(&self) -> Option<u64> {
        self.lock().at
    }

    /// Every user's change, in id order, leaving the session empty.
    fn take(&self) -> Vec<(UserId, Delta)> {
        let mut k = self.lock();
        k.at = None;
        let mut out: Vec<(UserId, Delta)> = k
            .users
            .drain()
            .map(|(id, e)| (id, e.delta))
            .filter(|(_, d)| *d != Delta::default())
            .collect();
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }
}

/// What a committed `import_follows` batch hands back.
struct Done {
    added: u64,
    /// The session's cache did not hold when the batch started.
    stale: bool,
    /// `last_seq` when the batch ended (when the session keeps its users).
    end: Option<u64>,
    /// Per user of the batch: its counter change (in a session) and what
    /// the batch knows of it (when the session keeps it).
    users: Vec<(UserId, Delta, Option<Known>)>,
}

/// For each pair of a batch (as indexes into its users), whether a follow,
/// a request, a block and a block the other way exist — in one pass over
/// the pairs, then one existence check per kind. A pair is probed only for
/// the kinds its ends' exact counters or block flags leave possible: a
/// follow needs a follower with follows and a followee with followers, a
/// request a target with pending requests, a block a blocker that blocks
/// someone. Pairs with an unknown or inactive end are not probed (the batch
/// fails on them).
fn probe(
    tx: &dyn crate::store::WriteTx,
    ids: &[UserId],
    rows: &[(u32, u32)],
    known: &[Option<Known>],
) -> Result<[Vec<bool>; 4]> {
    const KINDS: [(EdgeKind, bool); 4] = [
        (EdgeKind::Follow, false),
        (EdgeKind::Request, false),
        (EdgeKind::Block, false),
        (EdgeKind::Block, true),
    ];
    let mut at: [Vec<usize>; 4] = Default::default();
    let mut pairs: [Vec<(UserId, UserId)>; 4] = Default::default();
    for (i, &(f, t)) in rows.iter().enumerate() {
        let (f, t) = (f as usize, t as usize);
        let (Some(Some(fk)), Some(Some(tk))) = (known.get(f), known.get(t)) else {
            continue;
        };
        if !(fk.active && tk.active) {
            continue;
        }
        let (Some(&from), Some(&to)) = (ids.get(f), ids.get(t)) else {
            continue;
        };
        let possible = [
            fk.counts.may_follow(&tk.counts),
            tk.counts.may_have_requests(),
            fk.blocks,
            tk.blocks,
        ];
        for (k, p) in possible.into_iter().enumerate() {
            if p {
                at[k].push(i);
                pairs[k].push(if KINDS[k].1 { (to, from) } else { (from, to) });
            }
        }
    }
    let mut out: [Vec<bool>; 4] = Default::default();
    for (k, (kind, _)) in KINDS.into_iter().enumerate() {
        let mut v = vec![false; rows.len()];
        if !pairs[k].is_empty() {
            let found = tx.edges_exist(kind, &pairs[k])?;
            if found.len() != pairs[k].len() {
                return Err(Error::storage(
                    "edges_exist answered another number of rows",
                ));
            }
            for (&i, hit) in at[k].iter().zip(found) {
                v[i] = hit;
            }
        }
        out[k] = v;
    }
    Ok(out)
}

impl Kinfolk {
    /// Registers many users in one transaction and returns their ids in
    /// order. Every rule of [`Kinfolk::register`] applies; the first refused
    /// row refuses the whole batch (nothing is stored). Each user appends one
    /// `UserRegistered` feed event, in batch order (a million users are a
    /// million small rows; the follows are the big part of a load, see
    /// [`Kinfolk::import_follows`]).
    ///
    /// For a big load, run the batches inside [`Kinfolk::bulk_import`].
    ///
    /// # Errors
    /// `Validation` (`batch`) for more than 50,000 rows; `UsernameReserved`;
    /// `UsernameTaken` (also for two rows of the batch differing only in
    /// case, or sharing a skeleton when
    /// [`Config::unique_username_skeletons`](crate::Config) is on).
    pub async fn import_users(&self, batch: Vec<NewUser>) -> Result<Vec<UserId>> {
        let span = tracing::info_span!("import_users", rows = batch.len());
        if batch.len() > MAX_IMPORT_BATCH {
            return Err(Error::validation("batch", "at most 50,000 rows per batch"));
        }
        for nu in &batch {
            self.check_reserved(&nu.username)?;
        }
        let now = self.now()?;
        let unique_skeletons = self.inner.config.unique_username_skeletons;
        let cache = self.cache().cloned();
        let caching = cache.is_some();
        let (ids, start, end) = self
            .wr(move |tx| {
                let start = if caching { tx.last_seq()? } else { 0 };
                ensure_skeletons(tx, now)?;
                let mut users = Vec::with_capacity(batch.len());
                for nu in &batch {
                    let id = UserId::new();
                    // Fails with UsernameTaken on a name (or, by default, a
                    // skeleton) an earlier row claimed.
                    claim_new_username(tx, id, &nu.username, now, unique_skeletons)?;
                    users.push(User {
                        id,
                        username: nu.username.clone(),
                        name: nu.name.clone(),
                        bio: Default::default(),
                        avatar_url: None,
                        social_links: Default::default(),
                        location: None,
                        email: nu.email.clone(),
                        status: AccountStatus::Active,
                        settings: Settings::default(),
                        counts: Default::default(),
                        created_at: now,
                        updated_at: now,
                    });
                }
                let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
                tx.put_users(&users)?;
                let changes = ids
                    .iter()
                    .map(|&user| Change::UserRegistered { user })
                    .collect();
                tx.append_changes(now, changes)?;
                let end = if caching { tx.last_seq()? } else { 0 };
                Ok((ids, start, end))
            })
            .instrument(span)
            .metered("import_users")
            .await?;
        if let Some(c) = cache {
            // New users: active, no counts, no blocks — known without a read.
            let stale = c.at() != Some(start);
            let fresh = Known {
                active: true,
                counts: Default::default(),
                blocks: false,
            };
            c.commit(
                stale,
                Some(end),
                ids.iter()
                    .map(|&id| (id, Delta::default(), Some(fresh)))
                    .collect(),
            );
        }
        Ok(ids)
    }

    /// The session whose batches may keep what they read of the users: in
    /// a [`Kinfolk::bulk_import`] on a store with serial writes.
    fn cache(&self) -> Option<&Arc<BulkSession>> {
        self.bulk
            .as_ref()
            .filter(|_| self.inner.store.serial_writes())
    }

    /// Adds many approved follows `(follower, followee)` in one transaction,
    /// writing each touched user's counters once. Imported follows are
    /// approved also for private accounts (they were approved where they come
    /// from). A follow that exists already (or repeats an earlier row of the
    /// batch) is skipped; returns how many were added. A pending request of
    /// the same pair becomes the follow: the request is removed and the
    /// target's pending count drops — a follow never stands beside a request
    /// of its pair.
    ///
    /// A batch that adds follows appends one feed event,
    /// [`Change::Imported`] listing every user whose counters it changed (in
    /// id order), instead of one `Followed` / `FollowApproved` per follow;
    /// the search index's catch-up re-reads those users. The added follows
    /// take consecutive sequence numbers ([`WriteTx::reserve_seqs`](crate::store::WriteTx::reserve_seqs))
    /// in batch order, below the event's, so follower and following lists
    /// order them as if they had been followed one by one in batch order.
    ///
    /// For a big load, run the batches inside [`Kinfolk::bulk_import`].
    ///
    /// The following cap counts as in [`Kinfolk::toggle_follow`]: a new
    /// follow needs the follower's follows plus pending outgoing requests to
    /// be below [`Config::max_following`](crate::Config); a request that
    /// becomes a follow keeps the slot it held.
    ///
    /// The batch is checked set-wise (one batch read of the users, one
    /// existence check per edge kind and direction for the rows that need
    /// it), then the rows are judged in order, so the error is the one of
    /// the first bad row, as if they had been added one by one. A pair is
    /// looked up only for the edge kinds its ends' counters leave possible
    /// (no follow lookup when the follower follows no one or the followee
    /// has no followers, no request lookup when the followee has no pending
    /// requests), so the counters, exact by the store's invariant, decide
    /// the rest.
    ///
    /// # Errors
    /// `Validation` (`batch`) for more than 50,000 rows; `CannotFollowSelf`;
    /// `NotFound` for an unknown or deactivated user; `Blocked` for a pair
    /// with a block in either direction; `LimitExceeded` when a follower
    /// would pass [`Config::max_following`](crate::Config). The whole batch
    /// is refused on the first bad row.
    pub async fn import_follows(&self, batch: Vec<(UserId, UserId)>) -> Result<u64> {
        let span = tracing::info_span!("import_follows", rows = batch.len());
        if batch.len() > MAX_IMPORT_BATCH {
            return Err(Error::validation("batch", "at most 50,000 rows per batch"));
        }
        let now = self.now()?;
        let cap = self.inner.config.max_following;
        let mut ids: Vec<UserId> = batch.iter().flat_map(|&(a, b)| [a, b]).collect();
        ids.sort_unstable();
        ids.dedup();
        // The batch's rows as indexes into `ids`: the rules below work on
        // vectors aligned with `ids` instead of maps keyed by id.
        let index: IdMap<u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let rows: Vec<(u32, u32)> = batch
            .iter()
            .map(|(a, b)| match (index.get(a), index.get(b)) {
                (Some(&a), Some(&b)) => Ok((a, b)),
                _ => Err(Error::corrupt("import batch index")),
            })
            .collect::<Result<_>>()?;
        drop(index);
        drop(batch);
        let session = self.bulk.is_some();
        // In a session: the counter changes of its earlier batches, which
        // the store does not hold yet; on a store with serial writes also
        // what the session knows of these users.
        let cache = self.cache().cloned();
        let caching = cache.is_some();
        let snapshot: Snapshot = match &self.bulk {
            Some(b) => b.snapshot(&ids),
            None => Snapshot {
                at: None,
                deferred: vec![Delta::default(); ids.len()],
                known: vec![None; ids.len()],
            },
        };
        let out = self
            .wr(move |tx| {
                let n = ids.len();
                // The cache holds only if nothing was written since the
                // session's last batch (every write takes a number).
                let start = if caching { tx.last_seq()? } else { 0 };
                let valid = caching && snapshot.at == Some(start);
                let mut known: Vec<Option<Known>> = if valid {
                    snapshot.known.clone()
                } else {
                    vec![None; n]
                };
                let missing: Vec<UserId> = ids
                    .iter()
                    .zip(&known)
                    .filter(|(_, k)| k.is_none())
                    .map(|(id, _)| *id)
                    .collect();
                // Whole records only where this batch writes them back
                // (outside a session).
                let mut records: Vec<Option<User>> = Vec::new();
                if !session {
                    records.resize_with(n, || None);
                }
                for mut u in tx.users(&missing)? {
                    let Ok(i) = ids.binary_search(&u.id) else {
                        return Err(Error::storage("users answered a user not asked for"));
                    };
                    if let Some(d) = snapshot.deferred.get(i) {
                        d.apply(&mut u)?;
                    }
                    // Whether it blocks anyone: asked once per user when the
                    // answer is kept; else every pair is probed below.
                    let blocks = !caching
                        || !u.is_active()
                        || !tx
                            .edge_keys(EdgeKind::Block, Anchor::From(u.id), None, 1)?
                            .is_empty();
                    known[i] = Some(Known {
                        active: u.is_active(),
                        counts: u.counts,
                        blocks,
                    });
                    if let Some(r) = records.get_mut(i) {
                        *r = Some(u);
                    }
                }
                let before: Vec<Option<crate::profile::Counts>> =
                    known.iter().map(|k| k.map(|k| k.counts)).collect();
                let [follows, requests, blocks, blocked_by] = probe(tx, &ids, &rows, &known)?;
                let scan_limit = usize::try_from(cap).unwrap_or(usize::MAX);
                // Pending outgoing requests per follower (read when first
                // needed), for the cap: follows + outgoing requests <= cap.
                let mut out_requests: Vec<Option<u64>> = vec![None; n];
                let mut changed = vec![false; n];
                let mut added: foldhash::HashSet<(u32, u32)> = Default::default();
                // (follower, followee, whether a pending request became the follow)
                let mut kept: Vec<(u32, u32, bool)> = Vec::with_capacity(rows.len());
                for (i, &(fi, ti)) in rows.iter().enumerate() {
                    let (f, t) = (fi as usize, ti as usize);
                    if f == t {
                        return Err(Error::CannotFollowSelf);
                    }
                    for x in [f, t] {
                        if !known[x].is_some_and(|k| k.active) {
                            return Err(Error::user_not_found());
                        }
                    }
                    if follows[i] || !added.insert((fi, ti)) {
                        continue;
                    }
                    if blocks[i] || blocked_by[i] {
                        return Err(Error::Blocked);
                    }
                    let pending = match &mut out_requests[f] {
                        Some(p) => p,
                        slot @ None => slot.insert(
                            tx.edge_keys(EdgeKind::Request, Anchor::From(ids[f]), None, scan_limit)?
                                .len() as u64,
                        ),
                    };
                    let Some(fk) = known[f].as_mut() else {
                        return Err(Error::corrupt("import cache"));
                    };
                    if requests[i] {
                        // The pending request becomes the follow: its cap slot
                        // passes to the follow, the target's pending count drops.
                        *pending = pending.saturating_sub(1);
                    } else if fk.counts.following.saturating_add(*pending) >= cap {
                        return Err(Error::LimitExceeded {
                            what: "following",
                            limit: cap,
                        });
                    }
                    fk.counts.following += 1;
                    let Some(tk) = known[t].as_mut() else {
                        return Err(Error::corrupt("import cache"));
                    };
                    tk.counts.followers += 1;
                    if requests[i] {
                        tk.counts.pending_requests =
                            tk.counts.pending_requests.checked_sub(1).ok_or_else(|| {
                                Error::corrupt(format!(
                                    "pending_requests counter of {} below zero",
                                    ids[t]
                                ))
                            })?;
                    }
                    changed[f] = true;
                    changed[t] = true;
                    kept.push((fi, ti, requests[i]));
                }
                // Every row is good: the requests that became follows go, the
                // follows take consecutive numbers in batch order (below the
                // batch's one event), and are loaded in key order.
                for &(f, t, _) in kept.iter().filter(|r| r.2) {
                    tx.delete_edge(EdgeKind::Request, ids[f as usize], ids[t as usize])?;
                }
                let seqs = tx.reserve_seqs(now, kept.len())?;
                if seqs.len() != kept.len() {
                    return Err(Error::storage(
                        "reserve_seqs answered another number of sequence numbers",
                    ));
                }
                let mut edges: Vec<Edge> = kept
                    .iter()
                    .zip(seqs)
                    .map(|(&(f, t, _), seq)| Edge {
                        kind: EdgeKind::Follow,
                        from: ids[f as usize],
                        to: ids[t as usize],
                        since: now,
                        seq,
                        until: None,
                    })
                    .collect();
                // `ids` is sorted, so index order is id order.
                edges.sort_unstable_by_key(|e| (e.from, e.to));
                tx.load_edges(&edges)?;
                // The touched users, in id order (`ids` is sorted).
                let touched = (0..n).filter(|&i| changed[i]);
                let mut users: Vec<(UserId, Delta, Option<Known>)> = Vec::new();
                if session {
                    // In a session the counters are written when it ends; this
                    // batch's changes go back to the session (once committed).
                    users.reserve(n);
                    for i in 0..n {
                        let delta = if changed[i] {
                            let (Some(b), Some(k)) = (&before[i], &known[i]) else {
                                return Err(Error::corrupt("import cache"));
                            };
                            Delta::between(b, &k.counts)?
                        } else {
                            Delta::default()
                        };
                        users.push((ids[i], delta, if caching { known[i] } else { None }));
                    }
                    if changed.contains(&true) {
                        tx.append_change(now, Change::Imported { users: Vec::new() })?;
                    }
                } else {
                    // Each changed record is the user as read in this
                    // transaction with the counters computed above.
                    let mut written = Vec::new();
                    for i in touched {
                        let (Some(mut u), Some(k)) = (records[i].take(), known[i]) else {
                            return Err(Error::corrupt("import cache"));
                        };
                        u.counts = k.counts;
                        written.push(u);
                    }
                    tx.put_users(&written)?;
                    if !written.is_empty() {
                        let users = written.iter().map(|u| u.id).collect();
                        tx.append_change(now, Change::Imported { users })?;
                    }
                }
                let end = if caching { Some(tx.last_seq()?) } else { None };
                Ok(Done {
                    added: edges.len() as u64,
                    stale: !valid,
                    end,
                    users,
                })
            })
            .instrument(span)
            .metered("import_follows")
            .await?;
        if let Some(b) = &self.bulk {
            b.commit(out.stale, out.end, out.users);
        }
        Ok(out.added)
    }

    /// Runs `load` — typically many [`Kinfolk::import_users`] and
    /// [`Kinfolk::import_follows`] batches on the service it is given — as
    /// one bulk load, and returns what `load` returns. Use it for big loads
    /// (a migration, a benchmark dataset), not for a trickle.
    ///
    /// What changes inside the session, for speed:
    /// - the store is told a bulk load starts ([`BulkLoad::Start`]): SQLite
    ///   drops the secondary indexes of its edge and membership tables, redb
    ///   defers the order-index entries of the follows imported; when `load`
    ///   ends (also with an error) each index is built once, in key order
    ///   ([`BulkLoad::Finish`]), instead of taking millions of inserts at
    ///   random places;
    /// - the follow counters (followers, following, pending requests) that
    ///   `import_follows` batches change are kept in the session and written
    ///   once per user when `load` ends (batches of 50,000 users, one
    ///   [`Change::Imported`] event each listing them), instead of every
    ///   batch rewriting every user it touches. A batch's own
    ///   [`Change::Imported`] event then lists no users;
    /// - on a store with [`serial_writes`](crate::store::Store::serial_writes)
    ///   (memory, SQLite, redb) the session keeps what its batches know of
    ///   each user — active or not, counters, whether it blocks anyone
    ///   (`import_users` knows it of the users it registers) — so a later
    ///   batch reads a user's record at most once and looks up blocks only
    ///   for users that block someone. It keeps it only while the store's
    ///   last sequence number is where the session's last batch left it:
    ///   any other write in between (a command, another session) takes a
    ///   number, and the next batch drops what the session kept and reads
    ///   again.
    ///
    /// What does not change: every rule of the imports, decided on the
    /// counters as they would be (the stored ones plus the session's);
    /// each batch is its own all-or-nothing transaction; the follows and
    /// their sequence numbers; when `bulk_import` returns, counters and
    /// lists are exactly as without the session — also after `load` failed
    /// part-way (the batches committed before stay, with their counters).
    ///
    /// While `load` runs, other commands work, but: list reads of edges may
    /// be slow (SQLite: no index) or (redb) miss the follows imported so
    /// far; the counters of the users the session touched do not include its
    /// follows yet (a profile shows the old numbers; an unfollow of a follow
    /// the session added can fail with `Storage` until it ends). Batches of
    /// one session run one after another (a batch run beside another of the
    /// same session may misjudge the following cap). If the process stops
    /// before the session ends, its deferred counters are lost — `kinfolk
    /// check --fix-counters` recounts them — and the store stays in
    /// bulk-load mode until a later session ends:
    /// `svc.bulk_import(|_| async { Ok::<_, Error>(()) })` builds the indexes.
    ///
    /// # Errors
    /// What `load` returns (after the counters were written and `Finish`
    /// ran); else the error of a bulk step or of writing the counters
    /// (`Storage`, `Transient`; counters not written can be recounted with
    /// `kinfolk check --fix-counters`).
    ///
    /// # Example
    /// ```
    /// # async fn demo(svc: kinfolk::Kinfolk) -> kinfolk::Result<()> {
    /// use kinfolk::NewUser;
    /// let added = svc
    ///     .bulk_import(|svc| async move {
    ///         let ids = svc
    ///             .import_users(vec![NewUser::new("ada", "Ada")?, NewUser::new("bob", "Bob")?])
    ///             .await?;
    ///         svc.import_follows(vec![(ids[1], ids[0])]).await
    ///     })
    ///     .await?;
    /// assert_eq!(added, 1);
    /// # Ok(()) }
    /// ```
    pub async fn bulk_import<T, E, F, Fut>(&self, load: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Kinfolk) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let span = tracing::info_span!("bulk_import");
        async move {
            self.wr(|tx| tx.bulk_load(BulkLoad::Start)).await?;
            let session = Arc::new(BulkSession::default());
            let svc = Kinfolk {
                inner: Arc::clone(&self.inner),
                bulk: Some(Arc::clone(&session)),
            };
            let out = load(svc).await;
            let counted = self.write_counts(session.take()).await;
            let finished = self.wr(|tx| tx.bulk_load(BulkLoad::Finish)).await;
            match (out, counted.and(finished)) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e.into()),
                (Ok(v), Ok(())) => Ok(v),
            }
        }
        .instrument(span)
        .await
    }

    /// Writes a session's counter changes: batches of [`MAX_IMPORT_BATCH`]
    /// users, each read, changed and written in one transaction with one
    /// [`Change::Imported`] event listing them.
    async fn write_counts(&self, deltas: Vec<(UserId, Delta)>) -> Result<()> {
        let now = self.now()?;
        for chunk in deltas.chunks(MAX_IMPORT_BATCH) {
            let chunk: Arc<Vec<(UserId, Delta)>> = Arc::new(chunk.to_vec());
            self.wr(move |tx| {
                let ids: Vec<UserId> = chunk.iter().map(|(id, _)| *id).collect();
                let mut users: HashMap<UserId, User> =
                    tx.users(&ids)?.into_iter().map(|u| (u.id, u)).collect();
                let mut written = Vec::with_capacity(chunk.len());
                // A user deleted meanwhile has no counters left to change.
                for (id, d) in chunk.iter() {
                    if let Some(mut u) = users.remove(id) {
                        d.apply(&mut u)?;
                        written.push(u);
                    }
                }
                tx.put_users(&written)?;
                if !written.is_empty() {
                    let users = written.iter().map(|u| u.id).collect();
                    tx.append_change(now, Change::Imported { users })?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}
