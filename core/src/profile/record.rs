//! The stored user record: status, counters, the record itself, username
//! claims and connected accounts.

use super::{Bio, DisplayName, Email, Location, SafeUrl, SocialLinks, UserSummary, Username};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::UserId;
use crate::settings::Settings;

/// Whether an account is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Normal.
    Active,
    /// Hidden from everyone else; data and edges kept until reactivated.
    Deactivated,
}

/// Counters kept with the user and changed in the same transaction as the edges
/// they count. Only approved follows count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    /// Approved followers.
    pub followers: u64,
    /// Approved follows of others.
    pub following: u64,
    /// Pending incoming follow requests.
    pub pending_requests: u64,
    /// Rooms the user is a member of.
    pub rooms: u64,
}

impl Counts {
    /// Whether these exact counters leave a follow edge from their user to
    /// one with `followee`'s counters possible: the follower follows
    /// someone and the followee has followers. Reads and the bulk import
    /// skip the store probes this rules out.
    pub(crate) fn may_follow(&self, followee: &Counts) -> bool {
        self.following > 0 && followee.followers > 0
    }

    /// Whether these exact counters leave a pending follow request *to*
    /// their user possible.
    pub(crate) fn may_have_requests(&self) -> bool {
        self.pending_requests > 0
    }
}

/// A user as stored. Stores persist and return it whole; kinfolk's rules
/// decide every change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id (never changes).
    pub id: UserId,
    /// Current username, as typed.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Bio (may be empty).
    pub bio: Bio,
    /// Avatar.
    pub avatar_url: Option<SafeUrl>,
    /// Social links.
    pub social_links: SocialLinks,
    /// Location.
    pub location: Option<Location>,
    /// Private e-mail address.
    pub email: Option<Email>,
    /// Active or deactivated.
    pub status: AccountStatus,
    /// Settings, with their version.
    pub settings: Settings,
    /// Counters.
    pub counts: Counts,
    /// When registered.
    #[serde(deserialize_with = "crate::clock::serde_ts::deserialize")]
    pub created_at: Timestamp,
    /// Last profile or settings change.
    #[serde(deserialize_with = "crate::clock::serde_ts::deserialize")]
    pub updated_at: Timestamp,
}

impl User {
    /// Whether the account is active.
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    /// The short form used in list rows and search hits.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            username: self.username.clone(),
            name: self.name.clone(),
            avatar_url: self.avatar_url.clone(),
            private_account: self.settings.privacy.private_account,
        }
    }
}

/// A username held by a user: its current one (`held_until: None`) or a
/// previous one kept for them until `held_until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsernameClaim {
    /// The case-folded key uniqueness is enforced on.
    pub folded: String,
    /// Who holds it.
    pub user: UserId,
    /// The name as typed.
    pub username: Username,
    /// `None` for the current name; for a previous name, when the hold ends.
    #[serde(default, deserialize_with = "crate::clock::serde_ts::option")]
    pub held_until: Option<Timestamp>,
}

/// An account linked by the host after its OAuth flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedAccount {
    /// The user it belongs to.
    pub user: UserId,
    /// Provider name (`github`, `google`, …), lower-case.
    pub provider: String,
    /// The provider's id for the account; `(provider, external_id)` belongs to one user at most.
    pub external_id: String,
    /// The handle shown to the owner.
    pub handle: String,
    /// When linked.
    pub connected_at: Timestamp,
}
