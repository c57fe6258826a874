//! Followers, following, known followers and follow requests (SPEC §6).
//!
//! One walker serves every list: a keyset range scan over the list's edges,
//! then, per batch, one fetch of the users and one of the viewer's edges to
//! them; rows the viewer may not see are dropped and the walk goes on until
//! the page is full, so every page but the last is full.

use crate::meter::MeterExt;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::graph::edges::{edges_by_other, probed_by_other};
use crate::graph::{Anchor, EdgeKind, Relationship};
use crate::id::UserId;
use crate::page::{
    ListKind, MAX_LIST_LIMIT, Page, PageRequest, check_limit, decode_cursor, encode_cursor,
};
use crate::profile::UserSummary;
use crate::service::Kinfolk;
use crate::service::{active_actor, check_viewer};
use crate::store::ReadTx;
use crate::visibility::{ListSide, shows_row, visible_list};

/// A row of a user list: who, and the viewer's relationship to them
/// (absent for anonymous viewers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    /// The user.
    pub user: UserSummary,
    /// The viewer's relationship to them.
    pub relationship: Option<Relationship>,
}

/// What a walk over a list needs to know.
pub(crate) struct Walk {
    pub kind: EdgeKind,
    pub anchor: Anchor,
    pub viewer: Option<UserId>,
    /// The viewer's record, when loaded: its counters rule out edge probes
    /// ([`probed_by_other`]).
    pub viewer_user: Option<crate::profile::User>,
    /// Keep only users the viewer follows (known followers).
    pub only_followed_by_viewer: bool,
    pub list: ListKind,
    pub owner_key: [u8; 16],
}

/// Walks a list of edges from `before`, returning up to `limit` visible rows
/// and whether more follow.
pub(crate) fn walk(
    tx: &dyn ReadTx,
    w: &Walk,
    page: &PageRequest,
    limit: usize,
    now: Timestamp,
) -> Result<Page<UserRow>> {
    let mut before = match &page.cursor {
        Some(c) => Some(decode_cursor(c, w.list, w.owner_key)?),
        None => None,
    };
    let mut rows: Vec<(u64, UserRow)> = Vec::with_capacity(limit + 1);
    let mut batch = first_batch(limit, w.only_followed_by_viewer);
    loop {
        let keys = tx.edge_keys(w.kind, w.anchor, before, batch)?;
        let exhausted = keys.len() < batch;
        before = keys.last().map(|&(seq, _)| seq);
        let others: Vec<UserId> = keys.iter().map(|&(_, id)| id).collect();
        let users = by_id(tx.users(&others)?);
        let rel = match (&w.viewer_user, w.viewer) {
            (Some(vu), _) => probed_by_other(tx, vu, &others, &users)?,
            (None, Some(v)) => edges_by_other(tx, v, &others)?,
            (None, None) => Default::default(),
        };
        for &(seq, id) in &keys {
            let Some(user) = users.get(&id) else {
                continue;
            };
            let edges = rel.get(&id).map(Vec::as_slice).unwrap_or_default();
            if !shows_row(w.viewer, user, edges) {
                continue;
            }
            let relationship = w.viewer.map(|v| {
                if v == id {
                    Relationship::default()
                } else {
                    Relationship::from_edges(v, id, rel.get(&id).into_iter().flatten(), now)
                }
            });
            if w.only_followed_by_viewer && !relationship.is_some_and(|r| r.following) {
                continue;
            }
            rows.push((
                seq,
                UserRow {
                    user: user.summary(),
                    relationship,
                },
            ));
            if rows.len() > limit {
                break;
            }
        }
        if rows.len() > limit || exhausted || before.is_none() {
            break;
        }
        // Rows were filtered out: fetch more at a time from here on.
        batch = (batch * 2).min(MAX_BATCH);
    }
    Ok(finish_page(w, rows, limit))
}

/// Most edges one step of a walk fetches.
const MAX_BATCH: usize = 1024;

