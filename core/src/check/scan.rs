//! The whole-store invariants, as one scan of a read snapshot: the rule
//! itself. [`scan`] walks every user, edge, claim, room and feed event;
//! [`user_findings`] is the part that concerns one user's records, shared
//! with the model test, which runs it on every step.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::clock::in_range;
use crate::error::Result;
use crate::graph::{Anchor, Edge, EdgeKind};
use crate::id::UserId;
use crate::profile::{User, UsernameClaim, is_skeleton_key, skeleton_key};
use crate::rooms::RoomRole;
use crate::store::ReadTx;

use super::{Counter, Finding, StoreScan};

/// Page size of every walk in [`scan`] (a page out of order is a finding).
const PAGE: usize = 64;
/// Users read per batch.
const USER_BATCH: usize = 200;
/// Feed events read per batch.
const FEED_BATCH: usize = 1000;

/// Every edge of `kind` at `anchor`, walked in pages of `page_size`; a page
/// that is not newest first, or does not continue the previous one, is a
/// finding (and ends the walk).
fn walk(
    tx: &dyn ReadTx,
    kind: EdgeKind,
    anchor: Anchor,
    page_size: usize,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    let mut before = None;
    loop {
        let page = tx.edges(kind, anchor, before, page_size)?;
        let sorted = page.windows(2).all(|w| w[0].seq > w[1].seq);
        let continues = match (out.last(), page.first()) {
            (Some(last), Some(first)) => first.seq < last.seq,
            _ => true,
        };
        if !sorted || !continues {
            findings.push(Finding::Index {
                detail: format!("{kind:?} edges at {anchor:?}: a page is not newest first"),
            });
            return Ok(out);
        }
        before = page.last().map(|e| e.seq);
        let done = page.len() < page_size;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Scans the whole store in `tx` (one snapshot) and returns every violated
/// invariant:
///
/// - per user ([`user_findings`]): every counter equals the edges or
///   memberships it counts; no self edge, no duplicate edge, no edge under
///   another user's key; no follow or request beside a block in either
///   direction, no follow beside a request of the same pair; the current
///   username is claimed by its user alone;
/// - every edge found from its source is the edge stored under its key
///   ([`ReadTx::edge`]), and the edges found from the sources are exactly
///   those found from the targets (the two order indexes agree);
/// - every list is newest first, page after page;
/// - every room with a member has a member count equal to its members and
///   an owner;
/// - every stored time (user, edge, claim hold, membership, room, feed
///   event) lies in the supported range ([`crate::clock::in_range`]);
/// - every skeleton claim is backed by a name (current or held) of its user.
///
/// Memory: an edge's key is held from the walk of its first end to the
/// walk of its other end (once, not once per order index); at most every
/// edge, about 60 bytes each.
///
/// # Errors
/// When the store fails to answer a read — also when a stored record does
/// not decode ([`crate::Kinfolk::check`] reports that as
/// [`Finding::Undecodable`]).
///
/// ```
/// # async fn demo(svc: kinfolk::Kinfolk) -> kinfolk::Result<()> {
/// let scan = kinfolk::store::read(svc.store().as_ref(), kinfolk::check::scan).await?;
/// assert!(scan.findings.is_empty(), "{:?}", scan.findings);
/// # Ok(()) }
/// ```
pub fn scan(tx: &dyn ReadTx) -> Result<StoreScan> {
    scan_paged(tx, PAGE)
}

/// [`scan`] reading every list in pages of `page_size` (at least 1): a
/// small size exercises the store's keyset paging too (the conformance
/// test-kit uses 7).
///
/// # Errors
/// As [`scan`].
pub fn scan_paged(tx: &dyn ReadTx, page_size: usize) -> Result<StoreScan> {
    let page_size = page_size.max(1);
    type Key = (EdgeKind, UserId, UserId, u64);
    let mut scan = StoreScan::default();
    let f = &mut scan.findings;
    // Each edge key seen from one end only so far, with that end (true:
    // its source's walk); seen from the other end, it leaves. So the scan
    // holds each key once, and only until both ends have been walked: what
    // stays at the end is where the two order indexes disagree.
    let mut unmatched: BTreeMap<Key, bool> = BTreeMap::new();
    let mut seen = |key: Key, from_source: bool| match unmatched.entry(key) {
        std::collections::btree_map::Entry::Occupied(o) => {
            if *o.get() != from_source {
                o.remove();
            }
        }
        std::collections::btree_map::Entry::Vacant(v) => {
            v.insert(from_source);
        }
    };
    let mut follows = 0;
    let mut rooms = BTreeSet::new();
    let mut after = None;
    loop {
        let users = tx.users_after(after, USER_BATCH)?;
        let Some(last) = users.last().map(|u| u.id) else {
            break;
        };
        after = Some(last);
        for u in &users {
            scan.users += 1;
            let mut out = Vec::with_capacity(EdgeKind::ALL.len());
            let mut inc = Vec::with_capacity(EdgeKind::ALL.len());
            for kind in EdgeKind::ALL {
                let from = walk(tx, kind, Anchor::From(u.id), page_size, f)?;
                let to = walk(tx, kind, Anchor::To(u.id), page_size, f)?;
                for e in &from {
                    if tx.edge(kind, e.from, e.to)?.as_ref() != Some(e) {
                        f.push(Finding::Index {
                            detail: format!("{}: index and edge table disagree on {e:?}", u.id),
                        });
                    }
                    seen((e.kind, e.from, e.to, e.seq), true);
                    if e.kind == EdgeKind::Follow {
                        follows += 1;
                    }
                }
                for e in &to {
                    seen((e.kind, e.from, e.to, e.seq), false);
                }
                out.push(from);
                inc.push(to);
            }
            let mut memberships = 0;
            let mut before = None;
            loop {
                let ms = tx.memberships_of(u.id, before, page_size)?;
                memberships += ms.len();
                before = ms.last().map(|m| m.seq);
                rooms.extend(ms.iter().map(|m| m.room));
                if ms.len() < page_size {
                    break;
                }
            }
            if !in_range(u.created_at) || !in_range(u.updated_at) {
                f.push(Finding::TimeRange {
                    detail: format!("{}: user time out of range", u.id),
                });
            }
            for e in out.iter().flatten() {
                if !in_range(e.since) || e.until.is_some_and(|t| !in_range(t)) {
                    f.push(Finding::TimeRange {
                        detail: format!("{}: {:?} edge time out of range", u.id, e.kind),
                    });
                }
            }
            let claims = tx.username_claims_of(u.id)?;
            for c in &claims {
                if c.held_until.is_some_and(|t| !in_range(t)) {
                    f.push(Finding::TimeRange {
                        detail: format!("{}: claim hold out of range", u.id),
                    });
                }
                if is_skeleton_key(&c.folded)
                    && !claims.iter().any(|n| {
                        !is_skeleton_key(&n.folded) && skeleton_key(&n.username) == c.folded
                    })
                {
                    f.push(Finding::Claim {
                        user: u.id,
                        detail: format!("skeleton claim {} without a name of its user", c.folded),
                    });
                }
            }
            let holder = tx.username_claim(&u.username.folded())?;
            user_findings(u, &out, &inc, memberships, holder.as_ref(), f);
        }
    }
    if !unmatched.is_empty() {
        let only_from: Vec<&Key> = unmatched.iter().filter(|e| *e.1).map(|e| e.0).collect();
        let only_to: Vec<&Key> = unmatched.iter().filter(|e| !*e.1).map(|e| e.0).collect();
        f.push(Finding::Index {
            detail: format!(
                "the order indexes disagree: only from the source {only_from:?}, only from the target {only_to:?}"
            ),
        });
    }
    scan.follows = follows;
    scan.rooms = rooms.len();
    for r in rooms {
        let Some(room) = tx.room(r)? else {
            f.push(Finding::Room {
                room: r,
                detail: "a membership of a room that does not exist".into(),
            });
            continue;
        };
        let mut members = Vec::new();
        let mut after_seq = None;
        loop {
            let page = tx.members(r, after_seq, page_size)?;
            after_seq = page.last().map(|m| m.seq);
            let done = page.len() < page_size;
            members.extend(page);
            if done {
                break;
            }
        }
        if members.iter().any(|m| !in_range(m.joined_at)) || !in_range(room.created_at) {
            f.push(Finding::TimeRange {
                detail: format!("room {r}: time out of range"),
            });
        }
        if members.len() as u64 != room.member_count {
            f.push(Finding::MemberCountDrift {
                room: r,
                stored: room.member_count,
                actual: members.len() as u64,
            });
        }
        if !members.iter().any(|m| m.role == RoomRole::Owner) {
            f.push(Finding::Room {
                room: r,
                detail: "no owner".into(),
            });
        }
    }
    let mut after_seq = 0;
    loop {
        let events = tx.changes_since(after_seq, FEED_BATCH)?;
        scan.events += events.len();
        for e in &events {
            if !in_range(e.at) {
                f.push(Finding::TimeRange {
                    detail: format!("feed event {} time out of range", e.seq),
                });
            }
        }
        match events.last() {
            Some(e) if events.len() == FEED_BATCH => after_seq = e.seq,
            _ => break,
        }
    }
    Ok(scan)
}

/// The edges of kind `k` in a per-kind list ordered as [`EdgeKind::ALL`].
fn kind_list(v: &[Vec<Edge>], k: EdgeKind) -> &[Edge] {
    EdgeKind::ALL
        .iter()
        .position(|x| *x == k)
        .and_then(|i| v.get(i))
        .map_or(&[], Vec::as_slice)
}

/// The invariants that concern one user, on records read in one snapshot:
/// `out[i]` / `inc[i]` are the user's outgoing / incoming edges of kind
/// `EdgeKind::ALL[i]`, `memberships` the number of rooms the user is a
/// member of, `holder` the claim on the user's current (folded) name.
/// Pushes a [`Finding`] for every counter that differs from what it counts,
/// every self, duplicate or misfiled edge, every follow or request beside a
/// block (either direction), every follow beside a request of the same pair,
/// and a current name not claimed by the user alone.
pub fn user_findings(
    u: &User,
    out: &[Vec<Edge>],
    inc: &[Vec<Edge>],
    memberships: usize,
    holder: Option<&UsernameClaim>,
    findings: &mut Vec<Finding>,
) {
    let who = u.id;
    let checks = [
        (
            Counter::Followers,
            u.counts.followers,
            kind_list(inc, EdgeKind::Follow).len(),
        ),
        (
            Counter::Following,
            u.counts.following,
            kind_list(out, EdgeKind::Follow).len(),
        ),
        (
            Counter::PendingRequests,
            u.counts.pending_requests,
            kind_list(inc, EdgeKind::Request).len(),
        ),
        (Counter::Rooms, u.counts.rooms, memberships),
    ];
    for (counter, stored, actual) in checks {
        if stored != actual as u64 {
            findings.push(Finding::CounterDrift {
                user: who,
                counter,
                stored,
                actual: actual as u64,
            });
        }
    }
    let blocks_out = kind_list(out, EdgeKind::Block);
    let blocks_in = kind_list(inc, EdgeKind::Block);
    let blocked = |other: UserId| {
        blocks_out.iter().any(|e| e.to == other) || blocks_in.iter().any(|e| e.from == other)
    };
    let requests_out = kind_list(out, EdgeKind::Request);
    let requests_in = kind_list(inc, EdgeKind::Request);
    for (k, kind) in EdgeKind::ALL.iter().enumerate() {
        let (Some(outs), Some(ins)) = (out.get(k), inc.get(k)) else {
            continue;
        };
        let mut seen = HashSet::new();
        for e in outs {
            if e.kind != *kind || e.from != who {
                findings.push(Finding::Index {
                    detail: format!("{who}: edge {e:?} under the wrong key"),
                });
            }
            if e.to == who {
                findings.push(Finding::Index {
                    detail: format!("{who}: self edge {kind:?}"),
                });
            }
            if !seen.insert(e.to) {
                findings.push(Finding::Index {
                    detail: format!("{who}: duplicate {kind:?} edge to {}", e.to),
                });
            }
        }
        for e in ins {
            if e.kind != *kind || e.to != who {
                findings.push(Finding::Index {
                    detail: format!("{who}: edge {e:?} under the wrong key"),
                });
            }
        }
        if *kind == EdgeKind::Follow {
            for e in outs {
                if requests_out.iter().any(|r| r.to == e.to) {
                    findings.push(Finding::EdgeConflict {
                        user: who,
                        other: e.to,
                        detail: "a follow beside a request to the same user".into(),
                    });
                }
            }
            for e in ins {
                if requests_in.iter().any(|r| r.from == e.from) {
                    findings.push(Finding::EdgeConflict {
                        user: who,
                        other: e.from,
                        detail: "a follow beside a request from the same user".into(),
                    });
                }
            }
        }
        if matches!(kind, EdgeKind::Follow | EdgeKind::Request) {
            for other in outs.iter().map(|e| e.to).chain(ins.iter().map(|e| e.from)) {
                if blocked(other) {
                    findings.push(Finding::EdgeConflict {
                        user: who,
                        other,
                        detail: format!("a {kind:?} beside a block"),
                    });
                }
            }
        }
    }
    match holder {
        Some(c) if c.user == who && c.held_until.is_none() => {}
        other => findings.push(Finding::Claim {
            user: who,
            detail: format!(
                "current name {} claimed by {:?}",
                u.username.as_str(),
                other.map(|c| c.user)
            ),
        }),
    }
}
