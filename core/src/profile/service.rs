//! Users and profiles (SPEC §3): registration, reading and updating a
//! profile, and the username hold.

use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::edges;
use crate::id::UserId;
use crate::profile::{
    NewUser, OwnProfile, OwnStats, ProfileUpdate, ProfileView, PublicProfile, PublicStats, User,
    Username, UsernameClaim, is_skeleton_key, skeleton_key,
};
use crate::service::{Kinfolk, active_actor, any_actor, check_viewer};
use crate::settings::Settings;
use crate::store::{ReadTx, WriteTx};
use crate::visibility::{shows_counts, visible_user};

/// Builds the owner's full view.
pub(crate) fn own_profile(tx: &dyn ReadTx, user: User) -> Result<OwnProfile> {
    let connected_accounts = tx.connected_accounts_of(user.id)?;
    Ok(OwnProfile {
        id: user.id,
        stats: OwnStats {
            followers_count: user.counts.followers,
            following_count: user.counts.following,
            rooms_count: user.counts.rooms,
            pending_follow_requests: user.counts.pending_requests,
        },
        username: user.username,
        name: user.name,
        bio: user.bio,
        avatar_url: user.avatar_url,
        social_links: user.social_links,
        location: user.location,
        email: user.email,
        status: user.status,
        settings: user.settings,
        connected_accounts,
        created_at: user.created_at,
        updated_at: user.updated_at,
    })
}

fn public_profile(
    tx: &dyn ReadTx,
    viewer: Option<UserId>,
    user: User,
    now: Timestamp,
) -> Result<PublicProfile> {
    let relationship = viewer
        .map(|v| edges::relationship(tx, v, user.id, now))
        .transpose()?;
    let stats = shows_counts(viewer, &user).then_some(PublicStats {
        followers_count: user.counts.followers,
        following_count: user.counts.following,
    });
    Ok(PublicProfile {
        id: user.id,
        private_account: user.settings.privacy.private_account,
        username: user.username,
        name: user.name,
        bio: user.bio,
        avatar_url: user.avatar_url,
        social_links: user.social_links,
        location: user.location,
        stats,
        relationship,
        created_at: user.created_at,
    })
}

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
fn skeleton_marker() -> Result<UsernameClaim> {
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

/// What `get_profile` was asked for.
enum ProfileKey {
    Id(UserId),
    Username(String),
}

fn parse_profile_key(raw: &str) -> Result<ProfileKey> {
    let s = raw.trim();
    if let Ok(id) = s.parse::<UserId>() {
        return Ok(ProfileKey::Id(id));
    }
    let name = s.strip_prefix('@').unwrap_or(s);
    if name.is_empty() {
        return Err(Error::validation("id_or_username", "must not be empty"));
    }
    // Only a username's characters can name a claim (skeleton claims, whose
    // keys start with `~`, are never found by a lookup).
    if name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::user_not_found());
    }
    Ok(ProfileKey::Username(name.to_ascii_lowercase()))
}

impl Kinfolk {
    pub(crate) fn check_reserved(&self, username: &Username) -> Result<()> {
        let folded = username.lookalike_fold();
        if self.inner.reserved.contains(&folded) {
            return Err(Error::UsernameReserved);
        }
        Ok(())
    }

