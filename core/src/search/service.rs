//! User search (SPEC §8): keeping the index in step with the store, and
//! answering queries with scope and visibility checked against the store.

use crate::meter::MeterExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::graph::edges::edges_by_other;
use crate::graph::{Anchor, EdgeKind, Relationship};
use crate::id::UserId;
use crate::page::{
    ListKind, MAX_SEARCH_LIMIT, Page, PageRequest, check_limit, decode_cursor, encode_cursor,
    owner_key,
};
use crate::profile::{User, UserSummary};
use crate::rooms::service::may_add;
use crate::search::{
    Boosts, IndexBatch, MatchTier, SearchDoc, SearchHit, SearchIndex, SearchQuery, SearchScope,
};
use crate::service::Kinfolk;
use crate::service::check_viewer;
use crate::store::ReadTx;
use crate::visibility::{ListSide, in_search_scope, shows_row, visible_list};

/// One search hit: who, how they matched, and the viewer's relationship.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The user.
    pub user: UserSummary,
    /// How the user matched.
    pub tier: MatchTier,
    /// The viewer's relationship to them (absent for anonymous viewers).
    pub relationship: Option<Relationship>,
}

/// Feed events read per catch-up step.
const SYNC_BATCH: usize = 1000;
/// Most relationship boosts gathered for the mention scope, per direction.
const MAX_BOOSTS: usize = 10_000;

fn doc(u: &User) -> SearchDoc {
    SearchDoc {
        id: u.id,
        username: u.username.as_str().to_string(),
        name: u.name.as_str().to_string(),
        followers_count: u.counts.followers,
    }
}

fn no_index() -> Error {
    Error::Forbidden {
        reason: "search is not enabled on this service",
    }
}

impl Kinfolk {
    fn index(&self) -> Result<&dyn SearchIndex> {
        self.inner.search.as_deref().ok_or_else(no_index)
    }

    /// Catches the index up on open: a full rebuild when it has applied
    /// nothing yet, or claims a feed position the store has not reached (the
    /// store lost commits the index had seen — possible only with a store
    /// opened in a non-durable mode; the store would reuse those sequences
    /// for other events), otherwise from its last applied feed sequence.
    pub(crate) async fn open_search(&self) -> Result<()> {
        let applied = self.index()?.applied_seq().await?;
        let last = self.rd(|tx| tx.last_seq()).await?;
        if applied == 0 || applied > last {
            self.rebuild_search_index().await
        } else {
            self.sync_search().await
        }
    }

    /// Applies every feed event the index has not seen. Idempotent; runs
    /// under a lock so an older state of a user never overwrites a newer one.
    pub(crate) async fn sync_search(&self) -> Result<()> {
        let index = self.index()?;
        let _guard = self.inner.search_sync.lock().await;
        loop {
            let after = index.applied_seq().await?;
            // The batch may reflect commits the store has not made durable
            // yet; the index must not persist them before the store does.
            let batch = self
                .rd_durable(move |tx| {
                    let events = tx.changes_since(after, SYNC_BATCH)?;
                    let Some(last) = events.last().map(|e| e.seq) else {
                        return Ok(None);
                    };
                    let mut touched: Vec<UserId> = events
                        .iter()
                        .flat_map(|e| e.change.users_touched())
                        .collect();
                    touched.sort_unstable();
                    touched.dedup();
                    let users: HashMap<UserId, User> =
                        tx.users(&touched)?.into_iter().map(|u| (u.id, u)).collect();
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
                    Ok(Some(batch))
                })
                .await?;
            match batch {
                Some(b) => index.apply(b).await?,
                None => return Ok(()),
            }
        }
    }

