//! Account actions (SPEC §9): block, mute, deactivate, delete, export.

use tracing::Instrument;

use super::Kinfolk;
use super::rooms::drop_member;
use super::rules::{self, active_actor, all_edges, any_actor};
use crate::account::Export;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::follow::{Anchor, Edge, EdgeKind};
use crate::id::UserId;
use crate::user::AccountStatus;

impl Kinfolk {
    /// Blocks `target`: removes follows and follow requests in both
    /// directions (counters adjusted). Afterwards the target cannot follow the
    /// actor, sees the actor as missing, and the two never see each other in
    /// lists or search. Idempotent; reports whether anything changed.
    ///
    /// # Errors
    /// `Validation` (`target`) for blocking oneself; `NotFound` for an unknown
    /// user; `Unauthenticated`, `Deactivated`.
    pub async fn block(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("block", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if actor == target {
                return Err(Error::validation("target", "you cannot block yourself"));
            }
            tx.user(target)?.ok_or_else(Error::user_not_found)?;
            if tx.edge(EdgeKind::Block, actor, target)?.is_some() {
                return Ok(false);
            }
            rules::sever(tx, actor, target, now)?;
            let seq = tx.append_change(
                now,
                Change::Blocked {
                    blocker: actor,
                    blocked: target,
                },
            )?;
            tx.insert_edge(&Edge {
                kind: EdgeKind::Block,
                from: actor,
                to: target,
                since: now,
                seq,
                until: None,
            })?;
            Ok(true)
        })
        .instrument(span)
        .await
    }

    /// Lifts a block (follows removed by it are not restored). Idempotent.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`.
    pub async fn unblock(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("unblock", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if tx.delete_edge(EdgeKind::Block, actor, target)?.is_none() {
                return Ok(false);
            }
            tx.append_change(
                now,
                Change::Unblocked {
                    blocker: actor,
                    blocked: target,
                },
            )?;
            Ok(true)
        })
        .instrument(span)
        .await
    }

    /// Mutes `target`, optionally until a time (a timed mute ends by
    /// itself). Muting again replaces the end time. Shown in the
    /// relationship; muted users are left out of the actor's discovery search.
    ///
    /// # Errors
    /// `Validation` for muting oneself, an `until` not in the future or
    /// outside the supported time range (after `9999-12-31T23:59:59.999999999Z`,
    /// see [`crate::clock`]);
    /// `NotFound` for an unknown user; `Unauthenticated`, `Deactivated`.
    pub async fn mute(
        &self,
        actor: UserId,
        target: UserId,
        until: Option<Timestamp>,
    ) -> Result<bool> {
        let span = tracing::info_span!("mute", actor = %actor, target = %target);
        let now = self.now()?;
        if let Some(u) = until {
            crate::clock::check_time("until", u)?;
        }
        if until.is_some_and(|u| u <= now) {
            return Err(Error::validation("until", "must be in the future"));
        }
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if actor == target {
                return Err(Error::validation("target", "you cannot mute yourself"));
            }
            tx.user(target)?.ok_or_else(Error::user_not_found)?;
            if let Some(old) = tx.edge(EdgeKind::Mute, actor, target)? {
                if old.until == until && old.mute_active(now) {
                    return Ok(false);
                }
                tx.delete_edge(EdgeKind::Mute, actor, target)?;
            }
            let seq = tx.append_change(
                now,
                Change::Muted {
                    muter: actor,
                    muted: target,
                    until,
                },
            )?;
            tx.insert_edge(&Edge {
                kind: EdgeKind::Mute,
                from: actor,
                to: target,
                since: now,
                seq,
                until,
            })?;
            Ok(true)
        })
        .instrument(span)
        .await
    }

    /// Ends a mute. Idempotent; an expired timed mute counts as already ended.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`.
    pub async fn unmute(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("unmute", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let Some(old) = tx.delete_edge(EdgeKind::Mute, actor, target)? else {
                return Ok(false);
            };
            if !old.mute_active(now) {
                return Ok(false);
            }
            tx.append_change(
                now,
                Change::Unmuted {
                    muter: actor,
                    muted: target,
                },
            )?;
            Ok(true)
        })
        .instrument(span)
        .await
    }

    /// Deactivates the caller's account: it disappears from profiles, lists
    /// and search but keeps its data and edges. Idempotent.
    ///
    /// # Errors
    /// `Unauthenticated`.
    pub async fn deactivate(&self, actor: UserId) -> Result<bool> {
        self.set_status(actor, AccountStatus::Deactivated).await
    }

    /// Reactivates the caller's account, restoring everything. Idempotent.
    ///
    /// # Errors
    /// `Unauthenticated`.
    pub async fn reactivate(&self, actor: UserId) -> Result<bool> {
        self.set_status(actor, AccountStatus::Active).await
    }

    async fn set_status(&self, actor: UserId, status: AccountStatus) -> Result<bool> {
        let span = match status {
            AccountStatus::Active => tracing::info_span!("reactivate", actor = %actor),
            AccountStatus::Deactivated => tracing::info_span!("deactivate", actor = %actor),
        };
        let now = self.now()?;
        self.wr(move |tx| {
            let mut user = any_actor(tx, actor)?;
            if user.status == status {
                return Ok(false);
            }
            user.status = status;
            user.updated_at = now;
            tx.put_user(&user)?;
            let change = match status {
                AccountStatus::Active => Change::Reactivated { user: actor },
                AccountStatus::Deactivated => Change::Deactivated { user: actor },
            };
            tx.append_change(now, change)?;
            Ok(true)
        })
        .instrument(span)
        .await
    }

    /// Deletes the caller's account for good: the user, every edge in both
    /// directions (other users' counters adjusted), memberships (rooms where
    /// the user was the only owner pass to the longest-standing admin, else
    /// moderator, else member; an emptied room is deleted), connected
    /// accounts, usernames (freed at once) and the search entry.
    ///
    /// # Errors
    /// `Unauthenticated`.
    pub async fn delete_account(&self, actor: UserId) -> Result<()> {
        let span = tracing::info_span!("delete_account", actor = %actor);
        let now = self.now()?;
        self.wr(move |tx| {
            any_actor(tx, actor)?;
            for e in all_edges(tx, EdgeKind::Follow, Anchor::From(actor))? {
                rules::remove_follow(tx, actor, e.to)?;
                tx.append_change(
                    now,
                    Change::Unfollowed {
                        follower: actor,
                        followee: e.to,
                    },
                )?;
            }
            for e in all_edges(tx, EdgeKind::Follow, Anchor::To(actor))? {
                rules::remove_follow(tx, e.from, actor)?;
                tx.append_change(
                    now,
                    Change::Unfollowed {
                        follower: e.from,
                        followee: actor,
                    },
                )?;
            }
            for e in all_edges(tx, EdgeKind::Request, Anchor::From(actor))? {
                rules::remove_request(tx, actor, e.to)?;
            }
            for kind in [EdgeKind::Request, EdgeKind::Block, EdgeKind::Mute] {
                for anchor in [Anchor::From(actor), Anchor::To(actor)] {
                    for e in all_edges(tx, kind, anchor)? {
                        tx.delete_edge(kind, e.from, e.to)?;
                    }
                }
            }
            loop {
                let ms = tx.memberships_of(actor, None, rules::SCAN_BATCH)?;
                if ms.is_empty() {
                    break;
                }
                for m in ms {
                    if let Some(room) = tx.room(m.room)? {
                        drop_member(tx, &room, actor, now)?;
                    } else {
                        tx.delete_membership(m.room, actor)?;
                    }
                }
            }
            for a in tx.connected_accounts_of(actor)? {
                tx.delete_connected_account(&a.provider, &a.external_id)?;
            }
            for c in tx.username_claims_of(actor)? {
                tx.delete_username_claim(&c.folded)?;
            }
            tx.delete_user(actor)?;
            tx.append_change(now, Change::AccountDeleted { user: actor })?;
            Ok(())
        })
        .instrument(span)
        .await
    }

    /// Everything kinfolk holds about the caller, as one serialisable value.
    /// Allowed for a deactivated caller.
    ///
    /// # Errors
    /// `Unauthenticated`.
    pub async fn export(&self, actor: UserId) -> Result<Export> {
        let span = tracing::info_span!("export", actor = %actor);
        self.rd(move |tx| {
            let user = any_actor(tx, actor)?;
            let mut outgoing = Vec::new();
            for kind in EdgeKind::ALL {
                outgoing.extend(all_edges(tx, kind, Anchor::From(actor))?);
            }
            let mut incoming = Vec::new();
            for kind in [EdgeKind::Follow, EdgeKind::Request] {
                incoming.extend(all_edges(tx, kind, Anchor::To(actor))?);
            }
            let mut memberships = Vec::new();
            let mut before = None;
            loop {
                let batch = tx.memberships_of(actor, before, rules::SCAN_BATCH)?;
                let done = batch.len() < rules::SCAN_BATCH;
                before = batch.last().map(|m| m.seq);
                memberships.extend(batch);
                if done || before.is_none() {
                    break;
                }
            }
            Ok(Export {
                // Skeleton claims are derived from the names: left out.
                usernames: tx
                    .username_claims_of(actor)?
                    .into_iter()
                    .filter(|c| !crate::user::is_skeleton_key(&c.folded))
                    .collect(),
                connected_accounts: tx.connected_accounts_of(actor)?,
                user,
                outgoing,
                incoming,
                memberships,
            })
        })
        .instrument(span)
        .await
    }
}