/// Edges the first step of a walk fetches: one more than the page (to learn
/// whether another page follows) when most rows are shown, or at least 32
/// when a filter is expected to drop many (known followers walked from the
/// owner's side).
fn first_batch(limit: usize, sparse: bool) -> usize {
    if sparse {
        (limit + 1).max(32)
    } else {
        limit + 1
    }
}

/// The users of a batch by id.
fn by_id(users: Vec<crate::profile::User>) -> HashMap<UserId, crate::profile::User> {
    users.into_iter().map(|u| (u.id, u)).collect()
}

/// Cuts the `limit + 1` collected rows to a page; the cursor names the last
/// row's edge when one more row was found.
fn finish_page(w: &Walk, mut rows: Vec<(u64, UserRow)>, limit: usize) -> Page<UserRow> {
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|(seq, _)| encode_cursor(w.list, w.owner_key, *seq))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, r)| r).collect(),
        next_cursor,
    }
}

/// "Followers of `owner` whom `viewer` follows", walked from the viewer's
/// follows (bounded by the following cap) instead of the owner's followers:
/// one scan of the viewer's follows, then per batch one fetch of the edges
/// between the owner and the batch. Same order, cursor and filters as [`walk`].
fn known_from_viewer(
    tx: &dyn ReadTx,
    w: &Walk,
    viewer: UserId,
    owner: UserId,
    page: &PageRequest,
    limit: usize,
    now: Timestamp,
) -> Result<Page<UserRow>> {
    let before = match &page.cursor {
        Some(c) => Some(decode_cursor(c, w.list, w.owner_key)?),
        None => None,
    };
    // (seq of the follower's edge to the owner, follower), newest first.
    let mut candidates: Vec<(u64, UserId)> = Vec::new();
    let mut after_viewer_edge = None;
    loop {
        let batch = tx.edge_keys(
            EdgeKind::Follow,
            Anchor::From(viewer),
            after_viewer_edge,
            crate::graph::edges::SCAN_BATCH,
        )?;
        after_viewer_edge = batch.last().map(|&(seq, _)| seq);
        let ids: Vec<UserId> = batch
            .iter()
            .map(|&(_, id)| id)
            .filter(|id| *id != owner)
            .collect();
        candidates.extend(
            tx.edges_into(EdgeKind::Follow, &ids, owner)?
                .into_iter()
                .filter(|e| before.is_none_or(|b| e.seq < b))
                .map(|e| (e.seq, e.from)),
        );
        if batch.len() < crate::graph::edges::SCAN_BATCH {
            break;
        }
    }
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let mut rows: Vec<(u64, UserRow)> = Vec::with_capacity(limit + 1);
    for chunk in candidates.chunks(limit + 1) {
        let ids: Vec<UserId> = chunk.iter().map(|(_, id)| *id).collect();
        let users = by_id(tx.users(&ids)?);
        let rel = edges_by_other(tx, viewer, &ids)?;
        for (seq, id) in chunk {
            let Some(user) = users.get(id) else {
                continue;
            };
            let edges = rel.get(id).map(Vec::as_slice).unwrap_or_default();
            if !shows_row(Some(viewer), user, edges) {
                continue;
            }
            rows.push((
                *seq,
                UserRow {
                    user: user.summary(),
                    relationship: Some(Relationship::from_edges(viewer, *id, edges, now)),
                },
            ));
            if rows.len() > limit {
                break;
            }
        }
        if rows.len() > limit {
            break;
        }
    }
    Ok(finish_page(w, rows, limit))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Followers,
    Following,
    Known,
}