    /// Rebuilds the search index from the store: clears it, indexes every
    /// active user, and records the feed position the rebuild reflects.
    ///
    /// # Errors
    /// `Forbidden` without an index; `Storage`.
    pub async fn rebuild_search_index(&self) -> Result<()> {
        let span = tracing::info_span!("rebuild_search_index");
        async move {
            let index = self.index()?;
            let _guard = self.inner.search_sync.lock().await;
            index.clear().await?;
            // The position first: events after it are re-applied by the next
            // sync, which is harmless (apply is idempotent).
            let upto = self.rd(|tx| tx.last_seq()).await?;
            let mut after: Option<UserId> = None;
            loop {
                let users = self.rd(move |tx| tx.users_after(after, SYNC_BATCH)).await?;
                let Some(last) = users.last().map(|u| u.id) else {
                    break;
                };
                after = Some(last);
                index
                    .apply(IndexBatch {
                        upserts: users.iter().filter(|u| u.is_active()).map(doc).collect(),
                        removals: Vec::new(),
                        upto_seq: 0,
                    })
                    .await?;
            }
            // Until this batch the index claims no position (a crash before it
            // means a rebuild on open); the documents it claims to reflect
            // must be durable in the store first.
            self.inner.store.await_durable().await?;
            index
                .apply(IndexBatch {
                    upto_seq: upto,
                    ..Default::default()
                })
                .await?;
            index.refresh().await
        }
        .instrument(span)
        .metered("rebuild_search_index")
        .await
    }

    /// Makes every committed change searchable now (otherwise within 1 s).
    ///
    /// # Errors
    /// `Forbidden` without an index; `Storage`.
    pub async fn refresh_search(&self) -> Result<()> {
        self.sync_search().await?;
        self.index()?.refresh().await
    }

    /// Searches users by username and display name (SPEC §8). The query is
    /// plain text: 1–100 characters after trimming, a leading `@` ignored;
    /// nothing in it is syntax. Results are ranked: exact username, username
    /// prefix, name-word prefix, one-typo match; within a tier by
    /// relationship (mention scope), then followers_count, then id. Users
    /// who are deactivated, blocked by or blocking the viewer are never
    /// returned; the scope adds its own rules (see [`SearchScope`]). Limit
    /// 1–50 (default 20).
    ///
    /// # Errors
    /// `Validation` (`query`, `limit`, `cursor`); `Unauthenticated` when the
    /// scope needs a viewer (mention, room invite) and there is none;
    /// `Forbidden` for a room the viewer may not add members to or a list the
    /// viewer may not see; `NotFound` for a missing room or list owner;
    /// `Forbidden` when the service has no search index.
    pub async fn search_users(
        &self,
        viewer: Option<UserId>,
        query: &str,
        scope: SearchScope,
        page: PageRequest,
    ) -> Result<Page<SearchResult>> {
        let span = tracing::info_span!("search_users", viewer = ?viewer.map(|v| v.to_string()), scope = ?scope);
        async move {
            let index = self.index()?;
            let q = SearchQuery::parse(query)?;
            let limit = check_limit(page.limit, MAX_SEARCH_LIMIT)?;
            let scope_bytes = serde_json::to_vec(&scope).map_err(Error::storage)?;
            let key = owner_key(&[
                &viewer.map(|v| v.to_bytes()).unwrap_or_default(),
                &scope_bytes,
                q.folded().as_bytes(),
            ]);
            let offset = match &page.cursor {
                Some(c) => usize::try_from(decode_cursor(c, ListKind::Search, key)?)
                    .map_err(|_| Error::validation("cursor", "malformed cursor"))?,
                None => 0,
            };
            let now = self.now()?;
            let boosts = self.rd(move |tx| prepare(tx, viewer, scope)).await?;
            // The offset comes from the client (a cursor is not signed): a
            // forged one may be near `usize::MAX`, so no arithmetic on it
            // may overflow. Past the last hit it gives an empty last page.
            let want = offset.saturating_add(limit).saturating_add(1);
            let mut k = want.max(32).saturating_mul(2);
            loop {
                let hits = index.top(&q, &boosts, k).await?;
                let exhausted = hits.len() < k;
                let kept = self
                    .rd(move |tx| filter(tx, viewer, scope, hits.clone(), now))
                    .await?;
                if kept.len() >= want || exhausted {
                    let more = kept.len() > offset.saturating_add(limit);
                    let items: Vec<SearchResult> =
                        kept.into_iter().skip(offset).take(limit).collect();
                    let next_cursor =
                        more.then(|| encode_cursor(ListKind::Search, key, (offset + limit) as u64));
                    return Ok(Page { items, next_cursor });
                }
                k = k.saturating_mul(4);
            }
        }
        .instrument(span)
        .metered("search_users")
        .await
    }
}

