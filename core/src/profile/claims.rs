//! Username claims (SPEC §3): who holds a name and until when, the
//! case-folded claim and the skeleton claim of every name (look-alikes such
//! as `al1ce` / `A_LICE` / `alice` share one; `Config::unique_username_skeletons`),
//! moving a user to a new name with the old one held, and the migration of
//! stores written before skeleton claims existed.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::graph::edges;
use crate::id::UserId;
use crate::profile::{User, Username, UsernameClaim, is_skeleton_key, skeleton_key};
use crate::service::Kinfolk;
use crate::store::{ReadTx, WriteTx};

/// Who currently holds a folded username at `now`: `None` when free (no
/// claim, or a hold that has ended).
pub(crate) fn holder(
    tx: &dyn ReadTx,
    folded: &str,
    now: Timestamp,
) -> Result<Option<UsernameClaim>> {
    Ok(tx
        .username_claim(folded)?
        .filter(|c| c.held_until.is_none_or(|until| until > now)))
}

/// Whether a claim is in force at `now` (a current name, or a hold that has
/// not ended).
fn in_force(c: &UsernameClaim, now: Timestamp) -> bool {
    c.held_until.is_none_or(|until| until > now)
}

/// Key of the marker claim saying that every name in the store has its
/// skeleton claim (written by the first registration or rename after an
/// upgrade, or by [`Kinfolk::migrate_username_skeletons`]). No username
/// has an empty skeleton (a username needs a letter), so no skeleton claim
/// can have this key.
const SKELETON_MARKER: &str = "~";

/// The marker claim (a placeholder owner: the nil id).
pub(crate) fn skeleton_marker() -> Result<UsernameClaim> {
    Ok(UsernameClaim {
        folded: SKELETON_MARKER.to_string(),
        user: UserId::from_bytes([0; 16]),
        username: Username::parse("skeleton_claims")?,
        held_until: None,
    })
}

/// What [`Kinfolk::migrate_username_skeletons`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkeletonMigration {
    /// Users whose names were looked at.
    pub users: u64,
    /// Skeleton claims written.
    pub claims_added: u64,
    /// Names (current or held) whose skeleton was already claimed by an
    /// earlier registered user: both keep working, see
    /// [`Kinfolk::migrate_username_skeletons`].
    pub names_sharing: u64,
}

/// Writes the missing skeleton claims of up to `limit` users with ids after
/// `after` (id order is registration order: ids are UUID v7). Returns the
/// last id looked at (`None` when there were no more users).
fn backfill_skeletons(
    tx: &mut dyn WriteTx,
    after: Option<UserId>,
    limit: usize,
    now: Timestamp,
    done: &mut SkeletonMigration,
) -> Result<Option<UserId>> {
    let users = tx.users_after(after, limit)?;
    for u in &users {
        done.users += 1;
        for c in tx.username_claims_of(u.id)? {
            if is_skeleton_key(&c.folded) || !in_force(&c, now) {
                continue;
            }
            let key = skeleton_key(&c.username);
            match tx.username_claim(&key)? {
                None => {
                    tx.insert_username_claim(&UsernameClaim { folded: key, ..c })?;
                    done.claims_added += 1;
                }
                Some(mine) if mine.user == u.id => {
                    // Two names of one user, one skeleton: the current name
                    // (or the longer hold) decides.
                    let longer = match (mine.held_until, c.held_until) {
                        (None, _) => false,
                        (Some(_), None) => true,
                        (Some(a), Some(b)) => b > a,
                    };
                    if longer {
                        tx.update_username_claim(&UsernameClaim { folded: key, ..c })?;
                    }
                }
                Some(_) => done.names_sharing += 1,
            }
        }
    }
    Ok(users.last().map(|u| u.id))
}

