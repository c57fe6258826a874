//! Edge reads and writes shared by the graph commands, as plain functions
//! over a transaction: follows and requests that keep the counters exact,
//! the relationship of two users, and severing on block.

use std::collections::HashMap;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::{Anchor, Edge, EdgeKind, Relationship};
use crate::id::UserId;
use crate::profile::{Counts, User};
use crate::store::{ReadTx, WriteTx};

/// Batch size for scans that walk a whole edge list inside one transaction.
pub(crate) const SCAN_BATCH: usize = 512;

/// Whether `a` blocks `b`.
pub(crate) fn blocks(tx: &dyn ReadTx, a: UserId, b: UserId) -> Result<bool> {
    Ok(tx.edge(EdgeKind::Block, a, b)?.is_some())
}

/// Edges between `viewer` and each of `others`, grouped by the other user.
pub(crate) fn edges_by_other(
    tx: &dyn ReadTx,
    viewer: UserId,
    others: &[UserId],
) -> Result<HashMap<UserId, Vec<Edge>>> {
    let mut map: HashMap<UserId, Vec<Edge>> = HashMap::new();
    if others.is_empty() {
        return Ok(map);
    }
    for e in tx.edges_between(viewer, others)? {
        let other = if e.from == viewer { e.to } else { e.from };
        map.entry(other).or_default().push(e);
    }
    Ok(map)
}

/// A `(kind, from, to)` edge key ([`ReadTx::edges_probed`]).
pub(crate) type Probe = (EdgeKind, UserId, UserId);

/// Appends the keys of the edges between `viewer` and `other` that the
/// relationship and visibility rules read ([`Relationship::from_edges`],
/// `sees`): both follows, both requests, both blocks and the viewer's mute
/// — not `other`'s mute of the viewer, which no rule reads — less those the
/// exact counters of the two records rule out (a follow needs a follower
/// who follows someone and a followee with followers; a request a target
/// with pending requests). `None` counts (a record not loaded) rule out
/// nothing.
pub(crate) fn probes_between(
    viewer: &User,
    other: Option<&User>,
    oid: UserId,
    out: &mut Vec<Probe>,
) {
    let v = viewer.id;
    if v == oid {
        return;
    }
    let vc = &viewer.counts;
    let oc = other.map(|u| &u.counts);
    let follows_out = oc.map_or(vc.following > 0, |c| vc.may_follow(c));
    let follows_in = oc.map_or(vc.followers > 0, |c| c.may_follow(vc));
    if follows_out {
        out.push((EdgeKind::Follow, v, oid));
    }
    if follows_in {
        out.push((EdgeKind::Follow, oid, v));
    }
    if oc.is_none_or(Counts::may_have_requests) {
        out.push((EdgeKind::Request, v, oid));
    }
    if vc.may_have_requests() {
        out.push((EdgeKind::Request, oid, v));
    }
    out.push((EdgeKind::Block, v, oid));
    out.push((EdgeKind::Block, oid, v));
    out.push((EdgeKind::Mute, v, oid));
}

/// [`edges_by_other`] for a loaded viewer: only the keys [`probes_between`]
/// leaves, grouped by the other user (`users` holds the records of `others`
/// that exist; a missing one rules out nothing).
pub(crate) fn probed_by_other(
    tx: &dyn ReadTx,
    viewer: &User,
    others: &[UserId],
    users: &HashMap<UserId, User>,
) -> Result<HashMap<UserId, Vec<Edge>>> {
    let mut probes = Vec::with_capacity(others.len() * 5);
    for &o in others {
        probes_between(viewer, users.get(&o), o, &mut probes);
    }
    let mut map: HashMap<UserId, Vec<Edge>> = HashMap::new();
    if probes.is_empty() {
        return Ok(map);
    }
    for e in tx.edges_probed(viewer.id, &probes)? {
        let other = if e.from == viewer.id { e.to } else { e.from };
        map.entry(other).or_default().push(e);
    }
    Ok(map)
}