    /// Creates a user (the host calls it at sign-up) with default settings.
    ///
    /// # Errors
    /// `UsernameReserved` (also for look-alikes such as `adm1n` or `_admin_`),
    /// `UsernameTaken` when the name — compared case-insensitively — belongs
    /// to someone or is held for a previous owner, and (with
    /// [`Config::unique_username_skeletons`](crate::Config), the default)
    /// when its *skeleton* does: `al1ce`, `A_LICE` and `alice` are one name
    /// for this rule ([`Username::skeleton`]). Uniqueness is enforced by
    /// the store inside the transaction: of racing registrations of one name
    /// or of look-alikes, exactly one succeeds.
    ///
    /// # Skeleton claims
    /// Next to the claim on its case-folded form, every username (current or
    /// held) has a claim on its skeleton, under the key
    /// [`skeleton_key`](crate::profile::skeleton_key) (`~alice`) in the same
    /// claim key space, so the store's unique check covers it and a hold
    /// covers it too. Stores written before this rule get their skeleton
    /// claims backfilled once, by the first registration, rename or
    /// [`Kinfolk::migrate_username_skeletons`]; where two existing names
    /// already share a skeleton, the earlier registered user gets the
    /// skeleton claim and the other keeps its name — both keep working,
    /// can be looked up, renamed (also among their own look-alikes) and
    /// deleted; only new names are refused.
    pub async fn register(&self, new_user: NewUser) -> Result<OwnProfile> {
        let span = tracing::info_span!("register");
        async move {
            self.check_reserved(&new_user.username)?;
            let now = self.now()?;
            let unique_skeletons = self.inner.config.unique_username_skeletons;
            self.wr(move |tx| {
                let id = UserId::new();
                ensure_skeletons(tx, now)?;
                claim_new_username(tx, id, &new_user.username, now, unique_skeletons)?;
                let user = User {
                    id,
                    username: new_user.username.clone(),
                    name: new_user.name.clone(),
                    bio: Default::default(),
                    avatar_url: None,
                    social_links: Default::default(),
                    location: None,
                    email: new_user.email.clone(),
                    status: crate::profile::AccountStatus::Active,
                    settings: Settings::default(),
                    counts: Default::default(),
                    created_at: now,
                    updated_at: now,
                };
                tx.put_user(&user)?;
                tx.append_change(now, Change::UserRegistered { user: id })?;
                own_profile(tx, user)
            })
            .await
        }
        .instrument(span)
        .await
    }

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
        .await
    }

    /// The caller's full profile: personal info, settings, statistics and
    /// connected accounts. Allowed for a deactivated caller.
    ///
    /// # Errors
    /// `Unauthenticated` for an unknown caller.
    pub async fn me(&self, actor: UserId) -> Result<OwnProfile> {
        let span = tracing::info_span!("me", actor = %actor);
        self.rd(move |tx| {
            let user = any_actor(tx, actor)?;
            own_profile(tx, user)
        })
        .instrument(span)
        .await
    }

    /// A profile by id or username. A string that parses as a UUID is an id;
    /// anything else a username (a leading `@` is ignored, matching is
    /// case-insensitive, and a previous username still held finds its owner).
    /// The owner gets [`ProfileView::Own`]; anyone else (anonymous included)
    /// [`ProfileView::Public`] with their relationship.
    ///
    /// # Errors
    /// `NotFound` for a missing or deactivated user and for a user who blocks
    /// the viewer (the three are indistinguishable); `Unauthenticated` /
    /// `Deactivated` for a bad viewer (a deactivated viewer may read only
    /// their own profile); `Validation` for an empty key.
    pub async fn get_profile(
        &self,
        viewer: Option<UserId>,
        id_or_username: &str,
    ) -> Result<ProfileView> {
        let span = tracing::info_span!("get_profile", viewer = ?viewer.map(|v| v.to_string()));
        let key = parse_profile_key(id_or_username)?;
        let now = self.now()?;
        self.rd(move |tx| {
            let id = match key {
                ProfileKey::Id(id) => id,
                ProfileKey::Username(ref folded) => holder(tx, folded, now)?
                    .map(|c| c.user)
                    .ok_or_else(Error::user_not_found)?,
            };
            if viewer == Some(id) {
                let user = any_actor(tx, id)?;
                return Ok(ProfileView::Own(Box::new(own_profile(tx, user)?)));
            }
            check_viewer(tx, viewer)?;
            let user = visible_user(tx, viewer, id)?;
            Ok(ProfileView::Public(Box::new(public_profile(
                tx, viewer, user, now,
            )?)))
        })
        .instrument(span)
        .await
    }

    /// Updates name, bio, username, avatar, social links and location; a
    /// field left out stays as it is. A username change keeps the id; the old
    /// name stays held for the owner for [`Config::username_hold`](crate::Config)
    /// (others get `UsernameTaken`, the owner may take it back, lookups find
    /// the owner), then it is free. An update that changes nothing appends no event.
    ///
    /// # Errors
    /// `Validation` (`avatar_url` with `http` unless the config allows it),
    /// `UsernameReserved`, `UsernameTaken` (also for a name whose skeleton
    /// belongs to or is held for someone else, see [`Kinfolk::register`];
    /// moving among one's own look-alikes is allowed), `Unauthenticated`,
    /// `Deactivated`.
    pub async fn update_profile(&self, actor: UserId, update: ProfileUpdate) -> Result<OwnProfile> {
        let span = tracing::info_span!("update_profile", actor = %actor);
        async move {
            if let Some(Some(url)) = &update.avatar_url
                && !url.is_https()
                && !self.inner.config.allow_http_avatars
            {
                return Err(Error::validation(
                    "avatar_url",
                    "only https URLs are allowed",
                ));
            }
            if let Some(u) = &update.username {
                self.check_reserved(u)?;
            }
            let now = self.now()?;
            let hold = self.inner.config.username_hold;
            let unique_skeletons = self.inner.config.unique_username_skeletons;
            self.wr(move |tx| {
                let before = active_actor(tx, actor)?;
                let mut user = before.clone();
                let ProfileUpdate {
                    name,
                    bio,
                    username,
                    avatar_url,
                    social_links,
                    location,
                } = update.clone();
                if let Some(v) = name {
                    user.name = v;
                }
                if let Some(v) = bio {
                    user.bio = v;
                }
                if let Some(v) = avatar_url {
                    user.avatar_url = v;
                }
                if let Some(v) = social_links {
                    user.social_links = v;
                }
                if let Some(v) = location {
                    user.location = v.filter(|l| !l.as_str().is_empty());
                }
                let mut renamed = false;
                if let Some(new_name) = username
                    && new_name != before.username
                {
                    change_username(tx, &before, &new_name, now, hold, unique_skeletons)?;
                    user.username = new_name;
                    renamed = true;
                }
                if user == before {
                    return own_profile(tx, user);
                }
                user.updated_at = now;
                tx.put_user(&user)?;
                if renamed {
                    tx.append_change(now, Change::UsernameChanged { user: actor })?;
                }
                tx.append_change(now, Change::ProfileUpdated { user: actor })?;
                own_profile(tx, user)
            })
            .await
        }
        .instrument(span)
        .await
    }
}

/// Moves `user` from its current username to `new_name` inside the
/// transaction: the case-folded claims, then the skeleton claims (the new
/// name's skeleton taken, the old one's settled to the old name's hold).
fn change_username(
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
