//! Users and profiles (SPEC §3): registration, reading and updating a
//! profile, and the username hold.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::edges::probes_between;
use crate::graph::{Edge, Relationship};
use crate::id::UserId;
use crate::profile::claims::{change_username, claim_new_username, ensure_skeletons, holder};
use crate::profile::{
    NewUser, OwnProfile, OwnStats, ProfileUpdate, ProfileView, PublicProfile, PublicStats, User,
    Username,
};
use crate::service::{Kinfolk, active_actor, any_actor, check_viewer};
use crate::settings::Settings;
use crate::store::ReadTx;
use crate::visibility::{HiddenBy, sees, shows_counts};

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

/// The public view of `user` for `viewer`, from the edges between the two
/// (any kind, either direction; none for an anonymous viewer).
fn public_profile(
    viewer: Option<UserId>,
    user: User,
    between: &[Edge],
    now: Timestamp,
) -> PublicProfile {
    let relationship = viewer.map(|v| Relationship::from_edges(v, user.id, between, now));
    let stats = shows_counts(viewer, &user).then_some(PublicStats {
        followers_count: user.counts.followers,
        following_count: user.counts.following,
    });
    PublicProfile {
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
    }
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
        .metered("register")
        .await
    }

    /// The caller's full profile: personal info, settings, statistics and
    /// connected accounts. Allowed for a deactivated caller.
    ///
    /// # Errors
    /// `Unauthenticated` for an unknown caller.
    pub async fn me(&self, actor: UserId) -> Result<OwnProfile> {
        let span = tracing::info_span!("me", actor = %actor);
        // A few point lookups: a short read (ADR 0012).
        self.rd_short(move |tx| {
            let user = any_actor(tx, actor)?;
            own_profile(tx, user)
        })
        .instrument(span)
        .metered("me")
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
        // At most a claim, two users and the edges between two users: a
        // short read (ADR 0012).
        self.rd_short(move |tx| {
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
            let viewer_user = check_viewer(tx, viewer)?;
            // One read of the edges between the two answers both the block
            // check (`sees`, the rule of `visible_user` over loaded edges)
            // and the relationship: no separate point read of the block.
            // Only the keys those rules read and the two records' counters
            // leave possible are probed.
            let user = tx.user(id)?.ok_or_else(Error::user_not_found)?;
            if !user.is_active() {
                return Err(Error::user_not_found());
            }
            let between = match &viewer_user {
                Some(v) => {
                    let mut probes = Vec::with_capacity(7);
                    probes_between(v, Some(&user), id, &mut probes);
                    tx.edges_probed(v.id, &probes)?
                }
                None => Vec::new(),
            };
            if !sees(viewer, &user, &between, HiddenBy::TheirBlock) {
                return Err(Error::user_not_found());
            }
            Ok(ProfileView::Public(Box::new(public_profile(
                viewer, user, &between, now,
            ))))
        })
        .instrument(span)
        .metered("get_profile")
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
        .metered("update_profile")
        .await
    }
}