/// The relationship of `viewer` to `other`.
pub(crate) fn relationship(
    tx: &dyn ReadTx,
    viewer: UserId,
    other: UserId,
    now: Timestamp,
) -> Result<Relationship> {
    if viewer == other {
        return Ok(Relationship::default());
    }
    let edges = tx.edges_between(viewer, &[other])?;
    Ok(Relationship::from_edges(viewer, other, &edges, now))
}

/// Loads a user that the transaction's rules require to exist.
pub(crate) fn load(tx: &dyn ReadTx, id: UserId) -> Result<User> {
    tx.user(id)?
        .ok_or_else(|| Error::corrupt(format!("user {id} is referenced but missing")))
}

fn dec(v: &mut u64, what: &str, id: UserId) -> Result<()> {
    *v = v
        .checked_sub(1)
        .ok_or_else(|| Error::corrupt(format!("{what} counter of {id} would go below zero")))?;
    Ok(())
}

/// The following cap: approved follows plus pending outgoing requests of
/// `user` must stay below `cap` for one more to be added. Outgoing requests
/// have no counter; they are counted with one keyset read of at most
/// `cap - following` keys (empty for most users).
///
/// # Errors
/// `LimitExceeded` (`following`) when the user is at the cap.
pub(crate) fn check_following_cap(tx: &dyn ReadTx, user: &User, cap: u64) -> Result<()> {
    let exceeded = Error::LimitExceeded {
        what: "following",
        limit: cap,
    };
    let Some(room) = cap.checked_sub(user.counts.following).filter(|r| *r > 0) else {
        return Err(exceeded);
    };
    let limit = usize::try_from(room).unwrap_or(usize::MAX);
    let requested = tx
        .edge_keys(EdgeKind::Request, Anchor::From(user.id), None, limit)?
        .len();
    if requested >= limit {
        return Err(exceeded);
    }
    Ok(())
}

/// Adds an approved follow `from → to`, keeping both counters exact.
pub(crate) fn add_follow(
    tx: &mut dyn WriteTx,
    from: UserId,
    to: UserId,
    now: Timestamp,
    change: Change,
) -> Result<()> {
    let (f, t) = (load(tx, from)?, load(tx, to)?);
    add_follow_of(tx, f, t, now, change).map(drop)
}

/// Adds an approved follow between two users the caller has read in this
/// transaction (and not changed since): the event, the edge, and both
/// counters written back with one [`WriteTx::put_users`]. Returns the edge.
pub(crate) fn add_follow_of(
    tx: &mut dyn WriteTx,
    mut from: User,
    mut to: User,
    now: Timestamp,
    change: Change,
) -> Result<Edge> {
    let seq = tx.append_change(now, change)?;
    let edge = Edge {
        kind: EdgeKind::Follow,
        from: from.id,
        to: to.id,
        since: now,
        seq,
        until: None,
    };
    tx.insert_edge(&edge)?;
    from.counts.following += 1;
    to.counts.followers += 1;
    tx.put_users(&[from, to])?;
    Ok(edge)
}

/// Removes the follow `from → to`, two users the caller has read in this
/// transaction, if present; both counters go down with one
/// [`WriteTx::put_users`]. Returns the removed edge. The caller appends the
/// event.
pub(crate) fn remove_follow_of(
    tx: &mut dyn WriteTx,
    mut from: User,
    mut to: User,
) -> Result<Option<Edge>> {
    let Some(edge) = tx.delete_edge(EdgeKind::Follow, from.id, to.id)? else {
        return Ok(None);
    };
    dec(&mut from.counts.following, "following", from.id)?;
    dec(&mut to.counts.followers, "followers", to.id)?;
    tx.put_users(&[from, to])?;
    Ok(Some(edge))
}

