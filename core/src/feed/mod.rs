//! The change feed (SPEC §10): every committed command appends its events in
//! the same transaction, numbered by a strictly increasing sequence. Reading
//! and trimming it: `service.rs`.

mod service;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{RoomId, UserId};
use crate::rooms::RoomRole;

/// One committed change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Strictly increasing; never reused, also after trimming.
    pub seq: u64,
    /// When the command ran (from the service's clock).
    pub at: Timestamp,
    /// What happened.
    pub change: Change,
}

/// What a committed command did. Carries ids only, never private text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Change {
    UserRegistered {
        user: UserId,
    },
    ProfileUpdated {
        user: UserId,
    },
    UsernameChanged {
        user: UserId,
    },
    SettingsChanged {
        user: UserId,
    },
    Followed {
        follower: UserId,
        followee: UserId,
    },
    Unfollowed {
        follower: UserId,
        followee: UserId,
    },
    FollowRequested {
        requester: UserId,
        target: UserId,
    },
    FollowRequestCancelled {
        requester: UserId,
        target: UserId,
    },
    FollowApproved {
        requester: UserId,
        target: UserId,
    },
    FollowRejected {
        requester: UserId,
        target: UserId,
    },
    FollowerRemoved {
        user: UserId,
        follower: UserId,
    },
    Blocked {
        blocker: UserId,
        blocked: UserId,
    },
    Unblocked {
        blocker: UserId,
        blocked: UserId,
    },
    Muted {
        muter: UserId,
        muted: UserId,
        until: Option<Timestamp>,
    },
    Unmuted {
        muter: UserId,
        muted: UserId,
    },
    Deactivated {
        user: UserId,
    },
    Reactivated {
        user: UserId,
    },
    AccountDeleted {
        user: UserId,
    },
    AccountLinked {
        user: UserId,
        provider: String,
    },
    AccountUnlinked {
        user: UserId,
        provider: String,
    },
    RoomCreated {
        room: RoomId,
        by: UserId,
    },
    MemberAdded {
        room: RoomId,
        user: UserId,
        by: UserId,
    },
    MemberRemoved {
        room: RoomId,
        user: UserId,
        by: UserId,
    },
    MemberLeft {
        room: RoomId,
        user: UserId,
    },
    RoleChanged {
        room: RoomId,
        user: UserId,
        role: RoomRole,
        by: UserId,
    },
    RoomDeleted {
        room: RoomId,
    },
    /// One batch of a bulk import: of [`Kinfolk::import_transfer`](crate::Kinfolk::import_transfer),
    /// the users whose records the batch wrote (empty for a batch of edges,
    /// rooms or memberships: an import writes every user record, counters
    /// included, before the other records); of
    /// [`Kinfolk::import_follows`](crate::Kinfolk::import_follows), the users
    /// whose counters the batch changed (no `Followed` event per follow);
    /// inside [`Kinfolk::bulk_import`](crate::Kinfolk::bulk_import), empty,
    /// and the session's end appends one per 50,000 users whose counters it
    /// writes. A consumer re-reads those users; see
    /// `docs/adr/0011-transfer-format.md`.
    Imported {
        users: Vec<UserId>,
    },
}

impl Change {
    /// The users whose searchable facts (profile, settings, status, counts)
    /// this change may have altered; the search index re-reads them.
    pub fn users_touched(&self) -> Vec<UserId> {
        use Change::*;
        match self {
            UserRegistered { user }
            | ProfileUpdated { user }
            | UsernameChanged { user }
            | SettingsChanged { user }
            | Deactivated { user }
            | Reactivated { user }
            | AccountDeleted { user } => vec![*user],
            Imported { users } => users.clone(),
            Followed { follower, followee } | Unfollowed { follower, followee } => {
                vec![*follower, *followee]
            }
            FollowApproved { requester, target } => vec![*requester, *target],
            FollowerRemoved { user, follower } => vec![*user, *follower],
            Blocked { blocker, blocked } => vec![*blocker, *blocked],
            FollowRequested { .. }
            | FollowRequestCancelled { .. }
            | FollowRejected { .. }
            | Unblocked { .. }
            | Muted { .. }
            | Unmuted { .. }
            | AccountLinked { .. }
            | AccountUnlinked { .. }
            | RoomCreated { .. }
            | MemberAdded { .. }
            | MemberRemoved { .. }
            | MemberLeft { .. }
            | RoleChanged { .. }
            | RoomDeleted { .. } => vec![],
        }
    }
}
