//! Bulk import: many registrations or follows in one transaction per batch,
//! for migrations and benchmark datasets. Same rules as the single commands,
//! all-or-nothing per batch.

use std::collections::HashMap;
use tracing::Instrument;

use super::Kinfolk;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::follow::{Edge, EdgeKind};
use crate::id::UserId;
use crate::settings::Settings;
use crate::user::{AccountStatus, NewUser, User, UsernameClaim};

/// Most rows one import batch takes.
pub const MAX_IMPORT_BATCH: usize = 50_000;

impl Kinfolk {
    /// Registers many users in one transaction and returns their ids in
    /// order. Every rule of [`Kinfolk::register`] applies; the first refused
    /// row refuses the whole batch (nothing is stored).
    ///
    /// # Errors
    /// `Validation` (`batch`) for more than 50,000 rows; `UsernameReserved`;
    /// `UsernameTaken` (also for two rows of the batch differing only in case).
    pub async fn import_users(&self, batch: Vec<NewUser>) -> Result<Vec<UserId>> {
        let span = tracing::info_span!("import_users", rows = batch.len());
        if batch.len() > MAX_IMPORT_BATCH {
            return Err(Error::validation("batch", "at most 50,000 rows per batch"));
        }
        for nu in &batch {
            self.check_reserved(&nu.username)?;
        }
        let now = self.now();
        self.wr(move |tx| {
            let mut ids = Vec::with_capacity(batch.len());
            for nu in batch {
                let folded = nu.username.folded();
                if let Some(claim) = tx.username_claim(&folded)? {
                    if claim.held_until.is_none_or(|until| until > now) {
                        return Err(Error::UsernameTaken);
                    }
                    tx.delete_username_claim(&folded)?;
                }
                let id = UserId::new();
                tx.insert_username_claim(&UsernameClaim {
                    folded,
                    user: id,
                    username: nu.username.clone(),
                    held_until: None,
                })?;
                tx.put_user(&User {
                    id,
                    username: nu.username,
                    name: nu.name,
                    bio: Default::default(),
                    avatar_url: None,
                    social_links: Default::default(),
                    location: None,
                    email: nu.email,
                    status: AccountStatus::Active,
                    settings: Settings::default(),
                    counts: Default::default(),
                    created_at: now,
                    updated_at: now,
                })?;
                tx.append_change(now, Change::UserRegistered { user: id })?;
                ids.push(id);
            }
            Ok(ids)
        })
        .instrument(span)
        .await
    }

    /// Adds many approved follows `(follower, followee)` in one transaction,
    /// writing each touched user's counters once. Imported follows are
    /// approved also for private accounts (they were approved where they come
    /// from). A follow that exists already is skipped; returns how many were added.
    ///
    /// # Errors
    /// `Validation` (`batch`) for more than 50,000 rows; `CannotFollowSelf`;
    /// `NotFound` for an unknown or deactivated user; `Blocked` for a pair
    /// with a block in either direction; `LimitExceeded` when a follower
    /// would pass [`Config::max_following`](crate::Config). The whole batch
    /// is refused on the first bad row.
    pub async fn import_follows(&self, batch: Vec<(UserId, UserId)>) -> Result<u64> {
        let span = tracing::info_span!("import_follows", rows = batch.len());
        if batch.len() > MAX_IMPORT_BATCH {
            return Err(Error::validation("batch", "at most 50,000 rows per batch"));
        }
        let now = self.now();
        let cap = self.inner.config.max_following;
        self.wr(move |tx| {
            let mut touched: HashMap<UserId, User> = HashMap::new();
            let mut added = 0u64;
            for (from, to) in batch {
                if from == to {
                    return Err(Error::CannotFollowSelf);
                }
                for id in [from, to] {
                    if let std::collections::hash_map::Entry::Vacant(slot) = touched.entry(id) {
                        let u = tx.user(id)?.ok_or_else(Error::user_not_found)?;
                        if !u.is_active() {
                            return Err(Error::user_not_found());
                        }
                        slot.insert(u);
                    }
                }
                if tx.edge(EdgeKind::Follow, from, to)?.is_some() {
                    continue;
                }
                if tx.edge(EdgeKind::Block, from, to)?.is_some()
                    || tx.edge(EdgeKind::Block, to, from)?.is_some()
                {
                    return Err(Error::Blocked);
                }
                let f = touched
                    .get_mut(&from)
                    .ok_or_else(|| Error::corrupt("import cache"))?;
                if f.counts.following >= cap {
                    return Err(Error::LimitExceeded {
                        what: "following",
                        limit: cap,
                    });
                }
                f.counts.following += 1;
                touched
                    .get_mut(&to)
                    .ok_or_else(|| Error::corrupt("import cache"))?
                    .counts
                    .followers += 1;
                let seq = tx.append_change(
                    now,
                    Change::Followed {
                        follower: from,
                        followee: to,
                    },
                )?;
                tx.insert_edge(&Edge {
                    kind: EdgeKind::Follow,
                    from,
                    to,
                    since: now,
                    seq,
                    until: None,
                })?;
                added += 1;
            }
            // Each cached record is the user as read in this transaction plus
            // the counter deltas applied above.
            for u in touched.values() {
                tx.put_user(u)?;
            }
            Ok(added)
        })
        .instrument(span)
        .await
    }
}