impl Kinfolk {
    /// The users who follow `user`, newest first, each with the viewer's
    /// relationship. Visible to the owner always; to others as the owner's
    /// `followers_visibility` says. Rows of deactivated users and of users
    /// blocking or blocked by the viewer are left out.
    ///
    /// # Errors
    /// `Forbidden` when the list is not visible to the viewer; `NotFound` for
    /// a missing, deactivated or viewer-blocking `user`; `Validation` for a
    /// limit outside 1–100 or a malformed or foreign cursor;
    /// `Unauthenticated`, `Deactivated` for a bad viewer.
    pub async fn followers(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<UserRow>> {
        let span = tracing::info_span!("followers", viewer = ?viewer.map(|v| v.to_string()), target = %user);
        self.list(viewer, user, page, Which::Followers)
            .instrument(span)
            .metered("followers")
            .await
    }

    /// The users `user` follows, newest first; same rules as
    /// [`Kinfolk::followers`] under `following_visibility`.
    ///
    /// # Errors
    /// As [`Kinfolk::followers`].
    pub async fn following(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<UserRow>> {
        let span = tracing::info_span!("following", viewer = ?viewer.map(|v| v.to_string()), target = %user);
        self.list(viewer, user, page, Which::Following)
            .instrument(span)
            .metered("following")
            .await
    }

    /// The followers of `user` whom the viewer follows ("followed by people
    /// you know"), newest first; same rules as [`Kinfolk::followers`]. An
    /// anonymous viewer knows no one and gets an empty page.
    ///
    /// # Errors
    /// As [`Kinfolk::followers`].
    pub async fn known_followers(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<UserRow>> {
        let span = tracing::info_span!("known_followers", viewer = ?viewer.map(|v| v.to_string()), target = %user);
        self.list(viewer, user, page, Which::Known)
            .instrument(span)
            .metered("known_followers")
            .await
    }

    async fn list(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: PageRequest,
        which: Which,
    ) -> Result<Page<UserRow>> {
        let limit = check_limit(page.limit, MAX_LIST_LIMIT)?;
        let now = self.now()?;
        self.rd(move |tx| {
            let viewer_user = check_viewer(tx, viewer)?;
            let side = match which {
                Which::Following => ListSide::Following,
                Which::Followers | Which::Known => ListSide::Followers,
            };
            let owner = visible_list(tx, viewer, user, side)?;
            let (kind, anchor, list) = match which {
                Which::Followers => (EdgeKind::Follow, Anchor::To(user), ListKind::Followers),
                Which::Following => (EdgeKind::Follow, Anchor::From(user), ListKind::Following),
                Which::Known => (EdgeKind::Follow, Anchor::To(user), ListKind::KnownFollowers),
            };
            let owner_key = crate::page::owner_key(&[
                &user.to_bytes(),
                &viewer.map(|v| v.to_bytes()).unwrap_or_default(),
            ]);
            if which == Which::Known && viewer.is_none() {
                // Validate the cursor all the same, then answer with nothing.
                if let Some(c) = &page.cursor {
                    decode_cursor(c, list, owner_key)?;
                }
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
            // Known followers of an owner with more followers than the
            // viewer follows people: walked from the viewer's side.
            let from_viewer = match (which, &viewer_user) {
                (Which::Known, Some(v)) if v.counts.following < owner.counts.followers => {
                    Some(v.id)
                }
                _ => None,
            };
            let w = Walk {
                kind,
                anchor,
                viewer,
                viewer_user,
                only_followed_by_viewer: which == Which::Known,
                list,
                owner_key,
            };
            if let Some(v) = from_viewer {
                return known_from_viewer(tx, &w, v, user, &page, limit, now);
            }
            walk(tx, &w, &page, limit, now)
        })
        .await
    }
    /// The actor's pending incoming follow requests, newest first.
    ///
    /// # Errors
    /// `Validation` for a bad limit or cursor; `Unauthenticated`, `Deactivated`.
    pub async fn follow_requests(&self, actor: UserId, page: PageRequest) -> Result<Page<UserRow>> {
        let span = tracing::info_span!("follow_requests", actor = %actor);
        let limit = check_limit(page.limit, MAX_LIST_LIMIT)?;
        let now = self.now()?;
        self.rd(move |tx| {
            let me = active_actor(tx, actor)?;
            walk(
                tx,
                &Walk {
                    kind: EdgeKind::Request,
                    anchor: Anchor::To(actor),
                    viewer: Some(actor),
                    viewer_user: Some(me),
                    only_followed_by_viewer: false,
                    list: ListKind::FollowRequests,
                    owner_key: actor.to_bytes(),
                },
                &page,
                limit,
                now,
            )
        })
        .instrument(span)
        .metered("follow_requests")
        .await
    }
}
