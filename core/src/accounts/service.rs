//! Account actions (SPEC §9): deactivate, reactivate, delete, export.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::accounts::Export;
use crate::error::Result;
use crate::feed::Change;
use crate::graph::edges::{self, all_edges};
use crate::graph::{Anchor, EdgeKind};
use crate::id::UserId;
use crate::profile::AccountStatus;
use crate::rooms::service::drop_member;
use crate::service::{Kinfolk, any_actor};

impl Kinfolk {
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
        .metered("deactivate")
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
                edges::remove_follow(tx, actor, e.to)?;
                tx.append_change(
                    now,
                    Change::Unfollowed {
                        follower: actor,
                        followee: e.to,
                    },
                )?;
            }
            for e in all_edges(tx, EdgeKind::Follow, Anchor::To(actor))? {
                edges::remove_follow(tx, e.from, actor)?;
                tx.append_change(
                    now,
                    Change::Unfollowed {
                        follower: e.from,
                        followee: actor,
                    },
                )?;
            }
            for e in all_edges(tx, EdgeKind::Request, Anchor::From(actor))? {
                edges::remove_request(tx, actor, e.to)?;
            }
            for kind in [EdgeKind::Request, EdgeKind::Block, EdgeKind::Mute] {
                for anchor in [Anchor::From(actor), Anchor::To(actor)] {
                    for e in all_edges(tx, kind, anchor)? {
                        tx.delete_edge(kind, e.from, e.to)?;
                    }
                }
            }
            loop {
                let ms = tx.memberships_of(actor, None, edges::SCAN_BATCH)?;
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
        .metered("delete_account")
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
                let batch = tx.memberships_of(actor, before, edges::SCAN_BATCH)?;
                let done = batch.len() < edges::SCAN_BATCH;
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
                    .filter(|c| !crate::profile::is_skeleton_key(&c.folded))
                    .collect(),
                connected_accounts: tx.connected_accounts_of(actor)?,
                user,
                outgoing,
                incoming,
                memberships,
            })
        })
        .instrument(span)
        .metered("export")
        .await
    }
}
