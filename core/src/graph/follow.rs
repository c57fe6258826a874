//! Follows, follow requests and relationships (SPEC §5).

use crate::meter::MeterExt;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::edges::{self, probed_by_other};
use crate::graph::{Edge, EdgeKind, FollowAction, FollowOutcome, Relationship};
use crate::id::UserId;
use crate::profile::User;
use crate::service::Kinfolk;
use crate::service::active_actor;
use crate::store::ReadTx;
use crate::visibility::{HiddenBy, sees};
use std::collections::HashMap;

/// One entry of [`Kinfolk::relationships`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationshipEntry {
    /// The other user.
    pub user: UserId,
    /// The viewer's relationship to them (all false for users the viewer
    /// cannot see: missing, deactivated, or blocking the viewer).
    pub relationship: Relationship,
}

/// Takes the record of `id` out of a [`ReadTx::users`](crate::store::ReadTx::users) answer.
fn take_user(users: &mut Vec<User>, id: UserId) -> Option<User> {
    let at = users.iter().position(|u| u.id == id)?;
    Some(users.swap_remove(at))
}

/// Most ids [`Kinfolk::relationships`] takes in one call.
pub const MAX_RELATIONSHIP_IDS: usize = 100;

/// Up to this many ids, [`Kinfolk::relationships`] is a short read (a few
/// point lookups; ADR 0012) that a store may run on the caller's thread.
const SHORT_RELATIONSHIP_IDS: usize = 4;

impl Kinfolk {
    /// Follows or unfollows `target`. `action: None` flips the state
    /// (following or requested → removed; otherwise follow); `Some(Follow)`
    /// and `Some(Unfollow)` force it and are idempotent. Following a private
    /// account creates a pending request instead; unfollowing withdraws one.
    /// Returns the new relationship and whether anything changed.
    ///
    /// Unfollowing (and withdrawing a request) works also when the target
    /// has deactivated their account: it only removes the actor's own edge.
    ///
    /// **Following cap.** Approved follows *plus pending outgoing requests*
    /// may not pass [`Config::max_following`](crate::Config): a request
    /// takes a slot when it is sent, so approving it later never takes the
    /// requester past the cap. Follows of (and requests to) deactivated
    /// users keep their slot — the edges are kept so that reactivation
    /// restores everything, and they still count in `following_count` —
    /// until the actor removes them, which this command allows.
    ///
    /// # Errors
    /// `CannotFollowSelf`; `NotFound` for an unknown target, for following a
    /// deactivated one, and for a target who blocks the actor (never
    /// revealed as a block); `Blocked` when the actor blocks the target;
    /// `LimitExceeded` at the cap; `Unauthenticated`, `Deactivated`.
    pub async fn toggle_follow(
        &self,
        actor: UserId,
        target: UserId,
        action: Option<FollowAction>,
    ) -> Result<FollowOutcome> {
        let span = tracing::info_span!("toggle_follow", actor = %actor, target = %target);
        let now = self.now()?;
        let cap = self.inner.config.max_following;
        self.wr(move |tx| {
            // Both users in one read and every edge between them in another:
            // the rules below need nothing else, and the relationship
            // returned is these edges with the command's change applied
            // (issue 18: a toggle's cost on the single writer is its port
            // calls — 14 before, 5 or 6 now).
            let ids: &[UserId] = if actor == target {
                &[actor]
            } else {
                &[actor, target]
            };
            let mut users = tx.users(ids)?;
            let me = take_user(&mut users, actor).ok_or(Error::Unauthenticated)?;
            if !me.is_active() {
                return Err(Error::Deactivated);
            }
            if actor == target {
                return Err(Error::CannotFollowSelf);
            }
            let other = take_user(&mut users, target).ok_or_else(Error::user_not_found)?;
            let mut between = tx.edges_between(actor, &[target])?;
            let has = |between: &[Edge], kind: EdgeKind, from: UserId, to: UserId| {
                between
                    .iter()
                    .any(|e| e.kind == kind && e.from == from && e.to == to)
            };
            // The target must exist and not block the actor (a block reads
            // as a missing user), but may be deactivated: the actor can
            // always undo their own follow of a user who left (issue 14
            // item 2); following one is refused below.
            if has(&between, EdgeKind::Block, target, actor) {
                return Err(Error::user_not_found());
            }
            let following = has(&between, EdgeKind::Follow, actor, target);
            let requested = has(&between, EdgeKind::Request, actor, target);
            let follow = match action {
                Some(FollowAction::Follow) => true,
                Some(FollowAction::Unfollow) => false,
                None => !(following || requested),
            };
            // A deactivated target cannot be followed, but the actor may
            // always remove their own edge to it (issue 14 item 2).
            if follow && !other.is_active() {
                return Err(Error::user_not_found());
            }
            let changed = if follow {
                if following || requested {
                    false
                } else {
                    if has(&between, EdgeKind::Block, actor, target) {
                        return Err(Error::Blocked);
                    }
                    edges::check_following_cap(tx, &me, cap)?;
                    let edge = if other.settings.privacy.private_account {
                        edges::add_request_of(tx, actor, other, now)?
                    } else {
                        edges::add_follow_of(
                            tx,
                            me,
                            other,
                            now,
                            Change::Followed {
                                follower: actor,
                                followee: target,
                            },
                        )?
                    };
                    between.push(edge);
                    true
                }
            } else {
                // At most one of the two is removed, the follow first (as
                // before: an actor holding both keeps the request).
                let removed = if following {
                    edges::remove_follow_of(tx, me, other)?
                } else if requested {
                    edges::remove_request_of(tx, actor, other)?
                } else {
                    None
                };
                match removed {
                    Some(gone) => {
                        tx.append_change(
                            now,
                            if gone.kind == EdgeKind::Follow {
                                Change::Unfollowed {
                                    follower: actor,
                                    followee: target,
                                }
                            } else {
                                Change::FollowRequestCancelled {
                                    requester: actor,
                                    target,
                                }
                            },
                        )?;
                        between.retain(|e| {
                            !(e.kind == gone.kind && e.from == gone.from && e.to == gone.to)
                        });
                        true
                    }
                    None => false,
                }
            };
            Ok(FollowOutcome {
                relationship: Relationship::from_edges(actor, target, &between, now),
                changed,
            })
        })
        .instrument(span)
        .metered("toggle_follow")
        .await
    }

