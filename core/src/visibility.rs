//! Who may see what (SPEC §3, §5, §6, §8): a profile, a list, the counts on a
//! profile, a list row, a relationship and a search hit. Every read or command
//! that shows one user to another asks this module; no other module decides
//! visibility.
//!
//! The rules, in one place:
//! - A viewer always sees themselves.
//! - A deactivated user is hidden from everyone else.
//! - Blocks hide in two ways, on purpose ([`HiddenBy`]): a **profile** (and a
//!   **relationship**, and a command's target) is hidden only when the user
//!   blocks the viewer — the viewer still reaches the people they block (the
//!   relationship shows `blocking: true`) so that they can unblock them; a
//!   **list row** or **search hit** is hidden when either blocks the other.
//!   A hidden user is `NotFound`, never revealed as a block.
//! - A **list** (followers, following, known followers) needs a visible owner
//!   and the owner's `followers_visibility` / `following_visibility`
//!   ([`may_list`]); the owner always sees their own.
//! - **Counts** on a profile: the owner always, others when `show_counts` is on.
//! - A **search hit** must also belong to its scope ([`in_search_scope`]):
//!   discoverable, or admitting mentions / room invites from the viewer
//!   ([`admits`]), or in the listed user's list.

use crate::error::{Error, Result};
use crate::graph::edges::blocks;
use crate::graph::{Edge, EdgeKind, Relationship};
use crate::id::UserId;
use crate::profile::User;
use crate::search::SearchScope;
use crate::settings::{Audience, ListVisibility};
use crate::store::ReadTx;

/// Which blocks between a viewer and a user hide the user from the viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HiddenBy {
    /// Only the user blocking the viewer: profiles, relationships and the
    /// targets of commands (the viewer must still reach whom they block).
    TheirBlock,
    /// A block either way: list rows and search hits.
    EitherBlock,
}

/// Which list of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListSide {
    /// Their followers (and known followers), under `followers_visibility`.
    Followers,
    /// Whom they follow, under `following_visibility`.
    Following,
}

/// A user the viewer may see: exists, active, and does not block the viewer
/// ([`HiddenBy::TheirBlock`]; [`sees`] is the same rule over loaded edges).
/// Anything else is `NotFound`, indistinguishable from a missing user.
pub(crate) fn visible_user(tx: &dyn ReadTx, viewer: Option<UserId>, id: UserId) -> Result<User> {
    let user = tx.user(id)?.ok_or_else(Error::user_not_found)?;
    if viewer == Some(id) {
        return Ok(user);
    }
    if !user.is_active() {
        return Err(Error::user_not_found());
    }
    if let Some(v) = viewer
        && blocks(tx, id, v)?
    {
        return Err(Error::user_not_found());
    }
    Ok(user)
}

/// Whether `viewer` may list `owner`'s followers (or following) under `vis`.
pub(crate) fn may_list(
    tx: &dyn ReadTx,
    viewer: Option<UserId>,
    owner: UserId,
    vis: ListVisibility,
) -> Result<bool> {
    if viewer == Some(owner) {
        return Ok(true);
    }
    Ok(match vis {
        ListVisibility::Public => true,
        ListVisibility::Owner => false,
        ListVisibility::Followers => match viewer {
            Some(v) => tx.edge(EdgeKind::Follow, v, owner)?.is_some(),
            None => false,
        },
    })
}

/// Whether `audience` (a setting of `owner`) admits `viewer`, given whether
/// `owner` follows `viewer`.
pub(crate) fn admits(audience: Audience, owner_follows_viewer: bool) -> bool {
    match audience {
        Audience::Everyone => true,
        Audience::Following => owner_follows_viewer,
        Audience::Nobody => false,
    }
}

/// Whether `viewer` sees `user`, given the edges between the two (any kind,
/// either direction; none for an anonymous viewer): the batch form of
/// [`visible_user`], for rows checked many at a time.
pub(crate) fn sees(
    viewer: Option<UserId>,
    user: &User,
    edges: &[Edge],
    hidden_by: HiddenBy,
) -> bool {
    if viewer == Some(user.id) {
        return true;
    }
    user.is_active()
        && !edges.iter().any(|e| {
            e.kind == EdgeKind::Block && (hidden_by == HiddenBy::EitherBlock || e.from == user.id)
        })
}

/// Whether a list row or search hit for `user` is shown to `viewer`: an
/// active user (the viewer's own row included: it is deactivated only when
/// the viewer was deactivated after the read checked them) with no block
/// either way.
pub(crate) fn shows_row(viewer: Option<UserId>, user: &User, edges: &[Edge]) -> bool {
    user.is_active() && sees(viewer, user, edges, HiddenBy::EitherBlock)
}

/// The owner of a list `viewer` asks for: the owner must be visible
/// ([`visible_user`]) and the list visible to the viewer under the owner's
/// setting for that side ([`may_list`]).
///
/// # Errors
/// `NotFound` for a missing, deactivated or viewer-blocking owner;
/// `Forbidden` when the list is not visible to the viewer.
pub(crate) fn visible_list(
    tx: &dyn ReadTx,
    viewer: Option<UserId>,
    owner: UserId,
    side: ListSide,
) -> Result<User> {
    let user = visible_user(tx, viewer, owner)?;
    let vis = match side {
        ListSide::Following => user.settings.privacy.following_visibility,
        ListSide::Followers => user.settings.privacy.followers_visibility,
    };
    if !may_list(tx, viewer, owner, vis)? {
        return Err(Error::Forbidden {
            reason: "this list is not visible to you",
        });
    }
    Ok(user)
}

/// Whether `viewer` sees `owner`'s follower and following counts: the owner
/// always, anyone else when the owner's `show_counts` is on.
pub(crate) fn shows_counts(viewer: Option<UserId>, owner: &User) -> bool {
    viewer == Some(owner.id) || owner.settings.privacy.show_counts
}

/// Whether a hit for `user`, already shown by [`shows_row`], belongs in
/// `scope` for `viewer`. `relationship` is the viewer's relationship to the
/// user; `is_member` whether the user is already in the invite scope's room;
/// `in_list` whether the user is in the list scope's list.
pub(crate) fn in_search_scope(
    scope: SearchScope,
    viewer: Option<UserId>,
    user: &User,
    relationship: Option<Relationship>,
    is_member: bool,
    in_list: bool,
) -> bool {
    let follows_viewer = relationship.is_some_and(|r| r.followed_by);
    match scope {
        SearchScope::Discovery => {
            user.settings.privacy.discoverable
                && viewer != Some(user.id)
                && !relationship.is_some_and(|r| r.muting)
        }
        SearchScope::Mention => {
            viewer != Some(user.id) && admits(user.settings.privacy.allow_mentions, follows_viewer)
        }
        SearchScope::RoomInvite { .. } => match viewer {
            Some(v) => {
                v != user.id
                    && !is_member
                    && admits(user.settings.privacy.allow_room_invites, follows_viewer)
            }
            None => false,
        },
        SearchScope::Following { .. } | SearchScope::Followers { .. } => in_list,
    }
}
