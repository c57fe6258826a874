//! Repairing counter drift: every counter is set to what it counts, batch
//! by batch, each batch one write transaction (so a counter can never be
//! set from a stale read while a command moves it).

use std::collections::BTreeSet;

use crate::error::Result;
use crate::feed::Change;
use crate::graph::{Anchor, EdgeKind};
use crate::id::{RoomId, UserId};
use crate::profile::User;
use crate::service::Kinfolk;
use crate::store::ReadTx;

/// Users (or rooms) recounted per write transaction.
const BATCH: usize = 100;
/// Page size of the counting walks.
const PAGE: usize = 1000;

/// What [`Kinfolk::fix_counters`] repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterRepair {
    /// Users recounted.
    pub users_checked: u64,
    /// Users whose counters were wrong and are now right.
    pub users_fixed: u64,
    /// Rooms (with at least one member) recounted.
    pub rooms_checked: u64,
    /// Rooms whose `member_count` was wrong and is now right.
    pub rooms_fixed: u64,
}

/// How many edges of `kind` are at `anchor`: one keyset walk of the
/// `(kind, anchor, seq)` index, other ends only.
fn count_edges(tx: &dyn ReadTx, kind: EdgeKind, anchor: Anchor) -> Result<u64> {
    let mut n = 0;
    let mut before = None;
    loop {
        let page = tx.edge_keys(kind, anchor, before, PAGE)?;
        n += page.len() as u64;
        before = page.last().map(|(seq, _)| *seq);
        if page.len() < PAGE {
            return Ok(n);
        }
    }
}

/// The user's memberships: their count and rooms.
fn memberships(tx: &dyn ReadTx, user: UserId) -> Result<(u64, Vec<RoomId>)> {
    let mut rooms = Vec::new();
    let mut before = None;
    loop {
        let page = tx.memberships_of(user, before, PAGE)?;
        before = page.last().map(|m| m.seq);
        let done = page.len() < PAGE;
        rooms.extend(page.iter().map(|m| m.room));
        if done {
            return Ok((rooms.len() as u64, rooms));
        }
    }
}

fn count_members(tx: &dyn ReadTx, room: RoomId) -> Result<u64> {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = tx.members(room, after, PAGE)?;
        n += page.len() as u64;
        after = page.last().map(|m| m.seq);
        if page.len() < PAGE {
            return Ok(n);
        }
    }
}

impl Kinfolk {
    /// Sets every counter to what it counts: each user's `followers`,
    /// `following`, `pending_requests` and `rooms`, and each room's
    /// `member_count` (the counters [`Finding::CounterDrift`] and
    /// [`Finding::MemberCountDrift`] report). Users are recounted in batches
    /// of 100, each batch in one write transaction that reads the edges and
    /// writes the corrected records together (`put_users`), so the repair is
    /// exact while commands run. Each repaired user gets a `ProfileUpdated`
    /// feed event (the search index ranks by follower count); a room repair
    /// has no event (no feed consumer reads `member_count`). Idempotent: on
    /// a sound store it changes nothing.
    ///
    /// [`Finding::CounterDrift`]: crate::check::Finding::CounterDrift
    /// [`Finding::MemberCountDrift`]: crate::check::Finding::MemberCountDrift
    ///
    /// # Errors
    /// `Storage`/`Transient` when the store fails; batches committed before
    /// the failure stay repaired.
    ///
    /// ```
    /// # async fn demo(svc: kinfolk::Kinfolk) -> kinfolk::Result<()> {
    /// let repair = svc.fix_counters().await?;
    /// println!("{} of {} users repaired", repair.users_fixed, repair.users_checked);
    /// assert!(svc.check().await?.findings.iter().all(|f| !f.is_counter_drift()));
    /// # Ok(()) }
    /// ```
    pub async fn fix_counters(&self) -> Result<CounterRepair> {
        let mut repair = CounterRepair::default();
        let mut rooms: BTreeSet<RoomId> = BTreeSet::new();
        let mut after: Option<UserId> = None;
        loop {
            let now = self.now()?;
            let (last, checked, fixed, seen) = self
                .wr(move |tx| {
                    let users = tx.users_after(after, BATCH)?;
                    let mut fixed: Vec<User> = Vec::new();
                    let mut seen = Vec::new();
                    for u in &users {
                        let (n_rooms, of) = memberships(tx, u.id)?;
                        seen.extend(of);
                        let mut counts = u.counts;
                        counts.followers = count_edges(tx, EdgeKind::Follow, Anchor::To(u.id))?;
                        counts.following = count_edges(tx, EdgeKind::Follow, Anchor::From(u.id))?;
                        counts.pending_requests =
                            count_edges(tx, EdgeKind::Request, Anchor::To(u.id))?;
                        counts.rooms = n_rooms;
                        if counts != u.counts {
                            fixed.push(User {
                                counts,
                                ..u.clone()
                            });
                        }
                    }
                    if !fixed.is_empty() {
                        tx.put_users(&fixed)?;
                        tx.append_changes(
                            now,
                            fixed
                                .iter()
                                .map(|u| Change::ProfileUpdated { user: u.id })
                                .collect(),
                        )?;
                    }
                    Ok((
                        users.last().map(|u| u.id),
                        users.len() as u64,
                        fixed.len() as u64,
                        seen,
                    ))
                })
                .await?;
            repair.users_checked += checked;
            repair.users_fixed += fixed;
            rooms.extend(seen);
            match last {
                Some(id) => after = Some(id),
                None => break,
            }
        }
        let rooms: Vec<RoomId> = rooms.into_iter().collect();
        for chunk in rooms.chunks(BATCH) {
            let chunk = chunk.to_vec();
            let (checked, fixed) = self
                .wr(move |tx| {
                    let mut fixed = 0;
                    let stored = tx.rooms(&chunk)?;
                    for room in &stored {
                        let actual = count_members(tx, room.id)?;
                        if actual != room.member_count {
                            let mut r = room.clone();
                            r.member_count = actual;
                            tx.put_room(&r)?;
                            fixed += 1;
                        }
                    }
                    Ok((stored.len() as u64, fixed))
                })
                .await?;
            repair.rooms_checked += checked;
            repair.rooms_fixed += fixed;
        }
        Ok(repair)
    }
}