/// Makes sure every name in the store has its skeleton claim before a name
/// is taken: on a store that predates skeleton claims, backfills them all
/// in this transaction (once; the marker claim records it).
pub(crate) fn ensure_skeletons(tx: &mut dyn WriteTx, now: Timestamp) -> Result<()> {
    if tx.username_claim(SKELETON_MARKER)?.is_some() {
        return Ok(());
    }
    let mut done = SkeletonMigration::default();
    let mut after = None;
    while let Some(last) = backfill_skeletons(tx, after, edges::SCAN_BATCH, now, &mut done)? {
        after = Some(last);
    }
    tx.insert_username_claim(&skeleton_marker()?)
}

/// Whether `user` holds a name in force whose skeleton key is `key`.
fn has_name_with_skeleton(
    tx: &dyn ReadTx,
    user: UserId,
    key: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(tx.username_claims_of(user)?.iter().any(|c| {
        !is_skeleton_key(&c.folded) && in_force(c, now) && skeleton_key(&c.username) == key
    }))
}

/// Takes the skeleton of `username` as `user`'s current one. When another
/// user's claim on it is in force: `UsernameTaken` if `enforce`, else the
/// claim stays with its holder and the names share the skeleton.
fn take_skeleton(
    tx: &mut dyn WriteTx,
    user: UserId,
    username: &Username,
    now: Timestamp,
    enforce: bool,
) -> Result<()> {
    let claim = UsernameClaim {
        folded: skeleton_key(username),
        user,
        username: username.clone(),
        held_until: None,
    };
    match tx.username_claim(&claim.folded)? {
        Some(c) if c.user == user => {
            if c != claim {
                tx.update_username_claim(&claim)?;
            }
            Ok(())
        }
        Some(c) if in_force(&c, now) => {
            if enforce {
                Err(Error::UsernameTaken)
            } else {
                Ok(())
            }
        }
        Some(_) => {
            tx.delete_username_claim(&claim.folded)?;
            tx.insert_username_claim(&claim)
        }
        None => tx.insert_username_claim(&claim),
    }
}

/// Brings `user`'s claim on the skeleton key `key` (if the user has it) in
/// line with the user's names in force that have that skeleton: current if
/// one is current, else held until the longest hold, gone if none is left.
fn settle_skeleton(tx: &mut dyn WriteTx, user: UserId, key: &str, now: Timestamp) -> Result<()> {
    match tx.username_claim(key)? {
        Some(c) if c.user == user => {}
        _ => return Ok(()),
    }
    let names: Vec<UsernameClaim> = tx
        .username_claims_of(user)?
        .into_iter()
        .filter(|c| {
            !is_skeleton_key(&c.folded) && in_force(c, now) && skeleton_key(&c.username) == key
        })
        .collect();
    let best = names
        .iter()
        .find(|c| c.held_until.is_none())
        .or_else(|| names.iter().max_by_key(|c| c.held_until));
    match best {
        None => tx.delete_username_claim(key),
        Some(c) => tx.update_username_claim(&UsernameClaim {
            folded: key.to_string(),
            ..c.clone()
        }),
    }
}

/// Claims a new user's username inside a registration (or import)
/// transaction: the case-folded name, then its skeleton. The caller has
/// called [`ensure_skeletons`] in the transaction.
pub(crate) fn claim_new_username(
    tx: &mut dyn WriteTx,
    id: UserId,
    username: &Username,
    now: Timestamp,
    unique_skeletons: bool,
) -> Result<()> {
    let folded = username.folded();
    if let Some(claim) = tx.username_claim(&folded)? {
        if in_force(&claim, now) {
            return Err(Error::UsernameTaken);
        }
        tx.delete_username_claim(&folded)?;
    }
    // Fails with UsernameTaken on a name claimed meanwhile (or by an
    // earlier row of the same import batch).
    tx.insert_username_claim(&UsernameClaim {
        folded,
        user: id,
        username: username.clone(),
        held_until: None,
    })?;
    take_skeleton(tx, id, username, now, unique_skeletons)
}

