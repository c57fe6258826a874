//! User search (SPEC §8): keeping the index in step with the store, and
//! answering queries with scope and visibility checked against the store.

use crate::meter::MeterExt;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::graph::edges::edges_by_other;
use crate::graph::{Anchor, EdgeKind, Relationship};
use crate::id::UserId;
use crate::page::{
    ListKind, MAX_SEARCH_LIMIT, Page, PageRequest, check_limit, decode_cursor, encode_cursor,
    owner_key,
};
use crate::profile::UserSummary;
use crate::rooms::service::may_add;
use crate::search::{
    Boosts, MatchTier, RebuildProgress, SearchHit, SearchIndex, SearchQuery, SearchScope,
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

/// Most relationship boosts gathered for the mention scope, per direction.
const MAX_BOOSTS: usize = 10_000;

fn no_index() -> Error {
    Error::Forbidden {
        reason: "search is not enabled on this service",
    }
}

impl Kinfolk {
    fn index(&self) -> Result<&dyn SearchIndex> {
        self.inner.search.as_deref().ok_or_else(no_index)
    }

    fn search_sync(&self) -> Result<&crate::search::follow::SearchSync> {
        self.inner.search_sync.as_deref().ok_or_else(no_index)
    }

    /// Applies every feed event the index has not seen, under the lock the
    /// follower takes too (so an older state of a user never overwrites a
    /// newer one); on a service built with `defer_search_catch_up`, the
    /// first call catches the index up as `build` would.
    pub(crate) async fn sync_search(&self) -> Result<()> {
        self.search_sync()?.catch_up().await
    }

    /// Rebuilds the search index from the store: indexes every active user
    /// and records the feed position the rebuild reflects, then applies the
    /// feed after it. Continues an interrupted rebuild the index recorded
    /// (see [`Self::rebuild_search_with`]); otherwise clears the index first.
    ///
    /// # Errors
    /// `Forbidden` without an index; `Storage`.
    pub async fn rebuild_search_index(&self) -> Result<()> {
        let span = tracing::info_span!("rebuild_search_index");
        async move { self.search_sync()?.rebuild(None).await }
            .instrument(span)
            .metered("rebuild_search_index")
            .await
    }

    /// [`Self::rebuild_search_index`], reporting progress to `progress`
    /// (on the caller's task, after every batch of 1,000 users, and once
    /// more when finished; `total` counts the users first). The index
    /// records where the rebuild stands with the documents it commits, so a
    /// rebuild stopped half-way (a crash, a killed `kinfolk reindex`)
    /// continues from there on the next rebuild, or when a service opens the
    /// index ([`RebuildProgress::resumed`]). Searches meanwhile see a partial
    /// index.
    ///
    /// ```
    /// # async fn demo(svc: kinfolk::Kinfolk) -> kinfolk::Result<()> {
    /// svc.rebuild_search_with(|p| eprintln!("{}/{} users", p.done, p.total)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Forbidden` without an index; `Storage`.
    pub async fn rebuild_search_with(
        &self,
        progress: impl Fn(RebuildProgress) + Send + Sync,
    ) -> Result<()> {
        let span = tracing::info_span!("rebuild_search_index");
        async move { self.search_sync()?.rebuild(Some(&progress)).await }
            .instrument(span)
            .await
    }

    /// Makes every change committed before the call searchable now: applies
    /// the feed up to it and refreshes the index. Without it, a change is
    /// applied in the background after its write returns and searchable
    /// within about a second (the index's follower, ADR 0010).
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
