//! Rooms and memberships (SPEC §7).

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::EdgeKind;
use crate::graph::edges::{self, blocks};
use crate::id::{RoomId, UserId};
use crate::page::{
    ListKind, MAX_LIST_LIMIT, Page, PageRequest, check_limit, decode_cursor, encode_cursor,
};
use crate::rooms::{Membership, MyRoom, NewRoom, Room, RoomFilter, RoomRole, RoomVisibility};
use crate::service::Kinfolk;
use crate::service::active_actor;
use crate::store::{ReadTx, WriteTx};
use crate::text::fold;
use crate::visibility::{admits, visible_user};

fn room_not_found() -> Error {
    Error::NotFound { what: "room" }
}

fn membership_not_found() -> Error {
    Error::NotFound { what: "membership" }
}

/// The room and the actor's membership of it. A room the actor is not in is
/// `NotFound` for a private room and `Forbidden` for a public one.
fn room_and_role(tx: &dyn ReadTx, room: RoomId, actor: UserId) -> Result<(Room, Membership)> {
    let r = tx.room(room)?.ok_or_else(room_not_found)?;
    match tx.membership(room, actor)? {
        Some(m) => Ok((r, m)),
        None if r.visibility == RoomVisibility::Public => Err(Error::Forbidden {
            reason: "you are not a member of this room",
        }),
        None => Err(room_not_found()),
    }
}

/// Whether `actor` (with `role`) may add members to `room`: owners and
/// admins always, any member of a public room.
pub(crate) fn may_add(room: &Room, role: RoomRole) -> bool {
    role >= RoomRole::Admin || room.visibility == RoomVisibility::Public
}

/// Whether `target` admits room invites from `actor` (its `allow_room_invites`,
/// "following" meaning people the target follows).
pub(crate) fn admits_invite(
    tx: &dyn ReadTx,
    target: &crate::profile::User,
    actor: UserId,
) -> Result<bool> {
    let follows_actor = tx.edge(EdgeKind::Follow, target.id, actor)?.is_some();
    Ok(admits(
        target.settings.privacy.allow_room_invites,
        follows_actor,
    ))
}

/// Removes `user`'s membership (which must exist), adjusting counters, handing
/// ownership over when the sole owner goes, and deleting an emptied room.
/// Appends `RoleChanged` / `RoomDeleted` as needed, after the event (appended
/// by the caller first) that says why the member went.
pub(crate) fn drop_member(
    tx: &mut dyn WriteTx,
    room: &Room,
    user: UserId,
    now: Timestamp,
) -> Result<()> {
    let Some(gone) = tx.delete_membership(room.id, user)? else {
        return Err(membership_not_found());
    };
    if let Some(mut u) = tx.user(user)? {
        u.counts.rooms = u.counts.rooms.saturating_sub(1);
        tx.put_user(&u)?;
    }
    let mut r = tx.room(room.id)?.ok_or_else(room_not_found)?;
    r.member_count = r.member_count.saturating_sub(1);
    // Walk the remaining members, oldest first, to find the longest-standing
    // holder of each role.
    let mut best: Option<Membership> = None;
    let mut other_owner = false;
    let mut after = None;
    loop {
        let batch = tx.members(room.id, after, edges::SCAN_BATCH)?;
        let done = batch.len() < edges::SCAN_BATCH;
        after = batch.last().map(|m| m.seq);
        for m in batch {
            if m.role == RoomRole::Owner {
                other_owner = true;
            }
            if best.as_ref().is_none_or(|b| m.role > b.role) {
                best = Some(m);
            }
        }
        if done || after.is_none() {
            break;
        }
    }
    match best {
        None => {
            tx.delete_room(room.id)?;
            tx.append_change(now, Change::RoomDeleted { room: room.id })?;
        }
        Some(mut heir) => {
            tx.put_room(&r)?;
            if gone.role == RoomRole::Owner && !other_owner {
                heir.role = RoomRole::Owner;
                tx.put_membership(&heir)?;
                tx.append_change(
                    now,
                    Change::RoleChanged {
                        room: room.id,
                        user: heir.user,
                        role: RoomRole::Owner,
                        by: user,
                    },
                )?;
            }
        }
    }
    Ok(())
}

impl Kinfolk {
    /// Creates a room; the creator becomes its owner.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`. (The name is validated by [`RoomName`](crate::RoomName).)
    pub async fn create_room(&self, actor: UserId, new_room: NewRoom) -> Result<Room> {
        let span = tracing::info_span!("create_room", actor = %actor);
        let now = self.now()?;
        self.wr(move |tx| {
            let mut me = active_actor(tx, actor)?;
            let id = RoomId::new();
            let seq = tx.append_change(
                now,
                Change::RoomCreated {
                    room: id,
                    by: actor,
                },
            )?;
            let room = Room {
                id,
                kind: new_room.kind,
                name: new_room.name.clone(),
                visibility: new_room.visibility,
                created_by: actor,
                created_at: now,
                member_count: 1,
            };
            tx.put_room(&room)?;
            tx.put_membership(&Membership {
                room: id,
                user: actor,
                role: RoomRole::Owner,
                joined_at: now,
                seq,
            })?;
            me.counts.rooms += 1;
            tx.put_user(&me)?;
            Ok(room)
        })
        .instrument(span)
        .metered("create_room")
        .await
    }

