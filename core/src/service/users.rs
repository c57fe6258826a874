//! Users, profiles, settings and connected accounts (SPEC §3–§4).

use tracing::Instrument;

use super::Kinfolk;
use super::rules::{self, active_actor, any_actor, check_viewer, visible_user};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::follow::EdgeKind;
use crate::id::UserId;
use crate::settings::{Settings, SettingsPatch};
use crate::store::{ReadTx, WriteTx};
use crate::text;
use crate::user::{
    ConnectedAccount, NewUser, OwnProfile, OwnStats, ProfileUpdate, ProfileView, PublicProfile,
    PublicStats, User, UserSummary, Username, UsernameClaim,
};

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
        .map(|v| rules::relationship(tx, v, user.id, now))
        .transpose()?;
    let stats = user.settings.privacy.show_counts.then_some(PublicStats {
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
    if name.len() > 64 {
        return Err(Error::user_not_found());
    }
    Ok(ProfileKey::Username(name.to_ascii_lowercase()))
}

impl Kinfolk {
    pub(super) fn check_reserved(&self, username: &Username) -> Result<()> {
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
    /// to someone or is held for a previous owner. Uniqueness is enforced by
    /// the store inside the transaction: of two racing registrations of one
    /// name, exactly one succeeds.
    pub async fn register(&self, new_user: NewUser) -> Result<OwnProfile> {
        let span = tracing::info_span!("register");
        async move {
            self.check_reserved(&new_user.username)?;
            let now = self.now()?;
            self.wr(move |tx| {
                let folded = new_user.username.folded();
                if let Some(claim) = tx.username_claim(&folded)? {
                    if claim.held_until.is_none_or(|until| until > now) {
                        return Err(Error::UsernameTaken);
                    }
                    tx.delete_username_claim(&folded)?;
                }
                let id = UserId::new();
                let user = User {
                    id,
                    username: new_user.username.clone(),
                    name: new_user.name,
                    bio: Default::default(),
                    avatar_url: None,
                    social_links: Default::default(),
                    location: None,
                    email: new_user.email,
                    status: crate::user::AccountStatus::Active,
                    settings: Settings::default(),
                    counts: Default::default(),
                    created_at: now,
                    updated_at: now,
                };
                tx.insert_username_claim(&UsernameClaim {
                    folded,
                    user: id,
                    username: new_user.username,
                    held_until: None,
                })?;
                tx.put_user(&user)?;
                tx.append_change(now, Change::UserRegistered { user: id })?;
                own_profile(tx, user)
            })
            .await
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
                ProfileKey::Username(folded) => holder(tx, &folded, now)?
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
    /// `UsernameReserved`, `UsernameTaken`, `Unauthenticated`, `Deactivated`.
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
                } = update;
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
                    change_username(tx, &before, &new_name, now, hold)?;
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

    /// Partially updates settings: absent fields stay, an empty patch returns
    /// the current settings unchanged. A patch that changes something bumps
    /// `version`; a patch naming an `expected_version` other than the current
    /// one is refused, so two clients never silently undo each other. Turning
    /// `private_account` off approves every pending follow request.
    ///
    /// # Errors
    /// `Conflict` for a stale `expected_version`; `Unauthenticated`, `Deactivated`.
    /// (Unknown fields are refused when the patch is deserialised.)
    pub async fn edit_settings(&self, actor: UserId, patch: SettingsPatch) -> Result<Settings> {
        let span = tracing::info_span!("edit_settings", actor = %actor);
        let now = self.now()?;
        self.wr(move |tx| {
            let mut user = active_actor(tx, actor)?;
            if let Some(expected) = patch.expected_version
                && expected != user.settings.version
            {
                return Err(Error::Conflict {
                    reason: "settings changed since the given version",
                });
            }
            let was_private = user.settings.privacy.private_account;
            let mut settings = user.settings.clone();
            if !settings.apply(&patch) {
                return Ok(user.settings);
            }
            settings.version += 1;
            user.settings = settings;
            user.updated_at = now;
            tx.put_user(&user)?;
            tx.append_change(now, Change::SettingsChanged { user: actor })?;
            if was_private && !user.settings.privacy.private_account {
                let pending =
                    rules::all_edges(tx, EdgeKind::Request, crate::follow::Anchor::To(actor))?;
                // Oldest first, so approved follows keep the order they were asked in.
                for e in pending.iter().rev() {
                    rules::approve_request(tx, e.from, actor, now)?;
                }
            }
            Ok(rules::load(tx, actor)?.settings)
        })
        .instrument(span)
        .await
    }

    /// Links an external account after the host's OAuth flow. Linking the
    /// same account to the same user again updates its handle.
    ///
    /// # Errors
    /// `Conflict` when `(provider, external_id)` belongs to another user;
    /// `Validation` for a provider outside `[a-z0-9_-]{1,32}` (lower-cased
    /// first), an external id of 0 or over 255 characters or with control
    /// characters, a handle of 0 or over 100 characters; `Unauthenticated`, `Deactivated`.
    pub async fn link_account(
        &self,
        actor: UserId,
        provider: &str,
        external_id: &str,
        handle: &str,
    ) -> Result<ConnectedAccount> {
        let span = tracing::info_span!("link_account", actor = %actor);
        let provider = provider.trim().to_ascii_lowercase();
        if provider.is_empty()
            || provider.len() > 32
            || !provider
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::validation(
                "provider",
                "must be 1–32 of a-z, 0-9, _ and -",
            ));
        }
        let external_id = external_id.trim().to_string();
        if external_id.is_empty()
            || external_id.chars().count() > 255
            || external_id.chars().any(char::is_control)
        {
            return Err(Error::validation(
                "external_id",
                "must be 1–255 characters, no control characters",
            ));
        }
        let handle = text::single_line("handle", handle, 1, 100)?;
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if let Some(existing) = tx.connected_account(&provider, &external_id)? {
                if existing.user != actor {
                    return Err(Error::Conflict {
                        reason: "this account is linked to another user",
                    });
                }
                if existing.handle == handle {
                    return Ok(existing);
                }
                tx.delete_connected_account(&provider, &external_id)?;
                let updated = ConnectedAccount { handle, ..existing };
                tx.insert_connected_account(&updated)?;
                tx.append_change(
                    now,
                    Change::AccountLinked {
                        user: actor,
                        provider,
                    },
                )?;
                return Ok(updated);
            }
            let account = ConnectedAccount {
                user: actor,
                provider: provider.clone(),
                external_id,
                handle,
                connected_at: now,
            };
            tx.insert_connected_account(&account)?;
            tx.append_change(
                now,
                Change::AccountLinked {
                    user: actor,
                    provider,
                },
            )?;
            Ok(account)
        })
        .instrument(span)
        .await
    }

    /// Unlinks an external account of the caller; reports whether it was linked.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`. An account linked to someone else is
    /// left alone and reported as not linked.
    pub async fn unlink_account(
        &self,
        actor: UserId,
        provider: &str,
        external_id: &str,
    ) -> Result<bool> {
        let span = tracing::info_span!("unlink_account", actor = %actor);
        let provider = provider.trim().to_ascii_lowercase();
        let external_id = external_id.trim().to_string();
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            match tx.connected_account(&provider, &external_id)? {
                Some(a) if a.user == actor => {
                    tx.delete_connected_account(&provider, &external_id)?;
                    tx.append_change(
                        now,
                        Change::AccountUnlinked {
                            user: actor,
                            provider,
                        },
                    )?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .instrument(span)
        .await
    }

    /// The user an external account is linked to (for the host's sign-in),
    /// deactivated users included so they can sign in to reactivate.
    ///
    /// # Errors
    /// `NotFound` when the account is not linked.
    pub async fn find_by_connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<UserSummary> {
        let span = tracing::info_span!("find_by_connected_account");
        let provider = provider.trim().to_ascii_lowercase();
        let external_id = external_id.trim().to_string();
        self.rd(move |tx| {
            let account =
                tx.connected_account(&provider, &external_id)?
                    .ok_or(Error::NotFound {
                        what: "connected_account",
                    })?;
            Ok(rules::load(tx, account.user)?.summary())
        })
        .instrument(span)
        .await
    }
}

/// Moves `user` from its current username to `new_name` inside the transaction.
fn change_username(
    tx: &mut dyn WriteTx,
    user: &User,
    new_name: &Username,
    now: Timestamp,
    hold: chrono::Duration,
) -> Result<()> {
    let old_folded = user.username.folded();
    let new_folded = new_name.folded();
    if new_folded == old_folded {
        // Only the case changed: same claim, new spelling.
        return tx.update_username_claim(&UsernameClaim {
            folded: new_folded,
            user: user.id,
            username: new_name.clone(),
            held_until: None,
        });
    }
    let new_claim = UsernameClaim {
        folded: new_folded.clone(),
        user: user.id,
        username: new_name.clone(),
        held_until: None,
    };
    match tx.username_claim(&new_folded)? {
        Some(c) if c.user == user.id => tx.update_username_claim(&new_claim)?,
        Some(c) if c.held_until.is_none_or(|until| until > now) => {
            return Err(Error::UsernameTaken);
        }
        Some(_) => {
            tx.delete_username_claim(&new_folded)?;
            tx.insert_username_claim(&new_claim)?;
        }
        None => tx.insert_username_claim(&new_claim)?,
    }
    if hold > chrono::Duration::zero() {
        tx.update_username_claim(&UsernameClaim {
            folded: old_folded,
            user: user.id,
            username: user.username.clone(),
            held_until: Some(now + hold),
        })
    } else {
        tx.delete_username_claim(&old_folded)
    }
}
