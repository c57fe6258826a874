//! Relationships between users (SPEC §5): follows, follow requests, blocks
//! and mutes, all stored as directed [`Edge`]s.
//!
//! The commands: `follow.rs` (follow, unfollow, requests, remove follower,
//! relationships), `block.rs`, `mute.rs`; `edges.rs` writes edges keeping the
//! counters exact. Who may see whom is `crate::visibility`.

mod block;
pub(crate) mod edges;
pub(crate) mod follow;
mod mute;

pub use follow::RelationshipEntry;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::UserId;

/// The relationship of a viewer V to a user U, as shown on profiles, list rows
/// and search hits. Whether U blocks V is never revealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    /// V follows U (approved).
    pub following: bool,
    /// U follows V (approved).
    pub followed_by: bool,
    /// V asked to follow U; pending.
    pub requested: bool,
    /// U asked to follow V; pending.
    pub requested_by: bool,
    /// V blocks U.
    pub blocking: bool,
    /// V mutes U (and the mute has not ended).
    pub muting: bool,
    /// When a timed mute ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<Timestamp>,
}

/// What [`toggle_follow`](crate::Kinfolk::toggle_follow) should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowAction {
    /// Follow (or request to follow a private account); idempotent.
    Follow,
    /// Unfollow (or withdraw a pending request); idempotent.
    Unfollow,
}

/// The result of a follow command: the new relationship and whether anything changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowOutcome {
    /// The actor's relationship to the target after the command.
    pub relationship: Relationship,
    /// Whether the command changed stored state.
    pub changed: bool,
}

/// Kinds of directed edge between two users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// An approved follow: `from` follows `to`.
    Follow,
    /// A pending follow request from `from` to `to`.
    Request,
    /// `from` blocks `to`.
    Block,
    /// `from` mutes `to`.
    Mute,
}

impl EdgeKind {
    /// All kinds.
    pub const ALL: [EdgeKind; 4] = [
        EdgeKind::Follow,
        EdgeKind::Request,
        EdgeKind::Block,
        EdgeKind::Mute,
    ];

    /// A stable one-byte code, for stores that encode keys.
    pub const fn code(self) -> u8 {
        match self {
            EdgeKind::Follow => 1,
            EdgeKind::Request => 2,
            EdgeKind::Block => 3,
            EdgeKind::Mute => 4,
        }
    }

    /// The kind for a code made by [`EdgeKind::code`].
    pub const fn from_code(code: u8) -> Option<EdgeKind> {
        match code {
            1 => Some(EdgeKind::Follow),
            2 => Some(EdgeKind::Request),
            3 => Some(EdgeKind::Block),
            4 => Some(EdgeKind::Mute),
            _ => None,
        }
    }
}

/// A directed edge as stored. `(kind, from, to)` is unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// What the edge means.
    pub kind: EdgeKind,
    /// Where it starts.
    pub from: UserId,
    /// Where it ends.
    pub to: UserId,
    /// When it was created.
    #[serde(deserialize_with = "crate::clock::serde_ts::deserialize")]
    pub since: Timestamp,
    /// The change-feed sequence number of the event that created it; unique
    /// across all edges and increasing in commit order, so it orders lists
    /// newest first and serves as the keyset-pagination position.
    pub seq: u64,
    /// For a timed mute: when it ends.
    #[serde(default, deserialize_with = "crate::clock::serde_ts::option")]
    pub until: Option<Timestamp>,
}

impl Edge {
    /// Whether a mute edge is still in force at `now`.
    pub fn mute_active(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|u| u > now)
    }
}

/// Which end of an edge a list is anchored at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// Edges that start at this user (whom the user follows, blocks, …).
    From(UserId),
    /// Edges that end at this user (the user's followers, incoming requests, …).
    To(UserId),
}

impl Relationship {
    /// Builds the relationship of `viewer` to `other` from the edges between
    /// them (in either direction; others are ignored).
    pub fn from_edges<'a>(
        viewer: UserId,
        other: UserId,
        edges: impl IntoIterator<Item = &'a Edge>,
        now: Timestamp,
    ) -> Relationship {
        let mut r = Relationship::default();
        for e in edges {
            let out = e.from == viewer && e.to == other;
            let inc = e.from == other && e.to == viewer;
            match (e.kind, out, inc) {
                (EdgeKind::Follow, true, _) => r.following = true,
                (EdgeKind::Follow, _, true) => r.followed_by = true,
                (EdgeKind::Request, true, _) => r.requested = true,
                (EdgeKind::Request, _, true) => r.requested_by = true,
                (EdgeKind::Block, true, _) => r.blocking = true,
                (EdgeKind::Mute, true, _) if e.mute_active(now) => {
                    r.muting = true;
                    r.muted_until = e.until;
                }
                _ => {}
            }
        }
        r
    }
}