    /// Adds `user` to `room` as a member. Owners and admins may add; in a
    /// public room any member may. The user's `allow_room_invites` is honoured
    /// and a block in either direction refuses. Adding a member again changes
    /// nothing and returns the membership.
    ///
    /// # Errors
    /// `NotFound` (`room`) for a missing room or a private room the actor is
    /// not in; `NotFound` (`user`) for a missing or deactivated user or one
    /// who blocks the actor; `Blocked` when the actor blocks the user;
    /// `Forbidden` when the actor may not add members or the user's
    /// `allow_room_invites` refuses the actor; `Unauthenticated`, `Deactivated`.
    pub async fn add_member(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
    ) -> Result<Membership> {
        let span = tracing::info_span!("add_member", actor = %actor, target = %user, room = %room);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let (r, mine) = room_and_role(tx, room, actor)?;
            if !may_add(&r, mine.role) {
                return Err(Error::Forbidden {
                    reason: "only owners and admins add members to a private room",
                });
            }
            let mut target = visible_user(tx, Some(actor), user)?;
            if let Some(m) = tx.membership(room, user)? {
                return Ok(m);
            }
            if blocks(tx, actor, user)? {
                return Err(Error::Blocked);
            }
            if user != actor && !admits_invite(tx, &target, actor)? {
                return Err(Error::Forbidden {
                    reason: "this user does not accept room invites from you",
                });
            }
            let seq = tx.append_change(
                now,
                Change::MemberAdded {
                    room,
                    user,
                    by: actor,
                },
            )?;
            let m = Membership {
                room,
                user,
                role: RoomRole::Member,
                joined_at: now,
                seq,
            };
            tx.put_membership(&m)?;
            let mut r = r;
            r.member_count += 1;
            tx.put_room(&r)?;
            target.counts.rooms += 1;
            tx.put_user(&target)?;
            Ok(m)
        })
        .instrument(span)
        .metered("add_member")
        .await
    }

    /// Removes `user` from `room`. Owners, admins and moderators remove
    /// members of a lower role. Removing oneself is leaving (see
    /// [`Kinfolk::leave_room`]).
    ///
    /// # Errors
    /// `NotFound` (`room` / `membership`); `Forbidden` when the actor's role is
    /// not above the member's or below moderator; `Unauthenticated`, `Deactivated`.
    pub async fn remove_member(&self, actor: UserId, room: RoomId, user: UserId) -> Result<()> {
        if actor == user {
            return self.leave_room(actor, room).await;
        }
        let span =
            tracing::info_span!("remove_member", actor = %actor, target = %user, room = %room);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let (r, mine) = room_and_role(tx, room, actor)?;
            let theirs = tx
                .membership(room, user)?
                .ok_or_else(membership_not_found)?;
            if mine.role < RoomRole::Moderator || theirs.role >= mine.role {
                return Err(Error::Forbidden {
                    reason: "you may only remove members of a lower role",
                });
            }
            tx.append_change(
                now,
                Change::MemberRemoved {
                    room,
                    user,
                    by: actor,
                },
            )?;
            drop_member(tx, &r, user, now)?;
            Ok(())
        })
        .instrument(span)
        .metered("remove_member")
        .await
    }

    /// Sets a member's role. Owners and admins change roles of members below
    /// their own role, and never to a role above their own. A member may
    /// lower their own role, except the sole owner. Setting the role a member
    /// already has changes nothing; it succeeds for the member themselves and
    /// for whoever may change that member's role, and is `Forbidden` to others.
    ///
    /// # Errors
    /// `NotFound` (`room` / `membership`); `Forbidden`; `Unauthenticated`, `Deactivated`.
    pub async fn set_role(
        &self,
        actor: UserId,
        room: RoomId,
        user: UserId,
        role: RoomRole,
    ) -> Result<Membership> {
        let span = tracing::info_span!("set_role", actor = %actor, target = %user, room = %room);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let (_r, mine) = room_and_role(tx, room, actor)?;
            let mut theirs = tx
                .membership(room, user)?
                .ok_or_else(membership_not_found)?;
            // A no-op succeeds only for someone allowed to change this role.
            let may_change =
                user == actor || (mine.role >= RoomRole::Admin && theirs.role < mine.role);
            if theirs.role == role && may_change {
                return Ok(theirs);
            }
            if user == actor {
                if role > mine.role {
                    return Err(Error::Forbidden {
                        reason: "you cannot raise your own role",
                    });
                }
                if mine.role == RoomRole::Owner && !has_other_owner(tx, room, actor)? {
                    return Err(Error::Forbidden {
                        reason: "the sole owner cannot step down; hand ownership over first",
                    });
                }
            } else if mine.role < RoomRole::Admin || theirs.role >= mine.role || role > mine.role {
                return Err(Error::Forbidden {
                    reason: "you may only change roles below your own, up to your own",
                });
            }
            theirs.role = role;
            tx.put_membership(&theirs)?;
            tx.append_change(
                now,
                Change::RoleChanged {
                    room,
                    user,
                    role,
                    by: actor,
                },
            )?;
            Ok(theirs)
        })
        .instrument(span)
        .metered("set_role")
        .await
    }

    /// Leaves a room. A sole owner who leaves hands ownership to the
    /// longest-standing admin, else moderator, else member; a room left empty
    /// is deleted.
    ///
    /// # Errors
    /// `NotFound` (`room` / `membership`); `Unauthenticated`, `Deactivated`.
    pub async fn leave_room(&self, actor: UserId, room: RoomId) -> Result<()> {
        let span = tracing::info_span!("leave_room", actor = %actor, room = %room);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let (r, _mine) = room_and_role(tx, room, actor).map_err(|e| match e {
                Error::Forbidden { .. } => membership_not_found(),
                other => other,
            })?;
            tx.append_change(now, Change::MemberLeft { room, user: actor })?;
            drop_member(tx, &r, actor, now)?;
            Ok(())
        })
        .instrument(span)
        .metered("leave_room")
        .await
    }

    /// The rooms the actor belongs to, most recently joined first, filtered
    /// by name (case- and accent-insensitive substring), kind and role.
    ///
    /// # Errors
    /// `Validation` for a limit outside 1–100, a malformed or foreign cursor,
    /// or a name filter over 100 characters; `Unauthenticated`, `Deactivated`.
    pub async fn my_rooms(
        &self,
        actor: UserId,
        filter: RoomFilter,
        page: PageRequest,
    ) -> Result<Page<MyRoom>> {
        let span = tracing::info_span!("my_rooms", actor = %actor);
        let limit = check_limit(page.limit, MAX_LIST_LIMIT)?;
        let needle = match &filter.name {
            Some(n) if n.chars().count() > 100 => {
                return Err(Error::validation(
                    "name",
                    "must have at most 100 characters",
                ));
            }
            Some(n) => Some(fold(n.trim())).filter(|n| !n.is_empty()),
            None => None,
        };
        self.rd(move |tx| {
            active_actor(tx, actor)?;
            let owner_key = actor.to_bytes();
            let mut before = match &page.cursor {
                Some(c) => Some(decode_cursor(c, ListKind::MyRooms, owner_key)?),
                None => None,
            };
            let batch = (limit + 1).max(32);
            let mut rows: Vec<(u64, MyRoom)> = Vec::new();
            loop {
                let ms = tx.memberships_of(actor, before, batch)?;
                let exhausted = ms.len() < batch;
                before = ms.last().map(|m| m.seq);
                let ids: Vec<RoomId> = ms.iter().map(|m| m.room).collect();
                let rooms = tx.rooms(&ids)?;
                for m in ms {
                    let Some(room) = rooms.iter().find(|r| r.id == m.room) else {
                        continue;
                    };
                    if filter.kind.is_some_and(|k| k != room.kind)
                        || filter.role.is_some_and(|r| r != m.role)
                    {
                        continue;
                    }
                    if let Some(n) = &needle
                        && !fold(room.name.as_str()).contains(n.as_str())
                    {
                        continue;
                    }
                    rows.push((
                        m.seq,
                        MyRoom {
                            room: room.clone(),
                            role: m.role,
                            joined_at: m.joined_at,
                        },
                    ));
                    if rows.len() > limit {
                        break;
                    }
                }
                if rows.len() > limit || exhausted || before.is_none() {
                    break;
                }
            }
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last()
                    .map(|(seq, _)| encode_cursor(ListKind::MyRooms, owner_key, *seq))
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(_, r)| r).collect(),
                next_cursor,
            })
        })
        .instrument(span)
        .metered("my_rooms")
        .await
    }
}

fn has_other_owner(tx: &dyn ReadTx, room: RoomId, actor: UserId) -> Result<bool> {
    let mut after = None;
    loop {
        let batch = tx.members(room, after, edges::SCAN_BATCH)?;
        if batch
            .iter()
            .any(|m| m.role == RoomRole::Owner && m.user != actor)
        {
            return Ok(true);
        }
        if batch.len() < edges::SCAN_BATCH {
            return Ok(false);
        }
        after = batch.last().map(|m| m.seq);
    }
}