impl Kinfolk {
    /// Writes the skeleton claims of every name in a store written before
    /// usernames were unique on their skeleton (see [`Kinfolk::register`]),
    /// in batches of 512 users per transaction, then records that the store
    /// is migrated. Optional: the first registration or rename on such a
    /// store does the same in its own transaction; running this first (an
    /// operator step after upgrading) keeps that one transaction short.
    /// Idempotent: on a migrated store it only reads the marker.
    ///
    /// Users are visited in registration order (ids are UUID v7), so where
    /// two existing names share a skeleton the earlier registered user gets
    /// the skeleton claim and the later one is counted in
    /// [`SkeletonMigration::names_sharing`]; both names keep working.
    ///
    /// # Errors
    /// `Storage` when the store fails (batches already written stay; running
    /// again continues).
    pub async fn migrate_username_skeletons(&self) -> Result<SkeletonMigration> {
        let span = tracing::info_span!("migrate_username_skeletons");
        async move {
            let mut total = SkeletonMigration::default();
            let mut after: Option<UserId> = None;
            loop {
                let now = self.now()?;
                let step = self
                    .wr(move |tx| {
                        if tx.username_claim(SKELETON_MARKER)?.is_some() {
                            return Ok((None, SkeletonMigration::default()));
                        }
                        let mut done = SkeletonMigration::default();
                        let last =
                            backfill_skeletons(tx, after, edges::SCAN_BATCH, now, &mut done)?;
                        if last.is_none() {
                            tx.insert_username_claim(&skeleton_marker()?)?;
                        }
                        Ok((last, done))
                    })
                    .await?;
                total.users += step.1.users;
                total.claims_added += step.1.claims_added;
                total.names_sharing += step.1.names_sharing;
                match step.0 {
                    Some(last) => after = Some(last),
                    None => return Ok(total),
                }
            }
        }
        .instrument(span)
        .metered("migrate_username_skeletons")
        .await
    }
}

/// Moves `user` from its current username to `new_name` inside the
/// transaction: the case-folded claims, then the skeleton claims (the new
/// name's skeleton taken, the old one's settled to the old name's hold).
pub(crate) fn change_username(
    tx: &mut dyn WriteTx,
    user: &User,
    new_name: &Username,
    now: Timestamp,
    hold: chrono::Duration,
    unique_skeletons: bool,
) -> Result<()> {
    ensure_skeletons(tx, now)?;
    let old_folded = user.username.folded();
    let new_folded = new_name.folded();
    let new_key = skeleton_key(new_name);
    let old_key = skeleton_key(&user.username);
    // A user may move among their own look-alikes (and names that shared a
    // skeleton before the rule keep working): refuse only a skeleton the
    // user holds no name of.
    let enforce = unique_skeletons && !has_name_with_skeleton(tx, user.id, &new_key, now)?;
    if new_folded == old_folded {
        // Only the case changed: same claim, new spelling.
        tx.update_username_claim(&UsernameClaim {
            folded: new_folded,
            user: user.id,
            username: new_name.clone(),
            held_until: None,
        })?;
        return take_skeleton(tx, user.id, new_name, now, enforce);
    }
    let new_claim = UsernameClaim {
        folded: new_folded.clone(),
        user: user.id,
        username: new_name.clone(),
        held_until: None,
    };
    match tx.username_claim(&new_folded)? {
        Some(c) if c.user == user.id => tx.update_username_claim(&new_claim)?,
        Some(c) if in_force(&c, now) => {
            return Err(Error::UsernameTaken);
        }
        Some(_) => {
            tx.delete_username_claim(&new_folded)?;
            tx.insert_username_claim(&new_claim)?;
        }
        None => tx.insert_username_claim(&new_claim)?,
    }
    if hold > chrono::Duration::zero() {
        // A hold reaching past the supported time range lasts to its end.
        let latest = crate::clock::latest();
        let until = now
            .checked_add_signed(hold)
            .map_or(latest, |t| t.min(latest));
        tx.update_username_claim(&UsernameClaim {
            folded: old_folded,
            user: user.id,
            username: user.username.clone(),
            held_until: Some(until),
        })?;
    } else {
        tx.delete_username_claim(&old_folded)?;
    }
    take_skeleton(tx, user.id, new_name, now, enforce)?;
    if old_key != new_key {
        settle_skeleton(tx, user.id, &old_key, now)?;
    }
    Ok(())
}