/// Checks the viewer and the scope's preconditions; returns the ranking boosts.
fn prepare(tx: &dyn ReadTx, viewer: Option<UserId>, scope: SearchScope) -> Result<Boosts> {
    check_viewer(tx, viewer)?;
    let mut boosts = Boosts::new();
    match scope {
        SearchScope::Discovery => {}
        SearchScope::Mention => {
            let v = viewer.ok_or(Error::Unauthenticated)?;
            for e in tx.edges(EdgeKind::Follow, Anchor::To(v), None, MAX_BOOSTS)? {
                boosts.insert(e.from, 1);
            }
            for e in tx.edges(EdgeKind::Follow, Anchor::From(v), None, MAX_BOOSTS)? {
                boosts.insert(e.to, 2);
            }
        }
        SearchScope::RoomInvite { room } => {
            let v = viewer.ok_or(Error::Unauthenticated)?;
            let r = tx.room(room)?.ok_or(Error::NotFound { what: "room" })?;
            let m = tx.membership(room, v)?;
            match m {
                Some(m) if may_add(&r, m.role) => {}
                Some(_) => {
                    return Err(Error::Forbidden {
                        reason: "you may not add members to this room",
                    });
                }
                None => return Err(Error::NotFound { what: "room" }),
            }
        }
        SearchScope::Following { of } | SearchScope::Followers { of } => {
            let side = match scope {
                SearchScope::Following { .. } => ListSide::Following,
                _ => ListSide::Followers,
            };
            visible_list(tx, viewer, of, side)?;
        }
    }
    Ok(boosts)
}

/// Keeps the hits the viewer may see in this scope, checked against the store now.
fn filter(
    tx: &dyn ReadTx,
    viewer: Option<UserId>,
    scope: SearchScope,
    hits: Vec<SearchHit>,
    now: crate::clock::Timestamp,
) -> Result<Vec<SearchResult>> {
    let ids: Vec<UserId> = hits.iter().map(|h| h.id).collect();
    let users = tx.users(&ids)?;
    let rel = match viewer {
        Some(v) => edges_by_other(tx, v, &ids)?,
        None => Default::default(),
    };
    let members: HashSet<UserId> = match scope {
        SearchScope::RoomInvite { room } => tx
            .memberships_in(room, &ids)?
            .into_iter()
            .map(|m| m.user)
            .collect(),
        _ => HashSet::new(),
    };
    let in_list: HashSet<UserId> = match scope {
        SearchScope::Following { of } => tx
            .edges_between(of, &ids)?
            .into_iter()
            .filter(|e| e.kind == EdgeKind::Follow && e.from == of)
            .map(|e| e.to)
            .collect(),
        SearchScope::Followers { of } => tx
            .edges_between(of, &ids)?
            .into_iter()
            .filter(|e| e.kind == EdgeKind::Follow && e.to == of)
            .map(|e| e.from)
            .collect(),
        _ => HashSet::new(),
    };
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let Some(u) = users.iter().find(|u| u.id == h.id) else {
            continue;
        };
        let edges = rel.get(&h.id).map(Vec::as_slice).unwrap_or_default();
        if !shows_row(viewer, u, edges) {
            continue;
        }
        let relationship = viewer.map(|v| {
            if v == h.id {
                Relationship::default()
            } else {
                Relationship::from_edges(v, h.id, edges, now)
            }
        });
        let keep = in_search_scope(
            scope,
            viewer,
            u,
            relationship,
            members.contains(&h.id),
            in_list.contains(&h.id),
        );
        if keep {
            out.push(SearchResult {
                user: u.summary(),
                tier: h.tier,
                relationship,
            });
        }
    }
    Ok(out)
}
