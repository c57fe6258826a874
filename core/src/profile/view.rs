//! What callers get back: the summary in lists and hits, the owner's
//! profile and the public profile.

use super::{
    AccountStatus, Bio, ConnectedAccount, DisplayName, Email, Location, SafeUrl, SocialLinks,
    Username,
};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::graph::Relationship;
use crate::id::UserId;
use crate::settings::Settings;

/// A user in a list row or a search hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Avatar.
    pub avatar_url: Option<SafeUrl>,
    /// Whether follows need approval.
    pub private_account: bool,
}

/// Statistics on the owner's own profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnStats {
    /// Approved followers.
    pub followers_count: u64,
    /// Approved follows.
    pub following_count: u64,
    /// Rooms the user belongs to.
    pub rooms_count: u64,
    /// Pending incoming follow requests.
    pub pending_follow_requests: u64,
}

/// Counts shown to others when the owner's `show_counts` is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicStats {
    /// Approved followers.
    pub followers_count: u64,
    /// Approved follows.
    pub following_count: u64,
}

/// The owner's full view of their own profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnProfile {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Bio.
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
    /// Settings.
    pub settings: Settings,
    /// Statistics.
    pub stats: OwnStats,
    /// Linked accounts.
    pub connected_accounts: Vec<ConnectedAccount>,
    /// Registered.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// What anyone else sees: no e-mail, settings or connected accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicProfile {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Bio.
    pub bio: Bio,
    /// Avatar.
    pub avatar_url: Option<SafeUrl>,
    /// Social links.
    pub social_links: SocialLinks,
    /// Location.
    pub location: Option<Location>,
    /// Whether follows need approval.
    pub private_account: bool,
    /// Counts, when the owner shows them.
    pub stats: Option<PublicStats>,
    /// The viewer's relationship to this user (`None` for anonymous viewers).
    pub relationship: Option<Relationship>,
    /// Registered.
    pub created_at: Timestamp,
}

/// The answer of [`get_profile`](crate::Kinfolk::get_profile): full data for
/// the owner, the public profile for anyone else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum ProfileView {
    /// The viewer is the owner.
    Own(Box<OwnProfile>),
    /// Anyone else.
    Public(Box<PublicProfile>),
}

impl ProfileView {
    /// The profile's user id.
    pub fn id(&self) -> UserId {
        match self {
            ProfileView::Own(p) => p.id,
            ProfileView::Public(p) => p.id,
        }
    }
    /// The profile's username.
    pub fn username(&self) -> &Username {
        match self {
            ProfileView::Own(p) => &p.username,
            ProfileView::Public(p) => &p.username,
        }
    }
}
