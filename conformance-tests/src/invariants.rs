//! The store-wide invariants (SPEC §5, §7, §12), checked by scanning a
//! store through its port in one snapshot. Every test that checks them —
//! the conformance cases, the model test's sweeps, the kill test after each
//! kill, the race suite — goes through [`store_problems`]; the rules that
//! concern one user are written once, in the model test's
//! `local_invariants`, which the model test also runs on the records of
//! every step.

use std::collections::BTreeSet;

use kinfolk::{Anchor, Edge, EdgeKind, Kinfolk, ReadTx, RoomRole, UserId};

use kinfolk::clock::in_range;
use kinfolk::profile::{is_skeleton_key, skeleton_key};

use crate::model::local_invariants;

/// Page size of every walk: small, so that keyset paging is exercised.
const PAGE: usize = 7;

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Every violated invariant, described (empty when the store is sound).
    pub problems: Vec<String>,
    /// Users scanned.
    pub users: usize,
    /// Follow edges found (so a test can tell it checked something).
    pub follows: usize,
}

/// Every edge of `kind` at `anchor`, walked in pages of [`PAGE`]; a page
/// that is not newest first, or does not continue the previous one, is a
/// problem.
fn walk(
    tx: &dyn ReadTx,
    kind: EdgeKind,
    anchor: Anchor,
    problems: &mut Vec<String>,
) -> kinfolk::Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    let mut before = None;
    loop {
        let page = tx.edges(kind, anchor, before, PAGE)?;
        let sorted = page.windows(2).all(|w| w[0].seq > w[1].seq);
        let continues = match (out.last(), page.first()) {
            (Some(last), Some(first)) => first.seq < last.seq,
            _ => true,
        };
        if !sorted || !continues {
            problems.push(format!(
                "{kind:?} edges at {anchor:?}: a page is not newest first"
            ));
            return Ok(out);
        }
        before = page.last().map(|e| e.seq);
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Scans the whole store in `tx` and returns every violated invariant:
///
/// - per user (`local_invariants`): every counter equals the edges or
///   memberships it counts; no self edge, no duplicate edge, no edge under
///   another user's key; no follow or request beside a block in either
///   direction; the current username is claimed by its user alone;
/// - every edge found from its source is the edge stored under its key
///   ([`ReadTx::edge`]), and the edges found from the sources are exactly
///   those found from the targets (the two order indexes agree);
/// - every list is newest first, page after page;
/// - every room with a member has a member count equal to its members and
///   an owner;
/// - every stored time (user, edge, claim hold, membership, room, feed
///   event) lies in the supported range ([`kinfolk::clock::in_range`]);
/// - every skeleton claim is backed by a name (current or held) of its user.
///
/// A record the store cannot decode makes the read fail: [`check_invariants`]
/// reports that as a violation ("every stored value decodes").
///
/// # Errors
/// When the store fails to answer a read.
pub fn store_problems(tx: &dyn ReadTx) -> kinfolk::Result<Scan> {
    type Key = (EdgeKind, UserId, UserId, u64);
    let mut scan = Scan::default();
    let mut by_from: BTreeSet<Key> = BTreeSet::new();
    let mut by_to: BTreeSet<Key> = BTreeSet::new();
    let mut rooms = BTreeSet::new();
    let mut after = None;
    loop {
        let users = tx.users_after(after, 200)?;
        let Some(last) = users.last().map(|u| u.id) else {
            break;
        };
        after = Some(last);
        for u in &users {
            scan.users += 1;
            let mut out = Vec::with_capacity(EdgeKind::ALL.len());
            let mut inc = Vec::with_capacity(EdgeKind::ALL.len());
            for kind in EdgeKind::ALL {
                let from = walk(tx, kind, Anchor::From(u.id), &mut scan.problems)?;
                let to = walk(tx, kind, Anchor::To(u.id), &mut scan.problems)?;
                for e in &from {
                    if tx.edge(kind, e.from, e.to)?.as_ref() != Some(e) {
                        scan.problems
                            .push(format!("{}: index and edge table disagree on {e:?}", u.id));
                    }
                    by_from.insert((e.kind, e.from, e.to, e.seq));
                }
                by_to.extend(to.iter().map(|e| (e.kind, e.from, e.to, e.seq)));
                out.push(from);
                inc.push(to);
            }
            let mut memberships = 0;
            let mut before = None;
            loop {
                let ms = tx.memberships_of(u.id, before, PAGE)?;
                memberships += ms.len();
                before = ms.last().map(|m| m.seq);
                rooms.extend(ms.iter().map(|m| m.room));
                if ms.len() < PAGE {
                    break;
                }
            }
            if !in_range(u.created_at) || !in_range(u.updated_at) {
                scan.problems
                    .push(format!("{}: user time out of range", u.id));
            }
            for e in out.iter().flatten() {
                if !in_range(e.since) || e.until.is_some_and(|t| !in_range(t)) {
                    scan.problems
                        .push(format!("{}: {:?} edge time out of range", u.id, e.kind));
                }
            }
            let claims = tx.username_claims_of(u.id)?;
            for c in &claims {
                if c.held_until.is_some_and(|t| !in_range(t)) {
                    scan.problems
                        .push(format!("{}: claim hold out of range", u.id));
                }
                if is_skeleton_key(&c.folded)
                    && !claims.iter().any(|n| {
                        !is_skeleton_key(&n.folded) && skeleton_key(&n.username) == c.folded
                    })
                {
                    scan.problems.push(format!(
                        "{}: skeleton claim {} without a name of its user",
                        u.id, c.folded
                    ));
                }
            }
            let holder = tx.username_claim(&u.username.folded())?;
            local_invariants(
                u,
                &out,
                &inc,
                memberships,
                holder.as_ref(),
                &mut scan.problems,
            );
        }
    }
    if by_from != by_to {
        let only_from: Vec<_> = by_from.difference(&by_to).collect();
        let only_to: Vec<_> = by_to.difference(&by_from).collect();
        scan.problems.push(format!(
            "the order indexes disagree: only from the source {only_from:?}, only from the target {only_to:?}"
        ));
    }
    scan.follows = by_from.iter().filter(|k| k.0 == EdgeKind::Follow).count();
    for r in rooms {
        let Some(room) = tx.room(r)? else {
            scan.problems
                .push(format!("membership of missing room {r}"));
            continue;
        };
        let members = tx.members(r, None, 100_000)?;
        if members.iter().any(|m| !in_range(m.joined_at)) || !in_range(room.created_at) {
            scan.problems.push(format!("room {r}: time out of range"));
        }
        if members.len() as u64 != room.member_count {
            scan.problems.push(format!(
                "room {r}: member_count {} != {}",
                room.member_count,
                members.len()
            ));
        }
        if !members.iter().any(|m| m.role == RoomRole::Owner) {
            scan.problems.push(format!("room {r} has no owner"));
        }
    }
    let mut after_seq = 0;
    loop {
        let events = tx.changes_since(after_seq, 1000)?;
        for e in &events {
            if !in_range(e.at) {
                scan.problems
                    .push(format!("feed event {} time out of range", e.seq));
            }
        }
        match events.last() {
            Some(e) if events.len() == 1000 => after_seq = e.seq,
            _ => break,
        }
    }
    Ok(scan)
}

/// [`store_problems`] on the service's store: `Err` with the first violated
/// invariant — also when a stored record does not decode (the read fails),
/// which is reported as a violation rather than a panic.
pub async fn check_invariants(svc: &Kinfolk) -> Result<(), String> {
    match kinfolk::store::read(svc.store().as_ref(), store_problems).await {
        Ok(scan) => scan.problems.first().map_or(Ok(()), |p| Err(p.clone())),
        Err(e) => Err(format!("stored data does not decode: {e}")),
    }
}