    /// Removes `follower` from the actor's followers (and drops a pending
    /// request from them). Idempotent; reports whether anything changed.
    ///
    /// # Errors
    /// `NotFound` for an unknown `follower`; `Unauthenticated`, `Deactivated`.
    pub async fn remove_follower(&self, actor: UserId, follower: UserId) -> Result<bool> {
        let span = tracing::info_span!("remove_follower", actor = %actor, target = %follower);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            tx.user(follower)?.ok_or_else(Error::user_not_found)?;
            let mut changed = false;
            if edges::remove_follow(tx, follower, actor)? {
                tx.append_change(
                    now,
                    Change::FollowerRemoved {
                        user: actor,
                        follower,
                    },
                )?;
                changed = true;
            }
            if edges::remove_request(tx, follower, actor)? {
                tx.append_change(
                    now,
                    Change::FollowRejected {
                        requester: follower,
                        target: actor,
                    },
                )?;
                changed = true;
            }
            Ok(changed)
        })
        .instrument(span)
        .metered("remove_follower")
        .await
    }

    /// Approves the pending follow request of `requester`: it becomes a
    /// follow and both counters move. Returns the actor's relationship to the
    /// requester.
    ///
    /// # Errors
    /// `NotFound` (`follow_request`) when there is no such pending request;
    /// `Unauthenticated`, `Deactivated`.
    pub async fn approve_follow_request(
        &self,
        actor: UserId,
        requester: UserId,
    ) -> Result<Relationship> {
        let span =
            tracing::info_span!("approve_follow_request", actor = %actor, target = %requester);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if !edges::approve_request(tx, requester, actor, now)? {
                return Err(Error::NotFound {
                    what: "follow_request",
                });
            }
            edges::relationship(tx, actor, requester, now)
        })
        .instrument(span)
        .metered("approve_follow_request")
        .await
    }

    /// Rejects the pending follow request of `requester`.
    ///
    /// # Errors
    /// `NotFound` (`follow_request`) when there is no such pending request;
    /// `Unauthenticated`, `Deactivated`.
    pub async fn reject_follow_request(
        &self,
        actor: UserId,
        requester: UserId,
    ) -> Result<Relationship> {
        let span =
            tracing::info_span!("reject_follow_request", actor = %actor, target = %requester);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if !edges::remove_request(tx, requester, actor)? {
                return Err(Error::NotFound {
                    what: "follow_request",
                });
            }
            tx.append_change(
                now,
                Change::FollowRejected {
                    requester,
                    target: actor,
                },
            )?;
            edges::relationship(tx, actor, requester, now)
        })
        .instrument(span)
        .metered("reject_follow_request")
        .await
    }

    /// The viewer's relationship to each of up to 100 users, in the order
    /// asked. Users the viewer cannot see get an all-false relationship.
    ///
    /// # Errors
    /// `Validation` (`ids`) for more than 100 ids; `Unauthenticated`, `Deactivated`.
    pub async fn relationships(
        &self,
        viewer: UserId,
        ids: &[UserId],
    ) -> Result<Vec<RelationshipEntry>> {
        let span = tracing::info_span!("relationships", actor = %viewer);
        if ids.len() > MAX_RELATIONSHIP_IDS {
            return Err(Error::validation("ids", "at most 100 ids"));
        }
        let ids = ids.to_vec();
        let ids_len = ids.len();
        let now = self.now()?;
        let job = move |tx: &dyn ReadTx| {
            let me = active_actor(tx, viewer)?;
            let others: Vec<UserId> = ids.iter().copied().filter(|id| *id != viewer).collect();
            let users: HashMap<UserId, User> =
                tx.users(&others)?.into_iter().map(|u| (u.id, u)).collect();
            let edges = probed_by_other(tx, &me, &others, &users)?;
            let visible = |id: &UserId| {
                users.get(id).is_some_and(|u| {
                    let between = edges.get(id).map(Vec::as_slice).unwrap_or_default();
                    sees(Some(viewer), u, between, HiddenBy::TheirBlock)
                })
            };
            Ok(ids
                .iter()
                .map(|id| RelationshipEntry {
                    user: *id,
                    relationship: if *id != viewer && visible(id) {
                        Relationship::from_edges(
                            viewer,
                            *id,
                            edges.get(id).into_iter().flatten(),
                            now,
                        )
                    } else {
                        Relationship::default()
                    },
                })
                .collect())
        };
        // A few ids are a handful of point lookups: a short read (ADR 0012).
        if ids_len <= SHORT_RELATIONSHIP_IDS {
            self.rd_short(job)
                .instrument(span)
                .metered("relationships")
                .await
        } else {
            self.rd(job).instrument(span).metered("relationships").await
        }
    }
}
