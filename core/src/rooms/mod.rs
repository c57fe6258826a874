//! Rooms and memberships (SPEC §7); the commands are in `service.rs`.

pub(crate) mod service;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::id::{RoomId, UserId};
use crate::text;

/// A group or a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RoomKind {
    Group,
    Page,
}

/// Who can find and join a room. In a public room any member may add members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RoomVisibility {
    Public,
    Private,
}

/// A member's role, ordered: `Member < Moderator < Admin < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RoomRole {
    Member,
    Moderator,
    Admin,
    Owner,
}

/// A room name: 1–100 Unicode scalar values, same text rules as a display name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// Validates a room name.
    ///
    /// # Errors
    /// [`Error::Validation`] (`name`).
    pub fn parse(raw: &str) -> Result<Self> {
        text::single_line("name", raw, 1, 100).map(Self)
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for RoomName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<RoomName> for String {
    fn from(v: RoomName) -> String {
        v.0
    }
}

/// A room as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Group or page.
    pub kind: RoomKind,
    /// Name.
    pub name: RoomName,
    /// Public or private.
    pub visibility: RoomVisibility,
    /// Who created it (kept after they leave or delete their account).
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// Number of members; kept in the same transaction as the memberships.
    pub member_count: u64,
}

/// A user's membership of a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The room.
    pub room: RoomId,
    /// The member.
    pub user: UserId,
    /// Role.
    pub role: RoomRole,
    /// When they joined.
    pub joined_at: Timestamp,
    /// Change-feed sequence of the join; orders memberships (newest first for
    /// `my_rooms`, oldest first for ownership hand-over).
    pub seq: u64,
}

/// What [`create_room`](crate::Kinfolk::create_room) takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// Group or page.
    pub kind: RoomKind,
    /// Name.
    pub name: RoomName,
    /// Public or private.
    pub visibility: RoomVisibility,
}

/// Filters for [`my_rooms`](crate::Kinfolk::my_rooms); all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomFilter {
    /// Case- and accent-insensitive substring of the room name (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only rooms of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RoomKind>,
    /// Only rooms where the actor has this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoomRole>,
}

/// A row of `my_rooms`: the room and the actor's membership.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyRoom {
    /// The room.
    pub room: Room,
    /// The actor's role in it.
    pub role: RoomRole,
    /// When the actor joined.
    pub joined_at: Timestamp,
}