/// Removes the follow `from → to` if present, keeping counters exact.
/// Returns whether it existed. The caller appends the event.
pub(crate) fn remove_follow(tx: &mut dyn WriteTx, from: UserId, to: UserId) -> Result<bool> {
    if tx.delete_edge(EdgeKind::Follow, from, to)?.is_none() {
        return Ok(false);
    }
    if let Some(mut f) = tx.user(from)? {
        dec(&mut f.counts.following, "following", from)?;
        tx.put_user(&f)?;
    }
    if let Some(mut t) = tx.user(to)? {
        dec(&mut t.counts.followers, "followers", to)?;
        tx.put_user(&t)?;
    }
    Ok(true)
}

/// Adds a pending request `from → to`, a user the caller has read in this
/// transaction (and not changed since). Returns the edge.
pub(crate) fn add_request_of(
    tx: &mut dyn WriteTx,
    from: UserId,
    mut to: User,
    now: Timestamp,
) -> Result<Edge> {
    let seq = tx.append_change(
        now,
        Change::FollowRequested {
            requester: from,
            target: to.id,
        },
    )?;
    let edge = Edge {
        kind: EdgeKind::Request,
        from,
        to: to.id,
        since: now,
        seq,
        until: None,
    };
    tx.insert_edge(&edge)?;
    to.counts.pending_requests += 1;
    tx.put_user(&to)?;
    Ok(edge)
}

/// Removes the pending request `from → to` if present. Returns whether it existed.
pub(crate) fn remove_request(tx: &mut dyn WriteTx, from: UserId, to: UserId) -> Result<bool> {
    if tx.delete_edge(EdgeKind::Request, from, to)?.is_none() {
        return Ok(false);
    }
    if let Some(mut t) = tx.user(to)? {
        dec(&mut t.counts.pending_requests, "pending_requests", to)?;
        tx.put_user(&t)?;
    }
    Ok(true)
}

/// Removes the pending request from `from` to a user the caller has read in
/// this transaction, if present. Returns the removed edge.
pub(crate) fn remove_request_of(
    tx: &mut dyn WriteTx,
    from: UserId,
    mut to: User,
) -> Result<Option<Edge>> {
    let Some(edge) = tx.delete_edge(EdgeKind::Request, from, to.id)? else {
        return Ok(None);
    };
    dec(&mut to.counts.pending_requests, "pending_requests", to.id)?;
    tx.put_user(&to)?;
    Ok(Some(edge))
}

/// Turns the request `from → to` into an approved follow.
pub(crate) fn approve_request(
    tx: &mut dyn WriteTx,
    from: UserId,
    to: UserId,
    now: Timestamp,
) -> Result<bool> {
    if !remove_request(tx, from, to)? {
        return Ok(false);
    }
    add_follow(
        tx,
        from,
        to,
        now,
        Change::FollowApproved {
            requester: from,
            target: to,
        },
    )?;
    Ok(true)
}

/// Every edge of `kind` at `anchor`, walked in batches inside the transaction.
pub(crate) fn all_edges(tx: &dyn ReadTx, kind: EdgeKind, anchor: Anchor) -> Result<Vec<Edge>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let batch = tx.edges(kind, anchor, before, SCAN_BATCH)?;
        let done = batch.len() < SCAN_BATCH;
        before = batch.last().map(|e| e.seq);
        out.extend(batch);
        if done || before.is_none() {
            return Ok(out);
        }
    }
}

/// Removes follows and requests between `a` and `b` in both directions,
/// appending the matching events. Used by block.
pub(crate) fn sever(tx: &mut dyn WriteTx, a: UserId, b: UserId, now: Timestamp) -> Result<()> {
    for (x, y) in [(a, b), (b, a)] {
        if remove_follow(tx, x, y)? {
            tx.append_change(
                now,
                Change::Unfollowed {
                    follower: x,
                    followee: y,
                },
            )?;
        }
        if remove_request(tx, x, y)? {
            tx.append_change(
                now,
                Change::FollowRequestCancelled {
                    requester: x,
                    target: y,
                },
            )?;
        }
    }
    Ok(())
}
